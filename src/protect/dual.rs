//! The code heap's dual-mapping side ([`Builder::dual_mapping`]): the executable view's
//! addresses, publishing without a protection change, and patches written with one aligned
//! atomic store while other threads may run the code.
//!
//! [`Builder::dual_mapping`]: crate::Builder::dual_mapping

use core::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::ByteRange;
use crate::{Error, Mallocator, Protection, icache};

impl Mallocator {
    /// Whether the region is mapped twice, writable and executable
    /// ([`Builder::dual_mapping`](crate::Builder::dual_mapping)).
    ///
    /// ```
    /// assert!(!vmallocator::Mallocator::new()?.is_dual_mapped());
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    #[inline]
    pub fn is_dual_mapped(&self) -> bool {
        self.region.is_dual()
    }

    /// The first address of the executable view: where code at offset 0 runs. The same as
    /// [`base`](Self::base) unless the region is dual-mapped; then nothing may be written
    /// through it (its pages are read+execute).
    ///
    /// ```
    /// let m = vmallocator::Mallocator::new()?;
    /// assert_eq!(m.exec_base(), m.base());
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    #[inline]
    pub fn exec_base(&self) -> NonNull<u8> {
        self.region.exec_base()
    }

    /// The executable address of the first byte of `range` (a [`Block`](crate::Block) or
    /// byte offsets from [`base`](Self::base)): where code written there runs. Without dual
    /// mapping this is the address of the byte itself.
    ///
    /// ```
    /// let m = vmallocator::Mallocator::new()?;
    /// let block = m.block_of(m.alloc_bytes(&[0xc3])?)?;
    /// assert_eq!(m.exec_addr(block)?, block.addr());
    /// assert_eq!(m.exec_addr(0..)?, m.exec_base().as_ptr() as usize);
    /// assert!(m.exec_addr(m.size() + 1..).is_err());
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for a range outside the region, [`Error::ForeignBlock`] for a
    /// block of another arena.
    #[inline]
    pub fn exec_addr(&self, range: impl ByteRange) -> Result<usize, Error> {
        let (start, _) = range.offsets(self)?;
        Ok(self.exec_base().as_ptr() as usize + start)
    }

    /// [`publish`](Self::publish) of a dual-mapped region: no protection changes (the
    /// executable view is read+execute wherever committed), so no system call on Linux x86_64; only
    /// the instruction stream is made coherent, for the bytes of `range` itself.
    pub(super) fn publish_dual(&mut self, range: impl ByteRange) -> Result<(), Error> {
        let (start, end) = range.offsets(self)?;
        let end = end.min(self.committed());
        if start >= end {
            return Ok(());
        }
        let code = self.exec_base().map_addr(|b| b.saturating_add(start));
        icache::flush(code, end - start)?;
        icache::sync_other_threads();
        Ok(())
    }

