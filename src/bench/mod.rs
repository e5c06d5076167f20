//! Benchmarks that print figures (never gates): checksum cost on this CPU.

pub mod csum;
