//! A `skaffold.yaml` against the pinned Skaffold schema, and the names
//! Skaffold derives. `schemas/skaffold-v4beta14.json` is
//! GoogleContainerTools/skaffold `docs-v2/content/en/schemas/v4beta14.json`
//! (source and commit in the file) without descriptions, examples and
//! defaults. Skaffold itself reads its config strictly
//! (pkg/skaffold/schema/versions.go: `decoder.KnownFields(true)`), so an
//! unknown field is an error there too; `validate` finds it before Skaffold
//! runs, with its line and a suggestion.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use serde_json::Value;

use super::Problem;
use super::parse::{Doc, PathText, Seg, mistyped};
use super::schema::{fits, kind_of, suggestion};
use super::yaml::{Node, Typed};

/// The config version the kit pins (`apiVersion` of every skaffold.yaml).
pub const VERSION: &str = super::files::SKAFFOLD_API;

const VENDORED: &str = include_str!("schemas/skaffold-v4beta14.json");

/// The vendored file: `source`, `commit`, `version`, `kept`, `schema`.
pub static VENDOR: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(VENDORED).expect("the vendored Skaffold schema is JSON"));

fn schema() -> &'static Value {
    &VENDOR["schema"]
}

/// pkg/skaffold/util/util.go `SanitizeHelmTemplateValue`: the image name
/// with `.`, `-`, `/` and `:` as `_`, the suffix of the `IMAGE_*` names a
/// release's `setValueTemplates` may use (pkg/skaffold/helm/args.go,
/// `ConstructOverrideArgs`).
pub fn template_suffix(image: &str) -> String {
    image.replace(['.', '-', '/', ':'], "_")
}

/// pkg/skaffold/helm/args.go `envVarForImage`: the names skaffold defines
/// for each image it built.
const IMAGE_VARIABLES: &[&str] = &[
    "IMAGE_NAME",
    "DIGEST",
    "IMAGE_REPO",
    "IMAGE_TAG",
    "IMAGE_DIGEST",
    "DIGEST_ALGO",
    "DIGEST_HEX",
    "IMAGE_DOMAIN",
    "IMAGE_REPO_NO_DOMAIN",
    "IMAGE_FULLY_QUALIFIED",
];

/// Every template variable skaffold defines for the artifacts `images`, in
/// order: each name with `_<suffix>`, and for the first artifact bare, for
/// the n-th (n > 1) with `n` appended (pkg/skaffold/helm/args.go).
pub fn template_variables(images: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, image) in images.iter().enumerate() {
        let index = if i == 0 {
            String::new()
        } else {
            (i + 1).to_string()
        };
        for name in IMAGE_VARIABLES {
            out.push(format!("{name}{index}"));
            out.push(format!("{name}_{}", template_suffix(image)));
        }
    }
    out
}

/// The `.NAME`s a Go template text refers to (`{{.IMAGE_TAG_x}}`).
pub fn referenced(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let inner = &rest[open + 2..];
        let close = inner.find("}}").unwrap_or(inner.len());
        for word in inner[..close].split(|c: char| c.is_whitespace() || c == '(' || c == ')') {
            let word = word.trim_start_matches('-').trim_end_matches('-');
            if let Some(name) = word.strip_prefix('.')
                && !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                out.push(name.to_string());
            }
        }
        rest = &inner[close.min(inner.len())..];
    }
    out
}

/// pkg/skaffold/docker/dependencies.go `NormalizeDockerfilePath`: the
/// Dockerfile relative to the context; when it is not there, relative to
/// where skaffold runs (the folder of skaffold.yaml), "in case it's shared".
pub fn dockerfile_path(config_dir: &Path, context: &Path, dockerfile: &str) -> PathBuf {
    let in_context = context.join(dockerfile);
    if !in_context.exists() && config_dir.join(dockerfile).exists() {
        return config_dir.join(dockerfile);
    }
    in_context
}

/// Every way the document breaks the pinned Skaffold schema.
pub fn validate(doc: &Doc) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut at = Vec::new();
    walk(doc, schema(), &doc.json, &mut at, &[], &mut out);
    out.sort_by_key(|p| p.line);
    out
}

/// `#/definitions/X` followed to its schema.
fn resolve(mut schema: &'static Value) -> &'static Value {
    for _ in 0..16 {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let name = reference.trim_start_matches("#/definitions/");
                schema = &VENDOR["schema"]["definitions"][name];
            }
            None => break,
        }
    }
    schema
}

