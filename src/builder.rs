//! Options for a new [`Mallocator`].

use crate::region::{HUGE_PAGE, Region};
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

    /// Maps the region (`mmap` / `VirtualAlloc`).
    ///
    /// # Errors
    /// [`Error::ZeroSize`] for a size of 0, [`Error::SizeOverflow`] when a size overflows
    /// when rounded to pages or passes `isize::MAX`, [`Error::InvalidOptions`] for a
    /// commit step of 0 or a `size` above the reservation, [`Error::Os`] when the OS
    /// refuses.
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
        let normal = |fallback| {
            let region = match commit {
                None => Region::map(reserve, self.protection)?,
                Some(_) => Region::reserve(reserve, 0, self.protection)?,
            };
            Ok::<_, Error>(match commit {
                None => {
                    let len = region.len();
                    Mallocator::from_region(
                        region,
                        len,
                        step(page_size()),
                        (HugePages::Off, fallback),
                    )
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
                    Ok(Mallocator::from_region(
                        region,
                        len,
                        step(page_size()),
                        (HugePages::Explicit, None),
                    ))
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
        region.commit(0, len)?;
    }
    Ok(Mallocator::from_region(region, len, step, huge))
}
