//! Settings, read once from the environment at start.

use std::{env, str::FromStr, time::Duration};

use sqlx::postgres::PgConnectOptions;

// ANCHOR: config
/// Everything the service can be told from outside. Each field has a sane
/// default except the database URL, which has no safe guess.
#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`, default 8000.
    pub port: u16,
    pub database: DbConfig,
}

#[derive(Debug, Clone)]
pub struct DbConfig {
    /// `DATABASE_URL`, for example `postgres://ibdb:secret@db:5432/ibdb`.
    pub connect: PgConnectOptions,
    /// `DB_MAX_CONNECTIONS`, default 10. PostgreSQL allows 100 connections in
    /// total by default: replicas × this must stay below it.
    pub max_connections: u32,
    /// `DB_ACQUIRE_TIMEOUT_MS`, default 3 000: how long a query waits for a
    /// connection before it fails.
    pub acquire_timeout: Duration,
    /// `DB_STARTUP_TIMEOUT_MS`, default 30 000: how long start-up waits for
    /// the database to accept the migrations before giving up.
    pub startup_timeout: Duration,
}
// ANCHOR_END: config

impl DbConfig {
    /// Settings for `connect` with every other value at its default.
    pub fn new(connect: PgConnectOptions) -> Self {
        Self {
            connect,
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            startup_timeout: Duration::from_secs(30),
        }
    }
}

impl Config {
    /// Settings for `database` with every other value at its default.
    pub fn new(database: DbConfig) -> Self {
        Self {
            port: 8000,
            database,
        }
    }

    /// Reads the environment; the error names the variable and what is wrong.
    pub fn from_env() -> Result<Self, String> {
        let url = env::var("DATABASE_URL").map_err(|_| {
            "DATABASE_URL is not set; for example postgres://postgres@127.0.0.1:5432/postgres \
             (`cargo xtask db up` starts a database and prints its URL)"
                .to_string()
        })?;
        let connect = PgConnectOptions::from_str(&url)
            .map_err(|e| format!("DATABASE_URL is not a PostgreSQL URL: {e}"))?;
        let mut database = DbConfig::new(connect);
        database.max_connections = parse("DB_MAX_CONNECTIONS", database.max_connections)?;
        database.acquire_timeout = millis("DB_ACQUIRE_TIMEOUT_MS", database.acquire_timeout)?;
        database.startup_timeout = millis("DB_STARTUP_TIMEOUT_MS", database.startup_timeout)?;
        let mut config = Config::new(database);
        config.port = parse("PORT", config.port)?;
        Ok(config)
    }
}

fn parse<T: FromStr>(name: &str, default: T) -> Result<T, String> {
    match env::var(name) {
        Err(_) => Ok(default),
        Ok(value) => value
            .parse()
            .map_err(|_| format!("{name} must be a non-negative number, not {value:?}")),
    }
}

fn millis(name: &str, default: Duration) -> Result<Duration, String> {
    let ms = parse(name, u64::try_from(default.as_millis()).unwrap_or(u64::MAX))?;
    Ok(Duration::from_millis(ms))
}
