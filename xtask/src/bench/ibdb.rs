//! `cargo xtask bench ibdb`: IBDb with all its middleware against a bare
//! axum+sqlx server running the same SQL (`solutions/06-ibdb/examples/bare.rs`),
//! for reads (`GET /books/{id}` on 10,000 books) and writes (review POSTs).
//! A goal, not a test: it prints figures and ratios, and fails only when
//! something does not run or requests fail.
//!
//! Rounds alternate the servers' order and every ratio is the median of
//! per-round ratios, so a burst of load from elsewhere on the machine hits
//! both sides. Every loop is bounded in time and in count; all traffic goes
//! to 127.0.0.1.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};

use super::chart;
use super::wrk;
use loadgen::figures::{Sample, median};
use loadgen::{self as client, Plan, Target};

pub const BOOKS: u64 = 10_000;
/// Read throughput IBDb should reach relative to the bare server, and the
/// most its p99 may exceed the bare p99 by.
pub const READ_GOAL: f64 = 0.95;
pub const P99_GOAL: f64 = 1.1;
/// Write throughput goal relative to the bare server.
pub const WRITE_GOAL: f64 = 0.9;
/// Database connections per server, the same for both.
const POOL: u32 = 16;

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Alternating rounds (each runs every server, client and request kind once).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Measured seconds per run (after a 2 s warm-up).
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Do not pin the server, the client and PostgreSQL to separate CPUs.
    #[arg(long)]
    pub no_pin: bool,
    /// Skip wrk even when it is installed.
    #[arg(long)]
    pub no_wrk: bool,
    /// Reads only (quicker, while tuning).
    #[arg(long)]
    pub no_writes: bool,
    /// Measure this IBDb executable instead of the one built from
    /// solutions/06-ibdb (to compare a change with the code before it).
    #[arg(long, value_name = "PATH")]
    pub ibdb: Option<std::path::PathBuf>,
}

/// A server process, killed on drop, and by the xtask's Ctrl-C (or SIGTERM)
/// handler and watchdog when the bench ends otherwise.
struct Process {
    child: std::process::Child,
    _registration: crate::proc::Registration,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    Bare,
    Ibdb,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Bare => "bare",
            Server::Ibdb => "IBDb",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    BuiltIn,
    Wrk,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::BuiltIn => "built-in",
            Client::Wrk => "wrk",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Read => "GET /books/{id}",
            Kind::Write => "POST /books/{id}/reviews",
        }
    }

    fn target(self) -> Target {
        match self {
            Kind::Read => Target::Read { books: BOOKS },
            Kind::Write => Target::Review { books: BOOKS },
        }
    }
}

/// One measured run.
struct Run {
    round: usize,
    kind: Kind,
    client: Client,
    server: Server,
    sample: Sample,
}

/// Which CPUs each party runs on; `None`: wherever the scheduler likes.
struct Layout {
    server: Option<String>,
    client: Option<Vec<usize>>,
    database: Option<String>,
}

impl Layout {
    /// Server alone on CPU 0, so it is the bottleneck being measured; the
    /// client and PostgreSQL on the others (on 2 CPUs: together on CPU 1).
    fn new(pin: bool) -> (Layout, String) {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let none = Layout {
            server: None,
            client: None,
            database: None,
        };
        if !pin {
            return (none, "not pinned (--no-pin)".into());
        }
        if cpus < 2 || which::which("taskset").is_err() {
            return (
                none,
                format!("not pinned ({cpus} CPU(s), taskset {})", found("taskset")),
            );
        }
        let database = if cpus >= 3 {
            format!("2-{}", cpus - 1)
        } else {
            "1".into()
        };
        let text = format!(
            "server on CPU 0; load client on CPU 1; PostgreSQL on CPU {database} \
             (of {cpus}); other work on the machine is not pinned away"
        );
        (
            Layout {
                server: Some("0".into()),
                client: Some(vec![1]),
                database: Some(database),
            },
            text,
        )
    }
}

fn found(tool: &str) -> &'static str {
    if which::which(tool).is_ok() {
        "found"
    } else {
        "missing"
    }
}

