//! Stage 08's checks, as steps of its check: IBDb's Helm chart
//! (`helm/ibdb`) and the `skaffold.yaml` that builds IBDb and deploys the
//! chart. `helm lint --strict`; the values schema tried with values it must
//! refuse; the chart rendered with the values Skaffold gives the release,
//! and the rendered objects through the rules of stages 04 and 05 (the API
//! server's rules, the restricted Pod Security Standard, the CloudNativePG
//! `Cluster` schema and its secret); `skaffold.yaml` against the pinned
//! Skaffold schema and what the stage asks of it; live when a cluster is
//! reachable. The same steps check the kit's own chart and skaffold.yaml
//! (`cargo xtask verify 08 --dir .`).

use std::path::{Path, PathBuf};

use super::files::Skaffold;
use super::{Doc, Object, Problem, rules, skaffold};
use crate::check::{Checker, Stop};
use crate::report::Failure;
use crate::tools::Tool;

/// The chart, relative to the stage folder (and to the kit's root).
pub const CHART: &str = "helm/ibdb";

/// What the stage folder must hold.
pub const FILES: &[&str] = &[
    "helm/ibdb/Chart.yaml",
    "helm/ibdb/values.yaml",
    "helm/ibdb/values.schema.json",
    "helm/ibdb/templates/deployment.yaml",
    "helm/ibdb/templates/service.yaml",
    "helm/ibdb/templates/configmap.yaml",
    "helm/ibdb/templates/cluster.yaml",
    "skaffold.yaml",
];

/// The kinds the chart must render.
const KINDS: &[&str] = &["Deployment", "Service", "ConfigMap", "Cluster"];

/// Values the chart's schema must refuse: (`--set` value, what it is, how to refuse it).
pub const BAD_VALUES: &[(&str, &str, &str)] = &[
    (
        "podSecurityContext.runAsUser=0",
        "a root user",
        "podSecurityContext.runAsUser: {\"type\": \"integer\", \"minimum\": 1}",
    ),
    (
        "image.tag=latest",
        "the latest tag",
        "image.tag: {\"type\": \"string\", \"not\": {\"const\": \"latest\"}}",
    ),
    (
        "image.tga=0.1.0",
        "a misspelled key (image.tga)",
        "\"additionalProperties\": false on image (and on every object of the schema)",
    ),
];

/// helm's words for values its schema refuses (helm/helm
/// pkg/chart/common/util/values.go, `ValidateAgainstSchema`'s caller).
pub const SCHEMA_REFUSED: &str = "values don't meet the specifications of the schema";

/// What to do when helm refuses the chart's own values against its schema.
const SCHEMA_HINT: &str = "values.schema.json refuses a value the chart is given (helm's `- at '/PATH'` says where; '' is the top level): the schema must accept every key of values.yaml and every value skaffold.yaml sets (TODO 3), or that value is wrong";

/// The tag and digest the check gives Skaffold's templates in place of a
/// build's (the shape pkg/skaffold/helm/args.go `envVarForImage` fills in).
pub const FAKE_TAG: &str = "0.1.0-check";
pub const FAKE_DIGEST: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000008";

/// The check names this step reports for a rule on the rendered chart.
pub fn name(rule: &str) -> String {
    format!("chart {rule}")
}

