//! The local cluster, from xtask: k3d with a registry, the CloudNativePG
//! operator, IBDb and its database. Every command takes `--dry-run` and then
//! prints the exact commands without running any. The failover lab is in
//! `chaos`, the maintainers' smoke run in `smoke`.

pub mod chaos;
pub mod offline;
pub mod smoke;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::paths;
use crate::proc::{Cleanup, register};
use crate::tools::Tool;

/// The CNPG Helm chart, pinned here and nowhere else: chart 0.29.0 installs
/// operator 1.30.0 (cloudnative-pg/charts charts/cloudnative-pg/Chart.yaml,
/// `version`/`appVersion`), which supports Kubernetes 1.34 to 1.36
/// (cloudnative-pg docs/src/supported_releases.md).
pub const CNPG_REPO: &str = "https://cloudnative-pg.github.io/charts";
pub const CNPG_CHART_VERSION: &str = "0.29.0";
pub const CNPG_OPERATOR_VERSION: &str = "1.30.0";
/// The Kubernetes minors that operator supports (not only "tested").
pub const CNPG_KUBERNETES: &[&str] = &["1.34", "1.35", "1.36"];
pub const CNPG_NAMESPACE: &str = "cnpg-system";
/// The operator's Deployment as the chart names it for release `cnpg`
/// (charts/cloudnative-pg templates/_helpers.tpl `cloudnative-pg.fullname`:
/// RELEASE-cloudnative-pg).
pub const CNPG_DEPLOYMENT: &str = "cnpg-cloudnative-pg";

/// The registry k3d.yaml creates: the name the nodes pull by (k3d writes
/// their mirror for it) and the host address you push to. See k3d.yaml.
pub const REGISTRY_NAME: &str = "registry.localhost";
pub const REGISTRY_HOST_PORT: &str = "5005";
pub const REGISTRY_PULL: &str = "registry.localhost:5005";
pub const REGISTRY_PUSH: &str = "localhost:5005";
/// IBDb's image: pushed as `localhost:5005/ibdb:TAG`, pulled by the nodes as
/// `registry.localhost:5005/ibdb:TAG`.
pub const IBDB_REPOSITORY: &str = "registry.localhost:5005/ibdb";
pub const IBDB_PUSH_REPOSITORY: &str = "localhost:5005/ibdb";
/// IBDb's version; `deploy` tags each build `VERSION-<image id>`, so a
/// rebuilt image is a new tag and every node pulls it.
pub const IBDB_VERSION: &str = "0.1.0";
pub const IBDB_NAMESPACE: &str = "ibdb";
pub const IBDB_RELEASE: &str = "ibdb";
/// The CNPG cluster of IBDb; CNPG writes its credentials to `<name>-app`.
pub const IBDB_DATABASE: &str = "ibdb-db";

/// How long each wait may take on a cold laptop (nothing pulled or built yet).
pub mod waits {
    use std::time::Duration;
    /// k3d pulls the k3s image, starts three nodes; they turn Ready.
    pub const NODES: Duration = Duration::from_secs(300);
    /// The operator's image is pulled and its webhooks answer.
    pub const OPERATOR: Duration = Duration::from_secs(600);
    /// IBDb's image built without any cache (every crate compiled).
    pub const BUILD: Duration = Duration::from_secs(1800);
    /// Three PostgreSQL instances, one after the other, each node pulling
    /// the PostgreSQL image first (initdb job, primary, two join jobs).
    pub const DATABASE: Duration = Duration::from_secs(900);
    /// IBDb's pods: they may have crash-looped while the database was not
    /// there yet, and the kubelet's back-off between restarts grows to 5 min.
    pub const IBDB: Duration = Duration::from_secs(600);
    /// Stage 04's health service (a small image, no database).
    pub const HEALTH: Duration = Duration::from_secs(300);
}

/// Options every cluster command shares.
#[derive(Debug, Clone)]
pub struct Options {
    pub dry_run: bool,
    /// `--timeout`: a cap on every single command and wait. Without it each
    /// has its own size (`waits`), and other commands get 10 minutes.
    pub timeout: Option<Duration>,
    /// `--offline`: use the cache of `cargo xtask prefetch`, or fail naming
    /// what it lacks (without it, a complete cache is used when there is one).
    pub offline: bool,
}

