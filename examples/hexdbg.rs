//! Instruction-count probe: `hexdbg UNIT LEN ours|const`, REPS times.
fn main() {
    let mut args = std::env::args().skip(1);
    let unit = args.next().unwrap().replace("\\n", "\n");
    let len: usize = args.next().map_or(1 << 20, |l| l.parse().unwrap());
    let who = args.next().unwrap_or_default();
    let s = unit.repeat(len / unit.len());
    let mut m = vmallocator::Mallocator::with_size(64 << 20, vmallocator::Protection::READ_WRITE).unwrap();
    let reps: usize = std::env::var("REPS").map_or(200, |r| r.parse().unwrap());
    let mut buf = vec![0u8; s.len() / 2];
    for _ in 0..reps {
        if who == "const" {
            const_hex::decode_to_slice(std::hint::black_box(&s), &mut buf).unwrap();
        } else {
            std::hint::black_box(m.alloc_hex(std::hint::black_box(&s)).unwrap());
            m.reset();
        }
    }
}
