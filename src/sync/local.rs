//! Allocation inside a thread's chunk: the [`Local`] handle, the per-thread cache behind
//! the arena's `&self` calls, and the cold path both share to claim the next chunk.
//!
//! A chunk is the addresses `[top + 1, end)`, owned by one handle or one thread's cache:
//! nothing else hands out its bytes, so bumping `top` needs no atomics. No chunk is
//! `(NO_CHUNK, 0)`.

use core::alloc::Layout;
use core::cell::Cell;
use core::ptr::NonNull;

use super::{SharedArena, write};
use crate::{CharWidth, Error};

/// The marker of "no chunk" in `top`: with `end` 0, no block fits.
const NO_CHUNK: usize = usize::MAX;

/// Bumps past `size` bytes at `align` inside the chunk `(top, end)`, where `top` is the
/// chunk's next free address minus one ([`NO_CHUNK`] for none): the block's address and
/// the new `top`, or `None` when it does not fit.
///
/// Keeping the address minus one makes rounding up one `or`: the block starts at
/// `(top | (align - 1)) + 1`, and its last byte is `(top | (align - 1)) + size`.
#[inline(always)]
fn bump_in(top: usize, end: usize, size: usize, align: usize) -> Option<(usize, usize)> {
    // Larger sizes go to the cold path, which checks exactly; for a constant size this test
    // folds away.
    if crate::mallocator::LOWER_HALF && size > isize::MAX as usize {
        return None;
    }
    bump_in_sized(top, end, size, align)
}

/// [`bump_in`] for a `size` of at most `isize::MAX`, as every [`Layout`]'s is.
#[inline(always)]
fn bump_in_sized(top: usize, end: usize, size: usize, align: usize) -> Option<(usize, usize)> {
    debug_assert!(align.is_power_of_two());
    let below = top | (align - 1);
    if crate::mallocator::LOWER_HALF {
        debug_assert!(size <= isize::MAX as usize);
        // In a chunk, `top < end <= 2^63`: the region ends at or below 2^63
        // (`Mallocator::from_region` checks it, as for `Mallocator`'s own hot path), so
        // `below < 2^63` and, with `size <= isize::MAX`, the sum cannot wrap. Without a
        // chunk (`NO_CHUNK`, `end` 0) it may wrap, to a value that is not below 0.
        let last = below.wrapping_add(size);
        return (last < end).then_some((below.wrapping_add(1), last));
    }
    let last = below.checked_add(size)?;
    (last < end).then_some((below.wrapping_add(1), last))
}

impl SharedArena {
    /// The cold path: hands out a block that did not fit in the chunk `(*top, *end)` (see
    /// [`bump_in`]).
    /// Large blocks come straight from the shared cursor and leave the chunk as it is;
    /// others get a new chunk, which extends the old one when it follows it directly, and
    /// otherwise replaces it (the old tail is given back or counted as wasted). When less than
    /// a chunk is left, the block alone comes from the shared cursor. On error nothing
    /// changes.
    #[cold]
    #[inline(never)]
    pub(super) fn refill(
        &self,
        top: &mut usize,
        end: &mut usize,
        size: usize,
        align: usize,
    ) -> Result<usize, Error> {
        let small = self.chunk / 8;
        if size > small || align > small {
            return self.claim(size, align);
        }
        let start = match self.claim(self.chunk, 1) {
            Ok(start) => start,
            // Less than a chunk left (or a region smaller than one): the block alone, from
            // the shared cursor, while it fits.
            Err(Error::OutOfMemory { .. }) => return self.claim(size, align),
            Err(e) => return Err(e),
        };
        if start != *end {
            if *end != 0 {
                let base = self.base().as_ptr() as usize;
                self.claim.give_back(*top + 1 - base, *end - base);
            }
            *top = start - 1;
        }
        *end = start + self.chunk;
        // A fresh chunk holds any block of at most an eighth of it at any alignment up to that.
        let (addr, new) = bump_in(*top, *end, size, align).ok_or(Error::OutOfMemory {
            requested: size,
            align,
            remaining: self.remaining(),
        })?;
        *top = new;
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
                && let Some((addr, new)) = bump_in(slot.top, slot.end, size, align)
            {
                cache.set(Slot { top: new, ..slot });
                return Ok(addr);
            }
            self.refill_cache(cache, size, align)
        })
    }

    /// [`write::hex_in_chunk`] in the calling thread's cached chunk of this arena: `None`
    /// when the cache holds no chunk of it or the bytes' upper bound does not fit there.
    pub(super) fn hex_cached(&self, hex: &str) -> Option<Result<&mut [u8], Error>> {
        CACHE.with(|cache| {
            let slot = cache.get();
            if slot.key != self.key {
                return None;
            }
            let done = write::hex_in_chunk(self, hex, slot.top.wrapping_add(1), slot.end)?;
            Some(done.map(|(block, next)| {
                cache.set(Slot {
                    top: next - 1,
                    ..slot
                });
                block
            }))
        })
    }

    #[cold]
    #[inline(never)]
    fn refill_cache(&self, cache: &Cell<Slot>, size: usize, align: usize) -> Result<usize, Error> {
        let slot = cache.get();
        // A chunk of another arena, or from before a reset, is forgotten: that arena may be
        // gone, and a reset took the chunk back.
        let (mut top, mut end) = if slot.key == self.key {
            (slot.top, slot.end)
        } else {
            (NO_CHUNK, 0)
        };
        let addr = self.refill(&mut top, &mut end, size, align)?;
        cache.set(Slot {
            key: self.key,
            top,
            end,
        });
        Ok(addr)
    }
}

