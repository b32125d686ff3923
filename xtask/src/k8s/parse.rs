//! YAML files into typed Kubernetes objects: syntax and type errors with
//! their line, unknown (often misspelled) fields with their path and line.
//! Scalars are typed as kubectl types them (see `yaml`), so an unquoted
//! `8000` or `yes` where Kubernetes wants a string is caught here, as the
//! API server would refuse it.

use std::fmt;
use std::path::Path;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use serde::de::DeserializeOwned;

use super::yaml::{self, Node, Typed};
use super::{Object, Problem, cnpg};
use crate::paths;

/// One YAML document of a file, parsed.
#[derive(Debug)]
pub struct Doc {
    pub file: String,
    /// Line (1-based) of the file where the document starts.
    pub first_line: usize,
    /// The document, with the line of every node.
    pub tree: Node,
    /// What kubectl would send for it.
    pub json: serde_json::Value,
    pub kind: String,
    pub name: String,
    pub object: Object,
}

impl Doc {
    /// The file line of `path` in this document (of the key, for a field),
    /// when the path exists.
    pub fn line(&self, path: &[Seg]) -> Option<usize> {
        node_at(&self.tree, path).map(|(line, _)| line)
    }

    /// The node at `path`.
    pub fn node(&self, path: &[Seg]) -> Option<&Node> {
        node_at(&self.tree, path).map(|(_, node)| node)
    }

    /// `Kind/name`, as kubectl prints it.
    pub fn title(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

/// The line and node at `path` below `root`.
fn node_at<'a>(root: &'a Node, path: &[Seg]) -> Option<(usize, &'a Node)> {
    let mut node = root;
    let mut line = root.line;
    for seg in path {
        match seg {
            Seg::Key(key) => {
                let (k, v) = node.entry(key)?;
                line = k.line;
                node = v;
            }
            Seg::Index(index) => {
                node = node.item(*index)?;
                line = node.line;
            }
        }
    }
    Some((line, node))
}

/// The Kubernetes minor version of the schema compiled in (k8s-openapi's
/// version feature), for messages: "1.34".
pub fn kubernetes_version() -> String {
    let mut minors: Vec<u32> = Vec::new();
    k8s_openapi::k8s_if_ge_1_33! { minors.push(33); }
    k8s_openapi::k8s_if_ge_1_34! { minors.push(34); }
    k8s_openapi::k8s_if_ge_1_35! { minors.push(35); }
    k8s_openapi::k8s_if_ge_1_36! { minors.push(36); }
    k8s_openapi::k8s_if_ge_1_37! { minors.push(37); }
    match minors.last() {
        Some(minor) => format!("1.{minor}"),
        None => "(unknown)".to_string(),
    }
}

/// One step of a path into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// `spec.template.spec.containers[0].image`.
pub struct PathText<'a>(pub &'a [Seg]);

impl fmt::Display for PathText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(key) if i == 0 => write!(f, "{key}")?,
                Seg::Key(key) => write!(f, ".{key}")?,
                Seg::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Builds a path from `"spec.template.spec.containers"`-style text and indices.
pub fn path(text: &str) -> Vec<Seg> {
    text.split('.')
        .flat_map(|part| match part.split_once('[') {
            Some((key, rest)) => {
                let index = rest.trim_end_matches(']').parse().unwrap_or(0);
                vec![Seg::Key(key.to_string()), Seg::Index(index)]
            }
            None => vec![Seg::Key(part.to_string())],
        })
        .collect()
}

/// Reads and parses every file; problems are those of parsing.
pub fn load_files(files: &[impl AsRef<Path>]) -> (Vec<Doc>, Vec<Problem>) {
    let mut docs = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        let file = file.as_ref();
        match std::fs::read_to_string(file) {
            Ok(text) => {
                let (d, p) = load_text(&paths::show(file), &text);
                docs.extend(d);
                problems.extend(p);
            }
            Err(e) => problems.push(Problem::new(
                "parse",
                &paths::show(file),
                None,
                format!("cannot be read: {e}"),
                "",
            )),
        }
    }
    (docs, problems)
}

const SYNTAX_HINT: &str = "check the indentation and the value's type (numbers unquoted, strings quoted when they look like numbers)";

/// A plain value that starts with `{{` (a Skaffold template, say) opens a
/// YAML flow mapping, and what follows the closing braces breaks it.
const TEMPLATE_HINT: &str = "quote the value: one that starts with {{ is read as a YAML mapping, not as text (write \"{{...}}\")";

