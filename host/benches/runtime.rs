//! Runtime benchmarks (`cargo bench -p gantry --bench runtime`), printed as a markdown
//! table for BENCHMARKS.md. Not tests: nothing here asserts a time.
//!
//! 1. compile vs cached load of each builtin plugin, and where a cached load's time goes
//!    (group `load-phases`);
//! 2. per-stage overhead: instantiate + `describe`, and instantiate + no-op `run`;
//! 3. a 10-stage no-op pipeline, whole `gantry run` wall time, warm cache;
//! 4. secret-scan throughput in wasm vs the same scanner compiled natively, side by
//!    side on one generated corpus (`benches/secret-scan/gen_corpus.py`; set
//!    `GANTRY_BENCH_CORPUS_MB`, default 200).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use gantry::manifest::{FsGrants, Grants, Limits};
use gantry::run::audit::{Actor, AuditLog};
use gantry::run::journal::Journal;
use gantry::run::log::StageLog;
use gantry::runtime::bindings::types as wit;
use gantry::runtime::{EngineOptions, Runtime, StageSetup, builtins};
use gantry_registry::Digest;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.1} µs")
    } else if us < 1e6 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repo root")
}

fn ctx(config: &str) -> wit::StageContext {
    wit::StageContext {
        pipeline: "bench".into(),
        stage: "bench".into(),
        run_id: "bench".into(),
        config: config.into(),
        inputs: vec![],
        upstream: Vec::new(),
        dry_run: false,
        git: wit::GitFacts {
            sha: None,
            branch: None,
            tag: None,
        },
        workspace: "/workspace".into(),
    }
}

