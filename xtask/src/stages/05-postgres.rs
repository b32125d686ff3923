//! Stage 05: the service on PostgreSQL. Checked as a running process against
//! a real database (probes, shutdown), then by the stage's own test suite.

use std::time::Duration;

use crate::check::database::database;
use crate::check::proof::{Base, Edit, Expect, Mutant, Proof, replace};
use crate::check::service::{self, Launch, ShutdownHints, expect_json};
use crate::check::tree::tests_unchanged;
use crate::check::{Checker, Stage, Stop, build};
use crate::http;
use crate::report::Failure;
use crate::tools::Tool;

pub const STAGE: Stage = Stage {
    id: "05-postgres",
    title: "PostgreSQL: pool, migrations, readiness",
    needs: &[Tool::Cargo],
    optional: &[],
    check,
    todos: &[1, 2, 3, 4, 5, 6, 7],
    proof: Proof {
        // The failure shows the starter's todo!() for the pool.
        starter: Expect {
            seen: &["pool"],
            ..Expect::failing(&["start", "k8s database"])
        },
        solution: Expect {
            passed: &[
                "database",
                "start",
                "GET /readyz",
                "GET /stats",
                "SIGTERM",
                "cargo test",
                "k8s parse",
                "k8s database",
                "k8s security",
            ],
            ..Expect::NOTHING
        },
        mutants: BROKEN,
    },
};

