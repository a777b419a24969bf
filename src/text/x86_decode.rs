//! UTF-8 spans with multi-byte characters to UTF-32 and UTF-16 at the AVX2 level (which
//! has the SSSE3 `pshufb` and the SSE4.1 `packusdw` used here, and comes with BMI1 and
//! BMI2 for the bit operations).
//!
//! The mask of continuation bytes is taken for 64 bytes at a time; from it, each step
//! reads which of the next 12 bytes end a character. One table, indexed by those 12 bits,
//! says how the step goes and how many bytes it takes: six characters of one or two
//! bytes, four of one to three bytes, or three of one to four bytes (the first of these
//! that the 12 bytes hold); a second table holds the `pshufb` mask for each way the
//! step's characters can be that long (64 + 81 + 64 of them). The shuffle moves each
//! character's bytes into a 16-bit lane (six characters) or a 32-bit lane, last byte
//! lowest, and a few masks and shifts assemble the code points. Twelve ASCII bytes in a
//! row are widened at once, and 64 of them too.
//!
//! The next step's start waits only for a shift, a mask and a table load, not for the
//! bytes just loaded, and the tables are small: 8 KiB and 3.3 KiB.
//!
//! The input is a `&str`, valid UTF-8, so nothing is validated.

use core::arch::x86_64::{
    __m128i, _mm_and_si128, _mm_extract_epi32, _mm_loadu_si128, _mm_or_si128, _mm_packus_epi32,
    _mm_set1_epi16, _mm_set1_epi32, _mm_shuffle_epi8, _mm_srli_epi16, _mm_srli_epi32,
    _mm_storel_epi64, _mm_unpackhi_epi64, _mm_xor_si128, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8,
    _mm256_cvtepu8_epi16, _mm256_cvtepu8_epi32, _mm256_cvtepu16_epi32, _mm256_loadu_si256,
    _mm256_movemask_epi8, _mm256_set1_epi8, _mm256_setzero_si256,
};
use core::mem::MaybeUninit;

/// Bytes a step looks at.
const WINDOW: usize = 12;

/// Kinds of step, by the index into [`SHUFFLES`] that [`STEPS`] gives: below `FOUR`, six
/// characters of one or two bytes; below `THREE`, four of one to three; below `NONE`,
/// three of one to four.
const FOUR: u8 = 64;
const THREE: u8 = FOUR + 81;
const NONE: u8 = THREE + 64;
/// The step of twelve ASCII bytes (no shuffle).
const ASCII: u8 = NONE + 1;

/// For each 12-bit mask of character ends (bit `k`: byte `k` ends a character): the
/// step's index into [`SHUFFLES`] (or [`NONE`], for masks that valid UTF-8 never gives)
/// and the bytes it takes.
static STEPS: [[u8; 2]; 1 << WINDOW] = steps();

/// The `pshufb` masks of the steps; see [`STEPS`].
static SHUFFLES: [[u8; 16]; NONE as usize] = shuffles();

/// The lengths of the characters that end within the 12 bytes of mask `m` (up to 12 of
/// them; zero after the last) and how many there are.
const fn lengths(m: usize) -> ([usize; WINDOW], usize) {
    let (mut lens, mut n, mut start, mut k) = ([0; WINDOW], 0, 0, 0);
    while k < WINDOW {
        if (m >> k) & 1 == 1 {
            lens[n] = k + 1 - start;
            n += 1;
            start = k + 1;
        }
        k += 1;
    }
    (lens, n)
}

/// Whether the first `count` of `lens` (of `n`) all exist and are at most `max` long.
const fn first_fit(lens: &[usize; WINDOW], n: usize, count: usize, max: usize) -> bool {
    if n < count {
        return false;
    }
    let mut j = 0;
    while j < count {
        if lens[j] > max {
            return false;
        }
        j += 1;
    }
    true
}

/// The index of the lengths `lens[..count]` (each `1..=base`) as a number in base `base`.
const fn code(lens: &[usize; WINDOW], count: usize, base: usize) -> usize {
    let (mut c, mut j) = (0, count);
    while j > 0 {
        j -= 1;
        c = c * base + lens[j] - 1;
    }
    c
}

