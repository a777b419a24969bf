//! The code heap: many functions appended, published and called; a growing heap near an
//! anchor; block handles and their bad inputs; arena identity.

use vmallocator::{Block, Error, Mallocator, Protection, page_size};

#[path = "support/code.rs"]
mod code;
use code::{return_imm, scaled, value};

const RW: Protection = Protection::READ_WRITE;
const RX: Protection = Protection::READ_EXECUTE;
const HAS_CODE: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

type Ret = extern "C" fn() -> i32;

/// Calls every function so far and checks it still returns its own immediate.
fn call_all(m: &Mallocator, fns: &[Block]) {
    for (i, &b) in fns.iter().enumerate() {
        // SAFETY: each block holds a whole `extern "C" fn() -> i32` for this CPU, published
        // and never made writable again; `m` outlives the call.
        let f = unsafe { m.function::<Ret>(b) }.unwrap();
        assert_eq!(f() as u32, value(i), "function {i}");
    }
}

#[test]
fn a_thousand_functions_appended_published_and_called() {
    if !HAS_CODE {
        println!("skipped: machine code for x86_64 and aarch64 only");
        return;
    }
    let n = scaled(1000);
    let mut m = Mallocator::builder()
        .reserve((n + 1) * page_size())
        .build()
        .unwrap();
    let mut fns = Vec::new();
    for i in 0..n {
        let code = return_imm(value(i));
        let b = m.block_of(m.alloc_bytes(&code).unwrap()).unwrap();
        // Writing the new function left every earlier one executable and callable.
        call_all(&m, &fns);
        m.publish(b).unwrap();
        assert_eq!(m.protection_of(b).unwrap(), Some(RX));
        // Sealed: the next function starts on a fresh page.
        assert_eq!(m.used() % page_size(), 0);
        fns.push(b);
        if i % 64 == 0 || i == n - 1 {
            call_all(&m, &fns);
        }
    }
    // All published pages form one run, the rest of the reservation another.
    assert_eq!(m.protection_of(..n * page_size()).unwrap(), Some(RX));
    assert_eq!(m.protection(), None);
}

#[test]
fn patching_keeps_the_other_functions_running() {
    if !HAS_CODE {
        return;
    }
    let mut m = Mallocator::with_size(2 * page_size(), RW).unwrap();
    let a = m.block_of(m.alloc_bytes(&return_imm(1)).unwrap()).unwrap();
    m.publish(a).unwrap();
    let b = m.block_of(m.alloc_bytes(&return_imm(2)).unwrap()).unwrap();
    assert_eq!(b.addr(), a.addr() + page_size());
    m.publish(b).unwrap();
    m.make_writable(a).unwrap();
    assert_eq!(m.protection_of(b).unwrap(), Some(RX));
    // SAFETY: `b` is published `fn() -> i32`.
    let g = unsafe { m.function::<Ret>(b) }.unwrap();
    assert_eq!(g(), 2);
    m.patch(a)
        .unwrap()
        .write_copy_of_slice(&return_imm(value(0)));
    m.publish(a).unwrap();
    // SAFETY: `a` is published `fn() -> i32`, patched in place.
    let f = unsafe { m.function::<Ret>(a) }.unwrap();
    assert_eq!((f() as u32, g()), (value(0), 2));
}

