//! The thread-safe arena for C: `vma_shared`, a handle type of its own over `SharedArena`.
//!
//! Any number of threads allocate through one `vma_shared*` at once: each claims a chunk of
//! the region with one atomic operation and bumps inside it, found again through a
//! per-thread cache. Resetting and freeing need the handle alone. Live handles are kept in
//! a set of their own, so `vma_shared_free` catches a double free as `vma_free` does, and
//! neither free takes the other kind of handle.

use core::ffi::{c_char, c_void};
use core::mem::ManuallyDrop;
use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};

use vmallocator::{Error, SharedArena};

use crate::arena::{input, out_param};
use crate::protect::protection_from_c;
use crate::status::{Failure, call, vma_status};

/// A thread-safe arena: one region that any number of threads allocate from at once.
/// Opaque; create it with `vma_shared_create*`, release it with `vma_shared_free`.
///
/// `vma_shared_alloc*` and the figures may run on many threads at once; each thread
/// allocates from a chunk of its own. `vma_shared_reset` and `vma_shared_free` need the
/// handle alone: no other thread may use it during the call (join them first).
pub struct vma_shared {
    arena: ManuallyDrop<SharedArena>,
}

static LIVE: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());

fn live() -> MutexGuard<'static, BTreeSet<usize>> {
    // Each change is one insert or remove: a poisoned lock still holds a whole set.
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn hand_out(arena: SharedArena, out: &mut *mut vma_shared) {
    let handle = Box::into_raw(Box::new(vma_shared {
        arena: ManuallyDrop::new(arena),
    }));
    live().insert(handle as usize);
    *out = handle;
}

/// The arena behind a handle, or `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// `s` is NULL or a live handle that no thread frees or resets during the call.
#[inline(always)]
unsafe fn shared<'a>(s: *const vma_shared) -> Result<&'a SharedArena, Failure> {
    // SAFETY: the caller promises `s` is NULL or a live box; many threads sharing a
    // `SharedArena` is what it is made for (it is `Sync`).
    match unsafe { s.as_ref() } {
        Some(h) => Ok(&h.arena),
        None => Err(Failure::Null("the handle")),
    }
}

/// Creates a thread-safe arena over `DEFAULT_SHARED_RESERVE` bytes of address space (1 GiB;
/// 64 MiB on 32-bit targets), read+write, committed in steps as it is used; each thread
/// claims 64 KiB at a time.
///
/// # Errors
/// `VMA_ERR_OS`, `VMA_ERR_NULL_POINTER`; `*out` is untouched then.
///
/// # Safety
/// `out` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_shared_create(out: *mut *mut vma_shared) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let out = unsafe { out_param(out, "out") }?;
        hand_out(SharedArena::new()?, out);
        Ok(())
    })
}

/// Creates a thread-safe arena over `reserve` bytes of address space (its hard cap),
/// read+write, committed as it is used, where each thread claims `chunk_size` bytes at a time
/// (0: the default, 64 KiB; rounded up to a multiple of 64). Blocks above an eighth of a
/// chunk are claimed on their own.
///
/// # Errors
/// `VMA_ERR_ZERO_SIZE`, `VMA_ERR_SIZE_OVERFLOW`, `VMA_ERR_INVALID_OPTIONS` (a chunk size
/// too large), `VMA_ERR_OS`, `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// `out` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_shared_create_reserve(
    reserve: usize,
    chunk_size: usize,
    out: *mut *mut vma_shared,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let out = unsafe { out_param(out, "out") }?;
        let mut b = SharedArena::builder().reserve(reserve);
        if chunk_size != 0 {
            b = b.chunk_size(chunk_size);
        }
        hand_out(b.build()?, out);
        Ok(())
    })
}

/// Creates a thread-safe arena of `size` bytes (rounded up to pages) with `protection` (a
/// `VMA_PROT_*` value), all committed at once.
///
/// # Errors
/// `VMA_ERR_ZERO_SIZE`, `VMA_ERR_SIZE_OVERFLOW`, `VMA_ERR_INVALID_ARGUMENT`, `VMA_ERR_OS`,
/// `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// `out` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_shared_create_with_size(
    size: usize,
    protection: u32,
    out: *mut *mut vma_shared,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let out = unsafe { out_param(out, "out") }?;
        let protection = protection_from_c(protection)?;
        hand_out(SharedArena::with_size(size, protection)?, out);
        Ok(())
    })
}

/// Releases the region to the OS and frees the handle. No other thread may use the handle
/// during the call, nor after it succeeds: join the threads first.
///
/// If the OS refuses (`VMA_ERR_OS`) the handle stays valid and nothing changed: the call
/// may be retried. A handle that is not live (freed already) is
/// `VMA_ERR_INVALID_HANDLE`, as long as no new arena got its address in between.
///
/// # Safety
/// `s` is NULL, a live handle, or a handle freed before; no other thread uses it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_shared_free(s: *mut vma_shared) -> vma_status {
    call(|| {
        if s.is_null() {
            return Err(Failure::Null("the handle"));
        }
        let mut live = live();
        if !live.remove(&(s as usize)) {
            return Err(Failure::InvalidHandle);
        }
        // SAFETY: `s` was live: a box from `hand_out` not freed since, used by no other
        // thread (the caller's promise). The arena is taken out exactly once: the box is
        // then freed without dropping it again (`ManuallyDrop`), or an arena is put back.
        let arena = unsafe { ManuallyDrop::take(&mut (*s).arena) };
        let (result, back) = release(arena);
        match back {
            Some(arena) => {
                // SAFETY: `s` is still a valid box whose arena was taken out above.
                unsafe { (*s).arena = ManuallyDrop::new(arena) };
                live.insert(s as usize);
            }
            // SAFETY: `s` came from `Box::into_raw` and is no longer live; its arena was
            // taken out above and the `ManuallyDrop` field drops nothing.
            None => drop(unsafe { Box::from_raw(s) }),
        }
        result.map_err(Failure::from)
    })
}

