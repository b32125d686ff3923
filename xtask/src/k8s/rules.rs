//! The rules: what makes a Deployment, Service, ConfigMap and CNPG `Cluster`
//! of this course right. Each problem names the rule (the stage check), the
//! file and line, and how to fix it.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, PodSpec, Probe, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::parse::{Doc, Seg, path};
use super::{Object, Problem};

/// The API server's own validation that needs no cluster.
mod api;

/// Every rule, in the order the stage check reports them.
pub const RULES: &[&str] = &[
    "parse",
    "names",
    "selector",
    "image",
    "values",
    "ports",
    "probes",
    "resources",
    "security",
    "config",
    "service",
    "targetPort",
    "database",
    "cluster",
];

pub fn check(docs: &[Doc]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for doc in docs {
        if matches!(
            doc.object,
            Object::Deployment(_)
                | Object::Service(_)
                | Object::ConfigMap(_)
                | Object::Secret
                | Object::CnpgCluster(_)
        ) {
            api::metadata(doc, &mut problems);
        }
        match &doc.object {
            Object::Deployment(d) => {
                api::deployment(doc, d, &mut problems);
                deployment(doc, d, docs, &mut problems);
            }
            Object::Service(s) => {
                api::service(doc, s, &mut problems);
                service(doc, s, docs, &mut problems);
            }
            Object::ConfigMap(c) => api::config_map(doc, c, &mut problems),
            Object::CnpgCluster(c) => cluster(doc, c, &mut problems),
            Object::K3d(k) => k3d(doc, k, &mut problems),
            Object::Skaffold(s) => skaffold(doc, s, &mut problems),
            _ => {}
        }
    }
    problems
}

/// A problem at `at` (a path into the document) of `doc`.
fn problem(
    doc: &Doc,
    rule: &'static str,
    at: &[Seg],
    message: impl Into<String>,
    hint: impl Into<String>,
) -> Problem {
    // Point at the closest part of the path that exists in the file.
    let line = (1..=at.len()).rev().find_map(|n| doc.line(&at[..n]));
    Problem::new(
        rule,
        &doc.file,
        line,
        format!("{}: {}", doc.title(), message.into()),
        hint,
    )
}

