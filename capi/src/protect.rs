//! Protection: the `VMA_PROT_*` values, and the calls that change or ask the protection
//! of pages.

use core::ops::Range;

use vmallocator::{Error, Mallocator, Protection};

use crate::arena::{arena, arena_mut, mover_mut, out_param, vma_mallocator};
use crate::status::{Failure, call, vma_status};

/// No access: any touch faults (`PROT_NONE` / `PAGE_NOACCESS`).
pub const VMA_PROT_NONE: u32 = 0;
/// Read only (`PAGE_READONLY`).
pub const VMA_PROT_READ: u32 = 1;
/// Read and write (`PAGE_READWRITE`): the default. Write never comes without read.
pub const VMA_PROT_READ_WRITE: u32 = 3;
/// Execute only (`PAGE_EXECUTE`).
pub const VMA_PROT_EXECUTE: u32 = 4;
/// Read and execute (`PAGE_EXECUTE_READ`): published code.
pub const VMA_PROT_READ_EXECUTE: u32 = 5;
/// Read, write and execute (`PAGE_EXECUTE_READWRITE`); prefer writing as read+write, then
/// `vma_publish`.
pub const VMA_PROT_READ_WRITE_EXECUTE: u32 = 7;
/// What `vma_protection_of` stores when the pages of the range differ.
pub const VMA_PROT_MIXED: u32 = 0x100;

/// A `VMA_PROT_*` value as a `Protection`.
pub(crate) fn protection_from_c(p: u32) -> Result<Protection, Failure> {
    Ok(match p {
        VMA_PROT_NONE => Protection::NONE,
        VMA_PROT_READ => Protection::READ,
        VMA_PROT_READ_WRITE => Protection::READ_WRITE,
        VMA_PROT_EXECUTE => Protection::EXECUTE,
        VMA_PROT_READ_EXECUTE => Protection::READ_EXECUTE,
        VMA_PROT_READ_WRITE_EXECUTE => Protection::READ_WRITE_EXECUTE,
        _ => {
            return Err(Failure::InvalidArgument(format!(
                "protection {p:#x} is not a VMA_PROT_* value (write needs read)"
            )));
        }
    })
}

/// A `Protection` as its `VMA_PROT_*` value.
pub(crate) fn protection_to_c(p: Protection) -> u32 {
    let bit = |has: bool, v: u32| if has { v } else { 0 };
    bit(p.is_readable(), 1) | bit(p.is_writable(), 2) | bit(p.is_executable(), 4)
}

/// `offset..offset + len`, or `Error::OutOfRange` when it overflows.
fn range(m: &Mallocator, offset: usize, len: usize) -> Result<Range<usize>, Failure> {
    match offset.checked_add(len) {
        Some(end) => Ok(offset..end),
        None => Err(Error::OutOfRange {
            offset,
            len,
            size: m.size(),
        }
        .into()),
    }
}

/// Changes the protection of the whole region to `protection` (a `VMA_PROT_*` value).
///
/// Pointers into the region stay valid addresses, but using them must respect the new
/// protection; the write helpers return `VMA_ERR_NOT_WRITABLE` instead of faulting.
///
/// # Errors
/// `VMA_ERR_INVALID_ARGUMENT`, `VMA_ERR_OS` (protection unchanged), `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// `m` is NULL or a live handle used by no other thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_set_protection(m: *mut vma_mallocator, protection: u32) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let arena = unsafe { arena_mut(m) }?;
        arena.set_protection(protection_from_c(protection)?)?;
        Ok(())
    })
}

/// Sets the protection of the pages the byte range `[offset, offset + len)` (from the base)
/// touches: start rounded down, end rounded up to pages. An empty range changes nothing.
///
/// # Errors
/// `VMA_ERR_OUT_OF_RANGE` (nothing changed), `VMA_ERR_INVALID_ARGUMENT`, `VMA_ERR_OS`,
/// `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// As for `vma_set_protection`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_protect(
    m: *mut vma_mallocator,
    offset: usize,
    len: usize,
    protection: u32,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let arena = unsafe { arena_mut(m) }?;
        let protection = protection_from_c(protection)?;
        let r = range(arena, offset, len)?;
        arena.protect(r, protection)?;
        Ok(())
    })
}

/// Publishes code in `[offset, offset + len)`: its pages become read+execute and the
/// instruction cache is made coherent. Then call the code through a function pointer
/// (`vma_function` checks one). **Sealing:** when the bump pointer lies inside a page
/// published, it moves to the next page boundary, so the next block starts on a fresh page.
///
/// # Errors
/// `VMA_ERR_OUT_OF_RANGE`, `VMA_ERR_TOP_BLOCK_OPEN` (sealing would move the pointer under
/// the open block), `VMA_ERR_OS`, `VMA_ERR_UNSUPPORTED`, `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// As for `vma_set_protection`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_publish(
    m: *mut vma_mallocator,
    offset: usize,
    len: usize,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let arena = unsafe { mover_mut(m, "vma_publish") }?;
        let r = range(arena, offset, len)?;
        arena.publish(r)?;
        Ok(())
    })
}

/// Makes the pages of `[offset, offset + len)` read+write again, to patch published code
/// (then publish it again).
///
/// # Errors
/// `VMA_ERR_OUT_OF_RANGE`, `VMA_ERR_OS`, `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// As for `vma_set_protection`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_make_writable(
    m: *mut vma_mallocator,
    offset: usize,
    len: usize,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let arena = unsafe { arena_mut(m) }?;
        let r = range(arena, offset, len)?;
        arena.make_writable(r)?;
        Ok(())
    })
}

/// `*out` = the protection (`VMA_PROT_*`) of the page holding the byte at `offset`.
///
/// # Errors
/// `VMA_ERR_OUT_OF_RANGE` when `offset` is not inside the region, `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// `m` as for `vma_set_protection`; `out` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_protection_at(
    m: *const vma_mallocator,
    offset: usize,
    out: *mut u32,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, out) = unsafe { (arena(m)?, out_param(out, "out")?) };
        let p = arena.protection_at(offset).ok_or(Error::OutOfRange {
            offset,
            len: 1,
            size: arena.size(),
        })?;
        *out = protection_to_c(p);
        Ok(())
    })
}

/// `*out` = the protection (`VMA_PROT_*`) of the pages `[offset, offset + len)` touches, or
/// `VMA_PROT_MIXED` when they differ. An empty range asks about the page holding `offset`.
///
/// # Errors
/// `VMA_ERR_OUT_OF_RANGE`, `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// As for `vma_protection_at`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_protection_of(
    m: *const vma_mallocator,
    offset: usize,
    len: usize,
    out: *mut u32,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, out) = unsafe { (arena(m)?, out_param(out, "out")?) };
        let r = range(arena, offset, len)?;
        *out = arena
            .protection_of(r)?
            .map_or(VMA_PROT_MIXED, protection_to_c);
        Ok(())
    })
}
