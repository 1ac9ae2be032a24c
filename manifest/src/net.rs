//! Non-global IP addresses: the one table gantry uses to decide whether an address
//! reaches something other than the public internet — the machine running gantry,
//! its internal network, a cloud metadata endpoint, or nothing routable.
//!
//! Used by the http broker at run time (a resolved address that is not global is
//! refused unless a grant names it, `host/src/caps/http/`), by `gantry audit` (a
//! grant naming such an address is flagged, `host/src/cli/audit.rs`) and through
//! [`crate::HttpGrant::non_global`] by whatever inspects grants: all three answer from
//! [`non_global`], so `check`, `audit` and the runtime cannot disagree.
//!
//! The table is the IANA IPv4 and IPv6 Special-Purpose Address Registries (as of
//! 2025: RFC 6890 and its updates, including RFC 8215 `64:ff9b:1::/48`, RFC 9602
//! `5f00::/16`, RFC 9637 `3fff::/20`, RFC 9780 `100:0:0:1::/64`): every block whose
//! "globally reachable" is `False`, minus the globally reachable blocks nested in
//! them (PCP and TURN anycast, AMT, AS112, ORCHIDv2, DETs); plus multicast,
//! `fec0::/10` (deprecated site-local), and any IPv6 address outside `2000::/3`, the
//! only block IANA allocates as global unicast. Addresses that carry an IPv4 address
//! are judged by it as well: IPv4-mapped `::ffff:a.b.c.d` and NAT64 `64:ff9b::a.b.c.d`
//! and 6to4 `2002:AABB:CCDD::` are exactly as global as their IPv4 address;
//! IPv4-compatible `::a.b.c.d` and Teredo `2001:0::/32` are never global, and name the
//! embedded address in the reason when it is itself not global.
//!
//! `std`'s `is_global` is unstable and narrower; tests below pin every block.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not global: its block and what that means for a stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NonGlobal {
    /// The registry block, e.g. `127.0.0.0/8`.
    pub block: &'static str,
    /// What it is, e.g. `loopback: services on the machine running gantry`.
    pub what: &'static str,
    /// For an IPv6 address judged by the IPv4 address it carries: the form
    /// (`NAT64`, `IPv4-mapped`, …) and that address.
    pub embedded: Option<(&'static str, Ipv4Addr)>,
}

impl fmt::Display for NonGlobal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.embedded {
            Some((form, v4)) => write!(
                f,
                "{} ({}), through its {form} form of `{v4}`",
                self.what, self.block
            ),
            None => write!(f, "{} ({})", self.what, self.block),
        }
    }
}

struct Block<T> {
    net: T,
    len: u32,
    block: &'static str,
    what: &'static str,
}

const LOOPBACK: &str = "loopback: services on the machine running gantry";
const PRIVATE: &str = "private-use: the internal network";
const DOCS: &str = "documentation: not routable";
const IETF: &str = "IETF protocol assignments: not globally reachable";

const fn v4(
    a: u8,
    b: u8,
    c: u8,
    d: u8,
    len: u32,
    block: &'static str,
    what: &'static str,
) -> Block<u32> {
    Block {
        net: u32::from_be_bytes([a, b, c, d]),
        len,
        block,
        what,
    }
}

