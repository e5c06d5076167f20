//! Generate and verify over buffers of many blocks, in the two metadata layouts NVMe defines
//! (NVM Command Set 1.2 §5.2.3, Figures 145-146):
//!
//! - [`Layout::Separate`]: data and metadata in separate buffers (the MPTR case, DIX-like):
//!   `data` is N × LBS bytes, `md` is N × MS bytes, both contiguous.
//! - [`Layout::Interleaved`]: extended LBAs, each block's metadata right after its data
//!   (DIF-like): N × (LBS + MS) bytes.
//!
//! Blocks are processed in LBA order and verification stops at the first failing block, so the
//! error names the lowest failing LBA. Guards are computed [`LANES`] blocks at a time
//! ([`GuardFormat::compute_many`](super::GuardFormat::compute_many)), then each block's tuple is
//! written or checked in order. Scatter lists are the DMA layer's business: it hands this
//! module contiguous bounce buffers (or calls the per-block functions itself).
//!
//! A buffer whose length is not a whole number of blocks, or whose metadata does not match its
//! data, is a bug in the caller; it is reported as [`PiErrorKind::BufferLength`] rather than a
//! panic.

use super::context::PiContext;
use super::guard_fold::LANES;
use super::{PiError, PiErrorKind};

/// Read-only view of a buffer of blocks, for [`PiContext::verify`].
#[derive(Clone, Copy, Debug)]
pub enum Layout<'a> {
    /// Data and metadata in separate contiguous buffers.
    Separate { data: &'a [u8], md: &'a [u8] },
    /// Extended logical blocks: data then metadata, block after block.
    Interleaved(&'a [u8]),
}

/// Writable view of a buffer of blocks, for [`PiContext::generate`] (only metadata is written).
#[derive(Debug)]
pub enum LayoutMut<'a> {
    /// Data and metadata in separate contiguous buffers.
    Separate { data: &'a [u8], md: &'a mut [u8] },
    /// Extended logical blocks: data then metadata, block after block.
    Interleaved(&'a mut [u8]),
}

impl PiContext {
    /// Verifies every block of `layout`, the first one being block 0 of the command.
    pub fn verify(&self, layout: Layout<'_>) -> Result<(), PiError> {
        self.verify_from(0, layout)
    }

    /// Verifies every block of `layout`, the first one being block `first_block` of the command
    /// (for commands processed in pieces). Returns the first failure in LBA order.
    pub fn verify_from(&self, first_block: u64, layout: Layout<'_>) -> Result<(), PiError> {
        let (lbs, ms) = self.block_sizes();
        let mut index = first_block;
        match layout {
            Layout::Separate { data, md } => {
                self.check_separate(data.len(), md.len(), first_block)?;
                for (d, m) in data.chunks(LANES * lbs).zip(md.chunks(LANES * ms)) {
                    let blocks = || d.chunks_exact(lbs).zip(m.chunks_exact(ms));
                    index = self.verify_batch(index, blocks(), blocks())?;
                }
            }
            Layout::Interleaved(buf) => {
                self.check_interleaved(buf.len(), first_block)?;
                for b in buf.chunks(LANES * (lbs + ms)) {
                    let blocks = || b.chunks_exact(lbs + ms).map(|block| block.split_at(lbs));
                    index = self.verify_batch(index, blocks(), blocks())?;
                }
            }
        }
        Ok(())
    }

    /// Writes the tuple of every block of `layout`, the first one being block 0.
    pub fn generate(&self, layout: LayoutMut<'_>) -> Result<(), PiError> {
        self.generate_from(0, layout)
    }

