//! Running cargo on a stage folder.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::proc::{Cleanup, contain, kill_group, register, tail};
use crate::report::Failure;

/// The cargo that runs this xtask, so stages build with the same toolchain.
pub fn program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// `cargo <args>` in the stage folder `dir`, made to rebuild that folder's
/// own crate, without writing anything into `dir`.
///
/// Every stage folder builds into the kit's one target folder (dependencies
/// are compiled once), and cargo identifies a path package by its name and
/// its path *relative to its own root*. So `exercises/01-health` and
/// `solutions/01-health` (both package `health`) share artifacts, and cargo
/// would call the solution "fresh" after building the starter when the
/// solution's files are older. So before each build cargo's record of the
/// folder's own package is removed from the target folder (its fingerprints,
/// see [`forget_own_build`]; nothing is written elsewhere): cargo rebuilds
/// that one crate (seconds), the dependencies stay. Checks of two such
/// folders must not run at the same time.
///
/// Cargo is pointed at the folder's own `Cargo.toml` (`--manifest-path`):
/// without one it would look upward and build whatever project holds the
/// folder; and at the kit's target folder (`CARGO_TARGET_DIR`), also for a
/// folder outside the kit, where the kit's `.cargo/config.toml` does not
/// apply and cargo would write `target/` into the folder checked.
pub fn in_stage(dir: &Path, args: &[&str]) -> duct::Expression {
    forget_own_build(dir, args);
    let expression = duct::cmd(program(), with_manifest(dir, args))
        .dir(dir)
        .env("CARGO_TARGET_DIR", target_dir());
    if crate::offline::forced() {
        expression.env("CARGO_NET_OFFLINE", "true")
    } else {
        expression
    }
}

/// `LAB_OFFLINE=1`: cargo must not try the network (the crates are in its
/// cache after `cargo xtask prefetch`); it says at once what is missing.
fn offline_env() -> Vec<(&'static str, &'static str)> {
    if crate::offline::forced() {
        vec![("CARGO_NET_OFFLINE", "true")]
    } else {
        Vec::new()
    }
}

/// Cargo, kept offline, did not find a crate in its cache (its words:
/// "you're using offline mode").
fn offline_crate_missing(stderr: &str) -> bool {
    crate::offline::forced() && stderr.contains("offline mode")
}

/// The kit's target folder, absolute (cargo runs in the stage folder).
fn target_dir() -> PathBuf {
    let dir = crate::paths::target_dir();
    std::path::absolute(&dir).unwrap_or(dir)
}

/// `args` with `--manifest-path <dir>/Cargo.toml` after the subcommand.
fn with_manifest(dir: &Path, args: &[&str]) -> Vec<OsString> {
    let mut all: Vec<OsString> = Vec::new();
    let mut rest = args.iter();
    if let Some(subcommand) = rest.next() {
        all.push(subcommand.into());
        all.push("--manifest-path".into());
        // Absolute: cargo runs in `dir`, a relative `dir` would count twice.
        let manifest = dir.join("Cargo.toml");
        all.push(std::path::absolute(&manifest).unwrap_or(manifest).into());
    }
    all.extend(rest.map(OsString::from));
    all
}

