//! Writes the crate documentation: README.md without its repository-only blocks.
//!
//! The README is the crate's rustdoc (its examples are doctests), and also the repository
//! page, which shows the benchmark charts under `docs/`. Those images cannot render on
//! docs.rs, so the README fences them with `<!-- not-in-rustdoc -->` and
//! `<!-- /not-in-rustdoc -->` lines, and the copy in `OUT_DIR` blanks those lines and what
//! lies between them (blank, not removed, so a failing doctest's line number is the
//! README's). No C is compiled here, and nothing else is generated.

use std::{env, fs, path::PathBuf};

fn main() {
    println!("cargo::rerun-if-changed=README.md");
    let readme = fs::read_to_string("README.md").expect("README.md is readable");
    let mut doc = String::with_capacity(readme.len());
    let mut skipping = false;
    for line in readme.lines() {
        let blank = match line.trim() {
            "<!-- not-in-rustdoc -->" if !skipping => {
                skipping = true;
                true
            }
            "<!-- /not-in-rustdoc -->" if skipping => {
                skipping = false;
                true
            }
            _ => skipping,
        };
        if !blank {
            doc.push_str(line);
        }
        doc.push('\n');
    }
    assert!(
        !skipping,
        "README.md: an unclosed <!-- not-in-rustdoc --> block"
    );
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("README.md"), doc).expect("OUT_DIR is writable");
}
