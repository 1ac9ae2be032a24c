//! How the containers capability describes itself to a reviewer
//! ([`crate::caps::describe`]). Each line says what the broker in this folder enforces.

use crate::caps::describe::{Danger, Description, port_ranges, ticks};
use crate::manifest::Stage;
use crate::manifest::units::format_size;

pub const DESCRIPTION: Description = Description {
    name: "containers",
    imports: &[(
        "gantry:plugin/containers",
        "containers: Docker images, containers and Swarm services as its stage grants (grants.containers)",
    )],
    import_hint: "`gantry:plugin/containers`",
    not_granted: super::super::describe::DENIED,
    also_keys: &[],
    grants,
    dangers,
    uses_fs: Some(
        "the containers broker mounts and builds only from directories these grants cover (writable mounts need `fs.write`)",
    ),
    fixed: None,
};

fn grants(stage: &Stage) -> Vec<String> {
    let Some(c) = &stage.grants.containers else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if !c.run.is_empty() {
        let images: Vec<String> = c.run.iter().map(ToString::to_string).collect();
        out.push(format!("run images {}", ticks(&images)));
    }
    if c.build {
        // Every image a build uses is held to `run`; nothing is downloaded by the daemon.
        out.push(
            "build images from readable workspace directories (every image the Dockerfile uses must match `run`; remote `ADD` refused)"
                .into(),
        );
    }
    if !c.push.is_empty() {
        out.push(format!("push to {}", ticks(&c.push)));
    }
    if !c.publish.is_empty() {
        // `check_common`: containers bind 127.0.0.1; a Swarm service's port needs
        // `expose`, and Swarm binds it on every interface (it has no host address).
        let ports = port_ranges(&c.publish);
        out.push(format!("publish containers' ports {ports} on 127.0.0.1"));
        if c.services && c.expose.is_some() {
            out.push(format!(
                "publish Swarm services' ports {ports} on every interface of every node (0.0.0.0 and ::)"
            ));
        } else if c.services {
            out.push("Swarm services publish no ports (Swarm would bind them on every interface; `expose` is not granted)".into());
        }
    }
    out.push(format!("networks {}", ticks(&c.network)));
    if c.services {
        out.push("Swarm services' tasks run on `bridge`".into());
    }
    if let Some(m) = &c.manage {
        let what = if c.services {
            "containers and Swarm services"
        } else {
            "long-running containers"
        };
        out.push(format!("manage {what} named `{m}*`"));
    }
    out.push(format!(
        "ceilings: {} CPUs, {}, {} PIDs",
        c.cpus,
        format_size(c.memory),
        c.pids
    ));
    out
}

fn dangers(stage: &Stage) -> Vec<Danger> {
    let Some(c) = &stage.grants.containers else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(m) = &c.manage {
        out.push(Danger {
            severity: "high",
            grant: "grants.containers.manage".into(),
            subject: m.clone(),
            reason: "starts and stops long-running containers (and, with `services`, Swarm services) that outlive the run: a deploy"
                .into(),
        });
    }
    if c.expose.is_some() {
        out.push(Danger {
            severity: "high",
            grant: "grants.containers.expose".into(),
            subject: port_ranges(&c.publish),
            reason: "Swarm services publish these ports on every interface of every node (0.0.0.0 and ::): reachable from every network the hosts are on, not only from this machine"
                .into(),
        });
    }
    if c.network.iter().any(|n| n == "bridge") {
        out.push(Danger {
            severity: "high",
            grant: "grants.containers.network".into(),
            subject: "bridge".into(),
            reason: "its containers have network access, which the wasm sandbox's own http grant does not govern"
                .into(),
        });
    }
    out
}
