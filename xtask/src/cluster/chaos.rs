//! The failover lab: writes against IBDb while CloudNativePG loses its
//! primary (`failover`: the primary's pod is killed) or hands it over on
//! purpose (`switchover`), and what the writes saw.
//!
//! Upstream rules it rests on:
//! - A pod deleted with the default grace period shuts PostgreSQL down
//!   *smartly* first (up to `.spec.smartShutdownTimeout`, 180 s by default)
//!   while open sessions keep working (cloudnative-pg
//!   docs/src/instance_manager.md, "Shutdown control"); CNPG's own failover
//!   tests delete the primary with a grace period of 1 s
//!   (tests/e2e/suite_test.go `quickDeletionPeriod`, failover_test.go).
//! - `kubectl cnpg promote` sets the Cluster's `status.targetPrimary`
//!   (plus its timestamp, phase and reason) with an optimistic lock
//!   (internal/cmd/plugin/promote/promote.go); the operator then switches
//!   over. `status.currentPrimary` says which instance is the primary.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use super::{IBDB_DATABASE, IBDB_NAMESPACE, Options, Ran, Runner, Stdout, spawn};
use crate::proc::{Cleanup, register};
use crate::tools::Tool;

/// What the lab does to the primary.
#[derive(Debug, Clone)]
pub enum Scenario {
    /// Kill the primary's pod (grace period 1 s): an unplanned failover.
    Failover,
    /// Ask the operator to hand the primary over (to this instance, or to
    /// the first replica): a planned switchover.
    Switchover { to: Option<String> },
}

impl Scenario {
    fn name(&self) -> &'static str {
        match self {
            Scenario::Failover => "failover",
            Scenario::Switchover { .. } => "switchover",
        }
    }
}

/// How the lab runs.
#[derive(Debug, Clone)]
pub struct ChaosOptions {
    /// Total length of the load loop.
    pub duration: Duration,
    /// Load before the primary is killed or handed over.
    pub warmup: Duration,
    /// Pause between two writes.
    pub interval: Duration,
    /// Local end of the port-forward.
    pub local_port: u16,
    /// Where the timeline picture goes (default target/chaos/SCENARIO.svg).
    pub svg: Option<std::path::PathBuf>,
}

/// The Cluster's state, from `kubectl get cluster ibdb-db --output json`.
#[derive(Debug, Default)]
struct ClusterState {
    current_primary: String,
    resource_version: String,
    instances: Vec<String>,
}

fn cluster_json_args() -> Vec<&'static str> {
    vec!["get", "cluster", IBDB_DATABASE, "--output", "json"]
}

fn parse_cluster(text: &str) -> anyhow::Result<ClusterState> {
    let json: serde_json::Value = serde_json::from_str(text).with_context(|| {
        format!("`kubectl get cluster {IBDB_DATABASE} --output json` printed no JSON")
    })?;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    Ok(ClusterState {
        current_primary: text(&json["status"]["currentPrimary"]),
        resource_version: text(&json["metadata"]["resourceVersion"]),
        instances: json["status"]["instanceNames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
    })
}

/// The Cluster's state, shown (a step of the lab); `None` in a dry run.
fn cluster(r: &Runner, why: &str) -> anyhow::Result<Option<ClusterState>> {
    let Some(out) = r.query(&r.kubectl_ibdb(&cluster_json_args()), why)? else {
        return Ok(None);
    };
    parse_cluster(&out.stdout).map(Some)
}

/// The current primary, read without showing the command (the watcher).
fn current_primary_quietly(r: &Runner) -> Option<String> {
    let argv = r.kubectl_ibdb(&cluster_json_args());
    match spawn(&argv, Duration::from_secs(10), Stdout::Capture, None) {
        Ok(Ran::Done(out)) if out.status.success() => {
            parse_cluster(&String::from_utf8_lossy(&out.stdout))
                .ok()
                .map(|c| c.current_primary)
        }
        _ => None,
    }
}

/// Now as RFC 3339 with microseconds, UTC (what `kubectl cnpg promote`
/// writes to `status.targetPrimaryTimestamp`).
fn rfc3339_micro(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_micros()
    )
}

