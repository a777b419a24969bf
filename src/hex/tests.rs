//! Tests of the hex parser: the grammar, its errors, and the SIMD paths against the
//! scalar one.

use super::*;
use HexErrorKind::{InvalidChar, MissingDigit, OddDigitCount};
use proptest::prelude::*;

/// Decodes with the AVX2 blocks (where the CPU has them) and without, and checks that
/// both agree.
fn both(input: &str) -> Result<Vec<u8>, Error> {
    let (mut fast, mut slow) = (vec![7], vec![7]);
    let f = decode_append_with(input, &mut fast, true).map(|n| (n, fast));
    let s = decode_append_with(input, &mut slow, false).map(|n| (n, slow));
    assert_eq!(f, s, "SIMD and scalar disagree on {input:?}");
    let (n, out) = s?;
    assert_eq!((n, out[0]), (out.len() - 1, 7));
    Ok(out[1..].to_vec())
}

#[test]
fn grammar() {
    let ok: &[(&str, &[u8])] = &[
        ("00abF9", &[0x00, 0xab, 0xf9]),
        ("deadbeef", &[0xde, 0xad, 0xbe, 0xef]),
        ("DEADbeef", &[0xde, 0xad, 0xbe, 0xef]),
        ("00 ab f9", &[0x00, 0xab, 0xf9]),
        ("00,ab, f9", &[0x00, 0xab, 0xf9]),
        ("  00,,ab  ", &[0x00, 0xab]),
        ("00\tab\r\nf9\x0c", &[0x00, 0xab, 0xf9]),
        ("0x42", &[0x42]),
        ("0X42", &[0x42]),
        ("0x00ab", &[0x00, 0xab]),
        ("0x1", &[0x01]),
        ("0x1,0xf 0x0", &[0x01, 0x0f, 0x00]),
        (r"\x48\x31\xc0", &[0x48, 0x31, 0xc0]),
        (r"\X48\xFf", &[0x48, 0xff]),
        (r"\x1234", &[0x12, 0x34]),
        (r"\x120x34", &[0x12, 0x34]),
        (r"ab\x12 0x34\x56;", &[0xab, 0x12, 0x34, 0x56]),
        (
            "b8 2a 00 00 00   ; mov eax, 42\nc3 # ret",
            &[0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3],
        ),
        ("c3;ret", &[0xc3]),
        ("c3#ret\n90//nop\n0x1//x\n", &[0xc3, 0x90, 0x01]),
        ("; only a comment", &[]),
        ("00 ab f9 0x42", &[0x00, 0xab, 0xf9, 0x42]),
        ("", &[]),
        (" \t\r\n\x0c,", &[]),
        ("// é € comment\nff", &[0xff]),
    ];
    for &(input, bytes) in ok {
        assert_eq!(both(input).as_deref(), Ok(bytes), "{input:?}");
        assert_eq!(decode(input).as_deref(), Ok(bytes), "{input:?}");
    }
}

#[test]
fn errors() {
    let bad: &[(&str, usize, HexErrorKind)] = &[
        ("0x12g", 4, InvalidChar('g')),
        ("ab0x12", 3, InvalidChar('x')),
        ("00x12", 2, InvalidChar('x')),
        ("0x0x1", 3, InvalidChar('x')),
        ("x12", 0, InvalidChar('x')),
        ("00 é", 3, InvalidChar('é')),
        ("00 €", 3, InvalidChar('€')),
        ("12\0", 2, InvalidChar('\0')),
        (r"ab \ b", 3, InvalidChar('\\')),
        (r"\y", 0, InvalidChar('\\')),
        ("ab / cd", 3, InvalidChar('/')),
        ("ab/", 2, InvalidChar('/')),
        ("ab\u{a0}", 2, InvalidChar('\u{a0}')),
        ("abcg", 3, InvalidChar('g')),
        ("0x123g", 5, InvalidChar('g')),
        ("0x1g", 3, InvalidChar('g')),
        (r"abc\y", 3, InvalidChar('\\')),
        ("abc/x", 3, InvalidChar('/')),
        ("0x1é", 3, InvalidChar('é')),
        (r"\x12g", 4, InvalidChar('g')),
        ("abc", 0, OddDigitCount(3)),
        ("a", 0, OddDigitCount(1)),
        ("abc//x", 0, OddDigitCount(3)),
        (r"abc\x1", 0, OddDigitCount(3)),
        ("00 abc", 3, OddDigitCount(3)),
        ("0x123", 2, OddDigitCount(3)),
        ("0x12345 ff", 2, OddDigitCount(5)),
        (r"\x123", 4, OddDigitCount(1)),
        ("0x", 2, MissingDigit { found: None }),
        ("0X;", 2, MissingDigit { found: Some(';') }),
        ("0x g", 2, MissingDigit { found: Some(' ') }),
        ("0xé", 2, MissingDigit { found: Some('é') }),
        (r"\x", 2, MissingDigit { found: None }),
        (r"\xg1", 2, MissingDigit { found: Some('g') }),
        (r"\x4", 3, MissingDigit { found: None }),
        (r"\x4g", 3, MissingDigit { found: Some('g') }),
        (r"\x4 5", 3, MissingDigit { found: Some(' ') }),
    ];
    for &(input, offset, kind) in bad {
        assert_eq!(both(input), Err(Error::Hex { offset, kind }), "{input:?}");
    }
}

