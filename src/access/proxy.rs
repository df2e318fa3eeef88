//! Which address a request comes from when proxies stand in front of the service.
//!
//! Only a peer inside a `--trusted-proxy` range may speak for the client. Its header is
//! read from the right (the hop the trusted peer itself added) leftwards, skipping hops
//! that are trusted proxies too; the first untrusted hop is the client. Anything left of
//! that hop was written by the client and is ignored, so a client cannot pick the address
//! that lock-out, rate limits and the audit trail see. Only one header is read
//! (`--proxy-header`): a proxy that appends to `X-Forwarded-For` passes a client's own
//! `Forwarded` through unchanged, and reading both would trust that one.

use std::net::IpAddr;
use std::str::FromStr;

/// An address range: `10.0.0.0/8`, `2001:db8::/32`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--trusted-proxy {text:?}: {reason}")]
pub struct CidrError {
    text: String,
    reason: &'static str,
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, CidrError> {
        let fail = |reason| CidrError {
            text: text.to_string(),
            reason,
        };
        let (address, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| fail("not an IP address (use 10.0.0.0/8 or 2001:db8::/32)"))?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix =
            match prefix {
                None => bits,
                Some(p) => p.parse::<u8>().ok().filter(|&p| p <= bits).ok_or_else(|| {
                    fail("the prefix length must be 0 to 32 (IPv4) or 128 (IPv6)")
                })?,
            };
        if mask(network, prefix) != network {
            return Err(fail("host bits are set below the prefix length"));
        }
        Ok(Cidr { network, prefix })
    }
}

/// `address` with every bit past `prefix` cleared.
fn mask(address: IpAddr, prefix: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let keep = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((bits & keep).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let keep = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((bits & keep).into())
        }
    }
}

impl Cidr {
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        address.is_ipv4() == self.network.is_ipv4() && mask(address, self.prefix) == self.network
    }
}

/// An IPv4 address a dual-stack socket reports as `::ffff:a.b.c.d` is that IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// The header a trusted proxy writes the client's address into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`
    #[default]
    #[value(name = "x-forwarded-for")]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for=proxy1`
    #[value(name = "forwarded")]
    Forwarded,
}

impl ProxyHeader {
    pub fn name(self) -> &'static str {
        match self {
            ProxyHeader::XForwardedFor => "x-forwarded-for",
            ProxyHeader::Forwarded => "forwarded",
        }
    }
}

/// The proxies whose forwarding header is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    pub ranges: Vec<Cidr>,
    pub header: ProxyHeader,
}

impl TrustedProxies {
    /// Whether `address` is one of the trusted proxies.
    pub fn trusts(&self, address: IpAddr) -> bool {
        self.ranges.iter().any(|r| r.contains(address))
    }

    /// The client's address: the peer's own unless the peer is trusted, else the
    /// right-most hop of `values` (the header's lines, in order) that is not a trusted
    /// proxy. A hop that is not an address (`unknown`, an obfuscated name, garbage) ends
    /// the walk: the last trusted address stands for the client.
    pub fn client(&self, peer: IpAddr, values: &[&str]) -> IpAddr {
        if self.ranges.is_empty() || !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for line in values.iter().rev() {
            for hop in line.rsplit(',') {
                let hop = match self.header {
                    ProxyHeader::XForwardedFor => parse_node(hop.trim()),
                    ProxyHeader::Forwarded => forwarded_for(hop),
                };
                match hop {
                    Some(address) if self.trusts(address) => client = address,
                    Some(address) => return address,
                    None => return client,
                }
            }
        }
        client
    }
}

