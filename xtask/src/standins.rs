//! `cargo xtask docker standins`: local stand-ins for the base images the
//! kit's Dockerfiles name, for machines that cannot pull (CI behind a closed
//! network). Built from Debian packages with `debootstrap` and `docker import`,
//! only when a tag is missing. On a trainee's laptop the real images are
//! pulled and none of this runs.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::docker;
use crate::paths;

/// What a stand-in is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `rust:<version>-slim-trixie`: Debian, gcc, libc6-dev, CA certificates,
    /// the host's Rust toolchain where the official image keeps it.
    Rust { version: String },
    /// `gcr.io/distroless/cc-debian13`: glibc, libgcc, libstdc++, libssl,
    /// CA certificates, time zones, passwd/group; no shell, no package manager.
    DistrolessCc { nonroot: bool },
    /// `gcr.io/distroless/static-debian13`: the same without any library,
    /// for static binaries.
    DistrolessStatic { nonroot: bool },
    /// `postgres:<major>-trixie`, the tests' database: Debian's server
    /// packages behind an entrypoint that honours the official image's
    /// `POSTGRES_*` variables and `-c` arguments.
    Postgres { major: String },
}

const SUITE: &str = "trixie";
const MIRROR: &str = "http://deb.debian.org/debian";
/// Packages beyond minbase: the Rust builder's, and the distroless runtime's.
const INCLUDE: &str = "ca-certificates,gcc,libc6-dev,tzdata,libstdc++6,libssl3t64,libgomp1";
/// The packages whose files make up the distroless `static` stand-in.
const STATIC_PACKAGES: &[&str] = &["tzdata"];
/// The packages whose files make up the distroless `cc` stand-in (as in the real one).
const CC_PACKAGES: &[&str] = &[
    "libc6",
    "libgcc-s1",
    "libstdc++6",
    "libssl3t64",
    "libgomp1",
    "tzdata",
];
/// The label that marks an image as a stand-in.
pub const LABEL: &str = "dev.microservices-lab.standin";

/// The stand-ins' recipe, as a label on each: bump it whenever what a
/// stand-in contains or does changes, so a machine that keeps its Docker
/// images between runs (CI's does) rebuilds the stale ones instead of
/// testing against them. 2: the postgres stand-in logs as the official
/// entrypoint does (its temporary server on stdout).
pub const RECIPE: &str = "2";
const RECIPE_LABEL: &str = "dev.microservices-lab.standin.recipe";

/// The tag of an official Docker Hub image `name`, written either way.
fn official_tag<'a>(image: &'a str, name: &str) -> Option<&'a str> {
    let short = image.strip_prefix("docker.io/library/").unwrap_or(image);
    short.strip_prefix(name)?.strip_prefix(':')
}

fn classify(image: &str) -> Option<Kind> {
    if let Some(tag) = official_tag(image, "rust")
        && let Some(version) = tag.strip_suffix("-slim-trixie")
    {
        return Some(Kind::Rust {
            version: version.to_string(),
        });
    }
    if let Some(tag) = official_tag(image, "postgres")
        && let Some(major) = tag.strip_suffix("-trixie")
        && major.chars().all(|c| c.is_ascii_digit())
    {
        return Some(Kind::Postgres {
            major: major.to_string(),
        });
    }
    let (name, tag) = image.rsplit_once(':')?;
    let nonroot = tag.contains("nonroot");
    match name {
        "gcr.io/distroless/cc-debian13" => Some(Kind::DistrolessCc { nonroot }),
        "gcr.io/distroless/static-debian13" => Some(Kind::DistrolessStatic { nonroot }),
        _ => None,
    }
}

/// The base images named by every Dockerfile of the kit, with where, and
/// the image the tests run PostgreSQL from.
pub fn named_images() -> Vec<(String, String)> {
    let root = paths::root();
    let mut found: Vec<(String, String)> = Vec::new();
    for tree in ["exercises", "solutions"] {
        let Ok(entries) = std::fs::read_dir(root.join(tree)) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        dirs.sort();
        for dir in dirs {
            let file = dir.join("Dockerfile");
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            for from in docker::base_images(&text) {
                if !found.iter().any(|(image, _)| *image == from.image) {
                    found.push((from.image, format!("{}:{}", paths::show(&file), from.line)));
                }
            }
        }
    }
    found.push((
        crate::db::IMAGE.to_string(),
        "the tests' database, solutions/06-ibdb/tests/support/postgres.rs".to_string(),
    ));
    found
}

