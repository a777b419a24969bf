//! Reuse of the region without giving it back: statistics, resets, checkpoints and trim.
//!
//! Everything that moves the bump pointer down takes `&mut self`, so the borrow checker
//! proves that no block handed out above the new pointer is still referenced.

use super::Mallocator;
use crate::{Error, HugePages, Protection};

/// A saved bump pointer, to [`rewind`](Mallocator::rewind) to later.
///
/// Plain data: it borrows nothing, so the arena stays usable. Rewinding takes
/// `&mut Mallocator`, so every block handed out after the checkpoint must be dead by then:
///
/// ```compile_fail
/// let mut m = vmallocator::Mallocator::new()?;
/// let cp = m.checkpoint();
/// let block = m.alloc_bytes(b"temporary")?;
/// m.rewind(cp)?;
/// block[0] = b'T'; // error: `block` outlives the rewind
/// # Ok::<(), vmallocator::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// The identity of the arena it was taken on.
    arena: u64,
    base: usize,
    ptr: usize,
}

impl Checkpoint {
    /// Bytes that were in use when the checkpoint was taken.
    pub fn used(&self) -> usize {
        self.ptr - self.base
    }
}

impl Mallocator {
    /// Bytes of the region that are committed: backed by memory (or swap) when touched.
    /// Equal to [`size`](Self::size) for fixed-size regions until [`trim`](Self::trim) or
    /// [`reset_decommit`](Self::reset_decommit).
    #[inline]
    pub fn committed(&self) -> usize {
        self.end.get() - self.base().as_ptr() as usize
    }

    /// Bytes of address space the region holds: the same as [`size`](Self::size), the
    /// most that can ever be handed out.
    #[inline]
    pub fn reserved(&self) -> usize {
        self.size()
    }

    /// The most bytes ever in use at once.
    pub fn high_water_mark(&self) -> usize {
        self.high.get().max(self.ptr_addr()) - self.base().as_ptr() as usize
    }

    /// The huge pages backing the region: [`HugePages::Off`] unless requested with
    /// [`Builder::huge_pages`](crate::Builder::huge_pages) and granted.
    pub fn huge_pages(&self) -> HugePages {
        self.huge.0
    }

    /// Why the huge pages asked for are not in effect, when they are not: the error of
    /// the OS call that refused them, or [`Error::Unsupported`] on systems without them.
    pub fn huge_pages_fallback(&self) -> Option<&Error> {
        self.huge.1.as_ref()
    }

    /// Moves the pointer down to `addr`, keeping the statistics.
    fn lower_to(&mut self, addr: usize) {
        // SAFETY: `&mut self`: no reference into the region is alive.
        unsafe { self.lower_to_unchecked(addr) }
    }

    /// [`lower_top`](Self::lower_top) past blocks that were all handed out: to `addr`, from
    /// the current pointer.
    ///
    /// # Safety
    /// `addr` must lie in `[base, ptr]`, and no reference may cover any byte of
    /// `[addr, ptr)`: every block handed out there must be dead.
    pub(crate) unsafe fn lower_to_unchecked(&self, addr: usize) {
        // SAFETY: the caller's contract, with `handed_out_to = ptr`.
        unsafe { self.lower_top(addr, self.ptr_addr()) }
    }

    /// The one place the pointer moves down: to `addr`, keeping the statistics true.
    /// `handed_out_to` is where the blocks being lowered past end, for the high-water mark:
    /// the old pointer for a rewind, less when the top of the last block was only reserved
    /// while it was being filled (a block shrunk to its exact end, or given back on
    /// failure). Every byte up to the old pointer counts as written for `dirty`, so zeroed
    /// allocations stay correct.
    ///
    /// # Safety
    /// `addr <= handed_out_to <= ptr`, `addr` at or above the base, and no reference into
    /// `[addr, ptr)` may be used afterwards.
    pub(crate) unsafe fn lower_top(&self, addr: usize, handed_out_to: usize) {
        let ptr = self.ptr_addr();
        debug_assert!(self.base().as_ptr() as usize <= addr);
        debug_assert!(addr <= handed_out_to && handed_out_to <= ptr);
        self.high.set(self.high.get().max(handed_out_to));
        self.dirty.set(self.dirty.get().max(ptr));
        self.set_ptr_addr(addr);
    }

