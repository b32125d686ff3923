//! Stage 05: the service on PostgreSQL. Checked as a running process against
//! a real database (probes, shutdown), then by the stage's own test suite.
//! The helpers here are shared by the checks of stages 06 and 07.

use std::path::Path;
use std::time::Duration;

use super::{Checker, Stage, Stop};
use crate::http;
use crate::proc::{Server, describe_exit};
use crate::report::Failure;
use crate::tools::Tool;

use crate::db;

pub const STAGE: Stage = Stage {
    id: "05-postgres",
    title: "PostgreSQL: pool, migrations, readiness",
    needs: &[Tool::Cargo],
    optional: &[],
    check,
};

fn check(ck: &mut Checker) -> Result<(), Stop> {
    tests_unchanged(ck)?;
    let exe = ck.require("build", crate::cargo::build_bin(&ck.dir), |exe| {
        format!("cargo build produced {}", crate::paths::show(exe))
    })?;
    let db = database(ck)?;
    let mut server = start(
        ck,
        &exe,
        &db,
        "the pool (TODO 1) and the migrations (TODO 2, 3)",
    )?;
    for path in ["/", "/healthz"] {
        expect_json(ck, &server.url(path), 200, r#"{"status":"OK"}"#, "")?;
    }
    expect_json(
        ck,
        &server.url("/readyz"),
        200,
        r#"{"status":"OK"}"#,
        "GET /readyz runs SELECT 1 and answers 200 (TODO 4, TODO 5)",
    )?;
    graceful_shutdown(ck, &mut server.process, Duration::from_secs(5))?;
    drop(db);
    cargo_test(ck)
}

// ---- Shared helpers -------------------------------------------------------

/// A database for one check.
pub use crate::db::Throwaway as Database;

/// Provisions PostgreSQL the way the tests do.
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

/// A started server and the port it was given.
pub struct Started {
    pub process: Server,
    pub port: u16,
}

impl Started {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// Starts the binary with `PORT` and `DATABASE_URL` and waits until
/// `/healthz` answers (start-up includes the migrations).
pub fn start(ck: &mut Checker, exe: &Path, db: &Database, todo: &str) -> Result<Started, Stop> {
    let port = http::free_port();
    let process = Server::start(
        exe,
        &[
            ("PORT", port.to_string()),
            ("DATABASE_URL", db.url().to_string()),
            ("RUST_LOG", "info".into()),
        ],
    )
    .map_err(|e| {
        ck.stop(
            "start",
            "the program could not be started",
            Failure::new(format!("{} to start", exe.display()), e.to_string()),
        )
    })?;
    let mut started = Started { process, port };
    let waited = http::wait_until_answers(
        port,
        "/healthz",
        &mut started.process,
        Duration::from_secs(60),
        todo,
    );
    ck.require("start", waited, |waited| {
        format!(
            "connected, migrated and answering after {} ms",
            waited.as_millis()
        )
    })?;
    Ok(started)
}

/// `GET url` answers `status` with exactly the JSON `body`.
pub fn expect_json(
    ck: &mut Checker,
    url: &str,
    status: u16,
    body: &str,
    hint: &str,
) -> Result<(), Stop> {
    let path = url
        .splitn(4, '/')
        .nth(3)
        .map_or("/".to_string(), |p| format!("/{p}"));
    let check = format!("GET {path}");
    let response = match http::request(url, Duration::from_secs(10)) {
        Ok(response) => response,
        Err(no) => {
            let failure =
                Failure::new(format!("an answer to GET {path}"), no.to_string()).hint(no.hint());
            ck.fail(&check, "no response", failure);
            return Ok(());
        }
    };
    let expected: serde_json::Value = serde_json::from_str(body).expect("valid expected JSON");
    let seen = serde_json::from_str::<serde_json::Value>(&response.body).ok();
    if response.status == status && seen.as_ref() == Some(&expected) {
        ck.pass(&check, format!("{status} {body}"));
    } else {
        ck.fail(
            &check,
            format!("answered {}", response.status),
            Failure::new(
                format!("{status} {body}"),
                format!("{} {}", response.status, response.body.trim()),
            )
            .hint(hint),
        );
    }
    Ok(())
}

/// SIGTERM, then a clean exit (status 0) within `limit`.
#[cfg(unix)]
pub fn graceful_shutdown(
    ck: &mut Checker,
    server: &mut Server,
    limit: Duration,
) -> Result<(), Stop> {
    server.terminate();
    let result = match server.wait_for_exit(limit) {
        Some((status, took)) if status.success() => Ok(took),
        Some((status, _)) => Err(Failure::new(
            "exit status 0 after SIGTERM",
            describe_exit(status),
        )
        .hint("serve with `with_graceful_shutdown(shutdown_signal())`, as in stage 01")),
        None => Err(Failure::new(
            format!("exit within {} s of SIGTERM", limit.as_secs()),
            "still running",
        )
        .hint("serve with `with_graceful_shutdown(shutdown_signal())`, as in stage 01")),
    };
    ck.require("SIGTERM", result, |took| {
        format!("exited cleanly {} ms after SIGTERM", took.as_millis())
    })?;
    Ok(())
}

#[cfg(not(unix))]
pub fn graceful_shutdown(
    ck: &mut Checker,
    _server: &mut Server,
    _limit: Duration,
) -> Result<(), Stop> {
    ck.skip(
        "SIGTERM",
        "signals are a Unix feature",
        "run the check in WSL2 to test SIGTERM",
    );
    Ok(())
}

/// The stage's `tests/` must be the reference ones: the check runs them as
/// the specification, so an edited test would grade itself.
pub fn tests_unchanged(ck: &mut Checker) -> Result<(), Stop> {
    let reference = crate::paths::root()
        .join("solutions")
        .join(ck.stage.id)
        .join("tests");
    let differing = differing_files(&reference, &ck.dir.join("tests"));
    let result = if differing.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(
            "tests/ as handed out",
            format!("changed: {}", differing.join(", ")),
        )
        .hint(format!(
            "the tests are the specification; restore them from {}",
            crate::paths::show(&reference)
        )))
    };
    ck.require("tests unchanged", result, |()| {
        "tests/ match the reference".into()
    })
}

