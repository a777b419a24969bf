//! The SSE2, AVX2 and AVX-512 block loops of [`super::wide`]: each block is tested for
//! non-ASCII bytes and NUL with one `movemask` (one mask test at AVX-512) and, when clean,
//! zero-extended to 16 or 32 bits.

use core::arch::x86_64::{
    __m128i, __m256i, __m512i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
    _mm_setzero_si128, _mm_storeu_si128, _mm_unpackhi_epi8, _mm_unpackhi_epi16, _mm_unpackhi_epi64,
    _mm_unpacklo_epi8, _mm_unpacklo_epi16, _mm256_cmpeq_epi8, _mm256_cvtepu8_epi16,
    _mm256_cvtepu8_epi32, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
    _mm256_setzero_si256, _mm256_storeu_si256, _mm512_cvtepu8_epi16, _mm512_cvtepu8_epi32,
    _mm512_loadu_si512, _mm512_movepi8_mask, _mm512_storeu_si512, _mm512_testn_epi8_mask,
};

use core::mem::MaybeUninit;

use super::wide::nul_in_block;

#[inline]
#[target_feature(enable = "sse2")]
fn load16(b: &[u8; 16]) -> __m128i {
    // SAFETY: `b` is 16 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "sse2")]
fn store16<T>(d: &mut [MaybeUninit<T>], v: __m128i) {
    assert!(size_of_val(d) >= 16);
    // SAFETY: `d` holds at least 16 writable bytes (checked); `storeu` has no alignment
    // requirement, and it writes through a raw pointer into `MaybeUninit` units.
    unsafe { _mm_storeu_si128(d.as_mut_ptr().cast(), v) }
}

/// Bits set for the bytes of `v` that are NUL or not ASCII.
#[inline]
#[target_feature(enable = "sse2")]
fn unclean16(v: __m128i) -> u32 {
    _mm_movemask_epi8(_mm_or_si128(v, _mm_cmpeq_epi8(v, _mm_setzero_si128()))) as u32
}

/// The outcome of an unclean block at offset `at`: an error if it holds a NUL.
fn stop(block: &[u8], at: usize) -> Result<usize, usize> {
    match nul_in_block(block) {
        Some(p) => Err(at + p),
        None => Ok(at),
    }
}

/// # Safety
/// The CPU must have SSE2 (every x86-64 CPU has).
#[target_feature(enable = "sse2")]
pub(super) fn ascii16_sse2(src: &[u8], dst: &mut [MaybeUninit<u16>]) -> Result<usize, usize> {
    let mut i = 0;
    for (s, d) in src
        .as_chunks::<16>()
        .0
        .iter()
        .zip(dst.as_chunks_mut::<16>().0)
    {
        let v = load16(s);
        if unclean16(v) != 0 {
            return stop(s, i);
        }
        let zero = _mm_setzero_si128();
        store16(&mut d[..8], _mm_unpacklo_epi8(v, zero));
        store16(&mut d[8..], _mm_unpackhi_epi8(v, zero));
        i += 16;
    }
    Ok(i)
}

/// # Safety
/// The CPU must have SSE2 (every x86-64 CPU has).
#[target_feature(enable = "sse2")]
pub(super) fn ascii32_sse2(src: &[u8], dst: &mut [MaybeUninit<u32>]) -> Result<usize, usize> {
    let mut i = 0;
    for (s, d) in src
        .as_chunks::<16>()
        .0
        .iter()
        .zip(dst.as_chunks_mut::<16>().0)
    {
        let v = load16(s);
        if unclean16(v) != 0 {
            return stop(s, i);
        }
        let zero = _mm_setzero_si128();
        let (lo, hi) = (_mm_unpacklo_epi8(v, zero), _mm_unpackhi_epi8(v, zero));
        store16(&mut d[..4], _mm_unpacklo_epi16(lo, zero));
        store16(&mut d[4..8], _mm_unpackhi_epi16(lo, zero));
        store16(&mut d[8..12], _mm_unpacklo_epi16(hi, zero));
        store16(&mut d[12..], _mm_unpackhi_epi16(hi, zero));
        i += 16;
    }
    Ok(i)
}

/// The length of the prefix of `b` in whole 16-byte blocks without NUL.
///
/// # Safety
/// The CPU must have SSE2 (every x86-64 CPU has).
#[target_feature(enable = "sse2")]
pub(super) fn no_nul_sse2(b: &[u8]) -> usize {
    let mut i = 0;
    for s in b.as_chunks::<16>().0 {
        if _mm_movemask_epi8(_mm_cmpeq_epi8(load16(s), _mm_setzero_si128())) != 0 {
            break;
        }
        i += 16;
    }
    i
}

#[inline]
#[target_feature(enable = "avx2")]
fn load32(b: &[u8; 32]) -> __m256i {
    // SAFETY: `b` is 32 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_si256(b.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn store32<T>(d: &mut [MaybeUninit<T>], v: __m256i) {
    assert!(size_of_val(d) >= 32);
    // SAFETY: `d` holds at least 32 writable bytes (checked); `storeu` has no alignment
    // requirement, and it writes through a raw pointer into `MaybeUninit` units.
    unsafe { _mm256_storeu_si256(d.as_mut_ptr().cast(), v) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn unclean32(v: __m256i) -> u32 {
    _mm256_movemask_epi8(_mm256_or_si256(
        v,
        _mm256_cmpeq_epi8(v, _mm256_setzero_si256()),
    )) as u32
}

/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) fn ascii16_avx2(src: &[u8], dst: &mut [MaybeUninit<u16>]) -> Result<usize, usize> {
    let mut i = 0;
    for (s, d) in src
        .as_chunks::<32>()
        .0
        .iter()
        .zip(dst.as_chunks_mut::<32>().0)
    {
        let v = load32(s);
        if unclean32(v) != 0 {
            return stop(s, i);
        }
        let (a, b) = (&s.as_chunks::<16>().0[0], &s.as_chunks::<16>().0[1]);
        store32(&mut d[..16], _mm256_cvtepu8_epi16(load16(a)));
        store32(&mut d[16..], _mm256_cvtepu8_epi16(load16(b)));
        i += 32;
    }
    Ok(i)
}

/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) fn ascii32_avx2(src: &[u8], dst: &mut [MaybeUninit<u32>]) -> Result<usize, usize> {
    let mut i = 0;
    for (s, d) in src
        .as_chunks::<32>()
        .0
        .iter()
        .zip(dst.as_chunks_mut::<32>().0)
    {
        let v = load32(s);
        if unclean32(v) != 0 {
            return stop(s, i);
        }
        for (q, part) in s.as_chunks::<16>().0.iter().zip(d.chunks_exact_mut(16)) {
            let w = load16(q);
            store32(&mut part[..8], _mm256_cvtepu8_epi32(w));
            store32(
                &mut part[8..],
                _mm256_cvtepu8_epi32(_mm_unpackhi_epi64(w, w)),
            );
        }
        i += 32;
    }
    Ok(i)
}

/// The length of the prefix of `b` in whole 32-byte blocks without NUL.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) fn no_nul_avx2(b: &[u8]) -> usize {
    let mut i = 0;
    for s in b.as_chunks::<32>().0 {
        if _mm256_movemask_epi8(_mm256_cmpeq_epi8(load32(s), _mm256_setzero_si256())) != 0 {
            break;
        }
        i += 32;
    }
    i
}

