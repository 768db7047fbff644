//! The play socket's output path: text frames written straight from the
//! reply's own buffer.
//!
//! tokio-tungstenite copies every outgoing frame into the socket's write
//! buffer before writing it, and that buffer keeps the capacity of the
//! largest batch it ever held: 3.7 KB per connected player at one update a
//! second (a `nearby` is 1 to 4 KB), the largest item of a player's memory
//! (docs/benchmarks.md). [`PlaySocket`] wraps the stream and sends text
//! frames itself: tungstenite's [`FrameHeader`] formats each header into ten
//! bytes on the frame's entry, and one vectored write sends headers and
//! payloads together, so the reply is never copied and nothing stays
//! allocated between replies.
//!
//! Everything else (pings, pongs, close frames, and all reading) goes
//! through tungstenite, which keeps its protocol state. The byte stream stays
//! whole because tungstenite never writes while a frame of ours is part-way
//! out, and ours never start while tungstenite's output is part-way out:
//! - messages leave in the order they were given, a control message waiting
//!   behind the text frames queued before it;
//! - before a frame is started, tungstenite's own output is flushed;
//! - reading (which may make tungstenite answer a ping) waits until no
//!   frame of ours is part-way out.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

/// The longest header of an unmasked (server) frame: two bytes and an
/// eight-byte length.
const MAX_HEADER: usize = 10;

/// Most entries handed to one vectored write (two slices each): a batch of
/// replies to frames that arrived together (at most 64, see `conn`) goes
/// out in one system call.
const MAX_WRITE_ENTRIES: usize = 64;

/// Queue entries kept allocated once a small batch has drained. A busy
/// socket keeps its larger queue from batch to batch, and releases it with
/// its first small batch, so an idle player holds no more than this.
const KEPT_ENTRIES: usize = 4;

/// One queued message.
enum Out {
    /// A text frame of ours; `sent` bytes of header then payload are out.
    Text {
        header: [u8; MAX_HEADER],
        header_len: u8,
        payload: Utf8Bytes,
        sent: usize,
    },
    /// Any other message, handed to tungstenite in its turn.
    Ws(Message),
}

impl Out {
    fn text(payload: Utf8Bytes) -> Out {
        let header = FrameHeader {
            is_final: true,
            opcode: OpCode::Data(Data::Text),
            ..FrameHeader::default()
        };
        let mut buf = [0; MAX_HEADER];
        let mut cursor = io::Cursor::new(&mut buf[..]);
        // Ten bytes hold any unmasked header, so formatting cannot fail.
        let _ = header.format(payload.len() as u64, &mut cursor);
        let header_len = cursor.position() as u8;
        Out::Text {
            header: buf,
            header_len,
            payload,
            sent: 0,
        }
    }

    /// Bytes of this entry still to write (0 for a tungstenite message).
    fn unsent(&self) -> usize {
        match self {
            Out::Text {
                header_len,
                payload,
                sent,
                ..
            } => usize::from(*header_len) + payload.len() - sent,
            Out::Ws(_) => 0,
        }
    }
}

/// A play socket: tokio-tungstenite's stream with text frames written
/// directly (see the module documentation).
pub(crate) struct PlaySocket<T> {
    ws: WebSocketStream<T>,
    queue: VecDeque<Out>,
    /// Text bytes queued and not yet written.
    queued: usize,
    /// Queued bytes beyond which a send writes before taking more.
    write_threshold: usize,
    /// Queued bytes beyond which a send fails: a client that does not read
    /// cannot grow the queue without bound.
    max_queued: usize,
}

impl<T> PlaySocket<T> {
    pub(crate) fn new(ws: WebSocketStream<T>, write_threshold: usize, max_queued: usize) -> Self {
        PlaySocket {
            ws,
            queue: VecDeque::new(),
            queued: 0,
            write_threshold,
            max_queued,
        }
    }