fn wanted_text(wanted: &str) -> &str {
    match wanted {
        "object" => "a mapping",
        "array" => "a list",
        "integer" => "an integer",
        "boolean" => "true or false",
        "string" => "a string",
        other => other,
    }
}

/// The property names of a schema, through its `anyOf` branches.
fn property_names(schema: &'static Value) -> Vec<&'static str> {
    let schema = resolve(schema);
    let mut names: Vec<&str> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    for branch in schema
        .get("anyOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for name in property_names(branch) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

fn walk(
    doc: &Doc,
    schema: &'static Value,
    value: &Value,
    at: &mut Vec<Seg>,
    also_known: &[&str],
    out: &mut Vec<Problem>,
) {
    // A field written without a value is left empty, as Go's decoder does.
    if value.is_null() {
        return;
    }
    let schema = resolve(schema);
    let line = |at: &[Seg]| (0..=at.len()).rev().find_map(|n| doc.line(&at[..n]));
    // One of several shapes (an artifact is built by docker, or ko, or ...;
    // a port is a number or a name): the branch that fits best is reported,
    // and a misspelled field is compared with the fields of every branch.
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
        let known = property_names(schema);
        // The branch that knows most of the keys written here, then the one
        // with the fewest problems: `docker: {dockerFile: ...}` is a
        // misspelling in the docker branch, not an unknown `docker`.
        let mut best: Option<((usize, usize), Vec<Problem>)> = None;
        for branch in branches {
            let mut found = Vec::new();
            walk(doc, branch, value, at, &known, &mut found);
            let names = property_names(branch);
            let strangers = value.as_object().map_or(0, |m| {
                m.keys().filter(|k| !names.contains(&k.as_str())).count()
            });
            let score = (strangers, found.len());
            if best.as_ref().is_none_or(|(b, _)| score < *b) {
                best = Some((score, found));
            }
        }
        out.extend(best.map(|(_, found)| found).unwrap_or_default());
    }
    if let Some(wanted) = schema.get("type").and_then(Value::as_str)
        && !fits(wanted, value)
    {
        let node = doc.node(at).and_then(Node::scalar);
        match node {
            Some(s) if wanted == "string" && s.plain && s.value != Typed::Str => {
                out.push(mistyped(doc, at, line(at.as_slice()), &s.text, s.value));
            }
            _ => out.push(Problem::new(
                "parse",
                &doc.file,
                line(at.as_slice()),
                format!(
                    "{}: {} is {}, but the Skaffold {VERSION} schema wants {}",
                    doc.title(),
                    PathText(at),
                    kind_of(value),
                    wanted_text(wanted)
                ),
                "see the field in skaffold.dev/docs/references/yaml (the reference of the pinned version)",
            )),
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
        out.push(Problem::new(
            "parse",
            &doc.file,
            line(at.as_slice()),
            format!(
                "{}: {} is {value}, not one of {}",
                doc.title(),
                PathText(at),
                list.join(", ")
            ),
            format!("use one of {}", list.join(", ")),
        ));
    }
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            for (key, v) in map {
                at.push(Seg::Key(key.clone()));
                match (properties.and_then(|p| p.get(key)), additional) {
                    (Some(field), _) => walk(doc, field, v, at, &[], out),
                    (None, Some(field)) if field.is_object() => walk(doc, field, v, at, &[], out),
                    (None, Some(Value::Bool(false))) => {
                        let mut known: Vec<&str> = properties
                            .map(|p| p.keys().map(String::as_str).collect())
                            .unwrap_or_default();
                        let more: Vec<&str> = also_known
                            .iter()
                            .copied()
                            .filter(|k| !known.contains(k))
                            .collect();
                        known.extend(more);
                        out.push(unknown(doc, key, at, &known));
                    }
                    _ => {}
                }
                at.pop();
            }
            for key in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !map.contains_key(key) {
                    let place = if at.is_empty() {
                        "the document".to_string()
                    } else {
                        PathText(at).to_string()
                    };
                    out.push(Problem::new(
                        "parse",
                        &doc.file,
                        line(at.as_slice()),
                        format!(
                            "{}: {place} needs {key} (required by the Skaffold {VERSION} schema)",
                            doc.title()
                        ),
                        format!("add {key}"),
                    ));
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    at.push(Seg::Index(i));
                    walk(doc, item, v, at, &[], out);
                    at.pop();
                }
            }
        }
        _ => {}
    }
}

