//! The offline classroom against fake cargo, docker, k3d, helm and curl
//! (nothing can be pulled where the kit is built): `prefetch` fetches each
//! need once and reports it; `up`, `cnpg install` and `deploy` use the
//! cache with no network; `doctor` says what is missing. The images and
//! the chart are upstream facts, each test naming the file it encodes.

use crate::fakes;
use crate::support;

use std::path::{Path, PathBuf};

use fakes::Fakes;

const TOOLS: &[&str] = &["k3d", "kubectl", "helm", "docker", "curl", "cargo"];

fn ok(run: &support::Run) {
    assert!(
        run.success,
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        run.code, run.stdout, run.stderr
    );
}

/// The fakes, with an empty cargo home of their own.
struct Class {
    fakes: Fakes,
    cargo_home: tempfile::TempDir,
}

impl Class {
    fn new() -> Class {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        Class {
            fakes: Fakes::with(TOOLS),
            cargo_home: tempfile::tempdir_in(base).unwrap(),
        }
    }

    fn xtask(&self, args: &[&str]) -> support::Run {
        self.xtask_with(args, &[])
    }

    fn xtask_with(&self, args: &[&str], more: &[(&str, &str)]) -> support::Run {
        let cargo = self.fakes.bin().join("cargo");
        let mut env = vec![
            ("CARGO", cargo.to_str().unwrap()),
            ("CARGO_HOME", self.cargo_home.path().to_str().unwrap()),
        ];
        env.extend_from_slice(more);
        self.fakes.xtask_with(args, &env)
    }

    /// What a real `cargo fetch` leaves: every registry crate of every
    /// lockfile in `CARGO_HOME/registry/cache/<registry>/NAME-VERSION.crate`.
    fn fill_cargo_cache(&self) {
        let cache = self
            .cargo_home
            .path()
            .join("registry/cache/index.crates.io-1949cf8c6b5b557f");
        std::fs::create_dir_all(&cache).unwrap();
        for lockfile in lockfiles() {
            let text = std::fs::read_to_string(support::root().join(&lockfile)).unwrap();
            for block in text.split("[[package]]").skip(1) {
                let field = |key: &str| {
                    block.lines().find_map(|line| {
                        let (k, v) = line.split_once('=')?;
                        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
                    })
                };
                if field("source").is_some_and(|s| s.starts_with("registry+")) {
                    let name = format!(
                        "{}-{}.crate",
                        field("name").unwrap(),
                        field("version").unwrap()
                    );
                    std::fs::write(cache.join(name), "crate").unwrap();
                }
            }
        }
    }

    fn cache(&self) -> PathBuf {
        self.fakes.cache()
    }

    /// The cache as the xtask prints a path: relative to the kit's root
    /// when inside it (the fakes live under target/).
    fn shown(&self) -> String {
        let cache = self.cache();
        cache
            .strip_prefix(support::root())
            .unwrap_or(&cache)
            .display()
            .to_string()
    }
}

/// The workspace's lockfile and every stage folder's.
fn lockfiles() -> Vec<String> {
    let mut all = vec!["Cargo.lock".to_string()];
    for tree in ["exercises", "solutions"] {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(support::root().join(tree))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|d| d.join("Cargo.lock").is_file())
            .collect();
        dirs.sort();
        for dir in dirs {
            all.push(format!(
                "{tree}/{}/Cargo.lock",
                dir.file_name().unwrap().to_str().unwrap()
            ));
        }
    }
    all
}

fn has_call(fakes: &Fakes, call: &str) -> bool {
    fakes.calls().iter().any(|c| c == call)
}

fn assert_call(fakes: &Fakes, call: &str) {
    assert!(
        has_call(fakes, call),
        "no call `{call}` among:\n{}",
        fakes.calls().join("\n")
    );
}

/// A class with everything prefetched, and its calls forgotten.
fn prefetched() -> Class {
    let class = Class::new();
    class.fill_cargo_cache();
    ok(&class.xtask(&["prefetch"]));
    class.fakes.clear_calls();
    class
}

