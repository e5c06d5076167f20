//! The per-command PI context, and generate / verify for one block.
//!
//! Modelled on SPDK's `spdk_dif_ctx`: everything that does not change from block to block
//! (format, checks, initial reference tag, application tag and mask, storage tag) is set once;
//! [`PiContext::generate_block`] and [`PiContext::verify_block`] are then stateless, given the
//! block's data, its metadata and its index within the command.
//!
//! Rules implemented (NVM Command Set 1.2 §5.3.3, "Control of Protection Information Checking",
//! unless noted):
//! - Checks come from PRCHK (PRINFO bits 2:0: guard, application tag, reference tag) and STC
//!   (`spec::Prinfo`, `spec::RwCommand::stc`).
//! - Guard: compared with the CRC over the data and the metadata bytes before the tuple (§5.3).
//! - Application Tag: only bits set in the mask (LBATM/ELBATM) are compared.
//! - Storage Tag, if defined (STS > 0) and STC is set: compared under the namespace's Logical
//!   Block Storage Tag Mask (LBSTM, Figure 118); bits cleared in LBSTM are not compared. Set it
//!   with [`PiContext::with_storage_tag_mask`]; the default compares all STS bits.
//! - Reference Tag, if defined (reference tag width > 0): for Type 1 and Type 2 the expected
//!   value is ILBRT/EILBRT plus the block index, rolling over to 0 past all ones within the
//!   reference tag width. For Type 1 the ILBRT/EILBRT must equal the low bits of the SLBA when
//!   the reference tag check is enabled, else the command fails with Invalid Protection
//!   Information ([`PiSetupError::InitialRefTagMismatch`]). For Type 3 the controller "should not
//!   compare" the reference tag even if PRCHK asks for it, and the value inserted on generate is
//!   the ILBRT, not incremented (SPDK `_dif_generate`, QEMU `nvme_dif_pract_generate_dif`).
//!   We do not use the spec's option to fail a Type 3 command that sets the reference tag check.
//! - Escapes, regardless of PRCHK and STC: Type 1/2, Application Tag = FFFFh; Type 3,
//!   Application Tag = FFFFh *and* Logical Block Reference Tag, if defined, all ones. The
//!   Storage Tag plays no part in either escape. When no reference tag is defined (16b guard
//!   with STS 32, 64b guard with STS 48), the Type 3 escape is the Application Tag alone.
//! - Generated tuples hold the guard, the command's application tag (LBAT), storage tag (LBST)
//!   and the computed reference tag ("Inserted protection information", end of §5.3.3).
//! - Order of checks within one block: guard, application tag, storage tag, reference tag (the
//!   spec does not order them; SPDK checks guard, application, reference).
//!
//! Not here: buffers of many blocks (`layout.rs`), PRACT handling (the command layer decides
//! whether to generate, verify, or both).

use super::format::{PiFormat, PiType};
use super::tuple::PiTuple;
use super::{PiError, PiErrorKind, PiSetupError};
use crate::spec::Prinfo;

/// Which fields to check (PRCHK bits and STC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PiChecks {
    /// PRCHK bit 2 (CDW12 bit 28): check the Guard.
    pub guard: bool,
    /// PRCHK bit 1 (CDW12 bit 27): check the Application Tag under the mask.
    pub app_tag: bool,
    /// PRCHK bit 0 (CDW12 bit 26): check the Logical Block Reference Tag.
    pub ref_tag: bool,
    /// STC (CDW12 bit 24): check the Storage Tag, if the format defines one.
    pub storage_tag: bool,
}

impl PiChecks {
    /// Nothing is checked.
    pub const NONE: Self = Self { guard: false, app_tag: false, ref_tag: false, storage_tag: false };
    /// Everything is checked.
    pub const ALL: Self = Self { guard: true, app_tag: true, ref_tag: true, storage_tag: true };

    /// From the 3-bit PRCHK field and the STC bit.
    pub const fn from_prchk(prchk: u8, stc: bool) -> Self {
        Self { guard: prchk & 0b100 != 0, app_tag: prchk & 0b010 != 0, ref_tag: prchk & 0b001 != 0, storage_tag: stc }
    }

    /// From a command's PRINFO (its PRCHK bits; PRACT plays no part in which fields are
    /// checked) and its STC bit: Read, Write, Compare, Verify and Write Zeroes, and Copy's
    /// PRINFOW/STCW and PRINFOR/STCR.
    pub const fn from_prinfo(prinfo: Prinfo, stc: bool) -> Self {
        Self::from_prchk(prinfo.prchk(), stc)
    }
}

