//! Publishing cost against raw `mprotect` calls on the same pages.
//!
//! - `publish/…`: one `make_writable` + `publish` pair (protection change,
//!   instruction-cache coherence, bookkeeping) against a raw `mprotect` pair, on 1 and 16
//!   pages.
//! - `ranges/N`: `publish` on N alternating single pages of one region of 2N pages, then
//!   `make_writable` on each again (the protection map grows to 2N runs and shrinks back),
//!   against the same 2N raw `mprotect` calls; N = 10, 100, 1,000, 10,000.
//!
//! Target: at most 1.1x the raw calls. Run with `cargo bench -p vmallocator-bench --bench publish`; on a noisy
//! machine `cargo bench -p vmallocator-bench --bench publish -- --ratios [rounds]` interleaves the contenders
//! and compares their minimum times instead.
//!
//! `publish --kernel <name>` runs one instruction-count kernel instead, for
//! `scripts/publish-instructions.sh` (callgrind): `pair_ours` and `pair_raw` make
//! `PAIRS` pairs on one page; `ranges_ours` and `ranges_raw` one round of `ranges` at
//! N = `RANGES`.

#[cfg(target_os = "linux")]
mod linux {
    use core::ffi::c_void;
    use std::hint::black_box;
    use std::time::Duration;

    use criterion::{BenchmarkId, Criterion, Throughput};
    use rustix::mm::{self, MapFlags, MprotectFlags, ProtFlags};
    use vmallocator::{Mallocator, Protection, page_size};

    /// Pairs per instruction-count kernel.
    pub const PAIRS: usize = 10_000;
    /// Alternating pages of the `ranges_*` instruction-count kernels.
    pub const RANGES: usize = 10_000;

    const RW: MprotectFlags = MprotectFlags::READ.union(MprotectFlags::WRITE);
    const RX: MprotectFlags = MprotectFlags::READ.union(MprotectFlags::EXEC);

    /// A read+write arena of `len` bytes between `PROT_NONE` guard pages, so the kernel
    /// cannot merge it with whatever neighbours it happens to have: that would measure the
    /// layout of the address space, not the call.
    fn arena(len: usize) -> Mallocator {
        Mallocator::builder()
            .size(len)
            .protection(Protection::READ_WRITE)
            .guard_pages(1, 1)
            .build()
            .unwrap()
    }

    /// The same, raw: mapped read+write with the builder's flags (`MAP_PRIVATE |
    /// MAP_NORESERVE`, which keep the mapping from merging with a writable neighbour and
    /// sharing its reverse-map chain: that costs the kernel about a third more per call),
    /// then the guards to none, exactly as the builder does. Returns the mapping and the
    /// usable part.
    fn raw(len: usize) -> (*mut c_void, *mut c_void) {
        let page = page_size();
        // SAFETY: a fresh anonymous private mapping at a kernel-chosen address; nothing else
        // uses it.
        let mapping = unsafe {
            mm::mmap_anonymous(
                core::ptr::null_mut(),
                len + 2 * page,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE | MapFlags::NORESERVE,
            )
        }
        .unwrap();
        let usable = mapping.cast::<u8>().wrapping_add(page).cast::<c_void>();
        let after = usable.cast::<u8>().wrapping_add(len).cast::<c_void>();
        for guard in [mapping, after] {
            // SAFETY: one page at either end of the mapping above, unused.
            unsafe { mm::mprotect(guard, page, MprotectFlags::empty()) }.unwrap();
        }
        (mapping, usable)
    }

    fn unmap(mapping: *mut c_void, len: usize) {
        // SAFETY: the whole mapping from `raw`, no longer used.
        unsafe { mm::munmap(mapping, len + 2 * page_size()) }.unwrap();
    }

    /// `mprotect` of `len` bytes at `addr`.
    #[inline(always)]
    fn protect(addr: *mut c_void, len: usize, flags: MprotectFlags) {
        // SAFETY: `addr..addr + len` lies in a mapping from `raw`, which no reference
        // points into.
        unsafe { mm::mprotect(addr, len, flags) }.unwrap();
    }

    #[inline(never)]
    pub fn pair_ours(m: &mut Mallocator, len: usize, n: usize) {
        for _ in 0..n {
            m.make_writable(black_box(0..len)).unwrap();
            m.publish(black_box(0..len)).unwrap();
        }
    }

    #[inline(never)]
    pub fn pair_raw(addr: *mut c_void, len: usize, n: usize) {
        for _ in 0..n {
            protect(black_box(addr), len, RW);
            protect(black_box(addr), len, RX);
        }
    }

    /// `publish` on `n` alternating pages, then `make_writable` on each again.
    #[inline(never)]
    pub fn ranges_ours(m: &mut Mallocator, n: usize) {
        let page = page_size();
        for i in 0..n {
            let at = 2 * i * page;
            m.publish(black_box(at..at + page)).unwrap();
        }
        for i in 0..n {
            let at = 2 * i * page;
            m.make_writable(black_box(at..at + page)).unwrap();
        }
    }