    /// Writes the tuple of every block of `layout`, the first one being block `first_block`.
    pub fn generate_from(&self, first_block: u64, layout: LayoutMut<'_>) -> Result<(), PiError> {
        let (lbs, ms) = self.block_sizes();
        let mut index = first_block;
        match layout {
            LayoutMut::Separate { data, md } => {
                self.check_separate(data.len(), md.len(), first_block)?;
                for (d, m) in data.chunks(LANES * lbs).zip(md.chunks_mut(LANES * ms)) {
                    let guards = self.batch_guards(d.chunks_exact(lbs).zip(m.chunks_exact(ms)));
                    for (i, (dd, mm)) in d.chunks_exact(lbs).zip(m.chunks_exact_mut(ms)).enumerate() {
                        self.generate_block_with(dd, mm, index, |d, before| {
                            self.guard_of(guards.as_ref(), i, d, before)
                        })?;
                        index += 1;
                    }
                }
            }
            LayoutMut::Interleaved(buf) => {
                self.check_interleaved(buf.len(), first_block)?;
                for b in buf.chunks_mut(LANES * (lbs + ms)) {
                    let guards = self.batch_guards(b.chunks_exact(lbs + ms).map(|block| block.split_at(lbs)));
                    for (i, block) in b.chunks_exact_mut(lbs + ms).enumerate() {
                        let (dd, mm) = block.split_at_mut(lbs);
                        self.generate_block_with(dd, mm, index, |d, before| {
                            self.guard_of(guards.as_ref(), i, d, before)
                        })?;
                        index += 1;
                    }
                }
            }
        }
        Ok(())
    }

    /// Verifies up to [`LANES`] consecutive blocks (`blocks` and `again` yield the same
    /// (data, metadata) pairs), the first being `index`; returns the index after them.
    fn verify_batch<'a>(
        &self,
        mut index: u64,
        blocks: impl Iterator<Item = (&'a [u8], &'a [u8])>,
        again: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Result<u64, PiError> {
        let guards = if self.checks().guard { self.batch_guards(blocks) } else { None };
        for (i, (d, m)) in again.enumerate() {
            self.verify_block_with(d, m, index, |d, before| self.guard_of(guards.as_ref(), i, d, before))?;
            index += 1;
        }
        Ok(index)
    }

    /// Block `i`'s guard: from `batch` if the batch was computed together, else on its own.
    fn guard_of(&self, batch: Option<&[u64; LANES]>, i: usize, data: &[u8], md_before_pi: &[u8]) -> u64 {
        match batch {
            Some(guards) => guards[i],
            None => self.format().guard.compute(data, md_before_pi),
        }
    }

    /// The guards of up to [`LANES`] (data, metadata) blocks, computed together, or `None`
    /// where that would not be faster (then each block computes its own, as before).
    fn batch_guards<'a>(&self, blocks: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Option<[u64; LANES]> {
        if !self.format().guard.folds_many(self.format().lbs as usize) {
            return None;
        }
        let mut inputs: [(&[u8], &[u8]); LANES] = [(&[], &[]); LANES];
        let mut n = 0;
        for (input, (d, m)) in inputs.iter_mut().zip(blocks) {
            *input = (d, m.get(..self.tuple_offset()).unwrap_or_default());
            n += 1;
        }
        let mut guards = [0; LANES];
        self.format().guard.compute_many(&inputs[..n], &mut guards);
        Some(guards)
    }

    fn block_sizes(&self) -> (usize, usize) {
        (self.format().lbs as usize, usize::from(self.format().ms))
    }

    /// `data` must be whole blocks and `md` exactly their metadata.
    fn check_separate(&self, data_len: usize, md_len: usize, first_block: u64) -> Result<(), PiError> {
        let (lbs, ms) = self.block_sizes();
        let blocks = data_len / lbs;
        if !data_len.is_multiple_of(lbs) {
            let expected = (blocks + 1) * lbs;
            return Err(self.length_error(first_block + blocks as u64, expected, data_len));
        }
        if md_len != blocks * ms {
            return Err(self.length_error(first_block, blocks * ms, md_len));
        }
        Ok(())
    }

    /// The buffer must be whole extended blocks.
    fn check_interleaved(&self, len: usize, first_block: u64) -> Result<(), PiError> {
        let (lbs, ms) = self.block_sizes();
        let ext = lbs + ms;
        if !len.is_multiple_of(ext) {
            let blocks = len / ext;
            return Err(self.length_error(first_block + blocks as u64, (blocks + 1) * ext, len));
        }
        Ok(())
    }

    fn length_error(&self, block_index: u64, expected: usize, found: usize) -> PiError {
        self.error(PiErrorKind::BufferLength, block_index, expected as u64, found as u64)
    }
}
