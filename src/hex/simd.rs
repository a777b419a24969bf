//! AVX2 blocks for the hex parser.
//!
//! Each function looks at one fixed-size block of input. If the whole block follows its
//! simple pattern it writes the decoded bytes and returns `true`; otherwise it returns
//! `false`, and the caller parses the block with the strict scalar parser, which finds the
//! exact error (or the irregular but valid token) and its offset. Nothing a `false` block
//! may have written is ever counted as output.
//!
//! Every function here needs AVX2; the caller checks it at run time
//! (`is_x86_feature_detected!("avx2")`) before it calls any of them. Where the CPU has
//! AVX-512 F and BW too, the dense blocks take 128 digits at a time first.

use core::arch::x86_64::{
    __m256i, _mm256_adds_epu8, _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_loadu_si256,
    _mm256_loadu2_m128i, _mm256_maddubs_epi16, _mm256_min_epu8, _mm256_movemask_epi8,
    _mm256_or_si256, _mm256_packus_epi16, _mm256_permute4x64_epi64, _mm256_set1_epi8,
    _mm256_set1_epi16, _mm256_shuffle_epi8, _mm256_slli_epi16, _mm256_storeu_si256,
    _mm256_sub_epi8, _mm256_subs_epu8,
};
use core::arch::x86_64::{
    __m512i, _mm512_adds_epu8, _mm512_and_si512, _mm512_cmpgt_epu8_mask, _mm512_cvtepi16_epi8,
    _mm512_loadu_si512, _mm512_maddubs_epi16, _mm512_max_epu8, _mm512_min_epu8, _mm512_set1_epi8,
    _mm512_set1_epi16, _mm512_sub_epi8, _mm512_subs_epu8,
};
use core::mem::MaybeUninit;

/// Loads 32 bytes.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn load(bytes: &[u8; 32]) -> __m256i {
    // SAFETY: `bytes` is 32 readable bytes and `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_si256(bytes.as_ptr().cast()) }
}

/// Loads 32 bytes that are written as 16 signed bytes repeated for both 128-bit lanes.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn lanes(half: &[i8; 16]) -> __m256i {
    // SAFETY: `half` is 16 readable bytes, read twice; `loadu2` has no alignment requirement.
    unsafe { _mm256_loadu2_m128i(half.as_ptr().cast(), half.as_ptr().cast()) }
}

/// Loads 16 bytes into each 128-bit lane: `lo` into the low one, `hi` into the high one.
#[inline]
#[target_feature(enable = "avx2")]
fn load2(lo: &[u8; 16], hi: &[u8; 16]) -> __m256i {
    // SAFETY: `lo` and `hi` are 16 readable bytes each; `loadu2` has no alignment
    // requirement.
    unsafe { _mm256_loadu2_m128i(hi.as_ptr().cast(), lo.as_ptr().cast()) }
}

/// Stores 32 bytes.
#[inline]
#[target_feature(enable = "avx2")]
fn store(dst: &mut [MaybeUninit<u8>; 32], v: __m256i) {
    // SAFETY: `dst` is 32 writable bytes and `storeu` has no alignment requirement.
    unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), v) }
}

/// Maps each byte to its hex digit value (0..=15), or to a value above 15 when it is not a
/// hex digit (Muła and Langdale, "Parsing hex numbers with validation", algorithm 3).
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn nibbles(v: __m256i) -> __m256i {
    // '0'..='9' -> 0..=9; everything else above 15.
    let digit = _mm256_sub_epi8(
        _mm256_subs_epu8(
            _mm256_sub_epi8(v, _mm256_set1_epi8(0x3a)), // v + 0xc6 (wrapping)
            _mm256_set1_epi8(6),
        ),
        _mm256_set1_epi8(0xf0_u8 as i8),
    );
    // 'A'..='F' and 'a'..='f' -> 10..=15; everything else above 15.
    let alpha = _mm256_adds_epu8(
        _mm256_sub_epi8(
            _mm256_and_si256(v, _mm256_set1_epi8(0xdf_u8 as i8)),
            _mm256_set1_epi8(b'A' as i8),
        ),
        _mm256_set1_epi8(10),
    );
    _mm256_min_epu8(digit, alpha)
}

/// A byte with the top bit set for every nibble above 15 (a non-digit).
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn invalid(n: __m256i) -> __m256i {
    _mm256_adds_epu8(n, _mm256_set1_epi8(112))
}

