//! The offline classroom, cluster side: `cargo xtask prefetch` (everything
//! a laptop needs, fetched while online) and how `up`, `cnpg install` and
//! `deploy` use its cache with no network. The list of needs and the
//! cache's manifest are in `crate::offline` (light: `doctor` reads them).
//!
//! Images reach the cluster without a registry: the ones k3d makes
//! containers from are in Docker already (prefetch pulled them; `docker
//! load` from the cache otherwise), since k3d pulls an image only when
//! Docker has none of that name (k3d-io/k3d pkg/runtimes/docker/container.go,
//! `createContainer`). The nodes' images (k3s' own, CloudNativePG's) are
//! tarballs in one folder mounted into every node as k3s' air-gap images
//! folder, which k3s imports when it starts (k3s docs, installation/airgap.md,
//! "Manually Deploy Images"). A cluster made before gets them through `k3d
//! image import --mode direct`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::{CNPG_CHART_VERSION, CNPG_OPERATOR_VERSION, CNPG_REPO, Runner, strings, waits};
pub use crate::offline::Use;
use crate::offline::{self, Entry, Have, Manifest, NODE_IMAGES, Need};
use crate::paths;

/// k3d's helper images (k3d-io/k3d pkg/types/images.go): the load balancer
/// and the tools container, both tagged with k3d's own version
/// (`GetHelperImageVersion`: the version without its `v`), and the registry
/// `k3d.yaml` creates (`DefaultRegistryImageRepo`:`DefaultRegistryImageTag`).
/// `k3d cluster create` always starts the tools container
/// (pkg/client/cluster.go, `ClusterRun` → `EnsureToolsNode`).
pub const K3D_PROXY: &str = "ghcr.io/k3d-io/k3d-proxy";
pub const K3D_TOOLS: &str = "ghcr.io/k3d-io/k3d-tools";
pub const K3D_REGISTRY: &str = "docker.io/library/registry:2";

/// The operator's image: the chart's `image.repository`, tagged with its
/// `appVersion` (cloudnative-pg/charts charts/cloudnative-pg values.yaml and
/// templates/deployment.yaml at cloudnative-pg-v0.29.0); pulled
/// `IfNotPresent`, so an imported image is used. The operator also puts it
/// in every PostgreSQL pod (the instance manager is copied from it:
/// `DefaultOperatorImageName` in cloudnative-pg pkg/versions/versions.go).
pub const CNPG_OPERATOR_IMAGE: &str = "ghcr.io/cloudnative-pg/cloudnative-pg";
/// The PostgreSQL image operator 1.30.0 runs when a `Cluster` names none (the
/// kit's do not): `DefaultImageName` in cloudnative-pg
/// pkg/versions/versions.go at v1.30.0.
pub const CNPG_POSTGRES_IMAGE: &str = "ghcr.io/cloudnative-pg/postgresql:18.4-system-trixie";

/// Where k3s looks for image archives to import when it starts.
pub const K3S_AGENT_IMAGES: &str = "/var/lib/rancher/k3s/agent/images";

/// The k3s image `k3d.yaml` pins (`image:`).
pub fn k3s_image() -> String {
    let text = std::fs::read_to_string(paths::root().join("k3d.yaml")).unwrap_or_default();
    crate::k8s::yaml::parse(&text, 0)
        .ok()
        .flatten()
        .and_then(|doc| Some(doc.entry("image")?.1.scalar()?.text.clone()))
        .unwrap_or_else(|| "rancher/k3s".into())
}

/// k3s' release for an image tag: the image tag has `-` where the release
/// has `+` (k3s docs, installation/airgap.md, "Automated Upgrades").
pub fn k3s_release(image: &str) -> String {
    let tag = image.rsplit_once(':').map_or(image, |(_, tag)| tag);
    match tag.rsplit_once("-k3s") {
        Some((version, n)) => format!("{version}+k3s{n}"),
        None => tag.to_string(),
    }
}

/// k3s' air-gap images archive for one architecture, as each release
/// publishes it (k3s docs, installation/airgap.md).
pub fn k3s_airgap(arch: &str) -> Need {
    let release = k3s_release(&k3s_image());
    let file = format!("k3s-airgap-images-{arch}.tar.zst");
    Need::Download {
        url: format!(
            "https://github.com/k3s-io/k3s/releases/download/{}/{file}",
            release.replace('+', "%2B")
        ),
        file,
        used: Use::Nodes,
    }
}

