//! The connection pool and the schema migrations.
// ANCHOR: starter| // Some names are unused until your TODOs are done: remove this line then.
// ANCHOR: starter| #![allow(unused_variables, unused_imports)]

use std::time::{Duration, Instant};

use sqlx::{
    PgPool,
    migrate::{MigrateError, Migrator},
    postgres::PgPoolOptions,
};

use crate::config::DbConfig;

// ANCHOR: migrator
// ANCHOR: starter| /// The SQL files in `migrations/`, compiled into the binary.
// ANCHOR: starter| // TODO 2: embed the migrations with `sqlx::migrate!()` (it reads
// ANCHOR: starter| // `./migrations` at compile time) instead of this empty set.
// ANCHOR: starter| pub static MIGRATOR: Migrator = Migrator::DEFAULT;
// ANCHOR: starter
/// The SQL files in `migrations/`, compiled into the binary: the image needs
/// no migration files and no separate migration job.
pub static MIGRATOR: Migrator = sqlx::migrate!();
// ANCHOR_END: starter
// ANCHOR_END: migrator

// ANCHOR: pool
/// A lazy pool: it opens connections on first use, so the service starts (and
/// answers `/healthz`) even while the database is still coming up.
pub fn pool(config: &DbConfig) -> PgPool {
    // ANCHOR: starter| // TODO 1: build the pool with `PgPoolOptions`: `max_connections` and
    // ANCHOR: starter| // `acquire_timeout` from `config`, then `connect_lazy_with(..)`.
    // ANCHOR: starter| todo!("pool for {:?}", config.connect.get_host())
    // ANCHOR: starter
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
    // ANCHOR_END: starter
}
// ANCHOR_END: pool

// ANCHOR: migrate
/// Applies pending migrations, retrying while the database is unreachable
/// (in Kubernetes the app and its database often start together). Other
/// errors, such as a broken migration, fail at once.
// ANCHOR: starter
///
/// Migrations take an advisory lock, so replicas starting at once are safe.
// ANCHOR_END: starter
pub async fn migrate(pool: &PgPool, timeout: Duration) -> Result<(), MigrateError> {
    // ANCHOR: starter| // TODO 3: `MIGRATOR.run(pool).await`; while it fails with an error for
    // ANCHOR: starter| // which `is_unavailable` is true, sleep a little and try again, until
    // ANCHOR: starter| // `timeout` has passed.
    // ANCHOR: starter| todo!("run the migrations")
    // ANCHOR: starter
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
    // ANCHOR_END: starter
}
// ANCHOR_END: migrate

// ANCHOR: is_unavailable
/// True when the error means "the database cannot serve us right now"
/// (worth retrying; for a client a 503, not a 500) rather than "this query
/// is wrong".
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE classes 08 (connection exception), 53 (insufficient
        // resources) and 57P (operator intervention: shutdown, restart).
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("53") || code.starts_with("57P")
        }),
        _ => false,
    }
}
// ANCHOR_END: is_unavailable
