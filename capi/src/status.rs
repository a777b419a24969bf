//! Status codes, the thread's last error, and the boundary every exported function crosses.
//!
//! A call returns a [`vma_status`]; only a failing call touches thread-local state (the
//! message and the facts of its error), so the success path costs a compare and a store.
//! Every exported function runs its body inside [`call`], which catches a panic and turns it
//! into [`vma_status::VMA_ERR_PANIC`]: no unwinding crosses into C.

use core::ffi::c_char;
use std::cell::RefCell;
use std::ffi::CString;
use std::panic::{AssertUnwindSafe, catch_unwind};

use vmallocator::Error;

/// What a call returned: `VMA_OK` (0) or why it failed. The message and the facts of the
/// failure are then available from `vma_last_error_*` on the same thread.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum vma_status {
    /// Success.
    VMA_OK = 0,
    /// A required pointer argument (the handle, an out-parameter, input with a length) was
    /// NULL.
    VMA_ERR_NULL_POINTER = 1,
    /// An argument outside its set of values: a protection, a string width, a huge-page mode.
    VMA_ERR_INVALID_ARGUMENT = 2,
    /// Input that should be UTF-8 is not; `vma_last_error_offset` gives the first bad byte.
    VMA_ERR_INVALID_UTF8 = 3,
    /// `vma_free` of a handle that is not live (freed already, or never created).
    VMA_ERR_INVALID_HANDLE = 4,
    /// A panic inside the library was caught at the boundary (a bug; please report it).
    VMA_ERR_PANIC = 5,
    /// A region of zero bytes was requested.
    VMA_ERR_ZERO_SIZE = 10,
    /// The requested size overflows when rounded up to whole pages.
    VMA_ERR_SIZE_OVERFLOW = 11,
    /// Builder options that contradict each other.
    VMA_ERR_INVALID_OPTIONS = 12,
    /// A checkpoint of another arena, or above the bump pointer.
    VMA_ERR_INVALID_CHECKPOINT = 13,
    /// An alignment that is not a power of two (zero included).
    VMA_ERR_INVALID_ALIGNMENT = 14,
    /// The block does not fit in what is left of the region.
    VMA_ERR_OUT_OF_MEMORY = 15,
    /// A write helper found a page it would touch without write access.
    VMA_ERR_NOT_WRITABLE = 16,
    /// A read found a page without read access.
    VMA_ERR_NOT_READABLE = 17,
    /// A string holds a NUL character; `vma_last_error_offset` gives its byte offset.
    VMA_ERR_INTERIOR_NUL = 18,
    /// A hex byte string breaks the grammar; `vma_last_error_offset` gives the byte offset.
    VMA_ERR_HEX = 19,
    /// The operating system refused a call; `vma_last_error_os_code` gives its code.
    VMA_ERR_OS = 20,
    /// A byte range outside the region.
    VMA_ERR_OUT_OF_RANGE = 21,
    /// A placement address that is misaligned or leaves no room.
    VMA_ERR_INVALID_ADDRESS = 22,
    /// Something is already mapped at the address asked for.
    VMA_ERR_ADDRESS_IN_USE = 23,
    /// No free address range within the distance asked for.
    VMA_ERR_NO_FREE_SPACE_NEAR = 24,
    /// Virtual memory is not available on this target.
    VMA_ERR_UNSUPPORTED = 25,
    /// A call that moves the bump pointer (an allocation, a reset, a rewind) while a top
    /// block is open on the handle: finish or abandon it first (`vma_top_finish`,
    /// `vma_top_abandon`).
    VMA_ERR_TOP_BLOCK_OPEN = 26,
    /// A `vma_top_*` call with no top block open (`vma_top_begin` opens one).
    VMA_ERR_NO_TOP_BLOCK = 27,
    /// Bytes given as a block (an address and a length) that do not lie in the part of this
    /// arena handed out so far, or an empty block where code was expected.
    VMA_ERR_NOT_IN_ARENA = 28,
    /// Code asked for as a function lies on a page without execute access (not published,
    /// or made writable since).
    VMA_ERR_NOT_EXECUTABLE = 29,
    /// Guard pages whose size overflows the address space.
    VMA_ERR_GUARD_PAGES_OVERFLOW = 30,
    /// A block handle of another arena (Rust's `Block`; not reachable from C, where blocks
    /// are addresses checked against the arena).
    VMA_ERR_FOREIGN_BLOCK = 31,
    /// An error this version of the C ABI does not name yet; the message says what.
    VMA_ERR_OTHER = 99,
}

