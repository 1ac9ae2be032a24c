//! The official plugins, compiled to wasm by `build.rs` and embedded in the binary.

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// Bytes of `builtin:NAME`.
pub fn get(name: &str) -> Option<&'static [u8]> {
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

/// Names of every builtin plugin, sorted.
pub fn names() -> Vec<String> {
    BUILTINS.iter().map(|(n, _)| n.to_string()).collect()
}
