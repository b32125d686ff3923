//! `cargo xtask bench ibdb`: IBDb's throughput and p99 latency on loopback,
//! next to a bare axum+sqlx server doing the same primary-key read
//! (`solutions/06-ibdb/examples/bare.rs`). A goal, not a test: it prints
//! figures and the ratio, and fails only when something does not run.
//!
//! Every loop is bounded in time and in count; all traffic is to 127.0.0.1.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

const WORKERS: usize = 8;
const WARMUP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(5);
const MAX_REQUESTS_PER_WORKER: usize = 1_000_000;
const BOOKS: i64 = 100;
/// The read throughput IBDb should reach, relative to the bare server.
pub const GOAL: f64 = 0.9;

struct Figures {
    requests: usize,
    errors: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// A server process, killed on drop.
struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn ibdb() -> anyhow::Result<bool> {
    let stage = crate::paths::root().join("solutions/06-ibdb");
    eprintln!("building the solution and the baseline (release)...");
    let status = std::process::Command::new(crate::cargo::program())
        .args([
            "build",
            "--release",
            "--quiet",
            "--bin",
            "ibdb",
            "--example",
            "bare",
        ])
        .current_dir(&stage)
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("cargo build --release failed in solutions/06-ibdb");
    }
    let release = crate::paths::target_dir().join("release");
    let db = crate::db::Throwaway::start().map_err(|m| anyhow::anyhow!("{m}"))?;
    eprintln!("database: {}", db.url());

    let ibdb_port = crate::http::free_port();
    let _ibdb = start(&release.join("ibdb"), ibdb_port, db.url())?;
    let ibdb = format!("http://127.0.0.1:{ibdb_port}");
    wait_ready(&format!("{ibdb}/readyz"))?;
    seed(&ibdb)?;
    let bare_port = crate::http::free_port();
    let _bare = start(&release.join("examples/bare"), bare_port, db.url())?;
    let bare = format!("http://127.0.0.1:{bare_port}");
    wait_ready(&format!("{bare}/books/1"))?;

    println!(
        "{WORKERS} keep-alive clients, {} s each after {} s warm-up, {BOOKS} books\n",
        MEASURE.as_secs(),
        WARMUP.as_secs()
    );
    // Alternate the two servers and keep each one's best round, so a burst
    // of load from elsewhere on the machine does not decide the ratio.
    let mut best_bare: Option<Figures> = None;
    let mut best_ibdb: Option<Figures> = None;
    for round in 1..=2 {
        let b = load(&bare, Kind::Read)?;
        report(&format!("round {round}: bare GET /books/{{id}}"), &b);
        let i = load(&ibdb, Kind::Read)?;
        report(&format!("round {round}: IBDb GET /books/{{id}}"), &i);
        if best_bare
            .as_ref()
            .is_none_or(|x| b.per_second > x.per_second)
        {
            best_bare = Some(b);
        }
        if best_ibdb
            .as_ref()
            .is_none_or(|x| i.per_second > x.per_second)
        {
            best_ibdb = Some(i);
        }
    }
    let write = load(&ibdb, Kind::Review)?;
    report("IBDb POST /books/{id}/reviews", &write);

    let (bare, ibdb) = (best_bare.unwrap(), best_ibdb.unwrap());
    let ratio = ibdb.per_second / bare.per_second;
    println!(
        "\nread throughput IBDb / bare = {:.0} / {:.0} = {ratio:.2} (goal ≥ {GOAL}) {}",
        ibdb.per_second,
        bare.per_second,
        if ratio >= GOAL {
            "✓"
        } else {
            "✗ below the goal"
        }
    );
    if bare.errors + ibdb.errors + write.errors > 0 {
        bail!("some requests failed; the figures are not meaningful");
    }
    Ok(true)
}

fn start(exe: &Path, port: u16, url: &str) -> anyhow::Result<Process> {
    let child = std::process::Command::new(exe)
        .env("PORT", port.to_string())
        .env("DATABASE_URL", url)
        // Enough connections for every client, as in a tuned deployment.
        .env("DB_MAX_CONNECTIONS", WORKERS.to_string())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    Ok(Process(child))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn wait_ready(url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if crate::http::get(url, Duration::from_secs(2)).is_ok_and(|r| r.status == 200) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{url} did not answer 200 within 60 s")
}

fn seed(base: &str) -> anyhow::Result<()> {
    let agent = agent();
    for n in 1..=BOOKS {
        let body = format!(r#"{{"title":"Book {n}","author":"Author {n}","published_year":2000}}"#);
        let response = agent
            .post(&format!("{base}/books"))
            .header("content-type", "application/json")
            .send(body)?;
        if response.status() != 201 {
            bail!("seeding: POST /books answered {}", response.status());
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Kind {
    Read,
    Review,
}

/// `WORKERS` threads send requests back to back for `WARMUP` + `MEASURE`;
/// only the measured part counts.
fn load(base: &str, kind: Kind) -> anyhow::Result<Figures> {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let measure_from = start + WARMUP;
    let threads: Vec<_> = (0..WORKERS)
        .map(|w| {
            let stop = stop.clone();
            let base = base.to_string();
            std::thread::spawn(move || {
                let agent = agent();
                let mut latencies = Vec::new();
                let mut errors = 0;
                for i in 0..MAX_REQUESTS_PER_WORKER {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let id = (i * WORKERS + w) as i64 % BOOKS + 1;
                    let sent = Instant::now();
                    let result = match kind {
                        Kind::Read => agent.get(&format!("{base}/books/{id}")).call(),
                        Kind::Review => agent
                            .post(&format!("{base}/books/{id}/reviews"))
                            .header("content-type", "application/json")
                            .send(r#"{"rating":4,"comment":"benchmark"}"#),
                    };
                    let ok = match result {
                        Ok(mut r) => r.status().is_success() && r.body_mut().read_to_vec().is_ok(),
                        Err(_) => false,
                    };
                    if sent >= measure_from {
                        latencies.push(sent.elapsed());
                        if !ok {
                            errors += 1;
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    std::thread::sleep(WARMUP + MEASURE);
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut errors = 0;
    for thread in threads {
        let (l, e) = thread
            .join()
            .map_err(|_| anyhow::anyhow!("a load thread panicked"))?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().saturating_sub(WARMUP);
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Ok(Figures {
        requests: latencies.len(),
        errors,
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    })
}

fn report(name: &str, f: &Figures) {
    println!(
        "{name:<40} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} requests, {} errors)",
        f.per_second,
        f.p50.as_secs_f64() * 1e3,
        f.p99.as_secs_f64() * 1e3,
        f.requests,
        f.errors
    );
}
