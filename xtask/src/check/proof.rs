//! The self-test of the stage checks, the same for every stage, from what
//! each stage declares (`Stage::todos` and `Stage::proof`): the starter
//! fails as declared, the solution passes, every declared mutant (a broken
//! copy of the solution) is caught with its expected message, every TODO a
//! hint names is in the starter, and the chapter, `book/src/SUMMARY.md` and
//! the README's stage table list the stage. `cargo xtask selftest` runs it;
//! the kit's test suite runs that for every stage.

use std::path::Path;

use super::{Stage, run_stage};
use crate::paths;
use crate::report::{CheckResult, Printer, StageResult, Status};
use crate::tools::Tool;

/// How a stage's check proves itself.
pub struct Proof {
    /// What the check says about the untouched starter (it must fail).
    pub starter: Expect,
    /// What it says about the solution besides passing: checks that must
    /// have run, and counts.
    pub solution: Expect,
    /// Broken copies and what the check must say about each.
    pub mutants: &'static [Mutant],
}

/// One broken copy of a stage folder.
pub struct Mutant {
    /// The bug, in a few words.
    pub name: &'static str,
    /// The folder the copy starts from.
    pub base: Base,
    pub edits: &'static [Edit],
    /// Tools the expectation needs beyond the stage's (skipped without).
    pub needs: &'static [Tool],
    pub expect: Expect,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Base {
    Solution,
    Starter,
}

/// A change to one file of the copy.
pub enum Edit {
    /// The first occurrence of `from` becomes `to` (it must occur).
    Replace {
        file: &'static str,
        from: &'static str,
        to: &'static str,
    },
    /// The file is deleted.
    Remove(&'static str),
    /// Every line that starts (after indentation) with the text is dropped.
    DropLines {
        file: &'static str,
        starting: &'static str,
    },
}

/// Shorthand for [`Edit::Replace`].
pub const fn replace(file: &'static str, from: &'static str, to: &'static str) -> Edit {
    Edit::Replace { file, from, to }
}

/// What one run of the check must report. Texts may name a line of the
/// checked copy as `{line:FILE:TEXT}`: the number of the first line of FILE
/// containing TEXT.
#[derive(Clone, Copy)]
pub struct Expect {
    /// Checks that must fail.
    pub failed: &'static [&'static str],
    /// No other check may fail (hadolint's findings aside, unless named:
    /// it runs only where installed).
    pub only: bool,
    /// At least one of these must fail.
    pub any_failed: &'static [&'static str],
    /// Checks that must have run and passed.
    pub passed: &'static [&'static str],
    /// Checks that must have been skipped.
    pub skipped: &'static [&'static str],
    /// The check whose words `seen` and `hint` are looked for in (default:
    /// the first of `failed`).
    pub check: &'static str,
    /// Texts the check's `seen` must contain.
    pub seen: &'static [&'static str],
    /// Text its hint must contain.
    pub hint: &'static str,
    /// Text its one-line message must contain.
    pub message: &'static str,
    /// At least this many checks whose names start with the text, with the
    /// status this run is about (failed for a starter or a mutant, passed
    /// for a solution); with `only`, every failed check starts with it.
    pub at_least: (&'static str, usize),
}

impl Expect {
    pub const NOTHING: Expect = Expect {
        failed: &[],
        only: false,
        any_failed: &[],
        passed: &[],
        skipped: &[],
        check: "",
        seen: &[],
        hint: "",
        message: "",
        at_least: ("", 0),
    };

    /// Exactly these checks fail.
    pub const fn only(failed: &'static [&'static str]) -> Expect {
        Expect {
            failed,
            only: true,
            ..Expect::NOTHING
        }
    }

    /// At least these checks fail.
    pub const fn failing(failed: &'static [&'static str]) -> Expect {
        Expect {
            failed,
            ..Expect::NOTHING
        }
    }
}

/// One finding of the self-test.
pub struct Finding {
    pub stage: &'static str,
    pub what: String,
    pub status: Status,
    pub detail: String,
    /// What the run of the check cost (runs of a check only).
    pub took: Option<Cost>,
}

