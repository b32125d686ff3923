//! YAML files into typed Kubernetes objects: syntax and type errors with
//! their line, unknown (often misspelled) fields with their path and line.

use std::fmt;
use std::path::Path;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use serde::de::DeserializeOwned;

use super::{Object, Problem, cnpg};
use crate::paths;

/// One YAML document of a file, parsed.
#[derive(Debug)]
pub struct Doc {
    pub file: String,
    /// Line (1-based) of the file where the document starts.
    pub first_line: usize,
    pub text: String,
    pub kind: String,
    pub name: String,
    pub object: Object,
}

impl Doc {
    /// The file line of `path` in this document, when it can be found.
    pub fn line(&self, path: &[Seg]) -> Option<usize> {
        locate(&self.text, path).map(|l| l + self.first_line + 1)
    }

    /// `Kind/name`, as kubectl prints it.
    pub fn title(&self) -> String {
        format!("{}/{}", self.kind, self.name)
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

/// Splits `text` at `---` lines and parses each document.
pub fn load_text(file: &str, text: &str) -> (Vec<Doc>, Vec<Problem>) {
    let mut docs = Vec::new();
    let mut problems = Vec::new();
    for (first_line, chunk) in split_documents(text) {
        let value: serde_yaml::Value = match serde_yaml::from_str(&chunk) {
            Ok(value) => value,
            Err(e) => {
                problems.push(yaml_error(file, first_line, &e, "this is not valid YAML"));
                continue;
            }
        };
        if value.is_null() {
            continue; // only comments
        }
        let field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_string);
        let (Some(api_version), Some(kind)) = (field("apiVersion"), field("kind")) else {
            problems.push(Problem::new(
                "parse",
                file,
                Some(first_line + 1),
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
            text: chunk.clone(),
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
            (cnpg::API_VERSION, "Cluster") => typed::<cnpg::Cluster>(&mut doc, &mut problems)
                .map(|c| Object::CnpgCluster(Box::new(c))),
            (super::files::K3D_API, "Simple") => {
                typed::<super::files::K3d>(&mut doc, &mut problems)
                    .map(|c| Object::K3d(Box::new(c)))
            }
            (super::files::SKAFFOLD_API, "Config") => {
                typed::<super::files::Skaffold>(&mut doc, &mut problems)
                    .map(|c| Object::Skaffold(Box::new(c)))
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

/// Deserialises the document into `T`, reporting every field `T` does not know.
fn typed<T: DeserializeOwned>(doc: &mut Doc, problems: &mut Vec<Problem>) -> Option<T> {
    let mut unknown: Vec<Vec<Seg>> = Vec::new();
    let deserializer = serde_yaml::Deserializer::from_str(&doc.text);
    let result: Result<T, _> =
        serde_ignored::deserialize(deserializer, |path| unknown.push(segments(&path)));
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
                        "{}: unknown field {field} at {} (not in the Kubernetes {} schema)",
                        doc.title(),
                        PathText(&path),
                        super::KUBERNETES
                    ),
                    hint,
                ));
            }
            Some(value)
        }
        Err(e) => {
            problems.push(yaml_error(
                &doc.file,
                doc.first_line,
                &e,
                &format!("{} does not fit the {} schema", doc.title(), doc.kind),
            ));
            None
        }
    }
}

fn yaml_error(file: &str, first_line: usize, e: &serde_yaml::Error, what: &str) -> Problem {
    let line = e.location().map(|l| l.line() + first_line);
    let text = e.to_string();
    // serde_yaml appends " at line L column C" relative to the document.
    let text = match text.find(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    };
    Problem::new(
        "parse",
        file,
        line,
        format!("{what}: {text}"),
        "check the indentation and the value's type (numbers unquoted, strings quoted when they look like numbers)",
    )
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

/// The 0-based line of `path` in `text`, following indentation.
fn locate(text: &str, path: &[Seg]) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    // Start of the block we search in, and the column its keys must exceed.
    let mut from = 0;
    let mut parent: isize = -1;
    let mut found = None;
    for seg in path {
        let block_end = block_end(&lines, from, parent);
        match seg {
            Seg::Key(key) => {
                let hit = (from..block_end).find(|&i| {
                    key_of(lines[i]).is_some_and(|(col, k)| k == key && col as isize > parent)
                })?;
                let (col, _) = key_of(lines[hit])?;
                parent = col as isize;
                from = hit + 1;
                found = Some(hit);
            }
            Seg::Index(index) => {
                let dashes: Vec<(usize, usize)> = (from..block_end)
                    .filter_map(|i| {
                        let trimmed = lines[i].trim_start();
                        let col = lines[i].len() - trimmed.len();
                        (trimmed.starts_with("- ") || trimmed == "-").then_some((i, col))
                    })
                    .collect();
                let column = dashes.iter().map(|&(_, c)| c).min()?;
                let (line, col) = *dashes.iter().filter(|&&(_, c)| c == column).nth(*index)?;
                parent = col as isize;
                from = line;
                found = Some(line);
            }
        }
    }
    found
}

/// Where the block below a key at column `parent` (starting at `from`) ends.
fn block_end(lines: &[&str], from: usize, parent: isize) -> usize {
    if parent < 0 {
        return lines.len();
    }
    (from..lines.len())
        .find(|&i| {
            let trimmed = lines[i].trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                return false;
            }
            let col = (lines[i].len() - trimmed.len()) as isize;
            col < parent || (col == parent && !trimmed.starts_with('-'))
        })
        .unwrap_or(lines.len())
}

/// The column and name of the mapping key on a line (after any `- `).
fn key_of(line: &str) -> Option<(usize, &str)> {
    let mut rest = line;
    let mut col = 0;
    loop {
        let trimmed = rest.trim_start();
        col += rest.len() - trimmed.len();
        if let Some(after) = trimmed.strip_prefix("- ") {
            col += 2;
            rest = after;
        } else {
            rest = trimmed;
            break;
        }
    }
    if rest.starts_with('#') {
        return None;
    }
    let (key, _) = rest.split_once(':')?;
    let key = key.trim().trim_matches('"').trim_matches('\'');
    (!key.is_empty() && !key.contains(' ')).then_some((col, key))
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
fn distance(a: &str, b: &str) -> usize {
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
    fn locate_follows_lists() {
        let path = path("spec.template.spec.containers[1].image");
        assert_eq!(locate(DEPLOYMENT, &path), Some(11));
    }

    #[test]
    fn type_errors_have_lines() {
        let text = DEPLOYMENT.replace("  template:", "  replicas: three\n  template:");
        let (_, problems) = load_text("d.yaml", &text);
        assert_eq!(problems[0].line, Some(6), "{problems:?}");
    }
}
