//! Stage 05's cluster side: the trainee's CloudNativePG `Cluster` checked
//! against the pinned operator's CRD schema, the names the operator derives
//! from the Cluster's name, and the live part against fake `docker` and
//! `kubectl`. The static part's mutants are in stage 05's proof.

use crate::fakes::Fakes;
use crate::support;

/// The vendored schema is the pinned operator's: cloudnative-pg v1.30.0
/// `config/crd/bases/postgresql.cnpg.io_clusters.yaml` (the chart 0.29.0
/// that `cargo xtask cnpg install` pins ships the same CRD in
/// `charts/cloudnative-pg/templates/crds/crds.yaml`).
#[test]
fn the_vendored_cluster_schema_is_the_pinned_operators() {
    let vendored: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            support::root().join("xtask/src/k8s/schemas/cnpg-cluster-1.30.0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let cluster_rs = std::fs::read_to_string(support::root().join("xtask/src/cluster.rs")).unwrap();
    let operator = vendored["operator"].as_str().unwrap();
    assert!(
        cluster_rs.contains(&format!("CNPG_OPERATOR_VERSION: &str = \"{operator}\"")),
        "the schema is operator {operator}'s; xtask/src/cluster.rs pins another operator: vendor its CRD"
    );
    assert!(
        cluster_rs.contains("CNPG_CHART_VERSION: &str = \"0.29.0\"")
            && vendored["chart"].as_str().unwrap().contains("0.29.0"),
        "the vendored schema names the chart that installs it"
    );
    assert_eq!(
        vendored["source"],
        format!(
            "cloudnative-pg/cloudnative-pg v{operator} config/crd/bases/postgresql.cnpg.io_clusters.yaml"
        )
    );
    let spec = &vendored["schema"]["properties"]["spec"];
    // Spot checks of the operator's schema: the fields the exercise uses,
    // `instances` required with minimum 1, the update strategy's enum.
    assert_eq!(spec["required"], serde_json::json!(["instances"]));
    assert_eq!(spec["properties"]["instances"]["minimum"], 1);
    for field in ["database", "owner", "secret"] {
        assert!(
            spec["properties"]["bootstrap"]["properties"]["initdb"]["properties"]
                .get(field)
                .is_some(),
            "{field}"
        );
    }
    assert_eq!(
        spec["properties"]["primaryUpdateStrategy"]["enum"],
        serde_json::json!(["unsupervised", "supervised"])
    );
    // `status` is the operator's to write: left out.
    assert!(vendored["schema"]["properties"].get("status").is_none());
}

fn check_copy(copy: &support::StageCopy) -> support::Run {
    support::xtask(&["k8s", "check", copy.file("k8s").to_str().unwrap()])
}

/// The operator names the owner's secret `<cluster>-app` and the primary's
/// Service `<cluster>-rw` (cloudnative-pg v1.30.0 api/v1/cluster_types.go:
/// `ApplicationUserSecretSuffix = "-app"`, `ServiceReadWriteSuffix = "-rw"`;
/// api/v1/cluster_funcs.go `GetApplicationSecretName`), and writes the
/// connection string to the key `uri` (pkg/specs/secrets.go `CreateSecret`,
/// called with the `-rw` Service as host by internal/controller/
/// cluster_create.go).
#[test]
fn the_secret_is_named_after_the_cluster_with_key_uri() {
    let copy = support::StageCopy::new("solutions/05-postgres");
    let run = check_copy(&copy);
    assert!(run.success, "{}", run.stdout);

    // Another Cluster name: the Deployment must follow it.
    // (The starter's lines above it are comments of the solution file.)
    copy.replace(
        "k8s/database.yaml",
        "metadata:\n  name: books-db\n",
        "metadata:\n  name: shop-db\n",
    );
    let run = check_copy(&copy);
    assert!(!run.success, "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "DATABASE_URL reads secret books-db-app, but CloudNativePG writes the credentials of Cluster shop-db to shop-db-app"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("name: shop-db-app"), "{}", run.stdout);
    copy.replace(
        "k8s/deployment.yaml",
        "name: books-db-app",
        "name: shop-db-app",
    );
    let run = check_copy(&copy);
    assert!(run.success, "{}", run.stdout);

    // The key: `uri`, whose host is the -rw Service.
    copy.replace("k8s/deployment.yaml", "key: uri", "key: password");
    let run = check_copy(&copy);
    assert!(!run.success, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("key: uri (postgresql://owner:password@shop-db-rw."),
        "{}",
        run.stdout
    );
}

#[test]
fn the_password_is_never_written_into_the_manifest() {
    let copy = support::StageCopy::new("solutions/05-postgres");
    copy.replace(
        "k8s/deployment.yaml",
        "              valueFrom:\n                secretKeyRef:\n                  name: books-db-app # written by the operator for Cluster books-db\n                  key: uri\n",
        "              value: postgres://books:secret@books-db-rw:5432/books\n",
    );
    let run = check_copy(&copy);
    assert!(!run.success, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("DATABASE_URL is not read from a secret"),
        "{}",
        run.stdout
    );
}

/// What the API server's structural validation of the CRD refuses, with
/// the line: a wrong type, a missing required field, a value out of range.
#[test]
fn the_cluster_is_validated_as_the_api_server_validates_the_crd() {
    let copy = support::StageCopy::new("solutions/05-postgres");
    copy.replace(
        "k8s/database.yaml",
        "  instances: 3 # one primary, two streaming replicas",
        "  instances: 0\n  enableSuperuserAccess: \"yes\"\n  postgresql:\n    synchronous:\n      number: 1",
    );
    let run = check_copy(&copy);
    assert!(!run.success, "{}", run.stdout);
    for expected in [
        "database.yaml:25: Cluster/books-db: spec.instances is 0, below the minimum 1",
        "database.yaml:26: Cluster/books-db: spec.enableSuperuserAccess is a string, but the CloudNativePG 1.30.0 Cluster schema wants true or false",
        "database.yaml:28: Cluster/books-db: spec.postgresql.synchronous needs method",
    ] {
        assert!(run.stdout.contains(expected), "{expected}\n{}", run.stdout);
    }
}

/// The kit's own manifests (IBDb's `k8s/`) pass the checks a trainee's do.
#[test]
fn the_kits_own_database_manifests_pass_the_same_check() {
    let run = support::xtask(&["k8s", "check", "k8s"]);
    assert!(run.success, "{}", run.stdout);
    assert!(run.stdout.contains("Cluster/ibdb-db"), "{}", run.stdout);
}

/// `verify --json --dir COPY 05` with the fakes first on PATH (cargo too:
/// stage 05 needs it). The copy has no `tests/`, so the Rust part stops at
/// once after the cluster side ran.
fn verify_live(fakes: &Fakes, copy: &support::StageCopy) -> support::Run {
    // The cargo running the tests; its folder holds no kubectl or docker.
    let cargo = std::path::PathBuf::from(std::env::var_os("CARGO").expect("CARGO is set by cargo"));
    let path = format!(
        "{}:{}",
        fakes.bin().display(),
        cargo.parent().unwrap().display()
    );
    let state = fakes.state();
    let _turn = support::serial();
    support::xtask_with_env(
        &["verify", "--json", "--dir", copy.path_str(), "05"],
        &[
            ("PATH", path.as_str()),
            ("FAKE_STATE", state.to_str().unwrap()),
            ("LAB_REQUIRE_CLUSTER", "0"),
        ],
    )
}

fn live_copy() -> support::StageCopy {
    let copy = support::StageCopy::new("solutions/05-postgres");
    std::fs::remove_dir_all(copy.file("tests")).unwrap();
    copy
}

#[test]
fn on_a_cluster_the_database_becomes_ready_and_readyz_answers_through_the_service() {
    let fakes = Fakes::new();
    fakes.set("cluster", "");
    let copy = live_copy();
    let run = verify_live(&fakes, &copy);
    let live = run.check("k8s live").expect("the live check is reported");
    assert_eq!(live["status"], "passed", "{live}\n{}", run.stderr);
    assert!(
        live["message"]
            .as_str()
            .unwrap()
            .contains("Cluster books-db ready (3/3 instances)"),
        "{live}"
    );
    let image = "localhost:5005/ibdb-postgres:0.1.0";
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
            format!("docker build --tag {image} {}", copy.path.display()),
            format!("docker push {image}"),
            format!("kubectl apply --filename {}", copy.file("k8s").display()),
            "kubectl wait --for=condition=Ready cluster/books-db --timeout=900s".into(),
            "kubectl get clusters books-db --output jsonpath={.status.readyInstances}/{.status.instances} {.status.phase}".into(),
            "kubectl rollout status deployment/books --timeout=600s".into(),
            forward.clone(),
        ]
    );
    assert!(
        forward.starts_with("kubectl port-forward svc/books "),
        "{forward}"
    );
}

