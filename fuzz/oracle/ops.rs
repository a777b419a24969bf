//! A model of a `Mallocator`, driven by a byte string: each byte string decodes into an
//! arena and a sequence of calls over the public API, each checked against the model.
//!
//! The model holds what the arena's documentation promises: the bump pointer, the committed
//! size, the high-water mark, the protection of every page, and what every byte of the
//! region reads as (zero when new, after `reset_zeroed`, `reset_decommit` and above a
//! `trim`; what was written otherwise). After every call the arena must match it; a call
//! that fails must leave it exactly as it was (nothing in the model changes then).
//!
//! Shared by the fuzz target `ops` and the test `tests/model.rs`. To cover a new call, add
//! an `Op` variant, its decoding in `Input::op`, and its expected effect in `Harness::apply`.

use core::alloc::Layout;

use vmallocator::{CharWidth, Checkpoint, Error, Mallocator, Protection, hex, page_size};

/// Reads the fuzz input; past its end every read gives 0.
pub struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = (self.u8() as usize).min(max);
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = start + n;
        &self.data[start..end]
    }

    /// A size: mostly small, sometimes around a page, the region, or huge.
    fn size(&mut self, region: usize) -> usize {
        match self.u8() % 8 {
            0..=3 => self.u8() as usize,
            4 => self.u16() as usize,
            5 => page_size() * (self.u8() as usize % 4) + self.u8() as usize % 3,
            6 => region.saturating_sub(self.u8() as usize),
            _ => usize::MAX - self.u8() as usize,
        }
    }

    fn align(&mut self) -> usize {
        match self.u8() {
            250 => 0,
            251 => 3,
            252 => 1 << 63,
            b => 1 << (b % 14),
        }
    }

    fn protection(&mut self) -> Protection {
        [
            Protection::READ_WRITE,
            Protection::READ,
            Protection::NONE,
            Protection::READ_EXECUTE,
            Protection::READ_WRITE,
        ][self.u8() as usize % 5]
    }

    fn width(&mut self) -> CharWidth {
        [CharWidth::U8, CharWidth::U16, CharWidth::U32][self.u8() as usize % 3]
    }

    /// A byte range in the region, sometimes past it or reversed.
    fn range(&mut self, size: usize) -> (usize, usize) {
        let pick = |i: &mut Self| match i.u8() % 6 {
            0 => 0,
            1 => size,
            2 => size + 1 + i.u8() as usize,
            _ => i.u16() as usize * 16 % (size + 1),
        };
        (pick(self), pick(self))
    }

    pub fn op(&mut self, size: usize, nested: bool) -> Op {
        let n = if nested { 7 } else { 18 };
        match self.u8() % n {
            0 | 1 => Op::Alloc(self.size(size), self.align()),
            2 => Op::Layout(self.size(size), self.align()),
            3 => Op::Bytes(self.bytes(255).to_vec()),
            4 => {
                let text = String::from_utf8_lossy(self.bytes(64)).into_owned();
                Op::Str(text, self.width())
            }
            5 => {
                let bytes = self.bytes(64).to_vec();
                let text = match self.u8() % 4 {
                    0 => String::from_utf8_lossy(&bytes).into_owned(),
                    1 => bytes.iter().map(|b| format!("{b:02x} ")).collect(),
                    2 => bytes.iter().map(|b| format!("0x{b:x},")).collect(),
                    _ => bytes.iter().map(|b| format!("\\x{b:02X}")).collect(),
                };
                Op::Hex(text)
            }
            6 => Op::Checkpoint,
            7 => Op::Rewind(self.u8() as usize),
            8 => Op::Reset,
            9 => Op::ResetZeroed,
            10 => Op::ResetDecommit,
            11 => Op::Trim,
            12 => Op::Protect(self.range(size), self.protection()),
            13 => Op::Publish(self.range(size)),
            14 => Op::MakeWritable(self.range(size)),
            15 => Op::SetProtection(self.protection()),
            16 => Op::UsedBytes,
            _ => Op::Scope((0..self.u8() % 8).map(|_| self.op(size, true)).collect()),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Op {
    Alloc(usize, usize),
    Layout(usize, usize),
    Bytes(Vec<u8>),
    Str(String, CharWidth),
    Hex(String),
    Checkpoint,
    /// Rewind to the checkpoint with this index (modulo how many there are).
    Rewind(usize),
    Reset,
    ResetZeroed,
    ResetDecommit,
    Trim,
    Protect((usize, usize), Protection),
    Publish((usize, usize)),
    MakeWritable((usize, usize)),
    SetProtection(Protection),
    UsedBytes,
    /// Calls through `&Mallocator` inside `scope`, rewound at its end.
    Scope(Vec<Op>),
}

/// What the arena must show.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Model {
    used: usize,
    committed: usize,
    high: usize,
    /// The highest pointer since the memory last read as all zero.
    dirty: usize,
    /// The most the arena's own record of that may be: `alloc_hex` and `alloc_str` decode
    /// into an upper-bound block and count all of it as written, and a page sealed by
    /// `publish` counts as handed out. `reset_zeroed` refuses non-writable pages anywhere
    /// below the arena's record, so between `dirty` and `dirty_hi` either outcome is right.
    dirty_hi: usize,
    /// The protection of each page.
    prots: Vec<Protection>,
    /// What each byte of the region reads as.
    mem: Vec<u8>,
}

pub struct Harness {
    m: Mallocator,
    st: State,
}

/// Everything but the arena, so that calls through `&Mallocator` inside `scope` can update it.
struct State {
    model: Model,
    step: usize,
    base: usize,
    checkpoints: Vec<Checkpoint>,
    /// Calls made, and calls that failed.
    ops: usize,
    failures: usize,
}

fn pages(start: usize, end: usize) -> core::ops::Range<usize> {
    let p = page_size();
    if start == end {
        return 0..0;
    }
    start / p..end.div_ceil(p)
}

impl Harness {
    /// An arena chosen by the first bytes of `input`: fixed or reserved, a few pages, with
    /// or without guard pages, read+write or read-only.
    pub fn new(input: &mut Input) -> Harness {
        let p = page_size();
        let kind = input.u8();
        let n = 1 + input.u8() as usize % 16;
        let step = p * (1 + input.u8() as usize % 4);
        let mut b = Mallocator::builder();
        b = match kind % 4 {
            0 => b.size(n * p),
            1 => b.size(n * p).guard_pages(1, 1),
            _ => b.reserve(n * p),
        }
        .commit_step(step);
        let protection = if kind & 0x80 != 0 {
            Protection::READ
        } else {
            Protection::READ_WRITE
        };
        let m = b
            .protection(protection)
            .build()
            .expect("building a small arena");
        assert_eq!(m.size(), n * p);
        assert_eq!(m.used(), 0);
        let model = Model {
            used: 0,
            committed: m.committed(),
            high: 0,
            dirty: 0,
            dirty_hi: 0,
            prots: vec![protection; n],
            mem: vec![0; n * p],
        };
        assert!(model.committed == 0 || model.committed == m.size());
        let base = m.base().as_ptr() as usize;
        Harness {
            m,
            st: State {
                model,
                step,
                base,
                checkpoints: Vec::new(),
                ops: 0,
                failures: 0,
            },
        }
    }

    /// Runs every call `input` holds, checking each; returns the number of calls and how
    /// many of them failed.
    pub fn run(data: &[u8]) -> (usize, usize) {
        let mut input = Input::new(data);
        let mut h = Harness::new(&mut input);
        while !input.is_empty() {
            let op = input.op(h.m.size(), false);
            h.apply(op);
        }
        h.st.check_all(&mut h.m);
        (h.st.ops, h.st.failures)
    }

    /// Applies `op` to the arena and the model, then checks the arena against the model:
    /// everything after a call that changed nothing (a failure), the cheap parts otherwise
    /// and everything every 32 calls.
    pub fn apply(&mut self, op: Op) {
        let st = &mut self.st;
        st.ops += 1;
        let before = st.model.clone();
        if std::env::var_os("VMALLOCATOR_MODEL_TRACE").is_some() {
            eprintln!("op {}: {op:?} (used {})", st.ops, st.model.used);
        }
        let ok = st.apply(&mut self.m, op);
        st.failures += usize::from(!ok);
        if before == st.model || st.ops.is_multiple_of(32) {
            st.check_all(&mut self.m);
        } else {
            st.check_cheap(&self.m);
        }
    }
}

impl State {
    fn size(&self) -> usize {
        self.model.mem.len()
    }

    fn writable(&self, start: usize, end: usize) -> Option<Protection> {
        pages(start, end)
            .map(|i| self.model.prots[i])
            .find(|p| !p.is_writable())
    }

    /// Where a block of `size` bytes at `align` would go: its offset, or the error.
    fn place(&self, size: usize, align: usize) -> Result<usize, Error> {
        if !align.is_power_of_two() {
            return Err(Error::InvalidAlignment { align });
        }
        let base = self.base;
        let ptr = base + self.model.used;
        let pad = ptr.wrapping_neg() & (align - 1);
        match pad.checked_add(size) {
            Some(n) if n <= self.size() - self.model.used => Ok(self.model.used + pad),
            _ => Err(Error::OutOfMemory {
                requested: size,
                align,
                remaining: self.size() - self.model.used,
            }),
        }
    }

    /// The model after bumping past `[start, start + size)`.
    fn bump(&mut self, start: usize, size: usize) {
        let end = start + size;
        if end > self.model.committed {
            let steps = (end - self.model.committed).div_ceil(self.step);
            self.model.committed = (self.model.committed + steps * self.step).min(self.size());
        }
        self.model.used = end;
        self.model.dirty = self.model.dirty.max(end);
        self.model.dirty_hi = self.model.dirty_hi.max(end);
    }

    /// After `alloc_hex` or `alloc_str` from `used_before`: the arena may have counted an
    /// upper-bound block of `bound` bytes (padding included) as written, within what is
    /// committed.
    fn may_have_written(&mut self, used_before: usize, bound: usize) {
        let end = used_before.saturating_add(bound).min(self.model.committed);
        self.model.dirty_hi = self.model.dirty_hi.max(end);
    }

    fn lower_to(&mut self, used: usize) {
        self.model.high = self.model.high.max(self.model.used);
        self.model.used = used;
    }

    /// A write helper's expected outcome for `bytes` at `align`.
    fn expect_write(&self, len: usize, align: usize) -> Result<usize, Error> {
        let start = self.place(len, align)?;
        if len != 0
            && let Some(protection) = self.writable(start, start + len)
        {
            return Err(Error::NotWritable { protection });
        }
        Ok(start)
    }

    fn check_write(
        &mut self,
        got: Result<&mut [u8], Error>,
        want: Result<(usize, Vec<u8>), Error>,
    ) {
        let base = self.base;
        match (got, want) {
            (Ok(block), Ok((start, bytes))) => {
                assert_eq!(block.as_ptr() as usize - base, start, "block placement");
                assert_eq!(&*block, &bytes[..], "block contents");
                let len = bytes.len();
                self.bump(start, len);
                self.model.mem[start..start + len].copy_from_slice(&bytes);
            }
            (Err(e), Err(w)) => assert_eq!(e, w),
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }

    /// `alloc_hex` and `alloc_str` decode straight into an upper-bound block, so a call,
    /// failed or not, may have written above the pointer where no block lies (the failure
    /// guarantee allows it): learn what those bytes read as now, in
    /// the committed, readable pages, so later blocks that take them over (alignment padding
    /// included) are compared with what is really there.
    fn resync_above(&mut self, m: &Mallocator) {
        let p = page_size();
        let (used, committed) = (self.model.used, self.model.committed);
        for i in pages(used, committed) {
            if !self.model.prots[i].is_readable() {
                continue;
            }
            let (from, to) = ((i * p).max(used), (i + 1) * p);
            let src = m.base().as_ptr().wrapping_add(from);
            // SAFETY: `[from, to)` lies in a committed, readable page of the region, above
            // the pointer, where no reference exists; the arena itself wrote it, or the OS
            // zeroed it. The model's bytes are a separate allocation. One copy, not a loop:
            // under the fuzzer's coverage instrumentation a byte loop costs most of the run.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    src,
                    self.model.mem[from..to].as_mut_ptr(),
                    to - from,
                );
            }
        }
    }

    fn raw(&mut self, got: Result<core::ptr::NonNull<u8>, Error>, size: usize, align: usize) {
        let want = self.place(size, align);
        let base = self.base;
        match (got, want) {
            (Ok(p), Ok(start)) => {
                assert_eq!(p.as_ptr() as usize - base, start, "raw block placement");
                self.bump(start, size);
                // Fill the block where it can be written, so later reads know its bytes.
                if size != 0 && self.writable(start, start + size).is_none() {
                    let pattern = (start as u8) | 1;
                    // SAFETY: a fresh block of `size` bytes, its pages read+write (checked
                    // against the model, which the arena matched so far).
                    unsafe { core::ptr::write_bytes(p.as_ptr(), pattern, size) };
                    self.model.mem[start..start + size].fill(pattern);
                }
            }
            (Err(e), Err(w)) => assert_eq!(e, w),
            (got, want) => panic!("raw alloc({size}, {align}): got {got:?}, want {want:?}"),
        }
    }

    fn protect(&mut self, got: Result<(), Error>, (start, end): (usize, usize), p: Protection) {
        let ok = start <= end && end <= self.size();
        assert_eq!(got.is_ok(), ok, "protect {start}..{end}: {got:?}");
        if ok {
            for i in pages(start, end) {
                self.model.prots[i] = p;
            }
        }
    }

    /// Applies a call through `&Mallocator` (allowed inside `scope`); returns whether it
    /// succeeded.
    fn shared(&mut self, m: &Mallocator, op: Op) -> bool {
        match op {
            Op::Alloc(size, align) => {
                let got = m.alloc(size, align);
                let ok = got.is_ok();
                self.raw(got, size, align);
                ok
            }
            Op::Layout(size, align) => match Layout::from_size_align(size, align) {
                Ok(layout) => {
                    let got = m.alloc_layout(layout);
                    let ok = got.is_ok();
                    self.raw(got, size, align);
                    ok
                }
                Err(_) => false,
            },
            Op::Bytes(bytes) => {
                let want = self
                    .expect_write(bytes.len(), 1)
                    .map(|s| (s, bytes.clone()));
                let ok = want.is_ok();
                let got = m.alloc_bytes(&bytes);
                self.check_write(got, want);
                ok
            }
            Op::Str(text, width) => {
                let unit = width.unit_size();
                self.may_have_written(self.model.used, (text.len() + 2) * unit);
                let want = expect_str(self, &text, width);
                let ok = want.is_ok();
                let got = m.alloc_str(&text, width);
                self.check_write(got, want);
                self.resync_above(m);
                ok
            }
            Op::Hex(text) => {
                self.may_have_written(self.model.used, text.len() / 2);
                let want =
                    hex::decode(&text).and_then(|b| self.expect_write(b.len(), 1).map(|s| (s, b)));
                let ok = want.is_ok();
                let got = m.alloc_hex(&text);
                self.check_write(got, want);
                self.resync_above(m);
                ok
            }
            Op::Checkpoint => {
                let cp = m.checkpoint();
                assert_eq!(cp.used(), self.model.used);
                self.checkpoints.push(cp);
                true
            }
            _ => unreachable!("not a call through &Mallocator"),
        }
    }

    /// Applies `op` to the arena and the model; returns whether the call succeeded.
    fn apply(&mut self, m: &mut Mallocator, op: Op) -> bool {
        match op {
            Op::Alloc(..)
            | Op::Layout(..)
            | Op::Bytes(_)
            | Op::Str(..)
            | Op::Hex(_)
            | Op::Checkpoint => self.shared(m, op),
            Op::Rewind(i) => {
                let Some(&cp) = self.checkpoints.get(i % self.checkpoints.len().max(1)) else {
                    return false;
                };
                let got = m.rewind(cp);
                if cp.used() <= self.model.used {
                    assert_eq!(got, Ok(()));
                    self.lower_to(cp.used());
                    true
                } else {
                    assert_eq!(got, Err(Error::InvalidCheckpoint));
                    false
                }
            }
            Op::Reset => {
                m.reset();
                self.lower_to(0);
                true
            }
            Op::ResetZeroed => {
                let top = |d: usize| d.max(self.model.used).min(self.model.committed);
                let (dirty, dirty_hi) = (top(self.model.dirty), top(self.model.dirty_hi));
                let got = m.reset_zeroed();
                let refused = match self.writable(0, dirty) {
                    Some(protection) if dirty != 0 => {
                        assert_eq!(got, Err(Error::NotWritable { protection }));
                        true
                    }
                    _ => match (self.writable(0, dirty_hi), got) {
                        (Some(_), Err(Error::NotWritable { .. })) if dirty_hi != 0 => true,
                        (_, got) => {
                            assert_eq!(got, Ok(()));
                            false
                        }
                    },
                };
                if refused {
                    return false;
                }
                self.lower_to(0);
                self.model.mem.fill(0);
                self.model.dirty = 0;
                self.model.dirty_hi = 0;
                true
            }
            Op::ResetDecommit => {
                m.reset_decommit().expect("reset_decommit");
                self.lower_to(0);
                self.model.mem.fill(0);
                self.model.dirty = 0;
                self.model.dirty_hi = 0;
                self.model.committed = 0;
                true
            }
            Op::Trim => {
                m.trim().expect("trim");
                let keep = self.model.used.next_multiple_of(page_size());
                if keep < self.model.committed {
                    self.model.mem[keep..].fill(0);
                    self.model.committed = keep;
                    self.model.dirty = self.model.dirty.min(keep);
                    self.model.dirty_hi = self.model.dirty_hi.min(keep);
                }
                true
            }
            Op::Protect(range, p) => {
                let got = m.protect(range.0..range.1, p);
                let ok = got.is_ok();
                self.protect(got, range, p);
                ok
            }
            Op::Publish(range) => {
                let got = m.publish(range.0..range.1);
                if got == Err(Error::Unsupported) {
                    return false;
                }
                let ok = got.is_ok();
                self.protect(got, range, Protection::READ_EXECUTE);
                // Sealing: publishing the page that holds the pointer moves the pointer to
                // the next page, so the next block starts on a fresh writable page.
                let (p, used) = (page_size(), self.model.used);
                if ok && range.0 != range.1 {
                    let (start, end) = (range.0 / p * p, range.1.div_ceil(p) * p);
                    if used % p != 0 && start <= used && used < end {
                        self.model.used = used.next_multiple_of(p);
                        self.model.dirty_hi = self.model.dirty_hi.max(self.model.used);
                    }
                }
                ok
            }
            Op::MakeWritable(range) => {
                let got = m.make_writable(range.0..range.1);
                let ok = got.is_ok();
                self.protect(got, range, Protection::READ_WRITE);
                ok
            }
            Op::SetProtection(p) => {
                m.set_protection(p).expect("set_protection");
                self.model.prots.fill(p);
                assert_eq!(m.protection(), Some(p));
                true
            }
            Op::UsedBytes => {
                self.check_all(m);
                true
            }
            Op::Scope(ops) => {
                let start = self.model.used;
                m.scope(|m| {
                    for op in ops {
                        self.ops += 1;
                        let ok = self.shared(m, op);
                        self.failures += usize::from(!ok);
                        self.check_cheap(m);
                    }
                });
                self.lower_to(start);
                true
            }
        }
    }

    /// Pointer, committed size, high-water mark.
    fn check_cheap(&self, m: &Mallocator) {
        assert_eq!(m.used(), self.model.used, "pointer");
        assert_eq!(m.committed(), self.model.committed, "committed");
        assert_eq!(
            m.high_water_mark(),
            self.model.high.max(self.model.used),
            "high-water mark"
        );
        assert_eq!(m.remaining(), self.size() - self.model.used);
    }

    /// Everything: also every page's protection and the bytes below the pointer.
    fn check_all(&self, m: &mut Mallocator) {
        self.check_cheap(m);
        let p = page_size();
        for (i, &want) in self.model.prots.iter().enumerate() {
            assert_eq!(m.protection_at(i * p), Some(want), "protection of page {i}");
        }
        let used = self.model.used;
        let readable = pages(0, used).all(|i| self.model.prots[i].is_readable());
        match m.used_bytes() {
            Ok(bytes) => {
                assert!(readable, "used_bytes read an unreadable page");
                // SAFETY: every byte of the region was written through the helpers or by
                // `raw`'s fill, or holds the OS's zeroes.
                let bytes = unsafe { bytes.assume_init_ref() };
                // One comparison first (memcmp, not instrumented), then the position.
                if bytes[..used] != self.model.mem[..used]
                    && let Some(i) = (0..used).find(|&i| bytes[i] != self.model.mem[i])
                {
                    panic!(
                        "bytes below the pointer differ: first at {i} of {used}: {:#04x}, model {:#04x}",
                        bytes[i], self.model.mem[i]
                    );
                }
            }
            Err(Error::NotReadable { .. }) => assert!(!readable),
            Err(e) => panic!("used_bytes: {e:?}"),
        }
    }
}

fn expect_str(h: &State, text: &str, width: CharWidth) -> Result<(usize, Vec<u8>), Error> {
    if let Some(offset) = text.find('\0') {
        return Err(Error::InteriorNul { offset });
    }
    let mut bytes = Vec::new();
    match width {
        CharWidth::U8 => bytes.extend_from_slice(text.as_bytes()),
        CharWidth::U16 => text
            .encode_utf16()
            .for_each(|u| bytes.extend_from_slice(&u.to_ne_bytes())),
        CharWidth::U32 => text
            .chars()
            .for_each(|c| bytes.extend_from_slice(&u32::from(c).to_ne_bytes())),
    }
    bytes.extend(std::iter::repeat_n(0, width.unit_size()));
    let start = h.expect_write(bytes.len(), width.unit_size())?;
    Ok((start, bytes))
}
