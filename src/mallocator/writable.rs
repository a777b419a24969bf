//! The bump for blocks that will be written, and the state it reads: `wend`.
//!
//! `wend` is the committed end while every page of the region is writable and 0 while
//! some page is not. The write helpers compare against it where the raw calls compare
//! against `end`, so their hot path is the raw one, without a test of its own; with any
//! page not writable every block goes to [`Mallocator::bump_checked`], which checks
//! exactly the pages the block touches. Whatever moves `end` or changes the protections
//! keeps `wend` true through [`Mallocator::set_end`] and
//! [`Mallocator::set_all_writable`].

use super::Mallocator;
use crate::{Error, Protection};

impl Mallocator {
    /// Moves the committed end to `end`, and the end for written blocks with it.
    #[inline]
    pub(super) fn set_end(&self, end: usize) {
        self.end.set(end);
        self.wend.set(if self.all_writable { end } else { 0 });
    }

    /// Records whether every page is writable, from the protection map, after it changed.
    pub(crate) fn set_all_writable(&mut self) {
        self.all_writable = self.prots.uniform().is_some_and(Protection::is_writable);
        self.set_end(self.end.get());
    }

    /// Bumps past a block that will be written: like [`bump_or_grow`](Self::bump_or_grow),
    /// but when some page is not writable, first checks exactly the pages of the block.
    #[inline(always)]
    pub(super) fn bump_writable(&self, size: usize, align: usize) -> Result<usize, Error> {
        debug_assert_eq!(
            self.wend.get(),
            if self.all_writable { self.end.get() } else { 0 }
        );
        match self.bump_write(size, align) {
            Some(addr) => Ok(addr),
            None => self.bump_writable_cold(size, align),
        }
    }

    /// The cold path of [`bump_writable`](Self::bump_writable): the block passes `end`, or
    /// some page is not writable.
    #[cold]
    #[inline(never)]
    fn bump_writable_cold(&self, size: usize, align: usize) -> Result<usize, Error> {
        if self.all_writable {
            self.grow(size, align)
        } else {
            self.bump_checked(size, align)
        }
    }

    /// Hands out a block after checking that every page it touches is writable.
    ///
    /// # Errors
    /// [`Error::NotWritable`] when one is not, [`Error::OutOfMemory`] when the block does
    /// not fit; nothing changes then.
    #[cold]
    #[inline(never)]
    pub(super) fn bump_checked(&self, size: usize, align: usize) -> Result<usize, Error> {
        let ptr = self.ptr_addr();
        let pad = ptr.wrapping_neg() & (align - 1);
        pad.checked_add(size)
            .filter(|&n| n <= self.limit() - ptr)
            .ok_or_else(|| self.out_of_memory(size, align))?;
        if size != 0 {
            let offset = ptr + pad - self.base().as_ptr() as usize;
            if let Some(protection) =
                self.prots
                    .first_lacking(offset, offset + size, Protection::is_writable)
            {
                return Err(Error::NotWritable { protection });
            }
        }
        // The pointer has not moved, so this hands out the block just checked.
        self.bump_or_grow(size, align)
    }
}
