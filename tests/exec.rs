//! Executable memory: page-range protection, publishing and running code, guard pages,
//! placement, and faults proven in a child process.
//!
//! A fault test re-runs this test binary with `--exact <name>` and the environment variable
//! `VMALLOCATOR_FAULT=<name>`; the child then does the faulting access, and the parent checks
//! that it died of SIGSEGV/SIGBUS (Unix) or STATUS_ACCESS_VIOLATION (Windows).

mod support;

use std::process::Command;

use vmallocator::{Error, Mallocator, Protection, page_size};

const RW: Protection = Protection::READ_WRITE;
const RX: Protection = Protection::READ_EXECUTE;

/// `fn(i32) -> i32` returning its argument plus `imm`, for this target's C calling convention.
fn add_imm(imm: u16) -> Vec<u8> {
    let [lo, hi] = imm.to_le_bytes();
    if cfg!(all(target_arch = "x86_64", windows)) {
        vec![0x8d, 0x81, lo, hi, 0, 0, 0xc3] // lea eax, [rcx + imm32]; ret
    } else if cfg!(target_arch = "x86_64") {
        vec![0x8d, 0x87, lo, hi, 0, 0, 0xc3] // lea eax, [rdi + imm32]; ret
    } else if cfg!(target_arch = "aarch64") {
        let add = 0x1100_0000u32 | (u32::from(imm & 0xfff) << 10); // add w0, w0, #imm
        let mut v = add.to_le_bytes().to_vec();
        v.extend_from_slice(&0xd65f_03c0u32.to_le_bytes()); // ret
        v
    } else {
        Vec::new()
    }
}

const HAS_CODE: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// Calls the `extern "C" fn(i32) -> i32` at `addr`.
///
/// # Safety
/// `addr` must hold a published function of that type.
unsafe fn call(addr: usize, x: i32) -> i32 {
    // SAFETY: per this function's contract, `addr` is executable code of this signature.
    let f: extern "C" fn(i32) -> i32 = unsafe { std::mem::transmute(addr) };
    f(x)
}

#[test]
fn published_code_runs_and_can_be_patched() {
    if !HAS_CODE {
        return;
    }
    let mut m = Mallocator::new().unwrap();
    let start = m.used();
    let addr = m.alloc_bytes(&add_imm(42)).unwrap().as_ptr() as usize;
    m.publish(start..m.used()).unwrap();
    assert_eq!(m.protection_at(start), Some(RX));
    // SAFETY: the code just published is `fn(i32) -> i32` for this target.
    assert_eq!(unsafe { call(addr, 100) }, 142);

    m.make_writable(start..m.used()).unwrap();
    m.reset();
    m.alloc_bytes(&add_imm(7)).unwrap();
    m.publish(..).unwrap();
    // SAFETY: as above, patched in place.
    assert_eq!(unsafe { call(addr, 100) }, 107);
}

#[test]
fn partial_ranges_round_outward_to_pages() {
    let p = page_size();
    let mut m = Mallocator::with_size(4 * p, RW).unwrap();
    m.protect(p + 10..2 * p + 1, Protection::READ).unwrap(); // pages 1 and 2
    let got: Vec<_> = (0..4).map(|i| m.protection_at(i * p).unwrap()).collect();
    assert_eq!(got, [RW, Protection::READ, Protection::READ, RW]);
    assert_eq!(m.protection_of(p..3 * p).unwrap(), Some(Protection::READ));
    assert_eq!(m.protection_of(..).unwrap(), None);
    assert_eq!(m.protection(), None); // mixed

    // The write helpers check exactly the pages a block touches.
    m.alloc(p - 2, 1).unwrap();
    assert_eq!(m.alloc_bytes(&[1, 2]).unwrap(), [1, 2]); // ends right at page 1
    assert_eq!(
        m.alloc_bytes(&[3]).unwrap_err(),
        Error::NotWritable {
            protection: Protection::READ
        }
    );
    assert_eq!(m.used(), p);
    assert!(m.alloc_str("x", vmallocator::CharWidth::U32).is_err());
    assert_eq!(m.alloc_bytes(&[]).unwrap(), [0u8; 0]); // touches no page
    m.alloc(2 * p, 1).unwrap(); // raw blocks do not write
    assert_eq!(m.alloc_bytes(&[9; 8]).unwrap(), [9; 8]); // page 3 is writable
    assert_eq!(support::init(m.used_bytes().unwrap()).len(), 3 * p + 8); // read-only pages can be read
    m.protect(p..2 * p, Protection::NONE).unwrap();
    assert_eq!(
        m.used_bytes().unwrap_err(),
        Error::NotReadable {
            protection: Protection::NONE
        }
    );
}

