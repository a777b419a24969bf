//! A tiny JIT: write a function from a hex string, publish it (read+write -> read+execute,
//! instruction cache made coherent) and call it through a typed `extern "C" fn`; append a
//! second function after it while the first keeps running; then patch an immediate of the
//! first in place and publish it again, without resetting anything.
//!
//! Run with `cargo run --release --example jit`.

use vmallocator::{Error, Mallocator};

/// `extern "C" fn(i32) -> i32 { x + 42 }` for this target, and the byte offset of the
/// instruction that holds the immediate to patch.
#[cfg(all(target_arch = "x86_64", not(windows)))]
const ADD: (&str, usize) = (
    "8d 87 2a 00 00 00   ; lea eax, [rdi + 42]   (System V: argument in edi)
     c3                  ; ret",
    2,
);
#[cfg(all(target_arch = "x86_64", windows))]
const ADD: (&str, usize) = (
    "8d 81 2a 00 00 00   ; lea eax, [rcx + 42]   (Windows x64: argument in ecx)
     c3                  ; ret",
    2,
);
#[cfg(target_arch = "aarch64")]
const ADD: (&str, usize) = (
    "00 a8 00 11   ; add w0, w0, #42   (imm12 in bits 10..22)
     c0 03 5f d6   ; ret",
    0,
);

/// `extern "C" fn(i32) -> i32 { x * 3 }`.
#[cfg(all(target_arch = "x86_64", not(windows)))]
const TRIPLE: &str = "8d 04 7f  ; lea eax, [rdi + rdi*2]\nc3  ; ret";
#[cfg(all(target_arch = "x86_64", windows))]
const TRIPLE: &str = "8d 04 49  ; lea eax, [rcx + rcx*2]\nc3  ; ret";
#[cfg(target_arch = "aarch64")]
const TRIPLE: &str = "00 04 00 0b  ; add w0, w0, w0, lsl #1\nc0 03 5f d6  ; ret";

/// The instruction bytes at the immediate's offset with the immediate set to `imm`.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn with_immediate(instruction: [u8; 4], imm: u16) -> [u8; 4] {
    if cfg!(target_arch = "aarch64") {
        let word = u32::from_le_bytes(instruction);
        ((word & !(0xfff << 10)) | (u32::from(imm & 0xfff) << 10)).to_le_bytes()
    } else {
        u32::from(imm).to_le_bytes()
    }
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn main() -> Result<(), Error> {
    type Fn1 = extern "C" fn(i32) -> i32;
    let (add_hex, imm_at) = ADD;
    let mut m = Mallocator::builder()
        .reserve(1 << 20)
        .guard_pages(1, 1)
        .build()?;

    // Write while the pages are read+write; keep a handle, not the slice.
    let add = m.block_of(m.alloc_hex(add_hex)?)?;
    println!("wrote {} bytes of code at {:#x}", add.len(), add.addr());

    // Publish: read+execute, instruction cache coherent. The page is sealed, so the next
    // block starts on a fresh writable page.
    m.publish(add)?;
    // SAFETY: `add` holds a whole `extern "C" fn(i32) -> i32` for this target, published;
    // `m` outlives every call.
    let f = unsafe { m.function::<Fn1>(add)? };
    println!("add(100) = {}", f(100));
    assert_eq!(f(100), 142);

    // Append a second function; the first keeps running throughout.
    let triple = m.block_of(m.alloc_hex(TRIPLE)?)?;
    assert_eq!(f(1), 43);
    m.publish(triple)?;
    // SAFETY: as above, for `triple`.
    let g = unsafe { m.function::<Fn1>(triple)? };
    println!("appended at {:#x}: triple(14) = {}", triple.addr(), g(14));
    assert_eq!((f(100), g(14)), (142, 42));

    // Patch the first in place: writable again (not callable meanwhile), change the
    // immediate, publish again. The second keeps running.
    m.make_writable(add)?;
    let code = m.patch(add)?;
    // SAFETY: these bytes were written by `alloc_hex` above.
    let old: [u8; 4] = core::array::from_fn(|i| unsafe { code[imm_at + i].assume_init() });
    code[imm_at..imm_at + 4].write_copy_of_slice(&with_immediate(old, 1000));
    m.publish(add)?;
    println!("patched the immediate to 1000: add(100) = {}", f(100));
    assert_eq!((f(100), g(14)), (1100, 42));
    println!("{m:?}");
    Ok(())
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn main() -> Result<(), Error> {
    println!("this example has machine code for x86_64 and aarch64 only");
    Ok(())
}
