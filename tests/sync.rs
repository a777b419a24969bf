//! The thread-safe arena's contract, one thread at a time: chunks, large blocks, the
//! per-thread cache, statistics, the reset family, failures that change nothing.

use std::sync::Arc;

use vmallocator::{
    CharWidth, DEFAULT_CHUNK_SIZE, Error, Mallocator, Protection, SharedArena, page_size,
};

fn arena(chunk: usize) -> SharedArena {
    SharedArena::builder()
        .reserve(64 << 20)
        .commit_step(page_size())
        .chunk_size(chunk)
        .build()
        .unwrap()
}

#[test]
fn one_handle_stays_contiguous_across_chunks() {
    let a = arena(4096);
    let local = a.local();
    let first = local.alloc(1, 1).unwrap().as_ptr() as usize;
    let mut next = first + 1;
    for _ in 0..10_000 {
        let p = local.alloc(3, 1).unwrap().as_ptr() as usize;
        assert_eq!(p, next);
        next += 3;
    }
    // One thread alone wastes nothing: every chunk followed the last.
    assert_eq!(a.used(), a.claimed());
    assert!(a.claimed() - (next - first) < 4096);
    drop(local);
    // The dropped handle gave its tail back.
    assert_eq!(a.claimed(), (next - first).next_multiple_of(64));
}

#[test]
fn two_handles_interleaving_waste_only_tails() {
    let a = arena(1024);
    let (x, y) = (a.local(), a.local());
    let mut handed = 0;
    for i in 0..1000 {
        let size = 1 + i % 100;
        x.alloc(size, 1).unwrap();
        y.alloc(size, 8).unwrap();
        handed += 2 * size;
    }
    let claimed = a.claimed();
    assert!(claimed >= handed);
    drop((x, y));
    // Tails of chunks that another claim followed are counted as wasted, not used.
    assert!(a.used() <= claimed);
    assert!(a.used() >= handed, "{} < {handed}", a.used());
    // Each replaced chunk wasted less than an eighth of a chunk plus padding; of the two
    // last chunks, the one another claim followed may be wasted whole.
    let chunks = claimed / 1024 + 1;
    assert!(claimed - a.used() <= chunks * (1024 / 8 + 8) + 1024);
}

#[test]
fn large_blocks_come_from_the_shared_cursor_and_keep_the_chunk() {
    let a = arena(4096);
    let local = a.local();
    let small = local.alloc(10, 1).unwrap().as_ptr() as usize;
    // A block that fits in the chunk goes there, whatever its size.
    let fits = local.alloc(3500, 1).unwrap().as_ptr() as usize;
    assert_eq!(fits, small + 10);
    // One that does not, and is above an eighth of a chunk, comes from the cursor.
    let big = local.alloc(1000, 1).unwrap().as_ptr() as usize;
    assert_eq!(big % 64, 0);
    assert_eq!(big, small + 4096, "right after the first chunk");
    let after = local.alloc(1, 1).unwrap().as_ptr() as usize;
    assert_eq!(after, small + 3510, "the chunk is still in use");
    let aligned = local.alloc(8, 1 << 16).unwrap().as_ptr() as usize;
    assert_eq!(aligned % (1 << 16), 0);
}

#[test]
fn the_shared_path_caches_a_chunk_per_thread_and_arena() {
    let (a, b) = (arena(4096), arena(4096));
    let p1 = a.alloc(5, 1).unwrap().as_ptr() as usize;
    let p2 = a.alloc(5, 1).unwrap().as_ptr() as usize;
    assert_eq!(p2, p1 + 5);
    // Another arena takes the cache; coming back claims a new chunk of `a`.
    let q = b.alloc_bytes(b"b").unwrap().as_ptr() as usize;
    assert!(q >= b.base().as_ptr() as usize && q < b.base().as_ptr() as usize + b.size());
    let p3 = a.alloc(5, 1).unwrap().as_ptr() as usize;
    assert_eq!(p3, p1 + 4096);
    // A handle and the cache hold different chunks.
    let local = a.local();
    let h = local.alloc(1, 1).unwrap().as_ptr() as usize;
    assert_eq!(h, p1 + 2 * 4096);
}

