//! The tiny JIT once more with dual mapping: the code heap's pages are mapped twice, written
//! through one view and run from the other. Publishing makes no protection change (no
//! system call on x86_64), functions pack tightly, and a published function is patched in
//! place with one atomic store while another thread keeps calling it.
//!
//! Run with `cargo run --release --example jit_dual` (Linux, Android, Windows).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use vmallocator::{Error, Mallocator};

/// `extern "C" fn() -> i32` returning the 32-bit value at byte offset 4 of the code, which
/// is 4-aligned, so one aligned store replaces it.
#[cfg(target_arch = "x86_64")]
const ANSWER: &str = "0f 1f 00   ; nop (3 bytes), so the immediate below is aligned
                      b8 2a 00 00 00   ; mov eax, 42 (immediate at offset 4)
                      c3   ; ret";
#[cfg(target_arch = "aarch64")]
const ANSWER: &str = "40 00 00 18   ; ldr w0, [pc, #8]: the literal below, loaded as data
                      c0 03 5f d6   ; ret
                      2a 00 00 00   ; .word 42 (at offset 8)";
/// Where the value sits.
#[cfg(target_arch = "x86_64")]
const VALUE_AT: usize = 4;
#[cfg(target_arch = "aarch64")]
const VALUE_AT: usize = 8;

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn main() -> Result<(), Error> {
    type Answer = extern "C" fn() -> i32;
    let mut m = match Mallocator::builder()
        .reserve(1 << 20)
        .dual_mapping(true)
        .build()
    {
        Ok(m) => m,
        Err(Error::Unsupported) => {
            println!("dual mapping is not built for this system");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    println!(
        "writable view at {:p}, executable view at {:p}",
        m.base(),
        m.exec_base()
    );

    let answer = m.block_of(m.alloc_hex(ANSWER)?)?;
    m.publish(answer)?; // instruction-cache coherence only: the writable view stays writable
    // SAFETY: `answer` holds a whole `extern "C" fn() -> i32` for this target, published;
    // `m` outlives every call (the thread below is joined first).
    let f = unsafe { m.function::<Answer>(answer)? };
    println!(
        "written at {:#x}, runs at {:#x}: answer() = {}",
        answer.addr(),
        f as usize,
        f()
    );

    // Append right after it, no page sealed in between.
    let next = m.block_of(m.alloc_hex(ANSWER)?)?;
    m.publish(next)?;
    println!(
        "appended at {:#x} (+{} bytes)",
        next.addr(),
        next.addr() - answer.addr()
    );

    // Patch the first while another thread keeps calling it: old or new, never a mix.
    let stop = AtomicBool::new(false);
    let calls = AtomicU64::new(0);
    let offset = answer.addr() - m.base().as_ptr() as usize + VALUE_AT;
    let wait_for_calls = |n: u64, caller: &std::thread::ScopedJoinHandle<'_, ()>| {
        let start = calls.load(Ordering::Relaxed);
        while calls.load(Ordering::Relaxed) < start + n && !caller.is_finished() {
            std::hint::spin_loop();
        }
    };
    std::thread::scope(|s| {
        let caller = s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let v = f();
                assert!(v == 42 || v == 7, "torn value {v}");
                calls.fetch_add(1, Ordering::Relaxed);
            }
        });
        wait_for_calls(1000, &caller); // the other thread is calling
        let patched = m.patch_u32(offset, 7);
        wait_for_calls(1000, &caller); // and goes on calling after the patch
        stop.store(true, Ordering::Relaxed);
        caller.join().expect("the caller saw only 42 or 7");
        println!(
            "patched while another thread made {} calls: answer() = {}",
            calls.load(Ordering::Relaxed),
            f()
        );
        patched
    })?;
    assert_eq!(f(), 7);
    println!("{m:?}");
    Ok(())
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn main() -> Result<(), Error> {
    println!("this example has machine code for x86_64 and aarch64 only");
    Ok(())
}
