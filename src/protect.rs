//! Protection of page ranges: changing it, asking for it, and publishing code (W^X).
//!
//! The [`Mallocator`] keeps a small interval map of protections, one entry per run of pages
//! with the same protection: its size grows with the number of protection changes, not with
//! the size of the region. A flag says whether the whole region is writable, so the write
//! helpers pay nothing for the map until a page is made non-writable. In a reservation that
//! commits lazily, changes to pages not committed yet are only recorded; committing them
//! applies the recorded protection.
#![forbid(unsafe_code)]

use core::ops::{Bound, RangeBounds};

use crate::region::page_size;
use crate::{Error, Mallocator, Protection, icache};

/// Runs of pages with one protection: `(start offset, protection)`, sorted, the first at 0,
/// neighbours different. Offsets are multiples of the page size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProtMap {
    runs: Vec<(usize, Protection)>,
    size: usize,
}

impl ProtMap {
    pub(crate) fn new(size: usize, protection: Protection) -> Self {
        ProtMap {
            runs: vec![(0, protection)],
            size,
        }
    }

    /// The index of the run holding `offset` (`offset < size`).
    fn run_index(&self, offset: usize) -> usize {
        self.runs.partition_point(|&(start, _)| start <= offset) - 1
    }

    fn run_end(&self, i: usize) -> usize {
        self.runs.get(i + 1).map_or(self.size, |r| r.0)
    }

    /// The protection of the byte at `offset` (`offset < size`).
    pub(crate) fn at(&self, offset: usize) -> Protection {
        self.runs[self.run_index(offset)].1
    }

    /// The protection of the whole region when it is uniform.
    pub(crate) fn uniform(&self) -> Option<Protection> {
        match *self.runs.as_slice() {
            [(_, p)] => Some(p),
            _ => None,
        }
    }

    /// The runs that overlap `[start, end)` (`start < end <= size`), clipped to it.
    pub(crate) fn segments(&self, start: usize, end: usize) -> Vec<(usize, usize, Protection)> {
        let mut out = Vec::new();
        let mut i = self.run_index(start);
        while i < self.runs.len() && self.runs[i].0 < end {
            let s = self.runs[i].0.max(start);
            out.push((s, self.run_end(i).min(end), self.runs[i].1));
            i += 1;
        }
        out
    }

    /// The first protection in `[start, end)` (`start < end <= size`) that lacks `want`.
    pub(crate) fn first_lacking(
        &self,
        start: usize,
        end: usize,
        want: fn(Protection) -> bool,
    ) -> Option<Protection> {
        let mut i = self.run_index(start);
        while i < self.runs.len() && self.runs[i].0 < end {
            if !want(self.runs[i].1) {
                return Some(self.runs[i].1);
            }
            i += 1;
        }
        None
    }

    /// Records `protection` for `[start, end)` (`start < end <= size`), in place: no
    /// allocation unless the map grows past its capacity.
    pub(crate) fn set(&mut self, start: usize, end: usize, protection: Protection) {
        let resume = (end < self.size).then(|| (end, self.at(end)));
        // Runs starting inside `[start, end]` are replaced by the new run and the resumed one.
        let first = self.runs.partition_point(|r| r.0 < start);
        let last = self.runs.partition_point(|r| r.0 <= end);
        self.runs.splice(
            first..last,
            core::iter::once((start, protection)).chain(resume),
        );
        self.runs.dedup_by(|next, prev| next.1 == prev.1);
    }
}

impl Mallocator {
    /// `range` as byte offsets `(start, end)` inside the region, or [`Error::OutOfRange`].
    fn byte_range(&self, range: impl RangeBounds<usize>) -> Result<(usize, usize), Error> {
        let size = self.size();
        let start = match range.start_bound() {
            Bound::Included(&s) => Some(s),
            Bound::Excluded(&s) => s.checked_add(1),
            Bound::Unbounded => Some(0),
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e.checked_add(1),
            Bound::Excluded(&e) => Some(e),
            Bound::Unbounded => Some(size),
        };
        match (start, end) {
            (Some(s), Some(e)) if s <= e && e <= size => Ok((s, e)),
            (s, e) => {
                let offset = s.unwrap_or(usize::MAX);
                Err(Error::OutOfRange {
                    offset,
                    len: e.unwrap_or(usize::MAX).saturating_sub(offset),
                    size,
                })
            }
        }
    }

