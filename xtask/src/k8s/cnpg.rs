//! A CloudNativePG `Cluster`, checked against the pinned operator's own CRD
//! schema: `schemas/cnpg-cluster-1.30.0.json` is the `openAPIV3Schema` of
//! cloudnative-pg v1.30.0 `config/crd/bases/postgresql.cnpg.io_clusters.yaml`
//! (chart 0.29.0 ships the same), without descriptions, CEL rules, patterns
//! and `status`. The API server validates a custom resource structurally
//! with that schema; `validate` does the same here, field by field, with the
//! line and a suggestion for an unknown field.
//!
//! Why not typed bindings: `kube-custom-resources-rs` 2024.11.1 (its newest)
//! has no `Cluster` among its `postgresql_cnpg_io` types, and `cnpg` 0.1.0 is
//! generated from an older CRD for k8s-openapi 0.24 and kube 0.99 (a second
//! k8s-openapi next to the kit's 0.29). Both serde types also accept unknown
//! fields silently. The vendored schema is the operator's word, 43 KB.
//!
//! The names the operator derives from a cluster's name, and the key of the
//! connection string, are the operator's too (see the constants).

use std::sync::LazyLock;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde_json::Value;

use super::Problem;
use super::parse::{Doc, PathText, Seg, mistyped};
use super::schema::{fits, kind_of, suggestion};
use super::yaml::{Node, Typed};

pub const API_VERSION: &str = "postgresql.cnpg.io/v1";

/// The operator whose CRD is vendored; `cluster::CNPG_OPERATOR_VERSION`
/// must be the same (a test holds them together).
pub const OPERATOR: &str = "1.30.0";

/// api/v1/cluster_types.go `ApplicationUserSecretSuffix`: the secret with
/// the owner's credentials is `<cluster>-app` (`GetApplicationSecretName`).
pub const APP_SECRET_SUFFIX: &str = "-app";
/// api/v1/cluster_types.go `ServiceReadWriteSuffix`: the primary's Service
/// is `<cluster>-rw` (`GetServiceReadWriteName`).
pub const RW_SERVICE_SUFFIX: &str = "-rw";
/// pkg/specs/secrets.go `CreateSecret`: the key holding
/// `postgresql://owner:password@<cluster>-rw.<namespace>:5432/database`.
pub const URI_KEY: &str = "uri";

pub fn app_secret(cluster: &str) -> String {
    format!("{cluster}{APP_SECRET_SUFFIX}")
}

pub fn rw_service(cluster: &str) -> String {
    format!("{cluster}{RW_SERVICE_SUFFIX}")
}

const VENDORED: &str = include_str!("schemas/cnpg-cluster-1.30.0.json");

/// The vendored file: `source`, `commit`, `operator`, `chart`, `schema`.
pub static VENDOR: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(VENDORED).expect("the vendored CNPG schema is JSON"));

fn schema() -> &'static Value {
    &VENDOR["schema"]
}

/// The fields the rules read; everything else is checked by the schema.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    pub spec: Option<ClusterSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    pub instances: Option<i64>,
    pub storage: Option<Storage>,
    pub bootstrap: Option<Bootstrap>,
    pub min_sync_replicas: Option<i64>,
    pub max_sync_replicas: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Storage {
    pub size: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Bootstrap {
    pub initdb: Option<InitDb>,
}

#[derive(Debug, Default, Deserialize)]
pub struct InitDb {
    pub database: Option<String>,
    pub owner: Option<String>,
}

/// The document as a `Cluster`: every schema problem is added to
/// `problems`; the fields the rules read, when they have the right types.
pub fn load(doc: &Doc, problems: &mut Vec<Problem>) -> Option<Cluster> {
    let start = problems.len();
    problems.extend(validate(doc));
    problems[start..].sort_by_key(|p| p.line);
    serde_json::from_value(doc.json.clone()).ok()
}

/// Every way the document breaks the operator's schema, as the API server
/// would refuse it (structural validation: types, unknown fields, enums,
/// required fields, bounds), plus unknown `metadata` fields.
pub fn validate(doc: &Doc) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut here = Vec::new();
    walk(doc, schema(), &doc.json, &mut here, &mut out);
    if let Some(metadata) = doc.json.get("metadata") {
        let mut unknown = Vec::new();
        let _: Result<ObjectMeta, _> = serde_ignored::deserialize(metadata, |p| {
            unknown.push(p.to_string());
        });
        for field in unknown {
            let at = vec![Seg::Key("metadata".into()), Seg::Key(field.clone())];
            out.push(Problem::new(
                "parse",
                &doc.file,
                doc.line(&at),
                format!("{}: unknown field {field} at metadata.{field}", doc.title()),
                "metadata holds name, namespace, labels and annotations",
            ));
        }
    }
    out
}