fn labels_text(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "(none)".into();
    }
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn template_labels(d: &Deployment) -> BTreeMap<String, String> {
    d.spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

fn pod_spec(d: &Deployment) -> Option<&PodSpec> {
    d.spec.as_ref().and_then(|s| s.template.spec.as_ref())
}

pub(crate) fn containers(d: &Deployment) -> &[Container] {
    pod_spec(d).map(|p| p.containers.as_slice()).unwrap_or(&[])
}

fn deployment(doc: &Doc, d: &Deployment, docs: &[Doc], out: &mut Vec<Problem>) {
    let Some(spec) = &d.spec else {
        out.push(problem(
            doc,
            "parse",
            &path("spec"),
            "no spec",
            "a Deployment needs spec.selector and spec.template",
        ));
        return;
    };

    // selector ↔ template labels
    let selector = spec.selector.match_labels.clone().unwrap_or_default();
    let labels = template_labels(d);
    if selector.is_empty() {
        out.push(problem(
            doc,
            "selector",
            &path("spec.selector.matchLabels"),
            "spec.selector.matchLabels is empty",
            "select the pods by a label, for example app.kubernetes.io/name: health, and put the same label on spec.template.metadata.labels",
        ));
    } else if let Some((k, v)) = selector.iter().find(|(k, v)| labels.get(*k) != Some(*v)) {
        out.push(problem(
            doc,
            "selector",
            &[path("spec.selector.matchLabels"), vec![Seg::Key(k.clone())]].concat(),
            format!(
                "the selector {k}={v} does not match the pod template's labels ({}); the API server rejects such a Deployment",
                labels_text(&labels)
            ),
            "spec.selector.matchLabels must be a subset of spec.template.metadata.labels: use the same key and value in both",
        ));
    }

    let Some(pod) = pod_spec(d) else {
        out.push(problem(
            doc,
            "parse",
            &path("spec.template"),
            "spec.template.spec is missing",
            "describe the pod: spec.template.spec.containers",
        ));
        return;
    };
    let base = "spec.template.spec";
    pod_security(doc, pod, out);
    for (i, c) in pod.containers.iter().enumerate() {
        let at = format!("{base}.containers[{i}]");
        image(doc, c, &at, out);
        probes(doc, c, &at, out);
        resources(doc, c, &at, out);
        container_security(doc, pod, c, &at, out);
        config_refs(doc, c, &at, docs, out);
        database_url(doc, c, &at, docs, out);
    }
}

/// With a CNPG `Cluster` among the manifests, `DATABASE_URL` comes from
/// the secret the operator writes for it (`<cluster>-app`, key `uri`).
fn database_url(doc: &Doc, c: &Container, at: &str, docs: &[Doc], out: &mut Vec<Problem>) {
    use super::cnpg::{URI_KEY, app_secret};
    let clusters: Vec<&str> = docs
        .iter()
        .filter(|d| matches!(d.object, Object::CnpgCluster(_)))
        .map(|d| d.name.as_str())
        .collect();
    let Some(first) = clusters.first() else {
        return;
    };
    let secrets: Vec<String> = clusters.iter().map(|c| app_secret(c)).collect();
    let wanted = format!(
        "env: [{{name: DATABASE_URL, valueFrom: {{secretKeyRef: {{name: {}, key: {URI_KEY}}}}}}}]",
        app_secret(first)
    );
    let env = c.env.as_deref().unwrap_or(&[]);
    let Some((i, e)) = env
        .iter()
        .enumerate()
        .find(|(_, e)| e.name == "DATABASE_URL")
    else {
        out.push(problem(
            doc,
            "database",
            &path(at),
            format!(
                "container {} has no DATABASE_URL, so it cannot reach Cluster {first}",
                c.name
            ),
            format!("add {wanted} (CloudNativePG writes that secret)"),
        ));
        return;
    };
    let here = format!("{at}.env[{i}]");
    match e.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref()) {
        None => out.push(problem(
            doc,
            "database",
            &path(&here),
            format!(
                "container {}: DATABASE_URL is not read from a secret (the password would sit in the manifest)",
                c.name
            ),
            format!("use {wanted}"),
        )),
        Some(r) if !secrets.contains(&r.name) => out.push(problem(
            doc,
            "database",
            &path(&format!("{here}.valueFrom.secretKeyRef.name")),
            format!(
                "container {}: DATABASE_URL reads secret {}, but CloudNativePG writes the credentials of Cluster {first} to {}",
                c.name,
                r.name,
                app_secret(first)
            ),
            format!(
                "name: {} (the cluster's name + {}; the operator makes no other)",
                app_secret(first),
                super::cnpg::APP_SECRET_SUFFIX
            ),
        )),
        Some(r) if r.key != URI_KEY => out.push(problem(
            doc,
            "database",
            &path(&format!("{here}.valueFrom.secretKeyRef.key")),
            format!(
                "container {}: DATABASE_URL reads key {} of {}, which is not the connection string",
                c.name, r.key, r.name
            ),
            format!(
                "key: {URI_KEY} (postgresql://owner:password@{}.NAMESPACE:5432/database); the secret also has user, password, host, dbname",
                super::cnpg::rw_service(first)
            ),
        )),
        Some(_) => {}
    }
}

fn image(doc: &Doc, c: &Container, at: &str, out: &mut Vec<Problem>) {
    let here = path(&format!("{at}.image"));
    let Some(image) = c.image.as_deref().filter(|i| !i.is_empty()) else {
        out.push(problem(
            doc,
            "image",
            &here,
            format!("container {} has no image", c.name),
            "set image: registry.localhost:5005/NAME:TAG",
        ));
        return;
    };
    if image.contains('@') {
        return; // pinned by digest
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':').map(|(_, tag)| tag) {
        Some("latest") => out.push(problem(
            doc,
            "image",
            &here,
            format!(
                "container {}: image {image} uses the latest tag, so which build runs depends on when a node pulled it",
                c.name
            ),
            "pin a tag you built and pushed, for example :0.1.0 (and change it for every new build)",
        )),
        None => out.push(problem(
            doc,
            "image",
            &here,
            format!(
                "container {}: image {image} has no tag, which means latest",
                c.name
            ),
            "pin a tag you built and pushed, for example :0.1.0",
        )),
        Some(_) => {}
    }
}

