//! The thread-safe arena under load: 8 threads each make 100,000 mixed allocations (raw
//! blocks of 1 to 4096 bytes at alignments 1 to 64, bytes, strings), through handles and
//! through the arena's `&self` path, in a region that commits small steps as it grows.
//! Every block is collected and checked: inside the region, aligned, overlapping no other,
//! holding what was written. `VMALLOCATOR_TEST_SCALE` (default 1.0) scales the counts.

use std::thread;

use vmallocator::{CharWidth, Error, SharedArena, page_size};

fn scale() -> f64 {
    std::env::var("VMALLOCATOR_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

/// A small deterministic generator (xorshift), one per thread.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
}

/// One block: where it lies, its alignment, and the bytes it must hold (if written).
struct Block {
    addr: usize,
    len: usize,
    align: usize,
    content: Option<Vec<u8>>,
}

fn run(arena: &SharedArena, seed: u64, count: usize, use_handle: bool) -> Vec<Block> {
    let local = arena.local();
    let mut rng = Rng(seed);
    let mut blocks = Vec::with_capacity(count);
    for i in 0..count {
        let via_handle = use_handle || i % 2 == 0;
        let block = match rng.below(4) {
            0 | 1 => {
                let size = 1 + rng.below(4096);
                let align = 1 << rng.below(7);
                let p = if via_handle {
                    local.alloc(size, align)
                } else {
                    arena.alloc(size, align)
                }
                .unwrap();
                Block {
                    addr: p.as_ptr() as usize,
                    len: size,
                    align,
                    content: None,
                }
            }
            2 => {
                let bytes: Vec<u8> = (0..1 + rng.below(200)).map(|_| rng.next() as u8).collect();
                let b = if via_handle {
                    local.alloc_bytes(&bytes)
                } else {
                    arena.alloc_bytes(&bytes)
                }
                .unwrap();
                assert_eq!(b, bytes.as_slice());
                Block {
                    addr: b.as_ptr() as usize,
                    len: b.len(),
                    align: 1,
                    content: Some(bytes),
                }
            }
            _ => {
                let s = format!("{i}-€-{}", rng.next());
                let width = [CharWidth::U8, CharWidth::U16, CharWidth::U32][rng.below(3)];
                let b = if via_handle {
                    local.alloc_str(&s, width)
                } else {
                    arena.alloc_str(&s, width)
                }
                .unwrap();
                let want: Vec<u8> = match width {
                    CharWidth::U8 => s.bytes().chain([0]).collect(),
                    CharWidth::U16 => s
                        .encode_utf16()
                        .chain([0])
                        .flat_map(u16::to_ne_bytes)
                        .collect(),
                    CharWidth::U32 => s
                        .chars()
                        .map(u32::from)
                        .chain([0])
                        .flat_map(u32::to_ne_bytes)
                        .collect(),
                };
                assert_eq!(b, want.as_slice());
                Block {
                    addr: b.as_ptr() as usize,
                    len: b.len(),
                    align: width.unit_size(),
                    content: Some(want),
                }
            }
        };
        if i % 1000 == 0 {
            thread::yield_now();
        }
        blocks.push(block);
    }
    blocks
}

#[test]
fn eight_threads_mixed_allocations_are_disjoint_aligned_and_intact() {
    let count = ((100_000.0 * scale()) as usize).max(100);
    let threads = 8;
    let step = 16 * page_size();
    // Room for every block with its padding, and for each thread's last chunk tail.
    let reserve = threads * count * 4200 + (64 << 20);
    let arena = SharedArena::builder()
        .reserve(reserve)
        .commit_step(step)
        .chunk_size(32 << 10)
        .build()
        .unwrap();
    let results: Vec<Vec<Block>> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let arena = &arena;
                s.spawn(move || run(arena, 0x9e37_79b9_7f4a_7c15 ^ (t as u64 + 1), count, t < 4))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Growth crossed many commit steps while the threads ran.
    assert!(arena.committed() / step > 100, "{arena:?}");
    let base = arena.base().as_ptr() as usize;
    let mut all: Vec<&Block> = results.iter().flatten().collect();
    assert_eq!(all.len(), threads * count);
    for b in &all {
        assert_eq!(b.addr % b.align, 0, "misaligned block at {:#x}", b.addr);
        assert!(b.addr >= base && b.addr + b.len <= base + arena.claimed());
        assert!(arena.claimed() <= arena.committed());
        if let Some(content) = &b.content {
            // SAFETY: the block was written by the crate and nothing wrote it since (no
            // overlap, checked below; the raw blocks were never written).
            let now = unsafe { std::slice::from_raw_parts(b.addr as *const u8, b.len) };
            assert_eq!(now, content.as_slice());
        }
    }
    all.sort_by_key(|b| b.addr);
    for w in all.windows(2) {
        assert!(
            w[0].addr + w[0].len <= w[1].addr,
            "blocks at {:#x}+{} and {:#x} overlap",
            w[0].addr,
            w[0].len,
            w[1].addr
        );
    }
    let handed_out: usize = all.iter().map(|b| b.len).sum();
    assert!(arena.used() >= handed_out);
}

#[test]
fn threads_racing_to_the_end_of_a_small_region_fail_cleanly() {
    let arena = SharedArena::builder()
        .reserve(64 * page_size())
        .commit_step(page_size())
        .chunk_size(4096)
        .build()
        .unwrap();
    let total: usize = thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let local = arena.local();
                    let mut n = 0;
                    loop {
                        match local.alloc(100, 8) {
                            Ok(_) => n += 100,
                            Err(Error::OutOfMemory { .. }) => return n,
                            Err(e) => panic!("{e}"),
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    // Everything but the chunk tails was handed out, and no more than the region.
    assert!(total <= arena.size());
    assert!(
        total >= arena.size() - 4 * 4096,
        "{total} of {}",
        arena.size()
    );
    assert_eq!(arena.committed(), arena.size());
}
