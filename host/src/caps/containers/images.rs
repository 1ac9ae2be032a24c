//! Images: build (context archived beneath its handle, Dockerfile checked, every
//! image it uses held to `run`), tag, push, inspect; ownership of what is replaced.

#[allow(unused_imports)]
use super::*;

impl StageState {
    pub(super) fn build_image(&mut self, spec: wit::BuildSpec) -> Result<wit::Image, CapError> {
        let op = "build";
        let grant = self.containers_grant(op)?;
        check_counts(
            &[
                ("tags", spec.tags.len(), limits::TAGS),
                ("build-args", spec.build_args.len(), limits::BUILD_ARGS),
                ("labels", spec.labels.len(), limits::LABELS),
            ],
            text_bytes(&[&spec.tags], &[&spec.build_args, &spec.labels]),
        )?;
        let detail = json!({ "context": shown(&spec.context), "tags": spec.tags.iter().map(|t| shown(t)).collect::<Vec<_>>() });
        if !grant.build {
            return Err(self.refuse(
                op,
                (
                    "building images is not granted".into(),
                    Some("grants.containers.build = true".into()),
                ),
                detail,
            ));
        }
        let m = wit::Mount {
            source: spec.context.clone(),
            target: "/context".into(),
            writable: false,
        };
        // The grant check and the messages about a missing context; then the directory
        // is opened beneath the workspace and everything is read from that handle.
        check_dir(
            &self.broker.workspace,
            &self.caps.containers.fs_read,
            &self.caps.containers.fs_write,
            &m,
            Use::BuildContext,
        )
        .map_err(|e| match e {
            MountError::Refused((what, grant)) => self.refuse(
                op,
                (what.replace("mounting", "building from"), grant),
                detail.clone(),
            ),
            MountError::BadTarget(why) => CapError::Invalid(why),
            MountError::BadSource(e) => e,
        })?;
        let context_rel = normalize_workspace_path(&spec.context).map_err(|(why, _)| {
            CapError::Invalid(format!("build context `{}`: {why}", shown(&spec.context)))
        })?;
        let ctx_fd = crate::caps::fs::beneath::open_root(&self.broker.workspace)
            .map_err(|e| CapError::Failed(format!("cannot open the workspace: {e}")))
            .and_then(|root| {
                crate::caps::fs::beneath::open_dir(&root, &context_rel).map_err(|why| {
                    CapError::Invalid(format!("build context `{context_rel}` {why}"))
                })
            })?;
        let dockerfile = spec
            .dockerfile
            .clone()
            .unwrap_or_else(|| "Dockerfile".into());
        let df_rel = normalize_workspace_path(&dockerfile).map_err(|(why, _)| {
            CapError::Invalid(format!("dockerfile `{}`: {why}", shown(&dockerfile)))
        })?;
        let files = context::read_build_files(&ctx_fd, &df_rel).map_err(|why| {
            if why.contains("does not exist") {
                CapError::NotFound(format!("{why} `{}`", spec.context))
            } else {
                CapError::Invalid(why)
            }
        })?;
        let where_ = format!("`{}/{df_rel}`", spec.context.trim_end_matches('/'));
        let text = std::str::from_utf8(&files.dockerfile)
            .map_err(|_| CapError::Invalid(format!("{where_} is not UTF-8 text")))?;
        let analysis = match dockerfile::analyze(text, &spec.build_args) {
            Ok(a) => a,
            Err(dockerfile::Problem::Malformed { line, why }) => {
                return Err(CapError::Invalid(format!("{where_} line {line}: {why}")));
            }
            Err(dockerfile::Problem::Refused { line, why }) => {
                return Err(self.refuse(
                    op,
                    (format!("{where_} line {line}: {why}"), None),
                    detail,
                ));
            }
        };
        for u in &analysis.images {
            self.check_build_image(op, &grant, u, &where_, &detail)?;
        }
        let mut tags = Vec::new();
        for t in &spec.tags {
            let r = parse_ref("tag", t)?;
            if !grant.may_run(&r) && !grant.may_push(&r) {
                return Err(self.refuse(
                    op,
                    (
                        format!("tag `{r}` matches neither `run` nor `push`"),
                        Some(format!("grants.containers.push = [\"{}\"]", r.repository)),
                    ),
                    detail,
                ));
            }
            tags.push(r);
        }
        // Images must be on the engine under the names checked (the builder would
        // otherwise pull them), and base images' ONBUILD triggers obey the same rules.
        // Read-only, and skipped under --dry-run, which needs no engine.
        if !self.broker.dry_run {
            self.check_build_images_on_engine(op, &grant, &analysis, &where_, &detail)?;
            for t in &tags {
                self.free_or_ours(op, t)?;
            }
        }
        let host_labels = self.caps.containers.object_labels();
        let mut labels: HashMap<String, String> = spec
            .labels
            .iter()
            .filter(|(k, _)| !k.starts_with(owner::PREFIX))
            .cloned()
            .collect();
        labels.extend(host_labels.clone());
        let build_args: HashMap<String, String> = spec.build_args.iter().cloned().collect();
        let detail = json!({
            "context": shown(&spec.context),
            "tags": spec.tags.iter().map(|t| shown(t)).collect::<Vec<_>>(),
            "images": analysis.images.iter().map(|u| shown(&u.reference)).collect::<Vec<_>>(),
        });
        self.broker.allow(
            "containers",
            op,
            "build and every image it uses granted",
            Some(detail.clone()),
        );
        let log = self.log.clone();
        let target = spec.target.clone().unwrap_or_default();
        let tag_list = tags.iter().map(ToString::to_string).collect::<Vec<_>>();
        let planned_id = planned::digest(
            &self.broker.actor.run,
            &format!("build {}", tag_list.join(" ")),
        );
        if self.broker.dry_run {
            for t in &tag_list {
                self.broker.journal.plan_image(t);
            }
        }
        let refusal_detail = detail.clone();
        self.on_engine(
            op,
            detail,
            || wit::Image {
                id: planned_id.clone(),
                tags: tags.iter().map(ToString::to_string).collect(),
                repo_digests: vec![],
                size: 0,
                labels: vec![],
            },
            |containers, broker| {
                let archive =
                    context::archive(&ctx_fd, &files, MAX_CONTEXT).map_err(CapError::Failed)?;
                let body = archive.body().map_err(CapError::Failed)?;
                let docker = containers.docker()?;
                let d = docker.clone();
                // Untagged until its labels are checked: a refused image never takes
                // over a tag.
                let options = q::BuildImageOptions {
                    dockerfile: df_rel.clone(),
                    t: None,
                    rm: true,
                    forcerm: true,
                    buildargs: Some(build_args),
                    labels: Some(labels),
                    target,
                    networkmode: Some("none".into()),
                    ..Default::default()
                };
                let log2 = log.clone();
                // The builder echoes the label steps; the tag stays out of the records.
                let tag = containers.owner.tag.clone();
                let id = containers.call("build", None, async move {
                    let mut stream =
                        d.build_image(options, None, Some(bollard::body_try_stream(body)));
                    let (mut id, mut built) = (None, None);
                    while let Some(item) = stream.next().await {
                        let info = item.map_err(|e| match e {
                            bollard::errors::Error::DockerStreamError { error } => {
                                CapError::Failed(format!(
                                    "build failed: {}",
                                    error.replace(&tag, "<ownership tag>")
                                ))
                            }
                            e => engine_error(e),
                        })?;
                        if let Some(s) = &info.stream {
                            for l in s.lines().filter(|l| !l.trim().is_empty()) {
                                log2.line("build", &l.replace(&tag, "<ownership tag>"));
                                if let Some(short) = l.trim().strip_prefix("Successfully built ") {
                                    built = Some(short.trim().to_string());
                                }
                            }
                        }
                        if let Some(e) = info.error_detail.and_then(|e| e.message) {
                            return Err(CapError::Failed(format!(
                                "build failed: {}",
                                e.replace(&tag, "<ownership tag>")
                            )));
                        }
                        if let Some(i) = info.aux {
                            id = i.id.or(id);
                        }
                    }
                    Ok(id.or(built))
                })?;
                let reference =
                    id.ok_or_else(|| CapError::Failed("the engine reported no image id".into()))?;
                let d = docker.clone();
                let r = reference.clone();
                let img = containers.call(
                    "inspect image",
                    Some(Duration::from_secs(30)),
                    async move { d.inspect_image(&r).await.map_err(engine_error) },
                )?;
                let foreign = owner::foreign_gantry_labels(
                    img.config.as_ref().and_then(|c| c.labels.as_ref()),
                    &host_labels,
                );
                if !foreign.is_empty() {
                    let d = docker.clone();
                    let r = img.id.clone().unwrap_or(reference);
                    let removed = containers.call_grace("remove refused image", async move {
                        d.remove_image(
                            &r,
                            Some(q::RemoveImageOptions {
                                force: true,
                                noprune: false,
                                ..Default::default()
                            }),
                            None,
                        )
                        .await
                        .map(|_| ())
                        .map_err(engine_error)
                    });
                    let mut what = format!(
                        "the built image carries gantry's own label{} {} (set by the Dockerfile or inherited from its base image); only gantry sets `dev.gantry.*` labels, which decide what gantry may act on",
                        if foreign.len() == 1 { "" } else { "s" },
                        shown_list(&foreign)
                    );
                    what.push_str(match removed {
                        Ok(()) => "; the image was removed",
                        Err(_) => "; removing the image failed: remove it by hand",
                    });
                    return Err(broker.refuse("containers", op, &what, Some(refusal_detail)));
                }
                let id = img.id.clone().unwrap_or(reference);
                for t in &tags {
                    let d = docker.clone();
                    let (src, repo, tag) = (id.clone(), t.repository.clone(), t.tag.clone());
                    containers.call("tag", Some(Duration::from_secs(30)), async move {
                        d.tag_image(
                            &src,
                            Some(q::TagImageOptions {
                                repo: Some(repo),
                                tag,
                            }),
                        )
                        .await
                        .map_err(engine_error)
                    })?;
                }
                let d = docker.clone();
                let img = containers.call(
                    "inspect image",
                    Some(Duration::from_secs(30)),
                    async move { d.inspect_image(&id).await.map_err(engine_error) },
                )?;
                Ok(to_image(&img))
            },
            |r| match r {
                Ok(i) => json!({ "id": i.id, "tags": i.tags }),
                Err(e) => json!({ "error": e.to_string() }),
            },
        )
    }

