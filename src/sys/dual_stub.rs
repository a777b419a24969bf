//! Dual mapping where this crate does not build it (every system but Linux, Android and
//! Windows):
//! [`DUAL_MAPPING`] is false and the builder reports [`crate::Error::Unsupported`] before
//! anything here is called.

use core::ptr::NonNull;

use super::SysResult;

/// Whether [`map_dual`] works on this platform.
pub(crate) const DUAL_MAPPING: bool = false;

/// Never made: [`map_dual`] always fails here.
#[allow(dead_code)] // never constructed, by design
pub(crate) struct SharedMemory(());

/// Always fails: dual mapping is not built for this platform.
///
/// # Safety
/// None needed; the signature matches the platforms that have it.
pub(crate) unsafe fn map_dual(
    _first: NonNull<u8>,
    _second: NonNull<u8>,
    _len: usize,
) -> SysResult<SharedMemory> {
    Err(("map_dual", 0))
}

/// Never called: no [`SharedMemory`] exists here.
///
/// # Safety
/// None: it does nothing.
pub(crate) unsafe fn discard(
    _memory: &SharedMemory,
    _write: NonNull<u8>,
    _offset: usize,
    _len: usize,
) -> SysResult<()> {
    Err(("discard", 0))
}

/// Unmaps a view: as for any mapping.
///
/// # Safety
/// As for [`super::unmap`].
pub(crate) unsafe fn unmap_view(addr: NonNull<u8>, len: usize) -> SysResult<()> {
    // SAFETY: forwarded from the caller.
    unsafe { super::unmap(addr, len) }
}
