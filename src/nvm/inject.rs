//! The NVM side of fault injection: spoiling stored PI tags on the medium
//! (sticky until the block is rewritten), spoiling the guard of tuples returned
//! to the host (transient), and the per-command options the I/O path honours.

use super::namespace::Namespace;
use super::protection;
use std::io;
use std::time::Duration;

/// Per-command options from the hook, honoured by Read and Write.
#[derive(Clone, Copy, Debug, Default)]
pub struct IoOptions {
    /// Wait this long between fetching a write and reading its data.
    pub widen: Duration,
    /// Fingerprint write data at fetch and at transfer; report differences.
    pub detect_mutation: bool,
    /// Flip the guard of every tuple this read returns to the host.
    pub transient_guard: bool,
}

/// A stored protection information tag that fault injection can spoil (the
/// one definition: the controller's hook and the fault rules use it too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoredTag {
    Guard,
    AppTag,
    RefTag,
}

/// Flip one bit of the stored `tag` of blocks [first, last] of `ns` (clamped to
/// the namespace). Does nothing on a namespace without PI. Returns the blocks changed.
pub fn corrupt(ns: &Namespace, tag: StoredTag, first: u64, last: u64) -> io::Result<u64> {
    let f = ns.format();
    let Some(fmt) = protection::pi_format(&f) else { return Ok(0) };
    if f.nlbas() == 0 || first >= f.nlbas() {
        return Ok(0);
    }
    let last = last.min(f.nlbas() - 1);
    let guard_bytes = fmt.guard.guard_bytes();
    let off = fmt.tuple_offset()
        + match tag {
            StoredTag::Guard => 0,
            StoredTag::AppTag => guard_bytes,
            StoredTag::RefTag => fmt.tuple_bytes() - 1,
        };
    let ms = f.ms();
    let mut md = vec![0u8; ms as usize];
    for lba in first..=last {
        let at = f.layout.meta_offset(lba);
        ns.store.read_at(at, &mut md)?;
        md[off] ^= 0x01;
        ns.store.write_at(at, &md)?;
    }
    Ok(last - first + 1)
}

/// Flip the guard of every tuple in `md` (separate metadata of the blocks read).
pub fn spoil_returned_guards(f: &super::namespace::ActiveFormat, md: &mut [u8]) {
    let Some(fmt) = protection::pi_format(f) else { return };
    let ms = f.ms() as usize;
    if ms == 0 {
        return;
    }
    for block in md.chunks_exact_mut(ms) {
        block[fmt.tuple_offset()] ^= 0x01;
    }
}
