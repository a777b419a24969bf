//! Instruction-count kernels for `scripts/instructions.sh` (ours, bumpalo, bump-scope), which runs this binary under
//! valgrind's callgrind and counts only inside one kernel (`--toggle-collect`).
//!
//! Each kernel is an `#[inline(never)]` function that makes `N` allocations of one shape in
//! a loop, every result passed through `black_box`. Run as `instructions <kernel>` to run
//! one kernel, `instructions --list` to list them; with no kernel named (as `cargo bench`
//! runs it) it runs them all once as a smoke test and prints the list.
//! `instructions --time [ROUNDS]` times the kernels instead, round-robin in one process
//! (`scripts/instructions.sh --time`).
//!
//! Like for like: for each shape every contender runs the same loop over the same input
//! (a count, a `&[usize]` size table or a `&[Layout]` table), reaches its arena through a
//! shared reference, and only allocates: the block's address goes to `black_box`, nothing
//! is written. Each peer is called the way that costs it fewest instructions for the
//! shape (bump-scope's `allocate_sized::<T>()` for a type's layout, for instance, is 2
//! fewer than its `allocate_layout(Layout::new::<T>())`). bumpalo runs in two
//! configurations: its default `Bump`, as the targets' issue measured it (`bumpalo_*`), and
//! `Bump<8>`, every block 8-aligned (`bumpalo8_*`, the same generic kernel). Writing a value
//! is the typed kernels' work (`alloc_value` against bumpalo's and bump-scope's `alloc`).

use std::alloc::Layout;
use std::hint::black_box;
use std::ptr::NonNull;

use bump_scope::alloc::Global;
use bump_scope::settings::BumpSettings;
use bump_scope::traits::BumpAllocatorTyped;
use vmallocator::{Mallocator, Protection};

/// bump-scope at its leanest: every block 8-aligned, bumping downward.
type ScopeBump = bump_scope::Bump<Global, BumpSettings<8, false>>;
/// bumpalo as the issue that set the targets measured it (13 / 13 / 21 instructions): the
/// default `Bump` (`MIN_ALIGN` 1), bumping downward; its collections take this one too.
type Bump = bumpalo::Bump;
/// bumpalo at its leanest for these shapes, beside it: every block 8-aligned (`MIN_ALIGN`
/// 8, as bump-scope's), so a run of 8-byte multiples never rounds.
type Bump8 = bumpalo::Bump<8>;

/// Allocations per kernel call.
const N: usize = 100_000;
/// Arena capacity: room for `N` allocations of the largest shape (64 bytes) and more.
const ARENA: usize = 16 << 20;

/// A 16-byte type at alignment 16: the `16@16` shape as a type, for the typed calls.
#[allow(dead_code)]
#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct A16([u8; 16]);

/// `Layout::from_size_align(size, 8)` for a size of the mixed table (at most 64), unchecked
/// like a layout the compiler knows to be valid, so no contender pays for building it.
#[inline(always)]
fn layout8(size: usize) -> Layout {
    debug_assert!(size <= 64);
    // SAFETY: 8 is a power of two and `size` (at most 64) rounded up to it is far below
    // `isize::MAX`.
    unsafe { Layout::from_size_align_unchecked(size, 8) }
}

/// The loop alone: what a kernel over a count pays besides the allocation (the
/// `black_box` store, the count down and the branch); a loop over a table pays one more.
#[inline(never)]
fn loop_only(n: usize) {
    let block = NonNull::<u8>::dangling();
    for _ in 0..n {
        black_box(block);
    }
}

// ---- `u64`: a type's layout, known at compile time. ----

#[inline(never)]
fn ours_u64_layout(m: &Mallocator, n: usize) {
    for _ in 0..n {
        black_box(m.alloc_layout(Layout::new::<u64>()).expect("fits"));
    }
}

#[inline(never)]
fn ours_u64_alloc(m: &Mallocator, n: usize) {
    for _ in 0..n {
        black_box(m.alloc(8, 8).expect("fits"));
    }
}

#[inline(never)]
fn bumpalo_u64<const A: usize>(b: &bumpalo::Bump<A>, n: usize) {
    for _ in 0..n {
        black_box(b.alloc_layout(Layout::new::<u64>()));
    }
}

#[inline(never)]
fn bumpscope_u64(b: &ScopeBump, n: usize) {
    for _ in 0..n {
        black_box(b.allocate_sized::<u64>());
    }
}

// ---- `16@16`: 16 bytes at alignment 16, known at compile time. ----

#[inline(never)]
fn ours_16_layout(m: &Mallocator, n: usize) {
    for _ in 0..n {
        black_box(m.alloc_layout(Layout::new::<A16>()).expect("fits"));
    }
}

#[inline(never)]
fn ours_16_alloc(m: &Mallocator, n: usize) {
    for _ in 0..n {
        black_box(m.alloc(16, 16).expect("fits"));
    }
}