/// The limit of a command without a size of its own.
const DEFAULT_LIMIT: Duration = Duration::from_secs(600);

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
    pub fn for_check() -> Runner {
        Runner {
            on_stderr: true,
            ..Runner::new(Options {
                dry_run: false,
                timeout: None,
                offline: false,
            })
        }
    }

    fn say(&self, line: &str) {
        if self.on_stderr {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }

    fn show(&self, argv: &[String], why: &str) {
        if why.is_empty() {
            self.say(&format!("$ {}", command_line(argv)));
        } else {
            self.say(&format!("$ {}   # {why}", command_line(argv)));
        }
    }

    pub fn dry_run(&self) -> bool {
        self.options.dry_run
    }

    /// `own`, or less when `--timeout` says so.
    fn limit(&self, own: Duration) -> Duration {
        self.options.timeout.map_or(own, |cap| cap.min(own))
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
    pub fn kubectl(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec![
            "kubectl".to_string(),
            "--context".into(),
            self.context.clone(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        all
    }

    /// `kubectl --context k3d-NAME --namespace ibdb ARGS`.
    pub fn kubectl_ibdb(&self, args: &[&str]) -> Vec<String> {
        let mut all = self.kubectl(&["--namespace", IBDB_NAMESPACE]);
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
        self.execute(argv, why, false, DEFAULT_LIMIT).map(|_| ())
    }

    /// Like `act`, with a limit of its own (a cold image build).
    pub fn act_for(&self, argv: &[String], why: &str, own: Duration) -> anyhow::Result<()> {
        self.execute(argv, why, false, own).map(|_| ())
    }

    /// Runs a command whose output is needed; in a dry run, `None`.
    pub fn query(&self, argv: &[String], why: &str) -> anyhow::Result<Option<Output>> {
        self.execute(argv, why, true, DEFAULT_LIMIT)
    }

    /// Like `query`, but a failing command is an answer (`Ok(Some(Err))`).
    pub fn probe(
        &self,
        argv: &[String],
        why: &str,
    ) -> anyhow::Result<Option<Result<Output, String>>> {
        self.show(argv, why);
        if self.dry_run() {
            return Ok(None);
        }
        let limit = self.limit(DEFAULT_LIMIT);
        match spawn(argv, limit, Stdout::Capture, None)? {
            Ran::Done(out) if out.status.success() => Ok(Some(Ok(Output {
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            }))),
            Ran::Done(out) => Ok(Some(Err(String::from_utf8_lossy(&out.stderr)
                .trim()
                .to_string()))),
            Ran::TimedOut => bail!(timeout_message(argv, limit)),
        }
    }

    /// A wait on the cluster (`kubectl wait`, `rollout status`, ...) that
    /// shows what it waits for, for how long, and the elapsed time; when it
    /// does not end well, what to look at next. `argv` carries its own
    /// `--timeout=`; the process gets a minute more.
    pub fn wait(
        &self,
        argv: &[String],
        what: &str,
        own: Duration,
        look: &[Vec<String>],
    ) -> anyhow::Result<()> {
        let limit = self.limit(own);
        self.show(argv, &format!("waits up to {} s: {what}", limit.as_secs()));
        if self.dry_run() {
            return Ok(());
        }
        let start = Instant::now();
        let beat = |elapsed: Duration| {
            self.say(&format!(
                "  … still waiting for {what} ({} s)",
                elapsed.as_secs()
            ));
        };
        // kubectl's own --timeout ends it; the process gets a little more.
        let grace = (limit / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
        let ran = spawn(
            argv,
            limit + grace,
            if self.on_stderr {
                Stdout::ToStderr
            } else {
                Stdout::Inherit
            },
            Some(&beat),
        )?;
        let elapsed = start.elapsed().as_secs();
        let why = match ran {
            Ran::Done(out) if out.status.success() => {
                self.say(&format!("  ✓ {what} after {elapsed} s"));
                return Ok(());
            }
            Ran::Done(out) => crate::proc::tail(String::from_utf8_lossy(&out.stderr).trim(), 5),
            Ran::TimedOut => format!("no answer within {} s", limit.as_secs()),
        };
        let mut next = String::new();
        for argv in look {
            next.push_str(&format!("\n  $ {}", command_line(argv)));
        }
        bail!(
            "{what}: not within {} s (waited {elapsed} s): {why}\nlook at:{next}\n(a cold laptop may need longer: --timeout caps every wait, it never extends one; run the command again to wait more)",
            limit.as_secs()
        )
    }

    fn execute(
        &self,
        argv: &[String],
        why: &str,
        capture: bool,
        own: Duration,
    ) -> anyhow::Result<Option<Output>> {
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
        let limit = self.limit(own);
        match spawn(argv, limit, stdout, None)? {
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
            Ran::TimedOut => bail!(timeout_message(argv, limit)),
        }
    }
}

fn timeout_message(argv: &[String], limit: Duration) -> String {
    format!(
        "`{}` did not finish within {} s and was stopped; look at the cluster with `cargo xtask cluster status`",
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

/// Runs `argv` from the repository root, stopping it after `limit`;
/// `beat` is called every 30 s while it runs.
fn spawn(
    argv: &[String],
    limit: Duration,
    stdout: Stdout,
    beat: Option<&dyn Fn(Duration)>,
) -> anyhow::Result<Ran> {
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
    let mut next_beat = Duration::from_secs(30);
    loop {
        if let Some(out) = handle.try_wait()? {
            return Ok(Ran::Done(out.clone()));
        }
        if start.elapsed() >= limit {
            let _ = handle.kill();
            return Ok(Ran::TimedOut);
        }
        if let Some(beat) = beat
            && start.elapsed() >= next_beat
        {
            beat(start.elapsed());
            next_beat += Duration::from_secs(30);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The cluster name, from `k3d.yaml` (`metadata.name`).
pub fn cluster_name() -> String {
    std::fs::read_to_string(paths::root().join("k3d.yaml"))
        .ok()
        .and_then(|text| metadata_name(&text))
        .unwrap_or_else(|| "microservices".to_string())
}

/// `metadata.name` of a YAML document, read by the manifests' parser (no
/// second YAML crate to compile for one field).
fn metadata_name(text: &str) -> Option<String> {
    let doc = crate::k8s::yaml::parse(text, 0).ok().flatten()?;
    let name = doc.entry("metadata")?.1.entry("name")?.1.scalar()?;
    Some(name.text.clone())
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
    let limit = r.limit(waits::NODES);
    r.wait(
        &r.kubectl(&[
            "wait",
            "--for=condition=Ready",
            "nodes",
            "--all",
            &format!("--timeout={}s", limit.as_secs()),
        ]),
        "every node Ready",
        waits::NODES,
        &[
            r.kubectl(&["get", "nodes", "--output", "wide"]),
            r.kubectl(&["describe", "nodes"]),
            strings(&[
                "docker",
                "ps",
                "--all",
                "--filter",
                &format!("name=k3d-{}", cluster_name()),
            ]),
        ],
    )
}

/// `cargo xtask cluster create`.
pub fn create(options: Options) -> anyhow::Result<bool> {
    let r = Runner::new(options);
    r.need(&[Tool::K3d, Tool::Kubectl, Tool::Docker])?;
    let name = cluster_name();
    let cache = offline::cluster_cache(&r)?;
    let mut existed = true;
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
            existed = false;
            let mut argv = strings(&["k3d", "cluster", "create", "--config", "k3d.yaml"]);
            if let Some((cache, needs)) = &cache {
                offline::load_images(&r, cache, needs, offline::Use::Cluster)?;
                argv.extend(offline::node_images_volume(cache));
            }
            r.act(
                &argv,
                match (r.dry_run(), cache.is_some()) {
                    (true, false) => "when it is not there",
                    (true, true) => {
                        "when it is not there; k3s imports the offline cache's node images as it starts"
                    }
                    (false, true) => "k3s imports the offline cache's node images as it starts",
                    (false, false) => "",
                },
            )?;
        }
    }
    wait_for_nodes(&r)?;
    if let Some((cache, needs)) = &cache
        && existed
    {
        offline::import_into_existing(&r, cache, needs)?;
    }
    if !r.dry_run() {
        println!(
            "✓ cluster {name} is ready (kubectl context k3d-{name}; push images to {REGISTRY_PUSH}/NAME:TAG, manifests pull them as {REGISTRY_PULL}/NAME:TAG)\nnext: cargo xtask cnpg install (or cargo xtask up for both)"
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
    let chart = match offline::chart_cache(&r)? {
        // Absolute: helm looks a relative name that is no file up in its repositories.
        Some(file) => file.display().to_string(),
        None => {
            r.act(
                &strings(&["helm", "repo", "add", "cnpg", CNPG_REPO, "--force-update"]),
                "the chart repository",
            )?;
            "cnpg/cloudnative-pg".to_string()
        }
    };
    let operator = r.limit(waits::OPERATOR);
    let look = [
        r.kubectl(&["--namespace", CNPG_NAMESPACE, "get", "pods"]),
        r.kubectl(&[
            "--namespace",
            CNPG_NAMESPACE,
            "describe",
            "deployment",
            CNPG_DEPLOYMENT,
        ]),
        r.kubectl(&[
            "--namespace",
            CNPG_NAMESPACE,
            "logs",
            &format!("deployment/{CNPG_DEPLOYMENT}"),
        ]),
        r.kubectl(&[
            "--namespace",
            CNPG_NAMESPACE,
            "get",
            "events",
            "--sort-by=.lastTimestamp",
        ]),
    ];
    // helm's own --timeout defaults to 5 minutes: too short for a cold pull.
    r.wait(
        &r.helm(&[
            "upgrade",
            "--install",
            "cnpg",
            &chart,
            "--version",
            CNPG_CHART_VERSION,
            "--namespace",
            CNPG_NAMESPACE,
            "--create-namespace",
            "--wait",
            "--timeout",
            &format!("{}s", operator.as_secs()),
        ]),
        &format!("CloudNativePG {CNPG_OPERATOR_VERSION} installed or upgraded, its pods ready"),
        waits::OPERATOR,
        &look,
    )?;
    r.wait(
        &r.kubectl(&[
            "--namespace",
            CNPG_NAMESPACE,
            "rollout",
            "status",
            &format!("deployment/{CNPG_DEPLOYMENT}"),
            &format!("--timeout={}s", operator.as_secs()),
        ]),
        "the operator running",
        waits::OPERATOR,
        &look,
    )?;
    r.wait(
        &r.kubectl(&[
            "wait",
            "--for=condition=Established",
            "crd/clusters.postgresql.cnpg.io",
            "--timeout=60s",
        ]),
        "the Cluster resource type served",
        Duration::from_secs(60),
        &[r.kubectl(&[
            "get",
            "crd",
            "clusters.postgresql.cnpg.io",
            "--output",
            "yaml",
        ])],
    )?;
    if !r.dry_run() {
        println!(
            "✓ CloudNativePG {CNPG_OPERATOR_VERSION} (chart {CNPG_CHART_VERSION}) is installed\nnext: cargo xtask deploy"
        );
    }
    Ok(true)
}

/// `cargo xtask up`: the cluster, then the operator.
pub fn up(options: Options) -> anyhow::Result<bool> {
    Ok(create(options.clone())? && cnpg_install(options)?)
}

/// What `deploy` deploys, and how.
#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    /// The raw manifests of k8s/ instead of the Helm chart.
    pub manifests: bool,
    /// The reference solution instead of the trainee's exercise.
    pub solutions: bool,
    /// Any IBDb folder (a trainee's copy); checked like exercises/06-ibdb.
    pub dir: Option<PathBuf>,
}

/// Which IBDb `deploy` builds, and how to say it.
fn ibdb_source(deploy: &DeployOptions) -> anyhow::Result<(PathBuf, String, bool)> {
    let root = paths::root();
    Ok(match &deploy.dir {
        Some(dir) => {
            let dir = std::path::absolute(dir)?;
            let text = format!("the IBDb in {}", paths::show(&dir));
            (dir, text, true)
        }
        None if deploy.solutions => (
            root.join("solutions/06-ibdb"),
            "the reference IBDb (solutions/06-ibdb, --solutions)".into(),
            false,
        ),
        None => (
            root.join("exercises/06-ibdb"),
            "your IBDb (exercises/06-ibdb; --solutions deploys the reference)".into(),
            true,
        ),
    })
}

/// A trainee's IBDb is deployed only once stage 06's check passes on it.
fn stage_06_gate(r: &Runner, dir: &Path) -> anyhow::Result<()> {
    let shown = paths::show(dir);
    if r.dry_run() {
        println!(
            "# first: stage 06's check on {shown} (as `cargo xtask verify 06 --dir {shown}`); deploy refuses while it fails"
        );
        return Ok(());
    }
    println!("# first: stage 06's check on {shown}, so what runs on the cluster works");
    let stage = crate::stages::find("06")?;
    let printer = crate::report::Printer::new(false);
    let result = crate::stages::run_stage(stage, dir, &printer);
    match result.status {
        crate::report::Status::Passed => Ok(()),
        crate::report::Status::Skipped => {
            let why: Vec<String> = result.checks.iter().map(|c| c.message.clone()).collect();
            println!(
                "⊘ stage 06's check could not run here ({}); deploying {shown} unchecked",
                why.join("; ")
            );
            Ok(())
        }
        crate::report::Status::Failed => {
            let failed: Vec<&str> = result
                .checks
                .iter()
                .filter(|c| c.status == crate::report::Status::Failed)
                .map(|c| c.check.as_str())
                .collect();
            bail!(
                "{shown} does not pass stage 06's check yet (failed: {}); nothing was deployed. Make it pass (`cargo xtask verify 06`, the output above says what is wrong), or deploy the reference solution with `cargo xtask deploy --solutions`",
                failed.join(", ")
            )
        }
    }
}

/// Copies the manifests of `from` to `to`, naming `image` instead of the
/// release image of IBDb.
fn render_manifests(from: &Path, to: &Path, image: &str) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to)?;
    let release = format!("image: {IBDB_REPOSITORY}:{IBDB_VERSION}");
    let mut replaced = false;
    for file in crate::k8s::yaml_files(from)? {
        let text = std::fs::read_to_string(&file)?;
        replaced |= text.contains(&release);
        let text = text.replace(&release, &format!("image: {image}"));
        std::fs::write(to.join(file.file_name().context("a file name")?), text)?;
    }
    anyhow::ensure!(
        replaced,
        "no manifest in {} names `{release}`; the image just built cannot be set",
        paths::show(from)
    );
    Ok(())
}

/// The objects of `k8s/` that the Helm chart makes too (same names).
const MANIFEST_OBJECTS: &[&str] = &[
    "k8s/deployment.yaml",
    "k8s/service.yaml",
    "k8s/configmap.yaml",
    "k8s/database.yaml",
];

/// `cargo xtask deploy`: IBDb and its database, with Helm (or the raw manifests).
pub fn deploy(options: Options, deploy: DeployOptions) -> anyhow::Result<bool> {
    let r = Runner::new(options);
    r.need(&[Tool::Docker, Tool::Kubectl, Tool::Helm])?;
    let (dir, which, gate) = ibdb_source(&deploy)?;
    println!("deploying {which}");
    // The exercise has no Dockerfile of its own: it is built with the
    // reference one (stage 03's recipe), as skaffold.yaml does.
    let dockerfile = if dir.join("Dockerfile").is_file() {
        dir.join("Dockerfile")
    } else {
        paths::root().join("solutions/06-ibdb/Dockerfile")
    };
    if !r.dry_run() && !dockerfile.is_file() {
        bail!(
            "{} is missing: IBDb's image cannot be built",
            paths::show(&dockerfile)
        );
    }
    if gate {
        stage_06_gate(&r, &dir)?;
    }
    if let Some((cache, needs)) = offline::deploy_cache(&r, &dockerfile)? {
        offline::load_images(&r, &cache, &needs, offline::Use::Builds)?;
    }

    // Build, tag by content, push through the host port.
    let iid = paths::target_dir().join("cluster").join(if r.dry_run() {
        "ibdb-<pid>.iid".to_string()
    } else {
        format!("ibdb-{}.iid", std::process::id())
    });
    if !r.dry_run() {
        std::fs::create_dir_all(iid.parent().expect("a parent"))?;
        let _ = std::fs::remove_file(&iid);
    }
    let dir_text = paths::show(&dir);
    let iid_text = paths::show(&iid);
    r.act_for(
        &strings(&[
            "docker",
            "build",
            "--file",
            &paths::show(&dockerfile),
            "--iidfile",
            &iid_text,
            &dir_text,
        ]),
        &format!(
            "IBDb's image; a first build compiles every crate (up to {} min)",
            r.limit(waits::BUILD).as_secs() / 60
        ),
        waits::BUILD,
    )?;
    let id = if r.dry_run() {
        "<image id>".to_string()
    } else {
        std::fs::read_to_string(&iid)
            .with_context(|| format!("docker build wrote no image id to {iid_text}"))?
            .trim()
            .to_string()
    };
    if !r.dry_run() {
        let _ = std::fs::remove_file(&iid);
    }
    let short: String = id.trim_start_matches("sha256:").chars().take(12).collect();
    let tag = if r.dry_run() {
        format!("{IBDB_VERSION}-<first 12 of the image id>")
    } else {
        format!("{IBDB_VERSION}-{short}")
    };
    let pushed = format!("{IBDB_PUSH_REPOSITORY}:{tag}");
    r.act(
        &strings(&["docker", "tag", &id, &pushed]),
        "a new tag per build, so every node pulls it",
    )?;
    r.act(
        &strings(&["docker", "push", &pushed]),
        &format!("through the registry's host port; the nodes pull it as {IBDB_REPOSITORY}:{tag}"),
    )?;
    r.act(
        &r.kubectl(&["apply", "--filename", "k8s/00-namespace.yaml"]),
        "the namespace, enforcing the restricted Pod Security Standard",
    )?;

    if deploy.manifests {
        // Helm would not adopt objects kubectl made, nor kubectl keep Helm's
        // release record right: one owner at a time.
        let release = r.probe(
            &r.helm(&["status", IBDB_RELEASE, "--namespace", IBDB_NAMESPACE]),
            "is IBDb installed with Helm?",
        )?;
        let uninstall = r.helm(&[
            "uninstall",
            IBDB_RELEASE,
            "--namespace",
            IBDB_NAMESPACE,
            "--wait",
        ]);
        let why =
            "the Helm release owns objects of the same names (its database too): removed first";
        match release {
            Some(Ok(_)) => r.act(&uninstall, why)?,
            None => r.show(&uninstall, &format!("only when there is one: {why}")),
            Some(Err(_)) => {}
        }
        // k8s/ names the release tag; the copy names the image just built,
        // so one apply rolls out the right pods.
        let rendered = paths::target_dir().join("cluster").join("k8s");
        let image = format!("{IBDB_REPOSITORY}:{tag}");
        if !r.dry_run() {
            render_manifests(&paths::root().join("k8s"), &rendered, &image)?;
        }
        r.act(
            &r.kubectl(&["apply", "--filename", &paths::show(&rendered)]),
            &format!("the manifests of k8s/, copied with image {image}"),
        )?;
    } else {
        let owner = r.query(
            &r.kubectl_ibdb(&[
                "get",
                "deployment",
                "ibdb",
                "--ignore-not-found",
                "--output",
                r"jsonpath={.metadata.name}/{.metadata.labels.app\.kubernetes\.io/managed-by}",
            ]),
            "was IBDb deployed from k8s/ before?",
        )?;
        let mut delete = r.kubectl(&["delete", "--ignore-not-found", "--wait=true"]);
        for file in MANIFEST_OBJECTS {
            delete.push("--filename".into());
            delete.push(file.to_string());
        }
        let why = "objects applied from k8s/ have the names the chart uses (the database too): removed first";
        match owner.map(|o| o.stdout.trim().to_string()) {
            None => r.show(&delete, &format!("only when k8s/ was applied: {why}")),
            Some(o) if o == "ibdb/" => r.act(&delete, why)?,
            Some(_) => {}
        }
        r.act(
            &r.helm(&[
                "upgrade",
                "--install",
                IBDB_RELEASE,
                "helm/ibdb",
                "--namespace",
                IBDB_NAMESPACE,
                "--set",
                &format!("image.repository={IBDB_REPOSITORY}"),
                "--set",
                &format!("image.tag={tag}"),
                "--set",
                "database.create=true",
            ]),
            "IBDb and its CNPG cluster",
        )?;
    }

    let database = r.limit(waits::DATABASE);
    r.wait(
        &r.kubectl_ibdb(&[
            "wait",
            "--for=condition=Ready",
            &format!("cluster/{IBDB_DATABASE}"),
            &format!("--timeout={}s", database.as_secs()),
        ]),
        "PostgreSQL primary and replicas Ready (each node pulls the PostgreSQL image first)",
        waits::DATABASE,
        &[
            r.kubectl_ibdb(&["get", "cluster", IBDB_DATABASE]),
            r.kubectl_ibdb(&["describe", "cluster", IBDB_DATABASE]),
            r.kubectl_ibdb(&[
                "get",
                "pods",
                "--selector",
                &format!("cnpg.io/cluster={IBDB_DATABASE}"),
            ]),
            r.kubectl_ibdb(&["get", "events", "--sort-by=.lastTimestamp"]),
            r.kubectl(&[
                "--namespace",
                CNPG_NAMESPACE,
                "logs",
                &format!("deployment/{CNPG_DEPLOYMENT}"),
            ]),
        ],
    )?;
    r.act(
        &r.kubectl_ibdb(&["get", "secret", &format!("{IBDB_DATABASE}-app")]),
        "CNPG wrote the credentials",
    )?;
    let ibdb = r.limit(waits::IBDB);
    r.wait(
        &r.kubectl_ibdb(&[
            "rollout",
            "status",
            "deployment/ibdb",
            &format!("--timeout={}s", ibdb.as_secs()),
        ]),
        "IBDb's pods ready (pods that crash-looped without a database restart after a back-off)",
        waits::IBDB,
        &[
            r.kubectl_ibdb(&["get", "pods", "--selector", "app.kubernetes.io/name=ibdb"]),
            r.kubectl_ibdb(&["describe", "deployment", "ibdb"]),
            r.kubectl_ibdb(&["logs", "deployment/ibdb", "--all-containers", "--previous"]),
            r.kubectl_ibdb(&["get", "events", "--sort-by=.lastTimestamp"]),
        ],
    )?;
    if !r.dry_run() {
        println!(
            "✓ {which} is deployed as {IBDB_REPOSITORY}:{tag}\nnext: kubectl --namespace {IBDB_NAMESPACE} port-forward svc/ibdb 8000:8000, then curl localhost:8000/books"
        );
    }
    Ok(true)
}

/// Whether kubectl reaches a cluster (for stage 04's live check).
pub fn reachable() -> Result<(), String> {
    let argv = strings(&["kubectl", "cluster-info", "--request-timeout=5s"]);
    match spawn(&argv, Duration::from_secs(10), Stdout::Capture, None) {
        Ok(Ran::Done(out)) if out.status.success() => Ok(()),
        Ok(Ran::Done(out)) => Err(crate::proc::tail(
            String::from_utf8_lossy(&out.stderr).trim(),
            1,
        )),
        Ok(Ran::TimedOut) => Err("kubectl cluster-info did not answer within 10 s".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// The address `docker push` uses for an image the manifests name by the
/// nodes' address: `registry.localhost:5005/x:t` → `localhost:5005/x:t`.
pub fn push_name(image: &str) -> String {
    match image.strip_prefix(&format!("{REGISTRY_PULL}/")) {
        Some(rest) => format!("{REGISTRY_PUSH}/{rest}"),
        None => image.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cluster_name_is_read_from_k3d_yaml() {
        let text = "# a comment\napiVersion: k3d.io/v1alpha5\nkind: Simple\nmetadata:\n  name: \"lab\"\nservers: 1\n";
        assert_eq!(super::metadata_name(text).as_deref(), Some("lab"));
        assert_eq!(super::metadata_name("kind: Simple\n"), None);
        // The kit's own file names the cluster the docs and tests use.
        assert_eq!(super::cluster_name(), "microservices");
    }
}
