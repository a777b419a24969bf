//! A block that grows in place at the top of the arena: [`TopVec`].
//!
//! The block always ends exactly at the bump pointer, so growing it is a bump of the new
//! elements (committing pages of a reservation as needed) and nothing is ever copied.
//! That holds because the vector borrows its arena (or [`Scope`]) mutably while it lives:
//! nothing else can allocate in between. Abandoning it (drop) or truncating it lowers the
//! pointer through [`Mallocator::lower_to_unchecked`], the one lowering primitive; a
//! finished block stays where it is, as if made by one allocation.

use core::marker::PhantomData;
use core::slice;

use super::Mallocator;
use crate::{Error, Scope};

/// A `Vec`-like block of `T: Copy` at the top of the arena, growing in place.
///
/// Made by [`Mallocator::top_vec`] or [`Scope::top_vec`]; [`finish`](Self::finish) yields
/// the block, dropping the vector gives its memory back. For blocks whose length is not
/// known before they are written: code generators, parsers, anything read from an iterator.
///
/// It borrows the arena mutably, so nothing else is allocated while it grows: the block
/// stays at the top, and growing never copies. Made from a [`Scope`], blocks made earlier
/// in the scope stay usable, and the finished block lives as long as the scope:
///
/// ```
/// use vmallocator::Mallocator;
///
/// let mut m = Mallocator::new()?;
/// let mut s = m.as_scope();
/// let header = s.alloc_bytes(b"ELF")?;
/// let mut code = s.top_vec::<u8>();
/// code.extend_from_slice(&[0xb8, 0x2a, 0, 0, 0])?; // mov eax, 42
/// code.push(0xc3)?;                                // ret
/// let code = code.finish();
/// assert_eq!(code, [0xb8, 0x2a, 0, 0, 0, 0xc3]);
/// assert_eq!(code.as_ptr() as usize, header.as_ptr() as usize + 3); // in place, right after
/// header[0] = 0x7f;
/// # Ok::<(), vmallocator::Error>(())
/// ```
///
/// The arena cannot be used while the vector lives (it could not stay at the top):
///
/// ```compile_fail,E0502
/// let mut m = vmallocator::Mallocator::new()?;
/// let mut v = m.top_vec::<u32>();
/// m.alloc(8, 8)?; // error: `m` is mutably borrowed by `v`
/// v.push(1)?;
/// # Ok::<(), vmallocator::Error>(())
/// ```
pub struct TopVec<'b, 'a: 'b, T: Copy> {
    arena: &'a Mallocator,
    /// The pointer when the vector was made: dropping it lowers the pointer back here.
    origin: usize,
    /// The block's first address: `origin` rounded up to `align_of::<T>()` (maybe past
    /// the region while the vector is empty).
    start: usize,
    len: usize,
    /// The exclusive borrow of the arena or scope that keeps the block at the top.
    _excl: PhantomData<&'b mut ()>,
    _elems: PhantomData<&'a mut [T]>,
}

impl Mallocator {
    /// A [`TopVec`] at the top of the arena: a block of unknown length, grown in place.
    ///
    /// ```
    /// let mut m = vmallocator::Mallocator::new()?;
    /// let mut v = m.top_vec::<u64>();
    /// v.extend((1..=4).map(|i| i * i))?;
    /// assert_eq!(v.finish(), [1, 4, 9, 16]);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    pub fn top_vec<T: Copy>(&mut self) -> TopVec<'_, '_, T> {
        TopVec::new(self)
    }

    /// Copies the items of `iter` into a new block, built at the top of the arena: any
    /// iterator, its length unknown beforehand. On error nothing changes.
    ///
    /// ```
    /// let mut m = vmallocator::Mallocator::new()?;
    /// let words = "a bb ccc".split(' ').map(str::len);
    /// assert_eq!(m.alloc_slice_from_iter(words)?, [1, 2, 3]);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotWritable`] when a page the block would touch cannot be written,
    /// [`Error::OutOfMemory`] when the items do not fit; the arena is then as before.
    pub fn alloc_slice_from_iter<T: Copy>(
        &mut self,
        iter: impl IntoIterator<Item = T>,
    ) -> Result<&mut [T], Error> {
        let mut v = self.top_vec();
        v.extend(iter)?;
        Ok(v.finish())
    }
}

