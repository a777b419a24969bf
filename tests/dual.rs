//! Dual mapping: the mini JIT once more with code written through one view and run from
//! the other, `/proc/self/maps` checked for writable+executable mappings, patching while
//! another thread runs the code, placement, decommit, and bad inputs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use vmallocator::{Block, Error, Mallocator, Protection, page_size};

#[path = "support/code.rs"]
mod code;
use code::{return_imm, scaled, value};

const RW: Protection = Protection::READ_WRITE;
const HAS_CODE: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));
const HAS_DUAL: bool = cfg!(any(target_os = "linux", target_os = "android", windows));

/// `extern "C" fn() -> i32` returning a 32-bit value that sits at offset 4 of the code,
/// so it can be patched with one aligned store (the code must start 4-aligned).
fn return_patchable(imm: u32) -> Vec<u8> {
    let mut v = if cfg!(target_arch = "x86_64") {
        vec![0x0f, 0x1f, 0x00, 0xb8] // nop (3 bytes); mov eax, imm32 (its immediate at 4)
    } else {
        // ldr w0, [pc, #8]: loads the literal at offset 8 as data; then ret. The value is
        // data, which aarch64 lets another thread rewrite while this runs.
        [0x1800_0040u32, 0xd65f_03c0]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect()
    };
    v.extend_from_slice(&imm.to_le_bytes());
    if cfg!(target_arch = "x86_64") {
        v.push(0xc3); // ret
    }
    v
}

/// The offset of the patchable value in [`return_patchable`].
const PATCH_AT: usize = if cfg!(target_arch = "x86_64") { 4 } else { 8 };

type Ret = extern "C" fn() -> i32;

/// Under an emulator (scripts/cross-test.sh names it in this variable).
fn emulated() -> bool {
    std::env::var("VMALLOCATOR_TEST_RUNNER").is_ok_and(|r| !r.is_empty())
}

/// On platforms without dual mapping: says so, and checks that the builder says so too.
fn unsupported_here() -> bool {
    if HAS_DUAL {
        return false;
    }
    let e = Mallocator::builder()
        .dual_mapping(true)
        .build()
        .unwrap_err();
    assert_eq!(e, Error::Unsupported);
    println!(
        "skipped: dual mapping is built for Linux, Android and Windows only (Error::Unsupported here)"
    );
    true
}

/// The lines of `/proc/self/maps` whose permissions hold both `w` and `x` and whose range
/// meets one of `ranges` (a memory checker such as valgrind keeps writable+executable
/// mappings of its own elsewhere).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn writable_and_executable(ranges: &[(usize, usize)]) -> Vec<String> {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|l| {
            let mut fields = l.split_whitespace();
            let (lo, hi) = fields.next().unwrap().split_once('-').unwrap();
            let lo = usize::from_str_radix(lo, 16).unwrap();
            let hi = usize::from_str_radix(hi, 16).unwrap();
            let perms = fields.next().unwrap_or("");
            perms.contains('w')
                && perms.contains('x')
                && ranges.iter().any(|&(start, end)| lo < end && start < hi)
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_thousand_functions_each_callable_right_after_its_publish() {
    if unsupported_here() {
        return;
    }
    let n = scaled(1000);
    let mut m = Mallocator::builder()
        .reserve(64 << 20)
        .commit_step(4 * page_size())
        .dual_mapping(true)
        .build()
        .unwrap();
    assert!(m.is_dual_mapped());
    let (wbase, xbase) = (m.base().as_ptr() as usize, m.exec_base().as_ptr() as usize);
    assert_ne!(wbase, xbase);
    // Both views, guard pages included.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let views = [
        (wbase - page_size(), wbase + m.size() + page_size()),
        (xbase - page_size(), xbase + m.size() + page_size()),
    ];
    let mut fns: Vec<Block> = Vec::new();
    for i in 0..n {
        let code = m.alloc_bytes(&return_imm(value(i))).unwrap();
        let b = m.block_of(code).unwrap();
        m.publish(b).unwrap();
        // No sealing: functions are packed, and the writable view stays writable.
        assert_eq!(m.used(), (i + 1) * return_imm(0).len());
        assert_eq!(m.protection_of(b).unwrap(), Some(RW));
        let exec = m.exec_addr(b).unwrap();
        assert_eq!(exec - xbase, b.addr() - wbase);
        if HAS_CODE {
            // SAFETY: `b` holds a whole `extern "C" fn() -> i32`, just published; `m`
            // outlives the call.
            let f = unsafe { m.function::<Ret>(b) }.unwrap();
            assert_eq!(f as usize, exec);
            assert_eq!(f() as u32, value(i), "function {i} right after its publish");
        }
        fns.push(b);
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if i % 100 == 0 || i == n - 1 {
            assert_eq!(
                writable_and_executable(&views),
                [""; 0],
                "after function {i}"
            );
        }
    }
    assert!(m.committed() >= m.used() && m.committed() < m.size());
    if HAS_CODE {
        for (i, &b) in fns.iter().enumerate() {
            // SAFETY: as above.
            let f = unsafe { m.function::<Ret>(b) }.unwrap();
            assert_eq!(f() as u32, value(i), "function {i} at the end");
        }
    }
    // The writable view cannot be made executable.
    assert!(matches!(
        m.protect(.., Protection::READ_WRITE_EXECUTE),
        Err(Error::InvalidOptions { .. })
    ));
    assert_eq!(m.protection(), Some(RW));
}

