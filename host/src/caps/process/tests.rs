//! Unit tests of the process capability's policy (no sandbox needed).

use super::*;

#[test]
fn hint_is_pasteable_toml() {
    let line = grant_line("git", &["log".into(), "a\"b".into()], &["X"]);
    assert_eq!(
        line,
        r#"grants.process = [{ cmd = "git", args = ["log", "a\"b"], env = ["X"] }]"#
    );
    let v: toml::Table = toml::from_str(&line).expect("the hint parses as TOML");
    assert!(v.contains_key("grants"));
}

#[test]
fn cwd_stays_inside() {
    let base = std::env::temp_dir().join(format!("gantry-proc-unit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(base.join("ws/sub")).expect("mkdir");
    std::fs::create_dir_all(base.join("out")).expect("mkdir");
    std::os::unix::fs::symlink(base.join("out"), base.join("ws/link")).expect("symlink");
    let ws = base.join("ws").canonicalize().expect("canonical");
    let ws = open_workspace(&ws).expect("open workspace");
    std::fs::create_dir_all(base.join("ws/real")).expect("mkdir");
    std::os::unix::fs::symlink("real", base.join("ws/inner")).expect("symlink");
    // A link that stays inside is still a link: commands never follow one.
    assert!(matches!(
        resolve_cwd(&ws, Some("inner")),
        Err(CwdError::Escapes(m)) if m.contains("goes through a symbolic link")
    ));
    assert!(matches!(resolve_cwd(&ws, None), Ok(c) if c.rel == "."));
    assert!(matches!(resolve_cwd(&ws, Some("./sub/")), Ok(c) if c.rel == "sub"));
    assert!(matches!(
        resolve_cwd(&ws, Some("..")),
        Err(CwdError::Escapes(_))
    ));
    assert!(matches!(
        resolve_cwd(&ws, Some("/tmp")),
        Err(CwdError::Escapes(_))
    ));
    assert!(matches!(
        resolve_cwd(&ws, Some("link")),
        Err(CwdError::Escapes(_))
    ));
    assert!(matches!(
        resolve_cwd(&ws, Some("missing")),
        Err(CwdError::Missing(_))
    ));
    let _ = std::fs::remove_dir_all(&base);
}
