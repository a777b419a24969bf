//! The thread-safe arena: [`SharedArena`] hands out blocks of one region to many threads.
//!
//! Threads claim chunks of the region with one atomic bump of a shared cursor
//! ([`claim`], where the protocol is written down and model-checked), then allocate inside
//! their chunk with a plain bump, no atomics: through a [`Local`] handle borrowed from the
//! arena, or through a per-thread cache that `&self` calls on the arena look up. Blocks
//! larger than an eighth of a chunk go straight to the shared cursor. Invariant: every
//! byte below the cursor belongs to exactly one chunk or block; a chunk's bytes are handed
//! out at most once, by its one owner; everything claimed is committed. Resets take
//! `&mut self`, so no handle and no block outlives them.
//!
//! Handing out `&mut [u8]` from `&self` is the point of an arena and sound here, as in
//! [`crate::Mallocator`]: each byte is handed out once until a reset, which needs `&mut self`.
#![allow(clippy::mut_from_ref)]

use core::alloc::Layout;
use core::fmt;
use core::ptr::NonNull;
use core::slice;

use crate::region::Region;
use crate::{Builder, CharWidth, Error, FreeError, HugePages, Protection};

mod claim;
mod code;
mod local;
mod write;

use claim::Claim;
pub use code::SharedCode;
pub use local::Local;

/// The atomics and the lock of the claim protocol: loom's under the model checker, so the
/// model checks the very code the arena runs.
mod atomic {
    #[cfg(all(loom, test))]
    pub(crate) use loom::sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    };
    #[cfg(not(all(loom, test)))]
    pub(crate) use std::sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    };
}

/// The chunk size when none is set: 64 KiB.
pub const DEFAULT_CHUNK_SIZE: usize = 64 << 10;

/// The address space [`SharedArena::new`] reserves: 1 GiB on 64-bit targets, 64 MiB on
/// others, committed 1 MiB at a time as it is used.
pub const DEFAULT_SHARED_RESERVE: usize = if usize::BITS >= 64 { 1 << 30 } else { 64 << 20 };

/// A region of virtual memory that many threads allocate from at once: `Sync`, one
/// reservation, one base, every block inside it.
///
/// Each thread claims a **chunk** of the region ([`SharedBuilder::chunk_size`], 64 KiB by
/// default) with one atomic operation on a shared cursor, then bumps inside it without
/// atomics. Two ways to allocate:
///
/// - [`local`](Self::local) borrows a [`Local`] handle, for a thread's hot loop: its
///   helpers cost about what [`Mallocator`](crate::Mallocator)'s do.
/// - The helpers on the arena itself (`&self`) look the calling thread's chunk up in a
///   thread-local cache first: a few instructions more per call. The cache holds one
///   arena per thread; a thread that alternates between arenas claims a new chunk at each
///   switch.
///
/// Blocks above an eighth of the chunk size go straight to the shared cursor. Blocks stay
/// valid until the arena is reset (which needs `&mut self`, so no handle or block can be
/// alive then) or released.
///
/// **Memory cost.** A chunk that cannot hold the next block is left with its tail unused;
/// that tail is at most an eighth of a chunk (plus alignment), and nothing when the same
/// thread's next chunk follows it directly, as it does for one thread alone. Each thread
/// (and each handle) holds one partly used chunk at a time. A dropped handle gives its
/// tail back when no other claim followed it. Smaller chunks waste less and claim more
/// often; larger ones the reverse: claims are rare at 64 KiB (one atomic operation per
/// 64 KiB of blocks). Claims start on 64-byte boundaries, so threads never share a cache
/// line.
///
/// ```
/// use std::thread;
/// use vmallocator::{CharWidth, SharedArena};
///
/// let arena = SharedArena::new()?;
/// thread::scope(|s| {
///     for t in 0..4u8 {
///         let arena = &arena;
///         s.spawn(move || {
///             let local = arena.local();
///             for i in 0..1000u32 {
///                 let b = local.alloc_bytes(&i.to_le_bytes()).unwrap();
///                 assert_eq!(b, i.to_le_bytes());
///             }
///             arena.alloc_str("from the shared path", CharWidth::U8).unwrap();
///             local.alloc_bytes(&[t; 3]).unwrap()
///         });
///     }
/// });
/// assert!(arena.used() >= 4 * 4000);
/// # Ok::<(), vmallocator::Error>(())
/// ```
///
/// Blocks cannot outlive the arena:
///
/// ```compile_fail
/// let block = {
///     let arena = vmallocator::SharedArena::new()?;
///     arena.alloc_bytes(b"gone")? // error: `arena` does not live long enough
/// };
/// # Ok::<(), vmallocator::Error>(())
/// ```
pub struct SharedArena {
    region: Region,
    claim: Claim,
    /// Bytes per chunk: a multiple of 64.
    chunk: usize,
    /// Identifies this arena, since its last reset, to the per-thread caches: unique in the
    /// process, never 0.
    key: u64,
    /// The huge pages in effect, and why the requested ones are not, if so.
    huge: (HugePages, Option<Error>),
}

