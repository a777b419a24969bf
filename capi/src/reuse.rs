//! Reuse without giving the region back: resets, trim, checkpoints.

use core::mem::{align_of, size_of};

use vmallocator::Checkpoint;

use crate::arena::{arena, arena_mut, mover_mut, out_param, vma_mallocator};
use crate::status::{Failure, call, vma_status};

/// A saved bump pointer, to return to with `vma_rewind`. Plain data, copyable; fill it only
/// with `vma_checkpoint`. It records which arena it came from: rewinding another arena, or
/// to a point above the current pointer, is `VMA_ERR_INVALID_CHECKPOINT`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct vma_checkpoint_t {
    opaque: [u64; 4],
}

// The Rust checkpoint travels inside the C struct's bytes.
const _: () = assert!(size_of::<Checkpoint>() <= size_of::<vma_checkpoint_t>());
const _: () = assert!(align_of::<Checkpoint>() <= align_of::<vma_checkpoint_t>());

impl vma_checkpoint_t {
    fn new(cp: Checkpoint) -> Self {
        let mut c = vma_checkpoint_t { opaque: [0; 4] };
        // SAFETY: the struct is large and aligned enough (asserted above) and owns its bytes.
        unsafe { (&raw mut c).cast::<Checkpoint>().write(cp) };
        c
    }

    fn get(&self) -> Checkpoint {
        // SAFETY: large and aligned enough (asserted above), and the bytes were written by
        // `new` from a real `Checkpoint` (the callers' contract: only `vma_checkpoint` fills
        // one). A `Checkpoint` is plain integers, so even a copy of one is one.
        unsafe { (self as *const Self).cast::<Checkpoint>().read() }
    }
}

/// Moves the pointer back to the base: everything can be handed out again. Contents stay,
/// memory stays committed. Pointers to blocks handed out before must not be used after.
///
/// # Safety
/// `m` is NULL or a live handle used by no other thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_reset(m: *mut vma_mallocator) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        unsafe { mover_mut(m, "vma_reset") }?.reset();
        Ok(())
    })
}

/// `vma_reset`, then zeroes every byte handed out since memory was last zeroed.
///
/// # Errors
/// `VMA_ERR_NOT_WRITABLE`, `VMA_ERR_OS`, `VMA_ERR_NULL_POINTER`; nothing changed then.
///
/// # Safety
/// As for `vma_reset`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_reset_zeroed(m: *mut vma_mallocator) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        unsafe { mover_mut(m, "vma_reset_zeroed") }?.reset_zeroed()?;
        Ok(())
    })
}

/// `vma_reset`, then returns the memory to the OS; it reads as zero when used again and is
/// committed again in steps.
///
/// # Errors
/// `VMA_ERR_OS`, `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// As for `vma_reset`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_reset_decommit(m: *mut vma_mallocator) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        unsafe { mover_mut(m, "vma_reset_decommit") }?.reset_decommit()?;
        Ok(())
    })
}

/// Returns the committed memory above the pointer to the OS; blocks below stay.
///
/// # Errors
/// `VMA_ERR_OS`, `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// As for `vma_reset`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_trim(m: *mut vma_mallocator) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        unsafe { arena_mut(m) }?.trim()?;
        Ok(())
    })
}

/// `*out` = the current pointer, to `vma_rewind` to later.
///
/// # Safety
/// `m` as for `vma_reset`; `out` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_checkpoint(
    m: *const vma_mallocator,
    out: *mut vma_checkpoint_t,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, out) = unsafe { (arena(m)?, out_param(out, "out")?) };
        *out = vma_checkpoint_t::new(arena.checkpoint());
        Ok(())
    })
}

/// Moves the pointer back to `*checkpoint`; contents stay. Pointers to blocks handed out
/// after the checkpoint must not be used after.
///
/// # Errors
/// `VMA_ERR_INVALID_CHECKPOINT` (another arena's, or above the pointer),
/// `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// `m` as for `vma_reset`; `checkpoint` NULL or a checkpoint filled by `vma_checkpoint`
/// (of any arena: another arena's is refused). Forged bytes are undefined behaviour.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_rewind(
    m: *mut vma_mallocator,
    checkpoint: *const vma_checkpoint_t,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, cp) = unsafe { (mover_mut(m, "vma_rewind")?, checkpoint.as_ref()) };
        let cp = cp.ok_or(Failure::Null("the checkpoint"))?;
        arena.rewind(cp.get())?;
        Ok(())
    })
}

/// `*out` = bytes that were in use when `*checkpoint` was taken.
///
/// # Safety
/// `checkpoint` NULL or filled by `vma_checkpoint`; `out` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_checkpoint_used(
    checkpoint: *const vma_checkpoint_t,
    out: *mut usize,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (cp, out) = unsafe { (checkpoint.as_ref(), out_param(out, "out")?) };
        *out = cp.ok_or(Failure::Null("the checkpoint"))?.get().used();
        Ok(())
    })
}