    /// Whether a text frame is part-way out, so that nothing else may be
    /// written to the stream until it is whole.
    fn mid_frame(&self) -> bool {
        matches!(self.queue.front(), Some(Out::Text { sent, .. }) if *sent > 0)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> PlaySocket<T> {
    /// Writes the queue out in order, as far as the stream takes it.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        let batch = self.queue.len();
        while let Some(front) = self.queue.front() {
            if matches!(front, Out::Ws(_)) {
                ready!(Pin::new(&mut self.ws).poll_ready(cx))?;
                if let Some(Out::Ws(msg)) = self.queue.pop_front() {
                    Pin::new(&mut self.ws).start_send(msg)?;
                }
                ready!(Pin::new(&mut self.ws).poll_flush(cx))?;
                continue;
            }
            if !self.mid_frame() {
                // tungstenite may hold output of its own (a pong it wrote
                // while reading); it goes out whole before our next frame.
                ready!(Pin::new(&mut self.ws).poll_flush(cx))?;
            }
            let written = {
                let mut slices = [IoSlice::new(&[]); 2 * MAX_WRITE_ENTRIES];
                let mut n = 0;
                for out in self.queue.iter().take(MAX_WRITE_ENTRIES) {
                    let Out::Text {
                        header,
                        header_len,
                        payload,
                        sent,
                    } = out
                    else {
                        break;
                    };
                    let header = &header[..usize::from(*header_len)];
                    let payload = payload.as_bytes();
                    if *sent < header.len() {
                        slices[n] = IoSlice::new(&header[*sent..]);
                        slices[n + 1] = IoSlice::new(payload);
                        n += 2;
                    } else {
                        slices[n] = IoSlice::new(&payload[*sent - header.len()..]);
                        n += 1;
                    }
                }
                ready!(Pin::new(self.ws.get_mut()).poll_write_vectored(cx, &slices[..n]))?
            };
            if written == 0 {
                return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into()));
            }
            self.advance(written);
        }
        if batch <= KEPT_ENTRIES && self.queue.capacity() > KEPT_ENTRIES {
            self.queue = VecDeque::new();
        }
        Poll::Ready(Ok(()))
    }

    /// Marks `n` bytes of the queued text frames as written.
    fn advance(&mut self, mut n: usize) {
        self.queued -= n;
        while n > 0 {
            let Some(front) = self.queue.front_mut() else {
                return;
            };
            let left = front.unsent();
            if n < left {
                if let Out::Text { sent, .. } = front {
                    *sent += n;
                }
                return;
            }
            n -= left;
            self.queue.pop_front();
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Stream for PlaySocket<T> {
    type Item = Result<Message, WsError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.mid_frame()
            && let Err(e) = ready!(this.poll_drain(cx))
        {
            return Poll::Ready(Some(Err(e)));
        }
        Pin::new(&mut this.ws).poll_next(cx)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Sink<Message> for PlaySocket<T> {
    type Error = WsError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        let this = self.get_mut();
        if this.queued >= this.write_threshold {
            ready!(this.poll_drain(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, msg: Message) -> Result<(), WsError> {
        let this = self.get_mut();
        match msg {
            Message::Text(payload) => {
                if this.queued + MAX_HEADER + payload.len() > this.max_queued {
                    return Err(WsError::WriteBufferFull(Box::new(Message::Text(payload))));
                }
                let out = Out::text(payload);
                this.queued += out.unsent();
                this.queue.push_back(out);
            }
            other => this.queue.push_back(Out::Ws(other)),
        }
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        let this = self.get_mut();
        if this.queue.is_empty() {
            return Pin::new(&mut this.ws).poll_flush(cx);
        }
        // Draining flushes tungstenite before our first frame and after
        // each control message, so nothing of its own is left behind.
        this.poll_drain(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.ws).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{FutureExt, SinkExt, StreamExt};
    use tokio::io::DuplexStream;
    use tokio_tungstenite::tungstenite::protocol::Role;

    use super::*;

    /// A server-side play socket and a tungstenite client joined by an
    /// in-memory pipe of `pipe` bytes, small enough that frames go out in
    /// pieces.
    async fn pair(
        pipe: usize,
        max_queued: usize,
    ) -> (PlaySocket<DuplexStream>, WebSocketStream<DuplexStream>) {
        let (a, b) = tokio::io::duplex(pipe);
        let server = WebSocketStream::from_raw_socket(a, Role::Server, None).await;
        let client = WebSocketStream::from_raw_socket(b, Role::Client, None).await;
        (PlaySocket::new(server, 16 * 1024, max_queued), client)
    }

    fn text(len: usize, fill: u8) -> Message {
        Message::Text(String::from_utf8(vec![fill; len]).unwrap().into())
    }

    #[tokio::test]
    async fn frames_of_every_header_length_arrive_whole_and_in_order() {
        let (mut server, mut client) = pair(61, usize::MAX).await;
        // Payload lengths around each header form (7-bit, 16-bit, 64-bit),
        // with control frames between them that tungstenite writes.
        let mut sent = Vec::new();
        for (i, len) in [0, 1, 125, 126, 127, 1000, 65_535, 65_536, 70_000]
            .into_iter()
            .enumerate()
        {
            sent.push(text(len, b'a' + i as u8));
            if i % 3 == 1 {
                sent.push(Message::Ping(vec![i as u8].into()));
            }
        }
        let expected = sent.clone();
        let writer = tokio::spawn(async move {
            for m in sent {
                server.feed(m).await.unwrap();
            }
            server.flush().await.unwrap();
            server
        });
        let mut got = Vec::new();
        while got.len() < expected.len() {
            got.push(client.next().await.unwrap().unwrap());
        }
        assert_eq!(got, expected);
        let mut server = writer.await.unwrap();
        assert_eq!(server.queued, 0);
        // The next small batch releases the busy socket's queue.
        server.send(text(5, b'.')).await.unwrap();
        assert!(server.queue.capacity() <= KEPT_ENTRIES);
        assert_eq!(client.next().await.unwrap().unwrap(), text(5, b'.'));
    }

    /// Steps both sides in turn until the client has `want` messages, the
    /// client freeing room in the pipe each time. Returns what the server
    /// read and what the client read.
    async fn pump(
        server: &mut PlaySocket<DuplexStream>,
        client: &mut WebSocketStream<DuplexStream>,
        want: usize,
    ) -> (Vec<Message>, Vec<Message>) {
        let (mut seen, mut got) = (Vec::new(), Vec::new());
        for step in 0..10_000 {
            if let Some(m) = client.next().now_or_never() {
                got.push(m.unwrap().unwrap());
                if got.len() == want {
                    break;
                }
            }
            // Writing and reading take turns at going first, so that each
            // may find room in the pipe while the other has output pending.
            if step % 2 == 0 {
                let _ = server.flush().now_or_never();
            }
            if let Some(m) = server.next().now_or_never() {
                seen.push(m.unwrap().unwrap());
            }
            if step % 2 == 1 {
                let _ = server.flush().now_or_never();
            }
            // Back to the runtime, which renews tokio's I/O budget.
            tokio::task::yield_now().await;
        }
        (seen, got)
    }

    #[tokio::test]
    async fn a_ping_read_while_a_frame_is_part_way_out_is_answered_after_it() {
        let (mut server, mut client) = pair(64, usize::MAX).await;
        let big = text(10_000, b'x');
        server.feed(big.clone()).await.unwrap();
        // The client is not reading yet: the frame goes out only in part.
        assert!(server.flush().now_or_never().is_none());
        assert!(server.mid_frame());
        let ping = Message::Ping(b"p".to_vec().into());
        client.send(ping.clone()).await.unwrap();
        // Each read of the server may make tungstenite write its pong,
        // which must not land inside our frame.
        let (seen, got) = pump(&mut server, &mut client, 2).await;
        assert_eq!(seen, [ping]);
        assert_eq!(got, [big, Message::Pong(b"p".to_vec().into())]);
    }

    #[tokio::test]
    async fn a_pong_part_way_out_is_finished_before_a_frame_starts() {
        let (mut server, mut client) = pair(64, usize::MAX).await;
        // 42 bytes of the 64-byte pipe are taken.
        let first = text(40, b'f');
        server.send(first.clone()).await.unwrap();
        let ping = Message::Ping(vec![7; 50].into());
        client.send(ping.clone()).await.unwrap();
        assert_eq!(server.next().await.unwrap().unwrap(), ping);
        // The next read writes the 52-byte pong into the 22 bytes left.
        assert!(server.next().now_or_never().is_none());
        let reply = text(500, b'r');
        server.feed(reply.clone()).await.unwrap();
        let (_, got) = pump(&mut server, &mut client, 3).await;
        assert_eq!(got, [first, Message::Pong(vec![7; 50].into()), reply]);
    }

    #[tokio::test]
    async fn a_client_that_does_not_read_cannot_grow_the_queue() {
        let (mut server, client) = pair(64, 4096).await;
        let mut accepted = 0;
        let err = loop {
            match server.feed(text(500, b'q')).now_or_never() {
                Some(Ok(())) => accepted += 1,
                Some(Err(e)) => break e,
                None => panic!("a send waited instead of failing"),
            }
        };
        assert!(matches!(err, WsError::WriteBufferFull(_)), "{err}");
        assert!((7..=8).contains(&accepted), "{accepted} frames queued");
        assert!(server.queued <= 4096);
        drop(client);
    }

    #[tokio::test]
    async fn a_close_leaves_after_the_text_queued_before_it() {
        let (mut server, mut client) = pair(32, usize::MAX).await;
        server.feed(text(300, b'z')).await.unwrap();
        server.feed(Message::Close(None)).await.unwrap();
        let writer = tokio::spawn(async move {
            server.flush().await.unwrap();
            // The client's reply ends the stream.
            while let Some(Ok(m)) = server.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        });
        assert_eq!(client.next().await.unwrap().unwrap(), text(300, b'z'));
        assert!(matches!(
            client.next().await,
            Some(Ok(Message::Close(None)))
        ));
        // tungstenite answers the close; the stream then ends.
        assert!(client.next().await.is_none());
        writer.await.unwrap();
    }
}