#[test]
fn reset_forgets_cached_chunks() {
    let mut a = arena(4096);
    let p = a.alloc_bytes(b"x").unwrap().as_ptr() as usize;
    a.reset();
    assert_eq!((a.claimed(), a.used()), (0, 0));
    assert_eq!(a.high_water_mark(), 4096);
    // The cached chunk is not reused: the next block is claimed afresh, at the start.
    let again = a.alloc_bytes(b"y").unwrap().as_ptr() as usize;
    assert_eq!(again, p);
    assert_eq!(a.claimed(), 4096);
}

#[test]
fn reset_zeroed_and_decommit_leave_zeroes() {
    let mut a = arena(4096);
    let local = a.local();
    for _ in 0..100 {
        local.alloc_bytes(&[0xaa; 1000]).unwrap();
    }
    drop(local);
    let committed = a.committed();
    a.reset_zeroed().unwrap();
    assert_eq!(a.committed(), committed);
    let p = a.local().alloc(100_000, 1).unwrap();
    // SAFETY: 100,000 bytes just handed out, zeroed by the reset.
    let bytes = unsafe { std::slice::from_raw_parts(p.as_ptr(), 100_000) };
    assert!(bytes.iter().all(|&b| b == 0));
    a.alloc_bytes(&[1; 64]).unwrap();
    a.reset_decommit().unwrap();
    assert_eq!((a.committed(), a.claimed()), (0, 0));
    assert_eq!(
        a.alloc_str("é", CharWidth::U32).unwrap(),
        [0xe9, 0, 0, 0, 0, 0, 0, 0]
    );
    assert!(a.committed() > 0);
}

#[test]
fn failures_change_nothing() {
    let a = SharedArena::builder()
        .size(4 * page_size())
        .chunk_size(1024)
        .build()
        .unwrap();
    let local = a.local();
    local.alloc(10, 1).unwrap();
    let (claimed, left) = (a.claimed(), local.chunk_remaining());
    for r in [
        local.alloc(usize::MAX, 1),
        local.alloc(5 * page_size(), 1),
        local.alloc(1, 3),
        local.alloc(1, 0),
        a.alloc(usize::MAX - 10, 64),
    ] {
        assert!(r.is_err());
    }
    assert!(matches!(local.alloc_hex("0g"), Err(Error::Hex { .. })));
    assert!(matches!(
        local.alloc_str("a\0", CharWidth::U16),
        Err(Error::InteriorNul { offset: 1 })
    ));
    assert!(matches!(
        local.alloc(1 << 20, 4096),
        Err(Error::OutOfMemory { requested, align: 4096, remaining })
            if requested == 1 << 20 && remaining == 4 * page_size() - claimed
    ));
    assert_eq!((a.claimed(), local.chunk_remaining()), (claimed, left));
}

#[test]
fn a_read_only_region_refuses_writes() {
    let a = SharedArena::with_size(1 << 16, Protection::READ).unwrap();
    let e = Error::NotWritable {
        protection: Protection::READ,
    };
    assert_eq!(a.alloc_bytes(b"x").unwrap_err(), e);
    assert_eq!(a.local().alloc_str("x", CharWidth::U8).unwrap_err(), e);
    assert_eq!(a.claimed(), 0);
    // Raw blocks are the caller's business.
    assert!(a.alloc(8, 8).is_ok());
}

#[test]
fn builder_checks_the_chunk_size() {
    for bad in [0, usize::MAX] {
        assert!(matches!(
            SharedArena::builder().chunk_size(bad).build(),
            Err(Error::InvalidOptions { .. })
        ));
    }
    let a = SharedArena::builder().chunk_size(100).build().unwrap();
    assert_eq!(a.chunk_size(), 128);
    assert_eq!(SharedArena::new().unwrap().chunk_size(), DEFAULT_CHUNK_SIZE);
}

