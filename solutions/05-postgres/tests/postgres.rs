//! The service against a real PostgreSQL: probes, migrations, outages.

mod support;

use std::time::{Duration, Instant};

use ibdb_postgres::{config::DbConfig, db};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::postgres::PgConnectOptions;
use support::{TestDb, proxy::Proxy, spawn_app};

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
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "TODO 5 routes GET /readyz, TODO 4 answers 200 while SELECT 1 works"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "status": "OK" }), "TODO 4: the body");
}

#[tokio::test]
async fn migrations_ran_at_start() {
    let app = spawn_app().await;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&app.pool)
        .await
        .expect("TODO 2 and 3: the migrations table exists: run the migrations at start");
    assert_eq!(
        applied, 1,
        "TODO 2: migrations/0001_create_books.sql is applied"
    );
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO books (title, author) VALUES ('Dune', 'Frank Herbert') RETURNING id",
    )
    .fetch_one(&app.pool)
    .await
    .expect("TODO 2: the books table exists");
    assert!(id > 0);
}

#[tokio::test]
async fn migrating_twice_is_harmless() {
    let app = spawn_app().await;
    // A second replica starting on the same database runs them again.
    ibdb_postgres::db::migrate(&app.pool, Duration::from_secs(5))
        .await
        .expect("TODO 3: already applied migrations are skipped, not an error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_database_and_recovers() {
    let app = spawn_app().await;
    assert_eq!(
        app.get("/readyz").await.status(),
        StatusCode::OK,
        "TODO 4 and 5: GET /readyz while the database answers"
    );

    app.proxy.cut();
    let started = Instant::now();
    let response = app.get("/readyz").await;
    assert_eq!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "TODO 4: the database is gone, so /readyz answers 503"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "status": "UNAVAILABLE" }), "TODO 4: the body");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "TODO 4: 503 comes within the 2 s timeout, not after a hang"
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
            "TODO 4: still not ready 20 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// TODO 1: the pool's limits are the configured ones, not sqlx's defaults.
#[tokio::test]
async fn the_pool_takes_its_settings_from_the_configuration() {
    // A lazy pool needs no database to be built.
    let mut config = DbConfig::new(PgConnectOptions::new().host("127.0.0.1").port(1));
    config.max_connections = 3;
    config.acquire_timeout = Duration::from_millis(1234);
    let pool = db::pool(&config);
    let options = pool.options();
    assert_eq!(
        options.get_max_connections(),
        3,
        "TODO 1: the pool's max_connections must be config.max_connections (DB_MAX_CONNECTIONS)"
    );
    assert_eq!(
        options.get_acquire_timeout(),
        Duration::from_millis(1234),
        "TODO 1: the pool's acquire_timeout must be config.acquire_timeout (DB_ACQUIRE_TIMEOUT_MS)"
    );
}

/// A pool to `db` through a proxy the test cuts and restores.
async fn pool_through_proxy(db: &TestDb) -> (sqlx::PgPool, Proxy) {
    let target = format!("{}:{}", db.options.get_host(), db.options.get_port());
    let proxy = Proxy::start(&target).await;
    let connect = db.options.clone().host("127.0.0.1").port(proxy.port);
    let mut config = DbConfig::new(connect);
    config.acquire_timeout = Duration::from_secs(1);
    (db::pool(&config), proxy)
}

/// TODO 3: a database that comes up after the service is waited for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_retries_until_the_database_answers() {
    let db = TestDb::new().await;
    let (pool, proxy) = pool_through_proxy(&db).await;
    proxy.cut();
    let restore = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        proxy.restore();
    };
    let migrate = tokio::time::timeout(
        Duration::from_secs(30),
        db::migrate(&pool, Duration::from_secs(20)),
    );
    let (migrated, ()) = tokio::join!(migrate, restore);
    migrated
        .expect("TODO 3: migrate did not return within 30 s (timeout 20 s)")
        .expect("TODO 3: while the database is unreachable (an error is_unavailable accepts), sleep and try again; here it answers after 1.5 s");
}

/// TODO 3: ... but not for longer than the timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_gives_up_after_the_timeout() {
    let db = TestDb::new().await;
    let (pool, proxy) = pool_through_proxy(&db).await;
    proxy.cut();
    let started = Instant::now();
    let migrated = tokio::time::timeout(
        Duration::from_secs(15),
        db::migrate(&pool, Duration::from_secs(2)),
    )
    .await
    .expect("TODO 3: with a 2 s timeout and the database gone, migrate must give up (Err) long before 15 s");
    assert!(migrated.is_err(), "the database never answered");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "TODO 3: stop retrying once the timeout (2 s) has passed; it took {:?}",
        started.elapsed()
    );
}

/// TODO 3: an error that waiting cannot fix fails at once.
#[tokio::test]
async fn migrate_fails_at_once_when_retrying_cannot_help() {
    let db = TestDb::new().await;
    let config = DbConfig::new(db.options.clone().database("no_such_database"));
    let pool = db::pool(&config);
    let started = Instant::now();
    let migrated = tokio::time::timeout(
        Duration::from_secs(30),
        db::migrate(&pool, Duration::from_secs(20)),
    )
    .await
    .expect("TODO 3: migrate did not return within 30 s");
    assert!(migrated.is_err(), "the database does not exist");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "TODO 3: retry only errors is_unavailable accepts; \"database does not exist\" is not one, \
         and was retried for {:?}",
        started.elapsed()
    );
}