    /// Moves the bump pointer back to [`base`](Self::base): the whole region can be handed
    /// out again. **Contents:** unchanged; the memory stays committed. Nothing is returned
    /// to the OS. Takes `&mut self`, so no block handed out earlier can be used after it.
    ///
    /// ```
    /// # let mut m = vmallocator::Mallocator::new()?;
    /// let first = m.alloc(100, 1)?;
    /// m.reset();
    /// assert_eq!(m.used(), 0);
    /// assert_eq!(m.alloc(1, 1)?, first);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    #[inline]
    pub fn reset(&mut self) {
        self.lower_to(self.base().as_ptr() as usize);
    }

    /// [`reset`](Self::reset), then zeroes every byte handed out since the memory was last
    /// zeroed. **Contents:** the whole region reads as zero afterwards, as when new. The
    /// memory stays committed.
    ///
    /// ```
    /// # let mut m = vmallocator::Mallocator::new()?;
    /// m.alloc_bytes(b"secret")?;
    /// m.reset_zeroed()?;
    /// m.alloc(6, 1)?;
    /// // SAFETY: `reset_zeroed` wrote every byte below the pointer.
    /// assert_eq!(unsafe { m.used_bytes()?.assume_init_ref() }, [0; 6]);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotWritable`] when the region cannot be written; nothing changes then.
    pub fn reset_zeroed(&mut self) -> Result<(), Error> {
        let base = self.base().as_ptr() as usize;
        // Decommitted pages read as zero once committed again: only committed ones count.
        let dirty = self.dirty.get().max(self.ptr_addr()).min(self.end.get()) - base;
        if dirty != 0
            && let Some(protection) = self.prots.first_lacking(0, dirty, Protection::is_writable)
        {
            return Err(Error::NotWritable { protection });
        }
        self.reset();
        let dirty = self.dirty.get().min(self.end.get()) - base;
        // SAFETY: `[base, base + dirty)` is committed and writable, and `&mut self` means
        // no reference into it is alive. A raw write: the bytes may be uninitialised.
        unsafe { core::ptr::write_bytes(self.base().as_ptr(), 0, dirty) };
        self.dirty.set(base);
        Ok(())
    }

