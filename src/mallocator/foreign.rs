//! Strings for foreign callers, in the types their APIs take: a NUL-terminated `&CStr`,
//! NUL-terminated UTF-16 and UTF-32 slices, and the platform's `OsStr` form.
//!
//! The wide slices include their terminator as the last element, so the slice shows
//! exactly the memory a callee reads, and `as_ptr()` is the pointer to pass. Any NUL inside
//! the input is refused with [`Error::InteriorNul`]: the callee would read a shorter
//! string.

use core::ffi::CStr;
use core::slice;

use super::Mallocator;
use super::typed::assume_init;
use crate::{CharWidth, Error};

/// The index of the first zero in `units`, if any.
#[inline]
fn find_zero<T: Copy + Default + PartialEq>(units: &[T]) -> Option<usize> {
    units.iter().position(|&u| u == T::default())
}

impl Mallocator {
    /// Copies `s` (a `&str`, `&[u8]`, or any bytes) into a new block followed by a NUL,
    /// and returns it as a `&CStr`, ready for C: `as_ptr()` is a `*const c_char`. From a
    /// `&CStr`, pass `c.to_bytes()`.
    ///
    /// ```
    /// use vmallocator::{Error, Mallocator};
    /// let m = Mallocator::new()?;
    /// let c = m.alloc_cstr("hello")?;
    /// assert_eq!(c.to_bytes_with_nul(), b"hello\0");
    /// let copy = m.alloc_cstr(c.to_bytes())?;
    /// assert_eq!(copy, c);
    /// assert_eq!(m.alloc_cstr("a\0b"), Err(Error::InteriorNul { offset: 1 }));
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InteriorNul`] with the byte offset of a NUL in `s`, [`Error::NotWritable`]
    /// when a page the block would touch cannot be written, [`Error::OutOfMemory`] when it
    /// does not fit; nothing changes then.
    #[inline]
    pub fn alloc_cstr(&self, s: impl AsRef<[u8]>) -> Result<&CStr, Error> {
        self.alloc_cstr_bytes(s.as_ref())
    }

    fn alloc_cstr_bytes(&self, bytes: &[u8]) -> Result<&CStr, Error> {
        // `contains` is a vectorised memchr; the position is only needed on error.
        if bytes.contains(&0) {
            let offset = find_zero(bytes).unwrap_or_default();
            return Err(Error::InteriorNul { offset });
        }
        let block = self.uninit::<u8>(bytes.len() + 1)?;
        let (body, nul) = block.split_at_mut(bytes.len());
        // SAFETY: `body` is fresh (no overlap with `bytes`), writable and as long as `bytes`.
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), body.as_mut_ptr().cast(), bytes.len())
        };
        nul[0].write(0);
        // SAFETY: every byte was just written.
        let block = unsafe { assume_init(block) };
        // SAFETY: the block ends with its only NUL.
        Ok(unsafe { CStr::from_bytes_with_nul_unchecked(block) })
    }

    /// Encodes `s` as UTF-16 in native byte order, followed by a NUL unit, for Windows
    /// wide-string APIs (`LPCWSTR`). The slice includes the terminator; `as_ptr()` is the
    /// pointer to pass. Surrogate pairs where needed: no character is lost.
    ///
    /// ```
    /// # let m = vmallocator::Mallocator::new()?;
    /// let w = m.alloc_utf16("h€𝄞")?;
    /// assert_eq!(w, [0x68, 0x20ac, 0xd834, 0xdd1e, 0]);
    /// assert_eq!(w.as_ptr() as usize % 2, 0);
    /// assert!(m.alloc_utf16("a\0").is_err());
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`alloc_str`](Self::alloc_str).
    #[inline]
    pub fn alloc_utf16(&self, s: &str) -> Result<&mut [u16], Error> {
        let bytes = self.alloc_str(s, CharWidth::U16)?;
        // SAFETY: `alloc_str` aligns the block to the unit size and writes it whole, in
        // `u16` units, valid for any bytes.
        Ok(unsafe { cast_units::<u16>(bytes) })
    }

    /// Encodes `s` as UTF-32 in native byte order, followed by a NUL unit. The slice
    /// includes the terminator.
    ///
    /// ```
    /// # let m = vmallocator::Mallocator::new()?;
    /// let w = m.alloc_utf32("h€")?;
    /// assert_eq!(w, [0x68, 0x20ac, 0]);
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`alloc_str`](Self::alloc_str).
    #[inline]
    pub fn alloc_utf32(&self, s: &str) -> Result<&mut [u32], Error> {
        let bytes = self.alloc_str(s, CharWidth::U32)?;
        // SAFETY: `alloc_str` aligns the block to the unit size and writes it whole, in
        // `u32` units, valid for any bytes.
        Ok(unsafe { cast_units::<u32>(bytes) })
    }

    /// Copies UTF-16 units as they are (unpaired surrogates included, as Windows allows)
    /// followed by a NUL unit. The slice includes the terminator.
    ///
    /// ```
    /// use vmallocator::{Error, Mallocator};
    /// let m = Mallocator::new()?;
    /// let units: Vec<u16> = "wide".encode_utf16().collect();
    /// assert_eq!(m.alloc_utf16_units(&units)?, [0x77, 0x69, 0x64, 0x65, 0]);
    /// assert_eq!(m.alloc_utf16_units(&[1, 0, 2]), Err(Error::InteriorNul { offset: 1 }));
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InteriorNul`] with the index (in units) of a NUL in `units`, otherwise as
    /// [`alloc_value`](Self::alloc_value).
    pub fn alloc_utf16_units(&self, units: &[u16]) -> Result<&mut [u16], Error> {
        if let Some(offset) = find_zero(units) {
            return Err(Error::InteriorNul { offset });
        }
        let block = self.uninit::<u16>(units.len() + 1)?;
        for (slot, &unit) in block.iter_mut().zip(units.iter().chain([&0])) {
            slot.write(unit);
        }
        // SAFETY: every unit was just written (the zip covers the whole block).
        Ok(unsafe { assume_init(block) })
    }

    /// The platform's string form of `s`, NUL-terminated, for its native APIs: on Unix its
    /// bytes as a `&CStr`, as [`alloc_cstr`](Self::alloc_cstr).
    ///
    /// ```
    /// # let m = vmallocator::Mallocator::new()?;
    /// let path = m.alloc_os_str(std::path::Path::new("/tmp/x").as_os_str())?;
    /// assert_eq!(path.to_bytes(), b"/tmp/x");
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`alloc_cstr`](Self::alloc_cstr).
    #[cfg(unix)]
    pub fn alloc_os_str(&self, s: &std::ffi::OsStr) -> Result<&CStr, Error> {
        use std::os::unix::ffi::OsStrExt;
        self.alloc_cstr_bytes(s.as_bytes())
    }

    /// The platform's string form of `s`, NUL-terminated, for its native APIs: on Windows
    /// its UTF-16 units (`encode_wide`, unpaired surrogates kept) and a NUL unit, as
    /// [`alloc_utf16_units`](Self::alloc_utf16_units).
    ///
    /// # Errors
    /// As [`alloc_utf16_units`](Self::alloc_utf16_units).
    #[cfg(windows)]
    pub fn alloc_os_str(&self, s: &std::ffi::OsStr) -> Result<&mut [u16], Error> {
        use std::os::windows::ffi::OsStrExt;
        let mut len = 0;
        for unit in s.encode_wide() {
            if unit == 0 {
                return Err(Error::InteriorNul { offset: len });
            }
            len += 1;
        }
        let block = self.uninit::<u16>(len + 1)?;
        // Zeroes after the units: the terminator, and whatever `encode_wide` might not
        // yield a second time, so the zip covers the whole block.
        for (slot, unit) in block
            .iter_mut()
            .zip(s.encode_wide().chain(core::iter::repeat(0)))
        {
            slot.write(unit);
        }
        // SAFETY: every unit was just written.
        Ok(unsafe { assume_init(block) })
    }
}

/// A block written by [`Mallocator::alloc_str`] as its `T` units.
///
/// # Safety
/// `bytes` is aligned for `T`, its length a multiple of `T`'s size, and any bytes are a
/// valid `T`.
unsafe fn cast_units<T>(bytes: &mut [u8]) -> &mut [T] {
    debug_assert!((bytes.as_ptr() as usize).is_multiple_of(align_of::<T>()));
    debug_assert!(bytes.len().is_multiple_of(size_of::<T>()));
    // SAFETY: per the contract; the slice keeps `bytes`' borrow.
    unsafe { slice::from_raw_parts_mut(bytes.as_mut_ptr().cast(), bytes.len() / size_of::<T>()) }
}
