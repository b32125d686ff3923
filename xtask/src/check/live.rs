//! The step on a live cluster (stage 04's live part): the stage's image
//! and manifests deployed with the cluster commands' runner, and the
//! service asked through a port-forward.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::cluster::{Runner, push_name, waits};
use crate::proc::{Cleanup, register};
use crate::report::Failure;
use crate::tools::Tool;

fn plain(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// The stage folder on the cluster: build and push its image, apply its
/// `k8s/`, 3 ready replicas, a port-forward to the Service, `GET /`.
/// The start both live checks share: the stage's image built and pushed to
/// the cluster's registry (the nodes pull it as `image`), `k8s/` applied.
fn build_push_apply(r: &Runner, dir: &Path, image: &str, k8s: &Path) -> anyhow::Result<()> {
    let pushed = push_name(image);
    let dir_text = dir.display().to_string();
    r.need(&[Tool::Docker])?;
    r.act_for(
        &plain(&["docker", "build", "--tag", &pushed, &dir_text]),
        "",
        waits::BUILD,
    )?;
    r.act(
        &plain(&["docker", "push", &pushed]),
        &format!("the nodes pull it as {image}"),
    )?;
    r.act(
        &plain(&["kubectl", "apply", "--filename", &k8s.display().to_string()]),
        "",
    )?;
    Ok(())
}

pub fn on_cluster(dir: &Path) -> Result<String, Failure> {
    let fail = |e: anyhow::Error| {
        Failure::new("the stage running on the cluster", format!("{e:#}"))
            .hint("`kubectl get pods`, `kubectl describe deployment health` and `kubectl get events --sort-by=.lastTimestamp` show what happened")
    };
    let r = Runner::for_check();
    let k8s = dir.join("k8s");
    let (docs, _) = crate::k8s::load_files(&[k8s.join("deployment.yaml")]);
    let (name, image) = docs
        .iter()
        .find_map(|d| match &d.object {
            crate::k8s::Object::Deployment(dep) => {
                let image = dep
                    .spec
                    .as_ref()?
                    .template
                    .spec
                    .as_ref()?
                    .containers
                    .first()?
                    .image
                    .clone()?;
                Some((d.name.clone(), image))
            }
            _ => None,
        })
        .ok_or_else(|| Failure::new("a Deployment", "none in k8s/deployment.yaml"))?;
    let run = || -> anyhow::Result<String> {
        build_push_apply(&r, dir, &image, &k8s)?;
        r.wait(
            &plain(&[
                "kubectl",
                "rollout",
                "status",
                &format!("deployment/{name}"),
                &format!("--timeout={}s", waits::HEALTH.as_secs()),
            ]),
            &format!("the pods of {name} ready"),
            waits::HEALTH,
            &[
                plain(&[
                    "kubectl",
                    "get",
                    "pods",
                    "--selector",
                    &format!("app.kubernetes.io/name={name}"),
                ]),
                plain(&["kubectl", "describe", "deployment", &name]),
                plain(&["kubectl", "get", "events", "--sort-by=.lastTimestamp"]),
            ],
        )?;
        let ready = r
            .query(
                &plain(&[
                    "kubectl",
                    "get",
                    "deployment",
                    &name,
                    "--output",
                    "jsonpath={.status.readyReplicas}",
                ]),
                "",
            )?
            .map(|o| o.stdout.trim().to_string())
            .unwrap_or_default();
        anyhow::ensure!(ready == "3", "{ready:?} ready replicas, expected 3");
        let port = crate::http::free_port();
        let forward = plain(&[
            "kubectl",
            "port-forward",
            &format!("svc/{name}"),
            &format!("{port}:8000"),
        ]);
        let (program, args) = forward.split_first().expect("a command");
        let handle = duct::cmd(program, args)
            .stdout_null()
            .stderr_null()
            .unchecked()
            .start()?;
        let _registration = handle.pids().first().map(|&p| register(Cleanup::Kill(p)));
        let start = Instant::now();
        let body = loop {
            match crate::http::get(&format!("http://127.0.0.1:{port}/"), Duration::from_secs(2)) {
                Ok(response) => break response.body,
                Err(e) if start.elapsed() > Duration::from_secs(15) => {
                    let _ = handle.kill();
                    bail!("GET / through the port-forward: {e}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        let _ = handle.kill();
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        anyhow::ensure!(
            json == serde_json::json!({"status": "OK"}),
            "GET / through the Service answered {body:?}"
        );
        Ok(format!(
            "3 ready replicas of {image}; GET / through svc/{name} answers {{\"status\":\"OK\"}}"
        ))
    };
    run().map_err(fail)
}

/// Stage 05 on the cluster: its image built and pushed, `k8s/` applied (the
/// CloudNativePG `Cluster`, the Deployment reading `<cluster>-app`, the
/// Service), the Cluster ready as `kubectl get clusters` reports it, the
/// rollout done, and `GET /readyz` answering 200 through the Service (the
/// service reached its database on the cluster).
pub fn database_on_cluster(dir: &Path, cluster: &str) -> Result<String, Failure> {
    let r = Runner::for_check();
    let k8s = dir.join("k8s");
    let (docs, _) =
        crate::k8s::load_files(&[k8s.join("deployment.yaml"), k8s.join("service.yaml")]);
    let find = |kind: &str| docs.iter().find(|d| d.kind == kind).map(|d| d.name.clone());
    let image = docs.iter().find_map(|d| match &d.object {
        crate::k8s::Object::Deployment(dep) => dep
            .spec
            .as_ref()?
            .template
            .spec
            .as_ref()?
            .containers
            .first()?
            .image
            .clone(),
        _ => None,
    });
    let (Some(name), Some(service), Some(image)) = (find("Deployment"), find("Service"), image)
    else {
        return Err(Failure::new(
            "a Deployment with an image and a Service",
            "not found in k8s/deployment.yaml and k8s/service.yaml",
        ));
    };
    let fail = |e: anyhow::Error| {
        Failure::new("the stage and its database running on the cluster", format!("{e:#}")).hint(format!(
            "`kubectl get clusters`, `kubectl describe cluster {cluster}`, `kubectl get pods` and `kubectl logs deployment/{name}` show what happened"
        ))
    };
    let run = || -> anyhow::Result<String> {
        build_push_apply(&r, dir, &image, &k8s)?;
        // The operator's Ready condition (api/v1 ConditionClusterReady):
        // every instance up and the primary elected.
        r.wait(
            &plain(&[
                "kubectl",
                "wait",
                "--for=condition=Ready",
                &format!("cluster/{cluster}"),
                &format!("--timeout={}s", waits::DATABASE.as_secs()),
            ]),
            &format!("the CloudNativePG cluster {cluster} ready"),
            waits::DATABASE,
            &[
                plain(&["kubectl", "get", "clusters"]),
                plain(&["kubectl", "describe", "cluster", cluster]),
                plain(&[
                    "kubectl",
                    "get",
                    "pods",
                    "--selector",
                    &format!("cnpg.io/cluster={cluster}"),
                ]),
            ],
        )?;
        let status = r
            .query(
                &plain(&[
                    "kubectl",
                    "get",
                    "clusters",
                    cluster,
                    "--output",
                    "jsonpath={.status.readyInstances}/{.status.instances} {.status.phase}",
                ]),
                "",
            )?
            .map(|o| o.stdout.trim().to_string())
            .unwrap_or_default();
        let (counts, phase) = status.split_once(' ').unwrap_or((&status, ""));
        let (ready, all) = counts.split_once('/').unwrap_or((counts, ""));
        anyhow::ensure!(
            !ready.is_empty() && ready == all,
            "kubectl get clusters {cluster}: {ready:?} of {all:?} instances ready ({phase})"
        );
        r.wait(
            &plain(&[
                "kubectl",
                "rollout",
                "status",
                &format!("deployment/{name}"),
                &format!("--timeout={}s", waits::IBDB.as_secs()),
            ]),
            &format!("the pods of {name} ready (they wait for the database)"),
            waits::IBDB,
            &[
                plain(&["kubectl", "describe", "deployment", &name]),
                plain(&["kubectl", "logs", &format!("deployment/{name}")]),
                plain(&["kubectl", "get", "events", "--sort-by=.lastTimestamp"]),
            ],
        )?;
        let port = crate::http::free_port();
        let forward = plain(&[
            "kubectl",
            "port-forward",
            &format!("svc/{service}"),
            &format!("{port}:8000"),
        ]);
        let (program, args) = forward.split_first().expect("a command");
        let handle = duct::cmd(program, args)
            .stdout_null()
            .stderr_null()
            .unchecked()
            .start()?;
        let _registration = handle.pids().first().map(|&p| register(Cleanup::Kill(p)));
        let start = Instant::now();
        let response = loop {
            let url = format!("http://127.0.0.1:{port}/readyz");
            match crate::http::get(&url, Duration::from_secs(2)) {
                Ok(response) => break response,
                Err(e) if start.elapsed() > Duration::from_secs(15) => {
                    let _ = handle.kill();
                    bail!("GET /readyz through the port-forward: {e}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        let _ = handle.kill();
        anyhow::ensure!(
            response.status == 200,
            "GET /readyz through svc/{service} answered {} {:?}: the service does not reach its database (is DATABASE_URL the secret {}, key {}?)",
            response.status,
            response.body,
            crate::k8s::cnpg::app_secret(cluster),
            crate::k8s::cnpg::URI_KEY
        );
        Ok(format!(
            "Cluster {cluster} ready ({ready}/{all} instances); GET /readyz through svc/{service} answers 200"
        ))
    };
    run().map_err(fail)
}
