//! [`SharedCode`]: a [`Mallocator`] frozen for sharing between threads, to keep published
//! code alive behind an `Arc` while other threads run it.
//!
//! `Mallocator` itself stays `Send` but not `Sync`: its bump pointer is a plain `Cell`, and
//! making it atomic would slow every single-thread allocation. Freezing instead moves the
//! arena into a type with no allocation and no mutation at all, so sharing it is sound and
//! the single-thread path is untouched.

use core::ops::RangeBounds;
use core::ptr::NonNull;

use crate::{Error, Mallocator, Protection};

/// A [`Mallocator`] that allocates no more: `Sync`, so an `Arc<SharedCode>` keeps the region
/// (and the code published in it) alive for every thread that holds a clone. Made by
/// [`Mallocator::into_shared`]; only queries are offered, and
/// [`into_inner`](Self::into_inner) gives the arena back to its one remaining owner.
///
/// ```
/// use std::sync::Arc;
/// use vmallocator::{Mallocator, Protection};
///
/// let mut m = Mallocator::new()?;
/// let code = m.alloc_hex("b8 2a 00 00 00 c3")?; // mov eax, 42; ret
/// let (offset, len) = (code.as_ptr() as usize - m.base().as_ptr() as usize, code.len());
/// m.publish(offset..offset + len)?;
/// let shared = Arc::new(m.into_shared());
/// let threads: Vec<_> = (0..2)
///     .map(|_| {
///         let shared = Arc::clone(&shared);
///         std::thread::spawn(move || {
///             assert_eq!(shared.protection_at(offset), Some(Protection::READ_EXECUTE));
///             shared.base().as_ptr() as usize + offset // where a caller would jump to
///         })
///     })
///     .collect();
/// for t in threads {
///     assert_eq!(t.join().unwrap(), shared.base().as_ptr() as usize + offset);
/// }
/// let m = Arc::into_inner(shared).unwrap().into_inner(); // the one owner again
/// assert_eq!(m.used(), vmallocator::page_size()); // publishing sealed the page
/// # Ok::<(), vmallocator::Error>(())
/// ```
pub struct SharedCode(Mallocator);

// SAFETY: `SharedCode` offers only `&self` queries that read the arena (addresses, sizes,
// the protection map) and never write through a `Cell` or into the region, so concurrent
// calls from many threads only read; `into_inner` takes it by value, so it runs with no
// other reference alive.
unsafe impl Sync for SharedCode {}

impl Mallocator {
    /// Freezes the arena for sharing between threads: see [`SharedCode`]. No more blocks
    /// can be allocated until [`SharedCode::into_inner`] gives it back.
    pub fn into_shared(self) -> SharedCode {
        SharedCode(self)
    }
}

impl SharedCode {
    /// The first address of the region, as [`Mallocator::base`].
    pub fn base(&self) -> NonNull<u8> {
        self.0.base()
    }

    /// Where code at offset 0 runs, as [`Mallocator::exec_base`]: [`base`](Self::base)
    /// unless the arena is dual-mapped.
    ///
    /// ```
    /// let shared = vmallocator::Mallocator::new()?.into_shared();
    /// assert_eq!(shared.exec_base(), shared.base());
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    pub fn exec_base(&self) -> NonNull<u8> {
        self.0.exec_base()
    }

    /// The size of the region, as [`Mallocator::size`].
    pub fn size(&self) -> usize {
        self.0.size()
    }

    /// Bytes handed out before the arena was frozen, as [`Mallocator::used`].
    pub fn used(&self) -> usize {
        self.0.used()
    }

    /// The protection of the whole region, `None` when its pages differ, as
    /// [`Mallocator::protection`].
    pub fn protection(&self) -> Option<Protection> {
        self.0.protection()
    }

    /// The protection of the byte at `offset`, as [`Mallocator::protection_at`].
    pub fn protection_at(&self, offset: usize) -> Option<Protection> {
        self.0.protection_at(offset)
    }

    /// The protection of the pages `range` touches, as [`Mallocator::protection_of`].
    ///
    /// # Errors
    /// [`Error::OutOfRange`] when the range reaches past the region.
    pub fn protection_of(
        &self,
        range: impl RangeBounds<usize>,
    ) -> Result<Option<Protection>, Error> {
        self.0.protection_of(range)
    }

    /// The arena back, to allocate, change protections or free it: from the last owner,
    /// e.g. through `Arc::into_inner`.
    pub fn into_inner(self) -> Mallocator {
        self.0
    }
}

impl core::fmt::Debug for SharedCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("SharedCode").field(&self.0).finish()
    }
}
