//! Stage 04's live part, against fake `docker` and `kubectl` (no cluster
//! can run where the kit is tested). Its static part is proved with the
//! stage's declared broken copies (stages.rs).

use crate::fakes;
use crate::support;

use fakes::Fakes;

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
