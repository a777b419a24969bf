//! Unix backend: `mmap`, `mprotect` and `munmap` through `rustix`.

use core::ffi::c_void;
use core::ptr::{self, NonNull};

use rustix::mm::{self, MapFlags, MprotectFlags, ProtFlags};

use super::{Place, SysResult};
use crate::Protection;

/// The page size, from `sysconf(_SC_PAGESIZE)`.
pub(crate) fn page_size() -> usize {
    rustix::param::page_size()
}

/// The granularity of mapping addresses: the page size on Unix.
pub(crate) fn allocation_granularity() -> usize {
    page_size()
}

#[inline]
pub(crate) fn prot_flags(protection: Protection) -> ProtFlags {
    // Where the OS numbers its flags as `Protection` does (Linux, macOS and the BSDs all
    // have read 1, write 2, execute 4), the conversion is the bits themselves.
    const SAME_BITS: bool = ProtFlags::READ.bits() == Protection::READ.bits() as _
        && ProtFlags::WRITE.bits() | ProtFlags::READ.bits() == Protection::READ_WRITE.bits() as _
        && ProtFlags::EXEC.bits() == Protection::EXECUTE.bits() as _;
    if SAME_BITS {
        return ProtFlags::from_bits_retain(protection.bits() as _);
    }
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

#[inline]
fn mprotect_flags(protection: Protection) -> MprotectFlags {
    MprotectFlags::from_bits_retain(prot_flags(protection).bits())
}

/// Maps `len` bytes of private, zero-filled, anonymous memory (`mmap(2)`), at `place`.
///
/// [`Place::Exact`] becomes `MAP_FIXED_NOREPLACE` on Linux (kernels before 4.17 ignore the
/// flag and take the address as a hint) and a plain hint elsewhere: never `MAP_FIXED`, so no
/// existing mapping is ever replaced. The caller checks where the mapping landed.
///
/// On macOS on Apple silicon a read+write+execute mapping gets `MAP_JIT`, without which the
/// kernel refuses it.
///
/// # Safety
/// `len` must be a non-zero multiple of the page size, and an exact address page-aligned.
pub(crate) unsafe fn map(
    place: Place,
    len: usize,
    protection: Protection,
) -> SysResult<NonNull<u8>> {
    #[cfg_attr(
        not(any(target_os = "linux", all(target_os = "macos", target_arch = "aarch64"))),
        allow(unused_mut)
    )]
    let mut flags = private_flags();
    let hint = match place {
        Place::Anywhere => 0,
        Place::Exact(addr) => {
            #[cfg(target_os = "linux")]
            {
                flags |= MapFlags::FIXED_NOREPLACE;
            }
            addr
        }
    };
    #[cfg(all(target_os = "macos", target_arch = "aarch64"))]
    if protection == Protection::READ_WRITE_EXECUTE {
        flags |= MapFlags::from_bits_retain(libc::MAP_JIT as _);
    }
    // SAFETY: without MAP_FIXED the address is only a hint (or, with MAP_FIXED_NOREPLACE, a
    // demand that fails with EEXIST when the range is in use); `len` is non-zero per this
    // function's contract.
    unsafe { map_new(hint, len, prot_flags(protection), flags) }
}

/// One anonymous `mmap(2)` of `len` bytes at `hint` (0: anywhere), as a non-null pointer.
///
/// # Safety
/// `len` must be non-zero, and `flags` must not hold `MAP_FIXED`, so that no existing
/// mapping is replaced.
unsafe fn map_new(
    hint: usize,
    len: usize,
    prot: ProtFlags,
    flags: MapFlags,
) -> SysResult<NonNull<u8>> {
    debug_assert!(!flags.contains(MapFlags::FIXED));
    // SAFETY: without MAP_FIXED the kernel replaces nothing; `len` is non-zero (contract).
    let p = unsafe { mm::mmap_anonymous(ptr::without_provenance_mut(hint), len, prot, flags) }
        .map_err(|e| ("mmap", e.raw_os_error()))?;
    NonNull::new(p.cast::<u8>()).ok_or(("mmap", 0))
}

/// The error code [`map`] reports when an exact address is in use (`EEXIST`).
pub(crate) const ADDRESS_IN_USE: i32 = rustix::io::Errno::EXIST.raw_os_error();

/// Switches the calling thread's view of `MAP_JIT` memory between writable (`false`) and
/// executable (`true`): `pthread_jit_write_protect_np(3)`. Not run-tested: this crate is only
/// type-checked for macOS.
#[cfg(all(target_os = "macos", target_arch = "aarch64"))]
pub(crate) fn jit_write_protect(executable: bool) {
    // SAFETY: the call only changes a per-thread permission register; it has no memory
    // safety preconditions of its own.
    unsafe { libc::pthread_jit_write_protect_np(i32::from(executable)) }
}

/// Flags for a fresh private mapping: `MAP_PRIVATE`, and `MAP_NORESERVE` where the OS has
/// it.
///
/// `MAP_NORESERVE` keeps a new region from merging with a writable anonymous neighbour
/// (say, the C library's data) into one kernel mapping: their flags then differ. Merged, the
/// region shares the neighbour's reverse-map chain, and every later `mprotect` that splits
/// or joins the region's pages (publishing code page by page) costs the kernel about a
/// third more (`bench/benches/publish.rs`). It changes no accounting under strict
/// overcommit (`vm.overcommit_memory = 2` ignores the flag); under the default heuristic it
/// skips the one-off size check at map time, as reservations already do.
fn private_flags() -> MapFlags {
    #[cfg(not(target_os = "freebsd"))]
    return MapFlags::PRIVATE | MapFlags::NORESERVE;
    #[cfg(target_os = "freebsd")]
    return MapFlags::PRIVATE;
}

