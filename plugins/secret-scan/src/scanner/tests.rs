//! Unit tests. Every credential-shaped value is assembled at run time from pieces
//! and a seeded generator, so this file itself scans clean.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::*;

// ---------- value generators ----------

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn s(&mut self, alphabet: &str, n: usize) -> String {
        let a = alphabet.as_bytes();
        (0..n)
            .map(|_| a[(self.next() % a.len() as u64) as usize] as char)
            .collect()
    }
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URLSAFE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
const HEX: &str = "0123456789abcdef";
const UPPER_B32: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const DIGITS: &str = "0123456789";

fn b64(data: &[u8], url: bool) -> String {
    let a = if url {
        URLSAFE.as_bytes()
    } else {
        B64.as_bytes()
    };
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(a[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
        if !url {
            for _ in chunk.len()..3 {
                out.push('=');
            }
        }
    }
    out
}

/// A planted secret: file path, full file content, the secret value that must never
/// leak, and the rule expected to report it.
struct Sample {
    rule: &'static str,
    path: &'static str,
    content: String,
    secret: String,
}

fn j(parts: &[&str]) -> String {
    parts.concat()
}

fn samples() -> Vec<Sample> {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut v: Vec<Sample> = Vec::new();
    fn add(
        v: &mut Vec<Sample>,
        rule: &'static str,
        path: &'static str,
        secret: String,
        line: String,
    ) {
        v.push(Sample {
            rule,
            path,
            content: format!("# config\n{line}\n# end\n"),
            secret,
        });
    }
    let s = j(&["AK", "IA", &r.s(UPPER_B32, 16)]);
    add(
        &mut v,
        "aws-access-key-id",
        "deploy/config.py",
        s.clone(),
        format!("aws_access_key_id = \"{s}\""),
    );
    let s = format!("{}Q7{}", r.s(B64, 20), r.s(B64, 18));
    add(
        &mut v,
        "aws-secret-access-key",
        "home/.aws/credentials",
        s.clone(),
        format!("aws_secret_access_key = {s}"),
    );
    let s = j(&["gh", "p_", &r.s(ALNUM, 36)]);
    add(
        &mut v,
        "github-token",
        "ci/env.sh",
        s.clone(),
        format!("export GH_TOKEN={s}"),
    );
    let s = j(&["github", "_pat_", &r.s(ALNUM, 22), "_", &r.s(ALNUM, 59)]);
    add(
        &mut v,
        "github-token",
        "scripts/release.yml",
        s.clone(),
        format!("  token: {s}"),
    );
    let s = j(&["gl", "pat-", &r.s(URLSAFE, 20)]);
    add(
        &mut v,
        "gitlab-token",
        ".env",
        s.clone(),
        format!("GITLAB_TOKEN={s}"),
    );
    let s = j(&[
        "xo",
        "xb-",
        &r.s(DIGITS, 12),
        "-",
        &r.s(DIGITS, 13),
        "-",
        &r.s(ALNUM, 24),
    ]);
    add(
        &mut v,
        "slack-token",
        "bot/settings.toml",
        s.clone(),
        format!("slack = \"{s}\""),
    );
    let s = j(&[
        "https://hooks",
        ".slack.com/services/T",
        &r.s("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 8),
        "/B",
        &r.s("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10),
        "/",
        &r.s(ALNUM, 24),
    ]);
    add(
        &mut v,
        "slack-webhook",
        "notify.py",
        s.clone(),
        format!("WEBHOOK = \"{s}\""),
    );
    let s = j(&["sk", "_live_", &r.s(ALNUM, 24)]);
    add(
        &mut v,
        "stripe-key",
        "billing/keys.rb",
        s.clone(),
        format!("Stripe.api_key = '{s}'"),
    );
    let s = j(&["sk", "_test_", &r.s(ALNUM, 24)]);
    add(
        &mut v,
        "stripe-test-key",
        "billing/test_keys.rb",
        s.clone(),
        format!("Stripe.api_key = '{s}'"),
    );
    let s = j(&["AI", "za", &r.s(URLSAFE, 35)]);
    add(
        &mut v,
        "google-api-key",
        "web/firebase.js",
        s.clone(),
        format!("const firebaseConfig = {{ apiKey: \"{s}\" }};"),
    );
    let s = j(&["np", "m_", &r.s(ALNUM, 34), "7Q"]);
    add(
        &mut v,
        "npm-token",
        ".npmrc",
        s.clone(),
        format!("//registry.npmjs.org/:_authToken={s}"),
    );
    let s = j(&["pypi-AgEI", "cHlwaS5vcmc", &r.s(URLSAFE, 60)]);
    add(
        &mut v,
        "pypi-token",
        ".pypirc",
        s.clone(),
        format!("password = {s}"),
    );
    let body: Vec<String> = (0..4).map(|_| r.s(B64, 64)).collect();
    let s = body.concat();
    v.push(Sample {
        rule: "private-key",
        path: "deploy/id_rsa",
        content: format!(
            "-----BEGIN RSA {}-----\n{}\n-----END RSA {}-----\n",
            "PRIVATE KEY",
            body.join("\n"),
            "PRIVATE KEY"
        ),
        secret: s,
    });
    let body: Vec<String> = (0..3).map(|_| r.s(B64, 64)).collect();
    let s = body.concat();
    v.push(Sample {
        rule: "gcp-service-account-key",
        path: "gcp/sa.json",
        content: format!(
            "{{\n  \"type\": \"service_account\",\n  \"private_key\": \"-----BEGIN {pk}-----\\n{}\\n-----END {pk}-----\\n\",\n  \"client_email\": \"ci@proj.iam.gserviceaccount.com\"\n}}\n",
            body.join("\\n"),
            pk = "PRIVATE KEY"
        ),
        secret: s,
    });
    let body: Vec<String> = (0..5).map(|_| r.s(B64, 70)).collect();
    v.push(Sample {
        rule: "private-key",
        path: "keys/ci_ed25519",
        content: format!(
            "-----BEGIN OPENSSH {}-----\n{}\n-----END OPENSSH {}-----\n",
            "PRIVATE KEY",
            body.join("\n"),
            "PRIVATE KEY"
        ),
        secret: body.concat(),
    });
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#, true);
    let payload = b64(
        format!(r#"{{"sub":"{}","iat":1700000000}}"#, r.s(ALNUM, 12)).as_bytes(),
        true,
    );
    let s = format!("{header}.{payload}.{}", r.s(URLSAFE, 43));
    add(
        &mut v,
        "jwt",
        "api/client.ts",
        s.clone(),
        format!("const auth = \"Bearer {s}\";"),
    );
    let pw = r.s(ALNUM, 18);
    add(
        &mut v,
        "password-in-url",
        "docker-compose.yml",
        pw.clone(),
        format!("      DATABASE_URL: postgres://app_user:{pw}@db.internal:5432/app"),
    );
    let s = j(&["S", "K", &r.s(HEX, 32)]);
    add(
        &mut v,
        "twilio-api-key",
        ".env.production",
        s.clone(),
        format!("TWILIO_API_KEY={s}"),
    );
    let s = j(&["S", "G.", &r.s(URLSAFE, 22), ".", &r.s(URLSAFE, 43)]);
    add(
        &mut v,
        "sendgrid-api-key",
        "mail.go",
        s.clone(),
        format!("\tclient := sendgrid.NewSendClient(\"{s}\")"),
    );
    let s = j(&["ke", "y-", &r.s(HEX, 32)]);
    add(
        &mut v,
        "mailgun-api-key",
        "mail/config.yaml",
        s.clone(),
        format!("api: {s}"),
    );
    let s = format!("{}==", r.s(B64, 86));
    add(
        &mut v,
        "azure-storage-key",
        "appsettings.json",
        s.clone(),
        format!(
            "  \"Storage\": \"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={s};EndpointSuffix=core.windows.net\","
        ),
    );
    let s = format!(
        "{}-{}-4{}-a{}-{}",
        r.s(HEX, 8),
        r.s(HEX, 4),
        r.s(HEX, 3),
        r.s(HEX, 3),
        r.s(HEX, 12)
    );
    add(
        &mut v,
        "heroku-api-key",
        ".env",
        s.clone(),
        format!("HEROKU_API_KEY={s}"),
    );
    let s = j(&["shp", "at_", &r.s(HEX, 32)]);
    add(
        &mut v,
        "shopify-token",
        "shop.py",
        s.clone(),
        format!("ACCESS = \"{s}\""),
    );
    let s = j(&["sq0", "atp-", &r.s(URLSAFE, 22)]);
    add(
        &mut v,
        "square-token",
        "pay.js",
        s.clone(),
        format!("const sq = '{s}';"),
    );
    let s = j(&["EA", "AA", &r.s(URLSAFE, 60)]);
    add(
        &mut v,
        "square-token",
        "pay2.js",
        s.clone(),
        format!("const sq = '{s}';"),
    );
    let s = format!(
        "M{}.{}.{}",
        r.s(URLSAFE, 23),
        r.s(URLSAFE, 6),
        r.s(URLSAFE, 27)
    );
    add(
        &mut v,
        "discord-bot-token",
        "bot/.env",
        s.clone(),
        format!("DISCORD_BOT_TOKEN={s}"),
    );
    let s = format!(
        "https://discord.com/api/webhooks/{}/{}",
        r.s(DIGITS, 18),
        r.s(URLSAFE, 68)
    );
    add(
        &mut v,
        "discord-webhook",
        "alerts.py",
        s.clone(),
        format!("HOOK = \"{s}\""),
    );
    let s = format!("{}:A{}{}", r.s(DIGITS, 10), "A", r.s(URLSAFE, 33));
    add(
        &mut v,
        "telegram-bot-token",
        "tg.py",
        s.clone(),
        format!("bot = Bot(\"{s}\")"),
    );
    let s = b64(format!("deploy:{}", r.s(ALNUM, 20)).as_bytes(), false);
    add(
        &mut v,
        "docker-config-auth",
        ".docker/config.json",
        s.clone(),
        format!("    \"ghcr.io\": {{ \"auth\": \"{s}\" }}"),
    );
    let s = j(&["do", "p_v1_", &r.s(HEX, 64)]);
    add(
        &mut v,
        "digitalocean-token",
        "infra/do.tf",
        s.clone(),
        format!("  token = \"{s}\""),
    );
    let s = j(&[
        "sk-",
        "proj-",
        &r.s(URLSAFE, 20),
        "T3Blbk",
        "FJ",
        &r.s(URLSAFE, 20),
    ]);
    add(
        &mut v,
        "openai-api-key",
        "ai.py",
        s.clone(),
        format!("openai.api_key = \"{s}\""),
    );
    let s = j(&["sk-", "ant-", "api03-", &r.s(URLSAFE, 93), "AA"]);
    add(
        &mut v,
        "anthropic-api-key",
        "ai2.py",
        s.clone(),
        format!("client = Anthropic(api_key=\"{s}\")"),
    );
    let s = j(&["hv", "s.", &r.s(URLSAFE, 95)]);
    add(
        &mut v,
        "vault-token",
        "vault.sh",
        s.clone(),
        format!("export VAULT_TOKEN={s}"),
    );
    let s = j(&["da", "pi", &r.s(HEX, 32)]);
    add(
        &mut v,
        "databricks-token",
        "db.cfg",
        s.clone(),
        format!("token = {s}"),
    );
    let s = j(&["h", "f_", &r.s(ALNUM, 34)]);
    add(
        &mut v,
        "huggingface-token",
        "train.py",
        s.clone(),
        format!("login(\"{s}\")"),
    );
    let s = j(&[
        "AGE-SECRET",
        "-KEY-1",
        &r.s("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58),
    ]);
    add(&mut v, "age-secret-key", "keys.txt", s.clone(), s.clone());
    let s = j(&["PM", "AK-", &r.s(HEX, 24), "-", &r.s(HEX, 34)]);
    add(
        &mut v,
        "postman-api-key",
        "postman.json",
        s.clone(),
        format!("{{\"apikey\": \"{s}\"}}"),
    );
    let s = format!("{}9{}", r.s(ALNUM, 10), r.s(ALNUM, 9));
    add(
        &mut v,
        "generic-secret-assignment",
        "app/settings.py",
        s.clone(),
        format!("DB_PASSWORD = \"{s}\""),
    );
    let s = format!("{}4{}", r.s(ALNUM, 14), r.s(ALNUM, 9));
    add(
        &mut v,
        "generic-secret-assignment",
        "config/app.yaml",
        s.clone(),
        format!("  client_secret: {s}"),
    );
    let s = format!("{}3{}", r.s(ALNUM, 12), r.s(ALNUM, 12));
    add(
        &mut v,
        "generic-secret-assignment",
        "web.config",
        s.clone(),
        format!("<add><password>{s}</password></add>"),
    );
    v
}

fn scanner() -> &'static Scanner {
    static S: std::sync::LazyLock<Scanner> =
        std::sync::LazyLock::new(|| Scanner::new(&Config::default()).expect("default config"));
    &S
}

fn ids(f: &[Finding]) -> Vec<&str> {
    f.iter().map(|f| f.rule_id.as_str()).collect()
}

// ---------- rules: true positives ----------

#[test]
fn every_rule_has_a_true_positive() {
    let sc = scanner();
    for s in samples() {
        let f = sc.scan_bytes(s.path, s.content.as_bytes());
        assert_eq!(ids(&f), vec![s.rule], "{}: {}", s.path, s.content);
    }
    let covered: HashSet<&str> = samples().iter().map(|s| s.rule).collect();
    for r in rules() {
        assert!(covered.contains(r.id), "rule {} has no sample", r.id);
    }
    assert!(rules().len() >= 20);
}

#[test]
fn positions_are_exact() {
    let sc = scanner();
    for s in samples() {
        let f = &sc.scan_bytes(s.path, s.content.as_bytes())[0];
        let line = s.content.lines().nth(f.line as usize - 1).expect("line");
        let span = &line[f.column as usize - 1..f.end_column as usize - 1];
        match s.rule {
            "private-key" | "gcp-service-account-key" => {
                assert!(span.starts_with("-----BEGIN"), "{span}")
            }
            _ => assert_eq!(span, s.secret, "{}", s.rule),
        }
    }
}

#[test]
fn redaction_no_secret_in_any_field() {
    let sc = scanner();
    for s in samples() {
        let findings = sc.scan_bytes(s.path, s.content.as_bytes());
        assert!(!findings.is_empty(), "{}", s.rule);
        let mid = &s.secret[s.secret.len() / 3..s.secret.len() / 3 + 12];
        for f in &findings {
            let all = format!(
                "{} {} {} {} {}",
                f.rule_id,
                f.path,
                f.message,
                f.fingerprint,
                f.level.as_str()
            );
            assert!(
                !all.contains(&s.secret),
                "{}: secret leaked in {all}",
                s.rule
            );
            assert!(
                !all.contains(mid),
                "{}: secret part leaked in {all}",
                s.rule
            );
            assert_eq!(f.fingerprint.len(), 32);
            assert!(f.fingerprint.chars().all(|c| c.is_ascii_hexdigit()));
        }
        let json = serde_json::to_string(&findings).expect("json");
        assert!(!json.contains(&s.secret));
        assert!(!baseline_json(&findings).contains(&s.secret));
    }
}

#[test]
fn fingerprint_stable_across_line_moves_and_distinct_per_path() {
    let sc = scanner();
    let s = &samples()[2];
    let a = sc.scan_bytes("a.sh", s.content.as_bytes());
    let moved = format!("\n\n\n// moved\n{}", s.content);
    let b = sc.scan_bytes("a.sh", moved.as_bytes());
    let c = sc.scan_bytes("b.sh", s.content.as_bytes());
    assert_eq!(a[0].fingerprint, b[0].fingerprint);
    assert_ne!(a[0].line, b[0].line);
    assert_ne!(a[0].fingerprint, c[0].fingerprint);
}

#[test]
fn line_numbers_hold_across_regions_without_findings_and_long_lines() {
    // Keyword regions that yield nothing (placeholders) before, between and after the
    // findings: lines are counted only for findings, from the previous one.
    let s = &samples()[2].secret;
    let mut text = String::new();
    for i in 1..=300 {
        match i {
            7 | 150 => text.push_str(&format!("T={s}\n")),
            i if i % 3 == 0 => text.push_str("password = changeme\n"),
            _ => text.push_str("let x = 1;\n"),
        }
    }
    // Line 301: a long line searched in windows, a finding at each end.
    text.push_str(&format!("T={s} {} T={s}\n", "y ".repeat(3000)));
    text.push_str("token = ${TOKEN}\n\r\n");
    text.push_str(&format!("T={s}"));
    let found = scanner().scan_bytes("a.env", text.as_bytes());
    let lines: Vec<u32> = found.iter().map(|f| f.line).collect();
    assert_eq!(lines, vec![7, 150, 301, 301, 304]);
    for f in &found {
        let line = text.lines().nth(f.line as usize - 1).expect("line");
        assert!(line.contains(s.as_str()), "line {}: {line}", f.line);
    }
}

// ---------- rules: true negatives and decoys ----------

fn assert_clean(path: &str, content: &str) {
    let f = scanner().scan_bytes(path, content.as_bytes());
    assert!(
        f.is_empty(),
        "{path}: unexpected {:?}\n{content}",
        f.iter()
            .map(|f| (&f.rule_id, &f.message))
            .collect::<Vec<_>>()
    );
}

#[test]
fn true_negatives_per_rule() {
    let x = |n: usize| "x".repeat(n);
    let cases: Vec<(&str, String)> = vec![
        // aws-access-key-id: documented example, placeholder, embedded in a longer word.
        (
            "a.py",
            format!("key = \"{}\"", j(&["AKIA", "IOSFODNN7", "EXAMPLE"])),
        ),
        (
            "a.py",
            format!("key = \"{}\"", j(&["AKIA", "XXXXXXXXXXXXXXXX"])),
        ),
        (
            "a.py",
            format!("x = \"Z{}\"", j(&["AKIA", "Z7QW2KDHAPQ3MNTR"])),
        ),
        // aws-secret-access-key: documented example, a sha1 under an aws name.
        (
            "a.env",
            format!(
                "AWS_SECRET_ACCESS_KEY={}",
                j(&["wJalrXUtnFEMI/K7MDENG/bPxRfiCY", "EXAMPLEKEY"])
            ),
        ),
        (
            "a.env",
            "AWS_SECRET_KEY_SHA=da39a3ee5e6b4b0d3255bfef95601890afd80709".to_string(),
        ),
        // github / gitlab / slack placeholders
        ("a.sh", format!("GH_TOKEN={}{}", "ghp_", x(36))),
        (
            "a.sh",
            format!("GH_TOKEN={}1234567890abcdefghij1234567890abcdef", "ghp_"),
        ),
        ("a.sh", format!("T={}{}", "glpat-", x(20))),
        ("a.sh", format!("T={}your-bot-token-here-please", "xoxb-")),
        (
            "a.py",
            format!(
                "H = \"https://hooks.slack{}/services/TXXXXXXXX/BXXXXXXXX/{}\"",
                ".com",
                "X".repeat(24)
            ),
        ),
        // stripe docs key, too short
        (
            "a.rb",
            format!("k = '{}'", j(&["sk_test_", "4eC39HqLyjWDarjtT1zdp7dc"])),
        ),
        ("a.rb", format!("k = '{}'", j(&["sk_live_", "abc"]))),
        // google / npm / pypi
        ("a.js", format!("k = \"{}{}\"", "AIza", x(35))),
        (
            "a.sh",
            "echo $npm_config_cache $npm_package_version_major_minor_patch_level".to_string(),
        ),
        (
            "a.sh",
            format!(
                "T={}{}",
                "npm_",
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
                    .to_lowercase()
                    .replace('a', "q")
            ),
        ),
        ("a.cfg", format!("password = {}...", "pypi-AgEIcHlwaS5vcmc")),
        // private keys without a body / placeholder body / code constants
        (
            "a.pem",
            format!(
                "-----BEGIN RSA {pk}-----\n...\n-----END RSA {pk}-----\n",
                pk = "PRIVATE KEY"
            ),
        ),
        (
            "a.rs",
            format!(
                "const BEGIN: &str = \"-----BEGIN {pk}-----\";\nconst END: &str = \"-----END {pk}-----\";\n",
                pk = "PRIVATE KEY"
            ),
        ),
        (
            "a.md",
            format!(
                "-----BEGIN {pk}-----\n<your key here>\n-----END {pk}-----\n",
                pk = "PRIVATE KEY"
            ),
        ),
        // jwt: jwt.io example, bad header
        (
            "a.ts",
            format!(
                "t = \"{}\"",
                j(&[
                    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
                    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ",
                    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
                ])
            ),
        ),
        (
            "a.ts",
            format!(
                "t = \"{}.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2lnbmF0dXJl\"",
                "eyJub3RfanNvbiI6"
            ),
        ),
        // password-in-url placeholders
        (
            "a.yml",
            "url: postgres://user:password@localhost:5432/db".to_string(),
        ),
        (
            "a.yml",
            "url: amqp://guest:guest@localhost:5672/".to_string(),
        ),
        (
            "a.yml",
            "url: redis://:${REDIS_PASSWORD}@redis:6379/0".to_string(),
        ),
        (
            "a.rs",
            "let u = format!(\"{}://{}:{}@{}\", s, u, p, h);".to_string(),
        ),
        (
            "a.md",
            "see https://alice:Zq81kPLmx02@example.com/x".to_string(),
        ),
        (
            "a.yml",
            "url: https://user:<password>@git.internal/repo.git".to_string(),
        ),
        // twilio SK without twilio context, mailgun non-hex
        (
            "a.txt",
            format!("id = SK{}", "0123456789abcdef0123456789abcdef"),
        ),
        (
            "a.txt",
            "key-value store key-abcdefghijklmnopqrstuvwxyzabcdef".to_string(),
        ),
        // azure emulator key
        (
            "a.json",
            format!(
                "\"AccountKey={}\"",
                j(&[
                    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/",
                    "K1SZFPTOtr/KBHBeksoGMGw=="
                ])
            ),
        ),
        // heroku: uuid without heroku context
        (
            "a.env",
            "REQUEST_ID=123e4567-e89b-12d3-a456-426614174000".to_string(),
        ),
        // docker auth that is not user:password
        ("config.json", "{\"auth\": \"bearer\"}".to_string()),
        (
            "config.json",
            format!("{{\"auth\": \"{}\"}}", b64(b"user:changeme", false)),
        ),
        // telegram / databricks / hf placeholders
        ("a.py", format!("bot = \"1234567890:{}{}\"", "AA", x(33))),
        ("a.py", format!("t = \"{}{}\"", "dapi", x(32))),
        ("a.py", format!("t = \"{}{}\"", "hf_", x(34))),
    ];
    for (p, c) in cases {
        assert_clean(p, &c);
    }
}

#[test]
fn generic_decoys_are_ignored() {
    let cases = [
        ("settings.py", "password = \"changeme\""),
        ("settings.py", "TOKEN = os.environ[\"GITHUB_TOKEN\"]"),
        ("settings.py", "api_key = os.getenv('API_KEY')"),
        ("config.yaml", "api_key: <your-api-key>"),
        ("config.yaml", "secret: ${SECRET}"),
        ("config.yaml", "password: \"{{ vault_db_password }}\""),
        ("ci.yaml", "  token: ${{ secrets.GITHUB_TOKEN }}"),
        ("run.sh", "TOKEN=$(cat /run/secrets/token)"),
        ("app.js", "const apiKey = process.env.API_KEY;"),
        ("app.js", "const token = 'dummy-token-for-tests-1';"),
        ("app.rs", "let token = self.next_token();"),
        (
            "app.rs",
            "let secret_key = SecretKey::from_slice(&bytes2)?;",
        ),
        ("app.rs", "    token_stream: proc_macro2::TokenStream,"),
        ("app.rs", "fn check_password(password: &str) -> bool {"),
        ("app.py", "password = get_password(user2)"),
        ("app.env", "API_KEY=xxxxxxxxxxxxxxxxxxxxxxxx"),
        ("app.env", "SECRET_KEY=example-secret-key-123"),
        ("app.env", "DB_PASSWORD=test1234"),
        (
            "app.env",
            "SESSION_TOKEN=123e4567-e89b-12d3-a456-426614174000",
        ),
        ("app.env", "TOKEN_URL=https://auth.internal/oauth2/token2"),
        ("app.env", "TOKEN_FILE=/var/run/secrets/kube2/token"),
        ("app.env", "PASSWORD_MIN_LENGTH=12345678"),
        ("app.py", "password = \"%(db_password2)s\""),
        ("app.yaml", "password: '%-12s%08d'"),
        ("app.yaml", "secret_name: my-app-secret-v2"),
        ("app.yaml", "token_endpoint: oauth2.googleapis.com/token3"),
        ("app.yaml", "password: !vault |"),
        (
            "Cargo.lock",
            "checksum = \"0f6e8b4c3d2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c\"",
        ),
        (
            "package-lock.json",
            "      \"integrity\": \"sha512-Zx1kPq9vLmN2oR3sT4uV5wX6yZ7aB8cD9eF0gH1iJ2kL3mN4oP5qR6sT7uV8wX9yZ0aB1cD2eF3gH4iJ5kL6mN7oP8==\",",
        ),
        (
            "yarn.lock",
            "  resolved \"https://registry.yarnpkg.com/js-tokens/-/js-tokens-4.0.0.tgz#19203fb6991d\"",
        ),
        (
            "go.sum",
            "golang.org/x/crypto v0.1.0 h1:MDRAIl0xIo9Io2xV565hzXHw3zVseKrJKodhohM5CjU=",
        ),
        (
            "notes.md",
            "The token type is bearer and the password policy requires 12 characters.",
        ),
        (
            "hashes.txt",
            "sha256 = \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"",
        ),
        (
            "ids.json",
            "{\"id\": \"550e8400-e29b-41d4-a716-446655440000\", \"request_token_count\": 42}",
        ),
    ];
    for (p, c) in cases {
        assert_clean(p, c);
    }
}

#[test]
fn generic_accepts_config_formats() {
    let mut r = Rng(7);
    let sc = scanner();
    for (path, fmt) in [
        (".env", "API_TOKEN={}"),
        ("app.toml", "api_key = \"{}\""),
        ("app.json", "{\"clientSecret\": \"{}\"}"),
        ("app.yaml", "db:\n  password: '{}'"),
        ("App.java", "private static final String API_KEY = \"{}\";"),
        ("main.go", "\tapiKey := \"{}\""),
        ("lib.rs", "const AUTH_TOKEN: &str = \"{}\";"),
        ("deploy.sh", "export SERVICE_PASSWORD={}"),
        ("app.properties", "spring.datasource.password={}"),
        ("app.py", "DB_PASSWORD = \"%H{}\""),
    ] {
        let v = format!("{}7{}", r.s(ALNUM, 11), r.s(ALNUM, 8));
        let content = fmt.replace("{}", &v);
        assert_eq!(
            ids(&sc.scan_bytes(path, content.as_bytes())),
            vec!["generic-secret-assignment"],
            "{content}"
        );
    }
    // Unquoted values in code are expressions.
    let v = format!("{}7{}", r.s(ALNUM, 11), r.s(ALNUM, 8));
    assert!(
        sc.scan_bytes("lib.rs", format!("let token = {v};").as_bytes())
            .is_empty()
    );
}

#[test]
fn entropy_threshold_is_configurable() {
    let content = "API_TOKEN=abab1212abab1212cdcd";
    let low = Scanner::new(&Config {
        entropy_threshold: Some(2.0),
        ..Config::default()
    })
    .expect("cfg");
    assert_eq!(
        ids(&low.scan_bytes(".env", content.as_bytes())),
        vec!["generic-secret-assignment"]
    );
    assert!(scanner().scan_bytes(".env", content.as_bytes()).is_empty());
    assert!(shannon_entropy(b"abab1212abab1212cdcd") < 3.0);
}

#[test]
fn one_finding_per_secret_and_specific_rule_wins() {
    let s = &samples()[0]; // aws key id under an aws_* name
    let f = scanner().scan_bytes("x.env", format!("AWS_TOKEN={}", s.secret).as_bytes());
    assert_eq!(ids(&f), vec!["aws-access-key-id"]);
}

#[test]
fn keyword_inside_a_longer_keyword_still_selects_its_rules() {
    // The keyword pass reports `secret` (generic rule) and never `secret_access_key`.
    let s = &samples()[1].secret;
    let f = scanner().scan_bytes("x.env", format!("SECRET_ACCESS_KEY={s}").as_bytes());
    assert_eq!(ids(&f), vec!["aws-secret-access-key"]);
}

#[test]
fn lockfiles_skip_the_generic_rule_only() {
    let v = "Zx81kPLmq02Wr9Tn";
    let line = format!("token = \"{v}\"\n");
    assert_eq!(
        ids(&scanner().scan_bytes("Cargo.toml", line.as_bytes())),
        vec!["generic-secret-assignment"]
    );
    assert!(
        scanner()
            .scan_bytes("Cargo.lock", line.as_bytes())
            .is_empty()
    );
    assert!(
        scanner()
            .scan_bytes("web/package-lock.json", line.as_bytes())
            .is_empty()
    );
    let gh = &samples()[2].secret;
    assert_eq!(
        ids(&scanner().scan_bytes("Cargo.lock", format!("x = \"{gh}\"").as_bytes())),
        vec!["github-token"]
    );
}

#[test]
fn several_findings_on_one_line_and_columns_in_utf16() {
    let ss = samples();
    let (a, b) = (&ss[2].secret, &ss[7].secret);
    let line = format!("é😀 x={a} y={b}");
    let f = scanner().scan_bytes("m.txt", line.as_bytes());
    assert_eq!(ids(&f), vec!["github-token", "stripe-key"]);
    // "é" is 1 UTF-16 unit, "😀" 2: "é😀 x=" is 6 units.
    assert_eq!(f[0].column, 7);
    assert_eq!(f[0].end_column, 7 + a.len() as u32);
}

#[test]
fn long_minified_lines_are_windowed() {
    let s = &samples()[2].secret;
    let filler = "var a=function(b){return b+1};".repeat(400);
    let content = format!("{filler}t=\"{s}\";{filler}u=\"{s}\";{filler}");
    let f = scanner().scan_bytes("bundle.min.js", content.as_bytes());
    assert_eq!(ids(&f), vec!["github-token", "github-token"]);
    assert_eq!(f[0].line, 1);
    assert_eq!(f[0].column as usize, filler.len() + 4);
}

#[test]
fn crlf_and_line_numbers() {
    let s = &samples()[2].secret;
    let content = format!("a\r\nb\r\nT={s}\r\nc\r\n");
    let f = scanner().scan_bytes("x.env", content.as_bytes());
    assert_eq!(
        (f[0].line, f[0].column, f[0].end_column),
        (3, 3, 3 + s.len() as u32)
    );
}

#[test]
fn disable_rules() {
    let s = &samples()[2];
    let sc = Scanner::new(&Config {
        disable: vec!["github-token".into()],
        ..Config::default()
    })
    .expect("cfg");
    // The generic rule still sees an assignment of a high-entropy value.
    assert_eq!(
        ids(&sc.scan_bytes(s.path, s.content.as_bytes())),
        vec!["generic-secret-assignment"]
    );
    let sc = Scanner::new(&Config {
        disable: vec!["github-token".into(), "generic-secret-assignment".into()],
        ..Config::default()
    })
    .expect("cfg");
    assert!(sc.scan_bytes(s.path, s.content.as_bytes()).is_empty());
}

// ---------- config ----------

#[test]
fn config_errors_name_the_key() {
    let err = |c: Config| Scanner::new(&c).err().expect("error");
    let e = err(Config {
        allow_values: vec!["ok".into(), "(".into()],
        ..Config::default()
    });
    assert!(e.starts_with("allow-values[1]: invalid regex"), "{e}");
    let e = err(Config {
        allow_paths: vec!["a[b".into()],
        ..Config::default()
    });
    assert!(e.starts_with("allow-paths[0]: invalid glob"), "{e}");
    let e = err(Config {
        disable: vec!["github-tokens".into()],
        ..Config::default()
    });
    assert!(
        e.starts_with("disable[0]: unknown rule id `github-tokens`"),
        "{e}"
    );
    let e = err(Config {
        entropy_threshold: Some(9.0),
        ..Config::default()
    });
    assert!(e.starts_with("entropy-threshold:"), "{e}");
    let e = err(Config {
        paths: vec![".".into(), "../etc".into()],
        ..Config::default()
    });
    assert!(e.starts_with("paths[1]:"), "{e}");
    let e = err(Config {
        paths: vec!["/etc".into()],
        ..Config::default()
    });
    assert!(e.starts_with("paths[0]:"), "{e}");
    let e = err(Config {
        baseline: Some("../b.json".into()),
        ..Config::default()
    });
    assert!(e.starts_with("baseline:"), "{e}");
}

#[test]
fn config_deserializes_kebab_case_and_rejects_unknown_keys() {
    let c: Config = serde_json::from_str(
        r#"{"allow-paths":["t/**"],"allow-values":["^x"],"entropy-threshold":4.0,"max-file-size":10,"disable":["jwt"],"baseline":"b.json"}"#,
    )
    .expect("parse");
    assert_eq!(c.paths, vec!["."]);
    assert_eq!(c.max_file_size, Some(10));
    let c: Config = serde_json::from_str("{}").expect("empty");
    assert_eq!(c.paths, vec!["."]);
    let e = serde_json::from_str::<Config>(r#"{"allow_paths":[]}"#).expect_err("unknown key");
    assert!(e.to_string().contains("allow_paths"), "{e}");
    let schema = serde_json::to_string(&schemars::schema_for!(Config)).expect("schema");
    assert!(
        schema.contains("allow-paths") && schema.contains("entropy-threshold"),
        "{schema}"
    );
}

#[test]
fn rule_metadata_is_complete() {
    let mut seen = HashSet::new();
    assert!(rules().len() < 64, "rule masks are u64");
    for r in rules() {
        assert!(seen.insert(r.id), "duplicate {}", r.id);
        assert!(
            r.id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{}",
            r.id
        );
        assert!(!r.short.is_empty() && !r.full.is_empty());
        assert_eq!(r.help, r.id);
    }
    let doc = include_str!("../../RULES.md");
    for r in rules() {
        assert!(
            doc.contains(&format!("## {}\n", r.id)),
            "RULES.md lacks a section for {}",
            r.id
        );
    }
}

// ---------- allow-values, inline markers ----------

#[test]
fn allow_values_suppress() {
    let s = &samples()[2];
    let sc = Scanner::new(&Config {
        allow_values: vec![format!("^{}", &s.secret[..10])],
        ..Config::default()
    })
    .expect("cfg");
    assert!(sc.scan_bytes(s.path, s.content.as_bytes()).is_empty());
}

#[test]
fn inline_markers() {
    let ss = samples();
    let (gh, st) = (&ss[2].secret, &ss[7].secret);
    let sc = scanner();
    let run = |c: String| ids(&sc.scan_bytes("m.txt", c.as_bytes())).join(",");
    assert_eq!(run(format!("T={gh} # gantry:allow")), "");
    assert_eq!(run(format!("T={gh} # gantry:allow github-token")), "");
    assert_eq!(
        run(format!("T={gh} S={st} # gantry:allow github-token")),
        "stripe-key"
    );
    assert_eq!(
        run(format!(
            "T={gh} S={st} // gantry:allow github-token, stripe-key"
        )),
        ""
    );
    assert_eq!(run(format!("T={gh} # gantry:allow jwt")), "github-token");
    // Free text after the marker is not a rule id: everything on the line is allowed.
    assert_eq!(
        run(format!("T={gh} # gantry:allow documented test fixture")),
        ""
    );
    assert_eq!(
        run(format!("# gantry:allow-next-line\nT={gh}\nU={gh}")),
        "github-token"
    );
    assert_eq!(
        run(format!("# gantry:allow-next-line stripe-key\nT={gh}")),
        "github-token"
    );
    assert_eq!(
        run(format!("# gantry:allow-next-line github-token\nT={gh}")),
        ""
    );
    // The next-line form does not allow its own line; unrelated words do not count.
    assert_eq!(
        run(format!("T={gh} # gantry:allow-next-line")),
        "github-token"
    );
    assert_eq!(run(format!("T={gh} # gantry:allowed")), "github-token");
}

// ---------- trees ----------

struct TempTree(PathBuf);
impl TempTree {
    fn new(tag: &str) -> TempTree {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "secret-scan-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("mkdir");
        TempTree(p)
    }
    fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }
    fn path(&self) -> &Path {
        &self.0
    }
}
impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn skipped_reason<'a>(out: &'a ScanOutput, path: &str) -> Option<&'a str> {
    out.skipped
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, r)| r.as_str())
}

