//! The committed cluster files, checked statically (no cluster runs here):
//! k3d.yaml, skaffold.yaml and the IBDb manifests of k8s/, with the same
//! unknown-field detection and rules as stage 04.

use crate::support;

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
    let run = check_changed("k3d.yaml", "rancher/k3s:v1.36.5-k3s1", "rancher/k3s:latest");
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
        "image.tag: \"{{.IMAGE_TAG_localhost_5005_ibdb}}",
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
    // The nodes pull registry.localhost:5005/...; the host pushes localhost:5005/...
    assert!(values.contains("repository: registry.localhost:5005/ibdb"));
    assert!(values.contains("tag: \"0.1.0\""));
    assert!(deployment.contains("image: registry.localhost:5005/ibdb:0.1.0"));
    assert!(skaffold.contains("- image: localhost:5005/ibdb"));
    assert!(skaffold.contains("image.repository: \"registry.localhost:5005/ibdb\""));
    assert!(k3d.contains("hostPort: \"5005\""));
    assert!(database.contains("name: ibdb-db"));
    assert!(deployment.contains("name: ibdb-db-app"));
    assert!(deployment.contains("key: uri"));
}

// ---- Upstream rules the cluster files rest on -----------------------------

#[test]
fn k3d_wires_its_registry_itself_and_a_config_mirror_would_break_it() {
    // k3d-io/k3d pkg/config/transform.go: a registry named in the config file
    // keeps that name (no k3d- prefix); pkg/client/registry.go
    // RegistryGenerateK3sConfig writes the nodes' mirrors for it and
    // RegistryMergeConfig merges `config` over them. The kit's old block
    // pointed the mirror at k3d-registry.localhost, a host that does not exist.
    let k3d = read("k3d.yaml");
    assert!(
        !k3d.lines().any(|l| l.trim_start().starts_with("config:")),
        "k3d-io/k3d pkg/client/registry.go: k3d.yaml must not override the mirrors k3d writes"
    );
    let run = check_changed(
        "k3d.yaml",
        "    hostPort: \"5005\"\n",
        "    hostPort: \"5005\"\n  config: |\n    mirrors:\n      \"registry.localhost:5005\":\n        endpoint:\n          - http://k3d-registry.localhost:5000\n",
    );
    for expected in [
        "replacing the one k3d writes for its own registry (k3d-io/k3d pkg/client/registry.go",
        "the mirror endpoint http://k3d-registry.localhost:5000 names a host that does not exist: the registry container is registry.localhost (a name from the config file gets no k3d- prefix: k3d-io/k3d pkg/config/transform.go)",
    ] {
        assert!(run.stdout.contains(expected), "{expected}:\n{}", run.stdout);
    }
    let run = check_changed(
        "k3d.yaml",
        "name: registry.localhost",
        "name: k3d-registry.localhost",
    );
    assert!(
        run.stdout
            .contains("k3d uses a name from the config file exactly as written"),
        "k3d-io/k3d pkg/config/transform.go: {}",
        run.stdout
    );
}

#[test]
fn the_registry_host_port_is_not_the_one_macos_airplay_holds() {
    let run = check_changed("k3d.yaml", "hostPort: \"5005\"", "hostPort: \"5000\"");
    assert!(
        run.stdout
            .contains("host port 5000 is held by the AirPlay Receiver on many Macs"),
        "{}",
        run.stdout
    );
}

/// The minor of k3d.yaml's k3s image, like "1.36".
fn k3s_minor() -> String {
    let k3d = read("k3d.yaml");
    let image = k3d
        .lines()
        .find_map(|l| l.strip_prefix("image: rancher/k3s:v"))
        .expect("a pinned k3s image");
    image.split('.').take(2).collect::<Vec<_>>().join(".")
}