/// IPv4 blocks that are not globally reachable.
const V4: &[Block<u32>] = &[
    v4(
        0,
        0,
        0,
        0,
        8,
        "0.0.0.0/8",
        "\"this network\": `0.0.0.0` reaches the machine running gantry",
    ),
    v4(10, 0, 0, 0, 8, "10.0.0.0/8", PRIVATE),
    v4(
        100,
        64,
        0,
        0,
        10,
        "100.64.0.0/10",
        "shared address space (CGNAT): a provider's internal network",
    ),
    v4(127, 0, 0, 0, 8, "127.0.0.0/8", LOOPBACK),
    v4(
        169,
        254,
        0,
        0,
        16,
        "169.254.0.0/16",
        "link-local: includes the cloud metadata endpoint 169.254.169.254, which hands out credentials",
    ),
    v4(172, 16, 0, 0, 12, "172.16.0.0/12", PRIVATE),
    v4(192, 0, 0, 0, 24, "192.0.0.0/24", IETF),
    v4(192, 0, 2, 0, 24, "192.0.2.0/24", DOCS),
    v4(
        192,
        88,
        99,
        0,
        24,
        "192.88.99.0/24",
        "6to4 relay anycast (deprecated)",
    ),
    v4(192, 168, 0, 0, 16, "192.168.0.0/16", PRIVATE),
    v4(
        198,
        18,
        0,
        0,
        15,
        "198.18.0.0/15",
        "benchmarking: not routable",
    ),
    v4(198, 51, 100, 0, 24, "198.51.100.0/24", DOCS),
    v4(203, 0, 113, 0, 24, "203.0.113.0/24", DOCS),
    v4(224, 0, 0, 0, 4, "224.0.0.0/4", "multicast"),
    v4(240, 0, 0, 0, 4, "240.0.0.0/4", "reserved"),
    v4(
        255,
        255,
        255,
        255,
        32,
        "255.255.255.255/32",
        "limited broadcast",
    ),
];

/// Globally reachable blocks nested in [`V4`] blocks.
const V4_GLOBAL: &[Block<u32>] = &[
    v4(192, 0, 0, 9, 32, "192.0.0.9/32", "PCP anycast"),
    v4(192, 0, 0, 10, 32, "192.0.0.10/32", "TURN anycast"),
];

const fn v6(segments: [u16; 8], len: u32, block: &'static str, what: &'static str) -> Block<u128> {
    let mut net: u128 = 0;
    let mut i = 0;
    while i < 8 {
        net = (net << 16) | segments[i] as u128;
        i += 1;
    }
    Block {
        net,
        len,
        block,
        what,
    }
}

/// IPv6 blocks that are not globally reachable (everything outside `2000::/3` is
/// refused after these, see [`non_global`]).
const V6: &[Block<u128>] = &[
    v6(
        [0, 0, 0, 0, 0, 0, 0, 0],
        128,
        "::/128",
        "unspecified: reaches the machine running gantry",
    ),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "::1/128", LOOPBACK),
    v6(
        [0, 0, 0, 0, 0, 0, 0, 0],
        96,
        "::/96",
        "IPv4-compatible (deprecated): not routable",
    ),
    v6(
        [0, 0, 0, 0, 0, 0xffff, 0, 0],
        96,
        "::ffff:0:0/96",
        "IPv4-mapped",
    ),
    v6(
        [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
        48,
        "64:ff9b:1::/48",
        "local-use IPv4/IPv6 translation: the internal network",
    ),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "100::/64", "discard-only"),
    v6(
        [0x100, 0, 0, 1, 0, 0, 0, 0],
        64,
        "100:0:0:1::/64",
        "dummy prefix: not routable",
    ),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, "2001::/23", IETF),
    v6(
        [0x2001, 0, 0, 0, 0, 0, 0, 0],
        32,
        "2001::/32",
        "Teredo tunnelling: not globally reachable",
    ),
    v6(
        [0x2001, 2, 0, 0, 0, 0, 0, 0],
        48,
        "2001:2::/48",
        "benchmarking: not routable",
    ),
    v6(
        [0x2001, 0x10, 0, 0, 0, 0, 0, 0],
        28,
        "2001:10::/28",
        "ORCHID (deprecated): not routable",
    ),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "2001:db8::/32", DOCS),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "3fff::/20", DOCS),
    v6(
        [0x5f00, 0, 0, 0, 0, 0, 0, 0],
        16,
        "5f00::/16",
        "segment routing (SRv6) SIDs: not globally reachable",
    ),
    v6(
        [0xfc00, 0, 0, 0, 0, 0, 0, 0],
        7,
        "fc00::/7",
        "unique local: the internal network",
    ),
    v6(
        [0xfe80, 0, 0, 0, 0, 0, 0, 0],
        10,
        "fe80::/10",
        "link-local: the local network segment",
    ),
    v6(
        [0xfec0, 0, 0, 0, 0, 0, 0, 0],
        10,
        "fec0::/10",
        "site-local (deprecated): the internal network",
    ),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "ff00::/8", "multicast"),
];

