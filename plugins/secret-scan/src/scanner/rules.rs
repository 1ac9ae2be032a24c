//! The rule table: metadata (what `describe()` and SARIF show) and detection specs
//! (prefilter keywords, regexes, validation). Rule ids are stable API: never rename
//! one, add a new id instead. `RULES.md` has one section per id.
//!
//! Order matters: when two rules match overlapping text on a line, the rule listed
//! first wins (specific providers before `private-key`, everything before
//! `generic-secret-assignment`).
//!
//! Patterns are compiled as `regex::bytes` with `(?-u)` (ASCII classes) and run on
//! one line (or a window of a very long line) at a time. Group `s` is the secret
//! (fingerprinted, never shown); optional group `r` is its random part (checked for
//! entropy and placeholders). The generic rule uses `u` for unquoted values.

use super::{Level, RuleMeta};

/// A prefilter keyword. The Aho-Corasick pass is ASCII-case-insensitive; a
/// case-sensitive keyword is re-checked byte for byte, and `boundary` requires the
/// byte before the hit to be no ASCII letter or digit.
#[derive(Clone, Copy)]
pub(crate) struct Kw {
    pub text: &'static str,
    pub case_sensitive: bool,
    pub boundary: bool,
}

const fn cs(text: &'static str) -> Kw {
    Kw {
        text,
        case_sensitive: true,
        boundary: true,
    }
}
const fn cs_in(text: &'static str) -> Kw {
    Kw {
        text,
        case_sensitive: true,
        boundary: false,
    }
}
const fn ci(text: &'static str) -> Kw {
    Kw {
        text,
        case_sensitive: false,
        boundary: false,
    }
}
const fn ci_b(text: &'static str) -> Kw {
    Kw {
        text,
        case_sensitive: false,
        boundary: true,
    }
}

/// How a regex match is validated before it becomes a finding.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Check {
    /// Provider token: the random part must reach `min_entropy` bits/char, and must
    /// not look like a placeholder (`EXAMPLE`, `xxxx`, `abcdef…`, `000000…`).
    Token { min_entropy: f64, need_digit: bool },
    /// 40 base64 chars after an aws/secret name: not all-hex, entropy >= 4.0.
    AwsSecret,
    /// PEM/OpenSSH/PGP block: a body of >= 64 base64 chars with entropy must follow.
    PrivateKey,
    /// Header and payload are base64url JSON objects, the header names `alg`.
    Jwt,
    /// `scheme://user:pass@host` with a password that is no placeholder.
    UrlPassword,
    /// Docker `"auth"`: base64 of `user:password`.
    DockerAuth,
    /// Secret-ish name assigned a high-entropy, non-placeholder value.
    Generic,
}

pub(crate) struct Spec {
    pub id: &'static str,
    pub short: &'static str,
    pub full: &'static str,
    pub level: Level,
    pub keywords: &'static [Kw],
    pub patterns: &'static [&'static str],
    pub check: Check,
    /// Leading characters of the secret that are a fixed, public prefix and may be
    /// shown in the redacted preview (capped at a third of the secret's length).
    pub show: usize,
}

/// Index of the generic rule's source-code pattern (quoted values only) and of its
/// config-format pattern (quoted or unquoted values); other patterns run everywhere.
pub(crate) const GENERIC_CODE_PATTERN: usize = 0;
pub(crate) const GENERIC_CONFIG_PATTERN: usize = 1;

const TOK: Check = Check::Token {
    min_entropy: 3.0,
    need_digit: false,
};
const TOK_HI: Check = Check::Token {
    min_entropy: 3.5,
    need_digit: false,
};

// Shared pattern pieces (kept as literals in each pattern for readability).
// Boundaries: `(?:^|[^A-Za-z0-9_])` before and `(?:[^A-Za-z0-9_]|$)` after a token.

