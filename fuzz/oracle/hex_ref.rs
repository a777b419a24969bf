//! A deliberately simple reference parser for the hex grammar documented in
//! `vmallocator::hex`, written from that documentation alone, one character at a time: the
//! oracle the `hex` fuzz target and `tests/hex_oracle.rs` compare the library against
//! (bytes, error offsets and error kinds).

use vmallocator::{Error, HexErrorKind};

fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c' | ',')
}

/// The byte offset and character at index `i` of `chars`, or the end of the input.
fn at(chars: &[(usize, char)], i: usize, len: usize) -> (usize, Option<char>) {
    match chars.get(i) {
        Some(&(o, c)) => (o, Some(c)),
        None => (len, None),
    }
}

fn err(offset: usize, kind: HexErrorKind) -> Result<Vec<u8>, Error> {
    Err(Error::Hex { offset, kind })
}

fn digit(c: char) -> u8 {
    c.to_digit(16).unwrap() as u8
}

pub fn decode(input: &str) -> Result<Vec<u8>, Error> {
    let chars: Vec<(usize, char)> = input.char_indices().collect();
    let len = input.len();
    let next = |i: usize| chars.get(i).map(|&(_, c)| c);
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (offset, c) = chars[i];
        // Between tokens: separators, comments, escapes, a `0x` prefix or a run of digits.
        if is_separator(c) {
            i += 1;
        } else if c == ';' || c == '#' || (c == '/' && next(i + 1) == Some('/')) {
            while i < chars.len() && chars[i].1 != '\n' {
                i += 1;
            }
        } else if c == '\\' && matches!(next(i + 1), Some('x' | 'X')) {
            for k in 2..4 {
                let (o, found) = at(&chars, i + k, len);
                if !found.is_some_and(|c| c.is_ascii_hexdigit()) {
                    return err(o, HexErrorKind::MissingDigit { found });
                }
            }
            out.push(digit(chars[i + 2].1) << 4 | digit(chars[i + 3].1));
            i += 4;
        } else if c.is_ascii_hexdigit() {
            // A `0x` prefix, then a run; or just a run.
            let prefixed = c == '0' && matches!(next(i + 1), Some('x' | 'X'));
            if prefixed {
                i += 2;
            }
            let first = i;
            while next(i).is_some_and(|c| c.is_ascii_hexdigit()) {
                i += 1;
            }
            let (end_offset, end) = at(&chars, i, len);
            let run_offset = at(&chars, first, len).0;
            let count = i - first;
            if prefixed && count == 0 {
                return err(run_offset, HexErrorKind::MissingDigit { found: end });
            }
            // What ends the run is checked before its length.
            let ends_well = match end {
                None => true,
                Some(e) => {
                    is_separator(e)
                        || e == ';'
                        || e == '#'
                        || (e == '/' && next(i + 1) == Some('/'))
                        || (e == '\\' && matches!(next(i + 1), Some('x' | 'X')))
                }
            };
            if !ends_well {
                return err(end_offset, HexErrorKind::InvalidChar(end.unwrap()));
            }
            let digits: Vec<u8> = chars[first..i].iter().map(|&(_, c)| digit(c)).collect();
            if prefixed && count == 1 {
                out.push(digits[0]);
            } else if count % 2 == 1 {
                return err(run_offset, HexErrorKind::OddDigitCount(count));
            } else {
                out.extend(digits.chunks(2).map(|d| d[0] << 4 | d[1]));
            }
        } else {
            return err(offset, HexErrorKind::InvalidChar(c));
        }
    }
    Ok(out)
}
