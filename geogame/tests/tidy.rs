//! Tidy checks over the whole workspace, walking the members that the root
//! `Cargo.toml` lists (no list of crates is kept here):
//! - every Rust source file says what it is for in a `//!` first line;
//! - no source file is over 500 lines, bar the named exceptions below;
//! - every `main.rs` is a thin binary of at most 60 lines;
//! - `protocol` and `spawner` do not depend on tokio (they do no I/O);
//! - serde derives live in `protocol`, bar the named exceptions below,
//!   because only `protocol` knows the JSON shape of what crosses the wire.

use std::path::{Path, PathBuf};

/// The convention is "about 500 lines"; a file over it is split by concern.
const MAX_LINES: usize = 500;

/// A binary parses flags and hands over to its library.
const MAX_MAIN_LINES: usize = 60;

/// Files allowed over [`MAX_LINES`], each with why. Splitting them is open
/// work; the list may only shrink.
const LONG_FILES: &[(&str, &str)] = &[
    // The play wire types and their hand-written encoder, kept together so
    // the encoder is checked against the types it must match byte for byte.
    ("protocol/src/play.rs", "wire types with their encoder"),
    // The load tester's player, walker and report: one concern each, long
    // because of their unit tests.
    ("load-test/src/player.rs", "simulated player with its tests"),
    ("load-test/src/walker.rs", "walker routes with their tests"),
    ("load-test/src/report.rs", "the report with its tests"),
    // Property tests of every message type, one strategy each.
    ("protocol/tests/props.rs", "property tests of the protocol"),
];

/// Source files allowed to derive serde outside `protocol`, each with why.
/// None of them is a wire shape a client or operator sees.
const SERDE_OUTSIDE_PROTOCOL: &[(&str, &str)] = &[
    // The matchmaker's own records in Redis (tickets, sessions): private
    // state of one service, read back only by that service.
    ("matchmaker/src/model.rs", "lobby records stored in redis"),
    // The spawner's species and placement config is an operator's file.
    (
        "spawner/src/config.rs",
        "the species and placement config file",
    ),
    // The load tester's own report file.
    ("load-test/src/report.rs", "the load test's JSON report"),
    (
        "load-test/src/storm.rs",
        "the storm section of the load test's JSON report",
    ),
];

/// Crates that must not depend on tokio: they are pure.
const NO_TOKIO: &[&str] = &["protocol", "spawner"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the geogame crate sits in the workspace")
        .to_path_buf()
}

fn manifest(dir: &Path) -> toml_edit::DocumentMut {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).expect("a Cargo.toml");
    text.parse().expect("Cargo.toml parses")
}

/// The workspace members, from the root manifest.
fn members() -> Vec<String> {
    let doc = manifest(&root());
    let list = doc["workspace"]["members"]
        .as_array()
        .expect("workspace.members is an array");
    let members: Vec<String> = list
        .iter()
        .map(|m| m.as_str().expect("a member is a path").to_owned())
        .collect();
    assert!(members.len() >= 8, "found the members: {members:?}");
    members
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every source file of every member, as (path relative to the root, text).
fn workspace_files() -> Vec<(String, String)> {
    let root = root();
    let mut files = Vec::new();
    for m in members() {
        rust_files(&root.join(&m), &mut files);
    }
    assert!(files.len() > 100, "found the workspace sources");
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .expect("under the root")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).expect("readable source");
            (rel, text)
        })
        .collect()
}

#[test]
fn every_source_file_starts_with_a_module_doc_line() {
    let missing: Vec<_> = workspace_files()
        .into_iter()
        .filter(|(_, text)| !text.starts_with("//!"))
        .map(|(p, _)| p)
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading `//!` line: {missing:?}"
    );
}

#[test]
fn no_source_file_is_a_god_file() {
    let allowed: Vec<&str> = LONG_FILES.iter().map(|(p, _)| *p).collect();
    let long: Vec<_> = workspace_files()
        .into_iter()
        .map(|(p, text)| (p, text.lines().count()))
        .filter(|(p, n)| *n > MAX_LINES && !allowed.contains(&p.as_str()))
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines (split them by concern): {long:?}"
    );
}

#[test]
fn every_main_is_thin() {
    let fat: Vec<_> = workspace_files()
        .into_iter()
        .filter(|(p, _)| p.ends_with("/src/main.rs") || p.contains("/src/bin/"))
        .map(|(p, text)| (p, text.lines().count()))
        .filter(|(_, n)| *n > MAX_MAIN_LINES)
        .collect();
    assert!(
        fat.is_empty(),
        "main.rs over {MAX_MAIN_LINES} lines (move the logic into the library): {fat:?}"
    );
}

#[test]
fn pure_crates_do_not_depend_on_tokio() {
    for name in NO_TOKIO {
        let doc = manifest(&root().join(name));
        for table in ["dependencies", "dev-dependencies", "build-dependencies"] {
            let has = doc
                .get(table)
                .and_then(|t| t.as_table_like())
                .is_some_and(|t| t.contains_key("tokio"));
            assert!(!has, "{name} has tokio in [{table}]");
        }
    }
}

/// Whether a source derives a serde trait.
fn derives_serde(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("#[derive(") && (l.contains("Serialize") || l.contains("Deserialize"))
    })
}

#[test]
fn serde_derives_live_in_protocol() {
    let allowed: Vec<&str> = SERDE_OUTSIDE_PROTOCOL.iter().map(|(p, _)| *p).collect();
    let stray: Vec<_> = workspace_files()
        .into_iter()
        .filter(|(p, _)| !p.starts_with("protocol/") && !allowed.contains(&p.as_str()))
        .filter(|(_, text)| derives_serde(text))
        .map(|(p, _)| p)
        .collect();
    assert!(
        stray.is_empty(),
        "serde derives outside `protocol` (move the wire type there): {stray:?}"
    );
}

#[test]
fn the_exception_lists_are_still_needed() {
    // A stale entry would let a new file of that name slip through, and an
    // exception that is no longer needed must go, so the lists only shrink.
    let files: std::collections::HashMap<String, String> = workspace_files().into_iter().collect();
    for (p, _) in LONG_FILES {
        let text = files
            .get(*p)
            .unwrap_or_else(|| panic!("{p} is listed but does not exist"));
        assert!(
            text.lines().count() > MAX_LINES,
            "{p} is short now: drop it from LONG_FILES"
        );
    }
    for (p, _) in SERDE_OUTSIDE_PROTOCOL {
        let text = files
            .get(*p)
            .unwrap_or_else(|| panic!("{p} is listed but does not exist"));
        assert!(
            derives_serde(text),
            "{p} derives no serde now: drop it from SERDE_OUTSIDE_PROTOCOL"
        );
    }
}
