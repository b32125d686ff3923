//! `cargo xtask db up|down|url`: a PostgreSQL server for trainees, found or
//! started with the same policy as the tests (DATABASE_URL, Docker, a local
//! `initdb` cluster; `LAB_DB=url|docker|local` forces one), but kept running
//! until `db down`. The stage checks and benchmarks use it too.
//!
//! The tests start their container with testcontainers
//! (`solutions/06-ibdb/tests/support/postgres.rs`); xtask has no async
//! runtime and must outlive nothing, so it runs the same container (image,
//! environment, options, readiness rule) with the docker CLI here. Why:
//! CONTRIBUTING.md, "Hand-written or a library". The local cluster is the
//! tests' own file.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;

/// The tests' local-cluster fallback, compiled in here too.
#[path = "../../solutions/06-ibdb/tests/support/initdb.rs"]
pub mod initdb;

/// The image the tests run (their `postgres.rs` names the same tag; a
/// test of xtask compares them).
pub const IMAGE: &str = "postgres:17-trixie";

/// What testcontainers-modules' `Postgres` sets (its defaults: user,
/// password and database `postgres`) and what the tests add.
const ENV: &[&str] = &[
    "POSTGRES_USER=postgres",
    "POSTGRES_PASSWORD=postgres",
    "POSTGRES_DB=postgres",
];
const OPTIONS: &[&str] = &["-c", "fsync=off", "-c", "max_connections=300"];
/// testcontainers-modules' postgres readiness: this line on stdout (the
/// entrypoint's temporary server) and on stderr (the real server).
const READY: &str = "database system is ready to accept connections";
/// Marks the containers of `db up`, the checks and the benchmarks.
pub const LABEL: &str = "dev.microservices-lab.db=postgres";

/// A running server and how to get rid of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Connects as a superuser to the `postgres` database.
    pub url: String,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Someone else's server: never stopped by us.
    External,
    /// A container, removed by `stop`.
    Docker { id: String },
    /// A local cluster, deleted by `stop`.
    Local(initdb::Cluster),
}

impl Server {
    /// The command that stops the server (for a cleanup list that outlives
    /// this value, such as an interrupt handler); `None` when external.
    pub fn stop_command(&self) -> Option<Vec<String>> {
        match &self.kind {
            Kind::External => None,
            Kind::Docker { id } => {
                Some(["docker", "rm", "-f", "-v", id].map(String::from).to_vec())
            }
            Kind::Local(cluster) => Some(cluster.stop_command()),
        }
    }

    /// Stops the server and deletes its data, unless it is external.
    pub fn stop(&self) {
        match &self.kind {
            Kind::External => {}
            Kind::Docker { id } => {
                let _ = docker(&["rm", "-f", "-v", id]);
            }
            Kind::Local(cluster) => cluster.stop(),
        }
    }
}

/// Finds or starts a server following the policy above. The error says what
/// was tried and what to install.
pub fn provision() -> Result<Server, String> {
    let external = std::env::var("DATABASE_URL").map(|url| Server {
        url,
        kind: Kind::External,
    });
    let local = || {
        initdb::Cluster::start().map(|cluster| Server {
            url: cluster.url.clone(),
            kind: Kind::Local(cluster),
        })
    };
    match std::env::var("LAB_DB").as_deref().unwrap_or_default() {
        "url" => external.map_err(|_| "LAB_DB=url but DATABASE_URL is not set".into()),
        "docker" => container(),
        "local" => local(),
        "" => external.or_else(|_| {
            container().or_else(|docker_error| {
                local().map_err(|local_error| {
                    format!(
                        "no PostgreSQL server.\n\
                         - DATABASE_URL is not set\n\
                         - Docker: {docker_error}\n\
                         - local cluster: {local_error}\n\
                         Fix one of them: set DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/postgres \
                         (a user allowed to create databases), or start Docker, or install the \
                         PostgreSQL server (Debian/Ubuntu: `apt-get install postgresql`, macOS: \
                         `brew install postgresql@17`, Windows: the EDB installer from postgresql.org)."
                    )
                })
            })
        }),
        other => Err(format!(
            "LAB_DB must be url, docker or local, not {other:?}"
        )),
    }
}

