//! The bump hot path at its edges: huge sizes and alignments fail cleanly with
//! `OutOfMemory` and change nothing, and every block lands where the exact computation says.

use std::alloc::Layout;

use proptest::prelude::*;
use vmallocator::{Error, Mallocator, Protection, page_size};

/// Where a block of `size` at `align` lands, computed exactly (in `u128`), or `None` when
/// it does not fit below `limit`.
fn expected(ptr: usize, size: usize, align: usize, limit: usize) -> Option<usize> {
    let aligned = (ptr as u128).next_multiple_of(align as u128);
    (aligned + size as u128 <= limit as u128).then_some(aligned as usize)
}

fn arenas() -> Vec<Mallocator> {
    vec![
        Mallocator::with_size(4 * page_size(), Protection::READ_WRITE).unwrap(),
        // A reservation: blocks past the committed end take the cold path.
        Mallocator::builder()
            .reserve(64 * page_size())
            .commit_step(page_size())
            .build()
            .unwrap(),
    ]
}

#[test]
fn huge_sizes_and_alignments_fail_cleanly() {
    let sizes = [
        0,
        1,
        isize::MAX as usize - 1,
        isize::MAX as usize,
        isize::MAX as usize + 1,
        usize::MAX - 8,
        usize::MAX - 1,
        usize::MAX,
    ];
    let aligns = (0..usize::BITS).map(|b| 1usize << b);
    for m in arenas() {
        m.alloc(3, 1).unwrap();
        for align in aligns.clone() {
            for &size in &sizes {
                let (ptr, used) = (m.ptr().as_ptr() as usize, m.used());
                let limit = m.base().as_ptr() as usize + m.size();
                let want = expected(ptr, size, align, limit);
                let got = m.alloc(size, align);
                match (want, got) {
                    (Some(addr), Ok(p)) => {
                        assert_eq!(p.as_ptr() as usize, addr, "alloc({size}, {align})");
                        assert_eq!(m.used(), addr + size - m.base().as_ptr() as usize);
                    }
                    (
                        None,
                        Err(Error::OutOfMemory {
                            requested,
                            align: a,
                            ..
                        }),
                    ) => {
                        assert_eq!((requested, a), (size, align));
                        assert_eq!(m.used(), used, "a failed alloc({size}, {align}) moved");
                    }
                    (want, got) => panic!("alloc({size}, {align}): want {want:?}, got {got:?}"),
                }
            }
        }
    }
}

#[test]
fn huge_layouts_fail_cleanly() {
    for m in arenas() {
        m.alloc(3, 1).unwrap();
        huge_layouts(&m);
    }
}

/// Layouts of every alignment with sizes up to `isize::MAX`, against the exact computation.
fn huge_layouts(m: &Mallocator) {
    for align in (0..usize::BITS).map(|b| 1usize << b) {
        for size in [0, 1, isize::MAX as usize - (align - 1), isize::MAX as usize] {
            let Ok(layout) = Layout::from_size_align(size, align) else {
                continue;
            };
            let ptr = m.ptr().as_ptr() as usize;
            let limit = m.base().as_ptr() as usize + m.size();
            let used = m.used();
            match (expected(ptr, size, align, limit), m.alloc_layout(layout)) {
                (Some(addr), Ok(p)) => assert_eq!(p.as_ptr() as usize, addr),
                (None, Err(Error::OutOfMemory { .. })) => assert_eq!(m.used(), used),
                (want, got) => panic!("alloc_layout({layout:?}): want {want:?}, got {got:?}"),
            }
        }
    }
}

#[test]
fn the_largest_alignment_is_refused_without_wrapping() {
    let m = Mallocator::new().unwrap();
    m.alloc(1, 1).unwrap();
    let used = m.used();
    assert!(matches!(
        m.alloc(1, 1 << (usize::BITS - 1)),
        Err(Error::OutOfMemory { .. })
    ));
    assert!(matches!(
        m.alloc(usize::MAX, 1 << (usize::BITS - 1)),
        Err(Error::OutOfMemory { .. })
    ));
    if let Ok(layout) = Layout::from_size_align(0, 1 << (usize::BITS - 1)) {
        assert!(matches!(
            m.alloc_layout(layout),
            Err(Error::OutOfMemory { .. })
        ));
    }
    assert_eq!(m.used(), used);
    assert!(m.alloc(1, 1).is_ok());
}

