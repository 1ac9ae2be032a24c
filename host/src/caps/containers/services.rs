//! Swarm services under the grant's `manage` prefix: deploy (rolling update policy,
//! published ports only with `expose`), rollback, inspect, remove.

#[allow(unused_imports)]
use super::*;

impl StageState {
    pub(super) fn check_service_name(
        &self,
        op: &str,
        grant: &ContainersGrant,
        name: &str,
    ) -> Result<(), CapError> {
        if !grant.services {
            return Err(self.refuse(
                op,
                (
                    "managing Swarm services is not granted".into(),
                    Some("grants.containers.services = true".into()),
                ),
                json!({ "name": shown(name) }),
            ));
        }
        check_name(grant, name, "service")
            .map_err(|r| self.refuse(op, r, json!({ "name": shown(name) })))
    }

    /// Inspects a service and checks it is this pipeline's.
    pub(super) fn owned_service(
        &mut self,
        op: &str,
        name: &str,
    ) -> Result<(bollard::models::Service, wit::Service), CapError> {
        let grant = self.containers_grant(op)?;
        self.check_service_name(op, &grant, name)?;
        let d = self.caps.containers.docker()?;
        let n = name.to_string();
        let (svc, tasks) =
            self.caps
                .containers
                .call(op, Some(Duration::from_secs(30)), async move {
                    let s = d
                        .inspect_service(&n, None::<q::InspectServiceOptions>)
                        .await
                        .map_err(engine_error)?;
                    let id = s.id.clone().unwrap_or_default();
                    let tasks = d
                        .list_tasks(Some(q::ListTasksOptions {
                            filters: Some(HashMap::from([("service".to_string(), vec![id])])),
                        }))
                        .await
                        .map_err(engine_error)?;
                    Ok((s, tasks))
                })?;
        let ownership = self
            .caps
            .containers
            .ownership(svc.spec.as_ref().and_then(|s| s.labels.as_ref()));
        if ownership != owner::Ownership::Ours {
            return Err(self.refuse(
                op,
                (
                    format!(
                        "service `{}` {}",
                        shown(name),
                        owner::why_not_ours(
                            ownership,
                            &self.caps.containers.owner.pipeline,
                            &format!("docker service rm {}", shown(name))
                        )
                    ),
                    None,
                ),
                json!({ "name": shown(name) }),
            ));
        }
        let view = to_service(&svc, &tasks);
        Ok((svc, view))
    }

