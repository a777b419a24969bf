//! String encodings for [`Mallocator::alloc_str`](crate::Mallocator::alloc_str): UTF-8,
//! UTF-16 and UTF-32, native endian. Safe code only; the arena hands in the destination.

/// The width of one character unit in a string copied into the region.
///
/// Every width is lossless: `U16` writes surrogate pairs for characters outside the Basic
/// Multilingual Plane, `U32` writes one code point per unit.
///
/// ```
/// use vmallocator::CharWidth;
/// assert_eq!(CharWidth::U16.unit_size(), 2);
/// assert_eq!(CharWidth::U16.encoded_len("h€llo"), 5);
/// assert_eq!(CharWidth::U8.encoded_len("h€llo"), 7);
/// assert_eq!(CharWidth::U32.encoded_len("🦀"), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CharWidth {
    /// UTF-8 bytes, like a C `char*` string.
    #[default]
    U8,
    /// UTF-16 code units, like a Windows `wchar_t*` (`LPCWSTR`) string.
    U16,
    /// UTF-32 code points, like a Unix `wchar_t*` or C `char32_t*` string.
    U32,
}

impl CharWidth {
    /// Bytes in one unit (and the alignment of the block): 1, 2 or 4.
    #[inline]
    pub const fn unit_size(self) -> usize {
        match self {
            CharWidth::U8 => 1,
            CharWidth::U16 => 2,
            CharWidth::U32 => 4,
        }
    }

    /// The number of units `s` takes in this width, without the terminator.
    pub fn encoded_len(self, s: &str) -> usize {
        match self {
            CharWidth::U8 => s.len(),
            // Every byte that is not a continuation byte starts a character; 4-byte
            // sequences (leading byte >= 0xF0) take a surrogate pair.
            CharWidth::U16 => s
                .bytes()
                .map(|b| usize::from((b as i8) >= -0x40) + usize::from(b >= 0xF0))
                .sum(),
            CharWidth::U32 => s.bytes().filter(|&b| (b as i8) >= -0x40).count(),
        }
    }
}

const ASCII_CHUNK: usize = 16;

/// Whether all bytes of the chunk are ASCII.
#[inline(always)]
fn is_ascii_chunk(chunk: &[u8; ASCII_CHUNK]) -> bool {
    u128::from_ne_bytes(*chunk) & 0x8080_8080_8080_8080_8080_8080_8080_8080 == 0
}

/// Widens `s` into `dst` with `unit` per character (`encode` for non-ASCII ones), with a
/// fast path that widens 16 ASCII bytes at a time. Returns the units written.
#[inline(always)]
fn widen<T: Copy + From<u8>>(
    s: &str,
    dst: &mut [T],
    encode: impl Fn(char, &mut [T]) -> usize,
) -> usize {
    let bytes = s.as_bytes();
    let (mut i, mut o) = (0, 0);
    while i < bytes.len() {
        if let Some(chunk) = bytes.get(i..i + ASCII_CHUNK) {
            let chunk: &[u8; ASCII_CHUNK] = chunk.try_into().expect("16-byte slice");
            if is_ascii_chunk(chunk) {
                for (d, &b) in dst[o..o + ASCII_CHUNK].iter_mut().zip(chunk) {
                    *d = T::from(b);
                }
                i += ASCII_CHUNK;
                o += ASCII_CHUNK;
                continue;
            }
        }
        let b = bytes[i];
        if b < 0x80 {
            dst[o] = T::from(b);
            i += 1;
            o += 1;
        } else {
            // `i` is always on a character boundary: it only moves by whole characters.
            let c = s[i..].chars().next().expect("non-empty rest");
            i += c.len_utf8();
            o += encode(c, &mut dst[o..]);
        }
    }
    o
}

/// Writes `s` as UTF-16 into `dst`, which must hold at least `s.len()` units (UTF-16 never
/// needs more units than UTF-8 has bytes). Returns the units written.
pub(crate) fn encode_utf16(s: &str, dst: &mut [u16]) -> usize {
    widen(s, dst, |c, d| c.encode_utf16(d).len())
}

/// Writes `s` as UTF-32 into `dst`, which must hold at least `s.len()` units. Returns the
/// units written.
pub(crate) fn encode_utf32(s: &str, dst: &mut [u32]) -> usize {
    widen(s, dst, |c, d| {
        d[0] = u32::from(c);
        1
    })
}

/// The byte offset of the first NUL in `s`, if any.
#[inline]
pub(crate) fn find_nul(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    // `contains` on bytes is a vectorised memchr; the position is only needed on error.
    if bytes.contains(&0) {
        bytes.iter().position(|&b| b == 0)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: &[&str] = &[
        "",
        "a",
        "Hello World",
        "h€llo wörld",
        "🦀 crabs 🦀",
        "0123456789abcdef0123456789abcdef€",
        "a long ASCII prefix of more than sixteen bytes, then ünïcödé, then 𝄞 and ASCII again",
        "\u{7f}\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}",
    ];

    #[test]
    fn utf16_matches_std() {
        for s in SAMPLES {
            let mut dst = vec![0u16; s.len()];
            let n = encode_utf16(s, &mut dst);
            let want: Vec<u16> = s.encode_utf16().collect();
            assert_eq!(&dst[..n], &want[..], "{s:?}");
            assert_eq!(CharWidth::U16.encoded_len(s), want.len(), "{s:?}");
        }
    }

    #[test]
    fn utf32_matches_std() {
        for s in SAMPLES {
            let mut dst = vec![0u32; s.len()];
            let n = encode_utf32(s, &mut dst);
            let want: Vec<u32> = s.chars().map(u32::from).collect();
            assert_eq!(&dst[..n], &want[..], "{s:?}");
            assert_eq!(CharWidth::U32.encoded_len(s), want.len(), "{s:?}");
        }
    }

    #[test]
    fn nul_search() {
        assert_eq!(find_nul("abc"), None);
        assert_eq!(find_nul("\0"), Some(0));
        assert_eq!(find_nul("ab€\0c"), Some(5));
    }

    proptest::proptest! {
        #[test]
        fn encoders_match_std_on_any_string(s in "\\PC*") {
            let mut d16 = vec![0u16; s.len()];
            let n = encode_utf16(&s, &mut d16);
            proptest::prop_assert_eq!(&d16[..n], &s.encode_utf16().collect::<Vec<_>>()[..]);
            proptest::prop_assert_eq!(CharWidth::U16.encoded_len(&s), n);
            let mut d32 = vec![0u32; s.len()];
            let n = encode_utf32(&s, &mut d32);
            proptest::prop_assert_eq!(&d32[..n], &s.chars().map(u32::from).collect::<Vec<_>>()[..]);
            proptest::prop_assert_eq!(CharWidth::U32.encoded_len(&s), n);
        }
    }
}
