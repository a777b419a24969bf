//! An owned region of virtual memory: the portable layer above [`crate::sys`].
//!
//! Everything the OS layer leaves out lives here once: rounding to pages, overflow checks,
//! turning OS error codes into [`Error`], and releasing the mapping exactly once.

use core::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{Error, Protection, sys};

mod dual;

/// The size of a virtual-memory page, in bytes (4 KiB on most systems, 16 KiB on Apple
/// silicon). Asked of the OS once, then cached; a constant on x86_64, whose base pages are
/// 4 KiB under every OS.
///
/// ```
/// let page = vmallocator::page_size();
/// assert!(page.is_power_of_two() && page >= 4096);
/// ```
#[inline]
pub fn page_size() -> usize {
    #[cfg(target_arch = "x86_64")]
    return 4096;
    #[cfg(not(target_arch = "x86_64"))]
    {
        static PAGE: AtomicUsize = AtomicUsize::new(0);
        cached(&PAGE, sys::page_size)
    }
}

/// The granularity at which the OS places regions: 64 KiB on Windows (its "allocation
/// granularity"), the page size elsewhere. [`Mallocator::new`](crate::Mallocator::new)
/// reserves exactly this much. Asked of the OS once, then cached.
///
/// ```
/// let g = vmallocator::granularity();
/// assert!(g.is_power_of_two() && g % vmallocator::page_size() == 0);
/// ```
pub fn granularity() -> usize {
    static GRANULE: AtomicUsize = AtomicUsize::new(0);
    cached(&GRANULE, sys::allocation_granularity)
}

#[inline]
fn cached(cell: &AtomicUsize, ask: fn() -> usize) -> usize {
    match cell.load(Ordering::Relaxed) {
        0 => ask_and_cache(cell, ask),
        v => v,
    }
}

#[cold]
#[inline(never)]
fn ask_and_cache(cell: &AtomicUsize, ask: fn() -> usize) -> usize {
    let v = ask();
    debug_assert!(v.is_power_of_two());
    cell.store(v, Ordering::Relaxed);
    v
}

#[cold]
pub(crate) fn os_error((call, code): (&'static str, i32)) -> Error {
    #[cfg(not(any(unix, windows)))]
    if code == sys::UNSUPPORTED {
        return Error::Unsupported;
    }
    Error::Os { call, code }
}

/// Rounds `size` up to a multiple of `unit` (a power of two) and checks it is a size a
/// region can have.
fn region_len(size: usize, unit: usize) -> Result<usize, Error> {
    if size == 0 {
        return Err(Error::ZeroSize);
    }
    // Past isize::MAX no Rust object (or slice) can span the region.
    size.checked_add(unit - 1)
        .map(|s| s & !(unit - 1))
        .filter(|&l| l <= isize::MAX as usize)
        .ok_or(Error::SizeOverflow { requested: size })
}

/// The size of a transparent or explicit huge page on the systems that have them.
pub(crate) const HUGE_PAGE: usize = 2 << 20;

/// The size of the huge pages that [`Region::map_huge`] uses, if the system has any.
#[cfg(any(target_os = "linux", target_os = "android", windows))]
fn huge_page_size() -> Option<usize> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return Some(HUGE_PAGE);
    #[cfg(windows)]
    return Some(sys::large_page_size()).filter(|&n| n > 0);
}

/// What to map: the usable size, its protection, guard pages around it, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Request {
    /// Usable bytes, rounded up to whole pages.
    pub(crate) size: usize,
    pub(crate) protection: Protection,
    /// Inaccessible pages below and above the usable part.
    pub(crate) guard_before: usize,
    pub(crate) guard_after: usize,
    /// Only reserve the address space (no access, nothing committed): the owner commits
    /// the usable part as it needs it. The guard pages are then simply never committed.
    pub(crate) reserve_only: bool,
}

/// The usable length and the guard bytes of a request, each a whole number of pages, or the
/// error that makes the request impossible.
pub(crate) struct Sizes {
    pub(crate) len: usize,
    pub(crate) before: usize,
    pub(crate) total: usize,
}

