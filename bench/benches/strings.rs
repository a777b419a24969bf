//! String encoding throughput: `Mallocator::alloc_str` against std's ways of making the
//! same NUL-terminated or wide string, and encoding_rs for UTF-16, one criterion group
//! per (width, text).
//!
//! The arena is created once and reset after every string. Throughput is in bytes of the
//! UTF-8 input.

use std::ffi::CString;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use vmallocator::{CharWidth, Mallocator, Protection};

/// Arena capacity: room for the largest input (1 MiB) as UTF-32 plus a terminator.
const ARENA: usize = 8 << 20;

const ASCII_UNIT: &str = "The quick brown fox jumps over the lazy dog; \
    pack my box with five dozen liquor jugs. 0123456789 (ASCII only)\n";
/// About two thirds of its bytes non-ASCII (69 %): accents, Cyrillic, CJK, emoji and
/// short ASCII runs.
const MIXED_UNIT: &str = "Größe, Straße, café, naïve and Привет, как дела? Съешь ещё этих \
    булок. 日本語のテキストと中文。🦀🚀 ok, Dvořák said.\n";

/// `unit` repeated, then cut at a character boundary to at most `len` bytes.
fn text(unit: &str, len: usize) -> String {
    let mut s = unit.repeat(len / unit.len() + 1);
    let mut cut = len;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s
}

fn configure(g: &mut BenchmarkGroup<'_, WallTime>, s: &str) {
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Bytes(s.len() as u64));
}

fn bench_text(c: &mut Criterion, m: &mut Mallocator, name: &str, s: &str) {
    let mut g = c.benchmark_group(format!("utf16/{name}"));
    configure(&mut g, s);
    g.bench_function("vmallocator/alloc_str", |b| {
        b.iter(|| {
            black_box(m.alloc_str(black_box(s), CharWidth::U16).expect("fits"));
            m.reset();
        });
    });
    g.bench_function("std/encode_utf16().collect()", |b| {
        b.iter(|| black_box(black_box(s).encode_utf16().collect::<Vec<u16>>()));
    });
    let mut buf: Vec<u16> = vec![0; s.len() + 1];
    g.bench_function("encoding_rs/convert_str_to_utf16", |b| {
        b.iter(|| {
            let n = encoding_rs::mem::convert_str_to_utf16(black_box(s), &mut buf);
            buf[n] = 0;
            black_box(&buf);
        });
    });
    let mut v: Vec<u16> = Vec::with_capacity(s.len() + 1);
    g.bench_function("std/encode_utf16() into reused Vec", |b| {
        b.iter(|| {
            v.clear();
            v.extend(black_box(s).encode_utf16());
            v.push(0);
            black_box(&v);
        });
    });
    g.finish();

    let mut g = c.benchmark_group(format!("utf32/{name}"));
    configure(&mut g, s);
    g.bench_function("vmallocator/alloc_str", |b| {
        b.iter(|| {
            black_box(m.alloc_str(black_box(s), CharWidth::U32).expect("fits"));
            m.reset();
        });
    });
    g.bench_function("std/chars().map(u32::from).collect()", |b| {
        b.iter(|| black_box(black_box(s).chars().map(u32::from).collect::<Vec<u32>>()));
    });
    g.finish();

    let mut g = c.benchmark_group(format!("utf8/{name}"));
    configure(&mut g, s);
    g.bench_function("vmallocator/alloc_str", |b| {
        b.iter(|| {
            black_box(m.alloc_str(black_box(s), CharWidth::U8).expect("fits"));
            m.reset();
        });
    });
    g.bench_function("std/CString::new", |b| {
        b.iter(|| black_box(CString::new(black_box(s)).expect("no NUL")));
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let mut m = Mallocator::with_size(ARENA, Protection::READ_WRITE).expect("arena");
    for (name, unit, len) in [
        ("ascii 4KiB", ASCII_UNIT, 4 << 10),
        ("ascii 1MiB", ASCII_UNIT, 1 << 20),
        ("mixed 4KiB", MIXED_UNIT, 4 << 10),
        ("mixed 1MiB", MIXED_UNIT, 1 << 20),
    ] {
        let s = text(unit, len);
        // The encoders must agree before their speeds are compared.
        let ours = m.alloc_str(&s, CharWidth::U16).expect("fits");
        let want: Vec<u8> = s
            .encode_utf16()
            .chain([0])
            .flat_map(u16::to_ne_bytes)
            .collect();
        assert_eq!(ours, &want[..], "{name}");
        m.reset();
        bench_text(&mut c, &mut m, name, &s);
    }
    m.free().expect("free");
    c.final_summary();
}
