//! Kernels for `scripts/text-instructions.sh`: hex decoding and UTF-8 to UTF-16/UTF-32,
//! ours against the peers, on the inputs of `benches/hex.rs` and `benches/strings.rs`.
//!
//! Each kernel is an `#[inline(never)]` function that makes one call on its input, the
//! result passed through `black_box`. Run as `text_kernels <kernel>` to run one kernel
//! once (for callgrind's `--toggle-collect`), `text_kernels --list` to list them with
//! their input sizes; `text_kernels --time [ROUNDS]` times them round-robin in one
//! process and prints the minimum over the rounds, in input bytes per second (10^9 = 1
//! GB/s), and each peer's time over ours; `text_kernels --placements [COPIES]` times
//! dense hex with its input in that many places (see [`placements`]). With no argument
//! (as `cargo bench` runs it) it runs each kernel once and checks that ours and the peer
//! agree.

use std::hint::black_box;
use std::time::{Duration, Instant};

use vmallocator::{CharWidth, Mallocator, Protection};

const MIB: usize = 1 << 20;

fn bytes(n: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn dense(len: usize) -> String {
    bytes(len / 2).iter().map(|b| format!("{b:02x}")).collect()
}

/// `unit` repeated to at most `len` bytes (whole units).
fn repeat(unit: &str, len: usize) -> String {
    unit.repeat(len / unit.len())
}

const ASCII_UNIT: &str = "The quick brown fox jumps over the lazy dog; \
    pack my box with five dozen liquor jugs. 0123456789 (ASCII only)\n";
/// About two thirds of its bytes non-ASCII (69 %), as in `benches/strings.rs`.
const MIXED_UNIT: &str = "Größe, Straße, café, naïve and Привет, как дела? Съешь ещё этих \
    булок. 日本語のテキストと中文。🦀🚀 ok, Dvořák said.\n";

/// `unit` repeated, cut at a character boundary to at most `len` bytes.
fn text(unit: &str, len: usize) -> String {
    let mut s = unit.repeat(len / unit.len() + 1);
    let mut cut = len;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s
}

struct Ctx {
    m: Mallocator,
    buf8: Vec<u8>,
    /// `hex_append`'s output, its capacity kept between calls.
    vec8: Vec<u8>,
    buf16: Vec<u16>,
    /// The UTF-32 peers' output.
    #[cfg(feature = "simdutf")]
    buf32: Vec<u32>,
}

type Kernel = fn(&mut Ctx, &str);

#[inline(never)]
fn hex_ours(c: &mut Ctx, s: &str) {
    black_box(c.m.alloc_hex(black_box(s)).expect("valid"));
    c.m.reset();
}

/// `alloc_hex` with its block 16 bytes into the arena's first page instead of at its start:
/// the same work at another offset from the input, to show how placement moves the time.
#[inline(never)]
fn hex_ours_off16(c: &mut Ctx, s: &str) {
    black_box(c.m.alloc(16, 1).expect("fits"));
    black_box(c.m.alloc_hex(black_box(s)).expect("valid"));
    c.m.reset();
}

/// `hex::decode_append` into a reused `Vec` (the library's decoder without the arena).
#[inline(never)]
fn hex_append(c: &mut Ctx, s: &str) {
    c.vec8.clear();
    vmallocator::hex::decode_append(black_box(s), &mut c.vec8).expect("valid");
    black_box(&c.vec8);
}

#[inline(never)]
fn hex_const_hex(c: &mut Ctx, s: &str) {
    const_hex::decode_to_slice(black_box(s), &mut c.buf8[..s.len() / 2]).expect("valid");
    black_box(&c.buf8);
}

#[inline(never)]
fn utf16_ours(c: &mut Ctx, s: &str) {
    black_box(c.m.alloc_str(black_box(s), CharWidth::U16).expect("fits"));
    c.m.reset();
}

#[inline(never)]
fn utf16_encoding_rs(c: &mut Ctx, s: &str) {
    let n = encoding_rs::mem::convert_str_to_utf16(black_box(s), &mut c.buf16);
    c.buf16[n] = 0;
    black_box(&c.buf16);
}

#[inline(never)]
fn utf32_ours(c: &mut Ctx, s: &str) {
    black_box(c.m.alloc_str(black_box(s), CharWidth::U32).expect("fits"));
    c.m.reset();
}

#[inline(never)]
fn utf32_chars(_: &mut Ctx, s: &str) {
    black_box(black_box(s).chars().map(u32::from).collect::<Vec<u32>>());
}

/// simdutf's UTF-8 to UTF-16 (its fastest call: the input known valid), and a NUL after.
#[cfg(feature = "simdutf")]
#[inline(never)]
fn utf16_simdutf(c: &mut Ctx, s: &str) {
    let s = black_box(s);
    assert!(c.buf16.len() > s.len());
    // SAFETY: `s` is valid UTF-8; `buf16` holds more units than `s` has bytes, and every
    // unit takes at least one byte.
    let n =
        unsafe { simdutf::convert_valid_utf8_to_utf16(s.as_ptr(), s.len(), c.buf16.as_mut_ptr()) };
    c.buf16[n] = 0;
    black_box(&c.buf16);
}

/// simdutf's UTF-8 to UTF-32 (the input known valid), and a NUL after.
#[cfg(feature = "simdutf")]
#[inline(never)]
fn utf32_simdutf(c: &mut Ctx, s: &str) {
    let s = black_box(s);
    assert!(c.buf32.len() > s.len());
    // SAFETY: as in `utf16_simdutf`, with `buf32`.
    let n =
        unsafe { simdutf::convert_valid_utf8_to_utf32(s.as_ptr(), s.len(), c.buf32.as_mut_ptr()) };
    c.buf32[n] = 0;
    black_box(&c.buf32);
}

/// A case: name, input, ours, the peer (if any) and its name.
type Case = (String, String, Kernel, Option<(Kernel, &'static str)>);

fn cases() -> Vec<Case> {
    let mut v: Vec<Case> = Vec::new();
    for (len, tag) in [(4 << 10, "4k"), (MIB, "1m")] {
        v.push((
            format!("hex_dense_{tag}"),
            dense(len),
            hex_ours,
            Some((hex_const_hex, "const-hex")),
        ));
        // The same input, the block 16 bytes further.
        v.push((
            format!("hex_off16_dense_{tag}"),
            dense(len),
            hex_ours_off16,
            Some((hex_const_hex, "const-hex")),
        ));
        // The same input, another copy of it, through `hex::decode_append`.
        v.push((
            format!("hex_append_dense_{tag}"),
            dense(len),
            hex_append,
            Some((hex_const_hex, "const-hex")),
        ));
    }
    for (name, unit) in [
        ("hex_0x42", "00 ab f9 0x42 "),
        ("hex_c_array", "0x48, 0x31, 0xc0, "),
        ("hex_escapes", r"\x48\x31\xc0\x0f\x05"),
        (
            "hex_listing",
            "b8 2a 00 00 00    ; mov eax, 42\n0f 05             ; syscall\n",
        ),
    ] {
        v.push((name.to_string(), repeat(unit, MIB), hex_ours, None));
    }
    let spaced: String = bytes(MIB / 3)
        .iter()
        .enumerate()
        .map(|(i, b)| format!("{b:02x}{}", if i % 16 == 15 { '\n' } else { ' ' }))
        .collect();
    v.push(("hex_spaced".into(), spaced, hex_ours, None));
    for (len, tag) in [(4 << 10, "4k"), (MIB, "1m")] {
        for (unit, kind) in [(ASCII_UNIT, "ascii"), (MIXED_UNIT, "mixed")] {
            let s = text(unit, len);
            v.push((
                format!("utf16_{kind}_{tag}"),
                s.clone(),
                utf16_ours,
                Some((utf16_encoding_rs, "encoding_rs")),
            ));
            #[cfg(feature = "simdutf")]
            {
                v.push((
                    format!("utf16_{kind}_{tag}_simdutf"),
                    s.clone(),
                    utf16_ours,
                    Some((utf16_simdutf, "simdutf")),
                ));
                v.push((
                    format!("utf32_{kind}_{tag}_simdutf"),
                    s.clone(),
                    utf32_ours,
                    Some((utf32_simdutf, "simdutf")),
                ));
            }
            v.push((
                format!("utf32_{kind}_{tag}"),
                s,
                utf32_ours,
                Some((utf32_chars, "chars().collect()")),
            ));
        }
    }
    v
}

fn ctx() -> Ctx {
    Ctx {
        m: Mallocator::with_size(8 * MIB, Protection::READ_WRITE).expect("arena"),
        buf8: vec![0; MIB],
        vec8: Vec::with_capacity(MIB),
        buf16: vec![0; MIB + 1],
        #[cfg(feature = "simdutf")]
        buf32: vec![0; MIB + 1],
    }
}

/// The median of `v` (not empty).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One kernel's runs: its name, input, kernel, calls per batch, and each round's time of
/// one call.
struct Run<'a> {
    name: String,
    input: &'a str,
    kernel: Kernel,
    batch: usize,
    times: Vec<Duration>,
}

impl Run<'_> {
    /// Input bytes per second at the shortest time of one call, in GB/s.
    fn rate(&self) -> f64 {
        let best = self.times.iter().min().expect("timed");
        self.input.len() as f64 / best.as_secs_f64() / 1e9
    }
}

/// For each case, `rounds` rounds of batches of at least 2 ms, each batch after one
/// untimed call of its kernel. Prints the rate at each kernel's shortest call, and the
/// peer's time over ours as the median over the rounds of that round's ratio: a round's
/// two batches follow one another, so their ratio holds where this CPU's clock moves
/// between rounds, which a ratio of shortest times does not. The ratio of the shortest
/// times follows in brackets: where a peer's calls vary (a peer that allocates), the
/// two differ, and the lower one is the one to quote.
fn time_all(rounds: usize) {
    let cases = cases();
    let mut c = ctx();
    let mut runs: Vec<Run> = Vec::new();
    for (name, s, ours, peer) in &cases {
        let mut push = |name: String, kernel: Kernel| {
            runs.push(Run {
                name,
                input: s,
                kernel,
                batch: 0,
                times: Vec::with_capacity(rounds),
            })
        };
        push(name.clone(), *ours);
        if let Some((p, pname)) = peer {
            push(format!("{name} {pname}"), *p);
        }
    }
    for r in runs.iter_mut() {
        // Calls per batch: enough for 2 ms.
        let t = Instant::now();
        (r.kernel)(&mut c, r.input);
        let one = t.elapsed().as_nanos().max(1) as usize;
        r.batch = (2_000_000 / one).max(1);
    }
    for _ in 0..rounds {
        for r in runs.iter_mut() {
            // One untimed call first, so every batch starts with its input and output in
            // the caches, whichever kernel ran before it (else a kernel that follows
            // another input's kernel pays for the cold start that its peer, run next on
            // the same input, does not).
            (r.kernel)(&mut c, r.input);
            let t = Instant::now();
            for _ in 0..r.batch {
                (r.kernel)(&mut c, r.input);
            }
            r.times.push(t.elapsed() / r.batch as u32);
        }
    }
    let mut k = 0;
    for (_, _, _, peer) in &cases {
        let ours = &runs[k];
        match peer {
            Some(_) => {
                let p = &runs[k + 1];
                let ratio = median(
                    p.times
                        .iter()
                        .zip(&ours.times)
                        .map(|(p, o)| p.as_secs_f64() / o.as_secs_f64())
                        .collect(),
                );
                println!(
                    "{:<16} ours {:>7.2} GB/s  {:<18} {:>7.2} GB/s  peer time / ours {:.2} \
                     (of the shortest {:.2})",
                    ours.name,
                    ours.rate(),
                    p.name.split_once(' ').map_or("", |x| x.1),
                    p.rate(),
                    ratio,
                    ours.rate() / p.rate()
                );
                k += 2;
            }
            None => {
                println!("{:<16} ours {:>7.2} GB/s", ours.name, ours.rate());
                k += 1;
            }
        }
    }
}

/// Dense hex through `alloc_hex` against const-hex, like `hex_dense_*`, with the input in
/// `copies` places: each copy its own allocation, the `k`-th one `16 * k` bytes into it,
/// so the input's page offset and its distance from both outputs change from copy to
/// copy. Prints peer time / ours for each copy (the minimum over 15 interleaved rounds
/// each) and the smallest, the median and the largest of them.
fn placements(copies: usize) {
    for (len, tag) in [(4 << 10, "4k"), (MIB, "1m")] {
        let s = dense(len);
        let mut c = ctx();
        let held: Vec<Vec<u8>> = (0..copies)
            .map(|k| {
                let mut v = vec![b'0'; 16 * k + s.len()];
                v[16 * k..].copy_from_slice(s.as_bytes());
                v
            })
            .collect();
        let mut ratios: Vec<f64> = held
            .iter()
            .enumerate()
            .map(|(k, v)| {
                let input = std::str::from_utf8(&v[16 * k..]).expect("ASCII");
                let batch = (2_000_000 / (len / 8).max(1)).max(1);
                let (mut ours, mut peer) = (Duration::MAX, Duration::MAX);
                for _ in 0..15 {
                    hex_ours(&mut c, input);
                    let t = Instant::now();
                    for _ in 0..batch {
                        hex_ours(&mut c, input);
                    }
                    ours = ours.min(t.elapsed());
                    hex_const_hex(&mut c, input);
                    let t = Instant::now();
                    for _ in 0..batch {
                        hex_const_hex(&mut c, input);
                    }
                    peer = peer.min(t.elapsed());
                }
                peer.as_secs_f64() / ours.as_secs_f64()
            })
            .collect();
        let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        ratios.sort_by(f64::total_cmp);
        println!(
            "hex_dense_{tag} in {copies} places: peer time / ours min {:.2} median {:.2} max {:.2} ({})",
            ratios[0],
            ratios[ratios.len() / 2],
            ratios[ratios.len() - 1],
            each.join(" ")
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cases = cases();
    match args.first().map(String::as_str) {
        Some("--list") => {
            for (name, s, _, peer) in &cases {
                println!("{name} {} ours", s.len());
                if let Some((_, p)) = peer {
                    println!("{name} {} {p}", s.len());
                }
            }
        }
        Some("--time") => time_all(args.get(1).and_then(|r| r.parse().ok()).unwrap_or(15)),
        Some("--placements") => placements(args.get(1).and_then(|r| r.parse().ok()).unwrap_or(16)),
        Some(kernel) if !kernel.starts_with('-') => {
            // `<case>` runs ours, `<case>:peer` the peer; once each.
            let (case, peer) = kernel
                .strip_suffix(":peer")
                .map_or((kernel, false), |c| (c, true));
            let (_, s, ours, p) = cases
                .iter()
                .find(|c| c.0 == case)
                .unwrap_or_else(|| panic!("no case {case}"));
            let mut c = ctx();
            if peer {
                (p.expect("a peer").0)(&mut c, s);
            } else {
                ours(&mut c, s);
            }
        }
        _ => {
            let mut c = ctx();
            for (name, s, ours, peer) in &cases {
                ours(&mut c, s);
                if let Some((p, _)) = peer {
                    p(&mut c, s);
                }
                println!("ran {name}");
            }
        }
    }
}
