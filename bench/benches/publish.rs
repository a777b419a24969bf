//! Publishing cost: `make_writable` + `publish` (protection change, instruction-cache
//! coherence, bookkeeping) against a raw `mprotect` pair on the same number of pages.
//! Target: at most 1.1x the raw pair. Run with `cargo bench -p vmallocator-bench --bench publish`.

#[cfg(target_os = "linux")]
mod linux {
    use core::ffi::c_void;
    use std::hint::black_box;

    use criterion::{BenchmarkId, Criterion, Throughput};
    use rustix::mm::{self, MapFlags, MprotectFlags, ProtFlags};
    use vmallocator::{Mallocator, Protection, page_size};

    pub fn bench(c: &mut Criterion) {
        let page = page_size();
        let mut group = c.benchmark_group("publish/make_writable + publish");
        for pages in [1usize, 16] {
            let len = pages * page;
            let id = format!("{pages} page{}", if pages == 1 { "" } else { "s" });
            group.throughput(Throughput::Bytes(len as u64));

            // Both sides sit between PROT_NONE guard pages, so the kernel cannot merge them
            // with whatever neighbours they happen to have: that would measure the layout of
            // the address space, not the call.
            let mut m = Mallocator::builder()
                .size(len)
                .protection(Protection::READ_WRITE)
                .guard_pages(1, 1)
                .build()
                .unwrap();
            group.bench_function(BenchmarkId::new("vmallocator", &id), |b| {
                b.iter(|| {
                    m.make_writable(black_box(0..len)).unwrap();
                    m.publish(black_box(0..len)).unwrap();
                });
            });

            // SAFETY: a fresh anonymous private mapping of `len` bytes at a kernel-chosen
            // address; nothing else uses it.
            let mapping = unsafe {
                mm::mmap_anonymous(
                    core::ptr::null_mut(),
                    len + 2 * page,
                    ProtFlags::READ | ProtFlags::WRITE,
                    MapFlags::PRIVATE,
                )
            }
            .unwrap();
            // Set up exactly as the builder does: map read+write, then the guards to none.
            let raw = mapping.cast::<u8>().wrapping_add(page).cast::<c_void>();
            let after = raw.cast::<u8>().wrapping_add(len).cast::<c_void>();
            for guard in [mapping, after] {
                // SAFETY: one page at either end of the mapping above, unused.
                unsafe { mm::mprotect(guard, page, MprotectFlags::empty()) }.unwrap();
            }
            let rw = MprotectFlags::READ | MprotectFlags::WRITE;
            let rx = MprotectFlags::READ | MprotectFlags::EXEC;
            group.bench_function(BenchmarkId::new("raw mprotect pair", &id), |b| {
                b.iter(|| {
                    // SAFETY: the mapping above, which no reference points into.
                    unsafe { mm::mprotect(black_box(raw), len, rw) }.unwrap();
                    // SAFETY: as above.
                    unsafe { mm::mprotect(black_box(raw), len, rx) }.unwrap();
                });
            });
            // SAFETY: the whole mapping from above, no longer used.
            unsafe { mm::munmap(mapping, len + 2 * page) }.unwrap();
        }
        group.finish();
    }
}

#[cfg(target_os = "linux")]
criterion::criterion_group!(benches, linux::bench);
#[cfg(target_os = "linux")]
criterion::criterion_main!(benches);

#[cfg(not(target_os = "linux"))]
fn main() {}
