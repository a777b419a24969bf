//! Fuzzes random call sequences over the whole public API against a model of the arena
//! (`fuzz/oracle/ops.rs`, shared with `tests/model.rs`).
#![no_main]

#[path = "../oracle/ops.rs"]
mod ops;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ops::Harness::run(data);
});
