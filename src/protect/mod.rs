//! Protection of page ranges: changing it, asking for it, and publishing code (W^X).
//!
//! The [`Mallocator`] keeps an interval map of protections ([`map::ProtMap`]), one entry
//! per run of pages with the same protection, in a two-level sorted array ([`runs`]): a
//! change costs a lookup (none when it lands in the block of the change before) and a
//! splice of at most two entries, and a region of one protection needs no heap allocation. A flag says whether the whole region
//! is writable, so the write helpers pay nothing for the map until a page is made
//! non-writable. In a reservation that commits lazily, changes to pages not committed yet
//! are only recorded; committing them applies the recorded protection.
//!
//! Blocks are named by byte offsets or by a [`Block`] handle ([`block`]); patching and
//! calling code ([`call`]) are the two places that turn region addresses into a slice or a
//! function pointer. A failed change is rolled back, so the record and the OS agree.

use crate::region::page_size;
use crate::{Error, Mallocator, Protection, icache};

mod block;
mod call;
mod dual;
mod map;
mod runs;

pub use block::{Block, ByteRange};
pub use call::FnPtr;
pub(crate) use map::ProtMap;

impl Mallocator {
    /// `range` widened to whole pages: the start rounded down, the end rounded up.
    #[inline]
    fn page_range(&self, range: impl ByteRange) -> Result<(usize, usize), Error> {
        let (start, end) = range.offsets(self)?;
        if start == end {
            return Ok((start, end));
        }
        let mask = page_size() - 1;
        // `end <= size`, a multiple of the page size, so rounding up cannot overflow.
        Ok((start & !mask, (end + mask) & !mask))
    }

