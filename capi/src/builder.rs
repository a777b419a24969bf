//! The builder: the options of a region that make sense across a C boundary.

use vmallocator::{Builder, HugePages};

use crate::arena::{hand_out, out_param, vma_mallocator};
use crate::protect::protection_from_c;
use crate::status::{Failure, call, vma_status};

/// Options for a new arena. Opaque; `vma_builder_new`, set options, `vma_builder_build`
/// (as often as wanted), `vma_builder_free`. Not thread-safe.
pub struct vma_builder {
    builder: Builder,
}

/// Normal pages (the default).
pub const VMA_HUGE_PAGES_OFF: u32 = 0;
/// Linux transparent huge pages (2 MiB aligned, `madvise`); elsewhere normal pages.
pub const VMA_HUGE_PAGES_TRANSPARENT: u32 = 1;
/// Huge pages the system keeps aside (`MAP_HUGETLB`, `MEM_LARGE_PAGES`); falls back to
/// normal pages when refused.
pub const VMA_HUGE_PAGES_EXPLICIT: u32 = 2;

/// A new builder with the defaults: one granule, read+write, committed at once. Free it
/// with `vma_builder_free`. Never NULL (aborts if memory for it cannot be had).
#[unsafe(no_mangle)]
pub extern "C" fn vma_builder_new() -> *mut vma_builder {
    Box::into_raw(Box::new(vma_builder {
        builder: Builder::new(),
    }))
}

/// Frees a builder. NULL is ignored.
///
/// # Safety
/// `b` is NULL or a builder from `vma_builder_new` not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_builder_free(b: *mut vma_builder) {
    if !b.is_null() {
        // SAFETY: the caller promises `b` came from `vma_builder_new` and is freed once.
        drop(unsafe { Box::from_raw(b) });
    }
}

/// Applies `f` to the builder behind `b`.
///
/// # Safety
/// `b` is NULL or a live builder used by no other thread during the call.
pub(crate) unsafe fn set(
    b: *mut vma_builder,
    f: impl FnOnce(Builder) -> Result<Builder, Failure>,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let b = unsafe { b.as_mut() }.ok_or(Failure::Null("the builder"))?;
        b.builder = f(b.builder.clone())?;
        Ok(())
    })
}

/// The size to commit up front (without `reserve`: the region's size), rounded up to pages.
///
/// # Safety
/// `b` is NULL or a live builder used by no other thread during the call; the same holds
/// for every `vma_builder_*` setter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_builder_size(b: *mut vma_builder, size: usize) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { set(b, |b| Ok(b.size(size))) }
}

/// Reserve `bytes` of address space (the hard cap) and commit lazily as the pointer needs.
///
/// # Safety
/// As for `vma_builder_size`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_builder_reserve(b: *mut vma_builder, bytes: usize) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { set(b, |b| Ok(b.reserve(bytes))) }
}

/// How much to commit at a time in a reservation (default 1 MiB).
///
/// # Safety
/// As for `vma_builder_size`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_builder_commit_step(b: *mut vma_builder, bytes: usize) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { set(b, |b| Ok(b.commit_step(bytes))) }
}

/// The protection of the region's pages (`VMA_PROT_*`); `VMA_ERR_INVALID_ARGUMENT` for any
/// other value (the builder is then unchanged).
///
/// # Safety
/// As for `vma_builder_size`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_builder_protection(
    b: *mut vma_builder,
    protection: u32,
) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { set(b, |b| Ok(b.protection(protection_from_c(protection)?))) }
}

/// Huge pages (`VMA_HUGE_PAGES_*`); `VMA_ERR_INVALID_ARGUMENT` for any other value.
///
/// # Safety
/// As for `vma_builder_size`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_builder_huge_pages(b: *mut vma_builder, mode: u32) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        set(b, |b| {
            let mode = match mode {
                VMA_HUGE_PAGES_OFF => HugePages::Off,
                VMA_HUGE_PAGES_TRANSPARENT => HugePages::Transparent,
                VMA_HUGE_PAGES_EXPLICIT => HugePages::Explicit,
                m => {
                    return Err(Failure::InvalidArgument(format!(
                        "huge-page mode {m} is not a VMA_HUGE_PAGES_* value"
                    )));
                }
            };
            Ok(b.huge_pages(mode))
        })
    }
}

/// `before` and `after` inaccessible guard pages around the region.
///
/// # Safety
/// As for `vma_builder_size`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_builder_guard_pages(
    b: *mut vma_builder,
    before: usize,
    after: usize,
) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { set(b, |b| Ok(b.guard_pages(before, after))) }
}

/// Place the region at exactly `addr` (page-aligned), never replacing a mapping: the build
/// fails with `VMA_ERR_ADDRESS_IN_USE` instead.
///
/// # Safety
/// As for `vma_builder_size`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_builder_at(b: *mut vma_builder, addr: usize) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { set(b, |b| Ok(b.at(addr))) }
}

/// Place the region so that every byte lies within `distance` of `addr` (±2 GiB for x86_64
/// `rel32`); the build fails with `VMA_ERR_NO_FREE_SPACE_NEAR` when nothing there is free.
///
/// # Safety
/// As for `vma_builder_size`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_builder_near(
    b: *mut vma_builder,
    addr: usize,
    distance: usize,
) -> vma_status {
    // SAFETY: forwarded from the caller.
    unsafe { set(b, |b| Ok(b.near(addr, distance))) }
}

/// Creates an arena with the builder's options; `*out` is the new handle (see
/// `vma_create`). The builder stays usable.
///
/// # Errors
/// `VMA_ERR_ZERO_SIZE`, `VMA_ERR_SIZE_OVERFLOW`, `VMA_ERR_INVALID_OPTIONS`,
/// `VMA_ERR_INVALID_ADDRESS`, `VMA_ERR_ADDRESS_IN_USE`, `VMA_ERR_NO_FREE_SPACE_NEAR`,
/// `VMA_ERR_OS`, `VMA_ERR_NULL_POINTER`.
///
/// # Safety
/// `b` as for `vma_builder_size`; `out` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_builder_build(
    b: *const vma_builder,
    out: *mut *mut vma_mallocator,
) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (b, out) = unsafe { (b.as_ref(), out_param(out, "out")?) };
        let b = b.ok_or(Failure::Null("the builder"))?;
        hand_out(b.builder.build()?, out);
        Ok(())
    })
}

/// `*out` = the huge pages in effect (`VMA_HUGE_PAGES_*`): `VMA_HUGE_PAGES_OFF` unless
/// asked for and granted.
///
/// # Safety
/// `m` NULL or a live handle used by no other thread during the call; `out` NULL or valid
/// for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vma_huge_pages(m: *const vma_mallocator, out: *mut u32) -> vma_status {
    call(|| {
        // SAFETY: forwarded from the caller.
        let (arena, out) = unsafe { (crate::arena::arena(m)?, out_param(out, "out")?) };
        *out = match arena.huge_pages() {
            HugePages::Transparent => VMA_HUGE_PAGES_TRANSPARENT,
            HugePages::Explicit => VMA_HUGE_PAGES_EXPLICIT,
            _ => VMA_HUGE_PAGES_OFF,
        };
        Ok(())
    })
}
