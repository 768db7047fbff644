//! Who sent a request: the peer's address, or behind a trusted proxy (a
//! load balancer) the client address the proxy recorded in
//! `X-Forwarded-For`.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

/// The header a proxy (HAProxy's `option forwardfor`) appends the client's
/// address to.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// A request's peer address (none when the router is served without
/// [`crate::serve`]) and its `X-Forwarded-For` chain, oldest hop first.
#[derive(Debug, Clone, Default)]
pub struct Peer {
    addr: Option<IpAddr>,
    forwarded: Vec<IpAddr>,
}

impl Peer {
    /// A peer at `addr` with the forwarded chain `forwarded` (for tests).
    pub fn new(addr: Option<IpAddr>, forwarded: Vec<IpAddr>) -> Self {
        Peer { addr, forwarded }
    }

    /// The client's address. The peer's own, unless the peer is one of
    /// `trusted` proxies: then the nearest address in `X-Forwarded-For`
    /// that is not itself a trusted proxy. A client cannot choose its
    /// address by sending the header itself, since only hops appended by
    /// trusted proxies are believed; an unreadable header from a trusted
    /// proxy leaves the proxy's own address.
    pub fn client_ip(&self, trusted: &[IpAddr]) -> Option<IpAddr> {
        let mut ip = self.addr?;
        for hop in self.forwarded.iter().rev() {
            if !trusted.contains(&ip) {
                break;
            }
            ip = *hop;
        }
        Some(ip)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        // Every X-Forwarded-For header, in order; one unreadable entry
        // makes the whole chain untrusted (none is believed).
        let forwarded = parts
            .headers
            .get_all(FORWARDED_FOR)
            .iter()
            .flat_map(|v| v.to_str().unwrap_or("?").split(','))
            .map(|hop| hop.trim().parse::<IpAddr>())
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_default();
        Ok(Peer { addr, forwarded })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_forwarded_header_is_believed_only_from_a_trusted_proxy() {
        let lb = ip("10.0.0.2");
        let client = ip("203.0.113.7");
        // Straight from the client: its own address, whatever it claims.
        let direct = Peer::new(Some(client), vec![ip("198.51.100.1")]);
        assert_eq!(direct.client_ip(&[lb]), Some(client));
        // Through the balancer: the address the balancer appended.
        let proxied = Peer::new(Some(lb), vec![ip("198.51.100.1"), client]);
        assert_eq!(proxied.client_ip(&[lb]), Some(client));
        // Nobody trusted: the balancer is the client.
        assert_eq!(proxied.client_ip(&[]), Some(lb));
        // Two trusted hops are walked back.
        let inner = ip("10.0.0.3");
        let two = Peer::new(Some(inner), vec![client, lb]);
        assert_eq!(two.client_ip(&[lb, inner]), Some(client));
        // A trusted proxy that forwarded nothing is itself the client.
        assert_eq!(Peer::new(Some(lb), vec![]).client_ip(&[lb]), Some(lb));
        assert_eq!(Peer::default().client_ip(&[lb]), None);
    }
}
