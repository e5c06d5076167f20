//! End-to-end data protection (protection information, PI) for the NVM Command Set.
//!
//! Pure code: a [`PiContext`] and bytes in, tuples written or a typed [`PiError`] out, mapped to
//! an NVMe [`Status`] in one place (`impl From<&PiError> for Status`, and the same for
//! [`PiSetupError`]). No I/O, no guest memory; no unsafe outside `guard_fold.rs`'s SIMD loads.
//!
//! Specification: NVM Express NVM Command Set Specification 1.2, §5.3 "End-to-end Data
//! Protection" (formats §5.3.1, PRACT §5.3.2, checking §5.3.3); the command fields (PRINFO and
//! STC) are read by `spec::io_command`; the status codes are `spec::Status`'s (NVMe Base 2.1
//! Media and Data Integrity Errors; Command Specific 81h, Invalid Protection Information, of the
//! NVM Command Set). Cross-checked against SPDK `lib/util/dif.c`, QEMU
//! `hw/nvme/dif.c` and Linux `include/linux/t10-pi.h` / `drivers/nvme/host/core.c`.
//!
//! | file | what |
//! |------|------|
//! | `guard.rs` | [`GuardFormat`]: the three guard CRCs, continued across data and metadata |
//! | `guard_fold.rs` | the guards of up to 8 blocks in one PCLMULQDQ pass (the only `unsafe` here) |
//! | `format.rs` | [`PiFormat`], [`PiType`], [`PiLocation`]: sizes, validation |
//! | `storage_ref.rs` | the STS split of the Storage and Reference Space and of CDW2/3/14 |
//! | `tuple.rs` | [`PiTuple`]: big-endian tuple encode / decode |
//! | `context.rs` | [`PiChecks`], [`PiContext`]: per-command state, one-block generate / verify |
//! | `layout.rs` | [`Layout`], [`LayoutMut`]: many blocks, separate or interleaved metadata |
//! | `throughput.rs` | [`bench()`]: generate+verify throughput next to memcpy |
//!
//! Not implemented: PRACT decisions (the command layer chooses generate, verify, strip or
//! insert), scatter-gather walking and tuples split across buffers (the DMA layer bounces into
//! contiguous buffers), the Qualified PI format indirection (PIF 3), IP-checksum guards (not in
//! NVMe).

// `deny`, not `forbid`: `guard_fold.rs` alone allows the unaligned loads and calls into
// `target_feature` functions that its carry-less-multiply kernel needs.
#![deny(unsafe_code)]

mod context;
mod format;
mod guard;
mod guard_fold;
mod layout;
mod storage_ref;
mod throughput;
mod tuple;

pub use context::{PiChecks, PiContext};
pub use format::{FormatError, PiFormat, PiLocation, PiType};
pub use guard::{GuardDigest, GuardFormat};
pub use layout::{Layout, LayoutMut};
pub use throughput::{bench, BenchRow};
pub use tuple::PiTuple;

use crate::spec::{Completion, Status};
use std::fmt;

/// What a protection information check found wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PiErrorKind {
    /// The Guard field differs from the CRC of the block.
    Guard,
    /// Unmasked Application Tag bits differ from the expected tag.
    AppTag,
    /// The Logical Block Reference Tag differs from the computed reference tag.
    RefTag,
    /// Unmasked Storage Tag bits differ from the expected storage tag.
    StorageTag,
    /// The buffers handed in are not whole blocks, or data and metadata disagree on the block
    /// count; `expected`/`found` are byte lengths. An emulator bug, never the guest's doing.
    BufferLength,
}

impl PiErrorKind {
    const fn what(self) -> &'static str {
        match self {
            Self::Guard => "end-to-end guard check error",
            Self::AppTag => "end-to-end application tag check error",
            Self::RefTag => "end-to-end reference tag check error",
            Self::StorageTag => "end-to-end storage tag check error",
            Self::BufferLength => "PI buffer length mismatch (bytes)",
        }
    }
}

/// A failed check (or unusable buffer): what, where, expected and found. For the application
/// and storage tags `expected` and `found` are the unmasked values; only the bits set in the
/// mask differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PiError {
    /// What failed.
    pub kind: PiErrorKind,
    /// Index of the block within the command (0 = the block at SLBA).
    pub block_index: u64,
    /// LBA of that block.
    pub lba: u64,
    /// The value the controller computed or was told to expect.
    pub expected: u64,
    /// The value found in the protection information (or the buffer length found).
    pub found: u64,
}

/// The one PI-to-status map: the status a command that hit this error completes with.
///
/// Media and Data Integrity Errors (SCT 2h, no DNR): End-to-end Guard Check Error 82h, End-to-end
/// Application Tag Check Error 83h, End-to-end Reference Tag Check Error 84h, End-to-end Storage
/// Tag Check Error 88h (NVMe Base 2.1 Figure 104; SPDK `nvme_spec.h` has the same values).
/// `BufferLength` is an emulator bug: Internal Error (SCT 0h, SC 06h).
impl From<&PiError> for Status {
    fn from(e: &PiError) -> Status {
        match e.kind {
            PiErrorKind::Guard => Status::GUARD_CHECK_ERROR,
            PiErrorKind::AppTag => Status::APP_TAG_CHECK_ERROR,
            PiErrorKind::RefTag => Status::REF_TAG_CHECK_ERROR,
            PiErrorKind::StorageTag => Status::STORAGE_TAG_CHECK_ERROR,
            PiErrorKind::BufferLength => Status::INTERNAL_ERROR,
        }
    }
}

/// A command that hit a PI error completes with its status, naming the block's LBA in the
/// Error Information log.
impl From<PiError> for Completion {
    fn from(e: PiError) -> Completion {
        tracing::debug!("PI check failed: {e}");
        Completion::err_at(Status::from(&e), e.lba)
    }
}

impl fmt::Display for PiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at LBA {:#x} (block {} of the command): expected {:#x}, found {:#x}",
            self.kind.what(),
            self.lba,
            self.block_index,
            self.expected,
            self.found
        )
    }
}

impl std::error::Error for PiError {}

/// Why a [`PiContext`] cannot be built for a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PiSetupError {
    /// The namespace format is unusable (an emulator configuration bug).
    Format(FormatError),
    /// The format has no protection type; PI code has nothing to do.
    NotProtected,
    /// Type 1 with the reference tag check enabled, and ILBRT/EILBRT is not the low bits of
    /// the SLBA (NVM Command Set 1.2 §5.3.3).
    InitialRefTagMismatch { slba_bits: u64, initial_ref_tag: u64 },
}

/// Invalid Protection Information (SCT 1h, SC 81h, DNR; an NVM Command Set status) for a
/// bad initial reference tag, Internal Error (SCT 0h, SC 06h) for the emulator's own
/// configuration errors.
impl From<&PiSetupError> for Status {
    fn from(e: &PiSetupError) -> Status {
        match e {
            PiSetupError::InitialRefTagMismatch { .. } => Status::INVALID_PROTECTION_INFORMATION,
            PiSetupError::Format(_) | PiSetupError::NotProtected => Status::INTERNAL_ERROR,
        }
    }
}

impl fmt::Display for PiSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Format(e) => write!(f, "invalid PI format: {e}"),
            Self::NotProtected => write!(f, "namespace is not formatted with PI"),
            Self::InitialRefTagMismatch { slba_bits, initial_ref_tag } => {
                write!(f, "Type 1 initial reference tag {initial_ref_tag:#x} is not the SLBA's {slba_bits:#x}")
            }
        }
    }
}

impl std::error::Error for PiSetupError {}

#[cfg(test)]
mod tests;
