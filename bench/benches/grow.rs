//! Growth and reuse: first touch of 1 GiB with 4 KiB pages against transparent huge pages,
//! `reset` against bumpalo's, and the cost of committing each MiB of growth.
//!
//! `cargo bench -p vmallocator-bench --bench grow`

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use vmallocator::{HugePages, Mallocator, page_size};

const GIB: usize = 1 << 30;

fn touch_every_page(m: &Mallocator, len: usize) {
    let block = m.alloc(len, 1).unwrap();
    let mut offset = 0;
    while offset < len {
        let byte = block.as_ptr().wrapping_add(offset);
        // SAFETY: `block` is `len` bytes of committed, writable memory that nothing else
        // references, and `offset < len`.
        unsafe { byte.write_volatile(1) };
        offset += page_size();
    }
}

fn first_touch(c: &mut Criterion) {
    let mut g = c.benchmark_group("grow/first touch 1 GiB");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Bytes(GIB as u64));
    for (name, huge) in [
        ("vmallocator/4 KiB pages", HugePages::Off),
        ("vmallocator/transparent huge pages", HugePages::Transparent),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let m = Mallocator::builder()
                        .size(GIB)
                        .huge_pages(huge)
                        .build()
                        .unwrap();
                    assert_eq!(m.huge_pages(), huge, "{:?}", m.huge_pages_fallback());
                    m
                },
                |m| {
                    touch_every_page(&m, GIB);
                    m
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

fn reset(c: &mut Criterion) {
    let mut g = c.benchmark_group("grow/100 x u64 then reset");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let mut ours = Mallocator::with_size(1 << 20, vmallocator::Protection::READ_WRITE).unwrap();
    g.bench_function("vmallocator", |b| {
        b.iter(|| {
            for i in 0..100u64 {
                let p = ours
                    .alloc_layout(core::alloc::Layout::new::<u64>())
                    .unwrap();
                // SAFETY: a fresh, aligned, writable 8-byte block.
                unsafe { p.cast::<u64>().write(black_box(i)) };
            }
            ours.reset();
        })
    });
    let mut bump = bumpalo::Bump::with_capacity(1 << 20);
    g.bench_function("bumpalo", |b| {
        b.iter(|| {
            for i in 0..100u64 {
                black_box(bump.alloc(black_box(i)));
            }
            bump.reset();
        })
    });
    g.finish();

    let mut g = c.benchmark_group("grow/reset alone");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g.bench_function("vmallocator", |b| {
        b.iter(|| {
            black_box(&mut ours).reset();
        })
    });
    g.bench_function("bumpalo", |b| {
        b.iter(|| {
            black_box(&mut bump).reset();
        })
    });
    g.finish();
}

fn commit(c: &mut Criterion) {
    const MIB: usize = 1 << 20;
    const STEPS: usize = 64;
    let mut g = c.benchmark_group("grow/commit per MiB of growth");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Bytes((STEPS * MIB) as u64));
    g.bench_function("vmallocator/1 MiB blocks, step 1 MiB, untouched", |b| {
        b.iter_batched(
            || {
                Mallocator::builder()
                    .reserve(STEPS * MIB)
                    .commit_step(MIB)
                    .build()
                    .unwrap()
            },
            |m| {
                for _ in 0..STEPS {
                    black_box(m.alloc(MIB, 1).unwrap());
                }
                m
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, first_touch, reset, commit);
criterion_main!(benches);
