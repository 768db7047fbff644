//! Hand-built WebSocket frames on both sockets (`/v1/play`, `/v1/lobby`):
//! a protocol violation gets close code 1002 and text that is not UTF-8
//! gets 1007, as RFC 6455 section 7.1.7 asks, instead of a TCP drop with
//! no word of why.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A raw socket past the WebSocket handshake on `path`.
async fn upgraded(addr: SocketAddr, path: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tcp.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    tcp
}

/// A client frame: `first` is FIN/RSV/opcode, the payload masked unless
/// `masked` is false.
fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    assert!(payload.len() < 126);
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut f = vec![first, payload.len() as u8 | if masked { 0x80 } else { 0 }];
    if masked {
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

/// Reads server frames until a close frame; its code.
async fn close_code(tcp: &mut TcpStream) -> u16 {
    loop {
        let mut head = [0u8; 2];
        tokio::time::timeout(Duration::from_secs(5), tcp.read_exact(&mut head))
            .await
            .expect("a frame within 5 s")
            .expect("a close frame before the connection ends");
        let len = usize::from(head[1] & 0x7f);
        let len = match len {
            126 => {
                let mut l = [0u8; 2];
                tcp.read_exact(&mut l).await.unwrap();
                usize::from(u16::from_be_bytes(l))
            }
            n => n,
        };
        let mut body = vec![0u8; len];
        tcp.read_exact(&mut body).await.unwrap();
        if head[0] & 0x0f == 0x8 {
            return u16::from_be_bytes([body[0], body[1]]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_faults_get_1002_and_bad_utf8_gets_1007_on_both_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let up = common::up(dir.path(), &[]).await;
    let cases: [(&str, Vec<u8>, u16); 5] = [
        ("an unmasked frame", frame(0x81, b"{}", false), 1002),
        ("RSV1 set", frame(0xC1, b"{}", true), 1002),
        ("a reserved opcode", frame(0x83, b"", true), 1002),
        (
            "a continuation with nothing to continue",
            frame(0x80, b"x", true),
            1002,
        ),
        (
            "text that is not UTF-8",
            frame(0x81, &[b'{', 0xff, 0xfe, b'}'], true),
            1007,
        ),
    ];
    for path in ["/v1/play", "/v1/lobby"] {
        for (what, bytes, want) in &cases {
            let mut tcp = upgraded(up.addr, path).await;
            tcp.write_all(bytes).await.unwrap();
            assert_eq!(close_code(&mut tcp).await, *want, "{what} on {path}");
        }
    }
    up.stop().await;
}
