//! Stage 08: IBDb shipped with Helm and Skaffold. The folder holds a Helm
//! chart for the trainee's IBDb (`helm/ibdb`) and a `skaffold.yaml` that
//! builds their IBDb (`../06-ibdb`) and deploys the chart. Checked
//! statically (`helm lint --strict`, the values schema, the rendered chart
//! through stage 04's and 05's rules, skaffold.yaml against the pinned
//! Skaffold schema); live with `skaffold run` when a cluster is reachable.

use crate::check::proof::{Base, Edit, Expect, Mutant, Proof, replace};
use crate::check::{Checker, Stage, Stop};
use crate::tools::Tool;

pub const STAGE: Stage = Stage {
    id: "08-ship",
    title: "Shipping IBDb with Helm and Skaffold",
    needs: &[Tool::Helm],
    optional: &[
        (Tool::Skaffold, "the live check (skaffold run on the cluster)"),
        (Tool::Kubectl, "the live check (it reaches the cluster)"),
        (Tool::Docker, "the live check (it builds the image)"),
    ],
    check,
    todos: &[1, 2, 3, 4, 5, 6, 7, 8, 9],
    proof: Proof {
        // No cluster runs where the kit is tested: live is skipped.
        starter: Expect {
            skipped: &["live"],
            ..Expect::failing(&["files", "helm lint", "values schema", "skaffold"])
        },
        solution: Expect {
            passed: &[
                "files",
                "skaffold schema",
                "helm lint",
                "values schema",
                "chart render",
                "chart parse",
                "chart kinds",
                "chart security",
                "chart probes",
                "chart database",
                "skaffold",
            ],
            skipped: &["live"],
            ..Expect::NOTHING
        },
        mutants: BROKEN,
    },
};