#[inline(never)]
fn bumpalo_16<const A: usize>(b: &bumpalo::Bump<A>, n: usize) {
    for _ in 0..n {
        black_box(b.alloc_layout(Layout::new::<A16>()));
    }
}

#[inline(never)]
fn bumpscope_16(b: &ScopeBump, n: usize) {
    for _ in 0..n {
        black_box(b.allocate_sized::<A16>());
    }
}

// ---- `sizes`: a `&[usize]` table of sizes 1–64, alignment 8 known at compile time. ----

#[inline(never)]
fn ours_sizes_layout(m: &Mallocator, sizes: &[usize]) {
    for &size in sizes {
        black_box(m.alloc_layout(layout8(size)).expect("fits"));
    }
}

#[inline(never)]
fn ours_sizes_alloc(m: &Mallocator, sizes: &[usize]) {
    for &size in sizes {
        black_box(m.alloc(size, 8).expect("fits"));
    }
}

#[inline(never)]
fn bumpalo_sizes<const A: usize>(b: &bumpalo::Bump<A>, sizes: &[usize]) {
    for &size in sizes {
        black_box(b.alloc_layout(layout8(size)));
    }
}

#[inline(never)]
fn bumpscope_sizes(b: &ScopeBump, sizes: &[usize]) {
    for &size in sizes {
        black_box(b.allocate_layout(layout8(size)));
    }
}

// ---- `mixed`: a `&[Layout]` table (the same sizes at alignment 8), known only at run time. ----

#[inline(never)]
fn ours_mixed_layout(m: &Mallocator, layouts: &[Layout]) {
    for &layout in layouts {
        black_box(m.alloc_layout(layout).expect("fits"));
    }
}

/// `alloc(size, align)` checks at run time that the alignment is a power of two.
#[inline(never)]
fn ours_mixed_alloc(m: &Mallocator, layouts: &[Layout]) {
    for &layout in layouts {
        black_box(m.alloc(layout.size(), layout.align()).expect("fits"));
    }
}

#[inline(never)]
fn bumpalo_mixed<const A: usize>(b: &bumpalo::Bump<A>, layouts: &[Layout]) {
    for &layout in layouts {
        black_box(b.alloc_layout(layout));
    }
}