/// Builds the missing stand-ins; returns whether every named image exists.
pub fn run(force: bool) -> anyhow::Result<bool> {
    let images = named_images();
    anyhow::ensure!(
        !images.is_empty(),
        "no Dockerfile in the kit names an image"
    );
    let mut ok = true;
    for (image, place) in &images {
        if !force && docker::image_exists(image) {
            match docker::image_label(image, LABEL).as_deref() {
                // A real image (pulled), or a stand-in of today's recipe.
                Ok("") | Err(_) => {
                    println!("✓ {image} is present ({place})");
                    continue;
                }
                _ if docker::image_label(image, RECIPE_LABEL).as_deref() == Ok(RECIPE) => {
                    println!("✓ {image} is present, a stand-in of recipe {RECIPE} ({place})");
                    continue;
                }
                _ => println!("… {image} is a stand-in of an older recipe: rebuilding it"),
            }
        }
        let Some(kind) = classify(image) else {
            println!(
                "✗ {image} ({place}) is missing and no stand-in is known for it; pull it, or teach xtask/src/standins.rs to build it"
            );
            ok = false;
            continue;
        };
        println!("… building a stand-in for {image} ({place})");
        build(image, &kind).with_context(|| format!("building the stand-in {image}"))?;
        let size = docker::image_size(image)
            .map(docker::megabytes)
            .map_err(anyhow::Error::msg)?;
        println!("✓ {image}: offline stand-in built ({size})");
    }
    Ok(ok)
}

fn work_dir() -> PathBuf {
    paths::target_dir().join("standins")
}

#[cfg(not(target_os = "linux"))]
fn build(_image: &str, _kind: &Kind) -> anyhow::Result<()> {
    bail!("stand-ins are built on Linux (debootstrap); elsewhere, pull the real images")
}

#[cfg(target_os = "linux")]
fn build(image: &str, kind: &Kind) -> anyhow::Result<()> {
    let rootfs = match kind {
        Kind::Postgres { major } => debian_rootfs("postgres", &format!("postgresql-{major}"))?,
        _ => debian_rootfs("minbase", INCLUDE)?,
    };
    let staging = work_dir().join(format!("{}.rootfs", image.replace(['/', ':', '@'], "_")));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    let changes = match kind {
        Kind::Rust { version } => rust_rootfs(&rootfs, &staging, version)?,
        Kind::DistrolessCc { nonroot } => {
            distroless_rootfs(&rootfs, &staging, CC_PACKAGES, *nonroot)?
        }
        Kind::DistrolessStatic { nonroot } => {
            distroless_rootfs(&rootfs, &staging, STATIC_PACKAGES, *nonroot)?
        }
        Kind::Postgres { major } => postgres_rootfs(&rootfs, &staging, major)?,
    };
    let mut args: Vec<String> = vec!["import".into()];
    for change in changes.iter().chain(&[
        format!("LABEL {LABEL}=true"),
        format!("LABEL {RECIPE_LABEL}={RECIPE}"),
        format!(
            "LABEL org.opencontainers.image.description=\"offline stand-in for {image}, built from Debian {SUITE} packages by cargo xtask docker standins\""
        ),
    ]) {
        args.push("--change".into());
        args.push(change.clone());
    }
    args.push("-".into());
    args.push(image.into());
    duct::cmd!(
        "tar",
        "--create",
        "--numeric-owner",
        "--directory",
        &staging,
        "--exclude=./usr/share/doc/*",
        "--exclude=./usr/share/man/*",
        "--exclude=./usr/share/info/*",
        "--exclude=./usr/share/locale/*",
        "--exclude=./var/cache/apt/*",
        "--exclude=./var/lib/apt/lists/*",
        "."
    )
    .pipe(duct::cmd("docker", &args).stdout_null())
    .run()
    .context("tar | docker import")?;
    std::fs::remove_dir_all(&staging)?;
    Ok(())
}

