//! `cargo xtask class grade` over a class of three trainee clones (git
//! repositories) holding stages 01 and 04 (the cheap ones): one solved,
//! one untouched, one half done. The matrix on the terminal, in JSON, CSV
//! and in the HTML page as headless Chromium renders it; a second run
//! checks only the clone whose commit changed; without Docker the command
//! refuses unless `--unsandboxed`; with Docker each trainee runs in a
//! container that cannot write into its clone or reach the network.

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use support::{copy_tree, root, serial};

struct Class {
    _dir: tempfile::TempDir,
    path: PathBuf,
    out: PathBuf,
}

fn git(dir: &Path, args: &[&str]) {
    let out = duct::cmd("git", args)
        .dir(dir)
        .env("GIT_AUTHOR_NAME", "trainee")
        .env("GIT_AUTHOR_EMAIL", "trainee@example.com")
        .env("GIT_COMMITTER_NAME", "trainee")
        .env("GIT_COMMITTER_EMAIL", "trainee@example.com")
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

impl Class {
    /// solved: both solutions; untouched: both starters; half: 01 solved.
    fn new() -> Class {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(base).unwrap();
        let dir = tempfile::tempdir_in(base).unwrap();
        let class = Class {
            path: dir.path().join("class"),
            out: dir.path().join("report"),
            _dir: dir,
        };
        for (trainee, from01, from04) in [
            ("solved", "solutions", "solutions"),
            ("untouched", "exercises", "exercises"),
            ("half", "solutions", "exercises"),
        ] {
            class.add(trainee, from01, from04);
        }
        class
    }

    fn add(&self, trainee: &str, from01: &str, from04: &str) -> PathBuf {
        let clone = self.path.join(trainee);
        for (from, stage) in [(from01, "01-health"), (from04, "04-kubernetes")] {
            copy_tree(
                &root().join(from).join(stage),
                &clone.join("exercises").join(stage),
            );
        }
        // As in a real clone of the kit: its cargo settings (dependencies
        // without debug information) are those the sandbox's warm folder
        // and the kit's target folder were built with. Without them every
        // trainee's build compiled all its dependencies again.
        std::fs::create_dir_all(clone.join(".cargo")).unwrap();
        std::fs::copy(
            root().join(".cargo/config.toml"),
            clone.join(".cargo/config.toml"),
        )
        .unwrap();
        git(&clone, &["init", "--quiet"]);
        git(&clone, &["add", "--all"]);
        git(&clone, &["commit", "--quiet", "--message", "my work"]);
        clone
    }

    fn args<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
            "class",
            "grade",
            self.path.to_str().unwrap(),
            "01",
            "04",
            "--out",
            self.out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args
    }

    fn grade(&self, extra: &[&str], env: &[(&str, &str)]) -> support::Run {
        support::xtask_with_env(&self.args(extra), env)
    }

    /// `grade` with the sandbox, and the time it took once the sandbox was
    /// warm. On a cold kit the first sandboxed grade compiles the stages'
    /// dependencies once in a container (its own limit, `WARM_LIMIT` in
    /// xtask/src/class/sandbox.rs): that is not the trainee's time, and
    /// whether this test or `with_docker_each_trainee_runs_in_a_sandbox`
    /// pays it depends only on which runs first.
    fn grade_after_warm(&self, extra: &[&str]) -> (support::Run, std::time::Duration) {
        let warm = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join("target"))
            .join("class/sandbox/warm-01-04/.warm");
        let handle = duct::cmd(env!("CARGO_BIN_EXE_xtask"), self.args(extra))
            .dir(root())
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .start()
            .expect("the xtask binary runs");
        let mut warm_at = None;
        let out = loop {
            if warm_at.is_none() && warm.is_file() {
                warm_at = Some(std::time::Instant::now());
            }
            if let Some(out) = handle.try_wait().expect("the xtask binary runs") {
                break out.clone();
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        let run = support::Run {
            success: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        let warm_at = warm_at.unwrap_or_else(|| {
            panic!(
                "{} was never written: the sandbox did not warm up\n{}\n{}",
                warm.display(),
                run.stdout,
                run.stderr
            )
        });
        (run, warm_at.elapsed())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.out.join("class.json")).unwrap())
            .unwrap()
    }
}

/// trainee -> stage -> status, from class.json.
fn matrix(report: &serde_json::Value) -> BTreeMap<String, BTreeMap<String, String>> {
    report["trainees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let cells = row["stages"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(stage, cell)| (stage.clone(), cell["status"].as_str().unwrap().to_string()))
                .collect();
            (row["trainee"].as_str().unwrap().to_string(), cells)
        })
        .collect()
}

fn expected(rows: &[(&str, &str, &str)]) -> BTreeMap<String, BTreeMap<String, String>> {
    rows.iter()
        .map(|(trainee, s01, s04)| {
            (
                trainee.to_string(),
                [("01-health", s01), ("04-kubernetes", s04)]
                    .iter()
                    .map(|(stage, status)| (stage.to_string(), status.to_string()))
                    .collect(),
            )
        })
        .collect()
}

