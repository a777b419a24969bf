//! Reserved regions that commit lazily, resets, checkpoints, trim and huge pages.

mod support;

use vmallocator::{Error, HugePages, Mallocator, Protection, page_size};

fn lazy(reserve: usize, step: usize) -> Mallocator {
    Mallocator::builder()
        .reserve(reserve)
        .commit_step(step)
        .build()
        .unwrap()
}

#[test]
fn reservation_commits_in_steps() {
    let p = page_size();
    let m = lazy(100 * p, 4 * p);
    assert_eq!(
        (m.size(), m.reserved(), m.committed(), m.used()),
        (100 * p, 100 * p, 0, 0)
    );
    assert_eq!(m.remaining(), 100 * p);
    m.alloc(1, 1).unwrap();
    assert_eq!(m.committed(), 4 * p);
    m.alloc(4 * p - 1, 1).unwrap();
    assert_eq!(m.committed(), 4 * p);
    m.alloc(1, 1).unwrap();
    assert_eq!(m.committed(), 8 * p);
    // One block spanning several steps commits them all at once.
    m.alloc(10 * p, 1).unwrap();
    assert_eq!(m.committed(), 16 * p); // 4p+1 .. 14p+1 needs two more steps
    // The step is clamped at the end of the reservation.
    m.alloc(m.remaining(), 1).unwrap();
    assert_eq!(m.committed(), 100 * p);
}

#[test]
fn growth_across_a_thousand_steps_keeps_base_and_bytes() {
    let p = page_size();
    let m = lazy(1000 * p, p);
    let base = m.base();
    let mut blocks = Vec::new();
    for i in 0..1000usize {
        let fill = (i % 251) as u8;
        let b = m.alloc_bytes(&vec![fill; p]).unwrap();
        blocks.push((b.as_ptr() as usize, fill));
        assert_eq!(m.base(), base);
        assert_eq!(m.committed(), (i + 1) * p);
    }
    for (i, (addr, fill)) in blocks.into_iter().enumerate() {
        assert_eq!(addr, base.as_ptr() as usize + i * p);
        // SAFETY: the page is committed, readable, and no reference to it is alive.
        let page = unsafe { std::slice::from_raw_parts(addr as *const u8, p) };
        assert!(page.iter().all(|&b| b == fill), "page {i}");
    }
}

#[test]
fn exhaustion_exactly_at_the_cap() {
    let p = page_size();
    let m = lazy(10 * p, 3 * p);
    m.alloc(10 * p - 1, 1).unwrap();
    let before = (m.used(), m.committed());
    assert_eq!(
        m.alloc(2, 1).unwrap_err(),
        Error::OutOfMemory {
            requested: 2,
            align: 1,
            remaining: 1
        }
    );
    assert_eq!((m.used(), m.committed()), before);
    m.alloc_bytes(&[9]).unwrap();
    assert_eq!(m.remaining(), 0);
    assert!(matches!(
        m.alloc_bytes(&[1]),
        Err(Error::OutOfMemory { .. })
    ));
    assert_eq!(m.committed(), 10 * p);
}

#[test]
fn builder_rejects_contradictions() {
    let e = Mallocator::builder().size(3 << 20).reserve(1 << 20).build();
    assert!(matches!(e, Err(Error::InvalidOptions { .. })));
    let e = Mallocator::builder()
        .reserve(1 << 20)
        .commit_step(0)
        .build();
    assert!(matches!(e, Err(Error::InvalidOptions { .. })));
    assert_eq!(
        Mallocator::builder().reserve(0).build().unwrap_err(),
        Error::ZeroSize
    );
    // `size` with `reserve` commits that much up front, rounded to the step.
    let m = Mallocator::builder()
        .size(1)
        .reserve(1 << 20)
        .commit_step(page_size())
        .build()
        .unwrap();
    assert_eq!(m.committed(), page_size());
}

#[test]
fn reset_keeps_contents_and_commitment() {
    let mut m = lazy(1 << 20, page_size());
    m.alloc_bytes(b"hello").unwrap();
    let committed = m.committed();
    m.reset();
    assert_eq!(
        (m.used(), m.committed(), m.high_water_mark()),
        (0, committed, 5)
    );
    m.alloc(5, 1).unwrap();
    assert_eq!(support::init(m.used_bytes().unwrap()), b"hello");
}

#[test]
fn reset_zeroed_zeroes_everything_handed_out() {
    let mut m = lazy(1 << 20, page_size());
    m.alloc_bytes(&[0xaa; 3000]).unwrap();
    m.reset();
    m.alloc_bytes(&[0xbb; 10]).unwrap();
    m.reset_zeroed().unwrap();
    assert_eq!(m.used(), 0);
    m.alloc(m.committed(), 1).unwrap();
    assert!(
        support::init(m.used_bytes().unwrap())
            .iter()
            .all(|&b| b == 0)
    );
    assert_eq!(m.high_water_mark(), m.committed());

    let mut ro = Mallocator::with_size(1, Protection::READ).unwrap();
    ro.alloc(10, 1).unwrap();
    assert!(matches!(ro.reset_zeroed(), Err(Error::NotWritable { .. })));
    assert_eq!(ro.used(), 10);
}

