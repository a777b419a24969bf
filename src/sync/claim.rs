//! The claim protocol: how threads take disjoint pieces of one region, and how the region
//! is committed as they do, with one atomic cursor and a lock only on the cold commit path.
//!
//! All offsets are from the region's base. The state is three atomics and a mutex:
//! - `cursor`: everything below it has been claimed. It only moves up, by a
//!   compare-and-swap from `cur` to `end`, which hands `[start, end)` (`start` being `cur`
//!   rounded up to the alignment) to exactly one thread. A failed claim does not move it.
//! - `committed`: the pages below it are committed. It moves up only while `lock` is held,
//!   and is stored with `Release` after the OS call, so a thread that loads it with
//!   `Acquire` and sees a value at or above its block's end sees the pages committed.
//! - Invariant: `cursor <= committed <= len`. A claim whose end passes `committed` first
//!   commits (under the lock, re-checking), then tries its swap; so no byte at or above
//!   `committed` is ever claimed, and committing there touches no claimed byte.
//!
//! Two threads crossing the committed end at once: both take the lock in turn; the second
//! finds `committed` already past its end and commits nothing. A commit the OS refuses
//! changes nothing, and the claim fails without having moved the cursor.
//!
//! Claims start and end on multiples of [`LINE`], so two threads' pieces never share a
//! cache line. Moving the cursor down (`lower`) happens in one place: a handle giving back
//! the unused tail of its chunk while that chunk is still the last claim (a swap from the
//! chunk's end), and resets through `&mut`. The loom model at the end of this file checks
//! this code, through the atomics of [`super::atomic`].

use super::atomic::{AtomicUsize, Mutex, Ordering};
use crate::Error;

/// The granule of claims: a cache line (64 bytes on the targets this crate runs on; 128 on
/// some, where false sharing then costs a little, never correctness).
pub(crate) const LINE: usize = 64;

/// The shared state of a region that many threads claim pieces of.
#[derive(Debug)]
pub(crate) struct Claim {
    cursor: AtomicUsize,
    committed: AtomicUsize,
    /// The highest `cursor` ever reached, as of the last time it moved down.
    high: AtomicUsize,
    /// The highest `cursor` since the memory was last zeroed, as of the last time it moved
    /// down: committed bytes above it still read as zero.
    dirty: AtomicUsize,
    /// Bytes of chunk tails that handles left behind without giving them back.
    wasted: AtomicUsize,
    /// The region's base address, to align blocks as addresses (a multiple of `LINE`).
    base: usize,
    /// The region's length: a whole number of pages, at most `isize::MAX`.
    len: usize,
    /// Bytes committed at a time: whole pages.
    step: usize,
    lock: Mutex<()>,
}

impl Claim {
    /// The state of a region at `base` of `len` bytes whose first `committed` are committed.
    pub(crate) fn new(base: usize, len: usize, committed: usize, step: usize) -> Self {
        debug_assert!(committed <= len && step > 0 && base.is_multiple_of(LINE));
        Claim {
            cursor: AtomicUsize::new(0),
            committed: AtomicUsize::new(committed),
            high: AtomicUsize::new(0),
            dirty: AtomicUsize::new(0),
            wasted: AtomicUsize::new(0),
            base,
            len,
            step,
            lock: Mutex::new(()),
        }
    }

    /// Claims `size` bytes at a multiple of `align` (a power of two; raised to [`LINE`]),
    /// the end rounded up to [`LINE`], committing first where the block passes the committed
    /// end. `commit(from, to)` makes `[from, to)` usable (page-aligned offsets); it runs
    /// under the lock, on pages no claim covers. Returns the block's start offset.
    ///
    /// # Errors
    /// [`Error::OutOfMemory`] when the block does not fit in what is left, or the error of
    /// `commit`; the cursor has not moved then.
    pub(crate) fn claim(
        &self,
        size: usize,
        align: usize,
        commit: impl FnMut(usize, usize) -> Result<(), Error>,
    ) -> Result<usize, Error> {
        debug_assert!(align.is_power_of_two());
        let mask = align.max(LINE) - 1;
        let mut commit = commit;
        let mut cur = self.cursor.load(Ordering::Relaxed);
        loop {
            // Aligned as an address; `base + cur` is at most the region's end address.
            let span = (self.base + cur)
                .checked_add(mask)
                .map(|a| (a & !mask) - self.base)
                .and_then(|fits| {
                    let end = fits.checked_add(size)?.checked_next_multiple_of(LINE)?;
                    (end <= self.len).then_some((fits, end))
                });
            let Some((fits, end)) = span else {
                return Err(Error::OutOfMemory {
                    requested: size,
                    align,
                    remaining: self.len - cur,
                });
            };
            if end > self.committed.load(Ordering::Acquire) {
                self.grow(end, &mut commit)?;
            }
            // Relaxed: the swap's atomicity alone makes claims disjoint; what orders the
            // commit before the use of the block is `committed` (Acquire above or in grow).
            match self
                .cursor
                .compare_exchange_weak(cur, end, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(fits),
                Err(now) => cur = now,
            }
        }
    }