/// `unit` repeated to at least `len` bytes, and the bytes it stands for.
fn repeated(unit: &str, len: usize) -> (String, Vec<u8>) {
    let s = unit.repeat(len.div_ceil(unit.len()));
    let bytes = scalar(unit);
    let all = bytes.repeat(s.len() / unit.len());
    (s, all)
}

/// The scalar parser alone.
fn scalar(input: &str) -> Vec<u8> {
    let mut out = Vec::new();
    decode_append_with(input, &mut out, false).expect("valid");
    out
}

#[test]
fn mixed_token_layouts_take_both_paths_alike() {
    let units = [
        "00 ab f9 0x42 ",
        "0x48, 0x31, 0xc0, ",
        r"\x48\x31\xc0",
        "b8 2a 00 00 00   ; mov eax, 42\nc3 # ret\n",
        "0X0a,0x0B0c\t// two\n",
        "de ad\\xbe\\xef 0x1 ",
    ];
    // Fewer positions where `VMALLOCATOR_TEST_SCALE` (a factor, 1 by default) is low.
    let scale = crate::test_scale();
    let positions = ((300.0 * scale) as usize).clamp(24, 300);
    for unit in units {
        let (s, want) = repeated(unit, 700);
        assert_eq!(both(&s).unwrap(), want, "{unit:?}");
        // One bad or changed byte at every position of the first windows.
        for pos in 0..positions {
            for bad in ["g", "x", "0", " ", "\\", ";", "é"] {
                let mut t = s.clone();
                if t.is_char_boundary(pos) && t.is_char_boundary(pos + 1) {
                    t.replace_range(pos..pos + 1, bad);
                    let _ = both(&t);
                }
            }
        }
    }
}

#[test]
fn long_inputs_take_both_paths_alike() {
    let bytes: Vec<u8> = (0..1000_u32).map(|i| (i * 37 + 11) as u8).collect();
    let dense: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let spaced: String = bytes.iter().map(|b| format!("{b:02X} ")).collect();
    assert_eq!(both(&dense).unwrap(), bytes);
    assert_eq!(both(&spaced).unwrap(), bytes);
    // One bad byte at every position of the first few blocks (every 7th where
    // `VMALLOCATOR_TEST_SCALE` is low).
    for input in [&dense[..300], &spaced[..300]] {
        for pos in (0..input.len()).step_by(crate::test_stride()) {
            for bad in ["g", "x", "0", " ", "é"] {
                let mut s = input.to_string();
                s.replace_range(pos..pos + 1, bad);
                let _ = both(&s);
            }
        }
    }
    let odd = format!("{}a", &dense[..200]);
    assert_eq!(both(&odd), Err(error(0, OddDigitCount(201))));
    let odd = format!("{}a", &spaced[..300]);
    assert_eq!(both(&odd), Err(error(300, OddDigitCount(1))));
}

