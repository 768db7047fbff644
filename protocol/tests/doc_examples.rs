//! Keeps `docs/protocol.md` true to the code: every example frame in it is
//! run through the codec, and the page must show every message type.
//!
//! Example blocks are fenced as ```` ```<language> <tag> ```` (usually
//! `json`) with one frame per line. Tags: `play-client`, `play-server`, `lobby-client`,
//! `lobby-server` (the frame must decode and re-encode to exactly the same
//! text, so it is what the code sends), `play-invalid` / `lobby-invalid`
//! (each frame must be refused; the next block must be a server block whose
//! line N is the error reply to line N), `event` (an analytics event), and
//! `jwt` (a token minted with [`DOC_SECRET`] at [`DOC_IAT`]).

use std::collections::BTreeSet;
use std::path::PathBuf;

use protocol::event::Event;
use protocol::lobby::{LobbyClientMessage, LobbyServerMessage};
use protocol::play::{ClientMessage, ServerMessage};
use protocol::token::TokenKey;
use serde_json::Value;

/// The secret the documented example token was minted with.
const DOC_SECRET: &[u8] = b"documentation-example-secret-0123456789";
/// The issue time of the documented example token.
const DOC_IAT: i64 = 1_795_305_600;
/// The lifetime of the documented example token (one day).
const DOC_TTL: i64 = 86_400;

struct Block {
    tag: String,
    lines: Vec<String>,
    at_line: usize,
}

fn blocks() -> Vec<Block> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut out = Vec::new();
    let mut cur: Option<Block> = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        match cur.take() {
            None => {
                // A tagged block's info string is `<language> <tag>`.
                let mut info = trimmed.strip_prefix("```").unwrap_or("").split_whitespace();
                if let (Some(_lang), Some(tag)) = (info.next(), info.next()) {
                    cur = Some(Block {
                        tag: tag.to_owned(),
                        lines: vec![],
                        at_line: n + 1,
                    });
                }
            }
            Some(mut b) => {
                if trimmed.starts_with("```") {
                    out.push(b);
                } else {
                    if !trimmed.is_empty() {
                        b.lines.push(trimmed.to_owned());
                    }
                    cur = Some(b);
                }
            }
        }
    }
    assert!(cur.is_none(), "unclosed code block in docs/protocol.md");
    out
}

fn ty(line: &str) -> String {
    let v: Value = serde_json::from_str(line).unwrap();
    v["type"].as_str().unwrap_or_default().to_owned()
}

/// What the code makes of one example line: its canonical encoding.
fn canonical(tag: &str, line: &str) -> Result<String, String> {
    match tag {
        "play-client" => ClientMessage::decode(line)
            .map(|m| m.encode())
            .map_err(|e| e.to_string()),
        "play-server" => ServerMessage::decode(line)
            .map(|m| m.encode())
            .map_err(|e| e.to_string()),
        "lobby-client" => LobbyClientMessage::decode(line)
            .map(|m| m.encode())
            .map_err(|e| e.to_string()),
        "lobby-server" => LobbyServerMessage::decode(line)
            .map(|m| m.encode())
            .map_err(|e| e.to_string()),
        "event" => Event::decode(line)
            .map(|m| m.encode())
            .map_err(|e| e.to_string()),
        other => Err(format!("unknown example tag `{other}`")),
    }
}

/// The error reply a server sends for a refused frame.
fn error_reply(tag: &str, line: &str) -> Result<String, String> {
    let e = match tag {
        "play-invalid" => ClientMessage::decode(line).err(),
        _ => LobbyClientMessage::decode(line).err(),
    };
    let e = e.ok_or_else(|| "this frame should be refused but decodes".to_string())?;
    Ok(ServerMessage::error(e.seq, e.code(), e.to_string()).encode())
}

#[test]
fn every_example_frame_is_what_the_code_sends() {
    let blocks = blocks();
    assert!(blocks.len() > 10, "no tagged examples found");
    // Collect every mismatch, each with the exact text the code produces,
    // so one run shows everything the page needs.
    let mut wrong = Vec::new();
    let mut expect = |at: usize, line: &str, got: Result<String, String>| match got {
        Ok(text) if text == line => {}
        Ok(text) => wrong.push(format!(
            "block at line {at}:\n  doc:  {line}\n  code: {text}"
        )),
        Err(e) => wrong.push(format!("block at line {at}:\n  doc:  {line}\n  error: {e}")),
    };
    let mut i = 0;
    while i < blocks.len() {
        let b = &blocks[i];
        match b.tag.as_str() {
            "play-invalid" | "lobby-invalid" => {
                let replies = blocks
                    .get(i + 1)
                    .filter(|r| r.tag.ends_with("-server"))
                    .unwrap_or_else(|| panic!("line {}: invalid block needs replies", b.at_line));
                assert_eq!(b.lines.len(), replies.lines.len(), "line {}", b.at_line);
                for (bad, reply) in b.lines.iter().zip(&replies.lines) {
                    expect(replies.at_line, reply, error_reply(&b.tag, bad));
                }
                i += 2;
                continue;
            }
            "jwt" => {
                let key = TokenKey::new(DOC_SECRET).unwrap();
                let (token, _) = key.mint_player("p-6f1c2a", DOC_IAT, DOC_TTL);
                for line in &b.lines {
                    expect(b.at_line, line, Ok(token.clone()));
                }
            }
            tag => {
                for line in &b.lines {
                    expect(b.at_line, line, canonical(tag, line));
                }
            }
        }
        i += 1;
    }
    assert!(
        wrong.is_empty(),
        "docs/protocol.md is out of date:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_message_type_has_an_example() {
    let blocks = blocks();
    let types = |tag: &str| -> BTreeSet<String> {
        blocks
            .iter()
            .filter(|b| b.tag == tag)
            .flat_map(|b| b.lines.iter().map(|l| ty(l)))
            .collect()
    };
    let want =
        |names: &[&str]| -> BTreeSet<String> { names.iter().map(|s| s.to_string()).collect() };
    assert_eq!(
        types("play-client"),
        want(&[
            "hello",
            "location",
            "catch",
            "spin",
            "collection",
            "join_session",
            "attack",
            "raid_catch",
            "leave_session",
            "ping",
            "passenger"
        ])
    );
    assert_eq!(
        types("play-server"),
        want(&[
            "welcome",
            "nearby",
            "catch_result",
            "spin_result",
            "despawn",
            "collection",
            "session_joined",
            "session_event",
            "attack_result",
            "session_ended",
            "session_left",
            "pong",
            "passenger_confirmed",
            "shutdown",
            "error"
        ])
    );
    assert_eq!(
        types("lobby-client"),
        want(&["hello", "queue", "cancel", "ping"])
    );
    assert_eq!(
        types("lobby-server"),
        want(&[
            "welcome",
            "queued",
            "cancelled",
            "match_found",
            "expired",
            "pong",
            "error"
        ])
    );
    assert!(blocks.iter().any(|b| b.tag == "event"));
    assert!(blocks.iter().any(|b| b.tag == "jwt"));
}

#[test]
fn every_error_code_is_documented() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol.md");
    let text = std::fs::read_to_string(path).unwrap();
    for code in [
        "invalid_message",
        "unauthorized",
        "rate_limited",
        "too_fast",
        "not_found",
        "unavailable",
        "internal",
        "too_far",
        "conflict",
    ] {
        assert!(
            text.contains(&format!("| `{code}` |")),
            "error code `{code}` has no row in the error table"
        );
    }
}
