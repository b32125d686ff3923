//! `cargo xtask db up|url|down`: each way the kit finds PostgreSQL (a local
//! `initdb` cluster, a container of the postgres image, `DATABASE_URL`)
//! gives a server that answers, `up` twice reuses it, and `down` removes it.

use crate::support;

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// `cargo xtask db ...` with its state in a folder of its own, so a
/// developer's own `db up` is left alone.
struct Db {
    state: tempfile::TempDir,
}

impl Db {
    fn new() -> Db {
        let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(base).unwrap();
        Db {
            state: tempfile::tempdir_in(base).unwrap(),
        }
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> support::Run {
        let mut all = vec!["db"];
        all.extend_from_slice(args);
        let mut vars = vec![("CARGO_TARGET_DIR", self.state.path().to_str().unwrap())];
        vars.extend_from_slice(env);
        support::xtask_with_env(&all, &vars)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = self.run(&["down"], &[]);
    }
}

fn address(url: &str) -> SocketAddr {
    let host_port = url
        .rsplit('@')
        .next()
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no host:port in {url}"));
    host_port
        .parse()
        .unwrap_or_else(|e| panic!("{host_port}: {e}"))
}

fn answers(url: &str) -> bool {
    TcpStream::connect_timeout(&address(url), Duration::from_secs(2)).is_ok()
}

/// `up`, `url`, `up` again (the same server), `down` (gone), `url` (none).
fn round_trip(how: &str) {
    let db = Db::new();
    let up = db.run(&["up"], &[("LAB_DB", how)]);
    assert!(up.success, "db up ({how}):\n{}\n{}", up.stdout, up.stderr);
    let url = up.stdout.trim().to_string();
    assert!(url.starts_with("postgres://"), "{url}");
    assert!(address(&url).ip().is_loopback(), "{url}");
    assert!(answers(&url), "nothing answers at {url}");
    assert!(up.stderr.contains("export DATABASE_URL="), "{}", up.stderr);

    let again = db.run(&["up"], &[("LAB_DB", how)]);
    assert!(again.success, "{}", again.stderr);
    assert_eq!(again.stdout.trim(), url, "a second up reuses the server");
    assert!(again.stderr.contains("already running"), "{}", again.stderr);
    let shown = db.run(&["url"], &[]);
    assert_eq!(shown.stdout.trim(), url);

    let down = db.run(&["down"], &[]);
    assert!(down.success, "{}", down.stderr);
    // Bounded: the port closes within 10 s.
    let mut closed = false;
    for _ in 0..40 {
        if !answers(&url) {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(closed, "{url} still answers after db down");
    let none = db.run(&["url"], &[]);
    assert!(!none.success, "{}", none.stdout);
    assert!(none.stderr.contains("cargo xtask db up"), "{}", none.stderr);
}

#[test]
fn a_local_cluster_comes_up_is_reused_and_goes_away() {
    let found = support::runs(
        "sh",
        &[
            "-c",
            "command -v initdb || ls /usr/lib/postgresql/*/bin/initdb",
        ],
    );
    if !support::tool_available(
        "postgres",
        found,
        "install the PostgreSQL server (Debian: apt-get install postgresql)",
    ) {
        return;
    }
    round_trip("local");
}

#[test]
fn a_container_comes_up_is_reused_and_goes_away() {
    if !support::tool_available(
        "docker",
        support::runs("docker", &["image", "inspect", "postgres:17-trixie"]),
        "start Docker and pull postgres:17-trixie (offline: cargo xtask docker standins)",
    ) {
        return;
    }
    round_trip("docker");
}

#[test]
fn database_url_is_used_as_given_and_never_stopped() {
    let db = Db::new();
    let url = "postgres://someone:secret@127.0.0.1:1/elsewhere";
    let env = [("DATABASE_URL", url), ("LAB_DB", "url")];
    let shown = db.run(&["url"], &env);
    assert!(shown.success, "{}", shown.stderr);
    assert_eq!(shown.stdout.trim(), url);
    if std::env::var_os("DATABASE_URL").is_some() {
        return; // set around this test: it cannot be taken away here
    }
    let forced = db.run(&["up"], &[("LAB_DB", "url")]);
    assert!(!forced.success, "{}", forced.stdout);
    assert!(
        forced.stderr.contains("DATABASE_URL is not set"),
        "{}",
        forced.stderr
    );
}

#[test]
fn an_unknown_lab_db_value_says_what_is_accepted() {
    let db = Db::new();
    let run = db.run(&["up"], &[("LAB_DB", "cloud")]);
    assert!(!run.success, "{}", run.stdout);
    assert!(
        run.stderr.contains("LAB_DB must be url, docker or local"),
        "{}",
        run.stderr
    );
}
