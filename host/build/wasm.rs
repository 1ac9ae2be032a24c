//! Shared by `host/build.rs` (official plugins) and `tests/build.rs` (test plugins):
//! compile workspace crates to `wasm32-wasip2` components with a nested cargo.
//!
//! The nested cargo uses its own target directory (`<target>/wasm`), so it never waits
//! on the lock of the build that runs this script, and the plugins are built once for
//! every host profile.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `<target>` of the outer build, derived from `OUT_DIR` (`<target>/<profile>/build/<pkg>/out`).
pub fn outer_target_dir() -> PathBuf {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    // out -> <pkg> -> build -> <profile> -> <target>; with --target there is one more level.
    let mut dir = out.clone();
    for _ in 0..4 {
        dir.pop();
    }
    if dir.join("CACHEDIR.TAG").exists() || dir.ends_with("target") {
        dir
    } else {
        let mut up = dir.clone();
        up.pop();
        up
    }
}

/// Builds `packages` (library targets) for wasm32-wasip2 with `profile` and returns
/// `(package, path of the .wasm)` for each.
pub fn build_components(
    workspace: &Path,
    packages: &[&str],
    profile: &str,
) -> Vec<(String, PathBuf)> {
    let target_dir = outer_target_dir().join("wasm");
    ensure_target(&target_dir);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .arg("build")
        .arg("--target")
        .arg("wasm32-wasip2")
        .arg("--profile")
        .arg(profile)
        .arg("--lib")
        .arg("--target-dir")
        .arg(&target_dir);
    for p in packages {
        cmd.arg("-p").arg(p);
    }
    // Reproducible bytes, so a builtin's digest (recorded in gantry.lock) does not depend
    // on where the checkout or the cargo home is.
    let cargo_home = std::env::var("CARGO_HOME")
        .ok()
        .or_else(|| std::env::var("HOME").ok().map(|h| format!("{h}/.cargo")))
        .unwrap_or_default();
    let mut flags = vec![
        format!("--remap-path-prefix={}=/gantry", workspace.display()),
        // Fixed-width SIMD (wasm 2.0; every engine gantry runs on supports it): memchr,
        // regex prefilters and the scanners' byte loops use 128-bit vectors in wasm as
        // they use SSE/AVX natively.
        "-Ctarget-feature=+simd128".to_string(),
    ];
    if !cargo_home.is_empty() {
        flags.push(format!("--remap-path-prefix={cargo_home}=/cargo"));
    }
    cmd.env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"));
    // The outer build's flags are for the host target, not for wasm.
    for var in [
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_LLVM_COV",
        "CARGO_LLVM_COV_TARGET_DIR",
        "LLVM_PROFILE_FILE",
        "CARGO_INCREMENTAL",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("run cargo to build wasm plugins");
    if !status.success() {
        panic!("building {packages:?} for wasm32-wasip2 failed (cargo's errors are above)");
    }
    let dir = target_dir.join("wasm32-wasip2").join(profile);
    packages
        .iter()
        .map(|p| {
            let file = dir.join(format!("{}.wasm", p.replace('-', "_")));
            assert!(file.exists(), "{} was not produced", file.display());
            (p.to_string(), file)
        })
        .collect()
}

/// The target the plugins are built for.
const TARGET: &str = "wasm32-wasip2";

/// Makes sure the toolchain building gantry has the standard library of
/// [`TARGET`]: with rustup, it is installed (rustup adds the targets of
/// `rust-toolchain.toml` only when its auto-install is on, and CI images often set
/// `RUSTUP_AUTO_INSTALL=0`); without rustup, the build stops with one sentence saying
/// what to install. Builds of the host and of the test plugins may get here at once:
/// a lock file serializes the install.
fn ensure_target(target_dir: &Path) {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let installed = || {
        Command::new(&rustc)
            .args(["--print", "sysroot"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| {
                let sysroot = String::from_utf8_lossy(&o.stdout).trim().to_string();
                PathBuf::from(&sysroot)
                    .join("lib/rustlib")
                    .join(TARGET)
                    .join("lib")
                    .is_dir()
            })
            .unwrap_or(false)
    };
    if installed() {
        return;
    }
    let _ = std::fs::create_dir_all(target_dir);
    let lock = std::fs::File::create(target_dir.join(".rustup-target.lock"));
    if let Ok(l) = &lock {
        let _ = l.lock();
    }
    if installed() {
        return;
    }
    let toolchain = std::env::var("RUSTUP_TOOLCHAIN").ok();
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", TARGET]);
    if let Some(t) = &toolchain {
        rustup.args(["--toolchain", t]);
    }
    match rustup.status() {
        Ok(s) if s.success() && installed() => {
            println!(
                "cargo::warning=installed the {TARGET} target with `rustup target add {TARGET}`{}: gantry's plugins are built for it",
                toolchain
                    .map(|t| format!(" --toolchain {t}"))
                    .unwrap_or_default()
            );
        }
        Ok(_) => panic!(
            "gantry's plugins are built for {TARGET}, whose standard library this toolchain lacks, and `rustup target add {TARGET}` failed (its errors are above)"
        ),
        Err(_) => panic!(
            "gantry's plugins are built for {TARGET}, whose standard library this toolchain (`{rustc}`) lacks, and there is no rustup to add it: install the {TARGET} standard library for this Rust (e.g. your distribution's rust-std package for {TARGET})"
        ),
    }
}

/// Ask cargo to rerun the build script when any of these change.
pub fn rerun_if_changed(paths: &[PathBuf]) {
    for p in paths {
        println!("cargo::rerun-if-changed={}", p.display());
    }
}
