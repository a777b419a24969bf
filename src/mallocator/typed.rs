//! Typed values and slices: a value in, `&mut T` out, tied to the borrow of the arena.
//!
//! Every call here bumps past a block that is checked writable first (the write helpers'
//! [`bump_writable`](Mallocator::bump_writable) rule), then initialises the whole block
//! before handing out a reference: no safe view ever covers bytes the crate did not write
//! (the crate's initialised-bytes rule). The `unsafe` is a few operations, each next to the
//! reason it holds: a fresh block as `&mut MaybeUninit<T>` or `[MaybeUninit<T>]`, that block
//! as `[T]` once written, a bulk copy and a bulk zeroing.
//!
//! **Destructors.** The arena never runs them: reset, rewind and scope exit move the
//! pointer without knowing what lies below it, and memory handed to foreign code has no
//! Rust owner. Rather than leak silently (as bumpalo does), a type that needs `Drop`
//! (`String`, `Box`, `Rc`, a `Vec`) is refused at compile time. Wrap it in
//! [`ManuallyDrop`](core::mem::ManuallyDrop) to leak it on purpose.

use core::mem::{MaybeUninit, needs_drop};
use core::ptr;
use core::slice;

use super::Mallocator;
use crate::{Error, Zeroable};

/// Refuses, at compile time, types whose destructor the arena would never run.
macro_rules! assert_no_drop {
    ($t:ty) => {
        const {
            assert!(
                !needs_drop::<$t>(),
                "the arena never runs destructors: wrap the value in ManuallyDrop to leak it on purpose"
            )
        }
    };
}

impl Mallocator {
    /// Bumps past a block for `len` values of `T`, with its pages checked writable: the
    /// lean hot path of [`bump`](Self::bump) when every page is writable.
    #[inline(always)]
    fn bump_array<T>(&self, len: usize) -> Result<usize, Error> {
        let (unit, align) = (size_of::<T>(), align_of::<T>());
        let Some(size) = unit.checked_mul(len) else {
            return Err(self.out_of_memory(usize::MAX, align));
        };
        self.bump_writable(size, align)
    }

    /// [`bump_array`](Self::bump_array) for one value: the size is a constant, so the
    /// multiplication and the size test of [`bump`](Self::bump) fold away.
    #[inline(always)]
    fn bump_one<T>(&self) -> Result<usize, Error> {
        self.bump_array::<T>(1)
    }

    /// A fresh block of `len` uninitialised `T`s: bumped past, writable, aligned.
    #[inline(always)]
    pub(super) fn uninit<T>(&self, len: usize) -> Result<&mut [MaybeUninit<T>], Error> {
        let addr = self.bump_array::<T>(len)?;
        // SAFETY: a block handed out by the bump starts in `[base, limit]`.
        let start = unsafe { self.at(addr) };
        // SAFETY: `[addr, addr + len * size_of::<T>())` was just bumped past, so it lies in
        // the committed region and no other reference covers it; its pages are writable
        // (and so readable); `addr` is aligned for `T`; `MaybeUninit` needs no valid bytes.
        Ok(unsafe { slice::from_raw_parts_mut(start.as_ptr().cast(), len) })
    }

    /// Zeroes `block`, a fresh block, unless it lies above every byte written since the
    /// memory was last zeroed (`dirty`): such bytes still read as zero.
    #[inline(always)]
    pub(super) fn zero_fresh<T>(&self, block: &mut [MaybeUninit<T>]) {
        if (block.as_ptr() as usize) < self.dirty.get() {
            // SAFETY: `block` is a valid, writable slice of `size_of_val(block)` bytes.
            unsafe { ptr::write_bytes(block.as_mut_ptr(), 0, block.len()) };
        }
    }

