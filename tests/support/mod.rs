//! Shared by the integration tests.

use core::mem::MaybeUninit;

/// Reads `used_bytes()` as bytes, for arenas whose every byte below the pointer was written
/// by the crate's write helpers or never written (the OS's zeroes).
pub fn init(bytes: &[MaybeUninit<u8>]) -> &[u8] {
    // SAFETY: the tests call this only on arenas where no unsafe code left uninitialised
    // bytes: every byte was written through the safe helpers or zero-filled by the OS.
    unsafe { bytes.assume_init_ref() }
}
