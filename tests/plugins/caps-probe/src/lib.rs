//! Test plugin `caps-probe`: exercises the env and secrets capabilities as its config
//! says, reporting what it got as outputs, so tests can check both what the plugin saw
//! and what gantry recorded.

use base64_lite::encode as b64;
use gantry_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Config {
    /// Environment variables to read (`env.NAME` output = value or `<unset>`).
    #[serde(default)]
    read_env: Vec<String>,
    /// Output every environment variable name as `env-names`.
    #[serde(default)]
    list_env: bool,
    /// Secrets to get a handle for (`get.NAME` = `ok` / `denied:…` / `err:…`).
    #[serde(default)]
    get: Vec<String>,
    /// Secrets to reveal (`reveal.NAME` = `ok` / `denied:…`); the value is never output.
    #[serde(default)]
    reveal: Vec<String>,
    /// Reveal and then leak the value through logs, stdout and outputs in these forms:
    /// `plain`, `base64`, `hex`, `split`, `json`, `url`, `output`, `finding`.
    #[serde(default)]
    leak: Vec<String>,
    /// Secret to leak.
    #[serde(default)]
    leak_secret: Option<String>,
    /// Get this many handles for `flood-secret`.
    #[serde(default)]
    flood: u32,
    #[serde(default)]
    flood_secret: Option<String>,
}

mod base64_lite {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    pub fn encode(data: &[u8]) -> String {
        let mut out = String::new();
        for c in data.chunks(3) {
            let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
            let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
            for i in 0..4 {
                if i <= c.len() {
                    out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

fn describe(e: &Error) -> String {
    match e {
        Error::Denied(m) => format!("denied:{m}"),
        other => format!("err:{other}"),
    }
}

struct CapsProbe;

impl Plugin for CapsProbe {
    type Config = Config;

    fn info() -> Info {
        Info::new("caps-probe", env!("CARGO_PKG_VERSION")).rule(Rule::new(
            "leak",
            Level::Note,
            "A finding carrying a leaked value",
        ))
    }

    fn run(_cx: &Context, config: Config) -> Result<Report, Error> {
        let mut report = Report::new().summary("caps-probe done");
        for name in &config.read_env {
            let v = std::env::var(name).unwrap_or_else(|_| "<unset>".into());
            report = report.output(format!("env_{name}"), v);
        }
        if config.list_env {
            let mut names: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
            names.sort();
            report = report.output("env_names", names.join(","));
        }
        for name in &config.get {
            let r = match gantry_sdk::secrets::get(name) {
                Ok(s) => format!("ok:{}", s.name()),
                Err(e) => describe(&e),
            };
            report = report.output(format!("get_{name}"), r);
        }
        for name in &config.reveal {
            let r = match gantry_sdk::secrets::get(name).and_then(|s| s.reveal()) {
                Ok(v) => format!("ok:{} bytes", v.len()),
                Err(e) => describe(&e),
            };
            report = report.output(format!("reveal_{name}"), r);
        }
        if let Some(name) = &config.leak_secret {
            let value = gantry_sdk::secrets::get(name)?.reveal()?;
            for form in &config.leak {
                match form.as_str() {
                    "plain" => log::info(&format!("the token is {value}"), &[]),
                    "base64" => println!("b64 {}", b64(value.as_bytes())),
                    "basic-auth" => log::warn(
                        &format!(
                            "Authorization: Basic {}",
                            b64(format!("ci:{value}").as_bytes())
                        ),
                        &[],
                    ),
                    "hex" => {
                        let h: String = value.bytes().map(|b| format!("{b:02x}")).collect();
                        eprintln!("hex {h}");
                    }
                    "split" => {
                        let (a, b) = value.split_at(value.len() / 2);
                        log::info(&format!("first half {a}"), &[]);
                        log::info(b, &[]);
                        println!("stdout half {a}");
                        println!("{b}");
                    }
                    "json" => log::info("fields", &[("secret", &format!("{{\"v\":{value:?}}}"))]),
                    "output" => report = report.output("leaked", value.clone()),
                    "finding" => report.push(
                        Finding::new("leak", Level::Note, format!("found {value}")).at("x.txt", 1),
                    ),
                    "summary" => report = report.summary(format!("leaking {value}")),
                    _ => {}
                }
            }
        }
        if let Some(name) = &config.flood_secret {
            let mut held = Vec::new();
            let mut refused = String::from("none");
            for i in 0..config.flood {
                match gantry_sdk::secrets::get(name) {
                    Ok(s) => held.push(s),
                    Err(e) => {
                        refused = format!("{i}:{}", describe(&e));
                        break;
                    }
                }
            }
            report = report
                .output("flood_held", held.len().to_string())
                .output("flood_refused", refused);
        }
        Ok(report)
    }
}

gantry_sdk::export_plugin!(CapsProbe);
