//! One self-test for every stage, from what each stage declares
//! (`cargo xtask selftest`, see xtask/src/check/proof.rs): the starter
//! fails as declared, the solution passes, every declared broken copy is
//! caught with its expected message, every TODO a hint names is in the
//! starter, and the chapter, SUMMARY and README list the stage. And a new
//! stage needs nothing more than its declared places.

use crate::support;

use std::path::Path;
use std::sync::Mutex;

use support::{root, serial};

/// Runs `cargo xtask selftest ARGS` (in `kit`'s xtask when given) and
/// prints every finding that could not run where a person sees it.
fn selftest(args: &[&str]) -> support::Run {
    let _turn = serial();
    let mut all = vec!["selftest"];
    all.extend_from_slice(args);
    let run = support::xtask(&all);
    for line in run.stdout.lines().filter(|l| l.contains(" SKIPPED")) {
        support::visible(&format!("!!! {line}"));
    }
    run
}

fn failures(run: &support::Run) -> String {
    let mut out = String::new();
    let mut in_failure = false;
    for line in run.stdout.lines() {
        if line.starts_with('✗') {
            in_failure = true;
        } else if !line.starts_with("      ") {
            in_failure = false;
        }
        if in_failure || line.starts_with("selftest:") {
            out.push_str(line);
            out.push('\n');
        }
    }
    let lines: Vec<&str> = run.stderr.lines().collect();
    let tail = lines[lines.len().saturating_sub(30)..].join("\n");
    format!("{out}\nstderr (its end):\n{tail}")
}

#[test]
fn every_stage_proves_its_check() {
    let run = selftest(&[]);
    // What each run of a check cost, in CI's log too: where the suite's
    // longest test spends its time (book/src/instructors/benchmarks.md).
    let costs: Vec<&str> = run.stdout.lines().filter(|l| l.ends_with(']')).collect();
    support::visible(&format!(
        "self-test, each run's cost:\n{}",
        costs.join("\n")
    ));
    assert!(run.success, "{}", failures(&run));
    assert!(
        run.stdout.contains("selftest: ") && run.stdout.contains(", 0 failed"),
        "{}",
        run.stdout
    );
}

/// A broken expectation is a failure of the self-test: it can fail. (Stage
/// 04's proof is static: seconds, not minutes.)
#[test]
fn a_wrong_expectation_fails_the_self_test() {
    let run = edited_kit().selftest(&["04"]);
    assert!(!run.success, "{}\n{}", run.stdout, run.stderr);
    for expected in [
        "✗ 04-kubernetes: the starter fails",
        "parse was not skipped",
        "✗ 04-kubernetes: every TODO xtask/src/stages/04-kubernetes.rs names is declared",
        "TODO 9 named in xtask/src/stages/04-kubernetes.rs but not in the stage's `todos`",
        "✗ 04-kubernetes: catches: the latest tag",
        "image: expected \"uses the newest tag\" in what it saw",
        // What was not changed still holds.
        "✓ 04-kubernetes: the solution passes",
        "✓ 04-kubernetes: catches: a root user",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected}:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
}

/// A throwaway stage 09 added through the declared places only (its two
/// folders, its chapter with a SUMMARY line and a README row, one check
/// module, one line in `stages!`) is covered by the same self-test.
#[test]
fn a_new_stage_needs_only_its_declared_places() {
    let run = edited_kit().selftest(&["09"]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    for finding in [
        "✓ 09-throwaway: its chapter book/src/09-throwaway.md exists",
        "✓ 09-throwaway: book/src/SUMMARY.md lists the chapter",
        "✓ 09-throwaway: the README's stage table lists it",
        "✓ 09-throwaway: every declared TODO is in the starter",
        "✓ 09-throwaway: the starter fails",
        "✓ 09-throwaway: the solution passes",
        "✓ 09-throwaway: catches: a wrong answer",
    ] {
        assert!(run.stdout.contains(finding), "{finding}:\n{}", run.stdout);
    }
}

/// The one copy of the kit both tests above run: stage 04's expectations
/// broken, and stage 09 added. Each test's edits touch its own stage only
/// and it runs the self-test of that stage only, so one copy serves both,
/// and its xtask (the longest part of either test) is built once.
fn edited_kit() -> &'static Kit {
    static KIT: std::sync::OnceLock<Kit> = std::sync::OnceLock::new();
    KIT.get_or_init(|| {
        let kit = Kit::new();
        break_stage_04(&kit);
        add_stage_09(&kit);
        kit.ready()
    })
}

