//! Stage 06: IBDb. The running service against a real database (a smoke
//! test of the contract and a SIGTERM under load), then the stage's test
//! suite, which must be the reference one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::check::build::{self, cargo_test};
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
    todos: &[1, 2, 3],
    proof: Proof {
        starter: Expect::failing(&["GET /readyz"]),
        solution: Expect {
            passed: &[
                "POST /books",
                "load during SIGTERM",
                "SIGTERM",
                "cargo test",
            ],
            ..Expect::NOTHING
        },
        mutants: BROKEN,
    },
};

/// Broken copies the check must catch.
const BROKEN: &[Mutant] = &[Mutant {
    name: "edited tests",
    base: Base::Solution,
    edits: &[replace(
        "tests/api.rs",
        "assert_eq!(page[\"total\"], 5);",
        "",
    )],
    needs: &[],
    expect: Expect::only(&["tests unchanged"]),
}];

fn check(ck: &mut Checker) -> Result<(), Stop> {
    tests_unchanged(ck)?;
    let exe = build::binary(ck)?;
    let db = database(ck)?;
    let launch = Launch {
        env: vec![("DATABASE_URL", db.url().to_string())],
        path: "/healthz",
        limit: Duration::from_secs(60),
        hint: "the service must connect and migrate at start",
        ready: Some("connected, migrated and answering"),
    };
    let mut server = service::start(ck, &exe, launch)?;
    expect_json(ck, &server.url("/"), 200, r#"{"status":"OK"}"#, "")?;
    // The service answers /healthz before its migrations have run (its
    // port is bound first, for Kubernetes' probes): give /readyz time.
    service::wait_until_ok(&server.url("/readyz"), Duration::from_secs(30));
    expect_json(
        ck,
        &server.url("/readyz"),
        200,
        r#"{"status":"OK"}"#,
        "GET /readyz runs SELECT 1 (TODO 1)",
    )?;
    let book = create_book(ck, &server.url("/books"))?;
    get_book(ck, &server.url(&book), &server.url("/books/987654321"))?;
    let review_url = server.url(&format!("{book}/reviews"));
    shutdown_under_load(ck, &server.url(&book), &review_url, &mut server)?;
    drop(db);
    cargo_test(ck)
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
fn create_book(ck: &mut Checker, url: &str) -> Result<String, Stop> {
    let body =
        r#"{"title":"Dune","author":"Frank Herbert","isbn":"9780441013593","published_year":1965}"#;
    let result = agent()
        .post(url)
        .header("content-type", "application/json")
        .send(body)
        .map_err(|e| Failure::new("an answer to POST /books", e.to_string()).hint("see TODO 2"))
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
                (status, location) => Err(Failure::new(
                    "201 with Location: /books/{id}",
                    format!("{status}, Location {location:?}, body {}", text.trim()),
                )
                .hint("INSERT ... RETURNING, then (StatusCode::CREATED, [(LOCATION, ..)], Json(book)) (TODO 2)")),
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
        .map_err(|f| f.hint("SELECT the book by id (TODO 3)"));
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
        .map_err(|f| f.hint("no row means `not_found(id)` (TODO 3)"));
    ck.require("unknown book", missing, |()| "404 problem".into())?;
    Ok(())
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
                        Ok(r) => bad.lock().unwrap().push(format!("status {}", r.status())),
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
        Err(Failure::new(
            "every request answered with success while shutting down",
            format!("{ok} succeeded, {} failed: {}", bad.len(), bad.iter().take(3).cloned().collect::<Vec<_>>().join("; ")),
        )
        .hint("serve with `with_graceful_shutdown(..)`: in-flight requests finish, new ones are refused"))
    };
    ck.require("load during SIGTERM", result, |ok| {
        format!("{ok} requests succeeded, none failed")
    })?;
    let hints = ShutdownHints::AS_IN_STAGE_01;
    service::graceful_shutdown(ck, &mut server.process, Duration::from_secs(10), hints)
}
// ANCHOR_END: sigterm_load