impl<'a> Scope<'a> {
    /// A [`TopVec`] at the top of the arena whose finished block lives as long as the
    /// scope. Blocks made earlier in the scope stay usable while it grows.
    ///
    /// ```
    /// let mut m = vmallocator::Mallocator::new()?;
    /// let mut s = m.as_scope();
    /// let a = s.alloc_bytes(b"a")?;
    /// let mut v = s.top_vec::<u8>();
    /// v.push(a[0])?;
    /// let b = v.finish();
    /// assert_eq!((&a[..], &b[..]), (&b"a"[..], &b"a"[..]));
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    pub fn top_vec<T: Copy>(&mut self) -> TopVec<'_, 'a, T> {
        TopVec::new(self.arena)
    }

    /// [`Mallocator::alloc_slice_from_iter`], with a block that lives as long as the scope.
    ///
    /// # Errors
    /// As [`Mallocator::alloc_slice_from_iter`].
    pub fn alloc_slice_from_iter<T: Copy>(
        &mut self,
        iter: impl IntoIterator<Item = T>,
    ) -> Result<&'a mut [T], Error> {
        let mut v = self.top_vec();
        v.extend(iter)?;
        Ok(v.finish())
    }
}

impl<'b, 'a: 'b, T: Copy> TopVec<'b, 'a, T> {
    /// A vector at the top of `arena`; the caller holds the arena exclusively for `'b`.
    fn new(arena: &'a Mallocator) -> Self {
        let origin = arena.ptr_addr();
        let mask = align_of::<T>() - 1;
        TopVec {
            arena,
            origin,
            start: origin.saturating_add(mask) & !mask,
            len: 0,
            _excl: PhantomData,
            _elems: PhantomData,
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The elements written so far.
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: see `slice_mut`; the shared borrow of `self` keeps the slice unaliased.
        unsafe { self.slice_mut() }
    }

    /// The elements written so far, to change.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: see `slice_mut`; the mutable borrow of `self` keeps the slice unaliased.
        unsafe { self.slice_mut() }
    }

    /// The elements as a slice of the arena's lifetime.
    ///
    /// # Safety
    /// The caller must not let the slice alias another: it may be used only while no
    /// other slice from this function is used, and not after the vector shrinks.
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice_mut(&self) -> &'a mut [T] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: a non-empty vector starts inside the region.
        let start = unsafe { self.arena.at(self.start) }.as_ptr().cast::<T>();
        // SAFETY: `[start, start + len * size)` was bumped past by this vector (it is in
        // the region, aligned for `T`, and written element by element), and nothing else
        // references it (the vector holds the arena exclusively).
        unsafe { slice::from_raw_parts_mut(start, self.len) }
    }

    /// Appends `value`, growing the block in place.
    ///
    /// # Errors
    /// [`Error::NotWritable`] when the page it would touch cannot be written,
    /// [`Error::OutOfMemory`] when it does not fit; nothing changes then.
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), Error> {
        let addr = self.arena.bump_writable(size_of::<T>(), align_of::<T>())?;
        debug_assert_eq!(addr, self.start + self.len * size_of::<T>());
        // SAFETY: `addr` was just bumped past, so it lies in the region.
        let dst = unsafe { self.arena.at(addr) }.as_ptr().cast::<T>();
        // SAFETY: `[addr, addr + size)` was just bumped past, its pages writable, aligned
        // for `T` (the block starts aligned and grows by whole elements).
        unsafe { dst.write(value) };
        self.len += 1;
        Ok(())
    }

    /// Appends all of `values`, growing the block in place with one bump.
    ///
    /// # Errors
    /// As [`push`](Self::push); nothing changes then.
    pub fn extend_from_slice(&mut self, values: &[T]) -> Result<(), Error> {
        let addr = self
            .arena
            .bump_writable(size_of_val(values), align_of::<T>())?;
        debug_assert!(values.is_empty() || addr == self.start + self.len * size_of::<T>());
        // SAFETY: `addr` was just bumped past, so it lies in the region.
        let dst = unsafe { self.arena.at(addr) }.as_ptr().cast::<T>();
        // SAFETY: `[addr, addr + size_of_val(values))` was just bumped past, its pages
        // writable, aligned for `T`; `values` lies outside it (it was handed out to no one).
        unsafe { dst.copy_from_nonoverlapping(values.as_ptr(), values.len()) };
        self.len += values.len();
        Ok(())
    }

    /// Appends the items of `iter` one by one: any iterator, its length unknown.
    ///
    /// # Errors
    /// As [`push`](Self::push). All or nothing: on error the items appended by this call
    /// are taken back, and pages committed for them are given back to the OS, so the
    /// pointer, the statistics and the committed size are as before. Should giving them
    /// back fail, that error ([`Error::Os`]) is returned instead and the pages stay committed.
    pub fn extend(&mut self, iter: impl IntoIterator<Item = T>) -> Result<(), Error> {
        let arena = self.arena;
        let (len, ptr, high, end) = (
            self.len,
            arena.ptr_addr(),
            arena.high.get(),
            arena.end.get(),
        );
        for value in iter {
            if let Err(e) = self.push(value) {
                self.len = len;
                // SAFETY: `ptr` was the pointer when this call began, so it lies in
                // `[base, ptr]`; only this call's elements lie above it, and no reference
                // to them is alive (`&mut self`).
                unsafe { arena.lower_to_unchecked(ptr) };
                arena.high.set(high);
                arena.uncommit_to(end)?;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Keeps the first `len` elements (all of them when there are fewer), lowering the top.
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        let to = if len == 0 {
            self.origin
        } else {
            self.start + len * size_of::<T>()
        };
        self.len = len;
        if to < self.arena.ptr_addr() {
            // SAFETY: `to` lies in `[origin, ptr)`, above which only this vector's elements
            // lie; `&mut self` means no reference to them is alive.
            unsafe { self.arena.lower_to_unchecked(to) };
        }
    }

    /// Removes every element, giving the memory back to the arena.
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// The finished block: it stays where it is, as if made by one allocation, and lives
    /// as long as the arena (or the scope the vector was made from).
    pub fn finish(self) -> &'a mut [T] {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: the vector is consumed without dropping, so this is the only slice of
        // its block from now on.
        unsafe { this.slice_mut() }
    }
}