/// Why a call failed, on the Rust side of the boundary.
#[derive(Debug)]
pub(crate) enum Failure {
    Lib(Error),
    Null(&'static str),
    InvalidArgument(String),
    InvalidUtf8 {
        offset: usize,
    },
    InvalidHandle,
    Panic(String),
    /// The call (named) that was refused because a top block is open.
    TopBlockOpen(&'static str),
    /// The `vma_top_*` call (named) that found no top block open.
    NoTopBlock(&'static str),
}

impl From<Error> for Failure {
    #[inline]
    fn from(e: Error) -> Self {
        Failure::Lib(e)
    }
}

/// The last failure on this thread, as C reads it.
struct LastError {
    status: vma_status,
    message: CString,
    offset: usize,
    os_code: i32,
}

thread_local! {
    static LAST: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

impl Failure {
    fn status(&self) -> vma_status {
        use vma_status::*;
        match self {
            Failure::Null(_) => VMA_ERR_NULL_POINTER,
            Failure::InvalidArgument(_) => VMA_ERR_INVALID_ARGUMENT,
            Failure::InvalidUtf8 { .. } => VMA_ERR_INVALID_UTF8,
            Failure::InvalidHandle => VMA_ERR_INVALID_HANDLE,
            Failure::Panic(_) => VMA_ERR_PANIC,
            Failure::TopBlockOpen(_) => VMA_ERR_TOP_BLOCK_OPEN,
            Failure::NoTopBlock(_) => VMA_ERR_NO_TOP_BLOCK,
            Failure::Lib(e) => match e {
                Error::ZeroSize => VMA_ERR_ZERO_SIZE,
                Error::SizeOverflow { .. } => VMA_ERR_SIZE_OVERFLOW,
                Error::InvalidOptions { .. } => VMA_ERR_INVALID_OPTIONS,
                Error::InvalidCheckpoint => VMA_ERR_INVALID_CHECKPOINT,
                Error::InvalidAlignment { .. } => VMA_ERR_INVALID_ALIGNMENT,
                Error::OutOfMemory { .. } => VMA_ERR_OUT_OF_MEMORY,
                Error::NotWritable { .. } => VMA_ERR_NOT_WRITABLE,
                Error::NotReadable { .. } => VMA_ERR_NOT_READABLE,
                Error::InteriorNul { .. } => VMA_ERR_INTERIOR_NUL,
                Error::Hex { .. } => VMA_ERR_HEX,
                Error::Os { .. } => VMA_ERR_OS,
                Error::OutOfRange { .. } => VMA_ERR_OUT_OF_RANGE,
                Error::InvalidAddress { .. } => VMA_ERR_INVALID_ADDRESS,
                Error::AddressInUse { .. } => VMA_ERR_ADDRESS_IN_USE,
                Error::NoFreeSpaceNear { .. } => VMA_ERR_NO_FREE_SPACE_NEAR,
                Error::Unsupported => VMA_ERR_UNSUPPORTED,
                Error::NotInArena { .. } => VMA_ERR_NOT_IN_ARENA,
                Error::NotExecutable { .. } => VMA_ERR_NOT_EXECUTABLE,
                Error::GuardPagesOverflow { .. } => VMA_ERR_GUARD_PAGES_OVERFLOW,
                Error::ForeignBlock => VMA_ERR_FOREIGN_BLOCK,
                _ => VMA_ERR_OTHER,
            },
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::Lib(e) => e.to_string(),
            Failure::Null(what) => format!("{what} is NULL"),
            Failure::InvalidArgument(why) => why.clone(),
            Failure::InvalidUtf8 { offset } => {
                format!("the input is not UTF-8: invalid byte at offset {offset}")
            }
            Failure::Panic(what) => format!("internal error (a panic, caught): {what}"),
            Failure::InvalidHandle => {
                "the handle is not a live arena (freed already, or never created)".to_owned()
            }
            Failure::TopBlockOpen(call) => format!(
                "{call}: a top block is open on this arena; finish it (vma_top_finish) or \
                 abandon it (vma_top_abandon) first"
            ),
            Failure::NoTopBlock(call) => {
                format!("{call}: no top block is open on this arena (vma_top_begin opens one)")
            }
        }
    }

    /// Records the failure as this thread's last error and returns its status.
    #[cold]
    #[inline(never)]
    pub(crate) fn record(self) -> vma_status {
        let status = self.status();
        let offset = match self {
            Failure::Lib(Error::Hex { offset, .. } | Error::InteriorNul { offset })
            | Failure::InvalidUtf8 { offset } => offset,
            _ => usize::MAX,
        };
        let os_code = match self {
            Failure::Lib(Error::Os { code, .. }) => code,
            _ => 0,
        };
        let mut message = self.message().into_bytes();
        message.retain(|&b| b != 0);
        let message = CString::new(message).unwrap_or_default();
        // A thread being torn down has no thread-locals left; the status still tells.
        let _ = LAST.try_with(|last| {
            *last.borrow_mut() = Some(LastError {
                status,
                message,
                offset,
                os_code,
            })
        });
        status
    }
}

/// Runs an exported function's body: `VMA_OK` on success, the recorded failure otherwise,
/// `VMA_ERR_PANIC` if it panicked (never unwinding into C).
#[inline(always)]
pub(crate) fn call(f: impl FnOnce() -> Result<(), Failure>) -> vma_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => vma_status::VMA_OK,
        Ok(Err(failure)) => failure.record(),
        Err(payload) => panicked(payload),
    }
}

#[cold]
#[inline(never)]
fn panicked(payload: Box<dyn core::any::Any + Send>) -> vma_status {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned());
    // Dropping the payload could panic in turn; forget it instead.
    core::mem::forget(payload);
    Failure::Panic(what).record()
}

/// The status of the last failed call on this thread; `VMA_OK` if none failed yet.
/// Successful calls do not change it.
#[unsafe(no_mangle)]
pub extern "C" fn vma_last_error_status() -> vma_status {
    LAST.try_with(|last| last.borrow().as_ref().map(|l| l.status))
        .ok()
        .flatten()
        .unwrap_or(vma_status::VMA_OK)
}

/// The message of the last failed call on this thread (UTF-8, NUL-terminated; `""` if none
/// failed yet). Successful calls do not change it.
///
/// The pointer stays valid until the next failing call on this thread, or the thread's end;
/// copy the text to keep it. Never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn vma_last_error_message() -> *const c_char {
    // The CString's buffer does not move while it stays the last error, so the pointer
    // outlives the borrow.
    LAST.try_with(|last| last.borrow().as_ref().map(|l| l.message.as_ptr()))
        .ok()
        .flatten()
        .unwrap_or(c"".as_ptr())
}