/// What k3d, the nodes and `cnpg install` need: `k3d_tag` is the installed
/// k3d's version (its helper images' tag), `arch` Docker's architecture.
pub fn cluster_needs(k3d_tag: &str, arch: &str) -> Vec<Need> {
    let image = |image: String, used| Need::Image { image, used };
    vec![
        image(k3s_image(), Use::Cluster),
        image(format!("{K3D_PROXY}:{k3d_tag}"), Use::Cluster),
        image(format!("{K3D_TOOLS}:{k3d_tag}"), Use::Cluster),
        image(K3D_REGISTRY.into(), Use::Cluster),
        k3s_airgap(arch),
        image(
            format!("{CNPG_OPERATOR_IMAGE}:{CNPG_OPERATOR_VERSION}"),
            Use::Nodes,
        ),
        image(CNPG_POSTGRES_IMAGE.into(), Use::Nodes),
        cnpg_chart(),
    ]
}

pub fn cnpg_chart() -> Need {
    Need::Chart {
        repo: CNPG_REPO.into(),
        chart: "cloudnative-pg".into(),
        version: CNPG_CHART_VERSION.into(),
    }
}

/// Every need of the class.
pub fn needs(k3d_tag: &str, arch: &str) -> Vec<Need> {
    let mut all = offline::light_needs();
    all.extend(cluster_needs(k3d_tag, arch));
    all
}

/// `k3d version` → its helper images' tag (`v5.8.3` → `5.8.3`).
pub fn helper_tag(k3d_version: &str) -> Option<String> {
    let word = k3d_version.lines().next()?.split_whitespace().last()?;
    Some(word.trim_start_matches('v').to_string())
}

/// The installed k3d's helper tag and Docker's architecture, asked of the
/// tools; in a dry run (nothing runs) what the cache recorded, or a
/// placeholder.
fn facts(r: &Runner, manifest: Option<&Manifest>) -> anyhow::Result<(String, String)> {
    let tag = match r.probe(&strings(&["k3d", "version"]), "its helper images' tag")? {
        Some(Ok(out)) => helper_tag(&out.stdout).unwrap_or_else(|| "latest".into()),
        Some(Err(why)) => bail!(
            "`k3d version` failed ({why}); k3d's helper images are tagged with its version. Install k3d: {}",
            crate::tools::Tool::K3d.install_hint()
        ),
        None => recorded(manifest, |image| {
            image
                .strip_prefix(&format!("{K3D_PROXY}:"))
                .map(String::from)
        })
        .unwrap_or_else(|| "<k3d version>".into()),
    };
    let arch = match r.probe(
        &strings(&["docker", "version", "--format", "{{.Server.Arch}}"]),
        "the nodes' architecture (k3s' air-gap archive is per architecture)",
    )? {
        Some(Ok(out)) => out.stdout.trim().to_string(),
        Some(Err(why)) => bail!("Docker's engine does not answer ({why}); start Docker"),
        None => manifest
            .into_iter()
            .flat_map(|m| &m.entries)
            .find_map(|e| match &e.need {
                Need::Download { file, .. } => file
                    .strip_prefix("k3s-airgap-images-")
                    .and_then(|f| f.strip_suffix(".tar.zst"))
                    .map(String::from),
                _ => None,
            })
            .unwrap_or_else(|| "<architecture>".into()),
    };
    Ok((tag, arch))
}

fn recorded(manifest: Option<&Manifest>, pick: impl Fn(&str) -> Option<String>) -> Option<String> {
    manifest
        .into_iter()
        .flat_map(|m| &m.entries)
        .find_map(|e| match &e.need {
            Need::Image { image, .. } => pick(image),
            _ => None,
        })
}

/// How one need went.
enum Outcome {
    Had(String),
    Fetched,
    Failed(String),
}