    /// Changes the OS protection of whole pages `[start, end)` and records it. On failure
    /// nothing has changed (see [`roll_back`](Self::roll_back)).
    #[inline(always)]
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
            self.roll_back(start, os_end, protection);
            return Err(e);
        }
        self.prots.set(start, end, protection);
        self.set_all_writable();
        Ok(())
    }

    /// After a failed change of `[start, end)` to `new`: Linux can change part of a range
    /// before failing (ENOMEM at the mapping limit, one mapping at a time), so each run of
    /// pages is set back to its recorded protection, and nothing has changed. Where setting
    /// it back fails too, the run is set to `new` and recorded so; where both fail, the run
    /// is recorded with only the rights both share, so no helper relies on a right a page
    /// may lack.
    #[cold]
    #[inline(never)]
    fn roll_back(&mut self, start: usize, end: usize, new: Protection) {
        let mut at = start;
        while at < end {
            let (_, run_end, old) = self.prots.run(at);
            let seg_end = run_end.min(end);
            if old != new && self.region.protect_pages(at, seg_end - at, old).is_err() {
                let now = match self.region.protect_pages(at, seg_end - at, new) {
                    Ok(()) => new,
                    Err(_) => old & new,
                };
                // Changes `[at, seg_end)` only: the runs from `seg_end` on stay as they were.
                self.prots.set(at, seg_end, now);
            }
            at = seg_end;
        }
        self.set_all_writable();
    }

    /// Changes the protection of the pages that `range` touches (`mprotect(2)` /
    /// `VirtualProtect`). `range` is a [`Block`] or byte offsets from [`base`](Self::base);
    /// its start is rounded down and its end rounded up to whole pages, so every page
    /// holding a byte of the range changes. An empty range changes nothing.
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
    /// [`Error::ForeignBlock`] for a block of another arena, [`Error::Os`] when the OS
    /// refuses. Nothing has changed then: where the OS changed part of the range before
    /// refusing (Linux can, at its limit on mappings), that part is set back. Only if setting
    /// it back fails too does the arena record what the OS now has (the new protection, or
    /// where even that is unknown, only the rights the old and new protections share, so the
    /// helpers never write or read a page on rights it may lack).
    #[inline]
    pub fn protect(&mut self, range: impl ByteRange, protection: Protection) -> Result<(), Error> {
        if protection.is_executable() && self.is_dual_mapped() {
            return Err(Error::InvalidOptions {
                reason: "with dual mapping only the executable view runs code; the writable view is never made executable",
            });
        }
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
    #[inline]
    pub fn protection_at(&self, offset: usize) -> Option<Protection> {
        (offset < self.size()).then(|| self.prots.at(offset))
    }

    /// The protection of the pages `range` (a [`Block`] or byte offsets) touches: `Some`
    /// when they all have the same, `None` when they differ. An empty range asks about the
    /// page holding its start. Two lookups in the protection map, no allocation.
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
    /// [`Error::OutOfRange`] when the range reaches past the region, or is empty at its end;
    /// [`Error::ForeignBlock`] for a block of another arena.
    pub fn protection_of(&self, range: impl ByteRange) -> Result<Option<Protection>, Error> {
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
        Ok(self.prots.uniform_in(start, end))
    }

    /// Publishes code: makes the pages `range` (a [`Block`] or byte offsets) touches
    /// read+execute (`mprotect(2)` / `VirtualProtect`), then makes the instruction cache
    /// coherent with what was written there. Pages are rounded as in
    /// [`protect`](Self::protect).
    ///
    /// This is the W^X step: write code while the pages are read+write, publish, run it;
    /// to patch, [`make_writable`](Self::make_writable), write ([`patch`](Self::patch)),
    /// publish again. Pages are never writable and executable at once unless you ask for
    /// [`Protection::READ_WRITE_EXECUTE`] by name.
    ///
    /// **Sealing.** When the page holding the bump pointer is among those published, the
    /// pointer moves on to the next page boundary: the rest of that page is never handed
    /// out, and the next block starts on a fresh page, which is still writable unless it
    /// was published too. So code can be appended after publishing, and every function
    /// published earlier stays executable and is never made writable again by an append.
    ///
    /// Takes `&mut self`, so no `&mut [u8]` into the code outlives the switch: keep a
    /// [`Block`] (or the offset), not the slice.
    ///
    /// **Dual mapping** ([`Builder::dual_mapping`](crate::Builder::dual_mapping)): no
    /// protection changes and no sealing. The executable view is read+execute wherever
    /// committed and the writable view stays writable, so `publish` only makes the
    /// instruction stream coherent over the bytes of `range` in the executable view (no
    /// system call on x86_64), then syncs the other threads as below.
    ///
    /// ```
    /// use vmallocator::{Mallocator, Protection, page_size};
    /// let mut m = Mallocator::with_size(2 * page_size(), Protection::READ_WRITE)?;
    /// let first = m.block_of(m.alloc_bytes(&[0xc3])?)?; // ret, on x86_64
    /// m.publish(first)?;
    /// assert_eq!(m.protection_of(first)?, Some(Protection::READ_EXECUTE));
    /// assert_eq!(m.used(), page_size()); // sealed: the next block starts on a fresh page
    /// let second = m.block_of(m.alloc_bytes(&[0xc3])?)?;
    /// m.publish(second)?;
    /// assert_eq!(m.protection(), Some(Protection::READ_EXECUTE));
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for a range outside the region, [`Error::ForeignBlock`] for a
    /// block of another arena, [`Error::Os`] when the OS refuses, [`Error::Unsupported`] on
    /// architectures other than x86, x86_64 and aarch64, where this crate does not know how
    /// to make the instruction cache coherent. Nothing has changed then (see
    /// [`protect`](Self::protect) for the one exception).
    ///
    /// # Platform behaviour
    /// x86 and x86_64 need no cache maintenance (Windows still gets `FlushInstructionCache`);
    /// aarch64 Linux cleans and invalidates the caches line by line (`dc cvau`, `ic ivau`),
    /// macOS calls `sys_icache_invalidate`. Then the other threads' instruction streams are
    /// made coherent: `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE)` on Linux
    /// aarch64 (registered once; skipped where the kernel refuses the registration),
    /// `FlushProcessWriteBuffers` on Windows, nothing on x86 elsewhere (instruction fetch
    /// snoops stores). On macOS on Apple silicon this also switches the
    /// calling thread's `MAP_JIT` memory to executable (`pthread_jit_write_protect_np(1)`):
    /// that path is type-checked, not run-tested.
    // Inlined: a call would cost more than the bookkeeping (register saves, the `Result`
    // returned through memory).
    #[inline(always)]
    pub fn publish(&mut self, range: impl ByteRange) -> Result<(), Error> {
        if !icache::SUPPORTED {
            return Err(Error::Unsupported);
        }
        if self.is_dual_mapped() {
            return self.publish_dual(range);
        }
        let (start, end) = self.page_range(range)?;
        if start == end {
            return Ok(());
        }
        // Only Windows' FlushInstructionCache can fail after the protection change.
        // (A copy of a uniform map allocates nothing.)
        #[cfg(windows)]
        let before = self.prots.clone();
        self.set_pages(start, end, Protection::READ_EXECUTE)?;
        let code = self.base().map_addr(|b| b.saturating_add(start));
        #[cfg_attr(not(windows), allow(clippy::question_mark))]
        if let Err(e) = icache::flush(code, self.flush_len(start, end)) {
            #[cfg(windows)]
            before.find_segment(start, end, |s, e, p| {
                // Best effort: restore what was there; the flush error is what counts.
                let _ = self.set_pages(s, e, p);
                None::<()>
            });
            return Err(e);
        }
        #[cfg(all(target_os = "macos", target_arch = "aarch64"))]
        crate::sys::jit_write_protect(true);
        self.seal(start, end);
        icache::sync_other_threads();
        Ok(())
    }

    /// After pages `[start, end)` were published: when the bump pointer lies inside one of
    /// them, moves it to the next page boundary (see [`publish`](Self::publish)).
    #[inline]
    fn seal(&mut self, start: usize, end: usize) {
        let used = self.used();
        let mask = page_size() - 1;
        if used & mask != 0 && start <= used && used < end {
            // `used` lies below the committed end, a page boundary, so rounding it up stays
            // inside the committed part.
            self.raise_to(self.base().as_ptr() as usize + ((used + mask) & !mask));
        }
    }

    /// The bytes from `start` that [`publish`](Self::publish) makes coherent: only the
    /// committed part of `[start, end)`. Pages not committed yet hold no code, and on aarch64
    /// `dc cvau` on a reserved (`PROT_NONE`) page faults; over a large reservation it would
    /// also walk every cache line of it.
    #[inline]
    fn flush_len(&self, start: usize, end: usize) -> usize {
        end.min(self.committed()).saturating_sub(start)
    }

    /// Makes the pages `range` (a [`Block`] or byte offsets) touches read+write again, to
    /// patch published code ([`patch`](Self::patch)); publish again before running it.
    /// Pages are rounded as in [`protect`](Self::protect). The bump pointer does not move
    /// back: a page sealed by [`publish`](Self::publish) stays sealed.
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
    /// [`Error::OutOfRange`] for a range outside the region, [`Error::ForeignBlock`] for a
    /// block of another arena, [`Error::Os`] when the OS refuses (see
    /// [`protect`](Self::protect) for a partial change).
    ///
    /// # Platform behaviour
    /// On macOS on Apple silicon this also switches the calling thread's `MAP_JIT` memory to
    /// writable (`pthread_jit_write_protect_np(0)`); type-checked, not run-tested.
    // Inlined: a call would cost more than the bookkeeping (register saves, the `Result`
    // returned through memory).
    #[inline(always)]
    pub fn make_writable(&mut self, range: impl ByteRange) -> Result<(), Error> {
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
}
