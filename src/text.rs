//! String encodings for [`Mallocator::alloc_str`](crate::Mallocator::alloc_str): UTF-8,
//! UTF-16 and UTF-32, native endian. The arena hands in the destination.
//!
//! Two encoders: [`wide`] writes into a destination of one unit per input byte (the upper
//! bound) in one pass over ASCII, with vector instructions picked at run time; the exact
//! encoders here write into a destination of exactly the encoded length, for a block
//! that must not be larger (near the end of the region, or where a larger one would
//! commit memory), and serve as the scalar reference. Both write through
//! `MaybeUninit` units: the arena's block may hold uninitialised bytes (a rewound raw
//! block), so no `&mut [u16]` or `&mut [u32]` is ever made over it.

use core::mem::MaybeUninit;

#[cfg(target_arch = "aarch64")]
mod neon;
pub(crate) mod wide;
#[cfg(target_arch = "x86_64")]
mod x86;
#[cfg(target_arch = "x86_64")]
mod x86_512;
#[cfg(target_arch = "x86_64")]
mod x86_decode;

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
            CharWidth::U16 => {
                count_units(s, |b| u8::from((b as i8) >= -0x40) + u8::from(b >= 0xF0))
            }
            CharWidth::U32 => count_units(s, |b| u8::from((b as i8) >= -0x40)),
        }
    }
}

/// Sums `units(b)` over the bytes of `s`, in chunks whose total fits a `u8`, which the
/// compiler turns into wide vector adds. `units` gives at most 1 per byte on average over
/// valid UTF-8 (2 for a 4-byte leader, 0 for its three continuation bytes), so a chunk of
/// 192 bytes totals at most 194.
#[inline(always)]
fn count_units(s: &str, units: impl Fn(u8) -> u8 + Copy) -> usize {
    let chunk_total = |chunk: &[u8]| usize::from(chunk.iter().fold(0u8, |t, &b| t + units(b)));
    let chunks = s.as_bytes().chunks_exact(192);
    let rest = chunk_total(chunks.remainder());
    chunks.map(chunk_total).sum::<usize>() + rest
}

const CHUNK: usize = 16;
const RUN: usize = 4096;

/// Whether all bytes of the chunk are ASCII.
#[inline(always)]
fn is_ascii_chunk(chunk: &[u8; CHUNK]) -> bool {
    let (lo, hi) = chunk.split_at(CHUNK / 2);
    let word = |half: &[u8]| u64::from_ne_bytes(half.try_into().expect("half a chunk"));
    (word(lo) | word(hi)) & 0x8080_8080_8080_8080 == 0
}

