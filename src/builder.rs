//! Options for a new [`Mallocator`].

use crate::placement;
use crate::region::{HUGE_PAGE, Region, Request};
use crate::{Error, Mallocator, Protection, granularity, page_size};

/// Huge pages for a region: fewer TLB misses and page faults for large regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum HugePages {
    /// Normal pages.
    #[default]
    Off,
    /// Linux transparent huge pages: the region is aligned to 2 MiB, committed in whole
    /// 2 MiB steps, and marked with `madvise(MADV_HUGEPAGE)`; the kernel backs it with
    /// huge pages when it can (see `/sys/kernel/mm/transparent_hugepage/enabled`).
    /// Other systems fall back to normal pages.
    Transparent,
    /// Huge pages the system keeps aside: Linux `MAP_HUGETLB` (2 MiB pages, which must be
    /// configured in `/proc/sys/vm/nr_hugepages`), Windows `MEM_LARGE_PAGES` (needs the
    /// "Lock pages in memory" privilege). The whole region is committed at once; it is
    /// rounded up to whole huge pages. When refused, the region falls back to normal pages.
    Explicit,
}

/// The commit step when none is set: 1 MiB (whole pages).
pub const DEFAULT_COMMIT_STEP: usize = 1 << 20;

/// Options for a new [`Mallocator`]; [`Mallocator::new`] and [`Mallocator::with_size`]
/// cover the common cases.
///
/// Without [`reserve`](Self::reserve), the region is `size` bytes, all committed at once.
/// With it, the region reserves that much address space (the hard cap, which never
/// moves) and commits memory in steps of [`commit_step`](Self::commit_step) only as the
/// bump pointer needs it; `size` is then how much to commit up front.
///
/// ```
/// use vmallocator::{Mallocator, Protection};
/// let m = Mallocator::builder()
///     .size(1 << 20)
///     .protection(Protection::READ_WRITE)
///     .build()?;
/// assert_eq!(m.size(), 1 << 20);
///
/// // 64 GiB of address space; memory is committed 1 MiB at a time as it is used.
/// let big = Mallocator::builder().reserve(64 << 30).build()?;
/// assert_eq!((big.reserved(), big.committed()), (64 << 30, 0));
/// big.alloc_bytes(&[1; 100])?;
/// assert_eq!(big.committed(), 1 << 20);
/// # Ok::<(), vmallocator::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Builder {
    size: Option<usize>,
    reserve: Option<usize>,
    step: Option<usize>,
    protection: Protection,
    huge: HugePages,
    guard_before: usize,
    guard_after: usize,
    placement: Placement,
    dual: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// One allocation granule of read+write memory.
    pub fn new() -> Self {
        Builder {
            size: None,
            reserve: None,
            step: None,
            protection: Protection::READ_WRITE,
            huge: HugePages::Off,
            guard_before: 0,
            guard_after: 0,
            placement: Placement::Anywhere,
            dual: false,
        }
    }

    /// The size of the region in bytes, rounded up to whole pages when built; with
    /// [`reserve`](Self::reserve), the bytes to commit up front.
    pub fn size(mut self, size: usize) -> Self {
        self.size = Some(size);
        self
    }

    /// Reserve `bytes` of address space (rounded up to whole pages) and commit memory
    /// lazily, as the bump pointer needs it. The reservation is the hard cap of the
    /// region, and addresses never move. Unix: `mmap(PROT_NONE, MAP_NORESERVE)`, then
    /// `mprotect` of the committed prefix; Windows: `MEM_RESERVE`, then `MEM_COMMIT`.
    pub fn reserve(mut self, bytes: usize) -> Self {
        self.reserve = Some(bytes);
        self
    }

    /// How much to commit at a time when the bump pointer passes the committed end,
    /// rounded up to whole pages (to 2 MiB with transparent huge pages). Default
    /// [`DEFAULT_COMMIT_STEP`].
    pub fn commit_step(mut self, bytes: usize) -> Self {
        self.step = Some(bytes);
        self
    }

    /// The protection of the region's pages.
    pub fn protection(mut self, protection: Protection) -> Self {
        self.protection = protection;
        self
    }

    /// Back the region with huge pages where the system allows; see [`HugePages`]. When
    /// it does not, the region uses normal pages and
    /// [`Mallocator::huge_pages_fallback`] says why.
    pub fn huge_pages(mut self, huge: HugePages) -> Self {
        self.huge = huge;
        self
    }

    /// Inaccessible guard pages (`PROT_NONE` / `PAGE_NOACCESS`) right below and right above
    /// the usable part, `before` and `after` pages of them, so that running off either end
    /// traps at once instead of touching a neighbour. [`base`](Mallocator::base) and
    /// [`size`](Mallocator::size) stay the usable part; the guards are released with it.
    /// With [`reserve`](Self::reserve) the guards sit around the whole reservation (they are
    /// reserved pages that are never committed), so a growing code heap keeps them as it
    /// commits. Guard pages and placement do not go with
    /// [`huge_pages`](Self::huge_pages): [`build`](Self::build) reports
    /// [`Error::InvalidOptions`].
    ///
    /// ```
    /// use vmallocator::{Mallocator, page_size};
    /// let m = Mallocator::builder().size(page_size()).guard_pages(1, 2).build()?;
    /// assert_eq!(m.size(), page_size()); // the guards are not part of it
    ///
    /// // A code heap: 1 GiB reserved within ±2 GiB of this code, guarded, committed as used.
    /// fn anchor() {}
    /// let here = anchor as *const () as usize;
    /// let heap = Mallocator::builder()
    ///     .reserve(1 << 30)
    ///     .guard_pages(1, 1)
    ///     .near(here, (1 << 31) - 1)
    ///     .build()?;
    /// let (first, last) = (heap.base().as_ptr() as usize, heap.base().as_ptr() as usize + heap.size() - 1);
    /// assert!(first.abs_diff(here) < 1 << 31 && last.abs_diff(here) < 1 << 31);
    /// assert_eq!(heap.committed(), 0);
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
    /// fn existing_code() {}
    /// let here = existing_code as *const () as usize;
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

    /// Maps the region twice (`true`), for code: the same pages at a writable address
    /// ([`base`](Mallocator::base)) and at an executable one
    /// ([`exec_base`](Mallocator::exec_base)). Code is written through the first and run
    /// from the second, so no address is ever writable and executable, code stays callable
    /// while it is written or patched, and [`publish`](Mallocator::publish) changes no
    /// protection: it only makes the instruction stream coherent (no system call on Linux
    /// x86_64). Off by default.
    ///
    /// What refers to which view: everything allocation-side ([`base`](Mallocator::base),
    /// [`ptr`](Mallocator::ptr), offsets, the slices and [`Block`](crate::Block)s the helpers
    /// return, [`protect`](Mallocator::protect)) is the writable view;
    /// [`function`](Mallocator::function) and [`exec_addr`](Mallocator::exec_addr) give
    /// addresses in the executable view; [`near`](Self::near) and [`at`](Self::at) place the
    /// executable view (what relative calls must reach); guard pages surround both.
    ///
    /// ```
    /// use vmallocator::{Mallocator, Protection};
    /// # #[cfg(any(target_os = "linux", target_os = "android", windows))] {
    /// let mut m = Mallocator::builder().reserve(1 << 20).dual_mapping(true).build()?;
    /// assert!(m.is_dual_mapped());
    /// assert_ne!(m.base(), m.exec_base());
    /// let code = m.block_of(m.alloc_bytes(&[0xc3])?)?;
    /// m.publish(code)?; // no protection change: the writable view stays writable
    /// assert_eq!(m.protection(), Some(Protection::READ_WRITE));
    /// assert_eq!(m.exec_addr(code)?, m.exec_base().as_ptr() as usize);
    /// # }
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Platform behaviour
    /// Linux and Android: one `memfd_create(2)` file sized to the region (`ftruncate`
    /// allocates nothing), mapped `MAP_SHARED` over both reservations; committing is
    /// `mprotect` of both views, decommitting punches a hole in the file
    /// (`fallocate(FALLOC_FL_PUNCH_HOLE)`). It also works where the kernel forbids making
    /// writable memory executable (SELinux `deny_execmem`, PaX MPROTECT), which is untested
    /// here. Windows: one section created with `SEC_RESERVE` (`CreateFileMappingW` with
    /// `PAGE_EXECUTE_READWRITE | SEC_RESERVE`), mapped twice with `MapViewOfFileEx`; the
    /// reservation that placement made is released and the executable view mapped at its
    /// address at once (placed again should another thread take it in between); committing is
    /// `VirtualAlloc(MEM_COMMIT)` in both views; decommitting zeroes the pages instead (a view
    /// cannot be decommitted); guard pages are refused with [`Error::Unsupported`] (views
    /// start at 64 KiB granules). Tested under Wine 8, not on a Windows kernel. macOS and the
    /// other Unix systems: not built, [`build`](Self::build) reports [`Error::Unsupported`].
    pub fn dual_mapping(mut self, dual: bool) -> Self {
        self.dual = dual;
        self
    }

    /// Maps the region (`mmap` / `VirtualAlloc`), with its guard pages, where asked.
    ///
    /// # Errors
    /// [`Error::ZeroSize`] for a size of 0, [`Error::SizeOverflow`] when the size overflows
    /// when rounded to pages or passes `isize::MAX`, [`Error::GuardPagesOverflow`] when the
    /// guard pages do (alone or with the size), [`Error::InvalidOptions`] for a commit step
    /// of 0, a `size` above the reservation, or guard pages or placement with huge pages,
    /// [`Error::InvalidAddress`] for a misaligned [`at`](Self::at) address,
    /// [`Error::AddressInUse`] when that address is taken, [`Error::NoFreeSpaceNear`] when
    /// nothing within the [`near`](Self::near) distance is free, [`Error::Os`] when the OS
    /// refuses. With [`dual_mapping`](Self::dual_mapping): [`Error::InvalidOptions`] for an
    /// executable protection or huge pages, [`Error::Unsupported`] where it is not built.
    pub fn build(&self) -> Result<Mallocator, Error> {
        let (reserve, commit) = match (self.size, self.reserve) {
            (None, None) => (granularity(), None),
            (Some(size), None) => (size, None),
            (None, Some(reserve)) => (reserve, Some(0)),
            (Some(size), Some(reserve)) if size <= reserve => (reserve, Some(size)),
            (Some(_), Some(_)) => {
                return Err(Error::InvalidOptions {
                    reason: "the size to commit up front is above the reservation",
                });
            }
        };
        let step = match self.step {
            Some(0) => {
                return Err(Error::InvalidOptions {
                    reason: "the commit step is 0",
                });
            }
            Some(step) => step,
            None => DEFAULT_COMMIT_STEP,
        };
        let step = |unit: usize| {
            step.checked_next_multiple_of(unit)
                .unwrap_or(usize::MAX & !(unit - 1))
        };
        let special = self.guard_before != 0
            || self.guard_after != 0
            || self.placement != Placement::Anywhere;
        if special && self.huge != HugePages::Off {
            return Err(Error::InvalidOptions {
                reason: "guard pages and placement do not go with huge pages",
            });
        }
        if self.dual {
            if self.protection.is_executable() {
                return Err(Error::InvalidOptions {
                    reason: "with dual mapping the protection is the writable view's: not executable",
                });
            }
            if self.huge != HugePages::Off {
                return Err(Error::InvalidOptions {
                    reason: "dual mapping does not go with huge pages",
                });
            }
        }
        let request = Request {
            size: reserve,
            protection: self.protection,
            guard_before: self.guard_before,
            guard_after: self.guard_after,
            // A dual mapping is made over reservations, then committed.
            reserve_only: commit.is_some() || self.dual,
        };
        let place = || match self.placement {
            Placement::Anywhere => Region::map_request(&request, None),
            Placement::At(addr) => Region::map_request(&request, Some(addr)),
            Placement::Near { addr, distance } => placement::map_near(&request, addr, distance),
        };
        let normal = |fallback| {
            if self.dual {
                let region = dual(place)?;
                let up_front = commit.unwrap_or(region.len());
                return committed(region, up_front, step(page_size()), (HugePages::Off, None));
            }
            let region = place()?;
            Ok::<_, Error>(match commit {
                None => {
                    let len = region.len();
                    Mallocator::from_region(
                        region,
                        len,
                        step(page_size()),
                        (HugePages::Off, fallback),
                    )?
                }
                Some(bytes) => {
                    committed(region, bytes, step(page_size()), (HugePages::Off, fallback))?
                }
            })
        };
        match self.huge {
            HugePages::Off => normal(None),
            HugePages::Explicit => match Region::map_huge(reserve, self.protection) {
                Ok(region) => {
                    let len = region.len();
                    Mallocator::from_region(
                        region,
                        len,
                        step(page_size()),
                        (HugePages::Explicit, None),
                    )
                }
                Err(e @ (Error::ZeroSize | Error::SizeOverflow { .. })) => Err(e),
                Err(why) => normal(Some(why)),
            },
            HugePages::Transparent => {
                if !cfg!(any(target_os = "linux", target_os = "android")) {
                    return normal(Some(Error::Unsupported));
                }
                let region = Region::reserve(reserve, HUGE_PAGE, self.protection)?;
                #[cfg(any(target_os = "linux", target_os = "android"))]
                if let Err(why) = region.advise_huge_pages() {
                    drop(region);
                    return normal(Some(why));
                }
                let up_front = commit.unwrap_or(region.len());
                committed(
                    region,
                    up_front,
                    step(HUGE_PAGE),
                    (HugePages::Transparent, None),
                )
            }
        }
    }
}

/// A dual-mapped region over a reservation from `place`. Where the system cannot map a view
/// over a reservation (Windows), the reservation is released and the view mapped at its
/// address at once; should another thread take the address in between
/// ([`Error::AddressInUse`]), the reservation is placed again, a few times.
fn dual(place: impl Fn() -> Result<Region, Error>) -> Result<Region, Error> {
    const TRIES: usize = 8;
    let mut tries = 1;
    loop {
        match place()?.into_dual() {
            Err(Error::AddressInUse { .. }) if cfg!(windows) && tries < TRIES => tries += 1,
            result => return result,
        }
    }
}

/// An arena over `region` with its first `bytes` (rounded up to `step`) committed.
fn committed(
    region: Region,
    bytes: usize,
    step: usize,
    huge: (HugePages, Option<Error>),
) -> Result<Mallocator, Error> {
    let len = bytes
        .checked_next_multiple_of(step)
        .map_or(region.len(), |n| n.min(region.len()));
    if len > 0 {
        // SAFETY: the region is fresh: nothing references it yet.
        unsafe { region.commit(0, len, region.protection()) }?;
    }
    Mallocator::from_region(region, len, step, huge)
}
