//! What a check found, printed for people (✓/✗) or collected as JSON.

use std::io::Write;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Failed,
    Skipped,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Passed => "✓",
            Status::Failed => "✗",
            Status::Skipped => "⊘",
        }
    }
}

/// Why a check did not pass: what it wanted, what it got, and what to do.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    pub expected: String,
    pub seen: String,
    pub hint: String,
}

impl Failure {
    pub fn new(expected: impl Into<String>, seen: impl Into<String>) -> Self {
        Failure {
            expected: expected.into(),
            seen: seen.into(),
            hint: String::new(),
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }
}

/// One line of the report; `--json` prints these as they are.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub stage: String,
    pub check: String,
    pub status: Status,
    pub passed: bool,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageResult {
    pub stage: String,
    pub title: String,
    pub dir: String,
    pub status: Status,
    pub checks: Vec<CheckResult>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub target: String,
    pub passed: bool,
    pub stages: Vec<StageResult>,
}

/// Prints progress as it happens. With `--json`, people still see it on
/// stderr while stdout stays clean for the JSON report.
pub struct Printer {
    json: bool,
}

impl Printer {
    pub fn new(json: bool) -> Self {
        Printer { json }
    }

    fn out(&self) -> Box<dyn Write> {
        if self.json {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        }
    }

    pub fn stage_header(&self, stage: &str, title: &str, dir: &str) {
        let _ = writeln!(self.out(), "\n━━ {stage}: {title}  ({dir})");
    }

    pub fn note(&self, text: &str) {
        let _ = writeln!(self.out(), "  · {text}");
    }

    pub fn check(&self, result: &CheckResult) {
        let mut out = self.out();
        let _ = writeln!(
            out,
            "  {} {}: {}",
            result.status.mark(),
            result.check,
            result.message
        );
        for (label, value) in [
            ("expected", &result.expected),
            ("seen    ", &result.seen),
            ("hint    ", &result.hint),
        ] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                let mut lines = value.lines();
                let _ = writeln!(out, "      {label}: {}", lines.next().unwrap_or(""));
                for line in lines {
                    let _ = writeln!(out, "                {line}");
                }
            }
        }
    }

    pub fn summary(&self, report: &Report) {
        let mut out = self.out();
        let _ = writeln!(out, "\nSummary ({}):", report.target);
        for stage in &report.stages {
            let first = |status: Status| {
                stage.checks.iter().find(|c| c.status == status).map(|c| {
                    let hint = c
                        .hint
                        .as_deref()
                        .map(|h| format!(" ({h})"))
                        .unwrap_or_default();
                    format!("{}: {}{hint}", c.check, c.message)
                })
            };
            let skipped = stage
                .checks
                .iter()
                .filter(|c| c.status == Status::Skipped)
                .count();
            let reason = match stage.status {
                Status::Failed => first(Status::Failed).map(|r| format!(": {r}")),
                Status::Skipped => first(Status::Skipped).map(|r| format!(": {r}")),
                Status::Passed if skipped > 0 => first(Status::Skipped)
                    .map(|r| format!(", {skipped} check(s) skipped; first: {r}")),
                Status::Passed => None,
            }
            .unwrap_or_default();
            let word = match stage.status {
                Status::Passed => "passed",
                Status::Failed => "FAILED",
                Status::Skipped => "skipped",
            };
            let _ = writeln!(
                out,
                "  {} {:<16} {word}{reason}",
                stage.status.mark(),
                stage.stage
            );
        }
        if self.json {
            let _ = serde_json::to_writer_pretty(std::io::stdout(), report);
            println!();
        }
    }
}
