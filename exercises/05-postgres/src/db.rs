//! The connection pool and the schema migrations.
// Some names are unused until your TODOs are done: remove this line then.
#![allow(unused_variables, unused_imports)]

use std::time::{Duration, Instant};

use sqlx::{
    PgPool,
    migrate::{MigrateError, Migrator},
    postgres::PgPoolOptions,
};

use crate::config::DbConfig;

/// The SQL files in `migrations/`, compiled into the binary.
// TODO 2: embed the migrations with `sqlx::migrate!()` (it reads
// `./migrations` at compile time) instead of this empty set.
pub static MIGRATOR: Migrator = Migrator::DEFAULT;

/// A lazy pool: it opens connections on first use, so the service starts (and
/// answers `/healthz`) even while the database is still coming up.
pub fn pool(config: &DbConfig) -> PgPool {
    // TODO 1: build the pool with `PgPoolOptions`: `max_connections` and
    // `acquire_timeout` from `config`, then `connect_lazy_with(..)`.
    todo!("pool for {:?}", config.connect.get_host())
}

/// Applies pending migrations, retrying while the database is unreachable
/// (in Kubernetes the app and its database often start together). Other
/// errors, such as a broken migration, fail at once.
pub async fn migrate(pool: &PgPool, timeout: Duration) -> Result<(), MigrateError> {
    // TODO 3: `MIGRATOR.run(pool).await`; while it fails with an error for
    // which `is_unavailable` is true, sleep a little and try again, until
    // `timeout` has passed.
    todo!("run the migrations")
}

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
