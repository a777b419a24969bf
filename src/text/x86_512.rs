//! UTF-8 spans with multi-byte characters to UTF-32 at the AVX-512 level (F, BW, VBMI and
//! VBMI2, with the AVX2, BMI1 and BMI2 that come with them), sixteen characters at a time: the scheme of simdutf's AVX-512 transcoder (Clausecker and
//! Lemire, "Transcoding Unicode Characters with AVX-512 Instructions", 2023).
//!
//! Each window is the 64 bytes at the cursor. The bytes that start a character (those
//! that are not continuation bytes, `0x80..=0xBF`) give a mask; the window takes the
//! characters that start in its first 61 bytes, whose four bytes at most are all in it,
//! and ends at the first start after them, so the next window waits only for this one's
//! load, mask and a `tzcnt`. `vpcompressb` packs the offsets of its characters' starts;
//! for each group of sixteen, `vpermb` gathers the four bytes from each start into one
//! 32-bit lane, the first byte's high nibble says how many of them belong to the
//! character (a `vpermd` of a 16-entry table), and, shifted left by the rest and
//! reversed, each lane holds the character's bytes from its last to its first, where a
//! few masks and shifts assemble the code point, as the AVX2 decoder does for three
//! characters. 64 ASCII bytes are widened at once. The last bytes (fewer than
//! [`AHEAD`]) go to the AVX2 decoder.
//!
//! The input is a `&str`, valid UTF-8, so nothing is validated.

use core::arch::x86_64::{
    __m128i, __m512i, _mm512_add_epi8, _mm512_and_si512, _mm512_cmpgt_epi8_mask,
    _mm512_cvtepu8_epi32, _mm512_loadu_si512, _mm512_maskz_compress_epi8, _mm512_movepi8_mask,
    _mm512_or_si512, _mm512_permutexvar_epi8, _mm512_permutexvar_epi32, _mm512_set1_epi8,
    _mm512_set1_epi32, _mm512_shuffle_epi8, _mm512_sllv_epi32, _mm512_srli_epi32,
    _mm512_testn_epi8_mask, _mm512_xor_si512,
};
use core::mem::MaybeUninit;

use super::x86::load64;

/// A table of 64 bytes, byte `$i` being `$e`.
macro_rules! table {
    (|$i:ident| $e:expr) => {{
        let mut t = [0_u8; 64];
        let mut $i = 0;
        while $i < 64 {
            t[$i] = $e as u8;
            $i += 1;
        }
        t
    }};
}

/// Byte `i` is `i`: the offsets that the start mask picks from.
static IOTA: [u8; 64] = table!(|i| i);
/// Byte `i` is `i / 4`: spreads the first 16 bytes to the four bytes of each 32-bit lane.
static GATHER_SPREAD: [u8; 64] = table!(|i| i / 4);
/// Byte `i` is `i % 4`: added to each lane's start, it points at the lane's four bytes.
static GATHER_STEP: [u8; 64] = table!(|i| i % 4);
/// Reverses the four bytes of each 32-bit lane (`pshufb` indexes within 16 bytes).
static REVERSE: [u8; 64] = table!(|i| (i % 16) / 4 * 4 + 3 - i % 4);
/// For the high nibble of a character's first byte (a 32-bit lane each): how far to shift
/// the lane left so that its last byte is the lane's top byte, 8 per byte it lacks.
static SHIFTS: [u32; 16] = [24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 16, 16, 8, 0];

/// The 64 bytes of `t` as a vector.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn v32(t: &[u32; 16]) -> __m512i {
    // SAFETY: `t` is 64 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm512_loadu_si512(t.as_ptr().cast()) }
}

/// A window's characters: those that start in its first 61 bytes (so all four bytes a
/// character may take are in the window), and the bytes they take.
struct Window {
    /// Byte `k`: the offset of character `k`'s first byte.
    offsets: __m512i,
    chars: usize,
    bytes: usize,
}

/// The characters of `v`, 64 bytes at a character's start: 16 to 61 of them.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,bmi1")]
fn window(v: __m512i) -> Window {
    // Starts: every byte but `0x80..=0xBF`, which are below -64 as signed bytes.
    let starts = _mm512_cmpgt_epi8_mask(v, _mm512_set1_epi8(-65));
    // The window ends at the first start in its last three bytes, or after them.
    let bytes = 61 + ((starts >> 61) | 0b1000).trailing_zeros() as usize;
    let starts = starts & (u64::MAX >> (64 - bytes));
    Window {
        offsets: _mm512_maskz_compress_epi8(starts, load64(&IOTA)),
        chars: starts.count_ones() as usize,
        bytes,
    }
}

