//! The engine that checks one stage folder ([`Checker`], [`run_stage`]) and
//! the library of steps stage checks are made of. A stage module in
//! `stages/` uses these and never another stage.

pub mod build;
pub mod database;
pub mod image;
#[cfg(feature = "k8s")]
pub mod live;
pub mod proof;
pub mod service;
pub mod tree;

use std::path::{Path, PathBuf};

use crate::paths;
use crate::report::{CheckResult, Failure, Printer, StageResult, Status};
use crate::tools::Tool;

pub struct Stage {
    /// `NN-slug`: the folder, chapter and check name.
    pub id: &'static str,
    pub title: &'static str,
    /// Tools without which the stage cannot be checked at all (it is skipped).
    pub needs: &'static [Tool],
    /// Tools that only some checks use, and what is skipped without them.
    pub optional: &'static [(Tool, &'static str)],
    pub check: fn(&mut Checker) -> Result<(), Stop>,
    /// The starter's numbered TODOs the check's hints name (the self-test
    /// finds each in the starter, and every one the module names here).
    pub todos: &'static [u32],
    /// How the check proves itself: what it says about the starter, the
    /// solution and broken copies of it (`cargo xtask selftest`).
    pub proof: proof::Proof,
}

impl Stage {
    pub fn number(&self) -> &'static str {
        &self.id[..2]
    }

    /// Whether the stage's folders are cargo projects: what its reference
    /// folder is. Stage 08's holds a chart and a skaffold.yaml that build
    /// the trainee's own IBDb (`../06-ibdb`), so it has no Cargo.toml, and
    /// a copy of IBDb there would be a second one to keep up to date.
    pub fn is_cargo_project(&self) -> bool {
        paths::root()
            .join("solutions")
            .join(self.id)
            .join("Cargo.toml")
            .is_file()
    }

    /// Accepts `01`, `1`, `01-health` and `health`.
    pub fn matches(&self, name: &str) -> bool {
        let slug = &self.id[3..];
        name == self.id
            || name == slug
            || name == self.number()
            || name.parse::<u32>().ok() == self.number().parse().ok()
    }
}

/// A check ended the stage early (the rest of its checks cannot run).
#[derive(Debug)]
pub enum Stop {
    Failed,
    Skipped,
}

/// Runs one stage's checks against one folder and records what they find.
pub struct Checker<'a> {
    pub stage: &'static Stage,
    /// The stage folder being checked.
    pub dir: PathBuf,
    pub(crate) printer: &'a Printer,
    pub(crate) results: Vec<CheckResult>,
}

impl Checker<'_> {
    fn record(&mut self, check: &str, status: Status, message: String, failure: Option<Failure>) {
        let (expected, seen, hint) = match failure {
            Some(f) => (Some(f.expected), Some(f.seen), Some(f.hint)),
            None => (None, None, None),
        };
        let result = CheckResult {
            stage: self.stage.id.to_string(),
            check: check.to_string(),
            status,
            passed: status == Status::Passed,
            message,
            expected,
            seen,
            hint: hint.filter(|h| !h.is_empty()),
        };
        self.printer.check(&result);
        self.results.push(result);
    }

    pub fn pass(&mut self, check: &str, message: impl Into<String>) {
        self.record(check, Status::Passed, message.into(), None);
    }

    /// Records a failure that does not stop the stage (later checks still run).
    pub fn fail(&mut self, check: &str, message: impl Into<String>, failure: Failure) {
        self.record(check, Status::Failed, message.into(), Some(failure));
    }

    /// Records a failure and returns the `Stop` to end the stage with.
    pub fn stop(&mut self, check: &str, message: impl Into<String>, failure: Failure) -> Stop {
        self.fail(check, message, failure);
        Stop::Failed
    }

    /// Records a skipped check (it could not run here) with why and what to install.
    pub fn skip(&mut self, check: &str, reason: impl Into<String>, hint: impl Into<String>) {
        let failure = Failure::default().hint(hint);
        self.record(check, Status::Skipped, reason.into(), Some(failure));
    }

    /// Passes with `message(value)` or stops the stage with the failure.
    pub fn require<T>(
        &mut self,
        check: &str,
        result: Result<T, Failure>,
        message: impl FnOnce(&T) -> String,
    ) -> Result<T, Stop> {
        match result {
            Ok(value) => {
                let text = message(&value);
                self.pass(check, text);
                Ok(value)
            }
            Err(failure) => {
                let headline = crate::report::headline(&failure.seen);
                Err(self.stop(check, headline, failure))
            }
        }
    }

    /// Passes when `tool` works; otherwise skips (or, when the tool is required
    /// by `LAB_REQUIRE_*`, fails) `check` and returns false.
    pub fn has_tool(&mut self, tool: Tool, check: &str) -> bool {
        match tool.probe() {
            Ok(_) => true,
            Err(why) if tool.required() => {
                let failure =
                    Failure::new(format!("{} to work", tool.name()), why).hint(tool.install_hint());
                self.fail(check, format!("{} is required here", tool.name()), failure);
                false
            }
            Err(why) => {
                self.skip(check, why, tool.install_hint());
                false
            }
        }
    }

    pub fn note(&self, text: &str) {
        self.printer.note(text);
    }
}

pub fn run_stage(stage: &'static Stage, dir: &Path, printer: &Printer) -> StageResult {
    printer.stage_header(stage.id, stage.title, &paths::show(dir));
    let mut checker = Checker {
        stage,
        dir: dir.to_path_buf(),
        printer,
        results: Vec::new(),
    };
    let outcome = if !dir.is_dir() {
        let failure = Failure::new(format!("a folder {}", paths::show(dir)), "no such folder")
            .hint("check the path, or copy the stage folder from exercises/");
        Err(checker.stop("folder", "the stage folder is missing", failure))
    } else if stage.is_cargo_project() && !dir.join("Cargo.toml").is_file() {
        // Without it cargo would look upward and build whatever project
        // holds the folder (inside the kit: the kit's own xtask).
        let failure = Failure::new(
            format!("{}/Cargo.toml", paths::show(dir)),
            format!("no Cargo.toml in {}", paths::show(dir)),
        )
        .hint(format!(
            "every stage folder is a cargo project: give --dir the folder that holds the stage's Cargo.toml (like exercises/{}), or copy the missing Cargo.toml from there",
            stage.id
        ));
        Err(checker.stop("Cargo.toml", "the stage folder has no Cargo.toml", failure))
    } else {
        let mut ready = true;
        for &tool in stage.needs {
            ready &= checker.has_tool(tool, &format!("needs {}", tool.name()));
        }
        if ready {
            (stage.check)(&mut checker)
        } else {
            Err(Stop::Skipped)
        }
    };
    let results = checker.results;
    let status = if results.iter().any(|r| r.status == Status::Failed) {
        Status::Failed
    } else if matches!(outcome, Err(Stop::Skipped))
        || results.iter().all(|r| r.status == Status::Skipped)
    {
        Status::Skipped
    } else {
        Status::Passed
    };
    StageResult {
        stage: stage.id.to_string(),
        title: stage.title.to_string(),
        dir: paths::show(dir),
        status,
        checks: results,
    }
}