#[test]
fn both_views_show_the_same_bytes_and_the_exec_view_is_not_writable() {
    if unsupported_here() {
        return;
    }
    let mut m = Mallocator::builder()
        .size(3 * page_size())
        .dual_mapping(true)
        .build()
        .unwrap();
    m.alloc_bytes(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    m.patch_u32(4, 0x0a0b_0c0d).unwrap();
    let exec = m.exec_base().as_ptr();
    // SAFETY: the executable view is readable, and the 8 bytes were written above.
    let seen = unsafe { std::slice::from_raw_parts(exec, 8) };
    let mut want = vec![1, 2, 3, 4];
    want.extend_from_slice(&0x0a0b_0c0d_u32.to_ne_bytes());
    assert_eq!(seen, want);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let perms_at = |addr: usize| {
            maps.lines()
                .find(|l| {
                    let range = l.split_whitespace().next().unwrap();
                    let (lo, hi) = range.split_once('-').unwrap();
                    let lo = usize::from_str_radix(lo, 16).unwrap();
                    let hi = usize::from_str_radix(hi, 16).unwrap();
                    (lo..hi).contains(&addr)
                })
                .map(|l| l.split_whitespace().nth(1).unwrap().to_owned())
                .unwrap()
        };
        assert_eq!(perms_at(exec as usize), "r-xs");
        assert_eq!(perms_at(m.base().as_ptr() as usize), "rw-s");
    }
}

