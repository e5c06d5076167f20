//! The fake host the controller tests drive the controller with (`fake_host.rs`),
//! its fixtures (`fixtures.rs`) and submission entry builders (`cmd.rs`). Built
//! for `cargo test` and, with the `fuzzing` feature, for the fuzz targets under
//! `fuzz/` (docs/fuzzing.md); a normal build leaves it out.

pub mod cmd;
pub mod fake_host;
pub mod fixtures;
