//! Dual mapping on Windows: one pagefile-backed section created with `SEC_RESERVE`
//! (`CreateFileMappingW` with `PAGE_EXECUTE_READWRITE | SEC_RESERVE`: address space only,
//! nothing committed), mapped twice (`MapViewOfFileEx`): read+execute at the address the
//! caller reserved and released, read+write anywhere. Pages are committed in each view with
//! `VirtualAlloc(MEM_COMMIT)`, like any reservation. A view cannot be decommitted
//! (`VirtualFree` refuses views), so [`discard`] zeroes the pages instead.

use core::ptr::{self, NonNull};

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::System::Memory::{
    CreateFileMappingW, FILE_MAP_EXECUTE, FILE_MAP_READ, FILE_MAP_WRITE,
    MEMORY_MAPPED_VIEW_ADDRESS, MapViewOfFileEx, PAGE_EXECUTE_READWRITE, SEC_RESERVE,
    UnmapViewOfFile,
};

use super::{SysResult, last_error};
use crate::Protection;

/// The section behind both views; the views keep it alive on their own, so the handle is
/// only closed (on drop).
pub(crate) struct SharedMemory(HANDLE);

// SAFETY: a section handle may be used and closed from any thread.
unsafe impl Send for SharedMemory {}
// SAFETY: `&SharedMemory` exposes nothing.
unsafe impl Sync for SharedMemory {}

impl Drop for SharedMemory {
    fn drop(&mut self) {
        // SAFETY: the handle is ours, from CreateFileMappingW, closed once here.
        unsafe { CloseHandle(self.0) };
    }
}

/// Creates a section of `len` bytes, reserved only (`SEC_RESERVE`), which views may map
/// read+write or read+execute.
pub(crate) fn create_section(len: usize) -> SysResult<SharedMemory> {
    let len = len as u64;
    // SAFETY: no file (INVALID_HANDLE_VALUE: the paging file backs it), no security
    // attributes, no name; the call only creates a kernel object.
    let h = unsafe {
        CreateFileMappingW(
            INVALID_HANDLE_VALUE,
            ptr::null(),
            PAGE_EXECUTE_READWRITE | SEC_RESERVE,
            (len >> 32) as u32,
            len as u32,
            ptr::null(),
        )
    };
    if h.is_null() {
        return Err(last_error("CreateFileMappingW"));
    }
    Ok(SharedMemory(h))
}

/// Maps all `len` bytes of `section` (`MapViewOfFileEx`), executable (read+execute) or not
/// (read+write), at `at` if given (the call fails when that range is not free: it never
/// replaces anything), else anywhere. Nothing of it is committed.
pub(crate) fn map_view(
    section: &SharedMemory,
    len: usize,
    executable: bool,
    at: Option<NonNull<u8>>,
) -> SysResult<NonNull<u8>> {
    let access = if executable {
        FILE_MAP_READ | FILE_MAP_EXECUTE
    } else {
        FILE_MAP_WRITE
    };
    let at = at.map_or(ptr::null(), |p| p.as_ptr().cast_const().cast());
    // SAFETY: the section is ours and `len` bytes long; with an address the system maps
    // there only if the range is free, so nothing existing is touched.
    let view = unsafe { MapViewOfFileEx(section.0, access, 0, 0, len, at) };
    NonNull::new(view.Value.cast::<u8>()).ok_or_else(|| last_error("MapViewOfFileEx"))
}

/// Unmaps the view at `addr` (`UnmapViewOfFile`).
///
/// # Safety
/// `addr` must be the base of a view from [`map_view`], not used afterwards.
pub(crate) unsafe fn unmap_view(addr: NonNull<u8>, _len: usize) -> SysResult<()> {
    let view = MEMORY_MAPPED_VIEW_ADDRESS {
        Value: addr.as_ptr().cast(),
    };
    // SAFETY: per the contract, a whole view of ours that nothing uses any more.
    if unsafe { UnmapViewOfFile(view) } == 0 {
        return Err(last_error("UnmapViewOfFile"));
    }
    Ok(())
}

/// Makes `[write, write + len)` of the writable view read zeroes: read+write first
/// (`VirtualProtect`), then zero-filled. The memory stays committed.
///
/// # Safety
/// The range must be committed pages of the writable view of a dual mapping of ours that
/// nothing references.
pub(crate) unsafe fn discard(
    _memory: &SharedMemory,
    write: NonNull<u8>,
    _offset: usize,
    len: usize,
) -> SysResult<()> {
    // SAFETY: committed pages of our own view, unreferenced (the contract).
    unsafe { super::protect(write, len, Protection::READ_WRITE) }?;
    // SAFETY: just made writable; `len` bytes of our own view, unreferenced.
    unsafe { ptr::write_bytes(write.as_ptr(), 0, len) };
    Ok(())
}
