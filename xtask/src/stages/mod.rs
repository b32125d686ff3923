//! The stages of the course, and `cargo xtask verify`, which checks them.
//!
//! Adding a stage: `exercises/NN-slug/`, `solutions/NN-slug/`,
//! `book/src/NN-slug.md` (listed in `book/src/SUMMARY.md` and in the
//! README's stage table), and a module `NN-slug.rs` here declaring its
//! `STAGE` (check, TODOs, proof), named in one line of `stages!` below.
//! `cargo xtask selftest NN` then proves it.

use std::path::PathBuf;

pub use crate::check::{Stage, run_stage};
use crate::paths;
use crate::report::{Printer, Report, Status};

/// Declares the stage modules (each `NN-slug.rs`, exporting a `STAGE`) and
/// `STAGES`, in course order: one line per stage.
macro_rules! stages {
    ($($file:literal => $module:ident,)*) => {
        $(
            #[path = $file]
            mod $module;
        )*
        /// Every stage, in course order.
        pub const STAGES: &[&Stage] = &[$(&$module::STAGE),*];
    };
}

stages! {
    "01-health.rs" => health,
    "02-dockerfile.rs" => dockerfile,
    "03-multi-stage.rs" => multi_stage,
    "04-kubernetes.rs" => kubernetes,
    "05-postgres.rs" => postgres,
    "06-ibdb.rs" => ibdb,
    "07-mocks.rs" => mocks,
    "08-ship.rs" => ship,
}

pub fn find(name: &str) -> anyhow::Result<&'static Stage> {
    STAGES
        .iter()
        .copied()
        .find(|s| s.matches(name))
        .ok_or_else(|| {
            let known: Vec<&str> = STAGES.iter().map(|s| s.id).collect();
            anyhow::anyhow!(
                "there is no stage {name:?}; the stages are: {}",
                known.join(", ")
            )
        })
}

/// Where `cargo xtask verify` looks.
pub enum Target {
    /// `exercises/` or `solutions/` (or a folder laid out like them).
    Tree(PathBuf),
    /// One stage folder, for example a trainee's copy of `01-health`.
    Stage(PathBuf),
}

pub struct VerifyOptions {
    pub stages: Vec<String>,
    pub solutions: bool,
    pub dir: Option<PathBuf>,
    pub keep_going: bool,
    pub json: bool,
}

fn looks_like_stage_id(name: &str) -> Option<&'static Stage> {
    STAGES.iter().copied().find(|s| s.id == name)
}

/// `cargo xtask verify`: returns whether every stage checked passed.
pub fn verify(options: VerifyOptions) -> anyhow::Result<bool> {
    let target = match &options.dir {
        None if options.solutions => Target::Tree(paths::root().join("solutions")),
        None => Target::Tree(paths::root().join("exercises")),
        Some(dir) => {
            let dir = std::path::absolute(dir)?;
            anyhow::ensure!(
                dir.is_dir(),
                "--dir {}: no such folder; give a stage folder (like exercises/01-health) or a folder of them",
                dir.display()
            );
            let has_stage_children = STAGES.iter().any(|s| dir.join(s.id).is_dir());
            if has_stage_children {
                Target::Tree(dir)
            } else {
                Target::Stage(dir)
            }
        }
    };

    // Which stages, and which folder each is checked in.
    let mut plan: Vec<(&'static Stage, PathBuf)> = Vec::new();
    match &target {
        Target::Tree(tree) => {
            let chosen: Vec<&'static Stage> = if options.stages.is_empty() {
                STAGES.to_vec()
            } else {
                options
                    .stages
                    .iter()
                    .map(|s| find(s))
                    .collect::<Result<_, _>>()?
            };
            for stage in chosen {
                plan.push((stage, tree.join(stage.id)));
            }
        }
        Target::Stage(dir) => {
            let stage = match options.stages.as_slice() {
                [one] => find(one)?,
                [] => {
                    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    looks_like_stage_id(name).ok_or_else(|| {
                        anyhow::anyhow!(
                            "--dir {}: cannot tell which stage this folder is; name it, for example `cargo xtask verify 01 --dir {}`",
                            dir.display(),
                            dir.display()
                        )
                    })?
                }
                _ => anyhow::bail!(
                    "--dir with a single stage folder checks one stage; name at most one"
                ),
            };
            plan.push((stage, dir.clone()));
        }
    }

    let printer = Printer::new(options.json);
    let mut report = Report {
        target: match &target {
            Target::Tree(t) | Target::Stage(t) => paths::show(t),
        },
        passed: true,
        exit_code: 0,
        error: None,
        stages: Vec::new(),
    };
    crate::report::so_far(&report);
    let count = plan.len();
    for (done, (stage, dir)) in plan.into_iter().enumerate() {
        let result = run_stage(stage, &dir, &printer);
        let failed = result.status == Status::Failed;
        report.passed &= !failed;
        report.exit_code = if report.passed { 0 } else { 1 };
        report.stages.push(result);
        crate::report::so_far(&report);
        if failed && !options.keep_going {
            // Only worth saying when stages were left unchecked.
            if done + 1 < count {
                printer.note("stopping at the first failing stage (--keep-going checks the rest)");
            }
            break;
        }
    }
    printer.summary(&report);
    Ok(report.passed)
}
