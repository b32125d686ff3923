//! Steps that run cargo in the stage folder: build its binary, run its tests.

use std::path::{Path, PathBuf};

use super::{Checker, Stop};
use crate::report::Failure;

/// `cargo build`: the binary it produced, or the stage stops.
pub fn binary(ck: &mut Checker) -> Result<PathBuf, Stop> {
    if let Some((memo::Kept::Binary(result), base)) = memo::replay("build", &ck.dir) {
        return ck.require("build", result, |exe| {
            format!(
                "{base}'s build reused (the self-test: no file cargo reads differs), kept as {}",
                crate::paths::show(exe)
            )
        });
    }
    let result = crate::cargo::build_bin(&ck.dir);
    memo::record("build", &ck.dir, memo::Kept::Binary(result.clone()));
    ck.require("build", result, |exe| {
        format!("cargo build produced {}", crate::paths::show(exe))
    })
}

/// `cargo test` in the stage folder must pass.
pub fn cargo_test(ck: &mut Checker) -> Result<(), Stop> {
    if let Some((memo::Kept::Test(result), base)) = memo::replay("cargo test", &ck.dir) {
        let result = result.map(|passed| {
            format!("{passed} ({base}'s run reused by the self-test: no file cargo reads differs)")
        });
        return ck.require("cargo test", result, Clone::clone).map(drop);
    }
    // The panic message, not a backtrace, in the check's output.
    let out = crate::cargo::run(
        &ck.dir,
        &["test", "--color=never"],
        &[("RUST_BACKTRACE", "0")],
    );
    let result = match out {
        Ok(out) if out.status.success() => Ok(summary(&out.stdout)),
        Ok(out) => Err(Failure::new(
            "`cargo test` to pass",
            failed_tests(&out.stdout, &out.stderr),
        )
        .hint(format!(
            "run `cargo test` in {} and fix the first failure",
            crate::paths::show(&ck.dir)
        ))),
        Err(failure) => Err(failure),
    };
    memo::record("cargo test", &ck.dir, memo::Kept::Test(result.clone()));
    ck.require("cargo test", result, Clone::clone).map(drop)
}

/// (passed, stdout, stderr) of `cargo test <extra>` in `dir`, which may be a
/// scratch copy outside the kit (the shared target folder is named): with
/// cargo's progress, the time limit and the clean-up of [`crate::cargo::run`].
pub fn run_tests(dir: &Path, extra: &[&str]) -> Result<(bool, String, String), String> {
    let args: Vec<&str> = ["test", "--color=never"]
        .iter()
        .chain(extra)
        .copied()
        .collect();
    // The panic message, not a backtrace, in the check's output.
    let ran = crate::cargo::run(dir, &args, &[("RUST_BACKTRACE", "0")])
        .map_err(|failure| format!("{}: {}", failure.seen, failure.hint))?;
    Ok((ran.status.success(), ran.stdout, ran.stderr))
}

/// "N passed" over every test binary.
pub fn summary(stdout: &str) -> String {
    let passed: u32 = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: "))
        .filter_map(|l| l.split("; ").next()?.split(' ').nth(1)?.parse::<u32>().ok())
        .sum();
    format!("{passed} tests passed")
}

/// The names of failed tests and the first panic, or the compiler errors.
pub fn failed_tests(stdout: &str, stderr: &str) -> String {
    let failed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("test ") && l.ends_with("FAILED"))
        .collect();
    if failed.is_empty() {
        return crate::proc::tail(stderr, 25);
    }
    let panic = stdout
        .lines()
        .skip_while(|l| !l.contains("panicked at"))
        .take(4)
        .collect::<Vec<_>>()
        .join("\n");
    format!("{}\n{panic}", failed.join("\n"))
}

/// The self-test's memory of this file's cargo steps, for broken copies
/// that change only files cargo never reads (stage 05's manifests in `k8s/`,
/// a Dockerfile): such a copy builds and tests exactly the sources its base
/// did, so the base's build and test results are its results. Recorded on
/// the starter's and the solution's runs, replayed, marked as such, on a
/// copy with the same cargo inputs ([`cargo_inputs`]); every other step of
/// the check (the service, its probes, the manifests) still runs on the
/// copy. `LAB_SELFTEST_REUSE=0` turns it off. Off outside the self-test.
///
/// Other steps whose outcome depends only on inputs a digest covers keep
/// their results here too ([`super::image::reusable`]: stage 03's rebuild
/// after a source change, for copies whose build stages are the same).
pub mod memo {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    use crate::report::Failure;

