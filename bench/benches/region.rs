//! Region create + free: `Mallocator` against the raw `mmap` + `munmap` it wraps
//! (through rustix, the crate's own Unix backend), for 64 KiB and for one page.
//!
//! Neither side touches the memory, so this is the cost of the two system calls plus
//! whatever the wrapper adds.

use std::hint::black_box;
use std::ptr;
use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use rustix::mm::{MapFlags, ProtFlags, mmap_anonymous, munmap};
use vmallocator::{Mallocator, Protection};

fn configure(g: &mut BenchmarkGroup<'_, WallTime>) {
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
}

/// Maps `len` bytes of private anonymous read+write memory and unmaps them again.
fn raw_map_unmap(len: usize) {
    // SAFETY: a null hint without MAP_FIXED cannot replace an existing mapping; `len` is
    // a non-zero multiple of the page size.
    let p = unsafe {
        mmap_anonymous(
            ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE,
        )
    }
    .expect("mmap");
    // SAFETY: `p` is exactly the mapping made above, and nothing uses it afterwards.
    unsafe { munmap(black_box(p), len) }.expect("munmap");
}

fn main() {
    let mut c = Criterion::default().configure_from_args();

    let len = 64 << 10;
    let mut g = c.benchmark_group("region/64KiB");
    configure(&mut g);
    g.bench_function("vmallocator/with_size+free", |b| {
        b.iter(|| {
            let m = Mallocator::with_size(black_box(len), Protection::READ_WRITE).expect("map");
            black_box(&m);
            m.free().expect("free");
        });
    });
    g.bench_function("rustix/mmap+munmap", |b| {
        b.iter(|| raw_map_unmap(black_box(len)));
    });
    g.finish();

    let page = rustix::param::page_size();
    let mut g = c.benchmark_group("region/one page");
    configure(&mut g);
    g.bench_function("vmallocator/new+free", |b| {
        b.iter(|| {
            let m = Mallocator::new().expect("map");
            black_box(&m);
            m.free().expect("free");
        });
    });
    g.bench_function("rustix/mmap+munmap", |b| {
        b.iter(|| raw_map_unmap(black_box(page)));
    });
    g.finish();

    c.final_summary();
}