/// A minimal Debian tree with the packages stand-ins take files from
/// (`include`), made once and kept under target/standins/SUITE-NAME.
#[cfg(target_os = "linux")]
fn debian_rootfs(name: &str, include: &str) -> anyhow::Result<PathBuf> {
    let dir = work_dir();
    let rootfs = dir.join(format!("{SUITE}-{name}"));
    let done = dir.join(format!("{SUITE}-{name}.complete"));
    if done.exists() && rootfs.is_dir() {
        return Ok(rootfs);
    }
    if which::which("debootstrap").is_err() {
        bail!("debootstrap is missing: sudo apt-get install debootstrap");
    }
    std::fs::create_dir_all(&dir)?;
    let partial = dir.join(format!("{SUITE}-{name}.partial"));
    if partial.exists() {
        std::fs::remove_dir_all(&partial)?;
    }
    if rootfs.exists() {
        std::fs::remove_dir_all(&rootfs)?;
    }
    println!(
        "… debootstrap --variant=minbase --include={include} {SUITE} (once; kept in {})",
        paths::show(&rootfs)
    );
    let out = duct::cmd!(
        "debootstrap",
        "--variant=minbase",
        format!("--include={include}"),
        SUITE,
        &partial,
        MIRROR
    )
    .stderr_to_stdout()
    .stdout_capture()
    .unchecked()
    .run()?;
    if !out.status.success() {
        bail!(
            "debootstrap failed (it needs root and {MIRROR}):\n{}",
            crate::proc::tail(&String::from_utf8_lossy(&out.stdout), 15)
        );
    }
    std::fs::rename(&partial, &rootfs)?;
    std::fs::write(
        &done,
        format!("debootstrap --variant=minbase --include={include} {SUITE} {MIRROR}\n"),
    )?;
    Ok(rootfs)
}

/// The host's toolchain: its sysroot and full version (`1.95.0`).
#[cfg(target_os = "linux")]
fn host_toolchain() -> anyhow::Result<(PathBuf, String)> {
    let rustc = |arg: &str| -> anyhow::Result<String> {
        Ok(duct::cmd!("rustc", arg).read()?.trim().to_string())
    };
    let sysroot = PathBuf::from(rustc("--print=sysroot")?);
    let version = rustc("--version")?;
    let version = version
        .split_whitespace()
        .nth(1)
        .context("unexpected rustc --version")?
        .to_string();
    Ok((sysroot, version))
}

#[cfg(target_os = "linux")]
fn rust_rootfs(rootfs: &Path, staging: &Path, version: &str) -> anyhow::Result<Vec<String>> {
    let (sysroot, host_version) = host_toolchain()?;
    if host_version != version && !host_version.starts_with(&format!("{version}.")) {
        bail!(
            "the image names Rust {version}, the host has {host_version}: install that toolchain (rustup toolchain install {version}) and run this again"
        );
    }
    // Hard links: the cached tree is not copied, only linked.
    duct::cmd!("cp", "-al", rootfs, staging).run()?;
    // The host's CA bundle: this network intercepts TLS, and cargo inside the
    // build must trust the proxy's authority. Replace, never write through
    // the hard link into the cached tree.
    let bundle = staging.join("etc/ssl/certs/ca-certificates.crt");
    let _ = std::fs::remove_file(&bundle);
    std::fs::copy("/etc/ssl/certs/ca-certificates.crt", &bundle)
        .context("copying the host's /etc/ssl/certs/ca-certificates.crt")?;

    let triple = "x86_64-unknown-linux-gnu";
    let toolchain = format!("{host_version}-{triple}");
    let dest = staging.join("usr/local/rustup/toolchains").join(&toolchain);
    std::fs::create_dir_all(&dest)?;
    duct::cmd!(
        "tar",
        "--create",
        "--directory",
        &sysroot,
        "--exclude=./share/doc",
        "--exclude=./lib/rustlib/src",
        "."
    )
    .pipe(duct::cmd!("tar", "--extract", "--directory", &dest))
    .run()
    .context("copying the host toolchain")?;
    std::fs::write(
        staging.join("usr/local/rustup/settings.toml"),
        format!("version = \"12\"\ndefault_toolchain = \"{toolchain}\"\n"),
    )?;
    let bin = staging.join("usr/local/cargo/bin");
    std::fs::create_dir_all(&bin)?;
    for entry in std::fs::read_dir(dest.join("bin"))?.flatten() {
        let name = entry.file_name();
        std::os::unix::fs::symlink(
            Path::new("../../rustup/toolchains")
                .join(&toolchain)
                .join("bin")
                .join(&name),
            bin.join(&name),
        )?;
    }
    Ok(vec![
        "ENV RUSTUP_HOME=/usr/local/rustup".into(),
        "ENV CARGO_HOME=/usr/local/cargo".into(),
        "ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        format!("ENV RUST_VERSION={host_version}"),
        "CMD [\"bash\"]".into(),
    ])
}