/// Decodes the non-ASCII character whose UTF-8 sequence starts at `bytes[i]`. Returns the
/// code point and the sequence length. `bytes` is valid UTF-8 (it comes from a `&str`)
/// and `i` is on a character boundary.
#[inline(always)]
fn decode_at(bytes: &[u8], i: usize) -> (u32, usize) {
    let b0 = u32::from(bytes[i]);
    let cont = |k: usize| u32::from(bytes[i + k]) & 0x3f;
    if b0 < 0xe0 {
        (((b0 & 0x1f) << 6) | cont(1), 2)
    } else if b0 < 0xf0 {
        (((b0 & 0x0f) << 12) | (cont(1) << 6) | cont(2), 3)
    } else {
        (
            ((b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3),
            4,
        )
    }
}

/// Widens `s` into `dst`: ASCII 16 bytes at a time, other characters through `put`, which
/// writes one code point at `dst[o..]` and returns the units written. `dst` must hold the
/// encoded length. Returns the units written, all of `dst[..n]` written.
#[inline(always)]
fn widen<T: Copy + From<u8>>(
    s: &str,
    dst: &mut [MaybeUninit<T>],
    put: impl Fn(u32, &mut [MaybeUninit<T>], usize) -> usize,
) -> usize {
    let bytes = s.as_bytes();
    let (mut i, mut o) = (0, 0);
    while i < bytes.len() {
        // An ASCII run of whole chunks (at most RUN bytes, to stay in the L1 cache),
        // found first and then widened in a plain loop that the compiler vectorises.
        let mut end = i;
        while let Some(chunk) = bytes.get(end..end + CHUNK) {
            if end - i >= RUN || !is_ascii_chunk(chunk.try_into().expect("chunk-sized slice")) {
                break;
            }
            end += CHUNK;
        }
        if end > i {
            let run = end - i;
            for (d, &b) in dst[o..o + run].iter_mut().zip(&bytes[i..end]) {
                d.write(T::from(b));
            }
            i = end;
            o += run;
            continue;
        }
        // Then character by character to the end of this chunk, so text that is mostly
        // non-ASCII does not pay for a failed chunk test at every character.
        let stop = (i + CHUNK).min(bytes.len());
        while i < stop {
            let b = bytes[i];
            if b < 0x80 {
                // Widen the next eight bytes at once and keep as many as are ASCII: `dst`
                // holds exactly the encoding, so the units written past those are inside
                // it and are overwritten by the characters that follow.
                if let (Some(src), Some(out)) = (bytes.get(i..i + 8), dst.get_mut(o..o + 8)) {
                    let src: &[u8; 8] = src.try_into().expect("8 bytes");
                    let out: &mut [MaybeUninit<T>; 8] = out.try_into().expect("8 units");
                    for (d, &b) in out.iter_mut().zip(src) {
                        d.write(T::from(b));
                    }
                    let high = u64::from_le_bytes(*src) & 0x8080_8080_8080_8080;
                    let ascii = (high.trailing_zeros() / 8) as usize;
                    i += ascii;
                    o += ascii;
                } else {
                    dst[o].write(T::from(b));
                    i += 1;
                    o += 1;
                }
            } else {
                let (c, n) = decode_at(bytes, i);
                i += n;
                o += put(c, dst, o);
            }
        }
    }
    o
}

/// Writes `s` as UTF-16 into `dst`, which must hold exactly its encoded length
/// ([`CharWidth::encoded_len`]): units past the end of the encoding may be scribbled on
/// before they are written. Returns the units written, all of `dst[..n]` initialised.
pub(crate) fn encode_utf16(s: &str, dst: &mut [MaybeUninit<u16>]) -> usize {
    widen(s, dst, |c, d, o| {
        if c < 0x1_0000 {
            d[o].write(c as u16);
            1
        } else {
            let c = c - 0x1_0000;
            d[o].write(0xd800 | (c >> 10) as u16);
            d[o + 1].write(0xdc00 | (c & 0x3ff) as u16);
            2
        }
    })
}

/// Writes `s` as UTF-32 into `dst`, which must hold exactly its encoded length. Returns
/// the units written, all of `dst[..n]` initialised.
pub(crate) fn encode_utf32(s: &str, dst: &mut [MaybeUninit<u32>]) -> usize {
    widen(s, dst, |c, d, o| {
        d[o].write(c);
        1
    })
}

/// Copies the bytes of `s` into `dst`, which must be `s.len()` bytes long; returns
/// `s.len()`.
pub(crate) fn encode_utf8(s: &str, dst: &mut [MaybeUninit<u8>]) -> usize {
    encode_utf8_bytes(s.as_bytes(), dst)
}

/// Copies `bytes` into `dst`, which must be `bytes.len()` long; returns `bytes.len()`.
pub(crate) fn encode_utf8_bytes(bytes: &[u8], dst: &mut [MaybeUninit<u8>]) -> usize {
    assert_eq!(
        dst.len(),
        bytes.len(),
        "the destination holds the bytes exactly"
    );
    for (d, &b) in dst.iter_mut().zip(bytes) {
        d.write(b);
    }
    bytes.len()
}

/// The initialised units `dst[..n]`, copied out (tests compare them).
#[cfg(test)]
pub(crate) fn written<T: Copy>(dst: &[MaybeUninit<T>], n: usize) -> Vec<T> {
    // SAFETY: the caller passes the count an encoder returned, whose units it wrote.
    dst[..n]
        .iter()
        .map(|u| unsafe { u.assume_init() })
        .collect()
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
            let mut dst = vec![MaybeUninit::uninit(); CharWidth::U16.encoded_len(s)];
            let n = encode_utf16(s, &mut dst);
            let want: Vec<u16> = s.encode_utf16().collect();
            assert_eq!(written(&dst, n), want, "{s:?}");
            assert_eq!(CharWidth::U16.encoded_len(s), want.len(), "{s:?}");
        }
    }

    #[test]
    fn utf32_matches_std() {
        for s in SAMPLES {
            let mut dst = vec![MaybeUninit::uninit(); CharWidth::U32.encoded_len(s)];
            let n = encode_utf32(s, &mut dst);
            let want: Vec<u32> = s.chars().map(u32::from).collect();
            assert_eq!(written(&dst, n), want, "{s:?}");
            assert_eq!(CharWidth::U32.encoded_len(s), want.len(), "{s:?}");
        }
    }

    #[test]
    fn nul_search() {
        assert_eq!(find_nul("abc"), None);
        assert_eq!(find_nul("\0"), Some(0));
        assert_eq!(find_nul("ab€\0c"), Some(5));
    }

    /// Checks the one-pass encoders at every level this CPU runs against std, with the
    /// first NUL's offset as the error.
    fn wide_matches_std(s: &str) {
        let want16: Vec<u16> = s.encode_utf16().collect();
        let want32: Vec<u32> = s.chars().map(u32::from).collect();
        let nul = s.bytes().position(|b| b == 0);
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            for isa in wide::Isa::ALL.iter().filter(|isa| !isa.available()) {
                println!("skipped {}: this CPU lacks it", isa.name());
            }
        });
        for &isa in wide::Isa::ALL {
            if !isa.available() {
                continue;
            }
            // Uninitialised destinations, longer than needed: only the units counted
            // matter (and Miri would flag a read of any other).
            let mut d16 = vec![MaybeUninit::uninit(); s.len() + 3];
            match wide::utf16(s, &mut d16, isa) {
                Ok(n) => assert_eq!(
                    (written(&d16, n), None),
                    (want16.clone(), nul),
                    "{isa:?} {s:?}"
                ),
                Err(at) => assert_eq!(Some(at), nul, "{isa:?} {s:?}"),
            }
            let mut d32 = vec![MaybeUninit::uninit(); s.len() + 3];
            match wide::utf32(s, &mut d32, isa) {
                Ok(n) => assert_eq!(
                    (written(&d32, n), None),
                    (want32.clone(), nul),
                    "{isa:?} {s:?}"
                ),
                Err(at) => assert_eq!(Some(at), nul, "{isa:?} {s:?}"),
            }
        }
    }

    #[test]
    fn wide_encoders_match_std_at_every_level() {
        for s in SAMPLES {
            wide_matches_std(s);
        }
        // Texts longer than a span (three spans, or one where `VMALLOCATOR_TEST_SCALE`, a
        // factor, 1 by default, is low), and fewer spots there.
        let scale = crate::test_scale();
        let reps = if scale < 0.5 { 100 } else { 300 };
        let ascii = "The quick brown fox jumps over the lazy dog. ".repeat(reps);
        let mixed = "Größe, Dvořák, 日本語, 🦀 and ASCII. ".repeat(reps);
        assert!(ascii.len().min(mixed.len()) > wide::SPAN + 40);
        for text in [&ascii, &mixed] {
            wide_matches_std(text);
            // A NUL or a non-ASCII character at every position of the first blocks,
            // and near the span boundaries.
            let (head, around) = (
                (100.0 * scale).max(8.0) as usize,
                (40.0 * scale).max(4.0) as usize,
            );
            let spots = (0..head).chain(wide::SPAN - around..wide::SPAN + around);
            for at in spots.filter(|&at| text.is_char_boundary(at)) {
                for c in ["\0", "é", "€", "🦀"] {
                    let mut t = text.clone();
                    t.insert_str(at, c);
                    wide_matches_std(&t);
                }
            }
        }
    }

    /// 4-byte characters after zero to three characters of one to three bytes (the step
    /// that stops before them), alone and in runs, at every position of a 64-byte chunk.
    #[test]
    fn four_byte_characters_at_every_chunk_position_match_std() {
        let filler = "Größe, Привет, 日本語 and ASCII; ".repeat(4);
        for lead in ["", "a", "é", "日", "aé", "日é", "a日é", "ab日"] {
            for run in ["🦀", "🦀🚀", "🦀é🚀", "🦀🚀🦀🚀🦀"] {
                for shift in (0..64).step_by(crate::test_stride()) {
                    let s = format!("{}{lead}{run}{filler}", "x".repeat(shift));
                    wide_matches_std(&s);
                    let s = format!("{}{lead}{run}{filler}", "é".repeat(shift / 2));
                    wide_matches_std(&s);
                }
            }
        }
    }

    /// Every sequence of six character lengths (one to four bytes), so every kind of step
    /// and every shuffle of the AVX2 decoder, with the smallest and largest code points
    /// of each length, at many positions of a 64-byte chunk.
    #[test]
    fn every_sequence_of_six_lengths_matches_std() {
        const BY_LEN: [[char; 3]; 4] = [
            ['\u{1}', 'a', '\u{7f}'],
            ['\u{80}', 'é', '\u{7ff}'],
            ['\u{800}', '日', '\u{ffff}'],
            ['\u{10000}', '🦀', '\u{10ffff}'],
        ];
        let filler = "Größe, Привет, 日本語 and ASCII; ".repeat(3);
        for seq in (0..1 << 12).step_by(crate::test_stride()) {
            let mut s = "x".repeat(seq % 64);
            for round in 0..3 {
                for j in 0..6 {
                    let len = (seq >> (2 * j)) & 3;
                    s.push(BY_LEN[len][(seq + j + round) % 3]);
                }
            }
            s.push_str(&filler);
            wide_matches_std(&s);
        }
    }

    /// Texts of every length up to a few chunks, so the decoder's last window (the
    /// input's last 64 bytes) and the short tail after it meet every kind of step, with a
    /// NUL near the end too.
    #[test]
    fn every_length_near_the_end_matches_std() {
        let unit = "Größe, Привет, 日本語 and 🦀 ASCII; ";
        let long = unit.repeat(8);
        for len in (0..=long.len()).filter(|&n| long.is_char_boundary(n)) {
            let s = &long[..len];
            wide_matches_std(s);
            if let Some((at, _)) = s.char_indices().rev().nth(len % 5) {
                let mut t = s.to_string();
                t.insert(at, '\0');
                wide_matches_std(&t);
            }
        }
    }

    /// Runs of 4-byte characters after a short lead: 64-byte windows with exactly 16
    /// character starts, whose last character does not fit (the AVX-512 decoder's rounds
    /// of 15), and runs long enough for several such windows, then more text.
    #[test]
    fn runs_of_four_byte_characters_match_std() {
        for lead in ["", "a", "ab", "abc", "é", "日", "é日"] {
            for run in [1, 15, 16, 17, 31, 32, 33, 64] {
                for tail in ["", "xyz", "Größe 日本語 🚀 end"] {
                    let s = format!("{lead}{}{tail}{}", "🦀".repeat(run), "é".repeat(40));
                    wide_matches_std(&s);
                    wide_matches_std(&format!("{s}\0{s}"));
                }
            }
        }
    }

    #[test]
    fn forced_level_comes_from_the_environment() {
        let current = wide::Isa::current();
        assert!(current.available());
        match std::env::var("VMALLOCATOR_FORCE_ISA") {
            Ok(name)
                if wide::Isa::ALL
                    .iter()
                    .any(|isa| isa.name() == name && isa.available()) =>
            {
                assert_eq!(current.name(), name);
            }
            _ => {
                let best = wide::Isa::ALL.iter().rev().find(|isa| isa.available());
                assert_eq!(Some(&current), best);
            }
        }
        println!("level in use: {}", current.name());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(crate::test_cases(256)))]

        #[test]
        fn wide_encoders_match_std_on_any_string(
            s in "(\\PC|\\x00|[a-z ]{1,40}){0,80}",
        ) {
            wide_matches_std(&s);
        }

        #[test]
        fn wide_encoders_match_std_on_long_mixed_text(
            s in "(\\PC|[a-zA-Z ,.]{1,12}|[é€日🦀а]{1,12}){0,200}",
        ) {
            // No NUL, hundreds of bytes: the four-character steps of every level run.
            wide_matches_std(&s);
        }

        #[test]
        fn encoders_match_std_on_any_string(s in "\\PC*") {
            let mut d16 = vec![MaybeUninit::uninit(); CharWidth::U16.encoded_len(&s)];
            let n = encode_utf16(&s, &mut d16);
            proptest::prop_assert_eq!(written(&d16, n), s.encode_utf16().collect::<Vec<_>>());
            proptest::prop_assert_eq!(CharWidth::U16.encoded_len(&s), n);
            let mut d32 = vec![MaybeUninit::uninit(); CharWidth::U32.encoded_len(&s)];
            let n = encode_utf32(&s, &mut d32);
            proptest::prop_assert_eq!(written(&d32, n), s.chars().map(u32::from).collect::<Vec<_>>());
            proptest::prop_assert_eq!(CharWidth::U32.encoded_len(&s), n);
        }
    }
}