/// `cargo xtask prefetch`: fetches what is missing, reports each need.
pub fn prefetch(options: super::Options) -> anyhow::Result<bool> {
    let r = Runner::new(options);
    r.need(&[crate::tools::Tool::Docker, crate::tools::Tool::K3d])?;
    let dir = offline::cache_dir();
    let mut manifest = Manifest::read(&dir).unwrap_or_default();
    let (tag, arch) = facts(&r, Some(&manifest))?;
    let needs = needs(&tag, &arch);
    println!(
        "prefetch: {} things a class needs, into cargo's cache, Docker and {}",
        needs.len(),
        paths::show(&dir)
    );
    if !r.dry_run() {
        for folder in ["images", NODE_IMAGES, "charts"] {
            std::fs::create_dir_all(dir.join(folder))
                .with_context(|| format!("cannot create {}", paths::show(&dir.join(folder))))?;
        }
    }
    let mut results = Vec::new();
    for need in &needs {
        let outcome = match offline::have(need, &dir, Some(&manifest)) {
            Have::Yes(what) => Outcome::Had(what),
            Have::No(_) => match fetch(&r, need, &dir) {
                Ok(entry) => {
                    if let Some(entry) = entry {
                        manifest.record(entry);
                        manifest.write(&dir)?;
                    }
                    Outcome::Fetched
                }
                Err(error) => Outcome::Failed(format!("{error:#}")),
            },
        };
        // A need already there is still recorded (doctor lists it).
        if let Outcome::Had(_) = outcome
            && manifest.entry(need).is_none()
            && !r.dry_run()
        {
            manifest.record(Entry {
                need: need.clone(),
                digest: None,
                key: need.key(),
            });
            manifest.write(&dir)?;
        }
        results.push((need, outcome));
    }
    println!();
    let mut failed = 0;
    for (need, outcome) in &results {
        match outcome {
            Outcome::Had(what) => println!("  ✓ {}: already there ({what})", need.name()),
            Outcome::Fetched if r.dry_run() => println!("  → {}: would be fetched", need.name()),
            Outcome::Fetched => println!("  ✓ {}: fetched", need.name()),
            Outcome::Failed(why) => {
                failed += 1;
                println!("  ✗ {}: could not be fetched: {why}", need.name());
                println!("      then: {}", what_to_do(need));
            }
        }
    }
    if r.dry_run() {
        return Ok(true);
    }
    if failed == 0 {
        println!(
            "\n✓ everything a class needs is here; with no network, `cargo xtask up`, `deploy` and `verify` use it (`cargo xtask doctor` lists it; LAB_OFFLINE=1 or --offline insists on it)"
        );
        Ok(true)
    } else {
        println!(
            "\n✗ {failed} could not be fetched (above, with what to do); run `cargo xtask prefetch` again: what is there already is kept"
        );
        Ok(false)
    }
}

fn what_to_do(need: &Need) -> &'static str {
    match need {
        Need::Crates { .. } => {
            "check the network to crates.io; `cargo fetch --locked` needs the lockfile unchanged (`git status`)"
        }
        Need::Image { .. } => {
            "check that Docker runs and reaches the registry (`docker pull` the image by hand to see why)"
        }
        Need::Download { .. } => "check the network to github.com; curl must be installed",
        Need::Chart { .. } => {
            "check the network to cloudnative-pg.github.io; helm must be installed"
        }
        Need::Build { .. } => {
            "the build failed: `cargo xtask verify` of that stage says why; Docker must run"
        }
    }
}

/// Fetches one need; the manifest line to record (none in a dry run).
fn fetch(r: &Runner, need: &Need, dir: &Path) -> anyhow::Result<Option<Entry>> {
    let root = paths::root();
    let target = need.file().map(|f| dir.join(f));
    let partial = target.as_ref().map(|t| {
        let mut name = t.clone().into_os_string();
        name.push(".part");
        PathBuf::from(name)
    });
    let shown = |p: &Option<PathBuf>| p.as_deref().map(paths::show).unwrap_or_default();
    let digest = match need {
        Need::Crates { lockfile } => {
            let manifest = root.join(lockfile).with_file_name("Cargo.toml");
            r.act(
                &strings(&[
                    &crate::cargo::program(),
                    "fetch",
                    "--locked",
                    "--manifest-path",
                    &paths::show(&manifest),
                ]),
                "into cargo's cache (CARGO_HOME)",
            )?;
            None
        }
        Need::Image { image, .. } => {
            let present = r.probe(
                &strings(&["docker", "image", "inspect", "--format", "{{.Id}}", image]),
                "in Docker already?",
            )?;
            if !matches!(present, Some(Ok(_))) {
                r.act(&strings(&["docker", "pull", image]), "")?;
            }
            r.act(
                &strings(&["docker", "save", "--output", &shown(&partial), image]),
                "",
            )?;
            r.query(
                &strings(&["docker", "image", "inspect", "--format", "{{.Id}}", image]),
                "its id, for the manifest",
            )?
            .map(|out| out.stdout.trim().to_string())
        }
        Need::Download { url, .. } => {
            if !r.dry_run() && which::which("curl").is_err() {
                bail!("curl is not installed (not found on PATH)");
            }
            r.act(
                &strings(&[
                    "curl",
                    "--fail",
                    "--location",
                    "--silent",
                    "--show-error",
                    "--output",
                    &shown(&partial),
                    url,
                ]),
                "k3s' own images (CoreDNS, Traefik, local-path, pause, ...)",
            )?;
            None
        }
        Need::Chart {
            repo,
            chart,
            version,
        } => {
            r.act(
                &strings(&[
                    "helm",
                    "pull",
                    chart,
                    "--repo",
                    repo,
                    "--version",
                    version,
                    "--destination",
                    &paths::show(&dir.join("charts")),
                ]),
                "the chart as a .tgz, installed from the file offline",
            )?;
            None
        }
        Need::Build {
            dockerfile,
            context,
        } => {
            r.act_for(
                &strings(&[
                    "docker",
                    "build",
                    "--file",
                    dockerfile,
                    "--tag",
                    &format!("lab-prefetch/{}", offline::slug(context).to_lowercase()),
                    context,
                ]),
                "once, so its dependency layer (crates compiled inside) is in Docker's cache",
                waits::BUILD,
            )?;
            None
        }
    };
    if r.dry_run() {
        return Ok(None);
    }
    if let (Some(partial), Some(target)) = (&partial, &target)
        && partial.exists()
    {
        std::fs::rename(partial, target)?;
    }
    if let Some(target) = &target
        && !target.is_file()
    {
        bail!("{} was not written", paths::show(target));
    }
    let digest = digest.or_else(|| {
        target
            .as_ref()
            .and_then(|t| std::fs::metadata(t).ok())
            .map(|m| format!("{} bytes", m.len()))
    });
    Ok(Some(Entry {
        need: need.clone(),
        digest,
        key: need.key(),
    }))
}

