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
    /// Reveal and then leak the value through logs, stdout, stderr, the report and the
    /// audit log, in these forms (see `leak` in `run`): `plain`, `upper`, `base64`,
    /// `basic-auth`, `hex`, `hex-upper`, `split`, `split-between`, `json`,
    /// `json-slash`, `json-u`, `url`, `url-lower`, `url-every`, `url-plus`, `html`,
    /// `multi-line`, `long-line`, `output`, `finding`, `summary`, `rule-id`,
    /// `help-uri`, `fix`, `fingerprint`, `location`, `artifact`, `audit`; and, each
    /// ending the stage, `output-key` (the value as an output key) and `error` (the
    /// value in the plugin's error).
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

/// `value` cut in two at its middle character.
fn halves(value: &str) -> (&str, &str) {
    let cut = value.char_indices().nth(value.chars().count() / 2);
    value.split_at(cut.map_or(0, |(i, _)| i))
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
            let url = |every: bool, lower: bool, plus: bool| -> String {
                value
                    .bytes()
                    .map(|b| match b {
                        b' ' if plus => "+".to_string(),
                        b if !every && (b.is_ascii_alphanumeric() || b"-._~".contains(&b)) => {
                            (b as char).to_string()
                        }
                        b if lower => format!("%{b:02x}"),
                        b => format!("%{b:02X}"),
                    })
                    .collect()
            };
            let json = format!("{value:?}");
            for form in &config.leak {
                match form.as_str() {
                    "upper" => log::info(&format!("loud {}", value.to_ascii_uppercase()), &[]),
                    "hex-upper" => {
                        let h: String = value.bytes().map(|b| format!("{b:02X}")).collect();
                        eprintln!("HEX {h}");
                    }
                    "split-between" => {
                        let (a, b) = halves(&value);
                        log::info(&format!("begins {a}"), &[]);
                        eprintln!("other output in between");
                        log::warn("and a record", &[]);
                        println!("{b} ends");
                    }
                    "json-slash" => log::info(&format!("slash {}", json.replace('/', "\\/")), &[]),
                    "json-u" => {
                        let u: String = value
                            .encode_utf16()
                            .map(|u| format!("\\u{u:04x}"))
                            .collect();
                        println!("u {u}");
                    }
                    "url" => log::info(&format!("url ?t={}", url(false, false, false)), &[]),
                    "url-lower" => log::info(&format!("url ?t={}", url(false, true, false)), &[]),
                    "url-every" => eprintln!("url ?t={}", url(true, false, false)),
                    "url-plus" => println!("form t={}", url(false, false, true)),
                    "html" => {
                        let h: String = value.chars().map(|c| format!("&#{};", c as u32)).collect();
                        log::info(&format!("html {h}"), &[]);
                    }
                    "multi-line" => {
                        log::info(&format!("as one record:\n{value}\nend"), &[]);
                        println!("{value}");
                        eprintln!("{}", value.replace('\n', "\r\n"));
                        log::info("json", &[("v", &json)]);
                    }
                    "long-line" => {
                        // Cut by the host's longest stdout line, mid-value.
                        println!("{}{value}", "x".repeat(8 * 1024 - 5));
                    }
                    "rule-id" => report.push(Finding::new(value.clone(), Level::Note, "rule")),
                    "help-uri" => report.push(Finding::new("leak", Level::Note, "help").help(
                        format!("https://help.example/?t={}", url(true, true, false)),
                    )),
                    "fix" => {
                        report.push(Finding::new("leak", Level::Note, "fix").at("x.txt", 1).fix(
                            Fix {
                                description: format!("replace with {value}"),
                                path: value.clone(),
                                deleted: Region::columns(1, 1, 2),
                                inserted: value.clone(),
                            },
                        ))
                    }
                    "fingerprint" => report.push(
                        Finding::new("leak", Level::Note, "fp").fingerprint(b64(value.as_bytes())),
                    ),
                    "location" => report.push(
                        Finding::new("leak", Level::Note, "loc").at(format!("src/{value}"), 1),
                    ),
                    "artifact" => report = report.artifact(format!("dist/{value}")),
                    "audit" => {
                        // A name the host records when it refuses it.
                        let _ = gantry_sdk::secrets::get(&value);
                    }
                    "output-key" => {
                        return Ok(Report::new().output(value.clone(), "v"));
                    }
                    "error" => return Err(Error::failed(format!("cannot go on: {value}"))),
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
                        let (a, b) = halves(&value);
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
