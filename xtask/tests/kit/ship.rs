//! Stage 08 (IBDb shipped with Helm and Skaffold): the kit's own chart and
//! skaffold.yaml through the trainee's checks, the live part against fake
//! `skaffold`, `kubectl` and `docker` (with a real helm for the static
//! part), and the upstream rules the check encodes. The static checks are
//! proved with the stage's declared broken copies (stages.rs).

use std::path::PathBuf;

use crate::fakes::Fakes;
use crate::support;

/// The folder of a working helm (PATH, or `cargo xtask tools helm`'s).
fn helm_dir() -> Option<PathBuf> {
    let local = support::root().join("target/tools/bin/helm");
    let found = [which_helm(), Some(local)]
        .into_iter()
        .flatten()
        .find(|helm| {
            duct::cmd(helm, ["version", "--short"])
                .stdout_null()
                .stderr_null()
                .unchecked()
                .run()
                .is_ok_and(|o| o.status.success())
        });
    let works = found.is_some();
    if support::tool_available("helm", works, "cargo xtask tools helm") {
        found.and_then(|h| h.parent().map(PathBuf::from))
    } else {
        None
    }
}

fn which_helm() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("helm"))
            .find(|p| p.is_file())
    })
}

/// `verify --json --solutions 08` with the fakes first on PATH, then helm.
fn verify_live(fakes: &Fakes, helm: &std::path::Path) -> support::Run {
    let path = format!("{}:{}", fakes.bin().display(), helm.display());
    let state = fakes.state();
    support::xtask_with_env(
        &["verify", "--json", "--solutions", "08"],
        &[
            ("PATH", path.as_str()),
            ("FAKE_STATE", state.to_str().unwrap()),
            ("LAB_REQUIRE_CLUSTER", "0"),
        ],
    )
}

