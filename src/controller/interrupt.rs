//! Where completions' interrupts go. The controller only says "vector N"; the
//! transport decides between MSI-X (an eventfd per vector) and INTx.

pub trait InterruptSink: Send + Sync {
    /// Raise interrupt vector `vector` (for INTx every vector maps to the pin).
    fn signal(&self, vector: u16);
    /// Number of vectors the function offers (MSI-X table size), for Create I/O CQ checks.
    fn vectors(&self) -> u16;
}

/// A sink that records signals, for tests.
#[derive(Default)]
pub struct RecordingSink {
    pub log: std::sync::Mutex<Vec<u16>>,
    pub n: u16,
}

impl RecordingSink {
    pub fn new(vectors: u16) -> Self {
        RecordingSink { log: Default::default(), n: vectors }
    }
    pub fn count(&self, vector: u16) -> usize {
        self.log.lock().unwrap().iter().filter(|&&v| v == vector).count()
    }
}

impl InterruptSink for RecordingSink {
    fn signal(&self, vector: u16) {
        self.log.lock().unwrap().push(vector);
    }
    fn vectors(&self) -> u16 {
        self.n
    }
}