    pub(super) fn deploy_service(
        &mut self,
        spec: wit::ServiceSpec,
    ) -> Result<wit::Service, CapError> {
        let op = "service-deploy";
        let grant = self.containers_grant(op)?;
        self.check_service_name(op, &grant, &spec.name)?;
        check_counts(
            &[
                ("command", spec.command.len(), limits::ARGS),
                ("env", spec.env.len(), limits::ENV),
                ("ports", spec.ports.len(), limits::PORTS),
                ("labels", spec.labels.len(), limits::LABELS),
                ("replicas", spec.replicas as usize, limits::REPLICAS),
                (
                    "health-check.test",
                    spec.health_check.as_ref().map_or(0, |h| h.test.len()),
                    limits::HEALTH_ARGS,
                ),
            ],
            text_bytes(&[&spec.command], &[&spec.env, &spec.labels]),
        )?;
        let image = self.check_image_run(op, &grant, &spec.image)?;
        let (_, (nano, mem, pids), env) = self.check_common(
            op,
            &grant,
            None,
            &spec.resources,
            &spec.env,
            &None,
            &spec.ports,
        )?;
        let labels = self.caps.containers.with_labels(&spec.labels);
        let ms = |v: u64| (v.min(24 * 3600 * 1000) * 1_000_000) as i64;
        let failure_action = match spec.update.failure_action.as_str() {
            "" | "rollback" => ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK,
            "pause" => ServiceSpecUpdateConfigFailureActionEnum::PAUSE,
            "continue" => ServiceSpecUpdateConfigFailureActionEnum::CONTINUE,
            other => {
                return Err(CapError::Invalid(format!(
                    "failure-action `{}`: use `rollback`, `pause` or `continue`",
                    shown(other)
                )));
            }
        };
        let order = match spec.update.order.as_str() {
            "" | "stop-first" => ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
            "start-first" => ServiceSpecUpdateConfigOrderEnum::START_FIRST,
            other => {
                return Err(CapError::Invalid(format!(
                    "order `{}`: use `start-first` or `stop-first`",
                    shown(other)
                )));
            }
        };
        let mut svc_spec = ServiceSpec {
            name: Some(spec.name.clone()),
            labels: Some(labels.clone()),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(image.to_string()),
                    labels: Some(labels),
                    args: (!spec.command.is_empty()).then(|| spec.command.clone()),
                    env: Some(env),
                    health_check: spec.health_check.as_ref().map(health_config),
                    stop_grace_period: Some(ms(2000)),
                    ..Default::default()
                }),
                resources: Some(TaskSpecResources {
                    limits: Some(Limit {
                        nano_cpus: Some(nano),
                        memory_bytes: Some(mem),
                        pids: Some(pids),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated {
                    // 0 asks for the default, one task; above the limit was refused.
                    replicas: Some(i64::from(spec.replicas.max(1))),
                }),
                ..Default::default()
            }),
            update_config: Some(ServiceSpecUpdateConfig {
                parallelism: Some(i64::from(spec.update.parallelism.max(1))),
                delay: Some(ms(spec.update.delay_ms)),
                monitor: Some(ms(spec.update.monitor_ms.max(1000))),
                failure_action: Some(failure_action),
                max_failure_ratio: Some(0.0),
                order: Some(order),
            }),
            endpoint_spec: Some(EndpointSpec {
                ports: Some(
                    spec.ports
                        .iter()
                        .map(|p| EndpointPortConfig {
                            target_port: Some(i64::from(p.container_port)),
                            published_port: Some(i64::from(p.host_port)),
                            // Host mode: the routing mesh needs IPVS, which many kernels
                            // (CI sandboxes among them) lack; a host-mode port answers anywhere.
                            publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
                            ..Default::default()
                        })
                        .collect(),
                ),
                mode: Some(EndpointSpecModeEnum::DNSRR),
            }),
            ..Default::default()
        };
        let d = self.caps.containers.docker()?;
        let n = spec.name.clone();
        let existing =
            self.caps
                .containers
                .call(op, Some(Duration::from_secs(30)), async move {
                    match d
                        .inspect_service(&n, None::<q::InspectServiceOptions>)
                        .await
                    {
                        Ok(s) => Ok(Some(s)),
                        Err(bollard::errors::Error::DockerResponseServerError {
                            status_code: 404,
                            ..
                        }) => Ok(None),
                        Err(e) => Err(engine_error(e)),
                    }
                })?;
        if let Some(old) = &existing {
            self.owned_service(op, &spec.name)?;
            let old_image = old
                .spec
                .as_ref()
                .and_then(|s| s.task_template.as_ref())
                .and_then(|t| t.container_spec.as_ref())
                .and_then(|c| c.image.clone());
            if let (Some(img), Some(l)) = (old_image, svc_spec.labels.as_mut()) {
                l.insert(LABEL_PREVIOUS_IMAGE.into(), img);
            }
        }
        let version = existing
            .as_ref()
            .and_then(|s| s.version.as_ref())
            .and_then(|v| v.index)
            .unwrap_or(0);
        let detail =
            json!({ "name": spec.name, "image": image.to_string(), "update": existing.is_some() });
        self.broker
            .allow("containers", op, "service granted", Some(detail.clone()));
        let name = spec.name.clone();
        let updating = existing.is_some();
        {
            self.on_engine(
                op,
                detail,
                || (),
                |containers, _| {
                    let d = containers.docker()?;
                    let n = name.clone();
                    containers.call(op, Some(Duration::from_secs(60)), async move {
                        if updating {
                            d.update_service(
                                &n,
                                svc_spec,
                                q::UpdateServiceOptions {
                                    version: version as i32,
                                    ..Default::default()
                                },
                                None,
                            )
                            .await
                            .map(|_| ())
                            .map_err(engine_error)
                        } else {
                            d.create_service(svc_spec, None)
                                .await
                                .map(|_| ())
                                .map_err(engine_error)
                        }
                    })
                },
                |r| json!({ "ok": r.is_ok() }),
            )?;
        }
        if self.broker.dry_run {
            return Ok(wit::Service {
                id: String::new(),
                name,
                image: image.to_string(),
                version: 0,
                update_state: String::new(),
                update_message: "dry run: nothing deployed".into(),
                previous_image: None,
                tasks: vec![],
            });
        }
        self.owned_service("service-inspect", &name).map(|(_, s)| s)
    }

    pub(super) fn rollback_service(&mut self, name: &str) -> Result<wit::Service, CapError> {
        let op = "service-rollback";
        let (svc, _) = self.owned_service(op, name)?;
        if svc
            .spec
            .as_ref()
            .and_then(|s| s.labels.as_ref())
            .and_then(|l| l.get(LABEL_PREVIOUS_IMAGE))
            .is_none()
        {
            return Err(CapError::Failed(format!(
                "service `{name}` has no previous spec to roll back to"
            )));
        }
        // The engine keeps the previous spec itself; `rollback=previous` makes it use it.
        let previous = svc.spec.clone().unwrap_or_default();
        let version = svc.version.as_ref().and_then(|v| v.index).unwrap_or(0);
        let detail = json!({ "name": name });
        let n = name.to_string();
        self.engine_op(
            op,
            "managed service",
            detail,
            Duration::from_secs(60),
            move |d| async move {
                d.update_service(
                    &n,
                    previous,
                    q::UpdateServiceOptions {
                        version: version as i32,
                        rollback: Some("previous".into()),
                        ..Default::default()
                    },
                    None,
                )
                .await
                .map(|_| ())
                .map_err(engine_error)
            },
        )?;
        self.owned_service("service-inspect", name).map(|(_, s)| s)
    }

    pub(super) fn remove_service(&mut self, name: &str) -> Result<(), CapError> {
        let op = "service-remove";
        self.owned_service(op, name)?;
        let detail = json!({ "name": name });
        let n = name.to_string();
        self.engine_op(
            op,
            "managed service",
            detail,
            Duration::from_secs(60),
            move |d| async move { d.delete_service(&n).await.map_err(engine_error) },
        )
    }
}
