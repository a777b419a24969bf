//! What the multi-thread benchmarks share: the layout table, a start on a spinning
//! barrier, and touching memory.
#![allow(dead_code)]

use std::alloc::Layout;
use std::hint::black_box;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The fixed table of layouts every thread allocates (xorshift64, fixed seed).
pub fn layouts(n: usize) -> Vec<Layout> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Layout::from_size_align((x % 64) as usize + 1, 8).expect("layout")
        })
        .collect()
}

/// Pins the calling thread to CPU `t` modulo the CPUs this process may use, so a round's
/// thread `t` runs where the last round's did and finds the caches as it left them (a
/// thread moved to the other core of a 2-core machine finds its memory in the other core's
/// cache, and runs at half speed). Best effort: where pinning fails, the thread runs free.
pub fn pin(t: usize) {
    use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};
    let Ok(allowed) = sched_getaffinity(None) else {
        return;
    };
    let cpus: Vec<usize> = (0..CpuSet::MAX_CPU)
        .filter(|&c| allowed.is_set(c))
        .collect();
    if cpus.is_empty() {
        return;
    }
    let mut one = CpuSet::new();
    one.set(cpus[t % cpus.len()]);
    let _ = sched_setaffinity(None, &one);
}

/// Runs `work(thread)` on `threads` threads started together on a spinning barrier, each
/// pinned to a CPU of its own (see [`pin`]) after its `prepare(thread)`, dropping each
/// thread's state after its clock stops; returns the time from release to the last
/// thread's end.
pub fn timed<S>(
    threads: usize,
    prepare: impl Fn(usize) -> S + Sync,
    work: impl Fn(&mut S) + Sync,
) -> Duration {
    let ready = AtomicUsize::new(0);
    let go = AtomicUsize::new(0);
    let start = Mutex::new(None::<Instant>);
    let ends: Vec<Instant> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (ready, go, start, prepare, work) = (&ready, &go, &start, &prepare, &work);
                s.spawn(move || {
                    pin(t);
                    let mut state = prepare(t);
                    if ready.fetch_add(1, Ordering::AcqRel) + 1 == threads {
                        *start.lock().unwrap() = Some(Instant::now());
                        go.store(1, Ordering::Release);
                    }
                    while go.load(Ordering::Acquire) == 0 {
                        std::hint::spin_loop();
                    }
                    work(&mut state);
                    let end = Instant::now();
                    drop(state); // after the clock: freeing is not the work measured
                    end
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let start = start.into_inner().unwrap().expect("released");
    ends.into_iter().max().unwrap() - start
}

/// Writes a byte into a fresh block, so each allocation touches its memory.
#[inline(always)]
pub fn touch(p: *mut u8) {
    // SAFETY: `p` is a fresh, writable block of at least one byte.
    unsafe { p.write(1) };
    black_box(p);
}

/// Touches every page of `[p, p + len)`, so page faults fall before timing.
pub fn prefault(p: *mut u8, len: usize) {
    for off in (0..len).step_by(4096) {
        // SAFETY: inside a committed, writable block of `len` bytes the caller owns.
        unsafe { p.wrapping_add(off).write(0) };
    }
}
