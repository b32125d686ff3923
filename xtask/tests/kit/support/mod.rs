//! Helpers for the kit's own tests: run the xtask binary, copy stage folders,
//! and skip (loudly) or fail when a tool is missing.
#![allow(dead_code, reason = "each test file uses a different part")]

#[cfg(unix)]
pub mod fake;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde_json::Value;

/// Checks of copies of one stage share artifact names in the shared target
/// folder (see CONTRIBUTING.md), so tests that run checks take turns.
static CHECKS: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    CHECKS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// What one `cargo xtask ...` run did.
#[derive(Debug)]
pub struct Run {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The `--json` report on stdout.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Every check result of the report, flattened.
    pub fn checks(&self) -> Vec<Value> {
        self.json()["stages"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|stage| stage["checks"].as_array().unwrap().clone())
            .collect()
    }

    /// The result of the check named `name`, if it ran.
    pub fn check(&self, name: &str) -> Option<Value> {
        self.checks().into_iter().find(|c| c["check"] == name)
    }

    pub fn stage_status(&self, stage: &str) -> String {
        self.json()["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == stage)
            .map(|s| s["status"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("stage {stage} not in the report:\n{}", self.stdout))
    }
}

/// Runs the xtask binary with `args` from the repository root.
pub fn xtask(args: &[&str]) -> Run {
    xtask_with_env(args, &[])
}

pub fn xtask_with_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut expression = duct::cmd(env!("CARGO_BIN_EXE_xtask"), args).dir(root());
    for (key, value) in env {
        expression = expression.env(key, value);
    }
    let out = expression
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .expect("the xtask binary runs");
    Run {
        success: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `cargo xtask verify --json <args>`, taking turns with other checks.
pub fn verify(args: &[&str]) -> Run {
    let _turn = serial();
    let mut all = vec!["verify", "--json"];
    all.extend_from_slice(args);
    xtask(&all)
}

/// A copy of `from` (relative to the root, e.g. `solutions/01-health`) in a
/// fresh folder under the target folder, named like the stage, so that it
/// still builds with the shared target folder.
pub struct StageCopy {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl StageCopy {
    pub fn new(from: &str) -> StageCopy {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(base).unwrap();
        let dir = tempfile::tempdir_in(base).unwrap();
        let source = root().join(from);
        let path = dir.path().join(source.file_name().unwrap());
        copy_tree(&source, &path);
        StageCopy { _dir: dir, path }
    }

    pub fn file(&self, relative: &str) -> PathBuf {
        self.path.join(relative)
    }

    /// Replaces `from` with `to` in one file; panics if `from` is not there,
    /// so a mutation that no longer applies is noticed.
    pub fn replace(&self, relative: &str, from: &str, to: &str) {
        let path = self.file(relative);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(from),
            "{relative} no longer contains {from:?}"
        );
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Whether a tool-dependent test can run. Without the tool it prints a loud
/// SKIP and returns false, unless `LAB_REQUIRE_ALL=1` or
/// `LAB_REQUIRE_<NAME>=1` is set (as on CI): then it fails the test.
pub fn tool_available(name: &str, works: bool, install_hint: &str) -> bool {
    if works {
        return true;
    }
    let flag = |var: &str| std::env::var(var).is_ok_and(|v| v == "1" || v == "true");
    let var = format!("LAB_REQUIRE_{}", name.to_uppercase());
    if flag("LAB_REQUIRE_ALL") || flag(&var) {
        panic!(
            "{name} is required ({var} or LAB_REQUIRE_ALL is set) but not usable here: {install_hint}"
        );
    }
    visible(&format!(
        "!!! SKIPPED: {name} is not usable on this machine ({install_hint}); set {var}=1 to make this a failure"
    ));
    false
}

/// Prints a note a person must see even when the test passes. libtest
/// captures only what goes through `print!`/`eprint!` (and shows it for
/// failed tests only); a write to the stderr handle goes straight to file
/// descriptor 2, which `cargo test` passes through. Proved by
/// `a_skip_shows_in_the_test_output`.
pub fn visible(note: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "\n{note}\n");
    let _ = err.flush();
}

/// Whether `program args` runs and exits 0 (its output is thrown away).
pub fn runs(program: &str, args: &[&str]) -> bool {
    duct::cmd(program, args)
        .stdout_null()
        .stderr_null()
        .unchecked()
        .run()
        .is_ok_and(|out| out.status.success())
}

/// Whether a Docker engine answers; see [`tool_available`] for the skip.
pub fn docker_works() -> bool {
    tool_available(
        "docker",
        runs("docker", &["version", "--format", "{{.Server.Version}}"]),
        "install Docker and start its engine (on Debian: apt-get install docker.io; dockerd &), then `cargo xtask docker standins` when nothing can be pulled",
    )
}
