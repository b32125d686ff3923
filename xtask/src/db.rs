//! `cargo xtask db up|down|url`: a PostgreSQL server for trainees, found or
//! started with the same policy as the tests (DATABASE_URL, Docker, a local
//! `initdb` cluster; `LAB_DB=url|docker|local` forces one), but kept running
//! until `db down`.

use std::path::PathBuf;

use anyhow::Context;

/// The one provisioning policy of the kit (DATABASE_URL, Docker, local
/// initdb): the stages' own test helper, compiled in here too.
#[path = "../../solutions/06-ibdb/tests/support/postgres.rs"]
pub mod pg;

/// A server for one check or benchmark: provisioned by the policy above,
/// stopped (container or cluster removed) on drop and when the xtask is
/// interrupted.
pub struct Throwaway {
    pub server: pg::Server,
    _cleanup: Option<crate::proc::Registration>,
}

impl Throwaway {
    /// The error says what was tried and what to install.
    pub fn start() -> Result<Throwaway, String> {
        let server = pg::provision()?;
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
fn save(server: &pg::Server) -> anyhow::Result<()> {
    let lines = match &server.kind {
        pg::Kind::External => vec![server.url.clone(), "external".into()],
        pg::Kind::Docker { id } => vec![server.url.clone(), "docker".into(), id.clone()],
        pg::Kind::Local { bin, root } => vec![
            server.url.clone(),
            "local".into(),
            bin.display().to_string(),
            root.display().to_string(),
        ],
    };
    let file = state_file();
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&file, lines.join("\n") + "\n")
        .with_context(|| format!("writing {}", file.display()))
}

fn load() -> Option<pg::Server> {
    let text = std::fs::read_to_string(state_file()).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let kind = match *lines.get(1)? {
        "docker" => pg::Kind::Docker {
            id: lines.get(2)?.to_string(),
        },
        "local" => pg::Kind::Local {
            bin: PathBuf::from(lines.get(2)?),
            root: PathBuf::from(lines.get(3)?),
        },
        _ => pg::Kind::External,
    };
    Some(pg::Server {
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
            let server = pg::provision().map_err(|message| anyhow::anyhow!("{message}"))?;
            save(&server)?;
            eprintln!(
                "started; `cargo xtask db down` stops it. For your shell:\n  export DATABASE_URL={}",
                server.url
            );
            println!("{}", server.url);
            Ok(true)
        }
        DbAction::Url => match load().or_else(|| {
            std::env::var("DATABASE_URL").ok().map(|url| pg::Server {
                url,
                kind: pg::Kind::External,
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