pub fn ibdb(options: &Options) -> anyhow::Result<bool> {
    eprintln!("building the solution and the baseline (release)...");
    let release = super::release_build(&["--bin", "ibdb", "--example", "bare"])?;
    let (layout, layout_text) = Layout::new(!options.no_pin);
    let db = crate::db::Throwaway::start().map_err(|m| anyhow::anyhow!("{m}"))?;
    eprintln!("database: {}", db.url());
    let db_pinned = pin_database(&db, layout.database.as_deref());

    let ibdb_port = crate::http::free_port();
    let exe = options.ibdb.clone().unwrap_or_else(|| release.join("ibdb"));
    let ibdb = start(&exe, ibdb_port, db.url(), &layout)?;
    wait_ready(ibdb_port, "/readyz")?;
    let seeded = client::run(&Plan {
        port: ibdb_port,
        target: Target::CreateBook,
        connections: 16,
        warmup: Duration::ZERO,
        measure: Duration::from_secs(120),
        max_requests: BOOKS / 16,
        cpus: None,
        server_pid: None,
    })?;
    if seeded.errors > 0 || seeded.requests != BOOKS {
        bail!(
            "seeding {BOOKS} books through POST /books: {} sent, {} failed; first: {}",
            seeded.requests,
            seeded.errors,
            seeded.first_error.unwrap_or_default()
        );
    }
    let bare_port = crate::http::free_port();
    let bare = start(&release.join("examples/bare"), bare_port, db.url(), &layout)?;
    wait_ready(bare_port, "/books/1")?;
    let servers = [
        (Server::Bare, bare_port, bare.child.id()),
        (Server::Ibdb, ibdb_port, ibdb.child.id()),
    ];

    let wrk = if options.no_wrk { None } else { wrk::find() };
    let scripts = tempfile::tempdir()?;
    let read_script = match &wrk {
        Some(_) => Some(wrk::script(scripts.path(), Kind::Read.target())?),
        None => None,
    };
    let warmup = Duration::from_secs(2);
    let measure = Duration::from_secs(options.seconds.clamp(1, 600));
    println!(
        "{BOOKS} books; a pool of {POOL} connections per server; RUST_LOG=warn; \
         {} keep-alive connections; {} s measured after {} s warm-up; {} alternating rounds",
        options.connections,
        measure.as_secs(),
        warmup.as_secs(),
        options.rounds
    );
    println!("CPUs: {layout_text}{db_pinned}");
    println!(
        "clients: built-in (one thread, tokio, hand-written HTTP/1.1){}\n",
        match &wrk {
            Some(path) => format!(" and {} (reads)", path.display()),
            None => ", no wrk (not installed or --no-wrk)".into(),
        }
    );
    println!(
        "{:<5} {:<26} {:<8} {:<5} {:>8} {:>7} {:>7} {:>7} {:>9} {:>9} {:>6}",
        "round",
        "request",
        "client",
        "srv",
        "req/s",
        "p50 ms",
        "p99 ms",
        "p99.9",
        "srv µs/r",
        "cli µs/r",
        "errors"
    );

    // All the read rounds first, then the write rounds: PostgreSQL cleans
    // up after writes (autovacuum, page pruning by the next reader, a
    // checkpoint), and interleaved, that work fell on whichever server read
    // first in the next round (its runs were up to 40% slower, so the
    // per-round ratios swung with the order). Before each kind, the
    // clean-up is done by hand.
    let kinds: &[Kind] = if options.no_writes {
        &[Kind::Read]
    } else {
        &[Kind::Read, Kind::Write]
    };
    let mut runs = Vec::new();
    for &kind in kinds {
        println!("       database: {}", settle(&db.server));
        for round in 1..=options.rounds.clamp(1, 20) {
            let mut order = servers;
            if round % 2 == 0 {
                order.reverse();
            }
            for &(server, port, pid) in &order {
                let sample = client::run(&Plan {
                    port,
                    target: kind.target(),
                    connections: options.connections,
                    warmup,
                    measure,
                    max_requests: 10_000_000,
                    cpus: layout.client.clone(),
                    server_pid: Some(pid),
                })?;
                let run = Run {
                    round,
                    kind,
                    client: Client::BuiltIn,
                    server,
                    sample,
                };
                print_run(&run);
                runs.push(run);
            }
            if kind == Kind::Read
                && let (Some(wrk), Some(script)) = (&wrk, &read_script)
            {
                let cpus = layout
                    .client
                    .as_ref()
                    .map(|c| c.iter().map(usize::to_string).collect::<Vec<_>>().join(","));
                for &(server, port, pid) in &order {
                    let sample = wrk::Run {
                        wrk,
                        script,
                        port,
                        connections: options.connections,
                        warmup,
                        measure,
                        cpus: cpus.as_deref(),
                        server_pid: Some(pid),
                    }
                    .run()?;
                    let run = Run {
                        round,
                        kind,
                        client: Client::Wrk,
                        server,
                        sample,
                    };
                    print_run(&run);
                    runs.push(run);
                }
            }
            println!("       load average: {}", load_average());
        }
    }

    let summary = summarise(&runs);
    print_summary(&summary);
    let svg = crate::paths::target_dir().join("bench/ibdb.svg");
    std::fs::create_dir_all(svg.parent().expect("a file in a folder"))?;
    let note = format!(
        "{} rounds of {} s, {} connections, {BOOKS} books; CPUs: {}; load average at the end: {}",
        options.rounds,
        measure.as_secs(),
        options.connections,
        match (&layout.server, &layout.database) {
            (Some(server), Some(database)) =>
                format!("server {server}, client 1, PostgreSQL {database}"),
            _ => "not pinned".into(),
        },
        load_average()
    );
    std::fs::write(&svg, chart::svg(&summary.bars(), &note))?;
    println!("\nchart: {}", crate::paths::show(&svg));

    let failed: Vec<_> = runs.iter().filter(|r| r.sample.errors > 0).collect();
    if let Some(run) = failed.first() {
        bail!(
            "{} run(s) had failed requests, so the figures are not meaningful; the first, \
             {} against {} with {}: {}",
            failed.len(),
            run.kind.name(),
            run.server.name(),
            run.client.name(),
            run.sample.first_error.clone().unwrap_or_default()
        );
    }
    Ok(true)
}

