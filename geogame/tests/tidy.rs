//! Tidy checks over the whole workspace: every Rust source file says what
//! it is for in a `//!` first line, and stays a readable size.

use std::path::{Path, PathBuf};

const CRATES: &[&str] = &[
    "protocol",
    "store",
    "spawner",
    "analytics",
    "matchmaker",
    "game-server",
    "load-test",
    "geogame",
];

/// Hard ceiling; the convention is "about 500 lines".
const MAX_LINES: usize = 650;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn workspace_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let mut files = Vec::new();
    for c in CRATES {
        rust_files(&root.join(c), &mut files);
    }
    assert!(files.len() > 20, "found the workspace sources");
    files
}

#[test]
fn every_source_file_starts_with_a_module_doc_line() {
    let missing: Vec<_> = workspace_files()
        .into_iter()
        .filter(|p| {
            !std::fs::read_to_string(p)
                .unwrap_or_default()
                .starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading `//!` line: {missing:?}"
    );
}

#[test]
fn no_source_file_is_a_god_file() {
    let long: Vec<_> = workspace_files()
        .into_iter()
        .filter_map(|p| {
            let n = std::fs::read_to_string(&p)
                .unwrap_or_default()
                .lines()
                .count();
            (n > MAX_LINES).then_some((p, n))
        })
        .collect();
    assert!(long.is_empty(), "files over {MAX_LINES} lines: {long:?}");
}
