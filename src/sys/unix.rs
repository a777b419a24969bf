//! Unix backend: `mmap`, `mprotect` and `munmap` through `rustix`.

use core::ffi::c_void;
use core::ptr::{self, NonNull};

use rustix::mm::{self, MapFlags, MprotectFlags, ProtFlags};

use super::SysResult;
use crate::Protection;

/// The page size, from `sysconf(_SC_PAGESIZE)`.
pub(crate) fn page_size() -> usize {
    rustix::param::page_size()
}

/// The granularity of mapping addresses: the page size on Unix.
pub(crate) fn allocation_granularity() -> usize {
    page_size()
}

pub(crate) fn prot_flags(protection: Protection) -> ProtFlags {
    let mut flags = ProtFlags::empty();
    if protection.is_readable() {
        flags |= ProtFlags::READ;
    }
    if protection.is_writable() {
        flags |= ProtFlags::WRITE;
    }
    if protection.is_executable() {
        flags |= ProtFlags::EXEC;
    }
    flags
}

fn mprotect_flags(protection: Protection) -> MprotectFlags {
    MprotectFlags::from_bits_retain(prot_flags(protection).bits())
}

/// Maps `len` bytes of private, zero-filled, anonymous memory (`mmap(2)`).
///
/// # Safety
/// `len` must be a non-zero multiple of the page size.
pub(crate) unsafe fn map(len: usize, protection: Protection) -> SysResult<NonNull<u8>> {
    // SAFETY: a null hint without MAP_FIXED lets the kernel choose an address, so no
    // existing mapping can be replaced; `len` is non-zero per this function's contract.
    let p = unsafe {
        mm::mmap_anonymous(
            ptr::null_mut(),
            len,
            prot_flags(protection),
            MapFlags::PRIVATE,
        )
    }
    .map_err(|e| ("mmap", e.raw_os_error()))?;
    NonNull::new(p.cast::<u8>()).ok_or(("mmap", 0))
}

/// Changes the protection of `[addr, addr + len)` (`mprotect(2)`).
///
/// # Safety
/// The range must be page-aligned and lie inside a mapping this crate owns, and no Rust
/// reference into it may be used in a way the new protection forbids.
pub(crate) unsafe fn protect(
    addr: NonNull<u8>,
    len: usize,
    protection: Protection,
) -> SysResult<()> {
    // SAFETY: the caller guarantees the range is ours, page-aligned, and not borrowed.
    unsafe {
        mm::mprotect(
            addr.as_ptr().cast::<c_void>(),
            len,
            mprotect_flags(protection),
        )
    }
    .map_err(|e| ("mprotect", e.raw_os_error()))
}

/// Unmaps `[addr, addr + len)` (`munmap(2)`).
///
/// # Safety
/// The range must be exactly a mapping returned by [`map`], not used afterwards.
pub(crate) unsafe fn unmap(addr: NonNull<u8>, len: usize) -> SysResult<()> {
    // SAFETY: the caller guarantees the range is a whole mapping of ours, no longer used.
    unsafe { mm::munmap(addr.as_ptr().cast::<c_void>(), len) }
        .map_err(|e| ("munmap", e.raw_os_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the mapping of each `Protection` to the C constants of this platform.
    #[test]
    fn protection_maps_onto_prot_constants() {
        let bits = |p| prot_flags(p).bits();
        let (r, w, x) = (
            ProtFlags::READ.bits(),
            ProtFlags::WRITE.bits(),
            ProtFlags::EXEC.bits(),
        );
        // The POSIX values, the same on Linux, macOS and the BSDs.
        assert_eq!((r, w, x), (1, 2, 4));
        assert_eq!(bits(Protection::NONE), 0);
        assert_eq!(bits(Protection::READ), r);
        assert_eq!(bits(Protection::READ_WRITE), r | w);
        assert_eq!(bits(Protection::EXECUTE), x);
        assert_eq!(bits(Protection::READ_EXECUTE), r | x);
        assert_eq!(bits(Protection::READ_WRITE_EXECUTE), r | w | x);
        assert_eq!(mprotect_flags(Protection::READ_EXECUTE).bits(), r | x);
    }
}
