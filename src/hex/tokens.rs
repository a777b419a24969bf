//! AVX2 windows for mixed hex tokens: `"00 ab f9 0x42 "`, `"0x48, 0x31, "`, `"\x48\x31"`,
//! and listings with comments, 64 input bytes at a time.
//!
//! Each window classifies 64 bytes into bit masks (digit, separator, `x`, `\`, `0`,
//! comment start), picks the last point where a token boundary lets it stop, checks with
//! a few bit operations that everything before that point follows the grammar's regular
//! cases (every run of digits even, each `0x` after a separator, each `\` followed by `x`
//! and digits), and then writes the byte of each pair of digits, compressed into place
//! with a `pshufb` table. A window that does not pass writes nothing that is counted: the
//! strict scalar parser then takes one token and finds the exact error, or the irregular
//! but valid token (`0x1`, a `0x` right after an escape), and the windows go on after it.
//!
//! Every function here needs AVX2; the caller checks it at run time before calling.

use core::arch::x86_64::{
    __m128i, __m256i, _mm_set_epi64x, _mm_shuffle_epi8, _mm_storel_epi64, _mm_unpackhi_epi64,
    _mm256_and_si256, _mm256_castsi256_si128, _mm256_cmpeq_epi8, _mm256_extracti128_si256,
    _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8, _mm256_shuffle_epi8,
    _mm256_slli_epi16,
};
use core::mem::MaybeUninit;

use super::simd::{invalid, lanes, load, nibbles};

/// Bits at even positions.
const EVEN: u64 = 0x5555_5555_5555_5555;

/// For each 8-bit mask, the indices of its set bits in order, then `0x80` (which makes
/// `pshufb` write zero).
const THIN: [u64; 256] = {
    let mut t = [0_u64; 256];
    let mut m = 0;
    while m < 256 {
        let mut idx = [0x80_u8; 8];
        let (mut bit, mut k) = (0, 0);
        while bit < 8 {
            if m >> bit & 1 == 1 {
                idx[k] = bit as u8;
                k += 1;
            }
            bit += 1;
        }
        t[m] = u64::from_le_bytes(idx);
        m += 1;
    }
    t
};

/// Separators by low nibble, as in the `"hh "` blocks.
const SEP_A: [i8; 16] = [
    0x20, -1, -1, -1, -1, -1, -1, -1, -1, 0x09, 0x0a, -1, 0x0c, 0x0d, -1, -1,
];
const SEP_B: [i8; 16] = [
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0x2c, -1, -1, -1,
];

/// The bit masks of one 64-byte window.
struct Classes {
    digit: u64,
    sep: u64,
    x: u64,
    backslash: u64,
    zero: u64,
    comment: u64,
    slash: u64,
}

/// Joins two 32-bit `movemask` results into one mask of 64 bytes.
#[inline]
#[target_feature(enable = "avx2")]
fn join(lo: __m256i, hi: __m256i) -> u64 {
    u64::from(_mm256_movemask_epi8(lo) as u32) | u64::from(_mm256_movemask_epi8(hi) as u32) << 32
}

/// Compares every byte of both halves with `c`.
#[inline]
#[target_feature(enable = "avx2")]
fn eq(v: [__m256i; 2], c: u8) -> u64 {
    let c = _mm256_set1_epi8(c as i8);
    join(_mm256_cmpeq_epi8(v[0], c), _mm256_cmpeq_epi8(v[1], c))
}

#[inline]
#[target_feature(enable = "avx2")]
fn is_sep(v: __m256i) -> __m256i {
    _mm256_or_si256(
        _mm256_cmpeq_epi8(v, _mm256_shuffle_epi8(lanes(&SEP_A), v)),
        _mm256_cmpeq_epi8(v, _mm256_shuffle_epi8(lanes(&SEP_B), v)),
    )
}

/// What one window did.
enum Step {
    /// Consumed this many input bytes and wrote this many output bytes.
    Tokens(usize, usize),
    /// The same, and a comment starts right after the bytes consumed.
    Comment(usize, usize),
    /// Nothing: the scalar parser takes the next token.
    Stop,
}

/// Writes the bytes of `v` whose bit is set in `mask` (at most 16) to `dst[*o..]`, in
/// order, and advances `*o` past them. Writes up to 16 bytes from `*o`, which must fit.
#[inline]
#[target_feature(enable = "avx2")]
fn compress16(v: __m128i, mask: u64, dst: &mut [MaybeUninit<u8>; 48], o: &mut usize) {
    let (lo, hi) = ((mask & 0xff) as usize, (mask >> 8 & 0xff) as usize);
    // Indices of the high half point 8 bytes further; 0x80 + 8 still has its top bit set.
    let idx = _mm_set_epi64x(
        (THIN[hi] + 0x0808_0808_0808_0808) as i64,
        THIN[lo] as i64,
    );
    let packed = _mm_shuffle_epi8(v, idx);
    let store8 = |dst: &mut [MaybeUninit<u8>; 48], at: usize, x: __m128i| {
        if let Some(d) = dst.get_mut(at..at + 8) {
            // SAFETY: `d` is 8 writable bytes and `storel` has no alignment requirement.
            unsafe { _mm_storel_epi64(d.as_mut_ptr().cast(), x) };
        }
    };
    store8(dst, *o, packed);
    *o += lo.count_ones() as usize;
    store8(dst, *o, _mm_unpackhi_epi64(packed, packed));
    *o += hi.count_ones() as usize;
}

