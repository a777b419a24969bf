//! Random call sequences over the whole API, checked against a model of the arena
//! (`fuzz/oracle/ops.rs`, shared with the `ops` fuzz target): allocation and the write
//! helpers, checkpoints, rewind, scopes, the reset family, trim, protect, publish,
//! make_writable and growth of reserved regions. After every failed call the pointer,
//! committed size, high-water mark, every page's protection and the bytes below the
//! pointer are checked unchanged.
//!
//! At least 100,000 calls per run, times `VMALLOCATOR_TEST_SCALE` (a factor, default 1).
//! A failure names the seed; `VMALLOCATOR_MODEL_SEED=<seed>` reruns just that sequence.

#[allow(dead_code)]
#[path = "../fuzz/oracle/ops.rs"]
mod ops;

fn scale() -> f64 {
    std::env::var("VMALLOCATOR_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

/// splitmix64: a fixed, seedable stream of input bytes.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

/// Names the seed of a sequence that panicked.
struct Seed(u64);

impl Drop for Seed {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("failing sequence: VMALLOCATOR_MODEL_SEED={}", self.0);
        }
    }
}

#[test]
fn call_sequences_match_the_model() {
    let target = ((100_000.0 * scale()) as usize).max(100);
    let seeds: Vec<u64> = match std::env::var("VMALLOCATOR_MODEL_SEED") {
        Ok(s) => vec![s.parse().unwrap()],
        Err(_) => (0..).take(1 << 20).collect(),
    };
    let (mut calls, mut failures, mut sequences) = (0, 0, 0);
    for seed in seeds {
        let guard = Seed(seed);
        // Sequences of a few hundred calls, some of them short.
        let len = if seed % 4 == 0 { 64 } else { 3000 };
        let (n, f) = ops::Harness::run(&bytes(seed, len));
        drop(guard);
        calls += n;
        failures += f;
        sequences += 1;
        if calls >= target {
            break;
        }
    }
    println!("{calls} calls in {sequences} sequences, {failures} of them failed");
    assert!(calls >= target || std::env::var_os("VMALLOCATOR_MODEL_SEED").is_some());
    // The sequences must exercise the failure paths, not only the happy ones.
    assert!(
        failures * 20 > calls,
        "only {failures} of {calls} calls failed"
    );
}

/// Inputs the `ops` fuzz target found, replayed on every run.
#[test]
fn fuzz_findings_replay() {
    // `reset_zeroed` after `alloc_hex` decoded into an upper-bound block that reached a page
    // made read+execute since: the arena counts the whole upper-bound block as written, so
    // it may refuse (the model allows either outcome there).
    let found: &[&[u8]] = &[&[
        64, 58, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 234, 48, 0, 0, 0, 0, 0, 0, 0, 234, 6, 89,
        67, 255, 67, 67, 67, 22, 22, 22, 244, 30, 22, 45, 22, 16, 22, 22, 22, 22, 22, 244, 22, 22,
        22, 5, 41, 130,
    ]];
    for input in found {
        ops::Harness::run(input);
    }
}