/// Whether the value on `line` (after `key: ` or `- `) starts with `{{`.
fn starts_with_a_template(line: &str) -> bool {
    let line = line.trim_start();
    line.split_once(": ")
        .map(|(_, value)| value)
        .or_else(|| line.strip_prefix("- "))
        .is_some_and(|value| value.trim_start().starts_with("{{"))
}

/// Splits `text` at `---` lines and parses each document.
pub fn load_text(file: &str, text: &str) -> (Vec<Doc>, Vec<Problem>) {
    let mut docs = Vec::new();
    let mut problems = Vec::new();
    for (first_line, chunk) in split_documents(text) {
        let syntax = |e: yaml::SyntaxError| {
            let line = text.lines().nth(e.line.saturating_sub(1)).unwrap_or("");
            Problem::new(
                "parse",
                file,
                Some(e.line),
                format!("this is not valid YAML: {}", e.message),
                if starts_with_a_template(line) {
                    TEMPLATE_HINT
                } else {
                    SYNTAX_HINT
                },
            )
        };
        let tree = match yaml::parse(&chunk, first_line) {
            Ok(Some(tree)) => tree,
            Ok(None) => continue, // only comments
            Err(e) => {
                problems.push(syntax(e));
                continue;
            }
        };
        for (key, first, again) in yaml::duplicate_keys(&tree) {
            problems.push(Problem::new(
                "parse",
                file,
                Some(again),
                format!(
                    "the key {key} appears twice in one mapping (first on line {first}); YAML forbids that, and a lenient reader such as kubectl's YAML library keeps only this last one"
                ),
                "keep one of them: YAML forbids a key twice in the same mapping (merge the two, for example both lists of env)",
            ));
        }
        let value = match yaml::to_json(&tree) {
            Ok(value) => value,
            Err(e) => {
                problems.push(syntax(e));
                continue;
            }
        };
        if value.is_null() {
            continue;
        }
        let field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_string);
        let (Some(api_version), Some(kind)) = (field("apiVersion"), field("kind")) else {
            problems.push(Problem::new(
                "parse",
                file,
                Some(tree.line),
                "a document without apiVersion and kind",
                "every Kubernetes object starts with apiVersion and kind, for example apiVersion: apps/v1 and kind: Deployment",
            ));
            continue;
        };
        let name = value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or("(no name)")
            .to_string();
        let mut doc = Doc {
            file: file.to_string(),
            first_line,
            tree,
            json: value,
            kind: kind.clone(),
            name,
            object: Object::Other,
        };
        let object = match (api_version.as_str(), kind.as_str()) {
            ("apps/v1", "Deployment") => typed::<Deployment>(&mut doc, &mut problems)
                .map(|d| Object::Deployment(Box::new(d))),
            ("v1", "Service") => {
                typed::<Service>(&mut doc, &mut problems).map(|s| Object::Service(Box::new(s)))
            }
            ("v1", "ConfigMap") => {
                typed::<ConfigMap>(&mut doc, &mut problems).map(|c| Object::ConfigMap(Box::new(c)))
            }
            ("v1", "Secret") => typed::<Secret>(&mut doc, &mut problems).map(|_| Object::Secret),
            // A custom resource: checked against the operator's own schema.
            (cnpg::API_VERSION, "Cluster") => {
                cnpg::load(&doc, &mut problems).map(|c| Object::CnpgCluster(Box::new(c)))
            }
            (super::files::K3D_API, "Simple") => {
                typed::<super::files::K3d>(&mut doc, &mut problems)
                    .map(|c| Object::K3d(Box::new(c)))
            }
            // Checked against Skaffold's own schema (every field Skaffold
            // knows); the fields the rules read are then taken from it.
            (super::files::SKAFFOLD_API, "Config") => {
                let found = super::skaffold::validate(&doc);
                let clean = found.is_empty();
                problems.extend(found);
                match serde_json::from_value::<super::files::Skaffold>(doc.json.clone()) {
                    Ok(config) => Some(Object::Skaffold(Box::new(config))),
                    Err(e) if clean => {
                        problems.push(Problem::new(
                            "parse",
                            file,
                            Some(doc.tree.line),
                            format!("{}: cannot be read: {e}", doc.title()),
                            "compare it with skaffold.dev/docs/references/yaml",
                        ));
                        None
                    }
                    Err(_) => None,
                }
            }
            (_, "Deployment" | "Service" | "ConfigMap" | "Secret") => {
                let expected = if kind == "Deployment" {
                    "apps/v1"
                } else {
                    "v1"
                };
                problems.push(Problem::new(
                    "parse",
                    file,
                    doc.line(&path("apiVersion")),
                    format!("{kind}: apiVersion {api_version} is not served for this kind"),
                    format!("use apiVersion: {expected}"),
                ));
                None
            }
            _ => Some(Object::Other),
        };
        if let Some(object) = object {
            doc.object = object;
            docs.push(doc);
        }
    }
    (docs, problems)
}