/// The cache, when a command uses it.
pub struct Cache {
    pub dir: PathBuf,
}

impl Cache {
    pub fn path(&self, need: &Need) -> PathBuf {
        self.dir.join(need.file().expect("a need with a file"))
    }

    pub fn node_images(&self) -> PathBuf {
        self.dir.join(NODE_IMAGES)
    }
}

/// Whether a command uses the cache: with `--offline` (or LAB_OFFLINE=1)
/// it must, and a missing need is an error naming it; without, it does
/// when every need of `wanted` is there.
pub fn choose(wanted: &[Need], forced: bool) -> anyhow::Result<Option<Cache>> {
    let forced = forced || offline::forced();
    let dir = offline::cache_dir();
    let manifest = Manifest::read(&dir);
    if manifest.is_none() && !forced {
        return Ok(None);
    }
    let missing: Vec<String> = wanted
        .iter()
        .filter_map(|need| match offline::have(need, &dir, manifest.as_ref()) {
            Have::Yes(_) => None,
            Have::No(why) => Some(format!("{}: {why}", need.name())),
        })
        .collect();
    if !missing.is_empty() {
        if forced {
            bail!(
                "offline, but the cache ({}) lacks:\n  {}\nrun `cargo xtask prefetch` while online (`cargo xtask doctor` lists what is missing)",
                paths::show(&dir),
                missing.join("\n  ")
            );
        }
        println!(
            "note: the offline cache lacks {} (`cargo xtask prefetch`); using the network",
            missing.join("; ")
        );
        return Ok(None);
    }
    println!(
        "offline: using the cache of `cargo xtask prefetch` ({})",
        paths::show(&dir)
    );
    Ok(Some(Cache { dir }))
}

/// Is there a cache to consider? (Without one, and without `--offline`,
/// the commands run as they always did: no extra questions to the tools.)
fn considered(r: &Runner) -> bool {
    r.options.offline || offline::forced() || offline::cache_dir().join(offline::MANIFEST).is_file()
}

/// The cache `up` uses for the cluster (k3d's images, the nodes' images),
/// with those needs; none when it is not used.
pub fn cluster_cache(r: &Runner) -> anyhow::Result<Option<(Cache, Vec<Need>)>> {
    if !considered(r) {
        return Ok(None);
    }
    let manifest = Manifest::read(&offline::cache_dir());
    let (tag, arch) = facts(r, manifest.as_ref())?;
    let needs: Vec<Need> = cluster_needs(&tag, &arch)
        .into_iter()
        .filter(|n| !matches!(n, Need::Chart { .. }))
        .collect();
    Ok(choose(&needs, r.options.offline)?.map(|cache| (cache, needs)))
}