/// The sum of `lens[..count]`.
const fn sum(lens: &[usize; WINDOW], count: usize) -> usize {
    let (mut s, mut j) = (0, 0);
    while j < count {
        s += lens[j];
        j += 1;
    }
    s
}

const fn steps() -> [[u8; 2]; 1 << WINDOW] {
    let mut table = [[NONE, 1]; 1 << WINDOW];
    let mut m = 0;
    while m < 1 << WINDOW {
        let (lens, n) = lengths(m);
        table[m] = if n == WINDOW {
            [ASCII, WINDOW as u8]
        } else if first_fit(&lens, n, 6, 2) {
            [code(&lens, 6, 2) as u8, sum(&lens, 6) as u8]
        } else if first_fit(&lens, n, 4, 3) {
            [FOUR + code(&lens, 4, 3) as u8, sum(&lens, 4) as u8]
        } else if first_fit(&lens, n, 3, 4) {
            [THREE + code(&lens, 3, 4) as u8, sum(&lens, 3) as u8]
        } else {
            [NONE, 1]
        };
        m += 1;
    }
    table
}

/// The lengths (each `1..=base`) whose [`code`] in base `base` is `c`.
const fn decode(mut c: usize, count: usize, base: usize) -> [usize; WINDOW] {
    let (mut lens, mut j) = ([0; WINDOW], 0);
    while j < count {
        lens[j] = c % base + 1;
        c /= base;
        j += 1;
    }
    lens
}

const fn shuffles() -> [[u8; 16]; NONE as usize] {
    let mut table = [[0x80_u8; 16]; NONE as usize];
    let mut idx = 0;
    while idx < NONE as usize {
        // Characters, their most bytes, the lane width in bytes, and the kind's first index.
        let (count, base, lane, first) = if idx < FOUR as usize {
            (6, 2, 2, 0)
        } else if idx < THREE as usize {
            (4, 3, 4, FOUR as usize)
        } else {
            (3, 4, 4, THREE as usize)
        };
        let lens = decode(idx - first, count, base);
        let (mut j, mut start) = (0, 0);
        while j < count {
            let end = start + lens[j] - 1;
            let mut b = 0;
            while b < lens[j] {
                table[idx][lane * j + b] = (end - b) as u8;
                b += 1;
            }
            start = end + 1;
            j += 1;
        }
        idx += 1;
    }
    table
}

/// The `pshufb` mask of step `idx` (below [`NONE`]).
#[inline]
#[target_feature(enable = "avx2")]
fn shuffle_of(idx: u8) -> __m128i {
    let s = &SHUFFLES[usize::from(idx)];
    // SAFETY: `s` is 16 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(s.as_ptr().cast()) }
}

/// Six characters of one or two bytes, from the 16 bytes at the step's start, as code
/// points in 16-bit lanes (the last two lanes zero).
#[inline]
#[target_feature(enable = "avx2")]
fn six(v: __m128i, idx: u8) -> __m128i {
    let perm = _mm_shuffle_epi8(v, shuffle_of(idx));
    // Lane bytes: last, first byte of the character (zero where it has one byte). The
    // last keeps 7 bits (ASCII, or a continuation byte whose 7th bit is clear), the first
    // 5 (a 2-byte leader `110xxxxx`).
    let last = _mm_and_si128(perm, _mm_set1_epi16(0x7f));
    let first = _mm_srli_epi16::<2>(_mm_and_si128(perm, _mm_set1_epi16(0x1f00)));
    _mm_or_si128(last, first)
}

/// Four characters of one to three bytes, as code points in 32-bit lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn four(v: __m128i, idx: u8) -> __m128i {
    let perm = _mm_shuffle_epi8(v, shuffle_of(idx));
    // Lane bytes: last, middle, first byte of the character (zero where it has none).
    // The last keeps 7 bits (ASCII, or a continuation byte whose 7th bit is clear), the
    // middle 6 (a continuation byte, or a 2-byte leader `110xxxxx` whose 6th bit is
    // clear), the first 4 (a 3-byte leader `1110xxxx`).
    let last = _mm_and_si128(perm, _mm_set1_epi32(0x7f));
    let middle = _mm_srli_epi32::<2>(_mm_and_si128(perm, _mm_set1_epi32(0x3f00)));
    let first = _mm_srli_epi32::<4>(_mm_and_si128(perm, _mm_set1_epi32(0x0f_0000)));
    _mm_or_si128(_mm_or_si128(last, middle), first)
}

