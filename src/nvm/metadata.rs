//! How never-written and deallocated blocks look on a namespace with metadata.
//!
//! Their metadata reads as all ones, so the PI tuple holds the escape values (an
//! application tag of FFFFh, and an all-ones reference tag for Type 3) and no
//! check fails on a block the host never wrote (NVM-CS 5.3.3). vnvme stores those
//! ones in the image rather than inferring them from holes: a fresh image gets its
//! metadata area filled on open, and deallocation rewrites the ones. QEMU's
//! device reads such an image the same way, so images still move between the two.

use crate::storage::{BlockStore, ImageLayout};
use std::io;

const CHUNK: usize = 1 << 20;

/// Fill every unallocated part of the metadata area with 0xFF.
pub fn fill_unwritten(store: &dyn BlockStore, layout: &ImageLayout) -> io::Result<u64> {
    if layout.ms == 0 {
        return Ok(0);
    }
    let start = layout.meta_offset(0);
    let end = layout.meta_offset(layout.nlbas);
    let ones = vec![0xffu8; CHUNK];
    let mut filled = 0;
    let mut off = start;
    while off < end {
        let n = (end - off).min(CHUNK as u64);
        if !store.is_allocated(off, n)? {
            store.write_at(off, &ones[..n as usize])?;
            filled += n;
        } else if n > 4096 {
            // Partly allocated: look at page granularity.
            let mut p = off;
            while p < off + n {
                let m = (off + n - p).min(4096);
                if !store.is_allocated(p, m)? {
                    store.write_at(p, &ones[..m as usize])?;
                    filled += m;
                }
                p += m;
            }
        }
        off += n;
    }
    Ok(filled)
}

/// Deallocate blocks: punch the data, and rewrite the metadata as all ones.
pub fn deallocate(store: &dyn BlockStore, layout: &ImageLayout, slba: u64, nlb: u64) -> io::Result<()> {
    store.deallocate(layout.data_offset(slba), nlb * layout.lbs)?;
    set_metadata(store, layout, slba, nlb, 0xff)
}

pub fn set_metadata(store: &dyn BlockStore, layout: &ImageLayout, slba: u64, nlb: u64, byte: u8) -> io::Result<()> {
    if layout.ms == 0 {
        return Ok(());
    }
    let total = nlb * layout.ms;
    let fill = vec![byte; (total as usize).min(CHUNK)];
    let mut done = 0;
    while done < total {
        let n = (total - done).min(fill.len() as u64);
        store.write_at(layout.meta_offset(slba) + done, &fill[..n as usize])?;
        done += n;
    }
    Ok(())
}
