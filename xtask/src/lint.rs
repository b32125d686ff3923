//! `cargo xtask lint`: the kit's own consistency (carried copies, stage
//! folders, lockfiles) and, with `--code`, the code of every stage folder:
//! solutions `rustfmt` and `clippy -D warnings` clean, starters compiling,
//! and the xtask of the first stages (no default features) clippy-clean.

use std::path::Path;

use crate::cargo::in_stage;
use crate::paths;
use crate::stages::STAGES;

/// Every problem found, one line each, saying where and what to do.
pub fn run(code: bool) -> Vec<String> {
    let mut problems = crate::carry::lint();
    if code {
        problems.extend(light_xtask());
        for stage in STAGES {
            let solution = paths::root().join("solutions").join(stage.id);
            let exercise = paths::root().join("exercises").join(stage.id);
            if solution.join("Cargo.toml").is_file() {
                problems.extend(cargo(
                    &solution,
                    &["fmt", "--check"],
                    "run `cargo fmt` there",
                ));
                problems.extend(cargo(
                    &solution,
                    &["clippy", "--all-targets", "--quiet", "--", "-D", "warnings"],
                    "fix the warnings clippy shows",
                ));
            }
            if exercise.join("Cargo.toml").is_file() {
                // Starters may hold unused code for the trainee, but they compile.
                problems.extend(cargo(
                    &exercise,
                    &["check", "--all-targets", "--quiet"],
                    "the starter must compile",
                ));
            }
        }
    }
    problems
}

/// The build `cargo xtask` makes (features.rs): the default build that
/// clippy and the tests see has every feature, so this one is checked apart.
fn light_xtask() -> Option<String> {
    let args = [
        "clippy",
        "--package",
        "xtask",
        "--no-default-features",
        "--quiet",
        "--",
        "-D",
        "warnings",
    ];
    eprintln!("  xtask: cargo {}", args.join(" "));
    let out = duct::cmd("cargo", args)
        .dir(paths::root())
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run();
    match out {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "xtask without default features (what `cargo xtask` builds): `cargo {}` failed; gate what only an optional part uses with #[cfg(feature = ...)] (xtask/src/features.rs):\n{}",
            args.join(" "),
            crate::proc::tail(&String::from_utf8_lossy(&out.stderr), 40)
        )),
        Err(e) => Some(format!("xtask: cargo could not run: {e}")),
    }
}

fn cargo(dir: &Path, args: &[&str], todo: &str) -> Option<String> {
    eprintln!("  {}: cargo {}", paths::show(dir), args.join(" "));
    let out = in_stage(dir, args)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run();
    match out {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "{}: `cargo {}` failed ({todo}):\n{}{}",
            paths::show(dir),
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            crate::proc::tail(&String::from_utf8_lossy(&out.stderr), 40)
        )),
        Err(e) => Some(format!("{}: cargo could not run: {e}", paths::show(dir))),
    }
}
