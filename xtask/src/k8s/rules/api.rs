//! What the API server itself refuses, checked without a cluster. Each rule
//! follows kubernetes/kubernetes `pkg/apis/core/validation/validation.go`
//! (ValidateObjectMeta's names and labels, validateContainerPorts,
//! validatePullPolicy, validateProbe and the liveness/startup
//! `successThreshold`, ValidateResourceRequirements, ValidateService,
//! validateServicePort) with the syntax of `k8s::validation`. The few rules
//! of the kit's own say so in their message.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Probe, Service};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::problem;
use crate::k8s::parse::{Doc, Seg, path};
use crate::k8s::{Problem, validation};

const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
const PROTOCOLS: &[&str] = &["TCP", "UDP", "SCTP"];
const SERVICE_TYPES: &[&str] = &["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];
const SCHEMES: &[&str] = &["HTTP", "HTTPS"];

fn at(text: &str, key: &str) -> Vec<Seg> {
    let mut p = path(text);
    p.push(Seg::Key(key.to_string()));
    p
}

fn quoted_list(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// metadata.name (by kind), metadata.namespace, label and annotation keys,
/// label values.
pub fn metadata(doc: &Doc, out: &mut Vec<Problem>) {
    let meta = doc.json.get("metadata");
    match meta.and_then(|m| m.get("name")).and_then(|n| n.as_str()) {
        None | Some("") => out.push(problem(
            doc,
            "names",
            &path("metadata.name"),
            "metadata.name is not set (the API server refuses it: metadata.name: Required value)",
            "name the object: metadata: {name: health}",
        )),
        Some(name) => {
            let (errs, what, hint) = if doc.kind == "Service" {
                (
                    validation::dns1035_label(name),
                    "a DNS-1035 label",
                    "a Service name becomes a DNS name: lower-case letters, digits and '-', starting with a letter, at most 63 characters (for example health)",
                )
            } else {
                (
                    validation::dns1123_subdomain(name),
                    "a DNS-1123 subdomain",
                    "lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters (for example health-config)",
                )
            };
            if !errs.is_empty() {
                out.push(problem(
                    doc,
                    "names",
                    &path("metadata.name"),
                    format!("metadata.name {name:?} is not {what}: {}", errs.join("; ")),
                    hint,
                ));
            }
        }
    }
    if let Some(ns) = meta
        .and_then(|m| m.get("namespace"))
        .and_then(|n| n.as_str())
    {
        let errs = validation::dns1123_label(ns);
        if !errs.is_empty() {
            out.push(problem(
                doc,
                "names",
                &path("metadata.namespace"),
                format!(
                    "metadata.namespace {ns:?} is not a DNS-1123 label: {}",
                    errs.join("; ")
                ),
                "lower-case letters, digits and '-', at most 63 characters",
            ));
        }
    }
    labels_at(doc, "metadata.labels", out);
    if let Some(annotations) = meta
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.as_object())
    {
        for key in annotations.keys() {
            key_problem(doc, "metadata.annotations", key, "annotation", out);
        }
    }
}

/// The label map at `base` (a JSON object of strings): keys and values.
fn labels_at(doc: &Doc, base: &str, out: &mut Vec<Problem>) {
    let mut here = &doc.json;
    for seg in path(base) {
        let Seg::Key(key) = seg else { return };
        match here.get(&key) {
            Some(next) => here = next,
            None => return,
        }
    }
    let Some(labels) = here.as_object() else {
        return;
    };
    for (key, value) in labels {
        key_problem(doc, base, key, "label", out);
        // Non-strings are parse problems already.
        if let Some(value) = value.as_str() {
            let errs = validation::label_value(value);
            if !errs.is_empty() {
                out.push(problem(
                    doc,
                    "names",
                    &at(base, key),
                    format!(
                        "{base}: the value {value:?} of label {key} is not a valid label value: {}",
                        errs.join("; ")
                    ),
                    "a label value is empty or at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit (for example health or 0.1.0)",
                ));
            }
        }
    }
}

fn key_problem(doc: &Doc, base: &str, key: &str, what: &str, out: &mut Vec<Problem>) {
    let errs = validation::label_key(key);
    if !errs.is_empty() {
        out.push(problem(
            doc,
            "names",
            &at(base, key),
            format!(
                "{base}: {key:?} is not a valid {what} key: {}",
                errs.join("; ")
            ),
            "a key is NAME or PREFIX/NAME: NAME at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit; PREFIX a lower-case DNS name (for example app.kubernetes.io/name)",
        ));
    }
}

pub fn deployment(doc: &Doc, d: &Deployment, out: &mut Vec<Problem>) {
    labels_at(doc, "spec.selector.matchLabels", out);
    labels_at(doc, "spec.template.metadata.labels", out);
    let Some(pod) = d.spec.as_ref().and_then(|s| s.template.spec.as_ref()) else {
        return;
    };
    for (i, c) in pod.containers.iter().enumerate() {
        let base = format!("spec.template.spec.containers[{i}]");
        container(doc, c, &base, out);
    }
}

fn container(doc: &Doc, c: &Container, base: &str, out: &mut Vec<Problem>) {
    let errs = validation::dns1123_label(&c.name);
    if !errs.is_empty() {
        out.push(problem(
            doc,
            "names",
            &path(&format!("{base}.name")),
            format!(
                "container name {:?} is not a DNS-1123 label: {}",
                c.name,
                errs.join("; ")
            ),
            "lower-case letters, digits and '-', at most 63 characters (for example health)",
        ));
    }
    if let Some(policy) = &c.image_pull_policy
        && !PULL_POLICIES.contains(&policy.as_str())
    {
        out.push(problem(
            doc,
            "values",
            &path(&format!("{base}.imagePullPolicy")),
            format!(
                "container {}: imagePullPolicy {policy:?} is not supported (supported values: {})",
                c.name,
                quoted_list(PULL_POLICIES)
            ),
            "the values are case-sensitive: IfNotPresent pulls an image once per node",
        ));
    }
    container_ports(doc, c, base, out);
    for (name, probe) in [
        ("startupProbe", &c.startup_probe),
        ("readinessProbe", &c.readiness_probe),
        ("livenessProbe", &c.liveness_probe),
    ] {
        if let Some(probe) = probe {
            probe_rules(doc, c, probe, &format!("{base}.{name}"), name, out);
        }
    }
    resources(doc, c, base, out);
}

fn container_ports(doc: &Doc, c: &Container, base: &str, out: &mut Vec<Problem>) {
    let ports = c.ports.as_deref().unwrap_or(&[]);
    let mut names = BTreeSet::new();
    for (j, p) in ports.iter().enumerate() {
        let here = format!("{base}.ports[{j}]");
        let errs = validation::port_number(p.container_port);
        if !errs.is_empty() {
            out.push(problem(
                doc,
                "ports",
                &path(&format!("{here}.containerPort")),
                format!(
                    "container {}: containerPort {} {}",
                    c.name,
                    p.container_port,
                    errs.join("; ")
                ),
                "the port the program listens on, 1 to 65535 (health listens on 8000)",
            ));
        }
        if let Some(host) = p.host_port.filter(|&h| h != 0) {
            let errs = validation::port_number(host);
            if !errs.is_empty() {
                out.push(problem(
                    doc,
                    "ports",
                    &path(&format!("{here}.hostPort")),
                    format!("container {}: hostPort {host} {}", c.name, errs.join("; ")),
                    "remove hostPort; a Service reaches the pod",
                ));
            }
        }
        match p.name.as_deref() {
            Some(name) if !name.is_empty() => {
                let errs = validation::port_name(name);
                if !errs.is_empty() {
                    out.push(problem(
                        doc,
                        "ports",
                        &path(&format!("{here}.name")),
                        format!(
                            "container {}: port name {name:?} is not an IANA service name: {}",
                            c.name,
                            errs.join("; ")
                        ),
                        "at most 15 lower-case letters, digits and '-', with at least one letter (for example http)",
                    ));
                } else if !names.insert(name.to_string()) {
                    out.push(problem(
                        doc,
                        "ports",
                        &path(&format!("{here}.name")),
                        format!(
                            "container {}: port name {name:?} is used twice (Duplicate value)",
                            c.name
                        ),
                        "give each port its own name",
                    ));
                }
            }
            _ if ports.len() > 1 => out.push(problem(
                doc,
                "ports",
                &path(&here),
                format!(
                    "container {}: port {} has no name, and the container has {} ports (a rule of this kit: probes and Services should name the port they mean)",
                    c.name,
                    p.container_port,
                    ports.len()
                ),
                "name every port when there are several: {name: http, containerPort: 8000}",
            )),
            _ => {}
        }
        protocol(
            doc,
            p.protocol.as_deref(),
            &format!("{here}.protocol"),
            &c.name,
            out,
        );
    }
}

fn protocol(doc: &Doc, protocol: Option<&str>, at: &str, owner: &str, out: &mut Vec<Problem>) {
    if let Some(protocol) = protocol
        && !PROTOCOLS.contains(&protocol)
    {
        out.push(problem(
            doc,
            "values",
            &path(at),
            format!(
                "{owner}: protocol {protocol:?} is not supported (supported values: {})",
                quoted_list(PROTOCOLS)
            ),
            "leave protocol out for TCP, the default; the values are upper-case",
        ));
    }
}

/// A port given by number (1-65535) or by IANA name (ValidatePortNumOrName).
fn port_ref(port: &IntOrString) -> Vec<String> {
    match port {
        IntOrString::Int(n) => validation::port_number(*n),
        IntOrString::String(name) => validation::port_name(name),
    }
}

fn probe_rules(
    doc: &Doc,
    c: &Container,
    probe: &Probe,
    base: &str,
    name: &str,
    out: &mut Vec<Problem>,
) {
    let ports = [
        probe.http_get.as_ref().map(|h| (&h.port, "httpGet")),
        probe.tcp_socket.as_ref().map(|t| (&t.port, "tcpSocket")),
    ];
    for (port, handler) in ports.into_iter().flatten() {
        let errs = port_ref(port);
        if !errs.is_empty() {
            out.push(problem(
                doc,
                "ports",
                &path(&format!("{base}.{handler}.port")),
                format!(
                    "container {}: {name}.{handler}.port {} {}",
                    c.name,
                    match port {
                        IntOrString::Int(n) => n.to_string(),
                        IntOrString::String(s) => format!("{s:?}"),
                    },
                    errs.join("; ")
                ),
                "a containerPort number (1 to 65535) or a port's name (for example http)",
            ));
        }
    }
    // validateHandler: exactly one of exec, httpGet, tcpSocket, grpc.
    let handlers: Vec<&str> = [
        ("exec", probe.exec.is_some()),
        ("httpGet", probe.http_get.is_some()),
        ("tcpSocket", probe.tcp_socket.is_some()),
        ("grpc", probe.grpc.is_some()),
    ]
    .into_iter()
    .filter_map(|(handler, set)| set.then_some(handler))
    .collect();
    if let [_, second, ..] = handlers.as_slice() {
        out.push(problem(
            doc,
            "probes",
            &path(&format!("{base}.{second}")),
            format!(
                "container {}: {name} has {} (the API server refuses it: may not specify more than 1 handler type)",
                c.name,
                handlers.join(" and ")
            ),
            "keep one way to probe: httpGet: {path: /, port: http}",
        ));
    }
    if let Some(grpc) = &probe.grpc {
        let errs = validation::port_number(grpc.port);
        if !errs.is_empty() {
            out.push(problem(
                doc,
                "ports",
                &path(&format!("{base}.grpc.port")),
                format!(
                    "container {}: {name}.grpc.port {} {}",
                    c.name,
                    grpc.port,
                    errs.join("; ")
                ),
                "the container port of the gRPC health service, 1 to 65535",
            ));
        }
    }
    if let Some(scheme) = probe.http_get.as_ref().and_then(|h| h.scheme.as_deref())
        && !SCHEMES.contains(&scheme)
    {
        out.push(problem(
            doc,
            "values",
            &path(&format!("{base}.httpGet.scheme")),
            format!(
                "container {}: {name}.httpGet.scheme {scheme:?} is not supported (supported values: {})",
                c.name,
                quoted_list(SCHEMES)
            ),
            "leave scheme out for HTTP, the default",
        ));
    }
    // 0 is defaulted to 1 before validation.
    if name != "readinessProbe"
        && let Some(n) = probe.success_threshold.filter(|&n| n != 0 && n != 1)
    {
        out.push(problem(
            doc,
            "probes",
            &path(&format!("{base}.successThreshold")),
            format!(
                "container {}: {name}.successThreshold is {n}, but must be 1 (the API server refuses anything else for liveness and startup probes)",
                c.name
            ),
            "remove successThreshold (it defaults to 1); only a readinessProbe may ask for several successes",
        ));
    }
}

fn resources(doc: &Doc, c: &Container, base: &str, out: &mut Vec<Problem>) {
    let Some(r) = &c.resources else { return };
    let mut parsed: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    for (kind, map) in [("requests", &r.requests), ("limits", &r.limits)] {
        for (resource, Quantity(text)) in map.iter().flatten() {
            let here = format!("{base}.resources.{kind}");
            let at = at(&here, resource);
            match validation::quantity(text) {
                Err(e) => out.push(problem(
                    doc,
                    "resources",
                    &at,
                    format!(
                        "container {}: resources.{kind}.{resource} {text:?} is not a quantity: {e}",
                        c.name
                    ),
                    "a number and one suffix: Ki, Mi, Gi (powers of 1024) or m, k, M, G (powers of 1000), for example memory: 64Mi, cpu: 50m",
                )),
                Ok(v) if v < 0.0 => out.push(problem(
                    doc,
                    "resources",
                    &at,
                    format!(
                        "container {}: resources.{kind}.{resource} {text} must be greater than or equal to 0",
                        c.name
                    ),
                    "use a positive amount, for example memory: 64Mi",
                )),
                Ok(v) => {
                    parsed.insert((kind, resource.as_str()), v);
                    // Accepted by the API server, but 64m of memory is 0.064 bytes.
                    if resource == "memory" && text.ends_with('m') {
                        out.push(problem(
                            doc,
                            "resources",
                            &at,
                            format!(
                                "container {}: resources.{kind}.memory {text} means {text} thousandths of a byte (m is milli; a rule of this kit, the API server accepts it)",
                                c.name
                            ),
                            "write mebibytes as Mi: memory: 64Mi",
                        ));
                    }
                }
            }
        }
    }
    for ((kind, resource), request) in &parsed {
        if *kind != "requests" {
            continue;
        }
        if let Some(limit) = parsed.get(&("limits", resource))
            && request > limit
        {
            let text = |map: &Option<BTreeMap<String, Quantity>>| {
                map.as_ref()
                    .and_then(|m| m.get(*resource))
                    .map(|q| q.0.clone())
                    .unwrap_or_default()
            };
            out.push(problem(
                doc,
                "resources",
                &at(&format!("{base}.resources.requests"), resource),
                format!(
                    "container {}: resources.requests.{resource} {} must be less than or equal to {resource} limit of {}",
                    c.name,
                    text(&r.requests),
                    text(&r.limits)
                ),
                "a container may use more than it requests, never more than its limit: lower the request or raise the limit",
            ));
        }
    }
}

pub fn service(doc: &Doc, s: &Service, out: &mut Vec<Problem>) {
    labels_at(doc, "spec.selector", out);
    let Some(spec) = &s.spec else { return };
    if let Some(kind) = &spec.type_
        && !SERVICE_TYPES.contains(&kind.as_str())
    {
        out.push(problem(
            doc,
            "values",
            &path("spec.type"),
            format!(
                "spec.type {kind:?} is not supported (supported values: {})",
                quoted_list(SERVICE_TYPES)
            ),
            "the values are case-sensitive; ClusterIP (the default) is reached from inside the cluster or with kubectl port-forward",
        ));
    }
    let ports = spec.ports.as_deref().unwrap_or(&[]);
    let mut names = BTreeSet::new();
    for (j, p) in ports.iter().enumerate() {
        let here = format!("spec.ports[{j}]");
        let owner = format!("port {}", p.port);
        match p.name.as_deref().filter(|n| !n.is_empty()) {
            None if ports.len() > 1 => out.push(problem(
                doc,
                "ports",
                &path(&here),
                format!(
                    "spec.ports[{j}] ({owner}) has no name, and the Service has {} ports (the API server refuses it: spec.ports[{j}].name: Required value)",
                    ports.len()
                ),
                "name every port of a Service with several: {name: http, port: 8000, targetPort: http}",
            )),
            None => {}
            Some(name) => {
                let errs = validation::dns1123_label(name);
                if !errs.is_empty() {
                    out.push(problem(
                        doc,
                        "ports",
                        &path(&format!("{here}.name")),
                        format!(
                            "spec.ports[{j}].name {name:?} is not a DNS-1123 label: {}",
                            errs.join("; ")
                        ),
                        "lower-case letters, digits and '-' (for example http)",
                    ));
                } else if !names.insert(name) {
                    out.push(problem(
                        doc,
                        "ports",
                        &path(&format!("{here}.name")),
                        format!("spec.ports[{j}].name {name:?} is used twice (Duplicate value)"),
                        "give each port its own name",
                    ));
                }
            }
        }
        let errs = validation::port_number(p.port);
        if !errs.is_empty() {
            out.push(problem(
                doc,
                "ports",
                &path(&format!("{here}.port")),
                format!("spec.ports[{j}].port {} {}", p.port, errs.join("; ")),
                "the port clients of the Service use, 1 to 65535 (for example 8000)",
            ));
        }
        if let Some(target) = &p.target_port {
            let errs = port_ref(target);
            if !errs.is_empty() {
                out.push(problem(
                    doc,
                    "ports",
                    &path(&format!("{here}.targetPort")),
                    format!(
                        "spec.ports[{j}].targetPort {} {}",
                        match target {
                            IntOrString::Int(n) => n.to_string(),
                            IntOrString::String(s) => format!("{s:?}"),
                        },
                        errs.join("; ")
                    ),
                    "a containerPort number (1 to 65535) or the name of a container port (for example http)",
                ));
            }
        }
        if let Some(node_port) = p.node_port.filter(|&n| n != 0) {
            let errs = validation::port_number(node_port);
            if !errs.is_empty() {
                out.push(problem(
                    doc,
                    "ports",
                    &path(&format!("{here}.nodePort")),
                    format!("spec.ports[{j}].nodePort {node_port} {}", errs.join("; ")),
                    "leave nodePort out: the cluster picks one",
                ));
            }
        }
        protocol(
            doc,
            p.protocol.as_deref(),
            &format!("{here}.protocol"),
            &owner,
            out,
        );
    }
}

pub fn config_map(doc: &Doc, c: &ConfigMap, out: &mut Vec<Problem>) {
    let keys = c
        .data
        .iter()
        .flat_map(|d| d.keys())
        .map(|k| ("data", k))
        .chain(
            c.binary_data
                .iter()
                .flat_map(|d| d.keys())
                .map(|k| ("binaryData", k)),
        );
    for (field, key) in keys {
        let errs = validation::config_map_key(key);
        if !errs.is_empty() {
            out.push(problem(
                doc,
                "names",
                &at(field, key),
                format!("{field}: the key {key:?} is not a valid ConfigMap key: {}", errs.join("; ")),
                "letters, digits, '-', '_' and '.' (environment variable names such as RUST_LOG fit)",
            ));
        }
    }
}