#[test]
fn reset_decommit_returns_pages_and_reads_zero() {
    for mut m in [
        lazy(1 << 20, page_size()),
        Mallocator::with_size(64 * 1024, Protection::READ_WRITE).unwrap(),
    ] {
        m.alloc_bytes(&[0xcc; 5000]).unwrap();
        m.reset_decommit().unwrap();
        assert_eq!((m.used(), m.committed()), (0, 0));
        m.alloc(5000, 1).unwrap();
        assert!(m.committed() >= 5000);
        assert!(
            support::init(m.used_bytes().unwrap())
                .iter()
                .all(|&b| b == 0)
        );
    }
}

#[test]
fn trim_gives_back_the_unused_tail() {
    let p = page_size();
    let mut m = Mallocator::with_size(16 * p, Protection::READ_WRITE).unwrap();
    m.alloc_bytes(&[7; 10]).unwrap();
    m.trim().unwrap();
    assert_eq!(m.committed(), p);
    assert_eq!(support::init(m.used_bytes().unwrap()), [7; 10]);
    // Growth after a trim commits again, and the pages read as zero.
    m.alloc(3 * p, 1).unwrap();
    assert!(m.committed() >= 3 * p + 10);
    assert!(
        support::init(m.used_bytes().unwrap())[10..]
            .iter()
            .all(|&b| b == 0)
    );
    // Nothing to trim: no change.
    let mut full = Mallocator::with_size(p, Protection::READ_WRITE).unwrap();
    full.alloc(p, 1).unwrap();
    full.trim().unwrap();
    assert_eq!(full.committed(), p);
}

#[test]
fn checkpoints_rewind_and_refuse_strangers() {
    let mut m = Mallocator::new().unwrap();
    m.alloc_bytes(b"keep").unwrap();
    let cp = m.checkpoint();
    assert_eq!(cp.used(), 4);
    m.alloc_bytes(b"scratch").unwrap();
    m.rewind(cp).unwrap();
    assert_eq!(m.used(), 4);
    assert_eq!(m.high_water_mark(), 11);
    assert_eq!(support::init(m.used_bytes().unwrap()), b"keep");
    // Rewinding to the same place again is fine.
    m.rewind(cp).unwrap();

    let other = Mallocator::new().unwrap();
    assert_eq!(m.rewind(other.checkpoint()), Err(Error::InvalidCheckpoint));
    // A checkpoint above the pointer (taken before a reset) is refused.
    m.reset();
    assert_eq!(m.rewind(cp), Err(Error::InvalidCheckpoint));
    assert_eq!(m.used(), 0);
}

#[test]
fn scope_rewinds_after_the_closure() {
    let mut m = Mallocator::new().unwrap();
    m.alloc(3, 1).unwrap();
    let sum: u32 = m.scope(|m| {
        let b = m.alloc_bytes(&[1, 2, 3]).unwrap();
        b.iter().map(|&x| u32::from(x)).sum()
    });
    assert_eq!((sum, m.used(), m.high_water_mark()), (6, 3, 6));
}

#[test]
fn transparent_huge_pages_align_or_fall_back() {
    let m = Mallocator::builder()
        .reserve(64 << 20)
        .huge_pages(HugePages::Transparent)
        .build()
        .unwrap();
    if cfg!(target_os = "linux") {
        assert_eq!(
            m.huge_pages(),
            HugePages::Transparent,
            "{:?}",
            m.huge_pages_fallback()
        );
        assert_eq!(m.base().as_ptr() as usize % (2 << 20), 0);
        m.alloc(1, 1).unwrap();
        assert_eq!(m.committed(), 2 << 20);
    } else {
        assert_eq!(m.huge_pages(), HugePages::Off);
        assert_eq!(m.huge_pages_fallback(), Some(&Error::Unsupported));
        println!("transparent huge pages: not on this system, fell back to normal pages");
    }
    m.alloc_bytes(&[1; 100]).unwrap();
}

#[test]
fn explicit_huge_pages_or_a_reason() {
    let mut m = Mallocator::builder()
        .size(3 << 20)
        .huge_pages(HugePages::Explicit)
        .build()
        .unwrap();
    match m.huge_pages() {
        HugePages::Explicit => {
            assert!(m.huge_pages_fallback().is_none());
            assert!(m.size() >= 3 << 20);
        }
        _ => {
            let why = m.huge_pages_fallback().expect("a reason for the fallback");
            println!("explicit huge pages refused, fell back to normal pages: {why}");
            assert_eq!(m.size(), 3 << 20);
        }
    }
    m.alloc_bytes(&[5; 4096]).unwrap();
    m.reset_decommit().unwrap();
    m.alloc(10, 1).unwrap();
    assert_eq!(support::init(m.used_bytes().unwrap()), [0; 10]);
}

