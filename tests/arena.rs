//! Behaviour of `Mallocator` through its public API: layout, bounds, strings, bytes, hex,
//! protection checks, and a property test over random call sequences.

mod support;

use vmallocator::{CharWidth, Error, HexErrorKind, Mallocator, Protection, granularity, page_size};

fn addr<T: ?Sized>(p: *const T) -> usize {
    p.cast::<u8>() as usize
}

#[test]
fn new_is_one_granule_read_write() {
    let m = Mallocator::new().unwrap();
    assert_eq!(m.size(), granularity());
    assert_eq!(m.protection(), Some(Protection::READ_WRITE));
    assert_eq!(m.used(), 0);
    assert_eq!(m.remaining(), m.size());
    assert_eq!(m.ptr(), m.base());
    assert_eq!(addr(m.base().as_ptr()) % granularity(), 0);
}

#[test]
fn with_size_rounds_up_to_pages_and_rejects_zero() {
    let p = page_size();
    for (asked, got) in [(1, p), (p, p), (p + 1, 2 * p), (3 * p - 1, 3 * p)] {
        assert_eq!(
            Mallocator::with_size(asked, Protection::READ)
                .unwrap()
                .size(),
            got
        );
    }
    assert_eq!(
        Mallocator::with_size(0, Protection::READ_WRITE).unwrap_err(),
        Error::ZeroSize
    );
    assert_eq!(
        Mallocator::with_size(usize::MAX, Protection::READ_WRITE).unwrap_err(),
        Error::SizeOverflow {
            requested: usize::MAX
        }
    );
}

#[test]
fn fresh_memory_is_zeroed() {
    let mut m = Mallocator::with_size(3 * page_size(), Protection::READ_WRITE).unwrap();
    m.alloc(m.size(), 1).unwrap();
    assert!(
        support::init(m.used_bytes().unwrap())
            .iter()
            .all(|&b| b == 0)
    );
}

#[test]
fn blocks_go_upward_contiguously_at_align_one() {
    let m = Mallocator::new().unwrap();
    let mut expect = addr(m.base().as_ptr());
    for size in [1usize, 3, 0, 7, 100, 1] {
        let p = m.alloc(size, 1).unwrap();
        assert_eq!(addr(p.as_ptr()), expect);
        expect += size;
        assert_eq!(addr(m.ptr().as_ptr()), expect);
        assert_eq!(m.used(), expect - addr(m.base().as_ptr()));
    }
}

#[test]
fn alignment_pads_only_as_needed() {
    let m = Mallocator::new().unwrap();
    let base = addr(m.base().as_ptr());
    m.alloc(1, 1).unwrap();
    let p = m.alloc(4, 16).unwrap();
    assert_eq!(addr(p.as_ptr()), base + 16);
    let q = m.alloc(1, 2).unwrap();
    assert_eq!(addr(q.as_ptr()), base + 20);
    let r = m.alloc(0, 8).unwrap();
    assert_eq!(addr(r.as_ptr()), base + 24);
    assert_eq!(m.used(), 24);
    // Alignment as large as the region: the base itself is aligned to a page at least.
    let m = Mallocator::new().unwrap();
    assert_eq!(m.alloc(0, page_size()).unwrap(), m.base());
}

#[test]
fn invalid_alignments_are_errors_and_change_nothing() {
    let m = Mallocator::new().unwrap();
    m.alloc(5, 1).unwrap();
    for align in [0, 3, 6, 12, usize::MAX, (1 << 20) + 1] {
        assert_eq!(
            m.alloc(1, align).unwrap_err(),
            Error::InvalidAlignment { align }
        );
        assert_eq!(m.used(), 5);
    }
}

#[test]
fn exhaustion_exactly_at_the_end() {
    let m = Mallocator::with_size(page_size(), Protection::READ_WRITE).unwrap();
    let size = m.size();
    m.alloc(size - 1, 1).unwrap();
    assert_eq!(m.remaining(), 1);
    assert_eq!(
        m.alloc(2, 1).unwrap_err(),
        Error::OutOfMemory {
            requested: 2,
            align: 1,
            remaining: 1
        }
    );
    let last = m.alloc(1, 1).unwrap();
    assert_eq!(addr(last.as_ptr()), addr(m.base().as_ptr()) + size - 1);
    assert_eq!(m.remaining(), 0);
    assert!(matches!(
        m.alloc(1, 1),
        Err(Error::OutOfMemory { remaining: 0, .. })
    ));
    // A zero-size block still fits at the very end.
    assert_eq!(
        addr(m.alloc(0, 1).unwrap().as_ptr()),
        addr(m.base().as_ptr()) + size
    );
}

