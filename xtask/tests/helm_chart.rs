//! The Helm chart helm/ibdb with a real helm (`cargo xtask tools helm`
//! installs a pinned one into target/tools/bin): `helm lint --strict`,
//! `helm template`, its schema, and the rendered objects through the same
//! static checks as stage 04.

mod support;

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
        "image: \"registry.localhost:5000/ibdb:0.1.0\"",
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
