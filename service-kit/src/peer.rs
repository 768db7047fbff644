//! Who sent a request: the peer's address, or behind a trusted proxy (a
//! load balancer) the client address the proxy recorded in
//! `X-Forwarded-For`.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use ipnet::IpNet;

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

    /// The client's address. The peer's own, unless the peer is in one of
    /// the `trusted` proxy networks: then the nearest address in
    /// `X-Forwarded-For` that is not itself a trusted proxy. A client
    /// cannot choose its address by sending the header itself, since only
    /// hops appended by trusted proxies are believed; an unreadable header
    /// from a trusted proxy leaves the proxy's own address.
    pub fn client_ip(&self, trusted: &[IpNet]) -> Option<IpAddr> {
        let mut ip = self.addr?;
        for hop in self.forwarded.iter().rev() {
            if !trusted.iter().any(|net| net.contains(&ip)) {
                break;
            }
            ip = *hop;
        }
        Some(ip)
    }
}

/// Reads a `--trusted-proxy` value: one address (`10.0.0.2`) or a network
/// (`10.0.0.0/8`, the pod network behind a Kubernetes ingress).
pub fn parse_trusted_proxy(s: &str) -> Result<IpNet, String> {
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is neither an IP address nor a network like 10.0.0.0/8"))
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

    fn net(s: &str) -> IpNet {
        parse_trusted_proxy(s).unwrap()
    }

    #[test]
    fn the_forwarded_header_is_believed_only_from_a_trusted_proxy() {
        let lb = ip("10.0.0.2");
        let client = ip("203.0.113.7");
        let lb_net = net("10.0.0.2");
        // Straight from the client: its own address, whatever it claims.
        let direct = Peer::new(Some(client), vec![ip("198.51.100.1")]);
        assert_eq!(direct.client_ip(&[lb_net]), Some(client));
        // Through the balancer: the address the balancer appended.
        let proxied = Peer::new(Some(lb), vec![ip("198.51.100.1"), client]);
        assert_eq!(proxied.client_ip(&[lb_net]), Some(client));
        // Nobody trusted: the balancer is the client.
        assert_eq!(proxied.client_ip(&[]), Some(lb));
        // Two trusted hops are walked back.
        let inner = ip("10.0.0.3");
        let two = Peer::new(Some(inner), vec![client, lb]);
        assert_eq!(two.client_ip(&[lb_net, net("10.0.0.3")]), Some(client));
        // A trusted proxy that forwarded nothing is itself the client.
        assert_eq!(Peer::new(Some(lb), vec![]).client_ip(&[lb_net]), Some(lb));
        assert_eq!(Peer::default().client_ip(&[lb_net]), None);
    }

    #[test]
    fn a_trusted_network_covers_every_proxy_in_it() {
        // Behind a Kubernetes ingress the proxies have no fixed address,
        // only the pod network's.
        let pods = net("10.0.0.0/8");
        let client = ip("203.0.113.7");
        let via_two_pods = Peer::new(Some(ip("10.1.2.3")), vec![client, ip("10.9.8.7")]);
        assert_eq!(via_two_pods.client_ip(&[pods]), Some(client));
        // A peer outside it is the client, whatever it forwards.
        let outside = Peer::new(Some(ip("192.0.2.1")), vec![ip("198.51.100.1")]);
        assert_eq!(outside.client_ip(&[pods]), Some(ip("192.0.2.1")));
        assert_eq!(net("::1"), "::1/128".parse::<IpNet>().unwrap());
        assert!(parse_trusted_proxy("10.0.0.0/33").is_err());
        assert!(parse_trusted_proxy("nope").is_err());
    }
}
