//! [`Segments`]: the pieces of one transfer, kept inline up to [`INLINE`] pieces so
//! that building a command's scatter list allocates nothing for the transfers
//! guests send most (4 KiB to 32 KiB, or larger ones in few contiguous runs).
//! Longer lists move to the heap: a 128 KiB transfer of 32 scattered pages costs
//! one allocation. 32 inline pieces measured 8% slower at 4 KiB QD32 (the list
//! is moved by value several times per command), 8 measured even with the old
//! `Vec` (docs/performance.md).

use super::Segment;

/// Pieces held without a heap allocation.
pub const INLINE: usize = 8;

#[derive(Clone)]
pub struct Segments {
    len: usize,
    inline: [Segment; INLINE],
    /// All pieces, once there are more than `INLINE` (then `inline` is unused).
    spill: Vec<Segment>,
}

impl Default for Segments {
    fn default() -> Self {
        Segments { len: 0, inline: [Segment::BitBucket { len: 0 }; INLINE], spill: Vec::new() }
    }
}

impl Segments {
    pub fn push(&mut self, s: Segment) {
        if self.len < INLINE {
            self.inline[self.len] = s;
        } else {
            if self.len == INLINE {
                self.spill.reserve(2 * INLINE);
                self.spill.extend_from_slice(&self.inline);
            }
            self.spill.push(s);
        }
        self.len += 1;
    }

    pub fn last_mut(&mut self) -> Option<&mut Segment> {
        let n = self.len;
        if n == 0 {
            None
        } else if n <= INLINE {
            Some(&mut self.inline[n - 1])
        } else {
            self.spill.last_mut()
        }
    }

    /// Whether the pieces went to the heap.
    pub fn spilled(&self) -> bool {
        self.len > INLINE
    }
}

impl std::ops::Deref for Segments {
    type Target = [Segment];
    fn deref(&self) -> &[Segment] {
        if self.len <= INLINE {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }
}

impl From<Vec<Segment>> for Segments {
    fn from(v: Vec<Segment>) -> Self {
        let mut s = Segments::default();
        for x in v {
            s.push(x);
        }
        s
    }
}

impl PartialEq for Segments {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}
impl Eq for Segments {}

impl PartialEq<Vec<Segment>> for Segments {
    fn eq(&self, other: &Vec<Segment>) -> bool {
        **self == other[..]
    }
}

impl std::fmt::Debug for Segments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_then_spilled_in_order() {
        let mut s = Segments::default();
        assert!(s.last_mut().is_none());
        for i in 0..(INLINE as u64 + 5) {
            s.push(Segment::Mem { addr: i * 0x1000, len: 1 });
            assert_eq!(s.spilled(), i as usize >= INLINE);
        }
        assert_eq!(s.len(), INLINE + 5);
        for (i, seg) in s.iter().enumerate() {
            assert_eq!(*seg, Segment::Mem { addr: i as u64 * 0x1000, len: 1 });
        }
        if let Some(Segment::Mem { len, .. }) = s.last_mut() {
            *len = 7;
        }
        assert_eq!(s[INLINE + 4].len(), 7);
        let v: Vec<Segment> = s.to_vec();
        assert_eq!(s, v);
        assert_eq!(Segments::from(v.clone()), s);
    }
}