/// Flags for address space that is reserved but not committed: no access, and (where the
/// OS has the flag) no swap space set aside for it.
fn reserve_flags() -> MapFlags {
    private_flags()
}

/// Reserves `len` bytes of address space with no access (`mmap(2)` with `PROT_NONE` and
/// `MAP_NORESERVE`): nothing is committed until [`commit`].
///
/// # Safety
/// `len` must be a non-zero multiple of the page size.
///
/// [`Place::Exact`] is handled as in [`map`]: never `MAP_FIXED`; the caller checks where
/// the reservation landed.
pub(crate) unsafe fn reserve(place: Place, len: usize) -> SysResult<NonNull<u8>> {
    #[cfg_attr(not(target_os = "linux"), allow(unused_mut))]
    let mut flags = reserve_flags();
    let hint = match place {
        Place::Anywhere => 0,
        Place::Exact(addr) => {
            #[cfg(target_os = "linux")]
            {
                flags |= MapFlags::FIXED_NOREPLACE;
            }
            addr
        }
    };
    // SAFETY: `len` is non-zero per this function's contract; no MAP_FIXED.
    unsafe { map_new(hint, len, ProtFlags::empty(), flags) }
}

/// Makes reserved pages usable with `protection` (`mprotect(2)`); the kernel backs them
/// with zeroed memory on first touch.
///
/// # Safety
/// As for [`protect`].
pub(crate) unsafe fn commit(
    addr: NonNull<u8>,
    len: usize,
    protection: Protection,
) -> SysResult<()> {
    // SAFETY: forwarded from this function's contract.
    unsafe { protect(addr, len, protection) }
}

/// Returns the pages of `[addr, addr + len)` to the OS and leaves the range reserved with
/// no access, by mapping fresh `PROT_NONE` pages over it (`mmap(2)` with `MAP_FIXED`).
/// Committing the range again gives zeroed pages.
///
/// # Safety
/// The range must be page-aligned, inside a mapping this crate owns, and not borrowed.
pub(crate) unsafe fn decommit(addr: NonNull<u8>, len: usize) -> SysResult<()> {
    // SAFETY: MAP_FIXED replaces only `[addr, addr + len)`, which the caller guarantees is
    // part of our own mapping and unused.
    unsafe {
        mm::mmap_anonymous(
            addr.as_ptr().cast::<c_void>(),
            len,
            ProtFlags::empty(),
            reserve_flags() | MapFlags::FIXED,
        )
    }
    .map(drop)
    .map_err(|e| ("mmap", e.raw_os_error()))
}

/// Asks for transparent huge pages over the range (`madvise(2)` with `MADV_HUGEPAGE`).
///
/// # Safety
/// The range must be page-aligned and inside a mapping this crate owns.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) unsafe fn advise_huge_pages(addr: NonNull<u8>, len: usize) -> SysResult<()> {
    // SAFETY: advice changes no contents or access rights of our own range.
    unsafe {
        mm::madvise(
            addr.as_ptr().cast::<c_void>(),
            len,
            mm::Advice::LinuxHugepage,
        )
    }
    .map_err(|e| ("madvise", e.raw_os_error()))
}

/// Maps `len` bytes backed by pre-reserved huge pages of 2 MiB (`mmap(2)` with
/// `MAP_HUGETLB | MAP_HUGE_2MB`); fails unless the system has such pages configured.
///
/// # Safety
/// `len` must be a non-zero multiple of 2 MiB.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) unsafe fn map_huge(len: usize, protection: Protection) -> SysResult<NonNull<u8>> {
    let flags = MapFlags::PRIVATE | MapFlags::HUGETLB | MapFlags::HUGE_2MB;
    // SAFETY: `len` is non-zero per this function's contract; no MAP_FIXED.
    unsafe { map_new(0, len, prot_flags(protection), flags) }
}

/// Changes the protection of `[addr, addr + len)` (`mprotect(2)`).
///
/// # Safety
/// The range must be page-aligned and lie inside a mapping this crate owns, and no Rust
/// reference into it may be used in a way the new protection forbids.
#[inline]
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
/// The range must be page-aligned, inside a mapping returned by [`map`] or [`reserve`],
/// and not used afterwards.
pub(crate) unsafe fn unmap(addr: NonNull<u8>, len: usize) -> SysResult<()> {
    // SAFETY: the caller guarantees the range is a whole mapping of ours, no longer used.
    unsafe { mm::munmap(addr.as_ptr().cast::<c_void>(), len) }
        .map_err(|e| ("munmap", e.raw_os_error()))
}

/// Makes the instruction cache coherent over `[addr, addr + len)` on macOS:
/// `sys_icache_invalidate(3)` from libSystem (the `libc` crate does not declare it).
/// Not run-tested: this crate is only type-checked for macOS.
#[cfg(all(target_os = "macos", target_arch = "aarch64"))]
pub(crate) fn flush_icache(addr: NonNull<u8>, len: usize) {
    unsafe extern "C" {
        fn sys_icache_invalidate(start: *mut c_void, len: usize);
    }
    // SAFETY: the function only runs cache maintenance instructions over the range, which
    // the caller has mapped; it writes no memory.
    unsafe { sys_icache_invalidate(addr.as_ptr().cast::<c_void>(), len) }
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