    /// The cold path: commits whole steps from the committed end up to at least `end`
    /// (clamped at the region's end), under the lock.
    #[cold]
    #[inline(never)]
    fn grow(
        &self,
        end: usize,
        commit: &mut impl FnMut(usize, usize) -> Result<(), Error>,
    ) -> Result<(), Error> {
        // A commit closure never panics, so a poisoned lock guards consistent state.
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let from = self.committed.load(Ordering::Acquire);
        if from >= end {
            return Ok(()); // another thread committed it meanwhile
        }
        let steps = (end - from).div_ceil(self.step);
        let to = steps
            .checked_mul(self.step)
            .and_then(|n| n.checked_add(from))
            .map_or(self.len, |e| e.min(self.len));
        commit(from, to)?;
        self.committed.store(to, Ordering::Release);
        Ok(())
    }

    /// Gives `[from, to)` back if it is still the last claim, else counts it as wasted.
    /// `from` is rounded up to [`LINE`].
    ///
    /// The caller must own `[from, to)`: claimed, none of it handed out, no reference into it.
    pub(crate) fn give_back(&self, from: usize, to: usize) {
        let from = from.next_multiple_of(LINE).min(to);
        if from == to {
            return;
        }
        // Record the top before lowering, so the high-water mark never reads low.
        self.high.fetch_max(to, Ordering::Relaxed);
        self.dirty.fetch_max(to, Ordering::Relaxed);
        if self
            .cursor
            .compare_exchange(to, from, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            self.wasted.fetch_add(to - from, Ordering::Relaxed);
        }
    }

    /// Moves the cursor to 0: everything can be claimed again. Through `&mut`, so no claim
    /// is running and no block handed out is alive.
    pub(crate) fn reset(&mut self) {
        let cur = self.cursor.load(Ordering::Relaxed);
        self.high.fetch_max(cur, Ordering::Relaxed);
        self.dirty.fetch_max(cur, Ordering::Relaxed);
        self.cursor.store(0, Ordering::Relaxed);
        self.wasted.store(0, Ordering::Relaxed);
    }

    /// Bytes of committed memory that may not read as zero (after a [`reset`](Self::reset)).
    pub(crate) fn dirty(&self) -> usize {
        let dirty = self.dirty.load(Ordering::Relaxed);
        dirty
            .max(self.cursor())
            .min(self.committed.load(Ordering::Acquire))
    }

    /// Records that the memory reads as zero again (all of it, or above `committed`).
    pub(crate) fn zeroed(&mut self) {
        self.dirty.store(0, Ordering::Relaxed);
    }

    /// Records that nothing is committed any more.
    pub(crate) fn decommitted(&mut self) {
        self.committed.store(0, Ordering::Relaxed);
        self.dirty.store(0, Ordering::Relaxed);
    }

    /// The cursor: bytes claimed so far.
    pub(crate) fn cursor(&self) -> usize {
        self.cursor.load(Ordering::Relaxed)
    }

    /// Bytes committed.
    pub(crate) fn committed(&self) -> usize {
        self.committed.load(Ordering::Relaxed)
    }

    /// The most bytes ever claimed at once.
    pub(crate) fn high(&self) -> usize {
        self.high.load(Ordering::Relaxed).max(self.cursor())
    }

    /// Bytes of chunk tails that could not be given back.
    pub(crate) fn wasted(&self) -> usize {
        self.wasted.load(Ordering::Relaxed)
    }

