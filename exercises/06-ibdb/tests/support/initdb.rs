//! A throwaway PostgreSQL cluster from a local installation, for machines
//! without Docker: `initdb` into a temporary folder, `pg_ctl start` on a
//! free port of 127.0.0.1, deleted by `stop`. Standard library only, so
//! `cargo xtask db` compiles this same file.
#![allow(dead_code)] // Each user of this file needs a different part of it.

use std::{
    env,
    net::TcpListener,
    path::PathBuf,
    process::{Command, Stdio},
    time::{SystemTime, UNIX_EPOCH},
};

/// A running cluster: data, socket and log in `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Connects as the `postgres` superuser to the `postgres` database.
    pub url: String,
    pub bin: PathBuf,
    pub root: PathBuf,
}

impl Cluster {
    /// `initdb` + `pg_ctl start` in a new temporary folder. PostgreSQL
    /// refuses to run as root: as root, it runs as the `postgres` user.
    pub fn start() -> Result<Cluster, String> {
        let bin = find_bin()?;
        if is_root() {
            run(Command::new("id").args(["-u", "postgres"])).map_err(|_| {
                "running as root, and PostgreSQL refuses to run as root, but there is no \
                 `postgres` user to run it as (create one, or run the tests as a normal user)"
                    .to_string()
            })?;
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let root = env::temp_dir().join(format!("ibdb-pg-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&root)
            .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
        let mut cluster = Cluster {
            url: String::new(),
            bin,
            root,
        };
        match cluster.init_and_start() {
            Ok(url) => {
                cluster.url = url;
                Ok(cluster)
            }
            Err(error) => {
                cluster.stop();
                Err(error)
            }
        }
    }

    fn init_and_start(&self) -> Result<String, String> {
        if is_root() {
            run(Command::new("chown").args(["postgres".as_ref(), self.root.as_os_str()]))?;
        }
        let data = self.root.join("data");
        let mut initdb = self.as_postgres("initdb");
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run(&mut initdb).map_err(|e| format!("initdb failed: {e}"))?;
        // A free port can be taken between our check and PostgreSQL's bind: retry.
        let log = self.root.join("postgres.log");
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
                options.push_str(&format!(" -k {}", self.root.display()));
            }
            let mut pg_ctl = self.as_postgres("pg_ctl");
            pg_ctl.arg("-D").arg(&data).arg("-l").arg(&log);
            // -w -t 60: pg_ctl itself bounds the wait for the server.
            pg_ctl.args(["-o", &options, "-w", "-t", "60", "start"]);
            match run(&mut pg_ctl) {
                Ok(_) => return Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres")),
                Err(error) => {
                    let log = std::fs::read_to_string(&log).unwrap_or_default();
                    last_error = format!("pg_ctl start failed: {error}\n{log}");
                }
            }
        }
        Err(last_error)
    }

    /// Stops the server and deletes its folder.
    pub fn stop(&self) {
        let data = self.root.join("data");
        let mut pg_ctl = self.as_postgres("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"]);
        let _ = run(&mut pg_ctl);
        let _ = std::fs::remove_dir_all(&self.root);
    }

    /// The command that stops the server (for an interrupt handler's
    /// clean-up list, which outlives this value).
    pub fn stop_command(&self) -> Vec<String> {
        let command = self.as_postgres("pg_ctl");
        let mut argv = vec![command.get_program().to_string_lossy().into_owned()];
        argv.extend(command.get_args().map(|a| a.to_string_lossy().into_owned()));
        let data = self.root.join("data").display().to_string();
        argv.extend([
            "-D".into(),
            data,
            "-m".into(),
            "immediate".into(),
            "stop".into(),
        ]);
        argv
    }

    /// `bin/program`, run as the `postgres` user when we are root.
    fn as_postgres(&self, program: &str) -> Command {
        let program = self
            .bin
            .join(format!("{program}{}", env::consts::EXE_SUFFIX));
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
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
                let major = name.strip_prefix(prefix)?.split('.').next()?.parse();
                Some((major.unwrap_or(0), entry.path().join(suffix)))
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

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Runs to completion; stdout on success, stderr (or the spawn error) on
/// failure. Every command here ends by itself (pg_ctl bounds its waits).
fn run(command: &mut Command) -> Result<String, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(format!(
            "{program} failed ({}): {}",
            out.status,
            stderr.trim()
        ))
    }
}