    /// Writes `value` at `offset` (from [`base`](Self::base), a multiple of 4) with one
    /// aligned atomic store (release ordering), then makes the instruction cache coherent
    /// over those 4 bytes. For patching published code of a dual-mapped region while other
    /// threads run it: each sees the old value or the new one, never a mix.
    ///
    /// What may be patched this way while the code runs: a value the code loads as data
    /// (an aarch64 literal loaded with `ldr`, a jump-table entry, a call target in a
    /// constant pool), or an immediate of an x86 instruction whose 4 bytes are aligned
    /// (they then sit in one cache line, and instruction fetch sees the whole store or
    /// none of it; Intel's manual leaves cross-modifying code outside its guarantees unless
    /// the running thread serialises, so this is the practice of JIT compilers, not an
    /// architectural promise). On aarch64 only `b`, `bl`, `nop`, `brk`, `svc`, `hvc`, `smc`
    /// and `isb` may be swapped for one another while they run (Arm ARM, concurrent
    /// modification and execution of instructions); patch other code through a literal.
    ///
    /// Works on any writable page, dual-mapped or not; without dual mapping published code
    /// is not writable, so [`make_writable`](Self::make_writable) comes first.
    ///
    /// ```
    /// # #[cfg(any(target_os = "linux", target_os = "android", windows))] {
    /// let mut m = vmallocator::Mallocator::builder().dual_mapping(true).build()?;
    /// m.alloc_bytes(&[0; 8])?;
    /// m.patch_u32(4, 0xdead_beef)?;
    /// assert!(m.patch_u32(2, 0).is_err()); // not aligned
    /// assert!(m.patch_u32(8, 0).is_err()); // not handed out yet
    /// // SAFETY: the bytes were written by `alloc_bytes` and `patch_u32`.
    /// let used = unsafe { m.used_bytes()?.assume_init_ref() };
    /// assert_eq!(used[4..], 0xdead_beef_u32.to_ne_bytes());
    /// # }
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidAddress`] when `offset` is not a multiple of 4, [`Error::NotInArena`]
    /// when the 4 bytes are not all below [`ptr`](Self::ptr), [`Error::NotWritable`] when
    /// their page is not writable. Nothing has been written then.
    pub fn patch_u32(&mut self, offset: usize, value: u32) -> Result<(), Error> {
        let ptr = self.atomic_slot(offset, 4)?;
        // SAFETY: the slot is aligned, writable and handed out (checked by `atomic_slot`);
        // `&mut self`: no Rust reference into it is alive; other accesses (instruction fetch,
        // loads by generated code in other threads) are not Rust accesses. One atomic store.
        unsafe { AtomicU32::from_ptr(ptr.as_ptr().cast()) }.store(value, Ordering::Release);
        self.flush_patch(offset, 4)
    }

    /// [`patch_u32`](Self::patch_u32) for 8 bytes at a multiple of 8: an x86_64 `mov r64,
    /// imm64` immediate or an aarch64 64-bit literal, say.
    ///
    /// ```
    /// let mut m = vmallocator::Mallocator::new()?;
    /// m.alloc(16, 8)?;
    /// m.patch_u64(8, u64::MAX)?;
    /// assert!(m.patch_u64(4, 0).is_err());
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// As for [`patch_u32`](Self::patch_u32), with 8 for 4.
    pub fn patch_u64(&mut self, offset: usize, value: u64) -> Result<(), Error> {
        let ptr = self.atomic_slot(offset, 8)?;
        // SAFETY: as in `patch_u32`, for an 8-byte slot at a multiple of 8.
        unsafe { AtomicU64::from_ptr(ptr.as_ptr().cast()) }.store(value, Ordering::Release);
        self.flush_patch(offset, 8)
    }

    /// The writable address of `size` bytes at `offset`, after checking that they are
    /// aligned to `size`, handed out, and writable.
    fn atomic_slot(&self, offset: usize, size: usize) -> Result<NonNull<u8>, Error> {
        let base = self.base().as_ptr() as usize;
        // The base is page-aligned, so an offset that is a multiple of `size` is an aligned
        // address.
        if !offset.is_multiple_of(size) {
            return Err(Error::InvalidAddress {
                addr: base.wrapping_add(offset),
                align: size,
            });
        }
        if offset.checked_add(size).is_none_or(|end| end > self.used()) {
            return Err(Error::NotInArena {
                addr: base.wrapping_add(offset),
                len: size,
            });
        }
        if let Some(protection) =
            self.prots
                .first_lacking(offset, offset + size, Protection::is_writable)
        {
            return Err(Error::NotWritable { protection });
        }
        Ok(self.base().map_addr(|b| b.saturating_add(offset)))
    }

    /// After a patch: in a dual-mapped region, makes the executable view's copy of the
    /// patched bytes coherent for instruction fetch (a no-op on x86 outside Windows).
    fn flush_patch(&self, offset: usize, len: usize) -> Result<(), Error> {
        if !self.is_dual_mapped() {
            return Ok(());
        }
        icache::flush(self.exec_base().map_addr(|b| b.saturating_add(offset)), len)
    }
}
