//! Where a PostgreSQL server for tests comes from. Standard library only, so
//! the same file serves the tests of stages 05-07 and `cargo xtask db`.
//!
//! The policy, in order:
//! 1. `DATABASE_URL`, if set: a server you run yourself (CI, a cluster, ...).
//! 2. Docker, if it works and can run the `postgres` image.
//! 3. A throwaway cluster made with `initdb` and `pg_ctl` from a local
//!    PostgreSQL installation, on a free port (as the `postgres` user when
//!    running as root, since PostgreSQL refuses to run as root).
//!
//! `LAB_DB=url|docker|local` forces one of them.
#![allow(dead_code)] // Each user of this file needs a different part of it.

use std::{
    env,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// The image used when Docker provides the server.
pub const IMAGE: &str = "postgres:17-trixie";

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
    /// A cluster in `root` (data, socket and log), deleted by `stop`.
    Local { bin: PathBuf, root: PathBuf },
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
            Kind::Local { bin, root } => {
                let pg_ctl = bin.join("pg_ctl").display().to_string();
                let data = root.join("data").display().to_string();
                let mut argv = Vec::new();
                if is_root() {
                    argv.extend(["runuser", "-u", "postgres", "--"].map(String::from));
                }
                argv.extend([
                    pg_ctl,
                    "-D".into(),
                    data,
                    "-m".into(),
                    "immediate".into(),
                    "stop".into(),
                ]);
                Some(argv)
            }
        }
    }

    /// Stops the server and deletes its data, unless it is external.
    pub fn stop(&self) {
        match &self.kind {
            Kind::External => {}
            Kind::Docker { id } => {
                let _ = run(Command::new("docker").args(["rm", "-f", "-v", id]));
            }
            Kind::Local { bin, root } => {
                let data = root.join("data");
                let _ = run(as_postgres(&bin.join("pg_ctl")).args([
                    "-D".as_ref(),
                    data.as_os_str(),
                    "-m".as_ref(),
                    "immediate".as_ref(),
                    "-w".as_ref(),
                    "stop".as_ref(),
                ]));
                let _ = std::fs::remove_dir_all(root);
            }
        }
    }
}

/// Finds or starts a server following the policy above. The error says what
/// was tried and what to install.
pub fn provision() -> Result<Server, String> {
    let external = || {
        env::var("DATABASE_URL").ok().map(|url| Server {
            url,
            kind: Kind::External,
        })
    };
    match env::var("LAB_DB").as_deref() {
        Ok("url") => external().ok_or_else(|| "LAB_DB=url but DATABASE_URL is not set".into()),
        Ok("docker") => docker(),
        Ok("local") => local(&fresh_root()?),
        Ok(other) => Err(format!(
            "LAB_DB must be url, docker or local, not {other:?}"
        )),
        Err(_) => {
            if let Some(server) = external() {
                return Ok(server);
            }
            let docker_error = match docker() {
                Ok(server) => return Ok(server),
                Err(error) => error,
            };
            let local_error = match local(&fresh_root()?) {
                Ok(server) => return Ok(server),
                Err(error) => error,
            };
            Err(format!(
                "no PostgreSQL server for the tests.\n\
                 - DATABASE_URL is not set\n\
                 - Docker: {docker_error}\n\
                 - local cluster: {local_error}\n\
                 Fix one of them: set DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/postgres \
                 (a user allowed to create databases), or start Docker, or install the \
                 PostgreSQL server (Debian/Ubuntu: `apt-get install postgresql`, macOS: \
                 `brew install postgresql@17`, Windows: the EDB installer from postgresql.org)."
            ))
        }
    }
}

// ---- Docker ------------------------------------------------------------

/// A fresh container from `IMAGE` with a published random port.
pub fn docker() -> Result<Server, String> {
    run_with_timeout(
        Command::new("docker").args(["info", "--format", "{{.ServerVersion}}"]),
        Duration::from_secs(15),
    )
    .map_err(|e| format!("`docker info` failed ({e})"))?;
    let out = run_with_timeout(
        Command::new("docker").args([
            "run",
            "--detach",
            "--rm",
            "--label",
            "microservices-in-rust=postgres",
            "--env",
            "POSTGRES_HOST_AUTH_METHOD=trust",
            "--publish",
            "127.0.0.1::5432",
            IMAGE,
            "-c",
            "fsync=off",
            "-c",
            "max_connections=300",
        ]),
        Duration::from_secs(300),
    )
    .map_err(|e| format!("cannot run the {IMAGE} image ({e})"))?;
    let id = out.trim().to_string();
    let server = |port: &str| Server {
        url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        kind: Kind::Docker { id: id.clone() },
    };
    let ready = || -> Result<Server, String> {
        let port = run(Command::new("docker").args(["port", &id, "5432/tcp"]))?;
        let port = port
            .lines()
            .next()
            .and_then(|l| l.rsplit(':').next())
            .ok_or("no published port")?
            .to_string();
        // The image starts PostgreSQL twice (once to initialise); only the
        // second one listens on TCP, which is what pg_isready -h asks for.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let check = [
                "exec",
                &id,
                "pg_isready",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
            ];
            if run(Command::new("docker").args(check)).is_ok() {
                return Ok(server(&port));
            }
            if Instant::now() > deadline {
                return Err("the container did not become ready within 60 s".into());
            }
            thread::sleep(Duration::from_millis(250));
        }
    };
    ready().inspect_err(|_| server("0").stop())
}

// ---- Local cluster -----------------------------------------------------

