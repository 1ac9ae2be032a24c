//! Conversions between bollard's types and the WIT types of `gantry:plugin/containers`.

#[allow(unused_imports)]
use super::*;

/// Whether the engine knows `img` by the name `r` (a tag or digest it carries), and
/// did not merely take `r` as a prefix of its id.
pub(super) fn image_has_name(img: &ImageInspect, r: &ImageRef) -> bool {
    let named = |list: &Option<Vec<String>>| -> Vec<ImageRef> {
        list.iter()
            .flatten()
            .filter_map(|t| ImageRef::parse(t).ok())
            .collect()
    };
    match &r.digest {
        Some(d) => named(&img.repo_digests)
            .iter()
            .any(|x| x.repository == r.repository && x.digest.as_ref() == Some(d)),
        None => named(&img.repo_tags)
            .iter()
            .any(|x| x.repository == r.repository && x.tag == r.tag),
    }
}

pub(super) fn to_host_config(
    network: String,
    (nano_cpus, memory, pids): (i64, i64, i64),
    binds: Vec<String>,
    ports: &[wit::Port],
) -> HostConfig {
    let mut port_bindings = HashMap::new();
    for p in ports {
        port_bindings.insert(
            format!("{}/tcp", p.container_port),
            Some(vec![PortBinding {
                host_ip: Some("127.0.0.1".into()),
                host_port: Some(p.host_port.to_string()),
            }]),
        );
    }
    HostConfig {
        network_mode: Some(network),
        nano_cpus: Some(nano_cpus),
        memory: Some(memory),
        memory_swap: Some(memory),
        pids_limit: Some(pids),
        binds: (!binds.is_empty()).then_some(binds),
        port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
        privileged: Some(false),
        security_opt: Some(vec!["no-new-privileges:true".into()]),
        readonly_rootfs: Some(false),
        ..Default::default()
    }
}

pub(super) fn health_config(h: &wit::HealthCheck) -> HealthConfig {
    let ms = |v: u64| (v.min(24 * 3600 * 1000) * 1_000_000) as i64;
    let mut test = vec!["CMD".to_string()];
    test.extend(h.test.iter().cloned());
    HealthConfig {
        test: Some(test),
        interval: Some(ms(h.interval_ms.max(100))),
        timeout: Some(ms(h.timeout_ms.max(100))),
        retries: Some(i64::from(h.retries)),
        start_period: Some(ms(h.start_period_ms)),
        start_interval: None,
    }
}

pub(super) fn enum_str<T: serde::Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref()
        .and_then(|v| serde_json::to_value(v).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .filter(|s| !s.is_empty())
}

pub(super) fn to_container(c: &ContainerInspectResponse) -> wit::Container {
    let state = c.state.as_ref();
    let mut ports = Vec::new();
    if let Some(map) = c.network_settings.as_ref().and_then(|n| n.ports.as_ref()) {
        for (k, v) in map {
            let cport = k
                .split('/')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            for b in v.iter().flatten() {
                if let Some(hp) = b.host_port.as_ref().and_then(|p| p.parse().ok()) {
                    ports.push(wit::Port {
                        container_port: cport,
                        host_port: hp,
                    });
                }
            }
        }
    }
    ports.sort_by_key(|p| (p.container_port, p.host_port));
    ports.dedup_by_key(|p| (p.container_port, p.host_port));
    let labels = owner::visible(
        c.config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default(),
    );
    wit::Container {
        id: c.id.clone().unwrap_or_default(),
        name: c
            .name
            .clone()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image: c
            .config
            .as_ref()
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
        state: enum_str(&state.and_then(|s| s.status)).unwrap_or_default(),
        health: enum_str(&state.and_then(|s| s.health.as_ref()).and_then(|h| h.status)),
        exit_code: state
            .and_then(|s| s.exit_code)
            .filter(|_| state.and_then(|s| s.running) == Some(false)),
        ports,
        labels,
    }
}

