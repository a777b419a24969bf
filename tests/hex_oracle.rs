//! The hex parser against a deliberately simple reference parser written from the documented
//! grammar (`fuzz/oracle/hex_ref.rs`, also the `hex` fuzz target's oracle): the same bytes,
//! or the same error at the same offset, for the documentation's examples and for random
//! strings over the characters the grammar gives meaning to.

#[path = "../fuzz/oracle/hex_ref.rs"]
mod hex_ref;

use proptest::prelude::*;
use vmallocator::hex::decode;
use vmallocator::{Error, HexErrorKind::*};

#[test]
fn the_reference_parser_follows_the_documented_table() {
    let err = |offset, kind| Err(Error::Hex { offset, kind });
    let cases = [
        ("0x12g", err(4, InvalidChar('g'))),
        ("ab0x12", err(3, InvalidChar('x'))),
        ("00 é", err(3, InvalidChar('é'))),
        (r"a \ b", err(0, OddDigitCount(1))),
        (r"ab \ b", err(3, InvalidChar('\\'))),
        ("ab / cd", err(3, InvalidChar('/'))),
        ("abc", err(0, OddDigitCount(3))),
        ("abcg", err(3, InvalidChar('g'))),
        ("0x123", err(2, OddDigitCount(3))),
        (r"\x123", err(4, OddDigitCount(1))),
        ("0x", err(2, MissingDigit { found: None })),
        ("0x g", err(2, MissingDigit { found: Some(' ') })),
        (r"\x4", err(3, MissingDigit { found: None })),
        (r"\x4g", err(3, MissingDigit { found: Some('g') })),
        ("00abF9", Ok(vec![0x00, 0xab, 0xf9])),
        ("  00,,ab  ", Ok(vec![0x00, 0xab])),
        ("0x1, 0X2", Ok(vec![1, 2])),
        (r"\x1234", Ok(vec![0x12, 0x34])),
        ("b8 2a ; mov\nc3 # ret", Ok(vec![0xb8, 0x2a, 0xc3])),
        ("c3;ret\n90 // nop", Ok(vec![0xc3, 0x90])),
        (" \t\r\n", Ok(vec![])),
    ];
    for (input, want) in cases {
        assert_eq!(hex_ref::decode(input), want, "reference on {input:?}");
        assert_eq!(decode(input), want, "library on {input:?}");
    }
}

fn hexish() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "0", "1", "a", "F", "9", "x", "X", "0x", "0X", "\\x", "\\", "/", "//", ";", "#", " ", "\t",
        "\n", "\r", ",", "g", "é", "€", "00", "ab", "c3 ", "0x1", "\\x4", "zz",
    ]);
    prop::collection::vec(pieces, 0..40).prop_map(|p| p.concat())
}

fn scaled(cases: u32) -> u32 {
    let scale: f64 = std::env::var("VMALLOCATOR_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((f64::from(cases) * scale) as u32).max(1)
}

proptest! {
    // 4000 cases, times VMALLOCATOR_TEST_SCALE (a factor; tools set it low).
    #![proptest_config(ProptestConfig { cases: scaled(4000), ..ProptestConfig::default() })]

    #[test]
    fn the_parser_matches_the_reference(input in hexish()) {
        prop_assert_eq!(decode(&input), hex_ref::decode(&input), "{:?}", input);
    }

    #[test]
    fn long_inputs_match_the_reference(bytes in prop::collection::vec(any::<u8>(), 0..300), sep in 0usize..4) {
        // Long enough for the vectorised paths, with one error or none.
        let sep = [" ", "", ",", "\n"][sep];
        let mut input: String = bytes.iter().map(|b| format!("{b:02x}{sep}")).collect();
        if bytes.len() > 3 && bytes[0] % 3 == 0 {
            let at = bytes[1] as usize % input.len();
            if input.is_char_boundary(at) {
                input.insert(at, ['g', 'x', '/', '\\', 'é'][bytes[2] as usize % 5]);
            }
        }
        prop_assert_eq!(decode(&input), hex_ref::decode(&input), "{:?}", input);
    }
}
