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
    _mm256_add_epi8, _mm256_and_si256, _mm256_castsi256_si128, _mm256_cmpeq_epi8,
    _mm256_extracti128_si256, _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8,
    _mm256_setzero_si256, _mm256_shuffle_epi8, _mm256_slli_epi16, _mm256_srli_epi16,
};
use core::mem::MaybeUninit;

use super::simd::{lanes, load};

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

// Byte classes, as the AND of a table indexed by the low nibble and one indexed by the
// high nibble; each class is a product of a set of high and a set of low nibbles.
/// `'0'..='9'`: high 3, low 0..=9.
const DIGIT_09: u8 = 0x80;
/// `'A'..='F'`, `'a'..='f'`: high 4 or 6, low 1..=6.
const DIGIT_AF: u8 = 0x40;
/// Space and comma: high 2, low 0 or C.
const SEP_2: u8 = 0x20;
/// `\t`, `\n`, `\x0c`, `\r`: high 0, low 9, A, C, D.
const SEP_0: u8 = 0x10;
/// `x`, `X`: high 5 or 7, low 8.
const X: u8 = 0x08;
/// `\`: high 5, low C.
const BACKSLASH: u8 = 0x04;
/// `0`: high 3, low 0.
const ZERO: u8 = 0x02;

const fn class_table(high: bool) -> [i8; 16] {
    let mut t = [0_u8; 16];
    let mut k = 0;
    while k < 16 {
        t[k] = if high {
            match k {
                0 => SEP_0,
                2 => SEP_2,
                3 => DIGIT_09 | ZERO,
                4 | 6 => DIGIT_AF,
                5 => X | BACKSLASH,
                7 => X,
                _ => 0,
            }
        } else {
            let mut c = 0;
            if k <= 9 {
                c |= DIGIT_09;
            }
            if k >= 1 && k <= 6 {
                c |= DIGIT_AF;
            }
            if k == 0 || k == 0xc {
                c |= SEP_2;
            }
            if k == 9 || k == 0xa || k == 0xc || k == 0xd {
                c |= SEP_0;
            }
            if k == 8 {
                c |= X;
            }
            if k == 0xc {
                c |= BACKSLASH;
            }
            if k == 0 {
                c |= ZERO;
            }
            c
        };
        k += 1;
    }
    let mut out = [0_i8; 16];
    let mut k = 0;
    while k < 16 {
        out[k] = t[k] as i8;
        k += 1;
    }
    out
}

