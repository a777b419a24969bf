//! Dual mapping: the usable part of a region mapped a second time, so the same pages have a
//! writable address (the region's own base) and an executable one (this view's base).
//!
//! The executable view is the reservation the region was placed with (so placement near an
//! address applies to it), the writable view a reservation of the same layout anywhere;
//! both are then mapped over with one shared-memory object ([`sys::map_dual`]). A page is
//! committed in both views at once: read+execute here, the recorded protection there.

use core::mem::ManuallyDrop;
use core::ptr::NonNull;

use super::{Region, os_error};
use crate::{Error, Protection, sys};

/// The executable view of a dual-mapped region, with the same guard pages as the writable
/// one. Unmapped on drop.
pub(crate) struct ExecView {
    mapping: NonNull<u8>,
    mapping_len: usize,
    base: NonNull<u8>,
    memory: sys::SharedMemory,
}

// SAFETY: as for `Region`: the view is owned, and its pointers are only addresses.
unsafe impl Send for ExecView {}
// SAFETY: as for `Region`: `&ExecView` exposes addresses only.
unsafe impl Sync for ExecView {}

impl Region {
    /// Turns a fresh reservation (nothing committed, nothing referencing it) into a
    /// dual-mapped region: its usable part becomes the executable view, and a second
    /// reservation of the same layout, made anywhere, the writable one. Both views start
    /// with no access; [`commit`](Region::commit) makes pages usable in both.
    ///
    /// # Errors
    /// [`Error::Unsupported`] where this crate has no dual mapping, [`Error::Os`] when the
    /// OS refuses; everything mapped so far is unmapped then.
    #[cfg(not(windows))]
    pub(crate) fn into_dual(self) -> Result<Region, Error> {
        debug_assert!(self.dual.is_none());
        if !sys::DUAL_MAPPING {
            return Err(Error::Unsupported);
        }
        let before = self.base.as_ptr() as usize - self.mapping.as_ptr() as usize;
        // SAFETY: `mapping_len`, the length of an existing mapping, is a non-zero multiple
        // of the page size.
        let mapping =
            unsafe { sys::reserve(sys::Place::Anywhere, self.mapping_len) }.map_err(os_error)?;
        // From here on, dropping `write` unmaps the new reservation.
        let mut write = Region {
            mapping,
            mapping_len: self.mapping_len,
            // SAFETY: the same offset as in `self`, inside a mapping of the same length.
            base: unsafe { mapping.add(before) },
            len: self.len,
            protection: self.protection,
            dual: None,
        };
        // SAFETY: both usable parts lie inside fresh reservations of ours, `len` bytes each,
        // a non-zero multiple of the page size; nothing references them yet.
        let memory = unsafe { sys::map_dual(self.base, write.base, self.len) }.map_err(os_error)?;
        // The executable view now owns `self`'s mapping: `self` must not unmap it.
        let exec = ManuallyDrop::new(self);
        write.dual = Some(ExecView {
            mapping: exec.mapping,
            mapping_len: exec.mapping_len,
            base: exec.base,
            memory,
        });
        Ok(write)
    }

    /// Windows cannot map a view over a reservation: the reservation (no guard pages, which
    /// a view could not keep: views start at 64 KiB granules) is released and the
    /// executable view mapped at its address at once; another thread mapping something
    /// there in between makes this fail, never replaces anything. The writable view goes
    /// anywhere.
    ///
    /// # Errors
    /// [`Error::Unsupported`] with guard pages, [`Error::Os`] when the OS refuses (the
    /// reservation is gone then too).
    #[cfg(windows)]
    pub(crate) fn into_dual(self) -> Result<Region, Error> {
        debug_assert!(self.dual.is_none());
        if self.mapping != self.base || self.mapping_len != self.len {
            return Err(Error::Unsupported);
        }
        let (at, len, protection) = (self.base, self.len, self.protection);
        let memory = sys::create_section(len).map_err(os_error)?;
        let write = sys::map_view(&memory, len, false, None).map_err(os_error)?;
        let unmap_write = || {
            // SAFETY: the writable view just made, referenced by nothing.
            let _ = unsafe { sys::unmap_view(write, len) };
        };
        if let Err((e, _)) = self.release() {
            unmap_write();
            return Err(e);
        }
        let exec = match sys::map_view(&memory, len, true, Some(at)) {
            Ok(exec) if exec == at => exec,
            Ok(elsewhere) => {
                // SAFETY: the view just made, referenced by nothing.
                let _ = unsafe { sys::unmap_view(elsewhere, len) };
                unmap_write();
                return Err(Error::AddressInUse {
                    addr: at.as_ptr() as usize,
                });
            }
            Err(e) => {
                unmap_write();
                return Err(match e.1 {
                    // Another thread took the address since the reservation was released.
                    sys::ADDRESS_IN_USE => Error::AddressInUse {
                        addr: at.as_ptr() as usize,
                    },
                    _ => os_error(e),
                });
            }
        };
        Ok(Region {
            mapping: write,
            mapping_len: len,
            base: write,
            len,
            protection,
            dual: Some(ExecView {
                mapping: exec,
                mapping_len: len,
                base: exec,
                memory,
            }),
        })
    }