impl Request {
    pub(crate) fn sizes(&self) -> Result<Sizes, Error> {
        let page = page_size();
        let len = region_len(self.size, page)?;
        let overflow = Error::GuardPagesOverflow {
            before: self.guard_before,
            after: self.guard_after,
        };
        let before = self
            .guard_before
            .checked_mul(page)
            .ok_or(overflow.clone())?;
        let after = self.guard_after.checked_mul(page).ok_or(overflow.clone())?;
        let total = len
            .checked_add(before)
            .and_then(|t| t.checked_add(after))
            .filter(|&t| t <= isize::MAX as usize)
            .ok_or(overflow)?;
        Ok(Sizes { len, before, total })
    }
}

/// One mapping, released on drop: a usable part of a non-zero number of pages, with
/// inaccessible guard pages on either side if asked for. Which of its pages are committed,
/// and with which protection, is for the owner to track.
pub(crate) struct Region {
    /// The whole mapping, guard pages included.
    mapping: NonNull<u8>,
    mapping_len: usize,
    /// The usable part.
    base: NonNull<u8>,
    len: usize,
    /// The protection last set for the whole usable part.
    protection: Protection,
    /// With dual mapping, the second, executable view of the same pages ([`dual`]).
    dual: Option<dual::ExecView>,
}

// SAFETY: a Region is the sole owner of its mapping; the raw pointer is only an address
// of memory that any thread may use, like the pointer inside a `Vec<u8>`.
unsafe impl Send for Region {}
// SAFETY: `&Region` exposes only the address, length and protection, never the memory.
unsafe impl Sync for Region {}

impl Region {
    /// Maps `size` bytes, rounded up to whole pages, all committed with `protection`.
    #[cfg(test)]
    pub(crate) fn map(size: usize, protection: Protection) -> Result<Self, Error> {
        Self::map_request(
            &Request {
                size,
                protection,
                guard_before: 0,
                guard_after: 0,
                reserve_only: false,
            },
            None,
        )
    }

    /// Maps `request`, with its usable part at exactly `at` if given. An address that is
    /// occupied gives [`Error::AddressInUse`]; nothing that was mapped there is touched.
    pub(crate) fn map_request(request: &Request, at: Option<usize>) -> Result<Self, Error> {
        let Sizes { len, before, total } = request.sizes()?;
        let place = match at {
            None => sys::Place::Anywhere,
            Some(addr) => {
                let invalid = Error::InvalidAddress {
                    addr,
                    align: granularity(),
                };
                let start = addr.checked_sub(before).ok_or(invalid.clone())?;
                if !start.is_multiple_of(granularity())
                    || start.checked_add(total).is_none()
                    || start == 0
                {
                    return Err(invalid);
                }
                sys::Place::Exact(start)
            }
        };
        let mapped = if request.reserve_only {
            // SAFETY: as below.
            unsafe { sys::reserve(place, total) }
        } else {
            // SAFETY: `total` is a non-zero multiple of the page size, and an exact address a
            // multiple of the allocation granularity (checked just above).
            unsafe { sys::map(place, total, request.protection) }
        };
        let mapping = mapped.map_err(|e| match at {
            Some(addr) if e.1 == sys::ADDRESS_IN_USE => Error::AddressInUse { addr },
            _ => os_error(e),
        })?;
        debug_assert_eq!(mapping.as_ptr() as usize % page_size(), 0);
        // From here on, dropping `region` unmaps everything.
        let mut region = Region {
            mapping,
            mapping_len: total,
            // SAFETY: `before` bytes past the start of a mapping of `total >= before + len`
            // bytes stay inside it.
            base: unsafe { mapping.add(before) },
            len,
            protection: request.protection,
            dual: None,
        };
        if let sys::Place::Exact(start) = place
            && mapping.as_ptr() as usize != start
        {
            // The OS took the address as a hint and put the mapping elsewhere.
            return Err(Error::AddressInUse {
                addr: start + before,
            });
        }
        for (guard, guard_len) in [
            (region.mapping, before),
            (region.end_ptr(), total - before - len),
        ] {
            // A reservation has no access anywhere yet: its guards are already in place.
            if guard_len != 0 && !request.reserve_only {
                // SAFETY: the guard lies inside the mapping, which nothing references yet.
                unsafe { sys::protect(guard, guard_len, Protection::NONE) }.map_err(os_error)?;
            }
        }
        region.protection = request.protection;
        Ok(region)
    }