fn the_three() -> BTreeMap<String, BTreeMap<String, String>> {
    expected(&[
        ("half", "passed", "failed"),
        ("solved", "passed", "passed"),
        ("untouched", "failed", "failed"),
    ])
}

#[test]
fn without_docker_it_refuses_unless_unsandboxed() {
    let class = Class::new();
    // The docker CLI honours DOCKER_HOST: an engine that is not there.
    let run = class.grade(&[], &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.contains("Docker is not usable here"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--unsandboxed"), "{}", run.stderr);
    assert!(!class.out.join("class.json").exists());
}

/// Unsandboxed (one trainee at a time in the kit's target folder): the
/// matrix in every format, the HTML in Chromium, and the cache by commit.
#[test]
fn a_class_of_three_gets_its_matrix_and_a_regrade_checks_only_new_commits() {
    let _turn = serial();
    let class = Class::new();
    let run = class.grade(&["--unsandboxed"], &[]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(matrix(&class.json()), the_three(), "{}", run.stdout);
    // The terminal matrix: a row per trainee, a column per stage.
    for line in ["half     ✓   ✗", "solved   ✓   ✓", "untouched  ✗   ✗"] {
        let squeezed: String = run.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
        let want: String = line.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(squeezed.contains(&want), "{want:?} in:\n{}", run.stdout);
    }
    assert!(run.stdout.contains("First failing check"), "{}", run.stdout);
    assert!(
        run.stdout.contains("half 04-kubernetes: "),
        "{}",
        run.stdout
    );
    let csv = std::fs::read_to_string(class.out.join("class.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "trainee,01-health,04-kubernetes,commit,cached,seconds,error"
    );
    assert!(lines[1].starts_with("half,passed,failed,"), "{csv}");
    assert!(lines[2].starts_with("solved,passed,passed,"), "{csv}");
    assert!(lines[3].starts_with("untouched,failed,failed,"), "{csv}");
    html_in_chromium(&class.out.join("class.html"), &the_three());

    // Nothing changed: nobody is checked again.
    let again = class.grade(&["--unsandboxed"], &[]);
    assert!(again.success, "{}\n{}", again.stdout, again.stderr);
    let report = class.json();
    assert!(
        report["trainees"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["cached"] == true),
        "{}",
        again.stdout
    );
    assert_eq!(matrix(&report), the_three());

    // half commits stage 04: only half is checked, and now passes.
    let half = class.path.join("half");
    copy_tree(
        &root().join("solutions/04-kubernetes/k8s"),
        &half.join("exercises/04-kubernetes/k8s"),
    );
    git(
        &half,
        &["commit", "--quiet", "--all", "--message", "stage 04"],
    );
    let third = class.grade(&["--unsandboxed"], &[]);
    assert!(third.success, "{}\n{}", third.stdout, third.stderr);
    let report = class.json();
    let cached: BTreeMap<String, bool> = report["trainees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["trainee"].as_str().unwrap().to_string(),
                r["cached"] == true,
            )
        })
        .collect();
    assert_eq!(
        cached,
        [("half", false), ("solved", true), ("untouched", true)]
            .iter()
            .map(|(t, c)| (t.to_string(), *c))
            .collect(),
        "{}",
        third.stdout
    );
    assert_eq!(
        matrix(&report),
        expected(&[
            ("half", "passed", "passed"),
            ("solved", "passed", "passed"),
            ("untouched", "failed", "failed"),
        ])
    );
}

/// Renders the page in headless Chromium: a screenshot is taken, and the
/// matrix read back from the rendered DOM equals the report's.
fn html_in_chromium(page: &Path, want: &BTreeMap<String, BTreeMap<String, String>>) {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find(|name| support::runs("which", &[name]));
    if !support::tool_available(
        "chromium",
        chromium.is_some(),
        "sudo apt-get install -y chromium (Debian/Ubuntu)",
    ) {
        return;
    }
    let chromium = *chromium.unwrap();
    let profile = tempfile::tempdir().unwrap();
    let shot = page.with_file_name("class.png");
    let url = format!("file://{}", page.display());
    let common = [
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--no-first-run".into(),
        "--disable-dev-shm-usage".into(),
        format!("--user-data-dir={}", profile.path().display()),
    ];
    let mut args: Vec<String> = common.to_vec();
    args.push(format!("--screenshot={}", shot.display()));
    args.push("--window-size=1000,600".into());
    args.push(url.clone());
    let out = duct::cmd(chromium, &args)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 5000,
        "screenshot {}",
        shot.display()
    );

    let mut args: Vec<String> = common.to_vec();
    args.push("--dump-dom".into());
    args.push(url);
    let dom = duct::cmd(chromium, &args).stderr_null().read().unwrap();
    let mut seen: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for cell in dom.split("<td ").skip(1) {
        let attr = |name: &str| {
            let start = cell.find(&format!("{name}=\""))? + name.len() + 2;
            Some(cell[start..start + cell[start..].find('"')?].to_string())
        };
        if let (Some(trainee), Some(stage), Some(status)) = (
            attr("data-trainee"),
            attr("data-stage"),
            attr("data-status"),
        ) {
            seen.entry(trainee).or_default().insert(stage, status);
        }
    }
    assert_eq!(&seen, want, "the matrix Chromium rendered:\n{dom}");
    assert!(dom.contains("<table id=\"matrix\">"), "{dom}");
}

/// The sandboxed tests take turns with each other only: they share the warm
/// build folder (target/class/sandbox/warm-*), but every build runs in a
/// container into a folder of its own, never the shared target folder the
/// host checks take turns on (`support::serial`). So their minutes of
/// compiling overlap the host checks' waits on Docker instead of adding to
/// them (CI's test step, CONTRIBUTING.md).
fn sandbox_turn() -> std::sync::MutexGuard<'static, ()> {
    static SANDBOX: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SANDBOX.lock().unwrap_or_else(|p| p.into_inner())
}

