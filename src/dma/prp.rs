//! PRP walker (NVMe-Base 4.3.1 "Physical Region Page Entry and List").
//!
//! PRP1 may start anywhere dword aligned inside a page; every later entry must be
//! page aligned. PRP2 is a second data page when the transfer ends in the next
//! page, and a PRP List pointer otherwise. A list fills its page; when more entries
//! are needed than fit, the last entry of the page points to the next list page.

use super::{DmaMemory, GuestAddr, Segment, SgList};
use crate::spec::Status;

/// Build the scatter list for `len` bytes described by PRP1/PRP2.
pub fn walk(mem: &dyn DmaMemory, prp1: u64, prp2: u64, len: u64, page_size: u64) -> Result<SgList, Status> {
    let mut list = SgList::default();
    if len == 0 {
        return Ok(list);
    }
    if prp1 & 3 != 0 {
        return Err(Status::PRP_OFFSET_INVALID);
    }
    let first = len.min(page_size - (prp1 % page_size));
    push(&mut list, prp1, first);
    let mut remaining = len - first;
    if remaining == 0 {
        return Ok(list);
    }
    if remaining <= page_size {
        if !prp2.is_multiple_of(page_size) {
            return Err(Status::PRP_OFFSET_INVALID);
        }
        push(&mut list, prp2, remaining);
        return Ok(list);
    }
    // PRP2 is a list pointer: entries are qwords, so it must be qword aligned.
    if prp2 & 7 != 0 {
        return Err(Status::PRP_OFFSET_INVALID);
    }
    let mut list_addr = prp2;
    // List entries are read a chunk at a time into this stack buffer (no heap).
    let mut chunk = [0u8; 512];
    while remaining > 0 {
        let in_page = (page_size - (list_addr % page_size)) / 8;
        let mut next = None;
        let mut i = 0u64;
        'page: while i < in_page {
            let n = (in_page - i).min(chunk.len() as u64 / 8);
            let bytes = &mut chunk[..n as usize * 8];
            mem.read(GuestAddr(list_addr + i * 8), bytes).map_err(|_| Status::DATA_TRANSFER_ERROR)?;
            for (k, e) in bytes.chunks_exact(8).enumerate() {
                let entry = u64::from_le_bytes(e.try_into().unwrap());
                if i + k as u64 == in_page - 1 && remaining > page_size {
                    // Last slot with more than one page still to describe (counted at
                    // this slot, not when the list page was read): a chain pointer.
                    if entry & 7 != 0 {
                        return Err(Status::PRP_OFFSET_INVALID);
                    }
                    next = Some(entry);
                    break 'page;
                }
                if entry % page_size != 0 {
                    return Err(Status::PRP_OFFSET_INVALID);
                }
                let len = remaining.min(page_size);
                push(&mut list, entry, len);
                remaining -= len;
                if remaining == 0 {
                    break 'page;
                }
            }
            i += n;
        }
        match next {
            Some(a) => list_addr = a,
            None if remaining == 0 => break,
            None => return Err(Status::DATA_TRANSFER_ERROR),
        }
    }
    Ok(list)
}

/// Append, merging with the previous segment when physically contiguous.
fn push(list: &mut SgList, addr: u64, len: u64) {
    if let Some(Segment::Mem { addr: a, len: l }) = list.segments.last_mut() {
        if *a + *l == addr {
            *l += len;
            return;
        }
    }
    list.segments.push(Segment::Mem { addr, len });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dma::VecMemory;
    const P: u64 = 4096;

    fn put_list(mem: &VecMemory, at: u64, entries: &[u64]) {
        for (i, e) in entries.iter().enumerate() {
            mem.write(GuestAddr(at + i as u64 * 8), &e.to_le_bytes()).unwrap();
        }
    }

    #[test]
    fn single_page_with_offset() {
        let mem = VecMemory::new(1 << 20);
        let l = walk(&mem, 0x1200, 0, 0x100, P).unwrap();
        assert_eq!(l.segments, vec![Segment::Mem { addr: 0x1200, len: 0x100 }]);
    }

    #[test]
    fn two_pages_prp2_is_data() {
        let mem = VecMemory::new(1 << 20);
        let l = walk(&mem, 0x1800, 0x5000, 0x1000, P).unwrap();
        assert_eq!(l.len(), 0x1000);
        assert_eq!(l.segments[1], Segment::Mem { addr: 0x5000, len: 0x800 });
        assert_eq!(walk(&mem, 0x1800, 0x5010, 0x1000, P), Err(Status::PRP_OFFSET_INVALID));
    }

    #[test]
    fn list_across_two_list_pages() {
        let mem = VecMemory::new(4 << 20);
        // List page at 0x10000 starting 16 bytes before its end: one entry, then a chain.
        let list1 = 0x10000 + P - 16;
        put_list(&mem, list1, &[0x20000, 0x30000]);
        put_list(&mem, 0x30000, &[0x21000, 0x22000]);
        let l = walk(&mem, 0x8000, list1, 4 * P, P).unwrap();
        assert_eq!(l.len(), 4 * P);
        assert_eq!(
            l.segments,
            vec![Segment::Mem { addr: 0x8000, len: P }, Segment::Mem { addr: 0x20000, len: 3 * P },]
        );
    }

    #[test]
    fn list_entry_with_offset_is_prp_offset_invalid() {
        let mem = VecMemory::new(1 << 20);
        put_list(&mem, 0x10000, &[0x20000, 0x21008]);
        assert_eq!(walk(&mem, 0x8000, 0x10000, 3 * P, P), Err(Status::PRP_OFFSET_INVALID));
    }

    #[test]
    fn misaligned_prp1_and_list_pointer() {
        let mem = VecMemory::new(1 << 20);
        assert_eq!(walk(&mem, 0x8002, 0, 16, P), Err(Status::PRP_OFFSET_INVALID));
        assert_eq!(walk(&mem, 0x8000, 0x10004, 3 * P, P), Err(Status::PRP_OFFSET_INVALID));
    }

    #[test]
    fn list_outside_dma_map_is_data_transfer_error() {
        let mem = VecMemory::new(1 << 20);
        mem.poison(0x10000, P);
        assert_eq!(walk(&mem, 0x8000, 0x10000, 3 * P, P), Err(Status::DATA_TRANSFER_ERROR));
    }
}
