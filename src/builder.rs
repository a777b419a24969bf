//! Options for a new [`Mallocator`].

use crate::region::Region;
use crate::{Error, Mallocator, Protection, granularity};

/// Options for a new [`Mallocator`]; [`Mallocator::new`] and [`Mallocator::with_size`]
/// cover the common cases.
///
/// ```
/// use vmallocator::{Mallocator, Protection};
/// let m = Mallocator::builder()
///     .size(1 << 20)
///     .protection(Protection::READ_WRITE)
///     .build()?;
/// assert_eq!(m.size(), 1 << 20);
/// # Ok::<(), vmallocator::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Builder {
    size: Option<usize>,
    protection: Protection,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// One allocation granule of read+write memory.
    pub fn new() -> Self {
        Builder {
            size: None,
            protection: Protection::READ_WRITE,
        }
    }

    /// The size of the region in bytes, rounded up to whole pages when built.
    pub fn size(mut self, size: usize) -> Self {
        self.size = Some(size);
        self
    }

    /// The protection of the region's pages.
    pub fn protection(mut self, protection: Protection) -> Self {
        self.protection = protection;
        self
    }

    /// Maps the region (`mmap` / `VirtualAlloc`).
    ///
    /// # Errors
    /// [`Error::ZeroSize`] for a size of 0, [`Error::SizeOverflow`] when the size overflows
    /// when rounded to pages or passes `isize::MAX`, [`Error::Os`] when the OS refuses.
    pub fn build(&self) -> Result<Mallocator, Error> {
        let size = self.size.unwrap_or_else(granularity);
        Region::map(size, self.protection).map(Mallocator::from_region)
    }
}
