//! Resource-limit fault injection (Linux): the process's limit on mappings
//! (`vm.max_map_count`) makes `mmap`, `mprotect` and `munmap` fail with `ENOMEM` whenever
//! they would need one mapping more. Each test re-runs this binary as a child with
//! `VMALLOCATOR_LIMIT=<name>`; the child prepares its arenas, fills the limit with one-page
//! mappings, and checks that every call fails cleanly: the arena's pointer, committed size,
//! high-water mark, page protections and bytes unchanged, and not one mapping more or less
//! in `/proc/self/maps` (nothing leaked). Then it releases a few fillers and checks that the
//! same calls succeed.
//!
//! At the limit the child must not allocate heap memory it has not set aside (even `brk`
//! counts against the limit), so it reserves its buffers before filling.

#![cfg(target_os = "linux")]

use std::io::Read;
use std::process::Command;

use vmallocator::{Error, Mallocator, Protection, page_size};

const CHILD_VAR: &str = "VMALLOCATOR_LIMIT";
const ENOMEM: i32 = 12;

/// In the parent: re-runs this binary for test `name` in a child and asserts it passed.
/// In the child: returns `true`, and the caller runs the scenario. Prints why and returns
/// `false` where the scenario cannot run.
fn in_limited_child(name: &str) -> bool {
    if std::env::var(CHILD_VAR).as_deref() == Ok(name) {
        return true;
    }
    for (var, why) in [
        (
            "VMALLOCATOR_VALGRIND",
            "valgrind keeps its own mappings and limit",
        ),
        (
            "VMALLOCATOR_ASAN",
            "AddressSanitizer maps shadow memory as it goes",
        ),
    ] {
        if std::env::var_os(var).is_some() {
            println!("skipped {name}: {why}");
            return false;
        }
    }
    if !std::env::var("VMALLOCATOR_TEST_RUNNER")
        .unwrap_or_default()
        .is_empty()
    {
        println!("skipped {name}: under an emulator the limit is the emulator's");
        return false;
    }
    match max_map_count() {
        Some(n) if n <= 1 << 20 => {}
        other => {
            println!("skipped {name}: vm.max_map_count is {other:?}, too many to fill");
            return false;
        }
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(&exe)
        .args([
            "--exact",
            name,
            "--nocapture",
            "--test-threads=1",
            "--include-ignored",
        ])
        .env(CHILD_VAR, name)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}{stderr}");
    assert!(
        out.status.success() && (stdout.contains("limit reached") || stdout.contains("skipped")),
        "child {name} failed: {:?}\n{stdout}\n{stderr}",
        out.status
    );
    false
}

fn max_map_count() -> Option<usize> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// One-page mappings that fill the limit, with alternating protections so that none merges
/// with its neighbours (or with an arena, which is read+write or inaccessible).
struct Fillers(Vec<usize>);

impl Fillers {
    /// Maps pages until `mmap` refuses: the process is then at its limit.
    fn fill() -> Fillers {
        let mut pages = Vec::with_capacity(max_map_count().unwrap() + 16);
        loop {
            let prot = if pages.len() % 2 == 0 {
                rustix::mm::ProtFlags::READ
            } else {
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::EXEC
            };
            // SAFETY: a fresh anonymous mapping anywhere; nothing else is touched.
            let r = unsafe {
                rustix::mm::mmap_anonymous(
                    core::ptr::null_mut(),
                    page_size(),
                    prot,
                    rustix::mm::MapFlags::PRIVATE,
                )
            };
            match r {
                Ok(p) => pages.push(p as usize),
                Err(e) => {
                    assert_eq!(e.raw_os_error(), ENOMEM, "mmap failed for another reason");
                    break;
                }
            }
            assert!(pages.len() < pages.capacity(), "mmap never refused");
        }
        println!("limit reached after {} filler mappings", pages.len());
        Fillers(pages)
    }

    /// Unmaps `n` fillers: `n` mappings of headroom.
    fn release(&mut self, n: usize) {
        for _ in 0..n {
            let p = self.0.pop().unwrap();
            // SAFETY: `p` is one of our own one-page filler mappings, which nothing uses.
            unsafe { rustix::mm::munmap(p as *mut core::ffi::c_void, page_size()) }.unwrap();
        }
    }
}

/// `/proc/self/maps`, read into a buffer set aside before the limit was reached.
struct Maps(String);

impl Maps {
    fn new() -> Maps {
        Maps(String::with_capacity(32 << 20))
    }

    fn read(&mut self) -> &str {
        self.0.clear();
        let mut f = std::fs::File::open("/proc/self/maps").unwrap();
        f.read_to_string(&mut self.0).unwrap();
        assert!(self.0.len() < self.0.capacity(), "maps buffer too small");
        &self.0
    }

