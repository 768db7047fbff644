//! The game server's modules form layers with no cycle: leaves, then
//! domain types, then the shared state, then handlers, then transport, then
//! assembly. A module may name modules of its own layer or below, never
//! above, and nothing below `state` names `GameState`. This test reads the
//! sources, so a new module must be given a layer here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every module of `src/`, by layer, lowest first.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "leaves",
        &[
            "admission",
            "clock",
            "config",
            "movement",
            "secrets",
            "strikes",
            "telemetry",
            "wire",
        ],
    ),
    (
        "domain",
        &[
            "encounter",
            "events",
            "hub",
            "player",
            "presence",
            "sync",
            "world",
        ],
    ),
    ("state", &["state"]),
    (
        "handlers",
        &[
            "accounts", "admin", "arrival", "audit", "erasure", "follow", "nearby", "play",
            "session", "tick",
        ],
    ),
    ("transport", &["conn", "http", "upgrade", "web"]),
    (
        "assembly",
        &["app", "authority", "flags", "server", "standalone"],
    ),
];

/// Each module's source without its unit tests, by name.
fn modules() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        let p = e.path();
        let Some(name) = p.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if p.extension().is_none_or(|x| x != "rs") || name == "lib" || name == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let code = match text.find("#[cfg(test)]\nmod tests") {
            Some(i) => text[..i].to_owned(),
            None => text,
        };
        out.insert(name.to_owned(), code);
    }
    out
}

/// The crate modules `code` names as `crate::<module>`.
fn named(code: &str, known: &BTreeSet<&str>) -> BTreeSet<String> {
    code.match_indices("crate::")
        .map(|(i, _)| {
            code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect::<String>()
        })
        .filter(|m| known.contains(m.as_str()))
        .collect()
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, ms)| ms.contains(&module))
}

#[test]
fn every_module_has_a_layer() {
    let missing: Vec<_> = modules()
        .into_keys()
        .filter(|m| layer_of(m).is_none())
        .collect();
    assert!(missing.is_empty(), "modules with no layer: {missing:?}");
}

#[test]
fn no_module_names_a_higher_layer() {
    let mods = modules();
    let known: BTreeSet<&str> = mods.keys().map(String::as_str).collect();
    let mut wrong = Vec::new();
    for (m, code) in &mods {
        let Some(mine) = layer_of(m) else { continue };
        for dep in named(code, &known) {
            if layer_of(&dep).is_some_and(|l| l > mine) {
                wrong.push(format!(
                    "{m} ({}) names {dep} ({})",
                    LAYERS[mine].0,
                    LAYERS[layer_of(&dep).unwrap()].0
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn nothing_below_state_names_game_state() {
    let state = layer_of("state").unwrap();
    let wrong: Vec<_> = modules()
        .into_iter()
        .filter(|(m, code)| layer_of(m).is_some_and(|l| l < state) && code.contains("GameState"))
        .map(|(m, _)| m)
        .collect();
    assert!(
        wrong.is_empty(),
        "below state but naming GameState: {wrong:?}"
    );
}

#[test]
fn the_modules_have_no_cycle() {
    let mods = modules();
    let known: BTreeSet<&str> = mods.keys().map(String::as_str).collect();
    let deps: BTreeMap<&str, BTreeSet<String>> = mods
        .iter()
        .map(|(m, code)| {
            let mut d = named(code, &known);
            d.remove(m);
            (m.as_str(), d)
        })
        .collect();
    // Kahn's algorithm: whatever cannot be ordered sits on a cycle.
    let mut left: BTreeMap<&str, BTreeSet<String>> = deps.clone();
    loop {
        let free: Vec<&str> = left
            .iter()
            .filter(|(_, d)| d.iter().all(|x| !left.contains_key(x.as_str())))
            .map(|(m, _)| *m)
            .collect();
        if free.is_empty() {
            break;
        }
        for m in free {
            left.remove(m);
        }
    }
    assert!(
        left.is_empty(),
        "modules on a cycle: {:?}",
        left.keys().collect::<Vec<_>>()
    );
}