/// Parses one window at the start of a token: `src` is the next 65 input bytes (the
/// 65th only completes the last pair), `dst` room for the output.
#[inline]
#[target_feature(enable = "avx2")]
fn window(src: &[u8; 65], dst: &mut [MaybeUninit<u8>; 48]) -> Step {
    let (a, rest) = src.split_at(32);
    let a: &[u8; 32] = a.try_into().expect("32 bytes");
    let b: &[u8; 32] = rest[..32].try_into().expect("32 bytes");
    let a1: &[u8; 32] = src[1..33].try_into().expect("32 bytes");
    let b1: &[u8; 32] = src[33..65].try_into().expect("32 bytes");
    let v = [load(a), load(b)];
    let n = [nibbles(v[0]), nibbles(v[1])];
    let lower = [
        _mm256_or_si256(v[0], _mm256_set1_epi8(0x20)),
        _mm256_or_si256(v[1], _mm256_set1_epi8(0x20)),
    ];
    let c = Classes {
        digit: !join(invalid(n[0]), invalid(n[1])),
        sep: join(is_sep(v[0]), is_sep(v[1])),
        x: eq(lower, b'x'),
        backslash: eq(v, b'\\'),
        zero: eq(v, b'0'),
        comment: eq(v, b';') | eq(v, b'#'),
        slash: eq(v, b'/'),
    };
    // The first byte no regular token has; a comment may start there.
    let allowed = c.digit | c.sep | c.x | c.backslash;
    let w = (!allowed).trailing_zeros();
    let below_w = u64::MAX.checked_shr(64 - w).unwrap_or(0);
    let at_comment = w < 64
        && (c.comment >> w & 1 == 1 || (w < 63 && c.slash >> w & 3 == 3));
    // Positions `q` where the window may stop after byte `q`: a separator, the byte
    // before an escape, the byte before a comment.
    let mut last = (c.sep | c.backslash >> 1) & below_w;
    if at_comment && w > 0 {
        last |= 1 << (w - 1);
    }
    let len = 64 - last.leading_zeros();
    if len == 0 {
        return if at_comment {
            Step::Comment(0, 0)
        } else {
            Step::Stop
        };
    }
    let m = u64::MAX >> (64 - len);
    let esc_x = c.x & c.backslash << 1;
    let prefix_x = c.x & !esc_x & m;
    let prefix_zero = prefix_x >> 1;
    let digits = c.digit & m & !prefix_zero;
    let ok_escapes = (c.backslash & m) << 1 & !c.x == 0;
    let ok_prefixes = prefix_x & 1 == 0
        && prefix_zero & !c.zero == 0
        && prefix_zero & !(c.sep << 1 | 1) == 0;
    let ok_x_digits = (c.x & m) << 1 & !c.digit == 0;
    // The first digit of each pair: even offsets from the start of each run.
    let starts = digits & !(digits << 1);
    let even_runs = digits & !digits.wrapping_add(starts & EVEN);
    let high = (even_runs & EVEN) | (digits & !even_runs & !EVEN);
    let ok_pairs = high << 1 & !digits == 0 && high >> 63 == 0;
    if !(ok_escapes && ok_prefixes && ok_x_digits && ok_pairs) {
        return Step::Stop;
    }
    // Each first digit's byte: its nibble times 16 plus the next byte's nibble.
    let next = [nibbles(load(a1)), nibbles(load(b1))];
    let bytes = [0, 1].map(|k| {
        let hi = _mm256_and_si256(_mm256_slli_epi16(n[k], 4), _mm256_set1_epi8(0xf0_u8 as i8));
        _mm256_or_si256(hi, next[k])
    });
    let mut o = 0;
    compress16(_mm256_castsi256_si128(bytes[0]), high, dst, &mut o);
    compress16(_mm256_extracti128_si256::<1>(bytes[0]), high >> 16, dst, &mut o);
    compress16(_mm256_castsi256_si128(bytes[1]), high >> 32, dst, &mut o);
    compress16(_mm256_extracti128_si256::<1>(bytes[1]), high >> 48, dst, &mut o);
    debug_assert_eq!(o, high.count_ones() as usize);
    let len = len as usize;
    if at_comment && len == w as usize {
        Step::Comment(len, o)
    } else {
        Step::Tokens(len, o)
    }
}

/// The index just past the first `\n` at or after `i`, or `src.len()`.
#[inline]
#[target_feature(enable = "avx2")]
fn line_end(src: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = src.get(i..i + 32) {
        let v = load(chunk.try_into().expect("32 bytes"));
        let nl = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\n' as i8)));
        if nl != 0 {
            return i + nl.trailing_zeros() as usize + 1;
        }
        i += 32;
    }
    src[i.min(src.len())..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(src.len(), |p| i + p + 1)
}

/// Parses windows of mixed tokens from the start of `src`, which must be the start of a
/// token, into `dst`, while they pass and a whole window fits; skips the comments
/// between them. Returns how many input bytes it consumed and output bytes it wrote.
#[inline(never)]
#[target_feature(enable = "avx2")]
pub(super) fn tokens(src: &[u8], dst: &mut [MaybeUninit<u8>]) -> (usize, usize) {
    let (mut i, mut n) = (0, 0);
    while let (Some(s), Some(d)) = (src.get(i..i + 65), dst.get_mut(n..n + 48)) {
        let s: &[u8; 65] = s.try_into().expect("65 bytes");
        let d: &mut [MaybeUninit<u8>; 48] = d.try_into().expect("48 bytes");
        match window(s, d) {
            Step::Tokens(len, out) => {
                i += len;
                n += out;
            }
            Step::Comment(len, out) => {
                n += out;
                i = line_end(src, i + len);
            }
            Step::Stop => break,
        }
    }
    (i, n)
}
