//! Hand-built WebSocket frames on both sockets (`/v1/play`, `/v1/lobby`):
//! a protocol violation gets close code 1002 and text that is not UTF-8
//! gets 1007, as RFC 6455 section 7.1.7 asks, instead of a TCP drop with
//! no word of why.

mod common;

use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_faults_get_1002_and_bad_utf8_gets_1007_on_both_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let up = common::up(dir.path(), &[]).await;
    let cases: [(&str, Vec<u8>, u16); 5] = [
        ("an unmasked frame", common::frame(0x81, b"{}", false), 1002),
        ("RSV1 set", common::frame(0xC1, b"{}", true), 1002),
        ("a reserved opcode", common::frame(0x83, b"", true), 1002),
        (
            "a continuation with nothing to continue",
            common::frame(0x80, b"x", true),
            1002,
        ),
        (
            "text that is not UTF-8",
            common::frame(0x81, &[b'{', 0xff, 0xfe, b'}'], true),
            1007,
        ),
    ];
    for path in ["/v1/play", "/v1/lobby"] {
        for (what, bytes, want) in &cases {
            let mut tcp = common::upgraded(up.addr, path).await;
            tcp.write_all(bytes).await.unwrap();
            assert_eq!(
                common::close_code(&mut tcp).await,
                *want,
                "{what} on {path}"
            );
        }
    }
    up.stop().await;
}
