//! Stage 06: IBDb. The running service against a real database (a smoke
//! test of the contract and a SIGTERM under load), then the stage's test
//! suite, which must be the reference one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::check::build::{self, failed_tests, summary};
use crate::check::database::database;
use crate::check::proof::{Base, Expect, Mutant, Proof, replace};
use crate::check::service::{self, Launch, ShutdownHints, Started, expect_json};
use crate::check::tree::tests_unchanged;
use crate::check::{Checker, Stage, Stop};
use crate::report::Failure;
use crate::tools::Tool;

pub const STAGE: Stage = Stage {
    id: "06-ibdb",
    title: "IBDb: the book review API",
    needs: &[Tool::Cargo],
    optional: &[],
    check,
    todos: &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
    proof: Proof {
        starter: Expect::failing(&["GET /readyz"]),
        solution: Expect {
            passed: &[
                "POST /books",
                "load during SIGTERM",
                "SIGTERM",
                "cargo test",
            ],
            skipped: &["stretch: ETag"],
            ..Expect::NOTHING
        },
        mutants: BROKEN,
    },
};

/// Broken copies the check must catch.
const BROKEN: &[Mutant] = &[
    Mutant {
        name: "edited tests",
        base: Base::Solution,
        edits: &[replace(
            "tests/api.rs",
            "assert_eq!(page[\"total\"], 5);",
            "",
        )],
        needs: &[],
        expect: Expect::only(&["tests unchanged"]),
    },
    // Each TODO the trainee writes in Rust (not SQL) is graded by tests whose
    // failure the check attributes to it.
    // Each TODO the trainee writes in Rust (not SQL) broken at once, and the
    // stretch task done badly (a tag that never changes, and no 304): the
    // failing tests are named under their TODOs, the first TODO in the hint.
    // One broken copy for all: each costs a build and the whole test suite.
    Mutant {
        name: "TODOs 2, 3, 10 and 13 broken, and a bad ETag",
        base: Base::Solution,
        edits: &[
            // TODO 2: problems with a wrong status field.
            replace("src/error.rs", "status: status.as_u16(),", "status: 0,"),
            // TODO 3: any content type accepted, and the whole body read
            // before its size is checked.
            replace(
                "src/extract.rs",
                "if !is_json(request.headers()) {",
                "if !is_json(request.headers()) && false {",
            ),
            replace(
                "src/extract.rs",
                "axum::body::to_bytes(request.into_body(), BODY_LIMIT)",
                "axum::body::to_bytes(request.into_body(), usize::MAX)",
            ),
            replace(
                "src/extract.rs",
                "let mut deserializer = serde_json::Deserializer::from_slice(&bytes);",
                "if bytes.len() > BODY_LIMIT { return Err(ApiError::PayloadTooLarge(BODY_LIMIT)); }\n        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);",
            ),
            // TODO 10: the transaction is never committed.
            replace("src/routes/reviews.rs", "tx.commit().await?;", ""),
            // TODO 13: the layer answers a bare 500 before the migrations.
            // (Not "lets requests through": the check's own requests would
            // then race the migrations, and its POST /books fail by chance.)
            replace(
                "src/routes/mod.rs",
                "Gated::Closed(Some(ApiError::Unavailable(None).into_response()))",
                "Gated::Closed(Some(axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()))",
            ),
            replace(
                "src/routes/mod.rs",
                "    api.merge(open).with_state(state)",
                "    api.merge(open)\n        .layer(axum::middleware::map_response(|mut r: Response| async move {\n            r.headers_mut().insert(header::ETAG, header::HeaderValue::from_static(\"\\\"x\\\"\"));\n            r\n        }))\n        .with_state(state)",
            ),
        ],
        needs: &[],
        expect: Expect {
            failed: &["cargo test", "stretch: ETag"],
            only: true,
            seen: &[
                "TODO 2: ",
                "unknown_routes_are_404_problems",
                "TODO 3: ",
                "wrong_content_type_is_415",
                "a_body_is_refused_once_past_the_limit_not_once_complete",
                "TODO 10: ",
                "delete_review_updates_the_rating",
                "TODO 13: ",
                "the_api_answers_503_until_the_migrations_have_run",
            ],
            hint: "work on TODO 2 first",
            ..Expect::NOTHING
        },
    },
];