/// `docker ARGS`: stdout on success, stderr on failure.
fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run docker: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The tests' container, by hand: published on a random port of 127.0.0.1,
/// ready when both log streams say so, as testcontainers waits.
fn container() -> Result<Server, String> {
    docker(&["version", "--format", "{{.Server.Version}}"])
        .map_err(|e| format!("Docker does not answer ({e})"))?;
    if !crate::docker::image_exists(IMAGE) {
        docker(&["pull", IMAGE]).map_err(|e| {
            format!(
                "the {IMAGE} image is missing and cannot be pulled ({e}). Pull it \
                 (`docker pull {IMAGE}`) or, offline, build a local stand-in: \
                 `cargo xtask docker standins`"
            )
        })?;
    }
    // Named before it exists, and its removal registered, so that a Ctrl-C
    // or SIGTERM while `docker run` or the wait below runs removes it too.
    // (The caller registers the server once it is ready: `Throwaway::start`;
    // `db up` keeps it.)
    static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    // Unique also against a container left by an earlier process with the
    // same id (ids are reused): the time is in it too.
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let name = format!(
        "lab-db-{}-{}-{}",
        std::process::id(),
        STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        since_epoch.as_millis()
    );
    let _starting = crate::proc::register(crate::proc::Cleanup::Command(
        ["docker", "rm", "-f", "-v", &name]
            .map(String::from)
            .to_vec(),
    ));
    let mut args = vec![
        "run",
        "--detach",
        "--name",
        &name,
        "--label",
        LABEL,
        "--publish",
        "127.0.0.1::5432",
    ];
    for env in ENV {
        args.extend(["--env", env]);
    }
    args.push(IMAGE);
    args.extend(OPTIONS);
    let id = docker(&args)
        .map_err(|e| format!("cannot start a {IMAGE} container: {e}"))?
        .trim()
        .to_string();
    let server = Server {
        url: String::new(),
        kind: Kind::Docker { id: id.clone() },
    };
    let ready = || -> Result<String, String> {
        // Bounded like testcontainers' default start-up time-out (60 s).
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let logs = Command::new("docker")
                .args(["logs", &id])
                .output()
                .map_err(|e| format!("docker logs: {e}"))?;
            let said = |stream: &[u8]| String::from_utf8_lossy(stream).contains(READY);
            if said(&logs.stdout) && said(&logs.stderr) {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the {IMAGE} container did not log {READY:?} on stdout and stderr within 60 s:\n{}",
                    crate::proc::tail(&String::from_utf8_lossy(&logs.stderr), 10)
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let port = docker(&["port", &id, "5432/tcp"])?;
        let port = port
            .lines()
            .next()
            .and_then(|l| l.rsplit(':').next())
            .ok_or("no published port")?
            .to_string();
        Ok(format!(
            "postgres://postgres:postgres@127.0.0.1:{port}/postgres"
        ))
    };
    match ready() {
        Ok(url) => Ok(Server { url, ..server }),
        Err(error) => {
            server.stop();
            Err(error)
        }
    }
}

/// A server for one check or benchmark: provisioned by the policy above,
/// stopped (container or cluster removed) on drop and when the xtask is
/// interrupted.
pub struct Throwaway {
    pub server: Server,
    _cleanup: Option<crate::proc::Registration>,
}

impl Throwaway {
    /// The error says what was tried and what to install.
    pub fn start() -> Result<Throwaway, String> {
        let server = provision()?;
        let cleanup = server
            .stop_command()
            .map(|argv| crate::proc::register(crate::proc::Cleanup::Command(argv)));
        Ok(Throwaway {
            server,
            _cleanup: cleanup,
        })
    }

    pub fn url(&self) -> &str {
        &self.server.url
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        self.server.stop();
    }
}

#[derive(Debug, Clone, Copy, clap::Subcommand)]
pub enum DbAction {
    /// Start a database (or reuse the running one) and print its URL.
    Up,
    /// Stop the database `up` started and delete its data.
    Down,
    /// Print the URL of the running database (for `export DATABASE_URL=$(...)`).
    Url,
}

/// Where `up` remembers what it started.
fn state_file() -> PathBuf {
    crate::paths::target_dir().join("lab-db.state")
}

/// The state file: the URL, then the kind and its details, one per line.
fn save(server: &Server) -> anyhow::Result<()> {
    let lines = match &server.kind {
        Kind::External => vec![server.url.clone(), "external".into()],
        Kind::Docker { id } => vec![server.url.clone(), "docker".into(), id.clone()],
        Kind::Local(cluster) => vec![
            server.url.clone(),
            "local".into(),
            cluster.bin.display().to_string(),
            cluster.root.display().to_string(),
        ],
    };
    let file = state_file();
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&file, lines.join("\n") + "\n")
        .with_context(|| format!("writing {}", file.display()))
}

fn load() -> Option<Server> {
    let text = std::fs::read_to_string(state_file()).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let kind = match *lines.get(1)? {
        "docker" => Kind::Docker {
            id: lines.get(2)?.to_string(),
        },
        "local" => Kind::Local(initdb::Cluster {
            url: lines.first()?.to_string(),
            bin: PathBuf::from(lines.get(2)?),
            root: PathBuf::from(lines.get(3)?),
        }),
        _ => Kind::External,
    };
    Some(Server {
        url: lines.first()?.to_string(),
        kind,
    })
}

/// True when something accepts TCP connections at the URL's host and port.
fn answers(url: &str) -> bool {
    let Some(rest) = url.split('@').next_back() else {
        return false;
    };
    let host_port = rest.split('/').next().unwrap_or_default();
    std::net::TcpStream::connect_timeout(
        &match host_port.parse() {
            Ok(addr) => addr,
            Err(_) => return false,
        },
        std::time::Duration::from_secs(2),
    )
    .is_ok()
}

pub fn run(action: DbAction) -> anyhow::Result<bool> {
    match action {
        DbAction::Up => {
            if let Some(server) = load() {
                if answers(&server.url) {
                    eprintln!("the database is already running");
                    println!("{}", server.url);
                    return Ok(true);
                }
                // Left over from a reboot or a crash: clean up and start over.
                server.stop();
                let _ = std::fs::remove_file(state_file());
            }
            let server = provision().map_err(|message| anyhow::anyhow!("{message}"))?;
            save(&server)?;
            eprintln!(
                "started; `cargo xtask db down` stops it. For your shell:\n  export DATABASE_URL={}",
                server.url
            );
            println!("{}", server.url);
            Ok(true)
        }
        DbAction::Url => match load().or_else(|| {
            std::env::var("DATABASE_URL").ok().map(|url| Server {
                url,
                kind: Kind::External,
            })
        }) {
            Some(server) => {
                println!("{}", server.url);
                Ok(true)
            }
            None => {
                eprintln!("no database: run `cargo xtask db up` first");
                Ok(false)
            }
        },
        DbAction::Down => {
            match load() {
                Some(server) => {
                    server.stop();
                    let _ = std::fs::remove_file(state_file());
                    eprintln!("stopped");
                }
                None => eprintln!("no database was started with `cargo xtask db up`"),
            }
            Ok(true)
        }
    }
}