/// Decodes blocks of 64 digits from the start of `src` into 32 bytes each at the start of
/// `dst`, while they are all digits and fit; returns how many bytes it wrote (it read
/// twice that many).
#[inline(never)]
#[target_feature(enable = "avx2")]
pub(super) fn dense(src: &[u8], dst: &mut [MaybeUninit<u8>]) -> usize {
    let mut done = 0;
    if super::avx512_available() {
        // SAFETY: the CPU has AVX-512 F and BW, checked just above.
        done = unsafe { dense128(src, dst) };
    }
    for (s, d) in src[2 * done..]
        .as_chunks::<64>()
        .0
        .iter()
        .zip(dst[done..].as_chunks_mut::<32>().0)
    {
        if !dense64(s, d) {
            break;
        }
        done += 32;
    }
    // A run that goes on to the end of the input, of even length, ends with one block
    // that overlaps the last one decoded, rewriting the same bytes.
    let rest = src.len() - 2 * done;
    if rest != 0 && rest < 64 && src.len() >= 64 && src.len().is_multiple_of(2) {
        let from = src.len() - 64;
        if let (Some(s), Some(d)) = (
            src.get(from..).and_then(|s| s.as_array::<64>()),
            dst.get_mut(from / 2..from / 2 + 32)
                .and_then(|d| d.as_mut_array::<32>()),
        ) && dense64(s, d)
        {
            done = src.len() / 2;
        }
    }
    done
}

/// Decodes `hh`-and-one-separator tokens in blocks of 96 bytes from the start of `src`,
/// which must be the start of a token, into 32 bytes each at the start of `dst`, while
/// they match and fit; returns how many bytes it wrote (it read three times that many).
#[inline(never)]
#[target_feature(enable = "avx2")]
pub(super) fn spaced(src: &[u8], dst: &mut [MaybeUninit<u8>]) -> usize {
    let mut done = 0;
    for (s, d) in src
        .as_chunks::<96>()
        .0
        .iter()
        .zip(dst.as_chunks_mut::<32>().0)
    {
        if !spaced96(s, d) {
            break;
        }
        done += 32;
    }
    done
}

/// Decodes 64 hex digits, with nothing between them, into 32 bytes.
#[inline]
#[target_feature(enable = "avx2")]
fn dense64(src: &[u8; 64], dst: &mut [MaybeUninit<u8>; 32]) -> bool {
    let [a, b] = src.as_chunks::<32>().0 else {
        return false;
    };
    let (n1, n2) = (nibbles(load(a)), nibbles(load(b)));
    if _mm256_movemask_epi8(_mm256_or_si256(invalid(n1), invalid(n2))) != 0 {
        return false;
    }
    // hi * 16 + lo for each pair of nibbles, as 16-bit lanes; pack back to bytes.
    let weights = _mm256_set1_epi16(0x0110);
    let b1 = _mm256_maddubs_epi16(n1, weights);
    let b2 = _mm256_maddubs_epi16(n2, weights);
    store(
        dst,
        _mm256_permute4x64_epi64(_mm256_packus_epi16(b1, b2), 0b11_01_10_00),
    );
    true
}

/// A `pshufb` mask that gathers, for each of the 16 output bytes `k` of a 48-byte group,
/// the byte at `3 * k + which` if it lies in the 16-byte chunk `chunk` of that group, and
/// zero otherwise.
const fn gather(chunk: usize, which: usize) -> [i8; 16] {
    let mut m = [-128_i8; 16];
    let mut k = 0;
    while k < 16 {
        let p = 3 * k + which;
        if p >= 16 * chunk && p < 16 * chunk + 16 {
            m[k] = (p - 16 * chunk) as i8;
        }
        k += 1;
    }
    m
}

const GATHER: [[[i8; 16]; 3]; 3] = [
    [gather(0, 0), gather(1, 0), gather(2, 0)],
    [gather(0, 1), gather(1, 1), gather(2, 1)],
    [gather(0, 2), gather(1, 2), gather(2, 2)],
];

/// Separators by low nibble: space, `\t`, `\n`, `\x0c`, `\r`; 0xff (never matches, since
/// `pshufb` gives 0 for bytes with the top bit set) elsewhere.
const SEP_A: [i8; 16] = [
    0x20, -1, -1, -1, -1, -1, -1, -1, -1, 0x09, 0x0a, -1, 0x0c, 0x0d, -1, -1,
];
/// The one separator whose low nibble is taken in `SEP_A`: the comma.
const SEP_B: [i8; 16] = [
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0x2c, -1, -1, -1,
];

