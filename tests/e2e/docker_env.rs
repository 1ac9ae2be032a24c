//! The real components the container tests stand on, checked through the test support
//! in `gantry_test_plugins::docker`: the engine answers, the scratch images run, the
//! healthz server answers as told (and stops on SIGTERM as PID 1), the registry
//! demands credentials, Swarm is active, and snapshots see new objects.
//!
//! Without an engine these tests print `SKIPPED …`; under `CI=true` they fail, telling
//! the reader to run `.ci/docker-up`.

use gantry_test_plugins::docker::{
    Cleanup, DockerConfig, Snapshot, busybox_image, containers_with_label, docker, docker_ok,
    exclusive, healthz_binary, healthz_image, images_with_label, is_static_elf, published_addr,
    shared, unique, wait_for_http,
};
use gantry_test_plugins::{docker_or_skip, registry_or_skip};
use std::time::{Duration, Instant};

#[test]
fn engine_answers_with_its_api_version() {
    let Some(facts) = docker_or_skip("engine_answers_with_its_api_version") else {
        return;
    };
    eprintln!(
        "Docker Engine {} (API {}), storage driver {}, swarm {}",
        facts.server_version, facts.api_version, facts.storage_driver, facts.swarm_state
    );
    let (major, minor) = facts
        .api_version
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
        .unwrap_or_else(|| panic!("API version {:?} is not MAJOR.MINOR", facts.api_version));
    // Debian bookworm's docker.io is Engine 20.10, API 1.41: the oldest gantry supports.
    assert!(
        (major, minor) >= (1, 41),
        "engine API {major}.{minor} is older than 1.41"
    );
}

