// The README without its repository-only blocks (the benchmark charts); see build.rs.
#![doc = include_str!(concat!(env!("OUT_DIR"), "/README.md"))]
#![deny(unsafe_op_in_unsafe_fn)]

mod builder;
mod error;
pub mod hex;
mod icache;
mod mallocator;
mod placement;
mod protect;
mod protection;
mod region;
mod sync;
mod sys;
mod text;
mod zeroable;

pub use builder::{Builder, DEFAULT_COMMIT_STEP, HugePages};
pub use error::{Error, HexErrorKind};
pub use mallocator::{Checkpoint, FreeError, Mallocator, Scope, ScopeGuard, TopVec};
pub use protect::{Block, ByteRange, FnPtr};
pub use protection::Protection;
pub use region::{granularity, page_size};
pub use sync::{
    DEFAULT_CHUNK_SIZE, DEFAULT_SHARED_RESERVE, Local, SharedArena, SharedBuilder, SharedCode,
};
pub use text::CharWidth;
pub use zeroable::Zeroable;

/// `VMALLOCATOR_TEST_SCALE`: the factor by which heavy tests of the library's own shrink
/// (1 by default; the valgrind, ASan and emulator runs set it low).
#[cfg(test)]
pub(crate) fn test_scale() -> f64 {
    std::env::var("VMALLOCATOR_TEST_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0)
}

/// The step between the positions a test tries one by one: every position at full scale,
/// every 7th (a stride prime to every block width) where [`test_scale`] is below 0.5, as
/// under valgrind.
#[cfg(test)]
pub(crate) fn test_stride() -> usize {
    if test_scale() < 0.5 { 7 } else { 1 }
}

/// Cases for a property test of the library's own: `n` times [`test_scale`], at least 8.
#[cfg(test)]
pub(crate) fn test_cases(n: u32) -> u32 {
    ((f64::from(n) * test_scale()) as u32).clamp(8, n)
}