/// Broken copies the check must catch, each named by the TODO it breaks.
const BROKEN: &[Mutant] = &[
    Mutant {
        name: "a chart without a version (TODO 1)",
        base: Base::Solution,
        edits: &[Edit::DropLines {
            file: "helm/ibdb/Chart.yaml",
            starting: "version:",
        }],
        needs: &[],
        expect: Expect {
            seen: &["helm/ibdb/Chart.yaml", "version is required"],
            hint: "Chart.yaml is TODO 1",
            ..Expect::failing(&["helm lint"])
        },
    },
    Mutant {
        name: "a schema that lets the latest tag through (TODO 3)",
        base: Base::Solution,
        edits: &[replace(
            "helm/ibdb/values.schema.json",
            "\"const\": \"latest\"",
            "\"const\": \"newest\"",
        )],
        needs: &[],
        expect: Expect {
            seen: &[
                "helm/ibdb/values.schema.json: helm template --set image.tag=latest was accepted: the schema lets the latest tag through",
            ],
            hint: "not",
            ..Expect::only(&["values schema"])
        },
    },
    Mutant {
        name: "a schema that lets a misspelled key through (TODO 3)",
        base: Base::Solution,
        edits: &[replace(
            "helm/ibdb/values.schema.json",
            "\"image\": {\n      \"type\": \"object\",\n      \"additionalProperties\": false,",
            "\"image\": {\n      \"type\": \"object\",",
        )],
        needs: &[],
        expect: Expect {
            seen: &["--set image.tga=0.1.0 was accepted"],
            hint: "additionalProperties",
            ..Expect::only(&["values schema"])
        },
    },
    Mutant {
        name: "DATABASE_URL from the wrong key of the secret (TODO 4)",
        base: Base::Solution,
        edits: &[replace(
            "helm/ibdb/templates/deployment.yaml",
            "key: uri",
            "key: url",
        )],
        needs: &[],
        expect: Expect {
            seen: &[
                "helm/ibdb/templates/deployment.yaml (rendered):",
                "DATABASE_URL reads key url of ibdb-db-app",
            ],
            hint: "--show-only templates/deployment.yaml",
            ..Expect::only(&["chart database"])
        },
    },
    Mutant {
        name: "no startup probe (TODO 5), told in the chart's terms",
        base: Base::Solution,
        edits: &[replace(
            "helm/ibdb/templates/deployment.yaml",
            "          startupProbe:\n            httpGet:\n              path: {{ .Values.probes.livenessPath }}\n              port: http\n            periodSeconds: 1\n            failureThreshold: {{ .Values.probes.startupSeconds }}\n",
            "",
        )],
        needs: &[],
        expect: Expect {
            seen: &[
                "helm/ibdb/templates/deployment.yaml (rendered):",
                "Deployment/ibdb: container ibdb has no startupProbe",
            ],
            hint: "path .Values.probes.livenessPath, allowing .Values.probes.startupSeconds",
            ..Expect::only(&["chart probes"])
        },
    },
    Mutant {
        name: "no Cluster and no DATABASE_URL yet, as before TODOs 4 and 6",
        base: Base::Solution,
        edits: &[
            replace(
                "helm/ibdb/templates/cluster.yaml",
                "{{- if .Values.database.create }}",
                "{{- if false }}",
            ),
            replace(
                "helm/ibdb/templates/deployment.yaml",
                "- name: DATABASE_URL",
                "- name: DATABASE_URI",
            ),
        ],
        needs: &[],
        expect: Expect {
            check: "chart database",
            seen: &[
                "helm/ibdb/templates/deployment.yaml (rendered):",
                "container ibdb has no DATABASE_URL from a secret",
                "helm/ibdb/templates/cluster.yaml: renders no Cluster",
            ],
            hint: "TODO 6",
            ..Expect::only(&["chart kinds", "chart database"])
        },
    },
    Mutant {
        name: "a misspelled Cluster field, with path and suggestion (TODO 6)",
        base: Base::Solution,
        edits: &[replace(
            "helm/ibdb/templates/cluster.yaml",
            "    size: {{",
            "    sise: {{",
        )],
        needs: &[],
        expect: Expect {
            seen: &[
                "helm/ibdb/templates/cluster.yaml (rendered):",
                "Cluster/ibdb-db: unknown field sise at spec.storage.sise (not in the CloudNativePG 1.30.0 Cluster schema)",
            ],
            hint: "did you mean size?",
            ..Expect::failing(&["chart parse"])
        },
    },
    Mutant {
        name: "the built image by tag only (TODO 8)",
        base: Base::Solution,
        edits: &[replace(
            "skaffold.yaml",
            "@{{.IMAGE_DIGEST_localhost_5005_ibdb}}",
            "",
        )],
        needs: &[],
        expect: Expect {
            seen: &[
                "skaffold.yaml:{line:skaffold.yaml:setValueTemplates:}: the release does not take the built image by tag and digest",
            ],
            hint: "IMAGE_DIGEST_localhost_5005_ibdb",
            ..Expect::only(&["skaffold"])
        },
    },
    // Upstream: k3d-io/k3d pkg/client/registry.go, RegistryGenerateK3sConfig
    // mirrors only the registry's own names (registry.localhost:5005 and
    // :5000) for the nodes; `localhost` on a node is the node itself.
    Mutant {
        name: "the release given the image's push name, which the nodes cannot pull (TODO 8)",
        base: Base::Solution,
        edits: &[replace(
            "skaffold.yaml",
            "image.repository: \"registry.localhost:5005/ibdb\"",
            "image.repository: \"{{.IMAGE_REPO_localhost_5005_ibdb}}\"",
        )],
        needs: &[],
        expect: Expect {
            seen: &[
                "skaffold.yaml:{line:skaffold.yaml:image.repository:}: Deployment/ibdb: container ibdb would pull localhost:5005/ibdb:",
            ],
            hint: "registry.localhost:5005/ibdb",
            ..Expect::only(&["skaffold"])
        },
    },
    Mutant {
        name: "an image variable skaffold does not define (TODO 8)",
        base: Base::Solution,
        edits: &[replace(
            "skaffold.yaml",
            "{{.IMAGE_TAG_localhost_5005_ibdb}}",
            "{{.IMAGE_TAG_ibdb}}",
        )],
        needs: &[],
        expect: Expect {
            seen: &["{{.IMAGE_TAG_ibdb}} names no image skaffold builds"],
            hint: "{{.IMAGE_TAG_localhost_5005_ibdb}}",
            ..Expect::failing(&["skaffold"])
        },
    },
    Mutant {
        name: "a context that is not IBDb (TODO 7)",
        base: Base::Solution,
        edits: &[replace("skaffold.yaml", "context: ../06-ibdb", "context: ../05-postgres")],
        needs: &[],
        expect: Expect {
            seen: &["the build context ../05-postgres holds no IBDb"],
            ..Expect::only(&["skaffold"])
        },
    },
    Mutant {
        name: "a misspelled Skaffold field, with path, line and suggestion (TODO 7)",
        base: Base::Solution,
        edits: &[replace("skaffold.yaml", "dockerfile:", "dockerFile:")],
        needs: &[],
        expect: Expect {
            seen: &[
                "skaffold.yaml:{line:skaffold.yaml:dockerFile:}: Config/ibdb: unknown field dockerFile at build.artifacts[0].docker.dockerFile (not in the Skaffold skaffold/v4beta14 schema)",
            ],
            hint: "did you mean dockerfile?",
            ..Expect::failing(&["skaffold schema"])
        },
    },
    Mutant {
        name: "a Skaffold config version other than the pinned one",
        base: Base::Solution,
        edits: &[replace(
            "skaffold.yaml",
            "apiVersion: skaffold/v4beta14",
            "apiVersion: skaffold/v4beta13",
        )],
        needs: &[],
        expect: Expect {
            seen: &[
                "skaffold.yaml:{line:skaffold.yaml:apiVersion:}: apiVersion is skaffold/v4beta13, not the pinned skaffold/v4beta14",
            ],
            hint: "skaffold fix",
            ..Expect::only(&["skaffold schema"])
        },
    },
    Mutant {
        name: "a port-forward to a Service the chart does not render (TODO 9)",
        base: Base::Solution,
        edits: &[replace(
            "skaffold.yaml",
            "resourceName: ibdb",
            "resourceName: ibdb-service",
        )],
        needs: &[],
        expect: Expect {
            seen: &["forwards service/ibdb-service port 8000, but the chart renders the Service ibdb (port 8000)"],
            ..Expect::only(&["skaffold"])
        },
    },
];

#[cfg(feature = "k8s")]
fn check(ck: &mut Checker) -> Result<(), Stop> {
    crate::k8s::stage08::check(ck)
}

/// Built without the `k8s` feature: `cargo xtask` hands stage 08 over to an
/// xtask built with it (features.rs), so only another caller gets here.
#[cfg(not(feature = "k8s"))]
fn check(ck: &mut Checker) -> Result<(), Stop> {
    let failure = crate::report::Failure::new(
        "an xtask built with stage 08's check (the `k8s` feature)",
        "this xtask was built without it, to start faster in the first stages",
    )
    .hint("run `cargo xtask verify 08`: it builds that part once (a minute or two), then checks");
    Err(ck.stop("files", "stage 08's check is not built into this xtask", failure))
}