/// The one place that calls `SharedArena::free`: its result, and the arena back when the OS
/// refused (`FreeError` hands it back whole, so the handle stays valid for a retry).
fn release(arena: SharedArena) -> (Result<(), Error>, Option<SharedArena>) {
    match arena.free() {
        Ok(()) => (Ok(()), None),
        Err(e) => {
            let (error, arena) = e.into_parts();
            (Err(error), Some(arena))
        }
    }
}

/// Allocates `size` bytes at `align` (a power of two) from the calling thread's chunk;
/// `*out` is the block's address. The bytes are whatever the region holds (zero for memory
/// never handed out). Safe to call from many threads at once.
///
/// # Errors
/// `VMA_ERR_INVALID_ALIGNMENT`, `VMA_ERR_OUT_OF_MEMORY`, `VMA_ERR_OS`,
/// `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// `s` is NULL or a live handle that no thread frees or resets during the call; `out` is
/// NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_shared_alloc(
    s: *const vma_shared,
    size: usize,
    align: usize,
    out: *mut *mut c_void,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, out) = unsafe { (shared(s)?, out_param(out, "out")?) };
        *out = arena.alloc(size, align)?.as_ptr().cast();
        Ok(())
    })
}

/// Copies `len` bytes from `bytes` into a new block (alignment 1); `*out` is its address.
/// Safe to call from many threads at once.
///
/// # Errors
/// `VMA_ERR_NOT_WRITABLE`, `VMA_ERR_OUT_OF_MEMORY`, `VMA_ERR_OS`, `VMA_ERR_NULL_POINTER`
/// (`bytes` may be NULL only when `len` is 0).
///
/// # Safety
/// As for `vma_shared_alloc`; `bytes` valid for reads of `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_shared_alloc_bytes(
    s: *const vma_shared,
    bytes: *const u8,
    len: usize,
    out: *mut *mut u8,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, bytes, out) = unsafe {
            (
                shared(s)?,
                input(bytes, len, "bytes")?,
                out_param(out, "out")?,
            )
        };
        *out = arena.alloc_bytes(bytes)?.as_mut_ptr();
        Ok(())
    })
}

/// Parses the hex byte string `s` of `len` bytes (the grammar of `vma_alloc_hex`) into a new
/// block; `*out` is its address, `*out_len` (if not NULL) its length. Safe to call from many
/// threads at once.
///
/// # Errors
/// `VMA_ERR_HEX` (with `vma_last_error_offset`), `VMA_ERR_INVALID_UTF8`,
/// `VMA_ERR_NOT_WRITABLE`, `VMA_ERR_OUT_OF_MEMORY`, `VMA_ERR_OS`, `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// As for `vma_shared_alloc`; `s` valid for reads of `len` bytes; `out_len` NULL or valid
/// for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_shared_alloc_hex(
    sh: *const vma_shared,
    s: *const c_char,
    len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, s, out) = unsafe {
            (
                shared(sh)?,
                crate::arena::text(s, len, "s")?,
                out_param(out, "out")?,
            )
        };
        let block = arena.alloc_hex(s)?;
        *out = block.as_mut_ptr();
        // SAFETY: `out_len` is NULL or valid for a write, as the caller promises.
        if let Some(n) = unsafe { out_len.as_mut() } {
            *n = block.len();
        }
        Ok(())
    })
}

/// Reads one figure of the arena into `*out`.
///
/// # Safety
/// As for `vma_shared_alloc`.
unsafe fn figure(
    s: *const vma_shared,
    out: *mut usize,
    f: impl FnOnce(&SharedArena) -> usize,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, out) = unsafe { (shared(s)?, out_param(out, "out")?) };
        *out = f(arena);
        Ok(())
    })
}

/// `*out` = bytes handed out as blocks so far, over all threads (a snapshot while others
/// allocate).
///
/// # Safety
/// As for `vma_shared_alloc`; `out` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_shared_used(s: *const vma_shared, out: *mut usize) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { figure(s, out, SharedArena::used) }
}

/// `*out` = bytes claimed by threads so far (chunks and large blocks), at least
/// `vma_shared_used`.
///
/// # Safety
/// As for `vma_shared_used`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_shared_claimed(s: *const vma_shared, out: *mut usize) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { figure(s, out, SharedArena::claimed) }
}

/// `*out` = the size of the region in bytes: the most that can be handed out.
///
/// # Safety
/// As for `vma_shared_used`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_shared_size(s: *const vma_shared, out: *mut usize) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { figure(s, out, SharedArena::size) }
}

/// `*out` = bytes of the region backed by memory (committed).
///
/// # Safety
/// As for `vma_shared_used`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_shared_committed(s: *const vma_shared, out: *mut usize) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { figure(s, out, SharedArena::committed) }
}

/// Moves the arena back to empty: every block can be handed out again; contents stay,
/// memory stays committed; the threads' chunks are forgotten. No other thread may use the
/// handle during the call, and no block handed out before may be used after it.
///
/// # Errors
/// `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// `s` is NULL or a live handle that no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_shared_reset(s: *mut vma_shared) -> vma_status {
    call(|| {
        // SAFETY: the caller promises `s` is NULL or live, and used by this thread alone.
        let h = unsafe { s.as_mut() }.ok_or(Failure::Null("the handle"))?;
        h.arena.reset();
        Ok(())
    })
}