    /// `range` widened to whole pages: the start rounded down, the end rounded up.
    fn page_range(&self, range: impl RangeBounds<usize>) -> Result<(usize, usize), Error> {
        let (start, end) = self.byte_range(range)?;
        if start == end {
            return Ok((start, end));
        }
        let mask = page_size() - 1;
        // `end <= size`, a multiple of the page size, so rounding up cannot overflow.
        Ok((start & !mask, (end + mask) & !mask))
    }

    /// Changes the OS protection of whole pages `[start, end)` and records it.
    fn set_pages(&mut self, start: usize, end: usize, protection: Protection) -> Result<(), Error> {
        if start == end {
            return Ok(());
        }
        // Pages not committed yet only get the protection recorded: committing them later
        // applies it. Only the committed part is changed in the OS now.
        let os_end = end.min(self.committed());
        if start < os_end
            && let Err(e) = self.region.protect_pages(start, os_end - start, protection)
        {
            // Linux can change part of the range before failing (ENOMEM at the mapping
            // limit), so each page has its old protection or the new one: record only the
            // rights both share, and no helper relies on a right a page may lack.
            for (s, e, old) in self.prots.segments(start, os_end) {
                self.prots.set(s, e, old & protection);
            }
            self.all_writable = self.prots.uniform().is_some_and(Protection::is_writable);
            return Err(e);
        }
        self.prots.set(start, end, protection);
        self.all_writable = self.prots.uniform().is_some_and(Protection::is_writable);
        Ok(())
    }

