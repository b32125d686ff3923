//! The offline classroom: what a laptop needs to run the course with no
//! network, where `cargo xtask prefetch` keeps it, and what `cargo xtask
//! doctor` says about it.
//!
//! This part is light (no Kubernetes types): `doctor` runs in the xtask of
//! the first stages. The cluster's needs (k3d's images, CloudNativePG, the
//! chart) and the commands that fetch and use them are in
//! `cluster/offline.rs`; they reach `doctor` through the cache's manifest.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::paths;

/// Where the images and the chart go. `LAB_OFFLINE_CACHE` moves it (the
/// tests point it at a folder of their own).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("LAB_OFFLINE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| paths::target_dir().join("offline"))
}

/// The manifest of the cache: what `prefetch` got, with digests.
pub const MANIFEST: &str = "manifest.json";

/// `LAB_OFFLINE=1`: no network. Cargo then runs with `CARGO_NET_OFFLINE`,
/// and the cluster commands use the cache or fail saying what is missing.
pub fn forced() -> bool {
    std::env::var("LAB_OFFLINE").is_ok_and(|v| v == "1" || v == "true")
}

/// What is used where an image is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Use {
    /// By Docker on the laptop: k3d makes the cluster's containers from it.
    Cluster,
    /// By Docker on the laptop: a Dockerfile starts FROM it.
    Builds,
    /// By Docker on the laptop: the tests' PostgreSQL (`cargo xtask db`).
    Tests,
    /// By the cluster's nodes (k3s' containerd), imported into each.
    Nodes,
}

/// One thing the class needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Need {
    /// Every crate a lockfile names, in cargo's own cache (`cargo fetch`).
    Crates { lockfile: String },
    /// An image, saved by `docker save` to a tarball in the cache.
    Image { image: String, used: Use },
    /// A file taken as it is published (k3s' air-gap images archive).
    Download {
        url: String,
        file: String,
        used: Use,
    },
    /// A Helm chart, pulled to a .tgz in the cache.
    Chart {
        repo: String,
        chart: String,
        version: String,
    },
    /// Docker's build cache for a Dockerfile: its dependency layer compiles
    /// crates inside the image, which needs the network unless cached.
    Build { dockerfile: String, context: String },
}

impl Need {
    /// How it is named in reports.
    pub fn name(&self) -> String {
        match self {
            Need::Crates { lockfile } => format!("crates of {lockfile}"),
            Need::Image { image, used } => format!("image {image} ({})", used_text(*used)),
            Need::Download { file, used, .. } => format!("{file} ({})", used_text(*used)),
            Need::Chart { chart, version, .. } => format!("chart {chart} {version}"),
            Need::Build { dockerfile, .. } => format!("Docker's build cache of {dockerfile}"),
        }
    }

    /// The file in the cache, relative to it (none for crates and builds,
    /// which live in cargo's and Docker's own caches).
    pub fn file(&self) -> Option<String> {
        match self {
            Need::Image { image, used } => Some(format!(
                "{}/{}.tar",
                if *used == Use::Nodes {
                    NODE_IMAGES
                } else {
                    "images"
                },
                slug(image)
            )),
            Need::Download { file, .. } => Some(format!("{NODE_IMAGES}/{file}")),
            Need::Chart { chart, version, .. } => Some(format!("charts/{chart}-{version}.tgz")),
            Need::Crates { .. } | Need::Build { .. } => None,
        }
    }

    /// What the need's result depends on, for needs checked by the manifest
    /// (a build is cached only for the files it was built from).
    pub fn key(&self) -> Option<String> {
        match self {
            Need::Build {
                dockerfile,
                context,
            } => {
                let root = paths::root();
                let mut text = String::new();
                for file in [
                    root.join(dockerfile),
                    root.join(context).join("Cargo.toml"),
                    root.join(context).join("Cargo.lock"),
                ] {
                    text.push_str(&std::fs::read_to_string(file).unwrap_or_default());
                    text.push('\0');
                }
                Some(format!("{:016x}", fnv1a(text.as_bytes())))
            }
            _ => None,
        }
    }
}

/// The folder of images for the nodes: mounted into every node as k3s'
/// `agent/images`, so it holds only what the nodes import.
pub const NODE_IMAGES: &str = "node-images";

fn used_text(used: Use) -> &'static str {
    match used {
        Use::Cluster => "k3d's containers",
        Use::Builds => "Docker builds",
        Use::Tests => "the tests' database",
        Use::Nodes => "the cluster's nodes",
    }
}

