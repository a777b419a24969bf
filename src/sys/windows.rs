//! Windows backend: `VirtualAlloc`, `VirtualProtect` and `VirtualFree` through `windows-sys`.

use core::ptr::{self, NonNull};

use windows_sys::Win32::Foundation::{ERROR_INVALID_ADDRESS, GetLastError};
use windows_sys::Win32::System::Diagnostics::Debug::FlushInstructionCache;
use windows_sys::Win32::System::Memory::{
    GetLargePageMinimum, MEM_COMMIT, MEM_DECOMMIT, MEM_FREE, MEM_LARGE_PAGES, MEM_RELEASE,
    MEM_RESERVE, MEMORY_BASIC_INFORMATION, PAGE_EXECUTE, PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE,
    PAGE_NOACCESS, PAGE_PROTECTION_FLAGS, PAGE_READONLY, PAGE_READWRITE, VirtualAlloc, VirtualFree,
    VirtualProtect, VirtualQuery,
};
use windows_sys::Win32::System::SystemInformation::{GetSystemInfo, SYSTEM_INFO};
use windows_sys::Win32::System::Threading::{FlushProcessWriteBuffers, GetCurrentProcess};

use super::{Place, SysResult};
use crate::Protection;

fn system_info() -> SYSTEM_INFO {
    // SAFETY: SYSTEM_INFO is plain data for which all-zero bytes are valid, and
    // GetSystemInfo fills the struct it is given; it cannot fail.
    unsafe {
        let mut info: SYSTEM_INFO = core::mem::zeroed();
        GetSystemInfo(&mut info);
        info
    }
}

/// The page size, from `GetSystemInfo`.
// x86_64 knows its page size without asking (see `crate::page_size`); the tests ask.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
pub(crate) fn page_size() -> usize {
    system_info().dwPageSize as usize
}

/// The granularity of `VirtualAlloc` addresses (64 KiB on every Windows version so far).
pub(crate) fn allocation_granularity() -> usize {
    system_info().dwAllocationGranularity as usize
}

pub(crate) fn page_flags(protection: Protection) -> PAGE_PROTECTION_FLAGS {
    match (
        protection.is_readable(),
        protection.is_writable(),
        protection.is_executable(),
    ) {
        (false, false, false) => PAGE_NOACCESS,
        (true, false, false) => PAGE_READONLY,
        (_, true, false) => PAGE_READWRITE,
        (false, false, true) => PAGE_EXECUTE,
        (true, false, true) => PAGE_EXECUTE_READ,
        (_, true, true) => PAGE_EXECUTE_READWRITE,
    }
}

pub(super) fn last_error(call: &'static str) -> (&'static str, i32) {
    // SAFETY: GetLastError only reads the calling thread's last-error value.
    (call, unsafe { GetLastError() } as i32)
}

/// Reserves and commits `len` bytes of zero-filled memory (`VirtualAlloc`) at `place`.
///
/// With an address, `VirtualAlloc` fails (`ERROR_INVALID_ADDRESS`) when any of the range is
/// in use, so no existing region is ever touched.
///
/// # Safety
/// `len` must be a non-zero multiple of the page size, and an exact address a multiple of
/// the allocation granularity.
pub(crate) unsafe fn map(
    place: Place,
    len: usize,
    protection: Protection,
) -> SysResult<NonNull<u8>> {
    let addr = match place {
        Place::Anywhere => ptr::null(),
        Place::Exact(addr) => ptr::without_provenance(addr),
    };
    // SAFETY: VirtualAlloc never replaces an existing region: with a null address the system
    // chooses the place, with an address it fails if the range is not free.
    let p = unsafe { VirtualAlloc(addr, len, MEM_RESERVE | MEM_COMMIT, page_flags(protection)) };
    NonNull::new(p.cast::<u8>()).ok_or_else(|| last_error("VirtualAlloc"))
}

/// The error code [`map`] reports when an exact address is in use (`ERROR_INVALID_ADDRESS`).
pub(crate) const ADDRESS_IN_USE: i32 = ERROR_INVALID_ADDRESS as i32;

/// The block of address space that holds `addr` (`VirtualQuery`): its start, its length,
/// and whether it is free (`MEM_FREE`). `None` past the highest user address.
pub(crate) fn query(addr: usize) -> Option<(usize, usize, bool)> {
    // SAFETY: MEMORY_BASIC_INFORMATION is plain data for which all-zero bytes are valid.
    let mut info: MEMORY_BASIC_INFORMATION = unsafe { core::mem::zeroed() };
    // SAFETY: VirtualQuery only reads the process's address-space bookkeeping and writes
    // `info`, whose size it is given; any address may be asked about.
    let n = unsafe {
        VirtualQuery(
            ptr::without_provenance(addr),
            &mut info,
            size_of::<MEMORY_BASIC_INFORMATION>(),
        )
    };
    (n != 0).then(|| {
        (
            info.BaseAddress as usize,
            info.RegionSize,
            info.State == MEM_FREE,
        )
    })
}

/// Makes the instruction cache coherent with data written to `[addr, addr + len)`
/// (`FlushInstructionCache`).
pub(crate) fn flush_icache(addr: NonNull<u8>, len: usize) -> SysResult<()> {
    // SAFETY: FlushInstructionCache reads no memory: it only orders caches for the range of
    // the current process's address space.
    let ok = unsafe { FlushInstructionCache(GetCurrentProcess(), addr.as_ptr().cast(), len) };
    if ok == 0 {
        Err(last_error("FlushInstructionCache"))
    } else {
        Ok(())
    }
}

