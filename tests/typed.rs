//! The typed calls: values, slices, zeroed blocks and foreign strings, each with its
//! failure paths (out of memory, a non-writable page, interior NUL, overflow), after which
//! the arena must be exactly as it was.

use vmallocator::{Error, Mallocator, Protection, Zeroable, page_size};

/// What a failed call must leave unchanged.
fn state(m: &Mallocator) -> (usize, usize, usize, usize) {
    (
        m.ptr().as_ptr() as usize,
        m.used(),
        m.committed(),
        m.high_water_mark(),
    )
}

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rec24 {
    a: u64,
    b: f64,
    c: [u16; 4],
}

#[test]
fn values_are_aligned_disjoint_and_hold_what_was_written() {
    let m = Mallocator::new().unwrap();
    let a = m.alloc_value(7u8).unwrap();
    let b = m.alloc_value(0x1122_3344_5566_7788u64).unwrap();
    let r = m
        .alloc_value(Rec24 {
            a: 1,
            b: 2.5,
            c: [3, 4, 5, 6],
        })
        .unwrap();
    let w = m.alloc_with(|| [9u32; 5]).unwrap();
    assert_eq!(b as *mut u64 as usize % 8, 0);
    assert_eq!(r as *mut Rec24 as usize % align_of::<Rec24>(), 0);
    assert!(b as *mut u64 as usize > a as *mut u8 as usize);
    *a += 1;
    *b += 1;
    r.c[0] = 30;
    w[4] = 10;
    assert_eq!(*a, 8);
    assert_eq!(*b, 0x1122_3344_5566_7789);
    assert_eq!(
        *r,
        Rec24 {
            a: 1,
            b: 2.5,
            c: [30, 4, 5, 6]
        }
    );
    assert_eq!(*w, [9, 9, 9, 9, 10]);
    let used = m.used();
    assert_eq!(m.alloc_value(()).map(|u| *u), Ok(()));
    assert_eq!(m.used(), used, "a zero-sized value takes no bytes");
}

#[test]
fn alloc_with_may_allocate_from_the_same_arena() {
    let m = Mallocator::new().unwrap();
    let outer = m
        .alloc_with(|| *m.alloc_value(5u32).unwrap() as u64 + 1)
        .unwrap();
    assert_eq!(*outer, 6);
    let s = m
        .alloc_slice_fill_with(3, |i| *m.alloc_value(i as u8).unwrap())
        .unwrap();
    assert_eq!(s, [0, 1, 2]);
}

#[test]
fn slices() {
    let m = Mallocator::new().unwrap();
    assert_eq!(m.alloc_slice_copy(&[1i32, -2, 3]).unwrap(), [1, -2, 3]);
    assert_eq!(m.alloc_slice_copy::<u64>(&[]).unwrap(), [] as [u64; 0]);
    assert_eq!(m.alloc_slice_clone(&["x", "y"]).unwrap(), ["x", "y"]);
    assert_eq!(m.alloc_slice_fill_copy(4, 1.5f32).unwrap(), [1.5; 4]);
    assert_eq!(m.alloc_slice_fill_clone(2, &'c').unwrap(), ['c', 'c']);
    assert_eq!(
        m.alloc_slice_fill_with(4, |i| i as u16 * 3).unwrap(),
        [0, 3, 6, 9]
    );
    assert_eq!(
        m.alloc_slice_fill_iter((1..=4u8).rev()).unwrap(),
        [4, 3, 2, 1]
    );
    let v = m
        .alloc_slice_copy(
            &[Rec24 {
                a: 5,
                b: 0.0,
                c: [0; 4],
            }; 3],
        )
        .unwrap();
    assert_eq!(v.as_ptr() as usize % 8, 0);
    assert_eq!(v[2].a, 5);
}

/// An iterator that claims more items than it yields.
struct Liar(u32);
impl Iterator for Liar {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        (self.0 < 2).then(|| {
            self.0 += 1;
            self.0
        })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (5, Some(5))
    }
}
impl ExactSizeIterator for Liar {}

#[test]
fn fill_iter_with_a_short_iterator_returns_what_it_got() {
    let m = Mallocator::new().unwrap();
    assert_eq!(m.alloc_slice_fill_iter(Liar(0)).unwrap(), [1, 2]);
}

