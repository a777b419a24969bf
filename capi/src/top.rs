//! A block that grows in place at the top of the arena, for C: the state of Rust's
//! `TopVec` kept inside the handle between calls.
//!
//! Rust's `TopVec` borrows the arena mutably while it lives, so nothing else allocates in
//! between and the block stays at the top. Across the C boundary no borrow can be held, so
//! the handle records the open block instead and refuses every call that would move the
//! pointer meanwhile (`VMA_ERR_TOP_BLOCK_OPEN`). With nothing else moving it, the block is
//! always `[start, ptr)`: appending is an allocation of alignment 1 (contiguous with the
//! block), finishing forgets the record, and abandoning rewinds to the checkpoint taken
//! when the block was opened (the arena's one lowering primitive does the rest).

use core::ffi::c_void;
use core::ptr::NonNull;

use vmallocator::Checkpoint;

use crate::arena::{arena, handle_mut, input, out_param, vma_mallocator};
use crate::status::{Failure, call, vma_status};

/// The block open at the top of an arena.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TopBlock {
    /// The pointer when the block was opened: abandoning rewinds to it.
    origin: Checkpoint,
    /// The block's first byte: `origin` rounded up to the alignment asked for.
    start: NonNull<u8>,
}

/// The open block of `m` and its arena, or `VMA_ERR_NO_TOP_BLOCK` naming `what`.
///
/// # Safety
/// `m` is NULL or a live handle used by no other thread during the call.
unsafe fn open<'a>(
    m: *mut vma_mallocator,
    what: &'static str,
) -> Result<(&'a mut vma_mallocator, TopBlock), Failure> {
    // SAFETY: forwarded from the caller.
    let h = unsafe { handle_mut(m) }?;
    match h.top {
        Some(top) => Ok((h, top)),
        None => Err(Failure::NoTopBlock(what)),
    }
}

/// Opens a block at the top of the arena, aligned to `align` (a power of two): it starts
/// empty and grows in place with `vma_top_append` and `vma_top_grow`, never copied, committing
/// pages of a reservation as it grows. `vma_top_finish` keeps it (as if made by one
/// allocation), `vma_top_abandon` gives its memory back. For blocks whose length is not known
/// before they are written: generated code, parsed input, the items of any sequence (Rust's
/// `TopVec` and `alloc_slice_from_iter`).
///
/// While the block is open, the calls that move the bump pointer (`vma_alloc*`,
/// `vma_reset*`, `vma_rewind`) return `VMA_ERR_TOP_BLOCK_OPEN` and change nothing; the
/// figures, the protection calls, `vma_checkpoint`, `vma_trim` and `vma_free` work as usual.
///
/// # Errors
/// `VMA_ERR_TOP_BLOCK_OPEN` (one is open already), `VMA_ERR_INVALID_ALIGNMENT`,
/// `VMA_ERR_OUT_OF_MEMORY` (the padding to `align` does not fit), `VMA_ERR_OS`,
/// `VMA_ERR_NULL_POINTER`. Nothing changes then.
///
/// # Safety
/// `m` is NULL or a live handle used by no other thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_top_begin(m: *mut vma_mallocator, align: usize) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let h = unsafe { handle_mut(m) }?;
        if h.top.is_some() {
            return Err(Failure::TopBlockOpen("vma_top_begin"));
        }
        let origin = h.arena.checkpoint();
        let start = h.arena.alloc(0, align)?;
        h.top = Some(TopBlock { origin, start });
        Ok(())
    })
}

/// Appends the `len` bytes at `bytes` to the open top block, growing it in place.
///
/// # Errors
/// `VMA_ERR_NO_TOP_BLOCK`, `VMA_ERR_NOT_WRITABLE` (a page it would touch is not writable),
/// `VMA_ERR_OUT_OF_MEMORY`, `VMA_ERR_OS`, `VMA_ERR_NULL_POINTER` (`bytes` may be NULL only
/// when `len` is 0). Nothing changes then: the block keeps what it had, and stays open.
///
/// # Safety
/// `m` as for `vma_top_begin`; `bytes` valid for reads of `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_top_append(
    m: *mut vma_mallocator,
    bytes: *const u8,
    len: usize,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let ((h, _), bytes) = unsafe { (open(m, "vma_top_append")?, input(bytes, len, "bytes")?) };
        h.arena.alloc_bytes(bytes)?;
        Ok(())
    })
}

/// Grows the open top block by `len` bytes and stores their address in `*out`, for the
/// caller to write there (e.g. `snprintf` into a block of known bound, then nothing else to
/// copy). Like `vma_alloc`, the bytes are whatever the region holds (zero for memory never
/// handed out before), and their pages are not checked for write access.
///
/// # Errors
/// `VMA_ERR_NO_TOP_BLOCK`, `VMA_ERR_OUT_OF_MEMORY`, `VMA_ERR_OS`, `VMA_ERR_NULL_POINTER`.
/// Nothing changes then, and `*out` is untouched.
///
/// # Safety
/// `m` as for `vma_top_begin`; `out` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_top_grow(
    m: *mut vma_mallocator,
    len: usize,
    out: *mut *mut c_void,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let ((h, _), out) = unsafe { (open(m, "vma_top_grow")?, out_param(out, "out")?) };
        *out = h.arena.alloc(len, 1)?.as_ptr().cast();
        Ok(())
    })
}