/// Broken copies the check must catch, each named by the TODO it breaks.
const BROKEN: &[Mutant] = &[
    Mutant {
        name: "a missing /readyz route (TODO 5)",
        base: Base::Solution,
        edits: &[replace(
            "src/lib.rs",
            r#".route("/readyz", get(ready))"#,
            "",
        )],
        needs: &[],
        expect: Expect {
            hint: "TODO 5",
            ..Expect::failing(&["GET /readyz"])
        },
    },
    Mutant {
        name: "the pool ignores DB_MAX_CONNECTIONS (TODO 1)",
        base: Base::Solution,
        edits: &[replace(
            "src/db.rs",
            ".max_connections(config.max_connections)",
            ".max_connections(10)",
        )],
        needs: &[],
        expect: Expect {
            seen: &["TODO 1", "max_connections"],
            ..Expect::only(&["cargo test"])
        },
    },
    Mutant {
        name: "the pool ignores DB_ACQUIRE_TIMEOUT_MS (TODO 1)",
        base: Base::Solution,
        edits: &[replace(
            "src/db.rs",
            ".acquire_timeout(config.acquire_timeout)",
            "",
        )],
        needs: &[],
        expect: Expect {
            seen: &["TODO 1", "acquire_timeout"],
            ..Expect::only(&["cargo test"])
        },
    },
    Mutant {
        name: "migrations not retried while the database is unreachable (TODO 3)",
        base: Base::Solution,
        edits: &[replace(
            "src/db.rs",
            "if is_unavailable(&error) && Instant::now()",
            "if false && is_unavailable(&error) && Instant::now()",
        )],
        needs: &[],
        expect: Expect {
            seen: &["migrate_retries_until_the_database_answers", "TODO 3"],
            ..Expect::only(&["cargo test"])
        },
    },
    Mutant {
        name: "every migration error retried (TODO 3)",
        base: Base::Solution,
        edits: &[replace(
            "src/db.rs",
            "if is_unavailable(&error) && Instant::now()",
            "if Instant::now()",
        )],
        needs: &[],
        expect: Expect {
            seen: &["migrate_fails_at_once_when_retrying_cannot_help", "TODO 3"],
            ..Expect::only(&["cargo test"])
        },
    },
    Mutant {
        name: "retried past the timeout (TODO 3)",
        base: Base::Solution,
        edits: &[replace(
            "src/db.rs",
            "if is_unavailable(&error) && Instant::now() + delay < deadline",
            "if is_unavailable(&error) && deadline > deadline - delay",
        )],
        needs: &[],
        expect: Expect {
            seen: &["migrate_gives_up_after_the_timeout", "TODO 3"],
            ..Expect::only(&["cargo test"])
        },
    },
    Mutant {
        name: "the stretch task's /stats beyond the pool's size",
        base: Base::Solution,
        edits: &[replace("src/lib.rs", "size: pool.size(),", "size: 99,")],
        needs: &[],
        expect: Expect {
            hint: "stretch",
            ..Expect::only(&["GET /stats"])
        },
    },
    // The cluster side (k8s/, crate::k8s::stage05).
    Mutant {
        name: "DATABASE_URL from the wrong key of the secret (TODO 7)",
        base: Base::Solution,
        edits: &[replace("k8s/deployment.yaml", "key: uri", "key: url")],
        needs: &[],
        expect: Expect {
            seen: &[
                "k8s/deployment.yaml:{line:k8s/deployment.yaml:key: url}: Deployment/books: container books: DATABASE_URL reads key url of books-db-app, which is not the connection string",
            ],
            hint: "key: uri",
            ..Expect::only(&["k8s database"])
        },
    },
    Mutant {
        name: "DATABASE_URL from a secret the operator does not write (TODO 7)",
        base: Base::Solution,
        edits: &[replace(
            "k8s/deployment.yaml",
            "name: books-db-app",
            "name: books-app",
        )],
        needs: &[],
        expect: Expect {
            seen: &[
                "k8s/deployment.yaml:{line:k8s/deployment.yaml:name: books-app}: Deployment/books: container books: DATABASE_URL reads secret books-app, but CloudNativePG writes the credentials of Cluster books-db to books-db-app",
            ],
            ..Expect::only(&["k8s database"])
        },
    },
    Mutant {
        name: "a misspelled Cluster field, with path, line and suggestion (TODO 6)",
        base: Base::Solution,
        edits: &[replace("k8s/database.yaml", "    size: 1Gi", "    sise: 1Gi")],
        needs: &[],
        expect: Expect {
            check: "k8s parse",
            seen: &[
                "k8s/database.yaml:{line:k8s/database.yaml:sise:}: Cluster/books-db: unknown field sise at spec.storage.sise (not in the CloudNativePG 1.30.0 Cluster schema)",
            ],
            hint: "did you mean size?",
            ..Expect::only(&["k8s parse", "k8s database"])
        },
    },
    Mutant {
        name: "a value the operator's schema refuses (TODO 6)",
        base: Base::Solution,
        edits: &[replace(
            "k8s/database.yaml",
            "  instances: 3",
            "  primaryUpdateStrategy: fast\n  instances: 3",
        )],
        needs: &[],
        expect: Expect {
            seen: &[
                "k8s/database.yaml:{line:k8s/database.yaml:primaryUpdateStrategy}: Cluster/books-db: spec.primaryUpdateStrategy is \"fast\", not one of unsupervised, supervised",
            ],
            ..Expect::only(&["k8s parse"])
        },
    },
    Mutant {
        name: "a database without its owner (TODO 6)",
        base: Base::Solution,
        edits: &[Edit::DropLines {
            file: "k8s/database.yaml",
            starting: "owner: books",
        }],
        needs: &[],
        expect: Expect {
            seen: &["Cluster/books-db: spec.bootstrap.initdb needs database and owner"],
            ..Expect::only(&["k8s database"])
        },
    },
    Mutant {
        name: "the service's pods as root",
        base: Base::Solution,
        edits: &[replace(
            "k8s/deployment.yaml",
            "runAsUser: 65532",
            "runAsUser: 0",
        )],
        needs: &[],
        expect: Expect {
            seen: &[
                "k8s/deployment.yaml:{line:k8s/deployment.yaml:runAsUser:}: Deployment/books: container books runs as root (runAsUser: 0)",
            ],
            ..Expect::only(&["k8s security"])
        },
    },
];