#[test]
fn tree_walk_skips_git_binary_large_and_allow_paths() {
    let t = TempTree::new("walk");
    let ss = samples();
    let line = format!("T={}\n", ss[2].secret);
    t.write("src/app.env", &line);
    t.write("src/nested/deeper/b.sh", &line);
    t.write(".git/config", &line);
    t.write("sub/.git/HEAD", &line);
    let mut bin = line.clone().into_bytes();
    bin.extend_from_slice(&[0, 1, 2, 3]);
    t.write("img/blob.bin", &bin);
    t.write("big/large.txt", format!("{line}{}", "a".repeat(5000)));
    t.write("tests/fixtures/leak.env", &line);
    t.write("keys/x.pem", &line);
    let cfg = Config {
        allow_paths: vec!["tests/fixtures/**".into(), "*.pem".into()],
        max_file_size: Some(4096),
        ..Config::default()
    };
    let out = Scanner::new(&cfg)
        .expect("cfg")
        .scan_tree(t.path())
        .expect("scan");
    let paths: Vec<(&str, u32)> = out
        .findings
        .iter()
        .map(|f| (f.path.as_str(), f.line))
        .collect();
    assert_eq!(
        paths,
        vec![("src/app.env", 1), ("src/nested/deeper/b.sh", 1)]
    );
    assert_eq!(out.files_scanned, 2);
    assert_eq!(out.bytes_scanned, 2 * line.len() as u64);
    assert_eq!(skipped_reason(&out, ".git"), Some(".git directory"));
    assert_eq!(skipped_reason(&out, "sub/.git"), Some(".git directory"));
    assert_eq!(
        skipped_reason(&out, "img/blob.bin"),
        Some("binary (NUL byte)")
    );
    assert!(
        skipped_reason(&out, "big/large.txt")
            .is_some_and(|r| r.starts_with("larger than max-file-size"))
    );
    assert_eq!(skipped_reason(&out, "tests/fixtures"), Some("allow-paths"));
    assert_eq!(skipped_reason(&out, "keys/x.pem"), Some("allow-paths"));
    // scan_bytes honours allow-paths too.
    let sc = Scanner::new(&cfg).expect("cfg");
    assert!(
        sc.scan_bytes("tests/fixtures/a.env", line.as_bytes())
            .is_empty()
    );
}

