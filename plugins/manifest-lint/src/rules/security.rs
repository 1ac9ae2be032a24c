//! Security rules: privileges, users, capabilities, host namespaces and paths,
//! seccomp/AppArmor, service account tokens, secrets in the environment.

use super::{
    ALL_CONTAINERS, Check, Found, Level, PodCx, RUNNING_CONTAINERS, Rule, capability, key_pos,
    path_pos, strings,
};
use crate::model::Service;
use crate::yaml::{Node, Pos};

pub static RULES: &[Rule] = &[
    Rule {
        id: "privileged-container",
        checkov: &["CKV_K8S_16"],
        level: Level::Error,
        title: "A container runs privileged.",
        why: "A privileged container has every capability and the host's devices: escaping to the node is a `mount` away.",
        fix: "Remove `privileged: true`; grant the one capability the workload needs instead.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext:\n      privileged: true\n",
            "services:\n  app:\n    image: app:1.0\n    privileged: yes\n",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext: {privileged: !!bool \"true\"}\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext:\n      privileged: false\n",
        ],
        k8s: Check::Container {
            kinds: ALL_CONTAINERS,
            skip_kinds: &[],
            f: |x| {
                x.c.security("privileged")?.bool()?.then(|| {
                    (
                        x.c.node
                            .at(&["securityContext"])
                            .map_or(x.sc_pos(), |s| key_pos(s, "privileged")),
                        "`securityContext.privileged` is true".to_string(),
                    )
                })
            },
        },
        compose: Some(|s| {
            s.node.get("privileged")?.bool()?.then(|| {
                (
                    key_pos(s.node, "privileged"),
                    "`privileged` is true".to_string(),
                )
            })
        }),
    },
    Rule {
        id: "privilege-escalation-allowed",
        checkov: &["CKV_K8S_20"],
        level: Level::Warning,
        title: "A container may gain more privileges than its parent process (`allowPrivilegeEscalation` true or unset).",
        why: "Unless it is `false`, setuid binaries and file capabilities in the image can raise a process's privileges (`no_new_privs` is not set).",
        fix: "Set `securityContext.allowPrivilegeEscalation: false` on every container.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext: {allowPrivilegeEscalation: false}\n",
        ],
        k8s: Check::Container {
            kinds: ALL_CONTAINERS,
            skip_kinds: &[],
            f: |x| match x.c.security("allowPrivilegeEscalation") {
                Some(v) if v.bool() == Some(false) => None,
                Some(v) => Some((
                    path_pos(x.c.node, &["securityContext", "allowPrivilegeEscalation"])
                        .unwrap_or(v.pos),
                    "`securityContext.allowPrivilegeEscalation` is not false".to_string(),
                )),
                None => Some((
                    x.sc_pos(),
                    "`securityContext.allowPrivilegeEscalation` is not set (it defaults to true)"
                        .to_string(),
                )),
            },
        },
        compose: None,
    },
    Rule {
        id: "run-as-root",
        checkov: &["CKV_K8S_23"],
        level: Level::Warning,
        title: "A container may run as root (`runAsNonRoot` is not true and `runAsUser` is not a non-zero UID).",
        why: "Root in a container is root on the node's kernel: any escape or writable host path is then root's. Without `runAsNonRoot: true` the image's `USER` decides, and many images run as root.",
        fix: "Set `securityContext.runAsNonRoot: true` and a non-zero `runAsUser` on the pod (or each container).",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  securityContext: {runAsNonRoot: true}\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext: {runAsUser: 0}\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  securityContext: {runAsNonRoot: true, runAsUser: 10001}\n  containers:\n  - name: app\n    image: app:1.0\n",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext: {runAsUser: 1000}\n",
        ],
        k8s: Check::Container {
            kinds: ALL_CONTAINERS,
            skip_kinds: &[],
            f: |x| {
                let user = x.effective("runAsUser");
                if let Some(u) = user.filter(|u| u.int() == Some(0)) {
                    return Some((u.pos, "`runAsUser` is 0 (root)".to_string()));
                }
                let non_root = x.effective("runAsNonRoot").and_then(Node::bool) == Some(true);
                let uid = user.and_then(Node::int).is_some_and(|u| u > 0);
                (!non_root && !uid).then(|| {
                    (
                        x.sc_pos(),
                        "neither `runAsNonRoot: true` nor a non-zero `runAsUser` is set, so the image's USER decides".to_string(),
                    )
                })
            },
        },
        compose: None,
    },
    Rule {
        id: "low-uid",
        checkov: &["CKV_K8S_40"],
        level: Level::Note,
        title: "A container does not run as a high UID (10000 or more).",
        why: "Low UIDs collide with users of the node (a container UID 1000 is the node's first user); a high UID owns nothing on the host.",
        fix: "Set `securityContext.runAsUser` to 10000 or more (or run the pod with `hostUsers: false`).",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  securityContext: {runAsUser: 1000}\n  containers:\n  - name: app\n    image: app:1.0\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  securityContext: {runAsUser: 10001}\n  containers:\n  - name: app\n    image: app:1.0\n",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  hostUsers: false\n  containers:\n  - name: app\n    image: app:1.0\n",
        ],
        k8s: Check::Container {
            kinds: ALL_CONTAINERS,
            skip_kinds: &[],
            f: |x| {
                if x.pod.spec.get("hostUsers").and_then(Node::bool) == Some(false) {
                    return None;
                }
                match x.effective("runAsUser") {
                    Some(u) if u.int().is_some_and(|u| u >= 10000) => None,
                    Some(u) => Some((u.pos, format!("`runAsUser` is {}", u.str().unwrap_or("?")))),
                    None => Some((x.sc_pos(), "`runAsUser` is not set".to_string())),
                }
            },
        },
        compose: None,
    },
    Rule {
        id: "read-only-root-filesystem-missing",
        checkov: &["CKV_K8S_22"],
        level: Level::Warning,
        title: "A container's root filesystem is writable (`readOnlyRootFilesystem` is not true).",
        why: "A writable root filesystem lets an intruder replace binaries and drop tools that survive in the container; a read-only one keeps the image what was reviewed.",
        fix: "Set `securityContext.readOnlyRootFilesystem: true` and mount an `emptyDir` where the program must write (`/tmp`).",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext: {readOnlyRootFilesystem: true}\n",
        ],
        k8s: Check::Container {
            kinds: ALL_CONTAINERS,
            skip_kinds: &[],
            f: |x| match x.c.security("readOnlyRootFilesystem") {
                Some(v) if v.bool() == Some(true) => None,
                Some(v) => Some((
                    v.pos,
                    "`securityContext.readOnlyRootFilesystem` is not true".to_string(),
                )),
                None => Some((
                    x.sc_pos(),
                    "`securityContext.readOnlyRootFilesystem` is not set".to_string(),
                )),
            },
        },
        compose: None,
    },
    Rule {
        id: "capabilities-added",
        checkov: &["CKV_K8S_25"],
        level: Level::Warning,
        title: "A container adds Linux capabilities.",
        why: "Each added capability is a slice of root (NET_ADMIN reconfigures the network, SYS_PTRACE reads other processes); few workloads need any.",
        fix: "Remove `capabilities.add` (`cap_add` in Compose), or keep only the one the program needs and document why.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext:\n      capabilities:\n        add: [NET_ADMIN]\n",
            "services:\n  app:\n    image: app:1.0\n    cap_add: [NET_ADMIN]\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext:\n      capabilities:\n        drop: [ALL]\n",
        ],
        k8s: Check::Container {
            kinds: ALL_CONTAINERS,
            skip_kinds: &[],
            f: |x| {
                let caps = x.c.security("capabilities")?;
                let add = strings(caps.get("add"));
                (!add.is_empty())
                    .then(|| (key_pos(caps, "add"), format!("adds {}", add.join(", "))))
            },
        },
        compose: Some(|s| {
            let add = strings(s.node.get("cap_add"));
            (!add.is_empty()).then(|| {
                (
                    key_pos(s.node, "cap_add"),
                    format!("`cap_add` adds {}", add.join(", ")),
                )
            })
        }),
    },
    Rule {
        id: "sys-admin-capability",
        checkov: &["CKV_K8S_39"],
        level: Level::Error,
        title: "A container adds CAP_SYS_ADMIN (or ALL).",
        why: "SYS_ADMIN is nearly root: mounts, namespaces, BPF; with it most container escapes are straightforward. `ALL` includes it.",
        fix: "Remove SYS_ADMIN; find the narrower capability (or host feature) the program needs.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext:\n      capabilities:\n        add: [CAP_SYS_ADMIN]\n",
            "services:\n  app:\n    image: app:1.0\n    cap_add: [ALL]\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext:\n      capabilities:\n        add: [NET_BIND_SERVICE]\n",
        ],
        k8s: Check::Container {
            kinds: ALL_CONTAINERS,
            skip_kinds: &[],
            f: |x| {
                let caps = x.c.security("capabilities")?;
                sys_admin(&strings(caps.get("add")))
                    .map(|c| (key_pos(caps, "add"), format!("adds {c}")))
            },
        },
        compose: Some(|s| {
            sys_admin(&strings(s.node.get("cap_add")))
                .map(|c| (key_pos(s.node, "cap_add"), format!("`cap_add` adds {c}")))
        }),
    },
    Rule {
        id: "capabilities-not-dropped",
        checkov: &["CKV_K8S_37"],
        level: Level::Warning,
        title: "A container does not drop all capabilities (`capabilities.drop: [ALL]`).",
        why: "Container runtimes grant a default set (CHOWN, DAC_OVERRIDE, SETUID, NET_RAW, …) that most programs never use; dropping ALL leaves an intruder none of them.",
        fix: "Set `securityContext.capabilities.drop: [ALL]` and add back only what is needed.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext:\n      capabilities:\n        drop: [NET_RAW]\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext:\n      capabilities:\n        drop: [all]\n",
        ],
        k8s: Check::Container {
            kinds: ALL_CONTAINERS,
            skip_kinds: &[],
            f: |x| {
                let drop = strings(x.c.security("capabilities").and_then(|c| c.get("drop")));
                if drop.iter().any(|d| capability(d) == "ALL") {
                    return None;
                }
                let pos =
                    x.c.security("capabilities")
                        .map_or(x.sc_pos(), |c| key_pos(c, "drop"));
                Some((
                    pos,
                    "`securityContext.capabilities.drop` does not include ALL".to_string(),
                ))
            },
        },
        compose: None,
    },
    Rule {
        id: "net-raw-capability",
        checkov: &["CKV_K8S_28"],
        level: Level::Note,
        title: "A container keeps NET_RAW (neither NET_RAW nor ALL is dropped, or it is added).",
        why: "NET_RAW, in the runtime's default set, lets a process forge packets and sniff traffic of its network namespace (ARP and DNS spoofing of neighbours).",
        fix: "Drop ALL (or at least NET_RAW) in `securityContext.capabilities.drop`.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext:\n      capabilities:\n        drop: [NET_RAW]\n",
        ],
        k8s: Check::Container {
            kinds: ALL_CONTAINERS,
            skip_kinds: &[],
            f: |x| {
                let caps = x.c.security("capabilities");
                let add = strings(caps.and_then(|c| c.get("add")));
                if add
                    .iter()
                    .any(|a| matches!(capability(a).as_str(), "NET_RAW" | "ALL"))
                {
                    return caps.map(|c| (key_pos(c, "add"), "adds NET_RAW".to_string()));
                }
                let drop = strings(caps.and_then(|c| c.get("drop")));
                if drop
                    .iter()
                    .any(|d| matches!(capability(d).as_str(), "NET_RAW" | "ALL"))
                {
                    return None;
                }
                Some((
                    caps.map_or(x.sc_pos(), |c| key_pos(c, "drop")),
                    "NET_RAW is not dropped".to_string(),
                ))
            },
        },
        compose: None,
    },
    Rule {
        id: "host-network",
        checkov: &["CKV_K8S_19"],
        level: Level::Error,
        title: "The pod uses the host's network namespace.",
        why: "With the node's network the pod can bind any host port, reach services listening on the node's loopback (the kubelet, cloud metadata agents) and sniff node traffic with NET_RAW.",
        fix: "Remove `hostNetwork: true` (`network_mode: host` in Compose); publish ports through a Service.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  hostNetwork: true\n  containers:\n  - name: app\n    image: app:1.0\n",
            "services:\n  app:\n    image: app:1.0\n    network_mode: host\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  hostNetwork: false\n  containers:\n  - name: app\n    image: app:1.0\n",
        ],
        k8s: Check::Pod(|p| host_ns(p, "hostNetwork")),
        compose: Some(|s| compose_host(s, "network_mode")),
    },
    Rule {
        id: "host-pid",
        checkov: &["CKV_K8S_17"],
        level: Level::Error,
        title: "The pod shares the host's process ID namespace.",
        why: "It sees every process of the node, their command lines and environments, and with ptrace rights can enter them.",
        fix: "Remove `hostPID: true` (`pid: host` in Compose).",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  hostPID: true\n  containers:\n  - name: app\n    image: app:1.0\n",
            "services:\n  app:\n    image: app:1.0\n    pid: host\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n",
        ],
        k8s: Check::Pod(|p| host_ns(p, "hostPID")),
        compose: Some(|s| compose_host(s, "pid")),
    },
    Rule {
        id: "host-ipc",
        checkov: &["CKV_K8S_18"],
        level: Level::Error,
        title: "The pod shares the host's IPC namespace.",
        why: "Shared memory and message queues of every process on the node become readable and writable by the pod.",
        fix: "Remove `hostIPC: true` (`ipc: host` in Compose).",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  hostIPC: true\n  containers:\n  - name: app\n    image: app:1.0\n",
            "services:\n  app:\n    image: app:1.0\n    ipc: host\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n",
        ],
        k8s: Check::Pod(|p| host_ns(p, "hostIPC")),
        compose: Some(|s| compose_host(s, "ipc")),
    },
    Rule {
        id: "host-path-volume",
        checkov: &[],
        level: Level::Warning,
        title: "The pod mounts a directory or file of the node (`hostPath`).",
        why: "A hostPath volume bypasses the container's filesystem isolation: a writable one lets the pod plant files the node later runs; a read-only one still leaks the node's files (keys, logs, other pods' data).",
        fix: "Use a `persistentVolumeClaim`, `configMap`, `secret`, `emptyDir` or CSI volume; if a node agent truly needs it, mount the narrowest path `readOnly` and suppress this finding with the reason. In Compose, bind paths of the project (`./data`), not absolute host paths.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n  volumes:\n  - name: logs\n    hostPath: {path: /var/log}\n",
            "services:\n  app:\n    image: app:1.0\n    volumes:\n    - /etc:/host-etc:ro\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n  volumes:\n  - name: tmp\n    emptyDir: {}\n",
            "services:\n  app:\n    image: app:1.0\n    volumes:\n    - ./data:/data\n    - cache:/cache\n",
        ],
        k8s: Check::Pod(|p| {
            let paths: Vec<(Pos, &str)> = host_paths(p);
            let (pos, _) = *paths.first()?;
            let list: Vec<String> = paths.iter().map(|(_, p)| format!("`{p}`")).collect();
            Some((
                pos,
                format!(
                    "hostPath volume{} {}",
                    if list.len() == 1 { "" } else { "s" },
                    list.join(", ")
                ),
            ))
        }),
        compose: Some(|s| {
            let binds = compose_binds(s);
            let abs: Vec<&(Pos, String)> = binds
                .iter()
                .filter(|(_, p)| p.starts_with('/') || p.starts_with('~'))
                .collect();
            let (pos, _) = abs.first()?;
            let list: Vec<String> = abs.iter().map(|(_, p)| format!("`{p}`")).collect();
            Some((
                *pos,
                format!(
                    "binds host path{} {}",
                    if abs.len() == 1 { "" } else { "s" },
                    list.join(", ")
                ),
            ))
        }),
    },
    Rule {
        id: "container-runtime-socket",
        checkov: &["CKV_K8S_27"],
        level: Level::Error,
        title: "The container runtime's socket (Docker, containerd, CRI-O, Podman) is mounted into a container.",
        why: "Whoever talks to the runtime socket starts privileged containers on the node: it is root on the host. Mounting a directory that holds the socket (`/var/run`, `/run`) is the same.",
        fix: "Do not mount the socket. Build images with a rootless builder (BuildKit rootless, kaniko) and manage containers through the Kubernetes API.",
        bad: &[
            "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n  template:\n    spec:\n      containers:\n      - name: agent\n        image: agent:1.0\n      volumes:\n      - name: sock\n        hostPath:\n          path: /run/containerd/containerd.sock\n",
            "services:\n  ci:\n    image: ci:1.0\n    volumes:\n    - type: bind\n      source: /var/run/docker.sock\n      target: /var/run/docker.sock\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n  volumes:\n  - name: logs\n    hostPath: {path: /var/log/app}\n",
        ],
        k8s: Check::Pod(|p| {
            host_paths(p)
                .into_iter()
                .find(|(_, path)| runtime_socket(path))
                .map(|(pos, path)| {
                    (
                        pos,
                        format!("hostPath `{path}` reaches the container runtime's socket"),
                    )
                })
        }),
        compose: Some(|s| {
            compose_binds(s)
                .into_iter()
                .find(|(_, path)| runtime_socket(path))
                .map(|(pos, path)| {
                    (
                        pos,
                        format!("binds `{path}`, which reaches the container runtime's socket"),
                    )
                })
        }),
    },
    Rule {
        id: "host-port",
        checkov: &["CKV_K8S_26"],
        level: Level::Warning,
        title: "A container binds a port of the node (`hostPort`).",
        why: "A hostPort exposes the pod on the node's address, outside Services and most NetworkPolicies, and limits scheduling to one such pod per node.",
        fix: "Remove `hostPort`; expose the port with a Service.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    ports:\n    - containerPort: 8080\n      hostPort: 80\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    ports:\n    - containerPort: 8080\n",
        ],
        k8s: Check::Container {
            kinds: RUNNING_CONTAINERS,
            skip_kinds: &[],
            f: |x| {
                x.c.node.get("ports")?.items().iter().find_map(|p| {
                    let hp = p.get("hostPort")?;
                    (hp.int() != Some(0)).then(|| {
                        (
                            key_pos(p, "hostPort"),
                            format!("`hostPort: {}`", hp.str().unwrap_or("?")),
                        )
                    })
                })
            },
        },
        compose: None,
    },
    Rule {
        id: "seccomp-profile-unset",
        checkov: &["CKV_K8S_31"],
        level: Level::Warning,
        title: "A container runs without a seccomp profile (unset or `Unconfined`).",
        why: "Kubernetes runs containers `Unconfined` unless told otherwise: every system call is allowed, including the rarely used ones most kernel exploits go through. `RuntimeDefault` blocks them at no cost to ordinary programs.",
        fix: "Set `securityContext.seccompProfile.type: RuntimeDefault` on the pod (or `Localhost` with a reviewed profile).",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  securityContext:\n    seccompProfile: {type: RuntimeDefault}\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext:\n      seccompProfile: {type: Unconfined}\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  securityContext:\n    seccompProfile: {type: RuntimeDefault}\n  containers:\n  - name: app\n    image: app:1.0\n",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  annotations:\n    seccomp.security.alpha.kubernetes.io/pod: runtime/default\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n",
        ],
        k8s: Check::Container {
            kinds: ALL_CONTAINERS,
            skip_kinds: &[],
            f: |x| {
                if let Some(t) = x.effective("seccompProfile").and_then(|s| s.get("type")) {
                    return match t.str() {
                        Some("RuntimeDefault" | "Localhost") => None,
                        other => Some((
                            t.pos,
                            format!(
                                "`seccompProfile.type` is {}",
                                other.unwrap_or("not a string")
                            ),
                        )),
                    };
                }
                let ann = x
                    .pod
                    .annotation(&format!(
                        "container.seccomp.security.alpha.kubernetes.io/{}",
                        x.c.name
                    ))
                    .or_else(|| x.pod.annotation("seccomp.security.alpha.kubernetes.io/pod"));
                match ann {
                    Some(a)
                        if a == "runtime/default"
                            || a == "docker/default"
                            || a.starts_with("localhost/") =>
                    {
                        None
                    }
                    Some(a) => Some((x.sc_pos(), format!("the seccomp annotation is `{a}`"))),
                    None => Some((
                        x.sc_pos(),
                        "no `seccompProfile` is set on the container or the pod".to_string(),
                    )),
                }
            },
        },
        compose: None,
    },
    Rule {
        id: "security-profile-unconfined",
        checkov: &[],
        level: Level::Error,
        title: "A container's AppArmor or seccomp confinement is turned off explicitly.",
        why: "`unconfined` removes the runtime's default AppArmor profile or seccomp filter, which block known escape techniques; turning them off on purpose is rarely right.",
        fix: "Remove the `unconfined` setting (`appArmorProfile.type: Unconfined`, the AppArmor annotation, Compose `security_opt: [seccomp:unconfined]`).",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext:\n      appArmorProfile: {type: Unconfined}\n",
            "services:\n  app:\n    image: app:1.0\n    security_opt:\n    - seccomp:unconfined\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext:\n      appArmorProfile: {type: RuntimeDefault}\n",
            "services:\n  app:\n    image: app:1.0\n    security_opt: [\"no-new-privileges:true\"]\n",
        ],
        k8s: Check::Container {
            kinds: ALL_CONTAINERS,
            skip_kinds: &[],
            f: |x| {
                if let Some(t) = x.effective("appArmorProfile").and_then(|s| s.get("type")) {
                    return (t.str() == Some("Unconfined"))
                        .then(|| (t.pos, "`appArmorProfile.type` is Unconfined".to_string()));
                }
                let ann = x.pod.annotation(&format!(
                    "container.apparmor.security.beta.kubernetes.io/{}",
                    x.c.name
                ))?;
                (ann == "unconfined").then(|| {
                    (
                        x.c.node.pos,
                        "the AppArmor annotation is `unconfined`".to_string(),
                    )
                })
            },
        },
        compose: Some(|s| {
            let opts = s.node.get("security_opt")?;
            opts.items().iter().find_map(|o| {
                let t = o.str()?.replace('=', ":");
                let t = t.trim();
                (t == "seccomp:unconfined"
                    || t == "apparmor:unconfined"
                    || t == "systempaths:unconfined")
                    .then(|| (o.pos, format!("`security_opt` has `{t}`")))
            })
        }),
    },
    Rule {
        id: "service-account-token-mounted",
        checkov: &["CKV_K8S_38"],
        level: Level::Warning,
        title: "The pod gets a Kubernetes API token it may not need (`automountServiceAccountToken` is not false).",
        why: "The token is mounted into every container; whoever gets code execution in the pod can call the API server with the service account's rights.",
        fix: "Set `automountServiceAccountToken: false` on the pod spec, or on its ServiceAccount, and mount a projected token only in pods that call the API.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  automountServiceAccountToken: false\n  containers:\n  - name: app\n    image: app:1.0\n",
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: runner}\nautomountServiceAccountToken: false\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  serviceAccountName: runner\n  containers:\n  - name: app\n    image: app:1.0\n",
        ],
        k8s: Check::Cross(|obj, all| {
            let pod = obj.pod()?;
            match pod.spec.get("automountServiceAccountToken") {
                Some(v) if v.bool() == Some(false) => return None,
                Some(v) => {
                    return Some((
                        v.pos,
                        "`automountServiceAccountToken` is not false".to_string(),
                    ));
                }
                None => {}
            }
            let sa = pod
                .spec
                .get("serviceAccountName")
                .or_else(|| pod.spec.get("serviceAccount"))
                .and_then(Node::str)
                .unwrap_or("default");
            // The ServiceAccount's own setting applies when the pod does not set one.
            let sa_off = all.iter().any(|o| {
                o.kind == "ServiceAccount"
                    && o.name == sa
                    && o.namespace == obj.namespace
                    && o.node
                        .get("automountServiceAccountToken")
                        .and_then(Node::bool)
                        == Some(false)
            });
            (!sa_off).then(|| {
                (
                    pod.spec.pos,
                    format!("`automountServiceAccountToken` is not set, and ServiceAccount `{sa}` does not turn it off here"),
                )
            })
        }),
        compose: None,
    },
    Rule {
        id: "pod-security-context-missing",
        checkov: &["CKV_K8S_29"],
        level: Level::Note,
        title: "The pod has no `securityContext`.",
        why: "The pod-level security context is where non-root users, the seccomp profile and volume ownership are set once for every container; without it each container must get all of them right.",
        fix: "Add `spec.securityContext` with `runAsNonRoot`, `runAsUser` and `seccompProfile`.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  securityContext: {runAsNonRoot: true}\n  containers:\n  - name: app\n    image: app:1.0\n",
        ],
        k8s: Check::Pod(|p| {
            let empty = p
                .pod
                .spec
                .get("securityContext")
                .is_none_or(|s| s.entries().is_empty());
            empty.then(|| {
                (
                    key_pos(p.pod.spec, "securityContext"),
                    "the pod spec has no `securityContext`".to_string(),
                )
            })
        }),
        compose: None,
    },
    Rule {
        id: "container-security-context-missing",
        checkov: &["CKV_K8S_30"],
        level: Level::Note,
        title: "A container has no `securityContext`.",
        why: "Privilege escalation, the read-only root filesystem and capabilities can only be set per container.",
        fix: "Add `securityContext` with `allowPrivilegeEscalation: false`, `readOnlyRootFilesystem: true` and `capabilities.drop: [ALL]`.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    securityContext: {allowPrivilegeEscalation: false}\n",
        ],
        k8s: Check::Container {
            kinds: ALL_CONTAINERS,
            skip_kinds: &[],
            f: |x| {
                let empty =
                    x.c.node
                        .get("securityContext")
                        .is_none_or(|s| s.entries().is_empty());
                empty.then(|| (x.sc_pos(), "no `securityContext`".to_string()))
            },
        },
        compose: None,
    },
    Rule {
        id: "secret-in-env-literal",
        checkov: &[],
        level: Level::Error,
        title: "A secret is written as a literal value in an environment variable.",
        why: "The value is in the repository, in every rendered manifest, and readable by anyone who can `get` the object; it cannot be rotated without a commit.",
        fix: "Put the value in a Secret (created outside the repository, or encrypted with a tool such as sealed-secrets or SOPS) and reference it with `valueFrom.secretKeyRef`; in Compose use `secrets:` or an `.env` file kept out of the repository.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    env:\n    - name: DB_PASSWORD\n      value: hunter2hunter2\n",
            "services:\n  app:\n    image: app:1.0\n    environment:\n      - API_TOKEN=tokentokentoken\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    env:\n    - name: DB_PASSWORD\n      valueFrom:\n        secretKeyRef: {name: db, key: password}\n    - name: DB_PASSWORD_FILE\n      value: /run/secrets/db\n    - name: TOKEN_TTL\n      value: \"3600\"\n",
            "services:\n  app:\n    image: app:1.0\n    environment:\n      API_TOKEN: ${API_TOKEN}\n",
        ],
        k8s: Check::Container {
            kinds: ALL_CONTAINERS,
            skip_kinds: &[],
            f: |x| {
                x.c.node.get("env")?.items().iter().find_map(|e| {
                    let name = e.get("name")?.str()?;
                    let value = e.get("value")?;
                    literal_secret(name, value.str()?)
                        .then(|| (value.pos, format!("`{name}` has a literal value")))
                })
            },
        },
        compose: Some(|s| {
            let env = s.node.get("environment")?;
            if env.is_map() {
                env.unique_entries().into_iter().find_map(|e| {
                    literal_secret(&e.key, e.value.str()?)
                        .then(|| (e.key_pos, format!("`{}` has a literal value", e.key)))
                })
            } else {
                env.items().iter().find_map(|i| {
                    let (k, v) = i.str()?.split_once('=')?;
                    literal_secret(k, v).then(|| (i.pos, format!("`{k}` has a literal value")))
                })
            }
        }),
    },
    Rule {
        id: "secret-as-env-var",
        checkov: &["CKV_K8S_35"],
        level: Level::Note,
        title: "A Secret is passed as an environment variable rather than a file.",
        why: "Environment variables leak: into crash reports, `/proc/<pid>/environ`, child processes and logs that print the environment. Mounted files are read only when needed, and update when the Secret rotates.",
        fix: "Mount the Secret as a volume and point the program at the file.",
        bad: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    envFrom:\n    - secretRef: {name: db}\n",
        ],
        good: &[
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: app:1.0\n    volumeMounts:\n    - {name: db, mountPath: /run/secrets/db, readOnly: true}\n  volumes:\n  - name: db\n    secret: {secretName: db}\n",
        ],
        k8s: Check::Container {
            kinds: ALL_CONTAINERS,
            skip_kinds: &[],
            f: |x| {
                let env = x.c.node.get("env").map(Node::items).unwrap_or_default();
                if let Some(e) = env
                    .iter()
                    .find(|e| e.at(&["valueFrom", "secretKeyRef"]).is_some())
                {
                    let name = e.get("name").and_then(Node::str).unwrap_or("?");
                    return Some((e.pos, format!("`{name}` comes from `secretKeyRef`")));
                }
                let from = x.c.node.get("envFrom").map(Node::items).unwrap_or_default();
                from.iter().find(|f| f.get("secretRef").is_some()).map(|f| {
                    (
                        key_pos(f, "secretRef"),
                        "`envFrom` a `secretRef`".to_string(),
                    )
                })
            },
        },
        compose: None,
    },
];

