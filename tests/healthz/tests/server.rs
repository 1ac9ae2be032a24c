//! The built `healthz` binary end to end on loopback: statuses, version, concurrent
//! connections, the probe subcommand and a prompt exit on SIGTERM.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_healthz");

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

fn start(env: &[(&str, &str)]) -> Server {
    let port = free_port();
    let mut cmd = Command::new(BIN);
    cmd.arg(port.to_string())
        .env_remove("HEALTHZ_STATUS")
        .env_remove("HEALTHZ_FAIL_AFTER")
        .env_remove("VERSION")
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("start healthz");
    // A hang watchdog: how fast it listens depends on the machine's load.
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "healthz never listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Server { child, port }
}

fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read reply");
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not HTTP: {out:?}"));
    let body = out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

#[test]
fn healthz_is_200_by_default_and_root_names_the_version() {
    let s = start(&[("VERSION", "v1.2.3")]);
    assert_eq!(get(s.port, "/healthz"), (200, "ok\n".to_string()));
    assert_eq!(get(s.port, "/"), (200, "v1.2.3\n".to_string()));
    assert_eq!(get(s.port, "/nope").0, 404);
}

#[test]
fn healthz_status_comes_from_the_environment() {
    let s = start(&[("HEALTHZ_STATUS", "500")]);
    assert_eq!(get(s.port, "/healthz"), (500, "unhealthy\n".to_string()));
    assert_eq!(get(s.port, "/").0, 200, "/ still serves while unhealthy");
}

#[test]
fn healthz_turns_500_after_the_given_number_of_requests() {
    let s = start(&[("HEALTHZ_FAIL_AFTER", "2")]);
    let codes: Vec<u16> = (0..4).map(|_| get(s.port, "/healthz").0).collect();
    assert_eq!(codes, [200, 200, 500, 500]);
}

#[test]
fn a_silent_client_does_not_block_others() {
    let s = start(&[]);
    // Connections that never send a request hold their threads, not the server.
    let _idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(("127.0.0.1", s.port)).expect("connect"))
        .collect();
    assert_eq!(get(s.port, "/healthz").0, 200);
}

#[test]
fn probe_exit_code_follows_health() {
    let ok = start(&[]);
    let st = Command::new(BIN)
        .args(["probe", &ok.port.to_string()])
        .status()
        .expect("run probe");
    assert!(st.success(), "probe of a healthy server: {st}");
    let bad = start(&[("HEALTHZ_STATUS", "503")]);
    let out = Command::new(BIN)
        .args(["probe", &bad.port.to_string()])
        .output()
        .expect("run probe");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("answered 503"));
    let none = Command::new(BIN)
        .args(["probe", &free_port().to_string()])
        .output()
        .expect("run probe");
    assert!(!none.status.success(), "probe of a closed port must fail");
}

#[test]
fn sigterm_exits_promptly_and_cleanly() {
    let mut s = start(&[]);
    let t0 = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let status = loop {
        if let Some(st) = s.child.try_wait().expect("wait") {
            break st;
        }
        // A hang watchdog only (a loaded machine may be slow to schedule it).
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "healthz ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0), "{status}");
}

#[test]
fn a_mistyped_setting_stops_startup_with_its_name() {
    let out = Command::new(BIN)
        .arg(free_port().to_string())
        .env("HEALTHZ_STATUS", "5OO")
        .output()
        .expect("run healthz");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HEALTHZ_STATUS=\"5OO\""), "{err}");
}
