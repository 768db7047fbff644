//! How a WebSocket read error ends the socket, for both sockets
//! (`/v1/play`, `/v1/lobby`): a frame over the transport's limit gets
//! 1009, text that is not UTF-8 gets 1007 and any other protocol violation
//! (unmasked or reserved frames, RSV bits, bad fragments) 1002, as RFC 6455
//! section 7.1.7 asks, so the client sees why. The connection is still
//! writable after each of these. A peer that simply went away gets nothing.

use protocol::close;
pub use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::error::ProtocolError;

/// The close code and reason for a read error, or none when the peer is
/// gone. Counts the fault in `geogame_errors_total`.
pub fn read_close(e: &WsError) -> Option<(u16, &'static str)> {
    let (code, reason, label) = match e {
        WsError::Capacity(_) => (close::TOO_BIG, "message too big", "too_big"),
        WsError::Utf8(_) => (
            close::INVALID_DATA,
            "text is not valid UTF-8",
            "invalid_utf8",
        ),
        WsError::Protocol(
            ProtocolError::ResetWithoutClosingHandshake
            | ProtocolError::ReceivedAfterClosing
            | ProtocolError::SendAfterClosing,
        ) => return None,
        WsError::Protocol(_) => (
            close::PROTOCOL_ERROR,
            "websocket protocol violation",
            "protocol",
        ),
        _ => return None,
    };
    metrics::counter!("geogame_errors_total", "code" => label).increment(1);
    Some((code, reason))
}

#[cfg(test)]
mod tests {
    use tokio_tungstenite::tungstenite::error::CapacityError;

    use super::*;

    #[test]
    fn each_fault_gets_its_code_and_a_vanished_peer_none() {
        let big = WsError::Capacity(CapacityError::MessageTooLong {
            size: 2,
            max_size: 1,
        });
        assert_eq!(read_close(&big).map(|c| c.0), Some(1009));
        let utf8 = WsError::Utf8("bad".into());
        assert_eq!(read_close(&utf8).map(|c| c.0), Some(1007));
        let rsv = WsError::Protocol(ProtocolError::NonZeroReservedBits);
        assert_eq!(read_close(&rsv).map(|c| c.0), Some(1002));
        let unmasked = WsError::Protocol(ProtocolError::UnmaskedFrameFromClient);
        assert_eq!(read_close(&unmasked).map(|c| c.0), Some(1002));
        let reset = WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake);
        assert_eq!(read_close(&reset), None);
        assert_eq!(read_close(&WsError::ConnectionClosed), None);
    }
}
