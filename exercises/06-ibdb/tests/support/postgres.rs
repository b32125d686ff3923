//! Where the tests' PostgreSQL server comes from, in this order:
//! 1. `DATABASE_URL`, if set: a server you run yourself (CI, a cluster...).
//! 2. Docker: a `postgres:17-trixie` container started with testcontainers,
//!    shared by the tests of this binary and removed when it exits.
//! 3. A throwaway local cluster (`initdb.rs`), for machines without Docker.
//!
//! `LAB_DB=url|docker|local` forces one. Each test then creates a database
//! of its own on the server (`TestDb` in `mod.rs`).

use std::sync::{Mutex, OnceLock};

use testcontainers_modules::{
    postgres::Postgres,
    testcontainers::{
        Container, ImageExt, TestcontainersError, core::error::ClientError, runners::SyncRunner,
    },
};

use super::initdb::Cluster;

/// The official image's tag (offline: `cargo xtask docker standins`).
pub const TAG: &str = "17-trixie";

/// Marks the containers of the kit's tests; the value is the owner's pid.
pub const LABEL: &str = "dev.microservices-lab.tests";

/// The superuser URL of this binary's server, started on first use.
pub fn url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| start().unwrap_or_else(|message| panic!("{message}")))
}

/// What `url` started, to stop when the test binary exits.
enum Started {
    Container(Box<Container<Postgres>>),
    Cluster(Cluster),
}

static STARTED: Mutex<Option<Started>> = Mutex::new(None);

fn start() -> Result<String, String> {
    let forced = std::env::var("LAB_DB").unwrap_or_default();
    let (url, started) = match (forced.as_str(), std::env::var("DATABASE_URL")) {
        ("" | "url", Ok(url)) => return Ok(url),
        ("url", Err(_)) => return Err("LAB_DB=url but DATABASE_URL is not set".into()),
        ("docker", _) => container()?,
        ("local", _) => cluster()?,
        ("", Err(_)) => container().or_else(|docker| {
            // Straight to stderr: libtest captures `eprintln!` of passing tests.
            let note =
                format!("note: no PostgreSQL container ({docker}); trying a local cluster\n");
            let _ = std::io::Write::write_all(&mut std::io::stderr(), note.as_bytes());
            cluster().map_err(|local| no_server(&docker, &local))
        })?,
        (other, _) => {
            return Err(format!(
                "LAB_DB must be url, docker or local, not {other:?}"
            ));
        }
    };
    *STARTED.lock().unwrap() = Some(started);
    // libtest ends the binary with `process::exit`, which runs no
    // destructors but does run `atexit` handlers: stop the server there.
    unsafe { libc::atexit(stop) };
    Ok(url)
}

extern "C" fn stop() {
    match STARTED.lock().ok().and_then(|mut started| started.take()) {
        Some(Started::Container(container)) => drop(container), // removes it
        Some(Started::Cluster(cluster)) => cluster.stop(),
        None => {}
    }
}

/// A container of the official image, ready once the module's wait
/// strategy has seen PostgreSQL log "ready to accept connections".
fn container() -> Result<(String, Started), String> {
    let image = Postgres::default()
        .with_tag(TAG)
        .with_cmd(["-c", "fsync=off", "-c", "max_connections=300"])
        // Which test binary owns it: `docker ps --filter label=...`.
        .with_label(LABEL, std::process::id().to_string());
    // The sync API runs a runtime of its own, which cannot start inside a
    // test's runtime: use a plain thread.
    let started = std::thread::spawn(move || {
        let container = image.start()?;
        let host = container
            .get_host()?
            .to_string()
            .replace("localhost", "127.0.0.1");
        let port = container.get_host_port_ipv4(5432)?;
        Ok::<_, TestcontainersError>((container, host, port))
    });
    let (container, host, port) = started.join().unwrap().map_err(docker_error)?;
    let url = format!("postgres://postgres:postgres@{host}:{port}/postgres");
    Ok((url, Started::Container(Box::new(container))))
}

fn docker_error(error: TestcontainersError) -> String {
    match error {
        TestcontainersError::Client(ClientError::PullImage { .. }) => format!(
            "the postgres:{TAG} image is missing and cannot be pulled ({error}). \
             Pull it (`docker pull postgres:{TAG}`) or, offline, build a local \
             stand-in: `cargo xtask docker standins`"
        ),
        error => {
            let text = error.to_string();
            // bollard's words when nothing listens on the Docker socket.
            if [
                "(Connect)",
                "Connection refused",
                "No such file or directory",
                "Socket not found",
            ]
            .iter()
            .any(|words| text.contains(words))
            {
                format!("Docker does not answer (is it running? `docker version` says): {text}")
            } else {
                format!("cannot start a postgres:{TAG} container: {text}")
            }
        }
    }
}

fn cluster() -> Result<(String, Started), String> {
    let cluster = Cluster::start()?;
    Ok((cluster.url.clone(), Started::Cluster(cluster)))
}

fn no_server(docker: &str, local: &str) -> String {
    format!(
        "no PostgreSQL server for the tests.\n\
         - DATABASE_URL is not set\n\
         - Docker: {docker}\n\
         - local cluster: {local}\n\
         Fix one of them: set DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/postgres \
         (a user allowed to create databases), or start Docker, or install the \
         PostgreSQL server (Debian/Ubuntu: `apt-get install postgresql`, macOS: \
         `brew install postgresql@17`, Windows: the EDB installer from postgresql.org)."
    )
}
