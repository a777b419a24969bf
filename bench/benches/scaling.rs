//! Scaling across threads: throughput of mixed allocations at 1, 2, 4, 8 and 16 threads,
//! for the thread-safe arena and its peers, as a table (and a CSV for a plot).
//!
//! A standalone program (`harness = false`): `scripts/scaling.sh` builds it, copies it
//! stripped into a folder to take to a machine with many cores, and plots the CSV.
//!
//! ```text
//! scaling [--threads 1,2,4,8,16] [--allocs 500000] [--rounds 5] [--csv FILE] [--rows 0,1,..]
//!         [--no-touch]
//! ```
//!
//! Each thread makes `--allocs` allocations of sizes 1 to 64 at alignment 8 (one fixed
//! pseudo-random table) and writes one byte into each (unless `--no-touch`, which measures
//! allocation alone, without the memory traffic). Threads start together on a spinning
//! barrier; memory is committed and touched before timing; a round's time runs from the
//! barrier's release to the last thread's end. The figure is the median of `--rounds`.
//! Rows: pure arithmetic (the machine's ideal), `SharedArena` through a `Local` handle and
//! through `&self`, the same arena with 64-byte chunks (every block above 8 bytes from the
//! shared cursor), one `bumpalo::Bump` per thread, and one `Mutex<bumpalo::Bump>`.

use std::alloc::Layout;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::Duration;

use bumpalo::Bump;
use vmallocator::SharedArena;

#[path = "common/threads.rs"]
mod threads;
use threads::{layouts, prefault, timed, touch};

struct Options {
    threads: Vec<usize>,
    allocs: usize,
    rounds: usize,
    csv: Option<String>,
    /// Indices into `ROWS` to run (all by default).
    rows: Option<Vec<usize>>,
    /// Whether each thread writes a byte into each block (`--no-touch` turns it off, to
    /// measure allocation alone, without the memory traffic).
    touch: bool,
}

fn options() -> Options {
    let mut o = Options {
        threads: vec![1, 2, 4, 8, 16],
        allocs: 500_000,
        rounds: 5,
        csv: None,
        rows: None,
        touch: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--threads" => {
                o.threads = value()
                    .split(',')
                    .map(|t| t.parse().expect("--threads 1,2,4"))
                    .collect();
            }
            "--allocs" => o.allocs = value().parse().expect("--allocs N"),
            "--rounds" => o.rounds = value().parse().expect("--rounds N"),
            "--csv" => o.csv = Some(value()),
            "--no-touch" => o.touch = false,
            "--rows" => {
                o.rows = Some(
                    value()
                        .split(',')
                        .map(|r| r.parse().expect("--rows 0,1"))
                        .collect(),
                );
            }
            // What `cargo bench` passes.
            "--bench" => {}
            other => panic!(
                "unknown argument {other:?}; usage: scaling [--threads 1,2,4,8,16] \
                 [--allocs N] [--rounds N] [--csv FILE] [--rows 0,1,...] [--no-touch]"
            ),
        }
    }
    o
}

/// Allocates the whole table once and resets, so the chunk bumpalo keeps is faulted in
/// (a reset keeps the newest chunk).
fn warm(b: &mut Bump, table: &[Layout]) {
    for &l in table {
        touch(b.alloc_layout(l).as_ptr());
    }
    b.reset();
}

/// Writes a byte into the block when `write` (see [`touch`]), else only hides the pointer
/// from the optimiser.
#[inline(always)]
fn mark(p: *mut u8, write: bool) {
    if write {
        threads::touch(p);
    } else {
        black_box(p);
    }
}

const ROWS: &[&str] = &[
    "arithmetic (ideal)",
    "SharedArena local()",
    "SharedArena &self",
    "shared cursor (64 B chunks)",
    "bumpalo per thread",
    "Mutex<bumpalo::Bump>",
];

