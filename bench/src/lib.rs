//! Benchmarks of `vmallocator` against its peers (bumpalo, the system allocator, mimalloc,
//! the hex and const-hex crates, raw system calls). This crate is not published; its code
//! lives in `benches/`, run with `cargo bench -p vmallocator-bench` from the repository root.