fn unknown(doc: &Doc, field: &str, at: &[Seg], known: &[&str]) -> Problem {
    let mut hint = suggestion(field, known, 14);
    // A field of the config's top level written inside another one (most
    // often portForward under deploy:) gets where it belongs.
    let top_level = schema()["definitions"]["SkaffoldConfig"]["properties"]
        .as_object()
        .is_some_and(|p| p.contains_key(field));
    if at.len() > 1 && top_level {
        hint = format!(
            "{field} is a field of the config's top level: unindented, next to build: and deploy:; {hint}"
        );
    }
    hint.push_str("skaffold.dev/docs/references/yaml lists them (skaffold refuses unknown fields)");
    Problem::new(
        "parse",
        &doc.file,
        doc.line(at),
        format!(
            "{}: unknown field {field} at {} (not in the Skaffold {VERSION} schema)",
            doc.title(),
            PathText(at)
        ),
        hint,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_skaffold_gives_an_image_follow_sanitize_helm_template_value() {
        // pkg/skaffold/util/util.go SanitizeHelmTemplateValue: . - / : → _
        assert_eq!(
            template_suffix("localhost:5005/ibdb"),
            "localhost_5005_ibdb"
        );
        assert_eq!(
            template_suffix("registry.localhost:5005/my-ibdb"),
            "registry_localhost_5005_my_ibdb"
        );
        // pkg/skaffold/helm/args.go ConstructOverrideArgs: bare names for
        // the first artifact, `2` for the second, `_<suffix>` for each.
        let names = template_variables(&["localhost:5005/ibdb", "localhost:5005/other"]);
        for name in [
            "IMAGE_TAG",
            "IMAGE_DIGEST_localhost_5005_ibdb",
            "IMAGE_TAG2",
            "IMAGE_REPO_localhost_5005_other",
        ] {
            assert!(names.contains(&name.to_string()), "{name}");
        }
        assert!(!names.contains(&"IMAGE_TAG1".to_string()));
    }

    #[test]
    fn a_dockerfile_is_found_in_the_context_then_next_to_skaffold_yaml() {
        // pkg/skaffold/docker/dependencies.go NormalizeDockerfilePath.
        let dir = tempfile::tempdir().unwrap();
        let (config, context) = (dir.path().join("08"), dir.path().join("06"));
        std::fs::create_dir_all(&config).unwrap();
        std::fs::create_dir_all(&context).unwrap();
        std::fs::write(config.join("Dockerfile"), "FROM x\n").unwrap();
        assert_eq!(
            dockerfile_path(&config, &context, "Dockerfile"),
            config.join("Dockerfile")
        );
        std::fs::write(context.join("Dockerfile"), "FROM y\n").unwrap();
        assert_eq!(
            dockerfile_path(&config, &context, "Dockerfile"),
            context.join("Dockerfile")
        );
        assert_eq!(
            dockerfile_path(&config, &context, "../08/Dockerfile"),
            context.join("../08/Dockerfile")
        );
    }

    #[test]
    fn a_top_level_field_written_inside_another_is_sent_to_the_top() {
        let text = "apiVersion: skaffold/v4beta14\nkind: Config\ndeploy:\n  portForward:\n    - resourceType: service\n      resourceName: ibdb\n      port: 8000\n";
        // load_text reads a Config against the schema (validate).
        let (_, found) = crate::k8s::load_text("skaffold.yaml", text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].line, Some(4));
        assert!(
            found[0]
                .message
                .contains("unknown field portForward at deploy.portForward")
        );
        assert!(
            found[0]
                .hint
                .starts_with("portForward is a field of the config's top level")
        );
        // A misspelling at the top level is not sent anywhere.
        let (_, found) = crate::k8s::load_text(
            "skaffold.yaml",
            "apiVersion: skaffold/v4beta14\nkind: Config\nportForwards: []\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(!found[0].hint.contains("top level"), "{found:?}");
    }

    #[test]
    fn template_references_are_found() {
        assert_eq!(
            referenced("{{.IMAGE_TAG_x}}@{{ .IMAGE_DIGEST_x }}"),
            ["IMAGE_TAG_x", "IMAGE_DIGEST_x"]
        );
        assert_eq!(referenced("plain"), Vec::<String>::new());
    }

    #[test]
    fn the_vendored_schema_names_its_source() {
        assert!(
            VENDOR["source"]
                .as_str()
                .unwrap()
                .contains("docs-v2/content/en/schemas/v4beta14.json")
        );
        assert_eq!(VENDOR["commit"].as_str().unwrap().len(), 40);
        assert_eq!(VENDOR["version"], VERSION);
        assert!(
            schema()["definitions"]["HelmRelease"]["properties"]["setValueTemplates"].is_object()
        );
    }
}
