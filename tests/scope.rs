//! Nested scopes: blocks of outer levels usable inside, everything made inside rewound
//! at the end, the statistics kept. (The borrow checker's part is in the `compile_fail`
//! examples of `Scope`.)

use vmallocator::{CharWidth, Mallocator, page_size};

#[test]
fn nested_scopes_rewind_each_level_to_its_start() {
    let mut m = Mallocator::new().unwrap();
    m.alloc(1, 1).unwrap();
    let mut s = m.as_scope();
    let outer = s.alloc_bytes(b"outer").unwrap();
    let mut starts = Vec::new();
    let total = s.scope(|a| {
        starts.push(a.used());
        let x = a.alloc_bytes(&[1; 10]).unwrap();
        let inner_total = a.scope(|b| {
            starts.push(b.used());
            let y = b.alloc_str("yy", CharWidth::U16).unwrap();
            let deepest = b.scope(|c| {
                starts.push(c.used());
                c.alloc(100, 64).unwrap();
                outer[0] = b'O'; // two levels up
                x[0] = 2; // one level up
                c.used()
            });
            assert_eq!(b.used(), starts[1] + y.len());
            deepest + y.len()
        });
        assert_eq!(a.used(), starts[0] + 10);
        assert_eq!(x[0], 2);
        inner_total
    });
    assert_eq!(starts, [6, 16, 22]);
    assert_eq!(total, 64 + 100 + 6);
    assert_eq!(s.used(), 6);
    assert_eq!(outer, b"Outer");
    assert_eq!(m.high_water_mark(), 164);
    // The memory of the inner levels is handed out again.
    assert_eq!(
        m.alloc(1, 1).unwrap().as_ptr() as usize,
        m.base().as_ptr() as usize + 6
    );
}

#[test]
fn a_scope_on_a_reservation_commits_and_rewinds() {
    let mut m = Mallocator::builder()
        .reserve(16 * page_size())
        .commit_step(page_size())
        .build()
        .unwrap();
    let n = m.scope(|s| {
        let big = s.alloc_bytes(&vec![7; 5 * page_size()]).unwrap();
        s.scope(|t| t.alloc_hex("00 ff").unwrap().len()) + big.len()
    });
    assert_eq!(n, 5 * page_size() + 2);
    assert_eq!(m.used(), 0);
    assert!(m.committed() >= 5 * page_size());
    m.reset_zeroed().unwrap();
    assert!(m.alloc_bytes(&[0; 1]).is_ok());
}

#[test]
fn the_top_level_scope_keeps_the_old_closure_shape() {
    let mut m = Mallocator::new().unwrap();
    m.alloc(3, 1).unwrap();
    let sum: u32 = m.scope(|m| {
        let b = m.alloc_bytes(&[1, 2, 3]).unwrap();
        b.iter().map(|&x| u32::from(x)).sum()
    });
    assert_eq!((sum, m.used(), m.high_water_mark()), (6, 3, 6));
}

#[test]
fn scope_guards_rewind_on_drop_and_reset_and_nest() {
    let mut m = Mallocator::new().unwrap();
    let mut s = m.as_scope();
    let kept = s.alloc_bytes(b"kept").unwrap();
    {
        let mut g = s.scope_guard();
        g.scope().alloc(100, 1).unwrap();
        assert_eq!(g.scope().used(), 104);
        g.reset();
        assert_eq!(g.scope().used(), 4);
        let mut inner = g.scope();
        inner.alloc_bytes(b"12345678").unwrap();
        {
            let mut g2 = inner.scope_guard();
            let b = g2.scope().alloc_bytes(&[9; 50]).unwrap();
            assert_eq!(b.len() + kept.len(), 54);
            assert_eq!(g2.scope().used(), 62);
        }
        assert_eq!(inner.used(), 12);
    }
    assert_eq!(s.used(), 4);
    // A forgotten guard rewinds nothing: the blocks stay allocated.
    let mut g = s.scope_guard();
    g.scope().alloc(10, 1).unwrap();
    std::mem::forget(g);
    assert_eq!(s.used(), 14);
    assert_eq!(kept, b"kept");
    let mut g = m.scope_guard();
    g.scope().alloc(1, 1).unwrap();
    drop(g);
    assert_eq!(m.used(), 14);
    assert_eq!(m.high_water_mark(), 104);
}