#[test]
fn exact_fit_at_the_end_and_one_byte_more() {
    for m in arenas() {
        m.alloc(5, 1).unwrap();
        let rest = m.remaining();
        assert!(matches!(
            m.alloc(rest + 1, 1),
            Err(Error::OutOfMemory { .. })
        ));
        let layout = Layout::from_size_align(rest + 1, 1).unwrap();
        assert!(matches!(
            m.alloc_layout(layout),
            Err(Error::OutOfMemory { .. })
        ));
        assert_eq!(m.remaining(), rest);
        m.alloc_layout(Layout::from_size_align(rest, 1).unwrap())
            .unwrap();
        assert_eq!(m.remaining(), 0);
        assert!(m.alloc(0, 1).is_ok());
        assert!(m.alloc(1, 1).is_err());
        assert!(m.alloc_layout(Layout::new::<u8>()).is_err());
    }
}

/// Proptest cases, scaled by `VMALLOCATOR_TEST_SCALE` (a factor; valgrind, sanitizer and
/// emulator runs set it low).
/// Blocks of a whole number of alignments above 8 move only the rounded pointer (the hot
/// path skips the exact one); the next small block, an empty block, a checkpoint and the
/// reported pointer all see where they really ended.
#[test]
fn whole_alignment_blocks_then_small_ones_stay_packed() {
    #[derive(Clone, Copy)]
    #[repr(C, align(16))]
    struct A16([u8; 16]);
    for m in arenas() {
        let at = |p: std::ptr::NonNull<u8>| p.as_ptr() as usize;
        let base = at(m.base());
        let a = at(m.alloc(3, 1).unwrap());
        assert_eq!(a, base);
        // Empty at 16: the pointer moves to the aligned address, as any block's start does.
        assert_eq!(at(m.alloc(0, 16).unwrap()), base + 16);
        assert_eq!(at(m.ptr()), base + 16);
        let b = at(m.alloc_layout(Layout::new::<A16>()).unwrap());
        assert_eq!(b, base + 16);
        let c = at(m.alloc_layout(Layout::new::<A16>()).unwrap());
        assert_eq!(c, base + 32);
        assert_eq!(at(m.ptr()), base + 48);
        let d = at(m.alloc(5, 1).unwrap());
        assert_eq!(d, base + 48);
        let e = at(m.alloc(1, 2).unwrap());
        assert_eq!(e, base + 54);
        let cp = m.checkpoint();
        assert_eq!(at(m.alloc(32, 32).unwrap()), base + 64);
        assert_eq!(at(m.alloc(8, 8).unwrap()), base + 96);
        assert_eq!(at(m.alloc(1, 1).unwrap()), base + 104);
        assert_eq!(at(m.alloc(64, 64).unwrap()), base + 128);
        assert_eq!(at(m.ptr()), base + 192);
        assert_eq!(at(m.alloc(2, 4).unwrap()), base + 192);
        let mut m = m;
        m.rewind(cp).unwrap();
        assert_eq!(at(m.ptr()), base + 55);
        assert_eq!(at(m.alloc(1, 1).unwrap()), base + 55);
    }
}

fn cases(n: u32) -> u32 {
    std::env::var("VMALLOCATOR_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .map_or(n, |k| ((f64::from(n) * k) as u32).max(1))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(128), ..ProptestConfig::default() })]

    /// Random sizes and alignments, through both calls, against the exact computation:
    /// consecutive align-1 blocks stay contiguous, and every failure changes nothing.
    #[test]
    fn blocks_land_where_the_exact_computation_says(
        ops in prop::collection::vec(
            (0usize..3 * 4096, 0u32..14, any::<bool>(), any::<bool>()), 1..200),
        huge in prop::collection::vec((any::<usize>(), 0u32..64), 0..10),
    ) {
        for m in arenas() {
            let limit = m.base().as_ptr() as usize + m.size();
            let all = ops.iter().map(|&(s, a, l, _)| (s, 1usize << a, l))
                .chain(huge.iter().map(|&(s, a)| (s, 1usize << a, false)));
            for (size, align, layout) in all {
                let ptr = m.ptr().as_ptr() as usize;
                let want = expected(ptr, size, align, limit);
                let got = if layout {
                    match Layout::from_size_align(size, align) {
                        Ok(l) => m.alloc_layout(l),
                        Err(_) => continue,
                    }
                } else {
                    m.alloc(size, align)
                };
                match (want, got) {
                    (Some(addr), Ok(p)) => {
                        prop_assert_eq!(p.as_ptr() as usize, addr);
                        prop_assert_eq!(m.ptr().as_ptr() as usize, addr + size);
                    }
                    (None, Err(Error::OutOfMemory { .. })) => {
                        prop_assert_eq!(m.ptr().as_ptr() as usize, ptr);
                    }
                    (want, got) => prop_assert!(false, "{size}@{align}: {want:?} / {got:?}"),
                }
            }
        }
    }
}
