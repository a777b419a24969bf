//! `allocator_api2::alloc::Allocator` for `&Mallocator`: `allocator_api2::vec::Vec`,
//! `hashbrown::HashMap` and other collections that take an allocator live in the region.
//!
//! The most recent block (the one that ends at the bump pointer) is special, as in every
//! bump allocator: growing it moves the pointer up, committing pages as needed, with no
//! copy (the `Vec::push` pattern); shrinking or deallocating it moves the pointer down
//! through the one lowering primitive, `lower_to_unchecked`, so its bytes are handed out
//! again. Any other block is never reused until a reset, rewind or scope exit, each of
//! which takes `&mut Mallocator` and so cannot happen while a collection borrows the arena.
//! Every block handed out is checked writable first, like the write helpers' blocks.
//!
//! A collection dropped after a [`Checkpoint`](super::Checkpoint) was taken may lower the
//! pointer below it; [`rewind`](Mallocator::rewind) to that checkpoint then reports
//! [`Error::InvalidCheckpoint`](crate::Error::InvalidCheckpoint).

use core::alloc::Layout;
use core::ptr::{self, NonNull};

use allocator_api2::alloc::{AllocError, Allocator};

use super::Mallocator;

impl Mallocator {
    /// Whether the block `[ptr, ptr + size)` ends at the bump pointer.
    #[inline(always)]
    fn is_last(&self, ptr: NonNull<u8>, size: usize) -> bool {
        ptr.as_ptr() as usize + size == self.ptr_addr()
    }

    /// A fresh writable block for `layout`, as a slice pointer.
    #[inline(always)]
    fn allocate_block(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let (size, align) = (layout.size(), layout.align());
        let addr = self.bump_writable(size, align).map_err(|_| AllocError)?;
        // SAFETY: a block handed out by the bump starts in `[base, limit]`.
        let start = unsafe { self.at(addr) };
        Ok(NonNull::slice_from_raw_parts(start, size))
    }

    /// Grows the last block `[ptr, ptr + old)` to `new` bytes in place when `ptr` suits
    /// `align`: the pointer moves up, committing pages as needed, after a check that the new
    /// pages are writable. `None` when it cannot be done in place (nothing changed then).
    #[inline(always)]
    fn grow_last(&self, ptr: NonNull<u8>, old: usize, new: usize, align: usize) -> Option<()> {
        if !self.is_last(ptr, old) || ptr.as_ptr() as usize & (align - 1) != 0 {
            return None;
        }
        // Align 1 from the pointer, which is the block's end: the extension starts there.
        let ext = self.bump_writable(new - old, 1).ok()?;
        debug_assert_eq!(ext, ptr.as_ptr() as usize + old);
        Some(())
    }

    /// Zeroes `block` unless it lies above every byte written since the memory was last
    /// zeroed (`dirty`): such bytes still read as zero.
    ///
    /// # Safety
    /// `block` is writable and was above the bump pointer until this call handed it out.
    #[inline(always)]
    unsafe fn zero_block(&self, block: NonNull<[u8]>) {
        let start = block.cast::<u8>();
        if (start.as_ptr() as usize) < self.dirty.get() {
            // SAFETY: per the contract the block is writable, and no reference covers it.
            unsafe { ptr::write_bytes(start.as_ptr(), 0, block.len()) };
        }
    }

    /// Moves the block `[ptr, ptr + old.size())` to a fresh block for `new`, copying
    /// `min(old, new)` bytes. The old block stays where it is (it is not the last one).
    ///
    /// # Safety
    /// `ptr` is a block handed out by this arena for `old`, and is not used after the call.
    unsafe fn move_block(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let block = self.allocate_block(new)?;
        // SAFETY: both blocks are valid for the bytes copied, and the fresh one lies above
        // the bump pointer of the moment, so they do not overlap.
        unsafe {
            ptr::copy_nonoverlapping(
                ptr.as_ptr(),
                block.cast::<u8>().as_ptr(),
                old.size().min(new.size()),
            )
        };
        Ok(block)
    }
}

// SAFETY: blocks are handed out once (the bump pointer passes them) and stay valid while
// the arena lives, which the `&'a Mallocator` borrow guarantees; resets, rewinds and
// protection changes take `&mut Mallocator`, so none can happen while a block is in use.
// Copies of the reference are the same allocator. Bytes above the pointer are handed out
// again only after their block was deallocated or shrunk, per the trait's contract.
unsafe impl Allocator for &Mallocator {
    #[inline]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        self.allocate_block(layout)
    }

    #[inline]
    fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let block = self.allocate_block(layout)?;
        // SAFETY: a block just handed out, writable, that was above the bump pointer.
        unsafe { self.zero_block(block) };
        Ok(block)
    }

    #[inline]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        if self.is_last(ptr, layout.size()) {
            // SAFETY: per the trait's contract the block is not used after this call, and
            // it is exactly `[ptr, bump pointer)`.
            unsafe { self.lower_to_unchecked(ptr.as_ptr() as usize) };
        }
    }

    #[inline]
    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        debug_assert!(new.size() >= old.size());
        match self.grow_last(ptr, old.size(), new.size(), new.align()) {
            Some(()) => Ok(NonNull::slice_from_raw_parts(ptr, new.size())),
            // SAFETY: per the trait's contract `ptr` is a block of this arena for `old`,
            // not used after the call.
            None => unsafe { self.move_block(ptr, old, new) },
        }
    }

    #[inline]
    unsafe fn grow_zeroed(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller's contract is `grow`'s.
        let block = unsafe { self.grow(ptr, old, new) }?;
        let tail = NonNull::slice_from_raw_parts(
            // SAFETY: `old.size() <= new.size()`, so the offset stays in the block.
            unsafe { block.cast::<u8>().add(old.size()) },
            new.size() - old.size(),
        );
        // SAFETY: the bytes past `old.size()` were above the bump pointer before the call
        // (in place or moved), and are writable.
        unsafe { self.zero_block(tail) };
        Ok(block)
    }

    #[inline]
    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        debug_assert!(new.size() <= old.size());
        if ptr.as_ptr() as usize & (new.align() - 1) == 0 {
            if self.is_last(ptr, old.size()) {
                // SAFETY: per the trait's contract the bytes past `new.size()` are not
                // used after the call, and they end at the bump pointer.
                unsafe { self.lower_to_unchecked(ptr.as_ptr() as usize + new.size()) };
            }
            return Ok(NonNull::slice_from_raw_parts(ptr, new.size()));
        }
        // SAFETY: per the trait's contract `ptr` is a block of this arena for `old`, not
        // used after the call.
        unsafe { self.move_block(ptr, old, new) }
    }
}