/// An image name as a file name: `ghcr.io/a/b:1.0` → `ghcr.io_a_b_1.0`.
pub fn slug(image: &str) -> String {
    image
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// FNV-1a: a stable hash of the files a build depends on (std's hasher may
/// change between Rust versions).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One line of the manifest: a need and what `prefetch` got for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub need: Need,
    /// The image id, or the file's size for a download or a chart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// `Need::key` when it was fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub entries: Vec<Entry>,
}

impl Manifest {
    pub fn read(dir: &Path) -> Option<Manifest> {
        let text = std::fs::read_to_string(dir.join(MANIFEST)).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        let temporary = dir.join(format!("{MANIFEST}.part"));
        std::fs::write(&temporary, serde_json::to_string_pretty(self)? + "\n")?;
        std::fs::rename(&temporary, dir.join(MANIFEST))?;
        Ok(())
    }

    pub fn entry(&self, need: &Need) -> Option<&Entry> {
        self.entries.iter().find(|e| e.need == *need)
    }

    /// Records `need` (replacing an older line for it).
    pub fn record(&mut self, entry: Entry) {
        self.entries.retain(|e| e.need != entry.need);
        self.entries.push(entry);
    }
}

/// Whether a need is met on this machine.
#[derive(Debug, PartialEq)]
pub enum Have {
    Yes(String),
    No(String),
}

/// Is `need` there? (Files in `dir`, crates in cargo's cache, builds by the
/// manifest.)
pub fn have(need: &Need, dir: &Path, manifest: Option<&Manifest>) -> Have {
    match need {
        Need::Crates { lockfile } => crates_present(&paths::root().join(lockfile)),
        Need::Build { .. } => match manifest.and_then(|m| m.entry(need)) {
            Some(entry) if entry.key == need.key() => Have::Yes("built once".into()),
            Some(_) => Have::No("its Dockerfile, Cargo.toml or Cargo.lock changed since".into()),
            None => Have::No("not built yet".into()),
        },
        _ => {
            let file = need
                .file()
                .expect("images, downloads and charts have a file");
            match std::fs::metadata(dir.join(&file)) {
                Ok(meta) if meta.len() > 0 => {
                    Have::Yes(format!("{file}, {}", crate::docker::megabytes(meta.len())))
                }
                _ => Have::No(format!("{file} is missing")),
            }
        }
    }
}

/// The needs this module knows without the Kubernetes part: the crates of
/// every lockfile, the images Dockerfiles start FROM, the tests' database,
/// and Docker's build cache of the Dockerfiles `deploy` and the live checks
/// build (each solution's).
pub fn light_needs() -> Vec<Need> {
    let root = paths::root();
    let mut needs = vec![Need::Crates {
        lockfile: "Cargo.lock".into(),
    }];
    let mut images: Vec<Need> = Vec::new();
    let mut builds: Vec<Need> = Vec::new();
    for tree in ["exercises", "solutions"] {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join(tree))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        dirs.sort();
        for dir in dirs {
            let shown = paths::show(&dir);
            if dir.join("Cargo.lock").is_file() {
                needs.push(Need::Crates {
                    lockfile: format!("{shown}/Cargo.lock"),
                });
            }
            let Ok(text) = std::fs::read_to_string(dir.join("Dockerfile")) else {
                continue;
            };
            for from in crate::docker::base_images(&text) {
                let need = Need::Image {
                    image: from.image,
                    used: Use::Builds,
                };
                if !images.contains(&need) {
                    images.push(need);
                }
            }
            if tree == "solutions" {
                builds.push(Need::Build {
                    dockerfile: format!("{shown}/Dockerfile"),
                    context: shown,
                });
            }
        }
    }
    needs.extend(images);
    needs.push(Need::Image {
        image: crate::db::IMAGE.into(),
        used: Use::Tests,
    });
    needs.extend(builds);
    needs
}

/// Cargo's home (`CARGO_HOME`, else `~/.cargo`).
pub fn cargo_home() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        return Some(PathBuf::from(home));
    }
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(|home| PathBuf::from(home).join(".cargo"))
}

/// The registry crates a lockfile names: (name, version).
pub fn registry_crates(lockfile: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for block in lockfile.split("[[package]]").skip(1) {
        let field = |key: &str| {
            block.lines().find_map(|line| {
                let (k, v) = line.split_once('=')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
            })
        };
        if let (Some(name), Some(version), Some(source)) =
            (field("name"), field("version"), field("source"))
            && (source.starts_with("registry+") || source.starts_with("sparse+"))
        {
            found.push((name, version));
        }
    }
    found
}