#[test]
fn tree_paths_subset_and_missing_path() {
    let t = TempTree::new("paths");
    let line = format!("T={}\n", samples()[2].secret);
    t.write("a/x.env", &line);
    t.write("b/y.env", &line);
    let sc = Scanner::new(&Config {
        paths: vec!["b".into(), "./b/".into(), "a/x.env".into()],
        ..Config::default()
    })
    .expect("cfg");
    let out = sc.scan_tree(t.path()).expect("scan");
    let paths: Vec<&str> = out.findings.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, vec!["a/x.env", "b/y.env"]);
    assert_eq!(out.files_scanned, 2);
    let sc = Scanner::new(&Config {
        paths: vec!["nope".into()],
        ..Config::default()
    })
    .expect("cfg");
    let e = sc.scan_tree(t.path()).expect_err("missing path");
    assert!(e.starts_with("paths[0]: cannot read `nope`"), "{e}");
}

#[test]
fn non_utf8_text_is_scanned_binary_data_is_not() {
    let t = TempTree::new("utf8");
    let s = &samples()[2].secret;
    let mut latin1 = b"# caf\xe9 r\xe9sum\xe9\n".to_vec();
    latin1.extend_from_slice(format!("T={s}\n").as_bytes());
    t.write("latin1.sh", &latin1);
    let mut data: Vec<u8> = (0..4000u32).map(|i| (i * 7 % 251) as u8 | 0x80).collect();
    data.extend_from_slice(format!("T={s}\n").as_bytes());
    t.write("data.dat", &data);
    let out = scanner().scan_tree(t.path()).expect("scan");
    assert_eq!(ids(&out.findings), vec!["github-token"]);
    assert_eq!(out.findings[0].path, "latin1.sh");
    assert_eq!(
        skipped_reason(&out, "data.dat"),
        Some("binary (not UTF-8 text)")
    );
}