pub fn check(ck: &mut Checker) -> Result<(), Stop> {
    let dir = ck.dir.clone();
    let missing: Vec<&str> = FILES
        .iter()
        .copied()
        .filter(|f| !dir.join(f).is_file())
        .collect();
    if missing.is_empty() {
        ck.pass(
            "files",
            "helm/ibdb (Chart.yaml, values, schema, templates), skaffold.yaml",
        );
    } else {
        ck.fail(
            "files",
            format!("missing: {}", missing.join(", ")),
            Failure::new(FILES.join(", "), format!("missing: {}", missing.join(", ")))
                .hint(files_hint(&missing)),
        );
    }
    let Some(helm) = crate::helm::program() else {
        // run_stage probed helm already (the stage needs it).
        return Err(Stop::Skipped);
    };
    let mut all_passed = missing.is_empty();

    // skaffold.yaml first: the release's name, namespace and values are
    // what the chart is rendered with.
    let config = dir.join("skaffold.yaml");
    let (docs, problems) = if config.is_file() {
        super::load_files(std::slice::from_ref(&config))
    } else {
        (Vec::new(), Vec::new())
    };
    let mut problems = problems;
    let found = docs.iter().find(|d| d.kind == "Config");
    let skaffold_config = found.and_then(|d| match &d.object {
        Object::Skaffold(s) => Some((d, s.as_ref())),
        _ => None,
    });
    if let Some(doc) = found
        && skaffold_config.is_none()
        && problems.is_empty()
    {
        let version = doc.json["apiVersion"].as_str().unwrap_or("(none)");
        problems.push(Problem::new(
            "parse",
            &doc.file,
            doc.line(&super::parse::path("apiVersion")),
            format!(
                "apiVersion is {version}, not the pinned {}",
                skaffold::VERSION
            ),
            format!(
                "use apiVersion: {} (the schema the check knows; `skaffold fix` upgrades an older config)",
                skaffold::VERSION
            ),
        ));
    }
    if config.is_file() {
        all_passed &= report(ck, "skaffold schema", &problems, "parse");
    }

    all_passed &= lint(ck, &helm, &dir);
    all_passed &= values_schema(ck, &helm, &dir);

    let release = skaffold_config.and_then(|(_, s)| release_of(s));
    let rendered = match render(&helm, &dir, release.as_ref()) {
        Ok(docs) => Some(docs),
        Err(failure) => {
            let headline = crate::report::headline(&failure.seen);
            ck.fail("chart render", headline, failure);
            all_passed = false;
            None
        }
    };
    if let Some((docs, problems)) = &rendered {
        ck.pass(
            "chart render",
            format!(
                "helm template {}: {}",
                release.as_ref().map_or("ibdb", |r| r.name.as_str()),
                docs.iter().map(Doc::title).collect::<Vec<_>>().join(", ")
            ),
        );
        all_passed &= report(ck, &name("parse"), problems, "parse");
        let missing: Vec<&str> = KINDS
            .iter()
            .copied()
            .filter(|k| {
                !docs
                    .iter()
                    .any(|d| d.kind == *k && !matches!(d.object, Object::Other))
            })
            .collect();
        if missing.is_empty() {
            ck.pass(
                &name("kinds"),
                "a Deployment, Service, ConfigMap and CloudNativePG Cluster",
            );
        } else {
            all_passed = false;
            ck.fail(
                &name("kinds"),
                format!("the chart renders no {}", missing.join(", ")),
                Failure::new(
                    "a Deployment, a Service, a ConfigMap and a Cluster (postgresql.cnpg.io/v1) rendered with the release's values",
                    format!("no {} among {}", missing.join(", "), docs.iter().map(Doc::title).collect::<Vec<_>>().join(", ")),
                )
                .hint(kinds_hint(&missing, problems.iter().any(|p| p.rule == "parse"))),
            );
        }
        for rule in rules::RULES.iter().skip(1).filter(|r| **r != "cluster") {
            all_passed &= report(ck, &name(rule), problems, rule);
        }
    }

    if let Some((doc, s)) = skaffold_config {
        let services = rendered
            .as_ref()
            .map(|(docs, _)| services(docs))
            .unwrap_or_default();
        let mut found = stage_rules(doc, s, &dir, &services);
        if let Some((docs, _)) = &rendered {
            found.extend(node_pulls(doc, s, docs));
        }
        all_passed &= report(ck, "skaffold", &found, "skaffold");
    } else if config.is_file() {
        all_passed = false;
    }

    if !all_passed {
        ck.skip(
            "live",
            "the static checks failed, so nothing was deployed",
            "fix the problems above first",
        );
        return Ok(());
    }
    live(ck, &dir);
    Ok(())
}

/// Passes or fails `check` with every problem of `rule`.
fn report(ck: &mut Checker, check: &str, problems: &[Problem], rule: &str) -> bool {
    super::report(ck, check, problems, rule, expected(rule), passed(rule))
}

fn expected(rule: &str) -> String {
    match rule {
        "parse" => "every field known to its schema (Kubernetes, the CloudNativePG Cluster CRD, Skaffold's pinned config version), every value of the right type".into(),
        "skaffold" => "an artifact built from your IBDb (../06-ibdb), a release of helm/ibdb given the built image by tag and digest, a port-forward to the chart's Service".into(),
        "security" => "the restricted Pod Security Standard".into(),
        "database" => "a Cluster with instances, storage.size and bootstrap.initdb, and DATABASE_URL from its secret <cluster>-app, key uri".into(),
        "image" => "an image with a pinned tag (not latest)".into(),
        other => format!("no {other} problems"),
    }
}

