//! The original Mallocator's usage, in Rust: a region, a few blocks, strings, bytes and a
//! hex string; then a hex dump of what the region holds.
//!
//! Run with `cargo run --release --example quickstart`.

use vmallocator::{CharWidth, Error, Mallocator, Protection, granularity};

fn main() -> Result<(), Error> {
    // The original's default: one granule of read+write memory.
    let small = Mallocator::new()?;
    println!("default region: {small:?}");
    small.free()?;

    // A custom size and protection.
    let mut m = Mallocator::with_size(4 * granularity(), Protection::READ_WRITE)?;
    println!("region at {:p}, {} bytes", m.base(), m.size());

    let p1 = m.alloc(24, 1)?; // 24 bytes
    let p2 = m.alloc(10, 16)?; // 10 bytes, 16-aligned
    println!("alloc(24, 1)          -> {p1:p}");
    println!("alloc(10, 16)         -> {p2:p}");

    let s8 = m.alloc_str("Hello World", CharWidth::U8)?;
    println!(
        "alloc_str(U8)         -> {:p} ({} bytes)",
        s8.as_ptr(),
        s8.len()
    );
    let s16 = m.alloc_str("Grüße 🦀", CharWidth::U16)?;
    println!(
        "alloc_str(U16)        -> {:p} ({} bytes)",
        s16.as_ptr(),
        s16.len()
    );
    let bytes = m.alloc_bytes(&[0x01, 0x02, 0x03])?;
    println!("alloc_bytes([1,2,3])  -> {:p}", bytes.as_ptr());
    let hex = m.alloc_hex("00 ab f9 0x42")?;
    println!(
        "alloc_hex(\"00 ab f9 0x42\") -> {:p} = {hex:02x?}",
        hex.as_ptr()
    );

    // Bad input is an error that says where and what, and changes nothing.
    let before = m.used();
    match m.alloc_hex("48 31 c0 zz") {
        Err(e) => println!("alloc_hex(\"48 31 c0 zz\") -> error: {e}"),
        Ok(b) => println!("unexpected success: {b:02x?}"),
    }
    assert_eq!(m.used(), before);

    println!(
        "\nused {} of {} bytes, {} remaining; next free address {:p}",
        m.used(),
        m.size(),
        m.remaining(),
        m.ptr()
    );
    let base = m.base().as_ptr() as usize;
    // SAFETY: every byte below the pointer was written by the helpers above or is the OS's
    // zero fill: no unsafe code left uninitialised bytes in the region.
    let used = unsafe { m.used_bytes()?.assume_init_ref() };
    for (i, line) in used.chunks(16).enumerate() {
        let hexes: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        let text: String = line
            .iter()
            .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
            .collect();
        println!("{:#014x}  {:<47}  {text}", base + 16 * i, hexes.join(" "));
    }

    Ok(m.free()?)
}
