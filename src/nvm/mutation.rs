//! The buffer-mutation detector: a write's data is looked at twice, when the
//! command is fetched and when the device actually transfers it (after any
//! race-window widening). Blocks are compared by XXH3 fingerprint; for a block
//! whose fingerprint changed, the first and last differing byte are reported.
//! The first look keeps a copy of the data, so offsets can be reported exactly.

use std::time::{Duration, Instant};
use xxhash_rust::xxh3::xxh3_64;

/// The first look at a write's data.
pub struct FirstLook {
    pub at: Instant,
    pub copy: Vec<u8>,
    pub hashes: Vec<u64>,
}

/// What changed between the two looks: per changed block (index within the
/// command, first differing byte, last differing byte), and the time between.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mutation {
    pub blocks: Vec<(u64, usize, usize)>,
    pub window: Duration,
}

pub fn first_look(data: &[u8], lbs: usize) -> FirstLook {
    first_look_owned(data.to_vec(), lbs)
}

/// The first look, keeping `copy` (the data as fetched) without copying it again.
pub fn first_look_owned(copy: Vec<u8>, lbs: usize) -> FirstLook {
    let hashes = copy.chunks(lbs).map(xxh3_64).collect();
    FirstLook { at: Instant::now(), copy, hashes }
}

/// Compare the transferred `data` with the first look.
pub fn second_look(first: &FirstLook, data: &[u8], lbs: usize) -> Option<Mutation> {
    let window = first.at.elapsed();
    let mut blocks = Vec::new();
    for (i, (block, &h)) in data.chunks(lbs).zip(&first.hashes).enumerate() {
        if xxh3_64(block) == h {
            continue;
        }
        let old = &first.copy[i * lbs..i * lbs + block.len()];
        let firstb = old.iter().zip(block).position(|(a, b)| a != b);
        let lastb = old.iter().zip(block).rposition(|(a, b)| a != b);
        if let (Some(a), Some(b)) = (firstb, lastb) {
            blocks.push((i as u64, a, b));
        }
    }
    (!blocks.is_empty()).then_some(Mutation { blocks, window })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_changed_blocks_and_byte_ranges() {
        let mut data = vec![7u8; 4 * 512];
        let f = first_look(&data, 512);
        assert_eq!(second_look(&f, &data, 512), None, "unchanged data: nothing reported");
        data[512 + 10] = 1;
        data[512 + 300] = 2;
        data[3 * 512 + 511] = 3;
        let m = second_look(&f, &data, 512).unwrap();
        assert_eq!(m.blocks, vec![(1, 10, 300), (3, 511, 511)]);
    }
}
