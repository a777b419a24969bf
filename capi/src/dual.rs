//! Dual mapping from C: the builder option, the executable view's addresses, and patches
//! written with one aligned atomic store (Rust's `Builder::dual_mapping`, `exec_base`,
//! `exec_addr`, `patch_u32`, `patch_u64`).

use core::ffi::c_void;
use core::ptr::NonNull;

use crate::arena::{arena, arena_mut, out_param, vma_mallocator};
use crate::builder::{set, vma_builder};
use crate::status::{Failure, call, vma_status};

/// Map the region twice (`dual` true): the same pages read+write at `vma_base` and
/// read+execute at `vma_exec_base`. Code is written through the first and runs from the
/// second: no address is ever writable and executable, `vma_publish*` changes no protection
/// (it only makes the instruction stream coherent) and does not seal pages, and published
/// code stays callable while it is patched. Base, pointer, offsets and block addresses are
/// the writable view's; `vma_function` and `vma_exec_addr` give executable addresses;
/// `vma_builder_near` and `vma_builder_at` place the executable view.
///
/// `vma_builder_build` then reports `VMA_ERR_INVALID_OPTIONS` for an executable protection
/// or huge pages, and `VMA_ERR_UNSUPPORTED` outside Linux, Android and Windows (and on
/// Windows with guard pages).
///
/// # Safety
/// As for `vma_builder_size`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_builder_dual_mapping(b: *mut vma_builder, dual: bool) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { set(b, |b| Ok(b.dual_mapping(dual))) }
}

/// `*out` = whether the arena is dual-mapped (`vma_builder_dual_mapping`).
///
/// # Safety
/// `m` is NULL or a live handle used by no other thread during the call; `out` NULL or valid
/// for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_is_dual_mapped(
    m: *const vma_mallocator,
    out: *mut bool,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, out) = unsafe { (arena(m)?, out_param(out, "out")?) };
        *out = arena.is_dual_mapped();
        Ok(())
    })
}

/// `*out` = the first address of the executable view: `vma_base` unless dual-mapped. Never
/// write through it.
///
/// # Safety
/// As for `vma_is_dual_mapped`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_exec_base(
    m: *const vma_mallocator,
    out: *mut *const c_void,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, out) = unsafe { (arena(m)?, out_param(out, "out")?) };
        *out = arena.exec_base().as_ptr().cast_const().cast();
        Ok(())
    })
}

/// `*out` = the executable address of the byte at `addr`, an address in `[base, ptr]` of
/// this arena (where code written at `addr` runs): `addr` itself unless dual-mapped.
///
/// # Errors
/// `VMA_ERR_NOT_IN_ARENA` when `addr` is not in `[base, ptr]`, `VMA_ERR_NULL_POINTER`.
/// `*out` is untouched then.
///
/// # Safety
/// As for `vma_is_dual_mapped`; `addr` is only compared, never read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_exec_addr(
    m: *const vma_mallocator,
    addr: *const c_void,
    out: *mut *const c_void,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, out) = unsafe { (arena(m)?, out_param(out, "out")?) };
        let p = NonNull::new(addr.cast_mut().cast::<u8>()).ok_or(Failure::Null("addr"))?;
        let exec = arena.exec_addr(arena.block_at(p, 0)?)?;
        *out = arena
            .exec_base()
            .as_ptr()
            .cast_const()
            .with_addr(exec)
            .cast();
        Ok(())
    })
}

/// Writes `value` at `offset` from `vma_base` (a multiple of 4, inside `[base, ptr)`) with
/// one aligned atomic store, then makes the instruction cache coherent there: a thread
/// running the code meanwhile sees the old value or the new one, never a mix. Patch a value
/// the code loads as data (an aarch64 literal), or an aligned x86 immediate; see Rust's
/// `patch_u32` for what may be rewritten while it runs.
///
/// # Errors
/// `VMA_ERR_INVALID_ADDRESS` (not a multiple of 4), `VMA_ERR_NOT_IN_ARENA` (not below the
/// pointer), `VMA_ERR_NOT_WRITABLE` (the page is not writable: without dual mapping,
/// published code needs `vma_make_writable*` first), `VMA_ERR_NULL_POINTER`. Nothing has
/// been written then.
///
/// # Safety
/// `m` is NULL or a live handle used by no other thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_patch_u32(
    m: *mut vma_mallocator,
    offset: usize,
    value: u32,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        unsafe { arena_mut(m) }?.patch_u32(offset, value)?;
        Ok(())
    })
}

/// `vma_patch_u32` for 8 bytes at a multiple of 8.
///
/// # Errors
/// As for `vma_patch_u32`.
///
/// # Safety
/// As for `vma_patch_u32`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_patch_u64(
    m: *mut vma_mallocator,
    offset: usize,
    value: u64,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        unsafe { arena_mut(m) }?.patch_u64(offset, value)?;
        Ok(())
    })
}
