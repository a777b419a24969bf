//! The write helpers of [`SharedArena`] and [`Local`](super::Local), once for both: each
//! takes the bump to hand the block out with (a handle's chunk or the thread's cached one)
//! and writes into the block with the encoders of [`crate::text`].

use core::mem::MaybeUninit;

use super::SharedArena;
use crate::text::{self, CharWidth};
use crate::{Error, Protection};

/// [`Error::NotWritable`] unless the region's (fixed) protection allows writing.
#[inline]
pub(super) fn check_writable(arena: &SharedArena) -> Result<(), Error> {
    let protection: Protection = arena.protection();
    if protection.is_writable() {
        Ok(())
    } else {
        Err(Error::NotWritable { protection })
    }
}

/// Copies `bytes` into a block handed out by `bump` at alignment 1.
#[inline]
pub(super) fn bytes<'a>(
    arena: &'a SharedArena,
    bytes: &[u8],
    bump: impl FnOnce(usize, usize) -> Result<usize, Error>,
) -> Result<&'a mut [u8], Error> {
    check_writable(arena)?;
    let addr = bump(bytes.len(), 1)?;
    // SAFETY: just handed out by the bump, in a writable region; alignment 1 suits
    // `MaybeUninit<u8>`, which may view bytes that are not initialised.
    let block = unsafe { arena.block::<MaybeUninit<u8>>(addr, bytes.len()) };
    text::encode_utf8_bytes(bytes, block);
    // SAFETY: the same block, every byte just written; the reborrow above has ended.
    Ok(unsafe { arena.block::<u8>(addr, bytes.len()) })
}

/// Parses `hex` into a new block of exactly its decoded length, with no buffer between:
/// counts the bytes first (parsing without writing), then bumps that many and parses
/// again straight into them. A grammar error is found by the count, before anything is
/// claimed.
pub(super) fn hex_exact<'a>(
    arena: &'a SharedArena,
    hex: &str,
    bump: impl FnOnce(usize, usize) -> Result<usize, Error>,
) -> Result<&'a mut [u8], Error> {
    let n = crate::hex::decoded_len(hex)?;
    check_writable(arena)?;
    let addr = bump(n, 1)?;
    // SAFETY: just handed out by the bump, in a writable region; alignment 1 suits
    // `MaybeUninit<u8>`, which may view bytes that are not initialised.
    let block = unsafe { arena.block::<MaybeUninit<u8>>(addr, n) };
    // The same input parses the same way twice, into exactly the counted bytes.
    let written = crate::hex::decode_exact(hex, block);
    assert_eq!(written, Ok(n), "the second parse agrees with the count");
    // SAFETY: the same block, every byte just written; the reborrow above has ended.
    Ok(unsafe { arena.block::<u8>(addr, n) })
}

/// Decodes `hex` straight into the free part `[next, end)` of a chunk that the caller
/// owns, when the upper bound of its bytes ([`crate::hex::max_decoded_len`]) fits there and
/// the region is writable: the block (at `next`) and the chunk's next free address after
/// it. `None` when it does not fit (or the bound is 0): the caller takes its general path.
/// On a grammar error nothing is handed out; bytes of the free part may have been written
/// (claimed bytes, so `reset_zeroed` still zeroes them).
pub(super) fn hex_in_chunk<'a>(
    arena: &'a SharedArena,
    hex: &str,
    next: usize,
    end: usize,
) -> Option<Result<(&'a mut [u8], usize), Error>> {
    let bound = crate::hex::max_decoded_len(hex.len());
    // Without a chunk `next` is 0 (`NO_CHUNK + 1`) and `end` 0: nothing fits.
    if bound == 0 || bound > end.wrapping_sub(next) || !arena.protection().is_writable() {
        return None;
    }
    // SAFETY: `[next, next + bound)` lies in the free part of a chunk the caller owns:
    // claimed and committed, never handed out, so no reference covers it; the region is
    // writable; alignment 1 suits `MaybeUninit<u8>`.
    let out = unsafe { arena.block::<MaybeUninit<u8>>(next, bound) };
    Some(crate::hex::decode_into(hex, out).map(|n| {
        // SAFETY: the first `n` bytes of the same block, all written by `decode_into`;
        // the reborrow above has ended.
        (unsafe { arena.block::<u8>(next, n) }, next + n)
    }))
}

/// Encodes `s` in `width` plus a NUL unit into a block handed out by `bump` at the unit's
/// alignment.
pub(super) fn str<'a>(
    arena: &'a SharedArena,
    s: &str,
    width: CharWidth,
    bump: impl FnOnce(usize, usize) -> Result<usize, Error>,
) -> Result<&'a mut [u8], Error> {
    if let Some(offset) = text::find_nul(s) {
        return Err(Error::InteriorNul { offset });
    }
    check_writable(arena)?;
    match width {
        CharWidth::U8 => units::<u8>(arena, s, bump, text::encode_utf8),
        CharWidth::U16 => units::<u16>(arena, s, bump, text::encode_utf16),
        CharWidth::U32 => units::<u32>(arena, s, bump, text::encode_utf32),
    }
}

/// Counts the units of `s` exactly, hands out a block for them and a terminator, and
/// encodes into exactly that block.
#[inline(always)]
fn units<'a, T: Copy + Default>(
    arena: &'a SharedArena,
    s: &str,
    bump: impl FnOnce(usize, usize) -> Result<usize, Error>,
    encode: impl Fn(&str, &mut [MaybeUninit<T>]) -> usize,
) -> Result<&'a mut [u8], Error> {
    let unit = size_of::<T>();
    let width = match unit {
        1 => CharWidth::U8,
        2 => CharWidth::U16,
        _ => CharWidth::U32,
    };
    let n = width.encoded_len(s) + 1;
    let bytes = n.checked_mul(unit).ok_or(Error::OutOfMemory {
        requested: usize::MAX,
        align: unit,
        remaining: arena.remaining(),
    })?;
    let addr = bump(bytes, unit)?;
    // SAFETY: just handed out by the bump, in a writable region, aligned to `unit`;
    // `MaybeUninit<T>` can view bytes that may be uninitialised.
    let dst = unsafe { arena.block::<MaybeUninit<T>>(addr, n) };
    let written = encode(s, &mut dst[..n - 1]);
    // The encoders write exactly the count of `encoded_len`, all of it.
    assert_eq!(written, n - 1, "the encoder wrote the counted units");
    dst[n - 1].write(T::default());
    // SAFETY: the same block, viewed as bytes: alignment 1 suits `u8`, and the reborrow
    // above has ended.
    Ok(unsafe { arena.block::<u8>(addr, bytes) })
}
