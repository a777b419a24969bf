//! Backend for targets without virtual memory: everything reports `Unsupported`.

use core::ptr::NonNull;

use super::{Place, SysResult};
use crate::Protection;

/// Code that `crate::region` turns into [`crate::Error::Unsupported`].
pub(crate) const UNSUPPORTED: i32 = -1;

/// Never reported: nothing maps here.
pub(crate) const ADDRESS_IN_USE: i32 = -2;

pub(crate) fn page_size() -> usize {
    4096
}

pub(crate) fn allocation_granularity() -> usize {
    page_size()
}

/// # Safety
/// None needed: always fails.
pub(crate) unsafe fn map(_: Place, _len: usize, _protection: Protection) -> SysResult<NonNull<u8>> {
    Err(("map", UNSUPPORTED))
}

/// # Safety
/// None needed: always fails.
pub(crate) unsafe fn protect(_: NonNull<u8>, _: usize, _: Protection) -> SysResult<()> {
    Err(("protect", UNSUPPORTED))
}

/// # Safety
/// None needed: always fails.
pub(crate) unsafe fn unmap(_: NonNull<u8>, _: usize) -> SysResult<()> {
    Err(("unmap", UNSUPPORTED))
}

/// # Safety
/// None needed: always fails.
pub(crate) unsafe fn reserve(_: Place, _len: usize) -> SysResult<NonNull<u8>> {
    Err(("reserve", UNSUPPORTED))
}

/// # Safety
/// None needed: always fails.
pub(crate) unsafe fn commit(_: NonNull<u8>, _: usize, _: Protection) -> SysResult<()> {
    Err(("commit", UNSUPPORTED))
}

/// # Safety
/// None needed: always fails.
pub(crate) unsafe fn decommit(_: NonNull<u8>, _: usize) -> SysResult<()> {
    Err(("decommit", UNSUPPORTED))
}