/// Everything PI generation and checking needs for one command. Cheap to copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PiContext {
    format: PiFormat,
    pi_type: PiType,
    checks: PiChecks,
    initial_ref_tag: u64,
    app_tag: u16,
    app_mask: u16,
    storage_tag: u64,
    storage_tag_mask: u64,
    first_lba: u64,
    // Derived from `format` once, for the per-block paths.
    tuple_offset: usize,
    ref_mask: u64,
}

impl PiContext {
    /// A context for a command starting at `first_lba`. `initial_ref_tag` is ILBRT (writes) or
    /// EILBRT (reads), `app_tag`/`app_mask` are LBAT/LBATM or ELBAT/ELBATM, `storage_tag` is LBST
    /// or ELBST; tag values are cut to their field widths (use
    /// [`PiFormat::split_command_tags`] to get them from the command dwords).
    pub fn new(
        format: PiFormat,
        checks: PiChecks,
        initial_ref_tag: u64,
        app_tag: u16,
        app_mask: u16,
        storage_tag: u64,
        first_lba: u64,
    ) -> Result<Self, PiSetupError> {
        format.validate().map_err(PiSetupError::Format)?;
        Self::build(format, checks, initial_ref_tag, app_tag, app_mask, storage_tag, first_lba)
    }

    /// `new` without the logical block size rules (the benchmark measures 512-byte blocks with
    /// every guard, which the spec does not allow for the 32b and 64b formats).
    pub(crate) fn build(
        format: PiFormat,
        checks: PiChecks,
        initial_ref_tag: u64,
        app_tag: u16,
        app_mask: u16,
        storage_tag: u64,
        first_lba: u64,
    ) -> Result<Self, PiSetupError> {
        let pi_type = format.pi.ok_or(PiSetupError::NotProtected)?;
        format.validate_tuple_fits().map_err(PiSetupError::Format)?;
        let ref_mask = format.ref_tag_mask();
        let initial_ref_tag = initial_ref_tag & ref_mask;
        if pi_type == PiType::Type1 && checks.ref_tag && ref_mask != 0 && initial_ref_tag != first_lba & ref_mask {
            return Err(PiSetupError::InitialRefTagMismatch { slba_bits: first_lba & ref_mask, initial_ref_tag });
        }
        Ok(Self {
            format,
            pi_type,
            checks,
            initial_ref_tag,
            app_tag,
            app_mask,
            storage_tag: storage_tag & format.storage_tag_mask(),
            storage_tag_mask: format.storage_tag_mask(),
            first_lba,
            tuple_offset: format.tuple_offset(),
            ref_mask,
        })
    }

    /// Applies the namespace's Logical Block Storage Tag Mask (LBSTM): storage tag bits cleared
    /// in it are not compared.
    pub fn with_storage_tag_mask(mut self, lbstm: u64) -> Self {
        self.storage_tag_mask = lbstm & self.format.storage_tag_mask();
        self
    }

    /// The format this context was built for.
    pub fn format(&self) -> &PiFormat {
        &self.format
    }

    /// The protection type of the format.
    pub fn pi_type(&self) -> PiType {
        self.pi_type
    }

    /// The checks in force.
    pub fn checks(&self) -> PiChecks {
        self.checks
    }

    /// LBA of the block at `block_index` within the command.
    pub fn lba(&self, block_index: u64) -> u64 {
        self.first_lba.wrapping_add(block_index)
    }

    /// The computed reference tag of the block at `block_index`: incremented per block with
    /// roll-over in the reference tag width for Type 1/2, constant for Type 3.
    pub fn expected_ref_tag(&self, block_index: u64) -> u64 {
        match self.pi_type {
            PiType::Type1 | PiType::Type2 => self.initial_ref_tag.wrapping_add(block_index) & self.ref_mask,
            PiType::Type3 => self.initial_ref_tag,
        }
    }

    /// Fills the tuple in `md` (this block's metadata, `ms` bytes) for `data` (`lbs` bytes).
    /// Metadata bytes outside the tuple are left as they are (and covered by the guard if they
    /// precede it).
    pub fn generate_block(&self, data: &[u8], md: &mut [u8], block_index: u64) -> Result<(), PiError> {
        self.generate_block_with(data, md, block_index, |data, before| self.format.guard.compute(data, before))
    }