// The arena is shared between threads: allocation through `&self` is thread-safe.
const _: () = {
    const fn sync_and_send<T: Sync + Send>() {}
    sync_and_send::<SharedArena>();
    sync_and_send::<SharedCode>();
};

/// A fresh key for a thread cache: never 0, never handed out twice.
fn new_key() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Options for a new [`SharedArena`]: those of [`Builder`] that apply, and the chunk size.
///
/// ```
/// use vmallocator::SharedArena;
/// let arena = SharedArena::builder()
///     .reserve(16 << 30)     // 16 GiB of address space, the hard cap
///     .commit_step(4 << 20)  // committed 4 MiB at a time
///     .chunk_size(256 << 10) // each thread claims 256 KiB at a time
///     .build()?;
/// assert_eq!((arena.reserved(), arena.committed()), (16 << 30, 0));
/// # Ok::<(), vmallocator::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct SharedBuilder {
    inner: Builder,
    chunk: usize,
}

impl SharedBuilder {
    /// The size of the region, or with [`reserve`](Self::reserve) the bytes to commit up
    /// front, as [`Builder::size`].
    pub fn size(self, size: usize) -> Self {
        self.map(|b| b.size(size))
    }

    /// Reserve `bytes` of address space and commit lazily, as [`Builder::reserve`].
    pub fn reserve(self, bytes: usize) -> Self {
        self.map(|b| b.reserve(bytes))
    }

    /// How much to commit at a time, as [`Builder::commit_step`]. Commits run under a lock
    /// that only threads crossing the committed end take.
    pub fn commit_step(self, bytes: usize) -> Self {
        self.map(|b| b.commit_step(bytes))
    }

    /// The protection of the region's pages, as [`Builder::protection`]. It is fixed: the
    /// write helpers report [`Error::NotWritable`] on a region that cannot be written.
    pub fn protection(self, protection: Protection) -> Self {
        self.map(|b| b.protection(protection))
    }

    /// Huge pages where the system allows, as [`Builder::huge_pages`].
    pub fn huge_pages(self, huge: HugePages) -> Self {
        self.map(|b| b.huge_pages(huge))
    }

    /// The bytes a thread claims at a time, rounded up to a multiple of 64. Default
    /// [`DEFAULT_CHUNK_SIZE`]. Blocks above an eighth of it go straight to the shared
    /// cursor, and a chunk's unused tail is at most about an eighth of it.
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.chunk = bytes;
        self
    }

    fn map(mut self, f: impl FnOnce(Builder) -> Builder) -> Self {
        self.inner = f(self.inner);
        self
    }

    /// Maps the region, as [`Builder::build`].
    ///
    /// # Errors
    /// Those of [`Builder::build`], and [`Error::InvalidOptions`] for a chunk size of 0 or
    /// one that overflows when rounded.
    pub fn build(&self) -> Result<SharedArena, Error> {
        let chunk = self
            .chunk
            .checked_next_multiple_of(claim::LINE)
            .filter(|&c| c != 0 && c <= isize::MAX as usize)
            .ok_or(Error::InvalidOptions {
                reason: "the chunk size is 0 or too large",
            })?;
        let (region, committed, step, huge) = self.inner.build()?.into_parts();
        Ok(SharedArena {
            claim: Claim::new(
                region.base().as_ptr() as usize,
                region.len(),
                committed,
                step,
            ),
            region,
            chunk,
            key: new_key(),
            huge,
        })
    }
}

impl SharedArena {
    /// [`DEFAULT_SHARED_RESERVE`] of read+write address space, committed in steps of
    /// [`DEFAULT_COMMIT_STEP`](crate::DEFAULT_COMMIT_STEP) as it is used.
    ///
    /// # Errors
    /// [`Error::Os`] when the OS refuses the reservation.
    pub fn new() -> Result<Self, Error> {
        Self::builder().reserve(DEFAULT_SHARED_RESERVE).build()
    }