/// The AVX2 parser decodes an input that starts with 64 digits by the blocks alone, then
/// hands over to the token loop inside that first run: whatever follows the run, the
/// result and the error positions are those of the scalar parser.
#[test]
fn a_dense_start_hands_over_to_the_token_loop() {
    let bytes: Vec<u8> = (0..200_u32).map(|i| (i * 53 + 7) as u8).collect();
    let digits: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    for len in [64, 66, 96, 126, 128, 130, 200, 256, 258, 400] {
        let (run, want) = (&digits[..len], &bytes[..len / 2]);
        assert_eq!(both(run).unwrap(), want, "{len}");
        for tail in ["\n", "\r\n", " ", ", ", " ; comment", " // comment\nff"] {
            let got = both(&format!("{run}{tail}")).unwrap();
            let extra: &[u8] = if tail.ends_with("ff") { &[0xff] } else { &[] };
            assert_eq!(got, [want, extra].concat(), "{len} {tail:?}");
        }
        let with = |tail: &str| both(&format!("{run}{tail}"));
        assert_eq!(with(" 0x42").unwrap(), [want, &[0x42]].concat());
        assert_eq!(with(r"\x42").unwrap(), [want, &[0x42]].concat());
        assert_eq!(with("0x42"), Err(error(len + 1, InvalidChar('x'))));
        assert_eq!(with("g"), Err(error(len, InvalidChar('g'))));
        assert_eq!(with("é"), Err(error(len, InvalidChar('é'))));
        assert_eq!(with("a"), Err(error(0, OddDigitCount(len + 1))));
        assert_eq!(with("a\n"), Err(error(0, OddDigitCount(len + 1))));
        assert_eq!(with("abc ff"), Err(error(0, OddDigitCount(len + 3))));
        // A run that goes on past the blocks, with more after it.
        assert_eq!(
            with(&format!(" {run}")).unwrap(),
            [want, want].concat(),
            "{len}"
        );
    }
}

#[test]
fn decode_append_keeps_the_vec_on_error() {
    let mut out = vec![1, 2, 3];
    assert_eq!(decode_append("ff 0x1", &mut out), Ok(2));
    let spaced = "ab ".repeat(100) + r"ab \";
    let dense = "ab".repeat(100) + "g";
    for bad in ["ff 0x12g", "fe abc", &spaced, &dense] {
        assert!(decode_append(bad, &mut out).is_err());
        assert_eq!(out, [1, 2, 3, 0xff, 0x01]);
    }
}

#[test]
fn max_decoded_len_bounds_the_output() {
    assert_eq!(max_decoded_len(0), 0);
    assert_eq!(max_decoded_len(3), 1);
    assert_eq!(decode("0x1").unwrap().len(), max_decoded_len(3));
}

/// How one group of bytes is written.
#[derive(Debug, Clone, Copy)]
enum Style {
    Run { upper: bool },
    Prefixed { upper: bool },
    Escapes,
}

fn style() -> impl Strategy<Value = Style> {
    prop_oneof![
        any::<bool>().prop_map(|upper| Style::Run { upper }),
        any::<bool>().prop_map(|upper| Style::Prefixed { upper }),
        Just(Style::Escapes),
    ]
}

const SEPARATORS: &[&str] = &[
    " ",
    "\n",
    ",",
    ", ",
    "\t",
    "\r\n",
    "  ",
    " ; comment\n",
    "# c 0x\n",
    "//c\\x\n",
];

fn render(groups: &[(Vec<u8>, Style, usize)], lead: usize) -> String {
    let mut s = String::from(SEPARATORS[lead]);
    for (bytes, style, sep) in groups {
        match *style {
            Style::Run { upper: true } => bytes.iter().for_each(|b| s += &format!("{b:02X}")),
            Style::Run { upper: false } => bytes.iter().for_each(|b| s += &format!("{b:02x}")),
            Style::Prefixed { upper } => {
                s += if upper { "0X" } else { "0x" };
                if let [b @ 0..=15] = bytes[..] {
                    s += &format!("{b:x}");
                } else {
                    bytes.iter().for_each(|b| s += &format!("{b:02x}"));
                }
            }
            Style::Escapes => bytes.iter().for_each(|b| s += &format!("\\x{b:02x}")),
        }
        s += SEPARATORS[*sep];
    }
    s
}

/// Random bytes and a text that encodes them: mixed styles, or one of the layouts the
/// AVX2 blocks take (one long run, or `hh` and one separator).
fn formatted() -> impl Strategy<Value = (Vec<u8>, String)> {
    let group = (
        prop::collection::vec(any::<u8>(), 1..40),
        style(),
        0..SEPARATORS.len(),
    );
    let mixed =
        (prop::collection::vec(group, 0..20), 0..SEPARATORS.len()).prop_map(|(groups, lead)| {
            let bytes = groups.iter().flat_map(|g| g.0.clone()).collect();
            (bytes, render(&groups, lead))
        });
    // Many short tokens, as in C arrays, escape strings and listings: the token windows.
    let short = (
        prop::collection::vec(
            (
                prop::collection::vec(any::<u8>(), 1..4),
                style(),
                0..SEPARATORS.len(),
            ),
            0..120,
        ),
        0..SEPARATORS.len(),
    )
        .prop_map(|(groups, lead)| {
            let bytes = groups.iter().flat_map(|g| g.0.clone()).collect();
            (bytes, render(&groups, lead))
        });
    let simple =
        (prop::collection::vec(any::<u8>(), 0..400), 0..5_usize).prop_map(|(bytes, sep)| {
            let mut s = String::new();
            for (i, b) in bytes.iter().enumerate() {
                s += &format!("{b:02x}");
                if sep > 0 {
                    s.push(if i % 16 == 15 {
                        '\n'
                    } else {
                        [' ', ',', '\t', ' '][sep - 1]
                    });
                }
            }
            (bytes, s)
        });
    prop_oneof![mixed, short, simple]
}

