//! The SSRF guard for URLs a tenant controls (an `http` step's URL, a Slack webhook URL): no
//! loopback, private, link-local, CGNAT, cloud-metadata or otherwise non-public address,
//! unless the operator allowed its range. The check is made on the addresses the connection
//! goes to: the guarded client resolves names through [`GuardedResolver`], which drops every
//! refused address, so a name that resolves to a public address for a check and to a private
//! one for the connection (DNS rebinding) has no window: there is only one resolution.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Which addresses tenant URLs may reach.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// Ranges the operator allows although they are not public (tests, an internal service).
    allowed: Vec<IpNet>,
}

impl Guard {
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self { allowed }
    }

    /// Whether a tenant URL may connect to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.allowed.iter().any(|net| net.contains(&ip)) || is_public(ip)
    }

    /// Checks a URL before it is requested: the scheme, and the host when it is an address
    /// (names are checked as they resolve).
    pub fn check_url(&self, url: &url::Url) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{} is not an http(s) URL", url.scheme()));
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err("the URL has no host".into()),
        };
        if self.permits(ip) {
            Ok(())
        } else {
            Err(format!("{ip} is not a public address"))
        }
    }
}

/// An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is judged as the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let blocked: [([u8; 4], u8); 15] = [
        ([0, 0, 0, 0], 8),       // "this network"
        ([10, 0, 0, 0], 8),      // private
        ([100, 64, 0, 0], 10),   // CGNAT (and Alibaba's metadata 100.100.100.200)
        ([127, 0, 0, 0], 8),     // loopback
        ([169, 254, 0, 0], 16),  // link-local (AWS, GCP, Azure metadata 169.254.169.254)
        ([172, 16, 0, 0], 12),   // private
        ([192, 0, 0, 0], 24),    // IETF protocol assignments
        ([192, 0, 2, 0], 24),    // documentation
        ([192, 88, 99, 0], 24),  // 6to4 relay
        ([192, 168, 0, 0], 16),  // private
        ([198, 18, 0, 0], 15),   // benchmarking
        ([198, 51, 100, 0], 24), // documentation
        ([203, 0, 113, 0], 24),  // documentation
        ([224, 0, 0, 0], 4),     // multicast
        ([240, 0, 0, 0], 4),     // reserved and broadcast
    ];
    !blocked.iter().any(|&(net, prefix)| in_v4(ip, net, prefix))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let blocked = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local (incl. AWS's fd00:ec2::254)
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b; // NAT64 of any IPv4 address
    // 6to4 (2002::/16) embeds an IPv4 address: judge that one.
    if first == 0x2002 {
        let [_, a, b, ..] = ip.segments();
        let v4 = Ipv4Addr::new((a >> 8) as u8, a as u8, (b >> 8) as u8, b as u8);
        return !blocked && is_public_v4(v4);
    }
    !blocked
}

/// Resolves names with the system resolver and keeps only the addresses the guard permits.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub guard: Arc<Guard>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.guard.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| guard.permits(a.ip()))
                .collect();
            if permitted.is_empty() && !all.is_empty() {
                return Err(
                    format!("{host} resolves only to addresses that are not public").into(),
                );
            }
            let addrs: Addrs = Box::new(permitted.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn refuses_every_non_public_range_and_allows_public_ones() {
        let guard = Guard::default();
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.100.100.200",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "2002:7f00:1::1",
            "64:ff9b::a00:1",
        ] {
            assert!(!guard.permits(ip(refused)), "{refused} must be refused");
        }
        for allowed in [
            "93.184.215.14",
            "8.8.8.8",
            "172.32.0.1",
            "2606:4700::1111",
            "2002:808:808::1",
        ] {
            assert!(guard.permits(ip(allowed)), "{allowed} must be allowed");
        }
    }

    #[test]
    fn an_operator_range_is_allowed_and_nothing_else_is() {
        let guard = Guard::new(vec!["127.0.0.0/8".parse().expect("a range")]);
        assert!(guard.permits(ip("127.0.0.1")));
        assert!(guard.permits(ip("::ffff:127.0.0.2")));
        assert!(!guard.permits(ip("10.0.0.1")));
    }

    #[test]
    fn urls_with_refused_addresses_or_other_schemes_are_refused() {
        let guard = Guard::default();
        let check = |u: &str| guard.check_url(&url::Url::parse(u).expect("a URL"));
        assert!(check("http://169.254.169.254/latest/meta-data/").is_err());
        assert!(check("http://[::1]:8080/").is_err());
        assert!(
            check("http://2130706433/").is_err(),
            "127.0.0.1 written as a number"
        );
        assert!(check("file:///etc/passwd").is_err());
        assert!(check("https://hooks.slack.com/services/x").is_ok());
    }

    #[tokio::test]
    async fn names_resolving_only_to_refused_addresses_are_refused() {
        let resolver = GuardedResolver {
            guard: Arc::new(Guard::default()),
        };
        let name: Name = "localhost".parse().expect("a name");
        let err = resolver.resolve(name).await.err().expect("refused");
        assert!(err.to_string().contains("not public"), "{err}");
    }
}
