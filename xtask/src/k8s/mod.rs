//! Static checks of Kubernetes manifests, without a cluster: every document
//! read as kubectl reads YAML (`yaml`), parsed into the official types
//! (`k8s-openapi`, one Kubernetes version), unknown fields and mistyped
//! scalars reported with their path and line, the API server's validation
//! rules that need no cluster (`validation`), and the rules a Deployment,
//! Service, ConfigMap and CNPG `Cluster` of this course must follow.
//!
//! Used by stage 04's check, by `cargo xtask k8s check` (top-level `k8s/`,
//! rendered Helm charts) and by the tests.

pub mod cli;
pub mod cnpg;
pub mod files;
pub mod parse;
pub mod rules;
pub mod schema;
pub mod skaffold;
pub mod stage05;
pub mod stage08;
pub mod validation;
pub mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};

pub use parse::{Doc, load_files, load_text};

/// The Kubernetes minor of the static checks. It must equal the k8s-openapi
/// feature in xtask/Cargo.toml (`parse::kubernetes_version` reads that one)
/// and the minor of k3d.yaml's k3s image (xtask/tests/kit/cluster_files.rs holds
/// them together).
pub const KUBERNETES: &str = "1.36";

/// A parsed object of a kind the checks know.
#[derive(Debug)]
pub enum Object {
    Deployment(Box<Deployment>),
    Service(Box<Service>),
    ConfigMap(Box<ConfigMap>),
    /// Parsed for its fields only.
    Secret,
    CnpgCluster(Box<cnpg::Cluster>),
    /// `k3d.yaml`.
    K3d(Box<files::K3d>),
    /// `skaffold.yaml`.
    Skaffold(Box<files::Skaffold>),
    /// Any other kind: parsed as YAML only.
    Other,
}

/// One thing wrong with the manifests, and how to fix it.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The rule (and stage check) that found it: `parse`, `selector`, ...
    pub rule: &'static str,
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
    pub hint: String,
}

impl Problem {
    pub fn new(
        rule: &'static str,
        file: &str,
        line: Option<usize>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Problem {
        Problem {
            rule,
            file: file.to_string(),
            line,
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn at(&self) -> String {
        match self.line {
            Some(line) => format!("{}:{line}", self.file),
            None => self.file.clone(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at(), self.message)
    }
}

/// Every problem of the manifests in `files`: parsing, then the rules.
pub fn check_files(files: &[PathBuf]) -> (Vec<Doc>, Vec<Problem>) {
    let (docs, mut problems) = load_files(files);
    problems.extend(rules::check(&docs));
    (docs, problems)
}

/// The `.yaml`/`.yml` files of a folder (sorted), or the file itself.
pub fn yaml_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

/// `cargo xtask k8s check [PATH...]`: files, folders, or `-` for stdin
/// (for example `helm template ... | cargo xtask k8s check -`).
pub fn check_command(paths: &[PathBuf]) -> anyhow::Result<bool> {
    let paths: Vec<PathBuf> = if paths.is_empty() {
        vec![crate::paths::root().join("k8s")]
    } else {
        paths.to_vec()
    };
    let mut docs = Vec::new();
    let mut problems = Vec::new();
    for path in &paths {
        if path.as_os_str() == "-" {
            let text = std::io::read_to_string(std::io::stdin())?;
            let (d, p) = load_text("(stdin)", &text);
            docs.extend(d);
            problems.extend(p);
        } else {
            let files = yaml_files(path)
                .map_err(|e| anyhow::anyhow!("{}: {e}", crate::paths::show(path)))?;
            anyhow::ensure!(
                !files.is_empty(),
                "{}: no .yaml files there",
                crate::paths::show(path)
            );
            let (d, p) = load_files(&files);
            docs.extend(d);
            problems.extend(p);
        }
    }
    problems.extend(rules::check(&docs));
    for doc in &docs {
        println!("  {} ({}:{})", doc.title(), doc.file, doc.first_line + 1);
    }
    for problem in &problems {
        println!("✗ [{}] {problem}", problem.rule);
        if !problem.hint.is_empty() {
            println!("    hint: {}", problem.hint);
        }
    }
    if problems.is_empty() {
        println!("✓ {} object(s), no problems", docs.len());
    } else {
        println!("{} problem(s) in {} object(s)", problems.len(), docs.len());
    }
    Ok(problems.is_empty())
}

/// Passes or fails `check` with every problem of `rule` (each on its own
/// line, their hints joined once each); true when it passed. The stages
/// that check manifests (04, 05, 08) name their checks and say what they
/// expect in their own words.
pub fn report(
    ck: &mut crate::check::Checker,
    check: &str,
    problems: &[Problem],
    rule: &str,
    expected: String,
    passed: String,
) -> bool {
    let found: Vec<&Problem> = problems.iter().filter(|p| p.rule == rule).collect();
    let Some(first) = found.first() else {
        ck.pass(check, passed);
        return true;
    };
    let seen: Vec<String> = found.iter().map(|p| p.to_string()).collect();
    let mut hints: Vec<&str> = Vec::new();
    for p in &found {
        if !p.hint.is_empty() && !hints.contains(&p.hint.as_str()) {
            hints.push(&p.hint);
        }
    }
    ck.fail(
        check,
        first.to_string(),
        crate::report::Failure::new(expected, seen.join("\n")).hint(hints.join("; ")),
    );
    false
}