/// Runs the self-test of `stages`; the findings, in order.
pub fn run(stages: &[&'static Stage], mut each: impl FnMut(&Finding)) -> Vec<Finding> {
    use super::build::memo::{self, Mode};
    let mut out = Vec::new();
    let mut note = |finding: Finding| {
        each(&finding);
        out.push(finding);
    };
    for &stage in stages {
        for (what, result) in declared_places(stage) {
            note(finding(stage, what, result));
        }
        memo::clear();
        let root = paths::root();
        let starter = root.join("exercises").join(stage.id);
        let cost = Timer::start();
        memo::set(Mode::Record);
        let result = run_stage(stage, &starter, &Printer::quiet());
        note(
            judge(
                stage,
                "the starter fails".into(),
                &result,
                &starter,
                &stage.proof.starter,
                Status::Failed,
            )
            .cost(cost.end(Vec::new())),
        );
        let solution = root.join("solutions").join(stage.id);
        let cost = Timer::start();
        let result = run_stage(stage, &solution, &Printer::quiet());
        note(
            judge(
                stage,
                "the solution passes".into(),
                &result,
                &solution,
                &stage.proof.solution,
                Status::Passed,
            )
            .cost(cost.end(Vec::new())),
        );
        // The broken copies of a stage are made one after the other in one
        // scratch folder (the same path each time), so the compiler's
        // incremental cache of the stage's crate serves the next copy
        // (`LAB_SELFTEST_REUSE=0`: a new folder each, as before).
        let scratch_folder = || {
            let base = paths::target_dir().join("tmp");
            let _ = std::fs::create_dir_all(&base);
            tempfile::tempdir_in(base)
        };
        let mut scratch = scratch_folder();
        for mutant in stage.proof.mutants {
            if !memo::enabled() {
                scratch = scratch_folder();
            }
            let cost = Timer::start();
            memo::set(Mode::Replay);
            let found = match &scratch {
                Ok(scratch) => catch(stage, mutant, scratch.path()),
                Err(e) => finding(
                    stage,
                    format!("catches: {}", mutant.name),
                    Err(format!("could not make a scratch folder: {e}")),
                ),
            };
            note(found.cost(cost.end(memo::set(Mode::Off))));
        }
        memo::clear();
    }
    out
}

/// What one run of a check cost: wall time, and the CPU time (user +
/// system) of the processes it started and waited for (cargo, rustc, the
/// tests, the service; not Docker's builds, which the daemon runs).
pub struct Cost {
    pub wall: std::time::Duration,
    pub cpu: Option<std::time::Duration>,
    /// The cargo steps the run reused from its base (see `build::memo`).
    pub reused: Vec<&'static str>,
}

/// A run's start, to measure its [`Cost`].
struct Timer(std::time::Instant, Option<std::time::Duration>);

impl Timer {
    fn start() -> Timer {
        Timer(std::time::Instant::now(), children_cpu())
    }

    fn end(self, reused: Vec<&'static str>) -> Cost {
        Cost {
            wall: self.0.elapsed(),
            cpu: self.1.zip(children_cpu()).map(|(a, b)| b.saturating_sub(a)),
            reused,
        }
    }
}

impl std::fmt::Display for Cost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} s", self.wall.as_secs_f64())?;
        if let Some(cpu) = self.cpu {
            write!(f, ", CPU {:.1} s", cpu.as_secs_f64())?;
        }
        if !self.reused.is_empty() {
            write!(f, ", reused: {}", self.reused.join(", "))?;
        }
        Ok(())
    }
}

/// User + system time of this process's waited-for children so far.
#[cfg(unix)]
fn children_cpu() -> Option<std::time::Duration> {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).ok()?;
    let secs = |t: nix::sys::time::TimeVal| {
        std::time::Duration::from_secs(t.tv_sec() as u64)
            + std::time::Duration::from_micros(t.tv_usec() as u64)
    };
    Some(secs(usage.user_time()) + secs(usage.system_time()))
}

#[cfg(not(unix))]
fn children_cpu() -> Option<std::time::Duration> {
    None
}

