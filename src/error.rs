//! The crate's one error type.

use core::fmt;

use crate::Protection;

/// Everything that can go wrong in this crate.
///
/// Each variant carries the facts a caller needs to act: how many bytes were asked for and
/// how many were left, where in a hex string the parser stopped and why, which OS call
/// failed and with what code. Every fallible call that returns an `Error` has left the
/// arena exactly as it was before the call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A region of zero bytes was requested.
    ZeroSize,
    /// The requested region size overflows when rounded up to whole pages.
    SizeOverflow {
        /// The size that was asked for, in bytes.
        requested: usize,
    },
    /// Guard pages that overflow the address space: their count times the page size, or
    /// their total with the usable size, passes `isize::MAX`.
    GuardPagesOverflow {
        /// Guard pages asked for below the usable part.
        before: usize,
        /// Guard pages asked for above it.
        after: usize,
    },
    /// Builder options that contradict each other or make no sense.
    InvalidOptions {
        /// What is wrong with them.
        reason: &'static str,
    },
    /// A checkpoint that does not belong to this arena, or lies above its bump pointer.
    InvalidCheckpoint,
    /// An alignment that is not a power of two (zero included).
    InvalidAlignment {
        /// The alignment that was asked for.
        align: usize,
    },
    /// The block does not fit in what is left of the region.
    OutOfMemory {
        /// Bytes asked for, not counting padding for alignment.
        requested: usize,
        /// The alignment asked for.
        align: usize,
        /// Bytes left between the bump pointer and the end of the region.
        remaining: usize,
    },
    /// A call that writes into the region found a page it would touch without write access.
    NotWritable {
        /// The protection of the first such page.
        protection: Protection,
    },
    /// A call that reads the region found a page it would touch without read access.
    NotReadable {
        /// The protection of the first such page.
        protection: Protection,
    },
    /// A string holds a NUL character, which a C or Windows callee would read as its end.
    InteriorNul {
        /// Offset of the NUL in the input: in bytes for strings and byte strings, in
        /// units for UTF-16 units.
        offset: usize,
    },
    /// A hex byte string does not follow the grammar (see [`crate::hex`]).
    Hex {
        /// Byte offset in the input where the problem was found.
        offset: usize,
        /// What was wrong there.
        kind: HexErrorKind,
    },
    /// The operating system refused a call.
    Os {
        /// The system call that failed, e.g. `"mmap"` or `"VirtualAlloc"`.
        call: &'static str,
        /// The raw OS error code (`errno` on Unix, `GetLastError()` on Windows).
        code: i32,
    },
    /// A byte range given to a protection call or query does not lie inside the region.
    OutOfRange {
        /// Start of the range, in bytes from [`base`](crate::Mallocator::base).
        offset: usize,
        /// Length of the range in bytes.
        len: usize,
        /// The size of the region.
        size: usize,
    },
    /// A [`Block`](crate::Block) handle made by another arena, even one since freed and
    /// mapped again at the same address.
    ForeignBlock,
    /// Bytes that do not lie in the part of this arena handed out so far, given where a
    /// block of it was expected.
    NotInArena {
        /// The first address of the bytes.
        addr: usize,
        /// Their length.
        len: usize,
    },
    /// A call that runs code found a page of the block without execute access: the block
    /// was not [published](crate::Mallocator::publish).
    NotExecutable {
        /// The protection of the first such page.
        protection: Protection,
    },
    /// An address to place a region at is not a multiple of the page size (for the start of
    /// the usable part) and of `align` (for the start of the mapping, below any guard
    /// pages), or leaves no room for the region; or an address to patch with one atomic
    /// store ([`patch_u32`](crate::Mallocator::patch_u32)) is not a multiple of its size.
    InvalidAddress {
        /// The address asked for.
        addr: usize,
        /// The alignment needed: the allocation granularity for the start of a mapping,
        /// the store's size for a patch.
        align: usize,
    },
    /// Something is already mapped at (part of) the address range asked for. Nothing was
    /// changed there.
    AddressInUse {
        /// The address asked for.
        addr: usize,
    },
    /// No free address range within the given distance of an address could hold the region.
    NoFreeSpaceNear {
        /// The address the region was to be near.
        addr: usize,
        /// The largest distance allowed between `addr` and any byte of the region.
        distance: usize,
        /// The bytes needed, guard pages included.
        size: usize,
    },
    /// Virtual memory is not available on this target.
    Unsupported,
}

