//! AVX2 blocks for hex text whose tokens repeat with a fixed period: `"0x48, 0x31, "`,
//! `"00 ab f9 0x42 "`, `"\x48\x31"`, 96 input bytes (two groups) at a time.
//!
//! At a token start, [`Template::find`] looks for the shortest period `P` (up to 48 bytes)
//! over which the *shape* of the text repeats: every byte other than a hex digit (and
//! the `0` of a `0x` prefix) is the same byte `P` later, every digit is a digit `P`
//! later. One period must parse on its own under the grammar's regular cases (even runs,
//! `0x` with an even number of digits, `\x` with two) and end where a token may end.
//! A *group* is as many whole periods as fit in 48 bytes and 16 output bytes; each
//! 128-bit lane of a block holds one group in three 16-byte chunks.
//!
//! The block then checks with a compare per chunk that each fixed byte is where the
//! template has it and that each digit position holds a digit (which the digit check of
//! [`nibbles`] does), and gathers the high and the low digit of every pair with
//! `pshufb` masks built from the template. Text that matches the template's shape
//! parses exactly as the template does, so a block that passes writes exactly what the
//! scalar parser writes; one that does not pass writes nothing that is counted.
//!
//! Every function here needs AVX2; the caller checks it at run time before calling.

use core::arch::x86_64::{
    __m256i, _mm_storeu_si128, _mm256_andnot_si256, _mm256_castsi256_si128, _mm256_cmpeq_epi8,
    _mm256_extracti128_si256, _mm256_loadu2_m128i, _mm256_movemask_epi8, _mm256_or_si256,
    _mm256_shuffle_epi8, _mm256_slli_epi16,
};
use core::mem::MaybeUninit;

use super::simd::{invalid, nibbles};

/// Bytes in a group at most: three 16-byte chunks.
const GROUP: usize = 48;
/// Output bytes of one group at most: one 128-bit lane.
const LANE: usize = 16;
/// The longest period looked for.
const MAX_PERIOD: usize = GROUP;

/// A shape: a byte that must be there, or any hex digit.
const DIGIT: u16 = 0x100;

/// What [`blocks`] needs to parse one period-`P` layout: per 16-byte chunk of a group,
/// the fixed bytes, which positions are fixed, and the `pshufb` masks that gather the
/// high and the low digit of each output byte.
pub(super) struct Template {
    /// Input bytes in one group.
    group: usize,
    /// Output bytes of one group.
    pairs: usize,
    /// The fixed bytes (zero where a digit goes or past the group).
    fixed: [[u8; 16]; 3],
    /// `0xff` where `fixed` holds a byte that must match.
    is_fixed: [[u8; 16]; 3],
    /// For each output byte, the index of its high digit in the chunk, or `0x80`.
    high: [[u8; 16]; 3],
    /// The same for the low digits.
    low: [[u8; 16]; 3],
    /// `'0'` for the output positions past `pairs`, which the gathers leave zero, so
    /// they pass the digit check.
    fill: [u8; 16],
}

/// Whether `c` is a hex digit.
fn is_digit(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

/// Whether `c` separates tokens.
fn is_sep(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b',')
}

/// The shape of `b[q]`: [`DIGIT`] for a hex digit other than the `0` of a `0x` prefix,
/// the byte itself otherwise.
fn shape(b: &[u8], q: usize) -> u16 {
    let c = b[q];
    let prefix_zero = c == b'0' && matches!(b.get(q + 1), Some(b'x' | b'X'));
    if is_digit(c) && !prefix_zero {
        DIGIT
    } else {
        u16::from(c)
    }
}

/// The length of the run of digit shapes at `u[j..]`.
fn digit_run(u: &[u16], j: usize) -> usize {
    u[j..].iter().take_while(|&&s| s == DIGIT).count()
}

/// The offsets of the high digits of the pairs in one period: at most one pair per two
/// bytes.
struct Pairs {
    at: [u8; MAX_PERIOD / 2],
    len: usize,
}

impl Pairs {
    fn as_slice(&self) -> &[u8] {
        &self.at[..self.len]
    }
}

