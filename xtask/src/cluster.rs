//! The local cluster, from xtask: k3d with a registry, the CloudNativePG
//! operator, IBDb and its database, and the failover lab. Every command
//! takes `--dry-run` and then prints the exact commands without running any.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::paths;
use crate::proc::{Cleanup, register};
use crate::report::Failure;
use crate::tools::Tool;

/// The CNPG Helm chart, pinned (operator 1.27).
pub const CNPG_REPO: &str = "https://cloudnative-pg.github.io/charts";
pub const CNPG_CHART_VERSION: &str = "0.26.0";
pub const CNPG_NAMESPACE: &str = "cnpg-system";
/// The operator's Deployment as the chart names it for release `cnpg`.
pub const CNPG_DEPLOYMENT: &str = "cnpg-cloudnative-pg";

pub const REGISTRY: &str = "registry.localhost:5000";
pub const IBDB_IMAGE: &str = "registry.localhost:5000/ibdb";
/// The tag `deploy` builds and sets (helm/ibdb/values.yaml has the same).
pub const IBDB_TAG: &str = "0.1.0";
pub const IBDB_NAMESPACE: &str = "ibdb";
pub const IBDB_RELEASE: &str = "ibdb";
/// The CNPG cluster of IBDb; CNPG writes its credentials to `<name>-app`.
pub const IBDB_DATABASE: &str = "ibdb-db";

/// Options every cluster command shares.
#[derive(Debug, Clone)]
pub struct Options {
    pub dry_run: bool,
    /// Limit for each command run (waits have their own, shorter, limits inside).
    pub timeout: Duration,
}

/// Runs (or, with `--dry-run`, prints) the tools' commands.
pub struct Runner {
    options: Options,
    context: String,
    /// Commands and their output go to stderr: inside `verify`, stdout
    /// belongs to the report (`--json`).
    on_stderr: bool,
}

/// What a command printed, when it ran.
pub struct Output {
    pub stdout: String,
}

impl Runner {
    pub fn new(options: Options) -> Runner {
        Runner {
            options,
            context: format!("k3d-{}", cluster_name()),
            on_stderr: false,
        }
    }

    /// A runner for a stage check: everything it shows goes to stderr.
    pub fn for_check(timeout: Duration) -> Runner {
        Runner {
            on_stderr: true,
            ..Runner::new(Options {
                dry_run: false,
                timeout,
            })
        }
    }

