//! Fuzzes `vmallocator::hex`: any UTF-8 input decodes without panicking, to exactly what a
//! simple reference parser written from the documented grammar gives (the same bytes, or the
//! same error kind at the same offset); an error leaves the output untouched, and decoded
//! bytes round-trip through the formats the grammar accepts.
#![no_main]

#[path = "../oracle/hex_ref.rs"]
mod hex_ref;

use std::fmt::Write;

use libfuzzer_sys::fuzz_target;
use vmallocator::hex::{decode, decode_append, max_decoded_len};

fuzz_target!(|input: &str| {
    let mut out = vec![0x5a];
    let result = decode_append(input, &mut out);
    let reference = hex_ref::decode(input);
    match (&result, &reference) {
        (Ok(_), Ok(bytes)) => assert_eq!(&out[1..], &bytes[..], "{input:?}"),
        (Err(e), Err(r)) => assert_eq!(e, r, "{input:?}"),
        _ => panic!("{input:?}: library {result:?}, reference {reference:?}"),
    }
    match result {
        Ok(n) => {
            assert_eq!(out.len(), 1 + n);
            assert!(n <= max_decoded_len(input.len()));
            let bytes = &out[1..];
            assert_eq!(decode(input).as_deref(), Ok(bytes));

            // Dense, spaced with a newline every 16, C array, escapes, assembler listing.
            let (mut dense, mut spaced, mut c, mut esc, mut asm) = (
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            );
            for (i, b) in bytes.iter().enumerate() {
                let _ = write!(dense, "{b:02x}");
                let _ = write!(spaced, "{b:02X}{}", if i % 16 == 15 { '\n' } else { ' ' });
                let _ = write!(c, "0x{b:x}, ");
                let _ = write!(esc, "\\x{b:02x}");
                let _ = writeln!(asm, "{b:02x} ; byte {i} // 0x{b:x}");
            }
            for text in [dense, spaced, c, esc, asm] {
                assert_eq!(decode(&text).as_deref(), Ok(bytes), "{text:?}");
            }
        }
        Err(_) => assert_eq!(out, [0x5a]),
    }
});