/// Deserialises the document into `T`, reporting every field `T` does not
/// know, and every unquoted scalar kubectl reads as a number, boolean or null
/// where Kubernetes wants a string.
fn typed<T: DeserializeOwned>(doc: &mut Doc, problems: &mut Vec<Problem>) -> Option<T> {
    let start = problems.len();
    let value = typed_rounds(doc, problems);
    // Fields come in the order of the JSON map (sorted), not the file's.
    problems[start..].sort_by_key(|p| p.line);
    value
}

fn typed_rounds<T: DeserializeOwned>(doc: &mut Doc, problems: &mut Vec<Problem>) -> Option<T> {
    let version = kubernetes_version();
    let mut json = doc.json.clone();
    // Each round finds one mistyped scalar; it is reported, read as the
    // string that was meant, and the object parsed again, so one run lists
    // them all and the other checks still see the object.
    for _ in 0..64 {
        let mut unknown: Vec<Vec<Seg>> = Vec::new();
        let mut track = serde_path_to_error::Track::new();
        let result: Result<T, serde_json::Error> = serde_ignored::deserialize(
            serde_path_to_error::Deserializer::new(&json, &mut track),
            |path| unknown.push(segments(&path)),
        );
        match result {
            Ok(value) => {
                for path in unknown {
                    let line = doc.line(&path);
                    let Some(Seg::Key(field)) = path.last() else {
                        continue;
                    };
                    let mut hint = match suggest(field) {
                        Some(known) => format!("did you mean {known}? "),
                        None => String::new(),
                    };
                    hint.push_str(&format!(
                        "`kubectl explain {}` lists the fields of this object",
                        explain_path(&doc.kind, &path)
                    ));
                    problems.push(Problem::new(
                        "parse",
                        &doc.file,
                        line,
                        format!(
                            "{}: unknown field {field} at {} (not in the Kubernetes {version} schema)",
                            doc.title(),
                            PathText(&path)
                        ),
                        hint,
                    ));
                }
                return Some(value);
            }
            Err(e) => {
                let at = error_path(&track.path());
                let line = (0..=at.len())
                    .rev()
                    .find_map(|n| doc.line(&at[..n]))
                    .or(Some(doc.tree.line));
                let wants_string = e.to_string().contains("expected a string");
                match doc.node(&at).and_then(Node::scalar) {
                    // Go's encoding/json leaves a string empty for null
                    // (kubectl sends `PORT:` as ""), so that is no error here.
                    Some(scalar) if scalar.value == Typed::Null && wants_string => {
                        if !replace(&mut json, &at, "") {
                            return None;
                        }
                    }
                    Some(scalar) if scalar.plain && scalar.value != Typed::Str && wants_string => {
                        problems.push(mistyped(doc, &at, line, &scalar.text, scalar.value));
                        if !replace(&mut json, &at, &scalar.text) {
                            return None;
                        }
                    }
                    _ => {
                        problems.push(Problem::new(
                            "parse",
                            &doc.file,
                            line,
                            format!(
                                "{} does not fit the {} schema: {}: {e}",
                                doc.title(),
                                doc.kind,
                                PathText(&at)
                            ),
                            SYNTAX_HINT,
                        ));
                        return None;
                    }
                }
            }
        }
    }
    None
}

/// An unquoted `8000`/`yes`/`1.0` where a string belongs.
pub(super) fn mistyped(
    doc: &Doc,
    at: &[Seg],
    line: Option<usize>,
    text: &str,
    value: Typed,
) -> Problem {
    let key = match at.last() {
        Some(Seg::Key(key)) => format!("{key}: "),
        _ => "- ".to_string(),
    };
    let shown = if text.is_empty() { "(nothing)" } else { text };
    // k3d.yaml and skaffold.yaml are read by their own tools, not the API server.
    let api_version = doc.json.get("apiVersion").and_then(|v| v.as_str());
    let kubernetes =
        !api_version.is_some_and(|v| v == super::files::K3D_API || v == super::files::SKAFFOLD_API);
    let message = if kubernetes {
        format!(
            "{}: {} is {shown}, unquoted, which kubectl reads as {} (YAML 1.1, as sigs.k8s.io/yaml decodes it), but the field holds a string: the API server refuses the object",
            doc.title(),
            PathText(at),
            value.describe()
        )
    } else {
        format!(
            "{}: {} is {shown}, unquoted, which YAML 1.1 reads as {}, but the field holds a string",
            doc.title(),
            PathText(at),
            value.describe()
        )
    };
    Problem::new(
        "parse",
        &doc.file,
        line,
        message,
        format!(
            "quote it: {key}\"{text}\" (unquoted yes/no/on/off/y/n/true/false are booleans, 8000, 1.0 and 0x1F numbers, ~ and null nothing)"
        ),
    )
}

