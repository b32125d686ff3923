//! Stage 04: Kubernetes manifests for the health service. Checked statically
//! always (YAML read as kubectl reads it, official types, unknown fields,
//! the API server's name, port, value and quantity rules, selectors, probes,
//! the restricted Pod Security Standard); live on a cluster only when one is
//! reachable.

#[cfg(feature = "k8s")]
use std::path::PathBuf;

use crate::check::proof::{Base, Expect, Mutant, Proof, replace};
use crate::check::{Checker, Stage, Stop};
#[cfg(feature = "k8s")]
use crate::k8s::{self, Doc, Object, Problem, rules};
use crate::report::Failure;
use crate::tools::Tool;

pub const STAGE: Stage = Stage {
    id: "04-kubernetes",
    title: "Kubernetes",
    needs: &[],
    optional: &[
        (Tool::Kubectl, "the live check on a cluster"),
        (Tool::Docker, "the live check (it builds the image)"),
    ],
    check,
    todos: &[],
    proof: Proof {
        // No cluster runs where the kit is tested: live is skipped.
        starter: Expect {
            skipped: &["live"],
            ..Expect::failing(&[
                "replicas",
                "image",
                "probes",
                "resources",
                "security",
                "service",
                "targetPort",
                "port",
                "config",
            ])
        },
        solution: Expect {
            passed: &[
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
            ],
            ..Expect::NOTHING
        },
        mutants: BROKEN,
    },
};

/// Broken copies the check must catch.
const BROKEN: &[Mutant] = &[
    Mutant {
        name: "a selector that misses the pod labels",
        base: Base::Solution,
        edits: &[replace(
            "k8s/deployment.yaml",
            "    matchLabels:\n      app.kubernetes.io/name: health",
            "    matchLabels:\n      app.kubernetes.io/name: helth",
        )],
        needs: &[],
        expect: Expect {
            seen: &[
                "k8s/deployment.yaml:{line:k8s/deployment.yaml:app.kubernetes.io/name: helth}:",
                "the selector app.kubernetes.io/name=helth does not match the pod template's labels (app.kubernetes.io/name=health)",
            ],
            ..Expect::only(&["selector"])
        },
    },
    Mutant {
        name: "a targetPort no container has",
        base: Base::Solution,
        edits: &[replace(
            "k8s/service.yaml",
            "targetPort: http",
            "targetPort: 8080",
        )],
        needs: &[],
        expect: Expect {
            seen: &[
                "k8s/service.yaml:{line:k8s/service.yaml:targetPort:}:",
                "port 8000 (http) sends traffic to targetPort 8080, but the selected pods have no such container port (they have http=8000)",
            ],
            ..Expect::only(&["targetPort"])
        },
    },
    Mutant {
        name: "a misspelled field, with path, line and suggestion",
        base: Base::Solution,
        edits: &[replace(
            "k8s/deployment.yaml",
            "imagePullPolicy:",
            "imagePullPolice:",
        )],
        needs: &[],
        expect: Expect {
            seen: &[
                "k8s/deployment.yaml:{line:k8s/deployment.yaml:imagePullPolice:}: Deployment/health: unknown field imagePullPolice at spec.template.spec.containers[0].imagePullPolice",
            ],
            hint: "did you mean imagePullPolicy?",
            ..Expect::only(&["parse"])
        },
    },
    Mutant {
        name: "the latest tag",
        base: Base::Solution,
        edits: &[replace(
            "k8s/deployment.yaml",
            "health:0.1.0",
            "health:latest",
        )],
        needs: &[],
        expect: Expect {
            seen: &[
                "k8s/deployment.yaml:{line:k8s/deployment.yaml:image: registry.localhost}:",
                "uses the latest tag",
            ],
            ..Expect::only(&["image"])
        },
    },
    Mutant {
        name: "a root user",
        base: Base::Solution,
        edits: &[replace(
            "k8s/deployment.yaml",
            "runAsUser: 65532",
            "runAsUser: 0",
        )],
        needs: &[],
        expect: Expect {
            seen: &[
                "k8s/deployment.yaml:{line:k8s/deployment.yaml:runAsUser:}: Deployment/health: container health runs as root (runAsUser: 0)",
            ],
            ..Expect::only(&["security"])
        },
    },
    Mutant {
        name: "a wrong type, with its line",
        base: Base::Solution,
        edits: &[replace(
            "k8s/deployment.yaml",
            "replicas: 3",
            "replicas: three",
        )],
        needs: &[],
        expect: Expect {
            check: "parse",
            seen: &[
                "deployment.yaml:{line:k8s/deployment.yaml:replicas:}: Deployment/health does not fit the Deployment schema: spec.replicas: invalid type: string \"three\", expected i32",
            ],
            ..Expect::failing(&["kinds"])
        },
    },
    Mutant {
        name: "a Service selecting nothing",
        base: Base::Solution,
        edits: &[replace(
            "k8s/service.yaml",
            "  selector:\n    app.kubernetes.io/name: health",
            "  selector:\n    app: health",
        )],
        needs: &[],
        expect: Expect {
            seen: &[
                "the selector app=health matches the pods of no Deployment in these files (health has app.kubernetes.io/name=health)",
            ],
            ..Expect::only(&["service"])
        },
    },
];

