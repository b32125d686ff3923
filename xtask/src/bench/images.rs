//! `cargo xtask bench images`: the container figures the course sets goals
//! for. Printed for the instructor notes, never asserted: they depend on the
//! machine.
//!
//! - uncompressed size of the stage 02, 03 and IBDb images;
//! - cold build (`--no-cache`) against a rebuild after a source-only change,
//!   as a ratio (goal ≤ 0.25);
//! - `docker run` to the first 200 on the health endpoint (goal ≤ 200 ms);
//! - idle memory of the IBDb container (goal ≤ 15 MB).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::docker::{self, Container};
use crate::{http, paths};

const BUILD_LIMIT: Duration = Duration::from_secs(45 * 60);
const REBUILD_GOAL: f64 = 0.25;
const START_GOAL: Duration = Duration::from_millis(200);
const MEMORY_GOAL: u64 = 15 * 1024 * 1024;

struct Subject {
    folder: &'static str,
    /// The path answering 200 once the server is up.
    health: &'static str,
    /// Whether the service needs PostgreSQL (then it runs on the host
    /// network, with `DATABASE_URL` pointing at a throwaway server).
    database: bool,
    idle_memory: bool,
}

const SUBJECTS: &[Subject] = &[
    Subject {
        folder: "solutions/02-dockerfile",
        health: "/",
        database: false,
        idle_memory: false,
    },
    Subject {
        folder: "solutions/03-multi-stage",
        health: "/",
        database: false,
        idle_memory: false,
    },
    Subject {
        folder: "solutions/06-ibdb",
        health: "/healthz",
        // IBDb listens once its migrations ran, so it needs a database.
        database: true,
        idle_memory: true,
    },
];

struct Figures {
    name: String,
    size: u64,
    cold: Duration,
    rebuild: Duration,
    start: Result<Duration, String>,
    memory: Option<Result<u64, String>>,
}

pub fn images() -> anyhow::Result<bool> {
    crate::tools::Tool::Docker
        .probe()
        .map_err(|why| anyhow::anyhow!("docker is needed: {why}"))?;
    let mut all = Vec::new();
    for subject in SUBJECTS {
        let dir = paths::root().join(subject.folder);
        if !dir.join("Dockerfile").exists() {
            println!("- {}: no Dockerfile, skipped", subject.folder);
            continue;
        }
        println!(
            "… {}: cold build (--no-cache), then a rebuild after a source change",
            subject.folder
        );
        all.push(measure(subject, &dir)?);
    }
    println!();
    println!(
        "{:<26} {:>10} {:>9} {:>9} {:>8} {:>12} {:>10}",
        "image", "size", "cold", "rebuild", "ratio", "run → 200", "idle RSS"
    );
    for f in &all {
        let ratio = f.rebuild.as_secs_f64() / f.cold.as_secs_f64();
        let start = match &f.start {
            Ok(took) => format!("{} ms", took.as_millis()),
            Err(_) => "failed".into(),
        };
        let memory = match &f.memory {
            Some(Ok(bytes)) => format!("{:.1} MiB", *bytes as f64 / 1048576.0),
            Some(Err(_)) => "failed".into(),
            None => "-".into(),
        };
        println!(
            "{:<26} {:>10} {:>8.0}s {:>8.0}s {:>8.2} {:>12} {:>10}",
            f.name,
            docker::megabytes(f.size),
            f.cold.as_secs_f64(),
            f.rebuild.as_secs_f64(),
            ratio,
            start,
            memory
        );
    }
    println!();
    println!(
        "goals: rebuild/cold ≤ {REBUILD_GOAL} (multi-stage images), run → 200 ≤ {} ms, IBDb idle RSS ≤ {} MiB",
        START_GOAL.as_millis(),
        MEMORY_GOAL / 1048576
    );
    for f in &all {
        if let Err(why) = &f.start {
            println!("{}: the container did not answer: {why}", f.name);
        }
        if let Some(Err(why)) = &f.memory {
            println!("{}: memory not measured: {why}", f.name);
        }
    }
    Ok(true)
}

fn measure(subject: &Subject, dir: &Path) -> anyhow::Result<Figures> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("image")
        .to_string();
    let tag = format!("microservices-lab/{name}:bench");
    let cold = docker::build_cold(dir, &tag, BUILD_LIMIT)?;
    anyhow::ensure!(
        cold.success,
        "{}: the cold build failed:\n{}",
        subject.folder,
        docker::explain_failed_build(&cold).0
    );
    let size = docker::image_size(&tag).map_err(anyhow::Error::msg)?;

    // A source-only change in a copy: the copy must not disturb the kit.
    let base = paths::target_dir().join("tmp");
    std::fs::create_dir_all(&base)?;
    let temp = tempfile::tempdir_in(base)?;
    let copy = temp.path().join(&name);
    copy_tree(dir, &copy)?;
    let main = copy.join("src/main.rs");
    let text = std::fs::read_to_string(&main)?;
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::fs::write(
        &main,
        format!("{text}\n// bench: a source-only change ({nonce})\n"),
    )?;
    let rebuild_tag = format!("microservices-lab/{name}:bench-rebuild");
    let rebuild = docker::build(&copy, &rebuild_tag, BUILD_LIMIT)?;
    docker::remove_image(&rebuild_tag);
    anyhow::ensure!(
        rebuild.success,
        "{}: the rebuild failed:\n{}",
        subject.folder,
        docker::explain_failed_build(&rebuild).0
    );

    let (start, memory) = run(subject, &tag);
    Ok(Figures {
        name,
        size,
        cold: cold.took,
        rebuild: rebuild.took,
        start,
        memory,
    })
}

/// `docker run` to the first 200, then (for IBDb) the idle memory.
fn run(subject: &Subject, tag: &str) -> (Result<Duration, String>, Option<Result<u64, String>>) {
    let database = if subject.database {
        match crate::db::Throwaway::start() {
            Ok(db) => Some(db),
            Err(why) => return (Err(format!("no database for it: {why}")), None),
        }
    } else {
        None
    };
    let started = Instant::now();
    let container = match &database {
        Some(db) => Container::run_on_host_network(tag, &[&format!("DATABASE_URL={}", db.url)]),
        None => Container::run(tag),
    };
    let container = match container {
        Ok(container) => container,
        Err(e) => return (Err(e), None),
    };
    let url = container.url(subject.health);
    let mut first_200 = Err(format!("no 200 from {url} within 10 s"));
    // Bounded: 10 s of polls at most.
    while started.elapsed() < Duration::from_secs(10) {
        if matches!(http::get(&url, Duration::from_secs(1)), Ok(r) if r.status == 200) {
            first_200 = Ok(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if first_200.is_err() {
        first_200 = Err(format!(
            "no 200 from {url} within 10 s; its output:\n{}",
            container.log_tail(10)
        ));
    }
    let memory = subject.idle_memory.then(|| {
        std::thread::sleep(Duration::from_secs(3));
        container.memory_usage()
    });
    (first_200, memory)
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)?.flatten() {
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