/// The high-digit offsets of the pairs in one period `u` (shapes), repeated without a
/// break, if it parses on its own with the grammar's regular cases and ends where a
/// token may end; `None` otherwise (and for a period with no byte in it).
fn period_pairs(u: &[u16]) -> Option<Pairs> {
    let p = u.len();
    let at = |j: usize| u.get(j).copied();
    let is_x = |j: usize| matches!(at(j), Some(s) if s == u16::from(b'x') || s == u16::from(b'X'));
    let sep = |s: u16| s < 0x80 && is_sep(s as u8);
    // What may end a run: a separator or an escape inside the period. A run that
    // reaches the end of the period is refused: after the last group of a block the next
    // byte is not checked, and a digit there would lengthen the run.
    let run_may_end = |e: usize| match at(e) {
        Some(s) => sep(s) || (s == u16::from(b'\\') && is_x(e + 1)),
        None => false,
    };
    let mut pairs = Pairs {
        at: [0; MAX_PERIOD / 2],
        len: 0,
    };
    // Every pair takes two bytes of the period, so `pairs.at` has room for all of them.
    let mut push = |j: usize| {
        pairs.at[pairs.len] = j as u8;
        pairs.len += 1;
    };
    let mut i = 0;
    while i < p {
        let s = u[i];
        if sep(s) {
            i += 1;
        } else if s == DIGIT || (s == u16::from(b'0') && is_x(i + 1)) {
            let from = if s == DIGIT { i } else { i + 2 };
            let len = digit_run(u, from);
            if len == 0 || len % 2 == 1 || !run_may_end(from + len) {
                return None;
            }
            (from..from + len).step_by(2).for_each(&mut push);
            i = from + len;
        } else if s == u16::from(b'\\') && is_x(i + 1) && at(i + 2) == Some(DIGIT) {
            if at(i + 3) != Some(DIGIT) {
                return None;
            }
            push(i + 2);
            i += 4;
        } else {
            return None;
        }
    }
    (pairs.len != 0).then_some(pairs)
}

impl Template {
    /// Looks for the shortest period of the text at the start of `b` (a token start)
    /// that repeats over a whole group and one more period, and parses on its own.
    pub(super) fn find(b: &[u8]) -> Option<Template> {
        // Shapes of the bytes looked at: a group and a period at most.
        if b.len() < 2 * GROUP {
            return None;
        }
        let mut shapes = [0_u16; 2 * GROUP];
        for (q, s) in shapes.iter_mut().enumerate() {
            *s = shape(b, q);
        }
        for p in 1..=MAX_PERIOD {
            let repeats = GROUP / p;
            if (0..repeats * p).any(|q| shapes[q] != shapes[q + p]) {
                continue;
            }
            let Some(unit) = period_pairs(&shapes[..p]) else {
                continue;
            };
            let periods = repeats.min(LANE / unit.len);
            if periods == 0 {
                continue;
            }
            return Some(Template::build(&shapes[..p], unit.as_slice(), periods));
        }
        None
    }

    /// The template of `periods` repetitions of the period `u` whose pairs start at
    /// `unit`.
    fn build(u: &[u16], unit: &[u8], periods: usize) -> Template {
        let p = u.len();
        let mut t = Template {
            group: periods * p,
            pairs: periods * unit.len(),
            fixed: [[0; 16]; 3],
            is_fixed: [[0; 16]; 3],
            high: [[0x80; 16]; 3],
            low: [[0x80; 16]; 3],
            fill: [b'0'; 16],
        };
        for q in 0..t.group {
            let s = u[q % p];
            if s != DIGIT {
                t.fixed[q / 16][q % 16] = s as u8;
                t.is_fixed[q / 16][q % 16] = 0xff;
            }
        }
        for k in 0..periods {
            for (j, &h) in unit.iter().enumerate() {
                let out = k * unit.len() + j;
                let (hi, lo) = (k * p + usize::from(h), k * p + usize::from(h) + 1);
                t.high[hi / 16][out] = (hi % 16) as u8;
                t.low[lo / 16][out] = (lo % 16) as u8;
                t.fill[out] = 0;
            }
        }
        t
    }
}

/// Loads `bytes` into both 128-bit lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn both_lanes(bytes: &[u8; 16]) -> __m256i {
    // SAFETY: `bytes` is 16 readable bytes, read twice; `loadu2` has no alignment
    // requirement.
    unsafe { _mm256_loadu2_m128i(bytes.as_ptr().cast(), bytes.as_ptr().cast()) }
}