const CLASS_LOW: [i8; 16] = class_table(false);
const CLASS_HIGH: [i8; 16] = class_table(true);
/// What to add to the low nibble of a digit, by high nibble: 9 for letters.
const LETTER: [i8; 16] = [0, 0, 0, 0, 9, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// The nibbles of `v`: low and high.
#[inline]
#[target_feature(enable = "avx2")]
fn split(v: __m256i) -> (__m256i, __m256i) {
    let f = _mm256_set1_epi8(0x0f);
    (
        _mm256_and_si256(v, f),
        _mm256_and_si256(_mm256_srli_epi16(v, 4), f),
    )
}

/// The digit value of each byte of `v` (meaningless where it is not a hex digit).
#[inline]
#[target_feature(enable = "avx2")]
fn value(lo: __m256i, hi: __m256i) -> __m256i {
    _mm256_add_epi8(lo, _mm256_shuffle_epi8(lanes(&LETTER), hi))
}

/// The bit masks of one 64-byte window.
#[derive(Default)]
struct Classes {
    digit: u64,
    sep: u64,
    x: u64,
    backslash: u64,
    zero: u64,
}

/// Classifies 32 bytes into the masks at bit `at`, and returns their digit values.
#[inline]
#[target_feature(enable = "avx2")]
fn classify(v: __m256i, c: &mut Classes, at: u32) -> __m256i {
    let (lo, hi) = split(v);
    let class = _mm256_and_si256(
        _mm256_shuffle_epi8(lanes(&CLASS_LOW), lo),
        _mm256_shuffle_epi8(lanes(&CLASS_HIGH), hi),
    );
    // A 16-bit shift left by `k` moves bit `7 - k` of each byte to its top bit, which
    // `movemask` reads; bits moved in from the byte below land under the top bit.
    let bits = |v: __m256i| u64::from(_mm256_movemask_epi8(v) as u32) << at;
    // Top bit: either digit class; bit 5: either separator class.
    let either = _mm256_or_si256(class, _mm256_slli_epi16(class, 1));
    c.digit |= bits(either);
    c.sep |= bits(_mm256_slli_epi16(either, 2));
    c.x |= bits(_mm256_slli_epi16(class, 4));
    c.backslash |= bits(_mm256_slli_epi16(class, 5));
    c.zero |= bits(_mm256_slli_epi16(class, 6));
    value(lo, hi)
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

/// Writes the bytes of `v` whose bit is set in the low 16 bits of `mask` to `dst` from
/// `*o`, in order, and advances `*o` past them. Writes up to 16 bytes from `*o`, which
/// is at most 32 in a window that passed its checks (at most 32 pairs in 64 bytes).
#[inline]
#[target_feature(enable = "avx2,popcnt")]
fn compress16(v: __m128i, mask: u64, dst: &mut [MaybeUninit<u8>; 48], o: &mut usize) {
    let (lo, hi) = ((mask & 0xff) as usize, (mask >> 8 & 0xff) as usize);
    // Indices of the high half point 8 bytes further; 0x80 + 8 still has its top bit set.
    let idx = _mm_set_epi64x((THIN[hi] + 0x0808_0808_0808_0808) as i64, THIN[lo] as i64);
    let packed = _mm_shuffle_epi8(v, idx);
    let first = lo.count_ones() as usize;
    // The second store goes after the first's kept bytes; each writes 8 bytes of `dst`
    // (bounds-checked, and in bounds: at most 32 bytes come before either).
    let a = &mut dst[*o..*o + 8];
    // SAFETY: `a` is 8 writable bytes; `storel` has no alignment requirement.
    unsafe { _mm_storel_epi64(a.as_mut_ptr().cast(), packed) };
    let upper = _mm_unpackhi_epi64(packed, packed);
    let b = &mut dst[*o + first..*o + first + 8];
    // SAFETY: as above, for `b`.
    unsafe { _mm_storel_epi64(b.as_mut_ptr().cast(), upper) };
    *o += first + hi.count_ones() as usize;
}

/// Parses one window at the start of a token: `src` is the next 65 input bytes (the
/// 65th only completes the last pair), `dst` room for the output.
#[inline]
#[target_feature(enable = "avx2,bmi1,lzcnt,popcnt")]
fn window(src: &[u8; 65], dst: &mut [MaybeUninit<u8>; 48]) -> Step {
    let (a, rest) = src.split_at(32);
    let a: &[u8; 32] = a.try_into().expect("32 bytes");
    let b: &[u8; 32] = rest[..32].try_into().expect("32 bytes");
    let a1: &[u8; 32] = src[1..33].try_into().expect("32 bytes");
    let b1: &[u8; 32] = src[33..65].try_into().expect("32 bytes");
    let mut c = Classes::default();
    let first = classify(load(a), &mut c, 0);
    // Where the first half holds a byte no regular token has (a comment, say), nothing
    // after it is used: the second half is then not classified, its bits stay clear.
    let second = if (!(c.digit | c.sep | c.x | c.backslash)).trailing_zeros() < 32 {
        _mm256_setzero_si256()
    } else {
        classify(load(b), &mut c, 32)
    };
    let values = [first, second];
    // The first byte no regular token has; a comment may start there.
    let allowed = c.digit | c.sep | c.x | c.backslash;
    let w = (!allowed).trailing_zeros();
    let below_w = u64::MAX.checked_shr(64 - w).unwrap_or(0);
    let at_comment = match src.get(w as usize..) {
        Some([b';' | b'#', ..] | [b'/', b'/', ..]) => w < 64,
        _ => false,
    };
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
    let ok_prefixes =
        prefix_x & 1 == 0 && prefix_zero & !c.zero == 0 && prefix_zero & !(c.sep << 1 | 1) == 0;
    let ok_x_digits = (c.x & m) << 1 & !c.digit == 0;
    // The first digit of each pair: even offsets from the start of each run.
    let starts = digits & !(digits << 1);
    let even_runs = digits & !digits.wrapping_add(starts & EVEN);
    let high = (even_runs & EVEN) | (digits & !even_runs & !EVEN);
    let ok_pairs = high << 1 & !digits == 0 && high >> 63 == 0;
    if !(ok_escapes && ok_prefixes && ok_x_digits && ok_pairs) {
        return Step::Stop;
    }
    // Each first digit's byte: its value times 16 plus the next byte's value.
    // Only the 16-byte chunks before `len` hold first digits.
    let bytes = |k: usize| {
        let (lo, hi) = split(load([a1, b1][k]));
        let hi_nibble = _mm256_and_si256(
            _mm256_slli_epi16(values[k], 4),
            _mm256_set1_epi8(0xf0_u8 as i8),
        );
        _mm256_or_si256(hi_nibble, value(lo, hi))
    };
    let mut o = 0;
    let low = bytes(0);
    compress16(_mm256_castsi256_si128(low), high, dst, &mut o);
    if len > 16 {
        compress16(_mm256_extracti128_si256::<1>(low), high >> 16, dst, &mut o);
    }
    if len > 32 {
        let upper = bytes(1);
        compress16(_mm256_castsi256_si128(upper), high >> 32, dst, &mut o);
        if len > 48 {
            compress16(
                _mm256_extracti128_si256::<1>(upper),
                high >> 48,
                dst,
                &mut o,
            );
        }
    }
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
#[target_feature(enable = "avx2,bmi1,lzcnt,popcnt")]
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