/// The command that takes the primary away.
fn strike(
    r: &Runner,
    scenario: &Scenario,
    state: &ClusterState,
) -> anyhow::Result<(Vec<String>, String)> {
    let primary = if state.current_primary.is_empty() {
        "<primary>".to_string()
    } else {
        state.current_primary.clone()
    };
    Ok(match scenario {
        Scenario::Failover => (
            r.kubectl_ibdb(&["delete", "pod", &primary, "--grace-period=1", "--wait=false"]),
            "the primary is killed (grace period 1 s, as CNPG's own failover tests do; the default would start a smart shutdown of up to 180 s); CNPG promotes a replica".into(),
        ),
        Scenario::Switchover { to } => {
            let target = match to {
                Some(to) => to.clone(),
                None if r.dry_run() => "<first replica>".into(),
                None => state
                    .instances
                    .iter()
                    .find(|i| **i != state.current_primary)
                    .cloned()
                    .context("the Cluster lists no replica (status.instanceNames) to switch over to")?,
            };
            if !r.dry_run() && !state.instances.contains(&target) {
                bail!(
                    "{target} is not an instance of {IBDB_DATABASE} (they are: {})",
                    state.instances.join(", ")
                );
            }
            if !r.dry_run() && target == state.current_primary {
                bail!("{target} is the primary already; name a replica with --to");
            }
            let version = if state.resource_version.is_empty() {
                "<resourceVersion>".to_string()
            } else {
                state.resource_version.clone()
            };
            let patch = serde_json::json!({
                "metadata": {"resourceVersion": version},
                "status": {
                    "targetPrimary": target,
                    "targetPrimaryTimestamp": if r.dry_run() {
                        "<now>".to_string()
                    } else {
                        rfc3339_micro(SystemTime::now())
                    },
                    "phase": "Switchover in progress",
                    "phaseReason": format!("Switching over to {target}"),
                }
            });
            (
                r.kubectl_ibdb(&[
                    "patch",
                    "cluster",
                    IBDB_DATABASE,
                    "--subresource=status",
                    "--type=merge",
                    "--patch",
                    &patch.to_string(),
                ]),
                format!("what `kubectl cnpg promote {IBDB_DATABASE} {target}` does: the operator hands the primary over to {target}"),
            )
        }
    })
}

/// `cargo xtask chaos failover|switchover`.
pub fn run(options: Options, scenario: Scenario, chaos: ChaosOptions) -> anyhow::Result<bool> {
    let r = Runner::new(options);
    r.need(&[Tool::Kubectl])?;
    let before = cluster(&r, "which instance is the primary (status.currentPrimary)?")?;
    if let Some(state) = &before
        && state.current_primary.is_empty()
    {
        bail!(
            "cluster {IBDB_DATABASE} in namespace {IBDB_NAMESPACE} has no current primary; run `cargo xtask deploy` first"
        );
    }
    let state = before.unwrap_or_default();
    let (strike, why) = strike(&r, &scenario, &state)?;
    let forward = r.kubectl_ibdb(&[
        "port-forward",
        "svc/ibdb",
        &format!("{}:8000", chaos.local_port),
    ]);
    let base = format!("http://127.0.0.1:{}", chaos.local_port);
    r.show(&forward, "in the background, for the load loop");
    if r.dry_run() {
        r.say(&format!(
            "# then: POST {base}/books every {} ms for {} s, reading status.currentPrimary every second; after {} s:",
            chaos.interval.as_millis(),
            chaos.duration.as_secs(),
            chaos.warmup.as_secs()
        ));
        r.show(&strike, &why);
        cluster(
            &r,
            "the primary afterwards: the lab fails when it did not change",
        )?;
        r.say(&format!(
            "# then: the report, a timeline per second, and the picture {}",
            crate::paths::show(&svg_path(&chaos, &scenario))
        ));
        return Ok(true);
    }
    let (program, args) = forward.split_first().expect("a command");
    let handle = duct::cmd(program, args)
        .stdout_null()
        .stderr_capture()
        .unchecked()
        .start()
        .context("starting kubectl port-forward")?;
    let _registration = handle.pids().first().map(|&p| register(Cleanup::Kill(p)));
    let result = load_loop(
        &r,
        &handle,
        &base,
        &strike,
        &why,
        &state.current_primary,
        &chaos,
    );
    let _ = handle.kill();
    let run = result?;
    let after = cluster(&r, "the primary afterwards")?.unwrap_or_default();
    let report = Report {
        scenario: scenario.name(),
        before: state.current_primary.clone(),
        after: after.current_primary.clone(),
        run,
        duration: chaos.duration,
    };
    let ok = report.print();
    let svg = svg_path(&chaos, &scenario);
    if let Some(parent) = svg.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&svg, report.svg()).with_context(|| format!("writing {}", svg.display()))?;
    println!("  picture: {}", crate::paths::show(&svg));
    Ok(ok)
}