impl Finding {
    fn cost(mut self, cost: Cost) -> Finding {
        self.took = Some(cost);
        self
    }
}

fn finding(stage: &'static Stage, what: String, result: Result<String, String>) -> Finding {
    let (status, detail) = match result {
        Ok(detail) => (Status::Passed, detail),
        Err(detail) => (Status::Failed, detail),
    };
    Finding {
        stage: stage.id,
        what,
        status,
        detail,
        took: None,
    }
}

/// The stage's folders, chapter, SUMMARY and README lines, and the TODOs.
fn declared_places(stage: &Stage) -> Vec<(String, Result<String, String>)> {
    let root = paths::root();
    let id = stage.id;
    let read = |relative: &str| std::fs::read_to_string(root.join(relative)).unwrap_or_default();
    let mut out = Vec::new();
    for folder in ["exercises", "solutions"] {
        let dir = root.join(folder).join(id);
        out.push((
            format!("{folder}/{id} exists"),
            if (!stage.is_cargo_project() && dir.is_dir()) || dir.join("Cargo.toml").is_file() {
                Ok(String::new())
            } else {
                Err(format!("no cargo project at {}", paths::show(&dir)))
            },
        ));
    }
    let chapter = format!("book/src/{id}.md");
    out.push((
        format!("its chapter {chapter} exists"),
        if root.join(&chapter).is_file() {
            Ok(String::new())
        } else {
            Err(format!("write {chapter}"))
        },
    ));
    out.push((
        "book/src/SUMMARY.md lists the chapter".into(),
        if read("book/src/SUMMARY.md").contains(&format!("]({id}.md)")) {
            Ok(String::new())
        } else {
            Err(format!(
                "add a line `- [NN Title]({id}.md)` to book/src/SUMMARY.md"
            ))
        },
    ));
    out.push((
        "the README's stage table lists it".into(),
        if read("README.md")
            .lines()
            .any(|l| l.starts_with(&format!("| `{id}` |")))
        {
            Ok(String::new())
        } else {
            Err(format!(
                "add a row | `{id}` | … | to the stage table in README.md"
            ))
        },
    ));
    // The TODOs: every one the check module's hints name is declared, and
    // every declared one is in the starter.
    let module = format!("xtask/src/stages/{id}.rs");
    let named = todo_numbers(&read(&module));
    let undeclared: Vec<String> = named
        .iter()
        .filter(|n| !stage.todos.contains(n))
        .map(|n| format!("TODO {n}"))
        .collect();
    out.push((
        format!("every TODO {module} names is declared"),
        if undeclared.is_empty() {
            Ok(format!("{named:?}"))
        } else {
            Err(format!(
                "{} named in {module} but not in the stage's `todos`",
                undeclared.join(", ")
            ))
        },
    ));
    let in_starter = starter_todos(&root.join("exercises").join(id));
    let missing: Vec<String> = stage
        .todos
        .iter()
        .filter(|n| !in_starter.contains(n))
        .map(|n| format!("TODO {n}"))
        .collect();
    out.push((
        "every declared TODO is in the starter".into(),
        if missing.is_empty() {
            Ok(format!("{:?}", stage.todos))
        } else {
            Err(format!(
                "{} not found in exercises/{id}: a hint points at a step the trainee does not have",
                missing.join(", ")
            ))
        },
    ));
    out
}

/// The TODO numbers a text names: "TODO 4", "TODO 2, 3", "TODO 1 to 11".
pub fn todo_numbers(text: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("TODO ") {
        let rest = &text[at + 5..];
        let Some((first, mut rest)) = number(rest) else {
            continue;
        };
        found.push(first);
        loop {
            if let Some((n, after)) = rest.strip_prefix(", ").and_then(number) {
                found.push(n);
                rest = after;
            } else if let Some((n, after)) = rest.strip_prefix(" to ").and_then(number) {
                let last = *found.last().unwrap_or(&n);
                found.extend(last + 1..=n);
                rest = after;
            } else {
                break;
            }
        }
    }
    found.sort_unstable();
    found.dedup();
    found
}

