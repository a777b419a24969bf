//! Strings for foreign callees, from the typed calls of the crate: a NUL-terminated C string
//! from any bytes, and a NUL-terminated UTF-16 string from UTF-16 units.
//!
//! The other typed calls (`alloc_value`, `alloc_slice_copy`, `alloc_zeroed::<T>`, the
//! `Allocator` implementation, …) stay in Rust: they are generic over `T` and lean on what C
//! cannot state (a type's layout and validity, `Drop`, lifetimes that tie a value to the
//! arena). In C, a typed value is `vma_alloc(m, sizeof(T), _Alignof(T), &p)` and a cast.

use core::ffi::c_char;

use crate::arena::{input, mover, out_param, vma_mallocator};
use crate::status::{Failure, call, vma_status};

/// Copies the `len` bytes at `s` (any bytes, no NUL among them; no terminator needed) into a
/// new block followed by a NUL: a C string. `*out` is its address; its length is `len + 1`.
/// Unlike `vma_alloc_str`, the bytes need not be UTF-8.
///
/// # Errors
/// `VMA_ERR_INTERIOR_NUL` with `vma_last_error_offset()` at the first NUL in the input,
/// `VMA_ERR_NOT_WRITABLE`, `VMA_ERR_OUT_OF_MEMORY`, `VMA_ERR_OS`, `VMA_ERR_TOP_BLOCK_OPEN`,
/// `VMA_ERR_NULL_POINTER` (`s` may be NULL only when `len` is 0). Nothing changes then.
///
/// # Safety
/// `m` is NULL or a live handle used by no other thread during the call; `s` valid for reads
/// of `len` bytes; `out` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_alloc_cstr(
    m: *mut vma_mallocator,
    s: *const c_char,
    len: usize,
    out: *mut *mut c_char,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, s, out) = unsafe {
            (
                mover(m, "vma_alloc_cstr")?,
                input(s.cast(), len, "s")?,
                out_param(out, "out")?,
            )
        };
        *out = arena.alloc_cstr(s)?.as_ptr().cast_mut();
        Ok(())
    })
}

/// Copies the `len` UTF-16 units at `units` as they are (unpaired surrogates included, as
/// Windows allows; no NUL among them) followed by a NUL unit: a wide string for Windows APIs
/// (`LPCWSTR`). The block is aligned to 2. `*out` is its address, `*out_len` (if not NULL)
/// its length in units, the terminator included (`len + 1`). To encode UTF-8 text as UTF-16,
/// use `vma_alloc_str` with width 2.
///
/// # Errors
/// `VMA_ERR_INTERIOR_NUL` with `vma_last_error_offset()` at the index (in units) of the first
/// NUL unit, `VMA_ERR_NOT_WRITABLE`, `VMA_ERR_OUT_OF_MEMORY`, `VMA_ERR_OS`,
/// `VMA_ERR_TOP_BLOCK_OPEN`, `VMA_ERR_NULL_POINTER` (`units` may be NULL only when `len` is
/// 0). Nothing changes then.
///
/// # Safety
/// `m` as for `vma_alloc_cstr`; `units` NULL or valid for reads of `len` units, aligned;
/// `out` NULL or valid for writing a pointer; `out_len` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_alloc_utf16_units(
    m: *mut vma_mallocator,
    units: *const u16,
    len: usize,
    out: *mut *mut u16,
    out_len: *mut usize,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, out) = unsafe { (mover(m, "vma_alloc_utf16_units")?, out_param(out, "out")?) };
        let units = if len == 0 {
            &[][..]
        } else if units.is_null() {
            return Err(Failure::Null("units"));
        } else {
            // SAFETY: the caller promises `len` readable, aligned units at the non-NULL `units`.
            unsafe { core::slice::from_raw_parts(units, len) }
        };
        let block = arena.alloc_utf16_units(units)?;
        *out = block.as_mut_ptr();
        // SAFETY: `out_len` is NULL or valid for a write, as the caller promises.
        if let Some(n) = unsafe { out_len.as_mut() } {
            *n = block.len();
        }
        Ok(())
    })
}