    /// `size` bytes, rounded up to whole pages, all committed, with `protection`.
    ///
    /// # Errors
    /// As [`Mallocator::with_size`](crate::Mallocator::with_size).
    pub fn with_size(size: usize, protection: Protection) -> Result<Self, Error> {
        Self::builder().size(size).protection(protection).build()
    }

    /// A [`SharedBuilder`] for the other options.
    pub fn builder() -> SharedBuilder {
        SharedBuilder {
            inner: Builder::new(),
            chunk: DEFAULT_CHUNK_SIZE,
        }
    }

    /// A handle for the calling thread's allocations, with a chunk of its own (claimed at
    /// its first allocation). It is [`Send`] but not [`Sync`]; blocks it hands out live as
    /// long as the arena's borrow, not just the handle. Dropping it gives the unused tail
    /// of its chunk back when no claim followed it.
    ///
    /// ```
    /// let arena = vmallocator::SharedArena::new()?;
    /// let local = arena.local();
    /// let a = local.alloc(3, 1)?;
    /// let b = local.alloc(5, 1)?;
    /// assert_eq!(b.as_ptr() as usize, a.as_ptr() as usize + 3); // contiguous
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    pub fn local(&self) -> Local<'_> {
        Local::new(self)
    }

    /// The first address of the region.
    #[inline]
    pub fn base(&self) -> NonNull<u8> {
        self.region.base()
    }

    /// The size of the region in bytes; with a reservation, the reserved size.
    #[inline]
    pub fn size(&self) -> usize {
        self.region.len()
    }

    /// The same as [`size`](Self::size): the most that can ever be claimed.
    #[inline]
    pub fn reserved(&self) -> usize {
        self.size()
    }

    /// The protection of the region's pages, fixed when it was built.
    #[inline]
    pub fn protection(&self) -> Protection {
        self.region.protection()
    }

    /// The chunk size: the bytes a thread claims at a time.
    #[inline]
    pub fn chunk_size(&self) -> usize {
        self.chunk
    }

    /// Bytes claimed from the region so far: chunks (used or not) and large blocks, with
    /// their rounding to 64 bytes. What is left for new claims is
    /// [`remaining`](Self::remaining).
    #[inline]
    pub fn claimed(&self) -> usize {
        self.claim.cursor()
    }

    /// Bytes handed out so far, padding included, as an upper bound: [`claimed`](Self::claimed)
    /// less the chunk tails that dropped handles left behind. The unused tails of the
    /// chunks still held (one per live handle, one per thread that allocated through
    /// `&self`) count as used. With one thread and no handle, or after every handle is
    /// dropped, it is exact up to a tail of at most one chunk per thread.
    #[inline]
    pub fn used(&self) -> usize {
        self.claimed() - self.claim.wasted()
    }

    /// Bytes of the region not claimed yet, committed or not.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.claim.len() - self.claimed()
    }

    /// Bytes of the region committed.
    #[inline]
    pub fn committed(&self) -> usize {
        self.claim.committed()
    }

    /// The most bytes ever [`claimed`](Self::claimed) at once.
    pub fn high_water_mark(&self) -> usize {
        self.claim.high()
    }

    /// The huge pages backing the region, as [`Mallocator::huge_pages`](crate::Mallocator::huge_pages).
    pub fn huge_pages(&self) -> HugePages {
        self.huge.0
    }

    /// Why the huge pages asked for are not in effect, when they are not.
    pub fn huge_pages_fallback(&self) -> Option<&Error> {
        self.huge.1.as_ref()
    }

    /// Claims `size` bytes at `align` from the shared cursor, committing as needed;
    /// returns the block's address.
    fn claim(&self, size: usize, align: usize) -> Result<usize, Error> {
        let offset = self.claim.claim(size, align, |from, to| {
            // SAFETY: `[from, to)` lies at or above the committed end, where the claim
            // protocol guarantees no claim (so no reference) exists; the commit lock is held.
            unsafe { self.region.commit(from, to - from, self.protection()) }
        })?;
        Ok(self.base().as_ptr() as usize + offset)
    }

    /// `size` bytes at a multiple of `align` through the calling thread's cached chunk,
    /// as [`Local::alloc`]. Costs a thread-local lookup more than a handle.
    ///
    /// # Errors
    /// [`Error::InvalidAlignment`] when `align` is not a power of two,
    /// [`Error::OutOfMemory`] when the block does not fit, [`Error::Os`] when committing
    /// more memory fails.
    #[inline]
    pub fn alloc(&self, size: usize, align: usize) -> Result<NonNull<u8>, Error> {
        if !align.is_power_of_two() {
            return Err(Error::InvalidAlignment { align });
        }
        let addr = self.bump_cached(size, align)?;
        // SAFETY: a block handed out lies in the region.
        Ok(unsafe { self.at(addr) })
    }

    /// [`alloc`](Self::alloc) with the size and alignment of `layout`.
    ///
    /// # Errors
    /// As [`alloc`](Self::alloc), but for the alignment, which a layout always has right.
    #[inline]
    pub fn alloc_layout(&self, layout: Layout) -> Result<NonNull<u8>, Error> {
        let addr = self.bump_cached(layout.size(), layout.align())?;
        // SAFETY: a block handed out lies in the region.
        Ok(unsafe { self.at(addr) })
    }

    /// Copies `bytes` into a new block (alignment 1), as [`Local::alloc_bytes`].
    ///
    /// ```
    /// let arena = vmallocator::SharedArena::new()?;
    /// assert_eq!(arena.alloc_bytes(&[1, 2, 3])?, [1, 2, 3]);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotWritable`] on a region that cannot be written, else as
    /// [`alloc`](Self::alloc).
    pub fn alloc_bytes(&self, bytes: &[u8]) -> Result<&mut [u8], Error> {
        write::bytes(self, bytes, |s, a| self.bump_cached(s, a))
    }

    /// Copies `s` into a new block in `width`, NUL-terminated, as [`Local::alloc_str`].
    ///
    /// ```
    /// use vmallocator::{CharWidth, SharedArena};
    /// let arena = SharedArena::new()?;
    /// assert_eq!(arena.alloc_str("hi", CharWidth::U8)?, b"hi\0");
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InteriorNul`] when `s` holds a NUL, else as [`alloc_bytes`](Self::alloc_bytes).
    pub fn alloc_str(&self, s: &str, width: CharWidth) -> Result<&mut [u8], Error> {
        write::str(self, s, width, |n, a| self.bump_cached(n, a))
    }

    /// Parses `hex` with the grammar of [`crate::hex`] into a new block, as
    /// [`Local::alloc_hex`]: straight into the calling thread's chunk where the bytes' upper
    /// bound fits there, else counted first and then decoded straight into a block of
    /// exactly that size; never through a buffer.
    ///
    /// ```
    /// let arena = vmallocator::SharedArena::new()?;
    /// assert_eq!(arena.alloc_hex("c3 ; ret")?, [0xc3]);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Hex`] when `hex` breaks the grammar, else as [`alloc_bytes`](Self::alloc_bytes).
    pub fn alloc_hex(&self, hex: &str) -> Result<&mut [u8], Error> {
        // Straight into the thread's chunk when the upper bound fits there; else counted
        // first, then straight into a block of exactly that size.
        if let Some(done) = self.hex_cached(hex) {
            return done;
        }
        write::hex_exact(self, hex, |n, a| self.bump_cached(n, a))
    }

    // Typed values (`alloc_value`, `alloc_slice_copy`, ...) belong here and on `Local`,
    // over the same bump (`bump_cached` / `Local::bump`) and `write::check_writable`.

    /// A pointer to `addr` with the region's provenance.
    ///
    /// # Safety
    /// `addr` must lie in `[base, base + size]`.
    #[inline(always)]
    unsafe fn at(&self, addr: usize) -> NonNull<u8> {
        debug_assert!(addr >= self.base().as_ptr() as usize);
        debug_assert!(addr <= self.base().as_ptr() as usize + self.size());
        let p = self.base().as_ptr().with_addr(addr);
        // SAFETY: per the contract `addr` is at least the base address, which is not null.
        unsafe { NonNull::new_unchecked(p) }
    }

    /// The block `[addr, addr + len * size_of::<T>())` as a slice.
    ///
    /// # Safety
    /// The block must have just been handed out (claimed, committed, covered by no other
    /// reference), the region must be writable, and `addr` aligned for `T`.
    #[inline(always)]
    unsafe fn block<T>(&self, addr: usize, len: usize) -> &mut [T] {
        debug_assert_eq!(addr % align_of::<T>(), 0);
        debug_assert!(
            addr + len * size_of::<T>() <= self.base().as_ptr() as usize + self.claim.committed()
        );
        // SAFETY: per the contract the block lies in the region.
        let start = unsafe { self.at(addr) };
        // SAFETY: per the contract the memory is committed, writable, aligned and
        // unaliased; any bytes are valid for the integer types used here.
        unsafe { slice::from_raw_parts_mut(start.as_ptr().cast::<T>(), len) }
    }

    /// Moves the cursor back to the start: the whole region can be claimed again.
    /// **Contents:** unchanged; the memory stays committed. Takes `&mut self`, so no handle
    /// and no block is alive; the threads' cached chunks are forgotten.
    ///
    /// ```
    /// let mut arena = vmallocator::SharedArena::new()?;
    /// arena.alloc_bytes(&[1; 100])?;
    /// arena.reset();
    /// assert_eq!((arena.used(), arena.claimed()), (0, 0));
    /// assert!(arena.high_water_mark() >= 100);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    pub fn reset(&mut self) {
        self.claim.reset();
        self.key = new_key();
    }

    /// [`reset`](Self::reset), then zeroes every byte claimed since the memory was last
    /// zeroed: the region reads as zero afterwards, as when new.
    ///
    /// ```
    /// let mut arena = vmallocator::SharedArena::new()?;
    /// arena.alloc_bytes(b"secret")?;
    /// arena.reset_zeroed()?;
    /// let p = arena.alloc(6, 1)?;
    /// // SAFETY: 6 bytes just handed out, all zero after the reset.
    /// assert_eq!(unsafe { core::slice::from_raw_parts(p.as_ptr(), 6) }, [0; 6]);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotWritable`] when the region cannot be written; nothing changes then.
    pub fn reset_zeroed(&mut self) -> Result<(), Error> {
        write::check_writable(self)?;
        self.reset();
        let dirty = self.claim.dirty();
        let base = self.base().as_ptr() as usize;
        // SAFETY: `[base, base + dirty)` is committed (dirty is clamped to `committed`)
        // and writable, and `&mut self` means no reference into it is alive.
        unsafe { self.block::<u8>(base, dirty) }.fill(0);
        self.claim.zeroed();
        Ok(())
    }

    /// [`reset`](Self::reset), then gives every committed page back to the OS, keeping the
    /// address range reserved, as [`Mallocator::reset_decommit`](crate::Mallocator::reset_decommit)
    /// (regions of explicit huge pages are zeroed instead).
    ///
    /// ```
    /// let mut arena = vmallocator::SharedArena::new()?;
    /// arena.alloc_bytes(&[1; 64])?;
    /// arena.reset_decommit()?;
    /// assert_eq!(arena.committed(), 0);
    /// assert_eq!(arena.alloc_bytes(&[2])?, [2]); // commits again
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Os`] when the OS refuses; the cursor and the memory are then unchanged.
    pub fn reset_decommit(&mut self) -> Result<(), Error> {
        if self.huge.0 == HugePages::Explicit {
            return self.reset_zeroed();
        }
        // SAFETY: `&mut self`: no reference into the region is alive.
        unsafe { self.region.decommit(0, self.committed()) }?;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if self.huge.0 == HugePages::Transparent
            && let Err(why) = self.region.advise_huge_pages()
        {
            self.huge = (HugePages::Off, Some(why));
        }
        self.reset();
        self.claim.decommitted();
        Ok(())
    }

    /// Releases the region to the OS, reporting its answer; dropping the arena releases it
    /// too, ignoring the answer (a region the OS refuses to release is then leaked).
    ///
    /// # Errors
    /// [`FreeError`] when the OS refuses (`munmap` / `VirtualFree`): its [`Error::Os`] and
    /// the arena, unchanged and usable, to retry or keep.
    #[allow(clippy::result_large_err)] // the arena comes back unboxed: no allocation at the OS's limits
    pub fn free(self) -> Result<(), FreeError<SharedArena>> {
        let SharedArena {
            region,
            claim,
            chunk,
            key,
            huge,
        } = self;
        region.release().map_err(|(error, region)| {
            let arena = SharedArena {
                region,
                claim,
                chunk,
                key,
                huge,
            };
            FreeError::new(error, arena)
        })
    }
}

impl fmt::Debug for SharedArena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedArena")
            .field("base", &self.base())
            .field("size", &self.size())
            .field("committed", &self.committed())
            .field("claimed", &self.claimed())
            .field("used", &self.used())
            .field("chunk_size", &self.chunk)
            .field("protection", &self.protection())
            .finish()
    }
}