fn svg_path(chaos: &ChaosOptions, scenario: &Scenario) -> std::path::PathBuf {
    chaos.svg.clone().unwrap_or_else(|| {
        crate::paths::target_dir()
            .join("chaos")
            .join(format!("{}.svg", scenario.name()))
    })
}

/// One write of the load loop: when (since the start) and what came back.
#[derive(Debug, Clone)]
pub struct Write {
    pub at: Duration,
    /// `None`: 2xx. Otherwise why it failed (`HTTP 503`, `timeout`, ...).
    pub failure: Option<String>,
}

/// What the load loop saw.
#[derive(Debug, Default)]
pub struct Run {
    pub writes: Vec<Write>,
    /// When the primary was killed (or the switchover asked for).
    pub struck_at: Duration,
    /// When `status.currentPrimary` first named another instance.
    pub promoted_at: Option<Duration>,
}

fn failure_kind(result: Result<u16, String>) -> Option<String> {
    match result {
        Ok(status) if (200..300).contains(&status) => None,
        Ok(status) => Some(format!("HTTP {status}")),
        Err(error) => {
            let e = error.to_lowercase();
            Some(
                if e.contains("timeout") || e.contains("timed out") {
                    "timeout"
                } else if e.contains("refused") {
                    "connection refused"
                } else if e.contains("reset") || e.contains("closed") || e.contains("broken pipe") {
                    "connection reset"
                } else {
                    "connection error"
                }
                .to_string(),
            )
        }
    }
}

fn load_loop(
    r: &Runner,
    forward: &duct::Handle,
    base: &str,
    strike: &[String],
    why: &str,
    before: &str,
    chaos: &ChaosOptions,
) -> anyhow::Result<Run> {
    // The port-forward must answer first.
    let start = Instant::now();
    loop {
        if let Some(out) = forward.try_wait()? {
            bail!(
                "kubectl port-forward stopped: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        if crate::http::get(&format!("{base}/healthz"), Duration::from_secs(2)).is_ok() {
            break;
        }
        if start.elapsed() > Duration::from_secs(15) {
            bail!(
                "IBDb does not answer {base}/healthz through the port-forward within 15 s; is it deployed (`cargo xtask deploy`)?"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let start = Instant::now();
    let promoted: Mutex<Option<Duration>> = Mutex::new(None);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| -> anyhow::Result<Run> {
        // Reads status.currentPrimary about once a second until it changes.
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                if let Some(now) = current_primary_quietly(r)
                    && !now.is_empty()
                    && now != before
                {
                    *promoted.lock().unwrap() = Some(start.elapsed());
                    return;
                }
                std::thread::sleep(Duration::from_millis(1000));
            }
        });
        let result = (|| -> anyhow::Result<Run> {
            let mut run = Run::default();
            let mut struck = false;
            let mut n = 0;
            while start.elapsed() < chaos.duration {
                if !struck && start.elapsed() >= chaos.warmup {
                    run.struck_at = start.elapsed();
                    r.act(strike, why)?;
                    struck = true;
                }
                n += 1;
                let body = format!(
                    r#"{{"title":"{} {n}","author":"cargo xtask chaos"}}"#,
                    "chaos"
                );
                let result = agent
                    .post(&format!("{base}/books"))
                    .header("content-type", "application/json")
                    .send(body.as_str())
                    .map(|resp| resp.status().as_u16())
                    .map_err(|e| e.to_string());
                run.writes.push(Write {
                    at: start.elapsed(),
                    failure: failure_kind(result),
                });
                std::thread::sleep(chaos.interval);
            }
            Ok(run)
        })();
        done.store(true, Ordering::Relaxed);
        let mut run = result?;
        run.promoted_at = *promoted.lock().unwrap();
        Ok(run)
    })
}

