//! `cargo xtask lint`: the kit's own consistency (carried copies, stage
//! folders, lockfiles) and, with `--code`, the code of every stage folder:
//! solutions `rustfmt` and `clippy -D warnings` clean, starters compiling.

use std::path::Path;

use crate::cargo::in_stage;
use crate::paths;
use crate::stages::STAGES;

/// Every problem found, one line each, saying where and what to do.
pub fn run(code: bool) -> Vec<String> {
    let mut problems = crate::carry::lint();
    if code {
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
