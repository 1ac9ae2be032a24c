//! Host calls that wait, bounded by the stage's deadline and cancel flag.
//!
//! Epoch interruption stops a guest only while it executes wasm: a guest blocked
//! inside a host call (waiting on a clock that never fires, a response that never
//! comes) is not running code, so the epoch callback cannot end it, and the stage ran
//! as long as the wait lasted (a 1-hour `subscribe-duration` polled under a 2 s
//! timeout ran for the hour). Stages run on a synchronous store, where wasmtime-wasi
//! runs each waiting call as a future driven to completion on the calling thread.
//!
//! Here, every WASI function that can wait is defined again in the linker
//! ([`shadow`], after `add_to_linker_sync` and with shadowing allowed) by a version
//! that drives *the same* wasmtime-wasi implementation (the `wasmtime-wasi-io` host
//! traits of the store's [`ResourceTable`]) raced against the stage's deadline and
//! cancel flag. When the deadline or the cancel flag wins, the call traps with the
//! interrupt the epoch callback raises, so the stage ends exactly as a spinning guest
//! does: `timed out after …` or `cancelled`. `describe` runs under the same store
//! set-up, so a `describe` that waits ends at its 10 s deadline too.
//!
//! Which functions can wait, in what wasmtime-wasi 48 links (`wasi:*@0.2.12`):
//! - `wasi:io/poll`: `poll`, `[method]pollable.block`;
//! - `wasi:io/streams`: `[method]input-stream.blocking-read`, `blocking-skip`,
//!   `[method]output-stream.blocking-write-and-flush`,
//!   `blocking-write-zeroes-and-flush`, `blocking-flush`, `blocking-splice`.
//!
//! Everything else waits through these. `wasi:clocks` has no waiting function: its
//! `subscribe-instant`/`subscribe-duration` return pollables that are waited on by
//! `poll`/`block`. `wasi:http` (`outgoing-handler.handle`, `future-incoming-response`,
//! bodies, trailers) is non-blocking too: a response, a body chunk and trailers are
//! waited for through pollables and streams. `[method]pollable.ready` only peeks. Not
//! shadowed, and why that is bounded elsewhere: `[resource-drop]` of a stream waits for
//! the stream's last write in flight (one chunk, whose transport the http broker
//! bounds by the stage deadline); `wasi:sockets` is never granted (no network in the
//! `WasiCtx`, so every socket operation fails at once).
//!
//! Not bounded here: `wasi:filesystem` calls do their file I/O in the kernel on the
//! stage's own thread (no future to race). The one that could wait indefinitely,
//! opening a FIFO, is refused by the fs capability before it is made
//! (`caps::fs::open`: only regular files and directories are opened).
//!
//! Tests: `tests/e2e/limits.rs` (a guest blocked in `poll` and in `block` on a
//! pollable that is ready only after an hour ends at its 2 s timeout with the timeout
//! reason; a `describe` that blocks ends `gantry check` with a clear error).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::sync::io::streams::{Host as _, StreamError as WitStreamError};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable};
use wasmtime_wasi_io::bindings::wasi::io::poll::{Host as _, HostPollable as _};
use wasmtime_wasi_io::bindings::wasi::io::streams::{HostInputStream as _, HostOutputStream as _};
use wasmtime_wasi_io::streams::StreamError;

use super::{Interrupt, StageState};

/// The `wasi:io` interfaces wasmtime-wasi 48 links (semver-compatible imports of any
/// `wasi:io@0.2.x` resolve to them). A different version here would define new,
/// unused names instead of replacing these: `tests/e2e/limits.rs` would fail.
const POLL: &str = "wasi:io/poll@0.2.12";
const STREAMS: &str = "wasi:io/streams@0.2.12";

/// How often a wait looks at the cancel flag (fail-fast, Ctrl-C, the disk watcher).
const CANCEL_CHECK: Duration = Duration::from_millis(20);

/// Why a stage must stop now, if it must.
fn interrupted(deadline: Instant, cancel: &AtomicBool) -> Option<Interrupt> {
    if cancel.load(Ordering::Relaxed) {
        Some(Interrupt::Cancelled)
    } else if Instant::now() >= deadline {
        Some(Interrupt::Timeout)
    } else {
        None
    }
}

/// Resolves when the stage must stop.
async fn stopped(deadline: Instant, cancel: &AtomicBool) -> Interrupt {
    loop {
        if let Some(i) = interrupted(deadline, cancel) {
            return i;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(left.min(CANCEL_CHECK)).await;
    }
}

/// Drives `wait` to its end on this thread, unless the deadline passes or the stage
/// is cancelled first: then `wait` is dropped and the interrupt is the trap.
pub(crate) fn bounded<F: Future>(
    deadline: Instant,
    cancel: &AtomicBool,
    wait: F,
) -> wasmtime::Result<F::Output> {
    if let Some(i) = interrupted(deadline, cancel) {
        return Err(wasmtime::Error::new(i));
    }
    wasmtime_wasi::runtime::in_tokio(async {
        let mut wait = std::pin::pin!(wait);
        // Most calls are ready at once (stdout, files, a body already buffered): no
        // timer for them, so a guest writing 1 GiB in 4 KiB calls pays nothing more.
        let first = std::future::poll_fn(|cx| Poll::Ready(wait.as_mut().poll(cx))).await;
        if let Poll::Ready(out) = first {
            return Ok(out);
        }
        tokio::select! {
            biased;
            out = wait => Ok(out),
            i = stopped(deadline, cancel) => Err(wasmtime::Error::new(i)),
        }
    })
}

/// The stage's deadline, cancel flag and resource table.
fn parts<'a>(
    store: &'a mut StoreContextMut<'_, StageState>,
) -> (Instant, Arc<AtomicBool>, &'a mut ResourceTable) {
    let s = store.data_mut();
    (s.deadline, s.cancel.clone(), &mut s.table)
}