    /// [`PiContext::generate_block`] with the guard from `guard(data, metadata before the
    /// tuple)`: the many-block paths pass guards they computed together.
    #[inline]
    pub(crate) fn generate_block_with(
        &self,
        data: &[u8],
        md: &mut [u8],
        block_index: u64,
        guard: impl FnOnce(&[u8], &[u8]) -> u64,
    ) -> Result<(), PiError> {
        self.check_block_lengths(data, md, block_index)?;
        let (before, tuple) = md.split_at_mut(self.tuple_offset);
        let pi = PiTuple {
            guard: guard(data, before),
            app_tag: self.app_tag,
            storage_tag: self.storage_tag,
            ref_tag: self.expected_ref_tag(block_index),
        };
        pi.encode(&self.format, tuple);
        Ok(())
    }

    /// Rewrites only the reference tag of each block's tuple in `md` (separate
    /// metadata, `ms` bytes per block) to this context's expected tag, leaving
    /// the guard, application and storage tags as they are: Zone Append's
    /// PIREMAP (ZNS 3.4.1.1), where the host's reference tags are relative to the
    /// zone start and the stored ones follow the assigned LBA.
    pub fn remap_ref_tags(&self, md: &mut [u8], ms: usize) {
        for (i, m) in md.chunks_exact_mut(ms).enumerate() {
            let tuple = &mut m[self.tuple_offset..];
            let mut pi = PiTuple::decode(&self.format, tuple);
            pi.ref_tag = self.expected_ref_tag(i as u64);
            pi.encode(&self.format, tuple);
        }
    }

    /// Checks the tuple in `md` against `data` and this context.
    pub fn verify_block(&self, data: &[u8], md: &[u8], block_index: u64) -> Result<(), PiError> {
        self.verify_block_with(data, md, block_index, |data, before| self.format.guard.compute(data, before))
    }

    /// [`PiContext::verify_block`] with the guard from `guard(data, metadata before the
    /// tuple)`, called only if the guard is checked and the block is not escaped.
    pub(crate) fn verify_block_with(
        &self,
        data: &[u8],
        md: &[u8],
        block_index: u64,
        guard: impl FnOnce(&[u8], &[u8]) -> u64,
    ) -> Result<(), PiError> {
        self.check_block_lengths(data, md, block_index)?;
        let (before, tuple) = md.split_at(self.tuple_offset);
        let pi = PiTuple::decode(&self.format, tuple);
        if self.is_escaped(&pi) {
            return Ok(());
        }
        let fail = |kind, expected, found| Err(self.error(kind, block_index, expected, found));
        if self.checks.guard {
            let computed = guard(data, before);
            if computed != pi.guard {
                return fail(PiErrorKind::Guard, computed, pi.guard);
            }
        }
        if self.checks.app_tag && (pi.app_tag ^ self.app_tag) & self.app_mask != 0 {
            return fail(PiErrorKind::AppTag, self.app_tag.into(), pi.app_tag.into());
        }
        if self.checks.storage_tag
            && self.format.sts != 0
            && (pi.storage_tag ^ self.storage_tag) & self.storage_tag_mask != 0
        {
            return fail(PiErrorKind::StorageTag, self.storage_tag, pi.storage_tag);
        }
        if self.checks.ref_tag && self.pi_type != PiType::Type3 && self.ref_mask != 0 {
            let expected = self.expected_ref_tag(block_index);
            if pi.ref_tag != expected {
                return fail(PiErrorKind::RefTag, expected, pi.ref_tag);
            }
        }
        Ok(())
    }

    /// The escape values that disable every check for one block (see module docs).
    fn is_escaped(&self, pi: &PiTuple) -> bool {
        pi.app_tag == 0xFFFF
            && match self.pi_type {
                PiType::Type1 | PiType::Type2 => true,
                PiType::Type3 => pi.ref_tag == self.ref_mask,
            }
    }

    /// Where the tuple starts in each block's metadata.
    pub(crate) fn tuple_offset(&self) -> usize {
        self.tuple_offset
    }

    pub(crate) fn error(&self, kind: PiErrorKind, block_index: u64, expected: u64, found: u64) -> PiError {
        PiError { kind, block_index, lba: self.lba(block_index), expected, found }
    }

    fn check_block_lengths(&self, data: &[u8], md: &[u8], block_index: u64) -> Result<(), PiError> {
        let (lbs, ms) = (self.format.lbs as usize, usize::from(self.format.ms));
        if data.len() != lbs {
            return Err(self.error(PiErrorKind::BufferLength, block_index, lbs as u64, data.len() as u64));
        }
        if md.len() != ms {
            return Err(self.error(PiErrorKind::BufferLength, block_index, ms as u64, md.len() as u64));
        }
        Ok(())
    }
}