fn print_run(run: &Run) {
    let s = &run.sample;
    println!(
        "{:<5} {:<26} {:<8} {:<5} {:>8.0} {:>7.2} {:>7.2} {:>7.2} {:>9} {:>9} {:>6}",
        run.round,
        run.kind.name(),
        run.client.name(),
        run.server.name(),
        s.per_second(),
        s.p50_ms(),
        s.p99_ms(),
        s.p999_ms(),
        s.cpu_us_per_request()
            .map_or("-".into(), |c| format!("{c:.1}")),
        s.client_us_per_request()
            .map_or("-".into(), |c| format!("{c:.1}")),
        s.errors
    );
}

/// Medians over the rounds of one (kind, client, server).
#[derive(Debug, Clone, Copy, Default)]
pub struct Medians {
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub cpu_us: Option<f64>,
    pub client_us: Option<f64>,
}

struct Line {
    kind: Kind,
    client: Client,
    bare: Medians,
    ibdb: Medians,
    /// Medians of the per-round IBDb ÷ bare ratios, and their lowest and
    /// highest round: a goal inside that range is within the run's noise.
    throughput_ratio: f64,
    p99_ratio: f64,
    throughput_range: (f64, f64),
    p99_range: (f64, f64),
}

struct Summary {
    lines: Vec<Line>,
    /// Built-in ÷ wrk on the bare server, reads (median of rounds).
    client_check: Option<f64>,
}

impl Summary {
    fn bars(&self) -> Vec<chart::Group> {
        self.lines
            .iter()
            .map(|l| chart::Group {
                label: format!("{} ({})", l.kind.name(), l.client.name()),
                bare: l.bare.per_second,
                ibdb: l.ibdb.per_second,
                ratio: l.throughput_ratio,
            })
            .collect()
    }
}