#[test]
fn zeroed_blocks_read_zero_after_reuse() {
    let mut m = Mallocator::new().unwrap();
    m.alloc_slice_fill_copy(64, 0xffu8).unwrap();
    m.reset(); // the bytes stay 0xff
    assert_eq!(m.alloc_zeroed::<[u64; 4]>().unwrap(), &[0; 4]);
    assert!(
        m.alloc_slice_zeroed::<u8>(32)
            .unwrap()
            .iter()
            .all(|&b| b == 0)
    );
    // Fresh memory above everything written: zero without being written.
    let fresh = m.alloc_slice_zeroed::<u32>(100).unwrap();
    assert!(fresh.iter().all(|&x| x == 0));
    fresh[0] = 1;
    let cp = m.checkpoint();
    m.alloc_slice_fill_copy(16, u64::MAX).unwrap();
    m.rewind(cp).unwrap();
    assert_eq!(m.alloc_slice_zeroed::<u64>(16).unwrap(), [0; 16]);
    // Zero-sized and user types.
    #[derive(Clone, Copy)]
    #[repr(C)]
    struct P {
        x: f32,
        next: Option<std::num::NonZeroU32>,
    }
    // SAFETY: zero is valid for `f32` and `Option<NonZeroU32>` (None).
    unsafe impl Zeroable for P {}
    let p = m.alloc_zeroed::<P>().unwrap();
    assert_eq!((p.x, p.next), (0.0, None));
}

#[test]
fn zeroed_commits_a_reservation_as_needed() {
    let m = Mallocator::builder()
        .reserve(64 << 20)
        .commit_step(page_size())
        .build()
        .unwrap();
    let before = m.committed();
    let big = m.alloc_slice_zeroed::<u64>(1 << 20).unwrap();
    assert!(big.iter().all(|&x| x == 0));
    assert!(m.committed() >= before + (8 << 20));
    big[(1 << 20) - 1] = 1;
}

#[test]
fn strings() {
    let m = Mallocator::new().unwrap();
    assert_eq!(m.alloc_str_copy("a\0ü").unwrap(), "a\0ü");
    let c = m.alloc_cstr("C string").unwrap();
    assert_eq!(c.to_bytes_with_nul(), b"C string\0");
    let from_cstr = m.alloc_cstr(c"again".to_bytes()).unwrap();
    assert_eq!(from_cstr, c"again");
    assert_eq!(m.alloc_cstr(b"").unwrap(), c"");
    assert_eq!(
        m.alloc_cstr([1u8, 2, 0, 3]),
        Err(Error::InteriorNul { offset: 2 })
    );
    assert_eq!(m.alloc_utf16("a𝄞").unwrap(), [0x61, 0xd834, 0xdd1e, 0]);
    assert_eq!(m.alloc_utf32("a𝄞").unwrap(), [0x61, 0x1d11e, 0]);
    assert_eq!(
        m.alloc_utf16_units(&[0xd800, 0x41]).unwrap(),
        [0xd800, 0x41, 0]
    );
    assert_eq!(m.alloc_utf16_units(&[]).unwrap(), [0]);
    assert_eq!(
        m.alloc_utf16_units(&[5, 6, 0]),
        Err(Error::InteriorNul { offset: 2 })
    );
    assert_eq!(m.alloc_utf16("ab\0"), Err(Error::InteriorNul { offset: 2 }));
    assert_eq!(m.alloc_utf32("\0"), Err(Error::InteriorNul { offset: 0 }));
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let os = std::ffi::OsStr::from_bytes(b"not \xff utf-8");
        let c: &std::ffi::CStr = m.alloc_os_str(os).unwrap();
        assert_eq!(c.to_bytes(), b"not \xff utf-8");
        assert_eq!(
            m.alloc_os_str(std::ffi::OsStr::from_bytes(b"x\0")),
            Err(Error::InteriorNul { offset: 1 })
        );
    }
}

