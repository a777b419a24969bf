//! The handle: create, free, the figures, and the allocation calls.
//!
//! A `vma_mallocator*` is a `Box` holding one [`Mallocator`]. Every live handle's address is
//! kept in a small set so that `vma_free` of a handle that is not live (a double free)
//! returns `VMA_ERR_INVALID_HANDLE` instead of freeing twice; the set is touched only when
//! a handle is created or freed, never on the allocation path.

use core::ffi::{c_char, c_void};
use core::mem::ManuallyDrop;
use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};

use vmallocator::{CharWidth, Error, Mallocator};

use crate::protect::{protection_from_c, protection_to_c};
use crate::status::{Failure, call, vma_status};
use crate::top::TopBlock;

/// An arena: one region of virtual memory and its bump pointer. Opaque; create it with
/// `vma_create`, `vma_create_with_size` or `vma_builder_build`, release it with `vma_free`.
///
/// Not thread-safe: one thread at a time may use a handle (it may move between threads).
pub struct vma_mallocator {
    pub(crate) arena: ManuallyDrop<Mallocator>,
    /// The block growing at the top while one is open (`vma_top_begin`); the calls that
    /// move the pointer are refused meanwhile.
    pub(crate) top: Option<TopBlock>,
}

static LIVE: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());

fn live() -> MutexGuard<'static, BTreeSet<usize>> {
    // A panic while the set was locked cannot have left it half-changed (each change is
    // one insert or remove), so a poisoned lock is still good.
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Boxes `arena` into a new live handle and stores it through `out`.
pub(crate) fn hand_out(arena: Mallocator, out: &mut *mut vma_mallocator) {
    let handle = Box::into_raw(Box::new(vma_mallocator {
        arena: ManuallyDrop::new(arena),
        top: None,
    }));
    live().insert(handle as usize);
    *out = handle;
}

/// The arena behind a handle, or `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// `m` is NULL or a live handle that no other thread uses during the call.
#[inline(always)]
pub(crate) unsafe fn arena<'a>(m: *const vma_mallocator) -> Result<&'a Mallocator, Failure> {
    // SAFETY: the caller promises `m` is NULL or a live handle, i.e. a valid `Box` pointer.
    match unsafe { m.as_ref() } {
        Some(handle) => Ok(&handle.arena),
        None => Err(Failure::Null("the handle")),
    }
}

/// The arena behind a handle, mutably, or `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// `m` is NULL or a live handle that no other thread uses during the call.
#[inline(always)]
pub(crate) unsafe fn arena_mut<'a>(m: *mut vma_mallocator) -> Result<&'a mut Mallocator, Failure> {
    // SAFETY: as in `arena`; the caller's exclusive use of the handle makes `&mut` sound.
    match unsafe { m.as_mut() } {
        Some(handle) => Ok(&mut handle.arena),
        None => Err(Failure::Null("the handle")),
    }
}

/// The handle itself, mutably, or `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// `m` is NULL or a live handle that no other thread uses during the call.
#[inline(always)]
pub(crate) unsafe fn handle_mut<'a>(
    m: *mut vma_mallocator,
) -> Result<&'a mut vma_mallocator, Failure> {
    // SAFETY: as in `arena_mut`.
    unsafe { m.as_mut() }.ok_or(Failure::Null("the handle"))
}

/// The arena behind a handle, for a call that moves the bump pointer (`call` names it in
/// the message): `VMA_ERR_TOP_BLOCK_OPEN` while a top block is open, `VMA_ERR_NULL_POINTER`
/// for NULL.
///
/// # Safety
/// `m` is NULL or a live handle that no other thread uses during the call.
#[inline(always)]
pub(crate) unsafe fn mover<'a>(
    m: *const vma_mallocator,
    call: &'static str,
) -> Result<&'a Mallocator, Failure> {
    // SAFETY: as in `arena`.
    match unsafe { m.as_ref() } {
        Some(vma_mallocator { top: None, arena }) => Ok(arena),
        Some(_) => Err(Failure::TopBlockOpen(call)),
        None => Err(Failure::Null("the handle")),
    }
}

/// [`mover`], mutably.
///
/// # Safety
/// As for [`mover`].
#[inline(always)]
pub(crate) unsafe fn mover_mut<'a>(
    m: *mut vma_mallocator,
    call: &'static str,
) -> Result<&'a mut Mallocator, Failure> {
    // SAFETY: as in `arena_mut`.
    match unsafe { m.as_mut() } {
        Some(vma_mallocator { top: None, arena }) => Ok(arena),
        Some(_) => Err(Failure::TopBlockOpen(call)),
        None => Err(Failure::Null("the handle")),
    }
}