fn summarise(runs: &[Run]) -> Summary {
    let pick = |kind, client, server| -> Vec<&Sample> {
        runs.iter()
            .filter(|r| r.kind == kind && r.client == client && r.server == server)
            .map(|r| &r.sample)
            .collect()
    };
    let medians = |samples: &[&Sample]| Medians {
        per_second: median(samples.iter().map(|s| s.per_second()).collect()).unwrap_or(0.0),
        p50_ms: median(samples.iter().map(|s| s.p50_ms()).collect()).unwrap_or(0.0),
        p99_ms: median(samples.iter().map(|s| s.p99_ms()).collect()).unwrap_or(0.0),
        p999_ms: median(samples.iter().map(|s| s.p999_ms()).collect()).unwrap_or(0.0),
        cpu_us: median(
            samples
                .iter()
                .filter_map(|s| s.cpu_us_per_request())
                .collect(),
        ),
        client_us: median(
            samples
                .iter()
                .filter_map(|s| s.client_us_per_request())
                .collect(),
        ),
    };
    let mut lines = Vec::new();
    for (kind, client) in [
        (Kind::Read, Client::BuiltIn),
        (Kind::Read, Client::Wrk),
        (Kind::Write, Client::BuiltIn),
    ] {
        let bare = pick(kind, client, Server::Bare);
        let ibdb = pick(kind, client, Server::Ibdb);
        if bare.is_empty() || ibdb.is_empty() {
            continue;
        }
        let ratios = |f: fn(&Sample) -> f64| -> Vec<f64> {
            bare.iter()
                .zip(&ibdb)
                .map(|(b, i)| f(i) / f(b).max(1e-9))
                .collect()
        };
        let (throughput, p99) = (ratios(Sample::per_second), ratios(Sample::p99_ms));
        lines.push(Line {
            kind,
            client,
            bare: medians(&bare),
            ibdb: medians(&ibdb),
            throughput_range: range(&throughput),
            p99_range: range(&p99),
            throughput_ratio: median(throughput).unwrap_or(0.0),
            p99_ratio: median(p99).unwrap_or(0.0),
        });
    }
    let built_in = pick(Kind::Read, Client::BuiltIn, Server::Bare);
    let wrk = pick(Kind::Read, Client::Wrk, Server::Bare);
    let client_check = (!wrk.is_empty()).then(|| {
        median(
            built_in
                .iter()
                .zip(&wrk)
                .map(|(b, w)| b.per_second() / w.per_second().max(1e-9))
                .collect(),
        )
        .unwrap_or(0.0)
    });
    Summary {
        lines,
        client_check,
    }
}

