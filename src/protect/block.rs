//! Naming bytes of a region for the protection calls: byte offsets from the base, or a
//! [`Block`] handle made from a block the arena handed out.
#![forbid(unsafe_code)]

use core::ops::{Bound, RangeBounds};
use core::ptr::NonNull;

use crate::{Error, Mallocator};

/// A handle to a block of one arena: its address, its length and the arena's identity.
///
/// Plain data (`Copy`, no borrow), so it survives the `&mut self` calls that change
/// protection, where the slice it was made from cannot. Make one with
/// [`Mallocator::block_of`] from a slice a helper returned, or [`Mallocator::block_at`]
/// from a raw [`alloc`](Mallocator::alloc) block; pass it to
/// [`publish`](Mallocator::publish), [`make_writable`](Mallocator::make_writable),
/// [`protect`](Mallocator::protect), [`protection_of`](Mallocator::protection_of),
/// [`patch`](Mallocator::patch) and [`function`](Mallocator::function). Another arena
/// refuses it with [`Error::ForeignBlock`], even one mapped later at the same address.
///
/// ```
/// use vmallocator::{Mallocator, Protection};
/// let mut m = Mallocator::new()?;
/// let code = m.block_of(m.alloc_hex("c3")?)?;
/// m.publish(code)?;
/// assert_eq!(m.protection_of(code)?, Some(Protection::READ_EXECUTE));
/// assert_eq!((code.addr(), code.len()), (m.base().as_ptr() as usize, 1));
/// # Ok::<(), vmallocator::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Block {
    addr: usize,
    len: usize,
    arena: u64,
}

impl Block {
    /// The address of the block's first byte.
    #[inline]
    pub fn addr(&self) -> usize {
        self.addr
    }

    /// The block's length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the block has no bytes.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

pub(crate) mod sealed {
    use crate::{Error, Mallocator};

    /// Resolves to byte offsets `(start, end)` inside an arena's region.
    pub trait Sealed {
        /// The offsets, or the error that makes them impossible.
        fn offsets(self, m: &Mallocator) -> Result<(usize, usize), Error>;
    }
}

/// Bytes of a region, for the protection calls and queries: a range of byte offsets from
/// [`base`](Mallocator::base) (`a..b`, `a..=b`, `a..`, `..b`, `..`) or a [`Block`].
///
/// Sealed: implemented by this crate only.
pub trait ByteRange: sealed::Sealed {}

impl<R: RangeBounds<usize>> ByteRange for R {}
impl ByteRange for Block {}

impl<R: RangeBounds<usize>> sealed::Sealed for R {
    #[inline]
    fn offsets(self, m: &Mallocator) -> Result<(usize, usize), Error> {
        let size = m.size();
        let start = match self.start_bound() {
            Bound::Included(&s) => Some(s),
            Bound::Excluded(&s) => s.checked_add(1),
            Bound::Unbounded => Some(0),
        };
        let end = match self.end_bound() {
            Bound::Included(&e) => e.checked_add(1),
            Bound::Excluded(&e) => Some(e),
            Bound::Unbounded => Some(size),
        };
        match (start, end) {
            (Some(s), Some(e)) if s <= e && e <= size => Ok((s, e)),
            (s, e) => {
                let offset = s.unwrap_or(usize::MAX);
                Err(Error::OutOfRange {
                    offset,
                    len: e.unwrap_or(usize::MAX).saturating_sub(offset),
                    size,
                })
            }
        }
    }
}

impl sealed::Sealed for Block {
    #[inline]
    fn offsets(self, m: &Mallocator) -> Result<(usize, usize), Error> {
        if self.arena != m.id() {
            return Err(Error::ForeignBlock);
        }
        // A block of this arena lies inside its region: checked when the handle was made.
        let start = self.addr - m.base().as_ptr() as usize;
        Ok((start, start + self.len))
    }
}

impl Mallocator {
    /// A [`Block`] handle for `bytes`, which must lie in the part of this arena handed out
    /// so far (`[base, ptr)`): typically a slice a helper such as
    /// [`alloc_hex`](Self::alloc_hex) just returned. The handle holds no borrow.
    ///
    /// ```
    /// # let m = vmallocator::Mallocator::new()?;
    /// let bytes = m.alloc_bytes(&[1, 2, 3])?;
    /// let block = m.block_of(&bytes[1..])?;
    /// assert_eq!(block.len(), 2);
    /// assert!(m.block_of(&[0u8; 4]).is_err()); // not in the arena
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotInArena`] when `bytes` is not inside `[base, ptr)`.
    #[inline]
    pub fn block_of(&self, bytes: &[u8]) -> Result<Block, Error> {
        self.block_from(bytes.as_ptr() as usize, bytes.len())
    }

    /// A [`Block`] handle for the `len` bytes at `ptr`, which must lie in the part of this
    /// arena handed out so far: typically a block from [`alloc`](Self::alloc).
    ///
    /// ```
    /// # let m = vmallocator::Mallocator::new()?;
    /// let raw = m.alloc(16, 16)?;
    /// let block = m.block_at(raw, 16)?;
    /// assert_eq!(block.addr(), raw.as_ptr() as usize);
    /// assert!(m.block_at(raw, 17).is_err()); // past the bump pointer
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotInArena`] when the bytes are not inside `[base, ptr)`.
    pub fn block_at(&self, ptr: NonNull<u8>, len: usize) -> Result<Block, Error> {
        self.block_from(ptr.as_ptr() as usize, len)
    }

    #[inline]
    fn block_from(&self, addr: usize, len: usize) -> Result<Block, Error> {
        let base = self.base().as_ptr() as usize;
        let inside = addr >= base
            && addr
                .checked_add(len)
                .is_some_and(|end| end <= base + self.used());
        if !inside {
            return Err(Error::NotInArena { addr, len });
        }
        Ok(Block {
            addr,
            len,
            arena: self.id(),
        })
    }
}
