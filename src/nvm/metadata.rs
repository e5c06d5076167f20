//! How never-written and deallocated blocks look on a namespace with metadata.
//!
//! NVM-CS 3.3.3.2.1 (DLFEAT read behaviour 001b): such a block's data and its
//! metadata other than the PI read as zeroes, and with DLFEAT bit 4 clear its PI
//! tuple reads as all ones, so the tuple holds the escape values (application
//! tag FFFFh; reference tag all ones for Type 3) and no check fails on a block
//! the host never wrote. vnvme stores that pattern in the image rather than
//! inferring it from holes: on open it fills every unallocated part of the
//! metadata area of a PI namespace with the pattern, and deallocation and Write
//! Zeroes without PRACT rewrite it. Without PI the pattern is all zeroes, which
//! is what a hole already reads as. QEMU's device reads such an image the same
//! way, so images still move between the two.

use super::namespace::ActiveFormat;
use super::protection;
use crate::storage::BlockStore;
use std::io;

const CHUNK: u64 = 1 << 20;
const PAGE: u64 = 4096;

/// The metadata of one never-written block: zeroes, with the PI tuple all ones.
/// None when the namespace has no PI (all zeroes: a hole is already right).
pub fn unwritten_pattern(f: &ActiveFormat) -> Option<Vec<u8>> {
    let fmt = protection::pi_format(f)?;
    let mut p = vec![0u8; f.ms() as usize];
    p[fmt.tuple_offset()..fmt.tuple_offset() + fmt.tuple_bytes()].fill(0xff);
    Some(p)
}

/// The pattern's bytes for the metadata-area byte range [off, off+len).
fn pattern_bytes(pat: &[u8], area_start: u64, off: u64, len: u64) -> Vec<u8> {
    let ms = pat.len() as u64;
    (off..off + len).map(|o| pat[((o - area_start) % ms) as usize]).collect()
}

/// Fill every unallocated 4 KiB page of the metadata area of a PI namespace with
/// the never-written pattern. Returns the bytes written.
pub fn fill_unwritten(store: &dyn BlockStore, f: &ActiveFormat) -> io::Result<u64> {
    fill_unwritten_in(store, f, CHUNK)
}

/// [`fill_unwritten`] in pieces that end on multiples of `chunk` (a multiple of
/// the page size) in the file. The metadata area need not start on a page
/// boundary, so pieces measured from its start would end inside a page: the
/// next piece would find that page allocated by the fill itself and skip the
/// rest of it, leaving those blocks' tuples zero (a reference tag error on read).
fn fill_unwritten_in(store: &dyn BlockStore, f: &ActiveFormat, chunk: u64) -> io::Result<u64> {
    debug_assert!(chunk.is_multiple_of(PAGE));
    let Some(pat) = unwritten_pattern(f) else { return Ok(0) };
    let layout = &f.layout;
    let start = layout.meta_offset(0);
    let end = layout.meta_offset(layout.nlbas);
    let mut filled = 0;
    let mut off = start;
    while off < end {
        let n = ((off / chunk + 1) * chunk).min(end) - off;
        if !store.is_allocated(off, n)? {
            store.write_at(off, &pattern_bytes(&pat, start, off, n))?;
            filled += n;
        } else {
            // Partly allocated: only the pages that are holes.
            let mut p = off;
            while p < off + n {
                let m = (off + n - p).min(PAGE - p % PAGE);
                if !store.is_allocated(p, m)? {
                    store.write_at(p, &pattern_bytes(&pat, start, p, m))?;
                    filled += m;
                }
                p += m;
            }
        }
        off += n;
    }
    Ok(filled)
}

/// Give blocks [slba, slba+nlb) the never-written metadata.
pub fn set_unwritten(store: &dyn BlockStore, f: &ActiveFormat, slba: u64, nlb: u64) -> io::Result<()> {
    if f.ms() == 0 {
        return Ok(());
    }
    let pat = unwritten_pattern(f).unwrap_or_else(|| vec![0u8; f.ms() as usize]);
    let per = (CHUNK / f.ms()).max(1);
    let mut done = 0;
    while done < nlb {
        let n = (nlb - done).min(per);
        let bytes: Vec<u8> = pat.iter().copied().cycle().take((n * f.ms()) as usize).collect();
        store.write_at(f.layout.meta_offset(slba + done), &bytes)?;
        done += n;
    }
    Ok(())
}

