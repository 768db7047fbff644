//! The sockets this process holds, by player, and delivery of pushes to
//! them. Delivery never blocks: a socket whose queue is full is not
//! reading, so it is kicked instead of letting memory grow.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use protocol::lobby::LobbyServerMessage;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::model::HubEvent;

struct Conn {
    id: u64,
    tx: mpsc::Sender<LobbyServerMessage>,
    kick: CancellationToken,
}

/// One socket's end of the hub.
pub(crate) struct Registration {
    pub(crate) id: u64,
    pub(crate) rx: mpsc::Receiver<LobbyServerMessage>,
    /// Cancelled when the socket must be dropped for not reading.
    pub(crate) kick: CancellationToken,
}

#[derive(Default)]
pub(crate) struct Hub {
    conns: Mutex<HashMap<String, Vec<Conn>>>,
    next_id: AtomicU64,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Conn>>> {
        // Each section leaves the map whole, so a poisoned lock is usable.
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a socket of `player` with a queue of `buffer` frames.
    pub(crate) fn register(&self, player: &str, buffer: usize) -> Registration {
        let (tx, rx) = mpsc::channel(buffer);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let kick = CancellationToken::new();
        self.lock()
            .entry(player.to_owned())
            .or_default()
            .push(Conn {
                id,
                tx,
                kick: kick.clone(),
            });
        metrics::gauge!("geogame_lobby_sockets").increment(1.0);
        Registration { id, rx, kick }
    }

    /// Removes a socket.
    pub(crate) fn unregister(&self, player: &str, id: u64) {
        let mut conns = self.lock();
        if let Some(list) = conns.get_mut(player) {
            list.retain(|c| c.id != id);
            if list.is_empty() {
                conns.remove(player);
            }
        }
        metrics::gauge!("geogame_lobby_sockets").decrement(1.0);
    }

    /// Queues a frame to every socket of `player` held here.
    pub(crate) fn send(&self, player: &str, msg: &LobbyServerMessage) {
        let mut conns = self.lock();
        let Some(list) = conns.get_mut(player) else {
            return;
        };
        list.retain(|c| match c.tx.try_send(msg.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(
                    player,
                    conn = c.id,
                    "lobby socket not reading; disconnecting"
                );
                metrics::counter!("geogame_lobby_slow_sockets_total").increment(1);
                c.kick.cancel();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
        if list.is_empty() {
            conns.remove(player);
        }
    }

    /// Pushes an event to the members it concerns that are connected here.
    pub(crate) fn deliver(&self, ev: &HubEvent) {
        match ev {
            HubEvent::Matched {
                session_id,
                players,
                server_url,
                session_token,
                tickets,
            } => {
                for part in tickets {
                    let msg = LobbyServerMessage::MatchFound {
                        ticket_id: part.ticket_id.clone(),
                        session_id: session_id.clone(),
                        players: players.clone(),
                        server: server_url.clone(),
                        session_token: session_token.clone(),
                    };
                    for m in &part.members {
                        self.send(m, &msg);
                    }
                }
            }
            HubEvent::Expired { ticket } => {
                let msg = LobbyServerMessage::Expired {
                    ticket_id: ticket.ticket_id.clone(),
                };
                for m in &ticket.members {
                    self.send(m, &msg);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TicketPart;

    #[test]
    fn a_full_socket_is_kicked_not_buffered() {
        let hub = Hub::default();
        let mut reg = hub.register("p", 1);
        let ev = HubEvent::Expired {
            ticket: TicketPart {
                ticket_id: "t".into(),
                members: vec!["p".into()],
            },
        };
        hub.deliver(&ev);
        assert!(!reg.kick.is_cancelled());
        hub.deliver(&ev);
        assert!(
            reg.kick.is_cancelled(),
            "second push overflows a 1-slot queue"
        );
        assert!(reg.rx.try_recv().is_ok());
        // Kicked sockets receive nothing more.
        hub.deliver(&ev);
        assert!(reg.rx.try_recv().is_err());
    }
}
