//! Range locks over a namespace's blocks, so every block is read and written
//! whole: data and metadata together.
//!
//! A block's data and its metadata live in two places in the image (the QEMU
//! layout: all data, then all metadata) and move with two system calls. Without a
//! lock, a Read that runs beside a Write of the same block can see the new data
//! with the old metadata, and report a PI error that nobody caused; two Writes of
//! one block can leave one's data with the other's metadata. Identify reports
//! AWUN 0 (one block, 0's based, NVMe-Base 5.1.13.2.1), which promises neither
//! happens. So reads take the blocks' stripes shared and writes (Write, Write
//! Zeroes, Copy's destination, Dataset Management's deallocate) take them
//! exclusive, for the duration of their data and metadata transfer to or from the
//! image.
//!
//! Blocks map to a fixed table of stripes, [`UNIT`] blocks per stripe, wrapping
//! around. A range takes its stripes in ascending index order and a command holds
//! one range at a time, so two commands never wait on each other in a cycle.
//! Disjoint ranges that share a stripe (because of the wrap) only wait on each
//! other, which is rare and short.

#![forbid(unsafe_code)]

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Stripes in a namespace's table.
pub const STRIPES: u64 = 256;
/// Blocks per stripe (a 4 KiB-block namespace: 2 MiB; 512-byte blocks: 256 KiB).
pub const UNIT: u64 = 512;

pub struct BlockLocks {
    stripes: Box<[RwLock<()>]>,
}

impl Default for BlockLocks {
    fn default() -> Self {
        BlockLocks { stripes: (0..STRIPES).map(|_| RwLock::new(())).collect() }
    }
}

enum Held<'a> {
    Shared(#[allow(dead_code)] RwLockReadGuard<'a, ()>),
    Exclusive(#[allow(dead_code)] RwLockWriteGuard<'a, ()>),
}

/// The stripes of one range, held until dropped. Holds one or two stripes
/// (every command of up to [`UNIT`] blocks) without allocating.
pub struct RangeGuard<'a> {
    _first: Option<Held<'a>>,
    _second: Option<Held<'a>>,
    _rest: Vec<Held<'a>>,
}

/// The stripe indexes of [slba, slba+nlb), in ascending order, as at most two
/// runs of consecutive indexes.
fn runs(slba: u64, nlb: u64) -> [std::ops::Range<u64>; 2] {
    if nlb == 0 {
        return [0..0, 0..0];
    }
    let first = slba / UNIT;
    let last = slba.saturating_add(nlb - 1) / UNIT;
    let count = last - first + 1;
    if count >= STRIPES {
        return [0..STRIPES, 0..0];
    }
    let (a, b) = (first % STRIPES, last % STRIPES);
    if a <= b {
        [a..b + 1, 0..0]
    } else {
        // Wrapped: the low run first, so the order stays ascending.
        [0..b + 1, a..STRIPES]
    }
}

impl BlockLocks {
    /// Hold [slba, slba+nlb) shared: other readers may run, writers wait.
    pub fn read(&self, slba: u64, nlb: u64) -> RangeGuard<'_> {
        self.take(slba, nlb, false)
    }

    /// Hold [slba, slba+nlb) exclusive.
    pub fn write(&self, slba: u64, nlb: u64) -> RangeGuard<'_> {
        self.take(slba, nlb, true)
    }

    /// [`read`](Self::read) without waiting: None when a stripe is taken. For a
    /// worker that keeps several commands in flight, which must not wait for a lock
    /// that one of its own commands holds.
    pub fn try_read(&self, slba: u64, nlb: u64) -> Option<RangeGuard<'_>> {
        self.try_take(slba, nlb, false)
    }

    /// [`write`](Self::write) without waiting: None when a stripe is taken.
    pub fn try_write(&self, slba: u64, nlb: u64) -> Option<RangeGuard<'_>> {
        self.try_take(slba, nlb, true)
    }

    fn try_take(&self, slba: u64, nlb: u64, exclusive: bool) -> Option<RangeGuard<'_>> {
        use std::sync::TryLockError;
        let lock = |i: u64| {
            let s = &self.stripes[i as usize];
            if exclusive {
                match s.try_write() {
                    Ok(g) => Some(Held::Exclusive(g)),
                    Err(TryLockError::Poisoned(e)) => Some(Held::Exclusive(e.into_inner())),
                    Err(TryLockError::WouldBlock) => None,
                }
            } else {
                match s.try_read() {
                    Ok(g) => Some(Held::Shared(g)),
                    Err(TryLockError::Poisoned(e)) => Some(Held::Shared(e.into_inner())),
                    Err(TryLockError::WouldBlock) => None,
                }
            }
        };
        let mut g = RangeGuard { _first: None, _second: None, _rest: Vec::new() };
        for i in runs(slba, nlb).into_iter().flatten() {
            // On failure the stripes taken so far are released with `g`.
            let h = lock(i)?;
            g.push(h);
        }
        Some(g)
    }

    fn take(&self, slba: u64, nlb: u64, exclusive: bool) -> RangeGuard<'_> {
        let lock = |i: u64| {
            let s = &self.stripes[i as usize];
            // A panic elsewhere poisons nothing we rely on: the lock guards no data.
            if exclusive {
                Held::Exclusive(s.write().unwrap_or_else(|e| e.into_inner()))
            } else {
                Held::Shared(s.read().unwrap_or_else(|e| e.into_inner()))
            }
        };
        let mut g = RangeGuard { _first: None, _second: None, _rest: Vec::new() };
        for i in runs(slba, nlb).into_iter().flatten() {
            g.push(lock(i));
        }
        g
    }
}

