//! Hex decoding throughput: `vmallocator::hex` and `Mallocator::alloc_hex` against `hex`
//! and `const-hex` on dense input (4 KiB and 1 MiB), against a plain scalar parser (and
//! "strip the spaces, then `const-hex`") on spaced input, and on mixed tokens (`0x`
//! prefixes, `\x` escapes, commented listings). Run with `cargo bench -p vmallocator-bench --bench hex`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vmallocator::{Mallocator, Protection};

/// 1 MiB of input.
const INPUT_LEN: usize = 1 << 20;

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

/// `"00abf9..."`: `INPUT_LEN` digits in one run.
fn dense_input() -> String {
    bytes(INPUT_LEN / 2)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `"00 ab f9 ..."`: one space between bytes and a newline after every 16.
fn spaced_input() -> String {
    bytes(INPUT_LEN / 3)
        .iter()
        .enumerate()
        .map(|(i, b)| format!("{b:02x}{}", if i % 16 == 15 { '\n' } else { ' ' }))
        .collect()
}

/// The baseline: a plain byte-at-a-time parser for whitespace-separated pairs.
fn scalar_spaced(input: &str, out: &mut Vec<u8>) -> Result<(), usize> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let b = input.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        match (digit(b[i]), b.get(i + 1).copied().and_then(digit)) {
            (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
            _ => return Err(i),
        }
        i += 2;
    }
    Ok(())
}

fn dense(c: &mut Criterion) {
    for len in [4 << 10, INPUT_LEN] {
        dense_at(c, &dense_input()[..len]);
    }
}

fn dense_at(c: &mut Criterion, input: &str) {
    let mut g = c.benchmark_group(format!("hex/dense {} KiB", input.len() >> 10));
    g.sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .throughput(Throughput::Bytes(input.len() as u64));
    let mut out = Vec::new();
    g.bench_function("vmallocator", |bch| {
        bch.iter(|| {
            out.clear();
            vmallocator::hex::decode_append(black_box(input), &mut out).unwrap();
        })
    });
    let mut m = Mallocator::with_size(INPUT_LEN, Protection::READ_WRITE).expect("arena");
    g.bench_function("vmallocator/alloc_hex", |bch| {
        bch.iter(|| {
            black_box(m.alloc_hex(black_box(input)).unwrap());
            m.reset();
        })
    });
    let mut buf = vec![0; input.len() / 2];
    g.bench_function("hex", |bch| {
        bch.iter(|| hex::decode_to_slice(black_box(input), &mut buf).unwrap())
    });
    g.bench_function("const-hex", |bch| {
        bch.iter(|| const_hex::decode_to_slice(black_box(input), &mut buf).unwrap())
    });
    g.finish();
}

fn spaced(c: &mut Criterion) {
    let input = spaced_input();
    let mut g = c.benchmark_group("hex/spaced");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .throughput(Throughput::Bytes(input.len() as u64));
    let mut out = Vec::new();
    g.bench_function("vmallocator", |bch| {
        bch.iter(|| {
            out.clear();
            vmallocator::hex::decode_append(black_box(&input), &mut out).unwrap();
        })
    });
    g.bench_function("scalar", |bch| {
        bch.iter(|| {
            out.clear();
            scalar_spaced(black_box(&input), &mut out).unwrap();
        })
    });
    let mut stripped = Vec::with_capacity(input.len());
    g.bench_function("strip+const-hex", |bch| {
        bch.iter(|| {
            stripped.clear();
            stripped.extend(
                black_box(&input)
                    .bytes()
                    .filter(|c| !c.is_ascii_whitespace()),
            );
            out.clear();
            out.resize(stripped.len() / 2, 0);
            const_hex::decode_to_slice(&stripped, &mut out).unwrap();
        })
    });
    g.finish();
}

/// Mixed tokens, each layout repeated to 1 MiB: through `alloc_hex`, against the plain
/// scalar loop where it reads the layout (whitespace-separated pairs only).
fn mixed(c: &mut Criterion) {
    let layouts = [
        ("00 ab f9 0x42", "00 ab f9 0x42 "),
        ("0x48, 0x31, 0xc0,", "0x48, 0x31, 0xc0, "),
        ("\\x escapes", r"\x48\x31\xc0\x0f\x05"),
        (
            "listing",
            "b8 2a 00 00 00    ; mov eax, 42\n0f 05             ; syscall\n",
        ),
    ];
    let mut m = Mallocator::with_size(INPUT_LEN, Protection::READ_WRITE).expect("arena");
    for (name, unit) in layouts {
        let input = unit.repeat(INPUT_LEN / unit.len());
        let mut g = c.benchmark_group(format!("hex/mixed {name}"));
        g.sample_size(20)
            .measurement_time(Duration::from_secs(2))
            .warm_up_time(Duration::from_millis(500))
            .throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function("vmallocator/alloc_hex", |bch| {
            bch.iter(|| {
                black_box(m.alloc_hex(black_box(&input)).unwrap());
                m.reset();
            })
        });
        let mut out = Vec::with_capacity(input.len() / 2);
        if scalar_spaced(&input, &mut out).is_ok() {
            g.bench_function("scalar", |bch| {
                bch.iter(|| {
                    out.clear();
                    scalar_spaced(black_box(&input), &mut out).unwrap();
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, dense, spaced, mixed);
criterion_main!(benches);