    /// One past the usable part.
    fn end_ptr(&self) -> NonNull<u8> {
        // SAFETY: one past the usable part is at most the end of the mapping.
        unsafe { self.base.add(self.len) }
    }

    /// Reserves `size` bytes, rounded up to whole pages, committing none; committed pages
    /// will get `protection`. With `align` above the page size (Unix only), the base is
    /// aligned to it: more is reserved, then the unaligned ends are unmapped.
    pub(crate) fn reserve(
        size: usize,
        align: usize,
        protection: Protection,
    ) -> Result<Self, Error> {
        let len = region_len(size, page_size().max(align))?;
        let extra = align.saturating_sub(page_size());
        #[cfg(not(unix))]
        if extra > 0 {
            return Err(Error::Unsupported);
        }
        let whole = len
            .checked_add(extra)
            .filter(|&l| l <= isize::MAX as usize)
            .ok_or(Error::SizeOverflow { requested: size })?;
        // SAFETY: `whole` is a non-zero multiple of the page size.
        let start = unsafe { sys::reserve(sys::Place::Anywhere, whole) }.map_err(os_error)?;
        let addr = start.as_ptr() as usize;
        let head = addr.wrapping_neg() & (align.max(1) - 1);
        // SAFETY: `head <= extra`, so `start + head` stays inside the reservation.
        let base = unsafe { start.add(head) };
        let tail = extra - head;
        // From here on, dropping `region` unmaps what is left of the reservation, so an
        // error while trimming its ends leaks nothing.
        let mut region = Region {
            mapping: start,
            mapping_len: whole,
            base,
            len,
            protection,
            dual: None,
        };
        if head > 0 {
            // SAFETY: `[start, base)` is the unaligned head of our own fresh reservation.
            unsafe { sys::unmap(start, head) }.map_err(os_error)?;
            region.mapping = base;
            region.mapping_len -= head;
        }
        if tail > 0 {
            // SAFETY: `[base + len, base + len + tail)` is the tail of our reservation, fresh
            // and unused.
            unsafe { sys::unmap(region.end_ptr(), tail) }.map_err(os_error)?;
            region.mapping_len -= tail;
        }
        debug_assert_eq!((region.mapping, region.mapping_len), (base, len));
        Ok(region)
    }

    /// Maps `size` bytes, rounded up to 2 MiB (Linux) or the large-page size (Windows),
    /// backed by huge pages the system keeps aside, all committed with `protection`.
    #[cfg(any(target_os = "linux", target_os = "android", windows))]
    pub(crate) fn map_huge(size: usize, protection: Protection) -> Result<Self, Error> {
        let len = region_len(size, huge_page_size().ok_or(Error::Unsupported)?)?;
        // SAFETY: `len` is a non-zero multiple of the huge-page size.
        let base = unsafe { sys::map_huge(len, protection) }.map_err(os_error)?;
        Ok(Region {
            mapping: base,
            mapping_len: len,
            base,
            len,
            protection,
            dual: None,
        })
    }

    /// Systems without huge pages this crate can ask for.
    #[cfg(not(any(target_os = "linux", target_os = "android", windows)))]
    pub(crate) fn map_huge(_size: usize, _protection: Protection) -> Result<Self, Error> {
        Err(Error::Unsupported)
    }

