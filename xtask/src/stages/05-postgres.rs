//! Stage 05: the service on PostgreSQL. Checked as a running process against
//! a real database (probes, shutdown), then by the stage's own test suite.

use std::time::Duration;

use crate::check::database::database;
use crate::check::proof::{Base, Expect, Mutant, Proof, replace};
use crate::check::service::{self, Launch, ShutdownHints, expect_json};
use crate::check::tree::tests_unchanged;
use crate::check::{Checker, Stage, Stop, build};
use crate::tools::Tool;

pub const STAGE: Stage = Stage {
    id: "05-postgres",
    title: "PostgreSQL: pool, migrations, readiness",
    needs: &[Tool::Cargo],
    optional: &[],
    check,
    todos: &[1, 2, 3, 4, 5],
    proof: Proof {
        // The failure shows the starter's todo!() for the pool.
        starter: Expect {
            seen: &["pool"],
            ..Expect::failing(&["start"])
        },
        solution: Expect {
            passed: &["database", "start", "GET /readyz", "SIGTERM", "cargo test"],
            ..Expect::NOTHING
        },
        mutants: BROKEN,
    },
};

/// Broken copies the check must catch.
const BROKEN: &[Mutant] = &[Mutant {
    name: "a missing /readyz route",
    base: Base::Solution,
    edits: &[replace(
        "src/lib.rs",
        r#".route("/readyz", get(ready))"#,
        "",
    )],
    needs: &[],
    expect: Expect::failing(&["GET /readyz"]),
}];

fn check(ck: &mut Checker) -> Result<(), Stop> {
    tests_unchanged(ck)?;
    let exe = build::binary(ck)?;
    let db = database(ck)?;
    let launch = Launch {
        env: vec![("DATABASE_URL", db.url().to_string())],
        path: "/healthz",
        limit: Duration::from_secs(60),
        hint: "the pool (TODO 1) and the migrations (TODO 2, 3)",
        ready: Some("connected, migrated and answering"),
    };
    let mut server = service::start(ck, &exe, launch)?;
    for path in ["/", "/healthz"] {
        expect_json(ck, &server.url(path), 200, r#"{"status":"OK"}"#, "")?;
    }
    expect_json(
        ck,
        &server.url("/readyz"),
        200,
        r#"{"status":"OK"}"#,
        "GET /readyz runs SELECT 1 and answers 200 (TODO 4, TODO 5)",
    )?;
    let hints = ShutdownHints::AS_IN_STAGE_01;
    service::graceful_shutdown(ck, &mut server.process, Duration::from_secs(5), hints)?;
    drop(db);
    build::cargo_test(ck)
}
