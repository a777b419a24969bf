//! UTF-8 spans with multi-byte characters to UTF-32 and UTF-16, four characters of one
//! to three bytes per step, for the AVX2 level (which has the SSSE3 `pshufb` and the
//! SSE4.1 `packusdw` used here, and comes with BMI1, BMI2 and POPCNT for the bit
//! operations).
//!
//! The masks of continuation bytes and of non-ASCII bytes are taken for 64 bytes at a
//! time. From the continuation mask, each step reads which of the next 12 bytes end a
//! character, and a table indexed by those 12 bits gives a `pshufb` mask that moves the
//! bytes of the first four characters (if each is one to three bytes long) into four
//! 32-bit lanes, last byte lowest, and how many bytes and characters that was. A few
//! masks and shifts then assemble the code points. A 4-byte character (which the table
//! stops before) is decoded alone; 16 ASCII bytes are widened at once. The step's
//! length comes from the table, not from the bytes just loaded, so the next step's
//! start waits only for a shift and a table load.
//!
//! The input is a `&str`, valid UTF-8, so nothing is validated.

use core::arch::x86_64::{
    __m128i, __m256i, _mm_and_si128, _mm_loadu_si128, _mm_or_si128, _mm_packus_epi32,
    _mm_set1_epi32, _mm_shuffle_epi8, _mm_srli_epi32, _mm_storel_epi64, _mm_unpackhi_epi64,
    _mm256_and_si256, _mm256_castsi256_si128, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8,
    _mm256_cvtepu8_epi16, _mm256_cvtepu8_epi32, _mm256_loadu_si256, _mm256_loadu2_m128i,
    _mm256_max_epu8, _mm256_movemask_epi8, _mm256_or_si256, _mm256_packus_epi32,
    _mm256_permute4x64_epi64, _mm256_set1_epi8, _mm256_set1_epi32, _mm256_shuffle_epi8,
    _mm256_srli_epi32,
};
use core::mem::MaybeUninit;

/// Bytes whose character ends a step may look at.
const WINDOW: usize = 12;

/// For each 12-bit mask of character ends: the `pshufb` mask that gathers the first four
/// characters (one to three bytes each) into 32-bit lanes, last byte lowest.
static SHUFFLE: [[u8; 16]; 1 << WINDOW] = shuffles();

const fn shuffles() -> [[u8; 16]; 1 << WINDOW] {
    let mut shuffle = [[0x80_u8; 16]; 1 << WINDOW];
    let mut m = 0;
    while m < 1 << WINDOW {
        let (mut start, mut k) = (0, 0);
        while k < 4 {
            let mut end = start;
            while end < WINDOW && (m >> end) & 1 == 0 {
                end += 1;
            }
            if end >= WINDOW || end - start >= 3 {
                break;
            }
            let len = end - start + 1;
            shuffle[m][4 * k] = end as u8;
            if len >= 2 {
                shuffle[m][4 * k + 1] = (end - 1) as u8;
            }
            if len == 3 {
                shuffle[m][4 * k + 2] = (end - 2) as u8;
            }
            start = end + 1;
            k += 1;
        }
        m += 1;
    }
    shuffle
}

/// The four code points of one step, from the 16 bytes at its start.
#[inline]
#[target_feature(enable = "avx2")]
fn code_points(v: __m128i, end_mask: usize) -> __m128i {
    // SAFETY: `SHUFFLE[end_mask]` is 16 readable bytes (the mask is below 4096).
    let perm = _mm_shuffle_epi8(v, unsafe {
        _mm_loadu_si128(SHUFFLE[end_mask & 0xfff].as_ptr().cast())
    });
    // Lane bytes: last, middle, first byte of the character (zero where it has none).
    // The last keeps 7 bits (ASCII, or a continuation byte whose 7th bit is clear), the
    // middle 6 (a continuation byte, or a 2-byte leader `110xxxxx` whose 6th bit is
    // clear), the first 4 (a 3-byte leader `1110xxxx`).
    let last = _mm_and_si128(perm, _mm_set1_epi32(0x7f));
    let middle = _mm_srli_epi32::<2>(_mm_and_si128(perm, _mm_set1_epi32(0x3f00)));
    let first = _mm_srli_epi32::<4>(_mm_and_si128(perm, _mm_set1_epi32(0x0f_0000)));
    _mm_or_si128(_mm_or_si128(last, middle), first)
}