#[test]
fn zero_length_and_out_of_range_change_nothing() {
    let p = page_size();
    let mut m = Mallocator::with_size(2 * p, RW).unwrap();
    m.protect(p..p, Protection::NONE).unwrap();
    m.protect(2 * p..2 * p, Protection::NONE).unwrap();
    m.publish(5..5).unwrap();
    assert_eq!(m.protection_of(..).unwrap(), Some(RW));
    let size = m.size();
    for (start, end) in [(0, 2 * p + 1), (2 * p + 1, 2 * p + 1), (p, p - 1)] {
        let e = m.protect(start..end, Protection::NONE).unwrap_err();
        assert!(
            matches!(e, Error::OutOfRange { size: s, .. } if s == size),
            "{e:?}"
        );
        assert!(m.publish(start..end).is_err());
        assert!(m.make_writable(start..end).is_err());
    }
    assert!(
        m.protect(usize::MAX..=usize::MAX, Protection::NONE)
            .is_err()
    );
    assert_eq!(m.protection_of(..).unwrap(), Some(RW));
    // Nothing changed in the OS either: every page can still be written.
    m.alloc_bytes(&vec![7; 2 * p]).unwrap();
    assert_eq!(m.protection_at(2 * p), None);
    assert!(m.protection_of(2 * p..2 * p).is_err());
}

#[test]
fn guard_pages_leave_base_and_size_usable() {
    let p = page_size();
    let mut m = Mallocator::builder()
        .size(p)
        .guard_pages(1, 2)
        .build()
        .unwrap();
    assert_eq!(m.size(), p);
    m.alloc_bytes(&vec![1; p]).unwrap();
    assert!(
        support::init(m.used_bytes().unwrap())
            .iter()
            .all(|&b| b == 1)
    );
    // The error names the guard pages that overflowed, not the usable size.
    for (before, after) in [(usize::MAX, 0), (0, usize::MAX), (1, usize::MAX / p)] {
        assert_eq!(
            Mallocator::builder()
                .guard_pages(before, after)
                .build()
                .unwrap_err(),
            Error::GuardPagesOverflow { before, after }
        );
    }
    // A usable size that overflows alone is the size's error.
    assert_eq!(
        Mallocator::builder()
            .size(usize::MAX)
            .guard_pages(1, 1)
            .build()
            .unwrap_err(),
        Error::SizeOverflow {
            requested: usize::MAX
        }
    );
}

#[test]
fn exact_placement_never_replaces_a_mapping() {
    let taken = Mallocator::new().unwrap();
    taken.alloc_bytes(b"keep me").unwrap();
    let addr = taken.base().as_ptr() as usize;
    for guard in [0, 1] {
        let e = Mallocator::builder()
            .guard_pages(0, guard)
            .at(addr)
            .build()
            .unwrap_err();
        assert_eq!(e, Error::AddressInUse { addr });
    }
    let mut taken = taken;
    assert_eq!(support::init(taken.used_bytes().unwrap()), b"keep me");
    assert_eq!(
        Mallocator::builder().at(addr + 1).build().unwrap_err(),
        Error::InvalidAddress {
            addr: addr + 1,
            align: vmallocator::granularity()
        }
    );

    // A free address is taken exactly (retried: another thread may map there meanwhile).
    let placed = (0..10).find_map(|_| {
        let probe = Mallocator::new().unwrap();
        let free = probe.base().as_ptr() as usize;
        drop(probe);
        let m = Mallocator::builder().at(free).build().ok()?;
        (m.base().as_ptr() as usize == free).then_some(())
    });
    assert!(placed.is_some());
}

#[test]
fn near_placement_lands_within_range() {
    let here = near_placement_lands_within_range as *const () as usize;
    let p = page_size();
    for distance in [1usize << 31, 128 << 20] {
        let m = Mallocator::builder()
            .size(4 * p)
            .near(here, distance)
            .build()
            .unwrap();
        let base = m.base().as_ptr() as usize;
        assert!(base >= here.saturating_sub(distance), "{base:#x} {here:#x}");
        assert!(
            base + m.size() - 1 <= here + distance,
            "{base:#x} {here:#x}"
        );
    }

    // Within a region that is all taken, nothing is free: an error, contents intact.
    let g = vmallocator::granularity();
    let mut big = Mallocator::with_size(16 * g, RW).unwrap();
    big.alloc_bytes(&[0xab; 64]).unwrap();
    let mid = big.base().as_ptr() as usize + 8 * g;
    let e = Mallocator::builder()
        .size(g)
        .near(mid, 2 * g)
        .build()
        .unwrap_err();
    assert!(
        matches!(e, Error::NoFreeSpaceNear { addr, .. } if addr == mid),
        "{e:?}"
    );
    assert_eq!(support::init(big.used_bytes().unwrap()), [0xab; 64]);
    assert!(matches!(
        Mallocator::builder().size(4 * g).near(mid, g).build(),
        Err(Error::NoFreeSpaceNear { .. })
    ));
}

