//! Instruction-cache coherence after writing code: what [`Mallocator::publish`] does after
//! the protection change.
//!
//! - x86 and x86_64 keep instruction fetch coherent with data writes in hardware: nothing to do
//!   (on Unix; on Windows `FlushInstructionCache` is called anyway, as Microsoft documents).
//! - aarch64 needs, for every cache line of the code: `dc cvau` (clean the data cache to the
//!   point of unification), `dsb ish`, `ic ivau` (invalidate the instruction cache), `dsb ish`,
//!   `isb`; line sizes come from `CTR_EL0`. This is the sequence of compiler-rt's
//!   `__clear_cache` and of the Arm architecture manual. macOS uses its own
//!   `sys_icache_invalidate`, Windows `FlushInstructionCache`.
//! - Other architectures: [`Error::Unsupported`].
//!
//! [`Mallocator::publish`]: crate::Mallocator::publish

use core::ptr::NonNull;

use crate::Error;

/// Whether [`flush`] knows this architecture.
pub(crate) const SUPPORTED: bool = cfg!(any(
    windows,
    target_arch = "x86",
    target_arch = "x86_64",
    target_arch = "aarch64"
));

/// Makes instruction fetch see what was written to `[addr, addr + len)`.
#[inline]
#[allow(clippy::unnecessary_wraps)] // the Result is needed on other architectures
pub(crate) fn flush(addr: NonNull<u8>, len: usize) -> Result<(), Error> {
    if len == 0 {
        return Ok(());
    }
    #[cfg(windows)]
    {
        crate::sys::flush_icache(addr, len).map_err(crate::region::os_error)
    }
    #[cfg(all(not(windows), any(target_arch = "x86", target_arch = "x86_64")))]
    {
        let _ = addr;
        Ok(())
    }
    #[cfg(all(target_os = "macos", target_arch = "aarch64"))]
    {
        crate::sys::flush_icache(addr, len);
        Ok(())
    }
    #[cfg(all(not(windows), not(target_os = "macos"), target_arch = "aarch64"))]
    {
        aarch64::flush(addr.as_ptr() as usize, len);
        Ok(())
    }
    #[cfg(not(any(
        windows,
        target_arch = "x86",
        target_arch = "x86_64",
        target_arch = "aarch64"
    )))]
    {
        let _ = addr;
        Err(Error::Unsupported)
    }
}

#[cfg(all(not(windows), not(target_os = "macos"), target_arch = "aarch64"))]
mod aarch64 {
    use core::arch::asm;

    /// Cleans the data cache and invalidates the instruction cache over `[start, start + len)`.
    pub(super) fn flush(start: usize, len: usize) {
        let ctr: u64;
        // SAFETY: reading CTR_EL0 has no side effects; Linux and macOS let EL0 read it
        // (SCTLR_EL1.UCT is set, or the kernel emulates the read).
        unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags)) };
        // CTR_EL0.DminLine (bits 19:16) and IminLine (bits 3:0): log2 of the words per line.
        let dline = 4usize << ((ctr >> 16) & 0xf);
        let iline = 4usize << (ctr & 0xf);
        let end = start + len;

        let mut line = start & !(dline - 1);
        while line < end {
            // SAFETY: `dc cvau` cleans the cache line holding a mapped, readable address of
            // the caller's region; it changes no memory contents.
            unsafe { asm!("dc cvau, {}", in(reg) line, options(nostack, preserves_flags)) };
            line += dline;
        }
        // SAFETY: a barrier; no memory is accessed.
        unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
        let mut line = start & !(iline - 1);
        while line < end {
            // SAFETY: `ic ivau` invalidates instruction-cache lines for a mapped address of
            // the caller's region; it changes no memory contents.
            unsafe { asm!("ic ivau, {}", in(reg) line, options(nostack, preserves_flags)) };
            line += iline;
        }
        // SAFETY: barriers; no memory is accessed.
        unsafe { asm!("dsb ish", "isb", options(nostack, preserves_flags)) };
    }
}