/// All-zero metadata for blocks [slba, slba+nlb) (Write Zeroes without PRACT).
/// Written as bytes, not with the store's `write_zeroes`: a zeroed range of a
/// file may become unwritten extents, which look like holes, and the next open's
/// [`fill_unwritten`] would turn this zero PI into the never-written pattern.
pub fn set_zeroes(store: &dyn BlockStore, f: &ActiveFormat, slba: u64, nlb: u64) -> io::Result<()> {
    if f.ms() == 0 {
        return Ok(());
    }
    let zeroes = vec![0u8; CHUNK as usize];
    let (mut off, end) = (f.layout.meta_offset(slba), f.layout.meta_offset(slba + nlb));
    while off < end {
        let n = (end - off).min(CHUNK);
        store.write_at(off, &zeroes[..n as usize])?;
        off += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nvm::namespace::{standard_formats, Protection};
    use crate::storage::{ImageLayout, MemStore};

    fn format(lbs: u32, ms: u16, pi: u8, pi_first: bool) -> ActiveFormat {
        let lbaf = *standard_formats(0, 0).iter().find(|f| f.lbs == lbs && f.ms == ms).unwrap();
        ActiveFormat {
            index: 0,
            lbaf,
            extended: false,
            protection: Protection::new(pi, pi_first).unwrap(),
            layout: ImageLayout::new(1 << 20, lbs as u64, ms as u64),
        }
    }

    #[test]
    fn pattern_is_ones_only_over_the_tuple() {
        assert_eq!(unwritten_pattern(&format(512, 8, 1, false)), Some(vec![0xff; 8]));
        let last = unwritten_pattern(&format(512, 16, 1, false)).unwrap();
        assert_eq!(last, [[0u8; 8], [0xff; 8]].concat(), "PI last in 16 bytes");
        let first = unwritten_pattern(&format(512, 16, 3, true)).unwrap();
        assert_eq!(first, [[0xffu8; 8], [0; 8]].concat(), "PI first");
        assert_eq!(unwritten_pattern(&format(512, 8, 0, false)), None, "no PI: zeroes");
    }

    #[test]
    fn fill_writes_the_pattern_per_block_and_leaves_written_pages() {
        let f = format(512, 16, 1, false);
        let store = MemStore::new(1 << 20);
        let area = f.layout.meta_offset(0);
        // A written metadata page in the middle keeps its bytes.
        let written_page = (area / PAGE + 3) * PAGE;
        store.write_at(written_page, &[7u8; PAGE as usize]).unwrap();
        fill_unwritten(&store, &f).unwrap();
        let mut md = vec![0u8; 32];
        store.read_at(f.layout.meta_offset(5), &mut md).unwrap();
        assert_eq!(md, [[0u8; 8], [0xff; 8], [0; 8], [0xff; 8]].concat());
        let mut page = vec![0u8; PAGE as usize];
        store.read_at(written_page, &mut page).unwrap();
        assert!(page.iter().all(|&b| b == 7), "allocated pages are not touched");
    }

    #[test]
    fn fill_covers_every_block_when_the_area_starts_inside_a_page() {
        // 512+8 with an odd number of blocks: the metadata area starts 512 bytes into
        // a page, and the fill needs several pieces (8 KiB here, 1 MiB in use).
        let f = ActiveFormat { layout: ImageLayout::new(5001 * 520, 512, 8), ..format(512, 8, 1, false) };
        assert_ne!(f.layout.meta_offset(0) % PAGE, 0);
        let store = MemStore::new(5001 * 520);
        fill_unwritten_in(&store, &f, 2 * PAGE).unwrap();
        let mut md = vec![0u8; (f.layout.nlbas * 8) as usize];
        store.read_at(f.layout.meta_offset(0), &mut md).unwrap();
        let bad: Vec<usize> =
            md.chunks(8).enumerate().filter(|(_, t)| t.iter().any(|&b| b != 0xff)).map(|(i, _)| i).collect();
        assert!(bad.is_empty(), "{} blocks left with a zero tuple, first LBA {:?}", bad.len(), bad.first());
    }
}