fn port_matches(c: &[&Container], port: &IntOrString) -> bool {
    let ports = c.iter().flat_map(|c| c.ports.iter().flatten());
    match port {
        IntOrString::Int(n) => ports.clone().any(|p| p.container_port == *n),
        IntOrString::String(name) => ports.clone().any(|p| p.name.as_deref() == Some(name)),
    }
}

fn port_text(port: &IntOrString) -> String {
    match port {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(s) => format!("{s:?}"),
    }
}

fn container_ports_text(c: &[&Container]) -> String {
    let ports: Vec<String> = c
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .map(|p| match &p.name {
            Some(name) => format!("{name}={}", p.container_port),
            None => p.container_port.to_string(),
        })
        .collect();
    if ports.is_empty() {
        "none".into()
    } else {
        ports.join(", ")
    }
}

fn probes(doc: &Doc, c: &Container, at: &str, out: &mut Vec<Problem>) {
    let all: [(&str, Option<&Probe>, &str); 3] = [
        (
            "startupProbe",
            c.startup_probe.as_ref(),
            "holds the other probes back until the program has started",
        ),
        (
            "readinessProbe",
            c.readiness_probe.as_ref(),
            "decides whether the Service sends the pod traffic",
        ),
        (
            "livenessProbe",
            c.liveness_probe.as_ref(),
            "restarts a container that stopped answering",
        ),
    ];
    for (name, probe, purpose) in all {
        let here = path(&format!("{at}.{name}"));
        let Some(probe) = probe else {
            out.push(problem(
                doc,
                "probes",
                &path(at),
                format!("container {} has no {name} (it {purpose})", c.name),
                format!("add {name}: {{httpGet: {{path: /, port: http}}}}"),
            ));
            continue;
        };
        if let Some(get) = &probe.http_get
            && !port_matches(&[c], &get.port)
        {
            out.push(problem(
                doc,
                "probes",
                &path(&format!("{at}.{name}.httpGet.port")),
                format!(
                    "container {}: {name} asks port {}, which is not one of its ports ({})",
                    c.name,
                    port_text(&get.port),
                    container_ports_text(&[c])
                ),
                "use the name or number of a containerPort",
            ));
        }
        if probe.http_get.is_none()
            && probe.tcp_socket.is_none()
            && probe.exec.is_none()
            && probe.grpc.is_none()
        {
            out.push(problem(
                doc,
                "probes",
                &here,
                format!("container {}: {name} has no handler", c.name),
                "give it httpGet (path and port), tcpSocket, exec or grpc",
            ));
        }
    }
}

fn resources(doc: &Doc, c: &Container, at: &str, out: &mut Vec<Problem>) {
    let r = c.resources.as_ref();
    let requests = r.and_then(|r| r.requests.as_ref());
    let limits = r.and_then(|r| r.limits.as_ref());
    let mut missing = Vec::new();
    for key in ["cpu", "memory"] {
        if !requests.is_some_and(|m| m.contains_key(key)) {
            missing.push(format!("requests.{key}"));
        }
    }
    if !limits.is_some_and(|m| m.contains_key("memory")) {
        missing.push("limits.memory".to_string());
    }
    if !missing.is_empty() {
        out.push(problem(
            doc,
            "resources",
            &path(&format!("{at}.resources")),
            format!("container {} sets no {}", c.name, missing.join(", ")),
            "requests tell the scheduler what the pod needs (cpu: 50m, memory: 32Mi); a memory limit stops a leak from starving the node",
        ));
    }
}

