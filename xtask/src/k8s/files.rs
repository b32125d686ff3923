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
    pub helm: Option<SkaffoldHelm>,
    pub kubectl: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct SkaffoldHelm {
    #[serde(default)]
    pub releases: Vec<SkaffoldRelease>,
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
    pub manifests: Option<SkaffoldManifests>,
    pub deploy: Option<SkaffoldDeploy>,
}
