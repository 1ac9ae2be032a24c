//! Unit tests of the containers broker's checks and conversions (no engine).

use super::*;

fn grant() -> ContainersGrant {
    ContainersGrant {
        network: vec!["none".into(), "bridge".into()],
        publish: vec![(8080, 8080)],
        manage: Some("app-".into()),
        ..ContainersGrant::default()
    }
}

#[test]
fn host_access_is_always_refused() {
    let none = wit::HostAccess {
        privileged: false,
        cap_add: vec![],
        devices: vec![],
        security_opt: vec![],
        pid: None,
        ipc: None,
        uts: None,
        userns: None,
    };
    assert_eq!(host_access_refusal(&none), None);
    let bad = wit::HostAccess {
        privileged: true,
        cap_add: vec!["SYS_ADMIN".into()],
        pid: Some("host".into()),
        ..none
    };
    let why = host_access_refusal(&bad).unwrap();
    assert!(
        why.contains("privileged") && why.contains("SYS_ADMIN") && why.contains("PID"),
        "{why}"
    );
}

#[test]
fn networks() {
    let g = grant();
    assert_eq!(check_network(&g, "").unwrap(), "none");
    assert_eq!(check_network(&g, "bridge").unwrap(), "bridge");
    assert!(check_network(&g, "host").unwrap_err().1.is_none());
    assert!(check_network(&g, "container:db").unwrap_err().1.is_none());
    let only_none = ContainersGrant::default();
    assert!(check_network(&only_none, "bridge").unwrap_err().1.is_some());
}

#[test]
fn resources_ceilings() {
    let g = grant();
    let r = |cpus, memory_bytes, pids| wit::Resources {
        cpus,
        memory_bytes,
        pids,
    };
    assert!(check_resources(&g, &r(None, None, None)).is_ok());
    assert!(
        check_resources(&g, &r(Some(64.0), None, None))
            .unwrap_err()
            .1
            .is_some()
    );
    assert!(check_resources(&g, &r(None, Some(1 << 40), None)).is_err());
    assert!(check_resources(&g, &r(Some(f64::NAN), None, None)).is_err());
    // Below the engine's smallest share: never rounded to 0 (= unlimited).
    for tiny in [1e-10, 0.0, 0.009, -1.0] {
        let (why, grant) = check_resources(&g, &r(Some(tiny), None, None)).unwrap_err();
        assert!(
            why.contains("at least 0.01") && grant.is_none(),
            "{tiny}: {why}"
        );
    }
    assert_eq!(
        check_resources(&g, &r(Some(0.01), None, None)).unwrap().0,
        10_000_000
    );
    assert_eq!(
        check_resources(&g, &r(Some(0.0100000004), None, None))
            .unwrap()
            .0,
        10_000_000
    );
    assert!(check_resources(&g, &r(None, Some(1 << 20), None)).is_err());
    assert!(check_resources(&g, &r(None, None, Some(1 << 20))).is_err());
}

#[test]
fn names() {
    let g = grant();
    assert!(check_name(&g, "app-web", "container").is_ok());
    assert!(check_name(&g, "db", "container").is_err());
    assert!(check_name(&g, "app-/x", "container").is_err());
    assert!(check_name(&ContainersGrant::default(), "app-web", "container").is_err());
}

