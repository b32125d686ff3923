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
    // ANCHOR: db_config_new
    /// Settings for `connect` with every other value at its default.
    pub fn new(connect: PgConnectOptions) -> Self {
        Self {
            connect,
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            startup_timeout: Duration::from_secs(30),
        }
    }
    // ANCHOR_END: db_config_new
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
        let mut database = DbConfig::new(database_url(&url)?);
        database.max_connections = number("DB_MAX_CONNECTIONS", 1..=1000, 10)?;
        database.acquire_timeout = millis("DB_ACQUIRE_TIMEOUT_MS", 3_000)?;
        database.startup_timeout = millis("DB_STARTUP_TIMEOUT_MS", 30_000)?;
        let mut config = Config::new(database);
        config.port = number("PORT", 0..=65535, 8000)?;
        Ok(config)
    }
}

// ANCHOR: database_url
/// Only PostgreSQL URLs: sqlx would read `mysql://...` as PostgreSQL options.
fn database_url(url: &str) -> Result<PgConnectOptions, String> {
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    if !matches!(scheme, "postgres" | "postgresql") {
        return Err(format!(
            "DATABASE_URL must start with postgres:// or postgresql://, not {:?}; \
             for example postgres://ibdb:secret@127.0.0.1:5432/ibdb",
            format!("{scheme}://")
        ));
    }
    PgConnectOptions::from_str(url).map_err(|e| {
        format!(
            "DATABASE_URL is not a valid PostgreSQL URL ({e}); \
             for example postgres://ibdb:secret@127.0.0.1:5432/ibdb"
        )
    })
}
// ANCHOR_END: database_url

/// A whole number in `range`, or `default` when the variable is not set;
/// checked at start so a typo ends the process (exit 2) with this message
/// instead of a panic later.
fn number<T>(name: &str, range: std::ops::RangeInclusive<T>, default: T) -> Result<T, String>
where
    T: FromStr + PartialOrd + std::fmt::Display,
{
    let Ok(value) = env::var(name) else {
        return Ok(default);
    };
    match value.trim().parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(format!(
            "{name} must be a whole number from {} to {}, not {value:?} (unset, it is {default})",
            range.start(),
            range.end()
        )),
    }
}

/// Milliseconds, at least 1 (0 would fail every request) and at most an hour.
fn millis(name: &str, default: u64) -> Result<Duration, String> {
    number(name, 1..=3_600_000, default).map(Duration::from_millis)
}
