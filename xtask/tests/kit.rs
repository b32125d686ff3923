//! The kit checks itself: copies in sync, every stage folder registered, every
//! solution rustfmt- and clippy-clean, every starter compiling.

mod support;

use support::{serial, xtask};

#[test]
fn the_kit_is_consistent_and_its_code_is_clean() {
    let _turn = serial();
    let run = xtask(&["lint", "--code"]);
    assert!(
        run.success,
        "cargo xtask lint --code found problems:\n{}\n{}",
        run.stdout, run.stderr
    );
}

#[test]
fn doctor_names_every_tool_and_every_stage() {
    let run = xtask(&["doctor"]);
    assert!(run.success, "{}", run.stderr);
    for tool in [
        "cargo", "docker", "k3d", "kubectl", "helm", "skaffold", "postgres",
    ] {
        assert!(
            run.stdout.contains(tool),
            "doctor does not mention {tool}:\n{}",
            run.stdout
        );
    }
    assert!(run.stdout.contains("01-health"), "{}", run.stdout);
}

#[test]
fn a_drifted_copy_is_reported_with_its_file_and_line() {
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).unwrap();
    let kit = tempfile::tempdir_in(base).unwrap();
    for part in ["exercises", "solutions", "book"] {
        support::copy_tree(&support::root().join(part), &kit.path().join(part));
    }
    let copy = kit.path().join("exercises/01-health/tests/health.rs");
    let text = std::fs::read_to_string(&copy).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[2] = "// edited by hand";
    std::fs::write(&copy, lines.join("\n")).unwrap();

    let run = support::xtask_with_env(&["lint"], &[("LAB_KIT_ROOT", kit.path().to_str().unwrap())]);
    assert!(!run.success);
    assert!(
        run.stdout.contains("exercises/01-health/tests/health.rs:3: differs from its source solutions/01-health/tests/health.rs"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("cargo xtask sync"), "{}", run.stdout);
}