fn walk(doc: &Doc, schema: &Value, value: &Value, at: &mut Vec<Seg>, out: &mut Vec<Problem>) {
    // An optional field written without a value is left out, as the API
    // server's decoder does.
    if value.is_null() {
        return;
    }
    let line = || (0..=at.len()).rev().find_map(|n| doc.line(&at[..n]));
    let title = doc.title();
    let mut fail = |message: String, hint: String| {
        out.push(Problem::new("parse", &doc.file, line(), message, hint));
    };
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        if !(value.is_string() || value.is_i64() || value.is_u64()) {
            fail(
                format!(
                    "{title}: {} is {}, but the field holds an integer or a string",
                    PathText(at),
                    kind_of(value)
                ),
                "write a number such as 1 or a string such as \"1Gi\"".into(),
            );
        }
        return;
    }
    if let Some(wanted) = schema.get("type").and_then(Value::as_str)
        && !fits(wanted, value)
    {
        let node = doc.node(at).and_then(Node::scalar);
        match node {
            Some(s) if wanted == "string" && s.plain && s.value != Typed::Str => {
                out.push(mistyped(doc, at, line(), &s.text, s.value));
            }
            _ => fail(
                format!(
                    "{title}: {} is {}, but the CloudNativePG {OPERATOR} Cluster schema wants {}",
                    PathText(at),
                    kind_of(value),
                    match wanted {
                        "object" => "a mapping",
                        "array" => "a list",
                        "integer" => "an integer",
                        "boolean" => "true or false",
                        other => other,
                    }
                ),
                "see the field in `kubectl explain cluster.spec --recursive` or the CloudNativePG API reference".into(),
            ),
        }
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed
            .iter()
            .map(|v| v.to_string().replace('"', ""))
            .collect();
        fail(
            format!(
                "{title}: {} is {value}, not one of {}",
                PathText(at),
                list.join(", ")
            ),
            format!("use one of {}", list.join(", ")),
        );
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            fail(
                format!("{title}: {} is {n}, below the minimum {min}", PathText(at)),
                format!("use {min} or more"),
            );
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            fail(
                format!("{title}: {} is {n}, above the maximum {max}", PathText(at)),
                format!("use {max} or less"),
            );
        }
    }
    if let Some(text) = value.as_str() {
        let chars = text.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && chars < min
        {
            fail(
                format!(
                    "{title}: {} is empty or shorter than {min} characters",
                    PathText(at)
                ),
                "give it a value".into(),
            );
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && chars > max
        {
            fail(
                format!("{title}: {} is longer than {max} characters", PathText(at)),
                format!("shorten it to {max} characters"),
            );
        }
    }
    match value {
        Value::Object(map) => object(doc, schema, map, at, out),
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    at.push(Seg::Index(i));
                    walk(doc, item, v, at, out);
                    at.pop();
                }
            }
        }
        _ => {}
    }
}

fn object(
    doc: &Doc,
    schema: &Value,
    map: &serde_json::Map<String, Value>,
    at: &mut Vec<Seg>,
    out: &mut Vec<Problem>,
) {
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    let open = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
        || additional == Some(&Value::Bool(true));
    // `metadata` is the API server's ObjectMeta (checked in `validate`).
    if at.is_empty() {
        for key in ["apiVersion", "kind", "metadata"] {
            if !map.contains_key(key) {
                let message = format!("{}: {key} is missing", doc.title());
                out.push(Problem::new(
                    "parse",
                    &doc.file,
                    Some(doc.tree.line),
                    message,
                    format!("add {key}"),
                ));
            }
        }
    }
    for (key, v) in map {
        at.push(Seg::Key(key.clone()));
        match properties.and_then(|p| p.get(key)) {
            Some(_) if at.len() == 1 && key == "metadata" => {}
            Some(field) => walk(doc, field, v, at, out),
            None => match additional {
                Some(field) if field.is_object() => walk(doc, field, v, at, out),
                _ if open || properties.is_none() => {}
                _ => {
                    let known: Vec<&str> = properties
                        .map(|p| p.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    out.push(unknown(doc, key, at, &known));
                }
            },
        }
        at.pop();
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for key in required.iter().filter_map(Value::as_str) {
            let metadata = at.is_empty() && key == "metadata"; // checked in `validate`
            if !map.contains_key(key) && !metadata {
                let line = (0..=at.len()).rev().find_map(|n| doc.line(&at[..n]));
                let place = if at.is_empty() {
                    "the document".to_string()
                } else {
                    PathText(at).to_string()
                };
                out.push(Problem::new(
                    "parse",
                    &doc.file,
                    line,
                    format!("{}: {place} needs {key} (required by the CloudNativePG {OPERATOR} Cluster schema)", doc.title()),
                    format!("add {key}"),
                ));
            }
        }
    }
}

fn unknown(doc: &Doc, field: &str, at: &[Seg], known: &[&str]) -> Problem {
    let explain: Vec<String> = at[..at.len() - 1]
        .iter()
        .filter_map(|s| match s {
            Seg::Key(k) => Some(k.clone()),
            Seg::Index(_) => None,
        })
        .collect();
    let mut hint = suggestion(field, known, 12);
    hint.push_str(&format!(
        "`kubectl explain cluster.{}` lists them once the operator is installed",
        explain.join(".")
    ));
    Problem::new(
        "parse",
        &doc.file,
        doc.line(at),
        format!(
            "{}: unknown field {field} at {} (not in the CloudNativePG {OPERATOR} Cluster schema)",
            doc.title(),
            PathText(at)
        ),
        hint,
    )
}
