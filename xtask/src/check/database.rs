//! The step that provisions PostgreSQL for a check, the way the tests do.

use super::{Checker, Stop};
use crate::db;
use crate::report::Failure;

/// A database for one check.
pub use crate::db::Throwaway as Database;

/// A fresh database: from `DATABASE_URL`, a container or a local cluster.
pub fn database(ck: &mut Checker) -> Result<Database, Stop> {
    let db = Database::start().map_err(|message| {
        Failure::new("a PostgreSQL server", message).hint(
            "set DATABASE_URL, start Docker, or install the PostgreSQL server (see `cargo xtask doctor`)",
        )
    });
    ck.require("database", db, |db| match &db.server.kind {
        db::Kind::External => "DATABASE_URL".to_string(),
        db::Kind::Docker { .. } => format!("a {} container", db::IMAGE),
        db::Kind::Local(cluster) => format!("a throwaway cluster ({})", cluster.bin.display()),
    })
}
