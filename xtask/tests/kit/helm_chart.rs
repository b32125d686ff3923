//! The Helm chart helm/ibdb with a real helm (`cargo xtask tools helm`
//! installs a pinned one into target/tools/bin): `helm lint --strict`,
//! `helm template`, its schema, and the rendered objects through the same
//! static checks as stage 04.

use crate::support;

use std::path::PathBuf;

/// helm on PATH or in target/tools/bin, when it works.
fn helm() -> Option<PathBuf> {
    let local = support::root().join("target/tools/bin/helm");
    let candidates = [PathBuf::from("helm"), local];
    let found = candidates.into_iter().find(|helm| {
        duct::cmd(helm, ["version", "--short"])
            .stdout_null()
            .stderr_null()
            .unchecked()
            .run()
            .is_ok_and(|o| o.status.success())
    });
    let works = found.is_some();
    if support::tool_available("helm", works, "cargo xtask tools helm") {
        found
    } else {
        None
    }
}

/// Runs helm in the repository root: (success, stdout, stderr).
fn run(helm: &PathBuf, args: &[&str]) -> (bool, String, String) {
    let out = duct::cmd(helm, args)
        .dir(support::root())
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn render(helm: &PathBuf, chart: &str, extra: &[&str]) -> String {
    let mut args = vec!["template", "ibdb", chart, "--namespace", "ibdb"];
    args.extend_from_slice(extra);
    let (ok, out, err) = run(helm, &args);
    assert!(ok, "helm template failed:\n{err}");
    out
}

/// `cargo xtask k8s check` on rendered YAML (through a file).
fn static_check(rendered: &str) -> support::Run {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rendered.yaml");
    std::fs::write(&file, rendered).unwrap();
    support::xtask(&["k8s", "check", file.to_str().unwrap()])
}

#[test]
fn the_chart_lints_strictly() {
    let Some(helm) = helm() else { return };
    for extra in [&[][..], &["--set", "database.create=false"][..]] {
        let mut args = vec!["lint", "--strict", "helm/ibdb"];
        args.extend_from_slice(extra);
        let (ok, out, err) = run(&helm, &args);
        assert!(ok, "{out}\n{err}");
        assert!(out.contains("0 chart(s) failed"), "{out}");
    }
}

#[test]
fn the_rendered_chart_passes_the_stage_04_checks() {
    let Some(helm) = helm() else { return };
    for extra in [&[][..], &["--set", "database.create=false"][..]] {
        let rendered = render(&helm, "helm/ibdb", extra);
        let check = static_check(&rendered);
        assert!(check.success, "{}\n{}", check.stdout, check.stderr);
    }
}

#[test]
fn the_rendered_chart_wires_database_probes_labels_and_security() {
    let Some(helm) = helm() else { return };
    let rendered = render(&helm, "helm/ibdb", &[]);
    for expected in [
        "kind: Cluster",
        "name: ibdb-db",
        "instances: 3",
        "size: 1Gi",
        "database: ibdb",
        "name: ibdb-db-app",
        "key: uri",
        "path: /healthz",
        "path: /readyz",
        "app.kubernetes.io/name: ibdb",
        "app.kubernetes.io/instance: ibdb",
        "app.kubernetes.io/managed-by: Helm",
        "image: \"registry.localhost:5005/ibdb:0.1.0\"",
        "runAsNonRoot: true",
        "allowPrivilegeEscalation: false",
        "type: RuntimeDefault",
    ] {
        assert!(
            rendered.contains(expected),
            "{expected:?} not rendered:\n{rendered}"
        );
    }
    let without = render(&helm, "helm/ibdb", &["--set", "database.create=false"]);
    assert!(!without.contains("kind: Cluster"), "{without}");
    let named = render(
        &helm,
        "helm/ibdb",
        &[
            "--set",
            "database.clusterName=shared-pg",
            "--set",
            "database.create=false",
        ],
    );
    assert!(named.contains("name: shared-pg-app"), "{named}");
}

#[test]
fn the_schema_refuses_misspelled_keys_and_the_latest_tag() {
    let Some(helm) = helm() else { return };
    for (value, why) in [
        ("image.tga=1.0", "a misspelled key"),
        ("image.tag=latest", "the latest tag"),
        ("replicaCount=0", "zero replicas"),
        (
            "config.DATABASE_URL=postgres://x",
            "a database URL in the ConfigMap",
        ),
    ] {
        let (ok, _, err) = run(&helm, &["template", "ibdb", "helm/ibdb", "--set", value]);
        assert!(!ok, "{why} ({value}) was accepted");
        assert!(
            err.contains("values don't meet the specifications of the schema"),
            "{why}: {err}"
        );
    }
}

#[test]
fn the_schema_refuses_what_breaks_the_restricted_standard_or_a_name_rule() {
    // kubernetes.io/docs/concepts/security/pod-security-standards (restricted):
    // non-root, no privilege escalation, not privileged, ALL capabilities
    // dropped (only NET_BIND_SERVICE added back), seccomp RuntimeDefault or
    // Localhost. The namespace the kit creates enforces it
    // (k8s/00-namespace.yaml), so such values would be refused by the API
    // server; the schema refuses them at `helm template` already.
    let Some(helm) = helm() else { return };
    for (value, why) in [
        ("podSecurityContext.runAsUser=0", "root"),
        (
            "podSecurityContext.runAsNonRoot=false",
            "runAsNonRoot false",
        ),
        (
            "podSecurityContext.seccompProfile.type=Unconfined",
            "seccomp Unconfined",
        ),
        (
            "podSecurityContext.sysctls[0].name=net.core.somaxconn",
            "sysctls",
        ),
        ("securityContext.privileged=true", "privileged"),
        (
            "securityContext.allowPrivilegeEscalation=true",
            "privilege escalation",
        ),
        (
            "securityContext.capabilities.drop={NET_RAW}",
            "ALL not dropped",
        ),
        (
            "securityContext.capabilities.add={SYS_ADMIN}",
            "an added capability",
        ),
        ("securityContext.runAsUser=0", "a root container"),
        // Kubernetes object names (RFC 1035 labels for the Services CNPG
        // names after the cluster: <name>-rw, -ro, -r).
        (
            "database.clusterName=Bad_Name",
            "a name with capitals and _",
        ),
        ("database.clusterName=-db", "a name starting with -"),
        (
            "database.clusterName=a-name-that-is-far-too-long-for-the-services-cnpg-makes",
            "a name too long",
        ),
    ] {
        let (ok, _, err) = run(&helm, &["template", "ibdb", "helm/ibdb", "--set", value]);
        assert!(!ok, "{why} ({value}) was accepted");
        assert!(
            err.contains("values don't meet the specifications of the schema"),
            "{why}: {err}"
        );
    }
    // What the kit sets is accepted, and lints strictly.
    let (ok, out, err) = run(
        &helm,
        &[
            "lint",
            "--strict",
            "helm/ibdb",
            "--set",
            "database.clusterName=shared-pg",
        ],
    );
    assert!(ok, "{out}\n{err}");
}

#[test]
fn chart_and_manifests_select_ibdbs_pods_with_the_same_labels() {
    // A Deployment's selector cannot change (apps/v1): `deploy --manifests`
    // after a Helm deploy failed on it while the two differed.
    let Some(helm) = helm() else { return };
    let rendered = render(&helm, "helm/ibdb", &[]);
    let chart = rendered
        .split("\n---")
        .find(|d| d.contains("kind: Deployment"))
        .unwrap();
    let selector = |text: &str| -> Vec<String> {
        let at = text.find("matchLabels:").unwrap();
        text[at..]
            .lines()
            .skip(1)
            .take_while(|l| l.trim_start().starts_with("app.kubernetes.io/"))
            .map(|l| l.trim().to_string())
            .collect()
    };
    let manifests = std::fs::read_to_string(support::root().join("k8s/deployment.yaml")).unwrap();
    assert_eq!(selector(chart), selector(&manifests));
    assert_eq!(
        selector(chart),
        [
            "app.kubernetes.io/name: ibdb",
            "app.kubernetes.io/instance: ibdb"
        ]
    );
}

#[test]
fn the_rendered_startup_probe_outlasts_ibdbs_database_wait() {
    let Some(helm) = helm() else { return };
    let rendered = render(&helm, "helm/ibdb", &[]);
    assert!(
        rendered.contains("DB_STARTUP_TIMEOUT_MS: \"120000\""),
        "{rendered}"
    );
    let probe = &rendered[rendered.find("startupProbe:").unwrap()..];
    assert!(
        probe.contains("periodSeconds: 1") && probe.contains("failureThreshold: 150"),
        "{probe}"
    );
    assert!(
        rendered.contains("progressDeadlineSeconds: 1800"),
        "{rendered}"
    );
}

#[test]
fn a_broken_chart_fails_the_static_checks() {
    let Some(helm) = helm() else { return };
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("ibdb");
    support::copy_tree(&support::root().join("helm/ibdb"), &chart);
    let service = chart.join("templates/service.yaml");
    let text = std::fs::read_to_string(&service).unwrap();
    std::fs::write(
        &service,
        text.replace("targetPort: http", "targetPort: web"),
    )
    .unwrap();
    let rendered = render(&helm, chart.to_str().unwrap(), &[]);
    let check = static_check(&rendered);
    assert!(!check.success);
    assert!(
        check.stdout.contains("[targetPort]") && check.stdout.contains("targetPort \"web\""),
        "{}",
        check.stdout
    );
}

#[test]
fn xtask_helm_check_passes() {
    let Some(helm) = helm() else { return };
    let path = format!(
        "{}:{}",
        helm.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = support::xtask_with_env(&["helm", "check"], &[("PATH", &path)]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("✓ the chart lints, renders, and passes the static checks")
    );
}

#[test]
fn kubectl_validates_fields_strictly_by_default_and_the_words_say_so() {
    // kubectl apply --help: `--validate='strict'` (server-side field
    // validation, KEP-2885, GA in Kubernetes 1.27). A misspelled field is
    // refused by kubectl too, not "dropped without a word"; the static check
    // finds it before there is a cluster.
    for file in [
        "exercises/04-kubernetes/README.md",
        "book/src/04-kubernetes.md",
    ] {
        let text = std::fs::read_to_string(support::root().join(file)).unwrap();
        assert!(!text.contains("without a word"), "{file}");
    }
    let Some(helm) = helm() else { return };
    let kubectl = helm.with_file_name("kubectl");
    let kubectl = if kubectl.is_file() {
        kubectl
    } else {
        PathBuf::from("kubectl")
    };
    let (ok, out, err) = run(&kubectl, &["apply", "--help"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("--validate='strict'"),
        "kubectl apply --help: the default of --validate is not strict:\n{out}"
    );
}
