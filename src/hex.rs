//! Strict, fast parsing of hex byte strings, as pasted from a hex dump, a C array or an
//! assembler listing.
//!
//! # Grammar
//!
//! The input is a sequence of *tokens*, *separators* and *comments*:
//!
//! - **Runs of hex digits**, in either case, two digits per byte: `"00abF9"` is `00 ab f9`.
//!   A run may be any even length (`"deadbeef"` is `de ad be ef`).
//! - **Separators**: ASCII whitespace (space, `\t`, `\n`, `\r`, `\x0c`) and commas, in any
//!   number, also leading and trailing: `"00 ab f9"`, `"00,ab, f9"`, `"  00,,ab  "`.
//! - **`0x` / `0X` prefixed runs**: `"0x42"` is `42`, `"0x00ab"` is `00 ab`. As in a C
//!   array initializer, *one* digit after the prefix is one byte: `"0x1"` is `01`. Any
//!   other odd count is an error.
//! - **C escapes** `\x` (or `\X`) with exactly two digits: `"\x48\x31\xc0"` is `48 31 c0`.
//!   Escapes may follow each other with no separator. An escape ends after its two digits,
//!   so a digit right after it starts a new run: `"\x1234"` is `12 34`, and `"\x123"` is an
//!   error (the run `3` has an odd length).
//! - **Comments** from `;`, `#` or `//` to the end of the line, so an assembler listing
//!   pastes in: `"b8 2a 00 00 00   ; mov eax, 42\nc3 # ret"` is `b8 2a 00 00 00 c3`. A
//!   comment may follow digits directly (`"c3;ret"`).
//!
//! A token ends at a separator, a comment, an escape or the end of the input. A `0x`
//! prefix is recognised only where a token starts (at the start of the input, after a
//! separator, a comment or an escape); anywhere else `x` is an invalid character, so
//! `"ab0x12"` fails at the `x`. Empty or all-separator input is no bytes, not an error.
//!
//! The parser reads left to right and reports the first problem it finds, as
//! [`Error::Hex`] with the byte offset into the `&str` and a [`HexErrorKind`]:
//!
//! | input | offset | kind |
//! | --- | --- | --- |
//! | `"0x12g"`, `"ab0x12"`, `"00 é"` | of `g`, `x`, `é` | `InvalidChar` (the whole char) |
//! | `"ab \ cd"`, `"ab / cd"` | of `\`, `/` | `InvalidChar` (`\` not followed by `x`, lone `/`) |
//! | `"abc"`, `"0x123"`, `"\x123"` | of the run's first digit | `OddDigitCount(3)`, `(3)`, `(1)` |
//! | `"0x"`, `"0x g"`, `"\x4"`, `"\x4g"` | where the digit was expected | `MissingDigit { found }` |
//!
//! What ends a run is checked before the run's length: `"abcg"` fails at the `g`
//! (`InvalidChar`), `"abc g"` at the run (`OddDigitCount`).
//!
//! ```
//! use vmallocator::hex::decode;
//!
//! assert_eq!(decode("00abF9").unwrap(), [0x00, 0xab, 0xf9]);
//! assert_eq!(decode("deadbeef").unwrap(), [0xde, 0xad, 0xbe, 0xef]);
//! assert_eq!(decode("00 ab f9").unwrap(), [0x00, 0xab, 0xf9]);
//! assert_eq!(decode("00,ab, f9").unwrap(), [0x00, 0xab, 0xf9]);
//! assert_eq!(decode("  00,,ab  ").unwrap(), [0x00, 0xab]);
//! assert_eq!(decode("0x42").unwrap(), [0x42]);
//! assert_eq!(decode("0x00ab").unwrap(), [0x00, 0xab]);
//! assert_eq!(decode("0x1, 0X2").unwrap(), [0x01, 0x02]);
//! assert_eq!(decode(r"\x48\x31\xc0").unwrap(), [0x48, 0x31, 0xc0]);
//! assert_eq!(decode(r"\x1234").unwrap(), [0x12, 0x34]);
//! assert_eq!(
//!     decode("b8 2a 00 00 00   ; mov eax, 42\nc3 # ret").unwrap(),
//!     [0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3]
//! );
//! assert_eq!(decode("c3;ret\n90 // nop").unwrap(), [0xc3, 0x90]);
//! assert_eq!(decode("00 ab f9 0x42").unwrap(), [0x00, 0xab, 0xf9, 0x42]);
//! assert_eq!(decode(" \t\r\n").unwrap(), []);
//! ```
//!
//! ```
//! use vmallocator::hex::decode;
//! use vmallocator::{Error, HexErrorKind::*};
//!
//! let err = |offset, kind| Err(Error::Hex { offset, kind });
//! assert_eq!(decode("0x12g"), err(4, InvalidChar('g')));
//! assert_eq!(decode("ab0x12"), err(3, InvalidChar('x')));
//! assert_eq!(decode("00 é"), err(3, InvalidChar('é')));
//! assert_eq!(decode(r"a \ b"), err(0, OddDigitCount(1))); // `a` is a run
//! assert_eq!(decode(r"ab \ b"), err(3, InvalidChar('\\')));
//! assert_eq!(decode("ab / cd"), err(3, InvalidChar('/')));
//! assert_eq!(decode("abc"), err(0, OddDigitCount(3)));
//! assert_eq!(decode("abcg"), err(3, InvalidChar('g')));
//! assert_eq!(decode("0x123"), err(2, OddDigitCount(3)));
//! assert_eq!(decode(r"\x123"), err(4, OddDigitCount(1)));
//! assert_eq!(decode("0x"), err(2, MissingDigit { found: None }));
//! assert_eq!(decode("0x g"), err(2, MissingDigit { found: Some(' ') }));
//! assert_eq!(decode(r"\x4"), err(3, MissingDigit { found: None }));
//! assert_eq!(decode(r"\x4g"), err(3, MissingDigit { found: Some('g') }));
//! ```
//!
//! # Speed
//!
//! On x86-64 with AVX2 (detected at run time, with the BMI1, LZCNT and POPCNT that come
//! with it), long runs of digits are decoded 64 digits at a time, the common
//! `"hh hh hh\n"` layout 96 input bytes at a time, text whose tokens repeat with a
//! period of up to 48 bytes (`"0x48, 0x31, "`, `"00 ab f9 0x42 "`, `"\x48\x31"`) 96
//! bytes at a time against a template of one period, and everything else, token by token,
//! in windows of 64 bytes: `0x` prefixes, `\x` escapes, commas and comments included (the
//! windows stop at a comment, skip it to the end of its line, and go on). Whatever a
//! window cannot prove regular (an error, `0x1`, a `0x` right after an escape) goes
//! through the strict scalar parser one token at a time, and the windows resume after
//! it. The scalar parser is the whole parser on other targets.

