//! A tiny JIT: write a function from a hex string, publish it (read+write -> read+execute,
//! instruction cache made coherent), call it through a typed `extern "C" fn`; then make it
//! writable, patch an immediate, publish again and call it again.
//!
//! Run with `cargo run --release --example jit`.

use vmallocator::{Error, Mallocator};

/// `extern "C" fn(i32) -> i32 { x + 42 }` for this target, and the byte offset and width
/// of the immediate to patch.
#[cfg(all(target_arch = "x86_64", not(windows)))]
const CODE: (&str, usize) = (
    "8d 87 2a 00 00 00   ; lea eax, [rdi + 42]   (System V: argument in edi)
     c3                  ; ret",
    2,
);
#[cfg(all(target_arch = "x86_64", windows))]
const CODE: (&str, usize) = (
    "8d 81 2a 00 00 00   ; lea eax, [rcx + 42]   (Windows x64: argument in ecx)
     c3                  ; ret",
    2,
);
#[cfg(target_arch = "aarch64")]
const CODE: (&str, usize) = (
    "00 a8 00 11   ; add w0, w0, #42   (imm12 in bits 10..22)
     c0 03 5f d6   ; ret",
    0,
);

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn patch_immediate(code: &mut [u8], imm: u16) {
    if cfg!(target_arch = "aarch64") {
        let word = u32::from_le_bytes(code[..4].try_into().unwrap());
        let word = (word & !(0xfff << 10)) | (u32::from(imm & 0xfff) << 10);
        code[..4].copy_from_slice(&word.to_le_bytes());
    } else {
        code[..4].copy_from_slice(&u32::from(imm).to_le_bytes());
    }
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn main() -> Result<(), Error> {
    let (hex, imm_at) = CODE;
    let mut m = Mallocator::new()?;

    // Write: the region is read+write.
    let start = m.used();
    let code = m.alloc_hex(hex)?;
    let (addr, len) = (code.as_ptr() as usize, code.len());
    println!("wrote {len} bytes of code at {addr:#x}: {code:02x?}");

    // Publish: read+execute, instruction cache coherent. `publish` takes `&mut self`, so
    // the `code` slice is dead from here on; keep the address, not the slice.
    m.publish(start..start + len)?;
    println!("published: {:?}", m.protection_at(start).unwrap());
    // SAFETY: `addr` holds the function written above, `extern "C" fn(i32) -> i32` for this
    // target, and its pages are now executable.
    let f: extern "C" fn(i32) -> i32 = unsafe { std::mem::transmute(addr) };
    println!("f(100) = {}", f(100));
    assert_eq!(f(100), 142);

    // Patch: writable again, change the immediate, publish again.
    m.make_writable(start..start + len)?;
    m.reset();
    let code = m.alloc_hex(hex)?;
    patch_immediate(&mut code[imm_at..], 1000);
    m.publish(start..start + len)?;
    println!("patched the immediate to 1000 and published again");
    println!("f(100) = {}", f(100));
    assert_eq!(f(100), 1100);
    Ok(())
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn main() -> Result<(), Error> {
    println!("this example has machine code for x86_64 and aarch64 only");
    Ok(())
}
