//! Fuzzes `alloc_str`: every string round-trips through UTF-8, UTF-16 and UTF-32 (encode
//! into the arena, decode, compare), with one NUL unit after it, the block aligned to the
//! unit; a string holding NUL is refused with the NUL's offset, and the arena is unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vmallocator::{CharWidth, Error, Mallocator};

fuzz_target!(|input: &str| {
    let m = Mallocator::builder().reserve(1 << 20).build().unwrap();
    for width in [CharWidth::U8, CharWidth::U16, CharWidth::U32] {
        let used = m.used();
        let block = match m.alloc_str(input, width) {
            Ok(block) => block,
            Err(e) => {
                assert_eq!(
                    e,
                    Error::InteriorNul {
                        offset: input.find('\0').unwrap()
                    }
                );
                assert_eq!(m.used(), used);
                continue;
            }
        };
        assert!(!input.contains('\0'));
        let unit = width.unit_size();
        assert_eq!(block.as_ptr() as usize % unit, 0);
        assert_eq!(block.len(), (width.encoded_len(input) + 1) * unit);
        let (body, nul) = block.split_at(block.len() - unit);
        assert!(nul.iter().all(|&b| b == 0));
        let decoded = match width {
            CharWidth::U8 => String::from_utf8(body.to_vec()).unwrap(),
            CharWidth::U16 => {
                let units: Vec<u16> = body
                    .chunks(2)
                    .map(|c| u16::from_ne_bytes([c[0], c[1]]))
                    .collect();
                String::from_utf16(&units).unwrap()
            }
            CharWidth::U32 => body
                .chunks(4)
                .map(|c| char::from_u32(u32::from_ne_bytes([c[0], c[1], c[2], c[3]])).unwrap())
                .collect(),
        };
        assert_eq!(decoded, input);
    }
});