fn sys_admin(add: &[&str]) -> Option<String> {
    add.iter()
        .map(|c| capability(c))
        .find(|c| c == "SYS_ADMIN" || c == "ALL")
}

fn host_ns(p: &PodCx, key: &str) -> Found {
    let v = p.pod.spec.get(key)?;
    (v.bool() == Some(true)).then(|| (key_pos(p.pod.spec, key), format!("`{key}` is true")))
}

fn compose_host(s: &Service, key: &str) -> Found {
    let v = s.node.get(key)?.str()?;
    (v == "host").then(|| (key_pos(s.node, key), format!("`{key}: host`")))
}

/// `hostPath` volumes of the pod: (position of `hostPath`, its path).
fn host_paths<'a>(p: &PodCx<'a>) -> Vec<(Pos, &'a str)> {
    let volumes = p
        .pod
        .spec
        .get("volumes")
        .map(Node::items)
        .unwrap_or_default();
    volumes
        .iter()
        .filter_map(|v| {
            let hp = v.get("hostPath")?;
            Some((
                key_pos(v, "hostPath"),
                hp.get("path").and_then(Node::str).unwrap_or("?"),
            ))
        })
        .collect()
}

/// Host sources of a Compose service's bind mounts: short syntax `SRC:DST[:MODE]`
/// whose source is a path (not a named volume), and long syntax `type: bind`.
fn compose_binds(s: &Service) -> Vec<(Pos, String)> {
    let volumes = s.node.get("volumes").map(Node::items).unwrap_or_default();
    volumes
        .iter()
        .filter_map(|v| {
            if let Some(text) = v.str() {
                let (src, _) = text.split_once(':')?;
                let is_path = src.starts_with(['/', '.', '~']) || src.starts_with("${");
                return is_path.then(|| (v.pos, src.to_string()));
            }
            let bind = v.get("type").and_then(Node::str) == Some("bind");
            let src = v.get("source").and_then(Node::str)?;
            bind.then(|| (key_pos(v, "source"), src.to_string()))
        })
        .collect()
}

