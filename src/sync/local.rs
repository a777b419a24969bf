//! Allocation inside a thread's chunk: the [`Local`] handle, the per-thread cache behind
//! the arena's `&self` calls, and the cold path both share to claim the next chunk.
//!
//! A chunk is `[ptr, end)`, addresses, owned by one handle or one thread's cache: nothing
//! else hands out its bytes, so bumping `ptr` needs no atomics. An empty chunk is `(0, 0)`.

use core::alloc::Layout;
use core::cell::Cell;
use core::ptr::NonNull;

use super::{SharedArena, write};
use crate::{CharWidth, Error};

/// Bumps `ptr` past `size` bytes at `align` inside `[ptr, end)`: the block's address and the
/// new `ptr`, or `None` when it does not fit.
#[inline(always)]
fn bump_in(ptr: usize, end: usize, size: usize, align: usize) -> Option<(usize, usize)> {
    // Larger sizes go to the cold path, which checks exactly; for a constant size this test
    // folds away.
    if crate::mallocator::LOWER_HALF && size > isize::MAX as usize {
        return None;
    }
    bump_in_sized(ptr, end, size, align)
}

/// [`bump_in`] for a `size` of at most `isize::MAX`, as every [`Layout`]'s is.
#[inline(always)]
fn bump_in_sized(ptr: usize, end: usize, size: usize, align: usize) -> Option<(usize, usize)> {
    debug_assert!(align.is_power_of_two());
    let mask = align - 1;
    if crate::mallocator::LOWER_HALF {
        debug_assert!(size <= isize::MAX as usize);
        // The arena's region ends at or below 2^63 (`Mallocator::from_region` checks it, as
        // for `Mallocator`'s own hot path), so `ptr <= end <= 2^63` (0 before the first
        // chunk) and `ptr + mask` cannot wrap; the rounded pointer is at most 2^63, and
        // with `size <= isize::MAX` the end cannot wrap either.
        let aligned = (ptr + mask) & !mask;
        let new = aligned + size;
        return (new <= end).then_some((aligned, new));
    }
    // Guards both additions below: ptr + mask, then + size.
    ptr.checked_add(size.checked_add(mask)?)?;
    let aligned = (ptr + mask) & !mask;
    let new = aligned + size;
    (new <= end).then_some((aligned, new))
}

impl SharedArena {
    /// The cold path: hands out a block that did not fit in the chunk `[*ptr, *end)`.
    /// Large blocks come straight from the shared cursor and leave the chunk as it is;
    /// others get a new chunk, which extends the old one when it follows it directly, and
    /// otherwise replaces it (the old tail is given back or counted as wasted). On error
    /// nothing changes.
    #[cold]
    #[inline(never)]
    pub(super) fn refill(
        &self,
        ptr: &mut usize,
        end: &mut usize,
        size: usize,
        align: usize,
    ) -> Result<usize, Error> {
        let small = self.chunk / 8;
        if size > small || align > small {
            return self.claim(size, align);
        }
        let start = self.claim(self.chunk, 1)?;
        if start != *end {
            if *end != 0 {
                let base = self.base().as_ptr() as usize;
                self.claim.give_back(*ptr - base, *end - base);
            }
            *ptr = start;
        }
        *end = start + self.chunk;
        // A fresh chunk holds any block of at most an eighth of it at any alignment up to that.
        let (addr, new) = bump_in(*ptr, *end, size, align).ok_or(Error::OutOfMemory {
            requested: size,
            align,
            remaining: self.remaining(),
        })?;
        *ptr = new;
        Ok(addr)
    }

    /// The `&self` path: bumps inside the calling thread's cached chunk of this arena,
    /// claiming one when the cache holds none (or one of another arena, or from before a
    /// reset).
    #[inline]
    pub(super) fn bump_cached(&self, size: usize, align: usize) -> Result<usize, Error> {
        debug_assert!(align.is_power_of_two());
        CACHE.with(|cache| {
            let slot = cache.get();
            if slot.key == self.key
                && let Some((addr, new)) = bump_in(slot.ptr, slot.end, size, align)
            {
                cache.set(Slot { ptr: new, ..slot });
                return Ok(addr);
            }
            self.refill_cache(cache, size, align)
        })
    }

