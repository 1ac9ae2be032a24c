//! Long-running containers under the grant's `manage` prefix: create, start, stop,
//! remove, rename, list, logs; only this pipeline's own.

#[allow(unused_imports)]
use super::*;

impl StageState {
    pub(super) fn create_managed(
        &mut self,
        spec: wit::ContainerSpec,
    ) -> Result<wit::Container, CapError> {
        let op = "create";
        let grant = self.containers_grant(op)?;
        if let Err(r) = check_name(&grant, &spec.name, "container") {
            return Err(self.refuse(op, r, json!({ "name": shown(&spec.name) })));
        }
        let entrypoint = spec.entrypoint.clone().unwrap_or_default();
        check_counts(
            &[
                (
                    "command",
                    spec.command.len() + entrypoint.len(),
                    limits::ARGS,
                ),
                ("env", spec.env.len(), limits::ENV),
                ("ports", spec.ports.len(), limits::PORTS),
                ("labels", spec.labels.len(), limits::LABELS),
                (
                    "health-check.test",
                    spec.health_check.as_ref().map_or(0, |h| h.test.len()),
                    limits::HEALTH_ARGS,
                ),
            ],
            text_bytes(&[&spec.command, &entrypoint], &[&spec.env, &spec.labels]),
        )?;
        let image = self.check_image_run(op, &grant, &spec.image)?;
        let (net, res, env) = self.check_common(
            op,
            &grant,
            Some(&spec.network),
            &spec.resources,
            &spec.env,
            &spec.host_access,
            &spec.ports,
        )?;
        let labels = self.caps.containers.with_labels(&spec.labels);
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: (!spec.command.is_empty()).then(|| spec.command.clone()),
            entrypoint: spec.entrypoint.clone(),
            env: Some(env),
            labels: Some(labels),
            healthcheck: spec.health_check.as_ref().map(health_config),
            exposed_ports: (!spec.ports.is_empty()).then(|| {
                spec.ports
                    .iter()
                    .map(|p| format!("{}/tcp", p.container_port))
                    .collect()
            }),
            network_disabled: Some(net == "none"),
            host_config: Some(to_host_config(net, res, Vec::new(), &spec.ports)),
            ..Default::default()
        };
        let detail = json!({ "name": spec.name, "image": image.to_string(), "ports": spec.ports.iter().map(|p| p.host_port).collect::<Vec<_>>() });
        self.broker.allow(
            "containers",
            op,
            "name and image granted",
            Some(detail.clone()),
        );
        let name = spec.name.clone();
        self.on_engine(
            op,
            detail,
            || wit::Container {
                id: String::new(),
                name: name.clone(),
                image: image.to_string(),
                state: "created".into(),
                health: None,
                exit_code: None,
                ports: spec.ports.clone(),
                labels: vec![],
            },
            |containers, _| {
                let d = containers.docker()?;
                let n = name.clone();
                containers.call(op, Some(Duration::from_secs(60)), async move {
                    d.create_container(
                        Some(q::CreateContainerOptions {
                            name: Some(n.clone()),
                            ..Default::default()
                        }),
                        body,
                    )
                    .await
                    .map_err(engine_error)?;
                    let c = d
                        .inspect_container(&n, None::<q::InspectContainerOptions>)
                        .await
                        .map_err(engine_error)?;
                    Ok(to_container(&c))
                })
            },
            |r| match r {
                Ok(c) => json!({ "id": c.id }),
                Err(e) => json!({ "error": e.to_string() }),
            },
        )
    }

    pub(super) fn lifecycle(
        &mut self,
        op: &str,
        name: &str,
        timeout_s: Option<u32>,
    ) -> Result<(), CapError> {
        let (_, c) = self.owned_container(op, name)?;
        let id = c.id.clone().unwrap_or_default();
        let detail = json!({ "name": name, "id": id });
        self.broker
            .allow("containers", op, "managed container", Some(detail.clone()));
        let op_owned = op.to_string();
        self.on_engine(
            op,
            detail,
            || (),
            |containers, _| {
                let d = containers.docker()?;
                let wait = Duration::from_secs(u64::from(timeout_s.unwrap_or(10)) + 30);
                containers.call(&op_owned.clone(), Some(wait), async move {
                    match op_owned.as_str() {
                        "start" => d
                            .start_container(&id, None::<q::StartContainerOptions>)
                            .await
                            .map_err(engine_error),
                        "stop" => match d
                            .stop_container(
                                &id,
                                Some(q::StopContainerOptions {
                                    t: timeout_s.map(|t| t.min(3600) as i32),
                                    signal: None,
                                }),
                            )
                            .await
                        {
                            Err(bollard::errors::Error::DockerResponseServerError {
                                status_code: 304,
                                ..
                            }) => Ok(()),
                            r => r.map_err(engine_error),
                        },
                        _ => remove_forced(&d, &id).await,
                    }
                })
            },
            |r| json!({ "ok": r.is_ok() }),
        )
    }

    pub(super) fn rename_managed(&mut self, name: &str, new_name: &str) -> Result<(), CapError> {
        let op = "rename";
        let (grant, c) = self.owned_container(op, name)?;
        if let Err(r) = check_name(&grant, new_name, "container") {
            return Err(self.refuse(op, r, json!({ "name": shown(new_name) })));
        }
        let id = c.id.clone().unwrap_or_default();
        let detail = json!({ "name": name, "new-name": new_name });
        let nn = new_name.to_string();
        self.engine_op(
            op,
            "managed container",
            detail,
            Duration::from_secs(30),
            move |d| async move {
                d.rename_container(&id, q::RenameContainerOptions { name: nn })
                    .await
                    .map_err(engine_error)
            },
        )
    }

    pub(super) fn list_managed(&mut self) -> Result<Vec<wit::Container>, CapError> {
        let op = "list";
        let grant = self.containers_grant(op)?;
        let Some(prefix) = grant.manage.clone() else {
            return Err(self.refuse(
                op,
                (
                    "listing managed containers needs a name prefix".into(),
                    Some("grants.containers.manage = \"app-\"".into()),
                ),
                json!({}),
            ));
        };
        let d = self.caps.containers.docker()?;
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                format!("{}={}", owner::LABEL_OWNER, self.caps.containers.owner.tag),
                format!("{LABEL_MANAGED}=true"),
            ],
        )]);
        let found = self
            .caps
            .containers
            .call(op, Some(Duration::from_secs(30)), async move {
                let list = d
                    .list_containers(Some(q::ListContainersOptions {
                        all: true,
                        filters: Some(filters),
                        ..Default::default()
                    }))
                    .await
                    .map_err(engine_error)?;
                // One request: the list's own fields carry everything a `container`
                // record holds (no inspect per container).
                Ok(list.iter().map(summary_to_container).collect::<Vec<_>>())
            })?;
        Ok(found
            .into_iter()
            .filter(|c| c.name.starts_with(&prefix))
            .collect())
    }

    pub(super) fn logs_managed(&mut self, name: &str, tail: u32) -> Result<String, CapError> {
        let (_, c) = self.owned_container("logs", name)?;
        let id = c.id.unwrap_or_default();
        let d = self.caps.containers.docker()?;
        self.caps
            .containers
            .call("logs", Some(Duration::from_secs(30)), async move {
                let mut s = d.logs(
                    &id,
                    Some(q::LogsOptions {
                        stdout: true,
                        stderr: true,
                        tail: tail.min(10_000).to_string(),
                        ..Default::default()
                    }),
                );
                let mut out = String::new();
                while let Some(item) = s.next().await {
                    let o = item.map_err(|e| {
                        CapError::Failed(format!(
                            "reading the container's logs failed: {}",
                            engine_error(e)
                        ))
                    })?;
                    out.push_str(&o.to_string());
                    if out.len() > OUTPUT_CAP {
                        break;
                    }
                }
                Ok(out)
            })
    }

    /// One sample of a managed container's resource use (`docker stats --no-stream`).
    /// Read-only: audited as allowed, not journaled.
    pub(super) fn stats_managed(&mut self, name: &str) -> Result<wit::ContainerStats, CapError> {
        let (_, c) = self.owned_container("stats", name)?;
        let id = c.id.unwrap_or_default();
        self.broker.allow(
            "containers",
            "stats",
            "managed container",
            Some(json!({ "name": name })),
        );
        let d = self.caps.containers.docker()?;
        self.caps
            .containers
            .call("stats", Some(Duration::from_secs(30)), async move {
                let mut s = d.stats(
                    &id,
                    Some(q::StatsOptions {
                        stream: false,
                        one_shot: false,
                    }),
                );
                let Some(item) = s.next().await else {
                    return Err(CapError::Failed("the engine sent no stats".into()));
                };
                let st = item.map_err(engine_error)?;
                let total = |c: &Option<bollard::models::ContainerCpuStats>| {
                    c.as_ref()
                        .and_then(|c| c.cpu_usage.as_ref())
                        .and_then(|u| u.total_usage)
                        .unwrap_or(0)
                };
                let system = |c: &Option<bollard::models::ContainerCpuStats>| {
                    c.as_ref().and_then(|c| c.system_cpu_usage).unwrap_or(0)
                };
                let cpus = st
                    .cpu_stats
                    .as_ref()
                    .and_then(|c| c.online_cpus)
                    .unwrap_or(1)
                    .max(1);
                let used = total(&st.cpu_stats).saturating_sub(total(&st.precpu_stats));
                let elapsed = system(&st.cpu_stats).saturating_sub(system(&st.precpu_stats));
                // Docker CLI's formula: share of the host's CPU time, times the CPUs.
                let cpu_percent = if elapsed > 0 {
                    used as f64 / elapsed as f64 * f64::from(cpus) * 100.0
                } else {
                    0.0
                };
                let mem = st.memory_stats.as_ref();
                let cache = mem
                    .and_then(|m| m.stats.as_ref())
                    .and_then(|s| s.get("inactive_file").or_else(|| s.get("cache")).copied())
                    .unwrap_or(0);
                Ok(wit::ContainerStats {
                    cpu_percent,
                    memory_bytes: mem.and_then(|m| m.usage).unwrap_or(0).saturating_sub(cache),
                    memory_limit: mem.and_then(|m| m.limit).unwrap_or(0),
                    pids: st.pids_stats.as_ref().and_then(|p| p.current).unwrap_or(0),
                })
            })
    }
}
