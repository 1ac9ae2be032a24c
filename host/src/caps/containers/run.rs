//! One-off containers (`run`): checks, then create, attach, wait and remove on the
//! engine, output capped and streamed to the stage log.

#[allow(unused_imports)]
use super::*;

impl StageState {
    pub(super) fn check_image_run(
        &self,
        operation: &str,
        grant: &ContainersGrant,
        image: &str,
    ) -> Result<ImageRef, CapError> {
        let detail = json!({ "image": shown(image) });
        let r = parse_ref("image", image)?;
        if r.digest.as_deref().is_some_and(planned::is_planned)
            && !(self.broker.dry_run && self.broker.journal.image_planned(&r.to_string()))
        {
            return Err(CapError::Invalid(format!(
                "`{r}` carries a digest a `--dry-run` planned (`{}…`), not one of an image: {}",
                planned::PREFIX,
                if self.broker.dry_run {
                    "no earlier stage of this dry run planned it"
                } else {
                    "run the stage that builds and pushes it without `--dry-run`"
                }
            )));
        }
        if !grant.may_run(&r) {
            return Err(self.refuse(
                operation,
                (
                    format!("image `{r}` is not granted"),
                    Some(format!("grants.containers.run = [\"{}:*\"]", r.repository)),
                ),
                detail,
            ));
        }
        Ok(r)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn check_common(
        &self,
        operation: &str,
        grant: &ContainersGrant,
        network: Option<&str>,
        resources: &wit::Resources,
        env: &[(String, String)],
        access: &Option<wit::HostAccess>,
        ports: &[wit::Port],
    ) -> Result<Checked, CapError> {
        if let Some(why) = access.as_ref().and_then(host_access_refusal) {
            return Err(self.refuse(operation, (why, None), json!({ "host-access": true })));
        }
        // Services: their tasks run on `bridge`, which `check` requires of a grant with
        // `services = true`; their ports must be exposable (below).
        let net = match network {
            Some(n) => check_network(grant, n)
                .map_err(|r| self.refuse(operation, r, json!({ "network": shown(n) })))?,
            None => "swarm".to_string(),
        };
        let res = check_resources(grant, resources)
            .map_err(|r| self.refuse(operation, r, json!({ "resources": true })))?;
        let env = check_env(env).map_err(|(what, _)| CapError::Invalid(what))?;
        for p in ports {
            if p.container_port == 0 || p.host_port == 0 {
                return Err(CapError::Invalid("port 0 cannot be published".into()));
            }
            if !grant.may_publish(p.host_port) {
                return Err(self.refuse(
                    operation,
                    (
                        format!("publishing host port {} is not granted", p.host_port),
                        Some(format!("grants.containers.publish = [{}]", p.host_port)),
                    ),
                    json!({ "port": p.host_port }),
                ));
            }
            // Swarm binds a published port on every interface of every node (it has
            // no host IP for a port), so a service's port needs the grant to say so.
            if net == "swarm" && !grant.may_publish_service(p.host_port) {
                return Err(self.refuse(
                    operation,
                    (
                        format!(
                            "a Swarm service publishes port {} on every interface (0.0.0.0 and ::), not on 127.0.0.1, and the grant does not allow exposing it",
                            p.host_port
                        ),
                        Some(format!(
                            "grants.containers.expose = \"{}\"",
                            crate::manifest::grants::containers::EXPOSE_ALL
                        )),
                    ),
                    json!({ "port": p.host_port, "expose": "all-interfaces" }),
                ));
            }
            if net == "none" {
                return Err(CapError::Invalid(format!(
                    "port {} cannot be published on network `none`: use `bridge`",
                    p.host_port
                )));
            }
        }
        Ok((net, res, env))
    }

    pub(super) fn run_oneoff(&mut self, spec: wit::RunSpec) -> Result<wit::RunOutput, CapError> {
        let op = "run";
        let grant = self.containers_grant(op)?;
        let entrypoint = spec.entrypoint.clone().unwrap_or_default();
        check_counts(
            &[
                (
                    "command",
                    spec.command.len() + entrypoint.len(),
                    limits::ARGS,
                ),
                ("env", spec.env.len(), limits::ENV),
                ("mounts", spec.mounts.len(), limits::MOUNTS),
            ],
            text_bytes(&[&spec.command, &entrypoint], &[&spec.env]),
        )?;
        let image = self.check_image_run(op, &grant, &spec.image)?;
        let (net, res, env) = self.check_common(
            op,
            &grant,
            Some(&spec.network),
            &spec.resources,
            &spec.env,
            &spec.host_access,
            &[],
        )?;
        let mut binds = Vec::new();
        for m in &spec.mounts {
            let host = check_mount(
                &self.broker.workspace,
                &self.caps.containers.fs_read,
                &self.caps.containers.fs_write,
                m,
            )
            .map_err(|e| match e {
                MountError::Refused(r) => self.refuse(op, r, json!({ "mount": shown(&m.source) })),
                MountError::BadTarget(why) => CapError::Invalid(why),
                MountError::BadSource(e) => e,
            })?;
            binds.push(format!(
                "{}:{}:{}",
                host.display(),
                m.target,
                if m.writable { "rw" } else { "ro" }
            ));
            if m.writable && !self.broker.dry_run {
                // The container may leave links out of the grant: swept at stage end.
                self.caps.fs.written_by_others = true;
            }
        }
        if let Some(w) = &spec.workdir
            && (!w.starts_with('/') || w.contains('\0'))
        {
            return Err(CapError::Invalid(format!(
                "workdir `{}` must be an absolute path",
                shown(w)
            )));
        }
        let limit = spec.timeout_ms.map(Duration::from_millis);
        let detail = json!({
            "image": image.to_string(),
            "command": spec.command.iter().take(16).map(|a| shown(a)).collect::<Vec<_>>(),
            "network": net,
            "mounts": binds.iter().map(|b| b.rsplit_once(':').map(|x| x.0).unwrap_or(b).to_string()).collect::<Vec<_>>(),
        });
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: (!spec.command.is_empty()).then(|| spec.command.clone()),
            entrypoint: spec.entrypoint.clone(),
            env: Some(env),
            working_dir: spec.workdir.clone(),
            user: spec.user.clone(),
            labels: Some(self.caps.containers.labels(true)),
            network_disabled: Some(net == "none"),
            host_config: Some(to_host_config(net, res, binds, &[])),
            ..Default::default()
        };
        self.broker
            .allow("containers", op, "image granted", Some(detail.clone()));
        let log = self.log.clone();
        self.on_engine(
            op,
            detail,
            || wit::RunOutput {
                exit_code: Some(0),
                stdout: Vec::new(),
                stderr: Vec::new(),
                truncated: false,
                timed_out: false,
                dry_run: true,
            },
            |containers, _| run_container(containers, body, limit, log),
            |r| match r {
                Ok(o) => json!({ "exit-code": o.exit_code, "timed-out": o.timed_out, "stdout-bytes": o.stdout.len(), "stderr-bytes": o.stderr.len() }),
                Err(e) => json!({ "error": e.to_string() }),
            },
        )
    }
}

