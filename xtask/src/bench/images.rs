//! `cargo xtask bench images`: the container figures the course sets goals
//! for. Printed for the instructor notes, never asserted: they depend on the
//! machine.
//!
//! - uncompressed size of the stage 02, 03 and IBDb images;
//! - cold build (`--no-cache`) against a rebuild after a source-only change,
//!   as a ratio (goal ≤ 0.25);
//! - container start to the first 200 on the health endpoint (goal ≤ 200 ms),
//!   and the same counting `docker create` too;
//! - idle memory of the IBDb container (goal ≤ 15 MB), with a database.

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
    run: Result<Run, String>,
    memory: Option<Result<Memory, String>>,
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
        "{:<18} {:>9} {:>6} {:>8} {:>6} {:>10} {:>12} {:>9} {:>9}",
        "image",
        "size",
        "cold",
        "rebuild",
        "ratio",
        "run → 200",
        "start → 200",
        "idle RSS",
        "cgroup"
    );
    for f in &all {
        let ratio = f.rebuild.as_secs_f64() / f.cold.as_secs_f64();
        let (run, start) = match &f.run {
            Ok(r) => (
                format!("{} ms", r.run.as_millis()),
                format!("{} ms", r.start.as_millis()),
            ),
            Err(_) => ("failed".into(), "failed".into()),
        };
        let mib = |bytes: u64| format!("{:.1} MiB", bytes as f64 / 1048576.0);
        let (rss, cgroup) = match &f.memory {
            Some(Ok(m)) => (mib(m.rss), mib(m.cgroup)),
            Some(Err(_)) => ("failed".into(), "failed".into()),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:<18} {:>9} {:>5.0}s {:>7.0}s {:>6.2} {:>10} {:>12} {:>9} {:>9}",
            f.name,
            docker::megabytes(f.size),
            f.cold.as_secs_f64(),
            f.rebuild.as_secs_f64(),
            ratio,
            run,
            start,
            rss,
            cgroup
        );
    }
    println!();
    println!(
        "goals: rebuild/cold ≤ {REBUILD_GOAL} (multi-stage images), start → 200 ≤ {} ms, IBDb idle RSS ≤ {} MiB",
        START_GOAL.as_millis(),
        MEMORY_GOAL / 1048576
    );
    println!(
        "run → 200 counts `docker create` too; start → 200 counts from `docker start`. IBDb's includes connecting to PostgreSQL and its migrations."
    );
    for f in &all {
        if let Err(why) = &f.run {
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
    let copy = crate::scratch::copy_with_source_change(dir, "the image benchmark")?;
    let rebuild_tag = format!("microservices-lab/{name}:bench-rebuild");
    let rebuild = docker::build(&copy.path, &rebuild_tag, BUILD_LIMIT)?;
    docker::remove_image(&rebuild_tag);
    anyhow::ensure!(
        rebuild.success,
        "{}: the rebuild failed:\n{}",
        subject.folder,
        docker::explain_failed_build(&rebuild).0
    );

    let (run, memory) = run(subject, &tag);
    Ok(Figures {
        name,
        size,
        cold: cold.took,
        rebuild: rebuild.took,
        run,
        memory,
    })
}

/// How fast the service answers, and how much memory it holds idle.
struct Run {
    /// `docker create` + `docker start` to the first 200.
    run: Duration,
    /// `docker start` to the first 200: the service's own start-up.
    start: Duration,
}

struct Memory {
    /// VmRSS of the service's process.
    rss: u64,
    /// What `docker stats` charges to the container.
    cgroup: u64,
}

/// Starts the image and polls its health path; then (for IBDb) the idle memory.
fn run(subject: &Subject, tag: &str) -> (Result<Run, String>, Option<Result<Memory, String>>) {
    let database = if subject.database {
        match crate::db::Throwaway::start() {
            Ok(db) => Some(db),
            Err(why) => return (Err(format!("no database for it: {why}")), None),
        }
    } else {
        None
    };
    let created = Instant::now();
    let container = match &database {
        Some(db) => Container::run_on_host_network(tag, &[&format!("DATABASE_URL={}", db.url())]),
        None => Container::run(tag),
    };
    let container = match container {
        Ok(container) => container,
        Err(e) => return (Err(e), None),
    };
    let url = container.url(subject.health);
    let mut first_200 = None;
    // Bounded: 10 s of polls at most.
    while created.elapsed() < Duration::from_secs(10) {
        if matches!(http::get(&url, Duration::from_secs(1)), Ok(r) if r.status == 200) {
            first_200 = Some(Run {
                run: created.elapsed(),
                start: container.started.elapsed(),
            });
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let first_200 = first_200.ok_or_else(|| {
        format!(
            "no 200 from {url} within 10 s; its output:\n{}",
            container.log_tail(10)
        )
    });
    let memory = subject.idle_memory.then(|| {
        // Idle: after start-up, with nothing asking.
        std::thread::sleep(Duration::from_secs(3));
        Ok(Memory {
            rss: container.process_rss()?,
            cgroup: container.memory_usage()?,
        })
    });
    (first_200, memory)
}
