//! Patching written code and calling published code: the two places where the protection
//! module turns region addresses into a slice or a function pointer.

use core::mem::MaybeUninit;
use core::slice;

use super::ByteRange;
use super::block::sealed::Sealed as _;
use crate::{Block, Error, Mallocator, Protection};

mod sealed {
    pub trait Sealed {}
}

/// Function-pointer types that [`Mallocator::function`] can hand out: `extern "C"` and
/// `extern "system"` functions (safe or `unsafe`) of up to six arguments.
///
/// Sealed: implemented by this crate only, for types that are exactly one code address.
pub trait FnPtr: Copy + sealed::Sealed {}

macro_rules! fn_ptrs {
    ($($arg:ident),*) => {
        fn_ptrs!(@abi "C", $($arg),*);
        fn_ptrs!(@abi "system", $($arg),*);
    };
    (@abi $abi:literal, $($arg:ident),*) => {
        impl<R, $($arg),*> sealed::Sealed for extern $abi fn($($arg),*) -> R {}
        impl<R, $($arg),*> FnPtr for extern $abi fn($($arg),*) -> R {}
        impl<R, $($arg),*> sealed::Sealed for unsafe extern $abi fn($($arg),*) -> R {}
        impl<R, $($arg),*> FnPtr for unsafe extern $abi fn($($arg),*) -> R {}
    };
}

fn_ptrs!();
fn_ptrs!(A);
fn_ptrs!(A, B);
fn_ptrs!(A, B, C);
fn_ptrs!(A, B, C, D);
fn_ptrs!(A, B, C, D, E);
fn_ptrs!(A, B, C, D, E, F);

impl Mallocator {
    /// A mutable view of bytes already handed out, to patch them in place: typically code
    /// made writable again with [`make_writable`](Self::make_writable). Takes `&mut self`,
    /// so no other view into the region is alive while it is.
    ///
    /// The view is `[MaybeUninit<u8>]`: the bytes may come from a raw
    /// [`alloc`](Self::alloc) block, where unsafe code may have left some uninitialised, and
    /// reading such a byte as `u8` would be undefined behaviour. Writing needs no `unsafe`
    /// (`write_copy_of_slice`, or `MaybeUninit::write` per byte); reading needs
    /// `assume_init`, with the caller vouching the bytes were written.
    ///
    /// ```
    /// use vmallocator::Mallocator;
    /// let mut m = Mallocator::new()?;
    /// let code = m.block_of(m.alloc_hex("b8 2a 00 00 00 c3")?)?; // mov eax, 42; ret
    /// m.publish(code)?;
    /// m.make_writable(code)?;
    /// m.patch(code)?[1..5].write_copy_of_slice(&7u32.to_le_bytes()); // mov eax, 7
    /// m.publish(code)?;
    /// assert!(m.patch(code).is_err()); // read+execute now
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ForeignBlock`] for a block of another arena, [`Error::OutOfRange`] for a
    /// range outside the region, [`Error::NotInArena`] for bytes not handed out yet (at or
    /// above [`ptr`](Self::ptr)), [`Error::NotWritable`] when a page of the range cannot be
    /// written. Nothing has changed then.
    pub fn patch(&mut self, bytes: impl ByteRange) -> Result<&mut [MaybeUninit<u8>], Error> {
        let (start, end) = bytes.offsets(self)?;
        let base = self.base().as_ptr() as usize;
        if end > self.used() {
            return Err(Error::NotInArena {
                addr: base + start,
                len: end - start,
            });
        }
        if start < end
            && let Some(protection) = self
                .prots
                .first_lacking(start, end, Protection::is_writable)
        {
            return Err(Error::NotWritable { protection });
        }
        let ptr = self.base().as_ptr().with_addr(base + start);
        // SAFETY: `[start, end)` is below the pointer (committed), its pages writable and
        // readable; `&mut self`: no earlier reference is alive; any byte is a valid
        // `MaybeUninit<u8>`.
        Ok(unsafe { slice::from_raw_parts_mut(ptr.cast::<MaybeUninit<u8>>(), end - start) })
    }

    /// The published code at the start of `block` as a function pointer of type `F`, e.g.
    /// `extern "C" fn(i32) -> i32`. Checks what can be checked: the block belongs to this
    /// arena, is not empty, and every page of it is executable.
    ///
    /// ```
    /// use vmallocator::Mallocator;
    /// let mut m = Mallocator::new()?;
    /// # #[cfg(target_arch = "x86_64")]
    /// let code = m.block_of(m.alloc_hex("b8 2a 00 00 00 c3")?)?; // mov eax, 42; ret
    /// # #[cfg(target_arch = "aarch64")]
    /// # let code = m.block_of(m.alloc_hex("40 05 80 52 c0 03 5f d6")?)?;
    /// # #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))] {
    /// // SAFETY: not published yet: refused with an error, nothing is called.
    /// assert!(unsafe { m.function::<extern "C" fn() -> i32>(code) }.is_err());
    /// m.publish(code)?;
    /// // SAFETY: `code` is a whole `extern "C" fn() -> i32` for this target, published, and
    /// // `m` outlives every call.
    /// let f = unsafe { m.function::<extern "C" fn() -> i32>(code) }?;
    /// assert_eq!(f(), 42);
    /// # }
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// With dual mapping ([`Builder::dual_mapping`](crate::Builder::dual_mapping)) the
    /// pointer is the block's address in the executable view, where every committed page is
    /// executable: that the code was [published](Self::publish) since it was written is then
    /// the caller's part of the contract below, not a check.
    ///
    /// # Errors
    /// [`Error::ForeignBlock`] for a block of another arena, [`Error::NotInArena`] for an
    /// empty block or one no longer committed, [`Error::NotExecutable`] when a page of the block is not executable
    /// (not published, or made writable since; never with dual mapping). Nothing has changed then.
    ///
    /// # Safety
    /// Calling the function is only sound if the block starts with machine code for this
    /// CPU that follows `F`'s signature and calling convention, published since it was last
    /// written (with dual mapping nothing else stops a call of unpublished bytes), if every page it runs stays
    /// executable and unchanged while it runs, and if the arena outlives every call: the
    /// pointer borrows nothing. Getting the pointer alone does nothing unsafe.
    #[inline]
    pub unsafe fn function<F: FnPtr>(&self, block: Block) -> Result<F, Error> {
        let (start, end) = block.offsets(self)?;
        // Code lies in committed memory: not past it (e.g. after `reset_decommit`).
        if start == end || end > self.committed() {
            return Err(Error::NotInArena {
                addr: block.addr(),
                len: block.len(),
            });
        }
        // With dual mapping the executable view is read+execute wherever committed; the
        // recorded protections are the writable view's.
        if !self.is_dual_mapped()
            && let Some(protection) =
                self.prots
                    .first_lacking(start, end, Protection::is_executable)
        {
            return Err(Error::NotExecutable { protection });
        }
        const { assert!(size_of::<F>() == size_of::<*const u8>()) };
        let exec = self.exec_base();
        let code: *const u8 = exec.as_ptr().with_addr(exec.as_ptr() as usize + start);
        // SAFETY: `F` is a function-pointer type (sealed `FnPtr`), the size of an address
        // (asserted at compile time), so the bits of `code` are a value of `F`. That the code
        // there fits `F` is the caller's promise; calling it is where that matters.
        Ok(unsafe { core::mem::transmute_copy::<*const u8, F>(&code) })
    }
}