    /// The region's length.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn no_commit(_: usize, _: usize) -> Result<(), Error> {
        Ok(())
    }

    #[test]
    fn claims_round_to_lines_and_fail_without_moving() {
        let c = Claim::new(0, 4096, 4096, 4096);
        assert_eq!(c.claim(1, 1, no_commit), Ok(0));
        assert_eq!(c.claim(1, 128, no_commit), Ok(128));
        assert_eq!(c.cursor(), 192);
        let e = c.claim(4096, 1, no_commit).unwrap_err();
        assert_eq!(
            e,
            Error::OutOfMemory {
                requested: 4096,
                align: 1,
                remaining: 4096 - 192
            }
        );
        assert!(c.claim(usize::MAX, 1, no_commit).is_err());
        assert_eq!(c.cursor(), 192);
    }

    #[test]
    fn commits_whole_steps_once_and_keeps_state_on_refusal() {
        let c = Claim::new(0, 10 * 4096, 0, 2 * 4096);
        let mut calls = Vec::new();
        c.claim(5000, 1, |a, b| {
            calls.push((a, b));
            Ok(())
        })
        .unwrap();
        assert_eq!((calls.as_slice(), c.committed()), (&[(0, 8192)][..], 8192));
        let refused = Error::Os {
            call: "mprotect",
            code: 12,
        };
        assert_eq!(c.claim(9000, 1, |_, _| Err(refused.clone())), Err(refused));
        assert_eq!((c.cursor(), c.committed()), (5056, 8192));
        // Clamped at the region's end.
        c.claim(30000, 1, |a, b| {
            assert_eq!((a, b), (8192, 40960));
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn give_back_lowers_only_the_last_claim() {
        let c = Claim::new(0, 4096, 4096, 4096);
        let a = c.claim(1024, 1, no_commit).unwrap();
        c.give_back(a + 100, a + 1024);
        assert_eq!((c.cursor(), c.wasted(), c.high()), (128, 0, 1024));
        let b = c.claim(512, 1, no_commit).unwrap();
        c.claim(64, 1, no_commit).unwrap();
        c.give_back(b + 10, b + 512); // no longer the last claim
        assert_eq!(c.wasted(), 512 - 64);
    }
}

/// The loom model: `RUSTFLAGS="--cfg loom" cargo test --release --lib sync::claim`
/// (scripts/loom.sh). Each unit of a small region is a loom cell that a claim's owner
/// writes, and each page a cell that `commit` writes: loom reports a data race where two
/// claims overlap or a block is used without its commit happening before, over every
/// interleaving.
#[cfg(all(test, loom))]
mod model {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::thread;

    /// A region of `PAGES` pages of `LINE * 2` bytes, committed one page at a time.
    const PAGE: usize = 2 * LINE;
    const PAGES: usize = 3;

    struct Model {
        claim: Claim,
        /// Per page: committed yet (written by `commit` only).
        pages: Vec<UnsafeCell<bool>>,
        /// Per line: which thread owns it (written by the owner after its claim).
        lines: Vec<UnsafeCell<usize>>,
    }

    impl Model {
        fn new(committed: usize) -> Self {
            Model {
                claim: Claim::new(0, PAGES * PAGE, committed * PAGE, PAGE),
                pages: (0..PAGES).map(|p| UnsafeCell::new(p < committed)).collect(),
                lines: (0..PAGES * PAGE / LINE)
                    .map(|_| UnsafeCell::new(0))
                    .collect(),
            }
        }

        /// Claims, checks every page of the block is committed, writes every line of it.
        fn take(&self, who: usize, size: usize) -> Result<(usize, usize), Error> {
            let start = self.claim.claim(size, 1, |from, to| {
                assert!(from % PAGE == 0 && to % PAGE == 0 && from < to);
                for p in from / PAGE..to / PAGE {
                    // The lock serialises commits; a second commit of a page is a bug.
                    self.pages[p].with_mut(|c| {
                        // SAFETY: loom checks this access for races.
                        let c = unsafe { &mut *c };
                        assert!(!*c, "page {p} committed twice");
                        *c = true;
                    });
                }
                Ok(())
            })?;
            let end = (start + size).next_multiple_of(LINE);
            for p in start / PAGE..end.div_ceil(PAGE) {
                // SAFETY: loom checks this access for races.
                self.pages[p].with(|c| assert!(unsafe { *c }, "page {p} used uncommitted"));
            }
            for l in start / LINE..end / LINE {
                // SAFETY: loom checks this access for races.
                self.lines[l].with_mut(|x| unsafe { *x = who });
            }
            Ok((start, end))
        }
    }

    fn check(committed: usize, sizes: [usize; 2]) {
        loom::model(move || {
            let m = Arc::new(Model::new(committed));
            let other = {
                let m = m.clone();
                thread::spawn(move || m.take(2, sizes[1]).ok())
            };
            let mine = m.take(1, sizes[0]).ok();
            let theirs = other.join().unwrap();
            if let (Some(a), Some(b)) = (mine, theirs) {
                assert!(a.1 <= b.0 || b.1 <= a.0, "claims {a:?} and {b:?} overlap");
            }
            assert!(m.claim.cursor() <= m.claim.committed());
            assert!(m.claim.committed() <= m.claim.len());
        });
    }

    #[test]
    fn two_threads_cross_the_committed_end_at_once() {
        check(0, [LINE, LINE]);
        check(0, [PAGE + 1, LINE]);
    }

    #[test]
    fn one_commits_while_the_other_claims_committed_memory() {
        check(1, [LINE, PAGE + LINE]);
    }

    #[test]
    fn a_claim_that_does_not_fit_changes_nothing() {
        check(1, [2 * PAGE, 2 * PAGE]);
    }

    #[test]
    fn give_back_races_a_claim() {
        loom::model(|| {
            let m = Arc::new(Model::new(1));
            let (start, end) = m.take(1, PAGE).unwrap();
            let other = {
                let m = m.clone();
                thread::spawn(move || m.take(2, LINE).unwrap())
            };
            // Hand out one line, give the rest back while the other thread claims.
            m.claim.give_back(start + LINE, end);
            let theirs = other.join().unwrap();
            assert!(theirs.0 >= start + LINE);
            let c = &m.claim;
            if theirs.0 == start + LINE {
                // The tail came back first, and the other thread claimed from it.
                assert_eq!((c.cursor(), c.wasted()), (theirs.1, 0));
            } else {
                assert_eq!(
                    (theirs.0, c.cursor(), c.wasted()),
                    (end, theirs.1, end - start - LINE)
                );
            }
        });
    }
}