impl<T: Copy> Drop for TopVec<'_, '_, T> {
    /// Abandons the block: the pointer goes back to where it was when the vector was made.
    fn drop(&mut self) {
        self.clear();
    }
}

impl<T: Copy + core::fmt::Debug> core::fmt::Debug for TopVec<'_, '_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// Writes append to the block; a failed write appends nothing.
///
/// ```
/// use std::io::Write;
/// let mut m = vmallocator::Mallocator::new()?;
/// let mut v = m.top_vec::<u8>();
/// write!(v, "{}-{}", 4, 2)?;
/// assert_eq!(v.finish(), b"4-2");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl std::io::Write for TopVec<'_, '_, u8> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.extend_from_slice(buf).map_err(std::io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Mallocator {
    /// Gives back the pages committed above `end` (an earlier committed end), which lie
    /// above the bump pointer: a failed growth leaves the committed size as it was.
    ///
    /// # Errors
    /// [`Error::Os`] when the OS refuses; nothing changes then.
    fn uncommit_to(&self, end: usize) -> Result<(), Error> {
        let now = self.end.get();
        if now <= end {
            return Ok(());
        }
        debug_assert!(self.ptr_addr() <= end);
        let base = self.base().as_ptr() as usize;
        // SAFETY: `[end, now)` lies above the bump pointer, where no block handed out is
        // referenced.
        unsafe { self.region.decommit(end - base, now - end) }?;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if self.huge.0 == crate::HugePages::Transparent {
            // The fresh pages lost the advice; should it be refused now, they stay small.
            let _ = self.region.advise_huge_pages();
        }
        self.set_end(end);
        self.dirty.set(self.dirty.get().min(end));
        Ok(())
    }
}
