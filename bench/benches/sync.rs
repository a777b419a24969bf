//! The thread-safe arena against `Mallocator` and bumpalo, in one run so the ratios hold.
//!
//! - `sync/single/*`: one thread, batches of 1000 mixed allocations (1 to 64 bytes at
//!   alignment 8), the arena reset between batches: `Mallocator::alloc_layout`,
//!   `SharedArena` through a `Local` handle (made per batch) and through `&self` (the
//!   thread-local lookup), and `bumpalo::Bump::alloc_layout`.
//! - `sync/threads/{1,2}`: the same allocations through one `Local` handle per thread,
//!   each writing a byte into its block, on 1 and 2 threads started on a spinning barrier
//!   in a region committed and touched before timing. Throughput is per allocation over
//!   all threads: the ratio of the two is the scaling.

use std::alloc::Layout;
use std::hint::black_box;
use std::time::Duration;

use bumpalo::Bump;
use criterion::{Criterion, Throughput};
use vmallocator::{Mallocator, Protection, SharedArena};

#[path = "common/threads.rs"]
mod threads;
use threads::{layouts, prefault, timed, touch};

/// Allocations per timed iteration.
const BATCH: usize = 1000;
/// Allocations per thread between two resets in the thread benchmarks.
const ROUND: usize = 1 << 20;

fn single(c: &mut Criterion, table: &[Layout]) {
    let mut g = c.benchmark_group("sync/single");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(BATCH as u64));
    let mut m = Mallocator::with_size(1 << 20, Protection::READ_WRITE).expect("arena");
    g.bench_function("Mallocator", |b| {
        b.iter(|| {
            for &l in table {
                black_box(m.alloc_layout(l).expect("fits"));
            }
            m.reset();
        });
    });
    let mut a = SharedArena::with_size(1 << 20, Protection::READ_WRITE).expect("arena");
    g.bench_function("SharedArena local()", |b| {
        b.iter(|| {
            let local = a.local();
            for &l in table {
                black_box(local.alloc_layout(l).expect("fits"));
            }
            drop(local);
            a.reset();
        });
    });
    g.bench_function("SharedArena &self", |b| {
        b.iter(|| {
            for &l in table {
                black_box(a.alloc_layout(l).expect("fits"));
            }
            a.reset();
        });
    });
    let mut bump = Bump::with_capacity(1 << 20);
    g.bench_function("bumpalo", |b| {
        b.iter(|| {
            for &l in table {
                black_box(bump.alloc_layout(l));
            }
            bump.reset();
        });
    });
    g.finish();
}

fn threads(c: &mut Criterion, table: &[Layout]) {
    let per_thread: usize = table.iter().map(|l| l.size() + 8).sum::<usize>() * (ROUND / BATCH);
    let mut arena =
        SharedArena::with_size(2 * per_thread + (8 << 20), Protection::READ_WRITE).expect("arena");
    {
        let all = arena.alloc(arena.size() - 4096, 4096).expect("whole");
        prefault(all.as_ptr(), arena.size() - 4096);
    }
    let mut g = c.benchmark_group("sync/threads");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for t in [1, 2] {
        g.throughput(Throughput::Elements((BATCH * t) as u64));
        g.bench_function(t.to_string(), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters as usize * BATCH;
                while left > 0 {
                    let n = left.min(ROUND);
                    arena.reset();
                    let a = &arena;
                    total += timed(
                        t,
                        |_| a.local(),
                        |local| {
                            for &l in table.iter().cycle().take(n) {
                                touch(local.alloc_layout(l).expect("fits").as_ptr());
                            }
                        },
                    );
                    left -= n;
                }
                total
            });
        });
    }
    g.finish();
}

fn main() {
    let table = layouts(BATCH);
    let mut c = Criterion::default().configure_from_args();
    single(&mut c, &table);
    threads(&mut c, &table);
    c.final_summary();
}
