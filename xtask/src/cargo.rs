//! Running cargo on a stage folder.

use std::path::{Path, PathBuf};

use crate::proc::tail;
use crate::report::Failure;

/// The cargo that runs this xtask, so stages build with the same toolchain.
pub fn program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// `cargo <args>` in the stage folder `dir`, made to rebuild that folder's
/// own crate.
///
/// Every stage folder shares one target folder, and cargo identifies a path
/// package by its name and its path *relative to its own root*. So
/// `exercises/01-health` and `solutions/01-health` (both package `health`)
/// share artifacts, and cargo would call the solution "fresh" after building
/// the starter if the solution's files are older. Touching the folder's
/// sources makes cargo rebuild that one crate (seconds); dependencies stay
/// shared. Checks of two such folders must not run at the same time.
pub fn in_stage(dir: &Path, args: &[&str]) -> duct::Expression {
    mark_sources_changed(dir);
    duct::cmd(program(), args).dir(dir)
}

fn mark_sources_changed(dir: &Path) {
    let now = std::time::SystemTime::now();
    for sub in ["src", "tests", "benches", "examples"] {
        touch_tree(&dir.join(sub), now);
    }
}

fn touch_tree(path: &Path, now: std::time::SystemTime) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            touch_tree(&entry.path(), now);
        }
    } else if path.extension().is_some_and(|e| e == "rs")
        && let Ok(file) = std::fs::File::options().append(true).open(path)
    {
        let _ = file.set_modified(now);
    }
}

/// `cargo build` in `dir`; returns the path of the binary it built.
pub fn build_bin(dir: &Path) -> Result<PathBuf, Failure> {
    let out = in_stage(
        dir,
        &[
            "build",
            "--message-format=json-render-diagnostics",
            "--color=never",
        ],
    )
    .stdout_capture()
    .stderr_capture()
    .unchecked()
    .run()
    .map_err(|e| Failure::new("cargo to run", e.to_string()))?;
    if !out.status.success() {
        return Err(Failure::new(
            "`cargo build` to succeed",
            tail(&errors_only(&String::from_utf8_lossy(&out.stderr)), 25),
        )
        .hint(format!(
            "run `cargo build` in {} and fix the first error",
            crate::paths::show(dir)
        )));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact")
        .filter_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .next_back()
        .ok_or_else(|| {
            Failure::new("a binary target (src/main.rs)", "cargo built no executable")
                .hint("keep `src/main.rs` with a `main` function")
        })
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