/// One round of `row` at `threads` threads, in arenas sized for `most`: the time of the
/// timed part.
fn round(
    row: usize,
    threads: usize,
    most: usize,
    write: bool,
    table: &[Layout],
    arena: &mut Option<SharedArena>,
    bumps: &mut Vec<Mutex<Bump>>,
) -> Duration {
    let per_thread: usize = table.iter().map(|l| l.size() + 8).sum::<usize>() + (256 << 10);
    // With 64-byte chunks every block above 8 bytes is a claim of its own, a whole cache
    // line at least.
    let claims_per_thread = table.len() * 64 + (256 << 10);
    match row {
        0 => timed(
            threads,
            |_| (),
            |_| {
                let mut x = 0usize;
                for l in table {
                    x = x.wrapping_mul(31).wrapping_add(black_box(l.size()));
                }
                black_box(x);
            },
        ),
        1..=3 => {
            let chunk = if row == 3 { 64 } else { 64 << 10 };
            let a = arena.get_or_insert_with(|| {
                let a = SharedArena::builder()
                    .size(
                        per_thread.max(claims_per_thread * usize::from(row == 3)) * most
                            + (16 << 20),
                    )
                    .chunk_size(chunk)
                    .build()
                    .expect("arena");
                // Commit and touch every page once, before any timing.
                let p = a.alloc(a.size() - 4096, 4096).expect("whole");
                prefault(p.as_ptr(), a.size() - 4096);
                a
            });
            a.reset();
            let a = &*a;
            if row == 2 {
                timed(
                    threads,
                    |_| (),
                    |_| {
                        for &l in table {
                            mark(a.alloc_layout(l).expect("fits").as_ptr(), write);
                        }
                    },
                )
            } else {
                timed(
                    threads,
                    |_| a.local(),
                    |local| {
                        for &l in table {
                            mark(local.alloc_layout(l).expect("fits").as_ptr(), write);
                        }
                    },
                )
            }
        }
        4 => {
            // One Bump per thread, made and faulted in once per row, reset between rounds,
            // as the arena rows do.
            while bumps.len() < threads {
                let mut b = Bump::with_capacity(per_thread);
                warm(&mut b, table);
                bumps.push(Mutex::new(b));
            }
            let bumps = &*bumps;
            timed(
                threads,
                |t| {
                    let mut b = bumps[t].lock().unwrap();
                    b.reset();
                    b
                },
                |b| {
                    for &l in table {
                        mark(b.alloc_layout(l).as_ptr(), write);
                    }
                },
            )
        }
        _ => {
            if bumps.is_empty() {
                let b = Bump::with_capacity(per_thread * most);
                for &l in table.iter().cycle().take(table.len() * 16) {
                    touch(b.alloc_layout(l).as_ptr());
                }
                bumps.push(Mutex::new(b));
            }
            let mut b = bumps[0].lock().unwrap();
            b.reset();
            let shared = Mutex::new(&mut *b);
            timed(
                threads,
                |_| (),
                |_| {
                    for &l in table {
                        mark(shared.lock().unwrap().alloc_layout(l).as_ptr(), write);
                    }
                },
            )
        }
    }
}

fn main() {
    let o = options();
    let table = layouts(o.allocs);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "scaling: {} mixed allocations (1-64 B @8) per thread{}, median of {} rounds; {cpu}, {cores} CPUs",
        o.allocs,
        if o.touch {
            ", a byte written into each"
        } else {
            ", blocks not written"
        },
        o.rounds
    );
    print!("{:<28}", "Mallocs/s (speedup over 1)");
    for t in &o.threads {
        print!("{:>18}", format!("{t} thr"));
    }
    println!();
    let mut csv = String::from("row,threads,mallocs_per_s,speedup\n");
    // Each row's arena is made once, for the most threads of the run.
    let most = o.threads.iter().copied().max().unwrap_or(1);
    for (row, name) in ROWS.iter().enumerate() {
        if o.rows.as_ref().is_some_and(|r| !r.contains(&row)) {
            continue;
        }
        print!("{name:<28}");
        let mut base = None;
        let mut arena = None;
        let mut bumps = Vec::new();
        for &t in &o.threads {
            let mut times: Vec<Duration> = (0..o.rounds)
                .map(|_| round(row, t, most, o.touch, &table, &mut arena, &mut bumps))
                .collect();
            times.sort();
            let median = times[times.len() / 2];
            let rate = (o.allocs * t) as f64 / median.as_secs_f64();
            let base = *base.get_or_insert(rate / t as f64);
            let speedup = rate / base;
            print!("{:>18}", format!("{:.1}M ({speedup:.2}x)", rate / 1e6));
            csv += &format!("{name},{t},{rate:.0},{speedup:.3}\n");
        }
        println!();
    }
    if let Some(path) = o.csv {
        std::fs::write(&path, csv).expect("write the CSV");
        println!("wrote {path}");
    }
}
