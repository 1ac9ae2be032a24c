//! Unit tests of the http capability's policy and limits (no network).

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

#[test]
fn global_addresses_pass() {
    for a in [
        "1.1.1.1",
        "8.8.8.8",
        "93.184.216.34",
        "172.15.0.1",
        "172.32.0.1",
        "100.63.255.255",
        "2606:4700::1111",
        "2a00:1450::1",
    ] {
        assert_eq!(non_global(ip(a)), None, "{a}");
    }
}

#[test]
fn non_global_addresses_are_refused() {
    for a in [
        "127.0.0.1",
        "127.1.2.3",
        "0.0.0.0",
        "0.1.2.3",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.0.1",
        "100.64.0.1",
        "192.0.2.1",
        "198.18.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",
        "2001:db8::1",
        "::127.0.0.1",
        // Found by the attack suite: forms the old copy of the table missed.
        "64:ff9b::7f00:1",
        "::7f00:1",
        "64:ff9b:1::7f00:1",
        "3fff::1",
        "5f00::1",
    ] {
        assert!(non_global(ip(a)).is_some(), "{a} should be refused");
    }
    assert!(non_global(ip("169.254.169.254")).is_some_and(|k| k.to_string().contains("metadata")));
    assert_eq!(non_global(ip("::ffff:8.8.8.8")), None);
    assert_eq!(non_global(ip("64:ff9b::808:808")), None);
}

#[test]
fn at_most_so_many_requests_in_flight() {
    let count = Arc::new(AtomicUsize::new(0));
    let held: Vec<Slot> = (0..MAX_REQUESTS_IN_FLIGHT)
        .filter_map(|_| Slot::take(&count))
        .collect();
    assert_eq!(held.len(), MAX_REQUESTS_IN_FLIGHT);
    assert!(Slot::take(&count).is_none());
    drop(held);
    assert_eq!(count.load(Ordering::Relaxed), 0);
    assert!(Slot::take(&count).is_some());
}

#[test]
fn response_fields_are_counted_as_wasmtime_counts_them() {
    let mut map = http::HeaderMap::new();
    map.insert("x-a", HeaderValue::from_static("12345"));
    map.append("x-a", HeaderValue::from_static("6"));
    let per = std::mem::size_of::<http::HeaderName>() + std::mem::size_of::<HeaderValue>();
    assert_eq!(fields_size(&map), 3 + 5 + 3 + 1 + 2 * per);
}

#[test]
fn paths_that_could_escape_a_prefix() {
    for p in [
        "/v1/../admin",
        "/v1/./x",
        "/v1/%2e%2e/admin",
        "/v1/%2E%2e/admin",
        "/v1/%252e%252e/admin",
        "/v1/..%2fadmin",
        "/v1\\..\\admin",
        "/..",
    ] {
        assert!(path_problem(p).is_some(), "{p}");
    }
    for p in [
        "/",
        "/v1/",
        "/v1/a..b/c",
        "/v1/...",
        "/v1/x%2fy",
        "/v1/.well-known",
    ] {
        assert_eq!(path_problem(p), None, "{p}");
    }
}
