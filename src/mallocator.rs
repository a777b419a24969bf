//! The bump core: [`Mallocator`] hands out blocks of its region, upward, through `&self`.
//!
//! This is the one module above [`crate::sys`] with `unsafe` code: it turns addresses
//! inside the region into pointers and slices. Its invariant, checked on every path:
//! `base <= ptr <= limit`, every byte in `[base, ptr)` has been handed out at most once,
//! and no reference into `[ptr, limit)` exists. Pages in `[base, end)` are committed; the
//! hot path checks against `end` (the write helpers' against `wend`, which is `end` only
//! while every page is writable), and the cold path commits more, up to `limit`.
//!
//! Handing out `&mut [u8]` from `&self` (what `clippy::mut_from_ref` warns of) is the
//! point of an arena and sound here: each block is bumped past once, so no two live
//! references cover the same byte, and reset or protection changes take `&mut self`.
#![allow(clippy::mut_from_ref)]

use core::alloc::Layout;
use core::cell::Cell;
use core::fmt;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use core::slice;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::protect::ProtMap;
use crate::region::Region;
use crate::{Builder, Error, HugePages, Protection};

#[cfg(feature = "allocator-api2")]
mod alloc_api;
mod foreign;
mod free;
mod reuse;
mod scope;
mod text_hex;
mod top;
mod typed;
mod writable;

pub use free::FreeError;
pub use reuse::Checkpoint;
pub use scope::{Scope, ScopeGuard};
pub use top::TopVec;

/// Whether every region ends at or below [`ADDRESS_TOP`], which lets the hot path
/// ([`Mallocator::bump`]) skip its overflow guards. True on 64-bit targets, where user
/// space lies in the lower half of the address space on every supported OS (x86_64: below
/// 2^47, or 2^56 with five-level paging; aarch64: below 2^52), and construction refuses a
/// region above it; 32-bit targets keep the guards.
pub(crate) const LOWER_HALF: bool = cfg!(target_pointer_width = "64");

/// 2^63 on 64-bit targets: the highest address a region may end at.
const ADDRESS_TOP: usize = 1 << (usize::BITS - 1);

/// A region of virtual memory at a fixed address, handing out blocks with a bump pointer.
///
/// Blocks are laid out upward, in call order, each at the lowest address that meets its
/// alignment: consecutive align-1 allocations are contiguous, so code and data can be
/// built by appending. The one exception: [`publish`](Self::publish) of the page holding
/// the bump pointer seals it, and the next block starts on the next page, so code can be
/// appended after published code without making it writable again. Blocks are not freed one by one; the whole region goes back to the
/// OS with [`free`](Self::free) or on drop.
///
/// Allocation goes through `&self`, so blocks handed out earlier stay usable while new
/// ones are made; every call is checked and returns an [`Error`] instead of panicking,
/// and a failed call leaves the arena exactly as it was.
///
/// `Mallocator` is [`Send`] but not [`Sync`]: one thread allocates at a time.
///
/// ```
/// use vmallocator::{CharWidth, Mallocator};
///
/// let m = Mallocator::new()?;
/// let block = m.alloc(1024, 1)?;
/// let aligned = m.alloc(512, 16)?;
/// assert_eq!(aligned.as_ptr() as usize % 16, 0);
/// assert!(aligned.as_ptr() as usize >= block.as_ptr() as usize + 1024);
///
/// let s = m.alloc_str("Hello World", CharWidth::U16)?;
/// assert_eq!(s.len(), 2 * 12); // 11 units and the terminator
/// let b = m.alloc_bytes(&[1, 2, 3])?;
/// assert_eq!(b, [1, 2, 3]);
/// let h = m.alloc_hex("00 ab f9 0x42")?;
/// assert_eq!(h, [0x00, 0xab, 0xf9, 0x42]);
/// m.free()?;
/// # Ok::<(), vmallocator::Error>(())
/// ```
pub struct Mallocator {
    pub(crate) region: Region,
    /// Address of the next free byte, minus one: the bump pointer, biased so that the hot
    /// path rounds up with one `or` ([`bump`](Self::bump)). Read and written through
    /// [`ptr_addr`](Self::ptr_addr) and [`set_ptr_addr`](Self::set_ptr_addr) elsewhere.
    top: Cell<usize>,
    /// Address one past the committed part of the region.
    end: Cell<usize>,
    /// The `end` of blocks that will be written: `end` while every page is writable, 0
    /// otherwise, so the write helpers' hot path is the one compare of
    /// [`bump`](Self::bump) and any other page goes to the checked path. Set with `end`
    /// ([`set_end`](Self::set_end)) and with `all_writable`.
    wend: Cell<usize>,
    /// The highest `ptr` ever reached, as of the last time `ptr` moved down.
    high: Cell<usize>,
    /// The highest `ptr` since the memory was last zeroed, as of the last time `ptr` moved
    /// down: bytes above it (and below `end`) still read as zero.
    dirty: Cell<usize>,
    /// Bytes committed at a time when the pointer passes `end`: whole pages.
    step: usize,
    /// The huge pages in effect, and why the requested ones are not, if so.
    huge: (HugePages, Option<Error>),
    /// The protection of each run of pages, committed or not.
    pub(crate) prots: ProtMap,
    /// Whether every page is writable: the write helpers' fast path.
    pub(crate) all_writable: bool,
    /// This arena's identity, unique in the process: checkpoints and block handles carry it,
    /// so one taken on another arena (even one since freed and mapped again at the same
    /// address) is told apart.
    id: u64,
}

