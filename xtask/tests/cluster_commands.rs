//! The cluster commands against fake k3d, kubectl, helm and docker (no
//! Kubernetes cluster can run where the kit is built): the exact commands,
//! idempotent re-runs, a failing tool, a missing tool, a timeout, and
//! `--dry-run`, which runs nothing.

mod fakes;
mod support;

use std::time::{Duration, Instant};

use fakes::Fakes;

const CTX: &str = "kubectl --context k3d-microservices";

fn ok(run: &support::Run) {
    assert!(
        run.success,
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        run.code, run.stdout, run.stderr
    );
}

#[test]
fn create_makes_the_cluster_then_waits_for_ready_nodes() {
    let fakes = Fakes::new();
    let run = fakes.xtask(&["cluster", "create"]);
    ok(&run);
    assert_eq!(
        fakes.calls(),
        [
            "k3d cluster list --output json".to_string(),
            "k3d cluster create --config k3d.yaml".into(),
            format!("{CTX} wait --for=condition=Ready nodes --all --timeout=180s"),
        ]
    );
    assert!(fakes.has("cluster"));
    assert!(
        run.stdout.contains("next: cargo xtask cnpg install"),
        "{}",
        run.stdout
    );
}

#[test]
fn create_again_is_a_no_op() {
    let fakes = Fakes::new();
    ok(&fakes.xtask(&["cluster", "create"]));
    fakes.clear_calls();
    let run = fakes.xtask(&["cluster", "create"]);
    ok(&run);
    assert!(
        run.stdout
            .contains("cluster microservices exists and is running: nothing to create"),
        "{}",
        run.stdout
    );
    assert!(
        !fakes
            .calls()
            .iter()
            .any(|c| c.starts_with("k3d cluster create")),
        "{:?}",
        fakes.calls()
    );
}

#[test]
fn create_starts_a_stopped_cluster() {
    let fakes = Fakes::new();
    fakes.set("cluster", "");
    fakes.set("stopped", "");
    ok(&fakes.xtask(&["cluster", "create"]));
    assert_eq!(fakes.calls()[1], "k3d cluster start microservices");
    assert!(!fakes.has("stopped"));
}

#[test]
fn delete_removes_the_cluster_and_a_second_delete_does_nothing() {
    let fakes = Fakes::new();
    fakes.set("cluster", "");
    ok(&fakes.xtask(&["cluster", "delete"]));
    assert_eq!(
        fakes.calls(),
        [
            "k3d cluster list --output json",
            "k3d cluster delete microservices"
        ]
    );
    assert!(!fakes.has("cluster"));
    fakes.clear_calls();
    let run = fakes.xtask(&["cluster", "delete"]);
    ok(&run);
    assert!(
        run.stdout.contains("does not exist: nothing to delete"),
        "{}",
        run.stdout
    );
    assert_eq!(fakes.calls(), ["k3d cluster list --output json"]);
}

#[test]
fn down_is_delete() {
    let fakes = Fakes::new();
    fakes.set("cluster", "");
    ok(&fakes.xtask(&["down"]));
    assert!(!fakes.has("cluster"));
}

