//! `&Mallocator` as an `allocator_api2` allocator: `Vec` and `hashbrown::HashMap` in the
//! region, compared element by element with the std collections; growth in place for the
//! last block, deallocation that gives the last block back, and refusal of pages that
//! cannot be written. Sizes scale with `VMALLOCATOR_TEST_SCALE` (default 1).
#![cfg(feature = "allocator-api2")]

use std::alloc::Layout;
use std::collections::HashMap as StdMap;

use allocator_api2::alloc::Allocator;
use allocator_api2::vec::Vec;
use vmallocator::{Mallocator, Protection, page_size};

/// `n` scaled by `VMALLOCATOR_TEST_SCALE` (a float, default 1), at least 1.
fn scaled(n: usize) -> usize {
    let scale: f64 = std::env::var("VMALLOCATOR_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((n as f64 * scale) as usize).max(1)
}

fn big_arena() -> Mallocator {
    Mallocator::builder().reserve(1 << 30).build().unwrap()
}

#[test]
fn vec_of_a_million_pushes_matches_std() {
    let n = scaled(1_000_000);
    let m = big_arena();
    let mut ours: Vec<u64, &Mallocator> = Vec::new_in(&m);
    let mut std_vec = std::vec::Vec::new();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ours.push(x);
        std_vec.push(x);
    }
    assert_eq!(ours.len(), std_vec.len());
    for (i, (a, b)) in ours.iter().zip(&std_vec).enumerate() {
        assert_eq!(a, b, "element {i}");
    }
    // Grown in place: the arena holds about one capacity, not the sum of all of them.
    assert!(m.used() <= ours.capacity() * 8 + 64, "used {}", m.used());
    ours.truncate(n / 2);
    ours.shrink_to_fit();
    assert_eq!(
        m.used(),
        ours.capacity() * 8,
        "shrinking the last block gives back"
    );
    drop(ours);
    assert_eq!(m.used(), 0, "dropping the last block gives it back");
}

#[test]
fn hash_map_of_a_million_inserts_matches_std() {
    let n = scaled(1_000_000);
    let m = big_arena();
    let mut ours = hashbrown::HashMap::new_in(&m);
    let mut std_map = StdMap::new();
    let mut x = 1u64;
    for i in 0..n as u64 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let key = x >> 16;
        assert_eq!(ours.insert(key, i), std_map.insert(key, i));
    }
    assert_eq!(ours.len(), std_map.len());
    for (k, v) in &std_map {
        assert_eq!(ours.get(k), Some(v), "key {k}");
    }
    for (k, v) in &ours {
        assert_eq!(std_map.get(k), Some(v), "key {k}");
    }
    assert!(m.used() > 0);
}

#[test]
fn a_vec_grows_in_place_while_it_is_the_last_block() {
    let m = big_arena();
    let mut v: Vec<u64, &Mallocator> = Vec::new_in(&m);
    v.push(0);
    let addr = v.as_ptr();
    let mut capacities = std::collections::BTreeSet::new();
    for i in 1..scaled(200_000).max(5_000) as u64 {
        v.push(i);
        assert_eq!(v.as_ptr(), addr, "moved at push {i}");
        capacities.insert(v.capacity());
    }
    assert!(capacities.len() > 10, "grew several times: {capacities:?}");
    // Another block after it: the next growth copies, once, then is in place again.
    let other = m.alloc_value(1u8).unwrap();
    let cap = v.capacity();
    v.extend(v.len() as u64..cap as u64 + 1);
    let moved = v.as_ptr();
    assert_ne!(moved, addr);
    assert!(moved as usize > other as *mut u8 as usize);
    let cap = v.capacity();
    v.extend(v.len() as u64..cap as u64 + 1);
    assert_eq!(v.as_ptr(), moved);
    assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64));
}

#[test]
fn deallocating_a_block_that_is_not_last_keeps_the_pointer() {
    let m = Mallocator::new().unwrap();
    let a: Vec<u32, &Mallocator> = Vec::with_capacity_in(8, &m);
    let b: Vec<u32, &Mallocator> = Vec::with_capacity_in(8, &m);
    let used = m.used();
    drop(a);
    assert_eq!(m.used(), used);
    drop(b);
    assert_eq!(m.used(), 32, "only b's block came back");
}

#[test]
fn allocate_refuses_pages_that_cannot_be_written() {
    let mut m = Mallocator::builder().size(1 << 20).build().unwrap();
    m.set_protection(Protection::READ).unwrap();
    let used = m.used();
    assert!((&m).allocate(Layout::new::<u64>()).is_err());
    let mut v: Vec<u8, &Mallocator> = Vec::new_in(&m);
    assert!(v.try_reserve(1).is_err());
    assert_eq!(m.used(), used);
}