    /// [`reset`](Self::reset), then gives every committed page back to the OS
    /// (fresh `PROT_NONE` pages mapped over it on Unix, `VirtualFree(MEM_DECOMMIT)` on
    /// Windows); the address range stays reserved, and later allocations commit again in
    /// steps. **Contents:** zero, as when new. The process's resident memory drops.
    ///
    /// Explicit huge pages ([`HugePages::Explicit`]) are held by the system, not returned:
    /// on such regions this zeroes the memory instead, with the same guarantee.
    ///
    /// ```
    /// # let mut m = vmallocator::Mallocator::new()?;
    /// m.alloc_bytes(&[1; 64])?;
    /// m.reset_decommit()?;
    /// assert_eq!(m.committed(), 0);
    /// assert_eq!(m.alloc_bytes(&[2])?, [2]); // commits again
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Os`] when the OS refuses; the pointer and the memory are then unchanged.
    pub fn reset_decommit(&mut self) -> Result<(), Error> {
        if self.huge.0 == HugePages::Explicit {
            return self.reset_zeroed();
        }
        // SAFETY: `&mut self`: no reference into the region is alive.
        unsafe { self.region.decommit(0, self.committed()) }?;
        self.advise_again();
        self.reset();
        let base = self.base().as_ptr() as usize;
        self.set_end(base);
        self.dirty.set(base);
        Ok(())
    }

    /// Gives the committed pages above the bump pointer back to the OS, keeping the
    /// address range reserved; later allocations commit again in steps. **Contents:**
    /// bytes handed out are unchanged; the freed pages read as zero when used again.
    /// A no-op on regions of explicit huge pages. On [`HugePages::Transparent`] regions the
    /// committed end stays on a commit-step boundary (2 MiB or a multiple), so later growth
    /// stays huge-page aligned.
    ///
    /// ```
    /// use vmallocator::Mallocator;
    /// let mut m = Mallocator::builder().size(1 << 20).build()?;
    /// m.alloc(10, 1)?;
    /// m.trim()?;
    /// assert_eq!(m.committed(), vmallocator::page_size());
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Os`] when the OS refuses; nothing changes then.
    pub fn trim(&mut self) -> Result<(), Error> {
        if self.huge.0 == HugePages::Explicit {
            return Ok(());
        }
        let base = self.base().as_ptr() as usize;
        let committed = self.committed();
        // Transparent huge pages are committed in whole steps from a step-aligned base:
        // keeping the end on a step boundary keeps every later step huge-page aligned.
        let unit = if self.huge.0 == HugePages::Transparent {
            self.step
        } else {
            crate::page_size()
        };
        let keep = (self.ptr_addr() - base)
            .checked_next_multiple_of(unit)
            .map_or(committed, |k| k.min(committed));
        if keep < committed {
            // SAFETY: `[keep, committed)` lies above the bump pointer, where no reference
            // exists (and `&mut self` rules out any other).
            unsafe { self.region.decommit(keep, committed - keep) }?;
            self.advise_again();
            self.set_end(base + keep);
            self.dirty.set(self.dirty.get().min(base + keep));
        }
        Ok(())
    }

    /// After a decommit: on Linux the fresh pages mapped over the range have lost the
    /// `MADV_HUGEPAGE` advice of [`HugePages::Transparent`], so ask again. Should the OS
    /// refuse now, the region says so, as when it refused at the start.
    fn advise_again(&mut self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if self.huge.0 == HugePages::Transparent
            && let Err(why) = self.region.advise_huge_pages()
        {
            self.huge = (HugePages::Off, Some(why));
        }
    }

    /// The current bump pointer, to [`rewind`](Self::rewind) to later.
    ///
    /// ```
    /// # let mut m = vmallocator::Mallocator::new()?;
    /// m.alloc_bytes(b"keep")?;
    /// let cp = m.checkpoint();
    /// m.alloc_bytes(b"scratch")?;
    /// m.rewind(cp)?;
    /// assert_eq!(m.used(), 4);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            arena: self.id(),
            base: self.base().as_ptr() as usize,
            ptr: self.ptr_addr(),
        }
    }

    /// Moves the bump pointer back to `checkpoint`: blocks handed out after it can be
    /// handed out again. **Contents:** unchanged, as with [`reset`](Self::reset).
    ///
    /// # Errors
    /// [`Error::InvalidCheckpoint`] when the checkpoint was taken on another arena (each
    /// arena has an identity of its own, so even one freed and mapped again at the same
    /// address is another), or lies above the current pointer (taken before a reset or an
    /// earlier rewind); nothing changes then.
    pub fn rewind(&mut self, checkpoint: Checkpoint) -> Result<(), Error> {
        if checkpoint.arena != self.id() || checkpoint.ptr > self.ptr_addr() {
            return Err(Error::InvalidCheckpoint);
        }
        self.lower_to(checkpoint.ptr);
        Ok(())
    }

    /// Runs `f` with a [`Scope`](crate::Scope) of the arena, then rewinds to where it
    /// was: a scratch scope. Blocks made inside cannot leave it, so none outlives the
    /// rewind; scopes nest ([`Scope::scope`](crate::Scope::scope)).
    ///
    /// ```
    /// # let mut m = vmallocator::Mallocator::new()?;
    /// let len = m.scope(|m| m.alloc_str("temporary", vmallocator::CharWidth::U16).map(|s| s.len()))?;
    /// assert_eq!((len, m.used()), (20, 0));
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// ```compile_fail
    /// # let mut m = vmallocator::Mallocator::new()?;
    /// // error: lifetime may not live long enough (the block would escape)
    /// let escaped = m.scope(|m| m.alloc_bytes(b"x").unwrap());
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    pub fn scope<R>(&mut self, f: impl FnOnce(&mut crate::Scope<'_>) -> R) -> R {
        self.as_scope().scope(f)
    }
}
