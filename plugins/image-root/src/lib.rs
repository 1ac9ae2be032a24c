//! `image-root`: assembles the build context of a `FROM scratch` image from an
//! executable the pipeline already built on the host and the shared libraries it
//! loads — for programs that are not statically linked, without any base image.
//!
//! The stage writes `OUT/rootfs/` (the image's root file system: the executable at
//! `dest`, every library `ldd` lists at its own path, the dynamic loader included, and
//! the empty directories in `dirs`) and copies `dockerfile` to `OUT/Dockerfile`, so
//! `image-build` can take `OUT` as its context with a Dockerfile such as:
//!
//! ```dockerfile
//! FROM scratch
//! COPY rootfs/ /
//! ENTRYPOINT ["/usr/local/bin/app"]
//! ```
//!
//! The plugin never reads outside the workspace itself: it asks the host to run three
//! commands, each of which the stage must grant (`grants.process`), with the exact
//! arguments below — so the grant shows precisely which host files can enter the image:
//!
//! | step | command (run on the host, in the workspace) | grant |
//! | --- | --- | --- |
//! | list libraries | `ldd BINARY` | `read-only = true` |
//! | copy the executable | `strip -o OUT/rootfs/DEST BINARY` (or `cp BINARY OUT/rootfs/DEST` with `strip = false`) | exact arguments |
//! | copy each library | `cp -L --parents LIBRARY OUT/rootfs/` | a glob on the library paths, the destination literal |
//!
//! ```toml
//! [stage.image-root]
//! plugin = "builtin:image-root"
//! with = { binary = "target/debug/app", out = "target/app-image", dockerfile = "deploy/Dockerfile",
//!          dirs = ["/tmp"] }
//! grants.fs = { read = ["deploy"], write = ["target/app-image"] }
//! grants.process = [
//!   { cmd = "ldd", args = ["target/debug/app"], read-only = true },
//!   { cmd = "strip", args = ["-o", "target/app-image/rootfs/usr/local/bin/app", "target/debug/app"] },
//!   { cmd = "cp", args = ["-L", "--parents", "/lib/x86_64-linux-gnu/lib*.so*", "target/app-image/rootfs/"] },
//!   { cmd = "cp", args = ["-L", "--parents", "/lib64/ld-linux-x86-64.so.2", "target/app-image/rootfs/"] },
//! ]
//! ```
//!
//! `OUT/rootfs` is emptied first, so nothing from an earlier run lingers in the image.
//! Under `--dry-run` only `ldd` runs (it changes nothing); the copies are planned.
//! A library `ldd` cannot find, or a path it prints that is not absolute or contains
//! `..`, fails the stage.
//!
//! Outputs: `context` (= `out`), `root`, `libraries` (space-separated host paths),
//! `binary-bytes` (size of the copied executable).
//!
//! Tests: unit tests below (parsing `ldd`, paths); `tests/e2e/deploy.rs`
//! (`release_path_of_gantrys_own_pipeline`) runs gantry's own release path.

use gantry_sdk::prelude::*;
use gantry_sdk::process::Command;

/// Configuration (`with`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Workspace-relative path of the executable to package.
    pub binary: String,
    /// Absolute path of the executable inside the image (default
    /// `/usr/local/bin/NAME`).
    #[serde(default)]
    pub dest: Option<String>,
    /// Workspace-relative output directory (granted `fs.write`): `OUT/rootfs/` is the
    /// image root, `OUT/Dockerfile` the copied Dockerfile.
    pub out: String,
    /// Workspace path of a Dockerfile copied to `OUT/Dockerfile` (granted `fs.read`).
    #[serde(default)]
    pub dockerfile: Option<String>,
    /// Remove symbols and debug information from the copy (`strip`); default true.
    #[serde(default = "yes")]
    pub strip: bool,
    /// Empty directories to create in the image root (absolute), e.g. `["/tmp"]`.
    #[serde(default)]
    pub dirs: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A workspace-relative path: no leading `/`, no `.`/`..` components, not empty.
fn relative(key: &str, p: &str) -> Result<String, Error> {
    let p = p.trim_end_matches('/');
    let p = p.strip_prefix("./").unwrap_or(p);
    if p.is_empty()
        || p.starts_with('/')
        || p.split('/').any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(Error::config(format!(
            "`{key}` must be a workspace-relative path without `.` or `..` components, got `{p}`"
        )));
    }
    Ok(p.to_string())
}

/// An absolute image path: leading `/`, no `.`/`..`/empty components, not `/` itself.
fn absolute(key: &str, p: &str) -> Result<String, Error> {
    let inner = p.strip_prefix('/').unwrap_or("").trim_end_matches('/');
    if inner.is_empty()
        || inner
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(Error::config(format!(
            "`{key}` must be an absolute path inside the image other than `/`, without `.` or `..`, got `{p}`"
        )));
    }
    Ok(inner.to_string())
}

/// The libraries an `ldd` listing names, in order, without the vDSO.
pub fn parse_ldd(text: &str) -> Result<Vec<String>, String> {
    let mut libs = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.contains("statically linked") || line.contains("not a dynamic executable") {
            return Ok(Vec::new());
        }
        let path = match line.split_once("=>") {
            Some((name, rest)) => {
                let rest = rest.trim();
                if rest.starts_with("not found") {
                    return Err(format!("`{}` is not found on this host", name.trim()));
                }
                rest.split_whitespace().next().unwrap_or("")
            }
            None => line.split_whitespace().next().unwrap_or(""),
        };
        // `linux-vdso.so.1 (0x…)` and `=> (0x…)` lines are provided by the kernel.
        if path.is_empty() || path.starts_with('(') || !path.contains('/') {
            continue;
        }
        if !path.starts_with('/') || path.split('/').any(|c| c == "..") {
            return Err(format!("`ldd` printed an unexpected library path `{path}`"));
        }
        if !libs.iter().any(|l| l == path) {
            libs.push(path.to_string());
        }
    }
    Ok(libs)
}

