//! The committed cluster files, checked statically (no cluster runs here):
//! k3d.yaml, skaffold.yaml and the IBDb manifests of k8s/, with the same
//! unknown-field detection and rules as stage 04.

mod support;

use support::xtask;

fn read(path: &str) -> String {
    std::fs::read_to_string(support::root().join(path)).unwrap()
}

#[test]
fn k3d_skaffold_and_the_ibdb_manifests_pass() {
    let run = xtask(&["k8s", "check", "k3d.yaml", "skaffold.yaml", "k8s"]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    for object in [
        "Simple/microservices",
        "Config/ibdb",
        "Cluster/ibdb-db",
        "Deployment/ibdb",
        "Service/ibdb",
        "ConfigMap/ibdb",
    ] {
        assert!(
            run.stdout.contains(object),
            "{object} not read:\n{}",
            run.stdout
        );
    }
}

/// Checks a changed copy of a committed file.
fn check_changed(file: &str, from: &str, to: &str) -> support::Run {
    let text = read(file);
    assert!(text.contains(from), "{file} no longer contains {from:?}");
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join(file.rsplit('/').next().unwrap());
    std::fs::write(&copy, text.replacen(from, to, 1)).unwrap();
    let run = xtask(&["k8s", "check", copy.to_str().unwrap()]);
    assert!(!run.success, "the change passed:\n{}", run.stdout);
    run
}

#[test]
fn a_misspelled_k3d_field_is_reported_with_its_line() {
    let run = check_changed("k3d.yaml", "hostPort:", "hostport:");
    let line = read("k3d.yaml")
        .lines()
        .position(|l| l.contains("hostPort:"))
        .unwrap()
        + 1;
    assert!(
        run.stdout.contains(&format!(
            "k3d.yaml:{line}: Simple/microservices: unknown field hostport at registries.create.hostport"
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn an_unpinned_k3s_image_fails() {
    let run = check_changed("k3d.yaml", "rancher/k3s:v1.34.1-k3s1", "rancher/k3s:latest");
    assert!(
        run.stdout
            .contains("the k3s image is not pinned (rancher/k3s:latest)"),
        "{}",
        run.stdout
    );
}

#[test]
fn skaffold_must_name_a_real_chart_and_wire_the_image() {
    let run = check_changed(
        "skaffold.yaml",
        "chartPath: helm/ibdb",
        "chartPath: charts/ibdb",
    );
    assert!(
        run.stdout.contains("\"charts/ibdb\" is not a chart"),
        "{}",
        run.stdout
    );
    let run = check_changed(
        "skaffold.yaml",
        "image.tag: \"{{.IMAGE_TAG_registry_localhost_5000_ibdb}}",
        "image.tag: \"{{.IMAGE_TAG_ibdb}}",
    );
    assert!(
        run.stdout
            .contains("the release does not get the image skaffold built"),
        "{}",
        run.stdout
    );
    let run = check_changed("skaffold.yaml", "portForward:", "portForwards:");
    assert!(
        run.stdout.contains("unknown field portForwards"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_service_that_misses_ibdb_fails() {
    let text = read("k8s/deployment.yaml")
        + "---\n"
        + &read("k8s/service.yaml").replace("targetPort: http", "targetPort: 8080");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ibdb.yaml");
    std::fs::write(&file, text).unwrap();
    let run = xtask(&["k8s", "check", file.to_str().unwrap()]);
    assert!(!run.success);
    assert!(run.stdout.contains("[targetPort]"), "{}", run.stdout);
    // Without the ConfigMap in the set, the reference to it is reported too.
    assert!(
        run.stdout
            .contains("reads ConfigMap ibdb, which none of these files define"),
        "{}",
        run.stdout
    );
}

#[test]
fn names_tags_and_contexts_agree_across_the_files() {
    let k3d = read("k3d.yaml");
    let skaffold = read("skaffold.yaml");
    let values = read("helm/ibdb/values.yaml");
    let deployment = read("k8s/deployment.yaml");
    let database = read("k8s/database.yaml");
    assert!(k3d.contains("name: microservices"));
    assert!(skaffold.contains("kubeContext: k3d-microservices"));
    assert!(values.contains("repository: registry.localhost:5000/ibdb"));
    assert!(values.contains("tag: \"0.1.0\""));
    assert!(deployment.contains("image: registry.localhost:5000/ibdb:0.1.0"));
    assert!(skaffold.contains("- image: registry.localhost:5000/ibdb"));
    assert!(database.contains("name: ibdb-db"));
    assert!(deployment.contains("name: ibdb-db-app"));
    assert!(deployment.contains("key: uri"));
}