/// The identity of the next arena. 2^64 arenas cannot be made in a process's lifetime.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Mallocator {
    /// One allocation granule ([`granularity`](crate::granularity): 64 KiB on Windows, a
    /// page elsewhere) of read+write memory, like the original's default.
    ///
    /// # Errors
    /// [`Error::Os`] when the OS refuses the mapping.
    pub fn new() -> Result<Self, Error> {
        Builder::new().build()
    }

    /// `size` bytes, rounded up to whole pages, with `protection`.
    ///
    /// ```
    /// use vmallocator::{Mallocator, Protection};
    /// let m = Mallocator::with_size(10_000, Protection::READ_WRITE)?;
    /// assert_eq!(m.size() % vmallocator::page_size(), 0);
    /// assert!(m.size() >= 10_000);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ZeroSize`] for 0, [`Error::SizeOverflow`] when rounding overflows or the size
    /// passes `isize::MAX`, [`Error::Os`] when the OS refuses.
    pub fn with_size(size: usize, protection: Protection) -> Result<Self, Error> {
        Builder::new().size(size).protection(protection).build()
    }

    /// A [`Builder`] for the options beyond size and protection.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// An arena over `region`, whose first `committed` bytes are committed.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when the region ends above [`ADDRESS_TOP`] on a 64-bit
    /// target (no supported OS maps user memory there); the region is released then.
    pub(crate) fn from_region(
        region: Region,
        committed: usize,
        step: usize,
        huge: (HugePages, Option<Error>),
    ) -> Result<Self, Error> {
        debug_assert!(committed <= region.len() && step > 0);
        let start = region.base().as_ptr() as usize;
        if LOWER_HALF && region.len() > ADDRESS_TOP.saturating_sub(start) {
            return Err(Error::Unsupported);
        }
        Ok(Mallocator {
            // The region's base is not null, so the bias cannot wrap.
            top: Cell::new(start - 1),
            end: Cell::new(start + committed),
            wend: Cell::new(if region.protection().is_writable() {
                start + committed
            } else {
                0
            }),
            high: Cell::new(start),
            dirty: Cell::new(start),
            step,
            huge,
            prots: ProtMap::new(region.len(), region.protection()),
            all_writable: region.protection().is_writable(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            region,
        })
    }

    /// The bump pointer: the address of the next free byte.
    #[inline(always)]
    fn ptr_addr(&self) -> usize {
        self.top.get() + 1
    }

    /// Moves the bump pointer to `addr` (not null).
    #[inline(always)]
    fn set_ptr_addr(&self, addr: usize) {
        self.top.set(addr - 1);
    }

    /// The region and its state: how much of it is committed, the commit step and the
    /// huge pages, for an arena of another kind to take over (the inverse of
    /// [`from_region`](Self::from_region)).
    pub(crate) fn into_parts(self) -> (Region, usize, usize, (HugePages, Option<Error>)) {
        let committed = self.committed();
        let Mallocator {
            region, step, huge, ..
        } = self;
        (region, committed, step, huge)
    }

    /// The first address of the region.
    #[inline]
    pub fn base(&self) -> NonNull<u8> {
        self.region.base()
    }

    /// The next free address: where the next align-1 block will start.
    #[inline]
    pub fn ptr(&self) -> NonNull<u8> {
        // SAFETY: the bump pointer always lies in `[base, limit]`.
        unsafe { self.at(self.ptr_addr()) }
    }

    /// The size of the region in bytes: a whole number of pages. With a reservation
    /// ([`Builder::reserve`]) this is the reserved size, the hard cap.
    #[inline]
    pub fn size(&self) -> usize {
        self.region.len()
    }

    /// Address one past the region.
    #[inline]
    fn limit(&self) -> usize {
        self.base().as_ptr() as usize + self.region.len()
    }

    /// Bytes handed out so far, alignment padding included.
    #[inline]
    pub fn used(&self) -> usize {
        self.ptr_addr() - self.base().as_ptr() as usize
    }

    /// Bytes left between [`ptr`](Self::ptr) and the end of the region (committed or not).
    #[inline]
    pub fn remaining(&self) -> usize {
        self.limit() - self.ptr_addr()
    }

    /// The protection of the whole region when all its pages have the same, `None` when
    /// they differ (after [`protect`](Self::protect), [`publish`](Self::publish) or
    /// [`make_writable`](Self::make_writable) on part of it); ask
    /// [`protection_at`](Self::protection_at) or [`protection_of`](Self::protection_of)
    /// about parts. Pages reserved but not committed yet count with the protection they will
    /// be committed with.
    ///
    /// ```
    /// use vmallocator::{Mallocator, Protection, page_size};
    /// let mut m = Mallocator::with_size(2 * page_size(), Protection::READ_WRITE)?;
    /// assert_eq!(m.protection(), Some(Protection::READ_WRITE));
    /// m.publish(..1)?; // the first page
    /// assert_eq!(m.protection(), None);
    /// m.publish(..)?;
    /// assert_eq!(m.protection(), Some(Protection::READ_EXECUTE));
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    #[inline]
    pub fn protection(&self) -> Option<Protection> {
        self.prots.uniform()
    }

    /// This arena's identity, unique among all arenas the process has made.
    #[inline]
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Changes the protection of the whole region (`mprotect(2)` / `VirtualProtect`).
    ///
    /// Takes `&mut self`, so no block handed out as a slice can outlive the change: a
    /// reference into memory that just became read-only or executable cannot be written
    /// through. Raw pointers from [`alloc`](Self::alloc) stay valid addresses, but using
    /// them must respect the new protection. The write helpers check the protection and
    /// return [`Error::NotWritable`] instead of faulting.
    ///
    /// ```
    /// use vmallocator::{Error, Mallocator, Protection};
    /// let mut m = Mallocator::new()?;
    /// m.alloc_bytes(&[0xc3])?;
    /// m.set_protection(Protection::READ)?;
    /// assert_eq!(m.used_bytes()?.len(), 1); // still readable
    /// assert!(matches!(m.alloc_bytes(&[1]), Err(Error::NotWritable { .. })));
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Os`] when the OS refuses; the protection is then unchanged.
    pub fn set_protection(&mut self, protection: Protection) -> Result<(), Error> {
        self.protect(.., protection)?;
        self.region.set_protection_field(protection);
        Ok(())
    }

    /// Moves the bump pointer up to `addr`, skipping the bytes between: used to start the
    /// next block on a fresh page. The skipped bytes count as handed out.
    pub(crate) fn raise_to(&mut self, addr: usize) {
        debug_assert!(addr >= self.ptr_addr() && addr <= self.end.get());
        self.set_ptr_addr(addr);
    }

    /// A pointer to `addr` with the region's provenance.
    ///
    /// # Safety
    /// `addr` must lie in `[base, limit]` (so it is not null).
    #[inline(always)]
    unsafe fn at(&self, addr: usize) -> NonNull<u8> {
        debug_assert!(addr >= self.base().as_ptr() as usize && addr <= self.limit());
        let p = self.region.base().as_ptr().with_addr(addr);
        // SAFETY: per the contract `addr` is at least the region's base address, which is
        // not null.
        unsafe { NonNull::new_unchecked(p) }
    }

    /// Bumps the pointer past `size` bytes at `align`, or returns `None` without change.
    ///
    /// The hot path: a handful of instructions once inlined. On 64-bit targets it has no
    /// overflow guard of its own, by [`ADDRESS_TOP`]: the region ends at or below 2^63, so
    /// rounding the pointer up to any power-of-two `align` (the largest is 2^63) gives at
    /// most 2^63, and adding a `size` of at most `isize::MAX` cannot wrap. Larger sizes
    /// return `None` here ([`grow`](Self::grow), which callers fall back to, computes
    /// exactly and refuses them); for a constant size that test disappears at compile time.
    #[inline(always)]
    fn bump(&self, size: usize, align: usize) -> Option<usize> {
        if size > isize::MAX as usize {
            return None;
        }
        self.bump_sized(size, align)
    }

    /// [`bump`](Self::bump) for a block that will be written: `None` too when some page of
    /// the region is not writable (see `wend`).
    #[inline(always)]
    fn bump_write(&self, size: usize, align: usize) -> Option<usize> {
        if size > isize::MAX as usize {
            return None;
        }
        self.bump_below(size, align, &self.wend)
    }

    /// [`bump`](Self::bump) for a `size` of at most `isize::MAX`, as every [`Layout`]'s is.
    ///
    /// With the pointer kept minus one (`top = ptr - 1`), the block's address is
    /// `(top | mask) + 1`, the pointer rounded up, and the new `top` is `(top | mask) + size`:
    /// two dependent operations from one pointer to the next, whatever the layout.
    #[inline(always)]
    fn bump_sized(&self, size: usize, align: usize) -> Option<usize> {
        self.bump_below(size, align, &self.end)
    }

    /// [`bump_sized`](Self::bump_sized) for a block that must end at or below `end`:
    /// `self.end`, or `self.wend` for a block that will be written.
    #[inline(always)]
    fn bump_below(&self, size: usize, align: usize, end: &Cell<usize>) -> Option<usize> {
        debug_assert!(align.is_power_of_two() && size <= isize::MAX as usize);
        debug_assert!(end.get() <= self.end.get());
        let mask = align - 1;
        let top = self.top.get();
        if !LOWER_HALF {
            // No address bound to lean on: guard both additions below.
            top.checked_add(size.checked_add(mask)?.checked_add(1)?)?;
        }
        debug_assert!(!LOWER_HALF || top < ADDRESS_TOP);
        // Cannot wrap: `top < 2^63` and `mask < 2^63`, so `rounded < 2^63`, and
        // `size <= isize::MAX` (see `bump`).
        let rounded = top | mask;
        let new_top = rounded + size;
        // The block ends at `new_top + 1`, which must not pass `end`.
        if new_top >= end.get() {
            return None;
        }
        self.top.set(new_top);
        Some(rounded + 1)
    }

    /// [`bump`](Self::bump), committing more of the region when the block passes `end`.
    #[inline(always)]
    fn bump_or_grow(&self, size: usize, align: usize) -> Result<usize, Error> {
        match self.bump(size, align) {
            Some(addr) => Ok(addr),
            None => self.grow(size, align),
        }
    }

    /// The cold path of [`bump`](Self::bump): commits whole steps up to the block's end
    /// (never past the region), then hands the block out. On any error nothing changes.
    #[cold]
    #[inline(never)]
    fn grow(&self, size: usize, align: usize) -> Result<usize, Error> {
        let ptr = self.ptr_addr();
        let pad = ptr.wrapping_neg() & (align - 1);
        let needed = pad
            .checked_add(size)
            .filter(|&n| n <= self.limit() - ptr)
            .ok_or_else(|| self.out_of_memory(size, align))?;
        let base = self.base().as_ptr() as usize;
        let (end, block_end) = (self.end.get() - base, ptr + needed - base);
        if block_end > end {
            // Whole steps from `end`, so commits stay aligned to the step; clamped at the
            // region's end, itself a whole number of pages.
            let steps = (block_end - end).div_ceil(self.step);
            let new_end = steps
                .checked_mul(self.step)
                .and_then(|n| n.checked_add(end))
                .map_or(self.size(), |e| e.min(self.size()));
            // Each run of pages gets the protection recorded for it. `[end, new_end)` lies at
            // or above the committed end, a page boundary at or above the bump pointer, so
            // no block handed out covers it.
            match self.prots.uniform() {
                // SAFETY: no reference covers `[end, new_end)` (see above).
                Some(p) => unsafe { self.region.commit(end, new_end - end, p) }?,
                None => {
                    let failed = self.prots.find_segment(end, new_end, |s, e, p| {
                        // SAFETY: `[s, e)` is part of `[end, new_end)`, which no reference
                        // covers (see above).
                        unsafe { self.region.commit(s, e - s, p) }.err()
                    });
                    if let Some(e) = failed {
                        return Err(e);
                    }
                }
            }
            self.set_end(base + new_end);
        }
        self.set_ptr_addr(ptr + needed);
        Ok(ptr + pad)
    }

    #[cold]
    #[inline(never)]
    fn out_of_memory(&self, size: usize, align: usize) -> Error {
        Error::OutOfMemory {
            requested: size,
            align,
            remaining: self.remaining(),
        }
    }

    /// Hands out `size` bytes at an address that is a multiple of `align`, just above the
    /// previous block (only alignment padding between them, or the rest of a page that
    /// [`publish`](Self::publish) sealed). Size 0 is allowed: it returns
    /// the aligned current address and uses only the padding.
    ///
    /// The memory is whatever the region holds there: zeroes from the OS on first use.
    ///
    /// ```
    /// # let m = vmallocator::Mallocator::new()?;
    /// let a = m.alloc(3, 1)?;
    /// let b = m.alloc(5, 1)?;
    /// assert_eq!(b.as_ptr() as usize, a.as_ptr() as usize + 3); // contiguous
    /// assert!(m.alloc(1, 3).is_err()); // not a power of two
    /// assert!(m.alloc(usize::MAX, 1).is_err());
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidAlignment`] when `align` is not a power of two,
    /// [`Error::OutOfMemory`] when the block does not fit in what remains.
    #[inline]
    pub fn alloc(&self, size: usize, align: usize) -> Result<NonNull<u8>, Error> {
        if !align.is_power_of_two() {
            return Err(Error::InvalidAlignment { align });
        }
        let addr = self.bump_or_grow(size, align)?;
        // SAFETY: a block handed out by the bump starts in `[base, limit]`.
        Ok(unsafe { self.at(addr) })
    }

    /// [`alloc`](Self::alloc) with the size and alignment of `layout`.
    ///
    /// ```
    /// # let m = vmallocator::Mallocator::new()?;
    /// let p = m.alloc_layout(core::alloc::Layout::new::<u64>())?;
    /// assert_eq!(p.as_ptr() as usize % 8, 0);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::OutOfMemory`] when the block does not fit in what remains.
    #[inline]
    pub fn alloc_layout(&self, layout: Layout) -> Result<NonNull<u8>, Error> {
        let (size, align) = (layout.size(), layout.align());
        let addr = match self.bump_sized(size, align) {
            Some(addr) => addr,
            None => self.grow(size, align)?,
        };
        // SAFETY: a block handed out by the bump starts in `[base, limit]`.
        Ok(unsafe { self.at(addr) })
    }

    /// The block `[addr, addr + len)` as a slice of `T`.
    ///
    /// # Safety
    /// The block must have just been bumped past (so it is inside the region and covered by
    /// no other reference), its pages must be readable and writable, and `addr` must be
    /// aligned for `T`.
    #[inline(always)]
    unsafe fn block<T>(&self, addr: usize, len: usize) -> &mut [T] {
        debug_assert_eq!(addr % align_of::<T>(), 0);
        debug_assert!(addr + len * size_of::<T>() <= self.end.get());
        // SAFETY: per this function's contract the block lies in the region.
        let start = unsafe { self.at(addr) };
        // SAFETY: per this function's contract the memory is in the region, aligned,
        // accessible and unaliased; any bytes are valid for the integer types used here,
        // and the OS initialised them all.
        unsafe { slice::from_raw_parts_mut(start.as_ptr().cast::<T>(), len) }
    }

    /// [`block`](Self::block) for memory that may hold uninitialised bytes (left by unsafe
    /// code in a raw block that was rewound): to be written before it is read.
    ///
    /// # Safety
    /// As for [`block`](Self::block).
    #[inline(always)]
    unsafe fn block_uninit<T>(&self, addr: usize, len: usize) -> &mut [MaybeUninit<T>] {
        debug_assert_eq!(addr % align_of::<T>(), 0);
        debug_assert!(addr + len * size_of::<T>() <= self.end.get());
        // SAFETY: per this function's contract the block lies in the region.
        let start = unsafe { self.at(addr) };
        // SAFETY: per this function's contract the memory is in the region, aligned,
        // accessible and unaliased; `MaybeUninit` makes no claim about its contents.
        unsafe { slice::from_raw_parts_mut(start.as_ptr().cast::<MaybeUninit<T>>(), len) }
    }

    /// Copies `bytes` into a new block (alignment 1) and returns it.
    ///
    /// ```
    /// # let m = vmallocator::Mallocator::new()?;
    /// let code = m.alloc_bytes(&[0xb8, 0x2a, 0, 0, 0, 0xc3])?;
    /// assert_eq!(code.as_ptr(), m.base().as_ptr());
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotWritable`] when a page the block would touch cannot be written, [`Error::OutOfMemory`]
    /// when the bytes do not fit.
    pub fn alloc_bytes(&self, bytes: &[u8]) -> Result<&mut [u8], Error> {
        let addr = self.bump_writable(bytes.len(), 1)?;
        // SAFETY: just bumped past, its pages writable; alignment 1 suits `u8`.
        let block = unsafe { self.block_uninit::<u8>(addr, bytes.len()) };
        Ok(block.write_copy_of_slice(bytes))
    }

    /// The part of the region handed out so far, `[base, ptr)`, to read. Takes `&mut self`,
    /// so no block handed out earlier can be written while the slice lives.
    ///
    /// The bytes are [`MaybeUninit`]: a block from [`alloc`](Self::alloc) or
    /// [`alloc_layout`](Self::alloc_layout) is raw memory, and unsafe code may have left
    /// uninitialised bytes in it (struct padding, a copy of uninitialised memory), which no
    /// safe `&[u8]` may show. Where every byte was written by the write helpers (or never
    /// written, so it holds the OS's zeroes), reading them as `u8` is sound:
    ///
    /// ```
    /// # let mut m = vmallocator::Mallocator::new()?;
    /// m.alloc_bytes(b"ab")?;
    /// let used = m.used_bytes()?;
    /// // SAFETY: every byte below the pointer was written by `alloc_bytes`.
    /// let bytes = unsafe { used.assume_init_ref() };
    /// assert_eq!(bytes, b"ab");
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotReadable`] when the region cannot be read.
    pub fn used_bytes(&mut self) -> Result<&[MaybeUninit<u8>], Error> {
        if self.used() != 0
            && let Some(protection) =
                self.prots
                    .first_lacking(0, self.used(), Protection::is_readable)
        {
            return Err(Error::NotReadable { protection });
        }
        // SAFETY: `[base, ptr)` is inside the region, and its pages are readable; `&mut self`
        // guarantees no block reference handed out earlier is still alive. `MaybeUninit<u8>`
        // makes no claim about the bytes' contents.
        Ok(unsafe { slice::from_raw_parts(self.base().as_ptr().cast(), self.used()) })
    }

    /// Releases the region to the OS (`munmap(2)` / `VirtualFree`), reporting its answer.
    /// Dropping a `Mallocator` releases it too; should the OS refuse there, the region is
    /// left mapped (leaked), never a panic.
    ///
    /// When the OS refuses (Linux can, at its limit on mappings, when releasing means
    /// splitting a mapping the region has merged with), the arena comes back inside the
    /// [`FreeError`], unchanged and usable: retry later, or drop it. `?` turns a
    /// `FreeError` into its [`Error`].
    ///
    /// ```
    /// fn run() -> Result<(), vmallocator::Error> {
    ///     let m = vmallocator::Mallocator::new()?;
    ///     m.alloc(8, 8)?;
    ///     m.free()?;
    ///     Ok(())
    /// }
    /// run()?;
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`FreeError`] holding [`Error::Os`] and the arena when the OS refuses.
    // The arena travels in the error unboxed: boxing it would allocate on a path taken at
    // the OS's limit on mappings, where allocating may fail too.
    #[allow(clippy::result_large_err)]
    pub fn free(self) -> Result<(), FreeError> {
        let Mallocator { region, .. } = self;
        match region.release() {
            Ok(()) => Ok(()),
            Err((error, region)) => Err(FreeError::new(error, Mallocator { region, ..self })),
        }
    }
}

impl fmt::Debug for Mallocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mallocator")
            .field("base", &self.base())
            .field("ptr", &self.ptr())
            .field("size", &self.size())
            .field("committed", &self.committed())
            .field("used", &self.used())
            .field("remaining", &self.remaining())
            .field("protection", &self.prots)
            .finish()
    }
}
