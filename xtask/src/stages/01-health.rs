//! Stage 01: the health endpoint, checked as a running process over real HTTP.

use std::time::Duration;

use crate::check::proof::{Base, Expect, Mutant, Proof, replace};
use crate::check::service::{self, HealthHints, Launch, ShutdownHints};
use crate::check::{Checker, Stage, Stop, build};
use crate::http;
use crate::report::Failure;
use crate::tools::Tool;

pub const STAGE: Stage = Stage {
    id: "01-health",
    title: "Health endpoint",
    needs: &[Tool::Cargo],
    optional: &[],
    check,
    todos: &[1, 2, 3, 4, 5, 6, 7],
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
                "stats",
                "counter",
                "404",
                "SIGTERM",
            ],
            ..Expect::NOTHING
        },
        mutants: BROKEN,
    },
};

/// Broken copies of the solution the check must catch, one or more per TODO.
const BROKEN: &[Mutant] = &[
    Mutant {
        name: "a changed body (TODO 3)",
        base: Base::Solution,
        edits: &[replace("src/lib.rs", r#"status: "OK""#, r#"status: "ok""#)],
        needs: &[],
        expect: Expect {
            hint: "TODO 3",
            ..Expect::only(&["body"])
        },
    },
    Mutant {
        name: "a changed route (TODO 5)",
        base: Base::Solution,
        edits: &[replace(
            "src/lib.rs",
            r#"route("/","#,
            r#"route("/health","#,
        )],
        needs: &[],
        expect: Expect {
            hint: "TODO 5",
            ..Expect::failing(&["status"])
        },
    },
    Mutant {
        name: "a text body (TODO 3)",
        base: Base::Solution,
        edits: &[replace(
            "src/lib.rs",
            ".route(\"/\", get(health))",
            ".route(\"/\", get(|| async { r#\"{\"status\":\"OK\"}\"# }))",
        )],
        needs: &[],
        expect: Expect::only(&["content-type", "counter"]),
    },
    Mutant {
        name: "GET / not counted (TODO 2, 3)",
        base: Base::Solution,
        edits: &[replace(
            "src/lib.rs",
            "state.requests.fetch_add(1, Ordering::Relaxed);",
            "",
        )],
        needs: &[],
        expect: Expect {
            seen: &["0 after one more GET /"],
            hint: "TODO 3",
            ..Expect::only(&["counter"])
        },
    },
    Mutant {
        name: "/stats reads no counter (TODO 4)",
        base: Base::Solution,
        edits: &[replace(
            "src/lib.rs",
            "Json(Stats { requests })",
            "Json(Stats { requests: 0 })",
        )],
        needs: &[],
        expect: Expect {
            hint: "TODO 4",
            ..Expect::only(&["counter"])
        },
    },
    Mutant {
        name: "each route with a state of its own (TODO 5)",
        base: Base::Solution,
        edits: &[replace(
            "src/lib.rs",
            ".route(\"/stats\", get(stats))",
            ".with_state(AppState::default()).route(\"/stats\", get(stats))",
        )],
        needs: &[],
        expect: Expect {
            hint: "one AppState",
            ..Expect::only(&["counter"])
        },
    },
    Mutant {
        name: "no /stats route (TODO 5)",
        base: Base::Solution,
        edits: &[replace("src/lib.rs", ".route(\"/stats\", get(stats))", "")],
        needs: &[],
        expect: Expect {
            seen: &["404"],
            hint: "TODO 5",
            ..Expect::only(&["stats"])
        },
    },
    Mutant {
        name: "SIGTERM not awaited, only Ctrl-C (TODO 6)",
        base: Base::Solution,
        edits: &[replace("src/lib.rs", "() = terminate => {},", "")],
        needs: &[],
        expect: Expect {
            hint: "TODO 6",
            ..Expect::only(&["SIGTERM"])
        },
    },
    Mutant {
        name: "no graceful shutdown (TODO 7)",
        base: Base::Solution,
        edits: &[replace(
            "src/main.rs",
            ".with_graceful_shutdown(health::shutdown_signal())",
            "",
        )],
        needs: &[],
        expect: Expect {
            hint: "TODO 7",
            ..Expect::only(&["SIGTERM"])
        },
    },
    Mutant {
        name: "a hard-coded port (TODO 1)",
        base: Base::Solution,
        edits: &[replace(
            "src/main.rs",
            "let port = health::port_from_env()",
            "let port = Ok::<u16, String>(8000)",
        )],
        needs: &[],
        expect: Expect {
            hint: "TODO 1",
            ..Expect::only(&["start"])
        },
    },
    Mutant {
        name: "the stretch task's 404 with another body",
        base: Base::Solution,
        edits: &[replace(
            "src/lib.rs",
            r#"status: "NOT_FOUND""#,
            r#"status: "not found""#,
        )],
        needs: &[],
        expect: Expect {
            hint: "stretch",
            ..Expect::only(&["404"])
        },
    },
];

fn check(ck: &mut Checker) -> Result<(), Stop> {
    let exe = build::binary(ck)?;
    let launch = Launch {
        env: Vec::new(),
        path: "/",
        limit: Duration::from_secs(15),
        hint: "read PORT from the environment in port_from_env (TODO 1); main.rs binds 0.0.0.0 on that port",
        ready: None,
    };
    let mut server = service::start(ck, &exe, launch)?;
    let hints = HealthHints {
        closed: " (TODO 3)",
        status: "route GET / to the health handler (TODO 5)",
        body: r#"return Json(Health { status: "OK" }) (TODO 3)"#,
    };
    service::expect_health(ck, &server.url("/"), &hints)?;
    counter(ck, &server.url("/stats"), &server.url("/"));
    stretch_not_found(ck, &server.url("/no-such-path"));
    let hints = ShutdownHints {
        exit_status: "wait for SIGTERM as well as Ctrl-C in shutdown_signal (TODO 6), and serve with `.with_graceful_shutdown(health::shutdown_signal())` (TODO 7)",
        still_running: "shutdown_signal must complete on SIGTERM, not only on Ctrl-C (TODO 6)",
    };
    service::graceful_shutdown(ck, &mut server.process, Duration::from_secs(5), hints)
}

/// `GET /stats` as `{"requests": N}`, or a failed "stats" check.
fn read_stats(ck: &mut Checker, url: &str) -> Option<u64> {
    let failure = match http::get(url, Duration::from_secs(5)) {
        Ok(r) if r.status == 404 => Failure::new(r#"200 {"requests": N}"#, "404 Not Found")
            .hint("route GET /stats to the stats handler (TODO 5)"),
        Ok(r) => {
            let body: Option<serde_json::Value> = serde_json::from_str(&r.body).ok();
            let requests = body.as_ref().and_then(|b| b.get("requests")?.as_u64());
            match requests {
                Some(n) if r.status == 200 => return Some(n),
                _ => Failure::new(
                    r#"200 {"requests": N}, N a whole number"#,
                    format!("{} {}", r.status, r.body.trim()),
                )
                .hint("answer Json(Stats { requests }) with the counter's value (TODO 4)"),
            }
        }
        Err(no) => Failure::new("an answer to GET /stats", no)
            .hint("a panic closes the connection: the server's output names the TODO (TODO 4)"),
    };
    ck.fail("stats", "GET /stats is not the request count", failure);
    None
}

/// The state: one more `GET /` is one more in `GET /stats`.
fn counter(ck: &mut Checker, stats: &str, root: &str) {
    let Some(before) = read_stats(ck, stats) else {
        return;
    };
    ck.pass("stats", format!(r#"{{"requests":{before}}}"#));
    let _ = http::get(root, Duration::from_secs(5));
    let Some(after) = read_stats(ck, stats) else {
        return;
    };
    if after == before + 1 {
        ck.pass("counter", format!("{before} → {after} after one more GET /"));
    } else {
        let failure = Failure::new(
            format!("{} after one more GET /", before + 1),
            format!("{after} after one more GET / (it was {before})"),
        )
        .hint(
            "each GET / adds one to the state's counter (TODO 2, TODO 3) and GET /stats reads that counter (TODO 4); \
             if it never moves, either the counter is a plain number (every request gets a clone of the state, so \
             `State(mut state)` adds to a copy: share it behind an `Arc` with an atomic, TODO 2) or the routes do not \
             share one AppState (a single `.with_state(..)` after both routes, TODO 5)",
        );
        ck.fail("counter", "GET /stats does not count GET /", failure);
    }
}

/// The optional stretch task (README): a JSON 404. Checked when present,
/// that is when an unknown path answers JSON; a plain 404 is only noted.
fn stretch_not_found(ck: &mut Checker, url: &str) {
    let Ok(r) = http::get(url, Duration::from_secs(5)) else {
        return;
    };
    let json = r
        .content_type
        .as_deref()
        .is_some_and(|t| t.starts_with("application/json"));
    let expected = serde_json::json!({ "status": "NOT_FOUND" });
    let body: Option<serde_json::Value> = serde_json::from_str(&r.body).ok();
    if r.status == 404 && !json {
        ck.note("stretch task (optional, README): not attempted, unknown paths answer a plain 404");
    } else if r.status == 404 && body.as_ref() == Some(&expected) {
        ck.pass("404", r#"stretch task: 404 {"status":"NOT_FOUND"}"#);
    } else {
        let failure = Failure::new(
            r#"404 {"status":"NOT_FOUND"} (or axum's plain 404)"#,
            format!("{} {}", r.status, r.body.trim()),
        )
        .hint("the stretch task: a `.fallback(..)` handler answering (StatusCode::NOT_FOUND, Json(..)) with {\"status\":\"NOT_FOUND\"}");
        ck.fail("404", "an unknown path does not answer 404", failure);
    }
}
