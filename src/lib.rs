#![doc = include_str!("../README.md")]
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
mod sys;
mod text;
mod zeroable;

pub use builder::{Builder, DEFAULT_COMMIT_STEP, HugePages};
pub use error::{Error, HexErrorKind};
pub use mallocator::{Checkpoint, Mallocator, Scope, ScopeGuard, TopVec};
pub use protection::Protection;
pub use region::{granularity, page_size};
pub use text::CharWidth;
pub use zeroable::Zeroable;