/// Loads 64 bytes (the AVX-512 decoder's tables too).
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) fn load64(b: &[u8; 64]) -> __m512i {
    // SAFETY: `b` is 64 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm512_loadu_si512(b.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn store64<T>(d: &mut [MaybeUninit<T>], v: __m512i) {
    assert!(size_of_val(d) >= 64);
    // SAFETY: `d` holds at least 64 writable bytes (checked); `storeu` has no alignment
    // requirement, and it writes through a raw pointer into `MaybeUninit` units.
    unsafe { _mm512_storeu_si512(d.as_mut_ptr().cast(), v) }
}

/// Bits set for the bytes of `v` that are NUL or not ASCII.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn unclean64(v: __m512i) -> u64 {
    _mm512_movepi8_mask(v) | _mm512_testn_epi8_mask(v, v)
}

/// # Safety
/// The CPU must have AVX-512F and AVX-512BW.
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) fn ascii16_avx512(src: &[u8], dst: &mut [MaybeUninit<u16>]) -> Result<usize, usize> {
    let mut i = 0;
    for (s, d) in src
        .as_chunks::<64>()
        .0
        .iter()
        .zip(dst.as_chunks_mut::<64>().0)
    {
        if unclean64(load64(s)) != 0 {
            return stop(s, i);
        }
        for (h, part) in s.as_chunks::<32>().0.iter().zip(d.chunks_exact_mut(32)) {
            store64(part, _mm512_cvtepu8_epi16(load32(h)));
        }
        i += 64;
    }
    Ok(i)
}

/// # Safety
/// The CPU must have AVX-512F and AVX-512BW.
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) fn ascii32_avx512(src: &[u8], dst: &mut [MaybeUninit<u32>]) -> Result<usize, usize> {
    let mut i = 0;
    for (s, d) in src
        .as_chunks::<64>()
        .0
        .iter()
        .zip(dst.as_chunks_mut::<64>().0)
    {
        if unclean64(load64(s)) != 0 {
            return stop(s, i);
        }
        for (q, part) in s.as_chunks::<16>().0.iter().zip(d.chunks_exact_mut(16)) {
            store64(part, _mm512_cvtepu8_epi32(load16(q)));
        }
        i += 64;
    }
    Ok(i)
}

/// The length of the prefix of `b` in whole 64-byte blocks without NUL.
///
/// # Safety
/// The CPU must have AVX-512F and AVX-512BW.
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) fn no_nul_avx512(b: &[u8]) -> usize {
    let mut i = 0;
    for s in b.as_chunks::<64>().0 {
        let v = load64(s);
        if _mm512_testn_epi8_mask(v, v) != 0 {
            break;
        }
        i += 64;
    }
    i
}
