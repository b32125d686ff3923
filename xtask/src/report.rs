//! What a check found, printed for people (✓/✗) or collected as JSON.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

/// `--json`: people's output goes to stderr, stdout holds one JSON document.
static JSON: AtomicBool = AtomicBool::new(false);

/// The report so far, for the JSON document an interrupt still owes.
static SO_FAR: Mutex<Option<Report>> = Mutex::new(None);

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

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub target: String,
    pub passed: bool,
    /// The xtask's exit code: 0 passed, 1 a check failed, 2 it could not
    /// run (a usage error), 130 interrupted.
    pub exit_code: i32,
    /// Why there is no (complete) report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ReportError>,
    pub stages: Vec<StageResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportError {
    /// "usage" (the arguments), "interrupted" (Ctrl-C, SIGTERM) or
    /// "internal" (a bug in the xtask).
    pub kind: &'static str,
    pub message: String,
}

impl Report {
    pub fn failed(kind: &'static str, message: String, exit_code: i32) -> Report {
        Report {
            target: String::new(),
            passed: false,
            exit_code,
            error: Some(ReportError { kind, message }),
            stages: Vec::new(),
        }
    }
}

/// Says this run owes a JSON document (before a `Printer` exists, so an
/// early interrupt still prints one).
pub fn set_json() {
    JSON.store(true, Ordering::Relaxed);
}

/// Whether this run prints a JSON report (set by `Printer::new`).
pub fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// Keeps what the report holds so far, for [`interrupted`].
pub fn so_far(report: &Report) {
    if let Ok(mut slot) = SO_FAR.lock() {
        *slot = Some(report.clone());
    }
}

/// On an interrupt with `--json`: the report so far, as an error document.
pub fn interrupted(exit_code: i32) {
    ended_early(
        "interrupted",
        "interrupted (Ctrl-C or SIGTERM) before the checks ended; the processes they started were stopped; `stages` holds the stages checked so far".into(),
        exit_code,
    );
}

/// With `--json`: the report so far, as an error document of `kind`.
pub fn ended_early(kind: &'static str, message: String, exit_code: i32) {
    if !json() {
        return;
    }
    let mut report = SO_FAR
        .try_lock()
        .ok()
        .and_then(|slot| slot.clone())
        .unwrap_or_else(|| Report::failed(kind, String::new(), exit_code));
    report.passed = false;
    report.exit_code = exit_code;
    report.error = Some(ReportError { kind, message });
    print_json(&report);
}

/// Prints the one JSON document of this run (a second call does nothing,
/// so an interrupt during the summary cannot add another).
pub fn print_json(report: &Report) {
    static PRINTED: AtomicBool = AtomicBool::new(false);
    if PRINTED.swap(true, Ordering::SeqCst) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, report);
    let _ = writeln!(out);
    let _ = out.flush();
}

/// Where progress goes: stderr with `--json`, else stdout.
fn progress_out() -> (Box<dyn Write>, bool) {
    if json() {
        let terminal = std::io::stderr().is_terminal();
        (Box::new(std::io::stderr()), terminal)
    } else {
        let terminal = std::io::stdout().is_terminal();
        (Box::new(std::io::stdout()), terminal)
    }
}

/// Whether progress can be redrawn in place (a terminal).
pub fn progress_is_live() -> bool {
    progress_out().1
}

/// A progress line that stays ("  · text"); clears a live line first.
pub fn progress_line(text: &str) {
    let (mut out, terminal) = progress_out();
    let clear = if terminal { "\r\x1b[2K" } else { "" };
    let _ = writeln!(out, "{clear}  · {text}");
    let _ = out.flush();
}

/// On a terminal: clears the live progress line, for output that follows
/// without a progress line of its own. Elsewhere: nothing.
pub fn progress_clear() {
    let (mut out, terminal) = progress_out();
    if terminal {
        let _ = write!(out, "\r\x1b[2K");
        let _ = out.flush();
    }
}