/// Every typed call, made to fail by `setup`; `call` returns whether it failed with an error
/// `expect` accepts. The arena must be unchanged.
fn every_call_fails(m: &Mallocator, expect: impl Fn(&Error) -> bool) {
    let n = 1 << 16; // larger than the test regions below
    let before = state(m);
    let big = vec![7u8; n];
    let big16 = vec![7u16; n];
    let text = "x".repeat(n);
    let results: Vec<(&str, Error)> = vec![
        ("alloc_value", m.alloc_value([0u8; 1 << 16]).unwrap_err()),
        ("alloc_with", m.alloc_with(|| [0u64; 1 << 13]).unwrap_err()),
        (
            "alloc_zeroed",
            m.alloc_zeroed::<[u8; 1 << 16]>().unwrap_err(),
        ),
        (
            "alloc_slice_zeroed",
            m.alloc_slice_zeroed::<u8>(n).unwrap_err(),
        ),
        ("alloc_slice_copy", m.alloc_slice_copy(&big).unwrap_err()),
        ("alloc_slice_clone", m.alloc_slice_clone(&big).unwrap_err()),
        ("fill_copy", m.alloc_slice_fill_copy(n, 1u8).unwrap_err()),
        ("fill_clone", m.alloc_slice_fill_clone(n, &1u8).unwrap_err()),
        (
            "fill_with",
            m.alloc_slice_fill_with(n, |_| 1u8).unwrap_err(),
        ),
        (
            "fill_iter",
            m.alloc_slice_fill_iter(big.iter().copied()).unwrap_err(),
        ),
        ("alloc_str_copy", m.alloc_str_copy(&text).unwrap_err()),
        ("alloc_cstr", m.alloc_cstr(&text).unwrap_err()),
        ("alloc_utf16", m.alloc_utf16(&text).unwrap_err()),
        ("alloc_utf32", m.alloc_utf32(&text).unwrap_err()),
        (
            "alloc_utf16_units",
            m.alloc_utf16_units(&big16).unwrap_err(),
        ),
    ];
    for (name, err) in results {
        assert!(expect(&err), "{name}: unexpected {err:?}");
        assert_eq!(state(m), before, "{name} changed the arena");
    }
}

#[test]
fn out_of_memory_changes_nothing() {
    let m = Mallocator::with_size(4 * page_size().min(16384), Protection::READ_WRITE).unwrap();
    m.alloc_value(1u8).unwrap();
    every_call_fails(&m, |e| matches!(e, Error::OutOfMemory { .. }));
    // Overflowing lengths.
    let before = state(&m);
    assert!(matches!(
        m.alloc_slice_zeroed::<u64>(usize::MAX / 4),
        Err(Error::OutOfMemory { .. })
    ));
    assert!(matches!(
        m.alloc_slice_fill_copy(usize::MAX, 0u16),
        Err(Error::OutOfMemory { .. })
    ));
    assert_eq!(state(&m), before);
    // Zero-sized types fit any number of times.
    assert_eq!(
        m.alloc_slice_zeroed::<()>(usize::MAX).unwrap().len(),
        usize::MAX
    );
}

#[test]
fn a_non_writable_region_changes_nothing() {
    let mut m = Mallocator::builder().size(1 << 20).build().unwrap();
    m.alloc_value(1u64).unwrap();
    m.set_protection(Protection::READ).unwrap();
    let small = |m: &Mallocator| {
        let before = state(m);
        assert!(matches!(m.alloc_value(1u8), Err(Error::NotWritable { .. })));
        assert!(matches!(m.alloc_cstr("x"), Err(Error::NotWritable { .. })));
        assert!(matches!(
            m.alloc_slice_zeroed::<u8>(1),
            Err(Error::NotWritable { .. })
        ));
        assert_eq!(state(m), before);
    };
    small(&m);
    every_call_fails(&m, |e| matches!(e, Error::NotWritable { .. }));
}

#[test]
fn a_read_only_page_ahead_is_refused_exactly() {
    let page = page_size();
    let mut m = Mallocator::with_size(3 * page, Protection::READ_WRITE).unwrap();
    m.protect(page..2 * page, Protection::READ).unwrap();
    m.alloc_slice_fill_copy(page - 8, 1u8).unwrap();
    let before = state(&m);
    assert!(matches!(
        m.alloc_value([0u64; 2]),
        Err(Error::NotWritable { protection }) if protection == Protection::READ
    ));
    assert_eq!(state(&m), before);
    // What still fits below the read-only page is handed out.
    assert_eq!(*m.alloc_value(5u64).unwrap(), 5);
}

#[test]
fn reserved_regions_commit_for_typed_values() {
    let m = Mallocator::builder()
        .reserve(16 << 20)
        .commit_step(page_size())
        .build()
        .unwrap();
    let committed = m.committed();
    let table = m
        .alloc_slice_fill_with(4 * page_size(), |i| i as u32)
        .unwrap();
    assert!(m.committed() > committed);
    assert_eq!(table[4 * page_size() - 1], 4 * page_size() as u32 - 1);
}