/// A path that is a container runtime's socket or a directory holding one.
fn runtime_socket(path: &str) -> bool {
    let p = path.trim_end_matches('/');
    const SOCKETS: &[&str] = &[
        "docker.sock",
        "containerd.sock",
        "crio.sock",
        "podman.sock",
        "cri-dockerd.sock",
        "dockershim.sock",
    ];
    const DIRS: &[&str] = &[
        "",
        "/run",
        "/var/run",
        "/var/run/docker",
        "/run/docker",
        "/run/containerd",
        "/var/run/containerd",
        "/run/crio",
        "/var/run/crio",
        "/run/podman",
        "/var/run/podman",
    ];
    SOCKETS.iter().any(|s| p.ends_with(s)) || DIRS.contains(&p)
}

/// Words of an environment variable name that make it a secret.
const SECRET_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PWD",
    "SECRET",
    "TOKEN",
    "APIKEY",
    "PRIVATEKEY",
    "ACCESSKEY",
    "CREDENTIAL",
    "CREDENTIALS",
];
/// Suffixes of names that hold a reference to a secret, not the secret.
const REFERENCE_WORDS: &[&str] = &[
    "FILE", "PATH", "DIR", "NAME", "URL", "URI", "HOST", "PORT", "USER", "USERNAME", "ID", "TTL",
    "EXPIRY", "EXPIRES", "LENGTH", "HEADER", "REF", "KEYREF", "ENABLED", "TYPE", "MODE",
];