#[test]
fn patching_while_another_thread_calls() {
    if unsupported_here() || !HAS_CODE {
        return;
    }
    // On aarch64 the patched value is data the code loads (a literal), which qemu-user reads
    // afresh on every call; an x86_64 immediate is code, which qemu-user would not
    // retranslate after a write through the other view (the old value stays).
    if emulated() && !cfg!(target_arch = "aarch64") {
        println!(
            "skipped: qemu-user does not show writes through the other view to code it has \
             translated (the old value stays)"
        );
        return;
    }
    let mut m = Mallocator::builder()
        .size(page_size())
        .dual_mapping(true)
        .build()
        .unwrap();
    let values: Vec<u32> = (0..8).map(value).collect();
    let b = m
        .block_of(m.alloc_bytes(&return_patchable(values[0])).unwrap())
        .unwrap();
    m.publish(b).unwrap();
    // SAFETY: `b` holds a whole `extern "C" fn() -> i32`, published; `m` outlives the
    // caller thread (joined below).
    let f = unsafe { m.function::<Ret>(b) }.unwrap();
    assert_eq!(f() as u32, values[0]);
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let caller = {
        let (stop, calls, values) = (Arc::clone(&stop), Arc::clone(&calls), values.clone());
        std::thread::spawn(move || {
            let mut seen = vec![false; values.len()];
            while !stop.load(Ordering::Relaxed) {
                let v = f() as u32;
                let i = values.iter().position(|&w| w == v);
                assert!(i.is_some(), "torn or unknown value {v:#x}");
                seen[i.unwrap()] = true;
                calls.fetch_add(1, Ordering::Relaxed);
            }
            seen
        })
    };
    let offset = b.addr() - m.base().as_ptr() as usize + PATCH_AT;
    let rounds = scaled(200_000);
    for r in 0..rounds {
        m.patch_u32(offset, values[r % values.len()]).unwrap();
        // The code stays callable here too, while the other thread calls it.
        let v = f() as u32;
        assert!(values.contains(&v), "torn or unknown value {v:#x}");
        if r < values.len() {
            // The first patches wait for a whole call of the other thread, so it sees
            // several values even where threads take turns (valgrind runs one at a time).
            let n = calls.load(Ordering::Relaxed);
            while calls.load(Ordering::Relaxed) < n + 2 && !caller.is_finished() {
                std::thread::yield_now();
            }
        }
    }
    let last = values[(rounds - 1) % values.len()];
    // Wait for the caller to have run after the last patch.
    let n = calls.load(Ordering::Relaxed);
    while calls.load(Ordering::Relaxed) < n + 10 && !caller.is_finished() {
        std::thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    let seen = caller.join().unwrap();
    assert!(seen.iter().filter(|&&s| s).count() >= 2, "{seen:?}");
    assert_eq!(f() as u32, last);
}

#[test]
fn appended_and_patched_code_runs_from_fresh_addresses_and_in_place() {
    if unsupported_here() || !HAS_CODE {
        return;
    }
    // What qemu does see: code appended at fresh addresses, and a patch of a value the code
    // loads as data (aarch64) or of code not yet run (x86_64).
    let mut m = Mallocator::builder()
        .reserve(1 << 20)
        .dual_mapping(true)
        .build()
        .unwrap();
    let b = m
        .block_of(m.alloc_bytes(&return_patchable(1)).unwrap())
        .unwrap();
    let offset = b.addr() - m.base().as_ptr() as usize + PATCH_AT;
    m.patch_u32(offset, 2).unwrap();
    m.publish(b).unwrap();
    // SAFETY: a whole `extern "C" fn() -> i32`, published; `m` outlives the call.
    let f = unsafe { m.function::<Ret>(b) }.unwrap();
    assert_eq!(f(), 2);
    let c = m.block_of(m.alloc_bytes(&return_imm(3)).unwrap()).unwrap();
    m.publish(c).unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { m.function::<Ret>(c) }.unwrap()(), 3);
    assert_eq!(c.addr(), b.addr() + b.len()); // appended right after, no sealing
}

#[test]
fn decommit_and_reset_give_zeroed_pages_in_both_views() {
    if unsupported_here() {
        return;
    }
    let p = page_size();
    let mut m = Mallocator::builder()
        .reserve(64 * p)
        .commit_step(p)
        .dual_mapping(true)
        .build()
        .unwrap();
    assert_eq!(m.committed(), 0);
    m.alloc_bytes(&vec![0xcc; 3 * p]).unwrap();
    assert_eq!(m.committed(), 3 * p);
    m.reset_decommit().unwrap();
    assert_eq!((m.committed(), m.used()), (0, 0));
    m.alloc(3 * p, 1).unwrap();
    assert!(support_init(&mut m).iter().all(|&b| b == 0));
    // SAFETY: committed again, readable in the executable view.
    let exec = unsafe { std::slice::from_raw_parts(m.exec_base().as_ptr(), 3 * p) };
    assert!(exec.iter().all(|&b| b == 0));
    if HAS_CODE {
        m.reset();
        let b = m.block_of(m.alloc_bytes(&return_imm(9)).unwrap()).unwrap();
        m.publish(b).unwrap();
        // SAFETY: a whole `extern "C" fn() -> i32`, published.
        assert_eq!(unsafe { m.function::<Ret>(b) }.unwrap()(), 9);
    }
    m.free().unwrap();
}

fn support_init(m: &mut Mallocator) -> Vec<u8> {
    let used = m.used_bytes().unwrap();
    // SAFETY: the bytes were never written: the OS's zeroes, or punched holes.
    unsafe { used.assume_init_ref() }.to_vec()
}

#[test]
fn near_places_the_executable_view() {
    if unsupported_here() {
        return;
    }
    let anchor = return_imm as fn(u32) -> Vec<u8> as usize;
    let reach = (1usize << 31) - 1;
    // Windows views start at 64 KiB granules and cannot keep guard pages around them.
    let guards = if cfg!(windows) {
        let e = Mallocator::builder()
            .guard_pages(1, 1)
            .dual_mapping(true)
            .build();
        assert_eq!(e.unwrap_err(), Error::Unsupported);
        0
    } else {
        1
    };
    let m = Mallocator::builder()
        .reserve(1 << 30)
        .guard_pages(guards, guards)
        .near(anchor, reach)
        .dual_mapping(true)
        .build()
        .unwrap();
    let lo = m.exec_base().as_ptr() as usize;
    assert!(lo.abs_diff(anchor) <= reach && (lo + m.size() - 1).abs_diff(anchor) <= reach);
    assert_eq!(m.committed(), 0);
    m.alloc_bytes(&[1; 100]).unwrap();
}