    /// The number of mappings, and a hash of the lines that overlap `[start, end)`.
    fn summary(&mut self, start: usize, end: usize) -> (usize, u64) {
        let text = self.read();
        let mut hash = 0xcbf2_9ce4_8422_2325_u64;
        let mut count = 0;
        for line in text.lines() {
            count += 1;
            let range = line.split(' ').next().unwrap();
            let (a, b) = range.split_once('-').unwrap();
            let a = usize::from_str_radix(a, 16).unwrap();
            let b = usize::from_str_radix(b, 16).unwrap();
            if a < end && b > start {
                for byte in line.bytes() {
                    hash = (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
                }
            }
        }
        (count, hash)
    }

    /// Whether `addr` lies in some mapping.
    fn is_mapped(&mut self, addr: usize) -> bool {
        self.read().lines().any(|line| {
            let (a, b) = line.split(' ').next().unwrap().split_once('-').unwrap();
            let a = usize::from_str_radix(a, 16).unwrap();
            let b = usize::from_str_radix(b, 16).unwrap();
            a <= addr && addr < b
        })
    }
}

/// What a failed call must leave unchanged: pointer, committed size, high-water mark, the
/// protection of every page, the bytes below the pointer, and the OS's view.
#[derive(Debug, PartialEq, Eq)]
struct State {
    used: usize,
    committed: usize,
    high: usize,
    prots: u64,
    bytes: u64,
    maps: (usize, u64),
}

fn state(m: &mut Mallocator, maps: &mut Maps) -> State {
    let base = m.base().as_ptr() as usize;
    let mut prots = 0u64;
    for page in 0..m.size() / page_size() {
        let p = m.protection_at(page * page_size()).unwrap();
        prots = prots.wrapping_mul(31).wrapping_add(p.is_readable() as u64)
            ^ ((p.is_writable() as u64) << 1)
            ^ ((p.is_executable() as u64) << 2);
    }
    let mut bytes = 0u64;
    if let Ok(used) = m.used_bytes() {
        // SAFETY: the scenarios write only through the helpers.
        let used = unsafe { used.assume_init_ref() };
        for &b in used {
            bytes = (bytes ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    State {
        used: m.used(),
        committed: m.committed(),
        high: m.high_water_mark(),
        prots,
        bytes,
        maps: maps.summary(base, base + m.size()),
    }
}

/// Asserts that `result` is the OS's `ENOMEM` from `call`, and that `m` and the process's
/// mappings are as in `before`.
fn assert_clean_failure<T: core::fmt::Debug>(
    what: &str,
    result: Result<T, Error>,
    call: &str,
    m: &mut Mallocator,
    maps: &mut Maps,
    before: &State,
) {
    match result {
        Err(Error::Os { call: c, code }) if c == call && code == ENOMEM => {}
        other => panic!("{what}: expected {call} ENOMEM, got {other:?}"),
    }
    assert_eq!(&state(m, maps), before, "{what} changed the arena");
    println!("{what}: failed cleanly with {call} ENOMEM");
}

/// Three read+write pages that the kernel merges into one mapping, the middle one an arena:
/// releasing the arena means splitting that mapping, one mapping more.
fn merged_arena(maps: &mut Maps) -> Option<(Mallocator, usize)> {
    let p = page_size();
    // SAFETY: a fresh anonymous mapping anywhere.
    let outer = unsafe {
        rustix::mm::mmap_anonymous(
            core::ptr::null_mut(),
            3 * p,
            rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
            rustix::mm::MapFlags::PRIVATE,
        )
    }
    .unwrap() as usize;
    // SAFETY: the middle page of our own fresh mapping, which nothing uses.
    unsafe { rustix::mm::munmap((outer + p) as *mut core::ffi::c_void, p) }.unwrap();
    let m = Mallocator::builder().size(p).at(outer + p).build().unwrap();
    let one = maps
        .read()
        .lines()
        .any(|l| l.starts_with(&format!("{outer:x}-{:x} ", outer + 3 * p)));
    if !one {
        println!("skipped: the kernel did not merge the arena with its neighbours");
        return None;
    }
    Some((m, outer))
}

#[test]
fn free_at_the_limit_hands_the_arena_back() {
    if !in_limited_child("free_at_the_limit_hands_the_arena_back") {
        return;
    }
    let mut maps = Maps::new();
    let Some((mut m, outer)) = merged_arena(&mut maps) else {
        return;
    };
    m.alloc_bytes(b"still here").unwrap();
    let Some((dropped, _)) = merged_arena(&mut maps) else {
        return;
    };
    let dropped_at = dropped.base().as_ptr() as usize;

    let mut fillers = Fillers::fill();
    let before = state(&mut m, &mut maps);
    let e = m.free().unwrap_err();
    assert_eq!(
        e.error(),
        &Error::Os {
            call: "munmap",
            code: ENOMEM
        }
    );
    let mut m = e.into_arena();
    assert_eq!(
        state(&mut m, &mut maps),
        before,
        "a failed free changed the arena"
    );
    let used = m.used_bytes().unwrap();
    // SAFETY: written by `alloc_bytes` only.
    let used = unsafe { used.assume_init_ref() };
    assert_eq!(used, b"still here");
    m.alloc_bytes(b"!").unwrap();
    println!("free: failed with munmap ENOMEM, arena handed back intact and usable");

    // Drop cannot report: it leaks the region rather than panic.
    drop(dropped);
    assert!(
        maps.is_mapped(dropped_at),
        "the failed release in Drop unmapped"
    );
    println!("drop: leaked the region without a panic");

    fillers.release(8);
    let base = m.base().as_ptr() as usize;
    m.free().unwrap();
    assert!(
        !maps.is_mapped(base) && maps.is_mapped(outer) && maps.is_mapped(outer + 2 * page_size())
    );
    println!("free: succeeded once there was headroom");
}

#[test]
fn calls_at_the_limit_fail_cleanly() {
    if !in_limited_child("calls_at_the_limit_fail_cleanly") {
        return;
    }
    let p = page_size();
    let mut maps = Maps::new();
    // A reservation with one page committed and made read-only, so that committing the
    // next page cannot extend its mapping: it must split the reserved rest.
    let mut grow = Mallocator::builder()
        .reserve(16 * p)
        .commit_step(p)
        .build()
        .unwrap();
    grow.alloc_bytes(&[7; 100]).unwrap();
    grow.protect(..p, Protection::READ).unwrap();
    // Decommitting maps fresh pages over a committed range: one mapping more.
    let mut decommit = Mallocator::builder()
        .reserve(16 * p)
        .commit_step(4 * p)
        .build()
        .unwrap();
    decommit.alloc_bytes(&[1; 10]).unwrap();
    let mut trim = Mallocator::builder()
        .reserve(16 * p)
        .commit_step(4 * p)
        .build()
        .unwrap();
    trim.alloc_bytes(&[2; 10]).unwrap();

    let mut fillers = Fillers::fill();
    let states = [
        state(&mut grow, &mut maps),
        state(&mut decommit, &mut maps),
        state(&mut trim, &mut maps),
    ];
    let count = maps.summary(0, 0).0;
    match Mallocator::with_size(p, Protection::READ_WRITE) {
        Err(Error::Os { call: "mmap", code }) if code == ENOMEM => {}
        other => panic!("build at the limit: {other:?}"),
    }
    match Mallocator::builder().reserve(64 * p).build() {
        Err(Error::Os { call: "mmap", code }) if code == ENOMEM => {}
        other => panic!("reserve at the limit: {other:?}"),
    }
    assert_eq!(
        maps.summary(0, 0).0,
        count,
        "a failed build leaked a mapping"
    );
    println!("build: failed cleanly with mmap ENOMEM");

    let r = grow.alloc(2 * p, 1).map(drop);
    assert_clean_failure("growth", r, "mprotect", &mut grow, &mut maps, &states[0]);
    let r = decommit.reset_decommit();
    assert_clean_failure(
        "reset_decommit",
        r,
        "mmap",
        &mut decommit,
        &mut maps,
        &states[1],
    );
    let r = trim.trim();
    assert_clean_failure("trim", r, "mmap", &mut trim, &mut maps, &states[2]);
    assert_eq!(
        maps.summary(0, 0).0,
        count,
        "a failed call leaked a mapping"
    );

    // With headroom, the same calls succeed.
    fillers.release(16);
    grow.alloc(2 * p, 1).unwrap();
    assert!(grow.committed() >= 3 * p);
    decommit.reset_decommit().unwrap();
    assert_eq!(decommit.committed(), 0);
    trim.trim().unwrap();
    assert_eq!(trim.committed(), p);
    println!("with headroom: growth, reset_decommit and trim succeed");
}

#[test]
fn protect_at_the_limit_changes_nothing() {
    if !in_limited_child("protect_at_the_limit_changes_nothing") {
        return;
    }
    let p = page_size();
    let mut maps = Maps::new();
    let mut m = Mallocator::with_size(3 * p, Protection::READ_WRITE).unwrap();
    m.alloc_bytes(&[3; 10]).unwrap();
    let mut fillers = Fillers::fill();
    let before = state(&mut m, &mut maps);
    // The middle page: two splits.
    let r = m.protect(p..p + 1, Protection::READ_EXECUTE);
    assert_clean_failure("protect", r, "mprotect", &mut m, &mut maps, &before);
    m.alloc_bytes(&[4; 10]).unwrap();
    fillers.release(8);
    m.protect(p..p + 1, Protection::READ_EXECUTE).unwrap();
    assert_eq!(m.protection_at(p), Some(Protection::READ_EXECUTE));
}