fn number(text: &str) -> Option<(u32, &str)> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    Some((text[..end].parse().ok()?, &text[end..]))
}

/// The TODO numbers in the starter's files (target/ aside).
fn starter_todos(dir: &Path) -> Vec<u32> {
    fn walk(dir: &Path, out: &mut Vec<u32>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if entry.file_name() == "target" {
                continue;
            }
            if path.is_dir() {
                walk(&path, out);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                out.extend(todo_numbers(&text));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out
}

/// Checks a mutant: copies the base into `scratch` (replacing the previous
/// copy there), edits it, runs the check on it.
fn catch(stage: &'static Stage, mutant: &Mutant, scratch: &Path) -> Finding {
    let what = format!("catches: {}", mutant.name);
    for &tool in mutant.needs {
        if let Err(why) = tool.probe() {
            let status = if tool.required() {
                Status::Failed
            } else {
                Status::Skipped
            };
            return Finding {
                stage: stage.id,
                what,
                status,
                detail: format!("needs {}: {why} ({})", tool.name(), tool.install_hint()),
                took: None,
            };
        }
    }
    let folder = match mutant.base {
        Base::Solution => "solutions",
        Base::Starter => "exercises",
    };
    let base = paths::root().join(folder).join(stage.id);
    let copy = match crate::scratch::copy_at(scratch, &base) {
        Ok(copy) => copy,
        Err(e) => {
            return finding(
                stage,
                what,
                Err(format!("could not copy {}: {e}", paths::show(&base))),
            );
        }
    };
    // A stage folder may use its neighbours (stage 08 builds ../06-ibdb):
    // the copy sits next to links to them, as in the tree it came from.
    #[cfg(unix)]
    if let (Some(tree), Some(scratch)) = (base.parent(), copy.path.parent()) {
        for entry in std::fs::read_dir(tree).into_iter().flatten().flatten() {
            if entry.file_name() != stage.id && entry.path().is_dir() {
                let _ = std::os::unix::fs::symlink(entry.path(), scratch.join(entry.file_name()));
            }
        }
    }
    if let Err(e) = apply(&copy.path, mutant.edits) {
        return finding(
            stage,
            what,
            Err(format!(
                "{e} (update the mutant in xtask/src/stages/{}.rs)",
                stage.id
            )),
        );
    }
    let result = run_stage(stage, &copy.path, &Printer::quiet());
    judge(
        stage,
        what,
        &result,
        &copy.path,
        &mutant.expect,
        Status::Failed,
    )
}

fn apply(dir: &Path, edits: &[Edit]) -> Result<(), String> {
    for edit in edits {
        match edit {
            Edit::Replace { file, from, to } => {
                let path = dir.join(file);
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{file}: {e}"))?;
                if !text.contains(from) {
                    return Err(format!("{file} no longer contains {from:?}"));
                }
                std::fs::write(&path, text.replacen(from, to, 1)).map_err(|e| e.to_string())?;
            }
            Edit::Remove(file) => {
                std::fs::remove_file(dir.join(file)).map_err(|e| format!("{file}: {e}"))?
            }
            Edit::DropLines { file, starting } => {
                let path = dir.join(file);
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{file}: {e}"))?;
                let kept: Vec<&str> = text
                    .lines()
                    .filter(|l| !l.trim_start().starts_with(starting))
                    .collect();
                if kept.len() == text.lines().count() {
                    return Err(format!("no line of {file} starts with {starting:?}"));
                }
                std::fs::write(&path, kept.join("\n")).map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

/// Whether `result` is what `expect` says (and has the overall `status`).
fn judge(
    stage: &'static Stage,
    what: String,
    result: &StageResult,
    dir: &Path,
    expect: &Expect,
    status: Status,
) -> Finding {
    if result.status == Status::Skipped {
        let why: Vec<&str> = result
            .checks
            .iter()
            .filter(|c| c.status == Status::Skipped)
            .map(|c| c.message.as_str())
            .collect();
        return Finding {
            stage: stage.id,
            what,
            status: Status::Skipped,
            detail: format!("the check could not run here: {}", why.join("; ")),
            took: None,
        };
    }
    let problems = problems(result, dir, expect, status);
    // Expectations about checks that never ran, next to a skipped one (a
    // stage whose build needs Docker still checks its Dockerfile without
    // it): the check could not run here, which is a skip, not a failure.
    let ran = |name: &str| {
        result
            .checks
            .iter()
            .any(|c| c.check == name && c.status != Status::Skipped)
    };
    let skips: Vec<&str> = result
        .checks
        .iter()
        .filter(|c| c.status == Status::Skipped)
        .map(|c| c.message.as_str())
        .collect();
    let unrun: Vec<&str> = expect
        .failed
        .iter()
        .chain(expect.passed)
        .chain(expect.any_failed)
        .copied()
        .filter(|name| !ran(name))
        .collect();
    if !problems.is_empty()
        && !skips.is_empty()
        && problems.iter().all(|p| {
            unrun.iter().any(|name| {
                p.starts_with(name)
                    || p.contains(&format!("{name:?}"))
                    || p.starts_with(&format!("no {name} check"))
            })
        })
    {
        return Finding {
            stage: stage.id,
            what,
            status: Status::Skipped,
            detail: format!(
                "{} did not run here: {}",
                unrun.join(", "),
                skips.join("; ")
            ),
            took: None,
        };
    }
    if problems.is_empty() {
        let failed = names(&result.checks, Status::Failed);
        let detail = if failed.is_empty() {
            format!("{} checks passed", result.checks.len())
        } else {
            format!("failed: {}", failed.join(", "))
        };
        return finding(stage, what, Ok(detail));
    }
    // What the check reported, to compare with what was expected.
    let mut lines = problems;
    lines.push("what the check reported:".into());
    for c in &result.checks {
        let seen = c
            .seen
            .as_deref()
            .map(|s| format!(" | seen: {s}"))
            .unwrap_or_default();
        lines.push(format!("  {:?} {}: {}{seen}", c.status, c.check, c.message));
    }
    finding(stage, what, Err(lines.join("\n")))
}

fn names(checks: &[CheckResult], status: Status) -> Vec<&str> {
    checks
        .iter()
        .filter(|c| c.status == status)
        .map(|c| c.check.as_str())
        .collect()
}

/// What does not match, one line each.
fn problems(result: &StageResult, dir: &Path, expect: &Expect, status: Status) -> Vec<String> {
    let mut out = Vec::new();
    if result.status != status {
        out.push(format!(
            "expected the stage to be {status:?}, it is {:?}",
            result.status
        ));
    }
    let failed = names(&result.checks, Status::Failed);
    for name in expect.failed {
        if !failed.contains(name) {
            out.push(format!("{name} did not fail"));
        }
    }
    if expect.only {
        let (prefix, _) = expect.at_least;
        let extra: Vec<&&str> = failed
            .iter()
            .filter(|f| !expect.failed.contains(f))
            .filter(|f| **f != "hadolint")
            .filter(|f| prefix.is_empty() || !f.starts_with(prefix))
            .collect();
        if !extra.is_empty() {
            out.push(format!(
                "only {:?} may fail, also failed: {extra:?}",
                expect.failed
            ));
        }
    }
    if !expect.any_failed.is_empty() && !expect.any_failed.iter().any(|n| failed.contains(n)) {
        out.push(format!("none of {:?} failed", expect.any_failed));
    }
    for name in expect.passed {
        if !names(&result.checks, Status::Passed).contains(name) {
            out.push(format!("{name} did not run and pass"));
        }
    }
    for name in expect.skipped {
        if !names(&result.checks, Status::Skipped).contains(name) {
            out.push(format!("{name} was not skipped"));
        }
    }
    let (prefix, count) = expect.at_least;
    let with_prefix = names(&result.checks, status)
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .count();
    if with_prefix < count {
        out.push(format!(
            "{with_prefix} {status:?} checks named {prefix:?}…, expected at least {count}"
        ));
    }
    let check = if expect.check.is_empty() {
        expect.failed.first().copied().unwrap_or("")
    } else {
        expect.check
    };
    if !expect.seen.is_empty() || !expect.hint.is_empty() || !expect.message.is_empty() {
        match result.checks.iter().find(|c| c.check == check) {
            None => out.push(format!("no {check} check ran")),
            Some(c) => {
                let seen = c.seen.as_deref().unwrap_or("");
                for text in expect.seen {
                    let text = with_lines(text, dir);
                    if !seen.contains(&text) {
                        out.push(format!(
                            "{check}: expected {text:?} in what it saw:\n{seen}"
                        ));
                    }
                }
                if !c.message.contains(expect.message) {
                    out.push(format!(
                        "{check}: expected {:?} in its message: {:?}",
                        expect.message, c.message
                    ));
                }
                let hint = c.hint.as_deref().unwrap_or("");
                if !hint.contains(expect.hint) {
                    out.push(format!(
                        "{check}: expected {:?} in its hint: {hint:?}",
                        expect.hint
                    ));
                }
            }
        }
    }
    out
}

/// `{line:FILE:TEXT}` replaced by the number of the first line of FILE (in
/// the checked folder) that contains TEXT outside a comment (a solution
/// keeps its starter's lines as `ANCHOR: starter|` comments).
fn with_lines(text: &str, dir: &Path) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("{line:") {
        out.push_str(&rest[..at]);
        let inner = &rest[at + 6..];
        let end = inner.find('}').unwrap_or(inner.len());
        let (file, needle) = inner[..end].split_once(':').unwrap_or((&inner[..end], ""));
        let line = std::fs::read_to_string(dir.join(file))
            .unwrap_or_default()
            .lines()
            .position(|l| {
                let code = l.trim_start();
                !code.starts_with('#') && !code.starts_with("//") && l.contains(needle)
            })
            .map_or("?".to_string(), |n| (n + 1).to_string());
        out.push_str(&line);
        rest = &inner[(end + 1).min(inner.len())..];
    }
    out.push_str(rest);
    out
}

/// `cargo xtask selftest`: prints each finding; true when none failed.
pub fn selftest(stages: &[&'static Stage]) -> bool {
    let findings = run(stages, |f| {
        let mark = match f.status {
            Status::Passed => "✓",
            Status::Failed => "✗",
            Status::Skipped => "⊘",
        };
        let word = if f.status == Status::Skipped {
            " SKIPPED"
        } else {
            ""
        };
        let took = f
            .took
            .as_ref()
            .map(|cost| format!("  [{cost}]"))
            .unwrap_or_default();
        println!("{mark} {}: {}{word}{took}", f.stage, f.what);
        if f.status != Status::Passed && !f.detail.is_empty() {
            for line in f.detail.lines() {
                println!("      {line}");
            }
        }
    });
    let failed = findings
        .iter()
        .filter(|f| f.status == Status::Failed)
        .count();
    let skipped = findings
        .iter()
        .filter(|f| f.status == Status::Skipped)
        .count();
    println!(
        "\nselftest: {} findings, {failed} failed, {skipped} skipped",
        findings.len()
    );
    failed == 0
}

#[cfg(test)]
mod tests {
    use super::todo_numbers;

    /// Steps are shared by several stages, whose TODOs differ: a TODO
    /// number belongs in a stage module (where the self-test checks it),
    /// passed to the step as a hint.
    #[test]
    fn no_shared_step_names_a_todo_number() {
        let dir = crate::paths::root().join("xtask/src/check");
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.file_name().is_some_and(|n| n == "proof.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(todo_numbers(&text), [0u32; 0], "{}", path.display());
        }
    }

    #[test]
    fn todo_numbers_reads_lists_and_ranges() {
        assert_eq!(todo_numbers("(TODO 4)"), [4]);
        assert_eq!(
            todo_numbers("the migrations (TODO 2, 3) and TODO 5"),
            [2, 3, 5]
        );
        assert_eq!(todo_numbers("TODO 1 to 4"), [1, 2, 3, 4]);
        assert_eq!(todo_numbers("TODO 11"), [11]);
    }
}