fn live_failure(fakes: &Fakes) -> String {
    let copy = live_copy();
    let run = verify_live(fakes, &copy);
    let live = run.check("k8s live").expect("the live check is reported");
    assert_eq!(live["status"], "failed", "{live}");
    format!("{} | {}", live["seen"], live["hint"])
}

#[test]
fn a_cluster_that_never_gets_ready_fails_the_live_check_with_what_to_look_at() {
    let fakes = Fakes::new();
    fakes.set("cluster", "");
    fakes.set("db-timeout", "");
    let seen = live_failure(&fakes);
    assert!(seen.contains("books-db"), "{seen}");
    assert!(seen.contains("kubectl describe cluster books-db"), "{seen}");
    assert!(
        !fakes.calls().iter().any(|c| c.contains("rollout status")),
        "{:?}",
        fakes.calls()
    );
}

#[test]
fn too_few_ready_instances_fail_the_live_check() {
    let fakes = Fakes::new();
    fakes.set("cluster", "");
    fakes.set(
        "instances",
        "1/3 Waiting for the instances to become active",
    );
    let seen = live_failure(&fakes);
    assert!(
        seen.contains("kubectl get clusters books-db: \\\"1\\\" of \\\"3\\\" instances ready"),
        "{seen}"
    );
}

#[test]
fn a_service_that_does_not_reach_its_database_fails_the_live_check() {
    let fakes = Fakes::new();
    fakes.set("cluster", "");
    fakes.set("readyz", "503");
    let seen = live_failure(&fakes);
    assert!(
        seen.contains("GET /readyz through svc/books answered 503"),
        "{seen}"
    );
    assert!(seen.contains("books-db-app, key uri"), "{seen}");
}

#[test]
fn without_a_cluster_the_database_live_check_is_skipped_and_says_how_to_get_one() {
    let fakes = Fakes::new();
    let copy = live_copy();
    let run = verify_live(&fakes, &copy);
    let live = run.check("k8s live").expect("the live check is reported");
    assert_eq!(live["status"], "skipped", "{live}");
    assert!(live.to_string().contains("cargo xtask up"), "{live}");
    assert!(
        !fakes.calls().iter().any(|c| c.starts_with("docker")),
        "{:?}",
        fakes.calls()
    );
}
