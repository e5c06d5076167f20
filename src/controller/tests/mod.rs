//! Controller-level tests: a fake host drives the controller through registers,
//! doorbells and queues in vector-backed guest memory (no QEMU); the harness
//! (`FakeHost`, fixtures, command builders) is in `super::test_support`. Data-path bodies
//! run over the in-memory store and the file store in every cache mode (`on_every_store!`).
//!
//! | file | what |
//! |------|------|
//! | `admin_status.rs` | admin commands with bad input: exact statuses |
//! | `admin_queues.rs` | Create / Delete I/O queue checks |
//! | `identify.rs` | Identify data: controller, namespaces, lists, descriptors |
//! | `io_status.rs` | NVM commands with bad input; PRP entries and lists |
//! | `sgl.rs` | SGL data pointers: chains, bit bucket, malformed lists |
//! | `in_place.rs` | reads and writes moved between guest pages and the image with no device copy |
//! | `io_commands.rs` | Write / Read / Flush / Write Zeroes / DSM; metadata without PI |
//! | `pi_io.rs` | end-to-end protection: checks, escapes, PRACT, error log |
//! | `pi_extended.rs` | PI in extended LBAs across pages, PI from Write Zeroes |
//! | `queues.rs` | full CQ, SQ deletion, reset and shutdown with busy queues |
//! | `events.rs` | bad doorbell writes and Asynchronous Event Requests |
//! | `shadow.rs` | shadow doorbells with EventIdx |
//! | `copy.rs` | Copy: ranges, limits, PI, cross-namespace |
//! | `copy_formats.rs` | Copy descriptor formats against every PI format |
//! | `engine.rs` | the io_uring engine: many commands in flight, completions in any order |
//! | `optional_features.rs` | optional features left out: absent in Identify, Invalid Field when probed |
//! | `ns_mgmt.rs` | Namespace Management / Attachment, CNS 10h-13h, capacity, restart |
//! | `format.rs` | Format NVM: switching LBA format and protection at run time, its statuses |
//! | `hooks.rs` | the command hook: injected statuses, delays, sticky PI corruption |
//! | `prinfo_matrix.rs` | every PRINFO on a read against every kind of bad stored tuple |
//! | `verify_compare.rs` | Verify, Compare and Write Uncorrectable |
//! | `zoned.rs` | zoned namespaces: Identify CSI 02h, write pointer, Zone Append, zone management |

use super::test_support::fake_host;

mod admin_queues;
mod admin_status;
mod copy;
mod copy_formats;
mod engine;
mod events;
mod format;
mod hooks;
mod identify;
mod in_place;
mod io_commands;
mod io_status;
mod mapped_doorbells;
mod ns_mgmt;
mod optional_features;
mod pi_extended;
mod pi_io;
mod prinfo_matrix;
mod queues;
mod sgl;
mod shadow;
mod verify_compare;
mod zoned;