#[test]
fn the_kits_own_chart_and_skaffold_yaml_pass_the_trainees_checks() {
    // The repository root is laid out like a stage 08 folder: helm/ibdb
    // (generated from the solution's chart) and skaffold.yaml (building
    // exercises/06-ibdb, with profiles and a namespace hook of its own).
    let Some(helm) = helm_dir() else { return };
    let path = format!(
        "{}:{}",
        helm.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let root = support::root();
    // About the static checks: the live part needs skaffold and a cluster,
    // which no test machine has (the fake-tool tests below prove it), so
    // their skip must stay a skip even under CI's LAB_REQUIRE_ALL=1.
    let run = support::xtask_with_env(
        &["verify", "--json", "08", "--dir", root.to_str().unwrap()],
        &[
            ("PATH", path.as_str()),
            ("LAB_REQUIRE_CLUSTER", "0"),
            ("LAB_REQUIRE_SKAFFOLD", "0"),
        ],
    );
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    for check in [
        "skaffold schema",
        "helm lint",
        "values schema",
        "chart security",
        "chart database",
        "skaffold",
    ] {
        let found = run
            .check(check)
            .unwrap_or_else(|| panic!("no {check} check"));
        assert_eq!(found["status"], "passed", "{found}");
    }
}

#[test]
fn on_a_cluster_skaffold_runs_forwards_answers_and_is_cleaned_up() {
    let Some(helm) = helm_dir() else { return };
    let fakes = Fakes::with(&["kubectl", "docker", "skaffold"]);
    fakes.set("cluster", "");
    let run = verify_live(&fakes, &helm);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let live = run.check("live").expect("the live check is reported");
    assert_eq!(live["status"], "passed", "{live}");
    let message = live["message"].as_str().unwrap();
    assert!(
        message.contains("GET / and GET /readyz through 127.0.0.1:")
            && message.contains("skaffold delete cleaned up"),
        "{message}"
    );
    let calls = fakes.calls();
    let skaffold: Vec<&String> = calls
        .iter()
        .filter(|c| c.starts_with("skaffold ") && !c.contains("version"))
        .collect();
    assert_eq!(
        skaffold,
        [
            "skaffold run --port-forward=user --tail=false",
            "skaffold delete"
        ],
        "{calls:?}"
    );
    assert!(!fakes.has("release"), "skaffold delete was not run");
}

#[test]
fn a_service_without_its_database_fails_live_and_is_still_cleaned_up() {
    let Some(helm) = helm_dir() else { return };
    let fakes = Fakes::with(&["kubectl", "docker", "skaffold"]);
    fakes.set("cluster", "");
    fakes.set("not-ready", "");
    let run = verify_live(&fakes, &helm);
    assert!(!run.success);
    let live = run.check("live").expect("the live check is reported");
    assert_eq!(live["status"], "failed", "{live}");
    let seen = live["seen"].as_str().unwrap();
    assert!(
        seen.contains("GET /readyz through skaffold's port-forward")
            && seen.contains("503")
            && seen.contains("key uri"),
        "{seen}"
    );
    assert!(
        !fakes.has("release"),
        "skaffold delete was not run after the failure"
    );
}

#[test]
fn skaffold_that_forwards_nothing_is_a_failure_that_says_so() {
    // Seconds, not the real limit: the fake ends after 30 s without a forward.
    let Some(helm) = helm_dir() else { return };
    let fakes = Fakes::with(&["kubectl", "docker", "skaffold"]);
    fakes.set("cluster", "");
    fakes.set("no-forward", "");
    let run = verify_live(&fakes, &helm);
    assert!(!run.success);
    let live = run.check("live").expect("the live check is reported");
    assert!(
        live["seen"]
            .as_str()
            .unwrap()
            .contains("ended (exit status 0) before forwarding a port")
            || live["seen"]
                .as_str()
                .unwrap()
                .contains("before forwarding a port"),
        "{live}"
    );
    assert!(!fakes.has("release"));
}

#[test]
fn without_a_cluster_the_live_part_is_skipped_with_the_reason() {
    let Some(helm) = helm_dir() else { return };
    let fakes = Fakes::with(&["kubectl", "docker", "skaffold"]);
    let run = verify_live(&fakes, &helm);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let live = run.check("live").expect("the live check is reported");
    assert_eq!(live["status"], "skipped", "{live}");
    assert!(
        live["message"]
            .as_str()
            .unwrap()
            .contains("no cluster is reachable"),
        "{live}"
    );
    assert!(!fakes.calls().iter().any(|c| c.starts_with("skaffold run")));
}

#[test]
fn helm_refuses_values_against_the_schema_with_the_words_the_check_looks_for() {
    // helm/helm pkg/chart/common/util/values.go: "values don't meet the
    // specifications of the schema(s) in the following chart(s)"; the
    // check tells a refusal by the schema from any other failure by them.
    let Some(helm) = helm_dir() else { return };
    let out = duct::cmd(
        helm.join("helm"),
        ["template", "ibdb", "helm/ibdb", "--set", "image.tag=latest"],
    )
    .dir(support::root())
    .stdout_capture()
    .stderr_capture()
    .unchecked()
    .run()
    .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("values don't meet the specifications of the schema"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn helm_lint_strict_fails_on_a_warning() {
    // helm/helm pkg/action/lint.go: with Strict the lowest tolerance is
    // WarningSev, so a warning fails `helm lint --strict` and not `helm
    // lint`. A chart without a templates folder gets one.
    let Some(helm) = helm_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("c");
    std::fs::create_dir_all(&chart).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: c\nversion: 0.1.0\nappVersion: \"1\"\n",
    )
    .unwrap();
    let lint = |strict: bool| {
        let mut args = vec!["lint", chart.to_str().unwrap()];
        if strict {
            args.push("--strict");
        }
        duct::cmd(helm.join("helm"), args)
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .unwrap()
    };
    let plain = lint(false);
    let strict = lint(true);
    let text = String::from_utf8_lossy(&strict.stdout).into_owned();
    // pkg/chart/v2/lint/rules/template.go: templatesDirExists at WarningSev.
    assert!(
        text.contains("[WARNING] templates/: directory does not exist"),
        "{text}"
    );
    assert!(plain.status.success(), "{text}");
    assert!(!strict.status.success(), "{text}");
}

#[test]
fn the_kits_skaffold_yaml_and_the_solution_build_the_same_image_with_the_same_names() {
    // One image name, and the template variables skaffold derives from it
    // (pkg/skaffold/util/util.go SanitizeHelmTemplateValue).
    let kit = std::fs::read_to_string(support::root().join("skaffold.yaml")).unwrap();
    let stage =
        std::fs::read_to_string(support::root().join("solutions/08-ship/skaffold.yaml")).unwrap();
    for text in [&kit, &stage] {
        assert!(text.contains("- image: localhost:5005/ibdb"));
        assert!(text.contains(
            "image.tag: \"{{.IMAGE_TAG_localhost_5005_ibdb}}@{{.IMAGE_DIGEST_localhost_5005_ibdb}}\""
        ));
        assert!(text.contains("apiVersion: skaffold/v4beta14"));
    }
}
