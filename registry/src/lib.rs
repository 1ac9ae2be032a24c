//! `gantry-registry`: where plugins come from and how gantry knows they are the ones
//! the pipeline asked for.
//!
//! A plugin reference ([`PluginRef`], parsed by [`PluginRef::parse`]) is one of
//! - `builtin:NAME` — an official plugin compiled into the gantry binary;
//! - `file:PATH#sha256:HEX` (or `PATH.wasm#sha256:HEX`) — a component on disk, pinned
//!   by the sha256 of its bytes. The pin is required: a reference without one is
//!   refused, and bytes whose digest differs are refused before they are compiled.
//!
//! This crate is the only place that knows that syntax: the manifest parses
//! `plugin = "…"` with it, the host resolves the parsed reference to bytes with it.
//!
//! OCI references (`oci://`) and signatures come later; they will be new variants of
//! [`PluginRef`], resolved to bytes plus a verified [`Digest`] like the others.
//!
//! Tests: unit tests in `reference.rs` and below.

mod reference;

use std::fmt;

use sha2::{Digest as _, Sha256};

pub use reference::{PluginRef, RefError};

/// A sha256 digest of a plugin's bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

/// Why a text is not a sha256 digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestProblem {
    /// Another algorithm than `sha256` (as written, e.g. `md5`).
    #[error("unsupported digest algorithm `{0}`: pins are `sha256:`")]
    Algorithm(String),
    /// The first character that is not a hex digit.
    #[error("it contains `{0}`, which is not a hex digit")]
    NotHex(char),
    /// Only hex digits, but not 64 of them.
    #[error("it has {0} hex digits instead of 64")]
    Length(usize),
}

impl Digest {
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    /// Parses `sha256:<64 lowercase or uppercase hex>` or bare 64 hex digits.
    pub fn parse(text: &str) -> Result<Digest, DigestProblem> {
        match text.split_once(':') {
            Some(("sha256", hex)) => Digest::from_hex(hex),
            Some((algo, _)) => Err(DigestProblem::Algorithm(algo.to_string())),
            None => Digest::from_hex(text),
        }
    }

    /// Parses exactly 64 hex digits, either case.
    pub(crate) fn from_hex(hex: &str) -> Result<Digest, DigestProblem> {
        if let Some(c) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(DigestProblem::NotHex(c));
        }
        let mut out = [0u8; 32];
        if hex.len() != 64 || hex::decode_to_slice(hex, &mut out).is_err() {
            return Err(DigestProblem::Length(hex.len()));
        }
        Ok(Digest(out))
    }

    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn digests_parse_with_or_without_prefix_in_either_case() {
        let d = Digest::parse(HEX).unwrap();
        assert_eq!(d.to_string(), format!("sha256:{HEX}"));
        assert_eq!(
            Digest::parse(&format!("sha256:{}", HEX.to_uppercase())),
            Ok(d)
        );
        assert_eq!(
            Digest::parse("md5:abc"),
            Err(DigestProblem::Algorithm("md5".into()))
        );
        assert_eq!(Digest::parse("sha256:abc"), Err(DigestProblem::Length(3)));
        assert_eq!(
            Digest::parse(&"g".repeat(64)),
            Err(DigestProblem::NotHex('g'))
        );
    }
}
