//! Stage 05's cluster side, as a step of its check: the trainee's
//! CloudNativePG `Cluster` (`k8s/database.yaml`) and the service's
//! Deployment and Service, checked statically (the operator's CRD schema,
//! the API server's rules, the restricted Pod Security Standard, the secret
//! the operator writes), then live when a cluster is reachable. Every check
//! is named `k8s …` and none stops the stage: the Rust part runs either way.

use std::path::PathBuf;

use super::{Doc, Object, Problem, rules};
use crate::check::{Checker, Stop};
use crate::report::Failure;
use crate::tools::Tool;

/// The files, in the stage folder's `k8s/`, and the kind each must hold.
pub const FILES: &[(&str, &str)] = &[
    ("database.yaml", "Cluster"),
    ("deployment.yaml", "Deployment"),
    ("service.yaml", "Service"),
];

/// The rules reported, in order (the general ones of `rules::RULES`
/// without k3d's and Skaffold's `cluster`).
fn reported() -> impl Iterator<Item = &'static str> {
    rules::RULES.iter().copied().filter(|r| *r != "cluster")
}

/// The check names this step reports: `k8s parse`, `k8s database`, ...
pub fn name(rule: &str) -> String {
    format!("k8s {rule}")
}

pub fn check(ck: &mut Checker) -> Result<(), Stop> {
    let dir = ck.dir.join("k8s");
    let files: Vec<PathBuf> = FILES.iter().map(|(f, _)| dir.join(f)).collect();
    let missing: Vec<String> = FILES
        .iter()
        .zip(&files)
        .filter(|(_, p)| !p.is_file())
        .map(|((f, _), _)| format!("k8s/{f}"))
        .collect();
    if !missing.is_empty() {
        ck.fail(
            "k8s files",
            format!("missing: {}", missing.join(", ")),
            Failure::new(
                "k8s/database.yaml (a CloudNativePG Cluster), k8s/deployment.yaml and k8s/service.yaml",
                format!("missing: {}", missing.join(", ")),
            )
            .hint("create them in the stage folder's k8s/ folder (TODO 6 and TODO 7; the chapter shows how)"),
        );
        return Ok(());
    }
    ck.pass(
        "k8s files",
        "k8s/database.yaml, deployment.yaml, service.yaml",
    );
    let (docs, problems) = super::check_files(&files);
    let mut all_passed = report(ck, "parse", &problems);
    if let Err(failure) = kinds(&docs) {
        ck.fail("k8s kinds", crate::report::headline(&failure.seen), failure);
        return Ok(());
    }
    for rule in reported().skip(1) {
        all_passed &= report(ck, rule, &problems);
    }
    if !all_passed {
        ck.skip(
            "k8s live",
            "the static checks of k8s/ failed, so nothing was applied",
            "fix the problems above first",
        );
        return Ok(());
    }
    live(ck, &docs);
    Ok(())
}

fn kinds(docs: &[Doc]) -> Result<(), Failure> {
    for (file, kind) in FILES {
        let found = docs.iter().any(|d| {
            d.file.ends_with(&format!("k8s/{file}"))
                && d.kind == *kind
                && !matches!(d.object, Object::Other)
        });
        if !found {
            let start = match *kind {
                "Cluster" => super::cnpg::API_VERSION,
                "Deployment" => "apps/v1",
                _ => "v1",
            };
            return Err(Failure::new(
                format!("a {kind} in k8s/{file}"),
                format!("no {kind} could be read from k8s/{file}"),
            )
            .hint(format!(
                "start the document with apiVersion: {start} and kind: {kind}; the parse problems above say why it could not be read"
            )));
        }
    }
    Ok(())
}

/// Passes or fails `k8s RULE` with every problem of `rule`.
fn report(ck: &mut Checker, rule: &str, problems: &[Problem]) -> bool {
    super::report(
        ck,
        &name(rule),
        problems,
        rule,
        expected(rule),
        passed(rule),
    )
}

fn expected(rule: &str) -> String {
    match rule {
        "parse" => format!(
            "every field known to Kubernetes {} and to the CloudNativePG {} Cluster schema, every value of the right type",
            super::parse::kubernetes_version(),
            super::cnpg::OPERATOR
        ),
        "database" => "a Cluster with instances, storage.size and bootstrap.initdb (database, owner), and DATABASE_URL from its secret <cluster>-app, key uri".into(),
        "security" => "the restricted Pod Security Standard".into(),
        "image" => "an image with a pinned tag (not latest)".into(),
        "selector" => "spec.selector.matchLabels equal to labels of the pod template".into(),
        "service" => "a Service whose selector matches the pods".into(),
        "targetPort" => "ports whose targetPort names a container port".into(),
        "probes" => "startupProbe, readinessProbe and livenessProbe on a container port".into(),
        "resources" => "requests and a memory limit, valid quantities".into(),
        other => format!("no {other} problems"),
    }
}

fn passed(rule: &str) -> String {
    match rule {
        "parse" => "every document fits its schema (Kubernetes types, the CloudNativePG Cluster CRD); no unknown fields".into(),
        "database" => "the Cluster is complete; DATABASE_URL comes from its secret <cluster>-app, key uri".into(),
        "security" => "restricted Pod Security Standard".into(),
        other => format!("no {other} problems"),
    }
}

/// The live part: only with kubectl and a reachable cluster.
fn live(ck: &mut Checker, docs: &[Doc]) {
    let check = name("live");
    if !ck.has_tool(Tool::Kubectl, &check) {
        return;
    }
    if let Err(why) = crate::cluster::reachable() {
        if std::env::var("LAB_REQUIRE_CLUSTER").is_ok_and(|v| v == "1" || v == "true") {
            ck.fail(
                &check,
                "no cluster is reachable",
                Failure::new("a reachable cluster (LAB_REQUIRE_CLUSTER=1)", why)
                    .hint("cargo xtask up (the cluster and the CloudNativePG operator)"),
            );
        } else {
            ck.skip(
                &check,
                format!("no cluster is reachable ({why})"),
                "cargo xtask up (the cluster and the CloudNativePG operator), then check again",
            );
        }
        return;
    }
    let cluster = docs
        .iter()
        .find(|d| matches!(d.object, Object::CnpgCluster(_)))
        .map(|d| d.name.clone())
        .unwrap_or_default();
    match crate::check::live::database_on_cluster(&ck.dir, &cluster) {
        Ok(message) => ck.pass(&check, message),
        Err(failure) => ck.fail(&check, crate::report::headline(&failure.seen), failure),
    }
}