/// Globally reachable blocks nested in [`V6`] blocks.
const V6_GLOBAL: &[Block<u128>] = &[
    v6(
        [0x2001, 1, 0, 0, 0, 0, 0, 1],
        128,
        "2001:1::1/128",
        "PCP anycast",
    ),
    v6(
        [0x2001, 1, 0, 0, 0, 0, 0, 2],
        128,
        "2001:1::2/128",
        "TURN anycast",
    ),
    v6(
        [0x2001, 1, 0, 0, 0, 0, 0, 3],
        128,
        "2001:1::3/128",
        "DNS-SD SRP anycast",
    ),
    v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32, "2001:3::/32", "AMT"),
    v6(
        [0x2001, 4, 0x112, 0, 0, 0, 0, 0],
        48,
        "2001:4:112::/48",
        "AS112-v6",
    ),
    v6(
        [0x2001, 0x20, 0, 0, 0, 0, 0, 0],
        28,
        "2001:20::/28",
        "ORCHIDv2",
    ),
    v6(
        [0x2001, 0x30, 0, 0, 0, 0, 0, 0],
        28,
        "2001:30::/28",
        "drone remote ID (DETs)",
    ),
];

const OUTSIDE_UNICAST: NonGlobal = NonGlobal {
    block: "outside 2000::/3",
    what: "reserved by the IETF: not global unicast",
    embedded: None,
};

fn contains4(b: &Block<u32>, ip: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - b.len).unwrap_or(0);
    ip & mask == b.net
}

fn contains6(b: &Block<u128>, ip: u128) -> bool {
    let mask = u128::MAX.checked_shl(128 - b.len).unwrap_or(0);
    ip & mask == b.net
}

/// The most specific block of `table` holding the address.
fn longest<T>(
    table: &'static [Block<T>],
    hit: impl Fn(&Block<T>) -> bool,
) -> Option<&'static Block<T>> {
    table.iter().filter(|b| hit(b)).max_by_key(|b| b.len)
}

fn found<T>(b: &Block<T>) -> NonGlobal {
    NonGlobal {
        block: b.block,
        what: b.what,
        embedded: None,
    }
}

/// Why `ip` may not be contacted unless a grant names it; `None` for a globally
/// reachable unicast address.
pub fn non_global(ip: IpAddr) -> Option<NonGlobal> {
    match ip {
        IpAddr::V4(v4) => non_global_v4(v4),
        IpAddr::V6(v6) => non_global_v6(v6),
    }
}

fn non_global_v4(ip: Ipv4Addr) -> Option<NonGlobal> {
    let n = u32::from(ip);
    if V4_GLOBAL.iter().any(|b| contains4(b, n)) {
        return None;
    }
    longest(V4, |b| contains4(b, n)).map(found)
}

/// The IPv4 address an IPv6 address carries, its form, and whether the IPv6 address
/// is exactly as global as it (`false`: never global, whatever it carries).
fn embedded(ip: Ipv6Addr) -> Option<(&'static str, Ipv4Addr, bool)> {
    let n = u128::from(ip);
    let low = Ipv4Addr::from(n as u32);
    let s = ip.segments();
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(("IPv4-mapped", low, true)),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(("NAT64", low, true)),
        [0x2002, ..] => Some(("6to4", Ipv4Addr::from((n >> 80) as u32), true)),
        // Teredo carries the client's address with every bit inverted.
        [0x2001, 0, ..] => Some(("Teredo", Ipv4Addr::from(!(n as u32)), false)),
        // `::` and `::1` are themselves, not IPv4-compatible forms.
        [0, 0, 0, 0, 0, 0, _, _] if n > 1 => Some(("IPv4-compatible", low, false)),
        _ => None,
    }
}

fn non_global_v6(ip: Ipv6Addr) -> Option<NonGlobal> {
    let n = u128::from(ip);
    if V6_GLOBAL.iter().any(|b| contains6(b, n)) {
        return None;
    }
    if let Some((form, v4, same)) = embedded(ip) {
        if let Some(inner) = non_global_v4(v4) {
            return Some(NonGlobal {
                embedded: Some((form, v4)),
                ..inner
            });
        }
        if same {
            return None;
        }
    }
    if let Some(b) = longest(V6, |b| contains6(b, n)) {
        return Some(found(b));
    }
    // IANA allocates global unicast from 2000::/3 only.
    if n >> 125 != 1 {
        return Some(OUTSIDE_UNICAST);
    }
    None
}