    fn show(&self, argv: &[String], why: &str) {
        let line = if why.is_empty() {
            format!("$ {}", command_line(argv))
        } else {
            format!("$ {}   # {why}", command_line(argv))
        };
        if self.on_stderr {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }

    pub fn dry_run(&self) -> bool {
        self.options.dry_run
    }

    /// Every tool must be there before anything runs (not in a dry run).
    pub fn need(&self, tools: &[Tool]) -> anyhow::Result<()> {
        if self.dry_run() {
            return Ok(());
        }
        for tool in tools {
            if which::which(tool.name()).is_err() {
                bail!(
                    "{} is not installed (not found on PATH); nothing was changed. Install it: {}",
                    tool.name(),
                    tool.install_hint()
                );
            }
        }
        Ok(())
    }

    /// `kubectl --context k3d-NAME ARGS`.
    fn kubectl(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec![
            "kubectl".to_string(),
            "--context".into(),
            self.context.clone(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        all
    }

    /// `helm ARGS --kube-context k3d-NAME`.
    fn helm(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["helm".to_string()];
        all.extend(args.iter().map(|a| a.to_string()));
        all.push("--kube-context".into());
        all.push(self.context.clone());
        all
    }

    /// Runs a command that changes something; its output goes to the terminal.
    pub fn act(&self, argv: &[String], why: &str) -> anyhow::Result<()> {
        self.execute(argv, why, false).map(|_| ())
    }

    /// Runs a command whose output is needed; in a dry run, `None`.
    pub fn query(&self, argv: &[String], why: &str) -> anyhow::Result<Option<Output>> {
        self.execute(argv, why, true)
    }

    /// Like `query`, but a failing command is an answer (`Ok(Some(Err))`).
    fn probe(&self, argv: &[String], why: &str) -> anyhow::Result<Option<Result<Output, String>>> {
        self.show(argv, why);
        if self.dry_run() {
            return Ok(None);
        }
        match spawn(argv, self.options.timeout, Stdout::Capture)? {
            Ran::Done(out) if out.status.success() => Ok(Some(Ok(Output {
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            }))),
            Ran::Done(out) => Ok(Some(Err(String::from_utf8_lossy(&out.stderr)
                .trim()
                .to_string()))),
            Ran::TimedOut => bail!(timeout_message(argv, self.options.timeout)),
        }
    }

    fn execute(&self, argv: &[String], why: &str, capture: bool) -> anyhow::Result<Option<Output>> {
        self.show(argv, why);
        if self.dry_run() {
            return Ok(None);
        }
        let stdout = if capture {
            Stdout::Capture
        } else if self.on_stderr {
            Stdout::ToStderr
        } else {
            Stdout::Inherit
        };
        match spawn(argv, self.options.timeout, stdout)? {
            Ran::Done(out) if out.status.success() => Ok(Some(Output {
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            })),
            Ran::Done(out) => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                bail!(
                    "`{}` failed ({}){}",
                    command_line(argv),
                    crate::proc::describe_exit(out.status),
                    if stderr.trim().is_empty() {
                        String::new()
                    } else {
                        format!(":\n{}", crate::proc::tail(&stderr, 15))
                    }
                )
            }
            Ran::TimedOut => bail!(timeout_message(argv, self.options.timeout)),
        }
    }
}

fn timeout_message(argv: &[String], limit: Duration) -> String {
    format!(
        "`{}` did not finish within {} s and was stopped; give it longer with --timeout SECONDS, or look at the cluster with `cargo xtask cluster status`",
        command_line(argv),
        limit.as_secs()
    )
}

/// A command as a shell would take it.
pub fn command_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+%".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where a command's stdout goes.
#[derive(Clone, Copy)]
enum Stdout {
    Capture,
    Inherit,
    ToStderr,
}

enum Ran {
    Done(std::process::Output),
    TimedOut,
}

/// Runs `argv` from the repository root, stopping it after `limit`.
fn spawn(argv: &[String], limit: Duration, stdout: Stdout) -> anyhow::Result<Ran> {
    let (program, args) = argv.split_first().context("empty command")?;
    let mut expression = duct::cmd(program, args)
        .dir(paths::root())
        .stderr_capture()
        .unchecked();
    match stdout {
        Stdout::Capture => expression = expression.stdout_capture(),
        // Outer redirections apply first: stdout joins the inherited stderr,
        // then stderr alone is captured (for the error message).
        Stdout::ToStderr => expression = expression.stdout_to_stderr(),
        Stdout::Inherit => {}
    }
    let handle = expression.start().with_context(|| {
        format!("{program} could not be started; is it installed? (`cargo xtask doctor`)")
    })?;
    let pids = handle.pids();
    let _registration = pids.first().map(|&pid| register(Cleanup::Kill(pid)));
    let start = Instant::now();
    loop {
        if let Some(out) = handle.try_wait()? {
            return Ok(Ran::Done(out.clone()));
        }
        if start.elapsed() >= limit {
            let _ = handle.kill();
            return Ok(Ran::TimedOut);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The cluster name, from `k3d.yaml` (`metadata.name`).
pub fn cluster_name() -> String {
    std::fs::read_to_string(paths::root().join("k3d.yaml"))
        .ok()
        .and_then(|text| serde_yaml::from_str::<serde_yaml::Value>(&text).ok())
        .and_then(|v| v.get("metadata")?.get("name")?.as_str().map(str::to_string))
        .unwrap_or_else(|| "microservices".to_string())
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// The state of the k3d cluster, from `k3d cluster list -o json`.
#[derive(Debug, PartialEq)]
enum State {
    Missing,
    Running,
    Stopped,
}

fn cluster_state(r: &Runner) -> anyhow::Result<Option<State>> {
    let Some(out) = r.query(
        &strings(&["k3d", "cluster", "list", "--output", "json"]),
        "is the cluster there already?",
    )?
    else {
        return Ok(None);
    };
    let clusters: serde_json::Value = serde_json::from_str(&out.stdout).with_context(|| {
        format!(
            "`k3d cluster list --output json` printed something that is not JSON: {}",
            out.stdout.trim()
        )
    })?;
    let name = cluster_name();
    let Some(cluster) = clusters
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == name.as_str())
    else {
        return Ok(Some(State::Missing));
    };
    let count = |field: &str| cluster[field].as_u64().unwrap_or(0);
    let up = count("serversCount") > 0
        && count("serversRunning") == count("serversCount")
        && count("agentsRunning") == count("agentsCount");
    Ok(Some(if up { State::Running } else { State::Stopped }))
}

fn wait_for_nodes(r: &Runner) -> anyhow::Result<()> {
    r.act(
        &r.kubectl(&[
            "wait",
            "--for=condition=Ready",
            "nodes",
            "--all",
            "--timeout=180s",
        ]),
        "every node Ready",
    )
}

/// `cargo xtask cluster create`.
pub fn create(options: Options) -> anyhow::Result<bool> {
    let r = Runner::new(options);
    r.need(&[Tool::K3d, Tool::Kubectl, Tool::Docker])?;
    let name = cluster_name();
    match cluster_state(&r)? {
        Some(State::Running) => {
            println!("cluster {name} exists and is running: nothing to create");
        }
        Some(State::Stopped) => {
            r.act(
                &strings(&["k3d", "cluster", "start", &name]),
                "it exists but is stopped",
            )?;
        }
        Some(State::Missing) | None => {
            r.act(
                &strings(&["k3d", "cluster", "create", "--config", "k3d.yaml"]),
                if r.dry_run() {
                    "when it is not there"
                } else {
                    ""
                },
            )?;
        }
    }
    wait_for_nodes(&r)?;
    if !r.dry_run() {
        println!(
            "✓ cluster {name} is ready (kubectl context k3d-{name}, registry {REGISTRY})\nnext: cargo xtask cnpg install (or cargo xtask up for both)"
        );
    }
    Ok(true)
}

/// `cargo xtask cluster delete` and `cargo xtask down`.
pub fn delete(options: Options) -> anyhow::Result<bool> {
    let r = Runner::new(options);
    r.need(&[Tool::K3d])?;
    let name = cluster_name();
    if cluster_state(&r)? == Some(State::Missing) {
        println!("cluster {name} does not exist: nothing to delete");
        return Ok(true);
    }
    r.act(
        &strings(&["k3d", "cluster", "delete", &name]),
        if r.dry_run() {
            "when it is there: the cluster, its nodes and its registry"
        } else {
            "the cluster, its nodes and its registry"
        },
    )?;
    if !r.dry_run() {
        println!("✓ cluster {name} deleted");
    }
    Ok(true)
}

/// `cargo xtask cluster status`: Ok(false) when there is no running cluster.
pub fn status(options: Options) -> anyhow::Result<bool> {
    let r = Runner::new(options);
    r.need(&[Tool::K3d, Tool::Kubectl])?;
    let name = cluster_name();
    match cluster_state(&r)? {
        Some(State::Missing) => {
            println!(
                "✗ cluster {name} does not exist; create it with `cargo xtask cluster create`"
            );
            return Ok(false);
        }
        Some(State::Stopped) => {
            println!(
                "✗ cluster {name} exists but is stopped; `cargo xtask cluster create` starts it"
            );
            return Ok(false);
        }
        Some(State::Running) | None => {}
    }
    let nodes = r.query(
        &r.kubectl(&["get", "nodes", "--output", "wide"]),
        "the nodes",
    )?;
    let operator = r.probe(
        &r.kubectl(&[
            "--namespace",
            CNPG_NAMESPACE,
            "get",
            "deployment",
            CNPG_DEPLOYMENT,
        ]),
        "is the CNPG operator installed?",
    )?;
    if let Some(nodes) = nodes {
        println!("✓ cluster {name} is running\n{}", nodes.stdout.trim_end());
        match operator {
            Some(Ok(_)) => println!("✓ the CloudNativePG operator is installed"),
            _ => println!(
                "⊘ the CloudNativePG operator is not installed (`cargo xtask cnpg install`)"
            ),
        }
    }
    Ok(true)
}

/// `cargo xtask cnpg install`.
pub fn cnpg_install(options: Options) -> anyhow::Result<bool> {
    let r = Runner::new(options);
    r.need(&[Tool::Helm, Tool::Kubectl])?;
    r.act(
        &strings(&["helm", "repo", "add", "cnpg", CNPG_REPO, "--force-update"]),
        "the chart repository",
    )?;
    r.act(
        &r.helm(&[
            "upgrade",
            "--install",
            "cnpg",
            "cnpg/cloudnative-pg",
            "--version",
            CNPG_CHART_VERSION,
            "--namespace",
            CNPG_NAMESPACE,
            "--create-namespace",
            "--wait",
        ]),
        "install or upgrade the operator",
    )?;
    r.act(
        &r.kubectl(&[
            "--namespace",
            CNPG_NAMESPACE,
            "rollout",
            "status",
            &format!("deployment/{CNPG_DEPLOYMENT}"),
            "--timeout=180s",
        ]),
        "the operator is running",
    )?;
    r.act(
        &r.kubectl(&[
            "wait",
            "--for=condition=Established",
            "crd/clusters.postgresql.cnpg.io",
            "--timeout=60s",
        ]),
        "the Cluster resource type is served",
    )?;
    if !r.dry_run() {
        println!("✓ CloudNativePG {CNPG_CHART_VERSION} is installed\nnext: cargo xtask deploy");
    }
    Ok(true)
}

/// `cargo xtask up`: the cluster, then the operator.
pub fn up(options: Options) -> anyhow::Result<bool> {
    Ok(create(options.clone())? && cnpg_install(options)?)
}

/// `cargo xtask deploy`: IBDb and its database, with Helm (or the raw manifests).
pub fn deploy(options: Options, manifests: bool) -> anyhow::Result<bool> {
    let r = Runner::new(options);
    r.need(&[Tool::Docker, Tool::Kubectl, Tool::Helm])?;
    let image = format!("{IBDB_IMAGE}:{IBDB_TAG}");
    let context = "solutions/06-ibdb";
    if !r.dry_run() && !paths::root().join(context).join("Dockerfile").is_file() {
        bail!("{context}/Dockerfile is missing: IBDb's image cannot be built");
    }
    r.act(
        &strings(&["docker", "build", "--tag", &image, context]),
        "IBDb's image",
    )?;
    r.act(
        &strings(&["docker", "push", &image]),
        "into the cluster's registry (registry.localhost must resolve to 127.0.0.1)",
    )?;
    if manifests {
        r.act(
            &r.kubectl(&["apply", "--filename", "k8s/"]),
            "the raw manifests of k8s/",
        )?;
    } else {
        r.act(
            &r.helm(&[
                "upgrade",
                "--install",
                IBDB_RELEASE,
                "helm/ibdb",
                "--namespace",
                IBDB_NAMESPACE,
                "--create-namespace",
                "--set",
                &format!("image.tag={IBDB_TAG}"),
                "--set",
                "database.create=true",
            ]),
            "IBDb and its CNPG cluster",
        )?;
    }
    r.act(
        &r.kubectl(&[
            "--namespace",
            IBDB_NAMESPACE,
            "wait",
            "--for=condition=Ready",
            &format!("cluster/{IBDB_DATABASE}"),
            "--timeout=300s",
        ]),
        "PostgreSQL primary and replicas",
    )?;
    r.act(
        &r.kubectl(&[
            "--namespace",
            IBDB_NAMESPACE,
            "get",
            "secret",
            &format!("{IBDB_DATABASE}-app"),
        ]),
        "CNPG wrote the credentials",
    )?;
    r.act(
        &r.kubectl(&[
            "--namespace",
            IBDB_NAMESPACE,
            "rollout",
            "status",
            "deployment/ibdb",
            "--timeout=180s",
        ]),
        "IBDb is ready",
    )?;
    if !r.dry_run() {
        println!(
            "✓ IBDb is deployed\nnext: kubectl --namespace {IBDB_NAMESPACE} port-forward svc/ibdb 8000:8000, then curl localhost:8000/books"
        );
    }
    Ok(true)
}

/// How the failover lab runs.
#[derive(Debug, Clone)]
pub struct ChaosOptions {
    /// Total length of the load loop.
    pub duration: Duration,
    /// Load before the primary is deleted.
    pub warmup: Duration,
    /// Pause between two writes.
    pub interval: Duration,
    /// Local end of the port-forward.
    pub local_port: u16,
}

/// One write of the load loop: when (since the start) and whether it worked.
struct Write {
    at: Duration,
    ok: bool,
}

fn primary(r: &Runner) -> anyhow::Result<Option<String>> {
    let out = r.query(
        &r.kubectl(&[
            "--namespace",
            IBDB_NAMESPACE,
            "get",
            "pods",
            "--selector",
            &format!("cnpg.io/cluster={IBDB_DATABASE},cnpg.io/instanceRole=primary"),
            "--output",
            "jsonpath={.items[*].metadata.name}",
        ]),
        "which pod is the primary?",
    )?;
    Ok(out.map(|o| o.stdout.trim().to_string()))
}

/// `cargo xtask chaos failover`: deletes the primary under load and reports.
pub fn chaos_failover(options: Options, chaos: ChaosOptions) -> anyhow::Result<bool> {
    let r = Runner::new(options.clone());
    r.need(&[Tool::Kubectl])?;
    let before = primary(&r)?;
    if before.as_deref() == Some("") {
        bail!(
            "no primary pod of cluster {IBDB_DATABASE} in namespace {IBDB_NAMESPACE}; run `cargo xtask deploy` first"
        );
    }
    let forward = r.kubectl(&[
        "--namespace",
        IBDB_NAMESPACE,
        "port-forward",
        "svc/ibdb",
        &format!("{}:8000", chaos.local_port),
    ]);
    let base = format!("http://127.0.0.1:{}", chaos.local_port);
    let victim = before.clone().unwrap_or_else(|| "<primary>".into());
    let delete = r.kubectl(&[
        "--namespace",
        IBDB_NAMESPACE,
        "delete",
        "pod",
        &victim,
        "--wait=false",
    ]);
    if r.dry_run() {
        r.show(&forward, "in the background, for the load loop");
        println!(
            "# then: POST {base}/books every {} ms for {} s; after {} s:",
            chaos.interval.as_millis(),
            chaos.duration.as_secs(),
            chaos.warmup.as_secs()
        );
        r.show(&delete, "the primary goes away; CNPG promotes a replica");
        primary(&r)?;
        return Ok(true);
    }
    r.show(&forward, "in the background, for the load loop");
    let (program, args) = forward.split_first().expect("a command");
    let handle = duct::cmd(program, args)
        .stdout_null()
        .stderr_capture()
        .unchecked()
        .start()
        .context("starting kubectl port-forward")?;
    let _registration = handle.pids().first().map(|&p| register(Cleanup::Kill(p)));
    let result = load_loop(&r, &handle, &base, &delete, &chaos);
    let _ = handle.kill();
    let writes = result?;
    let after = primary(&r)?.unwrap_or_default();
    Ok(report(
        &writes,
        chaos.warmup,
        before.as_deref().unwrap_or(""),
        &after,
    ))
}

fn load_loop(
    r: &Runner,
    forward: &duct::Handle,
    base: &str,
    delete: &[String],
    chaos: &ChaosOptions,
) -> anyhow::Result<Vec<Write>> {
    // The port-forward must answer first.
    let start = Instant::now();
    loop {
        if let Some(out) = forward.try_wait()? {
            bail!(
                "kubectl port-forward stopped: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        if crate::http::get(&format!("{base}/healthz"), Duration::from_secs(2)).is_ok() {
            break;
        }
        if start.elapsed() > Duration::from_secs(15) {
            bail!("IBDb does not answer {base}/healthz through the port-forward within 15 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let start = Instant::now();
    let mut writes = Vec::new();
    let mut deleted = false;
    let mut n = 0;
    while start.elapsed() < chaos.duration {
        if !deleted && start.elapsed() >= chaos.warmup {
            r.act(delete, "the primary goes away; CNPG promotes a replica")?;
            deleted = true;
        }
        n += 1;
        let body = format!(r#"{{"title":"failover {n}","author":"cargo xtask chaos"}}"#);
        let ok = agent
            .post(&format!("{base}/books"))
            .header("content-type", "application/json")
            .send(body.as_str())
            .is_ok_and(|resp| resp.status().is_success());
        writes.push(Write {
            at: start.elapsed(),
            ok,
        });
        std::thread::sleep(chaos.interval);
    }
    Ok(writes)
}

/// Prints what the load loop saw; true when writes worked again at the end.
fn report(writes: &[Write], deleted_at: Duration, before: &str, after: &str) -> bool {
    let failed: Vec<&Write> = writes.iter().filter(|w| !w.ok).collect();
    let after_delete = writes.iter().filter(|w| w.at >= deleted_at);
    let last_failure = failed.last().map(|w| w.at);
    let recovered = match last_failure {
        None => Some(Duration::ZERO),
        Some(last) => writes.iter().find(|w| w.ok && w.at > last).map(|w| w.at),
    };
    println!("\nfailover report");
    println!("  primary before: {before}");
    println!(
        "  primary after:  {}",
        if after.is_empty() {
            "(none yet)"
        } else {
            after
        }
    );
    println!(
        "  writes: {} sent, {} failed ({} after the primary was deleted)",
        writes.len(),
        failed.len(),
        after_delete.filter(|w| !w.ok).count()
    );
    match (failed.first(), last_failure, recovered) {
        (None, _, _) => {
            println!(
                "  no write failed: the switchover was faster than the load loop's resolution"
            );
            true
        }
        (Some(first), Some(last), Some(ok)) => {
            println!(
                "  writes failed from {:.1} s to {:.1} s; they succeeded again {:.1} s after the primary was deleted",
                first.at.as_secs_f64(),
                last.as_secs_f64(),
                ok.saturating_sub(deleted_at).as_secs_f64()
            );
            true
        }
        _ => {
            println!("  ✗ writes were still failing when the load loop ended");
            false
        }
    }
}

/// Whether kubectl reaches a cluster (for stage 04's live check).
pub fn reachable() -> Result<(), String> {
    let argv = strings(&["kubectl", "cluster-info", "--request-timeout=5s"]);
    match spawn(&argv, Duration::from_secs(10), Stdout::Capture) {
        Ok(Ran::Done(out)) if out.status.success() => Ok(()),
        Ok(Ran::Done(out)) => Err(crate::proc::tail(
            String::from_utf8_lossy(&out.stderr).trim(),
            1,
        )),
        Ok(Ran::TimedOut) => Err("kubectl cluster-info did not answer within 10 s".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Stage 04 on a live cluster: build, push, apply, 3 ready replicas,
/// port-forward, `GET /`.
pub fn live_stage_04(dir: &Path) -> Result<String, Failure> {
    let fail = |e: anyhow::Error| {
        Failure::new("the stage running on the cluster", format!("{e:#}"))
            .hint("`kubectl get pods` and `kubectl describe deployment health` show what happened")
    };
    let r = Runner::for_check(Duration::from_secs(300));
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
    let dir_text = dir.display().to_string();
    let k8s_text = k8s.display().to_string();
    let plain = |args: &[&str]| strings(args);
    let run = || -> anyhow::Result<String> {
        r.need(&[Tool::Docker])?;
        r.act(&plain(&["docker", "build", "--tag", &image, &dir_text]), "")?;
        r.act(&plain(&["docker", "push", &image]), "")?;
        r.act(&plain(&["kubectl", "apply", "--filename", &k8s_text]), "")?;
        r.act(
            &plain(&[
                "kubectl",
                "rollout",
                "status",
                &format!("deployment/{name}"),
                "--timeout=180s",
            ]),
            "",
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