struct ImageRoot;

fn run_checked(cmd: Command, what: &str) -> Result<gantry_sdk::process::Output, Error> {
    cmd.run()?
        .check()
        .map_err(|e| Error::failed(format!("{what}: {e}")))
}

impl Plugin for ImageRoot {
    type Config = Config;

    fn info() -> Info {
        Info::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .kind(Kind::Other)
            .description(
                "Assembles a FROM scratch image root from a host executable and the shared libraries it loads",
            )
    }

    fn run(cx: &Context, c: Config) -> Result<Report, Error> {
        let binary = relative("binary", &c.binary)?;
        let out = relative("out", &c.out)?;
        let file_name = binary.rsplit('/').next().unwrap_or(&binary).to_string();
        let dest = match &c.dest {
            Some(d) => absolute("dest", d)?,
            None => format!("usr/local/bin/{file_name}"),
        };
        let dirs = c
            .dirs
            .iter()
            .map(|d| absolute("dirs", d))
            .collect::<Result<Vec<_>, _>>()?;
        let dockerfile = c
            .dockerfile
            .as_deref()
            .map(|d| relative("dockerfile", d))
            .transpose()?;

        let listing = run_checked(Command::new("ldd").arg(&binary), &format!("`ldd {binary}`"));
        let libs = match listing {
            Ok(o) => {
                parse_ldd(&o.stdout_text()).map_err(|e| Error::failed(format!("{binary}: {e}")))?
            }
            // ldd exits 1 for a static executable and says so on stderr or stdout.
            Err(e) if e.to_string().contains("not a dynamic executable") => Vec::new(),
            Err(e) => return Err(e),
        };

        let root_rel = format!("{out}/rootfs");
        if cx.dry_run {
            return Ok(Report::new()
                .output("context", out.clone())
                .output("root", root_rel.clone())
                .output("libraries", libs.join(" "))
                .summary(format!(
                    "dry run: would package `{binary}` as `/{dest}` with {} librar{} into `{root_rel}`",
                    libs.len(),
                    if libs.len() == 1 { "y" } else { "ies" }
                )));
        }

        let root = cx.workspace_path(&root_rel);
        match std::fs::remove_dir_all(&root) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::failed(format!("cannot empty `{root_rel}`: {e}"))),
        }
        let mkdir = |rel: &str| {
            std::fs::create_dir_all(root.join(rel))
                .map_err(|e| Error::failed(format!("cannot create `{root_rel}/{rel}`: {e}")))
        };
        mkdir("")?;
        if let Some((parent, _)) = dest.rsplit_once('/') {
            mkdir(parent)?;
        }
        for d in &dirs {
            mkdir(d)?;
        }

        let dest_rel = format!("{root_rel}/{dest}");
        let copy = if c.strip {
            Command::new("strip").args(["-o", dest_rel.as_str(), binary.as_str()])
        } else {
            Command::new("cp").args([binary.as_str(), dest_rel.as_str()])
        };
        run_checked(copy, &format!("copying `{binary}` to `{dest_rel}`"))?;
        let root_arg = format!("{root_rel}/");
        for lib in &libs {
            run_checked(
                Command::new("cp").args(["-L", "--parents", lib.as_str(), root_arg.as_str()]),
                &format!("copying `{lib}` into `{root_rel}`"),
            )?;
        }
        if let Some(df) = &dockerfile {
            let text = std::fs::read(cx.workspace_path(df))
                .map_err(|e| Error::failed(format!("cannot read `{df}`: {e}")))?;
            std::fs::write(cx.workspace_path(&format!("{out}/Dockerfile")), text)
                .map_err(|e| Error::failed(format!("cannot write `{out}/Dockerfile`: {e}")))?;
        }
        let size = std::fs::metadata(cx.workspace_path(&dest_rel))
            .map(|m| m.len())
            .unwrap_or(0);
        Ok(Report::new()
            .output("context", out.clone())
            .output("root", root_rel.clone())
            .output("libraries", libs.join(" "))
            .output("binary-bytes", size.to_string())
            .summary(format!(
                "`{binary}` ({} MiB{}) and {} librar{} in `{root_rel}`",
                size >> 20,
                if c.strip { ", stripped" } else { "" },
                libs.len(),
                if libs.len() == 1 { "y" } else { "ies" }
            )))
    }
}

gantry_sdk::export_plugin!(ImageRoot);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ldd_listing() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x1)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x2)\n\t/lib64/ld-linux-x86-64.so.2 (0x3)\n";
        assert_eq!(
            parse_ldd(text).unwrap(),
            [
                "/lib/x86_64-linux-gnu/libgcc_s.so.1",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
        );
        assert!(parse_ldd("\tstatically linked\n").unwrap().is_empty());
        let missing = parse_ldd("\tlibfoo.so.1 => not found\n").unwrap_err();
        assert!(missing.contains("libfoo.so.1"), "{missing}");
        assert!(parse_ldd("\tlibx.so => /lib/../etc/x.so (0x1)\n").is_err());
    }

    #[test]
    fn paths() {
        assert_eq!(relative("out", "./target/img/").unwrap(), "target/img");
        assert!(relative("out", "../x").is_err());
        assert!(relative("out", "/abs").is_err());
        assert!(relative("out", "").is_err());
        assert_eq!(absolute("dest", "/usr/bin/x").unwrap(), "usr/bin/x");
        assert!(absolute("dest", "/").is_err());
        assert!(absolute("dirs", "tmp").is_err());
        assert!(absolute("dirs", "/a/../b").is_err());
    }
}
