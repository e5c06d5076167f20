//! Copies between the device's own buffers and mapped guest memory, done with
//! volatile accesses on the guest side.
//!
//! Why not `ptr::copy_nonoverlapping`: the guest (another agent, outside this
//! process's Rust abstract machine) may write the same bytes while we copy, and a
//! plain memcpy or a Rust reference over memory written concurrently is a data
//! race, i.e. undefined behaviour; the compiler may assume the bytes do not change
//! under it (re-read them, split or merge accesses). Volatile accesses are what
//! rust-vmm's `VolatileSlice` uses for the same reason: each is performed exactly
//! once, as written, and the compiler assumes nothing about the value.
//!
//! Shape: single bytes until the guest pointer is aligned to a word, then
//! aligned volatile words, then single bytes for the tail. A word is 16 bytes
//! (`__m128i`, SSE2 is baseline) on x86_64 and 8 bytes (`u64`) elsewhere. The
//! device-side buffer is ours and is accessed with plain unaligned loads/stores.
//!
//! Not provided: atomicity of the whole copy (a guest that changes a buffer
//! during a transfer gets whatever mix it caused, as with a real DMA engine), and
//! ordering against other accesses (callers add fences or atomics where the
//! protocol needs them, e.g. the completion entry's phase dword). A copy shorter
//! than a word goes byte by byte, so a value the guest changes concurrently, such
//! as a shadow doorbell, must be read with `DmaMap::read_u32`, which is one
//! atomic load, never through a copy.

use std::mem::size_of;
use std::ptr;

#[cfg(target_arch = "x86_64")]
type Word = std::arch::x86_64::__m128i;
#[cfg(not(target_arch = "x86_64"))]
type Word = u64;

const WORD: usize = size_of::<Word>();

/// Bytes to copy one at a time before `addr` reaches word alignment.
fn head_len(addr: usize, len: usize) -> usize {
    (addr.wrapping_neg() % WORD).min(len)
}

/// Copy `dst.len()` bytes from guest memory at `guest` into `dst`.
///
/// # Safety
/// `guest..guest + dst.len()` must be inside one live mapping, readable, for the
/// whole call, and must not overlap `dst`.
pub unsafe fn read_guest(guest: *const u8, dst: &mut [u8]) {
    let len = dst.len();
    let out = dst.as_mut_ptr();
    let head = head_len(guest as usize, len);
    let words = (len - head) / WORD;
    let mut i = 0;
    while i < head {
        // SAFETY: i < len, inside the caller's range and inside `dst`.
        unsafe { *out.add(i) = ptr::read_volatile(guest.add(i)) };
        i += 1;
    }
    for _ in 0..words {
        // SAFETY: guest + i is word aligned (head brought it there) and the word
        // ends at or before guest + len; out + i..+WORD is inside `dst`.
        unsafe { ptr::write_unaligned(out.add(i).cast::<Word>(), ptr::read_volatile(guest.add(i).cast::<Word>())) };
        i += WORD;
    }
    while i < len {
        // SAFETY: as for the head bytes.
        unsafe { *out.add(i) = ptr::read_volatile(guest.add(i)) };
        i += 1;
    }
}

/// Copy `src` into guest memory at `guest`.
///
/// # Safety
/// `guest..guest + src.len()` must be inside one live mapping, writable, for the
/// whole call, and must not overlap `src`.
pub unsafe fn write_guest(src: &[u8], guest: *mut u8) {
    let len = src.len();
    let from = src.as_ptr();
    let head = head_len(guest as usize, len);
    let words = (len - head) / WORD;
    let mut i = 0;
    while i < head {
        // SAFETY: i < len, inside the caller's range and inside `src`.
        unsafe { ptr::write_volatile(guest.add(i), *from.add(i)) };
        i += 1;
    }
    for _ in 0..words {
        // SAFETY: as in read_guest, with the direction reversed.
        unsafe { ptr::write_volatile(guest.add(i).cast::<Word>(), ptr::read_unaligned(from.add(i).cast::<Word>())) };
        i += WORD;
    }
    while i < len {
        // SAFETY: as for the head bytes.
        unsafe { ptr::write_volatile(guest.add(i), *from.add(i)) };
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length 0..=70 at offsets around a word boundary, both directions,
    /// against a plain slice copy; bytes around the range stay untouched.
    #[test]
    fn every_short_length_at_every_offset_matches_a_plain_copy() {
        let pattern: Vec<u8> = (0..256u32).map(|i| (i * 7 + 3) as u8).collect();
        for off in [0usize, 1, 3, 7, 8, 9, 15, 16, 17, 31] {
            for len in 0..=70usize {
                // A u128-aligned backing so `off` really is the offset from alignment.
                let mut backing = vec![0u128; 16];
                let base = backing.as_mut_ptr().cast::<u8>();
                // SAFETY: `backing` is 256 bytes; `pattern` is a separate vector.
                unsafe { ptr::copy_nonoverlapping(pattern.as_ptr(), base, 256) };

                let mut got = vec![0xAAu8; len];
                // SAFETY: off + len <= 101 < 256, inside `backing`; `got` is separate.
                unsafe { read_guest(base.add(off), &mut got) };
                assert_eq!(got, pattern[off..off + len], "read len {len} at offset {off}");

                let src: Vec<u8> = (0..len).map(|i| !(i as u8)).collect();
                // SAFETY: as above.
                unsafe { write_guest(&src, base.add(off)) };
                // SAFETY: as above; the write has finished.
                let after = unsafe { std::slice::from_raw_parts(base, 256) };
                let mut want = pattern.clone();
                want[off..off + len].copy_from_slice(&src);
                assert_eq!(after, &want[..], "write len {len} at offset {off}");
            }
        }
    }
}