impl<'a> RangeGuard<'a> {
    fn push(&mut self, h: Held<'a>) {
        if self._first.is_none() {
            self._first = Some(h);
        } else if self._second.is_none() {
            self._second = Some(h);
        } else {
            self._rest.push(h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    fn indexes(slba: u64, nlb: u64) -> Vec<u64> {
        runs(slba, nlb).into_iter().flatten().collect()
    }

    #[test]
    fn stripes_come_in_ascending_order_and_cover_the_range() {
        assert_eq!(indexes(0, 1), vec![0]);
        assert_eq!(indexes(UNIT - 1, 2), vec![0, 1]);
        assert_eq!(indexes(5 * UNIT, UNIT), vec![5]);
        // Wrapping past the last stripe: the low run comes first.
        assert_eq!(indexes((STRIPES - 1) * UNIT, UNIT + 1), vec![0, STRIPES - 1]);
        // A range of a table's worth or more takes every stripe once.
        assert_eq!(indexes(3, STRIPES * UNIT), (0..STRIPES).collect::<Vec<_>>());
        assert_eq!(indexes(u64::MAX - 10, 100), indexes(u64::MAX - 10, 11));
        assert!(indexes(7, 0).is_empty());
    }

    #[test]
    fn a_writer_waits_for_a_reader_of_an_overlapping_range_and_not_for_a_disjoint_one() {
        let locks = Arc::new(BlockLocks::default());
        let r = locks.read(100, 8);
        // Readers share (taken before a writer queues: std's RwLock makes new
        // readers wait behind a waiting writer, and a command holds one range only).
        drop(locks.read(100, 1));
        // Disjoint (another stripe): no wait.
        drop(locks.write(UNIT * 3, 8));
        let done = Arc::new(AtomicBool::new(false));
        let t = {
            let (locks, done) = (locks.clone(), done.clone());
            std::thread::spawn(move || {
                let _w = locks.write(104, 1);
                done.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!done.load(Ordering::SeqCst), "the writer ran while a reader held its block");
        drop(r);
        t.join().unwrap();
        assert!(done.load(Ordering::SeqCst));
    }

    #[test]
    fn trying_never_waits_and_takes_nothing_when_one_stripe_is_busy() {
        let locks = BlockLocks::default();
        let r = locks.read(UNIT, 1);
        assert!(locks.try_read(UNIT, 1).is_some(), "readers share");
        // Over stripes 0 and 1: stripe 1 is busy, so stripe 0 must be left free too.
        assert!(locks.try_write(0, UNIT + 1).is_none());
        assert!(locks.try_write(0, 1).is_some(), "the failed try released stripe 0");
        drop(r);
        let w = locks.try_write(0, UNIT + 1).expect("free now");
        assert!(locks.try_read(UNIT, 1).is_none());
        drop(w);
    }

    #[test]
    fn crossing_ranges_taken_in_opposite_orders_do_not_deadlock() {
        let locks = Arc::new(BlockLocks::default());
        let ts: Vec<_> = (0..4)
            .map(|t| {
                let locks = locks.clone();
                std::thread::spawn(move || {
                    for i in 0..2000u64 {
                        // Ranges that wrap and ranges that do not, over the same stripes.
                        let slba = if (i + t) % 2 == 0 { (STRIPES - 1) * UNIT } else { 0 };
                        let _g = locks.write(slba, UNIT + 1);
                    }
                })
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
    }
}