#[cfg(feature = "k8s")]
const FILES: &[&str] = &["deployment.yaml", "service.yaml", "configmap.yaml"];

/// The image the live check builds and the manifests must name.
#[cfg(feature = "k8s")]
pub const IMAGE_REPO: &str = "registry.localhost:5005/health";

/// Built without the `k8s` feature: `cargo xtask` hands stage 04 over to an
/// xtask built with it (features.rs), so only another caller gets here.
#[cfg(not(feature = "k8s"))]
fn check(ck: &mut Checker) -> Result<(), Stop> {
    let failure = Failure::new(
        "an xtask built with stage 04's check (the `k8s` feature)",
        "this xtask was built without it, to start faster in the first stages",
    )
    .hint("run `cargo xtask verify 04`: it builds that part once (a minute or two), then checks");
    Err(ck.stop("parse", "stage 04's check is not built into this xtask", failure))
}

#[cfg(feature = "k8s")]
fn check(ck: &mut Checker) -> Result<(), Stop> {
    let dir = ck.dir.join("k8s");
    let files: Vec<PathBuf> = FILES.iter().map(|f| dir.join(f)).collect();
    let missing: Vec<&str> = FILES
        .iter()
        .zip(&files)
        .filter(|(_, p)| !p.is_file())
        .map(|(f, _)| *f)
        .collect();
    ck.require(
        "files",
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Failure::new(
                "k8s/deployment.yaml, k8s/service.yaml and k8s/configmap.yaml",
                format!("missing: {}", missing.join(", ")),
            )
            .hint("create the files in the stage folder's k8s/ folder (see the README)"))
        },
        |_| "k8s/deployment.yaml, service.yaml, configmap.yaml".into(),
    )?;

    let (docs, mut problems) = k8s::check_files(&files);
    problems.extend(stage_rules(&docs));
    // Parse problems first: they say why an object could not be read.
    let mut all_passed = report(ck, "parse", &problems);
    let kinds = expect_kinds(&docs);
    ck.require("kinds", kinds, |titles| titles.join(", "))?;
    for &rule in rules::RULES.iter().chain(STAGE_RULES).skip(1) {
        if matches!(rule, "database" | "cluster") && !problems.iter().any(|p| p.rule == rule) {
            continue; // not stage 04's: CNPG, k3d and skaffold files
        }
        all_passed &= report(ck, rule, &problems);
    }
    if !all_passed {
        ck.skip(
            "live",
            "the static checks failed, so the manifests were not applied",
            "fix the problems above first",
        );
        return Ok(());
    }
    live(ck)
}

/// Passes or fails `rule` with every problem it found; true when it passed.
#[cfg(feature = "k8s")]
fn report(ck: &mut Checker, rule: &str, problems: &[Problem]) -> bool {
    crate::k8s::report(ck, rule, problems, rule, expected(rule), passed_message(rule))
}