#[test]
fn counts_are_capped_with_errors_naming_the_limit() {
    assert!(check_counts(&[("env", limits::ENV, limits::ENV)], 0).is_ok());
    let over = |field, count, max| match check_counts(&[("command", 1, 2), (field, count, max)], 10)
    {
        Err(CapError::Invalid(m)) => m,
        other => panic!("{other:?}"),
    };
    let m = over("env", 257, limits::ENV);
    assert!(
        m.contains("`env` has 257 entries") && m.contains("limit of 256"),
        "{m}"
    );
    let m = over("replicas", 65, limits::REPLICAS);
    assert!(m.contains("`replicas` has 65") && m.contains("64"), "{m}");
    match check_counts(&[], limits::SPEC_BYTES + 1) {
        Err(CapError::Invalid(m)) => assert!(
            m.contains("bytes") && m.contains(&limits::SPEC_BYTES.to_string()),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    let env = vec![("K".to_string(), "vv".to_string())];
    assert_eq!(text_bytes(&[&["ab".to_string()]], &[&env]), 5);
}

#[test]
fn mounts_stay_in_the_workspace() {
    let ws = std::env::temp_dir().join(format!("gantry-mount-{}", std::process::id()));
    std::fs::create_dir_all(ws.join("src")).unwrap();
    std::os::unix::fs::symlink("/var/run", ws.join("sock")).unwrap();
    let ws = ws.canonicalize().unwrap();
    let m = |source: &str, target: &str, writable| wit::Mount {
        source: source.into(),
        target: target.into(),
        writable,
    };
    let read = vec![".".to_string()];
    let refused = |r: Result<PathBuf, MountError>| match r {
        Err(MountError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert!(check_mount(&ws, &read, &[], &m("src", "/src", false)).is_ok());
    assert!(
        refused(check_mount(&ws, &read, &[], &m("src", "/src", true)))
            .1
            .is_some()
    );
    assert!(
        refused(check_mount(&ws, &read, &[], &m("sock", "/s", false)))
            .0
            .contains("outside")
    );
    refused(check_mount(&ws, &read, &[], &m("../", "/s", false)));
    refused(check_mount(
        &ws,
        &read,
        &[],
        &m("/var/run/docker.sock", "/s", false),
    ));
    refused(check_mount(&ws, &[], &[], &m("src", "/src", false)));
    // Mistakes, not refusals: the error says what is wrong and how to fix it.
    for target in ["/", "rel", "/a/../b", "/a:b"] {
        match check_mount(&ws, &read, &[], &m("src", target, false)) {
            Err(MountError::BadTarget(why)) => {
                assert!(
                    why.contains("must be absolute") && why.contains("for example"),
                    "{why}"
                )
            }
            other => panic!("{target}: {other:?}"),
        }
    }
    match check_mount(&ws, &read, &[], &m("missing/dir", "/m", false)) {
        Err(MountError::BadSource(CapError::NotFound(why))) => {
            assert!(
                why.contains("does not exist") && why.contains("create the directory"),
                "{why}"
            )
        }
        other => panic!("{other:?}"),
    }
    std::fs::write(ws.join("src/file.txt"), "x").unwrap();
    match check_mount(&ws, &read, &[], &m("src/file.txt", "/m", false)) {
        Err(MountError::BadSource(CapError::Invalid(why))) => {
            assert!(
                why.contains("not a directory") && why.contains("`src`"),
                "{why}"
            )
        }
        other => panic!("{other:?}"),
    }
    let _ = std::fs::remove_dir_all(&ws);
}

/// A context directory held open as the broker holds it.
fn held(dir: &Path) -> std::os::fd::OwnedFd {
    crate::caps::fs::beneath::open_root(dir).unwrap()
}

fn archived_names(archive: &context::ContextArchive) -> Vec<String> {
    let mut names: Vec<String> = tar::Archive::new(std::fs::File::open(&archive.path).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn build_context_goes_to_a_temporary_file_under_a_cap() {
    let ws = std::env::temp_dir().join(format!("gantry-ctx-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&ws);
    std::fs::create_dir_all(ws.join("sub")).unwrap();
    std::fs::write(ws.join("Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::write(ws.join("sub/a.txt"), "hello").unwrap();
    std::fs::write(ws.join("skip.log"), "no").unwrap();
    std::fs::write(ws.join("file1.log"), "no").unwrap();
    std::fs::write(ws.join("a.txt"), "no").unwrap();
    std::fs::write(ws.join(".dockerignore"), "*.log\nfile?.log\n[ab].txt\n").unwrap();
    let fd = held(&ws);
    let files = context::read_build_files(&fd, "Dockerfile").unwrap();
    let archive = context::archive(&fd, &files, MAX_CONTEXT).unwrap();
    let path = archive.path.clone();
    assert_eq!(archive.content, 25 + 13 + 5);
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the archive is private");
    assert_eq!(
        archived_names(&archive),
        [".dockerignore", "Dockerfile", "sub", "sub/a.txt"]
    );
    drop(archive);
    assert!(!path.exists(), "the archive is removed once used");

    // Over the real cap: a sparse file, so the test writes nothing; the error names
    // the cap and comes before anything is read.
    let big = std::fs::File::create(ws.join("sub/big.bin")).unwrap();
    big.set_len(MAX_CONTEXT + 1).unwrap();
    let ours = |n: &std::ffi::OsString| {
        n.to_string_lossy()
            .starts_with(&format!("gantry-context-{}-", std::process::id()))
    };
    let list = || -> Vec<std::ffi::OsString> {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .filter(ours)
            .collect()
    };
    let before = list();
    let err = context::archive(&fd, &files, MAX_CONTEXT)
        .err()
        .expect("over the cap");
    assert!(
        err.contains("larger than gantry's cap of 1GiB")
            && err.contains("sub/big.bin")
            && err.contains(".dockerignore"),
        "{err}"
    );
    assert_eq!(before, list(), "no archive is left behind");
    let _ = std::fs::remove_dir_all(&ws);
}

/// What the daemon builds from is what was checked: links are archived as links,
/// the Dockerfile's bytes are the ones read first, and a Dockerfile behind a link
/// is refused.
#[test]
fn build_context_never_follows_links_and_keeps_the_checked_dockerfile() {
    let ws = std::env::temp_dir().join(format!("gantry-ctx-links-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&ws);
    std::fs::create_dir_all(ws.join("d")).unwrap();
    std::fs::write(ws.join("d/Dockerfile"), "FROM scratch\n").unwrap();
    std::os::unix::fs::symlink("/etc", ws.join("etc")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", ws.join("host")).unwrap();
    let fd = held(&ws);
    let files = context::read_build_files(&fd, "d/Dockerfile").unwrap();
    // The workspace copy changes after the check: the archive still carries the
    // bytes that were checked.
    std::fs::write(ws.join("d/Dockerfile"), "FROM evil\n").unwrap();
    let archive = context::archive(&fd, &files, MAX_CONTEXT).unwrap();
    let mut a = tar::Archive::new(std::fs::File::open(&archive.path).unwrap());
    let mut seen = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let kind = e.header().entry_type();
        if name == "d/Dockerfile" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut e, &mut text).unwrap();
            assert_eq!(text, "FROM scratch\n");
        }
        seen.push((name, kind));
    }
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        [
            ("d".to_string(), tar::EntryType::Directory),
            ("d/Dockerfile".to_string(), tar::EntryType::Regular),
            ("etc".to_string(), tar::EntryType::Symlink),
            ("host".to_string(), tar::EntryType::Symlink),
        ]
    );
    drop(archive);
    std::os::unix::fs::symlink("d", ws.join("l")).unwrap();
    let e = context::read_build_files(&fd, "l/Dockerfile")
        .err()
        .unwrap();
    assert!(e.contains("symbolic link"), "{e}");
    std::os::unix::fs::symlink("/etc/passwd", ws.join("d/Dockerfile2")).unwrap();
    let e = context::read_build_files(&fd, "d/Dockerfile2")
        .err()
        .unwrap();
    assert!(e.contains("symbolic link"), "{e}");
    let e = context::read_build_files(&fd, "missing").err().unwrap();
    assert!(e.contains("does not exist"), "{e}");
    let _ = std::fs::remove_dir_all(&ws);
}

#[test]
fn images_are_found_by_name_not_by_id_prefix() {
    let img = ImageInspect {
        id: Some(format!("sha256:cafe{}", "0".repeat(60))),
        repo_tags: Some(vec![
            "busybox:latest".into(),
            "127.0.0.1:5000/app:v1".into(),
        ]),
        repo_digests: Some(vec![format!(
            "127.0.0.1:5000/app@sha256:{}",
            "a".repeat(64)
        )]),
        ..Default::default()
    };
    let r = |s: &str| ImageRef::parse(s).unwrap();
    assert!(image_has_name(&img, &r("docker.io/library/busybox")));
    assert!(image_has_name(&img, &r("127.0.0.1:5000/app:v1")));
    assert!(image_has_name(
        &img,
        &r(&format!("127.0.0.1:5000/app@sha256:{}", "a".repeat(64)))
    ));
    assert!(!image_has_name(&img, &r("cafe")));
    assert!(!image_has_name(&img, &r("127.0.0.1:5000/app:v2")));
}

/// Listing builds the records from the list API alone; they equal what an inspect
/// per container gave (real Engine 20.10 answers, captured into fixtures).
#[test]
fn list_entries_equal_inspects() {
    let list: Vec<bollard::models::ContainerSummary> = serde_json::from_str(include_str!(
        "../../../tests/fixtures/docker-api-1.41/containers-list.json"
    ))
    .unwrap();
    let inspects: Vec<ContainerInspectResponse> = serde_json::from_str(include_str!(
        "../../../tests/fixtures/docker-api-1.41/containers-inspect.json"
    ))
    .unwrap();
    assert_eq!(list.len(), 3);
    for summary in &list {
        let from_list = summary_to_container(summary);
        let inspect = inspects
            .iter()
            .find(|i| i.id == summary.id)
            .expect("an inspect of the same container");
        let mut from_inspect = to_container(inspect);
        if from_inspect.state == "created" {
            // An inspect of a never-started container says exit code 0; the list
            // (rightly) has none.
            assert_eq!(from_inspect.exit_code, Some(0));
            from_inspect.exit_code = None;
        }
        assert_eq!(
            format!("{from_list:?}"),
            format!("{from_inspect:?}"),
            "{}",
            from_list.name
        );
    }
    let by = |n: &str| {
        list.iter()
            .map(summary_to_container)
            .find(|c| c.name == n)
            .unwrap()
    };
    assert_eq!(by("lt-exited").exit_code, Some(3));
    assert_eq!(by("lt-healthy").health.as_deref(), Some("unhealthy"));
    assert_eq!(by("lt-healthy").ports.len(), 1);
    assert_eq!(
        by("lt-created").labels,
        [("dev.gantry.x".to_string(), "1".to_string())]
    );
}
