//! The service against a real PostgreSQL: probes, migrations, outages.

mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::spawn_app;

#[tokio::test]
async fn root_and_healthz_answer_ok() {
    let app = spawn_app().await;
    for path in ["/", "/healthz"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({ "status": "OK" }), "GET {path}");
    }
}

#[tokio::test]
async fn readyz_is_ok_while_the_database_answers() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "status": "OK" }));
}

#[tokio::test]
async fn migrations_ran_at_start() {
    let app = spawn_app().await;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&app.pool)
        .await
        .expect("the migrations table exists: run the migrations at start");
    assert_eq!(applied, 1, "migrations/0001_create_books.sql is applied");
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO books (title, author) VALUES ('Dune', 'Frank Herbert') RETURNING id",
    )
    .fetch_one(&app.pool)
    .await
    .expect("the books table exists");
    assert!(id > 0);
}

#[tokio::test]
async fn migrating_twice_is_harmless() {
    let app = spawn_app().await;
    // A second replica starting on the same database runs them again.
    ibdb_postgres::db::migrate(&app.pool, Duration::from_secs(5))
        .await
        .expect("already applied migrations are skipped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_database_and_recovers() {
    let app = spawn_app().await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);

    app.proxy.cut();
    let started = Instant::now();
    let response = app.get("/readyz").await;
    assert_eq!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "database gone"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "status": "UNAVAILABLE" }));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "503 comes fast, not after a hang"
    );
    assert_eq!(
        app.get("/healthz").await.status(),
        StatusCode::OK,
        "liveness ignores the database"
    );

    app.proxy.restore();
    // The pool reconnects on its own; poll for at most 20 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.get("/readyz").await.status() != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "still not ready 20 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
