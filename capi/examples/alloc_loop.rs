//! The Rust side of `scripts/capi-instructions.sh`: `n` calls of `Mallocator::alloc` through
//! a function that is never inlined, with the size and alignment read at run time, the arena
//! reset every 1000 calls. `capi/bench/alloc_loop.c` does the same through the C ABI.
//!
//! Usage: `alloc_loop N SIZE ALIGN`.

use std::ptr::NonNull;

use vmallocator::{Error, Mallocator, Protection};

#[inline(never)]
fn alloc(m: &Mallocator, size: usize, align: usize) -> Result<NonNull<u8>, Error> {
    m.alloc(size, align)
}

fn main() -> Result<(), Error> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("usage: alloc_loop N SIZE ALIGN"))
        .collect();
    let &[n, size, align] = args.as_slice() else {
        panic!("usage: alloc_loop N SIZE ALIGN");
    };
    let mut m = Mallocator::with_size(1 << 20, Protection::READ_WRITE)?;
    let mut sink = 0usize;
    let mut i = 0;
    while i < n {
        for _ in 0..1000 {
            sink = sink.wrapping_add(alloc(&m, size, align)?.as_ptr() as usize);
        }
        m.reset();
        i += 1000;
    }
    println!("{}", sink & 1);
    Ok(())
}
