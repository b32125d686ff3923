//! Behaviour under concurrency and when the database goes away. Every loop is
//! bounded in count and time; all traffic stays on 127.0.0.1. A module of
//! the one test binary, `tests/api.rs`.

use std::time::{Duration, Instant};

use crate::support::{assert_problem, spawn_app, spawn_app_behind_proxy};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reviews_are_all_counted() {
    let app = spawn_app().await;
    let id = app.create_book("Dune", "Frank Herbert").await["id"]
        .as_i64()
        .unwrap();
    let url = app.url(&format!("/books/{id}/reviews"));

    // 200 reviews at once, ratings 1,2,3,4,5,1,2,...: the average is 3.
    let requests = (0..200).map(|i| {
        let client = app.client.clone();
        let url = url.clone();
        tokio::spawn(async move {
            let body = json!({ "rating": i % 5 + 1, "comment": format!("review {i}") });
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .map(|r| r.status())
        })
    });
    let statuses = futures_util::future::join_all(requests).await;
    for status in statuses {
        assert_eq!(status.unwrap().unwrap(), StatusCode::CREATED);
    }

    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM reviews WHERE book_id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 200, "every review is stored exactly once");
    let book: Value = app.get(&format!("/books/{id}")).await.json().await.unwrap();
    assert_eq!(book["review_count"], 200, "no lost update on the count");
    assert_eq!(book["average_rating"], 3.0, "no lost update on the sum");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_gives_503_and_recovers_by_itself() {
    let app = spawn_app_behind_proxy().await;
    let proxy = app.proxy.as_ref().unwrap();
    let id = app.create_book("Dune", "Frank Herbert").await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);

    proxy.cut();
    let problem = assert_problem(app.get("/readyz").await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("database"),
        "{problem}"
    );
    assert_eq!(
        app.get("/healthz").await.status(),
        StatusCode::OK,
        "liveness ignores the database"
    );
    let started = Instant::now();
    assert_problem(
        app.get(&format!("/books/{id}")).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "503 comes fast, not after a hang"
    );
    let response = app
        .post_json(&format!("/books/{id}/reviews"), &json!({ "rating": 5 }))
        .await;
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_problem(app.get("/books").await, StatusCode::SERVICE_UNAVAILABLE).await;

    proxy.restore();
    // The pool reconnects on its own; poll for at most 20 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if app.get("/readyz").await.status() == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still not ready 20 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let response = app.get(&format!("/books/{id}")).await;
    assert_eq!(response.status(), StatusCode::OK, "the API works again");
    let response = app
        .post_json(&format!("/books/{id}/reviews"), &json!({ "rating": 5 }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_a_book_while_its_reviews_are_deleted_never_fails() {
    let app = spawn_app().await;
    // The deadlock this guards against showed in most rounds; 20 make it
    // all but certain.
    for round in 0..20 {
        let id = app.create_book(&format!("Book {round}"), "Author").await["id"]
            .as_i64()
            .unwrap();
        let mut reviews = Vec::new();
        for rating in 1..=20 {
            reviews.push(app.review(id, rating % 5 + 1).await["id"].as_i64().unwrap());
        }
        let mut requests = vec![app.client.delete(app.url(&format!("/books/{id}")))];
        for review in reviews {
            requests.push(app.client.delete(app.url(&format!("/reviews/{review}"))));
        }
        let responses = futures_util::future::join_all(
            requests.into_iter().map(|r| async move { r.send().await }),
        )
        .await;
        for response in responses {
            let response = response.unwrap();
            let status = response.status();
            let body = response.text().await.unwrap();
            assert!(
                status == StatusCode::NO_CONTENT || status == StatusCode::NOT_FOUND,
                "round {round}: concurrent deletes answer 204 or 404, got {status}: {body}"
            );
        }
        assert_eq!(
            app.get(&format!("/books/{id}")).await.status(),
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn deadlocks_and_serialization_failures_are_503_with_retry_after() {
    let app = spawn_app().await;
    for code in ["deadlock_detected", "serialization_failure"] {
        let sql = format!("DO $$ BEGIN RAISE EXCEPTION 'test' USING ERRCODE = '{code}'; END $$");
        let error = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&app.pool)
            .await
            .unwrap_err();
        let response =
            axum::response::IntoResponse::into_response(ibdb::error::ApiError::from(error));
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{code}");
        assert_eq!(response.headers()["retry-after"], "1", "{code}");
    }
}

// ---- The whole program: settings, start-up, shutdown ----------------------

use crate::support::{TestDb, process::Process};

#[tokio::test]
async fn bad_settings_exit_2_naming_the_variable() {
    let db = TestDb::new().await;
    let url = db.url();
    for (name, value, expected) in [
        (
            "DB_MAX_CONNECTIONS",
            "0",
            "DB_MAX_CONNECTIONS must be a whole number from 1",
        ),
        (
            "REQUEST_TIMEOUT_MS",
            "0",
            "REQUEST_TIMEOUT_MS must be a whole number from 1",
        ),
        (
            "DATABASE_URL",
            "mysql://root@127.0.0.1/ibdb",
            "must start with postgres://",
        ),
    ] {
        let mut vars = vec![("DATABASE_URL", url.as_str()), ("PORT", "0")];
        vars.push((name, value));
        let mut process = Process::start(&vars);
        let status = process.wait_exit(Duration::from_secs(10));
        let output = process.output();
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(2),
            "{name}={value}:\n{output}"
        );
        assert!(output.contains(expected), "{name}={value}:\n{output}");
        assert!(!output.contains("panicked"), "{output}");
    }
}

#[tokio::test]
async fn an_unreachable_database_is_named_while_healthz_answers() {
    // Port 1 on loopback: nothing listens there, so connecting is refused.
    let mut process = Process::start(&[
        ("DATABASE_URL", "postgres://ibdb:s3cret@127.0.0.1:1/ibdb"),
        ("PORT", "0"),
        ("DB_STARTUP_TIMEOUT_MS", "3000"),
    ]);
    let base = format!("http://127.0.0.1:{}", process.port());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let healthz = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(
        healthz.status(),
        StatusCode::OK,
        "the port is bound before the database answers"
    );
    let readyz = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_problem(readyz, StatusCode::SERVICE_UNAVAILABLE).await;
    let books = client.get(format!("{base}/books")).send().await.unwrap();
    assert_problem(books, StatusCode::SERVICE_UNAVAILABLE).await;

    let status = process.wait_exit(Duration::from_secs(15));
    let output = process.output();
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{output}");
    for expected in [
        "postgres://ibdb@127.0.0.1:1/ibdb",
        "refused",
        "DB_STARTUP_TIMEOUT_MS",
    ] {
        assert!(
            output.contains(expected),
            "the error names {expected:?}:\n{output}"
        );
    }
    assert!(
        !output.contains("s3cret"),
        "never print the password:\n{output}"
    );
    assert!(!output.contains("PoolTimedOut"), "{output}");
}

#[tokio::test]
async fn an_unknown_database_fails_at_once_with_a_hint() {
    let db = TestDb::new().await;
    let url = db.url().replace(&db.name, "no_such_database");
    let mut process = Process::start(&[("DATABASE_URL", &url), ("PORT", "0")]);
    let status = process.wait_exit(Duration::from_secs(10));
    let output = process.output();
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{output}");
    assert!(
        output.contains("\"no_such_database\" does not exist"),
        "{output}"
    );
    assert!(output.contains("Create that database"), "{output}");
}

#[tokio::test]
async fn a_port_in_use_is_said_plainly() {
    let db = TestDb::new().await;
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let mut process = Process::start(&[("DATABASE_URL", &db.url()), ("PORT", &port)]);
    let status = process.wait_exit(Duration::from_secs(10));
    let output = process.output();
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{output}");
    assert!(
        output.contains(&format!("cannot listen on 0.0.0.0:{port}")),
        "{output}"
    );
    assert!(output.contains("PORT"), "{output}");
    assert!(!output.contains("Os {"), "{output}");
}

#[tokio::test]
async fn sigterm_ends_within_the_deadline_despite_a_half_sent_request() {
    use tokio::io::AsyncWriteExt;

    let db = TestDb::new().await;
    let mut process = Process::start(&[
        ("DATABASE_URL", &db.url()),
        ("PORT", "0"),
        // Longer than the test waits: only the shutdown deadline can end it.
        ("HEADER_READ_TIMEOUT_MS", "60000"),
        ("SHUTDOWN_TIMEOUT_MS", "1500"),
    ]);
    let port = process.port();
    process
        .wait_for("database migrated", Duration::from_secs(20))
        .expect("migrated");
    // An idle keep-alive connection, and one stuck in the middle of its head.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(
        client
            .get(format!("{base}/books"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let mut stuck = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stuck
        .write_all(b"GET /books HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let signalled = Instant::now();
    process.terminate();
    let status = process.wait_exit(Duration::from_secs(30));
    let output = process.output();
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "exit 0 after SIGTERM:\n{output}"
    );
    // Generous for a slow machine, far below the 60 s header time-out.
    assert!(
        signalled.elapsed() < Duration::from_secs(15),
        "SHUTDOWN_TIMEOUT_MS=1500 bounds the shutdown; took {:?}:\n{output}",
        signalled.elapsed()
    );
}

#[tokio::test]
async fn idle_connections_do_not_delay_a_shutdown() {
    let db = TestDb::new().await;
    let mut process = Process::start(&[
        ("DATABASE_URL", &db.url()),
        ("PORT", "0"),
        ("SHUTDOWN_TIMEOUT_MS", "30000"),
    ]);
    let port = process.port();
    process
        .wait_for("database migrated", Duration::from_secs(20))
        .expect("migrated");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = client
        .get(format!("http://127.0.0.1:{port}/books"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let signalled = Instant::now();
    process.terminate();
    let status = process.wait_exit(Duration::from_secs(40));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "{}",
        process.output()
    );
    // Waiting the connection out would take the whole 30 s deadline.
    assert!(
        signalled.elapsed() < Duration::from_secs(15),
        "an idle keep-alive connection is closed at once, not waited for: {:?}",
        signalled.elapsed()
    );
}