/// The byte offset in the input of the last failed call on this thread, for
/// `VMA_ERR_HEX` (where the hex parser stopped), `VMA_ERR_INTERIOR_NUL` (the NUL) and
/// `VMA_ERR_INVALID_UTF8` (the first invalid byte); `SIZE_MAX` for other errors.
#[unsafe(no_mangle)]
pub extern "C" fn vma_last_error_offset() -> usize {
    LAST.try_with(|last| last.borrow().as_ref().map(|l| l.offset))
        .ok()
        .flatten()
        .unwrap_or(usize::MAX)
}

/// The OS error code (`errno` / `GetLastError()`) of the last failed call on this thread for
/// `VMA_ERR_OS`; 0 for other errors.
#[unsafe(no_mangle)]
pub extern "C" fn vma_last_error_os_code() -> i32 {
    LAST.try_with(|last| last.borrow().as_ref().map(|l| l.os_code))
        .ok()
        .flatten()
        .unwrap_or(0)
}

/// The name of a status as a static NUL-terminated string (`"VMA_ERR_HEX"`), or
/// `"VMA_UNKNOWN_STATUS"` for a value that is none of them. Never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn vma_status_name(status: i32) -> *const c_char {
    use vma_status::*;
    const NAMES: [(vma_status, &core::ffi::CStr); 29] = [
        (VMA_OK, c"VMA_OK"),
        (VMA_ERR_NULL_POINTER, c"VMA_ERR_NULL_POINTER"),
        (VMA_ERR_INVALID_ARGUMENT, c"VMA_ERR_INVALID_ARGUMENT"),
        (VMA_ERR_INVALID_UTF8, c"VMA_ERR_INVALID_UTF8"),
        (VMA_ERR_INVALID_HANDLE, c"VMA_ERR_INVALID_HANDLE"),
        (VMA_ERR_PANIC, c"VMA_ERR_PANIC"),
        (VMA_ERR_ZERO_SIZE, c"VMA_ERR_ZERO_SIZE"),
        (VMA_ERR_SIZE_OVERFLOW, c"VMA_ERR_SIZE_OVERFLOW"),
        (VMA_ERR_INVALID_OPTIONS, c"VMA_ERR_INVALID_OPTIONS"),
        (VMA_ERR_INVALID_CHECKPOINT, c"VMA_ERR_INVALID_CHECKPOINT"),
        (VMA_ERR_INVALID_ALIGNMENT, c"VMA_ERR_INVALID_ALIGNMENT"),
        (VMA_ERR_OUT_OF_MEMORY, c"VMA_ERR_OUT_OF_MEMORY"),
        (VMA_ERR_NOT_WRITABLE, c"VMA_ERR_NOT_WRITABLE"),
        (VMA_ERR_NOT_READABLE, c"VMA_ERR_NOT_READABLE"),
        (VMA_ERR_INTERIOR_NUL, c"VMA_ERR_INTERIOR_NUL"),
        (VMA_ERR_HEX, c"VMA_ERR_HEX"),
        (VMA_ERR_OS, c"VMA_ERR_OS"),
        (VMA_ERR_OUT_OF_RANGE, c"VMA_ERR_OUT_OF_RANGE"),
        (VMA_ERR_INVALID_ADDRESS, c"VMA_ERR_INVALID_ADDRESS"),
        (VMA_ERR_ADDRESS_IN_USE, c"VMA_ERR_ADDRESS_IN_USE"),
        (VMA_ERR_NO_FREE_SPACE_NEAR, c"VMA_ERR_NO_FREE_SPACE_NEAR"),
        (VMA_ERR_UNSUPPORTED, c"VMA_ERR_UNSUPPORTED"),
        (VMA_ERR_TOP_BLOCK_OPEN, c"VMA_ERR_TOP_BLOCK_OPEN"),
        (VMA_ERR_NO_TOP_BLOCK, c"VMA_ERR_NO_TOP_BLOCK"),
        (VMA_ERR_NOT_IN_ARENA, c"VMA_ERR_NOT_IN_ARENA"),
        (VMA_ERR_NOT_EXECUTABLE, c"VMA_ERR_NOT_EXECUTABLE"),
        (
            VMA_ERR_GUARD_PAGES_OVERFLOW,
            c"VMA_ERR_GUARD_PAGES_OVERFLOW",
        ),
        (VMA_ERR_FOREIGN_BLOCK, c"VMA_ERR_FOREIGN_BLOCK"),
        (VMA_ERR_OTHER, c"VMA_ERR_OTHER"),
    ];
    NAMES
        .iter()
        .find(|(s, _)| *s as i32 == status)
        .map_or(c"VMA_UNKNOWN_STATUS", |(_, name)| name)
        .as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::ffi::CStr;

    fn message() -> String {
        // SAFETY: the pointer is never NULL and NUL-terminated, valid until the next failure.
        unsafe { CStr::from_ptr(vma_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_a_status_and_never_unwinds() {
        let status = call(|| panic!("boom {}", 42));
        assert_eq!(status, vma_status::VMA_ERR_PANIC);
        assert_eq!(vma_last_error_status(), vma_status::VMA_ERR_PANIC);
        assert!(message().contains("boom 42"), "{}", message());
    }

    #[test]
    fn success_leaves_the_last_error_alone() {
        let status = call(|| {
            Err(Error::Hex {
                offset: 7,
                kind: vmallocator::HexErrorKind::InvalidChar('g'),
            }
            .into())
        });
        assert_eq!(status, vma_status::VMA_ERR_HEX);
        assert_eq!(call(|| Ok(())), vma_status::VMA_OK);
        assert_eq!(vma_last_error_status(), vma_status::VMA_ERR_HEX);
        assert_eq!(vma_last_error_offset(), 7);
        assert!(message().contains("offset 7"), "{}", message());
    }

    #[test]
    fn the_last_error_is_per_thread() {
        call(|| Err(Failure::InvalidHandle));
        let other = std::thread::spawn(|| (vma_last_error_status(), vma_last_error_offset()))
            .join()
            .unwrap();
        assert_eq!(other, (vma_status::VMA_OK, usize::MAX));
        assert_eq!(vma_last_error_status(), vma_status::VMA_ERR_INVALID_HANDLE);
    }

    #[test]
    fn every_status_has_its_name() {
        for (status, name) in [
            (vma_status::VMA_OK, "VMA_OK"),
            (vma_status::VMA_ERR_OS, "VMA_ERR_OS"),
            (vma_status::VMA_ERR_OTHER, "VMA_ERR_OTHER"),
        ] {
            // SAFETY: static NUL-terminated strings.
            let got = unsafe { CStr::from_ptr(vma_status_name(status as i32)) };
            assert_eq!(got.to_str(), Ok(name));
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(vma_status_name(-1)) };
        assert_eq!(unknown.to_str(), Ok("VMA_UNKNOWN_STATUS"));
    }

    #[test]
    fn messages_hold_no_nul() {
        call(|| Err(Failure::InvalidArgument("a\0b".to_owned())));
        assert_eq!(message(), "ab");
    }
}
