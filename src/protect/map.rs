//! The protection of each run of pages of a region: an interval map kept as a sorted map
//! of run starts ([`Runs`]), the first run held apart so a region of one protection needs
//! no heap allocation at all (an empty map allocates nothing).
//!
//! A change costs one lookup (none when it lands in the block of the change before), the
//! removal of the run starts inside the range (each paid for by the change that made it)
//! and at most two insertions, whatever the order of changes. A change of the whole region,
//! or one that changes nothing in a uniform region, touches no map at all.
#![forbid(unsafe_code)]

use core::fmt;

use super::runs::Runs;
use crate::Protection;

/// Runs of pages with one protection. The first run starts at 0 with `first`; `rest` maps
/// the starts of the others to their protection, each different from the run before it.
/// Offsets are multiples of the page size.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ProtMap {
    first: Protection,
    rest: Runs,
    size: usize,
}

impl ProtMap {
    /// A map of `size` bytes, all with `protection`: allocates nothing.
    pub(crate) const fn new(size: usize, protection: Protection) -> Self {
        ProtMap {
            first: protection,
            rest: Runs::new(),
            size,
        }
    }

    /// The protection of the byte at `offset` (`offset < size`).
    #[inline]
    pub(crate) fn at(&self, offset: usize) -> Protection {
        if self.rest.is_empty() {
            return self.first;
        }
        self.start_of(offset).1
    }

    /// The run holding `offset` (`offset < size`): its start, its end and its protection.
    #[inline]
    pub(crate) fn run(&self, offset: usize) -> (usize, usize, Protection) {
        let (start, p) = self.start_of(offset);
        let end = self.rest.next_gt(offset).unwrap_or(self.size);
        (start, end, p)
    }

    /// The start and protection of the run holding `offset` (`offset < size`).
    #[inline]
    fn start_of(&self, offset: usize) -> (usize, Protection) {
        self.rest.prev_le(offset).unwrap_or((0, self.first))
    }

    /// The protection of the whole region when it is uniform.
    #[inline]
    pub(crate) fn uniform(&self) -> Option<Protection> {
        self.rest.is_empty().then_some(self.first)
    }

    /// The number of runs.
    pub(crate) fn runs(&self) -> usize {
        self.rest.len() + 1
    }

    /// Calls `f` with each run that overlaps `[start, end)` (`start < end <= size`), clipped
    /// to it, in address order, until `f` returns `Some`; allocates nothing.
    #[inline]
    pub(crate) fn find_segment<T>(
        &self,
        start: usize,
        end: usize,
        mut f: impl FnMut(usize, usize, Protection) -> Option<T>,
    ) -> Option<T> {
        let mut at = start;
        while at < end {
            let (_, run_end, p) = self.run(at);
            let seg_end = run_end.min(end);
            if let Some(t) = f(at, seg_end, p) {
                return Some(t);
            }
            at = seg_end;
        }
        None
    }

    /// The protection of `[start, end)` (`start < end <= size`) when it is one, else `None`.
    #[inline]
    pub(crate) fn uniform_in(&self, start: usize, end: usize) -> Option<Protection> {
        let (_, run_end, p) = self.run(start);
        (run_end >= end).then_some(p)
    }

    /// The first protection in `[start, end)` (`start < end <= size`) that lacks `want`.
    #[inline]
    pub(crate) fn first_lacking(
        &self,
        start: usize,
        end: usize,
        want: fn(Protection) -> bool,
    ) -> Option<Protection> {
        self.find_segment(start, end, |_, _, p| (!want(p)).then_some(p))
    }

    /// Records `protection` for `[start, end)` (`start < end <= size`): the runs inside the
    /// range are replaced by at most two boundaries. Allocates only when a block of the map
    /// splits.
    #[inline]
    pub(crate) fn set(&mut self, start: usize, end: usize, protection: Protection) {
        debug_assert!(start < end && end <= self.size);
        if self.rest.is_empty() {
            if start == 0 && end == self.size {
                self.first = protection;
                return;
            }
            if self.first == protection {
                return;
            }
        }
        self.set_slow(start, end, protection);
    }

    #[inline(never)]
    fn set_slow(&mut self, start: usize, end: usize, protection: Protection) {
        self.first = self
            .rest
            .assign(self.first, self.size, start, end, protection);
    }
}

