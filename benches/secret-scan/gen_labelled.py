#!/usr/bin/env python3
"""Build the labelled *quality* corpus for secret-scan: real source text with planted
credentials (every kind secret-scan supports) and planted decoys.

    python3 benches/secret-scan/gen_labelled.py OUT_DIR [--files 1500] [--per-kind 6]
        [--decoys 6] [--seed 7] [--source DIR ...]

Real code: by default files are sampled from this machine's cargo registry sources
(~/.cargo/registry/src/*/) and, when the rust-src component is installed, the Rust
toolchain sources under ~/.rustup/toolchains/*/lib/rustlib/src. So the corpus differs
between machines (it is deterministic for one machine and seed). Crates that are
themselves secret scanners (their test data is full of credentials) are left out.

Planted secrets are fake but format-valid and random (fresh for every seed); decoys
are what a scanner must NOT report: placeholders (`changeme`, `${VAR}`, `<token>`,
`{{ var }}`, `$(cat …)`, `os.environ[...]`), documented example keys (AWS, Stripe,
jwt.io, Azurite), hex digests, UUIDs, lockfile integrity hashes, base64 blobs.

Writes OUT_DIR/labels.json: [{"path", "line", "end_line", "kind", "is_secret"}]
(paths relative to OUT_DIR, lines 1-based; end_line > line for multi-line keys).
Note: sampled real code can contain credential-shaped strings of its own (test
vectors); compare.sh reports findings on unlabelled lines separately.

This file builds every credential-shaped string at run time (no literal secrets),
so gantry's own secret scan of the repository stays clean.
"""

import argparse
import base64
import glob
import json
import os
import random
import shutil
import sys

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "_-"
HEX = "0123456789abcdef"
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
DIGITS = "0123456789"
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"

SOURCE_EXTS = {".rs", ".toml", ".md", ".py", ".js", ".ts", ".go", ".c", ".h", ".sh", ".yml", ".yaml", ".json", ".txt"}
SKIP_CRATES = ("ripsecrets", "detect-secrets", "gitleaks", "trufflehog", "secret-scan")