/// What was wrong in a hex byte string; the offset is in [`Error::Hex`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HexErrorKind {
    /// A character that is neither a hex digit, a separator, a `0x` / `\x` prefix nor the
    /// start of a comment.
    InvalidChar(char),
    /// A run of digits with an odd count; the offset is the first digit of the run.
    /// A single digit is allowed after `0x` (`0x1` is one byte), nowhere else.
    OddDigitCount(usize),
    /// A `0x` prefix with no digit after it, or a `\x` escape with fewer than two digits;
    /// the offset is where the digit was expected.
    MissingDigit {
        /// What stood there instead; `None` at the end of the input.
        found: Option<char>,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::ZeroSize => f.write_str("a region of zero bytes was requested"),
            Error::SizeOverflow { requested } => write!(
                f,
                "region size {requested} overflows when rounded up to whole pages"
            ),
            Error::GuardPagesOverflow { before, after } => write!(
                f,
                "{before} guard pages before and {after} after the region overflow the \
                 address space"
            ),
            Error::ForeignBlock => f.write_str("the block handle belongs to another arena"),
            Error::NotInArena { addr, len } => write!(
                f,
                "the {len} bytes at {addr:#x} are not a block handed out by this arena"
            ),
            Error::NotExecutable { protection } => write!(
                f,
                "the block holds a page that is not executable (protection {protection:?}): \
                 publish it first"
            ),
            Error::InvalidOptions { reason } => write!(f, "invalid options: {reason}"),
            Error::InvalidCheckpoint => f.write_str(
                "the checkpoint belongs to another arena or lies above the bump pointer",
            ),
            Error::InvalidAlignment { align } => {
                write!(f, "alignment {align} is not a power of two")
            }
            Error::OutOfMemory {
                requested,
                align,
                remaining,
            } => write!(
                f,
                "out of region memory: {requested} bytes at alignment {align} requested, \
                 {remaining} bytes remaining"
            ),
            Error::NotWritable { protection } => write!(
                f,
                "the block would touch a page that is not writable (protection {protection:?})"
            ),
            Error::NotReadable { protection } => write!(
                f,
                "the range holds a page that is not readable (protection {protection:?})"
            ),
            Error::InteriorNul { offset } => write!(
                f,
                "string holds a NUL character at byte offset {offset}; a C callee would \
                 see a shorter string"
            ),
            Error::Hex { offset, kind } => {
                write!(f, "invalid hex byte string at byte offset {offset}: ")?;
                match kind {
                    HexErrorKind::InvalidChar(c) => write!(f, "unexpected character {c:?}"),
                    HexErrorKind::OddDigitCount(n) => write!(
                        f,
                        "odd number of hex digits ({n}) in a run; write each byte as two digits"
                    ),
                    HexErrorKind::MissingDigit { found: Some(c) } => {
                        write!(f, "expected a hex digit after the prefix, found {c:?}")
                    }
                    HexErrorKind::MissingDigit { found: None } => {
                        f.write_str("expected a hex digit after the prefix, found the end")
                    }
                }
            }
            Error::Os { call, code } => write!(
                f,
                "{call} failed: {}",
                std::io::Error::from_raw_os_error(code)
            ),
            Error::OutOfRange { offset, len, size } => write!(
                f,
                "byte range at offset {offset} of length {len} is outside the region of \
                 {size} bytes"
            ),
            Error::InvalidAddress { addr, align } => write!(
                f,
                "cannot place a region at {addr:#x}: it must be page-aligned, its mapping \
                 (guard pages included) aligned to {align:#x} and inside the address space"
            ),
            Error::AddressInUse { addr } => {
                write!(f, "the address range at {addr:#x} is already in use")
            }
            Error::NoFreeSpaceNear {
                addr,
                distance,
                size,
            } => write!(
                f,
                "no free address range of {size} bytes within {distance:#x} bytes of {addr:#x}"
            ),
            Error::Unsupported => f.write_str("virtual memory is not supported on this target"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Os { code, .. } => std::io::Error::from_raw_os_error(code),
            Error::OutOfMemory { .. } => std::io::Error::new(std::io::ErrorKind::OutOfMemory, e),
            Error::Unsupported => std::io::Error::new(std::io::ErrorKind::Unsupported, e),
            _ => std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_facts() {
        let e = Error::OutOfMemory {
            requested: 100,
            align: 8,
            remaining: 40,
        };
        let s = e.to_string();
        assert!(
            s.contains("100") && s.contains("40") && s.contains('8'),
            "{s}"
        );

        let e = Error::Hex {
            offset: 7,
            kind: HexErrorKind::InvalidChar('g'),
        };
        assert_eq!(
            e.to_string(),
            "invalid hex byte string at byte offset 7: unexpected character 'g'"
        );
        let e = Error::Hex {
            offset: 2,
            kind: HexErrorKind::MissingDigit { found: None },
        };
        assert!(e.to_string().ends_with("found the end"));
    }

    #[test]
    fn os_errors_convert_to_io_errors_with_their_code() {
        let io: std::io::Error = Error::Os {
            call: "mmap",
            code: 12,
        }
        .into();
        assert_eq!(io.raw_os_error(), Some(12));
        let io: std::io::Error = Error::InvalidAlignment { align: 3 }.into();
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
    }
}