fn setup(workspace: &Path, read: Vec<String>) -> StageSetup {
    StageSetup {
        actor: Actor {
            run: "bench".into(),
            stage: "bench".into(),
            plugin: "bench".into(),
        },
        pipeline: "bench".into(),
        audit: Arc::new(AuditLog::disabled()),
        journal: Arc::new(Journal::disabled()),
        log: Arc::new(StageLog::sink()),
        workspace: workspace.to_path_buf(),
        dry_run: false,
        grants: Grants {
            fs: FsGrants {
                read,
                write: vec![],
            },
            ..Grants::default()
        },
        secrets: Arc::default(),
        limits: Limits {
            memory: 1 << 30,
            ..Limits::default()
        },
        timeout: Duration::from_secs(600),
        cancel: Arc::new(AtomicBool::new(false)),
        owner_key: [0; 32],
    }
}

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let want = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let cache = std::env::temp_dir().join(format!("gantry-bench-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let opts = EngineOptions {
        cache_dir: Some(cache.clone()),
        max_memory: 1 << 30,
        ..EngineOptions::default()
    };
    let rt = Runtime::new(opts).expect("engine");

    if want("compile") {
        println!("## compile vs cached load\n");
        println!("| plugin | size | compile (median of 5) | cached load (median of 50) | ratio |");
        println!("| --- | ---: | ---: | ---: | ---: |");
        for (name, bytes) in builtins::BUILTINS {
            let digest = Digest::of(bytes);
            let compile = median(
                (0..5)
                    .map(|_| {
                        let t = Instant::now();
                        rt.engine().precompile_component(bytes).expect("compiles");
                        t.elapsed()
                    })
                    .collect(),
            );
            rt.load(bytes, digest).expect("load");
            let cached = median(
                (0..50)
                    .map(|_| {
                        let t = Instant::now();
                        let p = rt.load(bytes, digest).expect("load");
                        assert_eq!(p.cache, gantry::runtime::CacheLookup::Hit);
                        t.elapsed()
                    })
                    .collect(),
            );
            println!(
                "| {name} | {:.1} MiB | {} | {} | {:.0}× |",
                bytes.len() as f64 / 1048576.0,
                fmt(compile),
                fmt(cached),
                compile.as_secs_f64() / cached.as_secs_f64()
            );
        }
        println!();
    }

    if want("load-phases") {
        // The largest builtin: what a cached load spends its time on.
        let (name, bytes) = builtins::BUILTINS
            .iter()
            .max_by_key(|(_, b)| b.len())
            .expect("builtins");
        let digest = Digest::of(bytes);
        rt.load(bytes, digest).expect("load");
        let cc = gantry::runtime::CompileCache::new(cache.clone(), rt.engine());
        let entry = cc.entry_path(&digest);
        let artifact = std::fs::read(&entry).expect("cache entry");
        let time = |f: &mut dyn FnMut()| {
            median(
                (0..50)
                    .map(|_| {
                        let t = Instant::now();
                        f();
                        t.elapsed()
                    })
                    .collect(),
            )
        };
        use sha2::Digest as _;
        let rows: Vec<(&str, Duration)> = vec![
            (
                "read the entry",
                time(&mut || drop(std::fs::read(&entry).expect("read"))),
            ),
            (
                "sha256 of the artifact",
                time(&mut || {
                    std::hint::black_box(sha2::Sha256::digest(&artifact));
                }),
            ),
            (
                "`Component::deserialize` (copy into code memory)",
                time(&mut || {
                    // SAFETY: produced by this engine just above.
                    drop(
                        unsafe {
                            wasmtime::component::Component::deserialize(rt.engine(), &artifact)
                        }
                        .expect("deserialize"),
                    )
                }),
            ),
            (
                "`Component::deserialize_file` (mmap; what a hit uses)",
                time(&mut || {
                    // SAFETY: as above; the file is not changed while loaded.
                    drop(
                        unsafe {
                            wasmtime::component::Component::deserialize_file(rt.engine(), &entry)
                        }
                        .expect("deserialize"),
                    )
                }),
            ),
            (
                "whole `Runtime::load` (cache hit)",
                time(&mut || drop(rt.load(bytes, digest).expect("load"))),
            ),
        ];
        println!(
            "## cached load of {name} ({:.1} MiB artifact), median of 50\n",
            artifact.len() as f64 / 1048576.0
        );
        println!("| phase | median |");
        println!("| --- | ---: |");
        for (what, d) in rows {
            println!("| {what} | {} |", fmt(d));
        }
        println!();
    }

    if want("overhead") {
        let probe = std::fs::read(gantry_test_plugins::plugins::PROBE).expect("probe built");
        let plugin = rt.load(&probe, Digest::of(&probe)).expect("load probe");
        let ws = std::env::temp_dir();
        // Warm up.
        for _ in 0..50 {
            rt.describe(&plugin).expect("describe");
            rt.run(&plugin, setup(&ws, vec![]), ctx("{}"))
                .into_inner()
                .expect("run");
        }
        // GANTRY_BENCH_N raises the count, e.g. to profile this loop alone.
        let n: usize = std::env::var("GANTRY_BENCH_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000);
        let describe = median(
            (0..n)
                .map(|_| {
                    let t = Instant::now();
                    rt.describe(&plugin).expect("describe");
                    t.elapsed()
                })
                .collect(),
        );
        let run = median(
            (0..n)
                .map(|_| {
                    let s = setup(&ws, vec![]);
                    let t = Instant::now();
                    rt.run(&plugin, s, ctx("{}")).into_inner().expect("run");
                    t.elapsed()
                })
                .collect(),
        );
        println!("## per-stage overhead (probe plugin, median of {n})\n");
        println!("| what | median |");
        println!("| --- | ---: |");
        println!("| instantiate + describe | {} |", fmt(describe));
        println!(
            "| instantiate + no-op run (fresh store, WASI ctx, log) | {} |",
            fmt(run)
        );
        println!();
    }

    if want("pipeline") {
        let dir =
            std::env::temp_dir().join(format!("gantry-bench-pipeline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let pin = {
            let bytes = std::fs::read(gantry_test_plugins::plugins::PROBE).expect("probe");
            format!(
                "file:{}#{}",
                gantry_test_plugins::plugins::PROBE,
                Digest::of(&bytes)
            )
        };
        let mut toml = String::from("[pipeline]\nname = \"bench\"\n");
        for i in 0..10 {
            toml.push_str(&format!("[stage.s{i}]\nplugin = \"{pin}\"\n"));
            if i > 0 && i % 3 == 0 {
                toml.push_str(&format!("needs = [\"s{}\"]\n", i - 1));
            }
        }
        std::fs::write(dir.join("pipeline.toml"), toml).expect("write");
        let gantry = env!("CARGO_BIN_EXE_gantry");
        let run = || {
            let t = Instant::now();
            let out = Command::new(gantry)
                .args(["run"])
                .current_dir(&dir)
                .env("GANTRY_CACHE_DIR", &cache)
                .output()
                .expect("gantry");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            t.elapsed()
        };
        run();
        let wall = median((0..20).map(|_| run()).collect());
        let check = median(
            (0..20)
                .map(|_| {
                    let t = Instant::now();
                    Command::new(gantry)
                        .args(["check"])
                        .current_dir(&dir)
                        .env("GANTRY_CACHE_DIR", &cache)
                        .output()
                        .expect("gantry");
                    t.elapsed()
                })
                .collect(),
        );
        println!("## 10-stage no-op pipeline, warm cache (median of 20)\n");
        println!("| command | wall time |");
        println!("| --- | ---: |");
        println!("| `gantry check` | {} |", fmt(check));
        println!(
            "| `gantry run` (records, SARIF, JUnit, summary written) | {} |",
            fmt(wall)
        );
        println!();
        let _ = std::fs::remove_dir_all(&dir);
    }

    if want("secret-scan") {
        let mb: f64 = std::env::var("GANTRY_BENCH_CORPUS_MB")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200.0);
        let data = repo().join("target/bench-data");
        let corpus = data.join(format!("corpus-{mb}"));
        if !corpus.exists() {
            let ok = Command::new("python3")
                .arg(repo().join("benches/secret-scan/gen_corpus.py"))
                .arg(&corpus)
                .args(["--size-mb", &mb.to_string()])
                .status()
                .expect("python3");
            assert!(ok.success(), "corpus generation failed");
        }
        let config = secret_scan::scanner::Config::default();
        let scanner = secret_scan::scanner::Scanner::new(&config).expect("scanner");
        let bytes = builtins::get("secret-scan").expect("builtin");
        let plugin = rt.load(bytes, Digest::of(bytes)).expect("load");
        // Warm the page cache first, then alternate the two so neither is favoured.
        let native = scanner.scan_tree(&corpus).expect("native scan");
        let (mut native_runs, mut wasm_runs) = (Vec::new(), Vec::new());
        let mut report = None;
        // This VM's timings wander by ±20% and more from run to run: alternating runs
        // (7, or GANTRY_BENCH_RUNS), with medians, fastest runs and the median of the
        // ratios of each pair (a wasm run against the native run just before it, so a
        // slow spell of the machine weighs on both sides of a ratio) all reported.
        let runs: usize = std::env::var("GANTRY_BENCH_RUNS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or(7);
        for _ in 0..runs {
            // Both sides do the same work: build the scanner from the config (compile
            // its regexes and keyword automaton), then walk and scan.
            let t = Instant::now();
            secret_scan::scanner::Scanner::new(&config)
                .expect("scanner")
                .scan_tree(&corpus)
                .expect("native scan");
            native_runs.push(t.elapsed());
            let t = Instant::now();
            report = Some(
                rt.run(&plugin, setup(&corpus, vec![".".into()]), ctx("{}"))
                    .into_inner()
                    .expect("wasm scan"),
            );
            wasm_runs.push(t.elapsed());
        }
        let report = report.expect("ran");
        let (native_min, wasm_min) = (
            native_runs.iter().min().copied().unwrap_or_default(),
            wasm_runs.iter().min().copied().unwrap_or_default(),
        );
        let mut pair_ratios: Vec<f64> = native_runs
            .iter()
            .zip(&wasm_runs)
            .map(|(n, w)| w.as_secs_f64() / n.as_secs_f64())
            .collect();
        pair_ratios.sort_by(f64::total_cmp);
        let pair_ratio = pair_ratios[pair_ratios.len() / 2];
        let native_t = median(native_runs);
        let wasm_t = median(wasm_runs);
        let wasm_files = report
            .outputs
            .iter()
            .find(|(k, _)| k == "bytes")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let mbs = |b: u64, d: Duration| b as f64 / 1048576.0 / d.as_secs_f64();
        println!(
            "## secret-scan throughput, {:.0} MiB generated corpus, one core, median of {runs}, warm page cache\n",
            native.bytes_scanned as f64 / 1048576.0
        );
        println!("| scanner | time | MiB/s | findings |");
        println!("| --- | ---: | ---: | ---: |");
        println!(
            "| native (same code, x86_64) | {} | {:.0} | {} |",
            fmt(native_t),
            mbs(native.bytes_scanned, native_t),
            native.findings.len()
        );
        println!(
            "| wasm in gantry (wasm32-wasip2, files through gantry:plugin/files) | {} | {:.0} | {} |",
            fmt(wasm_t),
            mbs(wasm_files.parse().unwrap_or(0), wasm_t),
            report.findings.len()
        );
        println!(
            "\nwasm / native time: {:.2}× (medians); fastest runs: {} vs {}, {:.2}×; median of the {runs} paired ratios: {:.2}× (range {:.2}–{:.2}×)\n",
            wasm_t.as_secs_f64() / native_t.as_secs_f64(),
            fmt(wasm_min),
            fmt(native_min),
            wasm_min.as_secs_f64() / native_min.as_secs_f64(),
            pair_ratio,
            pair_ratios[0],
            pair_ratios[pair_ratios.len() - 1]
        );
    }
    let _ = std::fs::remove_dir_all(&cache);
}
