//! Generate and verify over buffers of many blocks, in the two metadata layouts NVMe defines
//! (NVM Command Set 1.2 §5.2.3, Figures 145-146):
//!
//! - [`Layout::Separate`]: data and metadata in separate buffers (the MPTR case, DIX-like):
//!   `data` is N × LBS bytes, `md` is N × MS bytes, both contiguous.
//! - [`Layout::Interleaved`]: extended LBAs, each block's metadata right after its data
//!   (DIF-like): N × (LBS + MS) bytes.
//!
//! Blocks are processed in LBA order and verification stops at the first failing block, so the
//! error names the lowest failing LBA. Scatter lists are the DMA layer's business: it hands this
//! module contiguous bounce buffers (or calls the per-block functions itself).
//!
//! A buffer whose length is not a whole number of blocks, or whose metadata does not match its
//! data, is a bug in the caller; it is reported as [`PiErrorKind::BufferLength`] rather than a
//! panic.

use super::context::PiContext;
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
        match layout {
            Layout::Separate { data, md } => {
                self.check_separate(data.len(), md.len(), first_block)?;
                let blocks = data.chunks_exact(lbs).zip(md.chunks_exact(ms));
                for (index, (d, m)) in (first_block..).zip(blocks) {
                    self.verify_block(d, m, index)?;
                }
            }
            Layout::Interleaved(buf) => {
                self.check_interleaved(buf.len(), first_block)?;
                for (index, block) in (first_block..).zip(buf.chunks_exact(lbs + ms)) {
                    let (d, m) = block.split_at(lbs);
                    self.verify_block(d, m, index)?;
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
        match layout {
            LayoutMut::Separate { data, md } => {
                self.check_separate(data.len(), md.len(), first_block)?;
                let blocks = data.chunks_exact(lbs).zip(md.chunks_exact_mut(ms));
                for (index, (d, m)) in (first_block..).zip(blocks) {
                    self.generate_block(d, m, index)?;
                }
            }
            LayoutMut::Interleaved(buf) => {
                self.check_interleaved(buf.len(), first_block)?;
                for (index, block) in (first_block..).zip(buf.chunks_exact_mut(lbs + ms)) {
                    let (d, m) = block.split_at_mut(lbs);
                    self.generate_block(d, m, index)?;
                }
            }
        }
        Ok(())
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
