//! wrk, when installed: the reference the built-in client is compared with.
//! A Lua script makes the same requests (same ids, same bodies) and prints
//! the figures in one line, p99.9 included (wrk's own report stops at p99).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use loadgen::figures::{Sample, cpu_time};
use loadgen::{REVIEW_BODY, Target};

pub fn find() -> Option<PathBuf> {
    which::which("wrk").ok()
}

/// The script for `target`, written into `dir`.
pub fn script(dir: &Path, target: Target) -> anyhow::Result<PathBuf> {
    // Ids as in `client::Target::id`: n * 7919 mod books + 1.
    let (name, request) = match target {
        Target::Read { books } => (
            "read",
            format!("return wrk.format('GET', '/books/' .. ((n * 7919) % {books} + 1))"),
        ),
        Target::Review { books } => (
            "review",
            format!(
                "return wrk.format('POST', '/books/' .. ((n * 7919) % {books} + 1) .. '/reviews', \
                 {{['content-type'] = 'application/json'}}, '{REVIEW_BODY}')"
            ),
        ),
        Target::CreateBook => bail!("wrk does not seed"),
    };
    let text = format!(
        r#"local n = 0
request = function()
  n = n + 1
  {request}
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("XTASK %d %d %d %d %d %d\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"#
    );
    let file = dir.join(format!("{name}.lua"));
    std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    Ok(file)
}

pub struct Run<'a> {
    pub wrk: &'a Path,
    pub script: &'a Path,
    pub port: u16,
    pub connections: usize,
    pub warmup: Duration,
    pub measure: Duration,
    pub cpus: Option<&'a str>,
    pub server_pid: Option<u32>,
}

impl Run<'_> {
    /// A warm-up run, then the measured one; one wrk thread per pinned CPU.
    pub fn run(&self) -> anyhow::Result<Sample> {
        self.once(self.warmup)?;
        let before = self.server_pid.and_then(cpu_time);
        let wrk_before = children_cpu();
        let mut sample = self.once(self.measure)?;
        let after = self.server_pid.and_then(cpu_time);
        sample.server_cpu = before.zip(after).map(|(b, a)| a.saturating_sub(b));
        // wrk's own CPU time, to compare the clients' cost per request.
        sample.client_cpu = wrk_before
            .zip(children_cpu())
            .map(|(b, a)| a.saturating_sub(b));
        Ok(sample)
    }

    fn once(&self, duration: Duration) -> anyhow::Result<Sample> {
        let threads = self.cpus.map_or(2, |c| c.split(',').count()).max(1);
        let mut command = match self.cpus {
            Some(cpus) => {
                let mut c = std::process::Command::new("taskset");
                c.args(["-c", cpus]).arg(self.wrk);
                c
            }
            None => std::process::Command::new(self.wrk),
        };
        command.args([
            "-t".to_string(),
            threads.to_string(),
            "-c".into(),
            self.connections.to_string(),
            "-d".into(),
            format!("{}s", duration.as_secs().max(1)),
            "--timeout".into(),
            "5s".into(),
            "-s".into(),
        ]);
        command
            .arg(self.script)
            .arg(format!("http://127.0.0.1:{}", self.port));
        let output = command.output().context("running wrk")?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "wrk failed ({}): {text}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        parse(&text).with_context(|| format!("reading wrk's output:\n{text}"))
    }
}

/// User + system CPU time of this process's finished children (wrk, run by
/// `output()`, is waited for before this is read again).
#[cfg(unix)]
fn children_cpu() -> Option<Duration> {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).ok()?;
    let micros = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    Some(micros(usage.user_time()) + micros(usage.system_time()))
}

#[cfg(not(unix))]
fn children_cpu() -> Option<Duration> {
    None
}

fn parse(text: &str) -> anyhow::Result<Sample> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("XTASK "))
        .context("no XTASK line (the script's done() did not run)")?;
    let n: Vec<f64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let [requests, duration_us, errors, p50, p99, p999] = n[..] else {
        bail!("expected 6 numbers, got {line}");
    };
    Ok(Sample {
        requests: requests as u64,
        errors: errors as u64,
        first_error: (errors > 0.0).then(|| "wrk counted errors (non-2xx or socket)".into()),
        window: Duration::from_micros(duration_us as u64),
        percentiles_us: [p50, p99, p999],
        ..Sample::default()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_script_line() {
        let s = super::parse("Running 1s test\nXTASK 2000 1000000 3 250 900 1500\n").unwrap();
        assert_eq!((s.requests, s.errors), (2000, 3));
        assert_eq!(s.per_second(), 2000.0);
        assert_eq!(s.p99_ms(), 0.9);
    }
}
