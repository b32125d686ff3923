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