    /// One image a build uses, held to `grants.containers.run`.
    pub(super) fn check_build_image(
        &self,
        op: &str,
        grant: &ContainersGrant,
        u: &dockerfile::ImageUse,
        where_: &str,
        detail: &Value,
    ) -> Result<ImageRef, CapError> {
        let at = if u.line > 0 {
            format!("{where_} line {}, {}", u.line, u.by)
        } else {
            format!("{where_}, {}", u.by)
        };
        let r = ImageRef::parse(&u.reference)
            .map_err(|why| CapError::Invalid(format!("{at}: `{}`: {why}", shown(&u.reference))))?;
        if !grant.may_run(&r) {
            return Err(self.refuse(
                op,
                (
                    format!(
                        "{at} uses image `{r}`, which is not granted: every image a build uses must match `run`"
                    ),
                    Some(format!("grants.containers.run = [\"{}:*\"]", r.repository)),
                ),
                detail.clone(),
            ));
        }
        Ok(r)
    }

    /// The images a build fetches, on the engine: each must be there under the name
    /// checked (not found by an id prefix, not pulled), and the `ONBUILD` triggers of
    /// each base image are checked like Dockerfile instructions.
    pub(super) fn check_build_images_on_engine(
        &mut self,
        op: &str,
        grant: &ContainersGrant,
        analysis: &dockerfile::Analysis,
        where_: &str,
        detail: &Value,
    ) -> Result<(), CapError> {
        let mut queue: Vec<dockerfile::ImageUse> = analysis
            .images
            .iter()
            .filter(|u| u.fetched)
            .cloned()
            .collect();
        let mut seen_triggers = 0usize;
        while let Some(u) = queue.pop() {
            let r = self.check_build_image(op, grant, &u, where_, detail)?;
            let d = self.caps.containers.docker()?;
            let name = r.to_string();
            let found =
                self.caps
                    .containers
                    .call(op, Some(Duration::from_secs(30)), async move {
                        match d.inspect_image(&name).await {
                            Ok(i) => Ok(Some(i)),
                            Err(bollard::errors::Error::DockerResponseServerError {
                                status_code: 404,
                                ..
                            }) => Ok(None),
                            Err(e) => Err(engine_error(e)),
                        }
                    })?;
            let Some(img) = found else {
                return Err(CapError::NotFound(format!(
                    "{where_} uses image `{r}` ({}), which is not on the Docker Engine; gantry does not pull images during a build: pull it on the engine first (`docker pull {r}`)",
                    u.by
                )));
            };
            if !image_has_name(&img, &r) {
                return Err(self.refuse(
                    op,
                    (
                        format!(
                            "{where_}: `{r}` ({}) names no image by that name; the engine would take it as a prefix of another image's id, which the grant does not cover",
                            u.by
                        ),
                        None,
                    ),
                    detail.clone(),
                ));
            }
            if let Some(stage) = u.base_of {
                let triggers = img
                    .config
                    .as_ref()
                    .and_then(|c| c.on_build.clone())
                    .unwrap_or_default();
                seen_triggers += triggers.len();
                if seen_triggers > 256 {
                    return Err(CapError::Invalid(format!(
                        "{where_}: the base images carry more than 256 ONBUILD triggers"
                    )));
                }
                let earlier = &analysis.stages[..stage.min(analysis.stages.len())];
                let uses = dockerfile::analyze_triggers(&triggers, earlier, &r.to_string())
                    .map_err(|p| match p {
                        dockerfile::Problem::Malformed { why, .. } => {
                            CapError::Invalid(format!("{where_}: {why}"))
                        }
                        dockerfile::Problem::Refused { why, .. } => {
                            self.refuse(op, (format!("{where_}: {why}"), None), detail.clone())
                        }
                    })?;
                queue.extend(uses);
            }
        }
        Ok(())
    }