    #[derive(Clone, Copy, PartialEq, Eq)]
    pub enum Mode {
        Off,
        /// A base run (starter, solution): results are kept.
        Record,
        /// A broken copy: kept results are used when the inputs match.
        Replay,
    }

    #[derive(Clone)]
    pub(crate) enum Kept {
        Binary(Result<PathBuf, Failure>),
        Test(Result<String, Failure>),
        /// What a step recorded, line by line.
        Results(Vec<crate::report::CheckResult>),
    }

    struct Memo {
        mode: Mode,
        /// (step, digest of the cargo inputs) -> result, and the base it came from.
        kept: BTreeMap<(&'static str, u64), (Kept, String)>,
        /// Where the base's binaries are kept (later builds overwrite them
        /// in the shared target folder).
        binaries: Option<tempfile::TempDir>,
        /// What this run replayed, for the self-test's line.
        replayed: Vec<&'static str>,
    }

    static MEMO: Mutex<Memo> = Mutex::new(Memo {
        mode: Mode::Off,
        kept: BTreeMap::new(),
        binaries: None,
        replayed: Vec::new(),
    });

    /// Whether the self-test may reuse results (`LAB_SELFTEST_REUSE=0`: no).
    pub fn enabled() -> bool {
        !std::env::var("LAB_SELFTEST_REUSE").is_ok_and(|v| v.trim() == "0")
    }

    /// Sets the mode for the next run of a check; returns the steps the
    /// previous run replayed.
    pub fn set(mode: Mode) -> Vec<&'static str> {
        let mut memo = MEMO.lock().unwrap_or_else(|p| p.into_inner());
        memo.mode = if enabled() { mode } else { Mode::Off };
        std::mem::take(&mut memo.replayed)
    }

    /// Forgets everything (between stages).
    pub fn clear() {
        let mut memo = MEMO.lock().unwrap_or_else(|p| p.into_inner());
        memo.mode = Mode::Off;
        memo.kept.clear();
        memo.binaries = None;
        memo.replayed.clear();
    }

    /// Whether a run records (a base) or replays (a broken copy): the
    /// digest of a step's inputs is worth computing only then.
    pub(crate) fn mode() -> Mode {
        MEMO.lock().unwrap_or_else(|p| p.into_inner()).mode
    }

    /// The kept result of `step` for a folder with `dir`'s cargo inputs.
    pub(super) fn replay(step: &'static str, dir: &Path) -> Option<(Kept, String)> {
        if mode() != Mode::Replay {
            return None;
        }
        replay_digest(step, super::cargo_inputs(dir)?)
    }

    /// The kept result of `step` for inputs with this digest (a copy's).
    pub(crate) fn replay_digest(step: &'static str, digest: u64) -> Option<(Kept, String)> {
        let mut memo = MEMO.lock().unwrap_or_else(|p| p.into_inner());
        if memo.mode != Mode::Replay {
            return None;
        }
        let found = memo.kept.get(&(step, digest)).cloned();
        if found.is_some() {
            memo.replayed.push(step);
        }
        found
    }

    /// Keeps the result of `step` run on the base `dir` (its binary copied).
    pub(super) fn record(step: &'static str, dir: &Path, kept: Kept) {
        if mode() != Mode::Record {
            return;
        }
        let Some(digest) = super::cargo_inputs(dir) else {
            return;
        };
        record_digest(step, digest, dir, kept);
    }

    /// Keeps the result of `step` run on the base `dir`, whose inputs have
    /// this digest.
    pub(crate) fn record_digest(step: &'static str, digest: u64, dir: &Path, kept: Kept) {
        let mut memo = MEMO.lock().unwrap_or_else(|p| p.into_inner());
        if memo.mode != Mode::Record {
            return;
        }
        let kept = match kept {
            Kept::Binary(Ok(exe)) => {
                if memo.binaries.is_none() {
                    let base = crate::paths::target_dir().join("tmp");
                    let _ = std::fs::create_dir_all(&base);
                    memo.binaries = tempfile::tempdir_in(base).ok();
                }
                let Some(keep) = memo
                    .binaries
                    .as_ref()
                    .map(|d| d.path().join(digest.to_string()))
                else {
                    return;
                };
                let _ = std::fs::create_dir_all(&keep);
                let copy = keep.join(exe.file_name().unwrap_or_default());
                if std::fs::copy(&exe, &copy).is_err() {
                    return;
                }
                Kept::Binary(Ok(copy))
            }
            other => other,
        };
        memo.kept
            .insert((step, digest), (kept, crate::paths::show(dir)));
    }
}

