//! Who the client is, network-wise: the TCP peer, or, when that peer is a
//! trusted proxy (`http.trusted_proxies`), the address the proxies recorded in
//! `Forwarded` (RFC 7239) or `X-Forwarded-For`.
//!
//! Those headers are written by whoever sent the request, so they are read from
//! the right: each trusted proxy appends the address it received the request
//! from, and the first address (from the right) that is not a trusted proxy is
//! the client. Anything further left was written by the client itself and is
//! never believed. A hop that cannot be parsed ends the walk at the last trusted
//! proxy, which is then taken as the client: rather a proxy's address than one
//! an attacker chose.
//!
//! Written here rather than taken from a crate: the crates we looked at trust a
//! fixed number of hops or the rightmost hop, not a list of proxy networks.

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, header::FORWARDED};
use ipnet::IpNet;

/// The resolved client address of a request, put in its extensions once, at the
/// front of the router; every log line, audit event and rate limit uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// Proxies trusted to say who their client was.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
}

impl TrustedProxies {
    /// Parses `http.trusted_proxies`: addresses (`10.0.0.7`) or networks (`10.0.0.0/8`).
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let networks = entries
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| format!("{entry:?} is neither an IP address nor a CIDR network"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { networks })
    }

    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.networks.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that arrived from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        // `Forwarded` is the standard; when a proxy writes it, it is the record.
        let hops = if headers.contains_key(FORWARDED) {
            forwarded_hops(headers)
        } else {
            x_forwarded_for_hops(headers)
        };
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if self.trusts(*ip) => client = *ip,
                Some(ip) => return *ip,
                None => return client,
            }
        }
        client
    }
}

/// An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Every hop of every `X-Forwarded-For` header, in order; `None` for one that
/// does not parse.
fn x_forwarded_for_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .flat_map(|value| match value.to_str() {
            Ok(text) => text.split(',').map(parse_node).collect::<Vec<_>>(),
            Err(_) => vec![None],
        })
        .collect()
}

/// The `for=` of every element of every `Forwarded` header (RFC 7239 §4), in
/// order; `None` for an element without one, or one that does not parse
/// (including the obfuscated and `unknown` identifiers of §6).
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all(FORWARDED)
        .iter()
        .flat_map(|value| match value.to_str() {
            Ok(text) => text
                .split(',')
                .map(|element| {
                    element.split(';').find_map(|pair| {
                        let (name, value) = pair.split_once('=')?;
                        name.trim()
                            .eq_ignore_ascii_case("for")
                            .then(|| parse_node(value.trim().trim_matches('"')))
                    })?
                })
                .collect::<Vec<_>>(),
            Err(_) => vec![None],
        })
        .collect()
}

/// One node: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return Some(canonical(socket.ip()));
    }
    text.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<IpAddr>().ok())
        .map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn proxies(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_headers_say() {
        let none = TrustedProxies::default();
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        assert_eq!(none.client(ip("9.9.9.9"), &h), ip("9.9.9.9"));
    }

    #[test]
    fn an_untrusted_peer_cannot_claim_a_client_address() {
        let p = proxies(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(p.client(ip("192.0.2.1"), &h), ip("192.0.2.1"));
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_is_the_client() {
        let p = proxies(&["10.0.0.0/8"]);
        // The client wrote 6.6.6.6 itself; the proxy appended 1.2.3.4, then a second proxy.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.2")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("1.2.3.4"));
        // Several headers are one list, in order.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "1.2.3.4"),
        ]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("1.2.3.4"));
    }

    #[test]
    fn forwarded_is_read_when_present_with_ports_quotes_and_ipv6() {
        let p = proxies(&["10.0.0.0/8", "2001:db8::/32"]);
        let h = headers(&[(
            "forwarded",
            r#"for=6.6.6.6, for="[2001:db9::7]:4711";proto=https, for=10.1.1.1:80"#,
        )]);
        assert_eq!(p.client(ip("2001:db8::1"), &h), ip("2001:db9::7"));
        // X-Forwarded-For is ignored when Forwarded is there.
        let h = headers(&[("forwarded", "for=1.2.3.4"), ("x-forwarded-for", "5.5.5.5")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("1.2.3.4"));
    }

    #[test]
    fn an_unparsable_hop_stops_at_the_last_trusted_proxy() {
        let p = proxies(&["10.0.0.0/8"]);
        for value in [
            "garbage, 10.0.0.5",
            "for=unknown, for=10.0.0.5",
            "for=_hidden",
        ] {
            let name = if value.starts_with("for") {
                "forwarded"
            } else {
                "x-forwarded-for"
            };
            let h = headers(&[(name, value)]);
            let expected = if value == "for=_hidden" {
                "10.0.0.1"
            } else {
                "10.0.0.5"
            };
            assert_eq!(p.client(ip("10.0.0.1"), &h), ip(expected), "{value}");
        }
    }

    #[test]
    fn a_chain_of_only_trusted_proxies_gives_the_leftmost_and_no_header_the_peer() {
        let p = proxies(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "10.0.0.9, 10.0.0.8")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.0.0.9"));
        assert_eq!(p.client(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
    }

    #[test]
    fn ipv4_mapped_peers_and_single_addresses_are_understood() {
        let p = proxies(&["127.0.0.1"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.5")]);
        assert_eq!(p.client(ip("::ffff:127.0.0.1"), &h), ip("203.0.113.5"));
    }

    #[test]
    fn bad_entries_are_refused_with_their_text() {
        let error = TrustedProxies::parse(&["10.0.0.0/33".into()]).unwrap_err();
        assert!(error.contains("10.0.0.0/33"), "{error}");
        assert!(TrustedProxies::parse(&["proxy.example".into()]).is_err());
    }
}