    /// The same `mprotect` calls, raw.
    #[inline(never)]
    pub fn ranges_raw(usable: *mut c_void, n: usize) {
        let page = page_size();
        for i in 0..n {
            let at = usable.cast::<u8>().wrapping_add(2 * i * page).cast();
            protect(black_box(at), page, RX);
        }
        for i in 0..n {
            let at = usable.cast::<u8>().wrapping_add(2 * i * page).cast();
            protect(black_box(at), page, RW);
        }
    }

    /// N for the `ranges_*` kernels: `RANGES`, or the environment's `PUBLISH_RANGES`.
    fn kernel_ranges() -> usize {
        std::env::var("PUBLISH_RANGES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(RANGES)
    }

    /// Runs one instruction-count kernel.
    pub fn kernel(name: &str) {
        let page = page_size();
        match name {
            "ranges_ours" => ranges_ours(
                &mut arena(2 * kernel_ranges() * page),
                black_box(kernel_ranges()),
            ),
            "ranges_raw" => {
                let (mapping, usable) = raw(2 * kernel_ranges() * page);
                ranges_raw(usable, black_box(kernel_ranges()));
                unmap(mapping, 2 * kernel_ranges() * page);
            }
            "pair_ours" => pair_ours(&mut arena(page), page, black_box(PAIRS)),
            "pair_raw" => {
                let (mapping, usable) = raw(page);
                pair_raw(usable, page, black_box(PAIRS));
                unmap(mapping, page);
            }
            other => panic!("unknown kernel {other:?}; known: pair_ours, pair_raw"),
        }
    }

    /// This thread's CPU time (user and system) in seconds: unlike wall time, it leaves out
    /// the time the thread waits for a CPU on a loaded machine.
    fn cpu_time() -> f64 {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
    }

    /// Same-run ratios for a noisy machine: for each N, the two contenders take turns for
    /// `rounds` rounds, each round a batch of at least 2 ms, and the minimum thread CPU time
    /// (user and system) per batch of each is compared.
    pub fn ratios(rounds: usize) {
        let page = page_size();
        println!(
            "ranges: minimum thread CPU time over {rounds} interleaved rounds, ours / raw mprotect"
        );
        for n in [10usize, 100, 1_000, 10_000] {
            let len = 2 * n * page;
            let mut m = arena(len);
            let (mapping, usable) = raw(len);
            let batch = (2_000 / n).max(1); // rounds of about 2 ms or more
            let (mut ours, mut theirs) = (f64::MAX, f64::MAX);
            for _ in 0..rounds {
                let t = cpu_time();
                for _ in 0..batch {
                    ranges_ours(&mut m, n);
                }
                ours = ours.min(cpu_time() - t);
                let t = cpu_time();
                for _ in 0..batch {
                    ranges_raw(usable, n);
                }
                theirs = theirs.min(cpu_time() - t);
            }
            let per_call = |t: f64| t / (batch * 2 * n) as f64 * 1e9;
            println!(
                "N={n:>6}: {:8.0} ns/call against {:8.0} ns/call, ratio {:.3}",
                per_call(ours),
                per_call(theirs),
                ours / theirs
            );
            drop(m);
            unmap(mapping, len);
        }
    }

    pub fn pairs(c: &mut Criterion) {
        let page = page_size();
        let mut group = c.benchmark_group("publish/make_writable + publish");
        for pages in [1usize, 16] {
            let len = pages * page;
            let id = format!("{pages} page{}", if pages == 1 { "" } else { "s" });
            group.throughput(Throughput::Bytes(len as u64));
            let mut m = arena(len);
            group.bench_function(BenchmarkId::new("vmallocator", &id), |b| {
                b.iter(|| pair_ours(&mut m, len, 1));
            });
            let (mapping, usable) = raw(len);
            group.bench_function(BenchmarkId::new("raw mprotect pair", &id), |b| {
                b.iter(|| pair_raw(usable, len, 1));
            });
            unmap(mapping, len);
        }
        group.finish();
    }

    pub fn ranges(c: &mut Criterion) {
        let page = page_size();
        let mut group = c.benchmark_group("ranges");
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
        for n in [10usize, 100, 1_000, 10_000] {
            group.throughput(Throughput::Elements(2 * n as u64));
            let len = 2 * n * page;
            let mut m = arena(len);
            group.bench_function(BenchmarkId::new("vmallocator", n), |b| {
                b.iter(|| ranges_ours(&mut m, n));
            });
            drop(m);
            let (mapping, usable) = raw(len);
            group.bench_function(BenchmarkId::new("raw mprotect", n), |b| {
                b.iter(|| ranges_raw(usable, n));
            });
            unmap(mapping, len);
        }
        group.finish();
    }
}

#[cfg(target_os = "linux")]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--ratios") {
        let rounds = args.get(i + 1).and_then(|r| r.parse().ok()).unwrap_or(15);
        linux::ratios(rounds);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--kernel") {
        let name = args.get(i + 1).expect("--kernel needs a name");
        linux::kernel(name);
        return;
    }
    let mut c = criterion::Criterion::default().configure_from_args();
    linux::pairs(&mut c);
    linux::ranges(&mut c);
    c.final_summary();
}

#[cfg(not(target_os = "linux"))]
fn main() {}
