//! Placing a region within a distance of an address: find free address space, then map there
//! with an exact address that never replaces an existing mapping.
//!
//! - Linux: the gaps between the lines of `/proc/self/maps`.
//! - Windows: a `VirtualQuery` walk over the `MEM_FREE` blocks.
//! - Other Unix systems: probing addresses outward from the target.
//!
//! Each candidate is mapped with [`Region::map_request`] at an exact address (Linux
//! `MAP_FIXED_NOREPLACE`, or a hint that is checked and undone on a mismatch; Windows
//! `VirtualAlloc` with the address), so a mapping made by another thread since the search
//! is never replaced: that candidate fails and the next one is tried.
#![forbid(unsafe_code)]

use crate::region::{Region, Request, Sizes};
use crate::{Error, granularity};

/// How often the free ranges are read again when every candidate was taken meanwhile.
const ROUNDS: usize = 3;

/// Maps `request` so that every byte of its usable part lies within `distance` bytes of
/// `addr`, as close to `addr` as the free address space allows.
pub(crate) fn map_near(request: &Request, addr: usize, distance: usize) -> Result<Region, Error> {
    let Sizes { len, before, total } = request.sizes()?;
    let none = Error::NoFreeSpaceNear {
        addr,
        distance,
        size: total,
    };
    let g = granularity();
    // The usable base `b` needs `b >= addr - distance` and `b + len - 1 <= addr + distance`;
    // the mapping starts at `m = b - before`, a non-zero multiple of the granularity.
    let lo_b = addr.saturating_sub(distance).max(before);
    let Some(hi_b) = addr.saturating_add(distance).checked_sub(len - 1) else {
        return Err(none);
    };
    if hi_b < lo_b {
        return Err(none);
    }
    let lo = align_up(lo_b - before, g).ok_or(none.clone())?.max(floor());
    let hi = align_down(hi_b - before, g);
    if hi < lo {
        return Err(none);
    }
    let target = addr.saturating_sub(before).clamp(lo, hi);

    for _ in 0..ROUNDS {
        let mut candidates = Vec::new();
        match free_ranges(lo, hi.saturating_add(total)) {
            Some(gaps) => {
                for (start, end) in gaps {
                    let first = align_up(start.max(lo), g);
                    let last = end.checked_sub(total).map(|l| align_down(l.min(hi), g));
                    if let (Some(first), Some(last)) = (first, last)
                        && first <= last
                    {
                        let t = target.clamp(first, last);
                        candidates.push(align_down(t, g).max(first));
                        candidates.push(align_up(t, g).unwrap_or(last).min(last));
                    }
                }
            }
            None => candidates = probes(target, lo, hi, total, g),
        }
        candidates.sort_by_key(|&m| m.abs_diff(target));
        candidates.dedup();
        if candidates.is_empty() {
            return Err(none);
        }
        let mut raced = false;
        for m in candidates {
            match Region::map_request(request, Some(m + before)) {
                Ok(region) => return Ok(region),
                Err(Error::AddressInUse { .. }) => raced = true,
                // E.g. an address the kernel reserves for itself: try the next.
                Err(_) => {}
            }
        }
        if !raced {
            break;
        }
    }
    Err(none)
}

fn align_up(x: usize, g: usize) -> Option<usize> {
    Some(x.checked_add(g - 1)? & !(g - 1))
}

fn align_down(x: usize, g: usize) -> usize {
    x & !(g - 1)
}

/// The lowest address worth trying: Linux refuses mappings below `vm.mmap_min_addr`.
fn floor() -> usize {
    #[cfg(target_os = "linux")]
    let min = std::fs::read_to_string("/proc/sys/vm/mmap_min_addr")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(64 * 1024);
    #[cfg(not(target_os = "linux"))]
    let min = 64 * 1024;
    align_up(min, granularity())
        .unwrap_or(usize::MAX)
        .max(granularity())
}

/// Free address ranges `(start, end)` that overlap `[lo, hi)`, in address order; `None`
/// where this platform cannot list them.
#[cfg(target_os = "linux")]
fn free_ranges(lo: usize, hi: usize) -> Option<Vec<(usize, usize)>> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    Some(gaps(&parse_maps(&maps)?, lo, hi))
}

#[cfg(windows)]
fn free_ranges(lo: usize, hi: usize) -> Option<Vec<(usize, usize)>> {
    let mut out = Vec::new();
    let mut at = lo;
    while at < hi {
        let Some((start, size, free)) = crate::sys::query(at) else {
            break;
        };
        let end = start.saturating_add(size);
        if free {
            out.push((start, end));
        }
        if end <= at {
            break;
        }
        at = end;
    }
    Some(out)
}

#[cfg(not(any(target_os = "linux", windows)))]
fn free_ranges(_lo: usize, _hi: usize) -> Option<Vec<(usize, usize)>> {
    None
}

/// The mapped ranges of a `/proc/self/maps` text (`start-end perms ...` in hex), sorted.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_maps(maps: &str) -> Option<Vec<(usize, usize)>> {
    let mut used = Vec::new();
    for line in maps.lines().filter(|l| !l.is_empty()) {
        let range = line.split_whitespace().next()?;
        let (start, end) = range.split_once('-')?;
        let start = usize::from_str_radix(start, 16).ok()?;
        let end = usize::from_str_radix(end, 16).ok()?;
        used.push((start, end));
    }
    used.sort_unstable();
    Some(used)
}

/// The gaps between sorted `used` ranges that overlap `[lo, hi)`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn gaps(used: &[(usize, usize)], lo: usize, hi: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut free_from = 0;
    for &(start, end) in used {
        if start > free_from && start > lo && free_from < hi {
            out.push((free_from, start));
        }
        free_from = free_from.max(end);
    }
    let top = usize::MAX & !(granularity() - 1);
    if free_from < top && free_from < hi {
        out.push((free_from, top));
    }
    out
}

/// Candidate mapping starts outward from `target`, for systems that cannot list free space.
#[cfg_attr(any(target_os = "linux", windows), allow(dead_code))]
fn probes(target: usize, lo: usize, hi: usize, total: usize, g: usize) -> Vec<usize> {
    let step = align_up(total.max((hi - lo) / 64), g).unwrap_or(g);
    let mut out = vec![align_down(target, g)];
    for k in 1..=64 {
        let d = step.saturating_mul(k);
        if let Some(up) = target.checked_add(d).filter(|&u| u <= hi) {
            out.push(align_down(up, g));
        }
        if let Some(down) = target.checked_sub(d).filter(|&d| d >= lo) {
            out.push(align_down(down, g).max(lo));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines_become_sorted_ranges() {
        let text = "7f00-7f10 r-xp 00000000 08:01 1 /lib/x.so\n\
                    1000-3000 rw-p 00000000 00:00 0 \n\
                    ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]\n";
        let used = parse_maps(text).unwrap();
        assert_eq!(
            used,
            [
                (0x1000, 0x3000),
                (0x7f00, 0x7f10),
                (0xffff_ffff_ff60_0000, 0xffff_ffff_ff60_1000)
            ]
        );
        assert_eq!(parse_maps("zz-10 r"), None);
        let g = gaps(&used, 0x2000, 0x9000);
        assert_eq!(g, [(0x3000, 0x7f00), (0x7f10, 0xffff_ffff_ff60_0000)]);
        assert_eq!(gaps(&used, 0, 0x800), [(0, 0x1000)]);
    }
}