/// The chart file `cnpg install` installs from, when the cache is used.
pub fn chart_cache(r: &Runner) -> anyhow::Result<Option<PathBuf>> {
    if !considered(r) {
        return Ok(None);
    }
    let chart = cnpg_chart();
    Ok(choose(std::slice::from_ref(&chart), r.options.offline)?
        .map(|cache| std::path::absolute(cache.path(&chart)).unwrap_or(cache.path(&chart))))
}

/// The cache `deploy` uses for IBDb's build, with those needs.
pub fn deploy_cache(r: &Runner, dockerfile: &Path) -> anyhow::Result<Option<(Cache, Vec<Need>)>> {
    if !considered(r) {
        return Ok(None);
    }
    let needs = for_deploy(dockerfile);
    Ok(choose(&needs, r.options.offline)?.map(|cache| (cache, needs)))
}

/// Images Docker must have before k3d (or a build) runs: loaded from the
/// cache when Docker lacks them.
pub fn load_images(r: &Runner, cache: &Cache, needs: &[Need], used: Use) -> anyhow::Result<()> {
    for need in needs {
        let Need::Image { image, used: u } = need else {
            continue;
        };
        if *u != used {
            continue;
        }
        let load = strings(&["docker", "load", "--input", &paths::show(&cache.path(need))]);
        match r.probe(
            &strings(&["docker", "image", "inspect", "--format", "{{.Id}}", image]),
            "in Docker already?",
        )? {
            Some(Ok(_)) => {}
            Some(Err(_)) => r.act(&load, "from the offline cache")?,
            None => r.show(&load, "only when Docker lacks it: from the offline cache"),
        }
    }
    Ok(())
}

/// `--volume` for `k3d cluster create`: the cache's node images as k3s'
/// air-gap folder in every server and agent (k3d's node filters,
/// `SOURCE:DEST@server:*;agent:*`, k3d-io/k3d docs/usage/configfile.md).
pub fn node_images_volume(cache: &Cache) -> Vec<String> {
    let source = std::path::absolute(cache.node_images()).unwrap_or(cache.node_images());
    vec![
        "--volume".into(),
        format!("{}:{K3S_AGENT_IMAGES}@server:*;agent:*", source.display()),
    ]
}

/// A cluster made before gets CloudNativePG's images by `k3d image import
/// --mode direct`: streamed into each node's containerd, without k3d's tools
/// image (the default mode, `tools-node`, needs it; k3d-io/k3d
/// cmd/image/imageImport.go and pkg/client/tools.go). k3s' own images it
/// pulled when it was made.
pub fn import_into_existing(r: &Runner, cache: &Cache, needs: &[Need]) -> anyhow::Result<()> {
    let mut argv = strings(&[
        "k3d",
        "image",
        "import",
        "--mode",
        "direct",
        "--cluster",
        &super::cluster_name(),
    ]);
    for need in needs {
        if let Need::Image {
            used: Use::Nodes, ..
        } = need
        {
            argv.push(paths::show(&cache.path(need)));
        }
    }
    r.act(
        &argv,
        "CloudNativePG's images into every node (the cluster exists: its air-gap folder is not mounted)",
    )
}

/// What `deploy` needs: the images IBDb's Dockerfile starts FROM and
/// Docker's build cache of its dependency layer.
pub fn for_deploy(dockerfile: &Path) -> Vec<Need> {
    let text = std::fs::read_to_string(dockerfile).unwrap_or_default();
    let mut needs: Vec<Need> = crate::docker::base_images(&text)
        .into_iter()
        .map(|from| Need::Image {
            image: from.image,
            used: Use::Builds,
        })
        .collect();
    needs.push(Need::Build {
        dockerfile: "solutions/06-ibdb/Dockerfile".into(),
        context: "solutions/06-ibdb".into(),
    });
    needs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k3s_image_tags_name_their_release() {
        assert_eq!(k3s_release("rancher/k3s:v1.36.5-k3s1"), "v1.36.5+k3s1");
        assert_eq!(k3s_image(), "rancher/k3s:v1.36.5-k3s1");
        let Need::Download { url, .. } = k3s_airgap("arm64") else {
            panic!()
        };
        assert_eq!(
            url,
            "https://github.com/k3s-io/k3s/releases/download/v1.36.5%2Bk3s1/k3s-airgap-images-arm64.tar.zst"
        );
    }

    #[test]
    fn k3d_version_gives_the_helper_tag() {
        assert_eq!(
            helper_tag("k3d version v5.8.3\nk3s version v1.31.5-k3s1 (default)").as_deref(),
            Some("5.8.3")
        );
    }
}