#[test]
fn growth_into_a_read_only_page_fails_and_keeps_the_vec() {
    let page = page_size();
    let mut m = Mallocator::with_size(4 * page, Protection::READ_WRITE).unwrap();
    m.protect(2 * page..3 * page, Protection::READ).unwrap();
    let mut v: Vec<u8, &Mallocator> = Vec::with_capacity_in(page, &m);
    v.extend((0..page).map(|i| i as u8));
    let (addr, used, committed) = (v.as_ptr(), m.used(), m.committed());
    // In place would reach the read-only page, and so would a copy above it.
    assert!(v.try_reserve_exact(page + 1).is_err());
    assert_eq!(
        (v.as_ptr(), m.used(), m.committed()),
        (addr, used, committed)
    );
    assert!(v.iter().enumerate().all(|(i, &b)| b == i as u8));
    // Up to the read-only page still works, in place.
    v.try_reserve_exact(page).unwrap();
    assert_eq!(v.as_ptr(), addr);
}

#[test]
fn out_of_memory_is_an_error_and_changes_nothing() {
    let m = Mallocator::with_size(page_size(), Protection::READ_WRITE).unwrap();
    let mut v: Vec<u8, &Mallocator> = Vec::new_in(&m);
    v.push(1);
    let (used, high) = (m.used(), m.high_water_mark());
    assert!(v.try_reserve_exact(2 * page_size()).is_err());
    assert_eq!((m.used(), m.high_water_mark()), (used, high));
    assert!(
        (&m).allocate(Layout::from_size_align(1, 1 << 20).unwrap())
            .is_err()
    );
    assert_eq!(m.used(), used);
}

#[test]
fn zeroed_allocation_and_growth_read_zero_after_reuse() {
    let mut m = Mallocator::new().unwrap();
    m.alloc_slice_fill_copy(1024, 0xaau8).unwrap();
    m.reset();
    let a = &m;
    let layout = Layout::from_size_align(256, 8).unwrap();
    let block = a.allocate_zeroed(layout).unwrap();
    // SAFETY: a fresh block of 256 initialised (zeroed) bytes.
    let bytes = unsafe { block.as_ref() };
    assert!(bytes.iter().all(|&b| b == 0));
    let bigger = Layout::from_size_align(512, 8).unwrap();
    // SAFETY: `block` came from this allocator with `layout`, and is not used again.
    let grown = unsafe { a.grow_zeroed(block.cast(), layout, bigger) }.unwrap();
    assert_eq!(grown.cast::<u8>(), block.cast::<u8>(), "grown in place");
    // SAFETY: 512 initialised bytes.
    assert!(unsafe { grown.as_ref() }.iter().all(|&b| b == 0));
    // Shrink, then grow again: the bytes given back are zeroed again when taken back.
    // SAFETY: `grown` came from this allocator with `bigger`.
    unsafe { grown.cast::<u8>().as_ptr().write_bytes(0x55, 512) };
    // SAFETY: as above; not used again.
    let small = unsafe { a.shrink(grown.cast(), bigger, layout) }.unwrap();
    assert_eq!(m.used(), 256);
    // SAFETY: as above.
    let again = unsafe { a.grow_zeroed(small.cast(), layout, bigger) }.unwrap();
    // SAFETY: 512 initialised bytes.
    let again = unsafe { again.as_ref() };
    assert!(again[..256].iter().all(|&b| b == 0x55));
    assert!(again[256..].iter().all(|&b| b == 0));
}

#[test]
fn vec_from_elem_zero_is_zero_after_reuse() {
    let mut m = Mallocator::new().unwrap();
    m.alloc_slice_fill_copy(512, u64::MAX).unwrap();
    m.reset();
    let v = allocator_api2::vec::from_elem_in(0u64, 512, &m);
    assert!(v.iter().all(|&x| x == 0));
}

#[test]
fn shrink_to_a_larger_alignment_moves() {
    let m = Mallocator::new().unwrap();
    let a = &m;
    m.alloc_value(1u8).unwrap();
    let old = Layout::from_size_align(64, 1).unwrap();
    let block = a.allocate(old).unwrap().cast::<u8>();
    assert_eq!(block.as_ptr() as usize % 64, 1);
    // SAFETY: a fresh block of 64 bytes.
    unsafe { block.as_ptr().write_bytes(7, 64) };
    let new = Layout::from_size_align(32, 64).unwrap();
    // SAFETY: `block` came from this allocator with `old`, and is not used again.
    let moved = unsafe { a.shrink(block, old, new) }.unwrap();
    assert_eq!(moved.cast::<u8>().as_ptr() as usize % 64, 0);
    // SAFETY: 32 initialised bytes.
    assert_eq!(unsafe { moved.as_ref() }, [7; 32]);
}
