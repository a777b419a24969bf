//! Collections in the arena: 1,000,000 `u64` pushes into `allocator_api2::vec::Vec` with
//! `&Mallocator` as its allocator, against bumpalo's `Vec` (its `collections` feature) and
//! std's `Vec` on the global allocator. Each iteration starts from an empty arena: the
//! arena's `Vec` gives its block back when dropped (it is the last one), bumpalo is reset.
//!
//! `cargo bench -p vmallocator-bench --bench typed`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use vmallocator::Mallocator;

const N: u64 = 1_000_000;

#[inline(never)]
fn push_ours(m: &Mallocator) -> u64 {
    let mut v = allocator_api2::vec::Vec::new_in(m);
    for i in 0..N {
        v.push(black_box(i));
    }
    v[v.len() / 2]
}

#[inline(never)]
fn push_bumpalo(b: &bumpalo::Bump) -> u64 {
    let mut v = bumpalo::collections::Vec::new_in(b);
    for i in 0..N {
        v.push(black_box(i));
    }
    v[v.len() / 2]
}

#[inline(never)]
fn push_std() -> u64 {
    let mut v = Vec::new();
    for i in 0..N {
        v.push(black_box(i));
    }
    v[v.len() / 2]
}

fn vec_push(c: &mut Criterion) {
    let mut g = c.benchmark_group("typed/Vec<u64> 1M pushes");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(N));
    let m = Mallocator::builder().reserve(1 << 30).build().unwrap();
    // Commit once up front, as bumpalo's chunk is allocated once below.
    m.alloc_slice_zeroed::<u64>(2 << 20).unwrap();
    let mut m = m;
    m.reset();
    g.bench_function("vmallocator (allocator_api2 Vec)", |b| {
        b.iter(|| black_box(push_ours(&m)))
    });
    let mut bump = bumpalo::Bump::with_capacity(32 << 20);
    g.bench_function("bumpalo (collections Vec)", |b| {
        b.iter(|| {
            bump.reset();
            black_box(push_bumpalo(&bump))
        })
    });
    g.bench_function("std Vec", |b| b.iter(|| black_box(push_std())));
    g.finish();
}

criterion_group!(benches, vec_push);
criterion_main!(benches);
