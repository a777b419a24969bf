//! The write helpers' hot path compares against an end that is the committed end only while
//! every page is writable. Random sequences of protection changes, commits (growth past the
//! committed end), trims, decommits and resets, each followed by writes: every write lands
//! exactly when all the pages it touches are writable (a stale end would write to a
//! read-only page and fault, or refuse a writable one), and a refused write changes nothing.

use proptest::prelude::*;
use vmallocator::{Error, Mallocator, Protection, page_size};

const PAGES: usize = 8;

/// Proptest cases, scaled by `VMALLOCATOR_TEST_SCALE` (a factor; valgrind, sanitizer and
/// emulator runs set it low).
fn cases(n: u32) -> u32 {
    std::env::var("VMALLOCATOR_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .map_or(n, |k| ((f64::from(n) * k) as u32).max(1))
}

#[derive(Debug, Clone)]
enum Op {
    /// Sets pages `[first, first + count)` read-only (`true`) or read+write.
    Protect {
        first: usize,
        count: usize,
        read_only: bool,
    },
    /// The whole region read+write again.
    AllWritable,
    /// Raw bytes, never written by the arena: they may commit pages of any protection.
    Raw(usize),
    /// Bytes copied in by `alloc_bytes`.
    Bytes(usize),
    /// One `u64` by `alloc_value`.
    Value,
    Trim,
    ResetDecommit,
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..PAGES, 1..=PAGES, any::<bool>())
            .prop_map(|(first, count, read_only)| Op::Protect { first, count, read_only }),
        1 => Just(Op::AllWritable),
        2 => (0..3 * page_size()).prop_map(Op::Raw),
        4 => (0..2 * page_size()).prop_map(Op::Bytes),
        4 => Just(Op::Value),
        1 => Just(Op::Trim),
        1 => Just(Op::ResetDecommit),
        1 => Just(Op::Reset),
    ]
}

/// Whether every page that `[start, start + len)` (offsets) touches is writable.
fn writable(m: &Mallocator, start: usize, len: usize) -> bool {
    let ps = page_size();
    let (first, end) = (start / ps, (start + len).div_ceil(ps));
    (first..end.max(first + 1).min(m.size() / ps))
        .all(|p| m.protection_at(p * ps).is_some_and(Protection::is_writable))
}

/// Checks one write: it succeeds, at the expected place and with the bytes written,
/// exactly when the block fits and its pages are writable; otherwise nothing changes.
fn check_write(
    m: &Mallocator,
    len: usize,
    align: usize,
    write: impl FnOnce() -> Result<usize, Error>,
) {
    let used = m.used();
    let start = used.next_multiple_of(align);
    let fits = start + len <= m.size();
    let expect_ok = fits && (len == 0 || writable(m, start, len));
    let committed = m.committed();
    match write() {
        Ok(addr) => {
            assert!(
                expect_ok,
                "wrote {len} bytes at {start} over a page that is not writable"
            );
            assert_eq!(addr - m.base().as_ptr() as usize, start);
            assert_eq!(m.used(), start + len);
        }
        Err(e) => {
            assert!(
                !expect_ok,
                "refused {len} bytes at {start} over writable pages: {e:?}"
            );
            let kind_ok = if fits {
                matches!(e, Error::NotWritable { .. })
            } else {
                matches!(e, Error::OutOfMemory { .. } | Error::NotWritable { .. })
            };
            assert!(kind_ok, "{e:?}");
            assert_eq!((m.used(), m.committed()), (used, committed));
        }
    }
}

fn apply(m: &mut Mallocator, op: &Op) {
    let ps = page_size();
    match *op {
        Op::Protect {
            first,
            count,
            read_only,
        } => {
            let end = (first + count).min(PAGES);
            let p = if read_only {
                Protection::READ
            } else {
                Protection::READ_WRITE
            };
            m.protect(first * ps..end * ps, p).unwrap();
        }
        Op::AllWritable => m.set_protection(Protection::READ_WRITE).unwrap(),
        Op::Raw(len) => {
            let _ = m.alloc(len, 1);
        }
        Op::Bytes(len) => {
            let bytes = vec![0x5a; len];
            check_write(m, len, 1, || {
                let b = m.alloc_bytes(&bytes)?;
                assert!(b.iter().all(|&x| x == 0x5a));
                Ok(b.as_ptr() as usize)
            });
        }
        Op::Value => check_write(m, 8, 8, || {
            let v = m.alloc_value(0x0123_4567_89ab_cdef_u64)?;
            assert_eq!(*v, 0x0123_4567_89ab_cdef);
            Ok(v as *mut u64 as usize)
        }),
        Op::Trim => m.trim().unwrap(),
        Op::ResetDecommit => m.reset_decommit().unwrap(),
        Op::Reset => m.reset(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(96), ..ProptestConfig::default() })]

    #[test]
    fn writes_land_exactly_where_the_pages_are_writable(
        ops in proptest::collection::vec(op(), 1..40),
        reserve in any::<bool>(),
    ) {
        let mut m = if reserve {
            Mallocator::builder()
                .reserve(PAGES * page_size())
                .commit_step(page_size())
                .build()
                .unwrap()
        } else {
            Mallocator::with_size(PAGES * page_size(), Protection::READ_WRITE).unwrap()
        };
        for op in &ops {
            apply(&mut m, op);
            // After every operation a value write must follow the pages.
            check_write(&m, 8, 8, || Ok(m.alloc_value(7_u64)? as *mut u64 as usize));
        }
    }
}

#[test]
fn a_read_only_arena_refuses_writes_until_made_writable() {
    let mut m = Mallocator::with_size(2 * page_size(), Protection::READ).unwrap();
    assert!(matches!(
        m.alloc_value(1_u64),
        Err(Error::NotWritable { .. })
    ));
    assert!(matches!(
        m.alloc_bytes(b"ab"),
        Err(Error::NotWritable { .. })
    ));
    assert_eq!(m.used(), 0);
    m.set_protection(Protection::READ_WRITE).unwrap();
    assert_eq!(*m.alloc_value(1_u64).unwrap(), 1);
    m.protect(page_size().., Protection::READ).unwrap();
    // The first page is still writable: writes there land, the next page's are refused.
    assert_eq!(m.alloc_bytes(&[9; 8]).unwrap(), [9; 8]);
    let used = m.used();
    assert!(matches!(
        m.alloc_bytes(&vec![1; page_size()]),
        Err(Error::NotWritable { .. })
    ));
    assert_eq!(m.used(), used);
}