/// Are all of a lockfile's crates in cargo's download cache
/// (`CARGO_HOME/registry/cache/<registry>/NAME-VERSION.crate`)?
fn crates_present(lockfile: &Path) -> Have {
    let Ok(text) = std::fs::read_to_string(lockfile) else {
        return Have::No(format!("{} is missing", paths::show(lockfile)));
    };
    let wanted = registry_crates(&text);
    let Some(home) = cargo_home() else {
        return Have::No("no CARGO_HOME and no home folder".into());
    };
    let registries: Vec<PathBuf> = std::fs::read_dir(home.join("registry/cache"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|(name, version)| {
            !registries
                .iter()
                .any(|r| r.join(format!("{name}-{version}.crate")).is_file())
        })
        .map(|(name, version)| format!("{name} {version}"))
        .collect();
    if missing.is_empty() {
        Have::Yes(format!("{} crates in cargo's cache", wanted.len()))
    } else {
        let shown: Vec<&str> = missing.iter().take(3).map(String::as_str).collect();
        Have::No(format!(
            "{} of {} crates not in cargo's cache ({}{})",
            missing.len(),
            wanted.len(),
            shown.join(", "),
            if missing.len() > 3 { ", …" } else { "" }
        ))
    }
}

/// `doctor`'s offline section: every need this build knows, and every
/// need the cache's manifest names (the cluster's), present or missing.
pub fn doctor() {
    let dir = cache_dir();
    let manifest = Manifest::read(&dir);
    println!(
        "\nOffline class (`cargo xtask prefetch` fetches it; cache {}):\n",
        paths::show(&dir)
    );
    let mut needs = light_needs();
    for entry in manifest.iter().flat_map(|m| &m.entries) {
        if !needs.contains(&entry.need) {
            needs.push(entry.need.clone());
        }
    }
    let mut missing = 0;
    for need in &needs {
        match have(need, &dir, manifest.as_ref()) {
            Have::Yes(what) => println!("  ✓ {}: {what}", need.name()),
            Have::No(why) => {
                missing += 1;
                println!("  ✗ {}: {why}", need.name());
            }
        }
    }
    if manifest.is_none() {
        missing += 1;
        println!(
            "  ✗ the cluster's images (k3s, k3d, CloudNativePG, PostgreSQL) and the CloudNativePG chart: nothing prefetched yet"
        );
    }
    if missing == 0 {
        println!("\n  ready for a class without network");
    } else {
        println!(
            "\n  {missing} missing for a class without network: run `cargo xtask prefetch` while online"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lockfile_names_its_registry_crates_only() {
        let lock = "version = 4\n\n[[package]]\nname = \"health\"\nversion = \"0.1.0\"\ndependencies = [\n \"axum\",\n]\n\n[[package]]\nname = \"axum\"\nversion = \"0.8.4\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"abc\"\n";
        assert_eq!(
            registry_crates(lock),
            [("axum".to_string(), "0.8.4".to_string())]
        );
    }

    #[test]
    fn images_become_file_names() {
        assert_eq!(
            slug("ghcr.io/cloudnative-pg/postgresql:18.4-system-trixie"),
            "ghcr.io_cloudnative-pg_postgresql_18.4-system-trixie"
        );
        let need = Need::Image {
            image: "rancher/k3s:v1.36.5-k3s1".into(),
            used: Use::Nodes,
        };
        assert_eq!(
            need.file().as_deref(),
            Some("node-images/rancher_k3s_v1.36.5-k3s1.tar")
        );
    }

    #[test]
    fn the_light_needs_cover_every_lockfile_and_base_image() {
        let needs = light_needs();
        for lockfile in [
            "Cargo.lock",
            "solutions/06-ibdb/Cargo.lock",
            "exercises/01-health/Cargo.lock",
        ] {
            assert!(
                needs.contains(&Need::Crates {
                    lockfile: lockfile.into()
                }),
                "{lockfile}: {needs:?}"
            );
        }
        for image in [
            "rust:1.95-slim-trixie",
            "gcr.io/distroless/static-debian13:nonroot",
        ] {
            assert!(
                needs.contains(&Need::Image {
                    image: image.into(),
                    used: Use::Builds
                }),
                "{image}: {needs:?}"
            );
        }
        assert!(needs.contains(&Need::Build {
            dockerfile: "solutions/06-ibdb/Dockerfile".into(),
            context: "solutions/06-ibdb".into()
        }));
    }
}
