//! Stage 01: the health endpoint, checked as a running process over real HTTP.

use std::time::Duration;

use crate::check::proof::{Base, Expect, Mutant, Proof, replace};
use crate::check::service::{self, HealthHints, Launch, ShutdownHints};
use crate::check::{Checker, Stage, Stop, build};
use crate::tools::Tool;

pub const STAGE: Stage = Stage {
    id: "01-health",
    title: "Health endpoint",
    needs: &[Tool::Cargo],
    optional: &[],
    check,
    todos: &[1, 2, 3, 4],
    proof: Proof {
        starter: Expect {
            seen: &["TODO 1"],
            ..Expect::failing(&["start"])
        },
        solution: Expect {
            passed: &[
                "build",
                "start",
                "status",
                "body",
                "content-type",
                "SIGTERM",
            ],
            ..Expect::NOTHING
        },
        mutants: BROKEN,
    },
};

/// Broken copies of the solution the check must catch.
const BROKEN: &[Mutant] = &[
    Mutant {
        name: "a changed body",
        base: Base::Solution,
        edits: &[replace("src/lib.rs", r#"status: "OK""#, r#"status: "ok""#)],
        needs: &[],
        expect: Expect::only(&["body"]),
    },
    Mutant {
        name: "a changed route",
        base: Base::Solution,
        edits: &[replace(
            "src/lib.rs",
            r#"route("/","#,
            r#"route("/health","#,
        )],
        needs: &[],
        expect: Expect::failing(&["status"]),
    },
    Mutant {
        name: "a text body",
        base: Base::Solution,
        edits: &[replace(
            "src/lib.rs",
            "Router::new().route(\"/\", get(health))",
            "Router::new().route(\"/\", get(|| async { r#\"{\"status\":\"OK\"}\"# }))",
        )],
        needs: &[],
        expect: Expect::only(&["content-type"]),
    },
    Mutant {
        name: "SIGTERM ignored",
        base: Base::Solution,
        edits: &[replace(
            "src/main.rs",
            ".with_graceful_shutdown(health::shutdown_signal())",
            "",
        )],
        needs: &[],
        expect: Expect::only(&["SIGTERM"]),
    },
    Mutant {
        name: "a hard-coded port",
        base: Base::Solution,
        edits: &[replace(
            "src/main.rs",
            "let port = health::port_from_env()",
            "let port = Ok::<u16, String>(8000)",
        )],
        needs: &[],
        expect: Expect::only(&["start"]),
    },
];

fn check(ck: &mut Checker) -> Result<(), Stop> {
    let exe = build::binary(ck)?;
    let launch = Launch {
        env: Vec::new(),
        path: "/",
        limit: Duration::from_secs(15),
        hint: "read PORT from the environment and bind 0.0.0.0:$PORT (TODO 1)",
        ready: None,
    };
    let mut server = service::start(ck, &exe, launch)?;
    let hints = HealthHints {
        closed: " (TODO 2)",
        status: "route GET / to the health handler (TODO 3)",
        body: r#"return Json(Health { status: "OK" }) (TODO 2)"#,
    };
    service::expect_health(ck, &server.url("/"), &hints)?;
    let hints = ShutdownHints {
        exit_status: "handle SIGTERM: wait for it in shutdown_signal and pass that to with_graceful_shutdown (TODO 4)",
        still_running: "shutdown_signal must complete on SIGTERM, not only on Ctrl-C (TODO 4)",
    };
    service::graceful_shutdown(ck, &mut server.process, Duration::from_secs(5), hints)
}