/// Loads `lo` into the low lane and `hi` into the high one.
#[inline]
#[target_feature(enable = "avx2")]
fn load2(lo: &[u8; 16], hi: &[u8; 16]) -> __m256i {
    // SAFETY: `lo` and `hi` are 16 readable bytes each; `loadu2` has no alignment
    // requirement.
    unsafe { _mm256_loadu2_m128i(hi.as_ptr().cast(), lo.as_ptr().cast()) }
}

/// Stores the 16 bytes of the low lane of `v` to `dst`.
#[inline]
#[target_feature(enable = "avx2")]
fn store16(dst: &mut [MaybeUninit<u8>; 16], v: core::arch::x86_64::__m128i) {
    // SAFETY: `dst` is 16 writable bytes; `storeu` has no alignment requirement.
    unsafe { _mm_storeu_si128(dst.as_mut_ptr().cast(), v) }
}

/// The 16 bytes at `s[at..]`.
#[inline(always)]
fn sub16(s: &[u8], at: usize) -> &[u8; 16] {
    s[at..at + 16].try_into().expect("16 bytes")
}

/// Gathers, per lane, the digit of each output byte that `m` picks from the three
/// chunks, with `fill` where there is none.
#[inline]
#[target_feature(enable = "avx2")]
fn gather(v0: __m256i, v1: __m256i, v2: __m256i, m: &[__m256i; 3], fill: __m256i) -> __m256i {
    _mm256_or_si256(
        _mm256_or_si256(_mm256_shuffle_epi8(v0, m[0]), _mm256_shuffle_epi8(v1, m[1])),
        _mm256_or_si256(_mm256_shuffle_epi8(v2, m[2]), fill),
    )
}