/// Sets the JSON value at `at` to the string `text`; false when not found.
fn replace(json: &mut serde_json::Value, at: &[Seg], text: &str) -> bool {
    let mut here = json;
    for seg in at {
        let next = match seg {
            Seg::Key(key) => here.get_mut(key.as_str()),
            Seg::Index(index) => here.get_mut(*index),
        };
        match next {
            Some(next) => here = next,
            None => return false,
        }
    }
    *here = serde_json::Value::String(text.to_string());
    true
}

fn error_path(path: &serde_path_to_error::Path) -> Vec<Seg> {
    use serde_path_to_error::Segment;
    let mut out = Vec::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push(Seg::Index(*index)),
            Segment::Map { key } => out.push(Seg::Key(key.clone())),
            Segment::Enum { .. } | Segment::Unknown => break,
        }
    }
    out
}

fn segments(path: &serde_ignored::Path) -> Vec<Seg> {
    use serde_ignored::Path as P;
    match path {
        P::Root => Vec::new(),
        P::Seq { parent, index } => {
            let mut v = segments(parent);
            v.push(Seg::Index(*index));
            v
        }
        P::Map { parent, key } => {
            let mut v = segments(parent);
            v.push(Seg::Key(key.clone()));
            v
        }
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            segments(parent)
        }
    }
}

/// `deployment.spec.template.spec.containers` for `kubectl explain`.
fn explain_path(kind: &str, path: &[Seg]) -> String {
    let mut out = kind.to_lowercase();
    for seg in &path[..path.len().saturating_sub(1)] {
        if let Seg::Key(key) = seg {
            out.push('.');
            out.push_str(key);
        }
    }
    out
}

/// Splits at `---` lines: (line of the file before the document's first line, text).
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        if line == "---" || line.starts_with("--- ") {
            docs.push((start, std::mem::take(&mut current)));
            start = i + 1;
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    docs.push((start, current));
    docs
}

/// Field names the course's manifests use, for "did you mean".
const KNOWN_FIELDS: &[&str] = &[
    "allowPrivilegeEscalation",
    "annotations",
    "apiVersion",
    "args",
    "bootstrap",
    "capabilities",
    "command",
    "configMapKeyRef",
    "configMapRef",
    "containerPort",
    "containers",
    "cpu",
    "data",
    "database",
    "drop",
    "env",
    "envFrom",
    "failureThreshold",
    "httpGet",
    "image",
    "imageName",
    "imagePullPolicy",
    "initdb",
    "initialDelaySeconds",
    "instances",
    "key",
    "kind",
    "labels",
    "limits",
    "livenessProbe",
    "matchLabels",
    "memory",
    "metadata",
    "name",
    "namespace",
    "owner",
    "path",
    "periodSeconds",
    "port",
    "ports",
    "protocol",
    "readOnlyRootFilesystem",
    "readinessProbe",
    "replicas",
    "requests",
    "resources",
    "runAsGroup",
    "runAsNonRoot",
    "runAsUser",
    "secretKeyRef",
    "securityContext",
    "seccompProfile",
    "selector",
    "size",
    "spec",
    "startupProbe",
    "storage",
    "storageClass",
    "targetPort",
    "template",
    "terminationGracePeriodSeconds",
    "timeoutSeconds",
    "type",
    "value",
    "valueFrom",
    "volumeMounts",
    "volumes",
];

fn suggest(field: &str) -> Option<&'static str> {
    KNOWN_FIELDS
        .iter()
        .map(|known| {
            (
                distance(&field.to_lowercase(), &known.to_lowercase()),
                *known,
            )
        })
        .filter(|&(d, _)| d <= 2)
        .min()
        .map(|(_, known)| known)
}

/// Levenshtein distance.
pub(super) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let old = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            prev = old;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: a
        image: a:1
      - name: b
        image: b:1
        imagePullPolice: Always
