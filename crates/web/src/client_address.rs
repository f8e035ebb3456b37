//! The client's address as the audit log records it (R-AUD-1). Behind a reverse proxy every
//! connection comes from the proxy; the proxy names the client in `X-Forwarded-For` (or
//! `X-Real-IP`). Those headers are anyone's to write, so they are believed only when the
//! connection comes from a proxy the configuration lists, and only for the hops such proxies
//! added: the address is the rightmost one not itself a trusted proxy.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};

/// The address to record for a request.
pub fn of<B>(req: &Request<B>, trusted_proxies: &[IpAddr]) -> String {
    let Some(peer) = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) else {
        return String::new();
    };
    resolve(peer, req.headers(), trusted_proxies).to_string()
}

fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    if !forwarded.is_empty() {
        let mut client = peer;
        for hop in forwarded.iter().rev() {
            // A hop that is not an address: nothing to its left can be believed.
            let Ok(ip) = hop.parse::<IpAddr>() else { return client };
            client = ip;
            if !trusted.contains(&ip) {
                break;
            }
        }
        return client;
    }
    headers.get("x-real-ip").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok()).unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, value.parse().unwrap());
        }
        h
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let h = headers(&[("x-forwarded-for", "203.0.113.9"), ("x-real-ip", "203.0.113.9")]);
        assert_eq!(resolve(ip("198.51.100.7"), &h, &[ip("127.0.0.1")]), ip("198.51.100.7"));
        assert_eq!(resolve(ip("127.0.0.1"), &h, &[]), ip("127.0.0.1"));
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let proxy = [ip("127.0.0.1")];
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &proxy), ip("203.0.113.9"));
        let h = headers(&[("x-real-ip", "203.0.113.9")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &proxy), ip("203.0.113.9"));
        assert_eq!(resolve(ip("127.0.0.1"), &HeaderMap::new(), &proxy), ip("127.0.0.1"));
    }

    #[test]
    fn a_client_cannot_forge_its_address_through_the_proxy() {
        // The client sent "X-Forwarded-For: 10.9.9.9"; nginx appended the real address.
        let trusted = [ip("127.0.0.1"), ip("10.0.0.5")];
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 203.0.113.9, 10.0.0.5")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("203.0.113.9"));
        let h = headers(&[("x-forwarded-for", "10.9.9.9"), ("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("203.0.113.9"));
        let h = headers(&[("x-forwarded-for", "203.0.113.9, not-an-address")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("127.0.0.1"));
    }
}