/// A `container` record from one entry of the list API (`GET /containers/json`),
/// with the same values [`to_container`] takes from an inspect. Engine 20.10 (API
/// 1.41) has no `Health` field in the list, so health and exit code come from the
/// `Status` text (`Up 3 seconds (healthy)`, `Exited (137) 2 minutes ago`).
pub(super) fn summary_to_container(c: &bollard::models::ContainerSummary) -> wit::Container {
    let status = c.status.clone().unwrap_or_default();
    let state = enum_str(&c.state).unwrap_or_default();
    let health = c
        .health
        .as_ref()
        .and_then(|h| enum_str(&h.status))
        .filter(|h| h != "none")
        .or_else(|| {
            let s = status.as_str();
            if s.contains("(healthy)") {
                Some("healthy".to_string())
            } else if s.contains("(unhealthy)") {
                Some("unhealthy".to_string())
            } else if s.contains("(health: starting)") {
                Some("starting".to_string())
            } else {
                None
            }
        });
    let exit_code = if matches!(state.as_str(), "exited" | "dead") {
        status
            .split_once("Exited (")
            .and_then(|(_, rest)| rest.split_once(')'))
            .and_then(|(code, _)| code.parse().ok())
    } else {
        None
    };
    let mut ports: Vec<wit::Port> = c
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            p.public_port.map(|hp| wit::Port {
                container_port: p.private_port,
                host_port: hp,
            })
        })
        .collect();
    ports.sort_by_key(|p| (p.container_port, p.host_port));
    ports.dedup_by_key(|p| (p.container_port, p.host_port));
    let labels = owner::visible(c.labels.clone().unwrap_or_default());
    wit::Container {
        id: c.id.clone().unwrap_or_default(),
        name: c
            .names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default(),
        image: c.image.clone().unwrap_or_default(),
        state,
        health,
        exit_code,
        ports,
        labels,
    }
}

pub(super) fn to_image(i: &ImageInspect) -> wit::Image {
    let labels = owner::visible(
        i.config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default(),
    );
    wit::Image {
        id: i.id.clone().unwrap_or_default(),
        tags: i.repo_tags.clone().unwrap_or_default(),
        repo_digests: i.repo_digests.clone().unwrap_or_default(),
        size: i.size.unwrap_or(0).max(0) as u64,
        labels,
    }
}

pub(super) fn to_service(
    s: &bollard::models::Service,
    tasks: &[bollard::models::Task],
) -> wit::Service {
    let image_of = |spec: &Option<ServiceSpec>| {
        spec.as_ref()
            .and_then(|s| s.task_template.as_ref())
            .and_then(|t| t.container_spec.as_ref())
            .and_then(|c| c.image.clone())
    };
    let status = s.update_status.as_ref();
    let mut tasks: Vec<wit::Task> = tasks
        .iter()
        .map(|t| wit::Task {
            id: t.id.clone().unwrap_or_default(),
            state: enum_str(&t.status.as_ref().and_then(|s| s.state)).unwrap_or_default(),
            desired_state: enum_str(&t.desired_state).unwrap_or_default(),
            image: t
                .spec
                .as_ref()
                .and_then(|s| s.container_spec.as_ref())
                .and_then(|c| c.image.clone())
                .unwrap_or_default(),
            message: t
                .status
                .as_ref()
                .and_then(|s| s.message.clone())
                .unwrap_or_default(),
            error: t.status.as_ref().and_then(|s| s.err.clone()),
        })
        .collect();
    tasks.sort_by(|a, b| a.id.cmp(&b.id));
    wit::Service {
        id: s.id.clone().unwrap_or_default(),
        name: s
            .spec
            .as_ref()
            .and_then(|s| s.name.clone())
            .unwrap_or_default(),
        image: image_of(&s.spec).unwrap_or_default(),
        version: s.version.as_ref().and_then(|v| v.index).unwrap_or(0),
        update_state: enum_str(&status.and_then(|u| u.state)).unwrap_or_default(),
        update_message: status.and_then(|u| u.message.clone()).unwrap_or_default(),
        previous_image: s
            .spec
            .as_ref()
            .and_then(|s| s.labels.as_ref())
            .and_then(|l| l.get(LABEL_PREVIOUS_IMAGE))
            .cloned(),
        tasks,
    }
}
