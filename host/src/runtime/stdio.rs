//! Captured stdout/stderr of a plugin: written line by line into the stage log up to
//! a cap; past the cap the bytes are counted and dropped, and the log says so.
//!
//! The guest is never trapped for writing too much: it keeps running (until its own
//! end or its timeout), it just is not heard any more.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use crate::run::log::StageLog;

/// Longest line kept whole; longer lines are split.
const MAX_LINE: usize = 8 * 1024;

struct State {
    written: u64,
    dropped: u64,
    partial: Vec<u8>,
}

/// A capped output stream feeding a [`StageLog`].
#[derive(Clone)]
pub struct CappedOutput {
    source: &'static str,
    cap: u64,
    log: Arc<StageLog>,
    state: Arc<Mutex<State>>,
}

impl CappedOutput {
    pub fn new(source: &'static str, cap: u64, log: Arc<StageLog>) -> CappedOutput {
        CappedOutput {
            source,
            cap,
            log,
            state: Arc::new(Mutex::new(State {
                written: 0,
                dropped: 0,
                partial: Vec::new(),
            })),
        }
    }

    fn push(&self, bytes: &[u8]) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let room = self.cap.saturating_sub(st.written) as usize;
        let (kept, dropped) = bytes.split_at(bytes.len().min(room));
        st.written += kept.len() as u64;
        st.dropped += dropped.len() as u64;
        for &b in kept {
            if b == b'\n' || st.partial.len() >= MAX_LINE {
                let line = String::from_utf8_lossy(&st.partial).into_owned();
                st.partial.clear();
                // The log redacts it, and joins it with its neighbours to catch a
                // value cut at this newline or at MAX_LINE.
                self.log.stream_line(self.source, &line, b == b'\n');
                if b == b'\n' {
                    continue;
                }
            }
            st.partial.push(b);
        }
    }

    /// Flushes a last partial line and writes the truncation note; returns bytes dropped.
    pub fn finish(&self) -> u64 {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !st.partial.is_empty() {
            let line = String::from_utf8_lossy(&st.partial).into_owned();
            st.partial.clear();
            self.log.stream_line(self.source, &line, false);
        }
        if st.dropped > 0 {
            self.log.line(
                "gantry",
                &format!(
                    "{} truncated: kept the first {} bytes, dropped {} bytes",
                    self.source, self.cap, st.dropped
                ),
            );
        }
        st.dropped
    }
}

impl IsTerminal for CappedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for CappedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for CappedOutput {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
