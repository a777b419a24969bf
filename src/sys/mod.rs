//! The operating-system layer: one file per platform, each with the same few functions
//! that mirror single system calls. No policy and no validation here: sizes are already
//! whole pages and addresses already page-aligned when they arrive; all checks live in
//! [`crate::region`].
//!
//! Every function returns the raw OS error code on failure, turned into
//! [`crate::Error::Os`] by the caller.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod dual;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use dual::*;
#[cfg(windows)]
mod dual_windows;
#[cfg(windows)]
pub(crate) use dual_windows::*;
#[cfg(not(any(target_os = "linux", target_os = "android", windows)))]
mod dual_stub;
#[cfg(not(any(target_os = "linux", target_os = "android", windows)))]
pub(crate) use dual_stub::*;

#[cfg(not(any(unix, windows)))]
mod stub;
#[cfg(not(any(unix, windows)))]
pub(crate) use stub::*;

/// Where a new mapping should go. The OS layer passes the address on as it is; whether the
/// mapping really landed there is checked once, in [`crate::region`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Wherever the OS likes.
    Anywhere,
    /// At this page-aligned address, never replacing a mapping that is there:
    /// `MAP_FIXED_NOREPLACE` on Linux, a plain hint on other Unix systems (the caller checks
    /// the result), `VirtualAlloc` with the address on Windows (which fails if occupied).
    Exact(usize),
}

/// A failed system call: its name and the raw OS error code.
pub(crate) type SysResult<T> = Result<T, (&'static str, i32)>;