/// A layout of a few groups (lengths, styles, separators without comments) repeated with
/// fresh bytes each time: text the periodic blocks take.
fn repeating() -> impl Strategy<Value = (Vec<u8>, String)> {
    let unit = prop::collection::vec((1..4_usize, style(), 0..7_usize), 1..5);
    let pool = prop::collection::vec(any::<u8>(), 61);
    (unit, 8..60_usize, pool, 0..7_usize).prop_map(|(unit, reps, pool, lead)| {
        let mut groups = Vec::new();
        let mut k = 0;
        for _ in 0..reps {
            for &(len, style, sep) in &unit {
                let mut bytes = Vec::new();
                for _ in 0..len {
                    k += 1;
                    bytes.push(pool[k % pool.len()] ^ (k / pool.len()) as u8);
                }
                // `0x` and one digit is irregular: keep the layout's shape with two.
                if let (Style::Prefixed { .. }, [b]) = (style, &mut bytes[..]) {
                    *b |= 0x10;
                }
                groups.push((bytes, style, sep));
            }
        }
        let bytes = groups.iter().flat_map(|g| g.0.clone()).collect();
        (bytes, render(&groups, lead))
    })
}

const ALPHABET: &[char] = &[
    '0', '1', '9', 'a', 'f', 'A', 'F', 'g', 'x', 'X', ' ', '\n', '\t', ',', ';', '#', '/', '\\',
    'é', '€', '\0',
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::test_cases(256)))]

    #[test]
    fn formatted_bytes_round_trip((bytes, s) in formatted()) {
        prop_assert_eq!(both(&s), Ok(bytes));
    }

    #[test]
    fn repeating_layouts_round_trip((bytes, s) in repeating()) {
        prop_assert_eq!(both(&s), Ok(bytes));
    }

    #[test]
    fn one_changed_char_in_a_repeating_layout_gives_the_same_result_on_both_paths(
        (_, s) in repeating(),
        pos in any::<prop::sample::Index>(),
        c in prop::sample::select(ALPHABET),
        insert in any::<bool>(),
    ) {
        let mut s: Vec<char> = s.chars().collect();
        let at = pos.index(s.len() + 1);
        if insert || at == s.len() {
            s.insert(at, c);
        } else {
            s[at] = c;
        }
        let _ = both(&s.into_iter().collect::<String>());
    }

    #[test]
    fn one_changed_char_gives_the_same_result_on_both_paths(
        (_, s) in formatted(),
        pos in any::<prop::sample::Index>(),
        c in prop::sample::select(ALPHABET),
        insert in any::<bool>(),
    ) {
        let mut s: Vec<char> = s.chars().collect();
        let at = pos.index(s.len() + 1);
        if insert || at == s.len() {
            s.insert(at, c);
        } else {
            s[at] = c;
        }
        let _ = both(&s.into_iter().collect::<String>());
    }

    #[test]
    fn random_strings_never_panic(
        s in prop::collection::vec(prop::sample::select(ALPHABET), 0..300),
        t in any::<String>(),
    ) {
        let _ = both(&s.into_iter().collect::<String>());
        let _ = both(&t);
    }
}

#[test]
fn a_run_ending_a_repeating_layout_is_checked_against_what_follows() {
    // Found by fuzzing: the blocks took `\x3A3A33` as a period whose last run ends at
    // the next period's escape, while the text after the last block went on with a
    // digit, lengthening that run to an odd one.
    let unit = r"\x3A3A33";
    for tail in [r"3\x00", r"33\x00", " ", r"\x00", "3"] {
        let s = unit.repeat(30) + tail;
        let _ = both(&s);
    }
    let s = r"005500333A\x3A\x033A\x00333A\x3A\x033A\x00333A\x3A\x033A\x3A333A\x3A\x033A\x3A3A333\x033A\x3A333A\x3A\x033A\x3A3A3300333A";
    assert_eq!(both(s), Err(error(78, OddDigitCount(5))));
}