/// The open top block so far: `*out` = its address, `*out_len` (if not NULL) its length in
/// bytes. The address stays the same as the block grows. Changes nothing.
///
/// # Errors
/// `VMA_ERR_NO_TOP_BLOCK`, `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// `m` as for `vma_top_begin`; `out` NULL or valid for writing a pointer; `out_len` NULL or
/// valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_top_block(
    m: *const vma_mallocator,
    out: *mut *mut c_void,
    out_len: *mut usize,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller; the handle is only read.
        let (a, out) = unsafe { (arena(m)?, out_param(out, "out")?) };
        // SAFETY: `arena` succeeded, so `m` is a live handle.
        let top = unsafe { (*m).top }.ok_or(Failure::NoTopBlock("vma_top_block"))?;
        // SAFETY: `out_len` is NULL or valid for a write, as the caller promises.
        unsafe { report(a.ptr(), top, out, out_len) };
        Ok(())
    })
}

/// Stores the block `[top.start, ptr)` through `out` and `out_len`.
///
/// # Safety
/// `out_len` is NULL or valid for a write.
unsafe fn report(ptr: NonNull<u8>, top: TopBlock, out: &mut *mut c_void, out_len: *mut usize) {
    *out = top.start.as_ptr().cast();
    // SAFETY: forwarded from the caller.
    if let Some(n) = unsafe { out_len.as_mut() } {
        *n = ptr.as_ptr() as usize - top.start.as_ptr() as usize;
    }
}

/// Closes the open top block and keeps it, as if made by one allocation: `*out` = its
/// address, `*out_len` (if not NULL) its length. It stays valid like any block. Other
/// allocations may follow.
///
/// # Errors
/// `VMA_ERR_NO_TOP_BLOCK`, `VMA_ERR_NULL_POINTER` (the block then stays open).
///
/// # Safety
/// As for `vma_top_block`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_top_finish(
    m: *mut vma_mallocator,
    out: *mut *mut c_void,
    out_len: *mut usize,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let ((h, top), out) = unsafe { (open(m, "vma_top_finish")?, out_param(out, "out")?) };
        // SAFETY: forwarded from the caller.
        unsafe { report(h.arena.ptr(), top, out, out_len) };
        h.top = None;
        Ok(())
    })
}

/// Closes the open top block and gives its memory back: the pointer returns to where it
/// was before `vma_top_begin` (alignment padding included). Pointers into the block must
/// not be used after. Contents stay, as with `vma_rewind`.
///
/// # Errors
/// `VMA_ERR_NO_TOP_BLOCK`, `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// `m` as for `vma_top_begin`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_top_abandon(m: *mut vma_mallocator) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (h, top) = unsafe { open(m, "vma_top_abandon") }?;
        // Cannot fail: nothing moved the pointer below `origin` while the block was open.
        h.arena.rewind(top.origin)?;
        h.top = None;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{vma_alloc, vma_create_with_size, vma_free, vma_used};

    /// Random appends, grows, failures and refused allocations against a `Vec` model.
    #[test]
    fn top_blocks_match_a_vec_model() {
        let page = vmallocator::page_size();
        let mut m = core::ptr::null_mut();
        // SAFETY: `m` is a live handle of this thread until freed (all calls below), every
        // out-pointer is a local, every input slice lives across its call, and a finished
        // block is read only before the next reset.
        unsafe {
            assert_eq!(
                vma_create_with_size(8 * page, 3, &mut m),
                vma_status::VMA_OK
            );
            let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
            let mut next = |n: usize| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % n as u64) as usize
            };
            for round in 0..200 {
                let align = 1 << next(7);
                let mut used = 0;
                assert_eq!(vma_used(m, &mut used), vma_status::VMA_OK);
                assert_eq!(vma_top_begin(m, align), vma_status::VMA_OK);
                let mut model = Vec::new();
                for _ in 0..next(12) {
                    let len = if next(10) == 0 { 9 * page } else { next(300) };
                    let data: Vec<u8> = (0..len).map(|i| (i + round) as u8).collect();
                    let status = if next(2) == 0 {
                        vma_top_append(m, data.as_ptr(), len)
                    } else {
                        let mut at = core::ptr::null_mut();
                        let s = vma_top_grow(m, len, &mut at);
                        if s == vma_status::VMA_OK {
                            at.cast::<u8>().copy_from_nonoverlapping(data.as_ptr(), len);
                        }
                        s
                    };
                    if status == vma_status::VMA_OK {
                        model.extend_from_slice(&data);
                    } else {
                        assert_eq!(status, vma_status::VMA_ERR_OUT_OF_MEMORY);
                    }
                    let mut p = core::ptr::null_mut();
                    assert_eq!(
                        vma_alloc(m, 1, 1, &mut p),
                        vma_status::VMA_ERR_TOP_BLOCK_OPEN
                    );
                }
                let (mut start, mut len) = (core::ptr::null_mut(), 0);
                if next(2) == 0 {
                    assert_eq!(vma_top_abandon(m), vma_status::VMA_OK);
                    let mut now = 0;
                    assert_eq!(vma_used(m, &mut now), vma_status::VMA_OK);
                    assert_eq!(now, used);
                } else {
                    assert_eq!(vma_top_finish(m, &mut start, &mut len), vma_status::VMA_OK);
                    assert_eq!(start as usize % align, 0);
                    let block = core::slice::from_raw_parts(start.cast::<u8>(), len);
                    assert_eq!(block, &model[..]);
                    if next(3) == 0 {
                        assert_eq!(crate::vma_reset(m), vma_status::VMA_OK);
                    }
                }
            }
            assert_eq!(vma_free(m), vma_status::VMA_OK);
        }
    }
}