    /// Puts `value` into a new block aligned for `T` and returns it: bumpalo's `alloc`.
    ///
    /// ```
    /// use vmallocator::Mallocator;
    ///
    /// #[derive(Debug, PartialEq)]
    /// struct Point { x: f64, y: f64, id: u64 }
    ///
    /// let m = Mallocator::new()?;
    /// let n = m.alloc_value(42u64)?;
    /// let p = m.alloc_value(Point { x: 1.0, y: 2.0, id: 3 })?;
    /// *n += 1;
    /// p.x = -1.0;
    /// assert_eq!((*n, p.x), (43, -1.0));
    /// assert_eq!(p as *mut Point as usize % align_of::<Point>(), 0);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// The reference borrows the arena, so it cannot outlive it, nor a reset, a rewind or a
    /// protection change, which take `&mut self`:
    ///
    /// ```compile_fail,E0597
    /// let r = {
    ///     let m = vmallocator::Mallocator::new().unwrap();
    ///     m.alloc_value(1u64).unwrap()
    /// }; // error: `m` dropped while still borrowed
    /// ```
    ///
    /// ```compile_fail,E0502
    /// let mut m = vmallocator::Mallocator::new()?;
    /// let v = m.alloc_value(1u64)?;
    /// m.reset();
    /// *v = 2; // error: `v` outlives the reset
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// ```compile_fail,E0502
    /// let mut m = vmallocator::Mallocator::new()?;
    /// let cp = m.checkpoint();
    /// let v = m.alloc_slice_copy(&[1u32, 2])?;
    /// m.rewind(cp)?;
    /// v[0] = 3; // error: `v` outlives the rewind
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// ```compile_fail,E0502
    /// use vmallocator::{Mallocator, Protection};
    /// let mut m = Mallocator::new()?;
    /// let v = m.alloc_value(1u64)?;
    /// m.set_protection(Protection::READ)?;
    /// *v = 2; // error: `v` outlives the protection change
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// Types that need `Drop` are refused at compile time (see the module docs of the
    /// crate's README, "Typed values and collections"):
    ///
    /// ```compile_fail,E0080
    /// # let m = vmallocator::Mallocator::new()?;
    /// let s = m.alloc_value(String::from("leaks"))?; // error: needs a destructor
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// ```
    /// use std::mem::ManuallyDrop;
    /// # let m = vmallocator::Mallocator::new()?;
    /// let s = m.alloc_value(ManuallyDrop::new(String::from("leaked on purpose")))?;
    /// assert_eq!(s.len(), 17);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotWritable`] when a page the block would touch cannot be written,
    /// [`Error::OutOfMemory`] when the value does not fit; nothing changes then.
    #[inline]
    pub fn alloc_value<T>(&self, value: T) -> Result<&mut T, Error> {
        assert_no_drop!(T);
        let addr = self.bump_one::<T>()?;
        // SAFETY: a block for one `T`, just bumped past.
        let slot = unsafe { self.at_typed::<T>(addr) };
        Ok(slot.write(value))
    }

    /// The slot of one `T` at `addr`.
    ///
    /// # Safety
    /// `[addr, addr + size_of::<T>())` was just bumped past with its pages checked
    /// writable, and `addr` is aligned for `T`.
    #[inline(always)]
    unsafe fn at_typed<T>(&self, addr: usize) -> &mut MaybeUninit<T> {
        debug_assert_eq!(addr % align_of::<T>(), 0);
        // SAFETY: per the contract the block lies in the region.
        let start = unsafe { self.at(addr) };
        // SAFETY: per the contract the block is aligned, writable and covered by no other
        // reference; `MaybeUninit` needs no valid bytes.
        unsafe { start.cast::<MaybeUninit<T>>().as_mut() }
    }

    /// Builds a value with `f` straight into a new block: bumpalo's `alloc_with`. The block
    /// is taken first, so `f` may allocate from the same arena (its blocks come after).
    ///
    /// ```
    /// # let m = vmallocator::Mallocator::new()?;
    /// let table = m.alloc_with(|| [7u32; 1024])?;
    /// assert_eq!(table.iter().sum::<u32>(), 7 * 1024);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`alloc_value`](Self::alloc_value); `f` is not called then.
    #[inline]
    pub fn alloc_with<T>(&self, f: impl FnOnce() -> T) -> Result<&mut T, Error> {
        assert_no_drop!(T);
        let addr = self.bump_one::<T>()?;
        // SAFETY: a block for one `T`, just bumped past.
        let slot = unsafe { self.at_typed::<T>(addr) };
        Ok(slot.write(f()))
    }

