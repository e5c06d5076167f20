//! Plain data from the NVMe specifications: register layouts, the submission and
//! completion queue entries, status codes, and the Identify / log page structures.
//!
//! Nothing here performs I/O. Every field is defined once and named as the NVMe Base
//! Specification 2.1 (NVMe-Base) or the NVM Command Set Specification 1.1 (NVM-CS)
//! names it; each item cites its section.

#![forbid(unsafe_code)]

pub mod command;
pub mod completion;
pub mod identify;
pub mod io_command;
pub mod opcode;
pub mod ranges;
pub mod registers;
pub mod status;
pub mod zns;

pub use command::SubmissionEntry;
pub use completion::{Completion, CompletionEntry};
pub use io_command::{CommandFields, CopyCommand, DsmCommand, IoCommand, PiTags, Prinfo, RwCommand};
pub use status::Status;
