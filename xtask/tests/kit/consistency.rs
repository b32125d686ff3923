//! The kit checks itself: copies in sync, every stage folder registered, every
//! solution rustfmt- and clippy-clean, every starter compiling.

use crate::support;

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

/// Run only by `a_skip_shows_in_the_test_output`: a test whose tool is
/// missing, as a Docker test is on a machine without Docker.
#[test]
#[ignore = "run by a_skip_shows_in_the_test_output"]
fn skip_probe() {
    if !support::tool_available("notool", false, "install notool") {
        return;
    }
    unreachable!("the tool is never available");
}

/// Run only by `a_skip_shows_in_the_test_output`: what `eprintln!` in a
/// passing test shows (nothing: libtest captures it).
#[test]
#[ignore = "run by a_skip_shows_in_the_test_output"]
fn eprintln_probe() {
    eprintln!("eprintln from a passing test");
}

/// Runs this very test binary on the probes above, as `cargo test` does, and
/// reads what a person sees: the skip note of a passing test is there, and
/// `LAB_REQUIRE_<TOOL>=1` turns the skip into a failure.
#[test]
fn a_skip_shows_in_the_test_output() {
    // Test names are module paths without the crate's name.
    let prefix = module_path!()
        .split_once("::")
        .map(|(_, path)| format!("{path}::"))
        .unwrap_or_default();
    let run = |probe: &str, env: &[(&str, &str)]| {
        let mut cmd = duct::cmd!(
            std::env::current_exe().unwrap(),
            "--ignored",
            "--exact",
            format!("{prefix}{probe}"),
            "--test-threads=1"
        )
        .stdout_capture()
        .stderr_capture()
        .unchecked();
        // (duct applies an inner env_remove after an outer env: one or the other.)
        for key in ["LAB_REQUIRE_ALL", "LAB_REQUIRE_NOTOOL"] {
            cmd = match env.iter().find(|(k, _)| *k == key) {
                Some((_, value)) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        let out = cmd.run().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };

    let (passed, text) = run("eprintln_probe", &[]);
    assert!(passed && text.contains("1 passed"), "{text}");
    assert!(
        !text.contains("eprintln from a passing test"),
        "libtest no longer hides eprintln! of a passing test; the reason for support::visible is gone:\n{text}"
    );

    let (passed, text) = run("skip_probe", &[]);
    assert!(passed && text.contains("1 passed"), "{text}");
    assert!(
        text.contains("!!! SKIPPED: notool is not usable on this machine (install notool); set LAB_REQUIRE_NOTOOL=1"),
        "a skipped test must say so in the output a person reads:\n{text}"
    );

    let (passed, text) = run("skip_probe", &[("LAB_REQUIRE_NOTOOL", "1")]);
    assert!(
        !passed,
        "LAB_REQUIRE_* must turn the skip into a failure:\n{text}"
    );
    assert!(text.contains("notool is required"), "{text}");
}
