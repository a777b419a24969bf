//! A region of one protection needs no heap allocation: creating and freeing one, and a
//! `make_writable` + `publish` pair over all of it, allocate nothing; nor do `alloc_hex`
//! and `alloc_str`, which decode straight into the arena, nor the thread-safe arena's
//! `alloc_hex`, into its chunk or into an exact block. Counted with a global
//! allocator that counts the allocations of the test's own thread only: the test harness's
//! main thread may allocate at any moment (this binary has a single test, so no other test
//! runs meanwhile).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use vmallocator::{CharWidth, Mallocator, Protection, SharedArena, page_size};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether this thread's allocations count (a constant initialiser and no destructor:
    /// reading it never allocates).
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards every call to the system allocator unchanged, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTED.try_with(Cell::get).unwrap_or(false) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc` is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn uniform_regions_allocate_nothing() {
    COUNTED.set(true);
    page_size(); // asked of the OS once, before counting
    // The first publish in a process registers it for membarrier on Linux aarch64: done
    // once before counting.
    let _ = Mallocator::new().unwrap().publish(..);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..10 {
        let mut m = Mallocator::with_size(4 * page_size(), Protection::READ_WRITE).unwrap();
        m.alloc(100, 8).unwrap();
        m.make_writable(..).unwrap();
        if m.publish(..).is_ok() {
            m.make_writable(..).unwrap();
        }
        m.free().unwrap();
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(after - before, 0, "heap allocations");

    // Hex and strings decode straight into the arena, through an upper-bound block and,
    // near the end of the region, through the exact count: no temporary buffer.
    let m = Mallocator::with_size(page_size(), Protection::READ_WRITE).unwrap();
    m.alloc_str("warm", CharWidth::U16).unwrap(); // reads VMALLOCATOR_FORCE_ISA once
    let hex = "0x48, 0x31, 0xc0, ".repeat(20); // 360 characters, 60 bytes
    let text = "h€llo 🦀 wörld ".repeat(10);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(m.alloc_hex(&hex).unwrap().len(), 60);
    m.alloc_str(&text, CharWidth::U16).unwrap();
    m.alloc_str(&text, CharWidth::U32).unwrap();
    m.alloc(m.remaining() - 60, 1).unwrap();
    assert_eq!(m.alloc_hex(&hex).unwrap().len(), 60);
    assert_eq!(m.remaining(), 0);
    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed) - before,
        0,
        "heap allocations"
    );
    drop(m);

    // The thread-safe arena decodes hex straight into a chunk where its bytes fit there,
    // and counts a larger input first, then decodes it straight into an exact block.
    let a = SharedArena::new().unwrap();
    let local = a.local();
    local.alloc(1, 1).unwrap(); // claims the handle's chunk
    a.alloc(1, 1).unwrap(); // and the thread's
    let big = "5a".repeat(a.chunk_size() + 64);
    let bad_big = format!("{big} 0g");
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(local.alloc_hex(&hex).unwrap().len(), 60);
    assert_eq!(a.alloc_hex(&hex).unwrap().len(), 60);
    assert!(local.alloc_hex("0g").is_err());
    assert!(local.alloc_hex(&big).unwrap().iter().all(|&b| b == 0x5a));
    assert_eq!(a.alloc_hex(&big).unwrap().len(), big.len() / 2);
    assert!(a.alloc_hex(&bad_big).is_err());
    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed) - before,
        0,
        "heap allocations"
    );
    drop(local);
    drop(a);

    // Splitting the region into runs does allocate (the map's nodes), so the count can fail.
    let mut m = Mallocator::with_size(4 * page_size(), Protection::READ_WRITE).unwrap();
    m.protect(..1, Protection::READ).unwrap();
    assert!(ALLOCATIONS.load(Ordering::Relaxed) > after);
}