/// The lab's findings, for the terminal and the picture.
pub struct Report {
    pub scenario: &'static str,
    pub before: String,
    pub after: String,
    pub run: Run,
    pub duration: Duration,
}

impl Report {
    /// Writes that failed after the strike, then the first that worked.
    fn recovery(&self) -> Option<Duration> {
        let after: Vec<&Write> = self
            .run
            .writes
            .iter()
            .filter(|w| w.at >= self.run.struck_at)
            .collect();
        let last_failure = after.iter().rposition(|w| w.failure.is_some());
        match last_failure {
            None => after.first().map(|w| w.at),
            Some(i) => after.get(i + 1).map(|w| w.at),
        }
    }

    /// Prints the report and the timeline; true when the primary changed
    /// and writes worked again.
    pub fn print(&self) -> bool {
        let writes = &self.run.writes;
        let failed: Vec<&Write> = writes.iter().filter(|w| w.failure.is_some()).collect();
        let s = |d: Duration| format!("{:.1} s", d.as_secs_f64());
        println!("\n{} report", self.scenario);
        println!("  primary before: {}", self.before);
        println!(
            "  primary after:  {}",
            if self.after.is_empty() {
                "(none)"
            } else {
                &self.after
            }
        );
        println!("  writes: {} sent, {} failed", writes.len(), failed.len());
        let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
        for w in &failed {
            *kinds.entry(w.failure.as_deref().unwrap_or("")).or_default() += 1;
        }
        for (kind, count) in &kinds {
            println!("    {count} × {kind}");
        }
        match self.run.promoted_at {
            Some(p) => println!(
                "  new primary seen in status.currentPrimary {} after the {}",
                s(p.saturating_sub(self.run.struck_at)),
                self.strike_word()
            ),
            None => println!("  status.currentPrimary never changed during the run"),
        }
        let recovered = self.recovery();
        match recovered {
            Some(at) => println!(
                "  from the {} until writes worked again: {} (the first successful write after the last failed one)",
                self.strike_word(),
                s(at.saturating_sub(self.run.struck_at))
            ),
            None => println!(
                "  ✗ writes had not worked again after the {} when the run ended (--duration)",
                self.strike_word()
            ),
        }
        println!("{}", self.timeline());
        let mut ok = true;
        if self.after.is_empty() || self.after == self.before {
            println!(
                "  ✗ the primary did not change ({}): no {} happened, so these numbers measure nothing.\n    look at: kubectl --namespace {IBDB_NAMESPACE} describe cluster {IBDB_DATABASE}; kubectl --namespace {IBDB_NAMESPACE} get pods --selector cnpg.io/cluster={IBDB_DATABASE}; a longer --duration",
                if self.before.is_empty() {
                    "?"
                } else {
                    &self.before
                },
                self.scenario
            );
            ok = false;
        }
        if recovered.is_none() {
            ok = false;
        }
        ok
    }

