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
