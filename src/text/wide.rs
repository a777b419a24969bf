//! UTF-8 to UTF-16 and UTF-32 in one pass over ASCII text, with the instruction set
//! picked at run time.
//!
//! The driver widens whole blocks of ASCII with the best vector instructions the CPU has
//! (AVX-512 64 bytes at a time, AVX2 32, SSE2 or NEON 16), testing each block for
//! non-ASCII bytes and for NUL in the same pass. A block with a non-ASCII byte hands a
//! span of up to [`SPAN`] bytes (ended on a character boundary) to the span encoder. At
//! the AVX2 level that is the vector decoder of `x86_decode`, three to six characters per
//! step, as many as 12 bytes hold (3.2 to 3.6 instructions per byte on the mixed text of
//! the benchmarks, against 11.5 for `encoding_rs::mem::convert_str_to_utf16` and 9.9 for
//! `str::chars`), and for UTF-32 at the AVX-512 level that of `x86_512`, sixteen
//! characters at a time. Both find NUL in the same pass. At the other levels it is
//! `encoding_rs` for UTF-16 (which takes initialised units, so the span's units are zeroed
//! first) and `str::chars` for UTF-32, and each span is searched for NUL first, with the
//! same vector width.
//!
//! The level can be forced with the environment variable `VMALLOCATOR_FORCE_ISA`
//! (`scalar`, `sse2`, `avx2`, `avx512`, `neon`), read once; a level the CPU lacks falls
//! back to the best one it has.

use core::mem::MaybeUninit;
use std::sync::OnceLock;

/// Bytes handed to the span encoder at a time.
pub(crate) const SPAN: usize = 4096;

/// An instruction-set level for the block loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isa {
    /// No blocks: every byte goes through the span encoder.
    Scalar,
    /// x86-64 baseline, 16 bytes at a time.
    #[cfg(target_arch = "x86_64")]
    Sse2,
    /// 32 bytes at a time; non-ASCII text three to six characters at a time. With the
    /// BMI1 and BMI2 that every AVX2 CPU has beside it.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// 64 bytes at a time; non-ASCII text to UTF-32 sixteen characters at a time, to
    /// UTF-16 as at the AVX2 level. AVX-512 F, BW, VBMI and VBMI2 (Ice Lake, Zen 4 and
    /// later), with the AVX2 level's features, which such CPUs have too.
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// aarch64 baseline, 16 bytes at a time.
    #[cfg(target_arch = "aarch64")]
    Neon,
}

impl Isa {
    /// Every level this build knows, lowest first.
    pub(crate) const ALL: &[Isa] = &[
        Isa::Scalar,
        #[cfg(target_arch = "x86_64")]
        Isa::Sse2,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512,
        #[cfg(target_arch = "aarch64")]
        Isa::Neon,
    ];

    /// Whether this CPU runs the level.
    pub(crate) fn available(self) -> bool {
        match self {
            Isa::Scalar => true,
            // SSE2 and NEON are part of their targets' baselines.
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("bmi1")
                    && std::arch::is_x86_feature_detected!("bmi2")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                Isa::Avx2.available()
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vbmi")
                    && std::arch::is_x86_feature_detected!("avx512vbmi2")
            }
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => true,
        }
    }

    fn named(name: &str) -> Option<Isa> {
        Isa::ALL.iter().copied().find(|isa| isa.name() == name)
    }

    /// The level's name, as `VMALLOCATOR_FORCE_ISA` spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => "sse2",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => "avx512",
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => "neon",
        }
    }

    /// The level in use: the best this CPU runs, or the one `VMALLOCATOR_FORCE_ISA`
    /// names, if the CPU runs it.
    pub(crate) fn current() -> Isa {
        static CURRENT: OnceLock<Isa> = OnceLock::new();
        *CURRENT.get_or_init(|| {
            let best = Isa::ALL
                .iter()
                .copied()
                .rev()
                .find(|isa| isa.available())
                .unwrap_or(Isa::Scalar);
            std::env::var("VMALLOCATOR_FORCE_ISA")
                .ok()
                .and_then(|name| Isa::named(&name))
                .filter(|isa| isa.available())
                .unwrap_or(best)
        })
    }
}

