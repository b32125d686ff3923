//! Settings, read once from the environment at start.

use std::{env, fmt::Display, str::FromStr, time::Duration};

use sqlx::postgres::PgConnectOptions;

// ANCHOR: config
/// Everything the service can be told from outside. Each field has a sane
/// default except the database URL, which has no safe guess.
#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`, default 8000.
    pub port: u16,
    /// `REQUEST_TIMEOUT_MS`, default 10 000: a request still running then gets
    /// 503 (408 when the client has not finished sending its body).
    pub request_timeout: Duration,
    /// `HEADER_READ_TIMEOUT_MS`, default 10 000: a connection that has not
    /// sent a whole request head by then is closed, so slow or stuck clients
    /// cannot hold connections (and shutdowns) for ever.
    pub header_read_timeout: Duration,
    /// `SHUTDOWN_TIMEOUT_MS`, default 10 000: after SIGTERM, how long
    /// requests in flight may finish before the process exits anyway. Keep it
    /// below Kubernetes' `terminationGracePeriodSeconds` (30 s by default).
    pub shutdown_timeout: Duration,
    pub database: DbConfig,
}

#[derive(Debug, Clone)]
pub struct DbConfig {
    /// `DATABASE_URL`, for example `postgres://ibdb:secret@db:5432/ibdb`.
    pub connect: PgConnectOptions,
    /// `DB_MAX_CONNECTIONS`, default 10. PostgreSQL allows 100 connections in
    /// total by default: replicas × this must stay below it.
    pub max_connections: u32,
    /// `DB_ACQUIRE_TIMEOUT_MS`, default 3 000: how long a request waits for a
    /// connection before it gets 503. Shorter than the request timeout, so a
    /// dead database is reported as such.
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

    /// The database's address for messages: `postgres://user@host:port/db`,
    /// never the password.
    pub fn display_url(&self) -> String {
        let c = &self.connect;
        format!(
            "postgres://{}@{}:{}/{}",
            c.get_username(),
            c.get_host(),
            c.get_port(),
            c.get_database().unwrap_or(c.get_username())
        )
    }
}

impl Config {
    /// Settings for `database` with every other value at its default.
    pub fn new(database: DbConfig) -> Self {
        Self {
            port: 8000,
            request_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(10),
            database,
        }
    }

    // ANCHOR: from_env
    /// Reads the environment. Every value is checked here, at start, so a
    /// typo ends the process with a message naming the variable and what it
    /// accepts (exit code 2) instead of a panic or a service that answers
    /// 503 to everything.
    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(|name| env::var(name).ok())
    }
    // ANCHOR_END: from_env

    /// `from_env` with the variables looked up by `var`, for tests.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let url = var("DATABASE_URL").ok_or_else(|| {
            "DATABASE_URL is not set; for example postgres://postgres@127.0.0.1:5432/postgres \
             (`cargo xtask db up` starts a database and prints its URL)"
                .to_string()
        })?;
        let mut database = DbConfig::new(database_url(&url)?);
        database.max_connections = number(&var, "DB_MAX_CONNECTIONS", 1..=1000, 10)?;
        database.acquire_timeout = millis(&var, "DB_ACQUIRE_TIMEOUT_MS", 3_000)?;
        database.startup_timeout = millis(&var, "DB_STARTUP_TIMEOUT_MS", 30_000)?;
        let mut config = Config::new(database);
        config.port = number(&var, "PORT", 0..=65535, 8000)?;
        config.request_timeout = millis(&var, "REQUEST_TIMEOUT_MS", 10_000)?;
        config.header_read_timeout = millis(&var, "HEADER_READ_TIMEOUT_MS", 10_000)?;
        config.shutdown_timeout = millis(&var, "SHUTDOWN_TIMEOUT_MS", 10_000)?;
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

/// A whole number in `range`, or `default` when the variable is not set.
fn number<T>(
    var: &impl Fn(&str) -> Option<String>,
    name: &str,
    range: std::ops::RangeInclusive<T>,
    default: T,
) -> Result<T, String>
where
    T: FromStr + PartialOrd + Display,
{
    let Some(value) = var(name) else {
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

/// A duration in milliseconds, at least 1 ms and at most an hour: 0 would
/// make every request or start-up fail at once.
fn millis(
    var: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
) -> Result<Duration, String> {
    number(var, name, 1..=3_600_000, default).map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "postgres://ibdb:secret@127.0.0.1:5432/ibdb";

    fn with(vars: &[(&str, &str)]) -> Result<Config, String> {
        Config::from_vars(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults_need_only_the_database_url() {
        let config = with(&[("DATABASE_URL", URL)]).unwrap();
        assert_eq!(config.port, 8000);
        assert_eq!(config.database.max_connections, 10);
        assert_eq!(config.request_timeout, Duration::from_secs(10));
        assert_eq!(
            config.database.display_url(),
            "postgres://ibdb@127.0.0.1:5432/ibdb"
        );
    }

    #[test]
    fn zero_connections_or_timeouts_are_refused_by_name() {
        for (name, value) in [
            ("DB_MAX_CONNECTIONS", "0"),
            ("DB_MAX_CONNECTIONS", "-1"),
            ("DB_MAX_CONNECTIONS", "ten"),
            ("REQUEST_TIMEOUT_MS", "0"),
            ("DB_ACQUIRE_TIMEOUT_MS", "0"),
            ("SHUTDOWN_TIMEOUT_MS", "1.5"),
            ("PORT", "70000"),
        ] {
            let error = with(&[("DATABASE_URL", URL), (name, value)]).unwrap_err();
            assert!(error.starts_with(name), "{name}={value}: {error}");
            assert!(error.contains("whole number from"), "{error}");
        }
    }

    #[test]
    fn only_postgres_urls_are_accepted() {
        let error = with(&[("DATABASE_URL", "mysql://root@127.0.0.1/ibdb")]).unwrap_err();
        assert!(error.contains("postgres://"), "{error}");
        assert!(error.contains("mysql://"), "{error}");
        assert!(with(&[("DATABASE_URL", "postgresql://u@h/db")]).is_ok());
    }
}
