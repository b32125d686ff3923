//! The connection pool and the schema migrations, as in stage 05.

use std::time::{Duration, Instant};

use sqlx::{
    PgPool,
    migrate::{MigrateError, Migrator},
    postgres::PgPoolOptions,
};

use crate::{config::DbConfig, store::is_unavailable};

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

/// Applies pending migrations, retrying while the database is unreachable
/// (in Kubernetes the app and its database often start together). Other
/// errors, such as a broken migration, fail at once.
///
/// Migrations take an advisory lock, so replicas starting at once are safe.
pub async fn migrate(pool: &PgPool, timeout: Duration) -> Result<(), MigrateError> {
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(100);
    loop {
        match MIGRATOR.run(pool).await {
            Ok(()) => return Ok(()),
            Err(MigrateError::Execute(error))
                if is_unavailable(&error) && Instant::now() + delay < deadline =>
            {
                tracing::warn!(%error, "database not ready, retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(error) => return Err(error),
        }
    }
}