#[test]
fn shared_code_keeps_the_region_alive_across_threads() {
    // Two pages: publishing seals the first, so the next block starts on the second.
    let mut m =
        Mallocator::with_size(2 * vmallocator::page_size(), Protection::READ_WRITE).unwrap();
    m.alloc_bytes(&[0xc3]).unwrap();
    m.publish(0..1).unwrap();
    let base = m.base().as_ptr() as usize;
    let shared = Arc::new(m.into_shared());
    let seen = std::thread::scope(|s| {
        let shared = Arc::clone(&shared);
        s.spawn(move || (shared.base().as_ptr() as usize, shared.protection_at(0)))
            .join()
            .unwrap()
    });
    assert_eq!(seen, (base, Some(Protection::READ_EXECUTE)));
    let mut m = Arc::into_inner(shared).unwrap().into_inner();
    m.make_writable(0..1).unwrap();
    assert_eq!(m.alloc_bytes(&[1]).unwrap(), [1]);
    assert_eq!(m.used(), vmallocator::page_size() + 1);
}

#[test]
fn an_arena_smaller_than_a_chunk_hands_out_all_of_it() {
    let p = vmallocator::page_size();
    let arena = SharedArena::builder().size(p).build().unwrap();
    assert!(arena.chunk_size() > p);
    let local = arena.local();
    let a = local.alloc_bytes(&[1; 100]).unwrap();
    let b = arena.alloc_bytes(&[2; 100]).unwrap();
    assert_eq!((a[99], b[99]), (1, 2));
    // The rest of the page, then nothing more.
    let rest = p - arena.claimed();
    local.alloc(rest, 1).unwrap();
    assert!(matches!(local.alloc(1, 1), Err(Error::OutOfMemory { .. })));
}

/// `alloc_hex` decodes straight into the chunk when the bytes' upper bound fits there, and
/// through a buffer otherwise: the same bytes either way, blocks where `alloc_bytes` would
/// put them, and a grammar error leaves the chunk as it was.
#[test]
fn hex_goes_straight_into_the_chunk_and_errors_change_nothing() {
    let a = arena(1024);
    let local = a.local();
    local.alloc(3, 1).unwrap();
    let inputs = [
        "00 ab f9 0x42",
        "0x48, 0x31, 0xc0, 0x0f, 0x05",
        &"5a".repeat(300),  // bound 300: fits what is left of the chunk
        &"c3 ".repeat(400), // bound 600: more than is left, so through a buffer
        "90",
    ];
    for hex in inputs {
        let want = vmallocator::hex::decode(hex).unwrap();
        let next = local.alloc(0, 1).unwrap().as_ptr() as usize;
        let left = local.chunk_remaining();
        let got = local.alloc_hex(hex).unwrap();
        assert_eq!(got, &want[..]);
        if want.len() <= left {
            // Straight after the last block, in the same chunk, with only its bytes used.
            assert_eq!(got.as_ptr() as usize, next);
            assert_eq!(local.chunk_remaining(), left - want.len());
        }
        // A bad input, long or short: nothing handed out, nothing claimed.
        let (claimed, left, next) = (
            a.claimed(),
            local.chunk_remaining(),
            local.alloc(0, 1).unwrap().as_ptr() as usize,
        );
        for bad in [format!("{hex} 0g"), format!("{hex} 0x123"), "zz".into()] {
            assert!(matches!(local.alloc_hex(&bad), Err(Error::Hex { .. })));
            assert!(matches!(a.alloc_hex(&bad), Err(Error::Hex { .. })));
        }
        assert_eq!((a.claimed(), local.chunk_remaining()), (claimed, left));
        assert_eq!(local.alloc(0, 1).unwrap().as_ptr() as usize, next);
        // The arena's own path, through this thread's cached chunk.
        assert_eq!(a.alloc_hex(hex).unwrap(), &want[..]);
    }
    // Consecutive calls on the cached chunk are contiguous.
    let x = a.alloc_hex("01 02 03").unwrap().as_ptr() as usize;
    let y = a.alloc_hex("04").unwrap().as_ptr() as usize;
    assert_eq!(y, x + 3);
    // Empty and one-character inputs.
    assert_eq!(local.alloc_hex("").unwrap(), b"");
    assert_eq!(a.alloc_hex(" ").unwrap(), b"");
    assert!(matches!(local.alloc_hex("a"), Err(Error::Hex { .. })));
}