    /// A tag may be set only where it names nothing yet or one of this pipeline's own
    /// images: moving a tag off someone else's image changes what their deploys run.
    pub(super) fn free_or_ours(&mut self, op: &str, tag: &ImageRef) -> Result<(), CapError> {
        let d = self.caps.containers.docker()?;
        let name = tag.to_string();
        let found = self
            .caps
            .containers
            .call(op, Some(Duration::from_secs(30)), async move {
                match d.inspect_image(&name).await {
                    Ok(i) => Ok(Some(i)),
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => Ok(None),
                    Err(e) => Err(engine_error(e)),
                }
            })?;
        let Some(img) = found.filter(|i| image_has_name(i, tag)) else {
            return Ok(());
        };
        match self
            .caps
            .containers
            .ownership(img.config.as_ref().and_then(|c| c.labels.as_ref()))
        {
            owner::Ownership::Ours => Ok(()),
            o => Err(self.refuse(
                op,
                (
                    format!(
                        "tag `{tag}` now names an image that {}",
                        owner::why_not_ours(
                            o,
                            &self.caps.containers.owner.pipeline,
                            &format!("docker rmi {tag}")
                        )
                    ),
                    None,
                ),
                json!({ "tag": tag.to_string() }),
            )),
        }
    }

    /// This pipeline's image behind `reference`; a refusal for anyone else's.
    pub(super) fn our_image(
        &mut self,
        op: &str,
        reference: &str,
    ) -> Result<ImageInspect, CapError> {
        let docker = self.caps.containers.docker()?;
        let r = reference.to_string();
        let img = self
            .caps
            .containers
            .call(op, Some(Duration::from_secs(30)), async move {
                docker.inspect_image(&r).await.map_err(engine_error)
            })?;
        let labels = img.config.as_ref().and_then(|c| c.labels.as_ref());
        match self.caps.containers.ownership(labels) {
            owner::Ownership::Ours => Ok(img),
            o => Err(self.refuse(
                op,
                (
                    format!(
                        "image `{}` {}",
                        shown(reference),
                        owner::why_not_ours(
                            o,
                            &self.caps.containers.owner.pipeline,
                            &format!("docker rmi {}", shown(reference))
                        )
                    ),
                    None,
                ),
                json!({ "image": shown(reference) }),
            )),
        }
    }

