//! Stage 04's static check fails on the starter, passes on the solution, and
//! catches each way a copy of the solution's manifests can be broken, with
//! the file, the line and what to do. Its live part runs against fake
//! `docker` and `kubectl` (no cluster can run where the kit is tested).

mod fakes;
mod support;

use fakes::Fakes;
use support::{StageCopy, verify};

#[test]
fn starter_fails_with_the_open_todos() {
    let run = verify(&["04"]);
    assert!(!run.success, "{}", run.stderr);
    assert_eq!(run.stage_status("04-kubernetes"), "failed");
    let failed: Vec<String> = run
        .checks()
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| c["check"].as_str().unwrap().to_string())
        .collect();
    for expected in [
        "replicas",
        "image",
        "probes",
        "resources",
        "security",
        "service",
        "targetPort",
        "port",
        "config",
    ] {
        assert!(
            failed.iter().any(|f| f == expected),
            "{expected} not failed: {failed:?}"
        );
    }
    let live = run.check("live").expect("the live check is reported");
    assert_eq!(live["status"], "skipped");
}

#[test]
fn solution_passes_the_static_checks() {
    let run = verify(&["--solutions", "04"]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    for check in run.checks() {
        if check["check"] == "live" {
            // No cluster can run where the kit is tested: skipped, never passed by default.
            assert_ne!(check["status"], "failed", "{check}");
        } else {
            assert_eq!(check["status"], "passed", "{check}");
        }
    }
    for name in [
        "parse",
        "names",
        "selector",
        "image",
        "values",
        "ports",
        "probes",
        "resources",
        "security",
        "config",
        "service",
        "targetPort",
        "replicas",
        "port",
    ] {
        assert!(run.check(name).is_some(), "no {name} check");
    }
}

/// The 1-based line of the first line containing `needle` in the solution's file.
fn line_of(file: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(support::root().join("solutions/04-kubernetes").join(file))
        .unwrap();
    // Not in a comment: the solution also holds the starter's lines, as
    // `# ANCHOR: starter| ...` comments (CONTRIBUTING.md).
    text.lines()
        .position(|l| l.contains(needle) && !l.trim_start().starts_with('#'))
        .unwrap()
        + 1
}

/// Copies the solution, applies one mutation, checks it: the failed checks
/// and the `seen` text of each.
fn mutant(file: &str, from: &str, to: &str) -> Vec<(String, String)> {
    let copy = StageCopy::new("solutions/04-kubernetes");
    copy.replace(file, from, to);
    let run = verify(&["--dir", copy.path_str()]);
    assert!(!run.success, "the mutant passed:\n{}", run.stderr);
    run.checks()
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| {
            (
                c["check"].as_str().unwrap().to_string(),
                c["seen"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn only(failed: &[(String, String)], check: &str) -> String {
    let names: Vec<&str> = failed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, [check], "{failed:#?}");
    failed[0].1.clone()
}

#[test]
fn a_selector_that_misses_the_pod_labels_fails_the_selector_check() {
    let failed = mutant(
        "k8s/deployment.yaml",
        "    matchLabels:\n      app.kubernetes.io/name: health",
        "    matchLabels:\n      app.kubernetes.io/name: helth",
    );
    let seen = only(&failed, "selector");
    let line = line_of("k8s/deployment.yaml", "matchLabels:") + 1;
    assert!(
        seen.contains(&format!("k8s/deployment.yaml:{line}:")),
        "{seen}"
    );
    assert!(
        seen.contains("the selector app.kubernetes.io/name=helth does not match the pod template's labels (app.kubernetes.io/name=health)"),
        "{seen}"
    );
}

#[test]
fn a_target_port_no_container_has_fails_the_target_port_check() {
    let failed = mutant("k8s/service.yaml", "targetPort: http", "targetPort: 8080");
    let seen = only(&failed, "targetPort");
    let line = line_of("k8s/service.yaml", "targetPort:");
    assert!(
        seen.contains(&format!("k8s/service.yaml:{line}:")),
        "{seen}"
    );
    assert!(
        seen.contains("port 8000 (http) sends traffic to targetPort 8080, but the selected pods have no such container port (they have http=8000)"),
        "{seen}"
    );
}

#[test]
fn a_misspelled_field_is_reported_with_path_line_and_suggestion() {
    let copy = StageCopy::new("solutions/04-kubernetes");
    copy.replace(
        "k8s/deployment.yaml",
        "imagePullPolicy:",
        "imagePullPolice:",
    );
    let run = verify(&["--dir", copy.path_str()]);
    assert!(!run.success);
    let parse = run.check("parse").unwrap();
    assert_eq!(parse["status"], "failed", "{parse}");
    let line = line_of("k8s/deployment.yaml", "imagePullPolicy:");
    let seen = parse["seen"].as_str().unwrap();
    assert!(
        seen.contains(&format!(
            "k8s/deployment.yaml:{line}: Deployment/health: unknown field imagePullPolice at spec.template.spec.containers[0].imagePullPolice"
        )),
        "{seen}"
    );
    assert!(
        parse["hint"]
            .as_str()
            .unwrap()
            .contains("did you mean imagePullPolicy?"),
        "{parse}"
    );
    let failed: Vec<_> = run
        .checks()
        .into_iter()
        .filter(|c| c["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "only the parse check fails: {failed:#?}");
}

#[test]
fn the_latest_tag_fails_the_image_check() {
    let failed = mutant("k8s/deployment.yaml", "health:0.1.0", "health:latest");
    let seen = only(&failed, "image");
    let line = line_of("k8s/deployment.yaml", "image: registry.localhost");
    assert!(
        seen.contains(&format!("k8s/deployment.yaml:{line}:")),
        "{seen}"
    );
    assert!(seen.contains("uses the latest tag"), "{seen}");
}

#[test]
fn a_root_user_fails_the_security_check() {
    let failed = mutant("k8s/deployment.yaml", "runAsUser: 65532", "runAsUser: 0");
    let seen = only(&failed, "security");
    let line = line_of("k8s/deployment.yaml", "runAsUser:");
    assert!(
        seen.contains(&format!("k8s/deployment.yaml:{line}: Deployment/health: container health runs as root (runAsUser: 0)")),
        "{seen}"
    );
}

#[test]
fn a_wrong_type_is_reported_with_its_line() {
    let copy = StageCopy::new("solutions/04-kubernetes");
    copy.replace("k8s/deployment.yaml", "replicas: 3", "replicas: three");
    let run = verify(&["--dir", copy.path_str()]);
    assert!(!run.success);
    let kinds = run.check("kinds").unwrap();
    assert_eq!(kinds["status"], "failed", "{kinds}");
    let line = line_of("k8s/deployment.yaml", "replicas:");
    let parse = run.check("parse").unwrap();
    let seen = parse["seen"].as_str().unwrap();
    assert!(
        seen.contains(&format!("deployment.yaml:{line}: Deployment/health does not fit the Deployment schema: spec.replicas: invalid type: string \"three\", expected i32")),
        "{seen}"
    );
}

#[test]
fn a_service_selecting_nothing_fails_the_service_check() {
    let failed = mutant(
        "k8s/service.yaml",
        "  selector:\n    app.kubernetes.io/name: health",
        "  selector:\n    app: health",
    );
    let seen = only(&failed, "service");
    assert!(
        seen.contains("the selector app=health matches the pods of no Deployment in these files (health has app.kubernetes.io/name=health)"),
        "{seen}"
    );
}

// ---- The live part, against fake docker and kubectl ----------------------

/// `verify --json --solutions 04` with only the fakes on PATH.
fn verify_live(fakes: &Fakes, require_cluster: bool) -> support::Run {
    let path = fakes.bin();
    let state = fakes.state();
    support::xtask_with_env(
        &["verify", "--json", "--solutions", "04"],
        &[
            ("PATH", path.to_str().unwrap()),
            ("FAKE_STATE", state.to_str().unwrap()),
            (
                "LAB_REQUIRE_CLUSTER",
                if require_cluster { "1" } else { "0" },
            ),
        ],
    )
}

fn live_seen(run: &support::Run) -> String {
    let live = run.check("live").expect("the live check is reported");
    assert_eq!(live["status"], "failed", "{live}");
    format!("{} | {}", live["seen"], live["hint"])
}

#[test]
fn on_a_cluster_the_live_check_builds_pushes_applies_and_asks_the_service() {
    let fakes = Fakes::new();
    fakes.set("cluster", "");
    let run = verify_live(&fakes, false);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let live = run.check("live").expect("the live check is reported");
    assert_eq!(live["status"], "passed", "{live}");
    // The tools' progress goes to stderr; stdout holds only the report.
    assert!(
        run.stderr
            .contains("naming to localhost:5005/health:0.1.0 done"),
        "{}",
        run.stderr
    );
    let dir = support::root().join("solutions/04-kubernetes");
    // Pushed through the registry's host port as localhost:5005/...; the
    // manifests name registry.localhost:5005/..., which the nodes pull through
    // the mirror k3d writes for its registry (k3d-io/k3d
    // pkg/client/registry.go, RegistryGenerateK3sConfig).
    let image = "localhost:5005/health:0.1.0";
    let calls: Vec<String> = fakes
        .calls()
        .into_iter()
        .filter(|c| !c.contains("version"))
        .collect();
    let forward = calls.last().expect("a port-forward").clone();
    assert_eq!(
        calls,
        [
            "kubectl cluster-info --request-timeout=5s".to_string(),
            format!("docker build --tag {image} {}", dir.display()),
            format!("docker push {image}"),
            format!("kubectl apply --filename {}", dir.join("k8s").display()),
            "kubectl rollout status deployment/health --timeout=300s".into(),
            "kubectl get deployment health --output jsonpath={.status.readyReplicas}".into(),
            forward.clone(),
        ]
    );
    assert!(
        forward.starts_with("kubectl port-forward svc/health ") && forward.ends_with(":8000"),
        "{forward}"
    );
}

#[test]
fn without_a_cluster_the_live_check_is_skipped_unless_one_is_required() {
    let fakes = Fakes::new();
    let run = verify_live(&fakes, false);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let live = run.check("live").expect("the live check is reported");
    assert_eq!(live["status"], "skipped", "{live}");
    assert!(
        live.to_string().contains("cargo xtask cluster create"),
        "{live}"
    );
    assert!(
        !fakes.calls().iter().any(|c| c.starts_with("docker build")),
        "{:?}",
        fakes.calls()
    );

    let run = verify_live(&fakes, true);
    assert!(!run.success, "{}", run.stdout);
    assert!(live_seen(&run).contains("refused"), "{}", run.stdout);
}

#[test]
fn too_few_ready_replicas_fail_the_live_check() {
    let fakes = Fakes::new();
    fakes.set("cluster", "");
    fakes.set("ready", "2");
    let run = verify_live(&fakes, false);
    assert!(!run.success, "{}", run.stdout);
    let seen = live_seen(&run);
    assert!(
        seen.contains("\\\"2\\\" ready replicas, expected 3"),
        "{seen}"
    );
    assert!(
        seen.contains("kubectl describe deployment health"),
        "{seen}"
    );
}

#[test]
fn a_wrong_answer_through_the_service_fails_the_live_check() {
    let fakes = Fakes::new();
    fakes.set("cluster", "");
    fakes.set("body", r#"{"status":"DOWN"}"#);
    let run = verify_live(&fakes, false);
    assert!(!run.success, "{}", run.stdout);
    let seen = live_seen(&run);
    assert!(
        seen.contains("GET / through the Service answered"),
        "{seen}"
    );
    assert!(seen.contains("DOWN"), "{seen}");
}

#[test]
fn a_push_the_registry_refuses_fails_the_live_check_before_anything_is_applied() {
    let fakes = Fakes::new();
    fakes.set("cluster", "");
    fakes.set("no-registry", "");
    let run = verify_live(&fakes, false);
    assert!(!run.success, "{}", run.stdout);
    let seen = live_seen(&run);
    assert!(seen.contains("docker push"), "{seen}");
    assert!(
        !fakes.calls().iter().any(|c| c.starts_with("kubectl apply")),
        "{:?}",
        fakes.calls()
    );
}