/// The TODO each test of `tests/` belongs to: the last one it needs, in the
/// order of the README's steps (so a test passes once its TODO and the ones
/// before are done): those of `tests/` and the unit tests of `src/` that
/// need a TODO. Tests not listed pass on the starter.
// ANCHOR: tests_by_todo
pub const TESTS_BY_TODO: &[(u32, &[&str])] = &[
    (1, &["root_and_healthz_answer_ok"]),
    (
        2,
        &[
            "unknown_routes_are_404_problems",
            "non_numeric_or_overflowing_ids_are_400",
            "a_wrong_method_is_a_405_problem_with_allow",
            "a_long_url_is_a_414_problem",
            "too_many_or_too_large_headers_are_a_431_problem",
            "a_panicking_handler_answers_500_with_a_problem",
        ],
    ),
    (
        3,
        &[
            "malformed_json_is_400",
            "json_of_the_wrong_shape_is_422_naming_the_field",
            "wrong_content_type_is_415",
            "oversized_body_is_413",
            "a_body_is_refused_once_past_the_limit_not_once_complete",
            "a_body_slower_than_the_request_timeout_is_a_408_problem",
        ],
    ),
    (
        4,
        &[
            "optional_book_fields_may_be_omitted_or_null",
            "a_200_character_title_is_fine",
        ],
    ),
    (
        5,
        &[
            "create_book_returns_201_location_and_the_book",
            "get_unknown_book_is_404",
            "ids_are_written_one_way_only",
            "metrics_count_requests_per_route_and_status",
        ],
    ),
    (
        6,
        &[
            "duplicate_isbn_is_409",
            "deadlocks_and_serialization_failures_are_503_with_retry_after",
        ],
    ),
    (
        7,
        &[
            "list_books_pages_in_creation_order",
            "list_books_limit_is_capped_and_checked",
            "list_books_filters_title_and_author_ignoring_case",
            "invalid_books_are_422_listing_every_failing_field",
            "database_outage_gives_503_and_recovers_by_itself",
            "sigterm_ends_within_the_deadline_despite_a_half_sent_request",
            "idle_connections_do_not_delay_a_shutdown",
            // Passes once GET /books answers 503 for an unreachable
            // database (TODO 6's mapping), gate or no gate.
            "an_unreachable_database_is_named_while_healthz_answers",
        ],
    ),
    (
        8,
        &[
            "create_review_returns_201_and_updates_the_rating",
            "invalid_reviews_are_422",
            "concurrent_reviews_are_all_counted",
        ],
    ),
    (
        9,
        &[
            "reviewing_an_unknown_book_is_404",
            "list_reviews_newest_first_with_paging",
        ],
    ),
    (10, &["delete_review_updates_the_rating"]),
    (11, &["replace_book_updates_every_field"]),
    (
        12,
        &[
            "delete_book_removes_it_and_its_reviews",
            "deleting_a_book_while_its_reviews_are_deleted_never_fails",
        ],
    ),
    (13, &["the_api_answers_503_until_the_migrations_have_run"]),
];
// ANCHOR_END: tests_by_todo

