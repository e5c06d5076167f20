//! What one benchmark row runs: transfer size, read/write mix, queue depth and
//! number of queues, and the matrix of them `vnvme bench io` walks.

#![forbid(unsafe_code)]

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mix {
    Read,
    Write,
    /// 70% reads, 30% writes, chosen per command.
    ReadWrite70,
    /// Sequential reads; each queue walks its own share of the namespace.
    SeqRead,
    /// Sequential writes, likewise.
    SeqWrite,
}

impl Mix {
    pub fn name(self) -> &'static str {
        match self {
            Mix::Read => "randread",
            Mix::Write => "randwrite",
            Mix::ReadWrite70 => "randrw70",
            Mix::SeqRead => "seqread",
            Mix::SeqWrite => "seqwrite",
        }
    }
    pub fn sequential(self) -> bool {
        matches!(self, Mix::SeqRead | Mix::SeqWrite)
    }
    pub fn parse(s: &str) -> Result<Mix, String> {
        match s {
            "randread" | "read" => Ok(Mix::Read),
            "randwrite" | "write" => Ok(Mix::Write),
            "randrw70" | "rw" | "mix" => Ok(Mix::ReadWrite70),
            "seqread" => Ok(Mix::SeqRead),
            "seqwrite" => Ok(Mix::SeqWrite),
            _ => Err(format!("unknown mix {s:?}; known: randread, randwrite, randrw70, seqread, seqwrite")),
        }
    }
    /// Percent of commands that read.
    pub fn read_percent(self) -> u64 {
        match self {
            Mix::Read | Mix::SeqRead => 100,
            Mix::Write | Mix::SeqWrite => 0,
            Mix::ReadWrite70 => 70,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Workload {
    pub io_bytes: u32,
    pub mix: Mix,
    pub qd: u16,
    pub queues: usize,
}

impl Workload {
    /// `4k-randread-qd32x1`.
    pub fn name(&self) -> String {
        let size = if self.io_bytes.is_multiple_of(1024) {
            format!("{}k", self.io_bytes / 1024)
        } else {
            self.io_bytes.to_string()
        };
        format!("{size}-{}-qd{}x{}", self.mix.name(), self.qd, self.queues)
    }
}

/// Every combination, sizes outermost.
pub fn matrix(sizes: &[u32], mixes: &[Mix], qds: &[u16], queues: &[usize]) -> Vec<Workload> {
    let mut v = Vec::new();
    for &io_bytes in sizes {
        for &mix in mixes {
            for &qd in qds {
                for &q in queues {
                    v.push(Workload { io_bytes, mix, qd, queues: q });
                }
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_and_names() {
        let m = matrix(&[4096, 131072], &[Mix::Read, Mix::ReadWrite70], &[1, 32, 128], &[1, 2]);
        assert_eq!(m.len(), 24);
        assert_eq!(m[0].name(), "4k-randread-qd1x1");
        assert_eq!(m[23].name(), "128k-randrw70-qd128x2");
        assert_eq!(Mix::parse("rw").unwrap(), Mix::ReadWrite70);
        assert!(Mix::parse("seqwrite").unwrap().sequential() && !Mix::Read.sequential());
        assert!(Mix::parse("seq").is_err());
    }
}