/// A digest of every file of `dir` that a cargo build or test may read: all
/// of them except the Kubernetes manifests, Helm chart, Dockerfile,
/// `.dockerignore` and Markdown, and even those when a source or manifest
/// names them (an `include_str!`, a test that reads one). `None` when the
/// folder cannot be read.
pub fn cargo_inputs(dir: &Path) -> Option<u64> {
    fn walk(dir: &Path, at: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(at)? {
            let entry = entry?;
            let name = entry.file_name();
            if name == "target" || name == ".git" {
                continue;
            }
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                walk(dir, &path, out)?;
            } else {
                let relative = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
                out.push((relative, std::fs::read(&path)?));
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files).ok()?;
    files.sort();
    let unread = |relative: &Path| {
        let first = relative
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = relative
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        matches!(first.as_str(), "k8s" | "helm")
            || name == "Dockerfile"
            || name == ".dockerignore"
            || name.ends_with(".md")
    };
    // What cargo and the code read: sources, manifests, migrations, data.
    let read: Vec<&(PathBuf, Vec<u8>)> = files.iter().filter(|(p, _)| !unread(p)).collect();
    let named = |relative: &Path| {
        let name = relative
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        read.iter().any(|(_, bytes)| {
            bytes
                .windows(name.len().max(1))
                .any(|w| w == name.as_bytes())
        })
    };
    // FNV-1a over (path, length, content) of each file counted.
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (relative, bytes) in &files {
        if unread(relative) && !named(relative) {
            continue;
        }
        eat(relative.to_string_lossy().as_bytes());
        eat(&(bytes.len() as u64).to_le_bytes());
        eat(bytes);
    }
    Some(hash)
}

#[cfg(test)]
mod tests {
    use super::cargo_inputs;

    fn write(dir: &std::path::Path, file: &str, text: &str) {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// A manifest, Dockerfile or README change leaves the cargo inputs as
    /// they were; a source change, a new file, or a change to a file the
    /// sources name does not.
    #[test]
    fn cargo_inputs_leave_out_only_what_cargo_never_reads() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "Cargo.toml", "[package]\nname = \"x\"\n");
        write(d, "src/main.rs", "fn main() {}\n");
        write(d, "migrations/1_init.sql", "CREATE TABLE t ();\n");
        write(d, "k8s/deployment.yaml", "kind: Deployment\n");
        write(d, "Dockerfile", "FROM scratch\n");
        write(d, "README.md", "# x\n");
        let base = cargo_inputs(d).unwrap();
        write(d, "k8s/deployment.yaml", "kind: Deployment # edited\n");
        write(d, "Dockerfile", "FROM scratch\nUSER 0\n");
        write(d, "README.md", "# y\n");
        assert_eq!(cargo_inputs(d), Some(base));
        write(d, "migrations/1_init.sql", "CREATE TABLE u ();\n");
        let migrated = cargo_inputs(d).unwrap();
        assert_ne!(migrated, base);
        write(d, "src/main.rs", "fn main() { }\n");
        let edited = cargo_inputs(d).unwrap();
        assert_ne!(edited, migrated);
        // A test that reads a manifest makes the manifest an input.
        write(
            d,
            "src/main.rs",
            "const M: &str = include_str!(\"../k8s/deployment.yaml\");\nfn main() {}\n",
        );
        let named = cargo_inputs(d).unwrap();
        write(d, "k8s/deployment.yaml", "kind: Deployment # again\n");
        assert_ne!(cargo_inputs(d), Some(named));
    }

    /// Stage 05's manifests are not read by its crate: its broken
    /// manifests reuse the solution's build and tests in the self-test.
    #[test]
    fn stage_05s_manifests_are_not_cargo_inputs() {
        let solution = crate::paths::root().join("solutions/05-postgres");
        let copy = crate::scratch::copy_in(&std::env::temp_dir(), &solution).unwrap();
        let base = cargo_inputs(&copy.path).unwrap();
        for file in ["k8s/database.yaml", "k8s/deployment.yaml"] {
            let path = copy.path.join(file);
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, format!("{text}\n# edited\n")).unwrap();
        }
        assert_eq!(cargo_inputs(&copy.path), Some(base));
    }
}
