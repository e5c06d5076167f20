//! Controller-level tests: a fake host drives the controller through registers,
//! doorbells and queues in vector-backed guest memory (no QEMU).

mod fake_host;
