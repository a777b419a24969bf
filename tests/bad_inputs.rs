//! A table of bad inputs, one per row, with the exact error each gets; every row also
//! checks that the arena it ran on is unchanged.

mod support;

use vmallocator::{CharWidth, Error, HexErrorKind, Mallocator, Protection, page_size};

type Row = (
    &'static str,
    fn(&mut Mallocator) -> Result<(), Error>,
    Error,
);

fn hex(offset: usize, kind: HexErrorKind) -> Error {
    Error::Hex { offset, kind }
}

#[test]
fn each_bad_input_gets_its_exact_error() {
    let rows: &[Row] = &[
        (
            "with_size(0)",
            |_| Mallocator::with_size(0, Protection::READ_WRITE).map(drop),
            Error::ZeroSize,
        ),
        (
            "with_size(usize::MAX)",
            |_| Mallocator::with_size(usize::MAX, Protection::READ_WRITE).map(drop),
            Error::SizeOverflow {
                requested: usize::MAX,
            },
        ),
        (
            "size above reserve",
            |_| {
                Mallocator::builder()
                    .size(2 << 20)
                    .reserve(1 << 20)
                    .build()
                    .map(drop)
            },
            Error::InvalidOptions {
                reason: "the size to commit up front is above the reservation",
            },
        ),
        (
            "commit step 0",
            |_| {
                Mallocator::builder()
                    .reserve(1 << 20)
                    .commit_step(0)
                    .build()
                    .map(drop)
            },
            Error::InvalidOptions {
                reason: "the commit step is 0",
            },
        ),
        (
            "align 0",
            |m| m.alloc(1, 0).map(drop),
            Error::InvalidAlignment { align: 0 },
        ),
        (
            "align 3",
            |m| m.alloc(1, 3).map(drop),
            Error::InvalidAlignment { align: 3 },
        ),
        (
            "one byte too many",
            |m| m.alloc(m.remaining() + 1, 1).map(drop),
            Error::OutOfMemory {
                requested: page_size() - 10 + 1,
                align: 1,
                remaining: page_size() - 10,
            },
        ),
        (
            "usize::MAX bytes",
            |m| m.alloc(usize::MAX, 8).map(drop),
            Error::OutOfMemory {
                requested: usize::MAX,
                align: 8,
                remaining: page_size() - 10,
            },
        ),
        (
            "NUL in a UTF-16 string",
            |m| m.alloc_str("a\0b", CharWidth::U16).map(drop),
            Error::InteriorNul { offset: 1 },
        ),
        (
            "string too long",
            |m| {
                m.alloc_str(&"x".repeat(page_size()), CharWidth::U8)
                    .map(drop)
            },
            Error::OutOfMemory {
                requested: page_size() + 1,
                align: 1,
                remaining: page_size() - 10,
            },
        ),
        (
            "hex: invalid character",
            |m| m.alloc_hex("00 ab zz").map(drop),
            hex(6, HexErrorKind::InvalidChar('z')),
        ),
        (
            "hex: non-ASCII character",
            |m| m.alloc_hex("00 é").map(drop),
            hex(3, HexErrorKind::InvalidChar('é')),
        ),
        (
            "hex: odd run",
            |m| m.alloc_hex("00 abc").map(drop),
            hex(3, HexErrorKind::OddDigitCount(3)),
        ),
        (
            "hex: single digit without prefix",
            |m| m.alloc_hex("1").map(drop),
            hex(0, HexErrorKind::OddDigitCount(1)),
        ),
        (
            "hex: prefix with no digit",
            |m| m.alloc_hex("0x").map(drop),
            hex(2, HexErrorKind::MissingDigit { found: None }),
        ),
        (
            "hex: prefix then separator",
            |m| m.alloc_hex("0x ab").map(drop),
            hex(2, HexErrorKind::MissingDigit { found: Some(' ') }),
        ),
        (
            "hex: three digits after prefix",
            |m| m.alloc_hex("0x123").map(drop),
            hex(2, HexErrorKind::OddDigitCount(3)),
        ),
        (
            "hex: escape with one digit",
            |m| m.alloc_hex("\\x4").map(drop),
            hex(3, HexErrorKind::MissingDigit { found: None }),
        ),
        (
            "hex: lone slash",
            |m| m.alloc_hex("00 / 01").map(drop),
            hex(3, HexErrorKind::InvalidChar('/')),
        ),
        (
            "hex: too long for the region",
            |m| m.alloc_hex(&"ab".repeat(page_size())).map(drop),
            Error::OutOfMemory {
                requested: page_size(),
                align: 1,
                remaining: page_size() - 10,
            },
        ),
        (
            "rewind to another arena's checkpoint",
            |m| {
                let other = Mallocator::new()?;
                m.rewind(other.checkpoint())
            },
            Error::InvalidCheckpoint,
        ),
    ];
    for (name, call, want) in rows {
        let mut m = Mallocator::with_size(page_size(), Protection::READ_WRITE).unwrap();
        m.alloc_bytes(&[0xee; 10]).unwrap();
        let got = call(&mut m);
        assert_eq!(got.as_ref().err(), Some(want), "{name}");
        assert_eq!(m.used(), 10, "{name}: the pointer moved");
        assert_eq!(
            support::init(m.used_bytes().unwrap()),
            [0xee; 10],
            "{name}: memory changed"
        );
        // The message names the facts, without panicking.
        assert!(!want.to_string().is_empty());
    }
}

#[test]
fn protection_errors() {
    let m = Mallocator::with_size(1, Protection::READ).unwrap();
    let e = Error::NotWritable {
        protection: Protection::READ,
    };
    assert_eq!(m.alloc_bytes(b"x").unwrap_err(), e);
    assert_eq!(m.alloc_str("x", CharWidth::U32).unwrap_err(), e);
    assert_eq!(m.alloc_hex("00").unwrap_err(), e);
    let mut m = m;
    // Protection is checked on exactly the pages a call touches: hand out a byte first.
    m.alloc(1, 1).unwrap();
    assert_eq!(m.reset_zeroed().unwrap_err(), e);
    let mut none = Mallocator::with_size(1, Protection::NONE).unwrap();
    assert_eq!(support::init(none.used_bytes().unwrap()), [0u8; 0]);
    none.alloc(1, 1).unwrap();
    assert_eq!(
        none.used_bytes().unwrap_err(),
        Error::NotReadable {
            protection: Protection::NONE
        }
    );
}
