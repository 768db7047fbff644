//! The game-server registry's record: what each game server reports in its
//! heartbeat, as the matchmakers read it from Redis.

use serde::{Deserialize, Serialize};

/// What a game server reports about itself in each heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// Unique server id (goes into session tokens).
    pub id: String,
    /// Public WebSocket URL players connect to (goes into `match_found`).
    pub ws_url: String,
    /// Most sessions the server hosts at once.
    pub capacity: u32,
    /// Sessions it hosts now.
    pub load: u32,
    /// Most play sockets it holds at once (`--capacity`); 0 when not
    /// reported (an older server), which sets no socket limit.
    #[serde(default)]
    pub socket_capacity: u32,
    /// Play sockets open now.
    #[serde(default)]
    pub sockets: u32,
}

/// A server's last heartbeat as the registry stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// What the server reported.
    pub info: ServerInfo,
    /// When, unix milliseconds.
    pub heartbeat_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_round_trips() {
        let h = Heartbeat {
            info: ServerInfo {
                id: "gs-1".into(),
                ws_url: "ws://h/v1/play".into(),
                capacity: 10,
                load: 2,
                socket_capacity: 100,
                sockets: 7,
            },
            heartbeat_ms: 5,
        };
        let text = serde_json::to_string(&h).unwrap();
        assert_eq!(
            text,
            r#"{"info":{"id":"gs-1","ws_url":"ws://h/v1/play","capacity":10,"load":2,"socket_capacity":100,"sockets":7},"heartbeat_ms":5}"#
        );
        assert_eq!(serde_json::from_str::<Heartbeat>(&text).unwrap(), h);
    }

    #[test]
    fn an_older_servers_heartbeat_without_socket_counts_still_reads() {
        let old = r#"{"info":{"id":"gs-1","ws_url":"ws://h/v1/play","capacity":10,"load":2},"heartbeat_ms":5}"#;
        let h: Heartbeat = serde_json::from_str(old).unwrap();
        assert_eq!((h.info.socket_capacity, h.info.sockets), (0, 0));
    }
}