/// A required out-parameter, or `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// `p` is NULL or valid for a write of a `T`, and aligned.
#[inline(always)]
pub(crate) unsafe fn out_param<'a, T>(p: *mut T, what: &'static str) -> Result<&'a mut T, Failure> {
    // SAFETY: the caller promises `p` is NULL or valid and aligned. Only written, never read
    // as a `T` the caller left uninitialised: every `T` here is a plain integer or pointer.
    match unsafe { p.as_mut() } {
        Some(r) => Ok(r),
        None => Err(Failure::Null(what)),
    }
}

/// `len` bytes at `p` (which may be NULL when `len` is 0), or `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// When `len != 0`, `p` is NULL or valid for reads of `len` bytes that nothing writes
/// during the call.
pub(crate) unsafe fn input<'a>(
    p: *const u8,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Failure::Null(what));
    }
    // SAFETY: the caller promises `len` readable bytes at the non-NULL `p`.
    Ok(unsafe { core::slice::from_raw_parts(p, len) })
}

/// UTF-8 text of `len` bytes at `p`, or `VMA_ERR_INVALID_UTF8` with the first bad byte.
///
/// # Safety
/// As for [`input`].
pub(crate) unsafe fn text<'a>(
    p: *const c_char,
    len: usize,
    what: &'static str,
) -> Result<&'a str, Failure> {
    // SAFETY: forwarded from the caller.
    let bytes = unsafe { input(p.cast(), len, what) }?;
    core::str::from_utf8(bytes).map_err(|e| Failure::InvalidUtf8 {
        offset: e.valid_up_to(),
    })
}

/// Creates an arena of one allocation granule (`vma_granularity()` bytes: 64 KiB on
/// Windows, a page elsewhere), read+write, like the original `new Mallocator()`.
///
/// On success `*out` is the new handle, owned by the caller until `vma_free`; on failure
/// `*out` is left untouched.
///
/// # Safety
/// `out` is NULL (`VMA_ERR_NULL_POINTER`) or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_create(out: *mut *mut vma_mallocator) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let out = unsafe { out_param(out, "out") }?;
        hand_out(Mallocator::new()?, out);
        Ok(())
    })
}

/// Creates an arena of `size` bytes (rounded up to whole pages) with `protection`
/// (a `VMA_PROT_*` value), committed at once, like `new Mallocator(size, protect)`.
///
/// # Errors
/// `VMA_ERR_ZERO_SIZE`, `VMA_ERR_SIZE_OVERFLOW`, `VMA_ERR_INVALID_ARGUMENT` (protection),
/// `VMA_ERR_OS`, `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// `out` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_create_with_size(
    size: usize,
    protection: u32,
    out: *mut *mut vma_mallocator,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let out = unsafe { out_param(out, "out") }?;
        let protection = protection_from_c(protection)?;
        hand_out(Mallocator::with_size(size, protection)?, out);
        Ok(())
    })
}

/// Releases the arena's region to the OS and frees the handle.
///
/// On `VMA_OK` the handle and every pointer into the region are invalid. If the OS refuses
/// (`VMA_ERR_OS`) the handle stays valid and nothing changed: the caller may retry, or give
/// up and leak the region. `vma_free(NULL)` returns `VMA_ERR_NULL_POINTER`. Freeing a handle
/// that is not live (freed already) returns `VMA_ERR_INVALID_HANDLE` and does nothing, as
/// long as no new arena was created at the same address in between (then that arena is
/// freed): do not rely on it, set your pointer to NULL after freeing.
///
/// # Safety
/// `m` is NULL, a live handle, or a handle freed before; no other thread uses it during the
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_free(m: *mut vma_mallocator) -> vma_status {
    call(|| {
        if m.is_null() {
            return Err(Failure::Null("the handle"));
        }
        let mut live = live();
        if !live.remove(&(m as usize)) {
            return Err(Failure::InvalidHandle);
        }
        // SAFETY: `m` was live: a `Box` from `hand_out` not freed since. The arena is taken
        // out exactly once: either the box is freed below without dropping it again
        // (`ManuallyDrop`), or a new arena is written back.
        let arena = unsafe { ManuallyDrop::take(&mut (*m).arena) };
        match release(arena) {
            Ok(()) => {
                // SAFETY: `m` came from `Box::into_raw` and is no longer in the live set; its
                // arena was taken out above and the ManuallyDrop field drops nothing.
                drop(unsafe { Box::from_raw(m) });
                Ok(())
            }
            Err((e, Some(arena))) => {
                // SAFETY: `m` is still a valid box whose arena was taken out above.
                unsafe { (*m).arena = ManuallyDrop::new(arena) };
                live.insert(m as usize);
                Err(e.into())
            }
            Err((e, None)) => {
                // SAFETY: as in the `Ok` arm.
                drop(unsafe { Box::from_raw(m) });
                Err(e.into())
            }
        }
    })
}

