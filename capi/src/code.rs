//! Code by address: the protection calls for a block named by its address (Rust's `Block`
//! handles), and the checked lookup of a function's address in published code.
//!
//! Rust's `patch` (a view of published-then-writable bytes) has no C function: C writes
//! through the block's pointer after `vma_make_writable_addr`, then publishes again.

use core::ffi::c_void;
use core::ptr::NonNull;

use vmallocator::{Block, Mallocator};

use crate::arena::{arena, arena_mut, mover_mut, out_param, vma_mallocator};
use crate::protect::{VMA_PROT_MIXED, protection_from_c, protection_to_c};
use crate::status::{Failure, call, vma_status};

/// The block of `len` bytes at `addr`, which must lie in the part of the arena handed out
/// so far (`VMA_ERR_NOT_IN_ARENA` otherwise, `VMA_ERR_NULL_POINTER` for NULL).
fn block(m: &Mallocator, addr: *const c_void, len: usize) -> Result<Block, Failure> {
    let p = NonNull::new(addr.cast_mut().cast::<u8>()).ok_or(Failure::Null("addr"))?;
    Ok(m.block_at(p, len)?)
}

/// `vma_protect` for the block of `len` bytes at `addr` (a block this arena handed out, or
/// part of one): its pages get `protection` (a `VMA_PROT_*` value).
///
/// # Errors
/// `VMA_ERR_NOT_IN_ARENA` (the bytes are not in `[base, ptr)` of this arena),
/// `VMA_ERR_INVALID_ARGUMENT`, `VMA_ERR_OS`, `VMA_ERR_NULL_POINTER`. Nothing changed then.
///
/// # Safety
/// `m` is NULL or a live handle used by no other thread during the call. `addr` is only
/// compared, never read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_protect_addr(
    m: *mut vma_mallocator,
    addr: *const c_void,
    len: usize,
    protection: u32,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let arena = unsafe { arena_mut(m) }?;
        let protection = protection_from_c(protection)?;
        let b = block(arena, addr, len)?;
        arena.protect(b, protection)?;
        Ok(())
    })
}

/// `vma_publish` for the block of `len` bytes at `addr`: its pages become read+execute and
/// the instruction cache is made coherent. **Sealing:** when the bump pointer lies inside
/// the last page published, it moves to the next page boundary, so the next block starts on
/// a fresh page and code published earlier is never made writable by an append.
///
/// # Errors
/// `VMA_ERR_NOT_IN_ARENA`, `VMA_ERR_TOP_BLOCK_OPEN` (sealing would move the pointer under
/// the open block), `VMA_ERR_OS`, `VMA_ERR_UNSUPPORTED`, `VMA_ERR_NULL_POINTER`. Nothing
/// changed then.
///
/// # Safety
/// As for `vma_protect_addr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_publish_addr(
    m: *mut vma_mallocator,
    addr: *const c_void,
    len: usize,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let arena = unsafe { mover_mut(m, "vma_publish_addr") }?;
        let b = block(arena, addr, len)?;
        arena.publish(b)?;
        Ok(())
    })
}

/// `vma_make_writable` for the block of `len` bytes at `addr`: its pages become read+write,
/// to patch published code through the block's pointer (Rust's `patch`; C needs no call of
/// its own for it); publish it again before running it. The pointer does not move back: a
/// page sealed by a publish stays sealed.
///
/// # Errors
/// `VMA_ERR_NOT_IN_ARENA`, `VMA_ERR_OS`, `VMA_ERR_NULL_POINTER`. Nothing changed then.
///
/// # Safety
/// As for `vma_protect_addr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_make_writable_addr(
    m: *mut vma_mallocator,
    addr: *const c_void,
    len: usize,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let arena = unsafe { arena_mut(m) }?;
        let b = block(arena, addr, len)?;
        arena.make_writable(b)?;
        Ok(())
    })
}

/// `*out` = the protection (`VMA_PROT_*`) of the pages the block of `len` bytes at `addr`
/// touches, or `VMA_PROT_MIXED` when they differ.
///
/// # Errors
/// `VMA_ERR_NOT_IN_ARENA`, `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// `m` as for `vma_protect_addr`; `out` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_protection_of_addr(
    m: *const vma_mallocator,
    addr: *const c_void,
    len: usize,
    out: *mut u32,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, out) = unsafe { (arena(m)?, out_param(out, "out")?) };
        let b = block(arena, addr, len)?;
        *out = arena
            .protection_of(b)?
            .map_or(VMA_PROT_MIXED, protection_to_c);
        Ok(())
    })
}

/// The checked way from published code to a function pointer: `*out` = the executable
/// address of `addr` when the block of `len` bytes there (the function's code) lies in the
/// part of this arena handed out, is not empty, and every page of it is executable
/// (published). That is `addr` itself, or with dual mapping the same byte in the executable
/// view (`vma_builder_dual_mapping`; its pages are executable wherever committed). Cast
/// `*out` to the function's pointer type to call it.
///
/// What cannot be checked stays the caller's: that the bytes are a whole function for this
/// CPU with that signature, that its pages stay executable and unchanged while it runs, and
/// that the arena outlives every call.
///
/// # Errors
/// `VMA_ERR_NOT_EXECUTABLE` (a page not published, or made writable since),
/// `VMA_ERR_NOT_IN_ARENA` (outside `[base, ptr)`, empty, or no longer committed),
/// `VMA_ERR_NULL_POINTER`. `*out` is untouched then.
///
/// # Safety
/// `m` as for `vma_protect_addr`; `out` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_function(
    m: *const vma_mallocator,
    addr: *const c_void,
    len: usize,
    out: *mut *const c_void,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, out) = unsafe { (arena(m)?, out_param(out, "out")?) };
        let b = block(arena, addr, len)?;
        // SAFETY: only the checks run and the address comes back; nothing is called here.
        // Calling it is the C caller's act, under the contract above.
        let f = unsafe { arena.function::<unsafe extern "C" fn()>(b) }?;
        *out = f as *const c_void;
        Ok(())
    })
}