/// A stream call's result as the guest receives it: a `stream-error` value, or a
/// trap (for wasmtime-wasi's own traps, as its generated glue does).
fn lower<T>(
    table: &mut ResourceTable,
    r: Result<T, StreamError>,
) -> wasmtime::Result<(Result<T, WitStreamError>,)> {
    match r {
        Ok(v) => Ok((Ok(v),)),
        Err(e) => Ok((Err(table.convert_stream_error(e)?),)),
    }
}

/// Replaces the waiting `wasi:io` functions of `linker` (see the module docs). Call
/// after `wasmtime_wasi::p2::add_to_linker_sync`.
pub fn shadow(linker: &mut Linker<StageState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    {
        let mut poll = linker.instance(POLL)?;
        poll.func_wrap(
            "poll",
            |mut store: StoreContextMut<'_, StageState>, (list,): (Vec<Resource<DynPollable>>,)| {
                let (deadline, cancel, table) = parts(&mut store);
                let ready = bounded(deadline, &cancel, table.poll(list))??;
                Ok((ready,))
            },
        )?;
        poll.func_wrap(
            "[method]pollable.block",
            |mut store: StoreContextMut<'_, StageState>, (p,): (Resource<DynPollable>,)| {
                let (deadline, cancel, table) = parts(&mut store);
                bounded(deadline, &cancel, table.block(p))??;
                Ok(())
            },
        )?;
    }
    {
        let mut streams = linker.instance(STREAMS)?;
        streams.func_wrap(
            "[method]input-stream.blocking-read",
            |mut store: StoreContextMut<'_, StageState>,
             (s, len): (Resource<DynInputStream>, u64)| {
                let (deadline, cancel, table) = parts(&mut store);
                let r = bounded(deadline, &cancel, table.blocking_read(s, len))?;
                lower(table, r)
            },
        )?;
        streams.func_wrap(
            "[method]input-stream.blocking-skip",
            |mut store: StoreContextMut<'_, StageState>,
             (s, len): (Resource<DynInputStream>, u64)| {
                let (deadline, cancel, table) = parts(&mut store);
                let r = bounded(deadline, &cancel, table.blocking_skip(s, len))?;
                lower(table, r)
            },
        )?;
        streams.func_wrap(
            "[method]output-stream.blocking-write-and-flush",
            |mut store: StoreContextMut<'_, StageState>,
             (s, bytes): (Resource<DynOutputStream>, Vec<u8>)| {
                let (deadline, cancel, table) = parts(&mut store);
                let r = bounded(deadline, &cancel, table.blocking_write_and_flush(s, bytes))?;
                lower(table, r)
            },
        )?;
        streams.func_wrap(
            "[method]output-stream.blocking-write-zeroes-and-flush",
            |mut store: StoreContextMut<'_, StageState>,
             (s, len): (Resource<DynOutputStream>, u64)| {
                let (deadline, cancel, table) = parts(&mut store);
                let r = bounded(
                    deadline,
                    &cancel,
                    table.blocking_write_zeroes_and_flush(s, len),
                )?;
                lower(table, r)
            },
        )?;
        streams.func_wrap(
            "[method]output-stream.blocking-flush",
            |mut store: StoreContextMut<'_, StageState>, (s,): (Resource<DynOutputStream>,)| {
                let (deadline, cancel, table) = parts(&mut store);
                let r = bounded(deadline, &cancel, table.blocking_flush(s))?;
                lower(table, r)
            },
        )?;
        streams.func_wrap(
            "[method]output-stream.blocking-splice",
            |mut store: StoreContextMut<'_, StageState>,
             (dst, src, len): (Resource<DynOutputStream>, Resource<DynInputStream>, u64)| {
                let (deadline, cancel, table) = parts(&mut store);
                let r = bounded(deadline, &cancel, table.blocking_splice(dst, src, len))?;
                lower(table, r)
            },
        )?;
    }
    linker.allow_shadowing(false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_that_ends_in_time_returns_its_value() {
        let cancel = AtomicBool::new(false);
        let deadline = Instant::now() + Duration::from_secs(60);
        let out = bounded(deadline, &cancel, async { 7 });
        assert!(matches!(out, Ok(7)));
    }

    #[test]
    fn a_wait_past_the_deadline_is_a_timeout() {
        let cancel = AtomicBool::new(false);
        let deadline = Instant::now() + Duration::from_millis(50);
        let out = bounded(deadline, &cancel, std::future::pending::<()>());
        let err = out.expect_err("the wait ends");
        assert!(matches!(
            err.downcast_ref::<Interrupt>(),
            Some(Interrupt::Timeout)
        ));
    }

    #[test]
    fn a_cancelled_stage_stops_waiting() {
        let cancel = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + Duration::from_secs(3600);
        let flag = cancel.clone();
        let setter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            flag.store(true, Ordering::Relaxed);
        });
        let out = bounded(deadline, &cancel, std::future::pending::<()>());
        let _ = setter.join();
        let err = out.expect_err("the wait ends");
        assert!(matches!(
            err.downcast_ref::<Interrupt>(),
            Some(Interrupt::Cancelled)
        ));
    }

    #[test]
    fn nothing_starts_after_the_deadline() {
        let cancel = AtomicBool::new(false);
        let started = AtomicBool::new(false);
        let out = bounded(Instant::now(), &cancel, async {
            started.store(true, Ordering::Relaxed);
        });
        assert!(out.is_err());
        assert!(!started.load(Ordering::Relaxed));
    }
}