#[cfg(feature = "k8s")]
fn expect_kinds(docs: &[Doc]) -> Result<Vec<String>, Failure> {
    let mut titles = Vec::new();
    for (file, kind) in FILES.iter().zip(["Deployment", "Service", "ConfigMap"]) {
        match docs
            .iter()
            .find(|d| d.file.ends_with(&format!("k8s/{file}")) && d.kind == kind)
        {
            Some(doc) if !matches!(doc.object, Object::Other) => titles.push(doc.title()),
            _ => {
                let problems_hint = "the parse problems above say why it could not be read";
                return Err(Failure::new(
                    format!("a {kind} in k8s/{file}"),
                    format!("no {kind} could be read from k8s/{file}"),
                )
                .hint(format!(
                    "start the file with apiVersion: {} and kind: {kind}; {problems_hint}",
                    if kind == "Deployment" {
                        "apps/v1"
                    } else {
                        "v1"
                    }
                )));
            }
        }
    }
    Ok(titles)
}

#[cfg(feature = "k8s")]
const STAGE_RULES: &[&str] = &["replicas", "port"];

/// What stage 04 asks beyond the general rules: 3 replicas, a ClusterIP
/// Service with a named port 8000, the ConfigMap read as environment.
#[cfg(feature = "k8s")]
fn stage_rules(docs: &[Doc]) -> Vec<Problem> {
    let mut out = Vec::new();
    for doc in docs {
        match &doc.object {
            Object::Deployment(d) => {
                for (i, c) in d
                    .spec
                    .iter()
                    .flat_map(|s| s.template.spec.iter())
                    .flat_map(|p| p.containers.iter())
                    .enumerate()
                {
                    let image = c.image.as_deref().unwrap_or("");
                    if !image.is_empty() && !image.starts_with(&format!("{IMAGE_REPO}:")) {
                        out.push(Problem::new(
                            "image",
                            &doc.file,
                            doc.line(&k8s::parse::path(&format!(
                                "spec.template.spec.containers[{i}].image"
                            ))),
                            format!(
                                "{}: container {} runs {image}, not the image pushed to the cluster's registry",
                                doc.title(),
                                c.name
                            ),
                            format!("use {IMAGE_REPO}:TAG (cargo xtask cluster create starts that registry)"),
                        ));
                    }
                }
                let replicas = d.spec.as_ref().and_then(|s| s.replicas);
                if replicas != Some(3) {
                    out.push(Problem::new(
                        "replicas",
                        &doc.file,
                        doc.line(&k8s::parse::path("spec.replicas"))
                            .or(doc.line(&k8s::parse::path("spec"))),
                        format!(
                            "{}: spec.replicas is {}",
                            doc.title(),
                            replicas.map_or("not set (1)".into(), |r| r.to_string())
                        ),
                        "run three pods: replicas: 3",
                    ));
                }
                let reads_config = d
                    .spec
                    .as_ref()
                    .and_then(|s| s.template.spec.as_ref())
                    .is_some_and(|p| {
                        p.containers.iter().any(|c| {
                            c.env_from
                                .iter()
                                .flatten()
                                .any(|e| e.config_map_ref.is_some())
                                || c.env.iter().flatten().any(|e| {
                                    e.value_from
                                        .as_ref()
                                        .is_some_and(|v| v.config_map_key_ref.is_some())
                                })
                        })
                    });
                if !reads_config {
                    out.push(Problem::new(
                        "config",
                        &doc.file,
                        doc.line(&k8s::parse::path("spec.template.spec.containers[0]")),
                        format!("{}: no container reads the ConfigMap", doc.title()),
                        "add envFrom: [{configMapRef: {name: health-config}}] to the container",
                    ));
                }
            }
            Object::Service(s) => {
                let spec = s.spec.clone().unwrap_or_default();
                let kind = spec.type_.as_deref().unwrap_or("ClusterIP");
                if kind != "ClusterIP" {
                    out.push(Problem::new(
                        "port",
                        &doc.file,
                        doc.line(&k8s::parse::path("spec.type")),
                        format!("{}: type is {kind}", doc.title()),
                        "use type: ClusterIP (the default): reach it with kubectl port-forward",
                    ));
                }
                let ports = spec.ports.unwrap_or_default();
                if !ports
                    .iter()
                    .any(|p| p.port == 8000 && p.name.as_deref().is_some_and(|n| !n.is_empty()))
                {
                    out.push(Problem::new(
                        "port",
                        &doc.file,
                        doc.line(&k8s::parse::path("spec.ports"))
                            .or(doc.line(&k8s::parse::path("spec"))),
                        format!("{}: no named port 8000", doc.title()),
                        "add ports: [{name: http, port: 8000, targetPort: http}]",
                    ));
                }
            }
            Object::ConfigMap(c) if c.data.as_ref().is_none_or(|d| d.is_empty()) => {
                out.push(Problem::new(
                    "config",
                    &doc.file,
                    doc.line(&k8s::parse::path("data")),
                    format!("{}: no data", doc.title()),
                    "put the configuration in data, for example RUST_LOG: info",
                ));
            }
            _ => {}
        }
    }
    out
}

