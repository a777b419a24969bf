//! `TopVec` and `alloc_slice_from_iter` against a `Vec` model: same contents, the block in
//! place at the top, and every failure leaving the arena as it was (pointer, statistics,
//! committed size).

use std::io::Write;

use proptest::prelude::*;
use vmallocator::{Error, Mallocator, Protection, page_size};

#[derive(Debug, Clone)]
enum Op {
    Push(u32),
    Slice(Vec<u32>),
    Iter(Vec<u32>),
    Truncate(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<u32>().prop_map(Op::Push),
        2 => prop::collection::vec(any::<u32>(), 0..3000).prop_map(Op::Slice),
        2 => prop::collection::vec(any::<u32>(), 0..3000).prop_map(Op::Iter),
        1 => (0usize..5000).prop_map(Op::Truncate),
    ]
}

/// What a failed call must leave unchanged.
fn state(m: &Mallocator) -> (usize, usize, usize) {
    (m.used(), m.committed(), m.high_water_mark())
}

/// A small reservation committed a page at a time, so growth commits and runs out.
fn arena() -> Mallocator {
    Mallocator::builder()
        .reserve(8 * page_size())
        .commit_step(page_size())
        .build()
        .unwrap()
}

/// Proptest cases, scaled by `VMALLOCATOR_TEST_SCALE` (a factor; valgrind, sanitizer and
/// emulator runs set it low).
fn cases(n: u32) -> u32 {
    std::env::var("VMALLOCATOR_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .map_or(n, |k| ((f64::from(n) * k) as u32).max(1))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(128), ..ProptestConfig::default() })]

    #[test]
    fn top_vec_matches_a_vec(pad in 0usize..8, ops in prop::collection::vec(op(), 1..40),
                             finish in any::<bool>()) {
        let mut m = arena();
        m.alloc(pad, 1).unwrap();
        let origin = m.used();
        let start = origin.next_multiple_of(4);
        let base = m.base().as_ptr() as usize;
        let mut model: Vec<u32> = Vec::new();
        let mut v = m.top_vec::<u32>();
        for op in ops {
            // The state of the arena cannot be read while `v` holds it: compare through
            // the vector's own view and the pointer it leaves, checked after each step.
            let before = model.clone();
            let result = match &op {
                Op::Push(x) => v.push(*x),
                Op::Slice(xs) => v.extend_from_slice(xs),
                Op::Iter(xs) => v.extend(xs.iter().copied()),
                Op::Truncate(n) => {
                    v.truncate(*n);
                    model.truncate(*n);
                    Ok(())
                }
            };
            match (&op, result) {
                (Op::Truncate(_), _) => {}
                (Op::Push(x), Ok(())) => model.push(*x),
                (Op::Slice(xs) | Op::Iter(xs), Ok(())) => model.extend_from_slice(xs),
                (_, Err(Error::OutOfMemory { .. })) => {}
                (_, Err(e)) => prop_assert!(false, "unexpected error {e}"),
            }
            prop_assert_eq!(v.as_slice(), &model[..], "after {:?} from {:?}", op, before.len());
            prop_assert_eq!(v.len(), model.len());
        }
        if finish {
            let block = v.finish();
            prop_assert_eq!(&block[..], &model[..]);
            let at = (block.as_ptr() as usize).wrapping_sub(base);
            if model.is_empty() {
                prop_assert_eq!(m.used(), origin);
            } else {
                prop_assert_eq!(at, start);
                prop_assert_eq!(m.used(), start + 4 * model.len());
            }
        } else {
            drop(v);
            prop_assert_eq!(m.used(), origin);
        }
    }

    #[test]
    fn a_failed_extend_changes_nothing(fill in 0usize..6, n in 0usize..20_000) {
        let mut m = arena();
        m.alloc(fill * page_size() + 3, 1).unwrap();
        let before = state(&m);
        let room = m.remaining();
        match m.alloc_slice_from_iter((0..n).map(|i| i as u8)) {
            Ok(block) => {
                prop_assert!(n <= room);
                prop_assert!(block.iter().enumerate().all(|(i, &b)| b == i as u8));
                prop_assert_eq!(block.len(), n);
            }
            Err(Error::OutOfMemory { .. }) => {
                prop_assert!(n > room);
                prop_assert_eq!(state(&m), before);
            }
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}

#[test]
fn failed_pushes_and_extends_leave_the_arena_as_it_was() {
    let mut m = arena();
    m.alloc(m.remaining() - 10, 1).unwrap();
    let before = state(&m);
    {
        let mut v = m.top_vec::<u8>();
        v.extend_from_slice(&[1; 10]).unwrap();
        assert!(matches!(v.push(1), Err(Error::OutOfMemory { .. })));
        assert!(matches!(
            v.extend_from_slice(&[1; 2]),
            Err(Error::OutOfMemory { .. })
        ));
        assert_eq!(v.as_slice(), [1; 10]);
        v.clear();
        assert!(matches!(v.extend(0..11), Err(Error::OutOfMemory { .. })));
        assert!(v.is_empty());
    }
    assert_eq!(m.used(), before.0);
    assert_eq!(m.committed(), before.1);

    // A fresh reservation: an iterator that runs past the end commits pages on the way,
    // and gives them back when it fails.
    let mut m = arena();
    let before = state(&m);
    let err = m.alloc_slice_from_iter(std::iter::repeat_n(7u8, 8 * page_size() + 1));
    assert!(matches!(err, Err(Error::OutOfMemory { .. })), "{err:?}");
    assert_eq!(state(&m), before);
    // The record of what reads as zero stayed true: after a zeroing reset the whole
    // region reads as zero, the pages written and given back included.
    m.reset_zeroed().unwrap();
    let all = m.alloc(8 * page_size(), 1).unwrap();
    // SAFETY: a fresh block of the region, zeroed and writable.
    let bytes = unsafe { std::slice::from_raw_parts(all.as_ptr(), 8 * page_size()) };
    assert!(bytes.iter().all(|&b| b == 0));
}

#[test]
fn not_writable_pages_are_refused_and_nothing_changes() {
    let mut m = Mallocator::with_size(4 * page_size(), Protection::READ_WRITE).unwrap();
    m.protect(page_size()..2 * page_size(), Protection::READ)
        .unwrap();
    m.alloc(page_size() - 4, 1).unwrap();
    let before = state(&m);
    let mut v = m.top_vec::<u8>();
    v.extend_from_slice(&[1, 2, 3, 4]).unwrap();
    assert!(matches!(v.push(5), Err(Error::NotWritable { .. })));
    assert!(matches!(v.extend([5, 6]), Err(Error::NotWritable { .. })));
    assert!(matches!(
        v.extend_from_slice(&[5]),
        Err(Error::NotWritable { .. })
    ));
    assert_eq!(v.as_slice(), [1, 2, 3, 4]);
    drop(v);
    assert_eq!(state(&m), (before.0, before.1, before.2.max(page_size())));
}

#[test]
fn alignment_zero_sized_types_and_writes() {
    let mut m = Mallocator::new().unwrap();
    let base = m.base().as_ptr() as usize;
    m.alloc(3, 1).unwrap();
    {
        let mut v = m.top_vec::<u64>();
        v.push(1).unwrap();
        assert_eq!(v.as_slice().as_ptr() as usize % 8, 0);
        v.as_mut_slice()[0] = 9;
        let b = v.finish();
        assert_eq!(b, [9]);
        assert_eq!(b.as_ptr() as usize, base + 8);
    }
    assert_eq!(m.used(), 16);
    let units = m.alloc_slice_from_iter([(); 5]).unwrap();
    assert_eq!(units.len(), 5);
    assert_eq!(m.used(), 16);
    let mut v = m.top_vec::<u8>();
    write!(v, "x = {}", 42).unwrap();
    assert_eq!(format!("{v:?}"), format!("{:?}", b"x = 42"));
    assert_eq!(v.finish(), b"x = 42");
    assert_eq!(m.used(), 22);
}

#[test]
fn blocks_of_the_scope_stay_usable_while_the_vector_grows() {
    let mut m = Mallocator::new().unwrap();
    let mut s = m.as_scope();
    let a = s.alloc_bytes(b"abc").unwrap();
    let b = {
        let mut v = s.top_vec::<u8>();
        for &x in a.iter() {
            v.push(x.to_ascii_uppercase()).unwrap();
        }
        v.finish()
    };
    a[0] = b'z';
    assert_eq!((&a[..], &b[..]), (&b"zbc"[..], &b"ABC"[..]));
    let n = s.scope(|t| {
        let c = t.alloc_slice_from_iter(b.iter().map(|&x| x + 1)).unwrap();
        c.len() + a.len()
    });
    assert_eq!(n, 6);
    assert_eq!(s.used(), 6);
}