#[inline(never)]
fn bumpscope_mixed(b: &ScopeBump, layouts: &[Layout]) {
    for &layout in layouts {
        black_box(b.allocate_layout(layout));
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
    "bumpalo8_u64",
    "bumpscope_u64",
    "ours_16_layout",
    "ours_16_alloc",
    "bumpalo_16",
    "bumpalo8_16",
    "bumpscope_16",
    "ours_sizes_layout",
    "ours_sizes_alloc",
    "bumpalo_sizes",
    "bumpalo8_sizes",
    "bumpscope_sizes",
    "ours_mixed_layout",
    "ours_mixed_alloc",
    "bumpalo_mixed",
    "bumpalo8_mixed",
    "bumpscope_mixed",
];

/// The arenas every kernel may use, each with room for a whole kernel call.
struct Arenas {
    ours: Mallocator,
    bumpalo: Bump,
    bumpalo8: Bump8,
    scope: ScopeBump,
}

impl Arenas {
    fn new() -> Self {
        Arenas {
            ours: Mallocator::with_size(ARENA, Protection::READ_WRITE).expect("arena"),
            bumpalo: Bump::with_capacity(ARENA),
            bumpalo8: Bump8::with_min_align_and_capacity(ARENA),
            scope: ScopeBump::with_size(ARENA),
        }
    }

    fn reset(&mut self) {
        self.ours.reset();
        self.bumpalo.reset();
        self.bumpalo8.reset();
        self.scope.reset();
    }
}

fn dispatch(kernel: &str, a: &Arenas, sizes: &[usize], layouts: &[Layout]) {
    let (m, b, b8, s) = (&a.ours, &a.bumpalo, &a.bumpalo8, &a.scope);
    match kernel {
        "loop_only" => loop_only(black_box(N)),
        "ours_u64_layout" => ours_u64_layout(m, black_box(N)),
        "ours_u64_alloc" => ours_u64_alloc(m, black_box(N)),
        "bumpalo_u64" => bumpalo_u64(b, black_box(N)),
        "bumpalo8_u64" => bumpalo_u64(b8, black_box(N)),
        "bumpscope_u64" => bumpscope_u64(s, black_box(N)),
        "ours_16_layout" => ours_16_layout(m, black_box(N)),
        "ours_16_alloc" => ours_16_alloc(m, black_box(N)),
        "bumpalo_16" => bumpalo_16(b, black_box(N)),
        "bumpalo8_16" => bumpalo_16(b8, black_box(N)),
        "bumpscope_16" => bumpscope_16(s, black_box(N)),
        "ours_sizes_layout" => ours_sizes_layout(m, black_box(sizes)),
        "ours_sizes_alloc" => ours_sizes_alloc(m, black_box(sizes)),
        "bumpalo_sizes" => bumpalo_sizes(b, black_box(sizes)),
        "bumpalo8_sizes" => bumpalo_sizes(b8, black_box(sizes)),
        "bumpscope_sizes" => bumpscope_sizes(s, black_box(sizes)),
        "ours_mixed_layout" => ours_mixed_layout(m, black_box(layouts)),
        "ours_mixed_alloc" => ours_mixed_alloc(m, black_box(layouts)),
        "bumpalo_mixed" => bumpalo_mixed(b, black_box(layouts)),
        "bumpalo8_mixed" => bumpalo_mixed(b8, black_box(layouts)),
        "bumpscope_mixed" => bumpscope_mixed(s, black_box(layouts)),
        other if sync_kernels::run(other, layouts) => {}
        other => assert!(
            run_typed(other, a),
            "unknown kernel {other:?}; known: {KERNELS:?} {TYPED_KERNELS:?}"
        ),
    }
}

fn run(kernel: &str, sizes: &[usize], layouts: &[Layout]) {
    let a = Arenas::new();
    let chunk_bytes = (a.bumpalo.allocated_bytes(), a.bumpalo8.allocated_bytes());
    let scope_chunks = a.scope.stats().count();
    dispatch(kernel, &a, sizes, layouts);
    // Every kernel fits in the one chunk it started with: no slow path was counted.
    assert_eq!(
        (a.bumpalo.allocated_bytes(), a.bumpalo8.allocated_bytes()),
        chunk_bytes,
        "{kernel}: bumpalo grew"
    );
    assert_eq!(
        a.scope.stats().count(),
        scope_chunks,
        "{kernel}: bump-scope grew"
    );
    a.ours.free().expect("free");
}

/// The median of `v` (not empty).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `--time ROUNDS`: each shape's kernels round-robin in one process, the arenas reset
/// (not remade) between calls. Prints each kernel's minimum over the rounds in ns per
/// allocation, and the fastest peer's time over ours as the median over the rounds of
/// that round's ratio (at least 1.0: ours is as fast or faster). A round's calls follow
/// one another within a millisecond or two, so their ratio holds where this CPU's clock
/// moves between rounds, which a ratio of minimums does not. The peers of the targets
/// are bumpalo's default `Bump` and bump-scope; bumpalo's `Bump<8>` comes after them.
fn time(rounds: usize, sizes: &[usize], layouts: &[Layout]) {
    let mut a = Arenas::new();
    println!("N={N}, {rounds} rounds, minimum ns per allocation (median ratio per round)");
    for shape in ["u64", "16", "sizes", "mixed"] {
        let kernels = [
            "ours_{}_layout",
            "ours_{}_alloc",
            "bumpalo_{}",
            "bumpscope_{}",
            "bumpalo8_{}",
        ]
        .map(|k| k.replace("{}", shape));
        let mut runs: Vec<[f64; 5]> = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let mut ns = [0.0; 5];
            for (k, kernel) in kernels.iter().enumerate() {
                let t = std::time::Instant::now();
                dispatch(kernel, &a, sizes, layouts);
                ns[k] = t.elapsed().as_secs_f64() * 1e9 / N as f64;
                a.reset();
            }
            runs.push(ns);
        }
        let best = |k: usize| runs.iter().map(|r| r[k]).fold(f64::MAX, f64::min);
        let ratio = |f: &dyn Fn(&[f64; 5]) -> f64| median(runs.iter().map(f).collect());
        println!(
            "{shape:>6}: ours/layout {:.3} ({:.2}x)  ours/alloc {:.3} ({:.2}x)  bumpalo {:.3}  \
             bump-scope {:.3}  |  bumpalo<8> {:.3} ({:.2}x)",
            best(0),
            ratio(&|r| r[2].min(r[3]) / r[0]),
            best(1),
            ratio(&|r| r[2].min(r[3]) / r[1]),
            best(2),
            best(3),
            best(4),
            ratio(&|r| r[4] / r[0].min(r[1])),
        );
    }
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
    if let Some(i) = args.iter().position(|a| a == "--time") {
        let rounds = args.get(i + 1).and_then(|r| r.parse().ok()).unwrap_or(30);
        time(rounds, &sizes, &layouts);
    } else if args.iter().any(|a| a == "--list") {
        println!("N={N}");
        for k in KERNELS
            .iter()
            .chain(TYPED_KERNELS)
            .chain(sync_kernels::KERNELS)
        {
            println!("{k}");
        }
    } else if named.is_empty() {
        for k in KERNELS
            .iter()
            .chain(TYPED_KERNELS)
            .chain(sync_kernels::KERNELS)
        {
            run(k, &sizes, &layouts);
        }
        println!("instructions: all kernels ran; count them with scripts/instructions.sh");
    } else {
        for k in named {
            run(k, &sizes, &layouts);
        }
    }
}