    #[cold]
    #[inline(never)]
    fn refill_cache(&self, cache: &Cell<Slot>, size: usize, align: usize) -> Result<usize, Error> {
        let slot = cache.get();
        // A chunk of another arena, or from before a reset, is forgotten: that arena may be
        // gone, and a reset took the chunk back.
        let (mut ptr, mut end) = if slot.key == self.key {
            (slot.ptr, slot.end)
        } else {
            (0, 0)
        };
        let addr = self.refill(&mut ptr, &mut end, size, align)?;
        cache.set(Slot {
            key: self.key,
            ptr,
            end,
        });
        Ok(addr)
    }
}

/// One thread's cached chunk: of the arena whose key is `key` (0: none).
#[derive(Clone, Copy)]
struct Slot {
    key: u64,
    ptr: usize,
    end: usize,
}

thread_local! {
    static CACHE: Cell<Slot> = const { Cell::new(Slot { key: 0, ptr: 0, end: 0 }) };
}

/// A thread's handle on a [`SharedArena`], with a chunk of its own: allocation through it
/// bumps a pointer without atomics, as [`Mallocator`](crate::Mallocator) does, and claims
/// the next chunk from the arena when one is full.
///
/// Made by [`SharedArena::local`]. [`Send`] but not [`Sync`]. Blocks live as long as the
/// arena's borrow, so they outlive the handle; the arena cannot be reset while any handle
/// or block is alive:
///
/// ```compile_fail
/// let mut arena = vmallocator::SharedArena::new()?;
/// let local = arena.local();
/// let block = local.alloc_bytes(b"kept")?;
/// arena.reset(); // error: `arena` is still borrowed
/// block[0] = b'K';
/// # Ok::<(), vmallocator::Error>(())
/// ```
pub struct Local<'a> {
    arena: &'a SharedArena,
    ptr: Cell<usize>,
    end: Cell<usize>,
}

impl<'a> Local<'a> {
    pub(super) fn new(arena: &'a SharedArena) -> Self {
        Local {
            arena,
            ptr: Cell::new(0),
            end: Cell::new(0),
        }
    }

