//! The fields of a CloudNativePG `Cluster` the course uses (operator 1.30,
//! cloudnative-pg api/v1/cluster_types.go). CNPG is a custom resource, so
//! `k8s-openapi` has no type for it; fields not listed here are reported as
//! unknown, like misspelled ones. So are the deprecated `minSyncReplicas`
//! and `maxSyncReplicas`: synchronous replication is configured with
//! `.spec.postgresql.synchronous` (docs/src/replication.md).
#![allow(
    dead_code,
    reason = "every field is parsed so unknown ones stand out; the rules read some"
)]

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

pub const API_VERSION: &str = "postgresql.cnpg.io/v1";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: Option<ClusterSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    pub description: Option<String>,
    pub instances: Option<i32>,
    pub image_name: Option<String>,
    pub primary_update_strategy: Option<String>,
    pub primary_update_method: Option<String>,
    pub enable_superuser_access: Option<bool>,
    pub storage: Option<Storage>,
    pub wal_storage: Option<Storage>,
    pub bootstrap: Option<Bootstrap>,
    pub resources: Option<ResourceRequirements>,
    pub postgresql: Option<Postgresql>,
    pub monitoring: Option<Monitoring>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Storage {
    pub size: Option<String>,
    pub storage_class: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrap {
    pub initdb: Option<InitDb>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitDb {
    pub database: Option<String>,
    pub owner: Option<String>,
    pub secret: Option<LocalRef>,
}

#[derive(Debug, Default, Deserialize)]
pub struct LocalRef {
    pub name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Postgresql {
    pub parameters: Option<std::collections::BTreeMap<String, String>>,
    pub synchronous: Option<Synchronous>,
}

/// `SynchronousReplicaConfiguration`: `method` and `number` are required.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Synchronous {
    pub method: SyncMethod,
    pub number: u32,
    pub max_standby_names_from_cluster: Option<u32>,
    pub standby_names_pre: Option<Vec<String>>,
    pub standby_names_post: Option<Vec<String>>,
    pub data_durability: Option<DataDurability>,
    pub failover_quorum: Option<bool>,
}

/// `any`: quorum; `first`: priority.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMethod {
    Any,
    First,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataDurability {
    Required,
    Preferred,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Monitoring {
    pub enable_pod_monitor: Option<bool>,
}