/// `cargo test`, with the failing tests grouped by the TODO they belong to
/// and the hint pointing at the first of those TODOs.
fn tests_by_todo(ck: &mut Checker) -> Result<(), Stop> {
    // The panic message, not a backtrace, in the check's output.
    let out = crate::cargo::run(
        &ck.dir,
        &["test", "--no-fail-fast", "--color=never"],
        &[("RUST_BACKTRACE", "0")],
    );
    let result = match out {
        Ok(out) if out.status.success() => Ok(summary(&out.stdout)),
        Ok(out) => {
            let failed = failing(&out.stdout);
            let by_todo = group_by_todo(&failed);
            let hint = match by_todo.first() {
                Some((Some(todo), _)) => format!(
                    "work on TODO {todo} first (README.md, step {todo}); \
                     run one test with `cargo test --test api NAME` in {}",
                    crate::paths::show(&ck.dir)
                ),
                _ => format!(
                    "run `cargo test` in {} and fix the first failure",
                    crate::paths::show(&ck.dir)
                ),
            };
            let grouped = by_todo
                .iter()
                .map(|(todo, tests)| match todo {
                    Some(todo) => format!("TODO {todo}: {}", tests.join(", ")),
                    None => format!("not a TODO's test: {}", tests.join(", ")),
                })
                .collect::<Vec<_>>()
                .join("\n");
            let count = match failed.len() {
                1 => "1 test fails".to_string(),
                n => format!("{n} tests fail"),
            };
            Err(Failure::new(
                "`cargo test` to pass",
                format!(
                    "{count}; by the TODO each needs last:\n{grouped}\n{}",
                    failed_tests(&out.stdout, &out.stderr)
                ),
            )
            .hint(hint))
        }
        Err(failure) => Err(failure),
    };
    ck.require("cargo test", result, Clone::clone).map(drop)
}

/// The names of the tests libtest reported as failed.
fn failing(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("test ")?.strip_suffix(" ... FAILED"))
        .map(|name| name.rsplit("::").next().unwrap_or(name).to_string())
        .collect()
}

/// Failing tests grouped by their TODO, in TODO order; unknown ones last.
fn group_by_todo(failed: &[String]) -> Vec<(Option<u32>, Vec<String>)> {
    let mut groups: Vec<(Option<u32>, Vec<String>)> = Vec::new();
    for name in failed {
        let todo = TESTS_BY_TODO
            .iter()
            .find(|(_, tests)| tests.contains(&name.as_str()))
            .map(|(todo, _)| *todo);
        match groups.iter_mut().find(|(t, _)| *t == todo) {
            Some((_, tests)) => tests.push(name.clone()),
            None => groups.push((todo, vec![name.clone()])),
        }
    }
    groups.sort_by_key(|(todo, _)| todo.unwrap_or(u32::MAX));
    groups
}

fn check(ck: &mut Checker) -> Result<(), Stop> {
    tests_unchanged(ck)?;
    let exe = build::binary(ck)?;
    let db = database(ck)?;
    let live = live(ck, &exe, db.url());
    drop(db);
    // The tests run even when the service failed above: they name the TODO
    // a failure belongs to, where a request to the running service can only
    // guess (a 500 from a `todo!()` looks the same whichever TODO it is).
    let tests = tests_by_todo(ck);
    live.and(tests)
}