#[test]
fn k3s_the_static_checks_and_the_operator_agree_on_the_kubernetes_minor() {
    // cloudnative-pg docs/src/supported_releases.md: operator 1.30 supports
    // Kubernetes 1.34, 1.35 and 1.36 (chart 0.29.0 installs it,
    // cloudnative-pg/charts charts/cloudnative-pg/Chart.yaml).
    let minor = k3s_minor();
    assert!(
        ["1.34", "1.35", "1.36"].contains(&minor.as_str()),
        "cloudnative-pg docs/src/supported_releases.md: k3s {minor} is not supported by operator 1.30"
    );
    let cargo = read("xtask/Cargo.toml");
    let feature = format!("features = [\"v{}\"]", minor.replace('.', "_"));
    assert!(
        cargo
            .lines()
            .any(|l| l.starts_with("k8s-openapi") && l.contains(&feature)),
        "xtask/Cargo.toml: the k8s-openapi feature must be {feature} (the k3s minor)"
    );
    // The words follow the pin.
    for file in [
        "book/src/04-kubernetes.md",
        "exercises/04-kubernetes/README.md",
    ] {
        let text = read(file);
        assert!(
            text.contains(&format!("Kubernetes {minor} types")),
            "{file} does not say the checks use the Kubernetes {minor} types"
        );
    }
    // The parse message names the same version.
    let run = check_changed("k8s/configmap.yaml", "data:", "dato:");
    assert!(
        run.stdout
            .contains(&format!("(not in the Kubernetes {minor} schema)")),
        "{}",
        run.stdout
    );
    // A k3s of a minor the operator does not support, or one other than the
    // static checks', is reported.
    let run = check_changed(
        "k3d.yaml",
        "rancher/k3s:v1.36.5-k3s1",
        "rancher/k3s:v1.33.9-k3s1",
    );
    assert!(
        run.stdout.contains("which CloudNativePG 1.30.0 does not support (it supports 1.34, 1.35, 1.36: cloudnative-pg docs/src/supported_releases.md)"),
        "{}",
        run.stdout
    );
    let run = check_changed(
        "k3d.yaml",
        "rancher/k3s:v1.36.5-k3s1",
        "rancher/k3s:v1.35.9-k3s1",
    );
    assert!(
        run.stdout
            .contains("but the static checks parse manifests as Kubernetes 1.36"),
        "{}",
        run.stdout
    );
}

#[test]
fn the_manifests_profile_removes_the_helm_deploy() {
    // skaffold.dev/docs/environment/profiles: a profile is "laid onto, but
    // won't completely replace" the base config; GoogleContainerTools/skaffold
    // pkg/skaffold/schema/profiles.go (overlayProfileField) keeps every field
    // the profile leaves empty, and all deployers may run together.
    let run = check_changed(
        "skaffold.yaml",
        "      - op: remove\n        path: /deploy/helm\n",
        "",
    );
    assert!(
        run.stdout.contains("profile manifests adds a kubectl deploy, but a profile is laid over the base config, not swapped in (skaffold.dev/docs/environment/profiles; GoogleContainerTools/skaffold pkg/skaffold/schema/profiles.go"),
        "{}",
        run.stdout
    );
}

#[test]
fn skaffold_tolerates_a_crash_looping_ibdb_until_a_cold_database_is_ready() {
    // skaffold.dev/docs/status-check and skaffold's DeployConfig
    // (tolerateFailuresUntilDeadline, statusCheckDeadlineSeconds).
    for (from, to) in [
        (
            "tolerateFailuresUntilDeadline: true",
            "tolerateFailuresUntilDeadline: false",
        ),
        (
            "statusCheckDeadlineSeconds: 1200",
            "statusCheckDeadlineSeconds: 300",
        ),
    ] {
        let run = check_changed("skaffold.yaml", from, to);
        assert!(
            run.stdout.contains("the status check gives up on CrashLoopBackOff unless deploy.tolerateFailuresUntilDeadline is true, up to deploy.statusCheckDeadlineSeconds (skaffold.dev/docs/status-check"),
            "{to}: {}",
            run.stdout
        );
    }
}