fn print_summary(summary: &Summary) {
    println!("\nmedians over the rounds:");
    println!(
        "{:<26} {:<8} {:<5} {:>8} {:>7} {:>7} {:>7} {:>9} {:>9}",
        "request", "client", "srv", "req/s", "p50 ms", "p99 ms", "p99.9", "srv µs/r", "cli µs/r"
    );
    for line in &summary.lines {
        for (server, m) in [(Server::Bare, line.bare), (Server::Ibdb, line.ibdb)] {
            println!(
                "{:<26} {:<8} {:<5} {:>8.0} {:>7.2} {:>7.2} {:>7.2} {:>9} {:>9}",
                line.kind.name(),
                line.client.name(),
                server.name(),
                m.per_second,
                m.p50_ms,
                m.p99_ms,
                m.p999_ms,
                m.cpu_us.map_or("-".into(), |c| format!("{c:.1}")),
                m.client_us.map_or("-".into(), |c| format!("{c:.1}"))
            );
        }
    }
    println!("\nIBDb ÷ bare (median of the per-round ratios):");
    for line in &summary.lines {
        let (goal, p99_goal) = match line.kind {
            Kind::Read => (READ_GOAL, Some(P99_GOAL)),
            Kind::Write => (WRITE_GOAL, None),
        };
        let cpu = match (line.ibdb.cpu_us, line.bare.cpu_us) {
            (Some(i), Some(b)) => format!(", server CPU per request {:.2}×", i / b),
            _ => String::new(),
        };
        println!(
            "  {:<26} {:<8} throughput {:.2} {} (goal ≥ {goal}) {}, p99 {:.2}× {}{}{cpu}",
            line.kind.name(),
            line.client.name(),
            line.throughput_ratio,
            spread(line.throughput_range),
            mark(line.throughput_ratio >= goal),
            line.p99_ratio,
            spread(line.p99_range),
            p99_goal.map_or(String::new(), |g| format!(
                " (goal ≤ {g}) {}",
                mark(line.p99_ratio <= g)
            )),
        );
    }
    let undecided = summary.lines.iter().any(|l| {
        let (goal, p99_goal) = match l.kind {
            Kind::Read => (READ_GOAL, Some(P99_GOAL)),
            Kind::Write => (WRITE_GOAL, None),
        };
        straddles(l.throughput_range, goal) || p99_goal.is_some_and(|g| straddles(l.p99_range, g))
    });
    if undecided {
        println!(
            "  (in brackets: the lowest and highest round. Where a goal lies inside that range, \
             this run cannot tell it from noise: run more rounds (--rounds 9) on an idle machine.)"
        );
    }
    if let Some(check) = summary.client_check {
        println!(
            "\nclient check: built-in ÷ wrk on the bare server's reads = {check:.2} \
             (≥ 1.00: the built-in client drives it at least as fast as wrk) {}",
            mark(check >= 1.0)
        );
        if let Some(line) = summary
            .lines
            .iter()
            .find(|l| l.kind == Kind::Read && l.client == Client::Wrk)
        {
            let built_in = summary
                .lines
                .iter()
                .find(|l| l.kind == Kind::Read && l.client == Client::BuiltIn)
                .and_then(|l| l.bare.client_us);
            if let (Some(b), Some(w)) = (built_in, line.bare.client_us) {
                println!(
                    "client CPU per request on the bare server's reads: built-in {b:.1} µs, \
                     wrk {w:.1} µs (less: more left for the servers on a shared CPU)"
                );
            }
        }
    }
}

/// Lowest and highest of the per-round ratios.
fn range(ratios: &[f64]) -> (f64, f64) {
    ratios
        .iter()
        .fold((f64::INFINITY, 0.0_f64), |(low, high), &r| {
            (low.min(r), high.max(r))
        })
}

fn spread((low, high): (f64, f64)) -> String {
    format!("[{low:.2}-{high:.2}]")
}

fn straddles((low, high): (f64, f64), goal: f64) -> bool {
    low < goal && goal < high
}

