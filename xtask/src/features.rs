//! The xtask's optional parts (cargo features, `xtask/Cargo.toml`).
//!
//! `cargo xtask` builds the xtask without them, so a trainee's first
//! `cargo xtask verify 01` does not compile the Kubernetes types, the
//! benchmarks' load client or CI's image stand-ins. A command that needs a
//! part this build lacks is handed over, before anything else runs, to
//! `cargo run` of the xtask with that feature: built once (the trainee
//! reaching stage 04 pays for stage 04, which stage 05 reuses), then cargo keeps both builds.
//! `cargo test`, `cargo build` and clippy use the default features: all.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

/// A feature and what needs it.
pub struct Part {
    pub feature: &'static str,
    /// What it builds, for the note printed before building it.
    pub what: &'static str,
    /// The subcommands (first argument) that need it.
    pub commands: &'static [&'static str],
    /// The stages whose check needs it (`verify`, `selftest` of them).
    pub stages: &'static [&'static str],
}

pub const PARTS: &[Part] = &[
    Part {
        feature: "k8s",
        what: "the Kubernetes part (the official API types, k8s-openapi)",
        commands: &[
            "cluster", "cnpg", "up", "deploy", "smoke", "down", "chaos", "k8s", "helm", "tools",
            // The cluster's images and chart are named by the cluster code.
            "prefetch",
            // Grades every stage, with this very binary inside its sandbox.
            "class",
        ],
        stages: &["04-kubernetes", "05-postgres", "08-ship"],
    },
    Part {
        feature: "bench",
        what: "the benchmarks (the load client, tokio)",
        commands: &["bench"],
        stages: &[],
    },
    Part {
        feature: "ci",
        what: "the image stand-ins for CI",
        commands: &["docker"],
        stages: &[],
    },
];

/// Subcommands whose free arguments name stages (none named: every stage).
const STAGE_COMMANDS: &[&str] = &["verify", "selftest", "watch"];

/// Options of those commands that take a value (not a stage name).
const VALUE_OPTIONS: &[&str] = &["--dir"];

/// Set on the handed-over run, so that it never hands over again.
const HANDED_OVER: &str = "LAB_XTASK_FEATURES";

impl Part {
    pub fn built(&self) -> bool {
        match self.feature {
            "k8s" => cfg!(feature = "k8s"),
            "bench" => cfg!(feature = "bench"),
            "ci" => cfg!(feature = "ci"),
            other => unreachable!("PARTS names the feature {other}, which built() does not know"),
        }
    }
}

/// The parts the command line `args` (without the program name) needs.
pub fn needed(args: &[String]) -> Vec<&'static Part> {
    // `help cluster` shows what `cluster --help` shows.
    let args = match args {
        [help, rest @ ..] if help == "help" => rest,
        _ => args,
    };
    let Some(command) = args.first() else {
        return Vec::new();
    };
    if STAGE_COMMANDS.contains(&command.as_str()) {
        let stages = stages_named(&args[1..]);
        return PARTS
            .iter()
            .filter(|p| stages.iter().any(|s| p.stages.contains(&s.id)))
            .collect();
    }
    PARTS
        .iter()
        .filter(|p| p.commands.contains(&command.as_str()))
        .collect()
}

/// The stages a `verify` or `selftest` command line names; all of them when
/// it names none (a name that is no stage is left for the command to report).
fn stages_named(args: &[String]) -> Vec<&'static crate::stages::Stage> {
    use crate::stages::{STAGES, find};
    let mut names = Vec::new();
    let mut dir = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if let Some((option, value)) = arg.split_once('=') {
            if VALUE_OPTIONS.contains(&option) {
                dir = Some(value.to_string());
            }
        } else if VALUE_OPTIONS.contains(&arg.as_str()) {
            dir = rest.next().cloned();
        } else if !arg.starts_with('-') {
            names.push(arg.as_str());
        }
    }
    if names.is_empty() {
        // `--dir exercises/01-health`: the stage the folder is named after.
        let named_after = dir.as_deref().map(Path::new).and_then(|d| {
            let name = d.file_name()?.to_str()?;
            STAGES.iter().copied().find(|s| s.id == name)
        });
        return named_after.map_or_else(|| STAGES.to_vec(), |s| vec![s]);
    }
    names.into_iter().filter_map(|n| find(n).ok()).collect()
}