/// What the stand-in's entrypoint does of the official one
/// (docker-library/postgres `docker-entrypoint.sh`, read upstream):
/// `POSTGRES_USER`, `POSTGRES_PASSWORD`, `POSTGRES_DB`,
/// `POSTGRES_HOST_AUTH_METHOD`, `POSTGRES_INITDB_ARGS`, a first argument
/// starting with `-` meaning options for `postgres`, dropping root for the
/// `postgres` user, the scripts in `/docker-entrypoint-initdb.d`, and above
/// all the same two servers with the same logs: a socket-only temporary
/// server started by `pg_ctl` (whose log `pg_ctl` sends to stdout) for the
/// set-up, then the real one in the foreground (logging to stderr).
/// testcontainers-modules' `postgres` waits for "ready to accept
/// connections" on both streams; `xtask/tests/docker_standins.rs` checks it.
const POSTGRES_ENTRYPOINT: &str = r#"#!/bin/bash
# Offline stand-in for the official postgres image's entrypoint (written by
# cargo xtask docker standins), following docker-library/postgres
# docker-entrypoint.sh in the parts the kit uses, with the same log lines.
set -Eeo pipefail
case "${1:-}" in -*) set -- postgres "$@" ;; esac
if [ "${1:-}" != postgres ]; then exec "$@"; fi
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ -s "$PGDATA/PG_VERSION" ]; then
    printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
    exec "$@"
fi
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    echo "Error: Database is uninitialized and superuser password is not specified." >&2
    echo "       Set POSTGRES_PASSWORD, or POSTGRES_HOST_AUTH_METHOD=trust." >&2
    exit 1
fi
ls /docker-entrypoint-initdb.d/ > /dev/null
eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "${POSTGRES_PASSWORD:-}") --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD" '"${POSTGRES_INITDB_ARGS:-}"
printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"
printf "listen_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
export PGPASSWORD="${PGPASSWORD:-${POSTGRES_PASSWORD:-}}"
# The temporary server: socket only, with the container's options. pg_ctl
# starts it with `2>&1` (postgres src/bin/pg_ctl/pg_ctl.c), so its log,
# "ready to accept connections" included, goes to stdout.
temp_options=("${@:2}" -c listen_addresses= -p "${PGPORT:-5432}")
NOTIFY_SOCKET= PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -o "$(printf '%q ' "${temp_options[@]}")" -w start
sql() { PGHOST= PGHOSTADDR= psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "$@"; }
if [ -z "$(sql --dbname postgres --set db="$POSTGRES_DB" --tuples-only <<< "SELECT 1 FROM pg_database WHERE datname = :'db'")" ]; then
    sql --dbname postgres --set db="$POSTGRES_DB" <<< 'CREATE DATABASE :"db"'
fi
printf '\n'
shopt -s nullglob
for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
        *.sh) printf '%s: sourcing %s\n' "$0" "$f"; . "$f" ;;
        *.sql) printf '%s: running %s\n' "$0" "$f"; sql --dbname "$POSTGRES_DB" -f "$f" ;;
        *) printf '%s: ignoring %s\n' "$0" "$f" ;;
    esac
done
PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -m fast -w stop
unset PGPASSWORD
printf '\nPostgreSQL init process complete; ready for start up.\n\n'
exec "$@"
"#;

/// The server packages' tree without the cluster their installation made,
/// plus the entrypoint; the environment of the official image (except its
/// STOPSIGNAL SIGINT, which `docker import` cannot set: the tests remove the
/// container with `docker rm -f` anyway).
#[cfg(target_os = "linux")]
fn postgres_rootfs(rootfs: &Path, staging: &Path, major: &str) -> anyhow::Result<Vec<String>> {
    use std::os::unix::fs::PermissionsExt;

    duct::cmd!("cp", "-al", rootfs, staging).run()?;
    for made_by_postinst in ["var/lib/postgresql", "etc/postgresql"] {
        let path = staging.join(made_by_postinst).join(major);
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
    }
    let entrypoint = staging.join("usr/local/bin/docker-entrypoint.sh");
    std::fs::create_dir_all(entrypoint.parent().expect("a folder"))?;
    std::fs::create_dir_all(staging.join("docker-entrypoint-initdb.d"))?;
    std::fs::write(&entrypoint, POSTGRES_ENTRYPOINT)?;
    std::fs::set_permissions(&entrypoint, std::fs::Permissions::from_mode(0o755))?;
    Ok(vec![
        format!("ENV PG_MAJOR={major}"),
        format!(
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/{major}/bin"
        ),
        "ENV PGDATA=/var/lib/postgresql/data".into(),
        "ENV LANG=C.UTF-8".into(),
        "VOLUME /var/lib/postgresql/data".into(),
        "ENTRYPOINT [\"docker-entrypoint.sh\"]".into(),
        "EXPOSE 5432".into(),
        "CMD [\"postgres\"]".into(),
    ])
}

