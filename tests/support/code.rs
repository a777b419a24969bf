//! Shared by the code-heap tests (`codeheap.rs`, `dual.rs`): machine code that returns
//! a constant, the test scale, and the values the tests write.

/// Machine code for `extern "C" fn() -> i32 { imm }` on this CPU (empty elsewhere).
pub fn return_imm(imm: u32) -> Vec<u8> {
    if cfg!(target_arch = "x86_64") {
        let mut v = vec![0xb8]; // mov eax, imm32
        v.extend_from_slice(&imm.to_le_bytes());
        v.push(0xc3); // ret
        v
    } else if cfg!(target_arch = "aarch64") {
        let movz = 0x5280_0000 | ((imm & 0xffff) << 5); // movz w0, #lo
        let movk = 0x72a0_0000 | ((imm >> 16) << 5); // movk w0, #hi, lsl #16
        [movz, movk, 0xd65f_03c0] // ret
            .iter()
            .flat_map(|w: &u32| w.to_le_bytes())
            .collect()
    } else {
        Vec::new()
    }
}

/// Scales the heavy tests: `VMALLOCATOR_TEST_SCALE` (a fraction, default 1) is set low
/// under emulators and memory checkers.
pub fn scaled(n: usize) -> usize {
    let scale: f64 = std::env::var("VMALLOCATOR_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((n as f64 * scale) as usize).max(2)
}

/// A distinct 32-bit value for index `i`.
pub fn value(i: usize) -> u32 {
    (i as u32).wrapping_mul(0x9e37_79b9) ^ 0x5a5a_0000
}
