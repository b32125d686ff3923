//! The checks of stages 05-07 (IBDb on PostgreSQL) fail on the starters,
//! pass on the solutions, and catch broken copies. They need PostgreSQL:
//! DATABASE_URL, Docker, or a local server installation (see
//! solutions/06-ibdb/tests/support/postgres.rs).

mod support;

use support::{StageCopy, verify};

fn failed_checks(run: &support::Run) -> Vec<String> {
    run.checks()
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| c["check"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn stage_05_starter_fails_at_start() {
    let run = verify(&["05"]);
    assert!(!run.success, "{}", run.stderr);
    assert_eq!(run.stage_status("05-postgres"), "failed");
    let start = run.check("start").expect("the start check ran");
    assert!(
        start["seen"].as_str().unwrap().contains("pool"),
        "the failure shows the starter's todo!(): {start}"
    );
}

#[test]
fn stage_05_solution_passes() {
    let run = verify(&["--solutions", "05"]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    for check in ["database", "start", "GET /readyz", "SIGTERM", "cargo test"] {
        assert_eq!(run.check(check).unwrap()["passed"], true, "{check}");
    }
}

#[test]
fn stage_05_a_missing_readyz_route_fails_the_readyz_check() {
    let copy = StageCopy::new("solutions/05-postgres");
    copy.replace("src/lib.rs", r#".route("/readyz", get(ready))"#, "");
    let run = verify(&["--dir", copy.path_str()]);
    assert!(!run.success);
    assert!(
        failed_checks(&run).contains(&"GET /readyz".to_string()),
        "{:?}",
        failed_checks(&run)
    );
}

#[test]
fn stage_06_starter_fails_at_the_first_handler() {
    let run = verify(&["06"]);
    assert!(!run.success, "{}", run.stderr);
    assert_eq!(run.stage_status("06-ibdb"), "failed");
    assert!(
        failed_checks(&run).contains(&"GET /readyz".to_string()),
        "{:?}",
        failed_checks(&run)
    );
}

#[test]
fn stage_06_solution_passes() {
    let run = verify(&["--solutions", "06"]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    for check in [
        "POST /books",
        "load during SIGTERM",
        "SIGTERM",
        "cargo test",
    ] {
        assert_eq!(run.check(check).unwrap()["passed"], true, "{check}");
    }
}

#[test]
fn stage_06_edited_tests_are_refused() {
    let copy = StageCopy::new("solutions/06-ibdb");
    copy.replace("tests/api.rs", "assert_eq!(page[\"total\"], 5);", "");
    let run = verify(&["--dir", copy.path_str()]);
    assert!(!run.success);
    assert_eq!(failed_checks(&run), ["tests unchanged"]);
}

#[test]
fn stage_07_starter_fails() {
    let run = verify(&["07"]);
    assert!(!run.success, "{}", run.stderr);
    assert_eq!(failed_checks(&run), ["cargo test"]);
}

#[test]
fn stage_07_solution_catches_every_mutant() {
    let run = verify(&["--solutions", "07"]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let caught = run
        .checks()
        .iter()
        .filter(|c| c["check"].as_str().unwrap().starts_with("catches: "))
        .count();
    assert!(caught >= 10, "{caught} mutants checked");
}

#[test]
fn stage_07_tests_that_assert_nothing_are_caught() {
    // Tests that pass whatever the handlers do: step 1 passes, every mutant survives.
    let copy = StageCopy::new("exercises/07-mocks");
    let tests = copy.file("src/handler_tests.rs");
    let text = std::fs::read_to_string(&tests).unwrap();
    let text = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("todo!("))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&tests, text).unwrap();
    let run = verify(&["--dir", copy.path_str()]);
    assert!(!run.success);
    let failed = failed_checks(&run);
    assert!(
        !failed.contains(&"cargo test".to_string()),
        "empty tests pass: {failed:?}"
    );
    assert!(
        failed.iter().all(|c| c.starts_with("catches: ")),
        "{failed:?}"
    );
    assert!(failed.len() >= 10, "every mutant survives: {failed:?}");
}