fn mark(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

/// `VACUUM ANALYZE` and `CHECKPOINT` on the bench's database, with the
/// psql that belongs to the server (the local cluster's, the container's)
/// or one on PATH. Says what it did, or why not.
fn settle(db: &crate::db::Server) -> String {
    use crate::db::Kind;
    let sql = [
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        "SET statement_timeout = '60s'",
        "-c",
        "VACUUM ANALYZE",
        "-c",
        "CHECKPOINT",
    ];
    let mut command = match &db.kind {
        Kind::Docker { id } => {
            let mut c = std::process::Command::new("docker");
            c.args(["exec", id, "psql", "-U", "postgres", "-d", "postgres"]);
            c
        }
        Kind::Local(cluster) => {
            let mut c = std::process::Command::new(cluster.bin.join("psql"));
            c.arg(&db.url);
            c
        }
        Kind::External => {
            let mut c = std::process::Command::new("psql");
            c.arg(&db.url);
            c
        }
    };
    command.args(sql).env("PGCONNECT_TIMEOUT", "10");
    match command.output() {
        Ok(out) if out.status.success() => "VACUUM ANALYZE and CHECKPOINT done".into(),
        Ok(out) => format!(
            "VACUUM ANALYZE failed ({}), measuring anyway: {}",
            crate::proc::describe_exit(out.status),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(error) => format!(
            "not vacuumed before measuring (psql: {error}); the first runs after \
             the seeding or the writes may pay for PostgreSQL's clean-up"
        ),
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn start(exe: &Path, port: u16, url: &str, layout: &Layout) -> anyhow::Result<Process> {
    // taskset execs the server, so the child's pid is the server's.
    let mut command = match &layout.server {
        Some(cpus) => {
            let mut c = std::process::Command::new("taskset");
            c.args(["-c", cpus]).arg(exe);
            c
        }
        None => std::process::Command::new(exe),
    };
    crate::proc::contain(&mut command)?;
    let child = command
        .env("PORT", port.to_string())
        .env("DATABASE_URL", url)
        .env("DB_MAX_CONNECTIONS", POOL.to_string())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let registration = crate::proc::register(crate::proc::Cleanup::KillGroup(child.id()));
    Ok(Process {
        child,
        _registration: registration,
    })
}

fn wait_ready(port: u16, path: &str) -> anyhow::Result<()> {
    let url = format!("http://127.0.0.1:{port}{path}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if crate::http::get(&url, Duration::from_secs(2)).is_ok_and(|r| r.status == 200) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{url} did not answer 200 within 60 s")
}

/// Pins a local PostgreSQL (the postmaster and its processes; backends
/// forked later inherit it) to `cpus`. Says what it did, for the report.
fn pin_database(db: &crate::db::Throwaway, cpus: Option<&str>) -> String {
    let Some(cpus) = cpus else {
        return String::new();
    };
    let crate::db::Kind::Local(cluster) = &db.server.kind else {
        return " (PostgreSQL not local: not pinned)".into();
    };
    let pid_file = cluster.root.join("data/postmaster.pid");
    let Some(postmaster) = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|t| t.lines().next()?.trim().parse::<u32>().ok())
    else {
        return format!(" (no pid in {}: PostgreSQL not pinned)", pid_file.display());
    };
    let mut pids = children(postmaster);
    pids.push(postmaster);
    let pinned = pids
        .iter()
        .filter(|pid| {
            std::process::Command::new("taskset")
                .args(["-a", "-p", "-c", cpus, &pid.to_string()])
                .stdout(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .count();
    if pinned == pids.len() {
        String::new()
    } else {
        format!(" ({pinned} of {} PostgreSQL processes pinned)", pids.len())
    }
}

/// Processes whose parent is `parent` (field 4 of `/proc/PID/stat`).
fn children(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let rest = &s[s.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_goal_inside_the_rounds_range_is_undecided() {
        let rounds = range(&[1.05, 0.95, 1.41]);
        assert_eq!(rounds, (0.95, 1.41));
        assert_eq!(spread(rounds), "[0.95-1.41]");
        assert!(straddles(rounds, P99_GOAL));
        assert!(!straddles(range(&[1.02, 1.08]), P99_GOAL));
        assert!(!straddles(range(&[1.3]), P99_GOAL));
    }

    /// `settle` with the psql of a local cluster, and what it says when
    /// psql cannot connect.
    #[test]
    fn settling_vacuums_the_database_or_says_why_not() {
        let cluster = match crate::db::initdb::Cluster::start() {
            Ok(cluster) => cluster,
            Err(why) => {
                let required = ["LAB_REQUIRE_ALL", "LAB_REQUIRE_POSTGRES"]
                    .iter()
                    .any(|v| std::env::var(v).is_ok_and(|v| v == "1" || v == "true"));
                assert!(!required, "a local PostgreSQL cluster is required: {why}");
                // Straight to file descriptor 2: libtest shows passing tests' prints only on failure.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "\n!!! SKIPPED settling_vacuums_the_database: no local PostgreSQL ({why})\n"
                );
                return;
            }
        };
        let server = crate::db::Server {
            url: cluster.url.clone(),
            kind: crate::db::Kind::Local(cluster),
        };
        let settled = settle(&server);
        server.stop();
        assert_eq!(settled, "VACUUM ANALYZE and CHECKPOINT done");
        let said = settle(&crate::db::Server {
            url: "postgres://postgres@127.0.0.1:1/postgres".into(),
            kind: crate::db::Kind::External,
        });
        assert!(
            said.starts_with("VACUUM ANALYZE failed") || said.starts_with("not vacuumed"),
            "{said}"
        );
    }
}
