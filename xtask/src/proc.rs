//! Processes and containers the checks start, and the promise to clean them
//! up: on drop, on failure, and when the xtask itself gets Ctrl-C.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Something to undo if the xtask is interrupted.
#[derive(Debug, Clone)]
pub enum Cleanup {
    /// Kill this process id.
    Kill(u32),
    /// Run this command, for example `docker rm -f <id>`.
    Command(Vec<String>),
}

static PENDING: Mutex<BTreeMap<u64, Cleanup>> = Mutex::new(BTreeMap::new());
static NEXT: AtomicU64 = AtomicU64::new(0);

/// Removes its cleanup from the Ctrl-C list when dropped (the owner cleaned up).
#[derive(Debug)]
pub struct Registration(u64);

pub fn register(cleanup: Cleanup) -> Registration {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    PENDING.lock().unwrap().insert(id, cleanup);
    Registration(id)
}

impl Drop for Registration {
    fn drop(&mut self) {
        PENDING.lock().unwrap().remove(&self.0);
    }
}

fn run_cleanup(cleanup: &Cleanup) {
    match cleanup {
        Cleanup::Kill(pid) => kill(*pid),
        Cleanup::Command(argv) => {
            if let Some((program, args)) = argv.split_first() {
                let _ = duct::cmd(program, args)
                    .stdout_null()
                    .stderr_null()
                    .unchecked()
                    .run();
            }
        }
    }
}

/// On Ctrl-C or SIGTERM: undo everything still pending, then exit 130.
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        let pending: Vec<Cleanup> = PENDING.lock().unwrap().values().cloned().collect();
        if !pending.is_empty() {
            eprintln!(
                "\ninterrupted: cleaning up {} started process(es)",
                pending.len()
            );
        }
        for cleanup in pending.iter().rev() {
            run_cleanup(cleanup);
        }
        std::process::exit(130);
    });
}

#[cfg(unix)]
fn signal(pid: u32, signal: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal);
}

fn kill(pid: u32) {
    #[cfg(unix)]
    signal(pid, nix::sys::signal::Signal::SIGKILL);
    #[cfg(not(unix))]
    let _ = duct::cmd!("taskkill", "/F", "/PID", pid.to_string())
        .stdout_null()
        .stderr_null()
        .unchecked()
        .run();
}

/// A server process under test. Its output goes to a log file so a failing
/// check can show what the program said.
pub struct Server {
    handle: duct::Handle,
    pid: u32,
    log: PathBuf,
    exited: Option<ExitStatus>,
    _registration: Registration,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start(program: &Path, envs: &[(&str, String)]) -> std::io::Result<Server> {
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("server.log");
        let mut expression = duct::cmd(program, Vec::<String>::new());
        for (key, value) in envs {
            expression = expression.env(key, value);
        }
        let handle = expression
            .env("NO_COLOR", "1")
            // A panic message, not a 15-frame backtrace, in the check's output.
            .env("RUST_BACKTRACE", "0")
            .stdin_null()
            .stderr_to_stdout()
            .stdout_path(&log)
            .unchecked()
            .start()?;
        let pid = handle.pids()[0];
        Ok(Server {
            handle,
            pid,
            log,
            exited: None,
            _registration: register(Cleanup::Kill(pid)),
            _dir: dir,
        })
    }

    /// The exit status, if the process has ended.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none()
            && let Ok(Some(output)) = self.handle.try_wait()
        {
            self.exited = Some(output.status);
        }
        self.exited
    }

    /// Sends SIGTERM, as `docker stop` and Kubernetes do.
    #[cfg(unix)]
    pub fn terminate(&self) {
        signal(self.pid, nix::sys::signal::Signal::SIGTERM);
    }

    /// Waits at most `limit` for the process to end.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<(ExitStatus, Duration)> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.try_wait() {
                return Some((status, start.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The last `lines` lines the program printed.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(
            &std::fs::read_to_string(&self.log).unwrap_or_default(),
            lines,
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.try_wait().is_none() {
            let _ = self.handle.kill();
        }
    }
}

/// The last `lines` lines of `text`, trimmed, or "(no output)".
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    let shown = all[all.len().saturating_sub(lines)..].join("\n");
    if shown.trim().is_empty() {
        "(no output)".to_string()
    } else {
        shown
    }
}

/// Describes an exit status for a person: "exit code 101", "killed by signal 15 (SIGTERM)".
pub fn describe_exit(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let name = nix::sys::signal::Signal::try_from(signal)
                .map(|s| s.as_str())
                .unwrap_or("?");
            return format!("killed by signal {signal} ({name})");
        }
    }
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => status.to_string(),
    }
}
