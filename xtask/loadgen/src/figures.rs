//! What one load run measured, and the server's CPU time from `/proc`.

use std::time::Duration;

/// One measured run against one server.
#[derive(Debug, Default, Clone)]
pub struct Sample {
    /// Latency of every request sent in the measured window, sorted once
    /// `finish` ran. Empty when the client reports percentiles itself (wrk).
    pub latencies_us: Vec<u32>,
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub window: Duration,
    /// p50, p99, p99.9 in microseconds.
    pub percentiles_us: [f64; 3],
    /// CPU time (user + system) the server process used in the window.
    pub server_cpu: Option<Duration>,
    /// The same for the load client, when it runs in this process.
    pub client_cpu: Option<Duration>,
}

impl Sample {
    /// Sorts the latencies and derives the counts and percentiles.
    pub fn finish(&mut self) {
        self.latencies_us.sort_unstable();
        self.requests = self.latencies_us.len() as u64;
        let at = |q: f64| {
            let n = self.latencies_us.len();
            if n == 0 {
                return 0.0;
            }
            let i = ((n as f64 * q).ceil() as usize).clamp(1, n) - 1;
            f64::from(self.latencies_us[i])
        };
        self.percentiles_us = [at(0.50), at(0.99), at(0.999)];
    }

    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.window.as_secs_f64().max(1e-9)
    }

    pub fn p50_ms(&self) -> f64 {
        self.percentiles_us[0] / 1e3
    }

    pub fn p99_ms(&self) -> f64 {
        self.percentiles_us[1] / 1e3
    }

    pub fn p999_ms(&self) -> f64 {
        self.percentiles_us[2] / 1e3
    }

    /// Server CPU microseconds per answered request.
    pub fn cpu_us_per_request(&self) -> Option<f64> {
        self.per_request(self.server_cpu?)
    }

    /// The load client's CPU microseconds per request.
    pub fn client_us_per_request(&self) -> Option<f64> {
        self.per_request(self.client_cpu?)
    }

    fn per_request(&self, cpu: Duration) -> Option<f64> {
        (self.requests > 0).then(|| cpu.as_secs_f64() * 1e6 / self.requests as f64)
    }
}

/// The calling thread's CPU time so far (`/proc/thread-self/stat`).
pub fn thread_cpu_time() -> Option<Duration> {
    stat_cpu_time("/proc/thread-self/stat")
}

/// User + system CPU time of process `pid` (all its threads) so far:
/// fields 14 and 15 of `/proc/PID/stat`, in clock ticks. `None` off Linux
/// or once the process is gone.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    stat_cpu_time(&format!("/proc/{pid}/stat"))
}

fn stat_cpu_time(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces; count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // The kernel reports these in USER_HZ, which is 100 on every Linux ABI.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// The median of `values` (`None` when empty).
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_rate() {
        let mut s = Sample {
            latencies_us: (1..=1000).rev().collect(),
            window: Duration::from_secs(2),
            ..Sample::default()
        };
        s.finish();
        assert_eq!(s.requests, 1000);
        assert_eq!(s.percentiles_us, [500.0, 990.0, 999.0]);
        assert_eq!(s.per_second(), 500.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn own_cpu_time_is_readable() {
        if cfg!(target_os = "linux") {
            assert!(cpu_time(std::process::id()).is_some());
        }
    }
}