/// Writes `s` as UTF-16 into `dst`, which must hold at least `s.len()` units, and returns
/// the units written (all of `dst[..n]` initialised); or the byte offset of the first NUL
/// in `s`. Units past those written may have been written too.
pub(crate) fn utf16(s: &str, dst: &mut [MaybeUninit<u16>], isa: Isa) -> Result<usize, usize> {
    // The AVX-512 level decodes UTF-16 with the AVX2 decoder too: its own, in groups of
    // sixteen characters packed with `vpcompressw`, measured no faster on mixed text.
    #[cfg(target_arch = "x86_64")]
    if matches!(isa, Isa::Avx2 | Isa::Avx512) {
        // SAFETY: `Isa::Avx2` and `Isa::Avx512` are only used once `available` found
        // AVX2, BMI1 and BMI2.
        return encode(s, dst, isa, |span, d| unsafe {
            super::x86_decode::utf16(span, d)
        });
    }
    encode(s, dst, isa, |span, d| {
        checked(span, isa)?;
        Ok(utf16_span(span, d))
    })
}

/// Writes `s` as UTF-32 into `dst`, which must hold at least `s.len()` units, and returns
/// the units written (all of `dst[..n]` initialised); or the byte offset of the first NUL
/// in `s`.
pub(crate) fn utf32(s: &str, dst: &mut [MaybeUninit<u32>], isa: Isa) -> Result<usize, usize> {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 {
        // SAFETY: `Isa::Avx512` is only used once `available` found its features.
        return encode(s, dst, isa, |span, d| unsafe {
            super::x86_512::utf32(span, d)
        });
    }
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx2 {
        // SAFETY: `Isa::Avx2` is only used once `available` found AVX2, BMI1 and BMI2.
        return encode(s, dst, isa, |span, d| unsafe {
            super::x86_decode::utf32(span, d)
        });
    }
    encode(s, dst, isa, |span, d| {
        checked(span, isa)?;
        Ok(utf32_span(span, d))
    })
}

/// Decodes `span` with `encoding_rs`, which takes initialised units: the `span.len()`
/// units it may write are zeroed first (a `memset`, a few percent of the decoding time
/// on mixed text), so no reference to uninitialised integers is ever made.
fn utf16_span(span: &str, dst: &mut [MaybeUninit<u16>]) -> usize {
    let dst = &mut dst[..span.len()];
    for d in dst.iter_mut() {
        d.write(0);
    }
    // SAFETY: every unit of `dst` was just initialised, and `MaybeUninit<u16>` has the
    // layout of `u16`.
    let dst = unsafe { &mut *(core::ptr::from_mut(dst) as *mut [u16]) };
    encoding_rs::mem::convert_str_to_utf16(span, dst)
}

/// Decodes `span` to code points with `str::chars` (the levels without the vector
/// decoder). A scalar decoder without a branch per sequence length measured 4 times
/// slower on mixed text here: each character's start then waits for the previous
/// character's length to load, where the branches of `chars` are predicted ahead.
fn utf32_span(span: &str, dst: &mut [MaybeUninit<u32>]) -> usize {
    let mut n = 0;
    for (d, c) in dst.iter_mut().zip(span.chars()) {
        d.write(u32::from(c));
        n += 1;
    }
    n
}

/// The driver: blocks of ASCII, then spans through `span`, in turn.
#[inline(always)]
fn encode<T: Unit>(
    s: &str,
    dst: &mut [MaybeUninit<T>],
    isa: Isa,
    span: impl Fn(&str, &mut [MaybeUninit<T>]) -> Result<usize, usize>,
) -> Result<usize, usize> {
    assert!(
        dst.len() >= s.len(),
        "the destination holds a unit per byte"
    );
    let b = s.as_bytes();
    let (mut i, mut o) = (0, 0);
    while i < b.len() {
        let done = T::ascii_blocks(&b[i..], &mut dst[o..], isa).map_err(|at| i + at)?;
        i += done;
        o += done;
        if i == b.len() {
            break;
        }
        let mut end = (i + SPAN).min(b.len());
        while !s.is_char_boundary(end) {
            end += 1;
        }
        o += span(&s[i..end], &mut dst[o..]).map_err(|at| i + at)?;
        i = end;
    }
    Ok(o)
}

