//! Test plugin `contract`: calls one function of every interface of the
//! `gantry:plugin` contract (log, secrets, process, containers, files, and the types of
//! its report) with no grant, and reports what each call answered as outputs
//! (`log`, `secrets`, `process`, `containers`, `files`: `ok`, `denied` or `failed`).
//!
//! A build of it against contract version 0.1.0 is kept, byte for byte, as
//! `tests/fixtures/contract-0.1.0.wasm` (how: `tests/fixtures/README.md`): when the
//! contract gains a version, `tests/e2e/contract.rs` proves that a plugin built against
//! 0.1.0 still links and gets the same answers as one built today.

use gantry_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Config {}

struct Contract;

fn kind<T>(r: Result<T, Error>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(Error::Denied(_)) => "denied",
        Err(_) => "failed",
    }
}

impl Plugin for Contract {
    type Config = Config;

    fn info() -> Info {
        Info::new("contract", "0.1.0")
            .kind(Kind::Other)
            .description("calls every interface of the contract")
            .rule(Rule::new(
                "contract-note",
                Level::Note,
                "A note of the contract plugin",
            ))
    }

    fn run(_cx: &Context, _config: Config) -> Result<Report, Error> {
        log::info("contract running", &[("interfaces", "5")]);
        let secrets = kind(gantry_sdk::secrets::get("CONTRACT_SECRET"));
        let process = kind(gantry_sdk::process::Command::new("true").run());
        let containers = kind(gantry_sdk::containers::list());
        let files = match gantry_sdk::files::list_dir(std::path::Path::new("/workspace")) {
            Ok(_) => "ok",
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => "denied",
            Err(_) => "failed",
        };
        let mut report = Report::new()
            .summary("every interface answered")
            .output("log", "ok")
            .output("secrets", secrets)
            .output("process", process)
            .output("containers", containers)
            .output("files", files);
        report.push(Finding::new(
            "contract-note",
            Level::Note,
            "the report's types cross the boundary",
        ));
        Ok(report)
    }
}

gantry_sdk::export_plugin!(Contract);
