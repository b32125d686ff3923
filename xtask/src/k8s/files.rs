//! The two cluster-side config files that are not Kubernetes objects:
//! `k3d.yaml` (k3d.io/v1alpha5 Simple) and `skaffold.yaml`
//! (skaffold/v4beta14 Config). Only the fields the kit uses are known, so a
//! misspelled one is reported like in a manifest.
#![allow(dead_code, reason = "parsed so unknown fields stand out")]

use std::collections::BTreeMap;

use serde::Deserialize;

pub const K3D_API: &str = "k3d.io/v1alpha5";
pub const SKAFFOLD_API: &str = "skaffold/v4beta14";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct K3d {
    pub api_version: String,
    pub kind: String,
    pub metadata: Named,
    pub servers: Option<u32>,
    pub agents: Option<u32>,
    pub image: Option<String>,
    #[serde(default)]
    pub ports: Vec<K3dPort>,
    pub registries: Option<K3dRegistries>,
    pub options: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct Named {
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct K3dPort {
    pub port: String,
    #[serde(default)]
    pub node_filters: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct K3dRegistries {
    pub create: Option<K3dRegistry>,
    pub config: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct K3dRegistry {
    pub name: String,
    pub host: Option<String>,
    pub host_port: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Skaffold {
    pub api_version: String,
    pub kind: String,
    pub metadata: Option<Named>,
    pub build: Option<SkaffoldBuild>,
    pub manifests: Option<SkaffoldManifests>,
    pub deploy: Option<SkaffoldDeploy>,
    #[serde(default)]
    pub port_forward: Vec<SkaffoldPortForward>,
    #[serde(default)]
    pub profiles: Vec<SkaffoldProfile>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkaffoldBuild {
    #[serde(default)]
    pub artifacts: Vec<SkaffoldArtifact>,
    pub tag_policy: Option<serde_json::Value>,
    pub local: Option<SkaffoldLocal>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkaffoldLocal {
    pub push: Option<bool>,
    pub use_buildkit: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct SkaffoldArtifact {
    pub image: String,
    pub context: Option<String>,
    pub docker: Option<SkaffoldDocker>,
}

#[derive(Debug, Deserialize)]
pub struct SkaffoldDocker {
    pub dockerfile: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkaffoldManifests {
    #[serde(default)]
    pub raw_yaml: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkaffoldDeploy {
    pub kube_context: Option<String>,
    pub status_check: Option<bool>,
    pub status_check_deadline_seconds: Option<u64>,
    pub tolerate_failures_until_deadline: Option<bool>,
    pub helm: Option<SkaffoldHelm>,
    pub kubectl: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct SkaffoldHelm {
    #[serde(default)]
    pub releases: Vec<SkaffoldRelease>,
    pub hooks: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkaffoldRelease {
    pub name: String,
    pub chart_path: Option<String>,
    pub namespace: Option<String>,
    pub create_namespace: Option<bool>,
    #[serde(default)]
    pub set_value_templates: BTreeMap<String, String>,
    #[serde(default)]
    pub set_values: BTreeMap<String, serde_json::Value>,
    pub wait: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkaffoldPortForward {
    pub resource_type: String,
    pub resource_name: String,
    pub namespace: Option<String>,
    pub port: serde_json::Value,
    pub local_port: Option<u16>,
}

#[derive(Debug, Deserialize)]
pub struct SkaffoldProfile {
    pub name: String,
    pub build: Option<serde_json::Value>,
    pub manifests: Option<SkaffoldManifests>,
    pub deploy: Option<SkaffoldDeploy>,
    #[serde(default)]
    pub patches: Vec<SkaffoldPatch>,
}

/// A JSON patch on the config, applied after the profile is laid over it.
#[derive(Debug, Deserialize)]
pub struct SkaffoldPatch {
    /// `replace` when absent.
    pub op: Option<String>,
    pub path: String,
    pub from: Option<String>,
    pub value: Option<serde_json::Value>,
}

/// A problem of a cluster config file: (path in the document, message, hint).
pub type Finding = (String, String, String);

/// k3d's registry, as k3d itself wires it (no cluster needed to see it).
pub fn k3d_registry(k: &K3d) -> Vec<Finding> {
    use crate::cluster::{REGISTRY_HOST_PORT, REGISTRY_NAME};
    let mut out = Vec::new();
    let Some(create) = k.registries.as_ref().and_then(|r| r.create.as_ref()) else {
        out.push((
            "registries".into(),
            "no registry is created (the kit's images are pushed to one)".to_string(),
            format!("registries: {{create: {{name: {REGISTRY_NAME}, host: \"127.0.0.1\", hostPort: \"{REGISTRY_HOST_PORT}\"}}}}"),
        ));
        return out;
    };
    if create.name != REGISTRY_NAME {
        out.push((
            "registries.create.name".into(),
            format!(
                "the registry is named {:?}; k3d uses a name from the config file exactly as written (only `k3d registry create` adds a k3d- prefix: k3d-io/k3d pkg/config/transform.go), and the kit's manifests pull from {REGISTRY_NAME}",
                create.name
            ),
            format!("name: {REGISTRY_NAME}"),
        ));
    }
    match create.host_port.as_deref() {
        Some(port) if port == REGISTRY_HOST_PORT => {}
        Some("5000") => out.push((
            "registries.create.hostPort".into(),
            "host port 5000 is held by the AirPlay Receiver on many Macs".into(),
            format!("hostPort: \"{REGISTRY_HOST_PORT}\" (what the kit pushes to)"),
        )),
        other => out.push((
            "registries.create.hostPort".into(),
            format!("the registry's host port is {other:?}, but the kit pushes to localhost:{REGISTRY_HOST_PORT}"),
            format!("hostPort: \"{REGISTRY_HOST_PORT}\""),
        )),
    }
    // k3d writes the nodes' mirrors for the registry it creates
    // (pkg/client/registry.go, RegistryGenerateK3sConfig: NAME:HOSTPORT and
    // NAME:5000 → http://NAME:5000) and merges `config` over them
    // (RegistryMergeConfig, overwrite): a mirror of that name there replaces
    // k3d's.
    if let Some(config) = k.registries.as_ref().and_then(|r| r.config.as_deref()) {
        let parsed = super::yaml::parse(config, 0)
            .ok()
            .flatten()
            .and_then(|node| super::yaml::to_json(&node).ok())
            .unwrap_or_default();
        let generated = [
            format!(
                "{}:{}",
                create.name,
                create.host_port.as_deref().unwrap_or("")
            ),
            format!("{}:5000", create.name),
        ];
        for (key, mirror) in parsed
            .get("mirrors")
            .and_then(|m| m.as_object())
            .into_iter()
            .flatten()
        {
            let key = key.as_str();
            let endpoints: Vec<&str> = mirror
                .get("endpoint")
                .and_then(|e| e.as_array())
                .into_iter()
                .flatten()
                .filter_map(|e| e.as_str())
                .collect();
            if generated.iter().any(|g| g == key) {
                out.push((
                    "registries.config".into(),
                    format!(
                        "registries.config sets the mirror {key:?} → {}, replacing the one k3d writes for its own registry (k3d-io/k3d pkg/client/registry.go: RegistryGenerateK3sConfig, then RegistryMergeConfig overwrites it)",
                        endpoints.join(", ")
                    ),
                    "remove the config block: k3d wires its registry itself".into(),
                ));
            }
            if let Some(bad) = endpoints
                .iter()
                .find(|e| e.contains(&format!("k3d-{}", create.name)))
            {
                out.push((
                    "registries.config".into(),
                    format!(
                        "the mirror endpoint {bad} names a host that does not exist: the registry container is {} (a name from the config file gets no k3d- prefix: k3d-io/k3d pkg/config/transform.go)",
                        create.name
                    ),
                    "remove the config block: k3d wires its registry itself".into(),
                ));
            }
        }
    }
    out
}

/// The k3s image: pinned, of the static checks' Kubernetes minor, and one
/// the pinned CloudNativePG operator supports.
pub fn k3s_image(k: &K3d) -> Vec<Finding> {
    use crate::cluster::{CNPG_KUBERNETES, CNPG_OPERATOR_VERSION};
    let image = k.image.as_deref().unwrap_or("");
    let Some(version) = image.strip_prefix("rancher/k3s:v") else {
        return Vec::new(); // the pin rule reports it
    };
    let minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
    let mut out = Vec::new();
    if !CNPG_KUBERNETES.contains(&minor.as_str()) {
        out.push((
            "image".into(),
            format!(
                "k3s {version} is Kubernetes {minor}, which CloudNativePG {CNPG_OPERATOR_VERSION} does not support (it supports {}: cloudnative-pg docs/src/supported_releases.md)",
                CNPG_KUBERNETES.join(", ")
            ),
            format!("a rancher/k3s:v{}.N-k3s1 image", super::KUBERNETES),
        ));
    }
    if minor != super::KUBERNETES {
        out.push((
            "image".into(),
            format!(
                "k3s {version} is Kubernetes {minor}, but the static checks parse manifests as Kubernetes {} (the k8s-openapi feature in xtask/Cargo.toml)",
                super::KUBERNETES
            ),
            "move the k3s image and the k8s-openapi feature (and `KUBERNETES` in xtask/src/k8s/mod.rs) together".into(),
        ));
    }
    out
}

/// What skaffold does with the kit's profiles and status check.
pub fn skaffold_profiles(s: &Skaffold) -> Vec<Finding> {
    let mut out = Vec::new();
    let base_helm = s.deploy.as_ref().is_some_and(|d| d.helm.is_some());
    for (i, p) in s.profiles.iter().enumerate() {
        let kubectl = p.deploy.as_ref().is_some_and(|d| d.kubectl.is_some())
            || p.manifests.as_ref().is_some_and(|m| !m.raw_yaml.is_empty());
        let removes_helm = p
            .patches
            .iter()
            .any(|patch| patch.op.as_deref() == Some("remove") && patch.path == "/deploy/helm");
        let replaces_helm = p.deploy.as_ref().is_some_and(|d| d.helm.is_some());
        if base_helm && kubectl && !removes_helm && !replaces_helm {
            out.push((
                format!("profiles[{i}]"),
                format!(
                    "profile {} adds a kubectl deploy, but a profile is laid over the base config, not swapped in (skaffold.dev/docs/environment/profiles; GoogleContainerTools/skaffold pkg/skaffold/schema/profiles.go, overlayProfileField keeps every field the profile leaves empty): it would deploy with Helm and kubectl",
                    p.name
                ),
                "add patches: [{op: remove, path: /deploy/helm}] to the profile".into(),
            ));
        }
    }
    let deploy = s.deploy.as_ref();
    let deadline = deploy
        .and_then(|d| d.status_check_deadline_seconds)
        .unwrap_or(0);
    let tolerate = deploy.and_then(|d| d.tolerate_failures_until_deadline) == Some(true);
    let needed = crate::cluster::waits::DATABASE.as_secs();
    if deploy.and_then(|d| d.status_check) != Some(false) && (!tolerate || deadline < needed) {
        out.push((
            "deploy".into(),
            format!(
                "on a first `skaffold dev` IBDb crash-loops until its new database is ready, and the status check gives up on CrashLoopBackOff unless deploy.tolerateFailuresUntilDeadline is true, up to deploy.statusCheckDeadlineSeconds (skaffold.dev/docs/status-check; skaffold's DeployConfig); here: tolerate {tolerate}, deadline {deadline} s"
            ),
            format!("deploy: {{tolerateFailuresUntilDeadline: true, statusCheckDeadlineSeconds: {} or more}} (a cold CNPG cluster)", needed),
        ));
    }
    out
}