    /// Whether the region is mapped twice ([`into_dual`](Self::into_dual)).
    #[inline]
    pub(crate) fn is_dual(&self) -> bool {
        self.dual.is_some()
    }

    /// The first address of the executable view: the region's base unless dual-mapped.
    #[inline]
    pub(crate) fn exec_base(&self) -> NonNull<u8> {
        self.dual.as_ref().map_or(self.base, |exec| exec.base)
    }
}

impl ExecView {
    /// Commits `[offset, offset + len)` of this view read+execute, after the caller did the
    /// writable view at `write` (the same pages there). Should the OS refuse, the writable
    /// view's pages go back to no access, so both views agree again.
    pub(super) fn commit(
        &self,
        write: NonNull<u8>,
        write_base: NonNull<u8>,
        len: usize,
    ) -> Result<(), Error> {
        let offset = write.as_ptr() as usize - write_base.as_ptr() as usize;
        // SAFETY: `offset + len` lies inside the usable part (the writable view's range was
        // checked by the caller, and both views have the same length).
        let exec = unsafe { self.base.add(offset) };
        // SAFETY: the range is page-aligned and inside this view, which holds no Rust
        // reference (code is only run from it).
        let result = unsafe { sys::commit(exec, len, Protection::READ_EXECUTE) };
        if let Err(e) = result {
            // SAFETY: the writable pages were just committed for this call; the caller's
            // contract says nothing references them.
            let _ = unsafe { sys::protect(write, len, Protection::NONE) };
            return Err(os_error(e));
        }
        Ok(())
    }

    /// Makes the pages of `[offset, offset + len)` read zeroes in both views (`write` is
    /// the writable view's copy of the range). Linux punches a hole in the shared memory:
    /// the memory goes back, in one system call that changes everything or nothing, and the
    /// pages keep their access rights (the owner touches them only once committed again).
    /// Windows cannot decommit a view: the pages are zeroed and stay committed.
    ///
    /// # Safety
    /// The range must be committed and referenced by nothing.
    pub(super) unsafe fn decommit(
        &self,
        write: NonNull<u8>,
        offset: usize,
        len: usize,
    ) -> Result<(), Error> {
        // SAFETY: forwarded from the caller.
        unsafe { sys::discard(&self.memory, write, offset, len) }.map_err(os_error)
    }

    /// Unmaps the view, or gives it back with the OS's error.
    pub(super) fn release(self) -> Result<(), (Error, ExecView)> {
        // SAFETY: the view is consumed: on success it is forgotten below, so its drop does
        // not unmap it a second time; nothing runs code from it any more (the owner's
        // contract with `function`).
        match unsafe { sys::unmap_view(self.mapping, self.mapping_len) } {
            Ok(()) => {
                let this = ManuallyDrop::new(self);
                // SAFETY: read once from a value that is never used or dropped again.
                drop(unsafe { core::ptr::read(&this.memory) });
                Ok(())
            }
            Err(e) => Err((os_error(e), self)),
        }
    }
}

impl Drop for ExecView {
    /// Unmaps the view; should the OS refuse, the view is leaked (as for [`Region`]).
    fn drop(&mut self) {
        // SAFETY: the view owns its mapping, and after drop nothing can use it.
        let _ = unsafe { sys::unmap_view(self.mapping, self.mapping_len) };
    }
}