class Gen:
    def __init__(self, r):
        self.r = r

    def s(self, alphabet, n):
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def with_digit(self, alphabet, n):
        while True:
            v = self.s(alphabet, n)
            if any(c.isdigit() for c in v) and any(c.isalpha() for c in v):
                return v

    def uuid(self):
        h = self.s(HEX, 32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def b64(self, nbytes, url=False):
        raw = self.r.randbytes(nbytes)
        return (base64.urlsafe_b64encode(raw).decode().rstrip("=") if url else base64.b64encode(raw).decode())


def b64url_json(obj):
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")


def j(*parts):
    return "".join(parts)


# ---------------------------------------------------------------- secrets
# kind -> function(Gen) -> (variable name, value). Kinds are secret-scan rule ids.

def secret_value(kind, g):
    r = g.r
    if kind == "aws-access-key-id":
        return "AWS_ACCESS_KEY_ID", j("AK", "IA", g.s(B32, 16))
    if kind == "aws-secret-access-key":
        return "aws_secret_access_key", g.with_digit(B64, 40)
    if kind == "github-token":
        if r.random() < 0.7:
            return "GITHUB_TOKEN", j("gh", r.choice("pousr"), "_", g.with_digit(ALNUM, 36))
        return "GH_PAT", j("github", "_pat_", g.s(ALNUM, 22), "_", g.s(ALNUM, 59))
    if kind == "gitlab-token":
        return "GITLAB_TOKEN", j("gl", "pat-", g.s(URLSAFE, 20))
    if kind == "slack-token":
        return "SLACK_BOT_TOKEN", j("xo", "xb-", g.s(DIGITS, 12), "-", g.s(DIGITS, 13), "-", g.s(ALNUM, 24))
    if kind == "slack-webhook":
        up = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return "SLACK_WEBHOOK_URL", j("https://hooks", ".slack.com/services/T", g.s(up, 8), "/B", g.s(up, 10), "/", g.s(ALNUM, 24))
    if kind == "stripe-key":
        return "STRIPE_SECRET_KEY", j(r.choice(("sk", "rk")), "_live_", g.with_digit(ALNUM, 24))
    if kind == "stripe-test-key":
        return "STRIPE_TEST_KEY", j("sk", "_test_", g.with_digit(ALNUM, 24))
    if kind == "google-api-key":
        return "GOOGLE_API_KEY", j("AI", "za", g.s(URLSAFE, 35))
    if kind == "npm-token":
        return "NPM_TOKEN", j("np", "m_", g.with_digit(ALNUM, 36))
    if kind == "pypi-token":
        return "PYPI_TOKEN", j("pypi-", "AgEIcHlwaS5vcmc", g.s(URLSAFE, 70))
    if kind == "jwt":
        header = b64url_json({"alg": r.choice(("HS256", "RS256", "ES256")), "typ": "JWT"})
        payload = b64url_json({"sub": g.s(ALNUM, 10), "iat": r.randint(1_600_000_000, 1_800_000_000), "role": "service"})
        return "SERVICE_JWT", f"{header}.{payload}.{g.s(URLSAFE, 43)}"
    if kind == "password-in-url":
        scheme, port = r.choice((("postgres", 5432), ("mysql", 3306), ("mongodb", 27017), ("redis", 6379), ("amqp", 5672), ("https", 443)))
        host = r.choice(("db.internal", "10.0.3.17", "prod-db", "cache.svc.cluster.local", "mq.corp.net"))
        return "DATABASE_URL", f"{scheme}://svc_{g.s('abcdefgh', 4)}:{g.with_digit(ALNUM, 16)}@{host}:{port}/app"
    if kind == "twilio-api-key":
        return "TWILIO_API_KEY", j("S", "K", g.s(HEX, 32))
    if kind == "sendgrid-api-key":
        return "SENDGRID_API_KEY", j("S", "G.", g.s(URLSAFE, 22), ".", g.s(URLSAFE, 43))
    if kind == "mailgun-api-key":
        return "MAILGUN_API_KEY", j("ke", "y-", g.s(HEX, 32))
    if kind == "azure-storage-key":
        return "AZURE_STORAGE_CONNECTION_STRING", f"DefaultEndpointsProtocol=https;AccountName=acct{g.s('abcdefgh', 5)};AccountKey={g.b64(64)};EndpointSuffix=core.windows.net"
    if kind == "heroku-api-key":
        return "HEROKU_API_KEY", g.uuid()
    if kind == "shopify-token":
        return "SHOPIFY_ACCESS_TOKEN", j("shp", "at_", g.s(HEX, 32))
    if kind == "square-token":
        return "SQUARE_ACCESS_TOKEN", j("sq0", "atp-", g.with_digit(URLSAFE, 22)) if r.random() < 0.5 else j("EA", "AA", g.s(URLSAFE, 60))
    if kind == "discord-bot-token":
        return "DISCORD_BOT_TOKEN", f"{r.choice('MNO')}{g.s(URLSAFE, 23)}.{g.s(URLSAFE, 6)}.{g.s(URLSAFE, 27)}"
    if kind == "discord-webhook":
        return "DISCORD_WEBHOOK", f"https://discord.com/api/webhooks/{g.s(DIGITS, 18)}/{g.s(URLSAFE, 68)}"
    if kind == "telegram-bot-token":
        return "TELEGRAM_BOT_TOKEN", j(g.s(DIGITS, 10), ":A", "A", g.s(URLSAFE, 33))
    if kind == "digitalocean-token":
        return "DIGITALOCEAN_TOKEN", j("do", "p_v1_", g.s(HEX, 64))
    if kind == "openai-api-key":
        return "OPENAI_API_KEY", j("sk-", "proj-", g.s(URLSAFE, 58), "T3Blbk", "FJ", g.s(URLSAFE, 58))
    if kind == "anthropic-api-key":
        return "ANTHROPIC_API_KEY", j("sk-", "ant-", "api03-", g.s(URLSAFE, 93), "AA")
    if kind == "vault-token":
        return "VAULT_TOKEN", j("hv", "s.", g.s(URLSAFE, 95))
    if kind == "databricks-token":
        return "DATABRICKS_TOKEN", j("da", "pi", g.s(HEX, 32))
    if kind == "huggingface-token":
        return "HF_TOKEN", j("h", "f_", g.s(ALNUM, 34))
    if kind == "age-secret-key":
        return "AGE_IDENTITY", j("AGE-SECRET", "-KEY-1", g.s(BECH32, 58))
    if kind == "postman-api-key":
        return "POSTMAN_API_KEY", j("PM", "AK-", g.s(HEX, 24), "-", g.s(HEX, 34))
    if kind == "generic-secret-assignment":
        name = r.choice(("DB_PASSWORD", "client_secret", "api_key", "SECRET_KEY", "auth_token", "smtp_password", "jwtSecret", "signing_key_secret"))
        return name, g.with_digit(ALNUM + "!#%^*_-", r.randint(14, 32))
    raise KeyError(kind)


INLINE_KINDS = [
    "aws-access-key-id", "aws-secret-access-key", "github-token", "gitlab-token", "slack-token", "slack-webhook",
    "stripe-key", "stripe-test-key", "google-api-key", "npm-token", "pypi-token", "jwt", "password-in-url",
    "twilio-api-key", "sendgrid-api-key", "mailgun-api-key", "azure-storage-key", "heroku-api-key", "shopify-token",
    "square-token", "discord-bot-token", "discord-webhook", "telegram-bot-token", "digitalocean-token",
    "openai-api-key", "anthropic-api-key", "vault-token", "databricks-token", "huggingface-token",
    "age-secret-key", "postman-api-key", "generic-secret-assignment",
]
FILE_KINDS = ["private-key", "gcp-service-account-key", "docker-config-auth"]


def camel(name):
    parts = name.lower().split("_")
    return parts[0] + "".join(p.title() for p in parts[1:])


def render(ext, name, value):
    """One assignment line in the host file's language."""
    if ext == ".rs":
        return f'const {name.upper()}: &str = "{value}";'
    if ext == ".py":
        return f'{name} = "{value}"'
    if ext in (".js", ".ts"):
        return f'const {camel(name)} = "{value}";'
    if ext == ".go":
        return f'var {camel(name)} = "{value}"'
    if ext in (".c", ".h"):
        return f'static const char *{name.lower()} = "{value}";'
    if ext == ".toml":
        return f'{name.lower()} = "{value}"'
    if ext in (".yml", ".yaml"):
        return f"{name.lower()}: {value}"
    if ext == ".json":
        return f'"{name.lower()}": "{value}",'
    if ext == ".sh":
        return f'export {name.upper()}="{value}"'
    return f"    {name.upper()}={value}"


def pem_body(g, lines, width=64):
    return [g.s(B64, width) for _ in range(lines)]


def private_key_file(g):
    r = g.r
    kind = r.choice(("RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED ", "DSA ", "PGP"))
    pk = "PRIVATE" + " KEY"
    if kind == "PGP":
        body = ["Version: GnuPG v2", ""] + pem_body(g, 12) + ["=" + g.s(B64, 4)]
        return [f"-----BEGIN PGP {pk} BLOCK-----"] + body + [f"-----END PGP {pk} BLOCK-----"]
    head = []
    if kind == "RSA " and r.random() < 0.3:
        head = ["Proc-Type: 4,ENCRYPTED", f"DEK-Info: AES-128-CBC,{g.s(HEX, 32).upper()}", ""]
    n = {"RSA ": 25, "EC ": 3, "OPENSSH ": 7, "": 26, "ENCRYPTED ": 27, "DSA ": 10}[kind]
    width = 70 if kind == "OPENSSH " else 64
    return [f"-----BEGIN {kind}{pk}-----"] + head + pem_body(g, n, width) + [g.s(B64, 24) + "=", f"-----END {kind}{pk}-----"]


# ---------------------------------------------------------------- decoys
# kind -> function(Gen, ext) -> line (full line, already rendered)

def decoy_line(kind, g, ext):
    r = g.r
    if kind == "placeholder":
        name, value = r.choice([
            ("password", "changeme"), ("api_key", "<your-api-key>"), ("token", "${API_TOKEN}"),
            ("secret", "{{ .Values.secret }}"), ("db_password", "{{ db_password }}"), ("password", "xxxxxxxxxxxx"),
            ("auth_token", "dummy-token-value"), ("secret_key", "test-secret-key-123"), ("password", "example_password_1"),
            ("api_token", "YOUR_API_TOKEN_HERE"), ("client_secret", "<client-secret>"), ("password", "********"),
            ("token", "$(cat /run/secrets/token)"), ("access_key", "REPLACE_ME_1234"),
        ])
        return render(ext, name, value)
    if kind == "env-lookup":
        return r.choice([
            'api_key = os.environ["API_KEY"]', "const token = process.env.GITHUB_TOKEN;",
            'let password = std::env::var("DB_PASSWORD")?;', "password: ${DB_PASSWORD}",
            'secret = os.getenv("APP_SECRET", "")', 'token := os.Getenv("VAULT_TOKEN")',
            "export AWS_SECRET_ACCESS_KEY=$(vault read -field=secret aws/creds/ci)",
        ])
    if kind == "aws-example":
        if r.random() < 0.5:
            return render(ext, "aws_access_key_id", j("AKIA", "IOSFODNN7", "EXAMPLE"))
        return render(ext, "aws_secret_access_key", j("wJalrXUtnFEMI/K7MDENG/bPxRfiCY", "EXAMPLEKEY"))
    if kind == "doc-example-key":
        return r.choice([
            render(ext, "stripe_key", j("sk_test_", "4eC39HqLyjWDarjtT1zdp7dc")),
            render(ext, "azurite_key", j("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/", "K1SZFPTOtr/KBHBeksoGMGw==")),
            render(ext, "example_jwt", j("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ", ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")),
        ])
    if kind == "token-placeholder":
        return render(ext, "token", r.choice([
            j("gh", "p_", "x" * 36), j("sk", "_live_", "X" * 24), j("xo", "xb-", "your-bot-token-here"),
            j("AK", "IA", "X" * 16), j("gl", "pat-", "x" * 20), j("AI", "za", "-" * 35),
        ]))
    if kind == "hex-digest":
        return r.choice([
            render(ext, "sha256", g.s(HEX, 64)), render(ext, "commit_sha", g.s(HEX, 40)),
            render(ext, "checksum", g.s(HEX, 64)), render(ext, "md5", g.s(HEX, 32)),
            render(ext, "token_hash", g.s(HEX, 64)),
        ])
    if kind == "uuid":
        return render(ext, r.choice(("request_id", "id", "trace_id", "client_id", "tenant_id", "uuid")), g.uuid())
    if kind == "base64-blob":
        return r.choice([
            render(ext, "icon", "data:image/png;base64," + g.b64(48)),
            render(ext, "fixture_bytes", g.b64(33)),
            render(ext, "public_key", "ssh-ed25519 " + g.b64(51) + " ci@example"),
        ])
    if kind == "url-placeholder":
        return render(ext, "url", r.choice([
            "postgres://user:password@localhost:5432/db", "https://${GIT_USER}:${GIT_TOKEN}@git.example.com/repo.git",
            "amqp://guest:guest@localhost:5672/", "mysql://root:<password>@127.0.0.1/app",
            "redis://:changeme@redis:6379/0", "https://user:pass@proxy.corp:3128",
        ]))
    raise KeyError(kind)


DECOY_KINDS = ["placeholder", "env-lookup", "aws-example", "doc-example-key", "token-placeholder", "hex-digest",
               "uuid", "base64-blob", "url-placeholder"]


def lockfiles(g, out_dir, labels, n_files):
    """package-lock.json / Cargo.lock / go.sum / yarn.lock with integrity decoys (every hash line labelled)."""
    r = g.r
    for i in range(n_files):
        d = os.path.join(out_dir, "lock", f"p{i}")
        os.makedirs(d, exist_ok=True)
        which = i % 4
        lines, marks = [], []
        if which == 0:
            name = "package-lock.json"
            lines = ["{", '  "name": "app",', '  "lockfileVersion": 3,', '  "packages": {']
            for k in range(20):
                pkg = f"pkg-{g.s('abcdefghij', 6)}"
                lines += [f'    "node_modules/{pkg}": {{', '      "version": "1.2.3",',
                          f'      "resolved": "https://registry.npmjs.org/{pkg}/-/{pkg}-1.2.3.tgz",']
                marks.append(len(lines) + 1)
                lines += [f'      "integrity": "sha512-{g.b64(64)}"', "    }" + ("," if k < 19 else "")]
            lines += ["  }", "}"]
        elif which == 1:
            name = "Cargo.lock"
            lines = ["version = 4", ""]
            for _ in range(20):
                lines += ["[[package]]", f'name = "crate-{g.s("abcdefghij", 6)}"', 'version = "0.4.1"',
                          'source = "registry+https://github.com/rust-lang/crates.io-index"']
                marks.append(len(lines) + 1)
                lines += [f'checksum = "{g.s(HEX, 64)}"', ""]
        elif which == 2:
            name = "go.sum"
            for _ in range(20):
                mod = f"github.com/{g.s('abcdefghij', 5)}/{g.s('abcdefghij', 6)}"
                marks.append(len(lines) + 1)
                lines.append(f"{mod} v1.{r.randint(0, 9)}.0 h1:{g.b64(32)}")
                marks.append(len(lines) + 1)
                lines.append(f"{mod} v1.{r.randint(0, 9)}.0/go.mod h1:{g.b64(32)}")
        else:
            name = "yarn.lock"
            for _ in range(20):
                pkg = g.s("abcdefghij", 7)
                lines += [f'"{pkg}@^2.0.0":', "  version \"2.0.1\"",
                          f'  resolved "https://registry.yarnpkg.com/{pkg}/-/{pkg}-2.0.1.tgz#{g.s(HEX, 40)}"']
                marks.append(len(lines) + 1)
                lines += [f"  integrity sha512-{g.b64(64)}", ""]
        with open(os.path.join(d, name), "w") as fh:
            fh.write("\n".join(lines) + "\n")
        rel = os.path.relpath(os.path.join(d, name), out_dir)
        for ln in marks:
            labels.append({"path": rel, "line": ln, "end_line": ln, "kind": "lock-integrity", "is_secret": False})


def find_sources(extra):
    roots = list(extra)
    if not roots:
        roots = sorted(glob.glob(os.path.expanduser("~/.cargo/registry/src/*/")))
        roots += sorted(glob.glob(os.path.expanduser("~/.rustup/toolchains/*/lib/rustlib/src/rust/library")))
    files = []
    for root in roots:
        for dp, dns, fns in os.walk(root):
            dns.sort()
            if any(s in dp for s in SKIP_CRATES) or "/.git" in dp:
                dns[:] = []
                continue
            for fn in sorted(fns):
                p = os.path.join(dp, fn)
                ext = os.path.splitext(fn)[1]
                if ext not in SOURCE_EXTS:
                    continue
                try:
                    size = os.path.getsize(p)
                except OSError:
                    continue
                if 500 <= size <= 150_000:
                    files.append((root, p))
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--files", type=int, default=1500, help="real source files to copy")
    ap.add_argument("--per-kind", type=int, default=6, help="planted secrets per kind")
    ap.add_argument("--decoys", type=int, default=6, help="planted decoys per decoy kind (x4 for placeholders)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--source", action="append", default=[], help="directory of real code (repeatable)")
    a = ap.parse_args()
    r = random.Random(a.seed)
    g = Gen(r)

    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    os.makedirs(a.out)
    sources = find_sources(a.source)
    if not sources:
        sys.exit("no source files found (install crates or pass --source DIR)")
    picked = r.sample(sources, min(a.files, len(sources)))
    hosts = []  # [rel path, ext, lines, insertions]
    for root, p in picked:
        rel = os.path.join("real", os.path.relpath(p, root))
        dst = os.path.join(a.out, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(p, "rb") as fh:
            text = fh.read().decode("utf-8", "replace")
        hosts.append({"rel": rel, "ext": os.path.splitext(p)[1], "lines": text.split("\n"), "ins": []})

    labels = []

    for kind in INLINE_KINDS:
        for _ in range(a.per_kind):
            h = r.choice(hosts)
            name, value = secret_value(kind, g)
            at = r.randint(0, max(0, len(h["lines"]) - 1))
            h["ins"].append((at, [render(h["ext"], name, value)], kind, True))
    for kind in DECOY_KINDS:
        for _ in range(a.decoys * (4 if kind == "placeholder" else 1)):
            h = r.choice(hosts)
            at = r.randint(0, max(0, len(h["lines"]) - 1))
            h["ins"].append((at, [decoy_line(kind, g, h["ext"])], kind, False))

    # Apply insertions and compute final line numbers.
    for h in hosts:
        lines = h["lines"]
        out, prev, added = [], 0, 0
        for at, block, kind, is_secret in sorted(h["ins"], key=lambda x: x[0]):
            out.extend(lines[prev:at])
            start = len(out) + 1
            out.extend(block)
            labels.append({"path": h["rel"], "line": start, "end_line": start + len(block) - 1, "kind": kind, "is_secret": is_secret})
            prev = at
        out.extend(lines[prev:])
        with open(os.path.join(a.out, h["rel"]), "w") as fh:
            fh.write("\n".join(out))

    # Whole-file kinds.
    cfg = os.path.join(a.out, "config")
    os.makedirs(cfg, exist_ok=True)
    for i in range(a.per_kind):
        key = private_key_file(g)
        pre = [f"# deploy key for host {i}", ""] if i % 2 else []
        path = os.path.join(cfg, f"id_key_{i}")
        with open(path, "w") as fh:
            fh.write("\n".join(pre + key) + "\n")
        labels.append({"path": os.path.relpath(path, a.out), "line": len(pre) + 1, "end_line": len(pre) + len(key), "kind": "private-key", "is_secret": True})

        pk = "PRIVATE" + " KEY"
        body = "\\n".join(pem_body(g, 26))
        sa = ["{", '  "type": "service_account",', f'  "project_id": "proj-{g.s("abcdefgh", 6)}",',
              f'  "private_key_id": "{g.s(HEX, 40)}",',
              f'  "private_key": "-----BEGIN {pk}-----\\n{body}\\n-----END {pk}-----\\n",',
              f'  "client_email": "ci@proj.iam.gserviceaccount.com",', f'  "client_id": "{g.s(DIGITS, 21)}"', "}"]
        path = os.path.join(cfg, f"service-account-{i}.json")
        with open(path, "w") as fh:
            fh.write("\n".join(sa) + "\n")
        labels.append({"path": os.path.relpath(path, a.out), "line": 5, "end_line": 5, "kind": "gcp-service-account-key", "is_secret": True})

        auth = base64.b64encode(f"ci-bot:{g.with_digit(ALNUM, 20)}".encode()).decode()
        dc = ["{", '  "auths": {', '    "registry.corp.net": {', f'      "auth": "{auth}"', "    }", "  }", "}"]
        d = os.path.join(cfg, f"docker{i}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as fh:
            fh.write("\n".join(dc) + "\n")
        labels.append({"path": os.path.relpath(os.path.join(d, "config.json"), a.out), "line": 4, "end_line": 4, "kind": "docker-config-auth", "is_secret": True})

    for i in range(a.decoys):
        pk = "PRIVATE" + " KEY"
        path = os.path.join(cfg, f"key_placeholder_{i}.md")
        lines = ["To configure the deploy key, paste it here:", "", "```", f"-----BEGIN RSA {pk}-----",
                 r.choice(("...", "<your key here>", "MIIEpAIBAAKCAQEA...")), f"-----END RSA {pk}-----", "```"]
        with open(path, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        labels.append({"path": os.path.relpath(path, a.out), "line": 4, "end_line": 6, "kind": "key-placeholder", "is_secret": False})

    lockfiles(g, a.out, labels, max(4, a.decoys))

    labels.sort(key=lambda x: (x["path"], x["line"]))
    with open(os.path.join(a.out, "labels.json"), "w") as fh:
        json.dump(labels, fh, indent=1)
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(a.out) for f in fs)
    ns = sum(1 for x in labels if x["is_secret"])
    print(f"{len(hosts)} real files, {ns} secrets, {len(labels) - ns} decoys, {total / 1e6:.1f} MB in {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
