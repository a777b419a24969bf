//! A JIT's per-function cost: emit 1,000 functions of 64 bytes each and publish each one so
//! it is callable right after its own publish (each is called once, and its result checked).
//!
//! Contenders, one round each = 1,000 functions, the memory already mapped and warm:
//! - `vmallocator dual`: a dual-mapped arena (`Builder::dual_mapping`): `alloc_bytes` (the
//!   write), `publish` of the block (instruction-cache coherence only, no system call on
//!   x86_64), `function`, call.
//! - `vmallocator single, per function`: one mapping; `alloc_bytes`, `publish` of the block
//!   (one `mprotect`; sealing starts the next function on a fresh page), call.
//! - `vmallocator single, batched`: one mapping; write all 1,000, one `publish`, then call
//!   each (not callable right after its own write: the batched figure).
//! - `jit-allocator`: `JitAllocator::alloc(64)` (its default dual mapping), copy into the
//!   writable pointer, `flush_instruction_cache`, call the executable pointer.
//! - `memmap2`: `MmapMut::map_anon(64)`, copy, `make_exec` (one `mmap` + one `mprotect`
//!   per function), call.
//!
//! - `… not called`: the same for ours and jit-allocator without the call (the function
//!   pointer is only taken): emitting and publishing alone.
//!
//! Freeing a round's functions (our `reset`, jit-allocator's `release`, memmap2's `munmap`)
//! happens outside the timed part for every contender.
//!
//! Run: `cargo bench -p vmallocator-bench --bench codeheap` (criterion), or
//! `cargo bench -p vmallocator-bench --bench codeheap -- --ratios [rounds]` for same-run
//! ratios (the contenders take turns; minimum thread CPU time per round of each).
//! `--kernel <name>` runs one round of one contender for callgrind
//! (`scripts/codeheap-instructions.sh`): `dual`, `jit_allocator`.

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod linux {
    use std::hint::black_box;
    use std::time::{Duration, Instant};

    use criterion::{BenchmarkId, Criterion, Throughput};
    use jit_allocator::{JitAllocator, flush_instruction_cache};
    use memmap2::{Mmap, MmapMut};
    use vmallocator::{Mallocator, page_size};

    /// Functions per round.
    pub const N: usize = 1_000;
    /// Bytes per function.
    const SIZE: usize = 64;

    type Ret = extern "C" fn() -> i32;

    /// `mov eax, i; ret`, padded with `int3` to 64 bytes.
    #[inline(always)]
    fn code(i: usize) -> [u8; SIZE] {
        let mut c = [0xcc; SIZE];
        c[0] = 0xb8;
        c[1..5].copy_from_slice(&(i as u32).to_le_bytes());
        c[5] = 0xc3;
        c
    }

    #[inline(always)]
    fn check(f: Ret, i: usize) {
        assert_eq!(black_box(f()) as usize, i);
    }

    pub fn dual_arena() -> Mallocator {
        Mallocator::builder()
            .size(N * SIZE)
            .dual_mapping(true)
            .build()
            .unwrap()
    }

    /// One page per function: publishing seals the page.
    pub fn single_arena() -> Mallocator {
        Mallocator::builder().size(N * page_size()).build().unwrap()
    }

    #[inline(never)]
    pub fn dual(m: &mut Mallocator) {
        dual_calling::<true>(m);
    }

    /// `CALL`: call each function once (else only take its pointer).
    #[inline(always)]
    fn dual_calling<const CALL: bool>(m: &mut Mallocator) {
        for i in 0..N {
            let b = m
                .block_of(m.alloc_bytes(&code(black_box(i))).unwrap())
                .unwrap();
            m.publish(b).unwrap();
            // SAFETY: `b` holds a whole `extern "C" fn() -> i32`, just published.
            let f = unsafe { m.function::<Ret>(b) }.unwrap();
            if CALL {
                check(f, i);
            } else {
                black_box(f);
            }
        }
    }

    #[inline(never)]
    pub fn single_per_function(m: &mut Mallocator) {
        for i in 0..N {
            let b = m
                .block_of(m.alloc_bytes(&code(black_box(i))).unwrap())
                .unwrap();
            m.publish(b).unwrap();
            // SAFETY: as above.
            check(unsafe { m.function::<Ret>(b) }.unwrap(), i);
        }
    }

    #[inline(never)]
    pub fn single_batched(m: &mut Mallocator, blocks: &mut Vec<vmallocator::Block>) {
        blocks.clear();
        for i in 0..N {
            blocks.push(
                m.block_of(m.alloc_bytes(&code(black_box(i))).unwrap())
                    .unwrap(),
            );
        }
        m.publish(..m.used()).unwrap();
        for (i, &b) in blocks.iter().enumerate() {
            // SAFETY: as above.
            check(unsafe { m.function::<Ret>(b) }.unwrap(), i);
        }
    }

    /// Gives an arena back its round's memory, untimed.
    pub fn clean(m: &mut Mallocator) {
        if !m.is_dual_mapped() {
            m.make_writable(..).unwrap();
        }
        m.reset();
    }

    #[inline(never)]
    pub fn jit(j: &mut JitAllocator, ptrs: &mut Vec<*const u8>) {
        jit_calling::<true>(j, ptrs);
    }

    #[inline(always)]
    fn jit_calling<const CALL: bool>(j: &mut JitAllocator, ptrs: &mut Vec<*const u8>) {
        for i in 0..N {
            let (rx, rw) = j.alloc(SIZE).unwrap();
            let c = code(black_box(i));
            // SAFETY: `rw` is the writable view of a fresh block of `SIZE` bytes.
            unsafe { core::ptr::copy_nonoverlapping(c.as_ptr(), rw, SIZE) };
            flush_instruction_cache(rx, SIZE);
            // SAFETY: `rx` is the executable view of the function just written.
            let f = unsafe { core::mem::transmute::<*const u8, Ret>(rx) };
            if CALL {
                check(f, i);
            } else {
                black_box(f);
            }
            ptrs.push(rx);
        }
    }

    pub fn jit_clean(j: &mut JitAllocator, ptrs: &mut Vec<*const u8>) {
        for rx in ptrs.drain(..) {
            // SAFETY: each pointer came from `alloc` of this allocator, released once.
            unsafe { j.release(rx) }.unwrap();
        }
    }

    #[inline(never)]
    pub fn memmap(maps: &mut Vec<Mmap>) {
        for i in 0..N {
            let mut m = MmapMut::map_anon(SIZE).unwrap();
            m.copy_from_slice(&code(black_box(i)));
            let m = m.make_exec().unwrap();
            // SAFETY: the mapping holds the function just written, read+execute now.
            check(
                unsafe { core::mem::transmute::<*const u8, Ret>(m.as_ptr()) },
                i,
            );
            maps.push(m);
        }
    }

    /// A contender: one timed round, then its untimed clean-up.
    pub struct Contender {
        pub name: &'static str,
        round: Box<dyn FnMut() -> Duration>,
    }

    fn timed(f: impl FnOnce()) -> Duration {
        let t = Instant::now();
        f();
        t.elapsed()
    }

    pub fn contenders() -> Vec<Contender> {
        let mut dual_m = dual_arena();
        let mut dual_nc = dual_arena();
        let mut j_nc = JitAllocator::new(Default::default());
        let mut ptrs_nc = Vec::with_capacity(N);
        let mut single_m = single_arena();
        let mut batched_m = Mallocator::builder().size(N * SIZE).build().unwrap();
        let mut blocks = Vec::with_capacity(N);
        let mut j = JitAllocator::new(Default::default());
        let mut ptrs = Vec::with_capacity(N);
        let mut maps = Vec::with_capacity(N);
        vec![
            Contender {
                name: "vmallocator dual",
                round: Box::new(move || {
                    let t = timed(|| dual(&mut dual_m));
                    clean(&mut dual_m);
                    t
                }),
            },
            Contender {
                name: "vmallocator single, per function",
                round: Box::new(move || {
                    let t = timed(|| single_per_function(&mut single_m));
                    clean(&mut single_m);
                    t
                }),
            },
            Contender {
                name: "vmallocator single, batched",
                round: Box::new(move || {
                    let t = timed(|| single_batched(&mut batched_m, &mut blocks));
                    clean(&mut batched_m);
                    t
                }),
            },
            Contender {
                name: "jit-allocator",
                round: Box::new(move || {
                    let t = timed(|| jit(&mut j, &mut ptrs));
                    jit_clean(&mut j, &mut ptrs);
                    t
                }),
            },
            Contender {
                name: "vmallocator dual, not called",
                round: Box::new(move || {
                    let t = timed(|| dual_calling::<false>(&mut dual_nc));
                    clean(&mut dual_nc);
                    t
                }),
            },
            Contender {
                name: "jit-allocator, not called",
                round: Box::new(move || {
                    let t = timed(|| jit_calling::<false>(&mut j_nc, &mut ptrs_nc));
                    jit_clean(&mut j_nc, &mut ptrs_nc);
                    t
                }),
            },
            Contender {
                name: "memmap2",
                round: Box::new(move || {
                    let t = timed(|| memmap(&mut maps));
                    maps.clear();
                    t
                }),
            },
        ]
    }

    /// Same-run ratios: the contenders take turns, `rounds` times; the minimum time of a
    /// round (1,000 functions) of each, per function, and its ratio to jit-allocator.
    pub fn ratios(rounds: usize) {
        let mut all = contenders();
        // Warm every contender once (first touch of pages, jit-allocator's first block).
        for c in &mut all {
            (c.round)();
        }
        let mut best = vec![Duration::MAX; all.len()];
        for _ in 0..rounds {
            for (c, b) in all.iter_mut().zip(&mut best) {
                *b = (*b).min((c.round)());
            }
        }
        let time_of = |name: &str| best[all.iter().position(|c| c.name == name).unwrap()];
        let (jit, jit_nc) = (
            time_of("jit-allocator"),
            time_of("jit-allocator, not called"),
        );
        println!(
            "emit + publish + call, {N} functions of {SIZE} bytes; minimum over {rounds} \
             interleaved rounds, ns per function; speed relative to jit-allocator \
             (the `not called` rows: to jit-allocator, not called)"
        );
        for (c, b) in all.iter().zip(&best) {
            let peer = if c.name.ends_with("not called") {
                jit_nc
            } else {
                jit
            };
            println!(
                "{:<36} {:>9.1} ns   {:>6.2}x",
                c.name,
                b.as_secs_f64() * 1e9 / N as f64,
                peer.as_secs_f64() / b.as_secs_f64()
            );
        }
    }

    pub fn bench(c: &mut Criterion) {
        let mut group = c.benchmark_group("codeheap/emit + publish + call");
        group
            .throughput(Throughput::Elements(N as u64))
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for mut contender in contenders() {
            group.bench_function(BenchmarkId::new(contender.name, "1000 x 64 B"), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| (contender.round)()).sum());
            });
        }
        group.finish();
    }

    /// One round of one contender, for callgrind (counting only inside the kernel).
    pub fn kernel(name: &str) {
        match name {
            "dual" => {
                let mut m = dual_arena();
                dual(&mut m); // warm: pages touched
                clean(&mut m);
                dual(&mut m);
            }
            "jit_allocator" => {
                let mut j = JitAllocator::new(Default::default());
                let mut ptrs = Vec::with_capacity(N);
                jit(&mut j, &mut ptrs);
                jit_clean(&mut j, &mut ptrs);
                jit(&mut j, &mut ptrs);
            }
            other => panic!("unknown kernel {other:?}; known: dual, jit_allocator"),
        }
    }
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--ratios") {
        let rounds = args.get(i + 1).and_then(|r| r.parse().ok()).unwrap_or(30);
        linux::ratios(rounds);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--kernel") {
        linux::kernel(args.get(i + 1).expect("--kernel needs a name"));
        return;
    }
    let mut c = criterion::Criterion::default().configure_from_args();
    linux::bench(&mut c);
    c.final_summary();
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn main() {}