    /// The arena this handle allocates from.
    pub fn arena(&self) -> &'a SharedArena {
        self.arena
    }

    /// Bytes left in the handle's chunk.
    pub fn chunk_remaining(&self) -> usize {
        self.end.get() - self.ptr.get()
    }

    /// The hot path: bumps inside the chunk, or goes to the arena's cold path.
    #[inline(always)]
    fn bump(&self, size: usize, align: usize) -> Result<usize, Error> {
        self.bump_by(size, align, bump_in)
    }

    /// [`bump`](Self::bump) with the fitting rule `fit` ([`bump_in`] or, for layouts,
    /// [`bump_in_sized`]).
    #[inline(always)]
    fn bump_by(
        &self,
        size: usize,
        align: usize,
        fit: impl Fn(usize, usize, usize, usize) -> Option<(usize, usize)>,
    ) -> Result<usize, Error> {
        match fit(self.ptr.get(), self.end.get(), size, align) {
            Some((addr, new)) => {
                self.ptr.set(new);
                Ok(addr)
            }
            None => {
                let (mut ptr, mut end) = (self.ptr.get(), self.end.get());
                let addr = self.arena.refill(&mut ptr, &mut end, size, align)?;
                self.ptr.set(ptr);
                self.end.set(end);
                Ok(addr)
            }
        }
    }

    /// Hands out `size` bytes at a multiple of `align`, right after the handle's previous
    /// block when it fits in the chunk (only alignment padding between them). The memory
    /// is whatever the region holds there: zeroes from the OS on first use.
    ///
    /// ```
    /// let arena = vmallocator::SharedArena::new()?;
    /// let local = arena.local();
    /// assert_eq!(local.alloc(8, 64)?.as_ptr() as usize % 64, 0);
    /// assert!(local.alloc(1, 3).is_err()); // not a power of two
    /// assert!(local.alloc(usize::MAX, 1).is_err());
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidAlignment`] when `align` is not a power of two,
    /// [`Error::OutOfMemory`] when the block does not fit in the region,
    /// [`Error::Os`] when committing more memory fails.
    #[inline]
    pub fn alloc(&self, size: usize, align: usize) -> Result<NonNull<u8>, Error> {
        if !align.is_power_of_two() {
            return Err(Error::InvalidAlignment { align });
        }
        let addr = self.bump(size, align)?;
        // SAFETY: a block handed out lies in the region.
        Ok(unsafe { self.arena.at(addr) })
    }

    /// [`alloc`](Self::alloc) with the size and alignment of `layout`.
    ///
    /// # Errors
    /// As [`alloc`](Self::alloc), but for the alignment, which a layout always has right.
    #[inline]
    pub fn alloc_layout(&self, layout: Layout) -> Result<NonNull<u8>, Error> {
        let addr = self.bump_by(layout.size(), layout.align(), bump_in_sized)?;
        // SAFETY: a block handed out lies in the region.
        Ok(unsafe { self.arena.at(addr) })
    }

    /// Copies `bytes` into a new block (alignment 1) and returns it.
    ///
    /// ```
    /// let arena = vmallocator::SharedArena::new()?;
    /// let local = arena.local();
    /// assert_eq!(local.alloc_bytes(&[0xc3])?, [0xc3]);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotWritable`] on a region that cannot be written, else as
    /// [`alloc`](Self::alloc).
    pub fn alloc_bytes(&self, bytes: &[u8]) -> Result<&'a mut [u8], Error> {
        write::bytes(self.arena, bytes, |s, a| self.bump(s, a))
    }

    /// Copies `s` into a new block as UTF-8, UTF-16 or UTF-32 units in native byte order
    /// plus one NUL unit, aligned to the unit, as
    /// [`Mallocator::alloc_str`](crate::Mallocator::alloc_str).
    ///
    /// ```
    /// use vmallocator::{CharWidth, SharedArena};
    /// let arena = SharedArena::new()?;
    /// let local = arena.local();
    /// assert_eq!(local.alloc_str("h€", CharWidth::U16)?.len(), 3 * 2);
    /// assert!(local.alloc_str("a\0b", CharWidth::U8).is_err());
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InteriorNul`] when `s` holds a NUL, else as [`alloc_bytes`](Self::alloc_bytes).
    pub fn alloc_str(&self, s: &str, width: CharWidth) -> Result<&'a mut [u8], Error> {
        write::str(self.arena, s, width, |n, a| self.bump(n, a))
    }

    /// Parses `hex` with the grammar of [`crate::hex`], then copies the bytes into a new
    /// block (alignment 1). The whole string is parsed before anything is allocated.
    ///
    /// ```
    /// let arena = vmallocator::SharedArena::new()?;
    /// assert_eq!(arena.local().alloc_hex("b8 2a 00 00 00 c3")?, [0xb8, 0x2a, 0, 0, 0, 0xc3]);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Hex`] when `hex` breaks the grammar, else as [`alloc_bytes`](Self::alloc_bytes).
    pub fn alloc_hex(&self, hex: &str) -> Result<&'a mut [u8], Error> {
        let bytes = crate::hex::decode(hex)?;
        self.alloc_bytes(&bytes)
    }
}

impl Drop for Local<'_> {
    /// Gives the unused tail of the chunk back when no claim followed it.
    fn drop(&mut self) {
        if self.end.get() != 0 {
            let base = self.arena.base().as_ptr() as usize;
            self.arena
                .claim
                .give_back(self.ptr.get() - base, self.end.get() - base);
        }
    }
}

impl core::fmt::Debug for Local<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Local")
            .field("chunk_remaining", &self.chunk_remaining())
            .finish_non_exhaustive()
    }
}
