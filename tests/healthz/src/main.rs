//! The `healthz` binary: `healthz [PORT]` serves, `healthz probe [PORT]` checks.
//!
//! Serving: one thread per connection, one request per connection. As PID 1 of a
//! container the kernel drops SIGTERM unless the process installs a handler, which
//! would make every `docker stop` wait its full timeout; so SIGTERM and SIGINT get a
//! handler that exits at once (there is no state to flush).
//!
//! Probing: a scratch image has no curl or wget, so the same binary is the image's
//! `HEALTHCHECK`: it GETs `http://127.0.0.1:PORT/healthz` and exits 0 on a 2xx, 1
//! otherwise. Tested by `tests/server.rs`.

use gantry_healthz::{Config, MAX_HEAD, Response, parse_head, probe_port, respond};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A client that sends nothing must not hold a thread forever.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env = |k: &str| std::env::var(k).ok();
    if args.first().map(String::as_str) == Some("probe") {
        return match probe_port(&args[1..], env).and_then(probe) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("healthz probe: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let cfg = match Config::from_sources(&args, env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("healthz: {e}");
            return ExitCode::from(2);
        }
    };
    exit_on_sigterm();
    match serve(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("healthz: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(cfg: Config) -> Result<(), String> {
    // All interfaces: inside a container the published port arrives on eth0.
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, cfg.port));
    let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!(
        "healthz {} listening on {addr} (/healthz status {}{})",
        cfg.version,
        cfg.status,
        cfg.fail_after
            .map(|n| format!(", 500 after {n} requests"))
            .unwrap_or_default()
    );
    let cfg = Arc::new(cfg);
    let seen = Arc::new(AtomicU64::new(0));
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                let (cfg, seen) = (Arc::clone(&cfg), Arc::clone(&seen));
                std::thread::spawn(move || handle(stream, &cfg, &seen));
            }
            // e.g. EMFILE under a connection flood: keep serving the others.
            Err(e) => eprintln!("healthz: accept: {e}"),
        }
    }
    Ok(())
}

fn handle(mut stream: TcpStream, cfg: &Config, seen: &AtomicU64) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let response = match read_head(&mut stream) {
        Ok(head) => match parse_head(&head) {
            Ok((method, path)) => {
                let n = if path == "/healthz" {
                    seen.fetch_add(1, Ordering::SeqCst)
                } else {
                    0
                };
                let r = respond(cfg, &method, &path, n);
                println!("{method} {path} -> {}", r.status);
                r
            }
            Err(e) => Response {
                status: 400,
                body: format!("{e}\n"),
            },
        },
        Err(e) => Response {
            status: 400,
            body: format!("{e}\n"),
        },
    };
    if !cfg.delay.is_zero() {
        std::thread::sleep(cfg.delay);
    }
    let _ = stream.write_all(&response.to_http());
    let _ = stream.flush();
}

/// Bytes up to the blank line that ends the head (a GET has no body to wait for).
fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut buf)
            .map_err(|e| format!("reading the request: {e}"))?;
        if n == 0 {
            return Err("connection closed before the request head ended".into());
        }
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(head);
        }
        if head.len() > MAX_HEAD {
            return Err(format!("request head longer than {MAX_HEAD} bytes"));
        }
    }
}

fn probe(port: u16) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let _ = s.set_read_timeout(Some(IO_TIMEOUT));
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("sending to {addr}: {e}"))?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply)
        .map_err(|e| format!("reading from {addr}: {e}"))?;
    let text = String::from_utf8_lossy(&reply);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| format!("{addr} did not answer HTTP: {:?}", text.lines().next()))?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("/healthz on {addr} answered {status}"))
    }
}

// The C library std already links; declaring the two calls avoids a `libc` dependency.
unsafe extern "C" {
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
    fn _exit(status: i32) -> !;
}

/// Linux signal numbers, the same on every architecture gantry's images target.
const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

extern "C" fn exit_now(_signum: i32) {
    // _exit is async-signal-safe; std::process::exit (atexit handlers, locks) is not.
    // SAFETY: terminates the process without touching any Rust state.
    unsafe { _exit(0) }
}

fn exit_on_sigterm() {
    for sig in [SIGTERM, SIGINT] {
        // SAFETY: installs a handler that only calls an async-signal-safe function;
        // glibc's signal() keeps it installed (BSD semantics).
        unsafe {
            signal(sig, exit_now);
        }
    }
}