/// One thread's cached chunk `(top, end)` (see [`bump_in`]): of the arena whose key is
/// `key` (0: none).
#[derive(Clone, Copy)]
struct Slot {
    key: u64,
    top: usize,
    end: usize,
}

thread_local! {
    static CACHE: Cell<Slot> = const { Cell::new(Slot { key: 0, top: NO_CHUNK, end: 0 }) };
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
    /// The chunk `(top, end)`, as [`bump_in`] takes it.
    top: Cell<usize>,
    end: Cell<usize>,
}

impl<'a> Local<'a> {
    pub(super) fn new(arena: &'a SharedArena) -> Self {
        Local {
            arena,
            top: Cell::new(NO_CHUNK),
            end: Cell::new(0),
        }
    }

    /// The arena this handle allocates from.
    pub fn arena(&self) -> &'a SharedArena {
        self.arena
    }

    /// Bytes left in the handle's chunk.
    pub fn chunk_remaining(&self) -> usize {
        // 0 - 0 without a chunk.
        self.end.get().wrapping_sub(self.top.get().wrapping_add(1))
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
        match fit(self.top.get(), self.end.get(), size, align) {
            Some((addr, new)) => {
                self.top.set(new);
                Ok(addr)
            }
            None => self.refill(size, align),
        }
    }

    /// The cold path of [`bump_by`](Self::bump_by). It reads the chunk from the handle
    /// itself, so the hot path keeps no copy of it for this call.
    #[cold]
    #[inline(never)]
    fn refill(&self, size: usize, align: usize) -> Result<usize, Error> {
        let (mut top, mut end) = (self.top.get(), self.end.get());
        let addr = self.arena.refill(&mut top, &mut end, size, align)?;
        self.top.set(top);
        self.end.set(end);
        Ok(addr)
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

    /// Parses `hex` with the grammar of [`crate::hex`] into a new block (alignment 1). Where
    /// the bytes' upper bound ([`crate::hex::max_decoded_len`]) fits in what is left of the
    /// handle's chunk, they are decoded straight into it; larger inputs are counted first
    /// (parsed without writing), then decoded straight into a block of exactly that size.
    /// No temporary buffer is made either way. A call that fails hands nothing out and
    /// claims nothing.
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
        // Straight into the chunk when the upper bound fits there; else counted first, then
        // straight into a block of exactly that size.
        let next = self.top.get().wrapping_add(1);
        if let Some(done) = write::hex_in_chunk(self.arena, hex, next, self.end.get()) {
            let (block, next) = done?;
            self.top.set(next - 1);
            return Ok(block);
        }
        write::hex_exact(self.arena, hex, |s, a| self.bump(s, a))
    }
}

impl Drop for Local<'_> {
    /// Gives the unused tail of the chunk back when no claim followed it.
    fn drop(&mut self) {
        if self.end.get() != 0 {
            let base = self.arena.base().as_ptr() as usize;
            self.arena
                .claim
                .give_back(self.top.get() + 1 - base, self.end.get() - base);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The fitting rule against the plain one (round the pointer up, add, compare), with and
    /// without a chunk, at the edges of size and alignment.
    #[test]
    fn bump_in_matches_the_plain_rule() {
        let plain = |ptr: usize, end: usize, size: usize, align: usize| {
            let aligned = ptr.checked_add(align - 1)? & !(align - 1);
            let new = aligned.checked_add(size)?;
            (new <= end).then_some((aligned, new - 1))
        };
        let sizes = [
            0,
            1,
            7,
            8,
            9,
            63,
            64,
            65,
            4096,
            isize::MAX as usize,
            usize::MAX,
        ];
        for &(ptr, end) in &[
            (0x1000, 0x2000),
            (0x1001, 0x1010),
            (0x1fff, 0x2000),
            (0x10, 0x10),
        ] {
            for &size in &sizes {
                for shift in [0, 1, 3, 6, 12, 62, 63] {
                    let align = 1usize << shift;
                    assert_eq!(
                        bump_in(ptr - 1, end, size, align),
                        plain(ptr, end, size, align),
                        "ptr {ptr:#x} end {end:#x} size {size} align {align}"
                    );
                }
            }
        }
        for &size in &sizes {
            assert_eq!(bump_in(NO_CHUNK, 0, size, 1), None, "no chunk, size {size}");
            assert_eq!(
                bump_in(NO_CHUNK, 0, size, 64),
                None,
                "no chunk, size {size}"
            );
        }
    }
}