// ---- Typed single values: `Mallocator::alloc_value` against bumpalo's and bump-scope's
// `alloc`, each writing the value into its block. ----

/// A 24-byte value, 8-byte aligned: written, never read back.
#[allow(dead_code)]
#[derive(Clone, Copy)]
struct Rec24 {
    a: u64,
    b: u64,
    c: u64,
}

#[inline(never)]
fn ours_u64_value(m: &Mallocator, n: usize) {
    for i in 0..n as u64 {
        black_box(NonNull::from(m.alloc_value(i).expect("fits")));
    }
}

#[inline(never)]
fn bumpalo_u64_value(b: &Bump, n: usize) {
    for i in 0..n as u64 {
        black_box(NonNull::from(b.alloc(i)));
    }
}

#[inline(never)]
fn bumpscope_u64_value(b: &ScopeBump, n: usize) {
    for i in 0..n as u64 {
        black_box(NonNull::from(bump_scope::BumpBox::leak(b.alloc(i))));
    }
}

#[inline(never)]
fn ours_rec24_value(m: &Mallocator, n: usize) {
    for i in 0..n as u64 {
        let r = Rec24 { a: i, b: i, c: i };
        black_box(NonNull::from(m.alloc_value(r).expect("fits")));
    }
}

#[inline(never)]
fn bumpalo_rec24_value(b: &Bump, n: usize) {
    for i in 0..n as u64 {
        let r = Rec24 { a: i, b: i, c: i };
        black_box(NonNull::from(b.alloc(r)));
    }
}

#[inline(never)]
fn bumpscope_rec24_value(b: &ScopeBump, n: usize) {
    for i in 0..n as u64 {
        let r = Rec24 { a: i, b: i, c: i };
        black_box(NonNull::from(bump_scope::BumpBox::leak(b.alloc(r))));
    }
}

/// `n` pushes onto a `Vec` with the arena as its allocator (grown in place, the last block).
#[inline(never)]
fn ours_vec_push(m: &Mallocator, n: usize) {
    let mut v = allocator_api2::vec::Vec::new_in(m);
    for i in 0..n as u64 {
        v.push(i);
    }
    black_box(&v);
}

/// `n` pushes onto bumpalo's `Vec`.
#[inline(never)]
fn bumpalo_vec_push(b: &bumpalo::Bump, n: usize) {
    let mut v = bumpalo::collections::Vec::new_in(b);
    for i in 0..n as u64 {
        v.push(i);
    }
    black_box(&v);
}

/// `n` pushes onto bump-scope's `BumpVec` (bumping downward, its growth copies).
#[inline(never)]
fn bumpscope_vec_push(b: &ScopeBump, n: usize) {
    let mut v = bump_scope::BumpVec::new_in(b);
    for i in 0..n as u64 {
        v.push(i);
    }
    black_box(&v);
}

const TYPED_KERNELS: &[&str] = &[
    "ours_u64_value",
    "bumpalo_u64_value",
    "bumpscope_u64_value",
    "ours_rec24_value",
    "bumpalo_rec24_value",
    "bumpscope_rec24_value",
    "ours_vec_push",
    "bumpalo_vec_push",
    "bumpscope_vec_push",
];

/// Runs a typed kernel; `false` for a name that is not one.
fn run_typed(kernel: &str, a: &Arenas) -> bool {
    let (m, b, s) = (&a.ours, &a.bumpalo, &a.scope);
    match kernel {
        "ours_u64_value" => ours_u64_value(m, black_box(N)),
        "bumpalo_u64_value" => bumpalo_u64_value(b, black_box(N)),
        "bumpscope_u64_value" => bumpscope_u64_value(s, black_box(N)),
        "ours_rec24_value" => ours_rec24_value(m, black_box(N)),
        "bumpalo_rec24_value" => bumpalo_rec24_value(b, black_box(N)),
        "bumpscope_rec24_value" => bumpscope_rec24_value(s, black_box(N)),
        "ours_vec_push" => ours_vec_push(m, black_box(N)),
        "bumpalo_vec_push" => bumpalo_vec_push(b, black_box(N)),
        "bumpscope_vec_push" => bumpscope_vec_push(s, black_box(N)),
        _ => return false,
    }
    true
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
        for _ in 0..n {
            black_box(local.alloc_layout(Layout::new::<u64>()).expect("fits"));
        }
    }

    #[inline(never)]
    fn sync_shared_u64(a: &SharedArena, n: usize) {
        for _ in 0..n {
            black_box(a.alloc_layout(Layout::new::<u64>()).expect("fits"));
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