/// The one place that calls `Mallocator::free`: the error, and the arena back when the OS
/// refused (`FreeError` hands it back whole, so the handle stays valid for a retry).
#[allow(clippy::result_large_err)] // a cold path, once per arena
fn release(arena: Mallocator) -> Result<(), (Error, Option<Mallocator>)> {
    arena.free().map_err(|e| {
        let (error, arena) = e.into_parts();
        (error, Some(arena))
    })
}

/// Allocates `size` bytes at `align` (a power of two) and stores the block's address in
/// `*out`. `size` 0 is allowed (an address, no bytes). The bytes are those the region held
/// (zero for memory never handed out before).
///
/// The block stays valid until the pointer moves below it (`vma_reset*`, `vma_rewind`) or
/// the arena is freed; a protection change may make it unwritable.
///
/// # Errors
/// `VMA_ERR_INVALID_ALIGNMENT`, `VMA_ERR_OUT_OF_MEMORY`, `VMA_ERR_OS` (committing more of a
/// reservation), `VMA_ERR_NULL_POINTER`. On failure nothing changed and `*out` is untouched.
///
/// # Safety
/// `m` is NULL or a live handle used by no other thread during the call; `out` is NULL or
/// valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_alloc(
    m: *mut vma_mallocator,
    size: usize,
    align: usize,
    out: *mut *mut c_void,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, out) = unsafe { (mover(m, "vma_alloc")?, out_param(out, "out")?) };
        *out = arena.alloc(size, align)?.as_ptr().cast();
        Ok(())
    })
}

/// Copies `len` bytes from `bytes` into a new block (alignment 1); `*out` is its address.
///
/// # Errors
/// `VMA_ERR_NOT_WRITABLE` when a page it would touch is not writable,
/// `VMA_ERR_OUT_OF_MEMORY`, `VMA_ERR_OS`, `VMA_ERR_NULL_POINTER` (`bytes` may be NULL only
/// when `len` is 0).
///
/// # Safety
/// `m` as for `vma_alloc`; `bytes` valid for reads of `len` bytes; `out` valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_alloc_bytes(
    m: *mut vma_mallocator,
    bytes: *const u8,
    len: usize,
    out: *mut *mut u8,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, bytes, out) = unsafe {
            (
                mover(m, "vma_alloc_bytes")?,
                input(bytes, len, "bytes")?,
                out_param(out, "out")?,
            )
        };
        *out = arena.alloc_bytes(bytes)?.as_mut_ptr();
        Ok(())
    })
}

/// Copies the UTF-8 string `s` of `len` bytes (no terminator needed) into a new block as
/// `width`-byte units: 1 (UTF-8), 2 (UTF-16) or 4 (UTF-32), native endian, followed by a NUL
/// unit; the block is aligned to `width`. `*out` is its address, `*out_len` (if not NULL)
/// its length in bytes, terminator included.
///
/// # Errors
/// `VMA_ERR_INVALID_ARGUMENT` (width), `VMA_ERR_INVALID_UTF8` and `VMA_ERR_INTERIOR_NUL`
/// (with `vma_last_error_offset`), `VMA_ERR_NOT_WRITABLE`, `VMA_ERR_OUT_OF_MEMORY`,
/// `VMA_ERR_OS`, `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// `m` as for `vma_alloc`; `s` valid for reads of `len` bytes; `out` valid for a write;
/// `out_len` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_alloc_str(
    m: *mut vma_mallocator,
    s: *const c_char,
    len: usize,
    width: u32,
    out: *mut *mut c_void,
    out_len: *mut usize,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, s, out) = unsafe {
            (
                mover(m, "vma_alloc_str")?,
                text(s, len, "s")?,
                out_param(out, "out")?,
            )
        };
        let width = match width {
            1 => CharWidth::U8,
            2 => CharWidth::U16,
            4 => CharWidth::U32,
            w => {
                return Err(Failure::InvalidArgument(format!(
                    "string width {w} is not 1, 2 or 4 bytes"
                )));
            }
        };
        let block = arena.alloc_str(s, width)?;
        *out = block.as_mut_ptr().cast();
        // SAFETY: `out_len` is NULL or valid for a write, as the caller promises.
        if let Some(n) = unsafe { out_len.as_mut() } {
            *n = block.len();
        }
        Ok(())
    })
}