/// `name` reads like a secret and `value` is a literal secret (not empty, not a
/// variable reference, a path, a number or a boolean).
fn literal_secret(name: &str, value: &str) -> bool {
    let upper = name.to_ascii_uppercase().replace(['-', '.'], "_");
    let words: Vec<&str> = upper.split('_').filter(|w| !w.is_empty()).collect();
    let joined = words.join("");
    let secretish = words.iter().any(|w| SECRET_WORDS.contains(w))
        || ["APIKEY", "PRIVATEKEY", "ACCESSKEY", "SECRETKEY"]
            .iter()
            .any(|k| joined.contains(k));
    if !secretish || words.last().is_some_and(|w| REFERENCE_WORDS.contains(w)) {
        return false;
    }
    let v = value.trim();
    // Placeholders a deploy script replaces (`GOOGLE_API_KEY_VAL`, `<password>`,
    // `__TOKEN__`, `@PASSWORD@`) are not secrets.
    let placeholder = v
        .to_ascii_uppercase()
        .replace(['-', '.'], "_")
        .contains(&upper)
        || (v.starts_with('<') && v.ends_with('>'))
        || (v.starts_with("__") && v.ends_with("__"))
        || (v.starts_with('@') && v.ends_with('@'))
        || (v.starts_with('%') && v.ends_with('%'));
    !(v.len() < 4
        || placeholder
        || v.contains("$(")
        || v.contains("${")
        || v.starts_with('$')
        || v.starts_with('/')
        || v.starts_with("{{")
        || v.bytes().all(|b| b.is_ascii_digit())
        || matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "false" | "none" | "null" | "changeme" | "<none>"
        ))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn secret_names_and_values() {
        assert!(literal_secret("DB_PASSWORD", "s3cr3t!"));
        assert!(literal_secret("githubApiKey", "ghp_abcdef"));
        assert!(literal_secret("aws-secret-access-key", "wJalrXUtnFEMI"));
        assert!(!literal_secret("DB_PASSWORD_FILE", "s3cr3t!"));
        assert!(!literal_secret("PASSWORD", "$(DB_PASS)"));
        assert!(!literal_secret("TOKEN_TTL", "3600"));
        assert!(!literal_secret("LOG_LEVEL", "debug-token"));
        assert!(!literal_secret("KEYCLOAK_TOKEN", ""));
        assert!(!literal_secret("GOOGLE_API_KEY", "GOOGLE_API_KEY_VAL"));
        assert!(!literal_secret("DB_PASSWORD", "<your password>"));
    }

    #[test]
    fn runtime_sockets() {
        for p in [
            "/var/run/docker.sock",
            "/run/containerd/containerd.sock",
            "/var/run/",
            "/",
            "/run/crio/crio.sock",
        ] {
            assert!(runtime_socket(p), "{p}");
        }
        for p in ["/var/log", "/var/run/secrets", "/etc/ssl/certs"] {
            assert!(!runtime_socket(p), "{p}");
        }
    }
}