/// [`non_global`] for a grant's or request's host as written: an IP literal (IPv6
/// with or without brackets), or a name that always means loopback (`localhost`,
/// `*.localhost`, RFC 6761). Other names are `None`: what they resolve to is judged
/// when they are resolved.
pub fn host_non_global(host: &str) -> Option<NonGlobal> {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    let lower = h.to_ascii_lowercase();
    let name = lower.strip_suffix('.').unwrap_or(&lower);
    if name == "localhost" || name.ends_with(".localhost") {
        return Some(NonGlobal {
            block: "the name `localhost`, RFC 6761",
            what: LOOPBACK,
            embedded: None,
        });
    }
    non_global(h.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ng(s: &str) -> Option<NonGlobal> {
        non_global(s.parse().unwrap_or_else(|e| panic!("{s}: {e}")))
    }

    fn block(s: &str) -> &'static str {
        ng(s)
            .unwrap_or_else(|| panic!("{s} should not be global"))
            .block
    }

    #[test]
    fn global_unicast_passes() {
        for a in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "192.0.1.1",
            "192.0.0.9",
            "192.0.0.10",
            "192.31.196.1",
            "192.52.193.1",
            "192.175.48.1",
            "223.255.255.255",
            "2606:4700::1111",
            "2a00:1450::1",
            "2001:1::1",
            "2001:1::2",
            "2001:1::3",
            "2001:3::1",
            "2001:4:112::1",
            "2001:20::1",
            "2001:30::1",
            "2001:200::1",
            "2620:4f:8000::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(ng(a), None, "{a}");
        }
    }

    #[test]
    fn every_ipv4_registry_block() {
        for (a, b) in [
            ("0.0.0.0", "0.0.0.0/8"),
            ("0.1.2.3", "0.0.0.0/8"),
            ("10.0.0.1", "10.0.0.0/8"),
            ("100.64.0.1", "100.64.0.0/10"),
            ("100.127.255.255", "100.64.0.0/10"),
            ("127.0.0.1", "127.0.0.0/8"),
            ("127.1.2.3", "127.0.0.0/8"),
            ("169.254.169.254", "169.254.0.0/16"),
            ("172.16.0.1", "172.16.0.0/12"),
            ("172.31.255.255", "172.16.0.0/12"),
            ("192.0.0.1", "192.0.0.0/24"),
            ("192.0.0.170", "192.0.0.0/24"),
            ("192.0.2.1", "192.0.2.0/24"),
            ("192.88.99.1", "192.88.99.0/24"),
            ("192.168.1.1", "192.168.0.0/16"),
            ("198.18.0.1", "198.18.0.0/15"),
            ("198.19.255.255", "198.18.0.0/15"),
            ("198.51.100.7", "198.51.100.0/24"),
            ("203.0.113.9", "203.0.113.0/24"),
            ("224.0.0.1", "224.0.0.0/4"),
            ("239.255.255.255", "224.0.0.0/4"),
            ("240.0.0.1", "240.0.0.0/4"),
            ("255.255.255.254", "240.0.0.0/4"),
            ("255.255.255.255", "255.255.255.255/32"),
        ] {
            assert_eq!(block(a), b, "{a}");
        }
        assert!(ng("169.254.169.254").is_some_and(|n| n.to_string().contains("metadata")));
    }

    #[test]
    fn every_ipv6_registry_block() {
        for (a, b) in [
            ("::", "::/128"),
            ("::1", "::1/128"),
            ("::101:101", "::/96"),
            ("64:ff9b:1::1", "64:ff9b:1::/48"),
            ("64:ff9b:1:ffff::808:808", "64:ff9b:1::/48"),
            ("100::1", "100::/64"),
            ("100:0:0:1::1", "100:0:0:1::/64"),
            ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "2001::/32"),
            ("2001:2::1", "2001:2::/48"),
            ("2001:10::1", "2001:10::/28"),
            ("2001:100::1", "2001::/23"),
            ("2001:1::4", "2001::/23"),
            ("2001:db8::1", "2001:db8::/32"),
            ("3fff::1", "3fff::/20"),
            ("3fff:fff::1", "3fff::/20"),
            ("5f00::1", "5f00::/16"),
            ("fc00::1", "fc00::/7"),
            ("fd12:3456::1", "fc00::/7"),
            ("fe80::1", "fe80::/10"),
            ("febf::1", "fe80::/10"),
            ("fec0::1", "fec0::/10"),
            ("ff02::1", "ff00::/8"),
            ("4000::1", "outside 2000::/3"),
            ("1::1", "outside 2000::/3"),
            ("64:ff9a::1", "outside 2000::/3"),
        ] {
            assert_eq!(block(a), b, "{a}");
        }
        // Just past the documentation block is ordinary global unicast.
        assert_eq!(ng("3fff:1000::1"), None);
        assert_eq!(ng("4000::"), Some(OUTSIDE_UNICAST));
        assert_eq!(ng("3000::1"), None);
    }

    #[test]
    fn embedded_ipv4_forms_are_judged_by_their_ipv4_address() {
        for (a, form, v4, b) in [
            (
                "::ffff:127.0.0.1",
                "IPv4-mapped",
                "127.0.0.1",
                "127.0.0.0/8",
            ),
            (
                "::ffff:169.254.169.254",
                "IPv4-mapped",
                "169.254.169.254",
                "169.254.0.0/16",
            ),
            ("::ffff:10.0.0.1", "IPv4-mapped", "10.0.0.1", "10.0.0.0/8"),
            ("64:ff9b::7f00:1", "NAT64", "127.0.0.1", "127.0.0.0/8"),
            (
                "64:ff9b::a9fe:a9fe",
                "NAT64",
                "169.254.169.254",
                "169.254.0.0/16",
            ),
            ("64:ff9b::c612:1", "NAT64", "198.18.0.1", "198.18.0.0/15"),
            ("64:ff9b::1", "NAT64", "0.0.0.1", "0.0.0.0/8"),
            ("::7f00:1", "IPv4-compatible", "127.0.0.1", "127.0.0.0/8"),
            ("::127.0.0.1", "IPv4-compatible", "127.0.0.1", "127.0.0.0/8"),
            ("2002:7f00:1::", "6to4", "127.0.0.1", "127.0.0.0/8"),
            (
                "2002:a9fe:a9fe::1",
                "6to4",
                "169.254.169.254",
                "169.254.0.0/16",
            ),
            // Teredo client 127.0.0.1 is stored inverted: !0x7f000001 = 0x80fffffe.
            (
                "2001:0:4136:e378:8000:63bf:80ff:fffe",
                "Teredo",
                "127.0.0.1",
                "127.0.0.0/8",
            ),
        ] {
            let n = ng(a).unwrap_or_else(|| panic!("{a} should not be global"));
            assert_eq!(n.block, b, "{a}");
            assert_eq!(n.embedded, Some((form, v4.parse().expect("v4"))), "{a}");
            let text = n.to_string();
            assert!(text.contains(form) && text.contains(v4), "{a}: {text}");
        }
        // IPv4-compatible and Teredo forms of global addresses are still refused.
        assert_eq!(block("::808:808"), "::/96");
        assert_eq!(block("2001:0:4136:e378:8000:63bf:f7f7:f7f7"), "2001::/32");
    }

    #[test]
    fn hosts_as_written() {
        let h = |s: &str| host_non_global(s).map(|n| n.block);
        assert_eq!(h("127.0.0.1"), Some("127.0.0.0/8"));
        assert_eq!(h("[::1]"), Some("::1/128"));
        assert_eq!(h("::1"), Some("::1/128"));
        assert_eq!(h("[64:ff9b::7f00:1]"), Some("127.0.0.0/8"));
        assert_eq!(h("localhost"), Some("the name `localhost`, RFC 6761"));
        assert_eq!(h("LocalHost."), Some("the name `localhost`, RFC 6761"));
        assert_eq!(h("api.localhost"), Some("the name `localhost`, RFC 6761"));
        assert_eq!(h("example.com"), None);
        assert_eq!(h("localhost.example.com"), None);
        assert_eq!(h("8.8.8.8"), None);
    }
}