/// Three characters of one to four bytes, as code points in 32-bit lanes (the last lane
/// zero).
#[inline]
#[target_feature(enable = "avx2")]
fn three(v: __m128i, idx: u8) -> __m128i {
    let perm = _mm_shuffle_epi8(v, shuffle_of(idx));
    // Lane bytes: the character's bytes from its last to its first (zero where it has
    // fewer). The third byte from the end is a continuation byte (6 bits) in a 4-byte
    // character but a 3-byte leader `1110xxxx` (4 bits) in a 3-byte one: its 7th bit
    // tells them apart and clears the leader's 6th. The fourth from the end is a 4-byte
    // leader `11110xxx` (3 bits).
    let last = _mm_and_si128(perm, _mm_set1_epi32(0x7f));
    let second = _mm_srli_epi32::<2>(_mm_and_si128(perm, _mm_set1_epi32(0x3f00)));
    let third = _mm_and_si128(perm, _mm_set1_epi32(0x3f_0000));
    let leader3 = _mm_srli_epi32::<1>(_mm_and_si128(perm, _mm_set1_epi32(0x40_0000)));
    let third = _mm_srli_epi32::<4>(_mm_xor_si128(third, leader3));
    let fourth = _mm_srli_epi32::<6>(_mm_and_si128(perm, _mm_set1_epi32(0x0700_0000)));
    _mm_or_si128(_mm_or_si128(last, second), _mm_or_si128(third, fourth))
}

/// The continuation bytes, the non-ASCII bytes and the NUL bytes of 64 bytes (a bit set
/// for each).
#[inline]
#[target_feature(enable = "avx2")]
fn masks(b: &[u8; 64]) -> (u64, u64, u64) {
    let (mut cont, mut high, mut nul) = (0_u64, 0_u64, 0_u64);
    for (c, chunk) in b.as_chunks::<32>().0.iter().enumerate() {
        // SAFETY: `chunk` is 32 readable bytes; `loadu` has no alignment requirement.
        let v = unsafe { _mm256_loadu_si256(chunk.as_ptr().cast()) };
        // Continuation bytes are 0x80..=0xBF: below 0xC0 as signed bytes.
        let is_cont = _mm256_cmpgt_epi8(_mm256_set1_epi8(0xc0_u8 as i8), v);
        let is_nul = _mm256_cmpeq_epi8(_mm256_setzero_si256(), v);
        let bits = |v| u64::from(_mm256_movemask_epi8(v) as u32) << (32 * c);
        cont |= bits(is_cont);
        high |= bits(v);
        nul |= bits(is_nul);
    }
    (cont, high, nul)
}

/// The character at `b[i..]` (`i` on a character boundary) and its length in bytes.
#[inline(always)]
fn char_at(b: &[u8], i: usize) -> (u32, usize) {
    let cont = |k: usize| u32::from(b[i + k]) & 0x3f;
    match b[i] {
        c @ 0..0x80 => (u32::from(c), 1),
        c @ 0x80..0xe0 => ((u32::from(c) & 0x1f) << 6 | cont(1), 2),
        c @ 0xe0..0xf0 => ((u32::from(c) & 0x0f) << 12 | cont(1) << 6 | cont(2), 3),
        c => (
            (u32::from(c) & 0x07) << 18 | cont(1) << 12 | cont(2) << 6 | cont(3),
            4,
        ),
    }
}

