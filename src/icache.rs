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
//! Then [`sync_other_threads`] makes the other threads' instruction streams coherent where
//! the platform needs it: the cache maintenance above reaches every core's caches, but
//! another core may already hold instructions it fetched before (in its pipeline), which
//! only a context-synchronising event on that core discards.
//!
//! - Linux on aarch64: `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE)`, which runs a
//!   core-serialising instruction on every core running a thread of this process, after
//!   registering the process once (`..._REGISTER_PRIVATE_EXPEDITED_SYNC_CORE`, Linux 4.16).
//!   Where the kernel refuses the registration (older kernels, a seccomp filter), the step
//!   is skipped, as every publish before this crate had it. Under qemu-user a zero return
//!   shows that the call was made, not that any core was serialised.
//! - Windows: `FlushProcessWriteBuffers`, an interrupt to every processor running a thread
//!   of the process.
//! - x86 and x86_64 on Unix: nothing. Instruction fetch snoops data writes, and the code a
//!   thread reaches after a publish sits at an address it learns only through the store
//!   that hands over the pointer (a release/acquire pair), so it cannot have fetched it
//!   before; this is what jit-allocator, V8 and HotSpot rely on too. A thread that runs
//!   code while it is rewritten in place sees the old or the new instruction bytes only for
//!   one aligned store within an instruction ([`Mallocator::patch_u32`]).
//! - macOS: nothing more than `sys_icache_invalidate` (type-checked only).
//!
//! [`Mallocator::publish`]: crate::Mallocator::publish
//! [`Mallocator::patch_u32`]: crate::Mallocator::patch_u32

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

/// After [`flush`]: makes the instruction streams of the process's other threads coherent
/// with the code just published (see the module's notes per platform). Cannot fail, so a
/// publish that changed protections never has to undo them: where the barrier is refused,
/// it is skipped (see the module's notes).
#[inline]
pub(crate) fn sync_other_threads() {
    #[cfg(windows)]
    crate::sys::sync_other_threads();
    #[cfg(all(
        any(target_os = "linux", target_os = "android"),
        target_arch = "aarch64"
    ))]
    membarrier::sync_core();
}

#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    target_arch = "aarch64"
))]
mod membarrier {
    use std::sync::atomic::{AtomicU8, Ordering};

    use rustix::thread::{MembarrierCommand, membarrier};

    const UNKNOWN: u8 = 0;
    const REGISTERED: u8 = 1;
    const REFUSED: u8 = 2;
    static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

    /// `membarrier(PRIVATE_EXPEDITED_SYNC_CORE)`, the process registered once first. The
    /// kernel refuses the barrier only when the process is not registered (`EPERM`), which
    /// the registration rules out; should it refuse anyway, later calls skip it.
    pub(super) fn sync_core() {
        let state = match STATE.load(Ordering::Acquire) {
            UNKNOWN => register(),
            s => s,
        };
        if state == REGISTERED && membarrier(MembarrierCommand::PrivateExpeditedSyncCore).is_err() {
            STATE.store(REFUSED, Ordering::Release);
        }
    }

    /// Registers the process; registering twice (two threads at once) is harmless.
    #[cold]
    fn register() -> u8 {
        let state = match membarrier(MembarrierCommand::RegisterPrivateExpeditedSyncCore) {
            Ok(()) => REGISTERED,
            Err(_) => REFUSED,
        };
        STATE.store(state, Ordering::Release);
        state
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