/// The `for=` parameter of one `Forwarded` element.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| parse_node(value.trim().trim_matches('"')))?
    })
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]:4711`.
fn parse_node(text: &str) -> Option<IpAddr> {
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(canonical(address));
    }
    let host = match text.strip_prefix('[') {
        Some(rest) => rest.split_once(']')?.0,
        None => text.rsplit_once(':')?.0,
    };
    host.parse::<IpAddr>().ok().map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies(ranges: &[&str], header: ProxyHeader) -> TrustedProxies {
        TrustedProxies {
            ranges: ranges.iter().map(|r| r.parse().unwrap()).collect(),
            header,
        }
    }

    #[test]
    fn ranges_parse_and_contain_what_they_should() {
        let net: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains(ip("10.1.255.3")) && !net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped");
        let one: Cidr = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:1::1")) && !v6.contains(ip("2001:db9::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")) && !all.contains(ip("::1")));
        for bad in [
            "10.0.0.1/8",
            "10.0.0.0/33",
            "::/129",
            "example.com",
            "10.0.0.0/x",
            "",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let p = proxies(&["10.0.0.0/8"], ProxyHeader::XForwardedFor);
        let peer = ip("10.0.0.2");
        let client = |lines: &[&str]| p.client(peer, lines);
        assert_eq!(client(&["203.0.113.9"]), ip("203.0.113.9"));
        // The client wrote 1.2.3.4 itself; its real address was appended by the proxy.
        assert_eq!(client(&["1.2.3.4, 203.0.113.9"]), ip("203.0.113.9"));
        assert_eq!(
            client(&["1.2.3.4", "203.0.113.9, 10.0.0.5"]),
            ip("203.0.113.9")
        );
        assert_eq!(client(&["198.51.100.1:5000"]), ip("198.51.100.1"));
        assert_eq!(client(&["[2001:db8::5]:80"]), ip("2001:db8::5"));
        assert_eq!(client(&[]), peer, "no header: the proxy itself");
        assert_eq!(client(&["10.0.0.9, 10.0.0.8"]), ip("10.0.0.9"));
        assert_eq!(client(&["203.0.113.9, garbage"]), peer);
        // An untrusted peer's header is ignored.
        assert_eq!(p.client(ip("192.0.2.1"), &["203.0.113.9"]), ip("192.0.2.1"));
        let none = TrustedProxies::default();
        assert_eq!(none.client(peer, &["203.0.113.9"]), peer);
    }

    #[test]
    fn forwarded_elements_give_their_for_parameter() {
        let p = proxies(&["10.0.0.0/8"], ProxyHeader::Forwarded);
        let peer = ip("10.0.0.2");
        let client = |line: &str| p.client(peer, &[line]);
        assert_eq!(
            client("for=192.0.2.60;proto=http;by=203.0.113.43"),
            ip("192.0.2.60")
        );
        assert_eq!(
            client(r#"for=1.2.3.4, For="[2001:db8:cafe::17]:4711""#),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(client("for=198.51.100.3, for=10.1.1.1"), ip("198.51.100.3"));
        assert_eq!(client("for=unknown"), peer);
        assert_eq!(client("for=_hidden"), peer);
        // The other header is not read.
        let xff = proxies(&["10.0.0.0/8"], ProxyHeader::XForwardedFor);
        assert_eq!(xff.client(peer, &["for=192.0.2.60"]), peer);
    }

    proptest! {
        /// Whatever the header holds, the answer is the peer or an address written in it,
        /// and never panics.
        #[test]
        fn any_header_gives_the_peer_or_one_of_its_hops(line in "[0-9a-f:.,\\[\\]; =\"forFOR]{0,80}") {
            let peer = ip("10.0.0.2");
            for header in [ProxyHeader::XForwardedFor, ProxyHeader::Forwarded] {
                let p = proxies(&["10.0.0.0/8"], header);
                let client = p.client(peer, &[line.as_str()]);
                let written = line
                    .split(',')
                    .flat_map(|hop| [parse_node(hop.trim()), forwarded_for(hop)])
                    .any(|hop| hop == Some(client));
                prop_assert!(client == peer || written, "{}", client);
            }
        }

        #[test]
        fn a_range_contains_exactly_the_addresses_sharing_its_prefix(a in any::<u32>(), b in any::<u32>(), prefix in 0u8..=32) {
            let network = mask(IpAddr::V4(a.into()), prefix);
            let cidr: Cidr = format!("{network}/{prefix}").parse().unwrap();
            let shared = prefix == 0 || (a ^ b) >> (32 - u32::from(prefix)) == 0;
            prop_assert_eq!(cidr.contains(IpAddr::V4(b.into())), shared);
        }
    }
}