/// Parses pairs of groups of the template's layout from the start of `src` (a token
/// start, where `t` was found) into `dst`, while they match and a pair fits; returns how
/// many input bytes it consumed and output bytes it wrote.
#[inline(never)]
#[target_feature(enable = "avx2")]
pub(super) fn blocks(t: &Template, src: &[u8], dst: &mut [MaybeUninit<u8>]) -> (usize, usize) {
    let (g, k) = (t.group, t.pairs);
    let fixed = [0, 1, 2].map(|c| both_lanes(&t.fixed[c]));
    let is_fixed = [0, 1, 2].map(|c| both_lanes(&t.is_fixed[c]));
    let high = [0, 1, 2].map(|c| both_lanes(&t.high[c]));
    let low = [0, 1, 2].map(|c| both_lanes(&t.low[c]));
    let fill = both_lanes(&t.fill);
    let (mut i, mut o) = (0, 0);
    // The second group's last chunk ends `g + 48` bytes in; two stores of 16 bytes, the
    // second `k` bytes after the first.
    while let (Some(s), Some(d)) = (src.get(i..i + g + GROUP), dst.get_mut(o..o + k + LANE)) {
        // Three chunks per lane: the first group in the low lane, the second in the high.
        let v0 = load2(sub16(s, 0), sub16(s, g));
        let v1 = load2(sub16(s, 16), sub16(s, g + 16));
        let v2 = load2(sub16(s, 32), sub16(s, g + 32));
        // A fixed byte that differs from the template: 0xff there.
        let bad = _mm256_or_si256(
            _mm256_or_si256(
                _mm256_andnot_si256(_mm256_cmpeq_epi8(v0, fixed[0]), is_fixed[0]),
                _mm256_andnot_si256(_mm256_cmpeq_epi8(v1, fixed[1]), is_fixed[1]),
            ),
            _mm256_andnot_si256(_mm256_cmpeq_epi8(v2, fixed[2]), is_fixed[2]),
        );
        let hi = nibbles(gather(v0, v1, v2, &high, fill));
        let lo = nibbles(gather(v0, v1, v2, &low, fill));
        let bad = _mm256_or_si256(bad, _mm256_or_si256(invalid(hi), invalid(lo)));
        if _mm256_movemask_epi8(bad) != 0 {
            break;
        }
        // Every nibble is at most 15, so the 16-bit shift moves no bits across bytes.
        let bytes = _mm256_or_si256(_mm256_slli_epi16(hi, 4), lo);
        // The first lane's bytes past `k` are then overwritten by the second lane's.
        store16(
            (&mut d[..LANE]).try_into().expect("16 bytes"),
            _mm256_castsi256_si128(bytes),
        );
        store16(
            (&mut d[k..k + LANE]).try_into().expect("16 bytes"),
            _mm256_extracti128_si256::<1>(bytes),
        );
        i += 2 * g;
        o += 2 * k;
    }
    (i, o)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the blocks on `s` where the CPU has AVX2; `None` where it does not.
    fn run(s: &str) -> Option<(usize, Vec<u8>)> {
        if !std::arch::is_x86_feature_detected!("avx2") {
            println!("skipped: this CPU lacks AVX2");
            return None;
        }
        let t = Template::find(s.as_bytes())?;
        let mut out = vec![MaybeUninit::new(0_u8); s.len() / 2];
        // SAFETY: the CPU has AVX2, checked above.
        let (read, wrote) = unsafe { blocks(&t, s.as_bytes(), &mut out) };
        // SAFETY: `blocks` wrote `out[..wrote]`, and `out` was initialised anyway.
        let bytes = out[..wrote]
            .iter()
            .map(|b| unsafe { b.assume_init() })
            .collect();
        Some((read, bytes))
    }

    #[test]
    fn repeating_layouts_are_found_and_decoded() {
        let layouts: &[(&str, usize, usize)] = &[
            ("0x48, 0x31, 0xc0, ", 6, 48),
            ("00 ab f9 0x42 ", 14, 42),
            (r"\x48\x31\xc0\x0f\x05", 4, 48),
            (r"ab\x12 ", 7, 42),
            ("0XAbCd,", 7, 42),
            (r"de ad be ef\x01\x02\x03\x04\x05\x06\x07\x08\x09,", 48, 48),
        ];
        for &(unit, period, group) in layouts {
            let s = unit.repeat(4000 / unit.len());
            let t = Template::find(s.as_bytes()).expect(unit);
            assert_eq!(t.group, group, "{unit:?}");
            assert_eq!(t.group % period, 0, "{unit:?}");
            let Some((read, bytes)) = run(&s) else { return };
            // Everything but the tail that no whole pair of groups covers.
            assert!(read + 2 * group + GROUP > s.len(), "{unit:?}: {read}");
            assert_eq!(read % (2 * group), 0);
            let want = crate::hex::decode(&s[..read]).expect("valid");
            assert_eq!(bytes, want, "{unit:?}");
        }
    }

    #[test]
    fn irregular_periods_are_refused() {
        for unit in [
            "0x1, ",    // one digit after `0x`
            "abc ",     // odd run
            "ab ; c\n", // a comment
            "ab0x12 ",  // `x` inside a token
            r"\x1 ",    // escape with one digit
            r"ab\y",    // `\` without `x`
            "0x12",     // a run that would go on into the next period
            "ab",       // dense: no separator
            r"\x12a",   // odd run after an escape
            r"\x12ab",  // a run up to the end of the period
        ] {
            let s = unit.repeat(200);
            assert!(Template::find(s.as_bytes()).is_none(), "{unit:?}");
        }
        assert!(Template::find(&[b' '; 200]).is_none());
        assert!(Template::find(b"00 ab").is_none());
    }

    #[test]
    fn a_changed_byte_stops_the_blocks_before_it() {
        let s = "0x48, 0x31, 0xc0, ".repeat(40);
        // Every position, or every 7th where `VMALLOCATOR_TEST_SCALE` is low.
        for pos in (0..300).step_by(crate::test_stride()) {
            for bad in [b'g', b'x', b'0', b' ', b'\\', b';', b'\n', 0x80] {
                let mut t = s.clone().into_bytes();
                t[pos] = bad;
                let Ok(t) = String::from_utf8(t) else {
                    continue;
                };
                let Some((read, bytes)) = run(&t) else {
                    continue;
                };
                let want = crate::hex::decode(&t[..read]).expect("valid prefix");
                assert_eq!(bytes, want);
                // A byte that breaks the layout stops the blocks before its pair of groups.
                let was = s.as_bytes()[pos];
                if is_digit(bad) != is_digit(was) || (!is_digit(was) && bad != was) {
                    assert!(read <= pos, "{pos} {bad}");
                }
            }
        }
    }
}
