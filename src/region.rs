//! An owned region of virtual memory: the portable layer above [`crate::sys`].
//!
//! Everything the OS layer leaves out lives here once: rounding to pages, overflow checks,
//! turning OS error codes into [`Error`], and releasing the mapping exactly once.

use core::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{Error, Protection, sys};

/// The size of a virtual-memory page, in bytes (4 KiB on most systems, 16 KiB on Apple
/// silicon). Asked of the OS once, then cached.
///
/// ```
/// let page = vmallocator::page_size();
/// assert!(page.is_power_of_two() && page >= 4096);
/// ```
pub fn page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    cached(&PAGE, sys::page_size)
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

fn cached(cell: &AtomicUsize, ask: fn() -> usize) -> usize {
    match cell.load(Ordering::Relaxed) {
        0 => {
            let v = ask();
            debug_assert!(v.is_power_of_two());
            cell.store(v, Ordering::Relaxed);
            v
        }
        v => v,
    }
}

/// Rounds `size` up to whole pages; `None` on overflow.
pub(crate) fn round_to_pages(size: usize) -> Option<usize> {
    let mask = page_size() - 1;
    Some(size.checked_add(mask)? & !mask)
}

pub(crate) fn os_error((call, code): (&'static str, i32)) -> Error {
    #[cfg(not(any(unix, windows)))]
    if code == sys::UNSUPPORTED {
        return Error::Unsupported;
    }
    Error::Os { call, code }
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
        if self.size == 0 {
            return Err(Error::ZeroSize);
        }
        let overflow = Error::SizeOverflow {
            requested: self.size,
        };
        let page = page_size();
        // Past isize::MAX no Rust object (or slice) can span the region.
        let len = round_to_pages(self.size).ok_or(overflow.clone())?;
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
/// inaccessible guard pages on either side if asked for.
pub(crate) struct Region {
    /// The whole mapping, guard pages included.
    mapping: NonNull<u8>,
    mapping_len: usize,
    /// The usable part.
    base: NonNull<u8>,
    len: usize,
    /// The protection last set for the whole usable part.
    protection: Protection,
}

// SAFETY: a Region is the sole owner of its mapping; the raw pointer is only an address
// of memory that any thread may use, like the pointer inside a `Vec<u8>`.
unsafe impl Send for Region {}
// SAFETY: `&Region` exposes only the address, length and protection, never the memory.
unsafe impl Sync for Region {}

impl Region {
    /// Maps `size` bytes, rounded up to whole pages, with `protection`, anywhere.
    #[cfg(test)]
    pub(crate) fn map(size: usize, protection: Protection) -> Result<Self, Error> {
        Self::map_request(
            &Request {
                size,
                protection,
                guard_before: 0,
                guard_after: 0,
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
        // SAFETY: `total` is a non-zero multiple of the page size, and an exact address a
        // multiple of the allocation granularity (checked just above).
        let mapping =
            unsafe { sys::map(place, total, request.protection) }.map_err(|e| match at {
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
            if guard_len != 0 {
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

    /// Changes the protection of the whole usable part (`mprotect` / `VirtualProtect`).
    pub(crate) fn protect(&mut self, protection: Protection) -> Result<(), Error> {
        self.protect_pages(0, self.len, protection)?;
        self.protection = protection;
        Ok(())
    }

    /// Changes the protection of `[offset, offset + len)` of the usable part. Both must be
    /// multiples of the page size and the range inside the usable part, else nothing happens
    /// and the call reports [`Error::OutOfRange`].
    pub(crate) fn protect_pages(
        &mut self,
        offset: usize,
        len: usize,
        protection: Protection,
    ) -> Result<(), Error> {
        let page = page_size();
        let inside = offset.checked_add(len).is_some_and(|end| end <= self.len);
        if !inside || !offset.is_multiple_of(page) || !len.is_multiple_of(page) {
            return Err(Error::OutOfRange {
                offset,
                len,
                size: self.len,
            });
        }
        if len == 0 {
            return Ok(());
        }
        // SAFETY: `offset < self.len`, so the address stays inside the usable part.
        let start = unsafe { self.base.add(offset) };
        // SAFETY: the range is page-aligned and inside the usable part (checked above), which
        // this region owns; `&mut self` means no reference into it handed out through the
        // owner is alive.
        unsafe { sys::protect(start, len, protection) }.map_err(os_error)
    }

    /// Releases the mapping and reports the OS's answer.
    pub(crate) fn release(self) -> Result<(), Error> {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is the whole mapping, and ManuallyDrop keeps Drop from releasing
        // it a second time.
        unsafe { sys::unmap(this.mapping, this.mapping_len) }.map_err(os_error)
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the region owns the whole mapping, and after drop nothing can use it.
        let result = unsafe { sys::unmap(self.mapping, self.mapping_len) };
        debug_assert!(result.is_ok(), "releasing a region failed: {result:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_to_pages() {
        let p = page_size();
        assert_eq!(round_to_pages(0), Some(0));
        assert_eq!(round_to_pages(1), Some(p));
        assert_eq!(round_to_pages(p), Some(p));
        assert_eq!(round_to_pages(p + 1), Some(2 * p));
        assert_eq!(round_to_pages(usize::MAX), None);
        assert_eq!(round_to_pages(usize::MAX - p + 2), None);
        assert_eq!(round_to_pages(usize::MAX - p + 1), Some(usize::MAX - p + 1));
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
    fn map_rounds_and_releases() {
        let r = Region::map(1, Protection::READ).unwrap();
        assert_eq!(r.len(), page_size());
        assert_eq!(r.protection(), Protection::READ);
        assert_eq!(r.base().as_ptr() as usize % page_size(), 0);
        r.release().unwrap();
    }

    #[test]
    fn page_size_and_granularity_are_stable() {
        assert_eq!(page_size(), page_size());
        assert_eq!(granularity(), granularity());
        assert!(granularity() >= page_size());
        #[cfg(windows)]
        assert_eq!(granularity(), 64 * 1024);
        #[cfg(not(windows))]
        assert_eq!(granularity(), page_size());
    }
}