/// Makes every thread of the process that runs on another processor serialise
/// (`FlushProcessWriteBuffers`: an interrupt to each processor running one of them), so none
/// of them goes on with instructions fetched before code was published.
pub(crate) fn sync_other_threads() {
    // SAFETY: FlushProcessWriteBuffers takes no arguments and touches no memory of ours.
    unsafe { FlushProcessWriteBuffers() }
}

/// Reserves `len` bytes of address space (`VirtualAlloc` with `MEM_RESERVE`): nothing is
/// committed until [`commit`].
///
/// # Safety
/// `len` must be a non-zero multiple of the page size.
///
/// With an exact address, `VirtualAlloc` fails when any of the range is in use.
pub(crate) unsafe fn reserve(place: Place, len: usize) -> SysResult<NonNull<u8>> {
    let addr = match place {
        Place::Anywhere => ptr::null(),
        Place::Exact(addr) => ptr::without_provenance(addr),
    };
    // SAFETY: VirtualAlloc never replaces an existing region: a null address lets the system
    // choose, an address fails if the range is not free.
    let p = unsafe { VirtualAlloc(addr, len, MEM_RESERVE, PAGE_NOACCESS) };
    NonNull::new(p.cast::<u8>()).ok_or_else(|| last_error("VirtualAlloc"))
}

/// Commits reserved pages with `protection` (`VirtualAlloc` with `MEM_COMMIT`); they read
/// as zero until written.
///
/// # Safety
/// The range must be page-aligned, inside a region this crate owns, and not borrowed.
pub(crate) unsafe fn commit(
    addr: NonNull<u8>,
    len: usize,
    protection: Protection,
) -> SysResult<()> {
    // SAFETY: the caller guarantees the range is inside our own reservation.
    let p = unsafe {
        VirtualAlloc(
            addr.as_ptr().cast(),
            len,
            MEM_COMMIT,
            page_flags(protection),
        )
    };
    if p.is_null() {
        Err(last_error("VirtualAlloc"))
    } else {
        Ok(())
    }
}

/// Decommits `[addr, addr + len)` (`VirtualFree` with `MEM_DECOMMIT`): the pages go back
/// to the system and the range stays reserved.
///
/// # Safety
/// The range must be page-aligned, inside a region this crate owns, and not borrowed.
pub(crate) unsafe fn decommit(addr: NonNull<u8>, len: usize) -> SysResult<()> {
    // SAFETY: the caller guarantees the range is inside our own region and unused.
    let ok = unsafe { VirtualFree(addr.as_ptr().cast(), len, MEM_DECOMMIT) };
    if ok == 0 {
        Err(last_error("VirtualFree"))
    } else {
        Ok(())
    }
}

/// The large-page size, or 0 when the processor has none (`GetLargePageMinimum`).
pub(crate) fn large_page_size() -> usize {
    // SAFETY: GetLargePageMinimum takes no arguments and only reads system information.
    unsafe { GetLargePageMinimum() }
}

/// Reserves and commits `len` bytes of large pages (`VirtualAlloc` with
/// `MEM_LARGE_PAGES`); needs the "Lock pages in memory" privilege.
///
/// # Safety
/// `len` must be a non-zero multiple of [`large_page_size`].
pub(crate) unsafe fn map_huge(len: usize, protection: Protection) -> SysResult<NonNull<u8>> {
    let kind = MEM_RESERVE | MEM_COMMIT | MEM_LARGE_PAGES;
    // SAFETY: a null address lets the system choose; nothing existing is touched.
    let p = unsafe { VirtualAlloc(ptr::null(), len, kind, page_flags(protection)) };
    NonNull::new(p.cast::<u8>()).ok_or_else(|| last_error("VirtualAlloc"))
}

/// Changes the protection of `[addr, addr + len)` (`VirtualProtect`).
///
/// # Safety
/// The range must be page-aligned and lie inside a region this crate owns, and no Rust
/// reference into it may be used in a way the new protection forbids.
pub(crate) unsafe fn protect(
    addr: NonNull<u8>,
    len: usize,
    protection: Protection,
) -> SysResult<()> {
    let mut old = 0;
    // SAFETY: the caller guarantees the range is ours, page-aligned, and not borrowed;
    // `old` is a valid place for the previous protection.
    let ok = unsafe { VirtualProtect(addr.as_ptr().cast(), len, page_flags(protection), &mut old) };
    if ok == 0 {
        Err(last_error("VirtualProtect"))
    } else {
        Ok(())
    }
}

/// Releases the whole region at `addr` (`VirtualFree` with `MEM_RELEASE`).
///
/// # Safety
/// `addr` must be the base of a region returned by [`map`], not used afterwards.
pub(crate) unsafe fn unmap(addr: NonNull<u8>, _len: usize) -> SysResult<()> {
    // SAFETY: the caller guarantees `addr` is the base of a whole region of ours; MEM_RELEASE
    // requires a size of 0.
    let ok = unsafe { VirtualFree(addr.as_ptr().cast(), 0, MEM_RELEASE) };
    if ok == 0 {
        Err(last_error("VirtualFree"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the mapping of each `Protection` to the `PAGE_*` constants, by value.
    #[test]
    fn protection_maps_onto_page_constants() {
        assert_eq!(page_flags(Protection::NONE), 0x01);
        assert_eq!(page_flags(Protection::READ), 0x02);
        assert_eq!(page_flags(Protection::READ_WRITE), 0x04);
        assert_eq!(page_flags(Protection::EXECUTE), 0x10);
        assert_eq!(page_flags(Protection::READ_EXECUTE), 0x20);
        assert_eq!(page_flags(Protection::READ_WRITE_EXECUTE), 0x40);
        assert_eq!(page_flags(Protection::READ_EXECUTE), PAGE_EXECUTE_READ);
    }

    #[test]
    fn granularity_is_64k() {
        assert_eq!(allocation_granularity(), 64 * 1024);
    }
}
