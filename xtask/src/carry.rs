//! Files carried from one stage folder to another stay identical because
//! `cargo xtask sync` writes the copies and `cargo xtask lint` (run by the
//! test suite) fails when one drifts. Edit the source, then run `sync`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context;

use crate::paths;
use crate::stages::STAGES;

/// `files` of the folder `from`, copied to the same paths under each of `to`.
pub struct Carry {
    pub from: &'static str,
    pub files: &'static [&'static str],
    pub to: &'static [&'static str],
}

pub const CARRIED: &[Carry] = &[
    // The starter of stage 01 is built on the solution's manifest and main,
    // and its tests are the solution's.
    Carry {
        from: "solutions/01-health",
        files: &["Cargo.toml", "Cargo.lock", "src/main.rs", "tests/health.rs"],
        to: &["exercises/01-health"],
    },
    // The container stages package the stage 01 server unchanged.
    Carry {
        from: "solutions/01-health",
        files: &[
            "Cargo.toml",
            "Cargo.lock",
            "src/lib.rs",
            "src/main.rs",
            "tests/health.rs",
        ],
        to: &[
            "exercises/02-dockerfile",
            "solutions/02-dockerfile",
            "exercises/03-multi-stage",
            "solutions/03-multi-stage",
        ],
    },
    // Stage 04 deploys the stage 01 server; its Rust code is not the exercise.
    Carry {
        from: "solutions/01-health",
        files: &[
            "Cargo.toml",
            "Cargo.lock",
            "src/lib.rs",
            "src/main.rs",
            "tests/health.rs",
        ],
        to: &["exercises/04-kubernetes", "solutions/04-kubernetes"],
    },
    // Stage 06: the starter is the solution minus the handler bodies; its
    // tests, contract, schema, types and plumbing are the solution's.
    Carry {
        from: "solutions/06-ibdb",
        files: &[
            "Cargo.toml",
            "Cargo.lock",
            "openapi.yaml",
            "migrations/0001_books_and_reviews.sql",
            "examples/bare.rs",
            "src/main.rs",
            "src/lib.rs",
            "src/config.rs",
            "src/db.rs",
            "src/extract.rs",
            "src/guard.rs",
            "src/metrics.rs",
            "src/models.rs",
            "src/server.rs",
            "src/routes/mod.rs",
            "tests/api.rs",
            "tests/reliability.rs",
            "tests/support/mod.rs",
            "tests/support/initdb.rs",
            "tests/support/postgres.rs",
            "tests/support/process.rs",
            "tests/support/proxy.rs",
        ],
        to: &["exercises/06-ibdb"],
    },
    // One database provisioning policy for every stage's tests (xtask's
    // `db`, `bench ibdb` and stage checks include initdb.rs by #[path]).
    Carry {
        from: "solutions/06-ibdb",
        files: &[
            "tests/support/initdb.rs",
            "tests/support/postgres.rs",
            "tests/support/proxy.rs",
        ],
        to: &["exercises/05-postgres", "solutions/05-postgres"],
    },
    Carry {
        from: "solutions/05-postgres",
        files: &[
            "Cargo.toml",
            "Cargo.lock",
            "migrations/0001_create_books.sql",
            "src/main.rs",
            "src/config.rs",
            "tests/postgres.rs",
            "tests/support/mod.rs",
        ],
        to: &["exercises/05-postgres"],
    },
    // Stage 07: the trainee writes only src/handler_tests.rs.
    Carry {
        from: "solutions/07-mocks",
        files: &[
            "Cargo.toml",
            "Cargo.lock",
            "src/main.rs",
            "src/lib.rs",
            "src/db.rs",
            "src/error.rs",
            "src/store.rs",
            "src/handlers.rs",
        ],
        to: &["exercises/07-mocks"],
    },
    // Stage 07 reads the settings of stage 05.
    Carry {
        from: "solutions/05-postgres",
        files: &["src/config.rs"],
        to: &["exercises/07-mocks", "solutions/07-mocks"],
    },
    // Stage 07 continues IBDb: same schema, same types, same JSON extractor.
    Carry {
        from: "solutions/06-ibdb",
        files: &[
            "migrations/0001_books_and_reviews.sql",
            "src/extract.rs",
            "src/models.rs",
        ],
        to: &["exercises/07-mocks", "solutions/07-mocks"],
    },
    // ... built with stage 03's image recipe.
    Carry {
        from: "solutions/03-multi-stage",
        files: &["Dockerfile", ".dockerignore"],
        to: &["exercises/04-kubernetes", "solutions/04-kubernetes"],
    },
];

/// `cargo xtask sync`: writes every copy from its source.
pub fn sync() -> anyhow::Result<()> {
    let root = paths::root();
    let mut written = 0;
    for carry in CARRIED {
        for file in carry.files {
            let source = root.join(carry.from).join(file);
            let text = std::fs::read(&source)
                .with_context(|| format!("reading {}", paths::show(&source)))?;
            for to in carry.to {
                let dest = root.join(to).join(file);
                if std::fs::read(&dest).ok().as_deref() != Some(text.as_slice()) {
                    if let Some(parent) = dest.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::write(&dest, &text)?;
                    println!("wrote {}", paths::show(&dest));
                    written += 1;
                }
            }
        }
    }
    println!("{written} file(s) updated; every carried copy matches its source");
    Ok(())
}

/// `cargo xtask lint`: every problem found, one line each, with what to do.
pub fn lint() -> Vec<String> {
    let mut problems = carried_copies();
    problems.extend(stage_folders());
    problems.extend(lockfile_versions());
    problems
}

