//! `alloc_hex` and the wide `alloc_str` encode straight into an upper-bound block and
//! shrink it: the block is exact, an exact fit at the end of the region still succeeds,
//! and a failed call leaves the arena as it was (bytes above the pointer may have been
//! written, and still count as written for `reset_zeroed`).

use vmallocator::{CharWidth, Error, Mallocator, Protection, page_size};

/// Everything a failed call must leave as it was.
fn state(m: &Mallocator) -> (usize, usize, usize, usize) {
    (m.used(), m.remaining(), m.committed(), m.high_water_mark())
}

#[test]
fn blocks_are_exact_and_contiguous() -> Result<(), Error> {
    let m = Mallocator::new()?;
    let a = m
        .alloc_hex("0x1, 0x2 ; two bytes from eight characters")?
        .as_ptr() as usize;
    assert_eq!(m.used(), 2);
    let b = m.alloc_hex(r"\x48\x31")?.as_ptr() as usize;
    assert_eq!((b - a, m.used()), (2, 4));
    let w = m.alloc_str("h€llo 🦀", CharWidth::U16)?;
    let units: Vec<u16> = w
        .chunks(2)
        .map(|c| u16::from_ne_bytes([c[0], c[1]]))
        .collect();
    let want: Vec<u16> = "h€llo 🦀".encode_utf16().chain([0]).collect();
    assert_eq!(units, want);
    // 4 bytes of hex, then padding to 2, then 9 units.
    assert_eq!(m.used(), 4 + 9 * 2);
    let w = m.alloc_str("añb", CharWidth::U32)?;
    assert_eq!(w.len(), 4 * 4);
    assert_eq!(m.used() % 4, 0);
    assert_eq!(m.high_water_mark(), m.used());
    Ok(())
}

#[test]
fn failed_calls_leave_the_arena_as_it_was() -> Result<(), Error> {
    let mut m = Mallocator::with_size(1 << 16, Protection::READ_WRITE)?;
    m.alloc_bytes(&[7; 3])?;
    let before = state(&m);
    // Long valid prefixes make the decoder write above the pointer before it fails.
    let bad_hex = "ab ".repeat(500) + "0x12, ".repeat(500).as_str() + "zz";
    assert!(matches!(m.alloc_hex(&bad_hex), Err(Error::Hex { .. })));
    assert_eq!(state(&m), before);
    let bad_str = "x".repeat(5000) + "\0";
    assert_eq!(
        m.alloc_str(&bad_str, CharWidth::U16),
        Err(Error::InteriorNul { offset: 5000 })
    );
    assert_eq!(state(&m), before);
    assert_eq!(
        m.alloc_str(&bad_str, CharWidth::U32),
        Err(Error::InteriorNul { offset: 5000 })
    );
    assert_eq!(state(&m), before);
    // The bytes written above the pointer are zeroed by `reset_zeroed`.
    m.reset_zeroed()?;
    let fresh = m.alloc(m.remaining(), 1)?;
    // SAFETY: `fresh` covers the whole region, just handed out, and `reset_zeroed`
    // initialised every byte to zero.
    let bytes = unsafe { core::slice::from_raw_parts(fresh.as_ptr(), m.used()) };
    assert!(bytes.iter().all(|&b| b == 0));
    Ok(())
}

#[test]
fn an_exact_fit_at_the_end_of_the_region_succeeds() -> Result<(), Error> {
    let m = Mallocator::with_size(page_size(), Protection::READ_WRITE)?;
    m.alloc(page_size() - 8, 1)?;
    // Decodes to 8 bytes, but its upper bound is far above the 8 left.
    let hex = "0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8 ; eight bytes, no more";
    assert_eq!(m.alloc_hex(hex)?, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(m.remaining(), 0);
    let m = Mallocator::with_size(page_size(), Protection::READ_WRITE)?;
    m.alloc(page_size() - 8, 1)?;
    // Three characters in 7 bytes: 3 units and a terminator is 8 bytes of UTF-16.
    assert_eq!(m.alloc_str("€ö", CharWidth::U16)?.len(), 6);
    assert_eq!(m.remaining(), 2);
    let before = state(&m);
    assert!(matches!(
        m.alloc_hex("00 11 22"),
        Err(Error::OutOfMemory { .. })
    ));
    assert_eq!(state(&m), before);
    Ok(())
}

#[test]
fn a_reserved_region_commits_nothing_on_failure() -> Result<(), Error> {
    let m = Mallocator::builder()
        .reserve(64 << 20)
        .size(0)
        .commit_step(page_size())
        .build()?;
    m.alloc(10, 1)?;
    let before = state(&m);
    let bad_hex = "ab".repeat(100_000) + "g";
    assert!(m.alloc_hex(&bad_hex).is_err());
    assert_eq!(state(&m), before);
    let bad_str = "é".repeat(100_000) + "\0";
    assert!(m.alloc_str(&bad_str, CharWidth::U32).is_err());
    assert_eq!(state(&m), before);
    // And succeeds, committing what the exact block needs.
    assert_eq!(m.alloc_hex(&"ab".repeat(100_000))?.len(), 100_000);
    assert_eq!(m.committed(), (100_010_usize).next_multiple_of(page_size()));
    Ok(())
}

#[test]
fn read_only_pages_are_refused_before_writing() -> Result<(), Error> {
    let mut m = Mallocator::with_size(4 * page_size(), Protection::READ_WRITE)?;
    m.alloc(1, 1)?;
    m.protect(2 * page_size()..3 * page_size(), Protection::READ)?;
    let before = state(&m);
    // The exact block ends before the read-only page; its upper bound would not.
    let hex = "0x1, ".repeat(page_size() / 2);
    assert_eq!(m.alloc_hex(&hex)?.len(), page_size() / 2);
    assert_ne!(state(&m), before);
    let too_long = "00".repeat(2 * page_size());
    assert!(matches!(
        m.alloc_hex(&too_long),
        Err(Error::NotWritable { .. })
    ));
    Ok(())
}

#[test]
fn the_exact_path_decodes_what_the_upper_bound_path_does() -> Result<(), Error> {
    let layouts = [
        "00 ab f9 0x42 ".repeat(40),
        "0x48, 0x31, 0xc0, ".repeat(40),
        r"\x48\x31\xc0\x0f\x05".repeat(40),
        "b8 2a 00 00 00    ; mov eax, 42\n0f 05 ; syscall\n".repeat(20),
        "0123456789abcdef".repeat(80),
        "0x1, 0x2,\t0X0a0B // irregular\n".repeat(30),
    ];
    for hex in &layouts {
        let want = vmallocator::hex::decode(hex)?;
        // Room for the exact block only: the upper bound does not fit.
        let m = Mallocator::with_size(page_size(), Protection::READ_WRITE)?;
        m.alloc(page_size() - want.len(), 1)?;
        assert!(hex.len() / 2 >= m.remaining());
        assert_eq!(m.alloc_hex(hex)?, &want[..], "{hex:?}");
        assert_eq!(m.remaining(), 0);
        // A bad byte late in the text: the same error as `decode`, nothing handed out.
        let m = Mallocator::with_size(page_size(), Protection::READ_WRITE)?;
        m.alloc(page_size() - want.len(), 1)?;
        let bad = format!("{hex} zz");
        let before = state(&m);
        assert_eq!(
            m.alloc_hex(&bad),
            vmallocator::hex::decode(&bad).map(|_| unreachable!())
        );
        assert_eq!(state(&m), before);
    }
    Ok(())
}