    fn strike_word(&self) -> &'static str {
        if self.scenario == "switchover" {
            "switchover request"
        } else {
            "kill"
        }
    }

    /// Writes per second, ok and failed.
    fn seconds(&self) -> Vec<(usize, usize)> {
        let n = self.duration.as_secs().max(1) as usize;
        let mut per = vec![(0, 0); n];
        for w in &self.run.writes {
            let i = (w.at.as_secs() as usize).min(n - 1);
            if w.failure.is_some() {
                per[i].1 += 1;
            } else {
                per[i].0 += 1;
            }
        }
        per
    }

    /// One row per second: █ a write that worked, ░ one that failed; K the
    /// kill (or S the switchover request), P the new primary seen.
    pub fn timeline(&self) -> String {
        let strike = self.run.struck_at.as_secs() as usize;
        let promoted = self.run.promoted_at.map(|p| p.as_secs() as usize);
        let mark = if self.scenario == "switchover" {
            'S'
        } else {
            'K'
        };
        let mut out = format!(
            "  timeline (one row per second; █ write ok, ░ write failed; {mark} {}, P new primary seen)",
            self.strike_word()
        );
        for (i, (ok, failed)) in self.seconds().into_iter().enumerate() {
            let marks: String = [
                (i == strike).then_some(mark),
                (Some(i) == promoted).then_some('P'),
            ]
            .into_iter()
            .flatten()
            .collect();
            out.push_str(&format!(
                "\n  {i:>4} s {marks:<2} {}{} {ok}/{failed}",
                "█".repeat(ok),
                "░".repeat(failed)
            ));
        }
        out
    }

    /// The timeline as an SVG picture.
    pub fn svg(&self) -> String {
        let per = self.seconds();
        let (w, h, left, top, bottom) = (760.0, 260.0, 50.0, 40.0, 40.0);
        let plot = h - top - bottom;
        let max = per.iter().map(|(o, f)| o + f).max().unwrap_or(1).max(1) as f64;
        let step = (w - left - 20.0) / per.len() as f64;
        let mut svg = format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">
<rect width="{w}" height="{h}" fill="white"/>
<text x="{left}" y="20" font-size="14">{} of {IBDB_DATABASE}: {} → {} ({} writes, {} failed)</text>
"##,
            self.scenario,
            xml(&self.before),
            xml(if self.after.is_empty() {
                "(none)"
            } else {
                &self.after
            }),
            self.run.writes.len(),
            self.run
                .writes
                .iter()
                .filter(|w| w.failure.is_some())
                .count()
        );
        for (i, (ok, failed)) in per.iter().enumerate() {
            let x = left + i as f64 * step;
            let ok_h = *ok as f64 / max * plot;
            let failed_h = *failed as f64 / max * plot;
            let base = top + plot;
            svg.push_str(&format!(
                r##"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{ok_h:.1}" fill="#2e7d32"/>
<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{failed_h:.1}" fill="#c62828"/>
"##,
                base - ok_h,
                step * 0.8,
                base - ok_h - failed_h,
                step * 0.8
            ));
            if i % 10 == 0 {
                svg.push_str(&format!(
                    r##"<text x="{x:.1}" y="{:.1}">{i} s</text>
"##,
                    h - bottom + 16.0
                ));
            }
        }
        let mut line = |at: Duration, colour: &str, label: &str, dy: f64| {
            let x = left + at.as_secs_f64() * step;
            svg.push_str(&format!(
                r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2" stroke-dasharray="4 3"/>
<text x="{:.1}" y="{:.1}" fill="{colour}">{label}</text>
"##,
                top + plot,
                x + 4.0,
                top + 12.0 + dy
            ));
        };
        line(self.run.struck_at, "#000000", self.strike_word(), 0.0);
        if let Some(p) = self.run.promoted_at {
            line(p, "#1565c0", "new primary", 16.0);
        }
        svg.push_str(&format!(
            r##"<text x="12" y="{:.1}" transform="rotate(-90 12 {:.1})">writes per second (max {max})</text>
<text x="{left}" y="{:.1}"><tspan fill="#2e7d32">■ ok</tspan>  <tspan fill="#c62828">■ failed</tspan>  (seconds since the load started)</text>
</svg>
"##,
            top + plot / 2.0 + 60.0,
            top + plot / 2.0 + 60.0,
            h - 6.0
        ));
        svg
    }
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