/// `Err` with the offset of the first NUL in `span`, if it holds one.
fn checked(span: &str, isa: Isa) -> Result<(), usize> {
    find_nul_in(span.as_bytes(), isa).map_or(Ok(()), Err)
}

/// The offset of the first NUL in `b`, with the vector width of `isa`.
pub(crate) fn find_nul_in(b: &[u8], isa: Isa) -> Option<usize> {
    let done = match isa {
        Isa::Scalar => 0,
        #[cfg(target_arch = "x86_64")]
        // SAFETY: SSE2 is part of the x86-64 baseline.
        Isa::Sse2 => unsafe { super::x86::no_nul_sse2(b) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx2` is only used once `available` found AVX2.
        Isa::Avx2 => unsafe { super::x86::no_nul_avx2(b) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx512` is only used once `available` found AVX-512F and BW.
        Isa::Avx512 => unsafe { super::x86::no_nul_avx512(b) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: NEON is part of the aarch64 baseline.
        Isa::Neon => unsafe { super::neon::no_nul(b) },
    };
    b[done..].iter().position(|&c| c == 0).map(|p| done + p)
}

/// A UTF-16 or UTF-32 code unit, with the block loops that widen ASCII to it.
pub(crate) trait Unit: Copy {
    /// Widens whole blocks from the start of `src` into `dst` while they are ASCII
    /// without NUL; returns the bytes widened, or the offset of the first NUL if a
    /// block holds one.
    fn ascii_blocks(src: &[u8], dst: &mut [MaybeUninit<Self>], isa: Isa) -> Result<usize, usize>;
}

impl Unit for u16 {
    #[inline(always)]
    fn ascii_blocks(src: &[u8], dst: &mut [MaybeUninit<u16>], isa: Isa) -> Result<usize, usize> {
        match isa {
            Isa::Scalar => Ok(0),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: SSE2 is part of the x86-64 baseline.
            Isa::Sse2 => unsafe { super::x86::ascii16_sse2(src, dst) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Isa::Avx2` is only used once `available` found AVX2.
            Isa::Avx2 => unsafe { super::x86::ascii16_avx2(src, dst) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Isa::Avx512` is only used once `available` found AVX-512F and BW.
            Isa::Avx512 => unsafe { super::x86::ascii16_avx512(src, dst) },
            #[cfg(target_arch = "aarch64")]
            // SAFETY: NEON is part of the aarch64 baseline.
            Isa::Neon => unsafe { super::neon::ascii16(src, dst) },
        }
    }
}

impl Unit for u32 {
    #[inline(always)]
    fn ascii_blocks(src: &[u8], dst: &mut [MaybeUninit<u32>], isa: Isa) -> Result<usize, usize> {
        match isa {
            Isa::Scalar => Ok(0),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: SSE2 is part of the x86-64 baseline.
            Isa::Sse2 => unsafe { super::x86::ascii32_sse2(src, dst) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Isa::Avx2` is only used once `available` found AVX2.
            Isa::Avx2 => unsafe { super::x86::ascii32_avx2(src, dst) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Isa::Avx512` is only used once `available` found AVX-512F and BW.
            Isa::Avx512 => unsafe { super::x86::ascii32_avx512(src, dst) },
            #[cfg(target_arch = "aarch64")]
            // SAFETY: NEON is part of the aarch64 baseline.
            Isa::Neon => unsafe { super::neon::ascii32(src, dst) },
        }
    }
}

/// The offset of the first NUL in a block whose bytes are `block`, if any.
#[inline]
pub(crate) fn nul_in_block(block: &[u8]) -> Option<usize> {
    block.iter().position(|&c| c == 0)
}
