//! Property test over random sequences of allocation calls, valid and invalid: every block
//! lies inside the region, is aligned, overlaps no earlier block, holds exactly what was
//! written, and every failed call changes nothing, neither the pointer nor any byte.

use proptest::prelude::*;
use vmallocator::{CharWidth, Error, Mallocator, Protection, page_size};

#[derive(Debug, Clone)]
enum Op {
    Alloc {
        size: usize,
        align: usize,
    },
    /// `alloc_layout`, whose fast path differs for sizes that are multiples of the alignment.
    Layout {
        size: usize,
        align: usize,
    },
    Bytes(Vec<u8>),
    Str(String, CharWidth),
    Hex {
        text: String,
        want: Option<Vec<u8>>,
    },
}

fn width() -> impl Strategy<Value = CharWidth> {
    prop_oneof![
        Just(CharWidth::U8),
        Just(CharWidth::U16),
        Just(CharWidth::U32)
    ]
}

/// Formats `bytes` in one of the styles the grammar accepts.
fn format_hex(bytes: &[u8], style: u8) -> String {
    let mut s = String::new();
    for (i, b) in bytes.iter().enumerate() {
        match style % 6 {
            0 => s += &format!("{b:02x}"),
            1 => s += &format!("{b:02X} "),
            2 => s += &format!("0x{b:x}, "),
            3 => s += &format!("\\x{b:02x}"),
            4 => s += &format!("{b:02x}{}", if i % 4 == 3 { "  ; ok\n" } else { " " }),
            _ => s += &format!("0X{b:02x}\t"),
        }
    }
    s
}

fn op() -> impl Strategy<Value = Op> {
    let good_hex =
        (prop::collection::vec(any::<u8>(), 0..40), any::<u8>()).prop_map(|(bytes, style)| {
            Op::Hex {
                text: format_hex(&bytes, style),
                want: Some(bytes),
            }
        });
    let bad_hex = (
        prop::collection::vec(any::<u8>(), 1..40),
        any::<u8>(),
        any::<prop::sample::Index>(),
        prop::sample::select(vec!['g', 'z', '/', '\\', 'é', '"']),
    )
        .prop_map(|(bytes, style, at, bad)| {
            let mut text = format_hex(&bytes, style);
            // Put the bad character right after a digit, where it cannot be a comment.
            let digits: Vec<usize> = text
                .char_indices()
                .filter(|(_, c)| c.is_ascii_hexdigit())
                .map(|(i, _)| i + 1)
                .collect();
            let pos = digits[at.index(digits.len())];
            text.insert(pos, bad);
            Op::Hex { text, want: None }
        });
    prop_oneof![
        4 => (0usize..600, 0u32..14).prop_map(|(size, a)| Op::Alloc { size, align: 1 << a }),
        1 => (0usize..64, prop::sample::select(vec![0usize, 3, 6, 24, usize::MAX]))
            .prop_map(|(size, align)| Op::Alloc { size, align }),
        1 => (usize::MAX - 64..=usize::MAX).prop_map(|size| Op::Alloc { size, align: 8 }),
        3 => (0usize..40, 0u32..8, any::<bool>()).prop_map(|(n, a, whole)| {
            let align = 1 << a;
            Op::Layout { size: if whole { n * align } else { n }, align }
        }),
        3 => prop::collection::vec(any::<u8>(), 0..300).prop_map(Op::Bytes),
        3 => ("\\PC{0,80}", width()).prop_map(|(s, w)| Op::Str(s, w)),
        1 => ("[a-z]{0,5}\0[a-z]{0,5}", width()).prop_map(|(s, w)| Op::Str(s, w)),
        2 => good_hex,
        2 => bad_hex,
    ]
}

/// The committed part of the region as bytes, read through the raw base pointer.
fn snapshot(m: &Mallocator) -> Vec<u8> {
    // SAFETY: the committed part is readable and `committed()` bytes long; the caller
    // holds no reference into it while the copy is made.
    unsafe { std::slice::from_raw_parts(m.base().as_ptr(), m.committed()) }.to_vec()
}

