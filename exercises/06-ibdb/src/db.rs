//! The connection pool and the schema migrations.

use std::time::{Duration, Instant};

use sqlx::{
    Connection, PgConnection, PgPool,
    migrate::{MigrateError, Migrator},
    postgres::PgPoolOptions,
};

use crate::{config::DbConfig, error::is_unavailable};

/// The SQL files in `migrations/`, compiled into the binary: the image needs
/// no migration files and no separate migration job.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// A lazy pool: it opens connections on first use, so the service starts (and
/// answers `/healthz`) even while the database is still coming up.
pub fn pool(config: &DbConfig) -> PgPool {
    PgPoolOptions::new()
        // Upper bound per replica: PostgreSQL allows 100 connections in total
        // by default, shared by every replica and every admin session.
        .max_connections(config.max_connections)
        // Fail fast instead of queueing requests behind a dead database.
        .acquire_timeout(config.acquire_timeout)
        // Recycle connections now and then, so a failover or a restarted
        // PostgreSQL does not leave stale connections behind for long.
        .max_lifetime(Duration::from_secs(30 * 60))
        .idle_timeout(Duration::from_secs(10 * 60))
        .connect_lazy_with(config.connect.clone())
}

/// Why the database could not be made ready at start. Each message says what
/// failed, where (the URL without its password) and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "the database at {url} did not accept a connection within {:.1} s; the last \
         attempt said: {cause}. Is PostgreSQL running and reachable there? Check the host \
         and port in DATABASE_URL, or wait longer with DB_STARTUP_TIMEOUT_MS",
        waited.as_secs_f64()
    )]
    Unreachable {
        url: String,
        waited: Duration,
        cause: String,
    },
    #[error("the database at {url} refused us: {message}. {hint}")]
    Refused {
        url: String,
        message: String,
        hint: &'static str,
    },
    #[error("migrating the database at {url} failed: {source}")]
    Migrate {
        url: String,
        #[source]
        source: MigrateError,
    },
}

/// Waits until the database accepts connections, then applies pending
/// migrations, retrying while it is unreachable (in Kubernetes the app and
/// its database often start together). Wrong credentials or an unknown
/// database fail at once: waiting would not fix them.
///
/// Migrations take an advisory lock, so replicas starting at once are safe.
pub async fn migrate(pool: &PgPool, config: &DbConfig) -> Result<(), StartError> {
    let url = config.display_url();
    let started = Instant::now();
    let deadline = started + config.startup_timeout;
    let mut delay = Duration::from_millis(100);
    loop {
        // A connection of our own, not the pool's: a pool time-out would
        // hide the cause ("connection refused", "no such database").
        let error = match connect(config, deadline).await {
            Ok(()) => match MIGRATOR.run(pool).await {
                Ok(()) => return Ok(()),
                Err(MigrateError::Execute(error)) if is_unavailable(&error) => error,
                Err(source) => return Err(StartError::Migrate { url, source }),
            },
            Err(error) if is_unavailable(&error) => error,
            Err(error) => return Err(refused(url, &error)),
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(StartError::Unreachable {
                url,
                waited: started.elapsed(),
                cause: error.to_string(),
            });
        }
        let pause = delay.min(left);
        tracing::warn!(%error, "database {url} not ready, retrying in {pause:?}");
        tokio::time::sleep(pause).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// One connection attempt, bounded by `deadline` (a black-holed address
/// would otherwise hang for the operating system's TCP time-out), but given
/// half a second at least, so the last attempt can still say what is wrong.
async fn connect(config: &DbConfig, deadline: Instant) -> Result<(), sqlx::Error> {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(500));
    match tokio::time::timeout(left, PgConnection::connect_with(&config.connect)).await {
        Ok(connected) => connected?.close().await,
        Err(_elapsed) => Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "no answer before the start-up deadline",
        ))),
    }
}

/// A refusal that waiting will not fix, with the hint for its SQLSTATE.
fn refused(url: String, error: &sqlx::Error) -> StartError {
    let (message, code) = match error {
        sqlx::Error::Database(db) => (db.message().to_string(), db.code().map(|c| c.into_owned())),
        other => (other.to_string(), None),
    };
    let hint = match code.as_deref() {
        // invalid_catalog_name
        Some("3D000") => "Create that database, or fix the name at the end of DATABASE_URL",
        // invalid_password, invalid_authorization_specification
        Some("28P01" | "28000") => {
            "Check the user name and password in DATABASE_URL (and pg_hba.conf on the server)"
        }
        _ => "Check DATABASE_URL and the server's log",
    };
    StartError::Refused { url, message, hint }
}