    pub(super) fn tag_image(&mut self, source: &str, target: &str) -> Result<(), CapError> {
        let op = "tag";
        let grant = self.containers_grant(op)?;
        let t = parse_ref("target", target)?;
        if t.digest.is_some() {
            return Err(CapError::Invalid(
                "a tag target cannot carry a digest".into(),
            ));
        }
        if !grant.may_run(&t) && !grant.may_push(&t) {
            return Err(self.refuse(
                op,
                (
                    format!("tag `{t}` matches neither `run` nor `push`"),
                    Some(format!("grants.containers.push = [\"{}\"]", t.repository)),
                ),
                json!({ "target": t.to_string() }),
            ));
        }
        let img = self.our_image(op, source)?;
        self.free_or_ours(op, &t)?;
        let id = img.id.clone().unwrap_or_default();
        let detail = json!({ "source": shown(source), "target": t.to_string() });
        self.engine_op(
            op,
            "tag granted",
            detail,
            Duration::from_secs(30),
            move |d| async move {
                d.tag_image(
                    &id,
                    Some(q::TagImageOptions {
                        repo: Some(t.repository.clone()),
                        tag: t.tag.clone(),
                    }),
                )
                .await
                .map_err(engine_error)
            },
        )
    }

    pub(super) fn push_image(
        &mut self,
        reference: &str,
        username: Option<String>,
        secret: Option<String>,
    ) -> Result<wit::Pushed, CapError> {
        let op = "push";
        let grant = self.containers_grant(op)?;
        let r = parse_ref("image", reference)?;
        let detail =
            json!({ "image": r.to_string(), "username": username, "password-secret": secret });
        if r.digest.is_some() {
            return Err(CapError::Invalid("push a tag, not a digest".into()));
        }
        if !grant.may_push(&r) {
            return Err(self.refuse(
                op,
                (
                    format!("pushing to `{}` is not granted", r.repository),
                    Some(format!("grants.containers.push = [\"{}\"]", r.repository)),
                ),
                detail,
            ));
        }
        let Some(registry) = r.registry().map(str::to_string) else {
            return Err(self.refuse(op, (format!("`{}` names no registry host; gantry does not push to Docker Hub implicitly", r.repository), Some("a repository with a registry host, e.g. `127.0.0.1:5000/app`".into())), detail));
        };
        // An image an earlier build of this dry run planned is not on the engine: it is
        // ours by construction (planned under this run's labels), and its push is planned.
        let planned_here = self.broker.dry_run && self.broker.journal.image_planned(&r.to_string());
        if !planned_here {
            self.our_image(op, &r.to_string())?;
        }
        let password = match &secret {
            Some(name) => match self.caps.secrets.store.value(name) {
                Some(Ok(v)) => Some(v.clone()),
                _ => return Err(CapError::NotFound(format!("secret `{name}` has no value"))),
            },
            None => None,
        };
        let credentials = (username.is_some() || password.is_some()).then(|| DockerCredentials {
            username: username.clone(),
            password,
            serveraddress: Some(registry.clone()),
            ..Default::default()
        });
        self.broker
            .allow("containers", op, "push granted", Some(detail.clone()));
        let log = self.log.clone();
        let shown_ref = r.to_string();
        let planned_digest = planned::digest(&self.broker.actor.run, &shown_ref);
        if self.broker.dry_run {
            self.broker
                .journal
                .plan_image(&format!("{}@{planned_digest}", r.repository));
        }
        self.on_engine(
            op,
            detail,
            || wit::Pushed {
                reference: shown_ref.clone(),
                digest: planned_digest.clone(),
            },
            |containers, _| {
                let d = containers.docker()?;
                let (repo, tag) = (r.repository.clone(), r.tag.clone());
                let log2 = log.clone();
                let digest = containers.call("push", None, async move {
                    let mut s = d.push_image(
                        &repo,
                        Some(q::PushImageOptions {
                            tag,
                            ..Default::default()
                        }),
                        credentials,
                    );
                    let mut digest = None;
                    while let Some(item) = s.next().await {
                        let info = item.map_err(|e| match e {
                            bollard::errors::Error::DockerStreamError { error } => {
                                CapError::Failed(format!("push failed: {error}"))
                            }
                            e => engine_error(e),
                        })?;
                        if let Some(e) = info.error_detail.and_then(|e| e.message) {
                            return Err(CapError::Failed(format!("push to `{repo}` failed: {e}")));
                        }
                        if let Some(st) = &info.status {
                            if let Some(i) = st.find("digest: ") {
                                digest = st[i + 8..].split_whitespace().next().map(str::to_string);
                            }
                            log2.line("push", st);
                        }
                    }
                    Ok(digest)
                })?;
                let digest = digest
                    .ok_or_else(|| CapError::Failed("the registry reported no digest".into()))?;
                Ok(wit::Pushed {
                    reference: shown_ref.clone(),
                    digest,
                })
            },
            |res| match res {
                Ok(p) => json!({ "digest": p.digest }),
                Err(e) => json!({ "error": e.to_string() }),
            },
        )
    }

    pub(super) fn inspect_image_checked(
        &mut self,
        reference: &str,
    ) -> Result<wit::Image, CapError> {
        let op = "inspect-image";
        let grant = self.containers_grant(op)?;
        let r = parse_ref("image", reference)?;
        if grant.may_run(&r) {
            let d = self.caps.containers.docker()?;
            let s = r.to_string();
            let img = self
                .caps
                .containers
                .call(op, Some(Duration::from_secs(30)), async move {
                    d.inspect_image(&s).await.map_err(engine_error)
                })?;
            return Ok(to_image(&img));
        }
        self.our_image(op, &r.to_string()).map(|i| to_image(&i))
    }
}