#[test]
fn bad_inputs_are_refused_and_change_nothing() {
    if unsupported_here() {
        return;
    }
    for b in [
        Mallocator::builder().protection(Protection::READ_WRITE_EXECUTE),
        Mallocator::builder().huge_pages(vmallocator::HugePages::Transparent),
    ] {
        assert!(matches!(
            b.dual_mapping(true).build(),
            Err(Error::InvalidOptions { .. })
        ));
    }
    let p = page_size();
    let mut m = Mallocator::builder()
        .size(2 * p)
        .dual_mapping(true)
        .build()
        .unwrap();
    m.alloc_bytes(&[7; 16]).unwrap();
    let snapshot = |m: &mut Mallocator| (m.used(), m.protection(), support_init(m));
    let before = snapshot(&mut m);
    let base = m.base().as_ptr() as usize;
    assert_eq!(
        m.patch_u32(2, 1),
        Err(Error::InvalidAddress {
            addr: base + 2,
            align: 4
        })
    );
    assert_eq!(
        m.patch_u64(12, 1),
        Err(Error::InvalidAddress {
            addr: base + 12,
            align: 8
        })
    );
    assert_eq!(
        m.patch_u32(16, 1),
        Err(Error::NotInArena {
            addr: base + 16,
            len: 4
        })
    );
    assert!(m.patch_u32(usize::MAX - 3, 1).is_err());
    assert!(m.exec_addr(2 * p + 1..).is_err());
    assert!(matches!(
        m.protect(..p, Protection::READ_EXECUTE),
        Err(Error::InvalidOptions { .. })
    ));
    assert!(m.publish(0..2 * p + 1).is_err());
    let other = Mallocator::new().unwrap();
    let foreign = other.block_of(other.alloc_bytes(&[1]).unwrap()).unwrap();
    assert_eq!(m.exec_addr(foreign), Err(Error::ForeignBlock));
    assert_eq!(m.publish(foreign), Err(Error::ForeignBlock));
    m.protect(..p, Protection::READ).unwrap();
    assert_eq!(
        m.patch_u32(4, 1),
        Err(Error::NotWritable {
            protection: Protection::READ
        })
    );
    m.protect(..p, RW).unwrap();
    assert_eq!(snapshot(&mut m), before);
}

/// Resident kilobytes of the mapping holding `addr`, from `/proc/self/smaps`.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn resident_kib(addr: usize) -> usize {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut inside = false;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((lo, hi)) = first.split_once('-')
            && let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
        {
            inside = (lo..hi).contains(&addr);
        } else if inside && first == "Rss:" {
            return line.split_whitespace().nth(1).unwrap().parse().unwrap();
        }
    }
    panic!("no mapping holds {addr:#x}");
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn decommitting_gives_the_memory_back() {
    // 8 MiB, or down to 1 MiB where `VMALLOCATOR_TEST_SCALE` is low (valgrind).
    let size = scaled(8 << 20).clamp(1 << 20, 8 << 20) & !0xfff;
    let mut m = Mallocator::builder()
        .reserve(4 * size)
        .dual_mapping(true)
        .build()
        .unwrap();
    let (w, x) = (m.base().as_ptr() as usize, m.exec_base().as_ptr() as usize);
    assert_eq!(resident_kib(w), 0);
    m.alloc_bytes(&vec![0x5a; size]).unwrap();
    // Both views map the same pages: resident in each.
    assert!(resident_kib(w) >= size / 1024, "{} KiB", resident_kib(w));
    // SAFETY: committed and readable in the executable view; touching it maps the pages there.
    let exec = unsafe { std::slice::from_raw_parts(x as *const u8, size) };
    assert!(exec.iter().all(|&b| b == 0x5a));
    assert!(resident_kib(x) >= size / 1024);
    m.reset_decommit().unwrap();
    assert_eq!((resident_kib(w), resident_kib(x)), (0, 0));
}