    #[inline]
    pub(crate) fn base(&self) -> NonNull<u8> {
        self.base
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn protection(&self) -> Protection {
        self.protection
    }

    /// The pointer `offset` bytes into the region, for a page range of `len` bytes there.
    /// Only the calls that change pages use it, next to which the check costs nothing, so
    /// a range outside the region is a bug caught in every build.
    #[inline]
    fn at(&self, offset: usize, len: usize) -> NonNull<u8> {
        assert!(
            offset.checked_add(len).is_some_and(|e| e <= self.len),
            "page range {offset}+{len} outside a region of {} bytes",
            self.len
        );
        debug_assert!(offset.is_multiple_of(page_size()) && len.is_multiple_of(page_size()));
        // SAFETY: just checked: `offset` is within the region, so the pointer stays in it.
        unsafe { self.base.add(offset) }
    }

    /// Commits `[offset, offset + len)`, page-aligned and inside the region, with
    /// `protection` (the owner tracks which pages get which). Committing adds memory; no
    /// existing byte changes. An empty range changes nothing.
    ///
    /// # Safety
    /// Every page of the range must be reserved and not committed, or committed already
    /// with `protection`, or else covered by no live reference: on Unix committing is
    /// `mprotect`, which sets the protection of pages already in use too.
    pub(crate) unsafe fn commit(
        &self,
        offset: usize,
        len: usize,
        protection: Protection,
    ) -> Result<(), Error> {
        if len == 0 {
            return Ok(());
        }
        let start = self.at(offset, len);
        // SAFETY: the range is page-aligned and inside our mapping; per this function's
        // contract no reference into it is used in a way `protection` forbids.
        unsafe { sys::commit(start, len, protection) }.map_err(os_error)?;
        if let Some(exec) = &self.dual {
            exec.commit(start, self.base, len)?;
        }
        Ok(())
    }

    /// Returns the pages of `[offset, offset + len)`, page-aligned and inside the region,
    /// to the OS; they stay reserved and read as zero once committed again. An empty range
    /// changes nothing (`mmap` refuses a length of 0, and `VirtualFree` would take it as
    /// "the whole allocation").
    ///
    /// # Safety
    /// No reference into the range may be alive.
    pub(crate) unsafe fn decommit(&self, offset: usize, len: usize) -> Result<(), Error> {
        if len == 0 {
            return Ok(());
        }
        let start = self.at(offset, len);
        if let Some(exec) = &self.dual {
            // SAFETY: the caller guarantees the range is unused; it is committed (the
            // owner decommits only committed pages).
            return unsafe { exec.decommit(start, offset, len) };
        }
        // SAFETY: the range is page-aligned and ours; the caller guarantees it is unused.
        unsafe { sys::decommit(start, len) }.map_err(os_error)
    }

    /// Asks the OS for transparent huge pages over the whole region.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn advise_huge_pages(&self) -> Result<(), Error> {
        // SAFETY: the range is exactly our mapping; advice changes no contents.
        unsafe { sys::advise_huge_pages(self.base, self.len) }.map_err(os_error)
    }

    /// Records `protection` as the one last set for the whole usable part.
    pub(crate) fn set_protection_field(&mut self, protection: Protection) {
        self.protection = protection;
    }

    /// Changes the protection of `[offset, offset + len)` of the usable part, page-aligned
    /// and inside it (checked in every build, as for [`commit`](Self::commit)). `&mut self`
    /// means no reference into the range handed out through the owner is alive.
    #[inline]
    pub(crate) fn protect_pages(
        &mut self,
        offset: usize,
        len: usize,
        protection: Protection,
    ) -> Result<(), Error> {
        let start = self.at(offset, len);
        // SAFETY: the range is page-aligned and inside the usable part (checked by `at`),
        // which this region owns; `&mut self` means no reference into it handed out through
        // the owner is alive.
        unsafe { sys::protect(start, len, protection) }.map_err(os_error)
    }

    /// Releases the mapping and reports the OS's answer; when the OS refuses, the region
    /// comes back with the error, still mapped and owned.
    pub(crate) fn release(mut self) -> Result<(), (Error, Region)> {
        // The executable view first: should the OS refuse the writable one after it, the
        // region that comes back is an ordinary one, its writable view.
        let dual = self.dual.is_some();
        if let Some(exec) = self.dual.take()
            && let Err((e, exec)) = exec.release()
        {
            self.dual = Some(exec);
            return Err((e, self));
        }
        // SAFETY: `self` is the whole mapping and is consumed: on success it is forgotten
        // below, so Drop does not release it a second time and nothing can use it.
        match unsafe { self.unmap(dual) } {
            Ok(()) => {
                core::mem::forget(self);
                Ok(())
            }
            Err(e) => Err((os_error(e), self)),
        }
    }
}

impl Region {
    /// Unmaps the whole mapping: a view of a dual mapping (`dual`, which Windows unmaps with
    /// a call of its own) or a plain mapping.
    ///
    /// # Safety
    /// Nothing may use the mapping afterwards, and it must not be unmapped again.
    unsafe fn unmap(&self, dual: bool) -> sys::SysResult<()> {
        if dual {
            // SAFETY: forwarded from the caller.
            unsafe { sys::unmap_view(self.mapping, self.mapping_len) }
        } else {
            // SAFETY: forwarded from the caller.
            unsafe { sys::unmap(self.mapping, self.mapping_len) }
        }
    }
}

