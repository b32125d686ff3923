//! Test harness: a fresh database per test and the real service on a random
//! port, called over real HTTP (zero2prod's `spawn_app`).
#![allow(dead_code)] // Not every test file uses every helper.

pub mod initdb;
pub mod postgres;
pub mod proxy;

use std::{
    str::FromStr,
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use ibdb_postgres::config::{Config, DbConfig};
use reqwest::Client;
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

/// The service, running on a random port of 127.0.0.1 with its own database,
/// reaching it through a proxy the test can cut.
pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub db: TestDb,
    pub pool: sqlx::PgPool,
    pub proxy: proxy::Proxy,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub async fn spawn_app() -> TestApp {
    let db = TestDb::new().await;
    let target = format!("{}:{}", db.options.get_host(), db.options.get_port());
    let proxy = proxy::Proxy::start(&target).await;
    let connect = db.options.clone().host("127.0.0.1").port(proxy.port);
    let mut database = DbConfig::new(connect);
    database.acquire_timeout = Duration::from_secs(1);
    database.startup_timeout = Duration::from_secs(20);
    let config = Config::new(database);

    let (app, pool) = ibdb_postgres::app(&config).await.expect("migrations run");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
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
    pub async fn get(&self, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.address);
        self.client.get(url).send().await.unwrap()
    }
}