    /// A new block of `T`s that are all zero, for types where zero is a valid value
    /// ([`Zeroable`]). Fresh memory above everything written since it was last zeroed is
    /// not written again, so a large zeroed table costs no page faults until used.
    ///
    /// ```
    /// # let m = vmallocator::Mallocator::new()?;
    /// let counters = m.alloc_zeroed::<[u64; 8]>()?;
    /// counters[3] += 1;
    /// assert_eq!(counters.iter().sum::<u64>(), 1);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`alloc_value`](Self::alloc_value).
    #[inline]
    pub fn alloc_zeroed<T: Zeroable>(&self) -> Result<&mut T, Error> {
        Ok(&mut self.alloc_slice_zeroed::<T>(1)?[0])
    }

    /// `len` zero values of `T` (see [`alloc_zeroed`](Self::alloc_zeroed)).
    ///
    /// ```
    /// use vmallocator::{Error, Mallocator};
    /// let m = Mallocator::builder().reserve(1 << 30).build()?;
    /// let grid = m.alloc_slice_zeroed::<f32>(1 << 20)?; // 4 MiB, committed as needed
    /// assert!(grid.iter().all(|&x| x == 0.0));
    /// assert!(matches!(m.alloc_slice_zeroed::<u64>(usize::MAX), Err(Error::OutOfMemory { .. })));
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`alloc_value`](Self::alloc_value); also [`Error::OutOfMemory`] when
    /// `len * size_of::<T>()` overflows.
    #[inline]
    pub fn alloc_slice_zeroed<T: Zeroable>(&self, len: usize) -> Result<&mut [T], Error> {
        assert_no_drop!(T);
        let block = self.uninit::<T>(len)?;
        self.zero_fresh(block);
        // SAFETY: every byte of the block is zero, a valid `T` by `Zeroable`'s contract.
        Ok(unsafe { assume_init(block) })
    }

    /// Copies `src` into a new block: bumpalo's `alloc_slice_copy`.
    ///
    /// ```
    /// # let m = vmallocator::Mallocator::new()?;
    /// let v = m.alloc_slice_copy(&[1.5f32, 2.5, 3.5, 4.5])?;
    /// v[0] = 0.5;
    /// assert_eq!(v, [0.5, 2.5, 3.5, 4.5]);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`alloc_value`](Self::alloc_value).
    #[inline]
    pub fn alloc_slice_copy<T: Copy>(&self, src: &[T]) -> Result<&mut [T], Error> {
        // `Copy` types never need `Drop`.
        let block = self.uninit::<T>(src.len())?;
        // SAFETY: `block` is fresh (no overlap with `src`), writable and as long as `src`.
        unsafe { ptr::copy_nonoverlapping(src.as_ptr(), block.as_mut_ptr().cast(), src.len()) };
        // SAFETY: every element was just written.
        Ok(unsafe { assume_init(block) })
    }

    /// Clones each element of `src` into a new block: bumpalo's `alloc_slice_clone`.
    ///
    /// ```
    /// # let m = vmallocator::Mallocator::new()?;
    /// let names = m.alloc_slice_clone(&["a", "b"])?;
    /// assert_eq!(names, ["a", "b"]);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`alloc_value`](Self::alloc_value).
    #[inline]
    pub fn alloc_slice_clone<T: Clone>(&self, src: &[T]) -> Result<&mut [T], Error> {
        self.alloc_slice_fill_with(src.len(), |i| src[i].clone())
    }

    /// `len` copies of `value`: bumpalo's `alloc_slice_fill_copy`.
    ///
    /// ```
    /// # let m = vmallocator::Mallocator::new()?;
    /// let nops = m.alloc_slice_fill_copy(16, 0x90u8)?;
    /// assert_eq!(nops, [0x90; 16]);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`alloc_slice_zeroed`](Self::alloc_slice_zeroed).
    #[inline]
    pub fn alloc_slice_fill_copy<T: Copy>(&self, len: usize, value: T) -> Result<&mut [T], Error> {
        self.alloc_slice_fill_with(len, |_| value)
    }

    /// `len` clones of `value`: bumpalo's `alloc_slice_fill_clone`.
    ///
    /// # Errors
    /// As [`alloc_slice_zeroed`](Self::alloc_slice_zeroed).
    #[inline]
    pub fn alloc_slice_fill_clone<T: Clone>(
        &self,
        len: usize,
        value: &T,
    ) -> Result<&mut [T], Error> {
        self.alloc_slice_fill_with(len, |_| value.clone())
    }

    /// `len` values made by `f(index)`, in order: bumpalo's `alloc_slice_fill_with`. The
    /// block is taken first, so `f` may allocate from the same arena.
    ///
    /// ```
    /// # let m = vmallocator::Mallocator::new()?;
    /// let squares = m.alloc_slice_fill_with(5, |i| (i * i) as i64)?;
    /// assert_eq!(squares, [0, 1, 4, 9, 16]);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`alloc_slice_zeroed`](Self::alloc_slice_zeroed); `f` is not called then.
    #[inline]
    pub fn alloc_slice_fill_with<T>(
        &self,
        len: usize,
        mut f: impl FnMut(usize) -> T,
    ) -> Result<&mut [T], Error> {
        assert_no_drop!(T);
        let block = self.uninit::<T>(len)?;
        for (i, slot) in block.iter_mut().enumerate() {
            slot.write(f(i));
        }
        // SAFETY: every element was just written.
        Ok(unsafe { assume_init(block) })
    }

    /// The items of `iter`, whose length is known up front: bumpalo's
    /// `alloc_slice_fill_iter`. Should the iterator yield fewer items than its `len()`
    /// promised, the slice holds only those; items past `len()` are not taken.
    ///
    /// ```
    /// # let m = vmallocator::Mallocator::new()?;
    /// let table = m.alloc_slice_fill_iter([3i64, -1, 4])?;
    /// assert_eq!(table, [3, -1, 4]);
    /// let evens = m.alloc_slice_fill_iter((0..5u16).map(|n| 2 * n))?;
    /// assert_eq!(evens, [0, 2, 4, 6, 8]);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`alloc_slice_zeroed`](Self::alloc_slice_zeroed); nothing is taken from the
    /// iterator then.
    #[inline]
    pub fn alloc_slice_fill_iter<T, I>(&self, iter: I) -> Result<&mut [T], Error>
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: ExactSizeIterator,
    {
        assert_no_drop!(T);
        let mut iter = iter.into_iter();
        let block = self.uninit::<T>(iter.len())?;
        let mut written = 0;
        for slot in block.iter_mut() {
            let Some(item) = iter.next() else { break };
            slot.write(item);
            written += 1;
        }
        // SAFETY: the first `written` elements were just written.
        Ok(unsafe { assume_init(&mut block[..written]) })
    }

    /// Copies `s` as UTF-8 without a terminator (NUL characters allowed): bumpalo's
    /// `alloc_str`. For foreign callers, see [`alloc_cstr`](Self::alloc_cstr),
    /// [`alloc_utf16`](Self::alloc_utf16) and [`alloc_str`](Self::alloc_str).
    ///
    /// ```
    /// # let m = vmallocator::Mallocator::new()?;
    /// let s = m.alloc_str_copy("grüße")?;
    /// s.make_ascii_uppercase();
    /// assert_eq!(s, "GRüßE");
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`alloc_value`](Self::alloc_value).
    #[inline]
    pub fn alloc_str_copy(&self, s: &str) -> Result<&mut str, Error> {
        let bytes = self.alloc_slice_copy(s.as_bytes())?;
        // SAFETY: a copy of the bytes of a `str`: valid UTF-8.
        Ok(unsafe { core::str::from_utf8_unchecked_mut(bytes) })
    }
}

/// `block` as initialised `T`s.
///
/// # Safety
/// Every element of `block` has been written with a valid `T`.
#[inline(always)]
pub(super) unsafe fn assume_init<T>(block: &mut [MaybeUninit<T>]) -> &mut [T] {
    // SAFETY: `MaybeUninit<T>` has the layout of `T`, and per the contract every element
    // holds a valid `T`.
    unsafe { &mut *(ptr::from_mut(block) as *mut [T]) }
}