#[test]
fn status_without_a_cluster_fails_and_says_what_to_do() {
    let fakes = Fakes::new();
    let run = fakes.xtask(&["cluster", "status"]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(
        run.stdout.contains("cargo xtask cluster create"),
        "{}",
        run.stdout
    );
}

#[test]
fn status_shows_nodes_and_the_operator() {
    let fakes = Fakes::new();
    fakes.set("cluster", "");
    let run = fakes.xtask(&["cluster", "status"]);
    ok(&run);
    assert!(
        run.stdout.contains("k3d-microservices-server-0   Ready"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("operator is not installed"),
        "{}",
        run.stdout
    );
    fakes.set("cnpg", "");
    let run = fakes.xtask(&["cluster", "status"]);
    assert!(
        run.stdout
            .contains("✓ the CloudNativePG operator is installed"),
        "{}",
        run.stdout
    );
}

fn cnpg_calls() -> Vec<String> {
    vec![
        "helm repo add cnpg https://cloudnative-pg.github.io/charts --force-update".into(),
        "helm upgrade --install cnpg cnpg/cloudnative-pg --version 0.26.0 --namespace cnpg-system --create-namespace --wait --kube-context k3d-microservices".into(),
        format!("{CTX} --namespace cnpg-system rollout status deployment/cnpg-cloudnative-pg --timeout=180s"),
        format!("{CTX} wait --for=condition=Established crd/clusters.postgresql.cnpg.io --timeout=60s"),
    ]
}

#[test]
fn cnpg_install_is_a_pinned_helm_upgrade_install_and_can_run_twice() {
    let fakes = Fakes::new();
    fakes.set("cluster", "");
    ok(&fakes.xtask(&["cnpg", "install"]));
    assert_eq!(fakes.calls(), cnpg_calls());
    assert!(fakes.has("cnpg"));
    fakes.clear_calls();
    ok(&fakes.xtask(&["cnpg", "install"]));
    assert_eq!(fakes.calls(), cnpg_calls(), "a re-run upgrades in place");
}

#[test]
fn up_is_create_then_cnpg_install() {
    let fakes = Fakes::new();
    ok(&fakes.xtask(&["up"]));
    let calls = fakes.calls();
    assert_eq!(calls[1], "k3d cluster create --config k3d.yaml");
    assert_eq!(calls[3..], cnpg_calls()[..]);
}

fn deploy_tail() -> Vec<String> {
    vec![
        format!("{CTX} --namespace ibdb wait --for=condition=Ready cluster/ibdb-db --timeout=300s"),
        format!("{CTX} --namespace ibdb get secret ibdb-db-app"),
        format!("{CTX} --namespace ibdb rollout status deployment/ibdb --timeout=180s"),
    ]
}

#[test]
fn deploy_builds_pushes_installs_the_chart_and_waits_for_the_database() {
    if !support::root()
        .join("solutions/06-ibdb/Dockerfile")
        .is_file()
    {
        eprintln!("!!! SKIPPED: solutions/06-ibdb/Dockerfile is not there yet");
        return;
    }
    let fakes = Fakes::new();
    fakes.set("cluster", "");
    fakes.set("cnpg", "");
    let run = fakes.xtask(&["deploy"]);
    ok(&run);
    let mut expected = vec![
        "docker build --tag registry.localhost:5000/ibdb:0.1.0 solutions/06-ibdb".to_string(),
        "docker push registry.localhost:5000/ibdb:0.1.0".into(),
        "helm upgrade --install ibdb helm/ibdb --namespace ibdb --create-namespace --set image.tag=0.1.0 --set database.create=true --kube-context k3d-microservices".into(),
    ];
    expected.extend(deploy_tail());
    assert_eq!(fakes.calls(), expected);

    fakes.clear_calls();
    ok(&fakes.xtask(&["deploy", "--manifests"]));
    assert_eq!(fakes.calls()[2], format!("{CTX} apply --filename k8s/"));
}

#[test]
fn a_failing_tool_stops_the_command_with_its_message() {
    let fakes = Fakes::new();
    fakes.set("fail-k3d", "");
    let run = fakes.xtask(&["cluster", "create"]);
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    assert!(
        run.stderr.contains(
            "`k3d cluster list --output json` failed (exit code 1):\nk3d: simulated failure"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(
        fakes.calls(),
        ["k3d cluster list --output json"],
        "nothing ran after it"
    );

    let fakes = Fakes::new();
    fakes.set("cluster", "");
    fakes.set("fail-helm", "");
    let run = fakes.xtask(&["cnpg", "install"]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("`helm repo add cnpg"), "{}", run.stderr);
    assert!(!fakes.calls().iter().any(|c| c.starts_with("kubectl")));
}

#[test]
fn a_missing_tool_is_named_before_anything_runs() {
    let fakes = Fakes::with(&["kubectl", "helm", "docker"]);
    let run = fakes.xtask(&["cluster", "create"]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr
            .contains("k3d is not installed (not found on PATH); nothing was changed. Install it:"),
        "{}",
        run.stderr
    );
    assert!(fakes.calls().is_empty(), "{:?}", fakes.calls());

    let fakes = Fakes::with(&["k3d", "kubectl", "docker"]);
    let run = fakes.xtask(&["up"]);
    assert_eq!(run.code, Some(2));
    // `up` creates the cluster first, then finds helm missing.
    assert!(
        run.stderr.contains("helm is not installed"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_hanging_tool_is_stopped_after_the_timeout() {
    let fakes = Fakes::new();
    fakes.set("hang-kubectl", "");
    let started = Instant::now();
    let run = fakes.xtask(&["cluster", "create", "--timeout", "1"]);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains(
            "`kubectl --context k3d-microservices wait --for=condition=Ready nodes --all --timeout=180s` did not finish within 1 s and was stopped"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn dry_run_prints_the_exact_commands_and_runs_nothing() {
    let fakes = Fakes::new();
    let commands: &[(&[&str], &[&str])] = &[
        (
            &["cluster", "create"],
            &[
                "$ k3d cluster list --output json",
                "$ k3d cluster create --config k3d.yaml",
                "$ kubectl --context k3d-microservices wait --for=condition=Ready nodes --all --timeout=180s",
            ],
        ),
        (
            &["cluster", "delete"],
            &["$ k3d cluster delete microservices"],
        ),
        (
            &["cluster", "status"],
            &["$ kubectl --context k3d-microservices get nodes --output wide"],
        ),
        (
            &["cnpg", "install"],
            &[
                "$ helm upgrade --install cnpg cnpg/cloudnative-pg --version 0.26.0 --namespace cnpg-system --create-namespace --wait --kube-context k3d-microservices",
            ],
        ),
        (
            &["up"],
            &[
                "$ k3d cluster create --config k3d.yaml",
                "$ helm repo add cnpg",
            ],
        ),
        (
            &["deploy"],
            &[
                "$ docker build --tag registry.localhost:5000/ibdb:0.1.0 solutions/06-ibdb",
                "$ helm upgrade --install ibdb helm/ibdb",
                "$ kubectl --context k3d-microservices --namespace ibdb wait --for=condition=Ready cluster/ibdb-db --timeout=300s",
            ],
        ),
        (&["down"], &["$ k3d cluster delete microservices"]),
        (
            &["chaos", "failover"],
            &[
                "$ kubectl --context k3d-microservices --namespace ibdb get pods --selector cnpg.io/cluster=ibdb-db,cnpg.io/instanceRole=primary --output 'jsonpath={.items[*].metadata.name}'",
                "$ kubectl --context k3d-microservices --namespace ibdb port-forward svc/ibdb 18000:8000",
                "# then: POST http://127.0.0.1:18000/books every 200 ms for 60 s; after 5 s:",
                "$ kubectl --context k3d-microservices --namespace ibdb delete pod '<primary>' --wait=false",
            ],
        ),
    ];
    for (args, lines) in commands {
        let mut all = args.to_vec();
        all.push("--dry-run");
        let run = fakes.xtask(&all);
        ok(&run);
        for line in *lines {
            assert!(
                run.stdout.lines().any(|l| l.starts_with(line)),
                "`cargo xtask {}` does not print {line:?}:\n{}",
                all.join(" "),
                run.stdout
            );
        }
    }
    assert!(
        fakes.calls().is_empty(),
        "a dry run ran {:?}",
        fakes.calls()
    );

    // And it needs none of the tools.
    let none = Fakes::with(&[]);
    ok(&none.xtask(&["up", "--dry-run"]));
}