fn passed(rule: &str) -> String {
    match rule {
        "parse" => "every document fits its schema; no unknown fields".into(),
        "skaffold" => "builds your IBDb, deploys the chart with the built image by tag and digest, forwards the Service's port".into(),
        "security" => "restricted Pod Security Standard".into(),
        "database" => "the Cluster is complete; DATABASE_URL comes from its secret <cluster>-app, key uri".into(),
        "names" => "names and labels are valid".into(),
        "selector" => "the selector matches the pod template labels".into(),
        "image" => "images have pinned tags".into(),
        "values" => "supported values".into(),
        "ports" => "valid port numbers and names".into(),
        "probes" => "startup, readiness and liveness probes on a container port".into(),
        "resources" => "requests and a memory limit, valid quantities".into(),
        "config" => "the ConfigMap is read as environment".into(),
        "service" => "the Service selects the Deployment's pods".into(),
        "targetPort" => "targetPort matches a container port".into(),
        other => format!("no {other} problems"),
    }
}

/// Runs helm in `dir`: (success, stdout, stderr).
fn helm_run(helm: &Path, dir: &Path, args: &[&str]) -> Result<(bool, String, String), Failure> {
    let out = duct::cmd(helm, args.iter().copied())
        .dir(dir)
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| {
            Failure::new("helm to run", format!("{}: {e}", helm.display()))
                .hint(Tool::Helm.install_hint())
        })?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// `helm lint --strict`: a warning fails too (helm/helm pkg/action/lint.go:
/// with Strict the lowest tolerance is WarningSev).
fn lint(ck: &mut Checker, helm: &Path, dir: &Path) -> bool {
    if !dir.join(CHART).join("Chart.yaml").is_file() {
        ck.fail(
            "helm lint",
            "no chart to lint",
            Failure::new(
                format!("a chart in {CHART}"),
                format!("no {CHART}/Chart.yaml"),
            )
            .hint("create helm/ibdb/Chart.yaml (apiVersion: v2, name, version, appVersion)"),
        );
        return false;
    }
    let args = ["lint", "--strict", CHART];
    match helm_run(helm, dir, &args) {
        Ok((true, _, _)) => {
            ck.pass(
                "helm lint",
                "helm lint --strict helm/ibdb: no errors, no warnings",
            );
            true
        }
        Ok((false, out, err)) => {
            // helm prints `[ERROR] Chart.yaml: version is required` and
            // `[WARNING] templates/: ...` lines, relative to the chart.
            let found: Vec<String> = out
                .lines()
                .chain(err.lines())
                .map(str::trim)
                .filter(|l| {
                    l.starts_with("[ERROR]")
                        || l.starts_with("[WARNING]")
                        || l.starts_with("Error:")
                })
                .map(|l| l.replacen("] ", &format!("] {CHART}/"), 1))
                .collect();
            let seen = if found.is_empty() {
                format!("{out}{err}").trim().to_string()
            } else {
                found.join("\n")
            };
            let mut hint = "run `helm lint --strict helm/ibdb` in the stage folder; each line names the file (a warning fails under --strict too)".to_string();
            if seen.contains(SCHEMA_REFUSED) {
                hint = format!("{SCHEMA_HINT}; {hint}");
            } else if seen.contains(&format!("{CHART}/Chart.yaml")) {
                hint = format!(
                    "Chart.yaml is TODO 1: description, type, version (SemVer) and appVersion (quoted); {hint}"
                );
            }
            ck.fail(
                "helm lint",
                crate::report::headline(&seen),
                Failure::new(
                    "`helm lint --strict helm/ibdb` without errors or warnings",
                    seen,
                )
                .hint(hint),
            );
            false
        }
        Err(failure) => {
            ck.fail("helm lint", "helm could not run", failure);
            false
        }
    }
}