#[cfg(unix)]
#[test]
fn symlinks_are_not_followed() {
    let outside = TempTree::new("outside");
    let line = format!("T={}\n", samples()[2].secret);
    outside.write("secret.env", &line);
    outside.write("dir/secret2.env", &line);
    let t = TempTree::new("links");
    t.write("ok.txt", "nothing here\n");
    std::os::unix::fs::symlink(outside.path().join("secret.env"), t.path().join("link.env"))
        .expect("symlink");
    std::os::unix::fs::symlink(outside.path().join("dir"), t.path().join("linkdir"))
        .expect("symlink");
    let out = scanner().scan_tree(t.path()).expect("scan");
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    assert_eq!(out.files_scanned, 1);
    assert_eq!(
        skipped_reason(&out, "link.env"),
        Some("symlink (not followed)")
    );
    assert_eq!(
        skipped_reason(&out, "linkdir"),
        Some("symlink (not followed)")
    );
    // A configured path that is itself a symlink is skipped too.
    let sc = Scanner::new(&Config {
        paths: vec!["linkdir".into()],
        ..Config::default()
    })
    .expect("cfg");
    let out = sc.scan_tree(t.path()).expect("scan");
    assert_eq!((out.files_scanned, out.findings.len()), (0, 0));
}

#[test]
fn baseline_roundtrip_and_errors() {
    let t = TempTree::new("baseline");
    let ss = samples();
    t.write("a.env", format!("T={}\n", ss[2].secret));
    t.write("b.env", format!("S={}\n", ss[7].secret));
    let first = scanner().scan_tree(t.path()).expect("scan");
    assert_eq!(first.findings.len(), 2);
    // Accept only a.env's finding.
    t.write(".gantry-baseline.json", baseline_json(&first.findings[..1]));
    let cfg = Config {
        baseline: Some(".gantry-baseline.json".into()),
        ..Config::default()
    };
    let out = Scanner::new(&cfg)
        .expect("cfg")
        .scan_tree(t.path())
        .expect("scan");
    assert_eq!(ids(&out.findings), vec!["stripe-key"]);
    assert_eq!(out.suppressed, 1);
    // The baseline survives the secret moving down the file.
    t.write("a.env", format!("\n\n# moved\nT={}\n", ss[2].secret));
    let out = Scanner::new(&cfg)
        .expect("cfg")
        .scan_tree(t.path())
        .expect("scan");
    assert_eq!(ids(&out.findings), vec!["stripe-key"]);
    // Format.
    let v: serde_json::Value = serde_json::from_str(&baseline_json(&first.findings)).expect("json");
    assert_eq!(v["version"], 1);
    assert_eq!(v["findings"][0]["rule"], "github-token");
    assert_eq!(v["findings"][0]["path"], "a.env");
    // Missing and malformed baselines are errors naming the file / position.
    let missing = Config {
        baseline: Some("nope.json".into()),
        ..Config::default()
    };
    let e = Scanner::new(&missing)
        .expect("cfg")
        .scan_tree(t.path())
        .expect_err("err");
    assert!(e.contains("`nope.json`"), "{e}");
    t.write(
        "bad.json",
        "{\"version\": 1,\n \"findings\": [ {\"rule\": 3} ]}",
    );
    let bad = Config {
        baseline: Some("bad.json".into()),
        ..Config::default()
    };
    let e = Scanner::new(&bad)
        .expect("cfg")
        .scan_tree(t.path())
        .expect_err("err");
    assert!(e.contains("`bad.json`") && e.contains("line 2"), "{e}");
    t.write("v2.json", "{\"version\": 2, \"findings\": []}");
    let v2 = Config {
        baseline: Some("v2.json".into()),
        ..Config::default()
    };
    let e = Scanner::new(&v2)
        .expect("cfg")
        .scan_tree(t.path())
        .expect_err("err");
    assert!(e.contains("version 2"), "{e}");
}

#[test]
fn suppressed_counts_markers_and_allow_values() {
    let t = TempTree::new("suppressed");
    let ss = samples();
    t.write(
        "a.env",
        format!("T={} # gantry:allow\nS={}\n", ss[2].secret, ss[7].secret),
    );
    let cfg = Config {
        allow_values: vec!["^sk_live_".into()],
        ..Config::default()
    };
    let out = Scanner::new(&cfg)
        .expect("cfg")
        .scan_tree(t.path())
        .expect("scan");
    assert!(out.findings.is_empty());
    assert_eq!(out.suppressed, 2);
}