/// Hands the command over to an xtask built with the features it needs, when
/// this one lacks them; returns its exit code when it could not.
pub fn hand_over_if_needed() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let missing: Vec<&Part> = needed(&args).into_iter().filter(|p| !p.built()).collect();
    if missing.is_empty() {
        return None;
    }
    let names: Vec<&str> = missing.iter().map(|p| p.feature).collect();
    if let Ok(features) = std::env::var(HANDED_OVER) {
        eprintln!(
            "error: this xtask was built with features {features:?} for `cargo xtask {}`, which still needs {} (a bug in xtask/src/features.rs); run `cargo run -p xtask -- {}` to build every part",
            args.join(" "),
            names.join(", "),
            args.join(" ")
        );
        return Some(ExitCode::from(2));
    }
    let mut features: Vec<&str> = PARTS
        .iter()
        .filter(|p| p.built())
        .map(|p| p.feature)
        .collect();
    features.extend(&names);
    let what: Vec<&str> = missing.iter().map(|p| p.what).collect();
    let note = format!(
        "note: `cargo xtask {}` needs {}, which the xtask of the first stages leaves out; building an xtask with it, once (minutes on a busy laptop; cargo's progress follows) …",
        args.first().map(String::as_str).unwrap_or_default(),
        what.join(" and ")
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    build_with_progress(&cargo, &manifest, &features.join(","), &note);
    let mut command = std::process::Command::new(&cargo);
    command
        .args(["run", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .args(["--package", env!("CARGO_PKG_NAME"), "--no-default-features"])
        .arg("--features")
        .arg(features.join(","))
        .arg("--")
        .args(&args)
        .env(HANDED_OVER, features.join(","));
    // The handed-over run takes this process's place: signals, the exit code
    // and stdout (`verify --json`) are its own.
    #[cfg(unix)]
    let error = std::os::unix::process::CommandExt::exec(&mut command);
    #[cfg(not(unix))]
    let error = match command.status() {
        Ok(status) => return Some(ExitCode::from(status.code().unwrap_or(1) as u8)),
        Err(error) => error,
    };
    eprintln!(
        "error: could not run {}: {error}; run `cargo run -p xtask -- {}` (it builds every part of the xtask)",
        Path::new(&cargo).display(),
        args.join(" ")
    );
    Some(ExitCode::from(2))
}

/// Builds the xtask with `features` before handing over, so a first build
/// shows cargo's `Compiling` lines (the handed-over `cargo run --quiet`
/// would show nothing for minutes), and a later run, with nothing to build,
/// prints nothing at all. A failed build is left to `cargo run` to report.
fn build_with_progress(cargo: &OsString, manifest: &Path, features: &str, note: &str) {
    use std::io::BufRead;
    let child = std::process::Command::new(cargo)
        .args(["build", "--manifest-path"])
        .arg(manifest)
        .args(["--package", env!("CARGO_PKG_NAME"), "--no-default-features"])
        .args(["--features", features])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else { return };
    let mut noted = false;
    if let Some(stderr) = child.stderr.take() {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let status = line.trim_start();
            // What cargo says about an xtask that is already built.
            if !noted && (status.starts_with("Finished") || status.starts_with("Blocking")) {
                continue;
            }
            if !noted {
                eprintln!("{note}");
                noted = true;
            }
            eprintln!("{line}");
        }
    }
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(line: &str) -> Vec<&'static str> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        needed(&args).iter().map(|p| p.feature).collect()
    }

    #[test]
    fn the_first_stages_need_no_optional_part() {
        for line in [
            "verify 01",
            "verify health --json",
            "verify 1 2 3 --keep-going",
            "verify --dir /tmp/x/01-health",
            "verify 03 --dir=/tmp/x",
            "selftest 01",
            "watch 01 02",
            "hint 01",
            "doctor",
            "sync",
            "lint --code",
            "db up",
            "book",
            "",
        ] {
            assert_eq!(needs(line), Vec::<&str>::new(), "cargo xtask {line}");
        }
    }

    #[test]
    fn stages_04_05_and_the_cluster_commands_need_the_kubernetes_part() {
        for line in [
            "verify 04",
            // Stage 05's CloudNativePG manifests are checked with it too.
            "verify 05",
            "verify 05 --dir=/tmp/x",
            // Stage 08 lints, renders and checks a chart and skaffold.yaml.
            "verify 08",
            "selftest ship",
            "verify --dir /tmp/x/08-ship",
            "watch",
            "class grade /tmp/class",
            "verify",
            "verify --keep-going --solutions",
            "verify --dir /tmp/x/04-kubernetes",
            "verify --dir /tmp/exercises",
            "selftest",
            "selftest kubernetes",
            "up --dry-run",
            "up --offline",
            "prefetch",
            "help deploy",
            "k8s check",
            "helm lint",
        ] {
            assert_eq!(needs(line), ["k8s"], "cargo xtask {line}");
        }
        assert_eq!(needs("bench ibdb"), ["bench"]);
        assert_eq!(needs("docker standins"), ["ci"]);
    }

    /// Every subcommand is either light or listed in PARTS, and PARTS names
    /// real subcommands and stages: a new heavy command without its line
    /// here would fail to compile in the trainee's build, this says where.
    #[test]
    fn parts_name_real_commands_and_stages() {
        use clap::CommandFactory;
        let cli = crate::Cli::command();
        let commands: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
        for part in PARTS {
            for command in part.commands {
                assert!(commands.contains(command), "PARTS names `{command}`");
            }
            for stage in part.stages {
                assert!(crate::stages::find(stage).is_ok(), "PARTS names {stage}");
            }
        }
        for command in STAGE_COMMANDS {
            assert!(
                commands.contains(command),
                "STAGE_COMMANDS names `{command}`"
            );
        }
        // The build the tests run has every part.
        assert!(PARTS.iter().all(Part::built));
    }
}