/// Pod-level parts of the restricted Pod Security Standard.
fn pod_security(doc: &Doc, pod: &PodSpec, out: &mut Vec<Problem>) {
    let base = "spec.template.spec";
    for (flag, name) in [
        (pod.host_network, "hostNetwork"),
        (pod.host_pid, "hostPID"),
        (pod.host_ipc, "hostIPC"),
    ] {
        if flag == Some(true) {
            out.push(problem(
                doc,
                "security",
                &path(&format!("{base}.{name}")),
                format!("{name}: true shares the node's namespaces"),
                format!("remove {name}"),
            ));
        }
    }
    for (i, v) in pod.volumes.iter().flatten().enumerate() {
        if v.host_path.is_some() {
            out.push(problem(
                doc,
                "security",
                &path(&format!("{base}.volumes[{i}]")),
                format!("volume {} mounts a folder of the node (hostPath)", v.name),
                "use an emptyDir, a ConfigMap or a PersistentVolumeClaim",
            ));
        }
    }
}

/// Container-level parts of the restricted Pod Security Standard; a
/// container's securityContext overrides the pod's.
fn container_security(doc: &Doc, pod: &PodSpec, c: &Container, at: &str, out: &mut Vec<Problem>) {
    let psc = pod.security_context.as_ref();
    let sc = c.security_context.as_ref();
    let sc_path = format!("{at}.securityContext");
    let name = &c.name;
    let mut fail = |at: &str, message: String, hint: &str| {
        out.push(problem(doc, "security", &path(at), message, hint));
    };

    let run_as_user = sc
        .and_then(|s| s.run_as_user)
        .or(psc.and_then(|p| p.run_as_user));
    let non_root = sc
        .and_then(|s| s.run_as_non_root)
        .or(psc.and_then(|p| p.run_as_non_root));
    let user_at = if sc.and_then(|s| s.run_as_user).is_some() {
        format!("{sc_path}.runAsUser")
    } else {
        "spec.template.spec.securityContext.runAsUser".into()
    };
    let non_root_at = if sc.and_then(|s| s.run_as_non_root).is_some() {
        format!("{sc_path}.runAsNonRoot")
    } else {
        "spec.template.spec.securityContext.runAsNonRoot".into()
    };
    if run_as_user == Some(0) {
        fail(
            &user_at,
            format!("container {name} runs as root (runAsUser: 0)"),
            "run as an unprivileged user, for example the image's: runAsUser: 65532 and runAsNonRoot: true",
        );
    }
    if non_root != Some(true) {
        fail(
            &non_root_at,
            format!(
                "container {name} may run as root (runAsNonRoot is {})",
                non_root.map_or("not set".to_string(), |v| v.to_string())
            ),
            "set runAsNonRoot: true in the pod's securityContext (and a runAsUser other than 0, for example 65532)",
        );
    }
    if sc.and_then(|s| s.privileged) == Some(true) {
        fail(
            &format!("{sc_path}.privileged"),
            format!("container {name} is privileged"),
            "remove privileged: true",
        );
    }
    if sc.and_then(|s| s.allow_privilege_escalation) != Some(false) {
        fail(
            &format!("{sc_path}.allowPrivilegeEscalation"),
            format!("container {name} does not set allowPrivilegeEscalation: false"),
            "set allowPrivilegeEscalation: false in the container's securityContext",
        );
    }
    let caps = sc.and_then(|s| s.capabilities.as_ref());
    if !caps
        .and_then(|c| c.drop.as_ref())
        .is_some_and(|d| d.iter().any(|c| c == "ALL"))
    {
        fail(
            &format!("{sc_path}.capabilities"),
            format!("container {name} does not drop all capabilities"),
            "set capabilities: {drop: [ALL]} in the container's securityContext",
        );
    }
    if let Some(added) = caps
        .and_then(|c| c.add.as_ref())
        .filter(|a| a.iter().any(|c| c != "NET_BIND_SERVICE"))
    {
        fail(
            &format!("{sc_path}.capabilities.add"),
            format!("container {name} adds capabilities {}", added.join(", ")),
            "the restricted standard allows adding only NET_BIND_SERVICE",
        );
    }
    let seccomp = sc
        .and_then(|s| s.seccomp_profile.as_ref())
        .or(psc.and_then(|p| p.seccomp_profile.as_ref()))
        .map(|p| p.type_.as_str());
    if !matches!(seccomp, Some("RuntimeDefault" | "Localhost")) {
        fail(
            "spec.template.spec.securityContext",
            format!(
                "container {name} has no seccomp profile RuntimeDefault (seen: {})",
                seccomp.unwrap_or("none")
            ),
            "set seccompProfile: {type: RuntimeDefault} in the pod's securityContext",
        );
    }
    for (i, p) in c.ports.iter().flatten().enumerate() {
        if p.host_port.is_some_and(|h| h != 0) {
            fail(
                &format!("{at}.ports[{i}].hostPort"),
                format!("container {name} opens a port on the node (hostPort)"),
                "remove hostPort; a Service reaches the pod",
            );
        }
    }
}

