//! Instruction-count kernels for `scripts/instructions.sh`, which runs this binary under
//! valgrind's callgrind and counts only inside one kernel (`--toggle-collect`).
//!
//! Each kernel is an `#[inline(never)]` function that makes `N` allocations of one shape in
//! a loop, every result passed through `black_box`. Run as `instructions <kernel>` to run
//! one kernel, `instructions --list` to list them; with no kernel named (as `cargo bench`
//! runs it) it runs them all once as a smoke test and prints the list.

use std::alloc::Layout;
use std::hint::black_box;
use std::ptr::NonNull;

use bumpalo::Bump;
use vmallocator::{Mallocator, Protection};

/// Allocations per kernel call.
const N: usize = 100_000;
/// Arena capacity: room for `N` allocations of the largest shape (64 bytes) and more.
const ARENA: usize = 16 << 20;

/// The loop alone: what every kernel pays besides the allocation.
#[inline(never)]
fn loop_only(n: usize) {
    for i in 0..n {
        black_box(i);
    }
}

#[inline(never)]
fn ours_u64_layout(m: &Mallocator, n: usize) {
    for i in 0..n as u64 {
        let p = m
            .alloc_layout(Layout::new::<u64>())
            .expect("fits")
            .cast::<u64>();
        // SAFETY: a fresh, aligned, writable 8-byte block of the arena.
        unsafe { p.as_ptr().write(i) };
        black_box(p);
    }
}

#[inline(never)]
fn ours_u64_alloc(m: &Mallocator, n: usize) {
    for i in 0..n as u64 {
        let p = m.alloc(8, 8).expect("fits").cast::<u64>();
        // SAFETY: a fresh, aligned, writable 8-byte block of the arena.
        unsafe { p.as_ptr().write(i) };
        black_box(p);
    }
}

#[inline(never)]
fn bumpalo_u64(b: &Bump, n: usize) {
    for i in 0..n as u64 {
        black_box(NonNull::from(b.alloc(i)));
    }
}

#[inline(never)]
fn ours_16_layout(m: &Mallocator, n: usize) {
    let layout = Layout::from_size_align(16, 16).expect("layout");
    for _ in 0..n {
        black_box(m.alloc_layout(layout).expect("fits"));
    }
}

#[inline(never)]
fn ours_16_alloc(m: &Mallocator, n: usize) {
    for _ in 0..n {
        black_box(m.alloc(16, 16).expect("fits"));
    }
}

#[inline(never)]
fn bumpalo_16(b: &Bump, n: usize) {
    let layout = Layout::from_size_align(16, 16).expect("layout");
    for _ in 0..n {
        black_box(b.alloc_layout(layout));
    }
}

#[inline(never)]
fn ours_mixed_layout(m: &Mallocator, layouts: &[Layout]) {
    for &layout in layouts {
        black_box(m.alloc_layout(layout).expect("fits"));
    }
}

#[inline(never)]
fn ours_mixed_alloc(m: &Mallocator, sizes: &[usize]) {
    for &size in sizes {
        black_box(m.alloc(size, 8).expect("fits"));
    }
}

#[inline(never)]
fn bumpalo_mixed(b: &Bump, layouts: &[Layout]) {
    for &layout in layouts {
        black_box(b.alloc_layout(layout));
    }
}

/// A fixed pseudo-random table of `N` sizes in `1..=64` (xorshift64, fixed seed).
fn mixed_sizes() -> Vec<usize> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..N)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 64) as usize + 1
        })
        .collect()
}

const KERNELS: &[&str] = &[
    "loop_only",
    "ours_u64_layout",
    "ours_u64_alloc",
    "bumpalo_u64",
    "ours_16_layout",
    "ours_16_alloc",
    "bumpalo_16",
    "ours_mixed_layout",
    "ours_mixed_alloc",
    "bumpalo_mixed",
];

