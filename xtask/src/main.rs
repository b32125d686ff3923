//! `cargo xtask`: the one entry point of the kit. See `cargo xtask --help`.

// Without every optional part (features.rs), helpers only those parts call
// are unused; the default build (clippy, tests) still finds dead code.
#![cfg_attr(
    not(all(feature = "k8s", feature = "bench", feature = "ci")),
    allow(dead_code)
)]

mod book;
mod cargo;
mod carry;
mod check;
mod class;
mod db;
mod docker;
mod features;
mod hint;
mod http;
mod lint;
mod offline;
mod paths;
mod proc;
mod progress;
mod report;
mod scratch;
mod stages;
mod tools;
mod watch;
// The optional parts (features.rs): `cargo xtask` builds without them.
#[cfg(feature = "bench")]
mod bench;
#[cfg(feature = "k8s")]
mod cluster;
#[cfg(feature = "k8s")]
mod helm;
#[cfg(feature = "k8s")]
mod k8s;
#[cfg(feature = "ci")]
mod standins;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Microservices in Rust: set up, check and read the course"
)]
#[cfg_attr(
    not(all(feature = "k8s", feature = "bench", feature = "ci")),
    command(
        after_help = "More commands, built the first time you run one: up, deploy, down, chaos, cluster, cnpg, k8s, helm, tools, smoke, prefetch (Kubernetes), bench, docker standins (`cargo xtask help deploy`)."
    )
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check stages: your work in exercises/ (default), the solutions, or any folder.
    Verify {
        /// Stages to check, like `01`, `01-health` or `health` (default: all).
        stages: Vec<String>,
        /// Check solutions/ instead of exercises/.
        #[arg(long, conflicts_with = "dir")]
        solutions: bool,
        /// Check this folder: one stage folder (a trainee's copy) or a folder of them.
        #[arg(long, value_name = "PATH")]
        dir: Option<PathBuf>,
        /// Go on after a stage fails.
        #[arg(long)]
        keep_going: bool,
        /// Print a JSON report on stdout (progress still goes to stderr).
        #[arg(long)]
        json: bool,
    },
    /// Prove the stage checks: each starter fails, each solution passes, every
    /// declared broken copy is caught; chapter, SUMMARY and README list each stage.
    Selftest {
        /// Stages to prove (default: all).
        stages: Vec<String>,
    },
    /// Which tools are installed, how to install the rest, which stages can run here.
    Doctor,
    /// Check the kit itself: carried copies, stage folders, lockfile versions.
    Lint {
        /// Also: solutions rustfmt- and clippy-clean, starters compiling.
        #[arg(long)]
        code: bool,
    },
    /// Write the starters from their solutions and the files carried between
    /// solutions; files edited since the last sync are left alone (and named).
    Sync {
        /// Replace edited files too, after saving each as FILE.before-sync.
        #[arg(long)]
        force: bool,
    },
    /// Docker helpers for the container stages.
    #[cfg(feature = "ci")]
    Docker {
        #[command(subcommand)]
        action: DockerAction,
    },
    /// A PostgreSQL for your own experiments: `up`, `url`, `down`.
    Db {
        #[command(subcommand)]
        action: db::DbAction,
    },
    /// Measure things that are goals, not tests (`images`, `ibdb`, `middleware`).
    #[cfg(feature = "bench")]
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Build the guide (or `serve` it, or `check` it in headless Chromium).
    Book {
        #[command(subcommand)]
        action: Option<BookAction>,
    },
    /// Check your current stage again whenever you save a file of it; move on when it passes.
    Watch {
        /// Stages to work through, in course order (default: all).
        stages: Vec<String>,
        /// The folder holding the stage folders (default: exercises/).
        #[arg(long, value_name = "PATH")]
        dir: Option<PathBuf>,
    },
    /// Show the next folded hint of a stage (from its README), one more each time.
    Hint {
        /// The stage, like `01` (default: the one `watch` is on).
        stage: Option<String>,
        /// Only the hints of this TODO (the README's heading for it), the next one each time.
        #[arg(long, value_name = "N")]
        todo: Option<u32>,
        /// Show every hint of the stage again.
        #[arg(long)]
        all: bool,
        /// The folder holding the stage folders (default: exercises/).
        #[arg(long, value_name = "PATH")]
        dir: Option<PathBuf>,
    },
    /// For instructors: grade a folder of trainee clones (sandboxed in Docker).
    Class {
        #[command(subcommand)]
        action: class::ClassAction,
    },
    #[cfg(feature = "k8s")]
    #[command(flatten)]
    Kube(k8s::cli::KubeCommand),
}