/// The step loop, for both widths: `$b` the bytes; `$ascii64(i, o)` widens 16 ASCII
/// bytes at `i` to units at `o`; `$ascii12(v, o)` widens the 16 bytes of `v` (12 of
/// them ASCII) to 16 units at `o`; `$six(v, idx, o)`, `$four(v, idx, o)` write a step's
/// code points; `$three(v, idx, o)` and `$one(cp, o)` write theirs and give the units
/// written. Leaves `$i`, `$o` where fewer than 16 bytes are left (or fewer than 64 in
/// all), or returns the offset of the first NUL from the function around it (every
/// chunk is searched for NUL before any of it is decoded, and the chunks follow one
/// another with no gap).
///
/// Each chunk of 64 bytes gets its masks once, and the steps go on while they start in
/// its first 52 bytes, so that the 12 bytes a step looks at are within the chunk, whose
/// last byte's end bit is not known. The bytes after the last step are taken again with
/// the next chunk. Near the end, the masks come from the input's last 64 bytes, and the
/// steps go on while their 16-byte loads fit.
///
/// Every unit takes at least one byte, so `$o <= $i` throughout, and a write of 16
/// units at `$o` ends within `$b.len()` units wherever 16 bytes at `$i` are in `$b`:
/// the caller's destination holds a unit per byte.
macro_rules! steps {
    ($b:expr, $i:ident, $o:ident, $ascii64:expr, $ascii12:expr, $six:expr, $four:expr,
     $three:expr, $one:expr) => {
        while $i + 80 <= $b.len() {
            let window: &[u8; 64] = $b[$i..$i + 64].try_into().expect("64 bytes");
            let (cont, high, nul) = masks(window);
            if nul != 0 {
                return Err($i + nul.trailing_zeros() as usize);
            }
            if high == 0 {
                for k in 0..4 {
                    $ascii64($i + 16 * k, $o + 16 * k);
                }
                $i += 64;
                $o += 64;
                continue;
            }
            // Bit k: byte k ends a character (byte k + 1 starts one); known for k < 63.
            let ends = !(cont >> 1) & (u64::MAX >> 1);
            // `rest`: the end bits from `pos` on, shifted down as the steps go, so the
            // next step's bits wait only for a shift by the length the table gave.
            let (mut pos, mut rest) = (0, ends);
            while pos < 64 - WINDOW {
                // `$i + pos + 16 <= $i + 67 < $b.len()`.
                step!($b, $i, $o, pos, rest, $ascii12, $six, $four, $three, $one);
            }
            $i += pos;
        }
        // The last bytes: the masks of the 64 bytes from `$i` or, with fewer left, of the
        // input's last 64, `shift` bytes before `$i`; steps while their 16-byte loads fit
        // (so their 12 bytes end before the window's last byte, whose end bit is not
        // known). At most two rounds.
        while $b.len() - $i >= 16 && $b.len() >= 64 {
            let rem = $b.len() - $i;
            let (from, shift) = if rem >= 64 {
                ($i, 0)
            } else {
                ($b.len() - 64, 64 - rem)
            };
            let window: &[u8; 64] = $b[from..from + 64].try_into().expect("64 bytes");
            let (cont, _, nul) = masks(window);
            let nul = nul >> shift;
            if nul != 0 {
                return Err($i + nul.trailing_zeros() as usize);
            }
            let ends = !(cont >> 1) & (u64::MAX >> 1);
            let (mut pos, mut rest) = (0, ends >> shift);
            while pos < (rem - 15).min(64 - WINDOW) {
                // `$i + pos + 16 <= $i + rem = $b.len()`.
                step!($b, $i, $o, pos, rest, $ascii12, $six, $four, $three, $one);
            }
            $i += pos;
        }
    };
}

/// One step of [`steps`] at `$i + $pos`, from the end bits `$rest` (those from `$pos` on):
/// writes its units at `$o` and moves `$o`, `$pos` and `$rest` past it. The caller keeps
/// `$i + $pos + 16 <= $b.len()`, and the 12 end bits of `$rest` known.
macro_rules! step {
    ($b:expr, $i:ident, $o:ident, $pos:ident, $rest:ident, $ascii12:expr, $six:expr,
     $four:expr, $three:expr, $one:expr) => {{
        let m = $rest as usize & 0xfff;
        // SAFETY: `$i + $pos + 16 <= $b.len()`, kept by the caller.
        let v = unsafe { load_at($b, $i + $pos) };
        let [idx, len] = STEPS[m];
        let len = if idx < FOUR {
            $six(v, idx, $o);
            $o += 6;
            u32::from(len)
        } else if idx < THREE {
            $four(v, idx, $o);
            $o += 4;
            u32::from(len)
        } else if idx < NONE {
            $o += $three(v, idx, $o);
            u32::from(len)
        } else if idx == ASCII {
            $ascii12(v, $o);
            $o += WINDOW;
            u32::from(len)
        } else {
            // Never for valid UTF-8; one character, to be safe.
            let (cp, len) = char_at($b, $i + $pos);
            $o += $one(cp, $o);
            len as u32
        };
        $pos += len as usize;
        // SAFETY: a step takes at most 12 bytes, below 64. (Unchecked, so that no mask of
        // the count lengthens the chain from one step to the next.)
        $rest = unsafe { $rest.unchecked_shr(len) };
    }};
}