fn run(kernel: &str, sizes: &[usize], layouts: &[Layout]) {
    let m = Mallocator::with_size(ARENA, Protection::READ_WRITE).expect("arena");
    let b = Bump::with_capacity(ARENA);
    let chunk_bytes = b.allocated_bytes();
    match kernel {
        "loop_only" => loop_only(black_box(N)),
        "ours_u64_layout" => ours_u64_layout(&m, black_box(N)),
        "ours_u64_alloc" => ours_u64_alloc(&m, black_box(N)),
        "bumpalo_u64" => bumpalo_u64(&b, black_box(N)),
        "ours_16_layout" => ours_16_layout(&m, black_box(N)),
        "ours_16_alloc" => ours_16_alloc(&m, black_box(N)),
        "bumpalo_16" => bumpalo_16(&b, black_box(N)),
        "ours_mixed_layout" => ours_mixed_layout(&m, black_box(layouts)),
        "ours_mixed_alloc" => ours_mixed_alloc(&m, black_box(sizes)),
        "bumpalo_mixed" => bumpalo_mixed(&b, black_box(layouts)),
        other if sync_kernels::run(other, layouts) => {}
        other => panic!("unknown kernel {other:?}; known: {KERNELS:?}"),
    }
    // Every kernel fits in the one chunk it started with: no slow path was counted.
    assert_eq!(b.allocated_bytes(), chunk_bytes, "{kernel}: bumpalo grew");
    m.free().expect("free");
}

fn main() {
    let sizes = mixed_sizes();
    let layouts: Vec<Layout> = sizes
        .iter()
        .map(|&s| Layout::from_size_align(s, 8).expect("layout"))
        .collect();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let named: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if args.iter().any(|a| a == "--list") {
        println!("N={N}");
        for k in KERNELS.iter().chain(sync_kernels::KERNELS) {
            println!("{k}");
        }
    } else if named.is_empty() {
        for k in KERNELS.iter().chain(sync_kernels::KERNELS) {
            run(k, &sizes, &layouts);
        }
        println!("instructions: all kernels ran; count them with scripts/instructions.sh");
    } else {
        for k in named {
            run(k, &sizes, &layouts);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The thread-safe arena (`SharedArena`): the same u64 and mixed shapes through a `Local`
// handle and through `&self` (the thread-local lookup), beside `ours_*_layout` above.
// Counted by scripts/sync-instructions.sh. Default chunk size (64 KiB): the chunk claims
// (one atomic compare-and-swap per 64 KiB of blocks) are counted too.
mod sync_kernels {
    use std::alloc::Layout;
    use std::hint::black_box;

    use vmallocator::{Protection, SharedArena};

    use super::{ARENA, N};

    pub const KERNELS: &[&str] = &[
        "sync_local_u64",
        "sync_shared_u64",
        "sync_local_mixed",
        "sync_shared_mixed",
    ];

    #[inline(never)]
    fn sync_local_u64(a: &SharedArena, n: usize) {
        let local = a.local();
        for i in 0..n as u64 {
            let p = local
                .alloc_layout(Layout::new::<u64>())
                .expect("fits")
                .cast::<u64>();
            // SAFETY: a fresh, aligned, writable 8-byte block of the arena.
            unsafe { p.as_ptr().write(i) };
            black_box(p);
        }
    }

    #[inline(never)]
    fn sync_shared_u64(a: &SharedArena, n: usize) {
        for i in 0..n as u64 {
            let p = a
                .alloc_layout(Layout::new::<u64>())
                .expect("fits")
                .cast::<u64>();
            // SAFETY: a fresh, aligned, writable 8-byte block of the arena.
            unsafe { p.as_ptr().write(i) };
            black_box(p);
        }
    }

    #[inline(never)]
    fn sync_local_mixed(a: &SharedArena, layouts: &[Layout]) {
        let local = a.local();
        for &layout in layouts {
            black_box(local.alloc_layout(layout).expect("fits"));
        }
    }

    #[inline(never)]
    fn sync_shared_mixed(a: &SharedArena, layouts: &[Layout]) {
        for &layout in layouts {
            black_box(a.alloc_layout(layout).expect("fits"));
        }
    }

    /// Runs kernel `name` if it is one of these; false otherwise.
    pub fn run(name: &str, layouts: &[Layout]) -> bool {
        let a = SharedArena::with_size(ARENA, Protection::READ_WRITE).expect("arena");
        match name {
            "sync_local_u64" => sync_local_u64(&a, black_box(N)),
            "sync_shared_u64" => sync_shared_u64(&a, black_box(N)),
            "sync_local_mixed" => sync_local_mixed(&a, black_box(layouts)),
            "sync_shared_mixed" => sync_shared_mixed(&a, black_box(layouts)),
            _ => return false,
        }
        a.free().expect("free");
        true
    }
}