/// Only the files of the runtime libraries' packages, plus the few files
/// distroless adds: no shell, no coreutils, no package manager.
#[cfg(target_os = "linux")]
fn distroless_rootfs(
    rootfs: &Path,
    staging: &Path,
    packages: &[&str],
    nonroot: bool,
) -> anyhow::Result<Vec<String>> {
    use std::os::unix::fs::{PermissionsExt, chown, symlink};

    let mut files: Vec<String> = Vec::new();
    for package in packages {
        let info = rootfs.join("var/lib/dpkg/info");
        let list = [format!("{package}:amd64.list"), format!("{package}.list")]
            .into_iter()
            .map(|name| info.join(name))
            .find(|path| path.exists())
            .with_context(|| format!("package {package} is not in {}", paths::show(rootfs)))?;
        files.extend(std::fs::read_to_string(list)?.lines().map(str::to_string));
    }
    files.extend(
        [
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/ld.so.cache",
            "/etc/os-release",
            "/usr/lib/os-release",
            "/etc/nsswitch.conf",
        ]
        .map(String::from),
    );
    std::fs::create_dir_all(staging)?;
    // usrmerge: /lib, /lib64, /bin, /sbin are links into /usr.
    for link in ["bin", "lib", "lib64", "sbin"] {
        if let Ok(target) = std::fs::read_link(rootfs.join(link)) {
            symlink(target, staging.join(link))?;
        }
    }
    for file in &files {
        let relative = file.trim_start_matches('/');
        if relative.is_empty() || relative.starts_with("usr/share/doc") {
            continue;
        }
        let from = rootfs.join(relative);
        let to = staging.join(relative);
        let Ok(meta) = std::fs::symlink_metadata(&from) else {
            continue;
        };
        if meta.is_dir() {
            std::fs::create_dir_all(&to)?;
            continue;
        }
        if let Some(parent) = to.parent() {
            // Through the usrmerge links: create the real folder under usr/.
            std::fs::create_dir_all(parent)?;
        }
        if std::fs::symlink_metadata(&to).is_ok() {
            continue;
        }
        if meta.file_type().is_symlink() {
            symlink(std::fs::read_link(&from)?, &to)?;
        } else {
            std::fs::copy(&from, &to)?;
        }
    }
    std::fs::write(
        staging.join("etc/passwd"),
        "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
    )?;
    std::fs::write(
        staging.join("etc/group"),
        "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n",
    )?;
    for (dir, mode, owner) in [
        ("tmp", 0o1777, 0),
        ("root", 0o700, 0),
        ("home/nonroot", 0o700, 65532),
    ] {
        let path = staging.join(dir);
        std::fs::create_dir_all(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        chown(&path, Some(owner), Some(owner))?;
    }
    let (user, home) = if nonroot {
        ("65532", "/home/nonroot")
    } else {
        ("0", "/root")
    };
    Ok(vec![
        format!("USER {user}"),
        format!("WORKDIR {home}"),
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt".into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_images_are_classified() {
        assert_eq!(
            classify("rust:1.95-slim-trixie"),
            Some(Kind::Rust {
                version: "1.95".into()
            })
        );
        assert_eq!(
            classify("gcr.io/distroless/cc-debian13:nonroot"),
            Some(Kind::DistrolessCc { nonroot: true })
        );
        assert_eq!(
            classify("gcr.io/distroless/static-debian13:nonroot"),
            Some(Kind::DistrolessStatic { nonroot: true })
        );
        assert_eq!(
            classify("postgres:17-trixie"),
            Some(Kind::Postgres { major: "17".into() })
        );
        assert_eq!(classify("postgres:17-alpine"), None);
        assert_eq!(classify("alpine:3"), None);
    }
}
