//! The C ABI of `vmallocator`: `extern "C"` functions over an opaque handle, built as a
//! shared library (`libvmallocator_c.so`, `vmallocator_c.dll`) and a static one. The header
//! `include/vmallocator.h` is generated from this crate by cbindgen.
//!
//! **Conventions.** Every call that can fail returns a `vma_status` (`VMA_OK` is 0) and
//! passes results through out-parameters, which it leaves untouched on failure. A failing
//! call leaves the arena exactly as it was, and records its message and facts (the byte
//! offset of a bad hex digit, the OS error code) in thread-local storage, read with
//! `vma_last_error_*`; successful calls never touch that state. A NULL handle or a NULL
//! required pointer is `VMA_ERR_NULL_POINTER`. No panic crosses the boundary: one caught is
//! `VMA_ERR_PANIC`.
//!
//! **Ownership.** A handle from `vma_create*` / `vma_builder_build` is the caller's until
//! `vma_free`. Pointers into the region (blocks, `vma_base`, `vma_ptr`) stay valid until the
//! pointer moves below them (`vma_reset*`, `vma_rewind`) or the arena is freed; the region
//! never moves. Strings returned by `vma_last_error_message` live until the next failing call
//! on the same thread.
//!
//! **Threads.** A `vma_mallocator*` is used by one thread at a time; it may move between
//! threads. Concurrent calls on one handle are undefined behaviour. Different handles are
//! independent. The thread-safe arena is a handle type of its own, `vma_shared*`
//! (`SharedArena`): its allocation calls and figures run on many threads at once.
//!
//! **What maps how.** A block growing at the top (`TopVec`) is state kept in the handle
//! (`vma_top_*`), refusing the calls that move the pointer while it is open; nested scopes
//! are checkpoints (`vma_checkpoint` / `vma_rewind`); `Block` handles are addresses checked
//! against the arena (`vma_*_addr`, `vma_function`); of the typed calls, the foreign strings
//! (`vma_alloc_cstr`, `vma_alloc_utf16_units`). Generic typed values stay in Rust.
//!
//! **Double free.** `vma_free` of a handle that is no longer live is detected
//! (`VMA_ERR_INVALID_HANDLE`) unless a new arena got the same address in between; any other
//! call with a freed handle is undefined behaviour.

#![allow(non_camel_case_types)]

mod arena;
mod builder;
mod code;
mod dual;
mod protect;
mod reuse;
mod shared;
mod status;
mod strings;
mod top;

pub use arena::*;
pub use builder::*;
pub use code::*;
pub use protect::*;
pub use reuse::*;
pub use shared::*;
pub use status::{
    vma_last_error_message, vma_last_error_offset, vma_last_error_os_code, vma_last_error_status,
    vma_status, vma_status_name,
};
pub use top::*;