fn carried_copies() -> Vec<String> {
    let root = paths::root();
    let mut problems = Vec::new();
    for carry in CARRIED {
        for file in carry.files {
            let source = root.join(carry.from).join(file);
            let Ok(expected) = std::fs::read_to_string(&source) else {
                problems.push(format!(
                    "{}: missing, but it is the source of carried copies (xtask/src/carry.rs)",
                    paths::show(&source)
                ));
                continue;
            };
            for to in carry.to {
                let dest = root.join(to).join(file);
                match std::fs::read_to_string(&dest) {
                    Err(_) => problems.push(format!(
                        "{}: missing; it is a copy of {} (run `cargo xtask sync`)",
                        paths::show(&dest),
                        paths::show(&source)
                    )),
                    Ok(actual) if actual != expected => {
                        let line = first_difference(&expected, &actual);
                        problems.push(format!(
                            "{}:{line}: differs from its source {}; edit the source, then run `cargo xtask sync`",
                            paths::show(&dest),
                            paths::show(&source)
                        ));
                    }
                    Ok(_) => {}
                }
            }
        }
    }
    problems
}

fn first_difference(a: &str, b: &str) -> usize {
    a.lines()
        .zip(b.lines())
        .position(|(x, y)| x != y)
        .unwrap_or_else(|| a.lines().count().min(b.lines().count()))
        + 1
}

/// Every registered stage has its folders and chapter; no folder is unregistered.
fn stage_folders() -> Vec<String> {
    let root = paths::root();
    let mut problems = Vec::new();
    for stage in STAGES {
        for place in [
            format!("exercises/{}", stage.id),
            format!("solutions/{}", stage.id),
            format!("book/src/{}.md", stage.id),
        ] {
            if !root.join(&place).exists() {
                problems.push(format!(
                    "{place}: missing; stage {} is registered in xtask/src/stages/mod.rs",
                    stage.id
                ));
            }
        }
    }
    for tree in ["exercises", "solutions"] {
        let Ok(entries) = std::fs::read_dir(root.join(tree)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if entry.path().is_dir() && !STAGES.iter().any(|s| s.id == name) {
                problems.push(format!(
                    "{tree}/{name}: not a registered stage; add its module to xtask/src/stages/mod.rs or remove the folder"
                ));
            }
        }
    }
    problems
}

/// Stage lockfiles must agree: two semver-compatible versions of one crate
/// in different stages would be compiled twice in the shared target folder.
fn lockfile_versions() -> Vec<String> {
    let root = paths::root();
    // crate -> compatibility bucket -> version -> lockfiles
    let mut seen: BTreeMap<String, BTreeMap<String, BTreeMap<String, Vec<String>>>> =
        BTreeMap::new();
    for tree in ["exercises", "solutions"] {
        let Ok(entries) = std::fs::read_dir(root.join(tree)) else {
            continue;
        };
        for entry in entries.flatten() {
            let lock = entry.path().join("Cargo.lock");
            for (name, version) in locked_packages(&lock) {
                seen.entry(name)
                    .or_default()
                    .entry(compat_bucket(&version))
                    .or_default()
                    .entry(version)
                    .or_default()
                    .push(paths::show(&lock));
            }
        }
    }
    let mut problems = Vec::new();
    for (name, buckets) in seen {
        for versions in buckets.values().filter(|v| v.len() > 1) {
            let listed: Vec<String> = versions
                .iter()
                .map(|(version, locks)| {
                    let locks: BTreeSet<&String> = locks.iter().collect();
                    format!(
                        "{version} in {}",
                        locks.into_iter().cloned().collect::<Vec<_>>().join(", ")
                    )
                })
                .collect();
            problems.push(format!(
                "crate {name} is locked at different versions: {}; run `cargo update -p {name} --precise <one version>` in the odd stage folders",
                listed.join("; ")
            ));
        }
    }
    problems
}

fn locked_packages(lock: &Path) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(lock) else {
        return Vec::new();
    };
    let mut packages = Vec::new();
    let mut name = None;
    for line in text.lines() {
        if line == "[[package]]" {
            name = None;
        } else if let Some(value) = line.strip_prefix("name = ") {
            name = Some(value.trim_matches('"').to_string());
        } else if let Some(value) = line.strip_prefix("version = ")
            && let Some(name) = name.take()
        {
            packages.push((name, value.trim_matches('"').to_string()));
        }
    }
    packages
}

/// `1.2.3` → `1`, `0.8.4` → `0.8`, `0.0.7` → `0.0.7`: versions cargo treats as compatible.
fn compat_bucket(version: &str) -> String {
    let parts: Vec<&str> = version.split(['.', '-', '+']).take(3).collect();
    match parts.as_slice() {
        ["0", "0", patch, ..] => format!("0.0.{patch}"),
        ["0", minor, ..] => format!("0.{minor}"),
        [major, ..] => major.to_string(),
        [] => version.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatible_versions_share_a_bucket() {
        assert_eq!(compat_bucket("1.54.1"), "1");
        assert_eq!(compat_bucket("0.8.9"), "0.8");
        assert_eq!(compat_bucket("0.0.3"), "0.0.3");
        assert_ne!(compat_bucket("0.7.1"), compat_bucket("0.8.1"));
    }

    #[test]
    fn first_difference_is_one_based() {
        assert_eq!(first_difference("a\nb\nc", "a\nx\nc"), 2);
        assert_eq!(first_difference("a\nb", "a\nb\nc"), 3);
    }
}
