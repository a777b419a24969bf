//! The NEON block loops of [`super::wide`]: each 16-byte block is tested for non-ASCII
//! bytes and NUL with two horizontal reductions and, when clean, zero-extended.

use core::arch::aarch64::{
    uint8x16_t, vceqzq_u8, vget_low_u8, vget_low_u16, vld1q_u8, vmaxvq_u8, vminvq_u8,
    vmovl_high_u8, vmovl_high_u16, vmovl_u8, vmovl_u16, vst1q_u16, vst1q_u32,
};

use core::mem::MaybeUninit;

use super::wide::nul_in_block;

#[inline]
#[target_feature(enable = "neon")]
fn load(b: &[u8; 16]) -> uint8x16_t {
    // SAFETY: `b` is 16 readable bytes.
    unsafe { vld1q_u8(b.as_ptr()) }
}

/// Whether the block holds a NUL or a byte that is not ASCII.
#[inline]
#[target_feature(enable = "neon")]
fn unclean(v: uint8x16_t) -> bool {
    vmaxvq_u8(v) >= 0x80 || vminvq_u8(v) == 0
}

fn stop(block: &[u8], at: usize) -> Result<usize, usize> {
    match nul_in_block(block) {
        Some(p) => Err(at + p),
        None => Ok(at),
    }
}

/// # Safety
/// The CPU must have NEON (every aarch64 CPU has).
#[target_feature(enable = "neon")]
pub(super) fn ascii16(src: &[u8], dst: &mut [MaybeUninit<u16>]) -> Result<usize, usize> {
    let mut i = 0;
    for (s, d) in src
        .as_chunks::<16>()
        .0
        .iter()
        .zip(dst.as_chunks_mut::<16>().0)
    {
        let v = load(s);
        if unclean(v) {
            return stop(s, i);
        }
        let (lo, hi) = d.split_at_mut(8);
        // SAFETY: `lo` and `hi` are 8 writable units each, written through a raw pointer;
        // `MaybeUninit<u16>` has the layout of `u16`.
        unsafe { vst1q_u16(lo.as_mut_ptr().cast(), vmovl_u8(vget_low_u8(v))) };
        // SAFETY: as above.
        unsafe { vst1q_u16(hi.as_mut_ptr().cast(), vmovl_high_u8(v)) };
        i += 16;
    }
    Ok(i)
}

/// # Safety
/// The CPU must have NEON (every aarch64 CPU has).
#[target_feature(enable = "neon")]
pub(super) fn ascii32(src: &[u8], dst: &mut [MaybeUninit<u32>]) -> Result<usize, usize> {
    let mut i = 0;
    for (s, d) in src
        .as_chunks::<16>()
        .0
        .iter()
        .zip(dst.as_chunks_mut::<16>().0)
    {
        let v = load(s);
        if unclean(v) {
            return stop(s, i);
        }
        let (lo, hi) = (vmovl_u8(vget_low_u8(v)), vmovl_high_u8(v));
        let parts = [
            vmovl_u16(vget_low_u16(lo)),
            vmovl_high_u16(lo),
            vmovl_u16(vget_low_u16(hi)),
            vmovl_high_u16(hi),
        ];
        for (part, out) in parts.into_iter().zip(d.chunks_exact_mut(4)) {
            // SAFETY: `out` is 4 writable units, written through a raw pointer;
            // `MaybeUninit<u32>` has the layout of `u32`.
            unsafe { vst1q_u32(out.as_mut_ptr().cast(), part) };
        }
        i += 16;
    }
    Ok(i)
}

/// The length of the prefix of `b` in whole 16-byte blocks without NUL.
///
/// # Safety
/// The CPU must have NEON (every aarch64 CPU has).
#[target_feature(enable = "neon")]
pub(super) fn no_nul(b: &[u8]) -> usize {
    let mut i = 0;
    for s in b.as_chunks::<16>().0 {
        if vmaxvq_u8(vceqzq_u8(load(s))) != 0 {
            break;
        }
        i += 16;
    }
    i
}