/// ConfigMaps the container reads must be among the manifests.
fn config_refs(doc: &Doc, c: &Container, at: &str, docs: &[Doc], out: &mut Vec<Problem>) {
    let defined = |name: &str| {
        docs.iter()
            .any(|d| matches!(d.object, Object::ConfigMap(_)) && d.name == name)
    };
    let mut refs: Vec<(String, String)> = Vec::new();
    for (i, from) in c.env_from.iter().flatten().enumerate() {
        if let Some(r) = &from.config_map_ref
            && r.optional != Some(true)
        {
            refs.push((
                r.name.clone(),
                format!("{at}.envFrom[{i}].configMapRef.name"),
            ));
        }
    }
    for (i, e) in c.env.iter().flatten().enumerate() {
        if let Some(r) = e
            .value_from
            .as_ref()
            .and_then(|v| v.config_map_key_ref.as_ref())
            && r.optional != Some(true)
        {
            refs.push((
                r.name.clone(),
                format!("{at}.env[{i}].valueFrom.configMapKeyRef.name"),
            ));
        }
    }
    for (name, at) in refs {
        if !defined(&name) {
            out.push(problem(
                doc,
                "config",
                &path(&at),
                format!(
                    "container {} reads ConfigMap {name}, which none of these files define",
                    c.name
                ),
                "use the metadata.name of your ConfigMap, or add the ConfigMap",
            ));
        }
    }
}

