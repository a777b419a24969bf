//! A 1 TiB reservation with 1 MiB used keeps resident memory small. Alone in its own test
//! binary, so no other test's memory shows in the process's numbers.

use vmallocator::Mallocator;

/// Resident memory of this process in bytes, from `/proc/self/statm` (Linux).
#[cfg(target_os = "linux")]
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * vmallocator::page_size()
}

#[test]
fn a_terabyte_reserved_costs_only_what_is_used() {
    const TIB: usize = 1 << 40;
    if std::env::var_os("VMALLOCATOR_VALGRIND").is_some() {
        println!("skipped: valgrind cannot map a 1 TiB reservation");
        return;
    }
    let m = match Mallocator::builder().reserve(TIB).build() {
        Ok(m) => m,
        // qemu-user maps the guest into a smaller address space than the host has.
        Err(e) if cfg!(not(target_arch = "x86_64")) => {
            println!("skipped: this platform cannot reserve 1 TiB ({e})");
            return;
        }
        Err(e) => panic!("reserving 1 TiB failed: {e}"),
    };
    #[cfg(target_os = "linux")]
    let before = resident();
    let block = m.alloc(1 << 20, 1).unwrap();
    // SAFETY: 1 MiB of fresh, committed, writable memory that nothing else references.
    unsafe { std::ptr::write_bytes(block.as_ptr(), 0x5a, 1 << 20) };
    assert_eq!(m.reserved(), TIB);
    assert_eq!(m.used(), 1 << 20);
    assert_eq!(m.committed(), vmallocator::DEFAULT_COMMIT_STEP);
    #[cfg(target_os = "linux")]
    {
        let grown = resident() - before;
        assert!(grown < 4 << 20, "resident memory grew by {grown} bytes");
        assert!(grown >= 1 << 20, "the touched MiB is resident: {grown}");
    }
    #[cfg(not(target_os = "linux"))]
    println!("resident-memory check runs on Linux only; reservation and commit checked");
    m.free().unwrap();
}