";

    #[test]
    fn unknown_fields_are_found_with_path_and_line() {
        let (docs, problems) = load_text("d.yaml", &format!("# a comment\n---\n{DEPLOYMENT}"));
        assert_eq!(docs.len(), 1);
        assert_eq!(problems.len(), 1, "{problems:?}");
        let p = &problems[0];
        assert_eq!(p.line, Some(15));
        assert!(
            p.message
                .contains("imagePullPolice at spec.template.spec.containers[1].imagePullPolice"),
            "{}",
            p.message
        );
        assert!(
            p.hint.contains("did you mean imagePullPolicy?"),
            "{}",
            p.hint
        );
    }

    #[test]
    fn lines_follow_lists() {
        let (docs, _) = load_text("d.yaml", DEPLOYMENT);
        let path = path("spec.template.spec.containers[1].image");
        assert_eq!(docs[0].line(&path), Some(12));
        assert_eq!(
            docs[0].line(&super::path("spec.template.spec.containers[1]")),
            Some(11)
        );
    }

    // kubectl decodes YAML with sigs.k8s.io/yaml (yaml.go YAMLToJSON, YAML 1.1
    // typing of goyaml.v2/resolve.go): these reach the API server as a number
    // and a boolean in a map of strings, which it refuses.
    #[test]
    fn unquoted_numbers_and_booleans_in_string_fields_are_found() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels:\n    beta: yes\ndata:\n  PORT: 8000\n  RATIO: 1.0\n  RUST_LOG: info\n  EMPTY:\n";
        let (docs, problems) = load_text("c.yaml", text);
        assert_eq!(docs.len(), 1, "the object is still read: {problems:#?}");
        let found: Vec<(Option<usize>, &str)> = problems
            .iter()
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        assert_eq!(
            found.len(),
            3,
            "sigs.k8s.io/yaml yaml.go + goyaml.v2/resolve.go: {found:#?}"
        );
        assert_eq!(found[0].0, Some(6));
        assert!(
            found[0].1.contains(
                "metadata.labels.beta is yes, unquoted, which kubectl reads as a boolean"
            ),
            "{}",
            found[0].1
        );
        assert_eq!(found[1].0, Some(8));
        assert!(
            found[1]
                .1
                .contains("data.PORT is 8000, unquoted, which kubectl reads as a number"),
            "{}",
            found[1].1
        );
        assert!(
            problems[1].hint.starts_with("quote it: PORT: \"8000\""),
            "{}",
            problems[1].hint
        );
        assert_eq!(found[2].0, Some(9));
    }

    #[test]
    fn an_unquoted_port_in_k3d_yaml_is_not_blamed_on_the_api_server() {
        let text = "apiVersion: k3d.io/v1alpha5\nkind: Simple\nmetadata:\n  name: x\nregistries:\n  create:\n    name: registry.localhost\n    hostPort: 5000\n";
        let (_, problems) = load_text("k3d.yaml", text);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(problems[0].line, Some(8));
        assert!(
            problems[0].message.ends_with(
                "registries.create.hostPort is 5000, unquoted, which YAML 1.1 reads as a number, but the field holds a string"
            ),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn the_schema_version_comes_from_the_k8s_openapi_feature() {
        let version = kubernetes_version();
        let minor = version
            .strip_prefix("1.")
            .and_then(|m| m.parse::<u32>().ok());
        assert!(minor.is_some_and(|m| m >= 33), "{version}");
    }

    #[test]
    fn type_errors_have_lines() {
        let text = DEPLOYMENT.replace("  template:", "  replicas: three\n  template:");
        let (_, problems) = load_text("d.yaml", &text);
        assert_eq!(problems[0].line, Some(6), "{problems:?}");
    }
}

#[cfg(test)]
mod template_tests {
    use super::*;

    #[test]
    fn an_unquoted_template_value_is_told_to_be_quoted() {
        let text = "apiVersion: skaffold/v4beta14\nkind: Config\nx:\n  image.tag: {{.IMAGE_TAG}}@{{.IMAGE_DIGEST}}\n";
        let (_, problems) = load_text("skaffold.yaml", text);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].line, Some(4));
        assert_eq!(problems[0].hint, TEMPLATE_HINT);
        assert!(starts_with_a_template("  - {{ .X }}"));
        assert!(!starts_with_a_template("  image: \"{{.X}}\""));
        assert!(!starts_with_a_template("  ports: [8000"));
    }
}

#[cfg(test)]
mod version_tests {
    #[test]
    fn the_openapi_feature_is_the_pinned_kubernetes_minor() {
        assert_eq!(super::kubernetes_version(), super::super::KUBERNETES);
    }
}
