//! The write helpers that decode: strings (UTF-8, UTF-16, UTF-32 with a terminator) and
//! hex, straight into the arena. Each reserves an upper-bound block where it fits in the
//! committed, writable part, decodes into it and shrinks it to its exact end through
//! [`lower_top`](Mallocator::lower_top); elsewhere it counts exactly first. A failed call
//! gives the whole block back, and the bytes it wrote above the pointer count as written
//! (`dirty`), so zeroed memory stays correct.
#![allow(clippy::mut_from_ref)]

use core::mem::MaybeUninit;

use super::Mallocator;
use crate::text::wide::{self, Isa};
use crate::text::{self, CharWidth};
use crate::{Error, hex};

impl Mallocator {
    /// Copies `s` into a new block as UTF-8, UTF-16 or UTF-32 units in native byte order,
    /// followed by one NUL unit, aligned to the unit size. Returns the whole block, the
    /// terminator included; cast its pointer to `*const u16` or `*const u32` for the wide
    /// forms. No character is lost: UTF-16 writes surrogate pairs where needed.
    ///
    /// ```
    /// use vmallocator::CharWidth;
    /// # let m = vmallocator::Mallocator::new()?;
    /// let w = m.alloc_str("h€", CharWidth::U16)?;
    /// assert_eq!(w.as_ptr() as usize % 2, 0);
    /// let units: Vec<u16> = w.chunks(2).map(|c| u16::from_ne_bytes([c[0], c[1]])).collect();
    /// assert_eq!(units, [0x68, 0x20ac, 0]);
    /// assert!(m.alloc_str("a\0b", CharWidth::U8).is_err());
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotWritable`] when a page the block would touch cannot be written, [`Error::InteriorNul`]
    /// when `s` holds a NUL (a C callee would see a shorter string),
    /// [`Error::OutOfMemory`] when the string does not fit.
    pub fn alloc_str(&self, s: &str, width: CharWidth) -> Result<&mut [u8], Error> {
        match width {
            CharWidth::U8 => {
                if let Some(offset) = text::find_nul(s) {
                    return Err(Error::InteriorNul { offset });
                }
                self.alloc_units::<u8>(s, width, text::encode_utf8)
            }
            CharWidth::U16 => self.alloc_wide(s, width, wide::utf16, text::encode_utf16),
            CharWidth::U32 => self.alloc_wide(s, width, wide::utf32, text::encode_utf32),
        }
    }

    /// Encodes `s` with `fast` into a block of one `T` unit per input byte (the most it
    /// can take) plus a terminator, in one pass over ASCII, then shrinks the block to its
    /// exact end. Where that upper bound does not fit in the committed, writable part of
    /// the region, checks for NUL and counts exactly first, and encodes with `exact` into
    /// a block of exactly the right size.
    #[inline(always)]
    fn alloc_wide<T: Copy + Default>(
        &self,
        s: &str,
        width: CharWidth,
        fast: impl Fn(&str, &mut [MaybeUninit<T>], Isa) -> Result<usize, usize>,
        exact: impl Fn(&str, &mut [MaybeUninit<T>]) -> usize,
    ) -> Result<&mut [u8], Error> {
        let unit = size_of::<T>();
        let before = self.ptr_addr();
        let reserved = s
            .len()
            .checked_add(1)
            .and_then(|units| units.checked_mul(unit))
            .filter(|_| self.all_writable)
            .and_then(|bytes| self.bump(bytes, unit));
        let Some(start) = reserved else {
            if let Some(offset) = text::find_nul(s) {
                return Err(Error::InteriorNul { offset });
            }
            return self.alloc_units::<T>(s, width, exact);
        };
        // SAFETY: just bumped past, inside the committed part of a writable region,
        // aligned to `unit`; room for `s.len() + 1` units. Its bytes may be uninitialised
        // (a rewound raw block), so it is viewed as `MaybeUninit`.
        let dst = unsafe { self.block_uninit::<T>(start, s.len() + 1) };
        match fast(s, &mut dst[..s.len()], Isa::current()) {
            Ok(n) => {
                dst[n].write(T::default());
                let end = start + (n + 1) * unit;
                // SAFETY: `before <= end <= ptr`; `[end, ptr)` was never handed out, and
                // `dst` is not used again.
                unsafe { self.lower_top(end, end) };
                // SAFETY: `[start, end)` was bumped past above and stays handed out; its
                // pages are writable; alignment 1 suits `u8`.
                Ok(unsafe { self.block::<u8>(start, end - start) })
            }
            Err(offset) => {
                // SAFETY: the whole block, padding included, is given back; `dst`, the only
                // reference into it, is dead.
                unsafe { self.lower_top(before, before) };
                Err(Error::InteriorNul { offset })
            }
        }
    }

    /// Encodes `s` with `encode` into a block of `T` units plus a zero terminator.
    #[inline(always)]
    fn alloc_units<T: Copy + Default>(
        &self,
        s: &str,
        width: CharWidth,
        encode: impl Fn(&str, &mut [MaybeUninit<T>]) -> usize,
    ) -> Result<&mut [u8], Error> {
        let unit = size_of::<T>();
        debug_assert_eq!(unit, width.unit_size());
        // Count exactly first (a vectorised pass), so the encoder gets a destination of
        // exactly the block's size and nothing outside the block is ever written.
        let units = width.encoded_len(s) + 1;
        let bytes = units
            .checked_mul(unit)
            .ok_or_else(|| self.out_of_memory(usize::MAX, unit))?;
        let start = self.bump_writable(bytes, unit)?;
        // SAFETY: just bumped past, its pages writable, aligned to `unit`; viewed as
        // `MaybeUninit`, since its bytes may be uninitialised.
        let dst = unsafe { self.block_uninit::<T>(start, units) };
        let n = encode(s, &mut dst[..units - 1]);
        // The encoders write exactly the count of `encoded_len`, all of it.
        assert_eq!(n, units - 1, "the encoder wrote the counted units");
        dst[n].write(T::default());
        let end = self.ptr_addr();
        // SAFETY: the block `[end - units * unit, end)` was just bumped past, its pages
        // writable; alignment 1 suits `u8`.
        Ok(unsafe { self.block::<u8>(end - units * unit, units * unit) })
    }

    /// Parses `hex` with the strict grammar of [`crate::hex`] into a new block (alignment 1).
    ///
    /// The bytes are decoded straight into the arena: the call reserves room for the most
    /// bytes `hex` can hold ([`hex::max_decoded_len`]), decodes into it and shrinks the
    /// block to its exact end. Where that upper bound does not fit in the committed,
    /// writable part of the region (near its end, on pages that are not writable, or
    /// where a reserved region would have to commit more), it parses twice: once to count
    /// the bytes (writing nothing), then straight into a block of exactly that size, so
    /// an exact fit still succeeds and a failure commits nothing. On failure the pointer
    /// is where it was; bytes above it may have been written.
    ///
    /// ```
    /// # let m = vmallocator::Mallocator::new()?;
    /// let code = m.alloc_hex("b8 2a 00 00 00  ; mov eax, 42\nc3  ; ret")?;
    /// assert_eq!(code, [0xb8, 0x2a, 0, 0, 0, 0xc3]);
    /// assert!(m.alloc_hex("00 zz").is_err());
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotWritable`] when a page the block would touch cannot be written, [`Error::Hex`] (with the
    /// byte offset and what was wrong there) when `hex` breaks the grammar,
    /// [`Error::OutOfMemory`] when the bytes do not fit.
    pub fn alloc_hex(&self, hex: &str) -> Result<&mut [u8], Error> {
        let bound = hex::max_decoded_len(hex.len());
        let start = self.ptr_addr();
        // Reserve the upper bound only where that needs no commit and no protection check.
        let reserved = if self.all_writable {
            self.bump(bound, 1)
        } else {
            None
        };
        let Some(start_again) = reserved else {
            return self.alloc_hex_exact(hex);
        };
        debug_assert_eq!(start, start_again);
        // SAFETY: `[start, start + bound)` was just bumped past at alignment 1, inside the
        // committed part of a writable region, so no other reference covers it.
        let out = unsafe { self.block::<MaybeUninit<u8>>(start, bound) };
        match hex::decode_into(hex, out) {
            Ok(n) => {
                // SAFETY: `start <= start + n <= start + bound`, the pointer; the bytes
                // `[start + n, start + bound)` were never handed out.
                unsafe { self.lower_top(start + n, start + n) };
                // SAFETY: `[start, start + n)` was bumped past above and stays handed out;
                // `decode_into` initialised all of it.
                Ok(unsafe { self.block::<u8>(start, n) })
            }
            Err(e) => {
                // SAFETY: the block `[start, start + bound)` is given back whole; `out`,
                // the only reference into it, is dead.
                unsafe { self.lower_top(start, start) };
                Err(e)
            }
        }
    }

    /// [`alloc_hex`](Self::alloc_hex) where the upper bound does not fit: counts the
    /// bytes exactly, writing nothing, then hands out a block of exactly that size and
    /// parses again straight into it.
    #[cold]
    fn alloc_hex_exact(&self, hex: &str) -> Result<&mut [u8], Error> {
        let n = hex::decoded_len(hex)?;
        let start = self.bump_writable(n, 1)?;
        // SAFETY: just bumped past, its pages writable; viewed as `MaybeUninit`, since
        // its bytes may be uninitialised.
        let out = unsafe { self.block_uninit::<u8>(start, n) };
        // The same input parses the same way twice, into exactly the counted bytes.
        let written = hex::decode_exact(hex, out);
        assert_eq!(written, Ok(n), "the second parse agrees with the count");
        // SAFETY: `[start, start + n)` was bumped past above and stays handed out;
        // `decode_exact` initialised all of it (it wrote `n` bytes into `n` bytes).
        Ok(unsafe { self.block::<u8>(start, n) })
    }
}