use core::mem::MaybeUninit;

use crate::{Error, HexErrorKind};

#[cfg(target_arch = "x86_64")]
mod periodic;
#[cfg(target_arch = "x86_64")]
mod simd;
#[cfg(target_arch = "x86_64")]
mod tokens;

/// The template of the last repeating layout found, tried first at the next token start.
#[cfg(target_arch = "x86_64")]
type Layout = Option<periodic::Template>;
#[cfg(not(target_arch = "x86_64"))]
type Layout = ();

/// Parses all of `input` (see the [grammar](self)) and returns the bytes.
///
/// # Errors
///
/// [`Error::Hex`] with the byte offset and kind of the first problem in `input`.
///
/// # Examples
///
/// ```
/// assert_eq!(vmallocator::hex::decode("0x12, 0x34").unwrap(), [0x12, 0x34]);
/// ```
pub fn decode(input: &str) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    decode_append(input, &mut out)?;
    Ok(out)
}

/// Parses all of `input` (see the [grammar](self)), appends the bytes to `out` and returns
/// how many it appended.
///
/// It reserves [`max_decoded_len`]`(input.len())` bytes in `out` first, so reusing one
/// `Vec` allocates only while inputs grow.
///
/// # Errors
///
/// [`Error::Hex`] with the byte offset and kind of the first problem in `input`; `out`
/// then holds exactly what it held before (its capacity may have grown).
///
/// # Examples
///
/// ```
/// let mut out = vec![0xff];
/// assert_eq!(vmallocator::hex::decode_append("90 c3", &mut out), Ok(2));
/// assert_eq!(out, [0xff, 0x90, 0xc3]);
/// assert!(vmallocator::hex::decode_append("90 c", &mut out).is_err());
/// assert_eq!(out, [0xff, 0x90, 0xc3]);
/// ```
pub fn decode_append(input: &str, out: &mut Vec<u8>) -> Result<usize, Error> {
    decode_append_with(input, out, simd_available())
}