fn service(doc: &Doc, s: &Service, docs: &[Doc], out: &mut Vec<Problem>) {
    let Some(spec) = &s.spec else {
        out.push(problem(
            doc,
            "service",
            &path("spec"),
            "no spec",
            "a Service needs spec.selector and spec.ports",
        ));
        return;
    };
    if spec.type_.as_deref() == Some("ExternalName") {
        return;
    }
    // pkg/apis/core/validation/validation.go ValidateService: spec.ports is
    // required unless the Service is headless (clusterIP: None).
    if spec.ports.as_ref().is_none_or(|p| p.is_empty())
        && spec.cluster_ip.as_deref() != Some("None")
    {
        out.push(problem(
            doc,
            "targetPort",
            &path("spec.ports"),
            "spec.ports is empty, so the Service forwards no port to the pods (the API server refuses it: spec.ports: Required value)",
            "add a port: ports: [{name: http, port: 8000, targetPort: http}] (targetPort names the container's port)",
        ));
    }
    let selector = spec.selector.clone().unwrap_or_default();
    if selector.is_empty() {
        out.push(problem(
            doc,
            "service",
            &path("spec.selector"),
            "spec.selector is empty, so the Service selects no pods",
            "use the labels of the Deployment's pod template, for example app.kubernetes.io/name: health",
        ));
        return;
    }
    let deployments: Vec<&Deployment> = docs
        .iter()
        .filter_map(|d| match &d.object {
            Object::Deployment(dep) => Some(dep.as_ref()),
            _ => None,
        })
        .collect();
    let selected: Vec<&Deployment> = deployments
        .iter()
        .copied()
        .filter(|d| {
            let labels = template_labels(d);
            selector.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
        .collect();
    if selected.is_empty() {
        let seen: Vec<String> = deployments
            .iter()
            .map(|d| {
                format!(
                    "{} has {}",
                    d.metadata.name.as_deref().unwrap_or("?"),
                    labels_text(&template_labels(d))
                )
            })
            .collect();
        out.push(problem(
            doc,
            "service",
            &path("spec.selector"),
            format!(
                "the selector {} matches the pods of no Deployment in these files ({})",
                labels_text(&selector),
                if seen.is_empty() { "there is none".to_string() } else { seen.join("; ") }
            ),
            "copy the labels of spec.template.metadata.labels of the Deployment into the Service's spec.selector",
        ));
        return;
    }
    let all: Vec<&Container> = selected.iter().flat_map(|d| containers(d)).collect();
    for (i, port) in spec.ports.iter().flatten().enumerate() {
        let target = port
            .target_port
            .clone()
            .unwrap_or(IntOrString::Int(port.port));
        if !port_matches(&all, &target) {
            let at = if port.target_port.is_some() {
                format!("spec.ports[{i}].targetPort")
            } else {
                format!("spec.ports[{i}].port")
            };
            out.push(problem(
                doc,
                "targetPort",
                &path(&at),
                format!(
                    "port {}{} sends traffic to targetPort {}, but the selected pods have no such container port (they have {})",
                    port.port,
                    port.name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default(),
                    port_text(&target),
                    container_ports_text(&all)
                ),
                "targetPort is the container's port: its containerPort number or its name (for example http)",
            ));
        }
    }
}

fn cluster(doc: &Doc, c: &super::cnpg::Cluster, out: &mut Vec<Problem>) {
    let spec = c.spec.as_ref();
    let mut fail = |at: &str, message: String, hint: &str| {
        out.push(problem(doc, "database", &path(at), message, hint));
    };
    if let Some(n) = spec.and_then(|s| s.instances).filter(|n| *n < 1) {
        fail(
            "spec.instances",
            format!("spec.instances is {n}: no PostgreSQL would run"),
            "set instances: 3 (one primary, two replicas)",
        );
    } else if spec.and_then(|s| s.instances).is_none() {
        fail(
            "spec.instances",
            "spec.instances is not set".into(),
            "set instances: 3 (one primary, two replicas)",
        );
    }
    match spec
        .and_then(|s| s.storage.as_ref())
        .and_then(|s| s.size.as_ref())
    {
        None => fail(
            "spec.storage",
            "spec.storage.size is not set".into(),
            "set storage: {size: 1Gi}",
        ),
        Some(size) => {
            if let Err(e) = super::validation::quantity(size) {
                fail(
                    "spec.storage.size",
                    format!("spec.storage.size {size:?} is not a quantity: {e}"),
                    "a number and a suffix such as Mi or Gi: size: 1Gi",
                );
            }
        }
    }
    let initdb = spec
        .and_then(|s| s.bootstrap.as_ref())
        .and_then(|b| b.initdb.as_ref());
    match initdb {
        None => fail(
            "spec.bootstrap",
            "spec.bootstrap.initdb is not set".into(),
            "set bootstrap: {initdb: {database: NAME, owner: NAME}}, the database your service uses and the role it connects as (stage 05: books)",
        ),
        Some(i) if i.database.is_none() || i.owner.is_none() => fail(
            "spec.bootstrap.initdb",
            "spec.bootstrap.initdb needs database and owner".into(),
            "set both, the database your service uses and the role it connects as (stage 05: books, books); CNPG then writes the secret <cluster>-app with key uri",
        ),
        Some(_) => {}
    }
    // api/v1/cluster_types.go keeps them, marked deprecated;
    // docs/src/replication.md: use .spec.postgresql.synchronous.
    for (field, set) in [
        ("minSyncReplicas", spec.and_then(|s| s.min_sync_replicas)),
        ("maxSyncReplicas", spec.and_then(|s| s.max_sync_replicas)),
    ] {
        if set.is_some() {
            fail(
                &format!("spec.{field}"),
                format!("spec.{field} is deprecated"),
                "configure synchronous replication with postgresql: {synchronous: {method: any, number: 1}}",
            );
        }
    }
}

fn k3d(doc: &Doc, k: &super::files::K3d, out: &mut Vec<Problem>) {
    let mut fail = |at: &str, message: String, hint: &str| {
        out.push(problem(doc, "cluster", &path(at), message, hint));
    };
    match k.image.as_deref() {
        Some(image) if image.starts_with("rancher/k3s:v") && !image.ends_with(":latest") => {}
        other => fail(
            "image",
            format!(
                "the k3s image is not pinned ({})",
                other.unwrap_or("not set")
            ),
            "pin it, for example image: rancher/k3s:v1.36.5-k3s1",
        ),
    }
    // The k3s minor and the registry's wiring, as k3d does it: k8s/files.rs.
    let findings = super::files::k3s_image(k)
        .into_iter()
        .chain(super::files::k3d_registry(k));
    for (at, message, hint) in findings {
        fail(&at, message, &hint);
    }
    if !k
        .ports
        .iter()
        .any(|p| p.node_filters.iter().any(|f| f == "loadbalancer"))
    {
        fail(
            "ports",
            "no host port on the load balancer".into(),
            "ports: [{port: 8080:80, nodeFilters: [loadbalancer]}]",
        );
    }
}

fn skaffold(doc: &Doc, s: &super::files::Skaffold, out: &mut Vec<Problem>) {
    let root = crate::paths::root();
    let mut fail = |at: &str, message: String, hint: &str| {
        out.push(problem(doc, "cluster", &path(at), message, hint));
    };
    let artifacts = s
        .build
        .as_ref()
        .map(|b| b.artifacts.as_slice())
        .unwrap_or(&[]);
    if artifacts.is_empty() {
        fail(
            "build",
            "no build artifact".into(),
            "build IBDb's image: build.artifacts",
        );
    }
    for (i, a) in artifacts.iter().enumerate() {
        let context = root.join(a.context.as_deref().unwrap_or("."));
        let dockerfile = a
            .docker
            .as_ref()
            .and_then(|d| d.dockerfile.as_deref())
            .unwrap_or("Dockerfile");
        if !context.is_dir() {
            fail(
                &format!("build.artifacts[{i}].context"),
                format!("the build context {} does not exist", context.display()),
                "a folder of the repository, relative to skaffold.yaml",
            );
        } else if !context.join(dockerfile).is_file() {
            fail(
                &format!("build.artifacts[{i}].docker"),
                format!("{dockerfile} is not in {}", crate::paths::show(&context)),
                "the stage folder's Dockerfile",
            );
        }
    }
    let releases = s
        .deploy
        .as_ref()
        .and_then(|d| d.helm.as_ref())
        .map(|h| h.releases.as_slice())
        .unwrap_or(&[]);
    for (i, r) in releases.iter().enumerate() {
        let chart = r.chart_path.as_deref().unwrap_or("");
        if !root.join(chart).join("Chart.yaml").is_file() {
            fail(
                &format!("deploy.helm.releases[{i}].chartPath"),
                format!("{chart:?} is not a chart (no Chart.yaml)"),
                "chartPath: helm/ibdb",
            );
        }
        for a in artifacts {
            let key = super::skaffold::template_suffix(&a.image);
            if !r
                .set_value_templates
                .values()
                .any(|v| v.contains(&format!("IMAGE_TAG_{key}")))
            {
                fail(
                    &format!("deploy.helm.releases[{i}].setValueTemplates"),
                    format!(
                        "the release does not get the image skaffold built ({})",
                        a.image
                    ),
                    "set image.repository and image.tag from {.IMAGE_REPO_<image>} and {.IMAGE_TAG_<image>} in double braces (the image name with . - / : as _)",
                );
            }
        }
    }
    // Profiles and the status check, as skaffold applies them: k8s/files.rs.
    for (at, message, hint) in super::files::skaffold_profiles(s) {
        fail(&at, message, &hint);
    }
    for (i, p) in s.profiles.iter().enumerate() {
        for (j, pattern) in p
            .manifests
            .iter()
            .flat_map(|m| m.raw_yaml.iter())
            .enumerate()
        {
            let (dir, _) = pattern.rsplit_once('/').unwrap_or((".", pattern));
            let found = crate::k8s::yaml_files(&root.join(dir)).unwrap_or_default();
            if found.is_empty() {
                fail(
                    &format!("profiles[{i}].manifests.rawYaml[{j}]"),
                    format!("{pattern} matches no file"),
                    "rawYaml: [k8s/*.yaml]",
                );
            }
        }
    }
}