#[cfg(feature = "k8s")]
fn cluster_side(ck: &mut Checker) -> Result<(), Stop> {
    crate::k8s::stage05::check(ck)
}

/// Built without the `k8s` feature: `cargo xtask` hands stage 05 over to an
/// xtask built with it (features.rs), so only another caller gets here.
#[cfg(not(feature = "k8s"))]
fn cluster_side(ck: &mut Checker) -> Result<(), Stop> {
    let failure = crate::report::Failure::new(
        "an xtask built with stage 05's cluster check (the `k8s` feature)",
        "this xtask was built without it, to start faster in the first stages",
    )
    .hint("run `cargo xtask verify 05`: it builds that part once (a minute or two), then checks");
    Err(ck.stop("k8s files", "stage 05's cluster check is not built into this xtask", failure))
}

fn check(ck: &mut Checker) -> Result<(), Stop> {
    // The service first, in the README's order (TODOs 1-5, so the summary's
    // "first" failure is where the trainee starts); the cluster side (k8s/,
    // TODOs 6 and 7) runs whether or not the service's checks stopped early.
    let service = service_side(ck);
    cluster_side(ck)?;
    service
}

fn service_side(ck: &mut Checker) -> Result<(), Stop> {
    tests_unchanged(ck)?;
    let exe = build::binary(ck)?;
    let db = database(ck)?;
    let launch = Launch {
        env: vec![
            ("DATABASE_URL", db.url().to_string()),
            // A limit the stretch task's /stats must stay under.
            ("DB_MAX_CONNECTIONS", MAX_CONNECTIONS.to_string()),
        ],
        path: "/healthz",
        limit: Duration::from_secs(60),
        hint: "the pool (TODO 1) and the migrations (TODO 2, 3)",
        ready: Some("connected, migrated and answering"),
    };
    let mut server = service::start(ck, &exe, launch)?;
    for path in ["/", "/healthz"] {
        expect_json(ck, &server, path, 200, r#"{"status":"OK"}"#, "")?;
    }
    expect_json(
        ck,
        &server,
        "/readyz",
        200,
        r#"{"status":"OK"}"#,
        "GET /readyz runs SELECT 1 and answers 200 (TODO 4, TODO 5)",
    )?;
    stretch_stats(ck, &server.url("/stats"));
    let hints = ShutdownHints::AS_IN_STAGE_01;
    service::graceful_shutdown(ck, &mut server.process, Duration::from_secs(5), hints)?;
    drop(db);
    build::cargo_test(ck)
}

/// `DB_MAX_CONNECTIONS` of the checked service.
const MAX_CONNECTIONS: u32 = 4;

/// The optional stretch task (README): `GET /stats` with the pool's figures,
/// checked when present (a 404 is only noted).
fn stretch_stats(ck: &mut Checker, url: &str) {
    let Ok(r) = http::get(url, Duration::from_secs(5)) else {
        return;
    };
    if r.status == 404 {
        ck.note("stretch task (optional, README): not attempted, GET /stats answers 404");
        return;
    }
    let body: Option<serde_json::Value> = serde_json::from_str(&r.body).ok();
    let figure = |name: &str| body.as_ref()?.get("pool")?.get(name)?.as_u64();
    match (r.status, figure("size"), figure("idle")) {
        (200, Some(size), Some(idle)) if idle <= size && size <= u64::from(MAX_CONNECTIONS) => {
            ck.pass("GET /stats", format!("stretch task: {}", r.body.trim()));
        }
        _ => ck.fail(
            "GET /stats",
            "the pool's figures are not right",
            Failure::new(
                format!(
                    r#"200 {{"pool":{{"size":S,"idle":I}}}} with I ≤ S ≤ {MAX_CONNECTIONS} (DB_MAX_CONNECTIONS)"#
                ),
                format!("{} {}", r.status, r.body.trim()),
            )
            .hint("the stretch task: answer Json with pool.size() and pool.num_idle() of the shared PgPool"),
        ),
    }
}
