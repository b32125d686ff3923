//! `cargo xtask class grade CLASS_DIR`: grades a folder of trainee clones
//! (one subfolder each) with `verify --keep-going --json`, and shows a
//! trainee × stage matrix on the terminal, as a self-contained HTML page,
//! as JSON and as CSV (`render.rs`).
//!
//! A trainee's code is untrusted on the instructor's machine (build
//! scripts, proc macros, the server the check starts). With Docker each
//! trainee is checked in a container (`sandbox.rs`); without it the command
//! refuses unless told `--unsandboxed`. A clone whose commit did not change
//! since the last run (same kit, same stages, same mode) is not checked
//! again: its row comes from `target/class/cache/`.

mod render;
mod sandbox;

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::check::Stage;
use crate::paths;
use crate::stages::{STAGES, find};

#[derive(clap::Subcommand)]
pub enum ClassAction {
    /// Grade every trainee clone in CLASS_DIR: a matrix on the terminal, and
    /// class.html, class.json and class.csv (in target/class/report unless --out).
    Grade(GradeOptions),
}

#[derive(clap::Args)]
pub struct GradeOptions {
    /// A folder holding one clone of the kit per trainee (its name is the trainee's).
    #[arg(value_name = "CLASS_DIR")]
    pub class: PathBuf,
    /// Stages to grade, like `01 04` (default: all).
    pub stages: Vec<String>,
    /// Run the trainees' code on this machine, outside any container.
    #[arg(long)]
    pub unsandboxed: bool,
    /// Trainees checked at the same time (default: what the cores and memory allow).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Time limit per trainee, in seconds.
    #[arg(long, default_value_t = 1200)]
    pub timeout: u64,
    /// CPUs per container.
    #[arg(long, default_value_t = 2.0)]
    pub cpus: f64,
    /// Memory per container (docker's --memory, like 4g).
    #[arg(long, default_value = "4g")]
    pub memory: String,
    /// Where class.html, class.json, class.csv and each trainee's log go.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Check every trainee again, even those whose commit did not change.
    #[arg(long)]
    pub fresh: bool,
}

pub fn run(action: ClassAction) -> anyhow::Result<bool> {
    match action {
        ClassAction::Grade(options) => grade(options),
    }
}

/// One stage of one trainee: its status and, when it did not pass, the
/// first failing (or skipped) check.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Cell {
    /// passed, failed, skipped, or missing (not in the report).
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// One trainee's row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub trainee: String,
    pub commit: Option<String>,
    /// Uncommitted changes: checked every time (the commit does not say what runs).
    pub dirty: bool,
    /// The row comes from the last run (same commit).
    pub cached: bool,
    pub seconds: f64,
    /// Why the trainee could not be graded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub stages: BTreeMap<String, Cell>,
}

#[derive(Debug, Serialize)]
pub struct ClassReport {
    pub class: String,
    pub sandbox: String,
    pub stages: Vec<String>,
    pub trainees: Vec<Row>,
}

/// A trainee's clone, and the folder of stage folders in it.
struct Trainee {
    name: String,
    clone: PathBuf,
    exercises: Option<PathBuf>,
    commit: Option<String>,
    dirty: bool,
}