#[test]
fn padding_that_does_not_fit_is_an_error() {
    let m = Mallocator::with_size(page_size(), Protection::READ_WRITE).unwrap();
    m.alloc(m.size() - 3, 1).unwrap();
    // 3 bytes left, but 8-alignment needs all of them as padding.
    assert!(m.alloc(1, 8).is_err());
    assert_eq!(m.remaining(), 3);
    // Alignment far beyond the region.
    assert!(m.alloc(0, 1 << 62).is_err());
    assert_eq!(m.remaining(), 3);
}

#[test]
fn sizes_near_usize_max_are_errors() {
    let m = Mallocator::new().unwrap();
    m.alloc(1, 1).unwrap();
    for (size, align) in [
        (usize::MAX, 1),
        (usize::MAX, 8),
        (usize::MAX - 6, 8),
        (isize::MAX as usize, 1),
        (usize::MAX / 2 + 1, 1 << 63),
    ] {
        assert!(
            matches!(m.alloc(size, align), Err(Error::OutOfMemory { requested, .. }) if requested == size),
            "{size} {align}"
        );
        assert_eq!(m.used(), 1);
    }
}

#[test]
fn bytes_are_copied_where_promised() {
    let mut m = Mallocator::new().unwrap();
    let a = m.alloc_bytes(&[1, 2, 3]).unwrap();
    assert_eq!(a, [1, 2, 3]);
    let a_addr = addr(a.as_ptr());
    let b = m.alloc_bytes(&[]).unwrap();
    assert!(b.is_empty());
    let c = m.alloc_bytes(b"xyz").unwrap();
    assert_eq!(addr(c.as_ptr()), a_addr + 3);
    assert_eq!(support::init(m.used_bytes().unwrap()), b"\x01\x02\x03xyz");
}

fn units16(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2)
        .map(|c| u16::from_ne_bytes([c[0], c[1]]))
        .collect()
}

fn units32(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4)
        .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn strings_in_each_width_are_lossless_and_terminated() {
    let m = Mallocator::new().unwrap();
    let s = "Hé€🦀!";
    let b8 = m.alloc_str(s, CharWidth::U8).unwrap();
    assert_eq!(&b8[..s.len()], s.as_bytes());
    assert_eq!(b8[s.len()], 0);
    assert_eq!(b8.len(), s.len() + 1);

    let b16 = m.alloc_str(s, CharWidth::U16).unwrap();
    assert_eq!(addr(b16.as_ptr()) % 2, 0);
    let mut want: Vec<u16> = s.encode_utf16().collect();
    want.push(0);
    assert_eq!(units16(b16), want);
    assert_eq!(String::from_utf16(&want[..want.len() - 1]).unwrap(), s);

    let b32 = m.alloc_str(s, CharWidth::U32).unwrap();
    assert_eq!(addr(b32.as_ptr()) % 4, 0);
    let mut want: Vec<u32> = s.chars().map(u32::from).collect();
    want.push(0);
    assert_eq!(units32(b32), want);
}

#[test]
fn wide_strings_pad_to_their_unit() {
    let m = Mallocator::new().unwrap();
    m.alloc(1, 1).unwrap();
    let w = m.alloc_str("ab", CharWidth::U16).unwrap();
    assert_eq!(addr(w.as_ptr()), addr(m.base().as_ptr()) + 2);
    m.alloc(1, 1).unwrap(); // used = 9
    let w = m.alloc_str("", CharWidth::U32).unwrap();
    assert_eq!(addr(w.as_ptr()), addr(m.base().as_ptr()) + 12);
    assert_eq!(w, [0, 0, 0, 0]);
    assert_eq!(m.used(), 16);
}

#[test]
fn interior_nul_is_rejected_with_its_offset() {
    let m = Mallocator::new().unwrap();
    for width in [CharWidth::U8, CharWidth::U16, CharWidth::U32] {
        assert_eq!(
            m.alloc_str("ab€\0c", width).unwrap_err(),
            Error::InteriorNul { offset: 5 }
        );
    }
    assert_eq!(m.used(), 0);
}