#[cfg(feature = "ci")]
#[derive(Subcommand)]
enum DockerAction {
    /// Build offline stand-ins for the base images the Dockerfiles name (only missing ones).
    Standins {
        /// Rebuild them even when the tags exist.
        #[arg(long)]
        force: bool,
    },
}

#[cfg(feature = "bench")]
#[derive(Subcommand)]
enum BenchWhat {
    /// Image sizes, cold build vs rebuild, start to first 200, idle memory.
    Images,
    /// IBDb vs a bare axum+sqlx server: reads and writes on loopback,
    /// req/s, p50/p99/p99.9 and server CPU per request, in alternating rounds.
    Ibdb(bench::ibdb::Options),
    /// The instructions IBDb's middleware costs per request, counted by
    /// callgrind in-process: exact where timings are not.
    Middleware,
}

#[derive(Subcommand)]
enum BookAction {
    /// Build into book/book/html, failing on any broken link (the default).
    Build,
    /// Serve on localhost with live reload and open a browser.
    Serve,
    /// Build, then render every page in headless Chromium: pages render,
    /// diagrams become SVGs, screenshots go to target/book-screenshots.
    Check,
    /// Only install the pinned tools into target/tools, build nothing (CI
    /// installs them beside its tests, which must not see a half-built book).
    Tools,
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some(proc::WATCHDOG_ARG) {
        proc::watchdog();
        return ExitCode::SUCCESS;
    }
    if let Some(code) = features::hand_over_if_needed() {
        return code;
    }
    proc::install_interrupt_handler();
    // `verify --json` owes a script one JSON document, even for an error in
    // its arguments (exit code 2) or an interrupt (130, see proc.rs).
    let wants_json = {
        let args: Vec<String> = std::env::args().skip(1).collect();
        args.first().is_some_and(|a| a == "verify") && args.iter().any(|a| a == "--json")
    };
    if wants_json {
        report::set_json();
        // A bug in the xtask is a document too (exit code 101, as a panic).
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            default_hook(info);
            // A helper thread's panic does not end the run.
            if std::thread::current().name() != Some("main") {
                return;
            }
            report::ended_early(
                "internal",
                format!("the xtask itself failed (a bug, please report it): {info}"),
                101,
            );
        }));
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if wants_json && error.use_stderr() => {
            let _ = error.print();
            report::print_json(&report::Report::failed(
                "usage",
                error.render().to_string().trim().to_string(),
                2,
            ));
            return ExitCode::from(2);
        }
        Err(error) => error.exit(),
    };
    match run(cli.command) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            if wants_json {
                report::print_json(&report::Report::failed("usage", format!("{error:#}"), 2));
            }
            ExitCode::from(2)
        }
    }
}

/// Ok(false): the command ran and found problems; Err: it could not run.
fn run(command: Command) -> anyhow::Result<bool> {
    match command {
        Command::Verify {
            stages,
            solutions,
            dir,
            keep_going,
            json,
        } => stages::verify(stages::VerifyOptions {
            stages,
            solutions,
            dir,
            keep_going,
            json,
        }),
        Command::Selftest { stages: names } => {
            let chosen = if names.is_empty() {
                stages::STAGES.to_vec()
            } else {
                names
                    .iter()
                    .map(|n| stages::find(n))
                    .collect::<Result<_, _>>()?
            };
            Ok(check::proof::selftest(&chosen))
        }
        Command::Doctor => tools::doctor(stages::STAGES).map(|()| true),
        Command::Lint { code } => {
            let problems = lint::run(code);
            for problem in &problems {
                println!("✗ {problem}");
            }
            if problems.is_empty() {
                println!("✓ the kit is consistent");
            }
            Ok(problems.is_empty())
        }
        Command::Sync { force } => carry::sync(force),
        #[cfg(feature = "ci")]
        Command::Docker {
            action: DockerAction::Standins { force },
        } => standins::run(force),
        Command::Db { action } => db::run(action),
        #[cfg(feature = "bench")]
        Command::Bench { what } => match what {
            BenchWhat::Images => bench::images(),
            BenchWhat::Ibdb(options) => bench::ibdb::ibdb(&options),
            BenchWhat::Middleware => bench::middleware(),
        },
        #[cfg(feature = "k8s")]
        Command::Kube(command) => k8s::cli::run(command),
        Command::Class { action } => class::run(action),
        Command::Watch { stages, dir } => watch::run(stages, dir),
        Command::Hint {
            stage,
            todo,
            all,
            dir,
        } => hint::run(stage, todo, all, dir),
        Command::Book { action } => match action.unwrap_or(BookAction::Build) {
            BookAction::Build => book::build().map(|()| true),
            BookAction::Serve => book::serve().map(|()| true),
            BookAction::Check => book::check(),
            BookAction::Tools => book::install_tools().map(|_| true),
        },
    }
}
