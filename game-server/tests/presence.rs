//! One player, one live socket, and movement judged per player: a new
//! `hello` closes the older socket with 4001, and a new socket (on this
//! server or another) is no way around the speed check.

mod common;

use std::time::Duration;

use common::{Client, HOME, config, guest, start};
use serde_json::json;

async fn hello(addr: std::net::SocketAddr, token: &str) -> Client {
    let mut c = Client::connect(addr).await;
    c.send(json!({"type": "hello", "token": token})).await;
    assert_eq!(c.recv().await["type"], "welcome");
    c
}

/// A fix at `north_km` kilometres north of HOME.
fn far(seq: u64, north_km: f64) -> serde_json::Value {
    json!({"type": "location", "seq": seq, "lat": HOME.0 + north_km / 111.195, "lon": HOME.1, "accuracy": 5.0})
}

#[tokio::test]
async fn a_second_hello_closes_the_first_socket_with_4001() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(config(), dir.path()).await;
    let (_, token) = guest(&srv.http(), "phone-1").await;
    let mut first = hello(srv.addr, &token).await;
    first.locate(1, 0.0).await;
    let mut second = hello(srv.addr, &token).await;
    assert_eq!(first.closed().await, 4001);
    // The new socket is the player's and works.
    second.locate(2, 5.0).await;
    // Another player's socket is untouched.
    let (mut other, _) = Client::player(&srv, "phone-2").await;
    other.locate(3, 0.0).await;
    second.locate(4, 6.0).await;
    srv.stop().await;
}

#[tokio::test]
async fn a_teleport_is_refused_on_a_new_socket_too() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(config(), dir.path()).await;
    let (_, token) = guest(&srv.http(), "spoofer").await;
    let mut c = hello(srv.addr, &token).await;
    c.locate(1, 0.0).await;
    drop(c);
    // Reconnect and jump 100 km at once: the jump is judged from the last
    // accepted fix of the old socket.
    let mut c = hello(srv.addr, &token).await;
    c.send(far(2, 100.0)).await;
    let e = c.recv_type("error").await;
    assert_eq!(e["code"], "too_fast", "{e}");
    // The penalty is per player as well: a third socket still may not act.
    drop(c);
    let mut c = hello(srv.addr, &token).await;
    c.send(json!({"type": "spin", "seq": 3, "poi_id": "cafe"}))
        .await;
    let r = c.recv().await;
    assert_eq!(r["code"], "too_fast", "{r}");
    srv.stop().await;
}

#[tokio::test]
async fn across_two_servers_the_older_socket_closes_and_the_teleport_is_refused() {
    let Some(pair) = common::pair("presence_across").await else {
        return;
    };
    let (a, b) = (&pair.a, &pair.b);
    let (_, token) = guest(&a.http(), "traveller").await;
    let mut on_a = hello(a.addr, &token).await;
    on_a.locate(1, 0.0).await;
    // The same player opens a socket on the other server and jumps 100 km.
    let mut on_b = hello(b.addr, &token).await;
    assert_eq!(on_a.closed().await, 4001, "server a closes its socket");
    on_b.send(far(2, 100.0)).await;
    let e = on_b.recv_type("error").await;
    assert_eq!(
        e["code"], "too_fast",
        "judged from server a's last fix: {e}"
    );
    // Walking on from the original spot is fine.
    let mut back = hello(b.addr, &token).await;
    assert_eq!(on_b.closed().await, 4001, "same server");
    tokio::time::sleep(Duration::from_secs(1)).await;
    back.locate(3, 100_000.0 + 5.0).await;
    pair.stop().await;
}