/// `READ_WRITE` for a uniform map, else the runs as `{offset: protection, ...}`, the first
/// 16 of them.
impl fmt::Debug for ProtMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rest.is_empty() {
            return self.first.fmt(f);
        }
        const SHOWN: usize = 16;
        let mut runs = f.debug_map();
        runs.entry(&format_args!("{:#x}", 0), &self.first);
        for (start, p) in self.rest.iter().take(SHOWN - 1) {
            runs.entry(&format_args!("{start:#x}"), &p);
        }
        if self.runs() > SHOWN {
            runs.entry(
                &format_args!("…"),
                &format_args!("{} more runs", self.runs() - SHOWN),
            );
        }
        runs.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RW: Protection = Protection::READ_WRITE;
    const RX: Protection = Protection::READ_EXECUTE;
    const R: Protection = Protection::READ;

    fn runs(m: &ProtMap) -> Vec<(usize, Protection)> {
        core::iter::once((0, m.first))
            .chain(m.rest.iter())
            .collect()
    }

    #[test]
    fn map_merges_and_splits() {
        let mut m = ProtMap::new(10, RW);
        m.set(2, 4, RX);
        assert_eq!(runs(&m), [(0, RW), (2, RX), (4, RW)]);
        m.set(4, 6, RX);
        assert_eq!(runs(&m), [(0, RW), (2, RX), (6, RW)]);
        m.set(3, 8, R);
        assert_eq!(runs(&m), [(0, RW), (2, RX), (3, R), (8, RW)]);
        assert_eq!(m.first_lacking(0, 3, Protection::is_writable), Some(RX));
        assert_eq!(m.first_lacking(0, 2, Protection::is_writable), None);
        assert_eq!(m.uniform_in(3, 8), Some(R));
        assert_eq!(m.uniform_in(2, 4), None);
        m.set(0, 10, RW);
        assert_eq!(runs(&m), [(0, RW)]);
        assert_eq!(m.uniform(), Some(RW));
        m.set(8, 10, R);
        assert_eq!(runs(&m), [(0, RW), (8, R)]);
        assert_eq!((m.at(7), m.at(8), m.at(9)), (RW, R, R));
        m.set(0, 8, R);
        assert_eq!(runs(&m), [(0, R)]);
        assert_eq!(format!("{m:?}"), "READ");
        m.set(0, 1, RX);
        assert_eq!(format!("{m:?}"), "{0x0: READ_EXECUTE, 0x1: READ}");
    }

    /// Against a model of one protection per unit, over many random changes of at most
    /// `max_len` units (all when 0), checking every unit each `every` changes.
    fn against_model(size: usize, max_len: usize, changes: usize, every: usize) {
        let all = [RW, RX, R, Protection::NONE];
        let mut m = ProtMap::new(size, RW);
        let mut model = vec![RW; size];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for step in 0..changes {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let a = (x % size as u64) as usize;
            let (start, end) = if max_len == 0 {
                let b = ((x >> 16) % size as u64) as usize;
                (a.min(b), a.max(b) + 1)
            } else {
                (a, (a + 1 + (x >> 16) as usize % max_len).min(size))
            };
            let p = all[(x >> 32) as usize % 4];
            m.set(start, end, p);
            model[start..end].fill(p);
            if step % every == 0 {
                for (i, &want) in model.iter().enumerate() {
                    assert_eq!(m.at(i), want);
                }
                let model_runs = 1 + model.windows(2).filter(|w| w[0] != w[1]).count();
                assert_eq!(m.runs(), model_runs, "runs must stay merged");
                let (s, e, p) = m.run(a);
                assert!(s <= a && a < e && model[s..e].iter().all(|&q| q == p));
                assert!(s == 0 || model[s - 1] != p);
                assert!(e == size || model[e] != p);
            }
        }
    }

    #[test]
    fn map_matches_a_model() {
        against_model(40, 0, 20_000, 1);
    }

    /// Thousands of runs: the sorted map splits and merges many blocks.
    #[test]
    fn map_matches_a_model_with_many_runs() {
        // Fewer changes where `VMALLOCATOR_TEST_SCALE` (a factor, 1 by default) is low.
        let scale = crate::test_scale();
        let changes = |n: f64| ((n * scale) as usize).clamp(3_000, n as usize);
        against_model(5_000, 3, changes(60_000.0), 500);
        against_model(5_000, 200, changes(20_000.0), 200);
    }
}