/// Three of stage 04's expectations made wrong.
fn break_stage_04(kit: &Kit) {
    let module = kit.path("xtask/src/stages/04-kubernetes.rs");
    let text = std::fs::read_to_string(&module).unwrap();
    let edits = [
        // The starter's live check is skipped, not its parse check.
        (r#"skipped: &["live"],"#, r#"skipped: &["parse"],"#),
        // A hint names a TODO the stage does not declare.
        (
            r#""fix the problems above first","#,
            r#""fix the problems above first (TODO 9)","#,
        ),
        // A broken copy is caught, but not with these words.
        (r#""uses the latest tag","#, r#""uses the newest tag","#),
    ];
    let mut edited = text.clone();
    for (from, to) in edits {
        assert!(edited.contains(from), "{from} not in 04-kubernetes.rs");
        edited = edited.replacen(from, to, 1);
    }
    std::fs::write(&module, edited).unwrap();
}

/// A throwaway stage 09, through its declared places only.
fn add_stage_09(kit: &Kit) {
    kit.write(
        "exercises/09-throwaway/Cargo.toml",
        "[package]\nname = \"throwaway\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\n",
    );
    kit.write(
        "exercises/09-throwaway/src/lib.rs",
        "/// The answer.\npub fn answer() -> u32 {\n    // TODO 1: return the answer.\n    todo!(\"TODO 1: the answer\")\n}\n\n#[test]\nfn answers_42() {\n    assert_eq!(answer(), 42);\n}\n",
    );
    kit.write(
        "solutions/09-throwaway/Cargo.toml",
        "[package]\nname = \"throwaway\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\n",
    );
    kit.write(
        "solutions/09-throwaway/src/lib.rs",
        "/// The answer.\npub fn answer() -> u32 {\n    42\n}\n\n#[test]\nfn answers_42() {\n    assert_eq!(answer(), 42);\n}\n",
    );
    kit.write("book/src/09-throwaway.md", "# 09 A throwaway stage\n");
    kit.append(
        "book/src/SUMMARY.md",
        "- [09 A throwaway stage](09-throwaway.md)\n",
    );
    let readme = std::fs::read_to_string(kit.path("README.md")).unwrap();
    std::fs::write(
        kit.path("README.md"),
        readme.replacen(
            "| `08-ship` |",
            "| `09-throwaway` | a throwaway stage | cargo |\n| `08-ship` |",
            1,
        ),
    )
    .unwrap();
    kit.write(
        "xtask/src/stages/09-throwaway.rs",
        r#"//! Stage 09: a throwaway stage, made by the kit's tests.

use crate::check::proof::{Base, Expect, Mutant, Proof, replace};
use crate::check::{Checker, Stage, Stop, build};
use crate::tools::Tool;

pub const STAGE: Stage = Stage {
    id: "09-throwaway",
    title: "A throwaway stage",
    needs: &[Tool::Cargo],
    optional: &[],
    check,
    todos: &[1],
    proof: Proof {
        starter: Expect::only(&["cargo test"]),
        solution: Expect {
            passed: &["cargo test"],
            ..Expect::NOTHING
        },
        mutants: &[Mutant {
            name: "a wrong answer",
            base: Base::Solution,
            edits: &[replace("src/lib.rs", "    42\n", "    41\n")],
            needs: &[],
            expect: Expect::only(&["cargo test"]),
        }],
    },
};

/// `cargo test` passes once `answer` is written (TODO 1).
fn check(ck: &mut Checker) -> Result<(), Stop> {
    build::cargo_test(ck)
}
"#,
    );
    let list = kit.path("xtask/src/stages/mod.rs");
    let text = std::fs::read_to_string(&list).unwrap();
    assert!(text.contains("    \"08-ship.rs\" => ship,\n"), "{text}");
    std::fs::write(
        &list,
        text.replacen(
            "    \"08-ship.rs\" => ship,\n",
            "    \"08-ship.rs\" => ship,\n    \"09-throwaway.rs\" => throwaway,\n",
            1,
        ),
    )
    .unwrap();
}

/// A copy of the kit's sources (xtask, manifests, README, the book's
/// SUMMARY, stage 04's folders and chapter), whose xtask is built under
/// another package name into the shared target folder: the compiled
/// dependencies are reused, the kit's own xtask binary is left alone.
///
/// The copy is outside the target folder: cargo records the sources of a
/// package inside it relative to the target folder, so a second package of
/// the same name (the solution after the starter) would look fresh. It is
/// removed when the test binary exits.
struct Kit {
    root: std::path::PathBuf,
}

impl Kit {
    fn new() -> Kit {
        let dir = tempfile::tempdir().unwrap();
        let kit = Kit {
            root: dir.path().join("kit"),
        };
        remove_at_exit(dir);
        for part in [
            "xtask/src",
            "xtask/loadgen",
            ".cargo",
            "exercises/04-kubernetes",
            "solutions/04-kubernetes",
        ] {
            support::copy_tree(&root().join(part), &kit.path(part));
        }
        for file in [
            "Cargo.toml",
            "Cargo.lock",
            "README.md",
            "book/src/SUMMARY.md",
            "book/src/04-kubernetes.md",
            // xtask/src/db.rs compiles the tests' local-cluster support in.
            "solutions/06-ibdb/tests/support/postgres.rs",
            "solutions/06-ibdb/tests/support/initdb.rs",
        ] {
            std::fs::create_dir_all(kit.path(file).parent().unwrap()).unwrap();
            std::fs::copy(root().join(file), kit.path(file)).unwrap();
        }
        let manifest = std::fs::read_to_string(root().join("xtask/Cargo.toml")).unwrap();
        assert!(manifest.starts_with("[package]\nname = \"xtask\"\n"));
        kit.write(
            "xtask/Cargo.toml",
            &manifest.replacen("name = \"xtask\"", "name = \"xtask-kit-copy\"", 1),
        );
        kit
    }

    fn path(&self, relative: &str) -> std::path::PathBuf {
        self.root.join(relative)
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn append(&self, relative: &str, text: &str) {
        let old = std::fs::read_to_string(self.path(relative)).unwrap();
        self.write(relative, &format!("{old}{text}"));
    }

    /// The copy, edited: its sources made newer than any build of the same
    /// package (another copy's, an earlier test run's), so that its first
    /// `selftest` builds from them and the next ones reuse that build.
    fn ready(self) -> Kit {
        touch_tree(&self.path("xtask/src"), std::time::SystemTime::now());
        self
    }

    /// `selftest ARGS` with this copy's xtask (built by the first call).
    fn selftest(&self, args: &[&str]) -> support::Run {
        let _turn = serial();
        let target = root().join("target");
        let out = duct::cmd(
            env!("CARGO"),
            [
                "run",
                "--quiet",
                "--package",
                "xtask-kit-copy",
                "--",
                "selftest",
            ]
            .iter()
            .chain(args),
        )
        .dir(&self.root)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("LAB_KIT_ROOT")
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap();
        support::Run {
            success: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Kits live in statics, which are never dropped (libtest ends with
/// `process::exit`): their folders are removed by an `atexit` handler.
fn remove_at_exit(dir: tempfile::TempDir) {
    static DIRS: Mutex<Vec<tempfile::TempDir>> = Mutex::new(Vec::new());
    DIRS.lock().unwrap_or_else(|p| p.into_inner()).push(dir);
    // Elsewhere the folders stay in the system's temporary folder.
    #[cfg(unix)]
    {
        static REGISTER: std::sync::Once = std::sync::Once::new();
        extern "C" fn remove() {
            if let Ok(mut dirs) = DIRS.lock() {
                dirs.clear();
            }
        }
        REGISTER.call_once(|| {
            // SAFETY: `remove` neither unwinds nor exits.
            unsafe { nix::libc::atexit(remove) };
        });
    }
}

fn touch_tree(path: &Path, now: std::time::SystemTime) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap().flatten() {
            touch_tree(&entry.path(), now);
        }
    } else {
        let file = std::fs::File::options().append(true).open(path).unwrap();
        file.set_modified(now).unwrap();
    }
}

/// `cargo xtask ARGS` with Docker out of reach (`DOCKER_HOST` names a
/// socket that does not exist) and `LAB_REQUIRE_*` as given.
fn without_docker(args: &[&str], require_docker: bool) -> support::Run {
    let mut cmd = duct::cmd(env!("CARGO_BIN_EXE_xtask"), args)
        .dir(root())
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env_remove("LAB_REQUIRE_ALL");
    cmd = if require_docker {
        cmd.env("LAB_REQUIRE_DOCKER", "1")
    } else {
        cmd.env_remove("LAB_REQUIRE_DOCKER")
    };
    let out = cmd
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap();
    support::Run {
        success: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Without Docker, stages 02 and 03 still check their Dockerfiles: the
/// static failures are reported with their lines, the build and the run are
/// skipped with the reason, `LAB_REQUIRE_DOCKER=1` turns that skip into a
/// failure, and the self-test proves the static mutants and skips the rest.
#[test]
fn without_docker_the_dockerfile_is_still_checked() {
    let _turn = serial();
    // Stage 02's CMD kept after COPY --from, and a root user.
    let copy = support::StageCopy::new("solutions/03-multi-stage");
    copy.replace(
        "Dockerfile",
        "\nENTRYPOINT [\"/usr/local/bin/health\"]",
        "\nCMD [\"/app/target/release/health\"]",
    );
    copy.replace("Dockerfile", "\nUSER 65532:65532", "\nUSER root");
    let run = without_docker(&["verify", "--json", "03", "--dir", copy.path_str()], false);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let path = run.check("binary path").expect("binary path ran");
    assert_eq!(path["status"], "failed", "{path}");
    assert!(
        path["seen"]
            .as_str()
            .unwrap()
            .contains("CMD runs /app/target/release/health"),
        "{path}"
    );
    let user = run.check("USER").expect("USER ran");
    assert_eq!(user["status"], "failed");
    assert!(user["message"].as_str().unwrap().contains("runs as root"));
    let build = run.check("docker build").expect("docker build reported");
    assert_eq!(build["status"], "skipped", "{build}");
    assert!(
        build["message"]
            .as_str()
            .unwrap()
            .contains("the image is not built or run"),
        "{build}"
    );
    // The summary names every failed step.
    // (hadolint, where installed, also finds the root user.)
    assert!(
        run.stderr.contains(" steps: ") && run.stderr.contains("binary path, USER; first: "),
        "{}",
        run.stderr
    );

    // The solution: its Dockerfile passes, the stage is skipped, not passed.
    let run = without_docker(&["verify", "--json", "--solutions", "02"], false);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stage_status("02-dockerfile"), "skipped");
    assert_eq!(run.check("pinned base").unwrap()["status"], "passed");
    assert_eq!(run.check("docker build").unwrap()["status"], "skipped");
    let run = without_docker(&["verify", "--json", "--solutions", "02"], true);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(run.check("docker build").unwrap()["status"], "failed");

    // Docker is out of reach on purpose here: the build-and-run mutants are
    // skipped by design, the static ones must be caught.
    let run = without_docker(&["selftest", "02", "03"], false);
    assert!(run.success, "{}", failures(&run));
    for caught in [
        "✓ 02-dockerfile: catches: the latest tag",
        "✓ 02-dockerfile: catches: a shell-form CMD",
        "✓ 03-multi-stage: catches: USER root: runs as root, not a name",
        "✓ 03-multi-stage: catches: stage 02's CMD kept after COPY --from (TODO 4 followed literally)",
        "✓ 03-multi-stage: catches: no .dockerignore",
        "⊘ 03-multi-stage: the solution passes SKIPPED",
    ] {
        assert!(run.stdout.contains(caught), "{caught}:\n{}", run.stdout);
    }
}
