//! Allocation throughput: batches of small allocations, the arena reset between batches.
//!
//! One criterion group per shape, with every peer in it so the numbers compare:
//! - `vmallocator/alloc_layout` and `vmallocator/alloc`: this crate, reset between batches;
//! - `bumpalo`: `Bump::alloc` / `Bump::alloc_layout`, `Bump::reset` between batches;
//! - `bump-scope`: `Bump<Global, BumpSettings<8, false>>` (8-aligned, downward),
//!   `allocate_sized` / `allocate_layout`, `reset` between batches;
//! - `System` and `mimalloc`: `GlobalAlloc::alloc` for the whole batch, then `dealloc` all.
//!
//! Arenas are created once, outside the timed loop, with room for a whole batch.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::ptr::NonNull;
use std::time::Duration;

use bump_scope::alloc::Global;
use bump_scope::settings::BumpSettings;
use bump_scope::traits::BumpAllocatorTyped;
use bumpalo::Bump;
use criterion::{BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use mimalloc::MiMalloc;
use vmallocator::{Mallocator, Protection};

/// Allocations per timed iteration.
const BATCH: usize = 1000;
/// Arena capacity: far more than a batch of the largest shape needs (1000 x 64 bytes).
const ARENA: usize = 1 << 20;

/// A fixed pseudo-random table of `BATCH` sizes in `1..=64` (xorshift64, fixed seed).
fn mixed_sizes() -> Vec<usize> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..BATCH)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 64) as usize + 1
        })
        .collect()
}

fn configure(g: &mut BenchmarkGroup<'_, WallTime>) {
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(BATCH as u64));
}

/// Allocates a batch with a `GlobalAlloc`, then frees it all. `ptrs` is reused scratch space.
fn global_batch<A: GlobalAlloc>(a: &A, layouts: &[Layout], ptrs: &mut Vec<*mut u8>) {
    ptrs.clear();
    for &layout in layouts {
        // SAFETY: every layout in the tables has a non-zero size.
        let p = unsafe { a.alloc(layout) };
        assert!(!p.is_null(), "allocation failed");
        ptrs.push(black_box(p));
    }
    for (&p, &layout) in ptrs.iter().zip(layouts) {
        // SAFETY: `p` was allocated just above by `a` with `layout`, and is freed once.
        unsafe { a.dealloc(p, layout) };
    }
}

/// The peers shared by all shapes whose layouts are `layouts`.
fn global_peers(g: &mut BenchmarkGroup<'_, WallTime>, layouts: &[Layout]) {
    let mut ptrs = Vec::with_capacity(BATCH);
    g.bench_function("System", |b| {
        b.iter(|| global_batch(&System, layouts, &mut ptrs));
    });
    g.bench_function("mimalloc", |b| {
        b.iter(|| global_batch(&MiMalloc, layouts, &mut ptrs));
    });
}

/// bump-scope at its leanest: every block 8-aligned, bumping downward.
type ScopeBump = bump_scope::Bump<Global, BumpSettings<8, false>>;

fn new_arena() -> Mallocator {
    Mallocator::with_size(ARENA, Protection::READ_WRITE).expect("arena")
}

fn bench_u64(c: &mut Criterion) {
    let mut g = c.benchmark_group("alloc/u64");
    configure(&mut g);
    let layout = Layout::new::<u64>();

    let mut m = new_arena();
    g.bench_function("vmallocator/alloc_layout", |b| {
        b.iter(|| {
            for i in 0..BATCH as u64 {
                let p = m.alloc_layout(layout).expect("fits").cast::<u64>();
                // SAFETY: a fresh, aligned, writable 8-byte block of the arena.
                unsafe { p.as_ptr().write(i) };
                black_box(p);
            }
            m.reset();
        });
    });
    g.bench_function("vmallocator/alloc", |b| {
        b.iter(|| {
            for i in 0..BATCH as u64 {
                let p = m.alloc(8, 8).expect("fits").cast::<u64>();
                // SAFETY: a fresh, aligned, writable 8-byte block of the arena.
                unsafe { p.as_ptr().write(i) };
                black_box(p);
            }
            m.reset();
        });
    });
    m.free().expect("free");

    let mut bump = Bump::with_capacity(ARENA);
    g.bench_function("bumpalo", |b| {
        b.iter(|| {
            for i in 0..BATCH as u64 {
                black_box(NonNull::from(bump.alloc(i)));
            }
            bump.reset();
        });
    });
    let mut scope = ScopeBump::with_size(ARENA);
    g.bench_function("bump-scope", |b| {
        b.iter(|| {
            for i in 0..BATCH as u64 {
                let p = scope.allocate_sized::<u64>();
                // SAFETY: a fresh, aligned, writable 8-byte block of the arena.
                unsafe { p.as_ptr().write(i) };
                black_box(p);
            }
            scope.reset();
        });
    });

    global_peers(&mut g, &vec![layout; BATCH]);
    g.finish();
}

fn bench_16_at_16(c: &mut Criterion) {
    let mut g = c.benchmark_group("alloc/16@16");
    configure(&mut g);
    let layout = Layout::from_size_align(16, 16).expect("layout");

    let mut m = new_arena();
    g.bench_function("vmallocator/alloc_layout", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                black_box(m.alloc_layout(layout).expect("fits"));
            }
            m.reset();
        });
    });
    g.bench_function("vmallocator/alloc", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                black_box(m.alloc(16, 16).expect("fits"));
            }
            m.reset();
        });
    });
    m.free().expect("free");

    let mut bump = Bump::with_capacity(ARENA);
    g.bench_function("bumpalo", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                black_box(bump.alloc_layout(layout));
            }
            bump.reset();
        });
    });
    let mut scope = ScopeBump::with_size(ARENA);
    g.bench_function("bump-scope", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                black_box(scope.allocate_layout(layout));
            }
            scope.reset();
        });
    });

    global_peers(&mut g, &vec![layout; BATCH]);
    g.finish();
}

fn bench_mixed(c: &mut Criterion) {
    let mut g = c.benchmark_group("alloc/mixed 1-64 @8");
    configure(&mut g);
    let sizes = mixed_sizes();
    let layouts: Vec<Layout> = sizes
        .iter()
        .map(|&s| Layout::from_size_align(s, 8).expect("layout"))
        .collect();

    let mut m = new_arena();
    g.bench_function("vmallocator/alloc_layout", |b| {
        b.iter(|| {
            for &layout in &layouts {
                black_box(m.alloc_layout(layout).expect("fits"));
            }
            m.reset();
        });
    });
    g.bench_function("vmallocator/alloc", |b| {
        b.iter(|| {
            for &size in &sizes {
                black_box(m.alloc(size, 8).expect("fits"));
            }
            m.reset();
        });
    });
    m.free().expect("free");

    let mut bump = Bump::with_capacity(ARENA);
    g.bench_function("bumpalo", |b| {
        b.iter(|| {
            for &layout in &layouts {
                black_box(bump.alloc_layout(layout));
            }
            bump.reset();
        });
    });
    let mut scope = ScopeBump::with_size(ARENA);
    g.bench_function("bump-scope", |b| {
        b.iter(|| {
            for &layout in &layouts {
                black_box(scope.allocate_layout(layout));
            }
            scope.reset();
        });
    });

    global_peers(&mut g, &layouts);
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_u64(&mut c);
    bench_16_at_16(&mut c);
    bench_mixed(&mut c);
    c.final_summary();
}