/// Before a cargo command that compiles: cargo forgets that the folder's own
/// package was built (see [`in_stage`]) by losing its fingerprints,
/// `<target>/<profile>/.fingerprint/<name>-<hash>`, so it rebuilds that
/// package. Only the target folder is written. Unlike `cargo clean -p`, this
/// keeps the package's incremental compilation cache: a warm `verify 01`
/// takes 2 to 3 s instead of 7 to 20 s (book/src/instructors/benchmarks.md).
/// Best effort: if it fails, the build that follows reports what is wrong.
fn forget_own_build(dir: &Path, args: &[&str]) {
    let compiles = matches!(
        args.first().copied(),
        Some("build" | "test" | "check" | "clippy" | "run" | "bench" | "doc")
    );
    let Some(name) = package_name(dir).filter(|_| compiles) else {
        return;
    };
    let profile = if args.contains(&"--release") {
        "release"
    } else {
        "debug"
    };
    let fingerprints = target_dir().join(profile).join(".fingerprint");
    for entry in std::fs::read_dir(&fingerprints)
        .into_iter()
        .flatten()
        .flatten()
    {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        // `<name>-<16 hex digits>`: not `ibdb-postgres-...` for `ibdb`.
        let ours = file_name
            .strip_prefix(name.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|hash| hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()));
        if ours {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// `name` of `[package]` in `dir/Cargo.toml` (a plain line scan: the stage
/// manifests write it as `name = "..."`).
fn package_name(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "name"
        {
            return Some(value.trim().trim_matches('"').to_string());
        }
    }
    None
}

/// `cargo build` in `dir`; returns the path of the binary it built.
///
/// With `--bins --examples` (stage 06 has two examples, which `cargo test`
/// compiles anyway): asking for examples makes cargo resolve features as
/// `cargo test` does, dev-dependencies included. A plain `cargo build` of
/// stages 05 and 06 compiled tokio, hyper, syn and nearly everything above
/// them a second time, with the fewer features the service alone enables,
/// although the check's `cargo test` then builds the same binary on the
/// first set (book/src/instructors/benchmarks.md, "The kit's CI"). The
/// binary is the one the stage's integration tests run.
pub fn build_bin(dir: &Path) -> Result<PathBuf, Failure> {
    let out = run(
        dir,
        &[
            "build",
            "--bins",
            "--examples",
            "--message-format=json-render-diagnostics",
            "--color=never",
        ],
        &[],
    )?;
    if !out.status.success() {
        let hint = if offline_crate_missing(&out.stderr) {
            "a crate is not in cargo's cache and LAB_OFFLINE=1 keeps cargo off the network: run `cargo xtask prefetch` while online (did Cargo.toml gain a dependency?)".to_string()
        } else {
            format!(
                "run `cargo build` in {} and fix the first error",
                crate::paths::show(dir)
            )
        };
        return Err(Failure::new(
            "`cargo build` to succeed",
            tail(&errors_only(&out.stderr), 25),
        )
        .hint(hint));
    }
    say_warnings(&out.stdout);
    out.stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact")
        // A binary target's, not an example's.
        .filter(|msg| {
            msg["target"]["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "bin"))
        })
        .filter_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .next_back()
        .ok_or_else(|| {
            Failure::new("a binary target (src/main.rs)", "cargo built no executable")
                .hint("keep `src/main.rs` with a `main` function")
        })
}

/// The compiler's warnings about the stage's own code (dependencies' are
/// capped by cargo), as progress lines: a build that succeeds would
/// otherwise hide them, and they often name the bug ("value assigned to
/// `state` is never read" is the counter that never moves).
fn say_warnings(json_lines: &str) {
    let warnings: Vec<String> = warnings(json_lines);
    for (i, warning) in warnings.iter().enumerate() {
        if i == 3 {
            crate::report::progress_line(&format!(
                "… and {} more: `cargo build` in the folder shows them all",
                warnings.len() - 3
            ));
            break;
        }
        crate::report::progress_line(&format!("compiler warning: {warning}"));
    }
}

/// "FILE:LINE: message" of each warning in cargo's JSON messages.
fn warnings(json_lines: &str) -> Vec<String> {
    json_lines
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-message")
        .map(|msg| msg["message"].clone())
        .filter(|m| m["level"] == "warning")
        .filter_map(|m| {
            let span = m["spans"]
                .as_array()?
                .iter()
                .find(|s| s["is_primary"] == true)?
                .clone();
            Some(format!(
                "{}:{}: {}",
                span["file_name"].as_str()?,
                span["line_start"],
                m["message"].as_str()?
            ))
        })
        .collect()
}

#[cfg(test)]
mod warning_tests {
    #[test]
    fn warnings_are_read_from_cargos_json_with_their_place() {
        let json = concat!(
            r#"{"reason":"compiler-message","message":{"level":"warning","message":"value assigned to `state` is never read","spans":[{"file_name":"src/lib.rs","line_start":25,"is_primary":true}]}}"#,
            "\n",
            r#"{"reason":"compiler-message","message":{"level":"warning","message":"1 warning emitted","spans":[]}}"#,
            "\n",
            r#"{"reason":"compiler-artifact","executable":"/x"}"#,
        );
        assert_eq!(
            super::warnings(json),
            vec!["src/lib.rs:25: value assigned to `state` is never read"]
        );
    }
}

/// The time limit of one cargo run on a stage: `LAB_BUILD_TIMEOUT_SECS`, or
/// a default generous enough for a cold build of the biggest stage on two
/// cores (minutes) with room to spare.
pub fn time_limit() -> Duration {
    const DEFAULT: u64 = 1800;
    let secs = match std::env::var(TIME_LIMIT_VAR) {
        Ok(value) => value.trim().parse::<u64>().unwrap_or_else(|_| {
            crate::report::progress_line(&format!(
                "{TIME_LIMIT_VAR}={value:?} is not a number of seconds; using {DEFAULT}"
            ));
            DEFAULT
        }),
        Err(_) => DEFAULT,
    };
    Duration::from_secs(secs.max(1))
}

pub const TIME_LIMIT_VAR: &str = "LAB_BUILD_TIMEOUT_SECS";

/// What a finished cargo run printed (lossily decoded).
pub struct Ran {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// What cargo's stderr said so far.
#[derive(Default)]
struct Progress {
    stderr: String,
    /// The crate of the last "Compiling" line, like "axum v0.8.4".
    compiling: String,
    compiled: usize,
    /// Cargo's "Blocking waiting for file lock ..." line while it waits.
    lock: Option<String>,
    lock_said: bool,
}

impl Progress {
    fn take(&mut self, line: &str) {
        self.stderr.push_str(line);
        self.stderr.push('\n');
        let status = line.trim();
        if status.starts_with("Blocking waiting for file lock") {
            self.lock = Some(status.to_string());
            return;
        }
        self.lock = None;
        self.lock_said = false;
        if let Some(what) = status.strip_prefix("Compiling ") {
            // "axum v0.8.4 (/path)" -> "axum v0.8.4"
            self.compiling = what.split(" (").next().unwrap_or(what).to_string();
            self.compiled += 1;
        }
    }

    fn doing(&self) -> String {
        if self.compiling.is_empty() {
            "not compiling yet".into()
        } else {
            format!(
                "{} crate(s) started, now compiling {}",
                self.compiled, self.compiling
            )
        }
    }
}

/// `cargo <args>` on the stage folder `dir` (see [`in_stage`]), with the
/// progress a person waiting needs and a time limit ([`time_limit`]).
///
/// On a terminal one line is redrawn with the elapsed time and the crate
/// being compiled; elsewhere (CI logs, `--json` collected by a script) a line
/// at the start, every 30 s, and at the end. Waiting on another cargo's lock
/// is said as soon as cargo says it. Past the limit, cargo and everything it
/// started (rustc, build scripts, test binaries) is killed.
pub fn run(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Result<Ran, Failure> {
    run_named(None, dir, args, envs)
}

/// [`run`] for a caller that says itself what the run meant (stage 07's
/// broken copies, whose tests must fail): `label` names it on the live line
/// and in the lines a long run, a lock wait or the time limit print; no
/// start and end lines.
pub fn run_as(
    label: &str,
    dir: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Result<Ran, Failure> {
    run_named(Some(label), dir, args, envs)
}

fn run_named(
    label: Option<&str>,
    dir: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Result<Ran, Failure> {
    let what = match label {
        Some(label) => label.to_string(),
        None => format!("cargo {}", args.first().copied().unwrap_or("")),
    };
    let limit = time_limit();
    forget_own_build(dir, args);
    let mut command = std::process::Command::new(program());
    command
        .args(with_manifest(dir, args))
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .envs(envs.iter().copied())
        .envs(offline_env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    contain(&mut command).map_err(|e| Failure::new("cargo to run", e.to_string()))?;
    let mut child = command
        .spawn()
        .map_err(|e| Failure::new("cargo to run", format!("{}: {e}", program())))?;
    let pid = child.id();
    let _registration = register(Cleanup::KillGroup(pid));

    let progress = Arc::new(Mutex::new(Progress::default()));
    let stderr = child.stderr.take().map(|pipe| {
        let progress = Arc::clone(&progress);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut line = Vec::new();
            while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                let text = String::from_utf8_lossy(&line);
                progress
                    .lock()
                    .unwrap()
                    .take(text.trim_end_matches(['\r', '\n']));
                line.clear();
            }
        })
    });
    let stdout = child.stdout.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    });

    if label.is_none() {
        crate::report::progress_line(&format!(
            "{what} in {}: started (time limit {} s, {TIME_LIMIT_VAR})",
            crate::paths::show(dir),
            limit.as_secs()
        ));
    }
    let live = crate::report::progress_is_live();
    let start = Instant::now();
    let mut next_heartbeat = Duration::from_secs(30);
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        let took = start.elapsed();
        if took >= limit {
            break None;
        }
        {
            let mut p = progress.lock().unwrap();
            if let Some(lock) = p.lock.clone().filter(|_| !p.lock_said) {
                p.lock_said = true;
                crate::report::progress_line(&format!(
                    "{what}: waiting for a file lock held by another cargo (cargo: \"{lock}\"); it goes on when that one ends"
                ));
            } else if live {
                crate::report::progress_live(&format!(
                    "{what}: {} s, {}",
                    took.as_secs(),
                    p.doing()
                ));
            } else if took >= next_heartbeat {
                // From now, not from the last one: after a pause (a stopped
                // process, a suspended laptop) one line, not one per 30 s missed.
                next_heartbeat = took + Duration::from_secs(30);
                crate::report::progress_line(&format!(
                    "{what}: still running after {} s, {}",
                    took.as_secs(),
                    p.doing()
                ));
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Whatever cargo started and left running (or all of it, past the limit).
    kill_group(pid);
    let status = match status {
        Some(status) => status,
        None => {
            let _ = child.wait();
            let p = progress.lock().unwrap();
            crate::report::progress_line(&format!(
                "{what}: stopped after {} s (the time limit)",
                limit.as_secs()
            ));
            let (seen, hint) = match &p.lock {
                Some(lock) => (
                    format!(
                        "did not finish within {} s: it was still waiting for a file lock (cargo: \"{lock}\"); stopped it",
                        limit.as_secs()
                    ),
                    format!(
                        "another cargo uses the same build folder (a second `cargo xtask verify`, a `cargo build`, your editor's rust-analyzer): let it finish or stop it, then verify again; {TIME_LIMIT_VAR} sets the limit (now {} s)",
                        limit.as_secs()
                    ),
                ),
                None => (
                    format!(
                        "did not finish within {} s: {}; stopped it and all it started",
                        limit.as_secs(),
                        p.doing()
                    ),
                    format!(
                        "a first (cold) build on a slow machine can take long: allow more, e.g. {TIME_LIMIT_VAR}=3600 cargo xtask verify ...; a build script or test that never ends looks the same (`{what} -vv` in {} shows which)",
                        crate::paths::show(dir)
                    ),
                ),
            };
            return Err(Failure::new(
                format!("`{what}` to finish within {} s", limit.as_secs()),
                seen,
            )
            .hint(hint));
        }
    };
    // The pipes close when the last process holding them ends; one that
    // escaped the group must not hang the check.
    let stdout = stdout.and_then(|t| join_within(t, Duration::from_secs(5)));
    if let Some(t) = stderr {
        join_within(t, Duration::from_secs(5));
    }
    let p = progress.lock().unwrap();
    let stdout = String::from_utf8_lossy(&stdout.unwrap_or_default()).into_owned();
    if label.is_some() {
        crate::report::progress_clear();
    } else {
        crate::report::progress_line(&format!(
            "{what}: {} in {:.1} s ({} crate(s) compiled)",
            ended(status.success(), &stdout),
            start.elapsed().as_secs_f64(),
            p.compiled
        ));
    }
    Ok(Ran {
        status,
        stdout,
        stderr: p.stderr.clone(),
    })
}

/// How a run ended, for its progress line: what the tests did when they ran
/// (libtest's "test result:" lines), so a test that fails reads as that and
/// not as cargo failing.
fn ended(success: bool, stdout: &str) -> String {
    let (mut passed, mut failed, mut ran) = (0u32, 0u32, false);
    for result in stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: "))
    {
        ran = true;
        for part in result.split("; ") {
            let mut words = part.split(' ').rev();
            let (Some(word), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let n = n.parse::<u32>().unwrap_or(0);
            match word {
                "passed" => passed += n,
                "failed" => failed += n,
                _ => {}
            }
        }
    }
    match (ran, success) {
        (true, _) => format!("tests ran, {passed} passed and {failed} failed,"),
        (false, true) => "done".into(),
        (false, false) => "failed".into(),
    }
}

#[cfg(test)]
mod ended_tests {
    use super::ended;

    #[test]
    fn a_run_that_ran_tests_ends_with_what_they_did() {
        let out = "test result: FAILED. 11 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\
                   test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n";
        assert_eq!(ended(false, out), "tests ran, 12 passed and 2 failed,");
        assert_eq!(ended(false, "error[E0425]: cannot find value"), "failed");
        assert_eq!(ended(true, ""), "done");
    }
}

/// The thread's result if it ends within `limit` (else it is left behind,
/// blocked on a pipe some escaped process holds).
fn join_within<T: Send + 'static>(
    thread: std::thread::JoinHandle<T>,
    limit: Duration,
) -> Option<T> {
    let start = Instant::now();
    while !thread.is_finished() {
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    thread.join().ok()
}

/// Cargo's stderr without the "Compiling ..." progress lines.
fn errors_only(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|line| {
            let line = line.trim_start();
            !(line.starts_with("Compiling")
                || line.starts_with("Blocking")
                || line.starts_with("Downloaded")
                || line.starts_with("Downloading")
                || line.starts_with("Updating")
                || line.starts_with("Locking")
                || line.starts_with("Adding"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}