/// On a terminal: redraws the one live progress line. Elsewhere: nothing
/// (a log should not get a line per tick).
pub fn progress_live(text: &str) {
    let (mut out, terminal) = progress_out();
    if terminal {
        let _ = write!(out, "\r\x1b[2K  · {text}");
        let _ = out.flush();
    }
}

/// The one-line headline of a failure from what was seen: its first line,
/// without a trailing "…; its last output:" that only introduces the lines
/// below (a summary line must not end in a colon that leads nowhere).
pub fn headline(seen: &str) -> String {
    let first = seen.lines().next().unwrap_or("").trim_end();
    let Some(intro) = first.strip_suffix(':') else {
        return first.to_string();
    };
    match intro.rfind("; ") {
        Some(at) => intro[..at].to_string(),
        None => intro.to_string(),
    }
}

/// `seen` without the part of its first line that is `headline`, which is
/// printed just above it; what is left (an introduction such as "its last
/// output:", then the program's output) stays. Empty when nothing is left.
fn without_headline(seen: &str, headline: &str) -> String {
    let (first, rest) = seen.split_once('\n').unwrap_or((seen, ""));
    let Some(left) = first
        .strip_prefix(headline)
        .filter(|_| !headline.is_empty())
    else {
        return seen.to_string();
    };
    let left = left.trim_start_matches([';', ',', ' ']).trim_end();
    match (left.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_string(),
        (false, true) => left.to_string(),
        (false, false) => format!("{left}\n{rest}"),
    }
}

/// Prints progress as it happens. With `--json`, people still see it on
/// stderr while stdout stays clean for the JSON report.
pub struct Printer {
    json: bool,
    quiet: bool,
}

impl Printer {
    pub fn new(json: bool) -> Self {
        JSON.store(json, Ordering::Relaxed);
        Printer { json, quiet: false }
    }

    /// Prints nothing: for a caller that reports the results itself (the
    /// self-test of the checks).
    pub fn quiet() -> Self {
        Printer {
            json: false,
            quiet: true,
        }
    }

    fn out(&self) -> Box<dyn Write> {
        if self.quiet {
            Box::new(std::io::sink())
        } else if self.json {
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
        // The headline is often the first line of `seen`: not twice.
        let seen = result
            .seen
            .as_deref()
            .map(|seen| without_headline(seen, &result.message));
        for (label, value) in [
            ("expected", result.expected.as_deref()),
            ("seen    ", seen.as_deref()),
            ("hint    ", result.hint.as_deref()),
        ] {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
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
            // Every failed step by name (a fix for the first rarely fixes
            // the others), then the first one's words.
            let failed: Vec<&str> = stage
                .checks
                .iter()
                .filter(|c| c.status == Status::Failed)
                .map(|c| c.check.as_str())
                .collect();
            let reason = match stage.status {
                Status::Failed if failed.len() > 1 => first(Status::Failed).map(|r| {
                    format!(
                        ": {} steps: {}; first: {r}",
                        failed.len(),
                        failed.join(", ")
                    )
                }),
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
            print_json(report);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{headline, without_headline};

    #[test]
    fn a_headline_does_not_end_in_an_introduction() {
        let seen = "the container stopped (exit code 101) before answering; its last output:\npanicked at src/main.rs:3";
        assert_eq!(
            headline(seen),
            "the container stopped (exit code 101) before answering"
        );
        assert_eq!(headline("it failed:\nerror[E0425]"), "it failed");
        assert_eq!(headline("status 500"), "status 500");
    }

    #[test]
    fn seen_does_not_repeat_the_headline() {
        let seen =
            "the container stopped (exit code 101) before answering; its last output:\npanicked";
        assert_eq!(
            without_headline(seen, &headline(seen)),
            "its last output:\npanicked"
        );
        assert_eq!(without_headline("still running", "still running"), "");
        assert_eq!(without_headline("a\nb", "a"), "b");
        // A message of its own: `seen` is shown whole.
        assert_eq!(without_headline("200 {}", "answered 200"), "200 {}");
    }
}