/// With Docker: the same matrix, each trainee in a container; a trainee
/// whose build script tries to write into its clone and reach the network
/// does neither, and no container is left.
#[test]
fn with_docker_each_trainee_runs_in_a_sandbox() {
    if !support::docker_works() {
        return;
    }
    let image_there = support::runs("docker", &["image", "inspect", "rust:1.95-slim-trixie"]);
    if !support::tool_available(
        "docker",
        image_there,
        "the rust:1.95-slim-trixie image is missing: cargo xtask docker standins",
    ) {
        return;
    }
    let _turn = sandbox_turn();
    let class = Class::new();
    let sneaky = class.add("sneaky", "solutions", "solutions");
    std::fs::write(
        sneaky.join("exercises/01-health/build.rs"),
        r#"fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let wrote = std::fs::write(format!("{dir}/escaped"), "out").is_ok();
    let addr = "1.1.1.1:80".parse().unwrap();
    let reached = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3)).is_ok();
    assert!(!wrote && !reached, "the sandbox leaked: wrote {wrote}, reached the network {reached}");
}
"#,
    )
    .unwrap();
    git(&sneaky, &["add", "--all"]);
    git(&sneaky, &["commit", "--quiet", "--message", "build script"]);

    let run = class.grade(&["--jobs", "2"], &[]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("sandbox: docker"), "{}", run.stdout);
    let mut want = the_three();
    want.insert(
        "sneaky".into(),
        [("01-health", "passed"), ("04-kubernetes", "passed")]
            .iter()
            .map(|(s, v)| (s.to_string(), v.to_string()))
            .collect(),
    );
    assert_eq!(matrix(&class.json()), want, "{}", run.stdout);
    assert!(!sneaky.join("exercises/01-health/escaped").exists());
    // The reports come from inside the container; the matrix names the
    // instructor's paths.
    let log = std::fs::read_to_string(class.out.join("logs/solved.json")).unwrap();
    assert!(log.contains("/class/trainee/exercises"), "{log}");
    let half = &class.json()["trainees"][0];
    assert_eq!(half["trainee"], "half");
    let message = half["stages"]["04-kubernetes"]["message"].as_str().unwrap();
    let host = class
        .path
        .join("half/exercises/04-kubernetes/k8s/deployment.yaml");
    assert!(message.contains(host.to_str().unwrap()), "{message}");
    let left = duct::cmd!(
        "docker",
        "ps",
        "--all",
        "--quiet",
        "--filter",
        "label=dev.microservices-lab.class"
    )
    .read()
    .unwrap();
    assert_eq!(left.trim(), "", "containers left behind");
}

/// With Docker: a trainee whose build never ends is stopped at the time
/// limit, shown as not graded (exit status 1), and its container removed.
#[test]
fn with_docker_a_trainee_past_the_time_limit_is_stopped() {
    if !support::docker_works() {
        return;
    }
    let image_there = support::runs("docker", &["image", "inspect", "rust:1.95-slim-trixie"]);
    if !support::tool_available(
        "docker",
        image_there,
        "the rust:1.95-slim-trixie image is missing: cargo xtask docker standins",
    ) {
        return;
    }
    let _turn = sandbox_turn();
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tempfile::tempdir_in(base).unwrap();
    let class = Class {
        path: dir.path().join("class"),
        out: dir.path().join("report"),
        _dir: dir,
    };
    let slow = class.add("slow", "solutions", "solutions");
    std::fs::write(
        slow.join("exercises/01-health/build.rs"),
        support::fake::SLOW_BUILD,
    )
    .unwrap();
    let (run, after_warm) = class.grade_after_warm(&["--timeout", "20"]);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(after_warm.as_secs() < 120, "{after_warm:?}");
    let row = &class.json()["trainees"][0];
    let error = row["error"].as_str().unwrap_or_default();
    assert!(error.contains("still running after 20 s"), "{row}");
    assert!(
        run.stdout.contains("Could not grade: slow"),
        "{}",
        run.stdout
    );
    let left = duct::cmd!(
        "docker",
        "ps",
        "--all",
        "--quiet",
        "--filter",
        "label=dev.microservices-lab.class"
    )
    .read()
    .unwrap();
    assert_eq!(left.trim(), "", "containers left behind");
}