/// Parses all of `input` into the start of `out`, which must hold at least
/// [`max_decoded_len`]`(input.len())` bytes, and returns how many bytes it wrote there.
/// On error, bytes of `out` may have been written all the same.
pub(crate) fn decode_into(input: &str, out: &mut [MaybeUninit<u8>]) -> Result<usize, Error> {
    debug_assert!(out.len() >= max_decoded_len(input.len()));
    parse_dispatch(input, out, simd_available())
}

/// The exact number of bytes `input` decodes to, found by parsing it without writing
/// anything (the scalar parser alone).
pub(crate) fn decoded_len(input: &str) -> Result<usize, Error> {
    parse::<false>(input, &mut [], 0)
}

/// Parses all of `input` into `out`, which must hold exactly [`decoded_len`]`(input)`
/// bytes, and returns how many bytes it wrote: all of `out`.
pub(crate) fn decode_exact(input: &str, out: &mut [MaybeUninit<u8>]) -> Result<usize, Error> {
    parse_dispatch(input, out, simd_available())
}

/// An upper bound on the number of bytes an input of `input_len` bytes decodes to:
/// `input_len / 2`, since every byte takes at least two characters.
///
/// ```
/// assert_eq!(vmallocator::hex::max_decoded_len(7), 3);
/// ```
pub const fn max_decoded_len(input_len: usize) -> usize {
    input_len / 2
}

/// Whether this machine runs the AVX2 blocks.
#[inline]
fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        avx2_available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// [`decode_append`], with the AVX2 blocks used only if `simd` (and this is x86-64 with
/// AVX2), so tests can compare both paths.
pub(crate) fn decode_append_with(
    input: &str,
    out: &mut Vec<u8>,
    simd: bool,
) -> Result<usize, Error> {
    out.reserve(max_decoded_len(input.len()));
    let old_len = out.len();
    let spare = out.spare_capacity_mut();
    let n = parse_dispatch(input, spare, simd)?;
    // SAFETY: `parse` wrote `spare[..n]`, in order, and counts only bytes it wrote; its
    // writes are bounds-checked, so `n <= spare.len()` and `old_len + n` is within the
    // capacity, all of it initialised.
    unsafe { out.set_len(old_len + n) };
    Ok(n)
}

/// Picks the AVX2 or the scalar parser.
///
/// With AVX2, an input that starts with 64 digits is first decoded by the 64-digit
/// blocks alone: a dense input, all digits, is then done without the token loop (and
/// without the calls around it), and any other goes on in [`parse_avx2`] from where the
/// blocks stopped, inside that first run of digits.
#[inline]
fn parse_dispatch(s: &str, out: &mut [MaybeUninit<u8>], simd: bool) -> Result<usize, Error> {
    #[cfg(target_arch = "x86_64")]
    if simd && avx2_available() {
        let mut done = 0;
        if s.len() >= 64 {
            // SAFETY: the CPU has AVX2, checked just above.
            done = unsafe { simd::dense(s.as_bytes(), out) };
            if 2 * done == s.len() {
                return Ok(done);
            }
        }
        // SAFETY: the CPU has AVX2, BMI1, LZCNT and POPCNT, checked just above; the first
        // `2 * done` bytes of `s` are digits, decoded into `out[..done]`.
        return unsafe { parse_avx2(s, out, done) };
    }
    let _ = simd;
    parse::<false>(s, out, 0)
}

/// Whether the CPU has what the AVX2 blocks use: AVX2 and the bit instructions that
/// every AVX2 CPU has beside it (BMI1, LZCNT, POPCNT).
#[cfg(target_arch = "x86_64")]
#[inline]
fn avx2_available() -> bool {
    simd_level() >= 2
}

/// Whether the CPU has, beyond that, the AVX-512 F and BW of the 128-digit dense blocks.
#[cfg(target_arch = "x86_64")]
#[inline]
fn avx512_available() -> bool {
    simd_level() == 3
}