#[test]
fn busybox_scratch_image_runs_its_applets() {
    if docker_or_skip("busybox_scratch_image_runs_its_applets").is_none() {
        return;
    }
    let _engine = shared();
    let mut cleanup = Cleanup::new();
    let tag = busybox_image(&format!("{}:latest", unique("gantry-test-busybox")));
    cleanup.image(&tag);
    docker_ok(&["run", "--rm", &tag, "true"]);
    let err = docker(&["run", "--rm", &tag, "false"]).expect_err("`false` must fail");
    assert!(err.contains("exit status: 1"), "{err}");
    let out = docker_ok(&[
        "run",
        "--rm",
        &tag,
        "sh",
        "-c",
        "echo $((6 * 7)); sleep 0; echo hi | cat; wget --help 2>&1 | head -n 1",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["42", "hi"], "{out}");
    assert!(lines[2].starts_with("BusyBox"), "wget is busybox's: {out}");
    // Nothing else is in the image: no pull, no base layer.
    let size: u64 = docker_ok(&["image", "inspect", "--format", "{{.Size}}", &tag])
        .parse()
        .expect("image size is a number");
    assert!(size < 5 << 20, "scratch busybox image is {size} bytes");
}

/// Polls `docker inspect` until the container's health status is `want`.
fn wait_for_health(container: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = docker_ok(&["inspect", "--format", "{{.State.Health.Status}}", container]);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "container health stayed {got:?}, expected {want:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn healthz_image_answers_as_configured_and_stops_on_sigterm() {
    if docker_or_skip("healthz_image_answers_as_configured_and_stops_on_sigterm").is_none() {
        return;
    }
    let _engine = shared();
    assert_eq!(
        is_static_elf(&healthz_binary()),
        Ok(true),
        "the healthz binary must be static to run FROM scratch"
    );
    let mut cleanup = Cleanup::new();
    let tag = healthz_image(&format!("{}:v7", unique("gantry-test-healthz")), "v7");
    cleanup.image(&tag);

    let healthy = docker_ok(&["run", "-d", "-p", "127.0.0.1::8080", &tag]);
    cleanup.container(&healthy);
    let addr = published_addr(&healthy, 8080);
    assert_eq!(
        wait_for_http(&addr, "/healthz", Duration::from_secs(20)),
        (200, "ok\n".to_string())
    );
    assert_eq!(
        wait_for_http(&addr, "/", Duration::from_secs(5)),
        (200, "v7\n".to_string())
    );
    wait_for_health(&healthy, "healthy");

    let failing = docker_ok(&[
        "run",
        "-d",
        "-e",
        "HEALTHZ_STATUS=500",
        "-p",
        "127.0.0.1::8080",
        &tag,
    ]);
    cleanup.container(&failing);
    let addr = published_addr(&failing, 8080);
    assert_eq!(
        wait_for_http(&addr, "/healthz", Duration::from_secs(20)).0,
        500
    );
    wait_for_health(&failing, "unhealthy");

    // As PID 1 the server must handle SIGTERM itself: exit code 0, not the 137 of the
    // SIGKILL Docker sends when the stop timeout runs out.
    docker_ok(&["stop", "-t", "30", &healthy]);
    let code = docker_ok(&["inspect", "--format", "{{.State.ExitCode}}", &healthy]);
    assert_eq!(code, "0", "healthz did not exit on SIGTERM");
}

#[test]
fn registry_accepts_only_authenticated_pushes_and_serves_by_digest() {
    let test = "registry_accepts_only_authenticated_pushes_and_serves_by_digest";
    if docker_or_skip(test).is_none() {
        return;
    }
    let Some(registry) = registry_or_skip(test) else {
        return;
    };
    let _engine = shared();
    let mut cleanup = Cleanup::new();
    let repo = format!("{}/{}", registry.address, unique("gantry-test/push"));
    let tag = busybox_image(&format!("{repo}:v1"));
    cleanup.image(&tag);

    let anonymous = DockerConfig::empty();
    let err = anonymous
        .docker(&["push", &tag])
        .expect_err("the registry accepted an anonymous push");
    assert!(
        err.contains("no basic auth credentials") || err.contains("unauthorized"),
        "{err}"
    );

    let logged_in = registry.logged_in_config();
    let out = logged_in
        .docker(&["push", &tag])
        .unwrap_or_else(|e| panic!("authenticated push: {e}"));
    let digest = out
        .split_whitespace()
        .find(|w| w.starts_with("sha256:") && w.len() == 71)
        .unwrap_or_else(|| panic!("push printed no digest: {out}"));
    let by_digest = format!("{repo}@{digest}");
    cleanup.image(&by_digest);

    // Only the registry has it now; anonymous pulls are refused too.
    docker_ok(&["rmi", "-f", &tag]);
    assert!(anonymous.docker(&["pull", &by_digest]).is_err());
    logged_in
        .docker(&["pull", &by_digest])
        .unwrap_or_else(|e| panic!("pull by digest: {e}"));
    docker_ok(&["run", "--rm", &by_digest, "true"]);
}

#[test]
fn swarm_is_active_with_a_ready_manager() {
    let Some(facts) = docker_or_skip("swarm_is_active_with_a_ready_manager") else {
        return;
    };
    assert!(
        facts.swarm_active(),
        "swarm is {:?}; .ci/docker-up runs `docker swarm init --advertise-addr 127.0.0.1`",
        facts.swarm_state
    );
    let nodes = docker_ok(&["node", "ls", "--format", "{{.Status}} {{.ManagerStatus}}"]);
    assert!(nodes.lines().any(|l| l == "Ready Leader"), "{nodes}");
}

#[test]
fn snapshot_reports_a_new_container_and_labels_find_it() {
    if docker_or_skip("snapshot_reports_a_new_container_and_labels_find_it").is_none() {
        return;
    }
    let _engine = exclusive();
    let mut cleanup = Cleanup::new();
    let tag = busybox_image(&format!("{}:latest", unique("gantry-test-snapshot")));
    cleanup.image(&tag);
    let label = format!("org.gantry.test.snapshot={}", unique("s"));

    let before = Snapshot::take();
    let id = docker_ok(&["create", "--label", &label, &tag, "true"]);
    cleanup.container(&id);
    let new = before.new_since();
    assert!(
        new.iter()
            .any(|n| n.starts_with(&format!("container {id}"))),
        "snapshot missed container {id}: {new:?}"
    );
    assert_eq!(containers_with_label(&label), [id.as_str()]);
    assert!(
        images_with_label("org.gantry.test-support=busybox")
            .iter()
            .any(|i| docker_ok(&["image", "inspect", "--format", "{{.Id}}", &tag]) == *i)
    );

    docker_ok(&["rm", &id]);
    before.assert_nothing_new("removing the container again");
}

#[test]
fn swarm_service_serves_on_a_host_mode_port() {
    let Some(facts) = docker_or_skip("swarm_service_serves_on_a_host_mode_port") else {
        return;
    };
    assert!(facts.swarm_active(), "swarm is {:?}", facts.swarm_state);
    let _engine = shared();
    let mut cleanup = Cleanup::new();
    let tag = healthz_image(&format!("{}:s1", unique("gantry-test-swarm")), "s1");
    cleanup.image(&tag);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("an ephemeral port")
        .port();
    let name = unique("gantry-test-svc");
    // mode=host and dnsrr: the ingress mesh and VIPs need IPVS, which some kernels
    // (this project's CI VM among them) lack; host-mode ports work everywhere.
    let id = docker_ok(&[
        "service",
        "create",
        "--quiet",
        "--detach=false",
        "--name",
        &name,
        "--endpoint-mode",
        "dnsrr",
        "--publish",
        &format!("mode=host,target=8080,published={port}"),
        &tag,
    ]);
    cleanup.service(&id);
    let (status, body) = wait_for_http(&format!("127.0.0.1:{port}"), "/", Duration::from_secs(30));
    assert_eq!((status, body.as_str()), (200, "s1\n"));
}

/// The listings other tests prove things with: the files of an image, the host's
/// address on the bridge, an object's state.
#[test]
fn image_files_gateway_and_object_state_describe_what_is_there() {
    if docker_or_skip("image_files_gateway_and_object_state_describe_what_is_there").is_none() {
        return;
    }
    let _engine = shared();
    let mut cleanup = Cleanup::new();
    let tag = busybox_image(&format!("{}:1", unique("gantry-test-busybox")));
    cleanup.image(&tag);
    let files = gantry_test_plugins::docker::image_files(&tag);
    assert!(
        files.contains("bin/busybox") && files.contains("bin/sh") && !files.contains("etc/shadow"),
        "{files:?}"
    );
    let gw: std::net::Ipv4Addr = gantry_test_plugins::docker::bridge_gateway()
        .parse()
        .expect("the gateway is an IPv4 address");
    let subnet = docker_ok(&[
        "network",
        "inspect",
        "bridge",
        "--format",
        "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
    ]);
    let (net, bits) = subnet.split_once('/').expect("a CIDR subnet");
    let net: std::net::Ipv4Addr = net.parse().expect("an IPv4 network");
    let bits: u32 = bits.parse().expect("a prefix length");
    let mask = u32::MAX << (32 - bits);
    assert_eq!(u32::from(gw) & mask, u32::from(net), "{gw} is in {subnet}");
    let id = docker_ok(&["create", "--label", "x=1", &tag, "true"]);
    cleanup.container(&id);
    let state = gantry_test_plugins::docker::object_state("container", &id);
    assert!(
        state.contains("running=false") && state.contains("\"x\":\"1\""),
        "{state}"
    );
}