#[test]
fn reset_decommit_with_nothing_committed_is_a_no_op() {
    // Nothing committed yet: no zero-length `mmap`, which the OS refuses (EINVAL).
    let mut m = lazy(16 * page_size(), page_size());
    assert_eq!(m.reset_decommit(), Ok(()));
    m.alloc_bytes(&[1; 10]).unwrap();
    assert_eq!(m.reset_decommit(), Ok(()));
    // Twice in a row: the second call finds nothing committed.
    assert_eq!(m.reset_decommit(), Ok(()));
    assert_eq!((m.committed(), m.used()), (0, 0));
    assert_eq!(m.alloc_bytes(&[2]).unwrap(), [2]);
}

/// The `VmFlags` line of `/proc/self/smaps` for the mapping holding `addr`.
#[cfg(target_os = "linux")]
fn vm_flags(addr: usize) -> String {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut inside = false;
    for line in smaps.lines() {
        let range = line
            .split_whitespace()
            .next()
            .and_then(|r| r.split_once('-'));
        if let Some((Ok(start), Ok(end))) =
            range.map(|(s, e)| (usize::from_str_radix(s, 16), usize::from_str_radix(e, 16)))
        {
            inside = start <= addr && addr < end;
        } else if inside && let Some(flags) = line.strip_prefix("VmFlags:") {
            return flags.to_owned();
        }
    }
    panic!("no mapping holds {addr:#x}");
}

#[cfg(target_os = "linux")]
#[test]
fn transparent_huge_pages_stay_advised_after_decommit_and_trim() {
    let mut m = Mallocator::builder()
        .reserve(16 << 20)
        .huge_pages(HugePages::Transparent)
        .build()
        .unwrap();
    if m.huge_pages() != HugePages::Transparent {
        println!("transparent huge pages: {:?}", m.huge_pages_fallback());
        return;
    }
    let base = m.base().as_ptr() as usize;
    let advised = |addr| vm_flags(addr).split_whitespace().any(|f| f == "hg");
    m.alloc(6 << 20, 1).unwrap();
    // qemu-user accepts madvise without passing the advice on to the kernel, so the flag
    // never shows there; scripts/cross-test.sh names the emulator in this variable.
    if std::env::var("VMALLOCATOR_TEST_RUNNER").is_ok_and(|r| !r.is_empty()) {
        println!("skipped: under an emulator, MADV_HUGEPAGE does not reach the kernel");
        return;
    }
    assert!(advised(base));
    m.reset_decommit().unwrap();
    assert!(advised(base), "after reset_decommit: {}", vm_flags(base));
    m.alloc(6 << 20, 1).unwrap();
    m.reset();
    m.alloc(1, 1).unwrap();
    m.trim().unwrap();
    let tail = base + (4 << 20);
    assert!(advised(tail), "after trim: {}", vm_flags(tail));
    assert_eq!(m.huge_pages(), HugePages::Transparent);
}

/// Trim and reset_decommit keep a transparent-huge-page region's committed end on a
/// commit-step boundary, so every later step stays huge-page aligned.
#[cfg(target_os = "linux")]
#[test]
fn transparent_huge_pages_stay_step_aligned_after_trim() {
    let mut m = Mallocator::builder()
        .reserve(16 << 20)
        .huge_pages(HugePages::Transparent)
        .build()
        .unwrap();
    if m.huge_pages() != HugePages::Transparent {
        println!(
            "skipped: transparent huge pages: {:?}",
            m.huge_pages_fallback()
        );
        return;
    }
    let step = 2 << 20;
    assert_eq!(m.base().as_ptr() as usize % step, 0);
    m.alloc(5 << 20, 1).unwrap();
    assert_eq!(m.committed(), 6 << 20);
    m.reset();
    m.alloc(4096 + 1, 1).unwrap();
    m.trim().unwrap();
    assert_eq!(m.committed(), step, "trim left the end off a step");
    m.alloc(3 << 20, 1).unwrap();
    assert_eq!(
        m.committed() % step,
        0,
        "growth after trim: {:#x}",
        m.committed()
    );
    assert_eq!(m.committed(), 4 << 20);
    // A pointer exactly on a step keeps exactly that much.
    m.reset();
    m.alloc(step, 1).unwrap();
    m.trim().unwrap();
    assert_eq!(m.committed(), step);
    m.reset_decommit().unwrap();
    assert_eq!(m.committed(), 0);
    m.alloc(1, 1).unwrap();
    assert_eq!(m.committed(), step);
}