/// Parses the hex byte string `s` of `len` bytes (the grammar of the crate's README:
/// `"00 ab f9 0x42"`, `"\x48\x31"`, comments from `;`, `#`, `//`) and copies the bytes into a
/// new block (alignment 1). `*out` is its address, `*out_len` (if not NULL) its length.
///
/// # Errors
/// `VMA_ERR_HEX` with `vma_last_error_offset()` at the byte where the parser stopped,
/// `VMA_ERR_INVALID_UTF8`, `VMA_ERR_NOT_WRITABLE`, `VMA_ERR_OUT_OF_MEMORY`, `VMA_ERR_OS`,
/// `VMA_ERR_NULL_POINTER`. The string is parsed fully before anything is allocated.
///
/// # Safety
/// As for `vma_alloc_str`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_alloc_hex(
    m: *mut vma_mallocator,
    s: *const c_char,
    len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, s, out) = unsafe {
            (
                mover(m, "vma_alloc_hex")?,
                text(s, len, "s")?,
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
/// `m` and `out` as for `vma_alloc`.
#[inline(always)]
unsafe fn figure<T>(
    m: *const vma_mallocator,
    out_p: *mut T,
    f: impl FnOnce(&Mallocator) -> T,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, out) = unsafe { (arena(m)?, out_param(out_p, "out")?) };
        *out = f(arena);
        Ok(())
    })
}

/// `*out` = the first address of the region (the original's `Base`). Never changes.
///
/// # Safety
/// `m` is NULL or a live handle used by no other thread during the call; `out` is NULL or
/// valid for a write. The same holds for every `vma_*` figure below.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_base(m: *const vma_mallocator, out: *mut *mut c_void) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { figure(m, out, |a| a.base().as_ptr().cast()) }
}

/// `*out` = the address of the next free byte (the original's `Ptr`).
///
/// # Safety
/// As for `vma_base`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_ptr(m: *const vma_mallocator, out: *mut *mut c_void) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { figure(m, out, |a| a.ptr().as_ptr().cast()) }
}

/// `*out` = the size of the region in bytes (the original's `Size`): the most that can be
/// handed out.
///
/// # Safety
/// As for `vma_base`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_size(m: *const vma_mallocator, out: *mut usize) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { figure(m, out, Mallocator::size) }
}

/// `*out` = bytes handed out so far (`ptr - base`).
///
/// # Safety
/// As for `vma_base`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_used(m: *const vma_mallocator, out: *mut usize) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { figure(m, out, Mallocator::used) }
}

/// `*out` = bytes left between the pointer and the end of the region.
///
/// # Safety
/// As for `vma_base`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_remaining(m: *const vma_mallocator, out: *mut usize) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { figure(m, out, Mallocator::remaining) }
}

/// `*out` = bytes of the region backed by memory (committed).
///
/// # Safety
/// As for `vma_base`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_committed(m: *const vma_mallocator, out: *mut usize) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { figure(m, out, Mallocator::committed) }
}

/// `*out` = bytes of address space the region holds (its hard cap).
///
/// # Safety
/// As for `vma_base`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_reserved(m: *const vma_mallocator, out: *mut usize) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { figure(m, out, Mallocator::reserved) }
}

/// `*out` = the most bytes ever in use at once.
///
/// # Safety
/// As for `vma_base`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_high_water_mark(
    m: *const vma_mallocator,
    out: *mut usize,
) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { figure(m, out, Mallocator::high_water_mark) }
}

/// `*out` = the protection every page of the region has (a `VMA_PROT_*` value), or
/// `VMA_PROT_MIXED` when pages differ; `vma_protection_of` asks about a range.
///
/// # Safety
/// As for `vma_base`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_protection(m: *const vma_mallocator, out: *mut u32) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        figure(m, out, |a| {
            a.protection()
                .map_or(crate::protect::VMA_PROT_MIXED, protection_to_c)
        })
    }
}

/// The size of a virtual-memory page in bytes (4096 on most systems). 0 only if the
/// library failed internally.
#[unsafe(no_mangle)]
pub extern "C" fn vma_page_size() -> usize {
    std::panic::catch_unwind(vmallocator::page_size).unwrap_or(0)
}

/// The granularity at which the OS places regions: 65536 on Windows, the page size
/// elsewhere (the original's `VirtualAlloc.PageGranularity`). 0 only if the library failed
/// internally.
#[unsafe(no_mangle)]
pub extern "C" fn vma_granularity() -> usize {
    std::panic::catch_unwind(vmallocator::granularity).unwrap_or(0)
}

/// The version of this library, e.g. `"0.1.0"` (static, NUL-terminated).
#[unsafe(no_mangle)]
pub extern "C" fn vma_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}
