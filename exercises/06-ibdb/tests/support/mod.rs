//! Test harness: a fresh database per test and the real service on a random
//! port, called over real HTTP (zero2prod's `spawn_app`).
#![allow(dead_code)] // Not every test file uses every helper.

pub mod initdb;
pub mod postgres;
pub mod process;
pub mod proxy;

use std::{
    str::FromStr,
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use ibdb::config::{Config, DbConfig};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection, postgres::PgConnectOptions};

/// A database of its own for one test, dropped when the test ends.
pub struct TestDb {
    pub name: String,
    pub options: PgConnectOptions,
    admin: PgConnectOptions,
}

impl TestDb {
    pub async fn new() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let admin = PgConnectOptions::from_str(postgres::url()).expect("a PostgreSQL URL");
        let name = format!(
            "ibdb_test_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", postgres::url()));
        conn.execute(sqlx::AssertSqlSafe(format!(
            r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
        )))
        .await
        .unwrap();
        conn.execute(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .await
            .unwrap_or_else(|e| panic!("cannot create a test database (CREATEDB privilege?): {e}"));
        Self {
            options: admin.clone().database(&name),
            name,
            admin,
        }
    }
}

impl TestDb {
    /// Its URL, for the binary's `DATABASE_URL`.
    pub fn url(&self) -> String {
        let server = postgres::url();
        let (base, rest) = server.rsplit_once('/').expect("a URL with a database");
        let query = rest
            .split_once('?')
            .map_or(String::new(), |(_, q)| format!("?{q}"));
        format!("{base}/{}{query}", self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which must not block on
        // itself: use a thread with a runtime of its own.
        let admin = self.admin.clone();
        let sql = format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name);
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    let mut conn = PgConnection::connect_with(&admin).await?;
                    conn.execute(sqlx::AssertSqlSafe(sql)).await?;
                    Ok::<_, sqlx::Error>(())
                })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
    }
}

/// The service, running on a random port of 127.0.0.1 with its own database.
pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub db: TestDb,
    pub pool: sqlx::PgPool,
    /// Present when spawned with `spawn_app_behind_proxy`.
    pub proxy: Option<proxy::Proxy>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Settings for tests: short timeouts so failures show up fast.
pub fn test_config(connect: PgConnectOptions) -> Config {
    let mut database = DbConfig::new(connect);
    database.acquire_timeout = Duration::from_secs(2);
    database.startup_timeout = Duration::from_secs(20);
    let mut config = Config::new(database);
    config.port = 0;
    config
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// `spawn_app` with settings changed by `configure` (shorter time-outs...).
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let db = TestDb::new().await;
    let mut config = test_config(db.options.clone());
    configure(&mut config);
    spawn(config, db, None).await
}

/// Like `spawn_app`, but the service reaches PostgreSQL through a proxy the
/// test can cut, to simulate the database going away.
pub async fn spawn_app_behind_proxy() -> TestApp {
    let db = TestDb::new().await;
    let target = format!("{}:{}", db.options.get_host(), db.options.get_port());
    let proxy = proxy::Proxy::start(&target).await;
    let connect = db.options.clone().host("127.0.0.1").port(proxy.port);
    let mut config = test_config(connect);
    config.database.acquire_timeout = Duration::from_secs(1);
    spawn(config, db, Some(proxy)).await
}

async fn spawn(config: Config, db: TestDb, proxy: Option<proxy::Proxy>) -> TestApp {
    let (app, pool) = ibdb::app(&config).await.expect("migrations run");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    // The service's own server loop (header time-out and all), never shut down.
    let server = tokio::spawn(async move {
        ibdb::server::serve(listener, app, &config, std::future::pending())
            .await
            .unwrap();
    });
    let client = Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    TestApp {
        address,
        client,
        db,
        pool,
        proxy,
        server,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.client.delete(self.url(path)).send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .put(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Posts raw bytes with the given content type.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        self.client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a book and returns its JSON.
    pub async fn create_book(&self, title: &str, author: &str) -> Value {
        let response = self
            .post_json("/books", &json!({ "title": title, "author": author }))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "creating a book");
        response.json().await.unwrap()
    }

    /// Reviews book `id` and returns the review's JSON.
    pub async fn review(&self, book_id: i64, rating: i64) -> Value {
        let response = self
            .post_json(
                &format!("/books/{book_id}/reviews"),
                &json!({ "rating": rating, "comment": "a comment" }),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "creating a review");
        response.json().await.unwrap()
    }
}

/// Asserts an RFC 9457 problem response with `status` and returns its body.
pub async fn assert_problem(response: Response, status: StatusCode) -> Value {
    assert_problem_for(response, status, "").await
}

/// [`assert_problem`] for one of several cases a test tries: `case` says
/// which in the failure message.
pub async fn assert_problem_for(response: Response, status: StatusCode, case: &str) -> Value {
    if response.status() != status {
        let (got, url) = (response.status(), response.url().clone());
        let body = response.text().await.unwrap_or_default();
        let case = if case.is_empty() {
            String::new()
        } else {
            format!("{case}: ")
        };
        panic!("{case}expected {status} from {url}, got {got}; the body: {body}");
    }
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        content_type, "application/problem+json",
        "errors are problem documents"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16(), "problem status: {body}");
    assert!(body["title"].is_string(), "problem title: {body}");
    assert!(body["detail"].is_string(), "problem detail: {body}");
    assert!(body["type"].is_string(), "problem type: {body}");
    body
}

/// The field names of a 422 problem's `errors`.
pub fn failing_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("422 problems list the failing fields in `errors`: {problem}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default().to_string())
        .collect()
}