#[test]
fn prefetch_fetches_every_need_then_nothing_the_second_time() {
    let class = Class::new();
    let run = class.xtask(&["prefetch"]);
    ok(&run);
    let fakes = &class.fakes;
    // Crates: `cargo fetch` of every lockfile, the lockfile unchanged.
    for lockfile in lockfiles() {
        let manifest = lockfile.replace("Cargo.lock", "Cargo.toml");
        assert_call(
            fakes,
            &format!("cargo fetch --locked --manifest-path {manifest}"),
        );
    }
    let cache = class.cache();
    let cache_text = class.shown();
    // Images: pulled, then saved into the cache.
    for (image, file) in [
        (
            "rancher/k3s:v1.36.5-k3s1",
            "images/rancher_k3s_v1.36.5-k3s1.tar",
        ),
        (
            "ghcr.io/k3d-io/k3d-proxy:5.8.3",
            "images/ghcr.io_k3d-io_k3d-proxy_5.8.3.tar",
        ),
        (
            "ghcr.io/k3d-io/k3d-tools:5.8.3",
            "images/ghcr.io_k3d-io_k3d-tools_5.8.3.tar",
        ),
        (
            "docker.io/library/registry:2",
            "images/docker.io_library_registry_2.tar",
        ),
        ("rust:1.95-slim-trixie", "images/rust_1.95-slim-trixie.tar"),
        ("postgres:17-trixie", "images/postgres_17-trixie.tar"),
        (
            "ghcr.io/cloudnative-pg/cloudnative-pg:1.30.0",
            "node-images/ghcr.io_cloudnative-pg_cloudnative-pg_1.30.0.tar",
        ),
        (
            "ghcr.io/cloudnative-pg/postgresql:18.4-system-trixie",
            "node-images/ghcr.io_cloudnative-pg_postgresql_18.4-system-trixie.tar",
        ),
    ] {
        assert_call(fakes, &format!("docker pull {image}"));
        assert_call(
            fakes,
            &format!("docker save --output {cache_text}/{file}.part {image}"),
        );
        assert!(cache.join(file).is_file(), "{file} is not in the cache");
    }
    assert_call(
        fakes,
        &format!(
            "curl --fail --location --silent --show-error --output {cache_text}/node-images/k3s-airgap-images-amd64.tar.zst.part https://github.com/k3s-io/k3s/releases/download/v1.36.5%2Bk3s1/k3s-airgap-images-amd64.tar.zst"
        ),
    );
    assert_call(
        fakes,
        &format!(
            "helm pull cloudnative-pg --repo https://cloudnative-pg.github.io/charts --version 0.29.0 --destination {cache_text}/charts"
        ),
    );
    assert!(cache.join("charts/cloudnative-pg-0.29.0.tgz").is_file());
    assert_call(
        fakes,
        "docker build --file solutions/06-ibdb/Dockerfile --tag lab-prefetch/solutions_06-ibdb solutions/06-ibdb",
    );
    let manifest = std::fs::read_to_string(cache.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("sha256:fake-rancher/k3s:v1.36.5-k3s1"),
        "{manifest}"
    );
    assert!(
        run.stdout
            .contains("✓ image rancher/k3s:v1.36.5-k3s1 (k3d's containers): fetched"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("everything a class needs is here"),
        "{}",
        run.stdout
    );

    // Again, with cargo's cache filled as `cargo fetch` fills it: nothing
    // is fetched, everything is reported as there.
    class.fill_cargo_cache();
    fakes.clear_calls();
    let again = class.xtask(&["prefetch"]);
    ok(&again);
    assert_eq!(
        fakes.calls(),
        [
            "k3d version".to_string(),
            "docker version --format {{.Server.Arch}}".into(),
        ],
        "a second prefetch only asks"
    );
    assert!(!again.stdout.contains(": fetched"), "{}", again.stdout);
    assert!(
        again.stdout.contains(
            "✓ chart cloudnative-pg 0.29.0: already there (charts/cloudnative-pg-0.29.0.tgz"
        ),
        "{}",
        again.stdout
    );
}

#[test]
fn prefetch_says_what_it_could_not_get_and_what_to_do() {
    let class = Class::new();
    class.fill_cargo_cache();
    class.fakes.set("fail-curl", "");
    let run = class.xtask(&["prefetch"]);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "✗ k3s-airgap-images-amd64.tar.zst (the cluster's nodes): could not be fetched: `curl"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("then: check the network to github.com"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("✗ 1 could not be fetched"),
        "{}",
        run.stdout
    );
    // The rest is there, and kept: the next run fetches only the archive.
    std::fs::remove_file(class.fakes.state().join("fail-curl")).unwrap();
    class.fakes.clear_calls();
    ok(&class.xtask(&["prefetch"]));
    let fetched: Vec<String> = class
        .fakes
        .calls()
        .into_iter()
        .filter(|c| !c.starts_with("k3d version") && !c.starts_with("docker version"))
        .collect();
    assert_eq!(fetched.len(), 1, "{fetched:?}");
    assert!(fetched[0].starts_with("curl "), "{fetched:?}");
}

#[test]
fn prefetch_dry_run_prints_the_plan_and_writes_nothing() {
    let class = Class::new();
    let run = class.xtask(&["prefetch", "--dry-run"]);
    ok(&run);
    assert!(class.fakes.calls().is_empty(), "{:?}", class.fakes.calls());
    assert!(!class.cache().exists());
    for line in [
        "$ k3d version",
        "$ docker pull rancher/k3s:v1.36.5-k3s1",
        "$ docker pull 'ghcr.io/k3d-io/k3d-proxy:<k3d version>'",
        "$ helm pull cloudnative-pg --repo https://cloudnative-pg.github.io/charts --version 0.29.0",
        "cargo fetch --locked --manifest-path solutions/06-ibdb/Cargo.toml",
        "→ chart cloudnative-pg 0.29.0: would be fetched",
    ] {
        assert!(run.stdout.contains(line), "no `{line}` in:\n{}", run.stdout);
    }
}

/// The chart: `helm pull` names the file after its URL in the repository's
/// index (helm/helm pkg/downloader/chart_downloader.go, `filepath.Base`;
/// cloudnative-pg/charts gh-pages index.yaml: `.../cloudnative-pg-0.29.0.tgz`),
/// and `helm upgrade --install` takes a chart file that exists as it is,
/// before any repository or version (pkg/action/install.go, `LocateChart`).
#[test]
fn up_offline_loads_k3d_images_and_mounts_the_node_images() {
    let class = prefetched();
    // Docker lost the images since (pruned, or the cache copied from
    // another laptop): they are loaded from the cache.
    std::fs::remove_file(class.fakes.state().join("images")).unwrap();
    let run = class.xtask(&["up", "--offline"]);
    ok(&run);
    let cache = class.cache().display().to_string();
    let shown = class.shown();
    let fakes = &class.fakes;
    assert_call(
        fakes,
        &format!("docker load --input {shown}/images/rancher_k3s_v1.36.5-k3s1.tar"),
    );
    assert_call(
        fakes,
        &format!("docker load --input {shown}/images/ghcr.io_k3d-io_k3d-tools_5.8.3.tar"),
    );
    assert_call(
        fakes,
        &format!(
            "k3d cluster create --config k3d.yaml --volume {cache}/node-images:/var/lib/rancher/k3s/agent/images@server:*;agent:*"
        ),
    );
    assert!(
        fakes.calls().iter().any(|c| c.starts_with(&format!(
            "helm upgrade --install cnpg {cache}/charts/cloudnative-pg-0.29.0.tgz "
        ))),
        "{:?}",
        fakes.calls()
    );
    assert!(
        !fakes.calls().iter().any(|c| c.starts_with("helm repo add")
            || c.starts_with("docker pull")
            || c.starts_with("k3d image import")),
        "no network, no import into a cluster that mounted them: {:?}",
        fakes.calls()
    );
    assert!(
        run.stdout.contains("offline: using the cache"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_complete_cache_is_used_without_offline_and_k3d_finds_its_images_in_docker() {
    let class = prefetched();
    let run = class.xtask(&["up"]);
    ok(&run);
    // Docker has them (prefetch pulled them): nothing to load.
    assert!(
        !class
            .fakes
            .calls()
            .iter()
            .any(|c| c.starts_with("docker load")),
        "{:?}",
        class.fakes.calls()
    );
    assert!(
        class
            .fakes
            .calls()
            .iter()
            .any(|c| c.starts_with("k3d cluster create --config k3d.yaml --volume "))
    );
}

#[test]
fn an_existing_cluster_gets_the_cnpg_images_imported_directly() {
    let class = prefetched();
    class.fakes.set("cluster", "");
    ok(&class.xtask(&["up", "--offline"]));
    let cache = class.shown();
    // `--mode direct`: no tools image (k3d-io/k3d cmd/image/imageImport.go:
    // the default mode is tools-node; pkg/client/tools.go importWithStream
    // streams into each server and agent with `ctr image import`).
    assert_call(
        &class.fakes,
        &format!(
            "k3d image import --mode direct --cluster microservices {cache}/node-images/ghcr.io_cloudnative-pg_cloudnative-pg_1.30.0.tar {cache}/node-images/ghcr.io_cloudnative-pg_postgresql_18.4-system-trixie.tar"
        ),
    );
    assert!(
        !class
            .fakes
            .calls()
            .iter()
            .any(|c| c.starts_with("k3d cluster create"))
    );
}

#[test]
fn offline_with_an_incomplete_cache_fails_before_changing_anything() {
    let class = Class::new();
    for args in [
        &["up", "--offline"][..],
        &["cnpg", "install", "--offline"],
        &["deploy", "--solutions", "--offline"],
    ] {
        class.fakes.clear_calls();
        let run = class.xtask(args);
        assert_eq!(
            run.code,
            Some(2),
            "{args:?}: {}\n{}",
            run.stdout,
            run.stderr
        );
        assert!(
            run.stderr.contains("offline, but the cache"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("run `cargo xtask prefetch` while online"),
            "{}",
            run.stderr
        );
        assert!(
            !class
                .fakes
                .calls()
                .iter()
                .any(|c| c.contains(" create") || c.contains("upgrade") || c.contains(" build ")),
            "{args:?}: {:?}",
            class.fakes.calls()
        );
    }
    // LAB_OFFLINE=1 is the same as --offline.
    let run = class.xtask_with(&["up"], &[("LAB_OFFLINE", "1")]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("k3s-airgap-images-amd64.tar.zst"),
        "{}",
        run.stderr
    );
}

#[test]
fn deploy_offline_loads_the_build_images_and_builds_from_docker_s_cache() {
    let class = prefetched();
    std::fs::remove_file(class.fakes.state().join("images")).unwrap();
    class.fakes.set("cluster", "");
    class.fakes.set("cnpg", "");
    let run = class.xtask(&["deploy", "--solutions", "--offline"]);
    ok(&run);
    let cache = class.shown();
    for file in [
        "rust_1.95-slim-trixie.tar",
        "gcr.io_distroless_static-debian13_nonroot.tar",
    ] {
        assert_call(
            &class.fakes,
            &format!("docker load --input {cache}/images/{file}"),
        );
    }
    assert!(
        class
            .fakes
            .calls()
            .iter()
            .any(|c| c.starts_with("docker build --file solutions/06-ibdb/Dockerfile --iidfile"))
    );
}

#[test]
fn doctor_says_what_an_offline_class_lacks() {
    let class = Class::new();
    let run = class.xtask(&["doctor"]);
    ok(&run);
    assert!(run.stdout.contains("Offline class"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("✗ crates of solutions/06-ibdb/Cargo.lock:")
            && run.stdout.contains("not in cargo's cache"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("✗ the cluster's images (k3s, k3d, CloudNativePG, PostgreSQL) and the CloudNativePG chart: nothing prefetched yet"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("run `cargo xtask prefetch` while online"),
        "{}",
        run.stdout
    );

    class.fill_cargo_cache();
    ok(&class.xtask(&["prefetch"]));
    let run = class.xtask(&["doctor"]);
    ok(&run);
    assert!(run.stdout.contains("✓ image ghcr.io/cloudnative-pg/postgresql:18.4-system-trixie (the cluster's nodes): node-images/"), "{}", run.stdout);
    assert!(
        run.stdout.contains("ready for a class without network"),
        "{}",
        run.stdout
    );
    // A lost file shows.
    std::fs::remove_file(class.cache().join("charts/cloudnative-pg-0.29.0.tgz")).unwrap();
    let run = class.xtask(&["doctor"]);
    assert!(
        run.stdout
            .contains("✗ chart cloudnative-pg 0.29.0: charts/cloudnative-pg-0.29.0.tgz is missing"),
        "{}",
        run.stdout
    );
}

// The upstream facts the lists rest on, each from the file that says it.

/// cloudnative-pg pkg/versions/versions.go at v1.30.0:
/// `DefaultImageName = "ghcr.io/cloudnative-pg/postgresql:18.4-system-trixie"`,
/// the image of a `Cluster` without `imageName` (the kit's name none), and
/// `DefaultOperatorImageName = "ghcr.io/cloudnative-pg/cloudnative-pg:1.30.0"`.
/// cloudnative-pg/charts charts/cloudnative-pg/values.yaml at
/// cloudnative-pg-v0.29.0: `image.repository: ghcr.io/cloudnative-pg/cloudnative-pg`,
/// `pullPolicy: IfNotPresent`, tag defaulting to Chart.yaml's
/// `appVersion: "1.30.0"` (templates/deployment.yaml).
#[test]
fn the_cnpg_images_are_those_of_operator_1_30_0_and_chart_0_29_0() {
    let run = Class::new().xtask(&["prefetch", "--dry-run"]);
    ok(&run);
    for image in [
        "ghcr.io/cloudnative-pg/postgresql:18.4-system-trixie",
        "ghcr.io/cloudnative-pg/cloudnative-pg:1.30.0",
    ] {
        assert!(
            run.stdout.contains(&format!("$ docker pull {image}")),
            "{image}:\n{}",
            run.stdout
        );
    }
    for file in [
        "k8s/database.yaml",
        "helm/ibdb/templates/cluster.yaml",
        "helm/ibdb/values.yaml",
        "solutions/05-postgres/k8s/database.yaml",
    ] {
        let text = std::fs::read_to_string(support::root().join(file)).unwrap();
        assert!(
            !text.contains("imageName"),
            "{file} names a PostgreSQL image: prefetch that one instead of CNPG's default"
        );
    }
}

/// k3d-io/k3d pkg/types/images.go (v5.8.3): `DefaultLBImageRepo =
/// "ghcr.io/k3d-io/k3d-proxy"`, `DefaultToolsImageRepo =
/// "ghcr.io/k3d-io/k3d-tools"`, both tagged `GetHelperImageVersion()` (the
/// version without `v`); `DefaultRegistryImageRepo:DefaultRegistryImageTag`
/// = `docker.io/library/registry:2`, used by pkg/config/transform.go when
/// `registries.create` names no image (k3d.yaml names none).
/// pkg/client/cluster.go `ClusterRun` always starts the tools node.
/// pkg/runtimes/docker/container.go `createContainer` pulls only when
/// Docker answers "not found": an image in Docker is used offline.
#[test]
fn k3d_needs_its_helper_images_tagged_with_its_version() {
    let k3d = std::fs::read_to_string(support::root().join("k3d.yaml")).unwrap();
    assert!(
        !k3d.contains("\n    image:"),
        "k3d.yaml names a registry image: prefetch that one"
    );
    let class = Class::new();
    class.fill_cargo_cache();
    ok(&class.xtask(&["prefetch"]));
    for image in [
        "ghcr.io/k3d-io/k3d-proxy:5.8.3",
        "ghcr.io/k3d-io/k3d-tools:5.8.3",
        "docker.io/library/registry:2",
    ] {
        assert_call(&class.fakes, &format!("docker pull {image}"));
    }
}

/// k3s docs installation/airgap.md, "Manually Deploy Images": the release's
/// `k3s-airgap-images-<arch>.tar.zst`, placed in
/// `/var/lib/rancher/k3s/agent/images/`, is imported when k3s starts; the
/// release `v1.36.5+k3s1` is the image tag `v1.36.5-k3s1` ("the image tag
/// replaces the + in the K3s release with a -"). k3d-io/k3d
/// docs/usage/configfile.md: `--volume SOURCE:DEST@server:*;agent:*`.
#[test]
fn k3s_imports_its_air_gap_archive_from_the_mounted_folder() {
    let class = prefetched();
    ok(&class.xtask(&["cluster", "create"]));
    let cache = class.cache().display().to_string();
    assert!(
        std::path::Path::new(&format!(
            "{cache}/node-images/k3s-airgap-images-amd64.tar.zst"
        ))
        .is_file()
    );
    assert_call(
        &class.fakes,
        &format!(
            "k3d cluster create --config k3d.yaml --volume {cache}/node-images:/var/lib/rancher/k3s/agent/images@server:*;agent:*"
        ),
    );
    // Only node images are in the mounted folder (k3s imports every archive there).
    for entry in std::fs::read_dir(class.cache().join("node-images")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            name.starts_with("ghcr.io_cloudnative-pg_") || name.starts_with("k3s-airgap-images-"),
            "{name} is not for the nodes"
        );
    }
}

/// `LAB_OFFLINE=1` reaches the cargo a check runs (`CARGO_NET_OFFLINE`): a
/// crate missing from cargo's cache fails the build at once, with cargo's
/// "offline mode" words and the kit's hint, instead of network time-outs.
/// A real cargo, an empty `CARGO_HOME`.
#[test]
fn lab_offline_keeps_the_checks_cargo_off_the_network() {
    let _turn = support::serial();
    let copy = support::StageCopy::new("solutions/01-health");
    let home = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let run = support::xtask_with_env(
        &["verify", "01", "--dir", copy.path.to_str().unwrap()],
        &[
            ("LAB_OFFLINE", "1"),
            ("CARGO_HOME", home.path().to_str().unwrap()),
        ],
    );
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("offline mode"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("run `cargo xtask prefetch` while online"),
        "{}",
        run.stdout
    );
}