/// The eight code points of a double step: the four of `v`'s low lane (the 16 bytes at
/// the first step's start, ends `m0`) and the four of its high lane (ends `m1`).
#[inline]
#[target_feature(enable = "avx2")]
fn code_points8(v: __m256i, m0: usize, m1: usize) -> __m256i {
    let (s0, s1) = (&SHUFFLE[m0 & 0xfff], &SHUFFLE[m1 & 0xfff]);
    // SAFETY: `s0` and `s1` are 16 readable bytes each; `loadu2` has no alignment
    // requirement.
    let shuffle = unsafe { _mm256_loadu2_m128i(s1.as_ptr().cast(), s0.as_ptr().cast()) };
    let perm = _mm256_shuffle_epi8(v, shuffle);
    // As in `code_points`.
    let last = _mm256_and_si256(perm, _mm256_set1_epi32(0x7f));
    let middle = _mm256_srli_epi32::<2>(_mm256_and_si256(perm, _mm256_set1_epi32(0x3f00)));
    let first = _mm256_srli_epi32::<4>(_mm256_and_si256(perm, _mm256_set1_epi32(0x0f_0000)));
    _mm256_or_si256(_mm256_or_si256(last, middle), first)
}

/// Of 64 bytes: continuation bytes, non-ASCII bytes, and leaders of 4-byte characters
/// (a bit set for each).
#[inline]
#[target_feature(enable = "avx2")]
fn masks(b: &[u8; 64]) -> (u64, u64, u64) {
    let (mut cont, mut high, mut four) = (0_u64, 0_u64, 0_u64);
    for (c, chunk) in b.as_chunks::<32>().0.iter().enumerate() {
        // SAFETY: `chunk` is 32 readable bytes; `loadu` has no alignment requirement.
        let v = unsafe { _mm256_loadu_si256(chunk.as_ptr().cast()) };
        // Continuation bytes are 0x80..=0xBF: below 0xC0 as signed bytes.
        let is_cont = _mm256_cmpgt_epi8(_mm256_set1_epi8(0xc0_u8 as i8), v);
        // 4-byte leaders are 0xF0 and above: unchanged by an unsigned max with 0xF0.
        let f0 = _mm256_set1_epi8(0xf0_u8 as i8);
        let is_four = _mm256_cmpeq_epi8(_mm256_max_epu8(v, f0), v);
        let bits = |v| u64::from(_mm256_movemask_epi8(v) as u32) << (32 * c);
        cont |= bits(is_cont);
        high |= bits(v);
        four |= bits(is_four);
    }
    (cont, high, four)
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

/// The step loop, for both widths: `$b` the bytes; `$ascii(i, o)` widens 16 ASCII bytes
/// at `i` to units at `o`, `$one(cp, o)` writes one character and gives its units,
/// `$step(cp, o)` writes a step's four code points. Leaves `$i`, `$o` where fewer than
/// 80 bytes are left.
///
/// Each chunk of 64 bytes gets its masks once; the bits of the character ends (up to
/// the chunk's first 4-byte character, decoded alone) are then taken four at a time
/// (three `blsr` find the fourth end), so the next step's start waits for three bit
/// operations only, and the table gives the shuffle for the step.
///
/// Every unit takes at least one byte, so `$o <= $i` throughout, and a write of 16
/// units at `$o` ends within `$b.len()` units wherever 16 bytes at `$i` are in `$b`:
/// the caller's destination holds a unit per byte.
macro_rules! steps {
    ($b:expr, $i:ident, $o:ident, $ascii:expr, $one:expr, $step:expr, $step8:expr) => {
        while $i + 80 <= $b.len() {
            let window: &[u8; 64] = $b[$i..$i + 64].try_into().expect("64 bytes");
            let (cont, high, four) = masks(window);
            if high == 0 {
                for k in 0..4 {
                    $ascii($i + 16 * k, $o + 16 * k);
                }
                $i += 64;
                $o += 64;
                continue;
            }
            // Bit k: byte k ends a character (byte k + 1 starts one); known for k < 63.
            let ends = !(cont >> 1) & (u64::MAX >> 1);
            // `next_four`: where the next 4-byte character starts (64 if none).
            let (mut e, mut f, mut start) = (ends, four, 0_usize);
            let mut next_four = f.trailing_zeros();
            loop {
                let e3 = e & e.wrapping_sub(1);
                let e3 = e3 & e3.wrapping_sub(1);
                let e3 = e3 & e3.wrapping_sub(1);
                if e3 == 0 {
                    break;
                }
                let end4 = e3.trailing_zeros();
                let e4 = e3 & e3.wrapping_sub(1);
                let e7 = e4 & e4.wrapping_sub(1);
                let e7 = e7 & e7.wrapping_sub(1);
                let e7 = e7 & e7.wrapping_sub(1);
                let end8 = e7.trailing_zeros();
                if e7 != 0 && next_four > end8 {
                    // Eight characters of one to three bytes: four in each lane.
                    let start2 = end4 as usize + 1;
                    let (m0, m1) = ((e >> start) as usize, (e4 >> start2) as usize);
                    // SAFETY: `start, start2 < 63`, so both loads end by `$i + 79`, within
                    // `$b`.
                    let v = unsafe { load2_at($b, $i + start, $i + start2) };
                    $step8(code_points8(v, m0, m1), $o);
                    $o += 8;
                    start = end8 as usize + 1;
                    e = e7 & e7.wrapping_sub(1);
                    continue;
                }
                if next_four <= end4 {
                    // A 4-byte character among the next four: the characters before it
                    // in one step (the table stops before a 4-byte character; the lanes
                    // after them are written over next), then it alone. It ends by
                    // `end4 <= 62`, so `start` stays below 64.
                    let four_at = next_four as usize;
                    if four_at > start {
                        let end_mask = (e >> start) as usize & 0xfff;
                        // SAFETY: `$i + start + 16 <= $i + 79 <= $b.len()` (`start < 63`).
                        let v = unsafe { load_at($b, $i + start) };
                        $step(code_points(v, end_mask), $o);
                        // The characters before it: the ends left below it.
                        $o += (e & ((1 << four_at) - 1)).count_ones() as usize;
                    }
                    let (cp, len) = char_at($b, $i + four_at);
                    $o += $one(cp, $o);
                    start = four_at + len;
                    f &= f - 1;
                    next_four = f.trailing_zeros();
                    e &= u64::MAX << start;
                    continue;
                } else {
                    // Four characters of one to three bytes end within 12 bytes.
                    let end_mask = (e >> start) as usize & 0xfff;
                    // SAFETY: `$i + start + 16 <= $i + 79 <= $b.len()` (`start < 63`).
                    let v = unsafe { load_at($b, $i + start) };
                    $step(code_points(v, end_mask), $o);
                    $o += 4;
                    start = end4 as usize + 1;
                }
                e = e3 & e3.wrapping_sub(1);
            }
            $i += start;
        }
    };
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

/// The 16 bytes at `b[i..]` in the low lane, those at `b[j..]` in the high one.
///
/// # Safety
/// `i + 16 <= b.len()` and `j + 16 <= b.len()`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load2_at(b: &[u8], i: usize, j: usize) -> __m256i {
    debug_assert!(i.max(j) + 16 <= b.len());
    // SAFETY: `i + 16 <= b.len()`, per the contract.
    let lo = unsafe { b.as_ptr().add(i) };
    // SAFETY: `j + 16 <= b.len()`, per the contract.
    let hi = unsafe { b.as_ptr().add(j) };
    // SAFETY: 16 readable bytes at each; `loadu2` has no alignment requirement.
    unsafe { _mm256_loadu2_m128i(hi.cast(), lo.cast()) }
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
/// written, all of `dst[..n]` initialised.
#[target_feature(enable = "avx2,bmi1,bmi2,popcnt")]
pub(super) fn utf32(span: &str, dst: &mut [MaybeUninit<u32>]) -> usize {
    let b = span.as_bytes();
    assert!(dst.len() >= b.len(), "a unit per byte");
    let out = Out::new(dst);
    let (mut i, mut o) = (0, 0);
    // In each closure, the units written at `o` are in `dst` and the bytes read at `i`
    // in `b` (see `steps`).
    let ascii = |i: usize, o: usize| {
        // SAFETY: see above.
        let v = unsafe { load_at(b, i) };
        let high = _mm_unpackhi_epi64(v, v);
        let (v, high) = (_mm256_cvtepu8_epi32(v), _mm256_cvtepu8_epi32(high));
        // SAFETY: see above; 8 units of 4 bytes each.
        unsafe { out.put(o, v) };
        // SAFETY: see above.
        unsafe { out.put(o + 8, high) };
    };
    let one = |cp: u32, o: usize| {
        // SAFETY: see above.
        unsafe { out.put(o, cp) };
        1
    };
    let step = |cp: __m128i, o: usize| {
        // SAFETY: see above; 4 units.
        unsafe { out.put(o, cp) };
    };
    let step8 = |cp: __m256i, o: usize| {
        // SAFETY: see above; 8 units.
        unsafe { out.put(o, cp) };
    };
    steps!(b, i, o, ascii, one, step, step8);
    for (d, c) in dst[o..].iter_mut().zip(span[i..].chars()) {
        d.write(u32::from(c));
        o += 1;
    }
    o
}

/// Decodes `span` to UTF-16 into `dst` (at least one unit per byte); returns the units
/// written, all of `dst[..n]` initialised.
#[target_feature(enable = "avx2,bmi1,bmi2,popcnt")]
pub(super) fn utf16(span: &str, dst: &mut [MaybeUninit<u16>]) -> usize {
    let b = span.as_bytes();
    assert!(dst.len() >= b.len(), "a unit per byte");
    let out = Out::new(dst);
    let (mut i, mut o) = (0, 0);
    // In each closure, the units written at `o` are in `dst` and the bytes read at `i`
    // in `b` (see `steps`).
    let ascii = |i: usize, o: usize| {
        // SAFETY: see above.
        let v = unsafe { load_at(b, i) };
        let v = _mm256_cvtepu8_epi16(v);
        // SAFETY: see above; 16 units of 2 bytes each.
        unsafe { out.put(o, v) };
    };
    let one = |cp: u32, o: usize| {
        if cp < 0x1_0000 {
            // SAFETY: see above; a character of up to 3 bytes takes one unit.
            unsafe { out.put(o, cp as u16) };
            1
        } else {
            let c = cp - 0x1_0000;
            let pair = [0xd800 | (c >> 10) as u16, 0xdc00 | (c & 0x3ff) as u16];
            // SAFETY: see above; a 4-byte character takes two units.
            unsafe { out.put(o, pair) };
            2
        }
    };
    let step = |cp: __m128i, o: usize| {
        // Code points of at most three bytes fit 16 bits: the saturating pack keeps them.
        let units = _mm_packus_epi32(cp, cp);
        // SAFETY: see above; 4 units of 2 bytes each.
        let p = unsafe { out.at::<__m128i>(o) };
        // SAFETY: `p` has room for the 8 bytes `storel` writes, unaligned.
        unsafe { _mm_storel_epi64(p, units) };
    };
    let step8 = |cp: __m256i, o: usize| {
        // Each lane packs its four code points into its low 8 bytes; the permute brings
        // both halves together.
        let packed = _mm256_packus_epi32(cp, cp);
        let units = _mm256_castsi256_si128(_mm256_permute4x64_epi64::<0b10_00>(packed));
        // SAFETY: see above; 8 units of 2 bytes each.
        unsafe { out.put(o, units) };
    };
    steps!(b, i, o, ascii, one, step, step8);
    for c in span[i..].chars() {
        let mut units = [0; 2];
        for &u in c.encode_utf16(&mut units).iter() {
            dst[o].write(u);
            o += 1;
        }
    }
    o
}
