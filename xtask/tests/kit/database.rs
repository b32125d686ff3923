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

/// The stages' tests and xtask start the same image.
#[test]
fn the_tests_and_xtask_name_the_same_image() {
    let read = |path: &str| std::fs::read_to_string(support::root().join(path)).unwrap();
    let tests = read("solutions/06-ibdb/tests/support/postgres.rs");
    let xtask = read("xtask/src/db.rs");
    assert!(
        tests.contains(r#"pub const TAG: &str = "17-trixie";"#)
            && tests.contains("Postgres::default()"),
        "the tests no longer start postgres:17-trixie with testcontainers-modules' Postgres"
    );
    assert!(
        xtask.contains(r#"pub const IMAGE: &str = "postgres:17-trixie";"#),
        "xtask/src/db.rs must start the image the tests start (postgres:17-trixie)"
    );
}

// ---- Clean-up of the tests' own server ------------------------------------

const LABEL: &str = "dev.microservices-lab.tests";

/// Builds test target `test` of `solutions/STAGE` and returns its binary.
/// Its sources are touched first: the starter shares artifact names with
/// the solution (CONTRIBUTING.md, "One target folder").
fn test_binary(stage: &str, test: &str) -> std::path::PathBuf {
    let dir = support::root().join("solutions").join(stage);
    duct::cmd!("touch", dir.join("src/lib.rs")).run().unwrap();
    let out = duct::cmd!(
        "cargo",
        "test",
        "--no-run",
        "--message-format=json",
        "--test",
        test
    )
    .dir(&dir)
    .stdout_capture()
    .stderr_capture()
    .unchecked()
    .run()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "building the {test} tests of {stage}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == test)
        .find_map(|m| m["executable"].as_str().map(std::path::PathBuf::from))
        .unwrap_or_else(|| panic!("no test binary for {test} in:\n{stdout}"))
}

/// The containers (running or not) of the test binary `pid`.
fn containers_of(pid: u32) -> String {
    let filter = format!("label={LABEL}={pid}");
    duct::cmd!("docker", "ps", "--all", "--quiet", "--filter", filter)
        .read()
        .unwrap()
}

fn postgres_image_present() -> bool {
    support::docker_works()
        && support::tool_available(
            "docker",
            support::runs("docker", &["image", "inspect", "postgres:17-trixie"]),
            "pull postgres:17-trixie (offline: cargo xtask docker standins)",
        )
}

/// Runs `exe` with `LAB_DB=how` to the end (bounded: 5 min), noting
/// whether a container of its own was seen meanwhile.
fn run_to_the_end(
    exe: &std::path::Path,
    dir: &str,
    how: &str,
) -> (std::process::Output, u32, bool) {
    let mut child = std::process::Command::new(exe)
        .current_dir(support::root().join("solutions").join(dir))
        .env("LAB_DB", how)
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
        text
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    let mut seen = false;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{} did not finish within 5 minutes", exe.display());
        }
        if how == "docker" && !seen {
            seen = !containers_of(pid).trim().is_empty();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut output = child.wait_with_output().unwrap();
    output.stdout = reader.join().unwrap().into_bytes();
    (output, pid, seen)
}

/// libtest ends a test binary with `process::exit`, which skips the
/// destructors of statics: the container shared by the binary's tests is
/// removed by the `atexit` handler of tests/support/postgres.rs.
#[test]
fn a_test_binary_removes_its_container_when_it_exits() {
    if !postgres_image_present() {
        return;
    }
    let _turn = support::serial();
    let exe = test_binary("05-postgres", "postgres");
    let (out, pid, seen) = run_to_the_end(&exe, "05-postgres", "docker");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        seen,
        "no container labelled {LABEL}={pid} was seen while the tests ran:\n{stdout}"
    );
    assert_eq!(
        containers_of(pid).trim(),
        "",
        "test binary {pid} left its container behind (docker ps --all --filter label={LABEL}={pid})"
    );
}

/// The same for the local cluster: its folder and server are gone.
#[test]
fn a_test_binary_removes_its_local_cluster_when_it_exits() {
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
    let _turn = support::serial();
    let exe = test_binary("05-postgres", "postgres");
    let (out, pid, _) = run_to_the_end(&exe, "05-postgres", "local");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let prefix = format!("ibdb-pg-{pid}-");
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    assert!(
        left.is_empty(),
        "test binary {pid} left its cluster behind: {left:?}"
    );
}

/// Ctrl-C skips `atexit` (the default action of SIGINT kills the process
/// at once): testcontainers' `watchdog` feature removes the container on
/// SIGINT, SIGTERM and SIGQUIT, then lets the signal kill the binary
/// (testcontainers/testcontainers-rs src/watchdog.rs).
#[cfg(unix)]
#[test]
fn an_interrupted_test_binary_removes_its_container() {
    use std::io::BufRead;

    if !postgres_image_present() {
        return;
    }
    let _turn = support::serial();
    // IBDb's one test binary (tests/api.rs): its tests, the reliability
    // ones among them, run for many seconds after the first passes.
    let exe = test_binary("06-ibdb", "api");
    let before = ibdb_servers();
    let mut child = std::process::Command::new(&exe)
        .current_dir(support::root().join("solutions/06-ibdb"))
        .env("LAB_DB", "docker")
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Interrupt once a test has passed: the container is up by then.
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line.starts_with("test ") && line.ends_with(" ok") {
                let _ = tx.send(line);
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(300));
    let running = containers_of(pid);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(
        first.is_ok(),
        "no test of {} passed within 5 minutes",
        exe.display()
    );
    assert!(
        !running.trim().is_empty(),
        "no container labelled {LABEL}={pid} while the tests ran"
    );
    // Either the watchdog removed the container and re-raised the signal,
    // or, while its `docker stop` waited (the stand-in cannot carry the
    // official image's STOPSIGNAL SIGINT, so PostgreSQL waits for its
    // clients up to docker's 10 s), the tests failed without their database
    // and the binary exited through `atexit`. Never a pass, never a leak.
    assert!(
        !status.success(),
        "the binary was to be interrupted while its tests ran; it ended with {status}"
    );
    // Bounded: 30 s for the watchdog's `docker stop` and removal.
    let mut left = containers_of(pid);
    for _ in 0..120 {
        if left.trim().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
        left = containers_of(pid);
    }
    assert_eq!(
        left.trim(),
        "",
        "interrupted test binary {pid} left its container behind"
    );
    // Nor an `ibdb` server that one of its tests had started (they die with
    // the test binary: PR_SET_PDEATHSIG in tests/support/process.rs; CI
    // trials before it left one behind).
    let mut servers = ibdb_servers();
    for _ in 0..40 {
        if servers.iter().all(|p| before.contains(p)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
        servers = ibdb_servers();
    }
    let orphans: Vec<_> = servers.iter().filter(|p| !before.contains(p)).collect();
    assert!(
        orphans.is_empty(),
        "interrupted test binary {pid} left ibdb servers running: {orphans:?}"
    );
}

/// The pids of orphaned `ibdb` servers (built from solutions/06-ibdb, their
/// parent gone): a server another test runs right now has its parent.
#[cfg(unix)]
fn ibdb_servers() -> Vec<u32> {
    let exe = support::root().join("target/debug/ibdb");
    let orphan = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .is_ok_and(|s| s.lines().any(|l| l.split_whitespace().eq(["PPid:", "1"])))
    };
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p == exe))
        .filter(|&pid| orphan(pid))
        .collect()
}

