//! Property test over random sequences of typed calls and collection growth, in a small
//! region with a read-only page in the middle: every value is aligned, inside the region,
//! disjoint from the others, and still holds what was written at the end; every failed call
//! (out of memory, not writable, interior NUL) leaves the arena as it was. The number of
//! cases scales with `VMALLOCATOR_TEST_SCALE` (default 1).

use proptest::prelude::*;
use vmallocator::{Error, Mallocator, Protection, page_size};

#[derive(Debug, Clone)]
enum Op {
    Value(u64),
    Slice(Vec<u32>),
    FillWith(u16),
    Zeroed(u16),
    StrCopy(String),
    CStr(String),
    Utf16(String),
    Utf32(String),
    /// Push onto the arena `Vec` (`allocator_api2`), growing it in place when it is last;
    /// without the `allocator-api2` feature, a filled slice of that length.
    Push(u16),
}

fn op() -> impl Strategy<Value = Op> {
    let text = "[a-z\u{e9}\u{20ac}\u{1d11e}\0]{0,40}";
    prop_oneof![
        any::<u64>().prop_map(Op::Value),
        prop::collection::vec(any::<u32>(), 0..300).prop_map(Op::Slice),
        (0u16..2000).prop_map(Op::FillWith),
        (0u16..3000).prop_map(Op::Zeroed),
        text.prop_map(Op::StrCopy),
        text.prop_map(Op::CStr),
        text.prop_map(Op::Utf16),
        text.prop_map(Op::Utf32),
        (1u16..700).prop_map(Op::Push),
    ]
}

/// A value handed out, with what it must still hold.
enum Held<'a> {
    U64(&'a mut u64, u64),
    U32s(&'a mut [u32], Vec<u32>),
    U16s(&'a mut [u16], Vec<u16>),
    Bytes(&'a [u8], Vec<u8>),
}

impl Held<'_> {
    fn range(&self) -> (usize, usize) {
        let (p, n) = match self {
            Held::U64(r, _) => ((&**r as *const u64).cast::<u8>(), 8),
            Held::U32s(s, _) => (s.as_ptr().cast(), s.len() * 4),
            Held::U16s(s, _) => (s.as_ptr().cast(), s.len() * 2),
            Held::Bytes(s, _) => (s.as_ptr(), s.len()),
        };
        (p as usize, p as usize + n)
    }

    fn intact(&self) -> bool {
        match self {
            Held::U64(r, want) => **r == *want,
            Held::U32s(s, want) => **s == **want,
            Held::U16s(s, want) => **s == **want,
            Held::Bytes(s, want) => **s == **want,
        }
    }

    fn align(&self) -> usize {
        match self {
            Held::U64(..) => align_of::<u64>(),
            Held::U32s(..) => 4,
            Held::U16s(..) => 2,
            Held::Bytes(..) => 1,
        }
    }
}

fn state(m: &Mallocator) -> (usize, usize, usize) {
    (m.used(), m.committed(), m.high_water_mark())
}

fn with_nul<T: From<u8>>(mut v: Vec<T>) -> Vec<T> {
    v.push(T::from(0));
    v
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let page = page_size();
    let mut m = Mallocator::builder()
        .reserve(8 * page)
        .commit_step(page)
        .build()
        .unwrap();
    m.protect(4 * page..5 * page, Protection::READ).unwrap();
    let (base, limit) = (
        m.base().as_ptr() as usize,
        m.base().as_ptr() as usize + m.size(),
    );
    let m = &m;
    let mut held: Vec<Held> = Vec::new();
    #[cfg(feature = "allocator-api2")]
    let (mut vec, mut want_vec) = (allocator_api2::vec::Vec::<u64, _>::new_in(m), Vec::new());
    for op in ops {
        let before = state(m);
        let result: Result<Option<Held>, Error> = match op.clone() {
            Op::Value(v) => m.alloc_value(v).map(|r| Some(Held::U64(r, v))),
            Op::Slice(v) => m.alloc_slice_copy(&v).map(|s| Some(Held::U32s(s, v))),
            Op::FillWith(n) => {
                let want: Vec<u32> = (0..n as u32)
                    .map(|i| i.wrapping_mul(2_654_435_761))
                    .collect();
                m.alloc_slice_fill_with(n as usize, |i| want[i])
                    .map(|s| Some(Held::U32s(s, want)))
            }
            Op::Zeroed(n) => m
                .alloc_slice_zeroed::<u16>(n as usize)
                .map(|s| Some(Held::U16s(s, vec![0; n as usize]))),
            Op::StrCopy(s) => m
                .alloc_str_copy(&s)
                .map(|r| Some(Held::Bytes(r.as_bytes(), s.into_bytes()))),
            Op::CStr(s) => m
                .alloc_cstr(&s)
                .map(|c| Some(Held::Bytes(c.to_bytes_with_nul(), with_nul(s.into_bytes())))),
            Op::Utf16(s) => m
                .alloc_utf16(&s)
                .map(|w| Some(Held::U16s(w, with_nul(s.encode_utf16().collect())))),
            Op::Utf32(s) => m
                .alloc_utf32(&s)
                .map(|w| Some(Held::U32s(w, with_nul(s.chars().map(u32::from).collect())))),
            #[cfg(feature = "allocator-api2")]
            Op::Push(n) => {
                let cap = vec.capacity();
                match vec.try_reserve(n as usize) {
                    Ok(()) => {
                        for i in 0..n as u64 {
                            let x = i ^ want_vec.len() as u64;
                            vec.push(x);
                            want_vec.push(x);
                        }
                        Ok(None)
                    }
                    Err(_) => {
                        prop_assert_eq!(vec.capacity(), cap);
                        prop_assert_eq!(state(m), before, "failed growth changed the arena");
                        Ok(None)
                    }
                }
            }
            #[cfg(not(feature = "allocator-api2"))]
            Op::Push(n) => m
                .alloc_slice_fill_copy(n as usize, n as u32)
                .map(|s| Some(Held::U32s(s, vec![n as u32; n as usize]))),
        };
        match result {
            Ok(Some(h)) => {
                let (s, e) = h.range();
                prop_assert!(s >= base && e <= limit, "outside the region");
                prop_assert_eq!(s % h.align(), 0);
                prop_assert!(h.intact());
                for other in &held {
                    let (os, oe) = other.range();
                    prop_assert!(e <= os || oe <= s || s == e, "overlap");
                }
                held.push(h);
            }
            Ok(None) => {}
            Err(e) => {
                prop_assert!(
                    matches!(
                        e,
                        Error::OutOfMemory { .. }
                            | Error::NotWritable { .. }
                            | Error::InteriorNul { .. }
                    ),
                    "{:?}",
                    e
                );
                prop_assert_eq!(state(m), before, "failed {:?} changed the arena", op);
            }
        }
    }
    for h in &held {
        prop_assert!(h.intact(), "a value changed");
    }
    #[cfg(feature = "allocator-api2")]
    prop_assert_eq!(&vec[..], &want_vec[..]);
    Ok(())
}

fn cases() -> u32 {
    let scale: f64 = std::env::var("VMALLOCATOR_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((256.0 * scale) as u32).max(4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn typed_sequences(ops in prop::collection::vec(op(), 1..60)) {
        run(&ops)?;
    }
}