/// Strings that fill the region exactly, or miss by one unit, in every width, so both the
/// in-place path and the counted path of the encoder meet the boundary.
#[test]
fn strings_at_the_end_of_the_region() {
    for width in [CharWidth::U8, CharWidth::U16, CharWidth::U32] {
        let unit = width.unit_size();
        for s in ["abc", "é€", "🦀x"] {
            let need = (width.encoded_len(s) + 1) * unit;
            let m = Mallocator::with_size(page_size(), Protection::READ_WRITE).unwrap();
            m.alloc(m.size() - need, 1).unwrap();
            if (m.size() - need).is_multiple_of(unit) {
                let b = m.alloc_str(s, width).unwrap();
                assert_eq!(b.len(), need);
                assert_eq!(m.remaining(), 0);
            }
            let m = Mallocator::with_size(page_size(), Protection::READ_WRITE).unwrap();
            m.alloc(m.size() - need + unit, 1).unwrap();
            let before2 = m.used();
            assert!(matches!(
                m.alloc_str(s, width),
                Err(Error::OutOfMemory { .. })
            ));
            assert_eq!(m.used(), before2);
        }
    }
}

#[test]
fn hex_is_parsed_then_copied() {
    let m = Mallocator::new().unwrap();
    assert_eq!(
        m.alloc_hex("00 ab f9 0x42").unwrap(),
        [0x00, 0xab, 0xf9, 0x42]
    );
    assert_eq!(m.alloc_hex("").unwrap(), [0u8; 0]);
    let used = m.used();
    assert!(matches!(
        m.alloc_hex("00 ab zz"),
        Err(Error::Hex {
            offset: 6,
            kind: HexErrorKind::InvalidChar('z')
        })
    ));
    assert_eq!(m.used(), used);
}

#[test]
fn write_helpers_refuse_unwritable_regions() {
    for p in [
        Protection::NONE,
        Protection::READ,
        Protection::EXECUTE,
        Protection::READ_EXECUTE,
    ] {
        let m = Mallocator::with_size(1, p).unwrap();
        let e = Error::NotWritable { protection: p };
        assert_eq!(m.alloc_bytes(&[1]).unwrap_err(), e);
        assert_eq!(m.alloc_str("a", CharWidth::U16).unwrap_err(), e);
        assert_eq!(m.alloc_hex("01").unwrap_err(), e);
        assert_eq!(m.used(), 0);
        // Raw blocks do not write, so they are fine.
        m.alloc(8, 8).unwrap();
    }
}

#[test]
fn used_bytes_refuses_unreadable_regions() {
    let mut m = Mallocator::with_size(1, Protection::NONE).unwrap();
    // Nothing handed out: nothing to read, so no page is touched.
    assert_eq!(support::init(m.used_bytes().unwrap()), [0u8; 0]);
    m.alloc(1, 1).unwrap();
    assert_eq!(
        m.used_bytes().unwrap_err(),
        Error::NotReadable {
            protection: Protection::NONE
        }
    );
}

#[test]
fn protection_changes_are_seen_by_the_write_helpers() {
    let mut m = Mallocator::new().unwrap();
    m.alloc_bytes(&[7]).unwrap();
    m.set_protection(Protection::READ).unwrap();
    assert_eq!(m.protection(), Some(Protection::READ));
    assert!(matches!(
        m.alloc_bytes(&[1]),
        Err(Error::NotWritable { .. })
    ));
    assert_eq!(support::init(m.used_bytes().unwrap()), [7]);
    m.set_protection(Protection::READ_WRITE).unwrap();
    m.alloc_bytes(&[8]).unwrap();
    assert_eq!(support::init(m.used_bytes().unwrap()), [7, 8]);
}

#[test]
fn reset_rewinds_and_keeps_contents() {
    let mut m = Mallocator::new().unwrap();
    m.alloc_bytes(b"hello").unwrap();
    m.reset();
    assert_eq!(m.used(), 0);
    let p = m.alloc(5, 1).unwrap();
    assert_eq!(p, m.base());
    assert_eq!(support::init(m.used_bytes().unwrap()), b"hello");
}

#[test]
fn debug_shows_the_numbers() {
    let m = Mallocator::new().unwrap();
    m.alloc(3, 1).unwrap();
    let s = format!("{m:?}");
    for needle in [
        "base",
        "ptr",
        &format!("size: {}", m.size()),
        "used: 3",
        &format!("remaining: {}", m.size() - 3),
        "READ_WRITE",
    ] {
        assert!(s.contains(needle), "{s} lacks {needle}");
    }
}

#[test]
fn free_releases() {
    let m = Mallocator::new().unwrap();
    m.alloc_bytes(&[1; 64]).unwrap();
    m.free().unwrap();
}

#[test]
fn mallocator_is_send() {
    fn send<T: Send>(_: T) {}
    send(Mallocator::new().unwrap());
}