pub(super) fn run_container(
    st: &mut State,
    body: ContainerCreateBody,
    limit: Option<Duration>,
    log: Arc<StageLog>,
) -> Result<wit::RunOutput, CapError> {
    let docker = st.docker()?;
    if st.expired() {
        return Ok(timed_out(&log));
    }
    // Create and start are never abandoned half-way, even at the stage's deadline: a
    // create that completes after gantry stopped waiting leaves a container nobody
    // knows of, and a remove racing an unfinished start can leave the engine with a
    // running container it had listed as removed. Each has its own short budget; the
    // run proper is what the deadline cuts.
    let d = docker.clone();
    let created = st.call_grace("create container", async move {
        d.create_container(None::<q::CreateContainerOptions>, body)
            .await
            .map_err(engine_error)
    })?;
    let id = created.id;
    st.oneoffs.push(id.clone());
    let d = docker.clone();
    let cid = id.clone();
    let log2 = log.clone();
    let started = if st.expired() {
        Err(None)
    } else {
        let (d2, cid2) = (docker.clone(), id.clone());
        st.call_grace("start container", async move {
            d2.start_container(&cid2, None::<q::StartContainerOptions>)
                .await
                .map_err(engine_error)
        })
        .map_err(Some)
    };
    let outcome = match started {
        Err(e) => Err(e),
        Ok(()) => st.block(limit, async move {
            let log = log2;
            // The output is followed until its stream ends, and the exit code waited for,
            // at the same time; both must finish. A stream that fails is an error, never
            // an empty output with exit code 0.
            let read = async {
                let mut logs = d.logs(
                    &cid,
                    Some(q::LogsOptions {
                        follow: true,
                        stdout: true,
                        stderr: true,
                        ..Default::default()
                    }),
                );
                let (mut out, mut err, mut truncated) = (Vec::new(), Vec::new(), false);
                while let Some(item) = logs.next().await {
                    let (buf, src, msg) = match item {
                        Ok(bollard::container::LogOutput::StdOut { message }) => {
                            (&mut out, "stdout", message)
                        }
                        Ok(bollard::container::LogOutput::StdErr { message }) => {
                            (&mut err, "stderr", message)
                        }
                        Ok(_) => continue,
                        Err(e) => {
                            return Err(CapError::Failed(format!(
                                "reading the container's output failed: {}",
                                engine_error(e)
                            )));
                        }
                    };
                    for line in String::from_utf8_lossy(&msg).lines() {
                        log.line(src, line);
                    }
                    let room = OUTPUT_CAP.saturating_sub(buf.len());
                    if msg.len() > room {
                        truncated = true;
                    }
                    buf.extend_from_slice(&msg[..msg.len().min(room)]);
                }
                Ok((out, err, truncated))
            };
            let wait = async {
                let mut wait = d.wait_container(&cid, None::<q::WaitContainerOptions>);
                match wait.next().await {
                    Some(Ok(r)) => Ok(r.status_code),
                    // bollard reports a non-zero exit as an error carrying the code.
                    Some(Err(bollard::errors::Error::DockerContainerWaitError {
                        code, ..
                    })) => Ok(code),
                    Some(Err(e)) => Err(engine_error(e)),
                    None => Err(CapError::Failed(
                        "the engine ended the wait for the container without an exit code".into(),
                    )),
                }
            };
            let (read, code) = futures_util::future::join(read, wait).await;
            let (out, err, truncated) = read?;
            Ok((code?, out, err, truncated))
        }),
    };
    let d = docker.clone();
    let cid = id.clone();
    // Also (above all) when the run was cut at the stage's deadline.
    let removed = st.call_grace(
        "remove container",
        async move { remove_forced(&d, &cid).await },
    );
    if removed.is_ok() {
        st.oneoffs.retain(|x| x != &id);
    }
    match outcome {
        Ok((code, stdout, stderr, truncated)) => Ok(wit::RunOutput {
            exit_code: Some(code),
            stdout,
            stderr,
            truncated,
            timed_out: false,
            dry_run: false,
        }),
        Err(None) => Ok(timed_out(&log)),
        Err(Some(e)) => Err(e),
    }
}

/// What a one-off run that hit its timeout (or the stage's) reports.
pub(super) fn timed_out(log: &StageLog) -> wit::RunOutput {
    log.line("gantry", "container killed at its timeout");
    wit::RunOutput {
        exit_code: None,
        stdout: Vec::new(),
        stderr: Vec::new(),
        truncated: false,
        timed_out: true,
        dry_run: false,
    }
}