#[test]
fn skaffold_builds_the_trainees_ibdb_and_the_reference_in_a_profile() {
    let skaffold = read("skaffold.yaml");
    assert!(
        skaffold.contains("context: exercises/06-ibdb"),
        "{skaffold}"
    );
    assert!(
        skaffold.contains("- name: solutions") && skaffold.contains("value: solutions/06-ibdb"),
        "{skaffold}"
    );
}

/// The number after `key` on the first line that has it.
fn number_after(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .map(|v| v.trim().trim_matches('"').parse().unwrap())
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

#[test]
fn the_startup_probe_outlasts_ibdbs_own_database_wait() {
    // IBDb answers /healthz at once and waits up to DB_STARTUP_TIMEOUT_MS
    // for the database (solutions/06-ibdb/src/config.rs), then exits; the
    // startup probe must not be what ends a slow start.
    let config = read("k8s/configmap.yaml");
    let wait_ms = number_after(&config, "DB_STARTUP_TIMEOUT_MS:");
    let deployment = read("k8s/deployment.yaml");
    let probe = &deployment[deployment.find("startupProbe:").unwrap()..];
    let window = number_after(probe, "periodSeconds:") * number_after(probe, "failureThreshold:");
    assert!(
        window * 1000 > wait_ms,
        "startup probe {window} s <= DB_STARTUP_TIMEOUT_MS {wait_ms} ms"
    );
}

#[test]
fn ibdbs_shutdown_deadline_ends_before_the_kubelet_kills_it() {
    // After SIGTERM IBDb gives requests in flight SHUTDOWN_TIMEOUT_MS (default
    // in solutions/06-ibdb/src/config.rs); the kubelet sends SIGKILL after
    // terminationGracePeriodSeconds.
    let config = read("solutions/06-ibdb/src/config.rs");
    let default_ms = config
        .split("\"SHUTDOWN_TIMEOUT_MS\", ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .map(|n| n.replace('_', "").parse::<u64>().unwrap())
        .expect("the SHUTDOWN_TIMEOUT_MS default in config.rs");
    for file in ["k8s/deployment.yaml", "helm/ibdb/templates/deployment.yaml"] {
        let grace = number_after(&read(file), "terminationGracePeriodSeconds:");
        assert!(
            default_ms < grace * 1000,
            "{file}: terminationGracePeriodSeconds {grace} s must exceed IBDb's SHUTDOWN_TIMEOUT_MS ({default_ms} ms)"
        );
    }
}

#[test]
fn the_namespace_enforces_the_restricted_pod_security_standard() {
    // kubernetes.io/docs/concepts/security/pod-security-admission: the
    // namespace label pod-security.kubernetes.io/enforce.
    let namespace = read("k8s/00-namespace.yaml");
    assert!(namespace.contains("pod-security.kubernetes.io/enforce: restricted"));
    // Skaffold applies it before the chart (createNamespace would make one
    // without the labels).
    let skaffold = read("skaffold.yaml");
    assert!(skaffold.contains("\"apply\", \"--filename\", \"k8s/00-namespace.yaml\""));
    assert!(!skaffold.contains("createNamespace: true"));
}

#[test]
fn synchronous_replication_is_the_postgresql_synchronous_stanza() {
    // cloudnative-pg docs/src/replication.md: `.spec.postgresql.synchronous`
    // (method any|first, number) replaces the deprecated minSyncReplicas /
    // maxSyncReplicas.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("database.yaml");
    let with = |spec: &str| {
        let text = read("k8s/database.yaml")
            .replace("  instances: 3\n", &format!("  instances: 3\n{spec}"));
        std::fs::write(&file, text).unwrap();
        xtask(&["k8s", "check", file.to_str().unwrap()])
    };
    let run = with("  postgresql:\n    synchronous:\n      method: any\n      number: 1\n");
    assert!(run.success, "{}", run.stdout);
    let run = with("  minSyncReplicas: 1\n");
    assert!(!run.success);
    assert!(
        run.stdout.contains("spec.minSyncReplicas is deprecated"),
        "{}",
        run.stdout
    );
    let run = with("  postgresql:\n    synchronous:\n      method: all\n      number: 1\n");
    assert!(!run.success, "{}", run.stdout);
}