#[cfg(feature = "k8s")]
fn expected(rule: &str) -> String {
    match rule {
        "parse" => format!(
            "every field known to Kubernetes {}, every value of the right type as kubectl reads it",
            k8s::parse::kubernetes_version()
        ),
        "names" => "names, label keys and label values the API server accepts".into(),
        "selector" => "spec.selector.matchLabels equal to labels of spec.template.metadata.labels".into(),
        "image" => "an image with a pinned tag (not latest)".into(),
        "values" => "imagePullPolicy, protocol, scheme and Service type among their supported values".into(),
        "ports" => "port numbers 1-65535, valid and unique port names, a name on each of several ports".into(),
        "probes" => "startupProbe, readinessProbe and livenessProbe on a container port".into(),
        "resources" => "requests.cpu, requests.memory and limits.memory, valid quantities, requests not above limits".into(),
        "security" => "the restricted Pod Security Standard".into(),
        "config" => "the ConfigMap read as environment".into(),
        "service" => "a Service whose selector matches the pods".into(),
        "targetPort" => "ports whose targetPort names a container port (by name or number)".into(),
        "replicas" => "spec.replicas: 3".into(),
        "port" => "a ClusterIP Service with a named port 8000".into(),
        _ => "no problems".into(),
    }
}

#[cfg(feature = "k8s")]
fn passed_message(rule: &str) -> String {
    match rule {
        "parse" => format!(
            "every document fits the Kubernetes {} types as kubectl reads them; no unknown fields",
            k8s::parse::kubernetes_version()
        ),
        "names" => "names and labels are valid".into(),
        "selector" => "the selector matches the pod template labels".into(),
        "image" => "images have pinned tags".into(),
        "values" => "supported values".into(),
        "ports" => "valid port numbers and names".into(),
        "probes" => "startup, readiness and liveness probes on a container port".into(),
        "resources" => "requests and a memory limit, valid quantities".into(),
        "security" => "restricted Pod Security Standard".into(),
        "config" => "the ConfigMap is read as environment".into(),
        "service" => "the Service selects the Deployment's pods".into(),
        "targetPort" => "targetPort matches a container port".into(),
        "replicas" => "3 replicas".into(),
        "port" => "ClusterIP with a named port 8000".into(),
        _ => "ok".into(),
    }
}

/// The live part: only with kubectl and a reachable cluster.
#[cfg(feature = "k8s")]
fn live(ck: &mut Checker) -> Result<(), Stop> {
    if !ck.has_tool(Tool::Kubectl, "live") {
        return Ok(());
    }
    if let Err(why) = crate::cluster::reachable() {
        if std::env::var("LAB_REQUIRE_CLUSTER").is_ok_and(|v| v == "1" || v == "true") {
            ck.fail(
                "live",
                "no cluster is reachable",
                Failure::new("a reachable cluster (LAB_REQUIRE_CLUSTER=1)", why)
                    .hint("cargo xtask cluster create"),
            );
        } else {
            ck.skip(
                "live",
                format!("no cluster is reachable ({why})"),
                "cargo xtask cluster create, then check again",
            );
        }
        return Ok(());
    }
    match crate::check::live::on_cluster(&ck.dir) {
        Ok(message) => ck.pass("live", message),
        Err(failure) => ck.fail("live", crate::report::headline(&failure.seen), failure),
    }
    Ok(())
}
