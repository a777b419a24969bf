//! A protection change that fails at the process's limit on mappings (`vm.max_map_count`)
//! changes nothing: what the OS changed before failing is set back, and the arena's record
//! still matches the OS.
//!
//! The test fills the mapping limit, so it runs in a child process: this test binary run
//! again with `--exact <name>` and `VMALLOCATOR_CHILD=<name>`. Linux only.

#[cfg(target_os = "linux")]
mod linux {
    use std::process::Command;

    use rustix::mm::{self, MapFlags, ProtFlags};
    use vmallocator::{Error, Mallocator, Protection, page_size};

    const CHILD_VAR: &str = "VMALLOCATOR_CHILD";
    const NAME: &str = "linux::a_failed_protection_change_at_the_mapping_limit_changes_nothing";

    /// The permissions `/proc/self/maps` shows for the page at `addr`, e.g. `"rw-p"`.
    fn os_permissions(addr: usize) -> String {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        for line in maps.lines() {
            let mut fields = line.split_whitespace();
            let (range, perms) = (fields.next().unwrap(), fields.next().unwrap());
            let (lo, hi) = range.split_once('-').unwrap();
            let lo = usize::from_str_radix(lo, 16).unwrap();
            let hi = usize::from_str_radix(hi, 16).unwrap();
            if (lo..hi).contains(&addr) {
                return perms.to_owned();
            }
        }
        panic!("{addr:#x} is not mapped");
    }

    #[test]
    fn a_failed_protection_change_at_the_mapping_limit_changes_nothing() {
        if std::env::var(CHILD_VAR).as_deref() == Ok(NAME) {
            child();
            return;
        }
        if let Ok(runner) = std::env::var("VMALLOCATOR_TEST_RUNNER")
            && !runner.is_empty()
        {
            println!("skipped: under an emulator ({runner}) the limit is the emulator's");
            return;
        }
        let max: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        if max == 0 || max > 1 << 20 {
            println!("skipped: vm.max_map_count is {max}, too large to fill in a test");
            return;
        }
        let exe = std::env::current_exe().unwrap();
        let out = Command::new(&exe)
            .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_VAR, NAME)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("checked at the mapping limit"),
            "child: {:?}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn child() {
        let p = page_size();
        // guard | page 0 read-only | pages 1..4 read+write | guard: four mappings.
        let mut m = Mallocator::builder()
            .size(4 * p)
            .guard_pages(1, 1)
            .build()
            .unwrap();
        m.protect(0..p, Protection::READ).unwrap();
        let base = m.base().as_ptr() as usize;
        // Page 0 apart for good: a mapping flag of its own (MADV_DONTFORK) keeps the kernel
        // from merging page 1 into it when both become read+execute, so changing page 1
        // needs its mapping split, which the limit refuses after page 0 has changed.
        // SAFETY: advice on page 0 of our own region; it changes no contents.
        unsafe { mm::madvise(m.base().as_ptr().cast(), p, mm::Advice::LinuxDontFork) }.unwrap();
        let max: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        println!("filling the mapping limit of {max}");
        // Single pages of alternating protection, so that neighbours never merge, until the
        // kernel refuses another mapping.
        let mut fillers = Vec::with_capacity(max + 16);
        let mut refused = None;
        for i in 0..max + 16 {
            let prot = if i % 2 == 0 {
                ProtFlags::READ
            } else {
                ProtFlags::READ | ProtFlags::WRITE
            };
            // SAFETY: a fresh anonymous mapping anywhere; nothing is replaced.
            match unsafe { mm::mmap_anonymous(core::ptr::null_mut(), p, prot, MapFlags::PRIVATE) } {
                Ok(addr) => fillers.push(addr),
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        assert_eq!(refused, Some(rustix::io::Errno::NOMEM), "limit not reached");

        // Pages 0 and 1 to read+execute: page 0 is a mapping of its own and changes, then
        // page 1 needs its mapping split, which the limit refuses.
        let e = m.protect(0..2 * p, Protection::READ_EXECUTE).unwrap_err();
        // Nothing changed: the record is as before, and page 1 is still writable.
        let record = (m.protection_at(0), m.protection_at(p));
        m.alloc(p, 1).unwrap();
        let written = m.alloc_bytes(&[7; 8]).map(|b| *b == [7; 8]); // no heap allocation here

        // Headroom for reading /proc/self/maps.
        for addr in fillers.drain(..) {
            // SAFETY: one page mapped above, not used since.
            unsafe { mm::munmap(addr, p) }.unwrap();
        }
        assert_eq!(
            e,
            Error::Os {
                call: "mprotect",
                code: rustix::io::Errno::NOMEM.raw_os_error()
            }
        );
        assert_eq!(
            record,
            (Some(Protection::READ), Some(Protection::READ_WRITE))
        );
        assert_eq!(written, Ok(true));
        // The OS agrees: the part it changed before failing was set back.
        assert_eq!(os_permissions(base), "r--p");
        assert_eq!(os_permissions(base + p), "rw-p");
        assert_eq!(os_permissions(base + 2 * p), "rw-p");
        // And with room again, the same call succeeds.
        m.protect(0..2 * p, Protection::READ_EXECUTE).unwrap();
        assert_eq!(os_permissions(base + p), "r-xp");
        println!("checked at the mapping limit");
    }
}