/// Offline without the image: the error names both ways to get it. (The
/// tests' testcontainers path says the same; a fake `docker` first on PATH
/// stands for a daemon that has no such image and no registry.)
#[cfg(unix)]
#[test]
fn a_missing_image_that_cannot_be_pulled_says_what_to_run() {
    use std::os::unix::fs::PermissionsExt;

    let db = Db::new();
    let bin = tempfile::tempdir().unwrap();
    let docker = bin.path().join("docker");
    std::fs::write(
        &docker,
        r#"#!/bin/sh
case "$1" in
    version) echo 20.10.24 ;;
    image) echo "Error: No such image: $4" >&2; exit 1 ;;
    pull) echo 'Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host' >&2; exit 1 ;;
    *) echo "fake docker: unexpected arguments: $*" >&2; exit 64 ;;
esac
"#,
    )
    .unwrap();
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let up = db.run(&["up"], &[("LAB_DB", "docker"), ("PATH", &path)]);
    assert!(!up.success, "{}", up.stdout);
    for expected in [
        "postgres:17-trixie image is missing and cannot be pulled",
        "no such host",
        "docker pull postgres:17-trixie",
        "cargo xtask docker standins",
    ] {
        assert!(
            up.stderr.contains(expected),
            "{expected:?} not in:\n{}",
            up.stderr
        );
    }
}