impl Drop for Region {
    /// Releases the mapping. Drop cannot report, and must not panic: should the OS refuse
    /// (at its limit on mappings, a release that splits a merged mapping), the mapping is
    /// leaked. Debug builds say so on standard error.
    fn drop(&mut self) {
        // Dropping the executable view unmaps it (`dual::ExecView`'s own drop).
        let dual = self.dual.take().is_some();
        // SAFETY: the region owns the whole mapping, and after drop nothing can use it.
        let result = unsafe { self.unmap(dual) };
        // Not `eprintln!`, which panics when standard error cannot be written.
        #[cfg(debug_assertions)]
        if let Err(e) = result {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "vmallocator: leaking {} bytes at {:p}: {}",
                self.mapping_len,
                self.mapping,
                os_error(e)
            );
        }
        #[cfg(not(debug_assertions))]
        let _ = result;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_lengths_round_up_and_check() {
        let p = page_size();
        assert_eq!(region_len(0, p), Err(Error::ZeroSize));
        assert_eq!(region_len(1, p), Ok(p));
        assert_eq!(region_len(p, p), Ok(p));
        assert_eq!(region_len(p + 1, p), Ok(2 * p));
        assert_eq!(region_len(3, HUGE_PAGE), Ok(HUGE_PAGE));
        for size in [usize::MAX, usize::MAX - p + 2, isize::MAX as usize] {
            assert_eq!(
                region_len(size, p),
                Err(Error::SizeOverflow { requested: size })
            );
        }
    }

    #[test]
    fn map_checks_size() {
        assert_eq!(
            Region::map(0, Protection::READ_WRITE).err(),
            Some(Error::ZeroSize)
        );
        assert_eq!(
            Region::map(usize::MAX, Protection::READ_WRITE).err(),
            Some(Error::SizeOverflow {
                requested: usize::MAX
            })
        );
        let huge = isize::MAX as usize;
        assert_eq!(
            Region::map(huge, Protection::READ_WRITE).err(),
            Some(Error::SizeOverflow { requested: huge })
        );
    }

    #[test]
    fn reserve_aligns_and_commits_in_parts() {
        let align = 64 * page_size();
        let r = Region::reserve(3 * page_size(), align, Protection::READ_WRITE);
        #[cfg(windows)]
        assert_eq!(r.err(), Some(Error::Unsupported));
        #[cfg(unix)]
        {
            let r = r.unwrap();
            assert_eq!(r.base().as_ptr() as usize % align, 0);
            assert_eq!(r.len(), align);
            // SAFETY: the pages are reserved, not committed.
            unsafe { r.commit(page_size(), page_size(), Protection::READ_WRITE) }.unwrap();
            let second = r.base().as_ptr().wrapping_add(page_size());
            // SAFETY: the committed page is read+write and nothing else uses it.
            unsafe { second.write(7) };
            // SAFETY: no reference into the page exists.
            unsafe { r.decommit(page_size(), page_size()) }.unwrap();
            // SAFETY: decommitted just above, so reserved again.
            unsafe { r.commit(page_size(), page_size(), Protection::READ_WRITE) }.unwrap();
            // SAFETY: committed again, read+write; decommitted pages come back zeroed.
            assert_eq!(unsafe { second.read() }, 0);
        }
        let r = Region::reserve(1, 0, Protection::READ_WRITE).unwrap();
        assert_eq!(r.len(), page_size());
        assert_eq!(
            Region::reserve(0, 0, Protection::READ).err(),
            Some(Error::ZeroSize)
        );
    }

    #[test]
    fn map_rounds_and_releases() {
        let r = Region::map(1, Protection::READ).unwrap();
        assert_eq!(r.len(), page_size());
        assert_eq!(r.protection(), Protection::READ);
        assert_eq!(r.base().as_ptr() as usize % page_size(), 0);
        assert!(r.release().is_ok());
    }

    #[test]
    fn page_size_and_granularity_are_stable() {
        assert_eq!(page_size(), page_size());
        assert_eq!(page_size(), sys::page_size());
        assert_eq!(granularity(), granularity());
        assert!(granularity() >= page_size());
        #[cfg(windows)]
        assert_eq!(granularity(), 64 * 1024);
        #[cfg(not(windows))]
        assert_eq!(granularity(), page_size());
    }
}