#[test]
fn a_growing_heap_stays_near_its_anchor() {
    let anchor = return_imm as fn(u32) -> Vec<u8> as usize;
    let reach = (1usize << 31) - 1;
    let step = 16 * page_size();
    let mut m = Mallocator::builder()
        .reserve(1 << 30)
        .commit_step(step)
        .guard_pages(1, 1)
        .near(anchor, reach)
        .build()
        .unwrap();
    let (lo, hi) = (
        m.base().as_ptr() as usize,
        m.base().as_ptr() as usize + m.size() - 1,
    );
    assert!(lo.abs_diff(anchor) <= reach && hi.abs_diff(anchor) <= reach);
    assert_eq!((m.committed(), m.size()), (0, 1 << 30));
    let mut fns = Vec::new();
    let mut commits = vec![m.committed()];
    // Each function takes a page of its own (publishing seals it): at least 4 steps' worth,
    // whatever the scale.
    for i in 0..scaled(200).max(80) {
        // Data between functions, so the heap crosses several commit steps.
        m.alloc_bytes(&vec![0xcc; page_size() / 2]).unwrap();
        let code = m.alloc_bytes(&return_imm(value(i))).unwrap();
        let b = m.block_of(code).unwrap();
        m.publish(b).unwrap();
        assert!(b.addr().abs_diff(anchor) <= reach);
        fns.push(b);
        if *commits.last().unwrap() != m.committed() {
            commits.push(m.committed());
        }
    }
    assert!(commits.len() >= 4, "only {commits:?} commit steps");
    assert!(commits.iter().all(|c| c % step == 0));
    if HAS_CODE {
        call_all(&m, &fns);
    }
}

/// Runs `attempt` (which frees a region and places another at its address, returning that
/// address and the placement) until a placement succeeds. Retried up to ten times: another
/// test's thread may map at the freed address first, which must then be `AddressInUse`.
fn at_a_freed_address<T>(mut attempt: impl FnMut() -> (usize, Result<T, Error>)) -> (usize, T) {
    (0..10)
        .find_map(|_| match attempt() {
            (base, Ok(placed)) => Some((base, placed)),
            (base, Err(e)) => {
                assert_eq!(e, Error::AddressInUse { addr: base });
                None
            }
        })
        .expect("the freed address stayed taken in ten tries")
}

#[test]
fn reserve_with_guards_at_an_exact_address() {
    let p = page_size();
    let guarded = || Mallocator::builder().reserve(64 * p).guard_pages(2, 2);
    let (base, mut m) = at_a_freed_address(|| {
        let probe = guarded().build().unwrap();
        let base = probe.base().as_ptr() as usize;
        probe.free().unwrap();
        (base, guarded().at(base).build())
    });
    assert_eq!((m.base().as_ptr() as usize, m.committed()), (base, 0));
    assert_eq!(m.alloc_bytes(&[7; 100]).unwrap(), [7; 100]);
    // The guards stay reserved: a region cannot be placed over them (where a page is a
    // valid place: Windows places at 64 KiB granules only).
    if vmallocator::granularity() == p {
        let e = Mallocator::builder().at(base - p).build().unwrap_err();
        assert_eq!(e, Error::AddressInUse { addr: base - p });
    }
    m.reset_decommit().unwrap();
}

#[test]
fn protection_and_debug_tell_the_truth() {
    let p = page_size();
    let mut m = Mallocator::with_size(3 * p, RW).unwrap();
    assert_eq!(m.protection(), Some(RW));
    assert!(format!("{m:?}").contains("protection: READ_WRITE"));
    m.publish(p..2 * p).unwrap();
    assert_eq!(m.protection(), None);
    let dbg = format!("{m:?}");
    assert!(
        dbg.contains(&format!(
            "0x0: READ_WRITE, {p:#x}: READ_EXECUTE, {:#x}: READ_WRITE",
            2 * p
        )),
        "{dbg}"
    );
    m.publish(..).unwrap();
    assert_eq!(m.protection(), Some(RX));
    assert!(format!("{m:?}").contains("protection: READ_EXECUTE"));
}

/// Everything about the arena a failed call must leave as it was.
fn state(m: &mut Mallocator) -> (usize, usize, usize, Vec<Option<Protection>>, Vec<u8>) {
    let p = page_size();
    let prots = (0..m.size() / p).map(|i| m.protection_at(i * p)).collect();
    // SAFETY: `[base, ptr)` is committed and readable in these tests (read+write or
    // read+execute), every byte of it written by `alloc_bytes`, and `&mut` rules out writers.
    let bytes = unsafe { std::slice::from_raw_parts(m.base().as_ptr(), m.used()) }.to_vec();
    (m.used(), m.committed(), m.high_water_mark(), prots, bytes)
}