/// Relative paths of files that differ between the two trees (or exist in
/// only one).
fn differing_files(a: &Path, b: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut names = std::collections::BTreeSet::new();
    walk(a, a, &mut names);
    walk(b, b, &mut names);
    names
        .into_iter()
        .filter(|name| std::fs::read(a.join(name)).ok() != std::fs::read(b.join(name)).ok())
        .collect()
}

/// `cargo test` in the stage folder (the tests provision their own
/// databases) must pass.
pub fn cargo_test(ck: &mut Checker) -> Result<(), Stop> {
    // The panic message, not a backtrace, in the check's output.
    let out = crate::cargo::run(
        &ck.dir,
        &["test", "--color=never"],
        &[("RUST_BACKTRACE", "0")],
    );
    let result = match out {
        Ok(out) if out.status.success() => Ok(summary(&out.stdout)),
        Ok(out) => Err(Failure::new(
            "`cargo test` to pass",
            failed_tests(&out.stdout, &out.stderr),
        )
        .hint(format!(
            "run `cargo test` in {} and fix the first failure",
            crate::paths::show(&ck.dir)
        ))),
        Err(failure) => Err(failure),
    };
    ck.require("cargo test", result, Clone::clone).map(drop)
}

/// "N passed" over every test binary.
pub fn summary(stdout: &str) -> String {
    let passed: u32 = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: "))
        .filter_map(|l| l.split("; ").next()?.split(' ').nth(1)?.parse::<u32>().ok())
        .sum();
    format!("{passed} tests passed")
}

/// The names of failed tests and the first panic, or the compiler errors.
pub fn failed_tests(stdout: &str, stderr: &str) -> String {
    let failed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("test ") && l.ends_with("FAILED"))
        .collect();
    if failed.is_empty() {
        return crate::proc::tail(stderr, 25);
    }
    let panic = stdout
        .lines()
        .skip_while(|l| !l.contains("panicked at"))
        .take(4)
        .collect::<Vec<_>>()
        .join("\n");
    format!("{}\n{panic}", failed.join("\n"))
}