/// The values schema, tried with values it must refuse.
fn values_schema(ck: &mut Checker, helm: &Path, dir: &Path) -> bool {
    let schema = format!("{CHART}/values.schema.json");
    if !dir.join(&schema).is_file() {
        ck.fail(
            "values schema",
            format!("{schema} is missing"),
            Failure::new(
                format!(
                    "{schema}, refusing {}",
                    BAD_VALUES
                        .iter()
                        .map(|(_, what, _)| *what)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                format!("no {schema}: helm accepts any value, a misspelled key included"),
            )
            .hint(format!(
                "write {schema} (JSON Schema; the chapter shows one)"
            )),
        );
        return false;
    }
    let mut accepted = Vec::new();
    let mut hints = Vec::new();
    for (value, what, how) in BAD_VALUES {
        let args = ["template", "ibdb", CHART, "--set", value];
        match helm_run(helm, dir, &args) {
            Ok((false, _, err)) if err.contains(SCHEMA_REFUSED) => {}
            Ok((false, _, err)) => {
                accepted.push(format!(
                    "helm template --set {value} ({what}) failed, but not on the schema: {}",
                    crate::proc::tail(err.trim(), 3)
                ));
                hints.push("fix the chart's templates first (see helm lint)".to_string());
            }
            Ok((true, _, _)) => {
                accepted.push(format!(
                    "{schema}: helm template --set {value} was accepted: the schema lets {what} through"
                ));
                hints.push(format!("refuse it: {how}"));
            }
            Err(failure) => {
                ck.fail("values schema", "helm could not run", failure);
                return false;
            }
        }
    }
    if accepted.is_empty() {
        ck.pass(
            "values schema",
            format!(
                "refuses {}",
                BAD_VALUES
                    .iter()
                    .map(|(_, what, _)| *what)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        true
    } else {
        ck.fail(
            "values schema",
            accepted[0].clone(),
            Failure::new(
                format!("helm refusing each with \"{SCHEMA_REFUSED}(s)\""),
                accepted.join("\n"),
            )
            .hint(hints.join("; ")),
        );
        false
    }
}

/// The release skaffold.yaml deploys, as `helm template` arguments.
pub struct Release {
    pub name: String,
    pub namespace: Option<String>,
    /// `--set` arguments, in skaffold's order (pkg/skaffold/helm/args.go
    /// `ConstructOverrideArgs`: setValues, then setValueTemplates expanded,
    /// each sorted by key).
    pub set: Vec<String>,
}

/// The first Helm release of `s` whose chart is helm/ibdb, with the values
/// skaffold would give it for a build of `FAKE_TAG` and `FAKE_DIGEST`.
pub fn release_of(s: &Skaffold) -> Option<Release> {
    let release = s
        .deploy
        .as_ref()?
        .helm
        .as_ref()?
        .releases
        .iter()
        .find(|r| r.chart_path.as_deref().map(|p| p.trim_end_matches('/')) == Some(CHART))?;
    let images: Vec<&str> = s
        .build
        .iter()
        .flat_map(|b| b.artifacts.iter())
        .map(|a| a.image.as_str())
        .collect();
    let mut set = Vec::new();
    for (key, value) in &release.set_values {
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        set.push(format!("{key}={text}"));
    }
    for (key, template) in &release.set_value_templates {
        let mut text = template.clone();
        for (i, image) in images.iter().enumerate() {
            let suffixes = [
                format!("_{}", skaffold::template_suffix(image)),
                if i == 0 {
                    String::new()
                } else {
                    (i + 1).to_string()
                },
            ];
            for suffix in suffixes {
                for (var, value) in [
                    ("IMAGE_TAG", FAKE_TAG.to_string()),
                    ("IMAGE_DIGEST", FAKE_DIGEST.to_string()),
                    ("IMAGE_REPO", image.to_string()),
                ] {
                    for form in [
                        format!("{{{{.{var}{suffix}}}}}"),
                        format!("{{{{ .{var}{suffix} }}}}"),
                    ] {
                        text = text.replace(&form, &value);
                    }
                }
            }
        }
        // A name skaffold does not define expands to "<no value>" (Go's
        // text/template without missingkey=error: pkg/skaffold/util/env_template.go).
        for name in skaffold::referenced(&text) {
            for form in [format!("{{{{.{name}}}}}"), format!("{{{{ .{name} }}}}")] {
                text = text.replace(&form, "<no value>");
            }
        }
        // pkg/skaffold/helm/args.go: a trailing @ is trimmed.
        let text = text.strip_suffix('@').unwrap_or(&text).to_string();
        set.push(format!("{key}={text}"));
    }
    Some(Release {
        name: release.name.clone(),
        namespace: release.namespace.clone(),
        set,
    })
}

/// `helm template` of the chart (with the release's values), each rendered
/// document named after its template, and the problems of stages 04 and 05.
fn render(
    helm: &Path,
    dir: &Path,
    release: Option<&Release>,
) -> Result<(Vec<Doc>, Vec<Problem>), Failure> {
    let name = release.map_or("ibdb", |r| r.name.as_str());
    let mut args: Vec<&str> = vec!["template", name, CHART];
    if let Some(ns) = release.and_then(|r| r.namespace.as_deref()) {
        args.extend(["--namespace", ns]);
    }
    for value in release.iter().flat_map(|r| r.set.iter()) {
        args.extend(["--set", value.as_str()]);
    }
    let (ok, out, err) = helm_run(helm, dir, &args)?;
    if !ok {
        let seen = err.trim().to_string();
        return Err(Failure::new(
            "the chart rendered with the values skaffold.yaml gives the release",
            format!("`helm {}` failed: {seen}", args.join(" ")),
        )
        .hint(if seen.contains(SCHEMA_REFUSED) {
            SCHEMA_HINT
        } else {
            "helm names the template and line; `helm lint --strict helm/ibdb` too"
        }));
    }
    let (docs, mut problems) = load_rendered(&out);
    problems.extend(rules::check(&docs));
    problems.extend(without_cluster(&docs));
    for p in &mut problems {
        if let Some(hint) = chart_probe_hint(p) {
            p.hint = hint;
        }
    }
    // Where to see the rendered lines: once per check and template, after
    // the last of its hints (each problem's own would repeat it).
    for i in 0..problems.len() {
        let (rule, file) = (problems[i].rule, problems[i].file.clone());
        let Some(template) = file.strip_suffix(" (rendered)") else {
            continue;
        };
        if problems[i + 1..]
            .iter()
            .any(|q| q.rule == rule && q.file == file)
        {
            continue;
        }
        let template = template.trim_start_matches(&format!("{CHART}/"));
        let p = &mut problems[i];
        p.hint = format!(
            "{}{}`helm template ibdb helm/ibdb --show-only {template}` prints the rendered lines",
            p.hint,
            if p.hint.is_empty() { "" } else { "; " }
        );
    }
    Ok((docs, problems))
}

/// The hint of a missing stage file: the schema is the trainee's to write
/// (TODO 3); every other file came with the starter.
fn files_hint(missing: &[&str]) -> String {
    let schema = format!("{CHART}/values.schema.json");
    let given: Vec<&str> = missing.iter().copied().filter(|f| *f != schema).collect();
    let mut hints = Vec::new();
    if missing.contains(&schema.as_str()) {
        hints.push(format!(
            "{schema} is yours to write in TODO 3 (the chapter's \"A schema for the values\"); TODOs 1 and 2 come first"
        ));
    }
    if !given.is_empty() {
        hints.push(format!(
            "{} came with the starter: `git restore {}` in the stage folder brings it back",
            given.join(", "),
            given.join(" ")
        ));
    }
    hints.join("; ")
}

/// The hint of kinds the chart does not render, each with the template
/// (and TODO) that makes it.
fn kinds_hint(missing: &[&str], parse_problems: bool) -> String {
    let mut hints: Vec<String> = missing
        .iter()
        .map(|kind| match *kind {
            "Cluster" => "the Cluster is templates/cluster.yaml (TODO 6): stage 05's Cluster inside `{{- if .Values.database.create }}`, which the release sets true (skaffold.yaml setValues)".to_string(),
            "Deployment" => "the Deployment is templates/deployment.yaml".to_string(),
            other => format!(
                "the {other} is templates/{}.yaml (given with the starter)",
                other.to_lowercase()
            ),
        })
        .collect();
    if parse_problems {
        hints.push("the chart parse problems above say why one could not be read".into());
    }
    hints.join("; ")
}

/// Stage 04's hint for a missing probe names a fixed path; the chart takes
/// its paths and the startup allowance from `.Values.probes` (TODO 5).
fn chart_probe_hint(p: &Problem) -> Option<String> {
    if p.rule != "probes" {
        return None;
    }
    let (probe, value) = [
        ("startupProbe", "livenessPath"),
        ("readinessProbe", "readinessPath"),
        ("livenessProbe", "livenessPath"),
    ]
    .into_iter()
    .find(|(probe, _)| p.hint.starts_with(&format!("add {probe}:")))?;
    let allowance = if probe == "startupProbe" {
        ", allowing .Values.probes.startupSeconds (periodSeconds × failureThreshold)"
    } else {
        ""
    };
    Some(format!(
        "add {probe} (TODO 5): httpGet on port http, path .Values.probes.{value}{allowance}"
    ))
}

/// Stage 05's rule holds DATABASE_URL against a rendered Cluster, so without
/// one it says nothing: here the chart must render the Cluster (TODO 6), and
/// the Deployment still needs DATABASE_URL from a secret (TODO 4).
fn without_cluster(docs: &[Doc]) -> Vec<Problem> {
    if docs
        .iter()
        .any(|d| matches!(d.object, Object::CnpgCluster(_)))
    {
        return Vec::new();
    }
    let mut out = Vec::new();
    for doc in docs {
        let Object::Deployment(d) = &doc.object else {
            continue;
        };
        for (i, c) in rules::containers(d).iter().enumerate() {
            let from_secret = c.env.iter().flatten().any(|e| {
                e.name == "DATABASE_URL"
                    && e.value_from
                        .as_ref()
                        .is_some_and(|v| v.secret_key_ref.is_some())
            });
            if !from_secret {
                let at = super::parse::path(&format!("spec.template.spec.containers[{i}]"));
                let line = (1..=at.len()).rev().find_map(|n| doc.line(&at[..n]));
                out.push(Problem::new(
                    "database",
                    &doc.file,
                    line,
                    format!(
                        "{}: container {} has no DATABASE_URL from a secret, so it cannot reach its database",
                        doc.title(),
                        c.name
                    ),
                    "TODO 4: env DATABASE_URL from the secret CloudNativePG writes, `{{ include \"ibdb.databaseCluster\" . }}-app`, key uri",
                ));
            }
        }
    }
    out.push(Problem::new(
        "database",
        &format!("{CHART}/templates/cluster.yaml"),
        None,
        "renders no Cluster, so nothing writes the secret DATABASE_URL comes from",
        "TODO 6: stage 05's Cluster, named `{{ include \"ibdb.databaseCluster\" . }}`, with the values of .Values.database",
    ));
    out
}

/// Rendered YAML split at helm's `# Source: CHART/templates/x.yaml` lines:
/// each document is named `helm/ibdb/templates/x.yaml (rendered)`, with
/// lines counted as `helm template --show-only templates/x.yaml` prints them.
pub fn load_rendered(text: &str) -> (Vec<Doc>, Vec<Problem>) {
    let mut docs = Vec::new();
    let mut problems = Vec::new();
    // (file, text) per document, each starting with its `---` line.
    let mut sections: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line == "---" || sections.is_empty() {
            sections.push(("helm template".to_string(), String::new()));
        }
        let Some((file, section)) = sections.last_mut() else {
            continue;
        };
        if let Some(source) = line.strip_prefix("# Source: ") {
            let template = source.split_once('/').map_or(source, |(_, rest)| rest);
            *file = format!("{CHART}/{template} (rendered)");
        }
        section.push_str(line);
        section.push('\n');
    }
    for (file, section) in sections {
        let (d, p) = super::load_text(&file, &section);
        docs.extend(d);
        problems.extend(p);
    }
    (docs, problems)
}

/// The rendered Services: (name, ports).
fn services(docs: &[Doc]) -> Vec<(String, Vec<i32>)> {
    docs.iter()
        .filter_map(|d| match &d.object {
            Object::Service(s) => Some((
                d.name.clone(),
                s.spec
                    .iter()
                    .flat_map(|spec| spec.ports.iter().flatten())
                    .map(|p| p.port)
                    .collect(),
            )),
            _ => None,
        })
        .collect()
}

/// What stage 08 asks of skaffold.yaml (rule `skaffold`), with paths
/// relative to its folder `dir`, as skaffold reads them.
pub fn stage_rules(
    doc: &Doc,
    s: &Skaffold,
    dir: &Path,
    services: &[(String, Vec<i32>)],
) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut fail = |at: &str, message: String, hint: String| {
        let at = super::parse::path(at);
        let line = (0..=at.len()).rev().find_map(|n| doc.line(&at[..n]));
        out.push(Problem::new("skaffold", &doc.file, line, message, hint));
    };
    let artifacts = s
        .build
        .as_ref()
        .map(|b| b.artifacts.as_slice())
        .unwrap_or(&[]);
    if artifacts.is_empty() {
        fail(
            "build",
            "builds no image".into(),
            "TODO 7: build.artifacts: [{image: localhost:5005/ibdb, context: ../06-ibdb, docker: {dockerfile: ../08-ship/Dockerfile}}]".into(),
        );
    }
    // The trainee's IBDb: the stage folder 06-ibdb next to this one, when
    // there is one (an exercises/ or solutions/ tree).
    let sibling = dir
        .parent()
        .map(|p| p.join("06-ibdb"))
        .filter(|p| p.is_dir());
    for (i, a) in artifacts.iter().enumerate() {
        let at = format!("build.artifacts[{i}]");
        let written = a.context.as_deref().unwrap_or(".");
        let context = dir.join(written);
        if !context.is_dir() {
            fail(
                &format!("{at}.context"),
                format!("the build context {written} is no folder (relative to skaffold.yaml: {})", crate::paths::show(&context)),
                "context: ../06-ibdb, your IBDb (paths in skaffold.yaml are relative to its folder)".into(),
            );
            continue;
        }
        if !is_ibdb(&context) {
            fail(
                &format!("{at}.context"),
                format!(
                    "the build context {written} holds no IBDb (no Cargo.toml of the package ibdb)"
                ),
                "context: ../06-ibdb, your IBDb".into(),
            );
        } else if let Some(sibling) = &sibling
            && !same(&context, sibling)
        {
            fail(
                &format!("{at}.context"),
                format!(
                    "the build context {written} is not your IBDb, which is ../06-ibdb next to this folder"
                ),
                "context: ../06-ibdb (the reference is for comparing, not for shipping)".into(),
            );
        }
        let dockerfile = a
            .docker
            .as_ref()
            .and_then(|d| d.dockerfile.as_deref())
            .unwrap_or("Dockerfile");
        let path = skaffold::dockerfile_path(dir, &context, dockerfile);
        if !path.is_file() {
            fail(
                &format!("{at}.docker"),
                format!(
                    "the Dockerfile {dockerfile} is neither in the context {written} nor next to skaffold.yaml (skaffold looks in both: pkg/skaffold/docker/dependencies.go, NormalizeDockerfilePath)"
                ),
                "docker: {dockerfile: ../08-ship/Dockerfile} (relative to the context: this folder's Dockerfile)".into(),
            );
        }
    }
    let images: Vec<&str> = artifacts.iter().map(|a| a.image.as_str()).collect();
    let defined = skaffold::template_variables(&images);
    let releases = s
        .deploy
        .as_ref()
        .and_then(|d| d.helm.as_ref())
        .map(|h| h.releases.as_slice())
        .unwrap_or(&[]);
    let Some((r_index, release)) = releases
        .iter()
        .enumerate()
        .find(|(_, r)| r.chart_path.as_deref().map(|p| p.trim_end_matches('/')) == Some(CHART))
    else {
        fail(
            "deploy",
            format!("no Helm release of the chart {CHART}"),
            "deploy.helm.releases: [{name: ibdb, chartPath: helm/ibdb, setValueTemplates: {...}}]"
                .into(),
        );
        return out;
    };
    let at = format!("deploy.helm.releases[{r_index}]");
    let mut tag_and_digest = false;
    for (key, template) in &release.set_value_templates {
        let names = skaffold::referenced(template);
        for name in &names {
            let image_name = name.starts_with("IMAGE_") || name.starts_with("DIGEST");
            if image_name && !defined.contains(name) {
                let example = images
                    .first()
                    .map(|i| format!("{{{{.IMAGE_TAG_{}}}}}", skaffold::template_suffix(i)))
                    .unwrap_or_default();
                fail(
                    &format!("{at}.setValueTemplates.{key}"),
                    format!(
                        "{{{{.{name}}}}} names no image skaffold builds, so it becomes \"<no value>\" (pkg/skaffold/util/env_template.go; the names come from the artifact's image with . - / : as _: pkg/skaffold/helm/args.go, util.SanitizeHelmTemplateValue)"
                    ),
                    format!(
                        "for the image {} write {example}",
                        images.first().unwrap_or(&"")
                    ),
                );
            }
        }
        let tag = names
            .iter()
            .any(|n| n.starts_with("IMAGE_TAG") && defined.contains(n));
        let digest = names
            .iter()
            .any(|n| n.starts_with("IMAGE_DIGEST") && defined.contains(n));
        if tag && digest && template.contains('@') {
            tag_and_digest = true;
        }
    }
    if !tag_and_digest {
        let suffix = skaffold::template_suffix(images.first().unwrap_or(&"localhost:5005/ibdb"));
        fail(
            &format!("{at}.setValueTemplates"),
            "the release does not take the built image by tag and digest: a tag alone may name another image on the nodes later (a rebuilt one, pushed under the same tag)".into(),
            format!("TODO 8: setValueTemplates: {{image.tag: \"{{{{.IMAGE_TAG_{suffix}}}}}@{{{{.IMAGE_DIGEST_{suffix}}}}}\"}}"),
        );
    }
    // The port-forward: to the Service the chart renders, on its port.
    let forwards: Vec<_> = s.port_forward.iter().enumerate().collect();
    let service_text = services
        .iter()
        .map(|(n, ports)| {
            format!(
                "{n} (port {})",
                ports
                    .iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let renders = if services.is_empty() {
        String::new()
    } else {
        format!(" (the chart renders the Service {service_text})")
    };
    let good = forwards.iter().any(|(_, f)| {
        let port = match &f.port {
            serde_json::Value::Number(n) => n.as_i64().map(|n| n as i32),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        };
        f.resource_type.eq_ignore_ascii_case("service")
            && services.iter().any(|(name, ports)| {
                *name == f.resource_name && port.is_some_and(|p| ports.contains(&p))
            })
    });
    if forwards.is_empty() {
        fail(
            "portForward",
            "no port-forward: `skaffold run --port-forward` and `skaffold dev` would not reach IBDb".into(),
            format!("TODO 9: portForward: [{{resourceType: service, resourceName: <the Service's name>, port: 8000, localPort: 8000}}]{renders}"),
        );
    } else if !good && !services.is_empty() {
        let (i, f) = forwards[0];
        fail(
            &format!("portForward[{i}]"),
            format!(
                "portForward[{i}] forwards {}/{} port {}, but the chart renders the Service {service_text}",
                f.resource_type, f.resource_name, f.port
            ),
            "resourceType: service, resourceName: the rendered Service's name (release name and chart: see _helpers.tpl), port: its port".into(),
        );
    }
    for (at, message, hint) in super::files::skaffold_profiles(s) {
        fail(&at, message, hint);
    }
    out
}

/// The images of the rendered Deployment, as the nodes pull them. k3d
/// points the nodes' containerd at the registry by its own names only
/// (k3d-io/k3d pkg/client/registry.go, RegistryGenerateK3sConfig:
/// registry.localhost:5005 and :5000, see k3d.yaml); `localhost` on a node
/// is the node itself, so an image pushed as localhost:5005/ibdb (what
/// `{{.IMAGE_REPO_...}}` expands to) is never found there.
fn node_pulls(doc: &Doc, s: &Skaffold, docs: &[Doc]) -> Vec<Problem> {
    let mut out = Vec::new();
    let release = s
        .deploy
        .as_ref()
        .and_then(|d| d.helm.as_ref())
        .and_then(|h| {
            h.releases.iter().enumerate().find(|(_, r)| {
                r.chart_path.as_deref().map(|p| p.trim_end_matches('/')) == Some(CHART)
            })
        });
    for d in docs {
        let Object::Deployment(dep) = &d.object else {
            continue;
        };
        for c in rules::containers(dep) {
            let Some(image) = c.image.as_deref() else {
                continue;
            };
            let host = image.split_once('/').map_or("", |(host, _)| host);
            let host_name = host.split(':').next().unwrap_or("");
            if !matches!(host_name, "localhost" | "127.0.0.1") {
                continue;
            }
            let message = format!(
                "{}: container {} would pull {image}, but on a node `{host_name}` is the node itself: the pull fails (ImagePullBackOff); {host} is the registry's name on your machine, for pushing",
                d.title(),
                c.name
            );
            let hint = "image.repository: registry.localhost:5005/ibdb, the registry's name inside the cluster (k3d.yaml); {{.IMAGE_REPO_...}} is the name skaffold pushed to".to_string();
            match release {
                Some((i, r))
                    if r.set_value_templates.contains_key("image.repository")
                        || r.set_values.contains_key("image.repository") =>
                {
                    let field = if r.set_value_templates.contains_key("image.repository") {
                        "setValueTemplates"
                    } else {
                        "setValues"
                    };
                    let mut at = super::parse::path(&format!("deploy.helm.releases[{i}].{field}"));
                    at.push(super::parse::Seg::Key("image.repository".into()));
                    let line = (1..=at.len()).rev().find_map(|n| doc.line(&at[..n]));
                    out.push(Problem::new("skaffold", &doc.file, line, message, hint));
                }
                _ => out.push(Problem::new(
                    "skaffold",
                    &format!("{CHART}/values.yaml"),
                    None,
                    message,
                    hint,
                )),
            }
        }
    }
    out
}

fn is_ibdb(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|text| {
        text.lines()
            .map(|l| l.replace(' ', ""))
            .any(|l| l == "name=\"ibdb\"")
    })
}

fn same(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The live part: only with skaffold, kubectl and a reachable cluster.
fn live(ck: &mut Checker, dir: &Path) {
    for tool in [Tool::Skaffold, Tool::Kubectl, Tool::Docker] {
        if !ck.has_tool(tool, "live") {
            return;
        }
    }
    if let Err(why) = crate::cluster::reachable() {
        if std::env::var("LAB_REQUIRE_CLUSTER").is_ok_and(|v| v == "1" || v == "true") {
            ck.fail(
                "live",
                "no cluster is reachable",
                Failure::new("a reachable cluster (LAB_REQUIRE_CLUSTER=1)", why)
                    .hint("cargo xtask up (the cluster and the CloudNativePG operator)"),
            );
        } else {
            ck.skip(
                "live",
                format!("no cluster is reachable ({why})"),
                "cargo xtask up (the cluster and the CloudNativePG operator), then check again",
            );
        }
        return;
    }
    let dir: PathBuf = dir.to_path_buf();
    match crate::check::live::skaffold_run(&dir) {
        Ok(message) => ck.pass("live", message),
        Err(failure) => ck.fail("live", crate::report::headline(&failure.seen), failure),
    }
}