/// The code points of characters `16 * g` to `16 * g + 15` of window `w` of `v`, in
/// 32-bit lanes (those past the window's characters are not code points).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2")]
fn group(v: __m512i, w: &Window, g: i8) -> __m512i {
    // Lane k, byte j: the offset of character `16 * g + k` plus j (wrapping at 64 past
    // the window's characters), then the bytes there.
    let spread = _mm512_add_epi8(load64(&GATHER_SPREAD), _mm512_set1_epi8(16 * g));
    let at = _mm512_add_epi8(
        _mm512_permutexvar_epi8(spread, w.offsets),
        load64(&GATHER_STEP),
    );
    let lanes = _mm512_permutexvar_epi8(at, v);
    // `vpermd` reads the low four bits of each index: the first byte's high nibble.
    let shift = _mm512_permutexvar_epi32(_mm512_srli_epi32::<4>(lanes), v32(&SHIFTS));
    // Lane bytes: the character's bytes from its last to its first, zero past them.
    let x = _mm512_shuffle_epi8(_mm512_sllv_epi32(lanes, shift), load64(&REVERSE));
    let masked = |m: i32| _mm512_and_si512(x, _mm512_set1_epi32(m));
    // As in the AVX2 decoder's `three`: the last byte keeps 7 bits (ASCII, or a
    // continuation byte whose 7th bit is clear), the second from the end 6, the third 6
    // but 4 for a 3-byte leader (its 7th bit tells, and clears its 6th), the fourth 3.
    let last = masked(0x7f);
    let second = _mm512_srli_epi32::<2>(masked(0x3f00));
    let leader3 = _mm512_srli_epi32::<1>(masked(0x40_0000));
    let third = _mm512_srli_epi32::<4>(_mm512_xor_si512(masked(0x3f_0000), leader3));
    let fourth = _mm512_srli_epi32::<6>(masked(0x0700_0000));
    _mm512_or_si512(
        _mm512_or_si512(last, second),
        _mm512_or_si512(third, fourth),
    )
}

/// Bytes a window needs from its start: 64 to load it, and room for its last group's 16
/// units, which may start 15 units before the window's end, at a unit per byte.
const AHEAD: usize = 80;

/// The `size_of::<V>()` bytes at `b[i..]`, as a `V`.
///
/// # Safety
/// `i + size_of::<V>() <= b.len()`, and any bytes make a valid `V` (a vector).
#[inline(always)]
unsafe fn load<V>(b: &[u8], i: usize) -> V {
    debug_assert!(i + size_of::<V>() <= b.len());
    // SAFETY: `i <= b.len()`, per the contract.
    let p = unsafe { b.as_ptr().add(i) };
    // SAFETY: `size_of::<V>()` readable bytes at `p`, which make a valid `V`, per the
    // contract; the read needs no alignment.
    unsafe { p.cast::<V>().read_unaligned() }
}

/// Writes `v` (64 or 32 bytes) at unit `o` of `dst`, unaligned.
///
/// # Safety
/// The bytes from unit `o` lie in `dst`.
#[inline(always)]
unsafe fn put<T, V>(dst: &mut [MaybeUninit<T>], o: usize, v: V) {
    debug_assert!(o * size_of::<T>() + size_of::<V>() <= size_of_val(dst));
    // SAFETY: `o` is within `dst`, per the contract.
    let p = unsafe { dst.as_mut_ptr().add(o) };
    // SAFETY: `size_of::<V>()` writable bytes at `p` in `dst`, per the contract;
    // `MaybeUninit` units take any bytes, and the write needs no alignment.
    unsafe { p.cast::<V>().write_unaligned(v) };
}

/// The NUL bytes of `v` among its first `bytes` (1 to 64), as a bit mask.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn nul_within(v: __m512i, bytes: usize) -> u64 {
    _mm512_testn_epi8_mask(v, v) & (u64::MAX >> (64 - bytes))
}

/// Decodes `span` to UTF-32 into `dst` (at least one unit per byte); returns the units
/// written, all of `dst[..n]` initialised, or the offset of the first NUL in `span`.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,avx2,bmi1,bmi2")]
pub(super) fn utf32(span: &str, dst: &mut [MaybeUninit<u32>]) -> Result<usize, usize> {
    let b = span.as_bytes();
    assert!(dst.len() >= b.len(), "a unit per byte");
    let (mut i, mut o) = (0, 0);
    // Every unit takes at least one byte, so `o <= i`, and the stores below end within
    // `b.len()` units wherever `AHEAD` bytes from `i` are in `b`.
    while i + AHEAD <= b.len() {
        // SAFETY: `i + 64 <= i + AHEAD <= b.len()`; any bytes make a vector.
        let v = unsafe { load::<__m512i>(b, i) };
        if _mm512_movepi8_mask(v) == 0 {
            let nul = nul_within(v, 64);
            if nul != 0 {
                return Err(i + nul.trailing_zeros() as usize);
            }
            for k in 0..4 {
                // SAFETY: `i + 16 * k + 16 <= i + 64 <= b.len()`; any bytes make a vector.
                let part = unsafe { load::<__m128i>(b, i + 16 * k) };
                let units = _mm512_cvtepu8_epi32(part);
                // SAFETY: 16 units from `o + 16 * k <= i + 48`: 64 bytes within `dst`.
                unsafe { put(dst, o + 16 * k, units) };
            }
            i += 64;
            o += 64;
            continue;
        }
        let w = window(v);
        let nul = nul_within(v, w.bytes);
        if nul != 0 {
            return Err(i + nul.trailing_zeros() as usize);
        }
        // At least 16 characters; groups of 16 while there are more.
        for g in 0..4 {
            if 16 * g >= w.chars {
                break;
            }
            let cp = group(v, &w, g as i8);
            // SAFETY: 16 units at `o + 16 * g < o + w.chars <= i + w.bytes`, so they end
            // before `i + AHEAD`: 64 bytes within `dst`.
            unsafe { put(dst, o + 16 * g, cp) };
        }
        i += w.bytes;
        o += w.chars;
    }
    // The rest, fewer than `AHEAD` bytes, from a character boundary (every window ends on
    // one).
    let rest = super::x86_decode::utf32(&span[i..], &mut dst[o..]).map_err(|at| i + at)?;
    Ok(o + rest)
}
