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

/// One mapping, released on drop. Its length is a non-zero multiple of the page size.
pub(crate) struct Region {
    base: NonNull<u8>,
    len: usize,
    protection: Protection,
}

// SAFETY: a Region is the sole owner of its mapping; the raw pointer is only an address
// of memory that any thread may use, like the pointer inside a `Vec<u8>`.
unsafe impl Send for Region {}
// SAFETY: `&Region` exposes only the address, length and protection, never the memory.
unsafe impl Sync for Region {}

impl Region {
    /// Maps `size` bytes, rounded up to whole pages, with `protection`.
    pub(crate) fn map(size: usize, protection: Protection) -> Result<Self, Error> {
        if size == 0 {
            return Err(Error::ZeroSize);
        }
        // Past isize::MAX no Rust object (or slice) can span the region.
        let len = round_to_pages(size)
            .filter(|&l| l <= isize::MAX as usize)
            .ok_or(Error::SizeOverflow { requested: size })?;
        // SAFETY: `len` is a non-zero multiple of the page size.
        let base = unsafe { sys::map(len, protection) }.map_err(os_error)?;
        debug_assert_eq!(base.as_ptr() as usize % page_size(), 0);
        Ok(Region {
            base,
            len,
            protection,
        })
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

    /// Changes the protection of the whole region (`mprotect` / `VirtualProtect`).
    pub(crate) fn protect(&mut self, protection: Protection) -> Result<(), Error> {
        // SAFETY: the range is the whole mapping, which this region owns; `&mut self`
        // means no reference into it handed out through the owner is alive.
        unsafe { sys::protect(self.base, self.len, protection) }.map_err(os_error)?;
        self.protection = protection;
        Ok(())
    }

    /// Releases the mapping and reports the OS's answer.
    pub(crate) fn release(self) -> Result<(), Error> {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is the whole mapping, and ManuallyDrop keeps Drop from releasing
        // it a second time.
        unsafe { sys::unmap(this.base, this.len) }.map_err(os_error)
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the region owns the whole mapping, and after drop nothing can use it.
        let result = unsafe { sys::unmap(self.base, self.len) };
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