/// Gathers byte `3 * k + which` of each 48-byte group held by `chunks`.
#[inline]
#[target_feature(enable = "avx2")]
fn gather3(chunks: &[__m256i; 3], which: usize) -> __m256i {
    let m = &GATHER[which % 3];
    _mm256_or_si256(
        _mm256_or_si256(
            _mm256_shuffle_epi8(chunks[0], lanes(&m[0])),
            _mm256_shuffle_epi8(chunks[1], lanes(&m[1])),
        ),
        _mm256_shuffle_epi8(chunks[2], lanes(&m[2])),
    )
}

/// Decodes 96 bytes of `hh` tokens each followed by one separator (`"00 ab\nf9,..."`) into
/// 32 bytes. The caller must be at the start of a token.
#[inline]
#[target_feature(enable = "avx2")]
fn spaced96(src: &[u8; 96], dst: &mut [MaybeUninit<u8>; 32]) -> bool {
    // Lane 0 holds the first 48-byte group, lane 1 the second, 16 bytes per register.
    let [c0, c1, c2, c3, c4, c5] = src.as_chunks::<16>().0 else {
        return false;
    };
    let chunks = [load2(c0, c3), load2(c1, c4), load2(c2, c5)];
    let hi = nibbles(gather3(&chunks, 0));
    let lo = nibbles(gather3(&chunks, 1));
    let sep = gather3(&chunks, 2);
    let is_sep = _mm256_or_si256(
        _mm256_cmpeq_epi8(sep, _mm256_shuffle_epi8(lanes(&SEP_A), sep)),
        _mm256_cmpeq_epi8(sep, _mm256_shuffle_epi8(lanes(&SEP_B), sep)),
    );
    if _mm256_movemask_epi8(_mm256_or_si256(invalid(hi), invalid(lo))) != 0
        || _mm256_movemask_epi8(is_sep) != -1
    {
        return false;
    }
    // Every nibble is at most 15, so the 16-bit shift moves no bits across bytes.
    store(dst, _mm256_or_si256(_mm256_slli_epi16(hi, 4), lo));
    true
}

/// Loads 64 bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn load512(b: &[u8; 64]) -> __m512i {
    // SAFETY: `b` is 64 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm512_loadu_si512(b.as_ptr().cast()) }
}

/// [`nibbles`] for 64 bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn nibbles512(v: __m512i) -> __m512i {
    let digit = _mm512_sub_epi8(
        _mm512_subs_epu8(
            _mm512_sub_epi8(v, _mm512_set1_epi8(0x3a)),
            _mm512_set1_epi8(6),
        ),
        _mm512_set1_epi8(0xf0_u8 as i8),
    );
    let alpha = _mm512_adds_epu8(
        _mm512_sub_epi8(
            _mm512_and_si512(v, _mm512_set1_epi8(0xdf_u8 as i8)),
            _mm512_set1_epi8(b'A' as i8),
        ),
        _mm512_set1_epi8(10),
    );
    _mm512_min_epu8(digit, alpha)
}

/// [`dense`]'s blocks with AVX-512 (F and BW): 128 digits into 64 bytes at a time, from
/// the start of `src` and `dst`, while they are all digits and fit; returns how many
/// bytes it wrote.
///
/// # Safety
/// The CPU must have AVX-512 F and BW.
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn dense128(src: &[u8], dst: &mut [MaybeUninit<u8>]) -> usize {
    let mut done = 0;
    for (s, d) in src
        .as_chunks::<128>()
        .0
        .iter()
        .zip(dst.as_chunks_mut::<64>().0)
    {
        let [a, b] = s.as_chunks::<64>().0 else {
            break;
        };
        let (n1, n2) = (nibbles512(load512(a)), nibbles512(load512(b)));
        if _mm512_cmpgt_epu8_mask(_mm512_max_epu8(n1, n2), _mm512_set1_epi8(15)) != 0 {
            break;
        }
        // hi * 16 + lo for each pair of nibbles, as 16-bit lanes, narrowed to bytes.
        let weights = _mm512_set1_epi16(0x0110);
        let (lo, hi) = d.split_at_mut(32);
        for (half, n) in [(lo, n1), (hi, n2)] {
            let bytes = _mm512_cvtepi16_epi8(_mm512_maddubs_epi16(n, weights));
            let half: &mut [MaybeUninit<u8>; 32] = half.try_into().expect("32 bytes");
            store(half, bytes);
        }
        done += 64;
    }
    done
}
