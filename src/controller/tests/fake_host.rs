//! The FakeHost harness (to be written).