/// The 16 bytes at `b[i..]`.
///
/// # Safety
/// `i + 16 <= b.len()`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load_at(b: &[u8], i: usize) -> __m128i {
    debug_assert!(i + 16 <= b.len());
    // SAFETY: `i + 16 <= b.len()`, per the contract.
    let p = unsafe { b.as_ptr().add(i) };
    // SAFETY: 16 readable bytes at `p`; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(p.cast()) }
}

/// A raw cursor into a destination of units, for the stores of the step loop.
struct Out<T> {
    ptr: *mut MaybeUninit<T>,
    len: usize,
}

impl<T> Out<T> {
    fn new(dst: &mut [MaybeUninit<T>]) -> Self {
        Out {
            ptr: dst.as_mut_ptr(),
            len: dst.len(),
        }
    }

    /// The pointer to unit `o`, where `size_of::<V>()` bytes are written.
    ///
    /// # Safety
    /// Those bytes lie in the destination: `o * size_of::<T>() + size_of::<V>()` is at
    /// most `len * size_of::<T>()`.
    #[inline(always)]
    unsafe fn at<V>(&self, o: usize) -> *mut V {
        debug_assert!(o * size_of::<T>() + size_of::<V>() <= self.len * size_of::<T>());
        // SAFETY: within the destination, per the contract.
        unsafe { self.ptr.add(o) }.cast()
    }

    /// Writes `v` (any plain-data value: a vector, units) at unit `o`, unaligned.
    ///
    /// # Safety
    /// As for [`Out::at`].
    #[inline(always)]
    unsafe fn put<V>(&self, o: usize, v: V) {
        // SAFETY: per the contract.
        let p = unsafe { self.at::<V>(o) };
        // SAFETY: `p` points to `size_of::<V>()` writable bytes of the destination,
        // which holds `MaybeUninit` units; the write needs no alignment.
        unsafe { p.write_unaligned(v) };
    }
}

/// Decodes `span` to UTF-32 into `dst` (at least one unit per byte); returns the units
/// written, all of `dst[..n]` initialised, or the offset of the first NUL in `span`.
#[target_feature(enable = "avx2,bmi1,bmi2")]
pub(super) fn utf32(span: &str, dst: &mut [MaybeUninit<u32>]) -> Result<usize, usize> {
    let b = span.as_bytes();
    assert!(dst.len() >= b.len(), "a unit per byte");
    let out = Out::new(dst);
    let (mut i, mut o) = (0, 0);
    // In each closure, the units written at `o` are in `dst` and the bytes read at `i`
    // in `b` (see `steps`).
    let widen16 = |v: __m128i, o: usize| {
        let high = _mm_unpackhi_epi64(v, v);
        let (v, high) = (_mm256_cvtepu8_epi32(v), _mm256_cvtepu8_epi32(high));
        // SAFETY: see above; 8 units of 4 bytes each.
        unsafe { out.put(o, v) };
        // SAFETY: see above.
        unsafe { out.put(o + 8, high) };
    };
    let ascii64 = |i: usize, o: usize| {
        // SAFETY: see above.
        widen16(unsafe { load_at(b, i) }, o);
    };
    let six = |v: __m128i, idx: u8, o: usize| {
        let cp = _mm256_cvtepu16_epi32(six(v, idx));
        // SAFETY: see above; 8 units.
        unsafe { out.put(o, cp) };
    };
    let four = |v: __m128i, idx: u8, o: usize| {
        let cp = four(v, idx);
        // SAFETY: see above; 4 units.
        unsafe { out.put(o, cp) };
    };
    let three = |v: __m128i, idx: u8, o: usize| {
        let cp = three(v, idx);
        // SAFETY: see above; 4 units.
        unsafe { out.put(o, cp) };
        3
    };
    let one = |cp: u32, o: usize| {
        // SAFETY: see above.
        unsafe { out.put(o, cp) };
        1
    };
    steps!(b, i, o, ascii64, widen16, six, four, three, one);
    let tail = &span[i..];
    if let Some(at) = tail.find('\0') {
        return Err(i + at);
    }
    for (d, c) in dst[o..].iter_mut().zip(tail.chars()) {
        d.write(u32::from(c));
        o += 1;
    }
    Ok(o)
}