// ---- faults, proven in a child process ------------------------------------------------

const FAULT_VAR: &str = "VMALLOCATOR_FAULT";

/// In the parent: re-runs this binary for test `name` with [`FAULT_VAR`] set and asserts
/// that the child died of an access violation. In the child: returns `true`, and the
/// caller then does the faulting access.
fn in_faulting_child(name: &str) -> bool {
    if std::env::var(FAULT_VAR).as_deref() == Ok(name) {
        return true;
    }
    let exe = std::env::current_exe().unwrap();
    // Under an emulator without binfmt_misc (qemu-user), the child must go through the
    // same runner as the parent: scripts/cross-test.sh names it in this variable.
    let runner = std::env::var("VMALLOCATOR_TEST_RUNNER").unwrap_or_default();
    let mut runner = runner.split_whitespace();
    let mut cmd = match runner.next() {
        Some(program) => {
            let mut cmd = Command::new(program);
            cmd.args(runner).arg(&exe);
            cmd
        }
        None => Command::new(&exe),
    };
    let out = cmd
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(FAULT_VAR, name)
        .output();
    let out = match out {
        Ok(out) => out,
        // E.g. an aarch64 binary under qemu-user without binfmt_misc: the child cannot start.
        Err(e) => {
            println!(
                "skipped {name}: cannot re-run {} as a child: {e}",
                exe.display()
            );
            return false;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    // 127: the child binary could not be executed at all. That is qemu-user without
    // binfmt_misc: an emulated process cannot exec a foreign-architecture binary.
    if out.status.code() == Some(127) && out.stdout.is_empty() {
        println!(
            "skipped {name}: the child process could not execute {} (exit 127; qemu-user \
             without binfmt_misc?)",
            exe.display()
        );
        return false;
    }
    assert!(
        stdout.contains("about to fault"),
        "the child did not reach the faulting access: {:?}\n{stdout}",
        out.status
    );
    assert!(
        died_of_access_violation(&out.status),
        "the child did not fault: {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

#[cfg(unix)]
fn died_of_access_violation(status: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    // SIGSEGV is 11 everywhere; SIGBUS is 7 on Linux and 10 on macOS and the BSDs.
    let bus = if cfg!(target_os = "linux") { 7 } else { 10 };
    matches!(status.signal(), Some(s) if s == 11 || s == bus)
}

#[cfg(windows)]
fn died_of_access_violation(status: &std::process::ExitStatus) -> bool {
    status.code() == Some(0xC000_0005_u32 as i32)
}

#[cfg(not(any(unix, windows)))]
fn died_of_access_violation(_: &std::process::ExitStatus) -> bool {
    false
}

fn about_to_fault() {
    println!("about to fault");
    use std::io::Write;
    std::io::stdout().flush().unwrap();
}

#[test]
fn writing_published_code_faults() {
    if !in_faulting_child("writing_published_code_faults") {
        return;
    }
    let mut m = Mallocator::new().unwrap();
    let addr = m.alloc_bytes(&add_imm(1)).unwrap().as_mut_ptr();
    m.publish(..).unwrap();
    about_to_fault();
    // SAFETY: not sound on purpose: the page is read+execute, so this write faults and
    // kills the child process, which is what the parent checks.
    unsafe { addr.write_volatile(0x90) };
    println!("no fault");
}

#[test]
fn reading_a_guard_page_faults() {
    if !in_faulting_child("reading_a_guard_page_faults") {
        return;
    }
    let m = Mallocator::builder().guard_pages(0, 1).build().unwrap();
    let end = m
        .alloc(m.size(), 1)
        .unwrap()
        .as_ptr()
        .wrapping_add(m.size());
    about_to_fault();
    // SAFETY: not sound on purpose: `end` is the first byte of the guard page after the
    // region, so this read faults and kills the child, which is what the parent checks.
    let b = unsafe { end.read_volatile() };
    println!("no fault: {b}");
}

#[test]
fn reading_below_a_guard_page_faults() {
    if !in_faulting_child("reading_below_a_guard_page_faults") {
        return;
    }
    let m = Mallocator::builder().guard_pages(1, 0).build().unwrap();
    let below = m.base().as_ptr().wrapping_sub(1);
    about_to_fault();
    // SAFETY: not sound on purpose: the byte below the base is in the guard page.
    let b = unsafe { below.read_volatile() };
    println!("no fault: {b}");
}

#[test]
fn executing_writable_memory_faults() {
    if !HAS_CODE || !in_faulting_child("executing_writable_memory_faults") {
        return;
    }
    let m = Mallocator::new().unwrap();
    let addr = m.alloc_bytes(&add_imm(1)).unwrap().as_ptr() as usize;
    about_to_fault();
    // SAFETY: not sound on purpose: the code is on a read+write page without execute
    // permission, so a CPU with NX faults on the call, killing the child.
    let r = unsafe { call(addr, 1) };
    println!("no fault: {r}");
}

/// With dual mapping, neither view is writable and executable: writing the executable view
/// faults, and so does running code from the writable one.
#[test]
fn writing_the_executable_view_of_a_dual_mapping_faults() {
    if !cfg!(any(target_os = "linux", target_os = "android", windows))
        || !in_faulting_child("writing_the_executable_view_of_a_dual_mapping_faults")
    {
        return;
    }
    let mut m = Mallocator::builder().dual_mapping(true).build().unwrap();
    let b = m.block_of(m.alloc_bytes(&add_imm(1)).unwrap()).unwrap();
    m.publish(b).unwrap();
    let exec = m.exec_addr(b).unwrap() as *mut u8;
    about_to_fault();
    // SAFETY: not sound on purpose: the executable view is read+execute, so this write
    // faults and kills the child, which is what the parent checks.
    unsafe { exec.write_volatile(0x90) };
    println!("no fault");
}

#[test]
fn running_the_writable_view_of_a_dual_mapping_faults() {
    if !HAS_CODE
        || !cfg!(any(target_os = "linux", target_os = "android", windows))
        || !in_faulting_child("running_the_writable_view_of_a_dual_mapping_faults")
    {
        return;
    }
    let mut m = Mallocator::builder().dual_mapping(true).build().unwrap();
    let b = m.block_of(m.alloc_bytes(&add_imm(1)).unwrap()).unwrap();
    m.publish(b).unwrap();
    about_to_fault();
    // SAFETY: not sound on purpose: the writable view is not executable, so a CPU with NX
    // faults on the call, killing the child.
    let r = unsafe { call(b.addr(), 1) };
    println!("no fault: {r}");
}

#[test]
fn reservations_record_protection_until_pages_are_committed() {
    let p = page_size();
    let mut m = Mallocator::builder().reserve(1 << 30).build().unwrap();
    assert_eq!(m.committed(), 0);
    // Changing a gigabyte of reserved pages commits none of them.
    m.publish(..).unwrap();
    m.make_writable(..).unwrap();
    m.protect(4 * p..8 * p, Protection::READ).unwrap();
    assert_eq!(m.committed(), 0);
    m.alloc_bytes(&[1; 16]).unwrap(); // commits a step, pages 4..8 read-only
    assert!(m.committed() >= 8 * p);
    m.alloc(4 * p - 16, 1).unwrap();
    assert_eq!(
        m.alloc_bytes(&[2]).unwrap_err(),
        Error::NotWritable {
            protection: Protection::READ
        }
    );
    // The OS agrees: the committed read-only pages can be read, and become writable again.
    m.make_writable(4 * p..8 * p).unwrap();
    m.alloc_bytes(&[3; 8]).unwrap();
    assert_eq!(support::init(m.used_bytes().unwrap())[4 * p..], [3; 8]);
}

/// The guard pages of a growing code heap (reserve + guards + near) trap, below and above.
fn code_heap_guard(name: &str, above: bool) {
    if !in_faulting_child(name) {
        return;
    }
    let anchor = add_imm as fn(u16) -> Vec<u8> as usize;
    let m = Mallocator::builder()
        .reserve(64 * page_size())
        .commit_step(16 * page_size())
        .guard_pages(1, 1)
        .near(anchor, (1 << 31) - 1)
        .build()
        .unwrap();
    // Commit the whole heap, so the only inaccessible pages left are the guards.
    m.alloc(m.size(), 1).unwrap();
    assert_eq!(m.committed(), m.size());
    let base = m.base().as_ptr();
    let guard = if above {
        base.wrapping_add(m.size())
    } else {
        base.wrapping_sub(1)
    };
    about_to_fault();
    // SAFETY: not sound on purpose: `guard` is in a guard page, so this read faults and
    // kills the child, which is what the parent checks.
    let b = unsafe { guard.read_volatile() };
    println!("no fault: {b}");
}

#[test]
fn reading_above_a_code_heap_faults() {
    code_heap_guard("reading_above_a_code_heap_faults", true);
}

#[test]
fn reading_below_a_code_heap_faults() {
    code_heap_guard("reading_below_a_code_heap_faults", false);
}
