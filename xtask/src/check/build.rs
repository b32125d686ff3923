//! Steps that run cargo in the stage folder: build its binary, run its tests.

use std::path::{Path, PathBuf};

use super::{Checker, Stop};
use crate::report::Failure;

/// `cargo build`: the binary it produced, or the stage stops.
pub fn binary(ck: &mut Checker) -> Result<PathBuf, Stop> {
    ck.require("build", crate::cargo::build_bin(&ck.dir), |exe| {
        format!("cargo build produced {}", crate::paths::show(exe))
    })
}

/// `cargo test` in the stage folder must pass.
pub fn cargo_test(ck: &mut Checker) -> Result<(), Stop> {
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
    ck.require("cargo test", result, Clone::clone).map(drop)
}

/// (passed, stdout, stderr) of `cargo test <extra>` in `dir`, which may be a
/// scratch copy outside the kit (the shared target folder is named).
pub fn run_tests(dir: &Path, extra: &[&str]) -> Result<(bool, String, String), String> {
    let args: Vec<&str> = ["test", "--color=never"]
        .iter()
        .chain(extra)
        .copied()
        .collect();
    let out = crate::cargo::in_stage(dir, &args)
        .env("CARGO_TARGET_DIR", crate::paths::target_dir())
        // The panic message, not a backtrace, in the check's output.
        .env("RUST_BACKTRACE", "0")
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| e.to_string())?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
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