fn scaled(cases: u32) -> u32 {
    let scale: f64 = std::env::var("VMALLOCATOR_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((f64::from(cases) * scale) as u32).max(1)
}

fn encode(s: &str, w: CharWidth) -> Vec<u8> {
    let mut out = Vec::new();
    match w {
        CharWidth::U8 => out.extend_from_slice(s.as_bytes()),
        CharWidth::U16 => s
            .encode_utf16()
            .for_each(|u| out.extend_from_slice(&u.to_ne_bytes())),
        CharWidth::U32 => s
            .chars()
            .for_each(|c| out.extend_from_slice(&u32::from(c).to_ne_bytes())),
    }
    out.extend(std::iter::repeat_n(0, w.unit_size()));
    out
}

proptest! {
    // 300 cases, times VMALLOCATOR_TEST_SCALE (a factor; valgrind and sanitizer runs set it low).
    #![proptest_config(ProptestConfig { cases: scaled(300), ..ProptestConfig::default() })]

    #[test]
    fn random_call_sequences_keep_the_invariants(
        pages in 1usize..4,
        lazy in any::<bool>(),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        // A fixed region, or a reservation committed a page at a time.
        let m = if lazy {
            Mallocator::builder().reserve(pages * page_size()).commit_step(1).build().unwrap()
        } else {
            Mallocator::with_size(pages * page_size(), Protection::READ_WRITE).unwrap()
        };
        let base = m.base().as_ptr() as usize;
        let end = base + m.size();
        // (start, expected bytes) of each block; raw blocks get a marker written into them.
        let mut blocks: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut marker = 0u8;
        for op in &ops {
            let before_ptr = m.ptr();
            let before = snapshot(&m);
            let result: Result<(usize, Vec<u8>, usize), Error> = match op {
                Op::Alloc { size, align } => m.alloc(*size, *align).map(|p| {
                    marker = marker.wrapping_add(1);
                    // SAFETY: the block is `size` fresh bytes of a read+write region.
                    unsafe { std::ptr::write_bytes(p.as_ptr(), marker, *size) };
                    (p.as_ptr() as usize, vec![marker; *size], *align)
                }),
                Op::Layout { size, align } => {
                    let layout = std::alloc::Layout::from_size_align(*size, *align).unwrap();
                    m.alloc_layout(layout).map(|p| {
                        marker = marker.wrapping_add(1);
                        // SAFETY: the block is `size` fresh bytes of a read+write region.
                        unsafe { std::ptr::write_bytes(p.as_ptr(), marker, *size) };
                        (p.as_ptr() as usize, vec![marker; *size], *align)
                    })
                }
                Op::Bytes(b) => m.alloc_bytes(b).map(|s| (s.as_ptr() as usize, b.clone(), 1)),
                Op::Str(s, w) => m
                    .alloc_str(s, *w)
                    .map(|b| (b.as_ptr() as usize, encode(s, *w), w.unit_size())),
                Op::Hex { text, .. } => m.alloc_hex(text).map(|b| (b.as_ptr() as usize, b.to_vec(), 1)),
            };
            match result {
                Ok((start, want, align)) => {
                    if let Op::Hex { want: expected, text } = op {
                        prop_assert_eq!(Some(&want), expected.as_ref(), "{:?}", text);
                    }
                    prop_assert_eq!(start % align, 0);
                    prop_assert!(start >= base && start + want.len() <= end);
                    let prev_end = blocks.last().map_or(base, |(s, b)| s + b.len());
                    prop_assert!(start >= prev_end, "overlap");
                    prop_assert!(start - prev_end < align, "more padding than needed");
                    prop_assert_eq!(m.ptr().as_ptr() as usize, start + want.len());
                    blocks.push((start, want));
                }
                Err(e) => {
                    match (op, &e) {
                        (Op::Hex { want: Some(_), text }, _) => {
                            prop_assert!(matches!(e, Error::OutOfMemory { .. }), "{:?} -> {}", text, e);
                        }
                        (Op::Hex { want: None, .. }, Error::Hex { .. }) => {}
                        (Op::Str(s, _), Error::InteriorNul { offset }) => {
                            prop_assert_eq!(s.find('\0'), Some(*offset));
                        }
                        (Op::Alloc { align, .. }, Error::InvalidAlignment { .. }) => {
                            prop_assert!(!align.is_power_of_two());
                        }
                        (_, Error::OutOfMemory { remaining, .. }) => {
                            prop_assert_eq!(*remaining, m.remaining());
                        }
                        _ => prop_assert!(false, "unexpected error {:?} for {:?}", e, op),
                    }
                    prop_assert_eq!(m.ptr(), before_ptr);
                    prop_assert_eq!(m.committed(), before.len(), "a failed call committed memory");
                    // Bytes above the pointer may have been written (DECISIONS 1).
                    let used = m.used();
                    prop_assert!(snapshot(&m)[..used] == before[..used], "a failed call changed memory");
                }
            }
            if let Op::Hex { want: None, text } = op {
                prop_assert!(result_is_err(&m, text));
            }
        }
        let all = snapshot(&m);
        for (start, want) in &blocks {
            prop_assert_eq!(&all[start - base..start - base + want.len()], &want[..]);
        }
    }
}

/// Bad hex is rejected whatever the state of the arena.
fn result_is_err(m: &Mallocator, text: &str) -> bool {
    let used = m.used();
    let err = m.alloc_hex(text).is_err();
    err && m.used() == used
}
