//! The IBDb contract (issue 3): `solutions/06-ibdb/openapi.yaml` is a valid
//! OpenAPI document, and the running solution keeps it. schemathesis
//! generates requests from the spec the service serves and checks every
//! answer (no 5xx, status codes, content types, headers and bodies as
//! specified, invalid input rejected).
//!
//! Both tools come from PyPI (`pip install schemathesis
//! openapi-spec-validator`; CI puts a venv with them first on PATH). Without
//! them these tests print a loud SKIP, or fail when `LAB_REQUIRE_ALL=1`.
//! The contract run also needs PostgreSQL: DATABASE_URL, Docker, or a local
//! server installation, found by `cargo xtask db up` (the stage checks'
//! provisioning, see xtask/src/db.rs).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SOLUTION: &str = "solutions/06-ibdb";

fn schemathesis_works() -> bool {
    support::tool_available(
        "schemathesis",
        support::runs("st", &["--version"]),
        "pip install schemathesis",
    )
}

fn spec_validator_works() -> bool {
    support::tool_available(
        "openapi_spec_validator",
        support::runs("openapi-spec-validator", &["--version"]),
        "pip install openapi-spec-validator",
    )
}

#[test]
fn openapi_spec_is_valid() {
    if !spec_validator_works() {
        return;
    }
    let spec = support::root().join(SOLUTION).join("openapi.yaml");
    let out = duct::cmd("openapi-spec-validator", [&spec])
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()
        .expect("openapi-spec-validator runs");
    assert!(
        out.status.success(),
        "{} is not a valid OpenAPI document:\n{}",
        spec.display(),
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A database for the run from `cargo xtask db up`, with its state in a
/// folder of its own (a developer's own `db up` is left alone), removed by
/// `db down` on drop.
struct Database {
    url: String,
    state: tempfile::TempDir,
}

impl Database {
    fn up() -> Database {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(base).unwrap();
        let state = tempfile::tempdir_in(base).unwrap();
        let up = support::xtask_with_env(
            &["db", "up"],
            &[("CARGO_TARGET_DIR", state.path().to_str().unwrap())],
        );
        assert!(up.success, "cargo xtask db up:\n{}", up.stderr);
        Database {
            url: up.stdout.trim().to_string(),
            state,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let state = self.state.path().to_str().unwrap();
        let _ = support::xtask_with_env(&["db", "down"], &[("CARGO_TARGET_DIR", state)]);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// The running service, killed on drop (also when an assertion fails).
struct Service {
    child: Child,
    log: PathBuf,
}

impl Service {
    fn log(&self) -> String {
        tail(&std::fs::read_to_string(&self.log).unwrap_or_default(), 30)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `cargo build` of the solution; returns the path of its binary. Like
/// `xtask::cargo::in_stage`, it first removes the package's artifacts from
/// the target folder (never touching the sources): exercises/06-ibdb shares
/// artifact names in the shared target folder, and cargo could otherwise
/// call the starter's build "fresh" (see CONTRIBUTING.md).
/// The caller holds `support::serial()`.
fn build_solution() -> PathBuf {
    let dir = support::root().join(SOLUTION);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let _ = duct::cmd(&cargo, ["clean", "--quiet", "-p", "ibdb"])
        .dir(&dir)
        .stdout_null()
        .stderr_null()
        .unchecked()
        .run();
    // `--bins --examples`, as the stage's check builds it
    // (`xtask::cargo::build_bin`): the dependencies built with the features
    // `cargo test` enables, so the check's build, the tests' and this one
    // share them instead of compiling the tree twice.
    let out = duct::cmd(
        cargo,
        [
            "build",
            "--bins",
            "--examples",
            "--message-format=json-render-diagnostics",
            "--color=never",
        ],
    )
    .dir(&dir)
    .stdout_capture()
    .stderr_capture()
    .unchecked()
    .run()
    .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo build in {SOLUTION} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "ibdb")
        .filter_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .next_back()
        .expect("cargo built the ibdb binary")
}

/// Starts `exe` on a free port and waits (at most 60 s: start-up includes
/// the migrations) until `/readyz` answers 200.
fn start(exe: &Path, database_url: &str, logs: &Path) -> (Service, u16) {
    let port = free_port();
    let log = logs.join("ibdb.log");
    let file = std::fs::File::create(&log).unwrap();
    let child = Command::new(exe)
        .env("PORT", port.to_string())
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
    let mut service = Service { child, log };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let url = format!("http://127.0.0.1:{port}/readyz");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::from("no answer yet");
    for _ in 0..600 {
        if let Some(status) = service.child.try_wait().unwrap() {
            panic!(
                "ibdb exited ({status}) before it was ready:\n{}",
                service.log()
            );
        }
        match agent.get(&url).call() {
            Ok(response) if response.status() == 200 => return (service, port),
            Ok(response) => last = format!("status {}", response.status()),
            Err(e) => last = e.to_string(),
        }
        if Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "GET /readyz did not answer 200 within 60 s ({last}):\n{}",
        service.log()
    );
}

/// schemathesis against the running solution and the spec it serves: no
/// issues found (exit 0).
#[test]
fn solution_keeps_its_served_contract() {
    if !schemathesis_works() {
        return;
    }
    // Building takes turns with the stage checks (shared artifact names),
    // and the turn is kept so no check rebuilds the binary under us.
    let _turn = support::serial();
    let exe = build_solution();
    let work = tempfile::tempdir().unwrap();
    let db = Database::up();
    let (service, port) = start(&exe, &db.url, work.path());

    let base = format!("http://127.0.0.1:{port}");
    let spec = format!("{base}/openapi.yaml");
    let args = [
        "run",
        spec.as_str(),
        "--url",
        base.as_str(),
        "--checks",
        "all",
        // positive_data_acceptance sends inputs the schema allows and
        // expects them accepted. JSON Schema cannot express the ISBN-13
        // check digit, so a schema-valid ISBN with a wrong check digit is
        // rightly rejected with 422: that check cannot pass on a correct
        // service. Every other check runs.
        "--exclude-checks",
        "positive_data_acceptance",
        "-n",
        "30",
        // Bounds: each request, each answer (a correct service answers in
        // milliseconds; this only catches hangs on a slow machine), and
        // below the process as a whole.
        "--request-timeout",
        "20",
        "--max-response-time",
        "10",
        "--generation-database",
        "none",
        "--no-color",
    ];
    // Run in the temporary folder: schemathesis may write reports there.
    let handle = duct::cmd("st", args)
        .dir(work.path())
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .start()
        .expect("st starts");
    let limit = Duration::from_secs(15 * 60);
    let deadline = Instant::now() + limit;
    let out = loop {
        if let Some(out) = handle.try_wait().expect("waiting for st") {
            break out.clone();
        }
        if Instant::now() > deadline {
            let _ = handle.kill();
            panic!("st run did not finish within {} s", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found issues ({}):\n{report}\n--- ibdb log (last lines) ---\n{}",
        out.status,
        service.log()
    );
    eprintln!("{}", tail(&report, 15));
    drop(service);
    drop(db);
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
