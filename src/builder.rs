//! Options for a new [`Mallocator`].

use crate::placement;
use crate::region::{Region, Request};
use crate::{Error, Mallocator, Protection, granularity};

/// Options for a new [`Mallocator`]; [`Mallocator::new`] and [`Mallocator::with_size`]
/// cover the common cases.
///
/// ```
/// use vmallocator::{Mallocator, Protection};
/// let m = Mallocator::builder()
///     .size(1 << 20)
///     .protection(Protection::READ_WRITE)
///     .guard_pages(1, 1)
///     .build()?;
/// assert_eq!(m.size(), 1 << 20);
/// # Ok::<(), vmallocator::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Builder {
    size: Option<usize>,
    protection: Protection,
    guard_before: usize,
    guard_after: usize,
    placement: Placement,
}

#[derive(Debug, Clone, Copy)]
enum Placement {
    Anywhere,
    At(usize),
    Near { addr: usize, distance: usize },
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// One allocation granule of read+write memory, no guard pages, anywhere.
    pub fn new() -> Self {
        Builder {
            size: None,
            protection: Protection::READ_WRITE,
            guard_before: 0,
            guard_after: 0,
            placement: Placement::Anywhere,
        }
    }

    /// The size of the region in bytes, rounded up to whole pages when built.
    pub fn size(mut self, size: usize) -> Self {
        self.size = Some(size);
        self
    }

    /// The protection of the region's pages.
    ///
    /// # Platform behaviour
    /// On macOS on Apple silicon, [`Protection::READ_WRITE_EXECUTE`] maps with `MAP_JIT`,
    /// which the kernel demands for such pages (type-checked, not run-tested).
    pub fn protection(mut self, protection: Protection) -> Self {
        self.protection = protection;
        self
    }

    /// Inaccessible guard pages (`PROT_NONE` / `PAGE_NOACCESS`) right below and right above
    /// the usable part, `before` and `after` pages of them, so that running off either end
    /// traps at once instead of touching a neighbour. [`base`](Mallocator::base) and
    /// [`size`](Mallocator::size) stay the usable part; the guards are released with it.
    ///
    /// ```
    /// use vmallocator::{Mallocator, page_size};
    /// let m = Mallocator::builder().size(page_size()).guard_pages(1, 2).build()?;
    /// assert_eq!(m.size(), page_size()); // the guards are not part of it
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    pub fn guard_pages(mut self, before: usize, after: usize) -> Self {
        self.guard_before = before;
        self.guard_after = after;
        self
    }

    /// Places the usable part at exactly `addr`, failing with [`Error::AddressInUse`]
    /// rather than replacing anything mapped there. `addr` must be page-aligned, and on
    /// Windows the start of the mapping (below any guard pages) a multiple of the 64 KiB
    /// allocation granularity.
    ///
    /// ```
    /// use vmallocator::{Error, Mallocator};
    /// let taken = Mallocator::new()?;
    /// let addr = taken.base().as_ptr() as usize;
    /// let e = Mallocator::builder().at(addr).build().unwrap_err();
    /// assert_eq!(e, Error::AddressInUse { addr });
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Platform behaviour
    /// Linux maps with `MAP_FIXED_NOREPLACE` (kernels before 4.17 ignore it and treat the
    /// address as a hint); other Unix systems pass a hint; in both cases a mapping that lands
    /// elsewhere is unmapped again. Windows calls `VirtualAlloc` with the address, which
    /// fails if the range is in use. `MAP_FIXED`, which replaces mappings, is never used.
    pub fn at(mut self, addr: usize) -> Self {
        self.placement = Placement::At(addr);
        self
    }

    /// Places the region so that every usable byte lies within `distance` bytes of `addr`,
    /// as close to it as free address space allows: for code that reaches `addr` with a
    /// relative jump or call (±2 GiB for x86_64 `rel32`, ±128 MiB for aarch64 `b`/`bl`).
    ///
    /// ```
    /// use vmallocator::Mallocator;
    /// let here = main as *const () as usize;
    /// # fn main() {}
    /// let m = Mallocator::builder().near(here, 1 << 31).build()?;
    /// let base = m.base().as_ptr() as usize;
    /// assert!(base.abs_diff(here) < 1 << 31);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Platform behaviour
    /// Linux reads the gaps from `/proc/self/maps`, Windows walks `VirtualQuery` for
    /// `MEM_FREE` blocks, other Unix systems probe outward from `addr`. Each candidate is
    /// mapped as with [`at`](Self::at), so a mapping made meanwhile by another thread is
    /// never replaced; the search then moves on.
    pub fn near(mut self, addr: usize, distance: usize) -> Self {
        self.placement = Placement::Near { addr, distance };
        self
    }

    /// Maps the region (`mmap` / `VirtualAlloc`), with its guard pages, where asked.
    ///
    /// # Errors
    /// [`Error::ZeroSize`] for a size of 0, [`Error::SizeOverflow`] when the size (guard
    /// pages included) overflows when rounded to pages or passes `isize::MAX`,
    /// [`Error::InvalidAddress`] for a misaligned [`at`](Self::at) address,
    /// [`Error::AddressInUse`] when that address is taken, [`Error::NoFreeSpaceNear`] when
    /// nothing within the [`near`](Self::near) distance is free, [`Error::Os`] when the OS
    /// refuses.
    pub fn build(&self) -> Result<Mallocator, Error> {
        let request = Request {
            size: self.size.unwrap_or_else(granularity),
            protection: self.protection,
            guard_before: self.guard_before,
            guard_after: self.guard_after,
        };
        let region = match self.placement {
            Placement::Anywhere => Region::map_request(&request, None),
            Placement::At(addr) => Region::map_request(&request, Some(addr)),
            Placement::Near { addr, distance } => placement::map_near(&request, addr, distance),
        }?;
        Ok(Mallocator::from_region(region))
    }
}