/// A new, empty folder name in the temporary directory.
pub fn fresh_root() -> Result<PathBuf, String> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Ok(env::temp_dir().join(format!("ibdb-pg-{}-{nanos}", std::process::id())))
}

/// `initdb` + `pg_ctl start` into `root` (created; must not exist), trust
/// authentication, listening on 127.0.0.1 only.
pub fn local(root: &Path) -> Result<Server, String> {
    let bin = find_bin()?;
    if is_root() {
        run(Command::new("id").args(["-u", "postgres"])).map_err(|_| {
            "running as root, and PostgreSQL refuses to run as root, but there is no \
             `postgres` user to run it as (create one, or run the tests as a normal user)"
                .to_string()
        })?;
    }
    std::fs::create_dir_all(root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let server = Server {
        url: String::new(),
        kind: Kind::Local {
            bin: bin.clone(),
            root: root.to_path_buf(),
        },
    };
    let started = start_local(&bin, root);
    if started.is_err() {
        server.stop();
    }
    Ok(Server {
        url: started?,
        ..server
    })
}

fn start_local(bin: &Path, root: &Path) -> Result<String, String> {
    if is_root() {
        run(Command::new("chown").args(["postgres".as_ref(), root.as_os_str()]))?;
    }
    let data = root.join("data");
    run(as_postgres(&bin.join("initdb")).args([
        "-D".as_ref(),
        data.as_os_str(),
        "-U".as_ref(),
        "postgres".as_ref(),
        "--auth=trust".as_ref(),
        "-E".as_ref(),
        "UTF8".as_ref(),
        "--locale=C".as_ref(),
        "--no-sync".as_ref(),
    ]))
    .map_err(|e| format!("initdb failed: {e}"))?;
    // A free port can be taken between our check and PostgreSQL's bind: retry.
    let mut last_error = String::new();
    for _ in 0..3 {
        let port = free_port()?;
        let mut options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c max_connections=300 \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        );
        if cfg!(unix) {
            // The socket goes next to the data, not into /var/run/postgresql,
            // which may not exist or be writable.
            options.push_str(&format!(" -k {}", root.display()));
        }
        let log = root.join("postgres.log");
        let started = run_with_timeout(
            as_postgres(&bin.join("pg_ctl")).args([
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "start".as_ref(),
            ]),
            Duration::from_secs(90),
        );
        match started {
            Ok(_) => return Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres")),
            Err(error) => {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                last_error = format!("pg_ctl start failed: {error}\n{log}");
            }
        }
    }
    Err(last_error)
}

/// The folder holding `initdb`, `pg_ctl` and `postgres`: PATH first, then
/// where Debian, Homebrew, Postgres.app, RHEL, source builds and the Windows
/// installer put them (newest version first).
pub fn find_bin() -> Result<PathBuf, String> {
    let exe = |name: &str| format!("{name}{}", env::consts::EXE_SUFFIX);
    let mut candidates: Vec<PathBuf> = env::var_os("PATH")
        .map(|p| env::split_paths(&p).collect())
        .unwrap_or_default();
    for (parent, prefix, suffix) in [
        ("/usr/lib/postgresql", "", "bin"),
        ("/opt/homebrew/opt", "postgresql@", "bin"),
        ("/usr/local/opt", "postgresql@", "bin"),
        ("/usr", "pgsql-", "bin"),
        ("/Applications/Postgres.app/Contents/Versions", "", "bin"),
        ("C:\\Program Files\\PostgreSQL", "", "bin"),
    ] {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(parent)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let version = name.strip_prefix(prefix)?;
                let major = version.split('.').next()?.parse().unwrap_or(0);
                Some((major, entry.path().join(suffix)))
            })
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.0));
        candidates.extend(versions.into_iter().map(|(_, path)| path));
    }
    candidates.extend(
        [
            "/usr/local/pgsql/bin",
            "/opt/homebrew/bin",
            "/usr/local/bin",
        ]
        .map(PathBuf::from),
    );
    for dir in candidates {
        // initdb and pg_ctl look for `postgres` next to their real location.
        let Ok(initdb) = dir.join(exe("initdb")).canonicalize() else {
            continue;
        };
        let Some(real) = initdb.parent() else {
            continue;
        };
        if ["pg_ctl", "postgres"]
            .iter()
            .all(|b| real.join(exe(b)).is_file())
        {
            return Ok(real.to_path_buf());
        }
    }
    Err("no initdb/pg_ctl found on PATH or in the usual install folders".into())
}

fn is_root() -> bool {
    cfg!(unix) && run(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0")
}

/// `program`, run as the `postgres` user when we are root.
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args([
            "-u".as_ref(),
            "postgres".as_ref(),
            "--".as_ref(),
            program.as_os_str(),
        ]);
        command
    } else {
        Command::new(program)
    }
}

pub fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

// ---- Processes ---------------------------------------------------------

/// Runs to completion; stdout on success, stderr (or the spawn error) on failure.
fn run(command: &mut Command) -> Result<String, String> {
    run_with_timeout(command, Duration::from_secs(60))
}

/// Like `run`, but kills the command after `timeout`.
fn run_with_timeout(command: &mut Command, timeout: Duration) -> Result<String, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{program} did not finish within {timeout:?}"));
            }
        }
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child
        .wait_with_output()
        .map_err(|e| format!("{program}: {e}"))?;
    if status.success() {
        Ok(String::from_utf8_lossy(&stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&stderr);
        Err(format!("{program} failed ({status}): {}", stderr.trim()))
    }
}