/// Git on an untrusted clone: no fsmonitor hook (a clone's config could
/// name a program), and clones owned by other users are fine.
fn git(clone: &Path, args: &[&str]) -> Option<String> {
    let mut all = vec![
        "-c",
        "core.fsmonitor=false",
        "-c",
        "safe.directory=*",
        "-C",
        clone.to_str()?,
    ];
    all.extend_from_slice(args);
    let out = duct::cmd("git", &all)
        .stdout_capture()
        .stderr_null()
        .unchecked()
        .run()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn trainees(class: &Path) -> anyhow::Result<Vec<Trainee>> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(class).with_context(|| {
        format!(
            "{}: cannot read the class folder; give a folder holding one clone per trainee",
            class.display()
        )
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.path().is_dir() {
            continue;
        }
        let clone = entry.path();
        let exercises = if clone.join("exercises").is_dir() {
            Some(clone.join("exercises"))
        } else if STAGES.iter().any(|s| clone.join(s.id).is_dir()) {
            Some(clone.clone())
        } else {
            None
        };
        let commit = git(&clone, &["rev-parse", "HEAD"]);
        let dirty = commit.is_none()
            || git(
                &clone,
                &["status", "--porcelain", "--untracked-files=normal"],
            )
            .is_none_or(|s| !s.is_empty());
        found.push(Trainee {
            name,
            clone,
            exercises,
            commit,
            dirty,
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    anyhow::ensure!(
        !found.is_empty(),
        "{}: no trainee folders in it; put one clone of the kit per trainee there (class/alice, class/bob, ...)",
        class.display()
    );
    Ok(found)
}

/// The row for one trainee from `verify --json`'s document.
pub fn row_from_report(trainee: &str, report: &Value, stages: &[&Stage]) -> BTreeMap<String, Cell> {
    let mut cells = BTreeMap::new();
    for stage in stages {
        let found = report["stages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["stage"] == stage.id);
        let cell = match found {
            None => Cell {
                status: "missing".into(),
                check: None,
                message: Some(format!("{trainee}: not in the report")),
                hint: None,
            },
            Some(s) => {
                let status = s["status"].as_str().unwrap_or("missing").to_string();
                let first = s["checks"].as_array().into_iter().flatten().find(|c| {
                    (status == "failed" && c["status"] == "failed")
                        || (status != "failed" && c["status"] == "skipped")
                });
                let text = |c: &Value, key: &str| c[key].as_str().map(str::to_string);
                Cell {
                    status,
                    check: first.and_then(|c| text(c, "check")),
                    message: first.and_then(|c| text(c, "message")),
                    hint: first.and_then(|c| text(c, "hint")),
                }
            }
        };
        cells.insert(stage.id.to_string(), cell);
    }
    cells
}

/// FNV-1a: a stable name for a cache file (std's hasher may change between
/// Rust releases).
fn fnv(text: &str) -> String {
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    format!("{hash:016x}")
}

/// What else a cached row depends on: the kit's commit and the xtask
/// binary (a rebuilt grader may grade differently).
fn kit_key() -> String {
    let head = git(&paths::root(), &["rev-parse", "HEAD"]).unwrap_or_default();
    let exe = std::env::current_exe()
        .ok()
        .and_then(|e| e.metadata().ok())
        .map(|m| {
            let modified = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{}-{modified}", m.len())
        })
        .unwrap_or_default();
    format!("{head}/{exe}")
}

#[derive(Serialize, Deserialize)]
struct CacheEntry {
    key: String,
    row: Row,
}

fn cache_file(clone: &Path) -> PathBuf {
    let absolute = std::path::absolute(clone).unwrap_or_else(|_| clone.to_path_buf());
    paths::target_dir()
        .join("class/cache")
        .join(format!("{}.json", fnv(&absolute.to_string_lossy())))
}

/// What a trainee's check needs: how to run `verify` for them.
pub enum Mode {
    Unsandboxed,
    Sandboxed(sandbox::Sandbox),
}

impl Mode {
    fn describe(&self) -> String {
        match self {
            Mode::Unsandboxed => {
                "none (--unsandboxed: the trainees' code ran on this machine)".into()
            }
            Mode::Sandboxed(s) => s.describe(),
        }
    }
}

/// What one verify run gave.
pub struct Outcome {
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

fn default_jobs(options: &GradeOptions, trainees: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let by_cpu = (cores as f64 / options.cpus.max(1.0)).floor() as usize;
    let memory_gb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(u64::MAX, |kb| kb / 1024 / 1024);
    let per = sandbox::gigabytes(&options.memory).unwrap_or(4).max(1);
    let by_memory = (memory_gb / per).max(1) as usize;
    by_cpu.min(by_memory).clamp(1, trainees.max(1))
}

fn grade(options: GradeOptions) -> anyhow::Result<bool> {
    let class = std::path::absolute(&options.class)?;
    anyhow::ensure!(
        class.is_dir(),
        "{}: no such folder; give the folder that holds one clone per trainee",
        class.display()
    );
    let chosen: Vec<&'static Stage> = if options.stages.is_empty() {
        STAGES.to_vec()
    } else {
        options
            .stages
            .iter()
            .map(|s| find(s))
            .collect::<Result<_, _>>()?
    };
    let stage_ids: Vec<&str> = chosen.iter().map(|s| s.number()).collect();
    let trainees = trainees(&class)?;

    let mode = if options.unsandboxed {
        Mode::Unsandboxed
    } else {
        Mode::Sandboxed(sandbox::Sandbox::prepare(&options, &chosen)?)
    };
    // Without a container, checks of copies of one stage share the kit's
    // target folder (CONTRIBUTING.md): one trainee at a time.
    let jobs = match (&mode, options.jobs) {
        (Mode::Unsandboxed, Some(n)) if n > 1 => {
            crate::report::progress_line(
                "--unsandboxed checks one trainee at a time (their builds share the kit's target folder)",
            );
            1
        }
        (Mode::Unsandboxed, _) => 1,
        (_, Some(n)) => n.max(1),
        (_, None) => default_jobs(&options, trainees.len()),
    };
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| paths::target_dir().join("class/report"));
    std::fs::create_dir_all(out.join("logs"))
        .with_context(|| format!("creating {}", out.display()))?;
    let key_base = format!(
        "{}|{}|{}",
        kit_key(),
        stage_ids.join(","),
        match &mode {
            Mode::Unsandboxed => "unsandboxed".to_string(),
            Mode::Sandboxed(s) => s.key(),
        }
    );
    if let Mode::Sandboxed(sandbox) = &mode {
        sandbox.warm(&chosen, options.timeout)?;
    }

    println!(
        "Grading {} trainee(s) in {} on stages {}, {jobs} at a time; sandbox: {}",
        trainees.len(),
        class.display(),
        stage_ids.join(" "),
        mode.describe()
    );
    let queue: Mutex<VecDeque<usize>> = Mutex::new((0..trainees.len()).collect());
    let rows: Mutex<Vec<Option<Row>>> = Mutex::new(vec![None; trainees.len()]);
    let running: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let started = Instant::now();
    let progress = |rows: &[Option<Row>], running: &[String]| {
        let done = rows.iter().filter(|r| r.is_some()).count();
        let total = rows.len();
        let width = 24;
        let filled = done * width / total.max(1);
        crate::report::progress_live(&format!(
            "[{}{}] {done}/{total} trainees, {} s · checking: {}",
            "#".repeat(filled),
            "-".repeat(width - filled),
            started.elapsed().as_secs(),
            running.join(", ")
        ));
    };
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let Some(index) = queue.lock().unwrap().pop_front() else {
                        break;
                    };
                    let trainee = &trainees[index];
                    running.lock().unwrap().push(trainee.name.clone());
                    progress(&rows.lock().unwrap(), &running.lock().unwrap());
                    let row = grade_one(trainee, &chosen, &mode, &options, &key_base, &out);
                    running.lock().unwrap().retain(|n| n != &trainee.name);
                    crate::report::progress_line(&render::progress_summary(&row, &chosen));
                    rows.lock().unwrap()[index] = Some(row);
                    progress(&rows.lock().unwrap(), &running.lock().unwrap());
                }
            });
        }
    });
    let rows: Vec<Row> = rows.into_inner().unwrap().into_iter().flatten().collect();
    let report = ClassReport {
        class: class.display().to_string(),
        sandbox: mode.describe(),
        stages: chosen.iter().map(|s| s.id.to_string()).collect(),
        trainees: rows,
    };
    print!("\n{}", render::terminal(&report));
    std::fs::write(
        out.join("class.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    std::fs::write(out.join("class.csv"), render::csv(&report))?;
    std::fs::write(out.join("class.html"), render::html(&report))?;
    println!(
        "\nWritten: {0}/class.html, {0}/class.json, {0}/class.csv (each trainee's report and log in {0}/logs)",
        paths::show(&out)
    );
    let ungraded: Vec<&str> = report
        .trainees
        .iter()
        .filter(|r| r.error.is_some())
        .map(|r| r.trainee.as_str())
        .collect();
    if !ungraded.is_empty() {
        println!(
            "Could not grade: {} (see the error column and their logs)",
            ungraded.join(", ")
        );
    }
    Ok(ungraded.is_empty())
}

fn grade_one(
    trainee: &Trainee,
    chosen: &[&'static Stage],
    mode: &Mode,
    options: &GradeOptions,
    key_base: &str,
    out: &Path,
) -> Row {
    let mut row = Row {
        trainee: trainee.name.clone(),
        commit: trainee.commit.clone(),
        dirty: trainee.dirty,
        cached: false,
        seconds: 0.0,
        error: None,
        stages: BTreeMap::new(),
    };
    let Some(exercises) = &trainee.exercises else {
        row.error = Some(format!(
            "{}: no exercises/ folder; is it a clone of the kit?",
            trainee.clone.display()
        ));
        return row;
    };
    let key = format!("{}|{key_base}", trainee.commit.as_deref().unwrap_or(""));
    let cache = cache_file(&trainee.clone);
    if !options.fresh && !trainee.dirty {
        let cached = std::fs::read_to_string(&cache)
            .ok()
            .and_then(|text| serde_json::from_str::<CacheEntry>(&text).ok())
            .filter(|entry| entry.key == key);
        if let Some(entry) = cached {
            let mut row = entry.row;
            row.cached = true;
            return row;
        }
    }
    let start = Instant::now();
    let limit = Duration::from_secs(options.timeout);
    let stage_args: Vec<String> = chosen.iter().map(|s| s.id.to_string()).collect();
    let outcome = match mode {
        Mode::Unsandboxed => unsandboxed(exercises, &stage_args, limit),
        Mode::Sandboxed(sandbox) => {
            sandbox.verify(&trainee.name, &trainee.clone, exercises, &stage_args, limit)
        }
    };
    row.seconds = start.elapsed().as_secs_f64();
    let log = out.join("logs").join(format!("{}.log", trainee.name));
    let _ = std::fs::write(&log, &outcome.stderr);
    let _ = std::fs::write(
        out.join("logs").join(format!("{}.json", trainee.name)),
        &outcome.stdout,
    );
    let report: Option<Value> = serde_json::from_str(&outcome.stdout).ok();
    match (&report, outcome.timed_out) {
        (_, true) => {
            row.error = Some(format!(
                "still running after {} s (--timeout); stopped. Its log: {}",
                limit.as_secs(),
                paths::show(&log)
            ));
        }
        (None, _) => {
            row.error = Some(format!(
                "no report (exit code {}): {}; its log: {}",
                outcome
                    .exit_code
                    .map_or("none, killed".to_string(), |c| c.to_string()),
                crate::proc::tail(&outcome.stderr, 3).replace('\n', " / "),
                paths::show(&log)
            ));
        }
        (Some(report), false) => {
            if let Some(error) = report.get("error").filter(|e| !e.is_null()) {
                row.error = Some(format!(
                    "{}: {}",
                    error["kind"].as_str().unwrap_or("error"),
                    error["message"].as_str().unwrap_or("")
                ));
            }
            row.stages = row_from_report(&trainee.name, report, chosen);
            if let Mode::Sandboxed(_) = mode {
                // Paths as the instructor finds them, not as the container saw them.
                let host = trainee.clone.display().to_string();
                for cell in row.stages.values_mut() {
                    for text in [&mut cell.message, &mut cell.hint].into_iter().flatten() {
                        *text = text.replace(sandbox::TRAINEE, &host);
                    }
                }
            }
        }
    }
    // Only a finished, committed grading is worth remembering.
    if row.error.is_none() && !trainee.dirty {
        if let Some(parent) = cache.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let entry = CacheEntry {
            key,
            row: row.clone(),
        };
        if let Ok(text) = serde_json::to_string(&entry) {
            let _ = std::fs::write(&cache, text);
        }
    }
    row
}

/// Runs a `verify` and waits at most `limit`; on time-out, `stop` ends it.
pub fn run_limited(
    expression: duct::Expression,
    limit: Duration,
    stop: impl Fn(&duct::Handle),
) -> Outcome {
    let handle = match expression
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
    {
        Ok(handle) => handle,
        Err(e) => {
            return Outcome {
                exit_code: None,
                stdout: String::new(),
                stderr: format!("could not start: {e}"),
                timed_out: false,
            };
        }
    };
    let deadline = Instant::now() + limit;
    let mut timed_out = false;
    loop {
        if let Ok(Some(_)) = handle.try_wait() {
            break;
        }
        if Instant::now() > deadline {
            timed_out = true;
            stop(&handle);
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    match handle.wait() {
        Ok(out) => Outcome {
            exit_code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            timed_out,
        },
        Err(e) => Outcome {
            exit_code: None,
            stdout: String::new(),
            stderr: e.to_string(),
            timed_out,
        },
    }
}

/// `verify` on this machine, in the kit's own target folder (as the
/// trainee's own `cargo xtask verify` would).
fn unsandboxed(exercises: &Path, stages: &[String], limit: Duration) -> Outcome {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("cargo-xtask"));
    let mut args: Vec<String> = vec![
        "verify".into(),
        "--json".into(),
        "--keep-going".into(),
        "--dir".into(),
        exercises.display().to_string(),
    ];
    args.extend(stages.iter().cloned());
    run_limited(duct::cmd(exe, &args), limit, |handle| {
        // SIGKILL: its checks' processes get the parent-death signal.
        let _ = handle.kill();
    })
}

#[cfg(test)]
mod tests {
    use super::{fnv, row_from_report};

    #[test]
    fn a_verify_report_becomes_a_row() {
        let report = serde_json::json!({
            "stages": [
                {"stage": "01-health", "status": "passed", "checks": [
                    {"check": "build", "status": "passed", "message": "ok"}]},
                {"stage": "04-kubernetes", "status": "failed", "checks": [
                    {"check": "files", "status": "passed", "message": "ok"},
                    {"check": "image", "status": "failed", "message": "latest tag", "hint": "pin it"},
                    {"check": "port", "status": "failed", "message": "later"}]}
            ]
        });
        let stages = [
            crate::stages::find("01").unwrap(),
            crate::stages::find("04").unwrap(),
            crate::stages::find("05").unwrap(),
        ];
        let row = row_from_report("bob", &report, &stages);
        assert_eq!(row["01-health"].status, "passed");
        assert_eq!(row["01-health"].check, None);
        assert_eq!(row["04-kubernetes"].status, "failed");
        assert_eq!(row["04-kubernetes"].check.as_deref(), Some("image"));
        assert_eq!(row["04-kubernetes"].hint.as_deref(), Some("pin it"));
        assert_eq!(row["05-postgres"].status, "missing");
        assert_eq!(fnv("a"), "af63dc4c8601ec8c");
    }
}