/// Writes code point `cp` as UTF-16 at unit `o` of `out`; returns the units written.
///
/// # Safety
/// Two units at `o` lie in `out`'s destination.
#[inline(always)]
unsafe fn put_utf16(out: &Out<u16>, cp: u32, o: usize) -> usize {
    if cp < 0x1_0000 {
        // SAFETY: per the contract.
        unsafe { out.put(o, cp as u16) };
        1
    } else {
        let c = cp - 0x1_0000;
        let pair = [0xd800 | (c >> 10) as u16, 0xdc00 | (c & 0x3ff) as u16];
        // SAFETY: per the contract.
        unsafe { out.put(o, pair) };
        2
    }
}

/// Decodes `span` to UTF-16 into `dst` (at least one unit per byte); returns the units
/// written, all of `dst[..n]` initialised, or the offset of the first NUL in `span`.
#[target_feature(enable = "avx2,bmi1,bmi2")]
pub(super) fn utf16(span: &str, dst: &mut [MaybeUninit<u16>]) -> Result<usize, usize> {
    let b = span.as_bytes();
    assert!(dst.len() >= b.len(), "a unit per byte");
    let out = Out::new(dst);
    let (mut i, mut o) = (0, 0);
    // In each closure, the units written at `o` are in `dst` and the bytes read at `i`
    // in `b` (see `steps`).
    let widen16 = |v: __m128i, o: usize| {
        let units = _mm256_cvtepu8_epi16(v);
        // SAFETY: see above; 16 units of 2 bytes each.
        unsafe { out.put(o, units) };
    };
    let ascii64 = |i: usize, o: usize| {
        // SAFETY: see above.
        widen16(unsafe { load_at(b, i) }, o);
    };
    let six = |v: __m128i, idx: u8, o: usize| {
        let units = six(v, idx);
        // SAFETY: see above; 8 units.
        unsafe { out.put(o, units) };
    };
    let four = |v: __m128i, idx: u8, o: usize| {
        // Code points of at most three bytes fit 16 bits: the saturating pack keeps them.
        let cp = four(v, idx);
        let units = _mm_packus_epi32(cp, cp);
        // SAFETY: see above; 4 units of 2 bytes each.
        let p = unsafe { out.at::<__m128i>(o) };
        // SAFETY: `p` has room for the 8 bytes `storel` writes, unaligned.
        unsafe { _mm_storel_epi64(p, units) };
    };
    let three = |v: __m128i, idx: u8, o: usize| {
        // Up to two units each: one at a time.
        let cp = three(v, idx);
        let cps = [
            _mm_extract_epi32::<0>(cp),
            _mm_extract_epi32::<1>(cp),
            _mm_extract_epi32::<2>(cp),
        ];
        let mut n = 0;
        for cp in cps.map(|cp| cp as u32) {
            // SAFETY: see above; the three characters take at least as many bytes as
            // units, and 16 bytes at the step's start are in `b`.
            n += unsafe { put_utf16(&out, cp, o + n) };
        }
        n
    };
    let one = |cp: u32, o: usize| {
        // SAFETY: see above.
        unsafe { put_utf16(&out, cp, o) }
    };
    steps!(b, i, o, ascii64, widen16, six, four, three, one);
    let tail = &span[i..];
    if let Some(at) = tail.find('\0') {
        return Err(i + at);
    }
    for c in tail.chars() {
        let mut units = [0; 2];
        for &u in c.encode_utf16(&mut units).iter() {
            dst[o].write(u);
            o += 1;
        }
    }
    Ok(o)
}