/// 1: no AVX2 blocks; 2: AVX2 ones; 3: AVX-512 dense blocks too. The answer is kept
/// after the first call: one load and a compare on every call after it.
#[cfg(target_arch = "x86_64")]
#[inline]
fn simd_level() -> u8 {
    use core::sync::atomic::{AtomicU8, Ordering};
    /// 0: not asked yet.
    static LEVEL: AtomicU8 = AtomicU8::new(0);
    match LEVEL.load(Ordering::Relaxed) {
        0 => {
            let avx2 = std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("bmi1")
                && std::arch::is_x86_feature_detected!("lzcnt")
                && std::arch::is_x86_feature_detected!("popcnt");
            let avx512 = avx2
                && std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw");
            let level = 1 + u8::from(avx2) + u8::from(avx512);
            LEVEL.store(level, Ordering::Relaxed);
            level
        }
        v => v,
    }
}

/// [`parse`] with the AVX2 blocks, going on after `resume` bytes decoded from the start
/// (see [`parse`]).
///
/// # Safety
/// The CPU has AVX2, BMI1, LZCNT and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,lzcnt,popcnt")]
unsafe fn parse_avx2(s: &str, out: &mut [MaybeUninit<u8>], resume: usize) -> Result<usize, Error> {
    parse::<true>(s, out, resume)
}

/// Digit value of each byte, or `0xff` for a byte that is not a hex digit.
const DIGITS: [u8; 256] = {
    let mut t = [0xff_u8; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match c as u8 {
            b @ b'0'..=b'9' => b - b'0',
            b @ b'a'..=b'f' => b - b'a' + 10,
            b @ b'A'..=b'F' => b - b'A' + 10,
            _ => 0xff,
        };
        c += 1;
    }
    t
};

/// The digit value of `b[i]`, if there is a hex digit there.
#[inline(always)]
fn digit(b: &[u8], i: usize) -> Option<u8> {
    b.get(i)
        .map(|&c| DIGITS[usize::from(c)])
        .filter(|&d| d < 16)
}

/// The char starting at byte `i`, `None` at the end (or, never, off a char boundary).
fn char_at(s: &str, i: usize) -> Option<char> {
    s.get(i..).and_then(|t| t.chars().next())
}

fn error(offset: usize, kind: HexErrorKind) -> Error {
    Error::Hex { offset, kind }
}

fn invalid_char(s: &str, i: usize) -> Error {
    let c = char_at(s, i).unwrap_or(char::REPLACEMENT_CHARACTER);
    error(i, HexErrorKind::InvalidChar(c))
}

fn missing_digit(s: &str, i: usize) -> Error {
    error(
        i,
        HexErrorKind::MissingDigit {
            found: char_at(s, i),
        },
    )
}

/// Writes `byte` at `out[*n]`, if `out` reaches that far, and counts it.
#[inline(always)]
fn push(out: &mut [MaybeUninit<u8>], n: &mut usize, byte: u8) {
    // `out` has room for all bytes when it holds half the input (every byte takes two
    // input bytes, three for `0x1`, four for `\x12`) or exactly the decoded length; an
    // empty `out` only counts.
    if let Some(slot) = out.get_mut(*n) {
        slot.write(byte);
    }
    *n += 1;
}

