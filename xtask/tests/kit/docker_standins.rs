//! `cargo xtask docker standins` gives offline machines the base images the
//! kit's Dockerfiles name, shaped like the real ones where the Dockerfiles
//! rely on it. (With the real images pulled, these tests pass as well.)

use crate::support;

fn docker(args: &[&str]) -> (bool, String) {
    let out = duct::cmd("docker", args)
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Every image named by a Dockerfile of the kit exists afterwards; a second
/// run builds nothing.
#[test]
fn standins_cover_every_named_image_and_rerun_quickly() {
    if !support::docker_works() {
        return;
    }
    let first = support::xtask(&["docker", "standins"]);
    assert!(first.success, "{}\n{}", first.stdout, first.stderr);
    let again = support::xtask(&["docker", "standins"]);
    assert!(again.success, "{}", again.stderr);
    assert!(
        again.stdout.lines().all(|l| l.contains("is present")),
        "a second run builds nothing:\n{}",
        again.stdout
    );
    for image in [
        "rust:1.95-slim-trixie",
        "gcr.io/distroless/cc-debian13:nonroot",
        "postgres:17-trixie",
    ] {
        assert!(
            again.stdout.contains(image),
            "{image} is not named:\n{}",
            again.stdout
        );
    }
}

#[test]
fn the_rust_builder_has_the_official_layout() {
    if !support::docker_works() {
        return;
    }
    let (ok, out) = docker(&[
        "run",
        "--rm",
        "rust:1.95-slim-trixie",
        "sh",
        "-c",
        "echo $CARGO_HOME $RUSTUP_HOME $RUST_VERSION; command -v cargo; cargo --version; gcc --version | head -1; test -s /etc/ssl/certs/ca-certificates.crt && echo certs",
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("/usr/local/cargo /usr/local/rustup 1.95."),
        "{out}"
    );
    assert!(out.contains("/usr/local/cargo/bin/cargo"), "{out}");
    assert!(out.contains("cargo 1.95."), "{out}");
    assert!(out.contains("gcc"), "{out}");
    assert!(out.contains("certs"), "{out}");
}

#[test]
fn the_distroless_runtime_has_no_shell_and_a_numeric_nonroot_user() {
    if !support::docker_works() {
        return;
    }
    let image = "gcr.io/distroless/cc-debian13:nonroot";
    let (ok, user) = docker(&["image", "inspect", "--format", "{{.Config.User}}", image]);
    assert!(ok, "{user}");
    assert_eq!(user.trim().split(':').next(), Some("65532"));
    let (ran, out) = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "/bin/sh",
        image,
        "-c",
        "true",
    ]);
    assert!(!ran, "a shell ran in {image}: {out}");
}

/// The tests' database image takes the official image's variables and
/// `-c` options, and refuses a wrong password.
#[test]
fn the_postgres_image_honours_the_official_variables() {
    if !support::docker_works() {
        return;
    }
    let (ok, id) = docker(&[
        "run",
        "--detach",
        "--env",
        "POSTGRES_USER=ibdb",
        "--env",
        "POSTGRES_PASSWORD=secret",
        "--env",
        "POSTGRES_DB=books",
        "postgres:17-trixie",
        "-c",
        "max_connections=42",
    ]);
    assert!(ok, "{id}");
    let id = id.trim().to_string();
    struct Remove(String);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = docker(&["rm", "--force", "--volumes", &self.0]);
        }
    }
    let _remove = Remove(id.clone());
    // Bounded: 60 polls of 250 ms.
    let query = |password: &str, sql: &str| {
        docker(&[
            "exec",
            "--env",
            &format!("PGPASSWORD={password}"),
            &id,
            "psql",
            "--host=127.0.0.1",
            "--username=ibdb",
            "--dbname=books",
            "--no-align",
            "--tuples-only",
            "--command",
            sql,
        ])
    };
    let mut answer = (false, String::new());
    for _ in 0..60 {
        answer = query(
            "secret",
            "select current_user || ' ' || current_database() || ' ' || current_setting('max_connections') || ' ' || pg_encoding_to_char(encoding) from pg_database where datname = 'books'",
        );
        if answer.0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert!(answer.0, "{}", answer.1);
    assert_eq!(answer.1.trim(), "ibdb books 42 UTF8");
    let (ok, out) = query("wrong", "select 1");
    assert!(!ok, "a wrong password was accepted: {out}");
    assert!(out.contains("password authentication failed"), "{out}");
}

/// The tests start PostgreSQL with testcontainers-modules' `Postgres`, whose
/// `ready_conditions` (testcontainers/testcontainers-rs-modules-community,
/// src/postgres/mod.rs) wait for "database system is ready to accept
/// connections" on stderr and on stdout. The official image prints it on
/// both: docker-library/postgres docker-entrypoint.sh initialises with a
/// socket-only temporary server (`docker_temp_server_start`: `pg_ctl -w
/// start` with `listen_addresses=''`), and pg_ctl runs a server with `2>&1`
/// (postgres src/bin/pg_ctl/pg_ctl.c, `start_postmaster`), so that server's
/// log goes to stdout; after "PostgreSQL init process complete; ready for
/// start up." it `exec`s the real server, which logs to stderr. The
/// stand-in must log the same way, or the tests time out waiting.
#[test]
fn the_postgres_image_logs_readiness_like_the_official_one() {
    if !support::docker_works() {
        return;
    }
    const READY: &str = "database system is ready to accept connections";
    let (ok, id) = docker(&[
        "run",
        "--detach",
        "--env",
        "POSTGRES_PASSWORD=postgres",
        "postgres:17-trixie",
        "-c",
        "fsync=off",
    ]);
    assert!(ok, "{id}");
    let id = id.trim().to_string();
    struct Remove(String);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = docker(&["rm", "--force", "--volumes", &self.0]);
        }
    }
    let _remove = Remove(id.clone());
    let logs = || {
        let out = duct::cmd!("docker", "logs", &id)
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Bounded: 60 s, as testcontainers' default start-up time-out.
    let (mut stdout, mut stderr) = logs();
    for _ in 0..240 {
        if stderr.contains(READY) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        (stdout, stderr) = logs();
    }
    let shown = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains(READY),
        "the real server (stderr) never became ready:\n{shown}"
    );
    let temporary = stdout.find(READY);
    let complete = stdout.find("PostgreSQL init process complete; ready for start up.");
    assert!(
        temporary.is_some() && complete.is_some() && temporary < complete,
        "the temporary server's readiness goes to stdout, before the end of the set-up:\n{shown}"
    );
    assert!(
        !stdout.contains("listening on IPv4"),
        "the temporary server listens on its socket only:\n{shown}"
    );
    assert!(
        stderr.contains("listening on IPv4 address \"0.0.0.0\", port 5432"),
        "the real server listens on TCP:\n{shown}"
    );
    assert_eq!(stderr.matches(READY).count(), 1, "{shown}");
}