/// The service as a process: it starts, migrates, answers the contract's
/// main requests, and shuts down cleanly under load.
fn live(ck: &mut Checker, exe: &std::path::Path, db_url: &str) -> Result<(), Stop> {
    let launch = Launch {
        env: vec![("DATABASE_URL", db_url.to_string())],
        path: "/healthz",
        limit: Duration::from_secs(60),
        hint: "the service must connect and migrate at start",
        ready: Some("connected, migrated and answering"),
    };
    let mut server = service::start(ck, exe, launch)?;
    expect_json(ck, &server, "/", 200, r#"{"status":"OK"}"#, "")?;
    // The service answers /healthz before its migrations have run (its
    // port is bound first, for Kubernetes' probes): give /readyz time.
    service::wait_until_ok(&server.url("/readyz"), Duration::from_secs(30));
    expect_json(
        ck,
        &server,
        "/readyz",
        200,
        r#"{"status":"OK"}"#,
        "GET /readyz runs SELECT 1 (TODO 1)",
    )?;
    let book = create_book(ck, &server)?;
    get_book(ck, &server.url(&book), &server.url("/books/987654321"))?;
    let review_url = server.url(&format!("{book}/reviews"));
    stretch_etag(ck, &server.url(&book), &review_url);
    shutdown_under_load(ck, &server.url(&book), &review_url, &mut server)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// `POST /books` answers 201 with a `Location`; returns that path.
fn create_book(ck: &mut Checker, server: &Started) -> Result<String, Stop> {
    let url = server.url("/books");
    let body =
        r#"{"title":"Dune","author":"Frank Herbert","isbn":"9780441013593","published_year":1965}"#;
    let result = agent()
        .post(&url)
        .header("content-type", "application/json")
        .send(body)
        .map_err(|e| {
            Failure::new("an answer to POST /books", format!("{e}{}", server.log_tail()))
                .hint("the JSON body (TODO 3), then the INSERT (TODO 4): the end of the server's log above names the `todo!()` that panicked")
        })
        .and_then(|mut response| {
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let text = response.body_mut().read_to_string().unwrap_or_default();
            match (status, location) {
                (201, Some(location)) if location.starts_with("/books/") => Ok(location),
                (status, _) if status >= 500 => Err(Failure::new(
                    "201 with Location: /books/{id}",
                    format!("{status}, body {}{}", text.trim(), server.log_tail()),
                )
                .hint("a handler failed or panicked: the end of the server's log above says where; `cargo test` below names the TODO")),
                (status, location) => Err(Failure::new(
                    "201 with Location: /books/{id}",
                    format!("{status}, Location {location:?}, body {}", text.trim()),
                )
                .hint("INSERT ... RETURNING, then 201 with a Location header and the book (TODO 4)")),
            }
        });
    ck.require("POST /books", result, |location| {
        format!("201, Location: {location}")
    })
}

/// The new book is readable; an unknown one is a 404 problem.
fn get_book(ck: &mut Checker, url: &str, unknown: &str) -> Result<(), Stop> {
    let found = crate::http::get(url, Duration::from_secs(10))
        .map_err(|e| Failure::new("an answer", e))
        .and_then(|r| {
            let json: serde_json::Value = serde_json::from_str(&r.body).unwrap_or_default();
            if r.status == 200 && json["title"] == "Dune" && json["review_count"] == 0 {
                Ok(())
            } else {
                Err(Failure::new(
                    "200 with the book",
                    format!("{} {}", r.status, r.body.trim()),
                ))
            }
        })
        .map_err(|f| f.hint("SELECT the book by id (TODO 5)"));
    ck.require("GET /books/{id}", found, |()| "200 with the book".into())?;
    let missing = crate::http::get(unknown, Duration::from_secs(10))
        .map_err(|e| Failure::new("an answer", e))
        .and_then(|r| {
            let problem = r.content_type.as_deref() == Some("application/problem+json");
            if r.status == 404 && problem {
                Ok(())
            } else {
                Err(Failure::new(
                    "404 application/problem+json",
                    format!("{} {:?}", r.status, r.content_type),
                ))
            }
        })
        .map_err(|f| f.hint("no row means `not_found(id)` (TODO 5), answered as a problem document (TODO 2)"));
    ck.require("unknown book", missing, |()| "404 problem".into())?;
    Ok(())
}

/// The optional stretch task, graded when present: an `ETag` on
/// `GET /books/{id}`, a 304 for `If-None-Match` with it, and a new tag once
/// the book has changed (a review).
fn stretch_etag(ck: &mut Checker, url: &str, review_url: &str) {
    const CHECK: &str = "stretch: ETag";
    const HINT: &str = "the stretch task in README.md: compare If-None-Match with the book's tag, answer 304 with no body";
    let agent = agent();
    let tag = |agent: &ureq::Agent| -> Result<Option<String>, String> {
        let response = agent.get(url).call().map_err(|e| e.to_string())?;
        Ok(response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string))
    };
    let etag = match tag(&agent) {
        Ok(Some(etag)) => etag,
        Ok(None) => {
            ck.skip(
                CHECK,
                "optional, not attempted (no ETag header on GET /books/{id})",
                "see \"Stretch\" in the stage's README.md",
            );
            return;
        }
        Err(e) => {
            ck.fail(CHECK, "no answer", Failure::new("an answer to GET /books/{id}", e));
            return;
        }
    };
    let seen = agent
        .get(url)
        .header("if-none-match", &etag)
        .call()
        .map(|mut r| {
            let body = r.body_mut().read_to_string().unwrap_or_default();
            (r.status().as_u16(), body)
        });
    match seen {
        Ok((304, body)) if body.is_empty() => {}
        Ok((status, body)) => {
            ck.fail(
                CHECK,
                "If-None-Match with the current tag is not a 304",
                Failure::new(
                    format!("304 Not Modified with no body for If-None-Match: {etag}"),
                    format!("{status} {}", body.trim()),
                )
                .hint(HINT),
            );
            return;
        }
        Err(e) => {
            ck.fail(CHECK, "no answer", Failure::new("an answer", e.to_string()));
            return;
        }
    }
    let reviewed = agent
        .post(review_url)
        .header("content-type", "application/json")
        .send(r#"{"rating":5}"#)
        .map(|r| r.status().as_u16());
    match (reviewed, tag(&agent)) {
        (Ok(201), Ok(Some(after))) if after != etag => {
            ck.pass(CHECK, format!("304 for {etag}, a new tag after a review"));
        }
        (Ok(201), after) => ck.fail(
            CHECK,
            "the tag did not change with the book",
            Failure::new(
                format!("an ETag other than {etag} after a review"),
                format!("{after:?}"),
            )
            .hint("derive the tag from what changes: the review count, say (the stretch task in README.md)"),
        ),
        (reviewed, _) => ck.fail(
            CHECK,
            "could not review the book",
            Failure::new("201 to POST /books/{id}/reviews", format!("{reviewed:?}"))
                .hint("TODO 8"),
        ),
    }
}

// ANCHOR: sigterm_load
/// Four clients read and review for up to 3 s; SIGTERM arrives after 1 s.
/// Every answer must be a success, no request may fail before the signal,
/// and the process must exit cleanly within 10 s.
fn shutdown_under_load(
    ck: &mut Checker,
    read_url: &str,
    review_url: &str,
    server: &mut Started,
) -> Result<(), Stop> {
    let signalled = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU32::new(0));
    let bad = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let refused_after = Arc::new(AtomicU32::new(0));
    let deadline = Instant::now() + Duration::from_secs(3);
    let workers: Vec<_> = (0..4)
        .map(|n| {
            let (signalled, ok, bad, refused_after) = (
                signalled.clone(),
                ok.clone(),
                bad.clone(),
                refused_after.clone(),
            );
            let (read_url, review_url) = (read_url.to_string(), review_url.to_string());
            std::thread::spawn(move || {
                let agent = agent();
                // Bounded twice: by time and by count.
                for i in 0..20_000 {
                    if Instant::now() > deadline {
                        break;
                    }
                    let after_signal = signalled.load(Ordering::SeqCst);
                    let result = if (n + i) % 4 == 0 {
                        agent
                            .post(&review_url)
                            .header("content-type", "application/json")
                            .send(r#"{"rating":4}"#)
                    } else {
                        agent.get(&read_url).call()
                    };
                    match result {
                        Ok(r) if r.status().is_success() => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => bad.lock().unwrap().push(format!(
                            "{} answered {}",
                            if (n + i) % 4 == 0 { "POST /books/{id}/reviews" } else { "GET /books/{id}" },
                            r.status()
                        )),
                        // Once the listener is closed, new connections are refused:
                        // that is the point of shutting down, not a failure.
                        Err(_) if after_signal || signalled.load(Ordering::SeqCst) => {
                            refused_after.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        Err(e) => bad.lock().unwrap().push(e.to_string()),
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    signalled.store(true, Ordering::SeqCst);
    #[cfg(unix)]
    server.process.terminate();
    for worker in workers {
        let _ = worker.join();
    }
    let bad = bad.lock().unwrap().clone();
    let ok = ok.load(Ordering::Relaxed);
    let result = if bad.is_empty() && ok > 0 {
        Ok(ok)
    } else {
        let server_error = bad.iter().any(|b| b.contains(" answered 5"));
        let first = bad.iter().take(3).cloned().collect::<Vec<_>>().join("; ");
        let (seen, hint) = if server_error {
            (
                format!("{ok} succeeded, {} failed: {first}{}", bad.len(), server.log_tail()),
                "a handler failed under load: the end of the server's log above says where; reviewing a book is TODO 8",
            )
        } else {
            (
                format!("{ok} succeeded, {} failed: {first}", bad.len()),
                "a request failed before SIGTERM: the server stopped answering (its log shows why) or a handler never returns",
            )
        };
        Err(Failure::new("every request answered with success while shutting down", seen).hint(hint))
    };
    ck.require("load during SIGTERM", result, |ok| {
        format!("{ok} requests succeeded, none failed")
    })?;
    let hints = ShutdownHints::AS_IN_STAGE_01;
    service::graceful_shutdown(ck, &mut server.process, Duration::from_secs(10), hints)
}
// ANCHOR_END: sigterm_load

#[cfg(test)]
mod tests {
    use super::*;

    /// Every test named in TESTS_BY_TODO is a test of the reference, once.
    #[test]
    fn every_test_by_todo_exists_once() {
        let root = crate::paths::root().join("solutions/06-ibdb");
        let sources = ["tests/api.rs", "tests/reliability.rs", "src/routes/mod.rs"]
            .map(|f| std::fs::read_to_string(root.join(f)).unwrap())
            .join("\n");
        let mut seen = std::collections::HashSet::new();
        for (todo, tests) in TESTS_BY_TODO {
            for test in *tests {
                assert!(
                    sources.contains(&format!("async fn {test}()")),
                    "TODO {todo}: no test {test}"
                );
                assert!(seen.insert(*test), "{test} is listed twice");
            }
        }
    }

    /// The stage README's table of steps names the same tests per TODO
    /// as `TESTS_BY_TODO` (`list_books_*` stands for every test so named).
    #[test]
    fn the_readme_lists_each_todos_tests() {
        let readme =
            std::fs::read_to_string(crate::paths::root().join("exercises/06-ibdb/README.md"))
                .unwrap();
        for (todo, tests) in TESTS_BY_TODO {
            let row = readme
                .lines()
                .find(|line| line.starts_with(&format!("| {todo} |")))
                .unwrap_or_else(|| panic!("exercises/06-ibdb/README.md: no row for TODO {todo}"));
            let named: Vec<&str> = row
                .rsplit('|')
                .nth(1)
                .unwrap()
                .split('`')
                .skip(1)
                .step_by(2)
                .collect();
            let matches = |name: &str, test: &str| match name.strip_suffix('*') {
                Some(prefix) => test.starts_with(prefix),
                None => name == test,
            };
            for test in *tests {
                assert!(
                    named.iter().any(|name| matches(name, test)),
                    "exercises/06-ibdb/README.md, TODO {todo}'s row: {test} is missing"
                );
            }
            for name in &named {
                assert!(
                    tests.iter().any(|test| matches(name, test)),
                    "exercises/06-ibdb/README.md, TODO {todo}'s row names {name}, \
                     which TESTS_BY_TODO puts elsewhere (or nowhere)"
                );
            }
        }
    }

    #[test]
    fn failures_are_grouped_in_todo_order() {
        let out = "test delete_review_updates_the_rating ... FAILED\n\
                   test x::wrong_content_type_is_415 ... FAILED\n\
                   test mystery ... FAILED\ntest root_and_healthz_answer_ok ... ok\n";
        let groups = group_by_todo(&failing(out));
        assert_eq!(groups[0], (Some(3), vec!["wrong_content_type_is_415".into()]));
        assert_eq!(groups[1], (Some(10), vec!["delete_review_updates_the_rating".into()]));
        assert_eq!(groups[2], (None, vec!["mystery".into()]));
    }
}