/// The whole parser: writes the bytes of `s` to `out[..n]` in order and returns `n`.
/// With `SIMD` it must run on a CPU with AVX2 (only [`parse_avx2`] passes `true`).
/// `out` holds at least `s.len() / 2` bytes, or exactly the decoded length (then `out`
/// is all written); where it holds fewer, only the bytes that fit are written and `n`
/// still counts all of them.
///
/// `resume` is how many bytes were already decoded into `out` from the first
/// `2 * resume` bytes of `s`, all of them digits (the dense start in [`parse_dispatch`]); the
/// parser then goes on inside that first run of digits.
#[inline(always)]
fn parse<const SIMD: bool>(
    s: &str,
    out: &mut [MaybeUninit<u8>],
    resume: usize,
) -> Result<usize, Error> {
    let b = s.as_bytes();
    let (mut i, mut n) = (0, 0);
    if resume > 0 {
        // The first token is a run of digits from 0 (its second byte is a digit, so it
        // has no `0x` prefix), decoded up to `2 * resume`: finish it as the loop below
        // finishes a run that starts at 0.
        n = resume;
        let (end, odd) = run::<SIMD>(b, 2 * resume, out, &mut n);
        if !ends_token(b, end) {
            return Err(invalid_char(s, end));
        }
        if odd {
            return Err(error(0, HexErrorKind::OddDigitCount(end)));
        }
        i = end;
    }
    // Where to try the `"hh "` blocks and the token windows next; after a miss, wait a
    // block's length.
    let (mut next_spaced, mut next_tokens) = (0, 0);
    // Where to look for a repeating layout next; after a miss, wait twice as long as
    // last time (up to 4 KiB), since looking costs about as much as a window.
    let (mut next_periodic, mut periodic_wait) = (0, 64);
    let mut layout = Layout::default();
    while let Some(&c) = b.get(i) {
        // At the top of the loop `i` is always where a token, a separator, a comment or an
        // escape starts.
        // A run of digits reaching 64 bytes ahead goes straight to the 64-digit blocks.
        let long_run = || (1..4).all(|k| digit(b, i + k).is_some()) && digit(b, i + 63).is_some();
        if SIMD && !(DIGITS[usize::from(c)] < 16 && long_run()) {
            if i >= next_periodic {
                let from = i;
                periodic_blocks(b, &mut i, out, &mut n, &mut layout);
                if i != from {
                    periodic_wait = 64;
                    continue;
                }
                next_periodic = i + periodic_wait;
                periodic_wait = (2 * periodic_wait).min(4096);
            }
            let is_digit = DIGITS[usize::from(c)] < 16;
            if is_digit && i >= next_spaced && !matches!(b.get(i + 1), Some(b'x' | b'X')) {
                let from = i;
                spaced_blocks(b, &mut i, out, &mut n);
                if i != from {
                    continue;
                }
                next_spaced = i + 96;
            }
            if i >= next_tokens {
                let from = i;
                token_blocks(b, &mut i, out, &mut n);
                if i != from {
                    continue;
                }
                next_tokens = i + 64;
            }
        }
        if DIGITS[usize::from(c)] < 16 {
            if c == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X')) {
                let start = i + 2;
                let (end, odd) = run::<SIMD>(b, start, out, &mut n);
                match end - start {
                    0 => return Err(missing_digit(s, start)),
                    _ if !ends_token(b, end) => return Err(invalid_char(s, end)),
                    1 => push(out, &mut n, digit(b, start).unwrap_or(0)),
                    len if odd => return Err(error(start, HexErrorKind::OddDigitCount(len))),
                    _ => {}
                }
                i = end;
            } else {
                let (end, odd) = run::<SIMD>(b, i, out, &mut n);
                if !ends_token(b, end) {
                    return Err(invalid_char(s, end));
                }
                if odd {
                    return Err(error(i, HexErrorKind::OddDigitCount(end - i)));
                }
                i = end;
            }
            continue;
        }
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b',' => i += 1,
            b';' | b'#' => i = line_end(b, i),
            b'/' if b.get(i + 1) == Some(&b'/') => i = line_end(b, i),
            b'\\' if matches!(b.get(i + 1), Some(b'x' | b'X')) => {
                let hi = digit(b, i + 2).ok_or_else(|| missing_digit(s, i + 2))?;
                let lo = digit(b, i + 3).ok_or_else(|| missing_digit(s, i + 3))?;
                push(out, &mut n, hi << 4 | lo);
                i += 4;
            }
            _ => return Err(invalid_char(s, i)),
        }
    }
    Ok(n)
}

/// Whether a token may end before `b[j]`: at the end, a separator, a comment or an escape.
#[inline(always)]
fn ends_token(b: &[u8], j: usize) -> bool {
    match b.get(j) {
        None | Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b',' | b';' | b'#') => true,
        Some(b'/') => b.get(j + 1) == Some(&b'/'),
        Some(b'\\') => matches!(b.get(j + 1), Some(b'x' | b'X')),
        Some(_) => false,
    }
}

/// The index after the comment that starts at `i`: after its `\n`, or the end.
fn line_end(b: &[u8], i: usize) -> usize {
    b.get(i..)
        .and_then(|t| t.iter().position(|&c| c == b'\n'))
        .map_or(b.len(), |p| i + p + 1)
}