pub(crate) static SPECS: &[Spec] = &[
    Spec {
        id: "aws-access-key-id",
        short: "AWS access key ID",
        full: "An AWS access key ID (AKIA… long-term, ASIA… temporary). Together with its secret access key it grants API access to an AWS account.",
        level: Level::Error,
        keywords: &[cs("AKIA"), cs("ASIA"), cs("ABIA"), cs("ACCA")],
        patterns: &[
            r"(?:^|[^A-Za-z0-9])(?P<s>(?:AKIA|ASIA|ABIA|ACCA)(?P<r>[A-Z2-7]{16}))(?:[^A-Za-z0-9]|$)",
        ],
        check: Check::Token {
            min_entropy: 2.8,
            need_digit: false,
        },
        show: 4,
    },
    Spec {
        id: "aws-secret-access-key",
        short: "AWS secret access key",
        full: "A 40-character AWS secret access key assigned to an AWS/secret-access-key name.",
        level: Level::Error,
        keywords: &[
            ci_b("aws"),
            ci_b("amazon"),
            ci("secret_access_key"),
            ci("secretaccesskey"),
            ci("secret-access-key"),
        ],
        patterns: &[
            r#"(?i)(?P<name>[a-z0-9_.\-]*(?:aws|amazon)[a-z0-9_.\-]*(?:secret|key)[a-z0-9_.\-]*|[a-z0-9_.\-]*secret[_.\-]?access[_.\-]?key[a-z0-9_.\-]*)\\?["'`]?(?:\s*:\s*&?(?:'static\s+)?[a-z_][a-z0-9_:<>]*\??)?\s*(?::=|=>|=|:|,)\s*\\?["'`]?(?P<s>[a-z0-9/+]{40})(?:[^a-z0-9/+=]|$)"#,
        ],
        check: Check::AwsSecret,
        show: 0,
    },
    Spec {
        id: "github-token",
        short: "GitHub token",
        full: "A GitHub personal access, OAuth, user-to-server, server-to-server or refresh token (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_).",
        level: Level::Error,
        keywords: &[
            cs("ghp_"),
            cs("gho_"),
            cs("ghu_"),
            cs("ghs_"),
            cs("ghr_"),
            cs("github_pat_"),
        ],
        patterns: &[
            r"(?:^|[^A-Za-z0-9_])(?P<s>gh[pousr]_(?P<r>[A-Za-z0-9]{36,251}))(?:[^A-Za-z0-9_]|$)",
            r"(?:^|[^A-Za-z0-9_])(?P<s>github_pat_(?P<r>[A-Za-z0-9]{22}_[A-Za-z0-9]{59}))(?:[^A-Za-z0-9_]|$)",
        ],
        check: TOK_HI,
        show: 4,
    },
    Spec {
        id: "gitlab-token",
        short: "GitLab token",
        full: "A GitLab personal, deploy, runner, pipeline-trigger or service-account token (glpat-, gldt-, glrt-, glptt-, glsoat-).",
        level: Level::Error,
        keywords: &[
            cs("glpat-"),
            cs("gldt-"),
            cs("glrt-"),
            cs("glptt-"),
            cs("glsoat-"),
        ],
        patterns: &[
            r"(?:^|[^A-Za-z0-9_\-])(?P<s>gl(?:pat|dt|rt|ptt|soat)-(?P<r>[A-Za-z0-9_\-]{20,100}))(?:[^A-Za-z0-9_\-]|$)",
        ],
        check: TOK,
        show: 6,
    },
    Spec {
        id: "slack-token",
        short: "Slack token",
        full: "A Slack bot, user, app or refresh token (xoxb-, xoxp-, xoxa-, xoxr-, xoxo-, xoxs-).",
        level: Level::Error,
        keywords: &[
            cs("xoxb-"),
            cs("xoxp-"),
            cs("xoxa-"),
            cs("xoxr-"),
            cs("xoxo-"),
            cs("xoxs-"),
        ],
        patterns: &[
            r"(?:^|[^A-Za-z0-9])(?P<s>xox[abposr]-(?P<r>[0-9A-Za-z][0-9A-Za-z\-]{15,250}))(?:[^0-9A-Za-z\-]|$)",
        ],
        check: Check::Token {
            min_entropy: 3.0,
            need_digit: true,
        },
        show: 5,
    },
    Spec {
        id: "slack-webhook",
        short: "Slack incoming webhook URL",
        full: "A Slack incoming-webhook or workflow URL: anyone holding it can post to the channel.",
        level: Level::Error,
        keywords: &[ci("hooks.slack.com")],
        patterns: &[
            r"(?P<s>https?://hooks\.slack\.com/(?:services|workflows|triggers)/(?P<r>T[A-Z0-9]{6,12}/[A-Z0-9]{6,12}/[A-Za-z0-9]{20,40}))",
        ],
        check: TOK,
        show: 0,
    },
    Spec {
        id: "stripe-key",
        short: "Stripe live secret key",
        full: "A Stripe live secret or restricted key (sk_live_, rk_live_) or webhook signing secret (whsec_).",
        level: Level::Error,
        keywords: &[cs("sk_live_"), cs("rk_live_"), cs("whsec_")],
        patterns: &[
            r"(?:^|[^A-Za-z0-9_])(?P<s>[sr]k_live_(?P<r>[0-9A-Za-z]{20,247}))(?:[^A-Za-z0-9_]|$)",
            r"(?:^|[^A-Za-z0-9_])(?P<s>whsec_(?P<r>[0-9A-Za-z+/]{32,100}))(?:[^A-Za-z0-9_]|$)",
        ],
        check: TOK_HI,
        show: 8,
    },
    Spec {
        id: "stripe-test-key",
        short: "Stripe test secret key",
        full: "A Stripe test-mode secret or restricted key (sk_test_, rk_test_). It reaches only test data, but is still a credential of the account.",
        level: Level::Warning,
        keywords: &[cs("sk_test_"), cs("rk_test_")],
        patterns: &[
            r"(?:^|[^A-Za-z0-9_])(?P<s>[sr]k_test_(?P<r>[0-9A-Za-z]{20,247}))(?:[^A-Za-z0-9_]|$)",
        ],
        check: TOK_HI,
        show: 8,
    },
    Spec {
        id: "google-api-key",
        short: "Google API key",
        full: "A Google Cloud / Firebase / Maps API key (AIza followed by 35 characters).",
        level: Level::Error,
        keywords: &[cs("AIza")],
        patterns: &[
            r"(?:^|[^A-Za-z0-9_\-])(?P<s>AIza(?P<r>[0-9A-Za-z_\-]{35}))(?:[^A-Za-z0-9_\-]|$)",
        ],
        check: TOK_HI,
        show: 4,
    },
    Spec {
        id: "npm-token",
        short: "npm access token",
        full: "An npm access token (npm_ followed by 36 characters).",
        level: Level::Error,
        keywords: &[cs("npm_")],
        patterns: &[r"(?:^|[^A-Za-z0-9_])(?P<s>npm_(?P<r>[A-Za-z0-9]{36}))(?:[^A-Za-z0-9_]|$)"],
        check: Check::Token {
            min_entropy: 3.5,
            need_digit: true,
        },
        show: 4,
    },
    Spec {
        id: "pypi-token",
        short: "PyPI upload token",
        full: "A PyPI or TestPyPI API token (a macaroon starting pypi-AgEIcHlwaS5vcmc / pypi-AgENdGVzdC5weXBpLm9yZw).",
        level: Level::Error,
        keywords: &[cs_in("pypi-AgE")],
        patterns: &[
            r"(?P<s>pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)(?P<r>[A-Za-z0-9_\-]{50,}))",
        ],
        check: TOK_HI,
        show: 5,
    },
    Spec {
        id: "gcp-service-account-key",
        short: "GCP service account private key",
        full: "The private_key of a Google Cloud service-account JSON key file.",
        level: Level::Error,
        keywords: &[cs_in("-----BEGIN")],
        patterns: &[r#"\\?"private_key\\?"\s*:\s*\\?"(?P<s>-----BEGIN PRIVATE KEY-----)"#],
        check: Check::PrivateKey,
        show: 64,
    },
    Spec {
        id: "private-key",
        short: "Private key",
        full: "A PEM or OpenSSH private key block (RSA, EC, DSA, OPENSSH, PKCS#8, encrypted PKCS#8) or a PGP private key block, with a key body.",
        level: Level::Error,
        keywords: &[cs_in("-----BEGIN")],
        patterns: &[r"(?P<s>-----BEGIN[ A-Z0-9_\-]{0,40}PRIVATE KEY(?: BLOCK)?-----)"],
        check: Check::PrivateKey,
        show: 64,
    },
    Spec {
        id: "jwt",
        short: "JSON Web Token",
        full: "A signed JSON Web Token (three base64url parts, a JSON header naming `alg`, a JSON payload). Often a bearer credential.",
        level: Level::Warning,
        keywords: &[cs("eyJ")],
        patterns: &[
            r"(?:^|[^A-Za-z0-9_\-])(?P<s>eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.(?P<r>[A-Za-z0-9_\-]{16,}))(?:[^A-Za-z0-9_\-]|$)",
        ],
        check: Check::Jwt,
        show: 3,
    },
    Spec {
        id: "password-in-url",
        short: "Password in URL",
        full: "A URL with embedded credentials (scheme://user:password@host) whose password is no placeholder.",
        level: Level::Error,
        keywords: &[cs_in("://")],
        patterns: &[
            r#"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]{1,30})://(?P<user>[^:/?#@\s"'`<>\[\]{}\\]{0,128}):(?P<s>[^@/?#\s"'`<>\\]{1,256})@(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._\-]+)"#,
        ],
        check: Check::UrlPassword,
        show: 0,
    },
    Spec {
        id: "twilio-api-key",
        short: "Twilio API key or auth token",
        full: "A Twilio API key SID (SK + 32 hex) or auth token (32 hex) on a line that mentions Twilio.",
        level: Level::Error,
        keywords: &[ci("twilio")],
        patterns: &[
            r"(?:^|[^A-Za-z0-9])(?P<s>SK(?P<r>[0-9a-fA-F]{32}))(?:[^A-Za-z0-9]|$)",
            r#"(?i)twilio[a-z0-9_.\-]*(?:auth|token|secret)[a-z0-9_.\-]*\\?["'`]?(?:\s*:\s*&?(?:'static\s+)?[a-z_][a-z0-9_:<>]*\??)?\s*(?::=|=>|=|:)\s*\\?["'`]?(?P<s>[0-9a-f]{32})(?:[^a-z0-9]|$)"#,
        ],
        check: TOK,
        show: 2,
    },
    Spec {
        id: "sendgrid-api-key",
        short: "SendGrid API key",
        full: "A SendGrid API key (SG.<22>.<43>).",
        level: Level::Error,
        keywords: &[cs("SG.")],
        patterns: &[
            r"(?:^|[^A-Za-z0-9])(?P<s>SG\.(?P<r>[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}))(?:[^A-Za-z0-9_\-]|$)",
        ],
        check: TOK_HI,
        show: 3,
    },
    Spec {
        id: "mailgun-api-key",
        short: "Mailgun API key",
        full: "A Mailgun private API key (key- + 32 hex, or the newer 32-8-8 hex form on a line that mentions Mailgun).",
        level: Level::Error,
        keywords: &[cs("key-"), ci("mailgun")],
        patterns: &[
            r"(?:^|[^A-Za-z0-9_])(?P<s>key-(?P<r>[0-9a-f]{32}))(?:[^A-Za-z0-9]|$)",
            r"(?i)mailgun.{0,60}?(?:^|[^a-z0-9])(?P<s>[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8})(?:[^a-z0-9]|$)",
        ],
        check: TOK,
        show: 4,
    },
    Spec {
        id: "azure-storage-key",
        short: "Azure storage / Service Bus key",
        full: "An Azure storage account key (AccountKey=… in a connection string) or a Service Bus / Event Hubs SharedAccessKey.",
        level: Level::Error,
        keywords: &[ci("accountkey"), ci("sharedaccesskey")],
        patterns: &[
            r"(?i:accountkey)\s*=\s*(?P<s>[A-Za-z0-9+/]{86}==)",
            r"(?i:sharedaccesskey)\s*=\s*(?P<s>[A-Za-z0-9+/]{43}=)",
        ],
        check: Check::Token {
            min_entropy: 4.0,
            need_digit: false,
        },
        show: 0,
    },
    Spec {
        id: "heroku-api-key",
        short: "Heroku API key",
        full: "A Heroku API key: an HRKU- token, or a UUID assigned to a Heroku key/token name.",
        level: Level::Error,
        keywords: &[ci("heroku"), cs("HRKU-")],
        patterns: &[
            r#"(?i)heroku[a-z0-9_.\-]*(?:key|token|secret|pass)[a-z0-9_.\-]*\\?["'`]?(?:\s*:\s*&?(?:'static\s+)?[a-z_][a-z0-9_:<>]*\??)?\s*(?::=|=>|=|:)\s*\\?["'`]?(?P<s>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[^a-z0-9\-]|$)"#,
            r"(?:^|[^A-Za-z0-9_\-])(?P<s>HRKU-(?P<r>[A-Za-z0-9_\-]{40,80}))(?:[^A-Za-z0-9_\-]|$)",
        ],
        check: TOK,
        show: 0,
    },
    Spec {
        id: "shopify-token",
        short: "Shopify access token",
        full: "A Shopify admin/custom-app/private-app access token or shared secret (shpat_, shpca_, shppa_, shpss_).",
        level: Level::Error,
        keywords: &[cs("shpat_"), cs("shpca_"), cs("shppa_"), cs("shpss_")],
        patterns: &[
            r"(?:^|[^A-Za-z0-9_])(?P<s>shp(?:at|ca|pa|ss)_(?P<r>[a-fA-F0-9]{32}))(?:[^A-Za-z0-9_]|$)",
        ],
        check: TOK,
        show: 6,
    },
    Spec {
        id: "square-token",
        short: "Square access token",
        full: "A Square access token (EAAA…, sq0atp-) or OAuth secret (sq0csp-).",
        level: Level::Error,
        keywords: &[cs("EAAA"), cs("sq0atp-"), cs("sq0csp-")],
        patterns: &[
            r"(?:^|[^A-Za-z0-9_\-])(?P<s>EAAA(?P<r>[A-Za-z0-9_\-]{60}))(?:[^A-Za-z0-9_\-]|$)",
            r"(?:^|[^A-Za-z0-9_\-])(?P<s>sq0atp-(?P<r>[0-9A-Za-z_\-]{22}))(?:[^A-Za-z0-9_\-]|$)",
            r"(?:^|[^A-Za-z0-9_\-])(?P<s>sq0csp-(?P<r>[0-9A-Za-z_\-]{43}))(?:[^A-Za-z0-9_\-]|$)",
        ],
        check: TOK_HI,
        show: 4,
    },
    Spec {
        id: "discord-bot-token",
        short: "Discord bot token",
        full: "A Discord bot token (<base64 id>.<6>.<27+>) on a line that mentions Discord.",
        level: Level::Error,
        keywords: &[ci("discord")],
        patterns: &[
            r"(?:^|[^A-Za-z0-9_\-])(?P<s>[MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,40})(?:[^A-Za-z0-9_\-]|$)",
        ],
        check: TOK_HI,
        show: 0,
    },
    Spec {
        id: "discord-webhook",
        short: "Discord webhook URL",
        full: "A Discord webhook URL: anyone holding it can post to the channel.",
        level: Level::Error,
        keywords: &[ci("discord")],
        patterns: &[
            r"(?P<s>https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/(?P<r>[A-Za-z0-9_\-]{60,68}))(?:[^A-Za-z0-9_\-]|$)",
        ],
        check: TOK_HI,
        show: 0,
    },
    Spec {
        id: "telegram-bot-token",
        short: "Telegram bot token",
        full: "A Telegram Bot API token (<bot id>:AA<33 chars>).",
        level: Level::Error,
        keywords: &[cs_in(":AA")],
        patterns: &[
            r"(?:^|[^0-9A-Za-z])(?P<s>[0-9]{8,10}:AA(?P<r>[0-9A-Za-z_\-]{33}))(?:[^0-9A-Za-z_\-]|$)",
        ],
        check: TOK_HI,
        show: 0,
    },
    Spec {
        id: "docker-config-auth",
        short: "Docker registry credentials",
        full: "An `\"auth\"` entry of a Docker config.json: base64 of `user:password` for a registry.",
        level: Level::Error,
        keywords: &[ci("\"auth\"")],
        patterns: &[r#"\\?"auth\\?"\s*:\s*\\?"(?P<s>[A-Za-z0-9+/]{6,}={0,2})\\?""#],
        check: Check::DockerAuth,
        show: 0,
    },
    Spec {
        id: "digitalocean-token",
        short: "DigitalOcean token",
        full: "A DigitalOcean personal access, OAuth or refresh token (dop_v1_, doo_v1_, dor_v1_).",
        level: Level::Error,
        keywords: &[cs("dop_v1_"), cs("doo_v1_"), cs("dor_v1_")],
        patterns: &[r"(?:^|[^A-Za-z0-9_])(?P<s>do[opr]_v1_(?P<r>[a-f0-9]{64}))(?:[^A-Za-z0-9_]|$)"],
        check: TOK,
        show: 7,
    },
    Spec {
        id: "openai-api-key",
        short: "OpenAI API key",
        full: "An OpenAI API key (sk-…, sk-proj-…, sk-svcacct-… containing the T3BlbkFJ marker).",
        level: Level::Error,
        keywords: &[cs_in("T3BlbkFJ")],
        patterns: &[
            r"(?:^|[^A-Za-z0-9_\-])(?P<s>sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}T3BlbkFJ[A-Za-z0-9_\-]{16,})(?:[^A-Za-z0-9_\-]|$)",
        ],
        check: TOK_HI,
        show: 3,
    },
    Spec {
        id: "anthropic-api-key",
        short: "Anthropic API key",
        full: "An Anthropic API or admin key (sk-ant-api03-…, sk-ant-admin01-…).",
        level: Level::Error,
        keywords: &[cs("sk-ant-")],
        patterns: &[
            r"(?:^|[^A-Za-z0-9_\-])(?P<s>sk-ant-(?:api|admin|sid)[0-9]{2}-(?P<r>[A-Za-z0-9_\-]{80,120}))(?:[^A-Za-z0-9_\-]|$)",
        ],
        check: TOK_HI,
        show: 7,
    },
    Spec {
        id: "vault-token",
        short: "HashiCorp Vault token",
        full: "A HashiCorp Vault service or batch token (hvs., hvb.).",
        level: Level::Error,
        keywords: &[cs("hvs."), cs("hvb.")],
        patterns: &[
            r"(?:^|[^A-Za-z0-9_\-.])(?P<s>hv[sb]\.(?P<r>[A-Za-z0-9_\-]{90,300}))(?:[^A-Za-z0-9_\-]|$)",
        ],
        check: TOK_HI,
        show: 4,
    },
    Spec {
        id: "databricks-token",
        short: "Databricks token",
        full: "A Databricks personal access token (dapi + 32 hex).",
        level: Level::Error,
        keywords: &[cs("dapi")],
        patterns: &[
            r"(?:^|[^A-Za-z0-9_])(?P<s>dapi(?P<r>[a-f0-9]{32})(?:-[0-9])?)(?:[^A-Za-z0-9_\-]|$)",
        ],
        check: TOK,
        show: 4,
    },
    Spec {
        id: "huggingface-token",
        short: "Hugging Face token",
        full: "A Hugging Face user access token (hf_ + 34 characters).",
        level: Level::Error,
        keywords: &[cs("hf_")],
        patterns: &[r"(?:^|[^A-Za-z0-9_])(?P<s>hf_(?P<r>[A-Za-z0-9]{34}))(?:[^A-Za-z0-9_]|$)"],
        check: TOK_HI,
        show: 3,
    },
    Spec {
        id: "age-secret-key",
        short: "age secret key",
        full: "An age encryption identity (AGE-SECRET-KEY-1…).",
        level: Level::Error,
        keywords: &[cs_in("AGE-SECRET-KEY-1")],
        patterns: &[r"(?P<s>AGE-SECRET-KEY-1(?P<r>[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}))"],
        check: TOK,
        show: 15,
    },
    Spec {
        id: "postman-api-key",
        short: "Postman API key",
        full: "A Postman API key (PMAK-<24 hex>-<34 hex>).",
        level: Level::Error,
        keywords: &[cs("PMAK-")],
        patterns: &[
            r"(?:^|[^A-Za-z0-9_\-])(?P<s>PMAK-(?P<r>[a-f0-9]{24}-[a-f0-9]{34}))(?:[^A-Za-z0-9]|$)",
        ],
        check: TOK,
        show: 5,
    },
    Spec {
        id: "generic-secret-assignment",
        short: "Hard-coded secret",
        full: "A high-entropy value assigned to a secret-looking name (password, secret, token, api_key, access_key, private_key, credentials, …) in code, YAML, JSON, TOML, .env or XML. Placeholders, templates, environment lookups and code expressions are ignored.",
        level: Level::Warning,
        keywords: &[
            ci("password"),
            ci("passwd"),
            ci("passphrase"),
            ci_b("pwd"),
            ci("pass"),
            ci("secret"),
            ci("token"),
            ci("apikey"),
            ci("api_key"),
            ci("api-key"),
            ci("accesskey"),
            ci("access_key"),
            ci("access-key"),
            ci("privatekey"),
            ci("private_key"),
            ci("private-key"),
            ci("credential"),
        ],
        patterns: &[
            // name [: type] [quote] op [quote] value. Pattern 0 (source code): quoted
            // values only; pattern 1 (config formats): `s` quoted or `u` unquoted.
            r#"(?i)(?P<name>[a-z0-9_.\-]*(?:password|passwd|passphrase|pwd|pass|secret|token|api[_.\-]?key|access[_.\-]?key|private[_.\-]?key|credentials?)[a-z0-9_.\-]*)\\?["'`]?(?:\s*:\s*&?(?:'static\s+)?[a-z_][a-z0-9_:<>]*\??)?\s*(?::=|=>|\|\|=|\?\?=|=|:)\s*\\?["'`](?P<s>[^"'`\s\\]{8,300})\\?["'`]"#,
            r#"(?i)(?P<name>[a-z0-9_.\-]*(?:password|passwd|passphrase|pwd|pass|secret|token|api[_.\-]?key|access[_.\-]?key|private[_.\-]?key|credentials?)[a-z0-9_.\-]*)\\?["'`]?\s*(?::=|=>|=|:)\s*(?:\\?["'`](?P<s>[^"'`\s\\]{8,300})\\?["'`]|(?P<u>[^\s"'`;,#)\]}>]{8,300}))"#,
            // <password>value</password>
            r"(?i)<(?P<name>[a-z0-9_.\-:]*(?:password|passwd|passphrase|secret|token|api[_.\-]?key|access[_.\-]?key|private[_.\-]?key|credentials?)[a-z0-9_.\-]*)>(?P<s>[^<\s]{1,300})</",
        ],
        check: Check::Generic,
        show: 0,
    },
];

/// sha256 (hex) of publicly documented example credentials that appear in docs and
/// tutorials everywhere and are never valid secrets (Stripe's docs test key, the
/// Azurite storage emulator key, jwt.io's example token). Stored hashed so this
/// file does not itself contain them.
pub(crate) static KNOWN_EXAMPLE_SHA256: &[&str] = &[
    "2cafc0970149a84f3b9e62eaf169f36f59907a3b3e31f7b82e68c69cd27f7326",
    "0011cc25eb4320717494d2703e8cba85743e71b500283c21c8b88147992f9059",
    "7f75367e7881255134e1375e723d1dea8ad5f6a4fdb79d938df1f1754a830606",
];

pub(crate) fn metas() -> Vec<RuleMeta> {
    SPECS
        .iter()
        .map(|s| RuleMeta {
            id: s.id,
            short: s.short,
            full: s.full,
            level: s.level,
            help: s.id,
        })
        .collect()
}
