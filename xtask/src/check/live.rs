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

/// The line skaffold prints for each forward (GoogleContainerTools/skaffold
/// pkg/skaffold/kubernetes/portforward/entry_manager.go): "Port forwarding
/// service/ibdb in namespace default, remote port 8000 -> http://127.0.0.1:8000".
/// The local port may differ from skaffold.yaml's when that one is taken.
pub fn forwarded_address(log: &str) -> Option<String> {
    log.lines()
        .filter(|l| l.contains("Port forwarding "))
        .find_map(|l| l.split_once(" -> http://"))
        .map(|(_, address)| address.trim().to_string())
}

/// Stage 08 on the cluster: `skaffold run --port-forward=user` in the stage
/// folder builds IBDb, deploys the chart, forwards the ports skaffold.yaml
/// names, and then stays in the foreground until stopped
/// (pkg/skaffold/runner/deploy.go: "Press Ctrl+C to exit"). `GET /` and
/// `GET /readyz` go through the forward; then skaffold is stopped and
/// `skaffold delete` removes the release (`skaffold run` leaves it).
pub fn skaffold_run(dir: &Path) -> Result<String, Failure> {
    let fail = |e: anyhow::Error| {
        Failure::new(
            "IBDb deployed by `skaffold run`, answering GET / and GET /readyz through its port-forward",
            format!("{e:#}"),
        )
        .hint("run `skaffold run --port-forward` in the stage folder to see each step; `kubectl get pods,clusters` and `kubectl logs deployment/<name>` show what runs")
    };
    let skaffold = which::which("skaffold").map_err(|_| {
        Failure::new("skaffold on PATH", "not found").hint(Tool::Skaffold.install_hint())
    })?;
    let args = ["run", "--port-forward=user", "--tail=false"];
    let mut run = crate::proc::Server::start_in(
        &skaffold,
        &args,
        Some(dir),
        &[("NO_COLOR", "1".to_string())],
    )
    .map_err(|e| fail(e.into()))?;
    let limit = waits::BUILD + waits::DATABASE + waits::IBDB;
    let result = (|| -> anyhow::Result<String> {
        let start = Instant::now();
        let address = loop {
            if let Some(address) = forwarded_address(&run.log()) {
                break address;
            }
            if let Some(status) = run.try_wait() {
                bail!(
                    "`skaffold {}` ended ({}) before forwarding a port:\n{}",
                    args.join(" "),
                    crate::proc::describe_exit(status),
                    run.output(15)
                );
            }
            if start.elapsed() > limit {
                bail!(
                    "`skaffold {}` forwarded no port within {} min:\n{}",
                    args.join(" "),
                    limit.as_secs() / 60,
                    run.output(15)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let ask = |path: &str| -> anyhow::Result<crate::http::Response> {
            let begin = Instant::now();
            loop {
                match crate::http::get(&format!("http://{address}{path}"), Duration::from_secs(5)) {
                    Ok(response) => return Ok(response),
                    Err(e) if begin.elapsed() > Duration::from_secs(30) => {
                        bail!("GET {path} through skaffold's port-forward ({address}): {e}")
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(300)),
                }
            }
        };
        let root = ask("/")?;
        let json: serde_json::Value = serde_json::from_str(&root.body).unwrap_or_default();
        anyhow::ensure!(
            root.status == 200 && json == serde_json::json!({"status": "OK"}),
            "GET / through skaffold's port-forward ({address}) answered {} {:?}",
            root.status,
            root.body
        );
        let ready = ask("/readyz")?;
        anyhow::ensure!(
            ready.status == 200,
            "GET /readyz through skaffold's port-forward ({address}) answered {} {:?}: IBDb does not reach its database (DATABASE_URL from the secret <cluster>-app, key uri?)",
            ready.status,
            ready.body
        );
        Ok(format!(
            "skaffold run deployed the chart; GET / and GET /readyz through {address} answer 200"
        ))
    })();
    run.terminate();
    let _ = run.wait_for_exit(Duration::from_secs(30));
    drop(run);
    let cleaned = skaffold_delete(&skaffold, dir);
    match (result, cleaned) {
        (Ok(message), Ok(())) => Ok(format!("{message}; skaffold delete cleaned up")),
        (Ok(_), Err(e)) => Err(fail(e)),
        (Err(e), Ok(())) => Err(fail(e)),
        (Err(e), Err(cleanup)) => Err(fail(
            e.context(format!("(and the clean-up failed: {cleanup:#})")),
        )),
    }
}

/// `skaffold delete` in the stage folder, at most 5 minutes.
fn skaffold_delete(skaffold: &Path, dir: &Path) -> anyhow::Result<()> {
    let handle = duct::cmd(skaffold, ["delete"])
        .dir(dir)
        .stdin_null()
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .start()?;
    let _registration = handle.pids().first().map(|&p| register(Cleanup::Kill(p)));
    let start = Instant::now();
    loop {
        if let Some(out) = handle.try_wait()? {
            anyhow::ensure!(
                out.status.success(),
                "`skaffold delete` failed: {}",
                crate::proc::tail(String::from_utf8_lossy(&out.stdout).trim(), 5)
            );
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(300) {
            let _ = handle.kill();
            bail!("`skaffold delete` did not end within 5 minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_forwarded_address_is_read_from_skaffolds_line() {
        // pkg/skaffold/kubernetes/portforward/entry_manager.go
        let log = "Deployments stabilized in 3.2 seconds\n\
                   Port forwarding service/ibdb in namespace default, remote port 8000 -> http://127.0.0.1:8001\n\
                   Press Ctrl+C to exit\n";
        assert_eq!(
            super::forwarded_address(log).as_deref(),
            Some("127.0.0.1:8001")
        );
        assert_eq!(super::forwarded_address("Press Ctrl+C to exit"), None);
    }
}