/// Decodes the run of digits starting at `j` in pairs, and returns where the run ends and
/// whether its length is odd (the last digit is then not written).
#[inline(always)]
fn run<const SIMD: bool>(
    b: &[u8],
    mut j: usize,
    out: &mut [MaybeUninit<u8>],
    n: &mut usize,
) -> (usize, bool) {
    loop {
        // A digit 64 bytes ahead hints at a long run: try the 64-digit blocks at once.
        // Short runs are the common case otherwise: a few pairs before trying again.
        if SIMD && digit(b, j + 63).is_some() {
            dense_blocks(b, &mut j, out, n);
        }
        for _ in 0..8 {
            let Some(hi) = digit(b, j) else {
                return (j, false);
            };
            let Some(lo) = digit(b, j + 1) else {
                return (j + 1, true);
            };
            push(out, n, hi << 4 | lo);
            j += 2;
        }
    }
}

/// Decodes 64-digit blocks at `*j` while they are all digits.
#[inline(always)]
fn dense_blocks(b: &[u8], j: &mut usize, out: &mut [MaybeUninit<u8>], n: &mut usize) {
    #[cfg(target_arch = "x86_64")]
    if let (Some(src), Some(dst)) = (b.get(*j..), out.get_mut(*n..)) {
        // SAFETY: only `parse::<true>` calls this, and only `parse_avx2` runs that, which
        // `parse_dispatch` calls after checking that the CPU has AVX2.
        let done = unsafe { simd::dense(src, dst) };
        *j += 2 * done;
        *n += done;
    }
    let _ = (b, j, out, n);
}

/// Decodes 64-byte windows of mixed tokens at the token start `*i` while they pass.
#[inline(always)]
fn token_blocks(b: &[u8], i: &mut usize, out: &mut [MaybeUninit<u8>], n: &mut usize) {
    #[cfg(target_arch = "x86_64")]
    if let (Some(src), Some(dst)) = (b.get(*i..), out.get_mut(*n..)) {
        // SAFETY: only `parse::<true>` calls this, and only `parse_avx2` runs that, which
        // `parse_dispatch` calls after checking that the CPU has AVX2, BMI1, LZCNT and
        // POPCNT.
        let (read, wrote) = unsafe { tokens::tokens(src, dst) };
        *i += read;
        *n += wrote;
    }
    let _ = (b, i, out, n);
}

/// Decodes blocks of a repeating token layout at the token start `*i`: with the template
/// of the last layout first, then with the one found here (kept for next time).
#[inline(always)]
fn periodic_blocks(
    b: &[u8],
    i: &mut usize,
    out: &mut [MaybeUninit<u8>],
    n: &mut usize,
    layout: &mut Layout,
) {
    #[cfg(target_arch = "x86_64")]
    if let (Some(src), Some(dst)) = (b.get(*i..), out.get_mut(*n..)) {
        for fresh in [false, true] {
            if fresh {
                *layout = periodic::Template::find(src);
            }
            if let Some(t) = layout {
                // SAFETY: only `parse::<true>` calls this, and only `parse_avx2` runs
                // that, which `parse_dispatch` calls after checking that the CPU has AVX2.
                let (read, wrote) = unsafe { periodic::blocks(t, src, dst) };
                if read != 0 {
                    *i += read;
                    *n += wrote;
                    return;
                }
            }
        }
    }
    let _ = (b, i, out, n, layout);
}

/// Decodes 96-byte blocks of `"hh "` tokens at the token start `*i` while they match.
#[inline(always)]
fn spaced_blocks(b: &[u8], i: &mut usize, out: &mut [MaybeUninit<u8>], n: &mut usize) {
    #[cfg(target_arch = "x86_64")]
    if let (Some(src), Some(dst)) = (b.get(*i..), out.get_mut(*n..)) {
        // SAFETY: only `parse::<true>` calls this, and only `parse_avx2` runs that, which
        // `parse_dispatch` calls after checking that the CPU has AVX2.
        let done = unsafe { simd::spaced(src, dst) };
        *i += 3 * done;
        *n += done;
    }
    let _ = (b, i, out, n);
}

#[cfg(test)]
mod tests;
