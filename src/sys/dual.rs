//! Dual mapping on Linux and Android: one anonymous shared-memory file (`memfd_create(2)`),
//! mapped twice over reservations the caller owns (`mmap(2)` with `MAP_SHARED | MAP_FIXED`),
//! so the same pages have two addresses. Both views start with no access; committing is
//! `mprotect(2)` of each view, and decommitting punches a hole in the file
//! (`fallocate(2)` with `FALLOC_FL_PUNCH_HOLE`), which frees the pages in both views.

use core::ffi::c_void;
use core::ptr::NonNull;

use rustix::fd::OwnedFd;
use rustix::fs::{self, FallocateFlags, MemfdFlags};
use rustix::mm::{self, MapFlags, ProtFlags};

use super::SysResult;

/// Whether [`map_dual`] works on this platform.
pub(crate) const DUAL_MAPPING: bool = true;

/// The file behind both views of a dual mapping. The views keep the pages alive on their
/// own; the descriptor is kept to give pages back ([`discard`]). Closed on drop.
pub(crate) struct SharedMemory(OwnedFd);

/// Creates `len` bytes of zero-filled shared memory (`memfd_create(2)`, then `ftruncate(2)`,
/// which allocates nothing: pages are allocated when first touched) and maps all of it at
/// `first` and at `second`, shared, with no access.
///
/// # Safety
/// `len` must be a non-zero multiple of the page size; `[first, first + len)` and
/// `[second, second + len)` must each lie inside a reservation this crate owns that nothing
/// references: `MAP_FIXED` replaces what is mapped there.
pub(crate) unsafe fn map_dual(
    first: NonNull<u8>,
    second: NonNull<u8>,
    len: usize,
) -> SysResult<SharedMemory> {
    let fd = fs::memfd_create("vmallocator-code", MemfdFlags::CLOEXEC)
        .map_err(|e| ("memfd_create", e.raw_os_error()))?;
    fs::ftruncate(&fd, len as u64).map_err(|e| ("ftruncate", e.raw_os_error()))?;
    for view in [first, second] {
        // SAFETY: the range is inside the caller's own reservation, unused (this function's
        // contract), so MAP_FIXED replaces nothing anyone relies on; the file is `len` bytes.
        unsafe {
            mm::mmap(
                view.as_ptr().cast::<c_void>(),
                len,
                ProtFlags::empty(),
                MapFlags::SHARED | MapFlags::FIXED,
                &fd,
                0,
            )
        }
        .map_err(|e| ("mmap", e.raw_os_error()))?;
    }
    Ok(SharedMemory(fd))
}

/// Unmaps a view (`munmap(2)`, as for any mapping).
///
/// # Safety
/// As for [`super::unmap`].
pub(crate) unsafe fn unmap_view(addr: NonNull<u8>, len: usize) -> SysResult<()> {
    // SAFETY: forwarded from the caller.
    unsafe { super::unmap(addr, len) }
}

/// Frees the pages of `[offset, offset + len)` of the file (`fallocate(2)` with
/// `FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE`): both views read zeroes there afterwards.
/// One call, which changes everything or nothing; the pages keep their access rights.
///
/// # Safety
/// None beyond the signature shared with other systems (`write`, the writable view's copy
/// of the range, is not needed here).
pub(crate) unsafe fn discard(
    memory: &SharedMemory,
    _write: NonNull<u8>,
    offset: usize,
    len: usize,
) -> SysResult<()> {
    fs::fallocate(
        &memory.0,
        FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
        offset as u64,
        len as u64,
    )
    .map_err(|e| ("fallocate", e.raw_os_error()))
}