    /// Changes the protection of the pages that `range` touches (`mprotect(2)` /
    /// `VirtualProtect`). `range` is in bytes from [`base`](Self::base); its start is rounded
    /// down and its end rounded up to whole pages, so every page holding a byte of the range
    /// changes. An empty range changes nothing.
    ///
    /// Takes `&mut self`, so no slice handed out earlier survives the change (see
    /// [`set_protection`](Self::set_protection)). The write helpers check exactly the pages a
    /// new block would touch and return [`Error::NotWritable`] there.
    ///
    /// ```
    /// use vmallocator::{Error, Mallocator, Protection, page_size};
    /// let mut m = Mallocator::with_size(3 * page_size(), Protection::READ_WRITE)?;
    /// m.protect(page_size()..page_size() + 1, Protection::READ)?; // the middle page
    /// assert_eq!(m.protection_at(0), Some(Protection::READ_WRITE));
    /// assert_eq!(m.protection_at(page_size() + 5), Some(Protection::READ));
    /// assert_eq!(m.protection_of(..)?, None); // mixed
    /// m.alloc(page_size() - 1, 1)?;
    /// assert!(matches!(m.alloc_bytes(&[1, 2]), Err(Error::NotWritable { .. })));
    /// assert!(m.protect(0..4 * page_size(), Protection::NONE).is_err());
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::OutOfRange`] when the range reaches past the region or ends before it starts,
    /// [`Error::Os`] when the OS refuses. Nothing has changed then, unless the OS changed part
    /// of the range before refusing (Linux can, at its limit on mappings): the arena then
    /// takes each page of the range to have only the rights the old and new protections
    /// share, so the helpers never write or read a page on rights it may lack.
    pub fn protect(
        &mut self,
        range: impl RangeBounds<usize>,
        protection: Protection,
    ) -> Result<(), Error> {
        let (start, end) = self.page_range(range)?;
        self.set_pages(start, end, protection)
    }

    /// The protection of the byte at `offset` from [`base`](Self::base), or `None` past the
    /// end of the region.
    ///
    /// ```
    /// # let m = vmallocator::Mallocator::new()?;
    /// assert_eq!(m.protection_at(0), Some(vmallocator::Protection::READ_WRITE));
    /// assert_eq!(m.protection_at(m.size()), None);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    pub fn protection_at(&self, offset: usize) -> Option<Protection> {
        (offset < self.size()).then(|| self.prots.at(offset))
    }

    /// The protection of the pages `range` touches: `Some` when they all have the same,
    /// `None` when they differ. An empty range asks about the page holding its start.
    ///
    /// ```
    /// use vmallocator::{Mallocator, Protection, page_size};
    /// let mut m = Mallocator::with_size(2 * page_size(), Protection::READ_WRITE)?;
    /// m.protect(page_size().., Protection::READ_EXECUTE)?;
    /// assert_eq!(m.protection_of(..page_size())?, Some(Protection::READ_WRITE));
    /// assert_eq!(m.protection_of(page_size() - 1..page_size() + 1)?, None);
    /// assert!(m.protection_of(0..3 * page_size()).is_err());
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::OutOfRange`] when the range reaches past the region, or is empty at its end.
    pub fn protection_of(
        &self,
        range: impl RangeBounds<usize>,
    ) -> Result<Option<Protection>, Error> {
        let (start, end) = self.page_range(range)?;
        if start == end {
            return self
                .protection_at(start)
                .map(Some)
                .ok_or(Error::OutOfRange {
                    offset: start,
                    len: 0,
                    size: self.size(),
                });
        }
        match *self.prots.segments(start, end).as_slice() {
            [(_, _, p)] => Ok(Some(p)),
            _ => Ok(None),
        }
    }

    /// Publishes code: makes the pages `range` touches read+execute (`mprotect(2)` /
    /// `VirtualProtect`), then makes the instruction cache coherent with what was written
    /// there. Pages are rounded as in [`protect`](Self::protect).
    ///
    /// This is the W^X step: write code while the pages are read+write, publish, run it;
    /// to patch, [`make_writable`](Self::make_writable), write, publish again. Pages are never
    /// writable and executable at once unless you ask for
    /// [`Protection::READ_WRITE_EXECUTE`] by name.
    ///
    /// Takes `&mut self`, so no `&mut [u8]` into the code outlives the switch: keep the
    /// address (`block.as_ptr()`) or the offset, not the slice.
    ///
    /// ```
    /// use vmallocator::{Error, Mallocator, Protection};
    /// let mut m = Mallocator::new()?;
    /// let start = m.used();
    /// m.alloc_bytes(&[0xc3])?; // ret, on x86_64
    /// m.publish(start..m.used())?;
    /// assert_eq!(m.protection_at(start), Some(Protection::READ_EXECUTE));
    /// assert!(matches!(m.alloc_bytes(&[0x90]), Err(Error::NotWritable { .. })));
    /// m.make_writable(..)?;
    /// m.alloc_bytes(&[0x90])?;
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for a range outside the region, [`Error::Os`] when the OS
    /// refuses, [`Error::Unsupported`] on architectures other than x86, x86_64 and aarch64,
    /// where this crate does not know how to make the instruction cache coherent. Nothing has
    /// changed then.
    ///
    /// # Platform behaviour
    /// x86 and x86_64 need no cache maintenance (Windows still gets `FlushInstructionCache`);
    /// aarch64 Linux cleans and invalidates the caches line by line (`dc cvau`, `ic ivau`),
    /// macOS calls `sys_icache_invalidate`. On macOS on Apple silicon this also switches the
    /// calling thread's `MAP_JIT` memory to executable (`pthread_jit_write_protect_np(1)`):
    /// that path is type-checked, not run-tested.
    pub fn publish(&mut self, range: impl RangeBounds<usize>) -> Result<(), Error> {
        if !icache::SUPPORTED {
            return Err(Error::Unsupported);
        }
        let (start, end) = self.page_range(range)?;
        if start == end {
            return Ok(());
        }
        // Only Windows' FlushInstructionCache can fail after the protection change.
        #[cfg(windows)]
        let before = self.prots.segments(start, end);
        self.set_pages(start, end, Protection::READ_EXECUTE)?;
        let code = self.base().map_addr(|b| b.saturating_add(start));
        #[cfg_attr(not(windows), allow(clippy::question_mark))]
        if let Err(e) = icache::flush(code, self.flush_len(start, end)) {
            #[cfg(windows)]
            for (s, e, p) in before {
                // Best effort: restore what was there; the flush error is what counts.
                let _ = self.set_pages(s, e, p);
            }
            return Err(e);
        }
        #[cfg(all(target_os = "macos", target_arch = "aarch64"))]
        crate::sys::jit_write_protect(true);
        Ok(())
    }

    /// The bytes from `start` that [`publish`](Self::publish) makes coherent: only the
    /// committed part of `[start, end)`. Pages not committed yet hold no code, and on aarch64
    /// `dc cvau` on a reserved (`PROT_NONE`) page faults; over a large reservation it would
    /// also walk every cache line of it.
    fn flush_len(&self, start: usize, end: usize) -> usize {
        end.min(self.committed()).saturating_sub(start)
    }

    /// Makes the pages `range` touches read+write again, to patch published code; publish
    /// again before running it. Pages are rounded as in [`protect`](Self::protect).
    ///
    /// ```
    /// # let mut m = vmallocator::Mallocator::new()?;
    /// m.publish(..)?;
    /// m.make_writable(..)?;
    /// assert_eq!(m.protection_of(..)?, Some(vmallocator::Protection::READ_WRITE));
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for a range outside the region, [`Error::Os`] when the OS
    /// refuses (see [`protect`](Self::protect) for a partial change).
    ///
    /// # Platform behaviour
    /// On macOS on Apple silicon this also switches the calling thread's `MAP_JIT` memory to
    /// writable (`pthread_jit_write_protect_np(0)`); type-checked, not run-tested.
    pub fn make_writable(&mut self, range: impl RangeBounds<usize>) -> Result<(), Error> {
        let (start, end) = self.page_range(range)?;
        self.set_pages(start, end, Protection::READ_WRITE)?;
        #[cfg(all(target_os = "macos", target_arch = "aarch64"))]
        crate::sys::jit_write_protect(false);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RW: Protection = Protection::READ_WRITE;
    const RX: Protection = Protection::READ_EXECUTE;
    const R: Protection = Protection::READ;

    #[test]
    fn publish_flushes_only_committed_pages() {
        let p = page_size();
        let mut m = Mallocator::builder()
            .reserve(64 * p)
            .commit_step(4 * p)
            .build()
            .unwrap();
        assert_eq!(m.flush_len(0, 64 * p), 0);
        m.publish(..).unwrap();
        m.make_writable(..).unwrap();
        m.alloc(1, 1).unwrap();
        assert_eq!(m.flush_len(0, 64 * p), 4 * p);
        assert_eq!(m.flush_len(p, 2 * p), p);
        assert_eq!(m.flush_len(8 * p, 64 * p), 0);
        m.reset_decommit().unwrap();
        assert_eq!(m.flush_len(0, 64 * p), 0);
    }

    #[test]
    fn map_merges_and_splits() {
        let mut m = ProtMap::new(10, RW);
        m.set(2, 4, RX);
        assert_eq!(m.runs, [(0, RW), (2, RX), (4, RW)]);
        m.set(4, 6, RX);
        assert_eq!(m.runs, [(0, RW), (2, RX), (6, RW)]);
        m.set(3, 8, R);
        assert_eq!(m.runs, [(0, RW), (2, RX), (3, R), (8, RW)]);
        assert_eq!(m.segments(1, 9).len(), 4);
        assert_eq!(m.first_lacking(0, 3, Protection::is_writable), Some(RX));
        assert_eq!(m.first_lacking(0, 2, Protection::is_writable), None);
        m.set(0, 10, RW);
        assert_eq!(m.runs, [(0, RW)]);
        assert_eq!(m.uniform(), Some(RW));
        m.set(8, 10, R);
        assert_eq!(m.runs, [(0, RW), (8, R)]);
        assert_eq!((m.at(7), m.at(8), m.at(9)), (RW, R, R));
    }
}