#[test]
fn bad_inputs_are_errors_that_change_nothing() {
    let p = page_size();
    let mut m = Mallocator::with_size(4 * p, RW).unwrap();
    let other = Mallocator::with_size(4 * p, RW).unwrap();
    let theirs = other
        .block_of(other.alloc_bytes(&[1, 2, 3]).unwrap())
        .unwrap();
    let ours = m.block_of(m.alloc_bytes(&return_imm(5)).unwrap()).unwrap();
    m.alloc_bytes(&[9; 16]).unwrap();
    let before = state(&mut m);

    assert_eq!(m.publish(theirs), Err(Error::ForeignBlock));
    assert_eq!(m.make_writable(theirs), Err(Error::ForeignBlock));
    assert_eq!(
        m.protect(theirs, Protection::NONE),
        Err(Error::ForeignBlock)
    );
    assert_eq!(m.protection_of(theirs), Err(Error::ForeignBlock));
    assert_eq!(m.patch(theirs).unwrap_err(), Error::ForeignBlock);
    // SAFETY: refused before anything could be called.
    let e = unsafe { m.function::<Ret>(theirs) };
    assert_eq!(e, Err(Error::ForeignBlock));
    assert!(matches!(m.publish(0..5 * p), Err(Error::OutOfRange { .. })));
    assert!(matches!(m.patch(0..5 * p), Err(Error::OutOfRange { .. })));
    // Bytes not handed out yet cannot be patched.
    assert!(matches!(m.patch(0..2 * p), Err(Error::NotInArena { .. })));
    // An unpublished block is not called.
    // SAFETY: refused before anything could be called.
    let e = unsafe { m.function::<Ret>(ours) }.unwrap_err();
    assert_eq!(e, Error::NotExecutable { protection: RW });
    // Handles only for bytes this arena handed out.
    let outside = [0u8; 8];
    assert!(matches!(
        m.block_of(&outside),
        Err(Error::NotInArena { .. })
    ));
    assert!(matches!(
        m.block_at(m.ptr(), 1),
        Err(Error::NotInArena { .. })
    ));
    assert_eq!(state(&mut m), before);

    // Published code cannot be patched, and an empty block is not a function.
    if HAS_CODE {
        m.publish(ours).unwrap();
        let before = state(&mut m);
        assert_eq!(
            m.patch(ours).unwrap_err(),
            Error::NotWritable { protection: RX }
        );
        let empty = m.block_at(m.base(), 0).unwrap();
        // SAFETY: refused before anything could be called.
        let e = unsafe { m.function::<Ret>(empty) };
        assert!(matches!(e, Err(Error::NotInArena { .. })));
        assert_eq!(state(&mut m), before);
        // Code whose pages went back to the OS is not called either.
        m.reset_decommit().unwrap();
        // SAFETY: refused before anything could be called.
        let e = unsafe { m.function::<Ret>(ours) }.unwrap_err();
        assert!(matches!(e, Error::NotInArena { .. }), "{e:?}");
    }
}

#[test]
fn a_checkpoint_of_a_freed_arena_at_the_same_address_is_refused() {
    let (base, (cp, block, mut new)) = at_a_freed_address(|| {
        let old = Mallocator::new().unwrap();
        old.alloc_bytes(b"old").unwrap();
        let cp = old.checkpoint();
        let block = old.block_of(old.alloc_bytes(b"x").unwrap()).unwrap();
        let base = old.base().as_ptr() as usize;
        old.free().unwrap();
        let new = Mallocator::builder().at(base).build();
        (base, new.map(|new| (cp, block, new)))
    });
    assert_eq!(new.base().as_ptr() as usize, base);
    new.alloc_bytes(b"new, longer").unwrap();
    assert_eq!(new.rewind(cp), Err(Error::InvalidCheckpoint));
    assert_eq!(new.used(), 11);
    assert_eq!(new.publish(block), Err(Error::ForeignBlock));
    // Its own checkpoints still work.
    let own = new.checkpoint();
    new.alloc_bytes(b"more").unwrap();
    new.rewind(own).unwrap();
    assert_eq!(new.used(), 11);
}
