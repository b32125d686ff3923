//! The cluster commands against fake k3d, kubectl, helm and docker (no
//! Kubernetes cluster can run where the kit is built): the exact commands,
//! idempotent re-runs, a failing tool, a missing tool, a timeout, and
//! `--dry-run`, which runs nothing.

use crate::fakes;
use crate::support;

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
            format!("{CTX} wait --for=condition=Ready nodes --all --timeout=300s"),
        ]
    );
    assert!(fakes.has("cluster"));
    // Each wait says what it waits for and how long it took.
    assert!(
        run.stdout.contains("  ✓ every node Ready after "),
        "{}",
        run.stdout
    );
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

/// The operator pin: chart 0.29.0 installs CloudNativePG 1.30.0
/// (cloudnative-pg/charts charts/cloudnative-pg/Chart.yaml), the first
/// operator that supports Kubernetes 1.36 (cloudnative-pg
/// docs/src/supported_releases.md); 0.26.0 installed 1.27, past its end of life.
const CNPG_CHART: &str = "0.29.0";

fn cnpg_calls() -> Vec<String> {
    vec![
        "helm repo add cnpg https://cloudnative-pg.github.io/charts --force-update".into(),
        format!(
            "helm upgrade --install cnpg cnpg/cloudnative-pg --version {CNPG_CHART} --namespace cnpg-system --create-namespace --wait --timeout 600s --kube-context k3d-microservices"
        ),
        format!(
            "{CTX} --namespace cnpg-system rollout status deployment/cnpg-cloudnative-pg --timeout=600s"
        ),
        format!(
            "{CTX} wait --for=condition=Established crd/clusters.postgresql.cnpg.io --timeout=60s"
        ),
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
    // The README and the guide name the same pin.
    for file in [
        "README.md",
        "book/src/kubernetes.md",
        "book/src/04-kubernetes.md",
    ] {
        let text = std::fs::read_to_string(support::root().join(file)).unwrap();
        assert!(
            text.contains(&format!("chart {CNPG_CHART}")) && text.contains("1.30.0"),
            "{file} does not name chart {CNPG_CHART} / CloudNativePG 1.30.0"
        );
    }
}

#[test]
fn up_is_create_then_cnpg_install() {
    let fakes = Fakes::new();
    ok(&fakes.xtask(&["up"]));
    let calls = fakes.calls();
    assert_eq!(calls[1], "k3d cluster create --config k3d.yaml");
    assert_eq!(calls[3..], cnpg_calls()[..]);
}

const IID: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const TAG: &str = "0.1.0-0123456789ab";

fn deploy_tail() -> Vec<String> {
    vec![
        format!("{CTX} --namespace ibdb wait --for=condition=Ready cluster/ibdb-db --timeout=900s"),
        format!("{CTX} --namespace ibdb get secret ibdb-db-app"),
        format!("{CTX} --namespace ibdb rollout status deployment/ibdb --timeout=600s"),
    ]
}

/// The calls of a deploy up to the install, with the build's --iidfile
/// (a per-process name) replaced by IIDFILE.
fn calls_without_iidfile(fakes: &Fakes) -> Vec<String> {
    fakes
        .calls()
        .into_iter()
        .map(|c| match c.split_once(" --iidfile ") {
            Some((head, tail)) => {
                let rest = tail.split_once(' ').map(|(_, r)| r).unwrap_or("");
                format!("{head} --iidfile IIDFILE {rest}")
            }
            None => c,
        })
        .collect()
}

fn build_and_push(dir: &str) -> Vec<String> {
    vec![
        format!("docker build --file solutions/06-ibdb/Dockerfile --iidfile IIDFILE {dir}"),
        format!("docker tag {IID} localhost:5005/ibdb:{TAG}"),
        format!("docker push localhost:5005/ibdb:{TAG}"),
        format!("{CTX} apply --filename k8s/00-namespace.yaml"),
    ]
}

#[test]
fn deploy_of_the_reference_pushes_to_localhost_and_installs_the_pull_name() {
    // k3d-io/k3d pkg/client/registry.go (RegistryGenerateK3sConfig): the
    // nodes pull registry.localhost:5005/... through the mirror k3d writes;
    // the host pushes the same repository through localhost:5005.
    let fakes = Fakes::new();
    fakes.set("cluster", "");
    fakes.set("cnpg", "");
    let run = fakes.xtask(&["deploy", "--solutions"]);
    ok(&run);
    assert!(
        run.stdout
            .contains("deploying the reference IBDb (solutions/06-ibdb, --solutions)"),
        "{}",
        run.stdout
    );
    let mut expected = build_and_push("solutions/06-ibdb");
    expected.push(format!(
        "{CTX} --namespace ibdb get deployment ibdb --ignore-not-found --output jsonpath={{.metadata.name}}/{{.metadata.labels.app\\.kubernetes\\.io/managed-by}}"
    ));
    expected.push(format!("helm upgrade --install ibdb helm/ibdb --namespace ibdb --set image.repository=registry.localhost:5005/ibdb --set image.tag={TAG} --set database.create=true --kube-context k3d-microservices"));
    expected.extend(deploy_tail());
    assert_eq!(calls_without_iidfile(&fakes), expected);
    for what in ["PostgreSQL primary and replicas Ready", "IBDb's pods ready"] {
        assert!(
            run.stdout.contains(&format!("  ✓ {what}")),
            "{what}: {}",
            run.stdout
        );
    }
    assert!(
        run.stdout.contains(&format!(
            "is deployed as registry.localhost:5005/ibdb:{TAG}"
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn helm_and_manifests_replace_each_other_instead_of_failing_on_the_selector() {
    let fakes = Fakes::new();
    fakes.set("cluster", "");
    fakes.set("cnpg", "");
    ok(&fakes.xtask(&["deploy", "--solutions"]));
    assert!(fakes.has("helm-release"));

    // Helm release there: --manifests uninstalls it first, then applies k8s/.
    fakes.clear_calls();
    let run = fakes.xtask(&["deploy", "--solutions", "--manifests"]);
    ok(&run);
    let calls = calls_without_iidfile(&fakes);
    let mut expected = build_and_push("solutions/06-ibdb");
    expected.extend([
        "helm status ibdb --namespace ibdb --kube-context k3d-microservices".to_string(),
        "helm uninstall ibdb --namespace ibdb --wait --kube-context k3d-microservices".into(),
        format!("{CTX} apply --filename target/cluster/k8s"),
    ]);
    expected.extend(deploy_tail());
    assert_eq!(calls, expected);
    assert!(!fakes.has("helm-release"));
    // The applied copy of k8s/ names the image just built.
    let applied =
        std::fs::read_to_string(support::root().join("target/cluster/k8s/deployment.yaml"))
            .unwrap();
    assert!(
        applied.contains(&format!("image: registry.localhost:5005/ibdb:{TAG}")),
        "{applied}"
    );

    // Objects from k8s/ there: the Helm deploy deletes them first.
    fakes.set("owner", "ibdb/");
    fakes.clear_calls();
    ok(&fakes.xtask(&["deploy", "--solutions"]));
    let calls = fakes.calls();
    let delete = format!(
        "{CTX} delete --ignore-not-found --wait=true --filename k8s/deployment.yaml --filename k8s/service.yaml --filename k8s/configmap.yaml --filename k8s/database.yaml"
    );
    let at = calls.iter().position(|c| *c == delete).expect("the delete");
    let install = calls
        .iter()
        .position(|c| c.starts_with("helm upgrade --install ibdb"))
        .expect("the install");
    assert!(at < install, "{calls:?}");
    // A Helm release deployed again is not deleted.
    fakes.clear_calls();
    ok(&fakes.xtask(&["deploy", "--solutions"]));
    assert!(!fakes.calls().contains(&delete), "{:?}", fakes.calls());
}

#[test]
fn deploy_refuses_a_trainee_ibdb_whose_stage_06_check_fails() {
    // A copy whose tests/ differ from the reference: stage 06's check stops
    // at its first step, without compiling anything.
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).unwrap();
    let tmp = tempfile::tempdir_in(base).unwrap();
    let dir = tmp.path().join("06-ibdb");
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    // Its own Cargo.toml (verify refuses a folder without one first).
    let manifest = support::root().join("solutions/06-ibdb/Cargo.toml");
    std::fs::copy(manifest, dir.join("Cargo.toml")).unwrap();
    std::fs::write(dir.join("tests/changed.rs"), "// not the reference\n").unwrap();
    let fakes = Fakes::new();
    fakes.set("cluster", "");
    let cargo_dir = std::path::Path::new(env!("CARGO")).parent().unwrap();
    let path = format!("{}:{}", fakes.bin().display(), cargo_dir.display());
    let run = support::xtask_with_env(
        &["deploy", "--dir", dir.to_str().unwrap()],
        &[
            ("PATH", &path),
            ("FAKE_STATE", fakes.state().to_str().unwrap()),
        ],
    );
    assert_eq!(run.code, Some(2), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(
            "does not pass stage 06's check yet (failed: tests unchanged); nothing was deployed"
        ) && run.stderr.contains("cargo xtask deploy --solutions"),
        "{}",
        run.stderr
    );
    assert!(
        !fakes.calls().iter().any(|c| c.starts_with("docker")),
        "{:?}",
        fakes.calls()
    );
}

#[test]
fn a_database_that_is_not_ready_in_time_says_what_to_look_at() {
    let fakes = Fakes::new();
    fakes.set("cluster", "");
    fakes.set("db-timeout", "");
    let run = fakes.xtask(&["deploy", "--solutions"]);
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    for expected in [
        "PostgreSQL primary and replicas Ready (each node pulls the PostgreSQL image first): not within 900 s (waited 0 s): error: timed out waiting for the condition on clusters/ibdb-db",
        "look at:",
        "kubectl --context k3d-microservices --namespace ibdb describe cluster ibdb-db",
        "kubectl --context k3d-microservices --namespace ibdb get events --sort-by=.lastTimestamp",
        "kubectl --context k3d-microservices --namespace cnpg-system logs deployment/cnpg-cloudnative-pg",
    ] {
        assert!(run.stderr.contains(expected), "{expected}:\n{}", run.stderr);
    }
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
        run.stderr.contains("every node Ready: not within 1 s (waited ")
            && run.stderr.contains(
                "no answer within 1 s\nlook at:\n  $ kubectl --context k3d-microservices get nodes --output wide"
            ),
        "{}",
        run.stderr
    );
}

#[test]
fn dry_run_prints_the_exact_commands_and_waits_and_runs_nothing() {
    let fakes = Fakes::new();
    let commands: &[(&[&str], &[&str])] = &[
        (
            &["cluster", "create"],
            &[
                "$ k3d cluster list --output json",
                "$ k3d cluster create --config k3d.yaml",
                "$ kubectl --context k3d-microservices wait --for=condition=Ready nodes --all --timeout=300s   # waits up to 300 s: every node Ready",
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
                "$ helm upgrade --install cnpg cnpg/cloudnative-pg --version 0.29.0 --namespace cnpg-system --create-namespace --wait --timeout 600s --kube-context k3d-microservices   # waits up to 600 s: CloudNativePG 1.30.0 installed or upgraded, its pods ready",
                "$ kubectl --context k3d-microservices --namespace cnpg-system rollout status deployment/cnpg-cloudnative-pg --timeout=600s   # waits up to 600 s: the operator running",
            ],
        ),
        (
            &["up"],
            &[
                "$ k3d cluster create --config k3d.yaml",
                "$ helm repo add cnpg",
                "$ helm upgrade --install cnpg cnpg/cloudnative-pg --version 0.29.0",
            ],
        ),
        (
            &["deploy"],
            &[
                "deploying your IBDb (exercises/06-ibdb; --solutions deploys the reference)",
                "# first: stage 06's check on exercises/06-ibdb (as `cargo xtask verify 06 --dir exercises/06-ibdb`); deploy refuses while it fails",
                "$ docker build --file solutions/06-ibdb/Dockerfile --iidfile 'target/cluster/ibdb-<pid>.iid' exercises/06-ibdb",
                "$ docker tag '<image id>' 'localhost:5005/ibdb:0.1.0-<first 12 of the image id>'",
                "$ docker push 'localhost:5005/ibdb:0.1.0-<first 12 of the image id>'",
                "$ kubectl --context k3d-microservices apply --filename k8s/00-namespace.yaml",
                "$ kubectl --context k3d-microservices delete --ignore-not-found --wait=true --filename k8s/deployment.yaml",
                "$ helm upgrade --install ibdb helm/ibdb --namespace ibdb --set image.repository=registry.localhost:5005/ibdb --set 'image.tag=0.1.0-<first 12 of the image id>' --set database.create=true",
                "$ kubectl --context k3d-microservices --namespace ibdb wait --for=condition=Ready cluster/ibdb-db --timeout=900s   # waits up to 900 s: PostgreSQL primary and replicas Ready",
                "$ kubectl --context k3d-microservices --namespace ibdb rollout status deployment/ibdb --timeout=600s   # waits up to 600 s: IBDb's pods ready",
            ],
        ),
        (
            &["deploy", "--solutions", "--manifests"],
            &[
                "deploying the reference IBDb (solutions/06-ibdb, --solutions)",
                "$ docker build --file solutions/06-ibdb/Dockerfile --iidfile 'target/cluster/ibdb-<pid>.iid' solutions/06-ibdb",
                "$ helm uninstall ibdb --namespace ibdb --wait --kube-context k3d-microservices   # only when there is one",
                "$ kubectl --context k3d-microservices apply --filename target/cluster/k8s   # the manifests of k8s/, copied with image registry.localhost:5005/ibdb:",
            ],
        ),
        (&["down"], &["$ k3d cluster delete microservices"]),
        (
            &["chaos", "failover"],
            &[
                "$ kubectl --context k3d-microservices --namespace ibdb get cluster ibdb-db --output json   # which instance is the primary (status.currentPrimary)?",
                "$ kubectl --context k3d-microservices --namespace ibdb port-forward svc/ibdb 18000:8000",
                "# then: POST http://127.0.0.1:18000/books every 200 ms for 60 s, reading status.currentPrimary every second; after 5 s:",
                "$ kubectl --context k3d-microservices --namespace ibdb delete pod '<primary>' --grace-period=1 --wait=false",
                "# then: the report, a timeline per second, and the picture target/chaos/failover.svg",
            ],
        ),
        (
            &["chaos", "switchover"],
            &[
                "$ kubectl --context k3d-microservices --namespace ibdb patch cluster ibdb-db --subresource=status --type=merge --patch '{\"metadata\":{\"resourceVersion\":\"<resourceVersion>\"},\"status\":{\"phase\":\"Switchover in progress\",\"phaseReason\":\"Switching over to <first replica>\",\"targetPrimary\":\"<first replica>\",\"targetPrimaryTimestamp\":",
            ],
        ),
        (
            &["smoke"],
            &[
                "$ cargo xtask up",
                "$ cargo xtask deploy --solutions",
                "$ cargo xtask verify --solutions 04",
                "$ cargo xtask chaos failover --svg book/src/smoke/failover.svg",
                "$ cargo xtask chaos switchover --svg book/src/smoke/switchover.svg",
                "$ cargo xtask down",
                "# everything printed goes to book/src/smoke/transcript.txt",
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

#[test]
fn smoke_writes_a_transcript_and_stops_at_the_first_failing_step() {
    // Against the fakes only: what the transcript records, not a cluster.
    let fakes = Fakes::new();
    fakes.set("fail-helm", "");
    let transcript = fakes.state().join("transcript.txt");
    let run = fakes.xtask(&["smoke", "--transcript", transcript.to_str().unwrap()]);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let text = std::fs::read_to_string(&transcript).unwrap();
    for expected in [
        "cargo xtask smoke: a run on a real cluster",
        "k3d: k3d version v5.8.3",
        "$ cargo xtask up   # the k3d cluster and the CloudNativePG operator",
        "$ k3d cluster create --config k3d.yaml",
        "helm: simulated failure",
        "[FAILED after ",
        "$ cargo xtask down   # the cluster deleted again",
        "[ok after ",
    ] {
        assert!(text.contains(expected), "{expected}:\n{text}");
    }
    // Nothing after the failing step but `down`.
    assert!(!text.contains("$ cargo xtask deploy"), "{text}");
    assert!(!fakes.has("cluster"), "down deleted the cluster");
}

/// The lines of the first ```text block after `marker` in a book chapter.
fn book_block(chapter: &str, marker: &str) -> Vec<String> {
    let text = std::fs::read_to_string(support::root().join("book/src").join(chapter)).unwrap();
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("{chapter}: no {marker:?}"));
    let rest = &text[at..];
    let start = rest.find("```text\n").expect("a text block") + "```text\n".len();
    let end = rest[start..].find("```").expect("the end of the block");
    rest[start..start + end]
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_books_dry_runs_are_what_the_commands_print() {
    let fakes = Fakes::new();
    for (chapter, marker, args) in [
        (
            "04-kubernetes.md",
            "`cargo xtask deploy --dry-run` prints:",
            &["deploy", "--dry-run"][..],
        ),
        (
            "failover.md",
            "The dry run prints exactly what happens:",
            &["chaos", "failover", "--dry-run"][..],
        ),
        (
            "failover.md",
            "(CloudNativePG's plugin source",
            &["chaos", "switchover", "--dry-run"][..],
        ),
        (
            "failover.md",
            "$ cargo xtask smoke\n",
            &["smoke", "--dry-run"][..],
        ),
    ] {
        let run = fakes.xtask(args);
        ok(&run);
        let printed: Vec<&str> = run.stdout.lines().collect();
        for line in book_block(chapter, marker) {
            assert!(
                printed.contains(&line.as_str()),
                "{chapter} shows a line `cargo xtask {}` does not print:\n{line}\n\nit prints:\n{}",
                args.join(" "),
                run.stdout
            );
        }
    }
}
