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
    /// Kill the process group this leader (see [`contain`]) started.
    KillGroup(u32),
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
    if let Cleanup::KillGroup(leader) = cleanup {
        tell_watchdog('+', leader);
    }
    PENDING.lock().unwrap().insert(id, cleanup);
    Registration(id)
}

impl Drop for Registration {
    fn drop(&mut self) {
        let cleanup = PENDING.lock().unwrap().remove(&self.0);
        if let Some(Cleanup::KillGroup(leader)) = cleanup {
            tell_watchdog('-', leader);
        }
    }
}

/// The argument that makes the xtask binary a watchdog (see [`watchdog`]).
pub const WATCHDOG_ARG: &str = "__watchdog";

/// The pipe to the watchdog; None when it could not be started.
static WATCHDOG: Mutex<Option<Option<std::process::ChildStdin>>> = Mutex::new(None);

/// Tells the watchdog that a process group was started (`+`) or is gone (`-`).
fn tell_watchdog(sign: char, leader: u32) {
    use std::io::Write;
    let Ok(mut slot) = WATCHDOG.lock() else {
        return;
    };
    let pipe = slot.get_or_insert_with(start_watchdog);
    if let Some(stdin) = pipe
        && writeln!(stdin, "{sign}{leader}").is_err()
    {
        *pipe = None;
    }
}

/// A second copy of the xtask, in a process group of its own, that reads
/// the groups the xtask starts and ends on its stdin. When that pipe closes
/// with groups still listed, the xtask died without cleaning up (SIGKILL):
/// it kills them. This reaches what a server started itself, which the
/// parent-death signal (set on the server only) does not.
fn start_watchdog() -> Option<std::process::ChildStdin> {
    let exe = std::env::current_exe().ok()?;
    let mut command = std::process::Command::new(exe);
    command
        .arg(WATCHDOG_ARG)
        .stdin(std::process::Stdio::piped())
        // Not the xtask's stdout/stderr: whoever reads those must see them
        // close when the xtask ends.
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Out of the xtask's group: a kill of that group must not take it.
        command.process_group(0);
    }
    command.spawn().ok()?.stdin.take()
}

/// The watchdog's side (`xtask __watchdog`): see [`start_watchdog`].
pub fn watchdog() {
    use std::io::BufRead;
    let mut groups = std::collections::BTreeSet::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let (sign, leader) = line.split_at(line.len().min(1));
        match (sign, leader.parse::<u32>()) {
            ("+", Ok(leader)) => groups.insert(leader),
            ("-", Ok(leader)) => groups.remove(&leader),
            _ => false,
        };
    }
    for leader in groups {
        kill_group(leader);
    }
}

fn run_cleanup(cleanup: &Cleanup) {
    match cleanup {
        Cleanup::Kill(pid) => kill(*pid),
        Cleanup::KillGroup(pid) => kill_group(*pid),
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
        // With --json, the one document a script waits for.
        crate::report::interrupted(130);
        std::process::exit(130);
    });
}

#[cfg(unix)]
fn signal(pid: u32, signal: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal);
}

/// SIGKILL to the process group `leader` leads: the leader and every
/// process it started that did not leave the group.
///
/// A group id stays taken while any member lives (Linux does not hand out a
/// number still used as a group id), so this reaches only our processes; once
/// the whole group is gone the call finds nothing (ESRCH).
pub fn kill_group(leader: u32) {
    #[cfg(unix)]
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(leader as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    #[cfg(not(unix))]
    let _ = duct::cmd!("taskkill", "/F", "/T", "/PID", leader.to_string())
        .stdout_null()
        .stderr_null()
        .unchecked()
        .run();
}

/// Prepares a child the xtask must never leave behind (a server under test,
/// a build): it leads a process group of its own, so [`kill_group`] also
/// ends what it starts; and on Linux it gets SIGKILL when the xtask dies,
/// even by SIGKILL (a CI time-out), when no cleanup code can run.
///
/// The parent-death signal fires when the *thread* that spawned the child
/// ends. The checks spawn from the main thread, whose end is the end of the
/// xtask; from any other thread the signal is not set (it would kill the
/// child when that thread returns), and only the group kill applies.
pub fn contain(command: &mut std::process::Command) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    #[cfg(target_os = "linux")]
    if std::thread::current().name() == Some("main") {
        use std::os::unix::process::CommandExt;
        let xtask = nix::unistd::getpid();
        // SAFETY: the hook only makes async-signal-safe system calls
        // (prctl, getppid) and does not allocate.
        unsafe {
            command.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
                // The xtask died between fork and prctl: no signal will come.
                if nix::unistd::getppid() != xtask {
                    return Err(nix::errno::Errno::ESRCH.into());
                }
                Ok(())
            });
        }
    }
    Ok(())
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
        Server::start_in(program, &[], None, envs)
    }

    /// [`Server::start`] with arguments, in the folder `cwd` (`skaffold run`
    /// in a stage folder, which stays in the foreground while it forwards).
    pub fn start_in(
        program: &Path,
        args: &[&str],
        cwd: Option<&Path>,
        envs: &[(&str, String)],
    ) -> std::io::Result<Server> {
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("server.log");
        let mut expression = duct::cmd(program, args.iter().copied());
        if let Some(cwd) = cwd {
            expression = expression.dir(cwd);
        }
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
            .before_spawn(contain)
            .unchecked()
            .start()?;
        let pid = handle.pids()[0];
        Ok(Server {
            handle,
            pid,
            log,
            exited: None,
            _registration: register(Cleanup::KillGroup(pid)),
            _dir: dir,
        })
    }

    /// Its process id, also its process group's (`contain`).
    pub fn pid(&self) -> u32 {
        self.pid
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

    /// Everything the program printed so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// What the program printed: its telling lines and its last `lines`
    /// lines (see [`excerpt`]). Bytes that are not UTF-8 become U+FFFD.
    pub fn output(&self, lines: usize) -> String {
        excerpt(
            &String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()),
            lines,
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The whole group, even when the server itself has ended: what it
        // started (a child, a shell's pipeline) must not outlive the check.
        kill_group(self.pid);
        let _ = self.handle.kill();
    }
}

/// The lines of a program's output that tell what went wrong, however much
/// it printed after them (a panic and the line after it, which holds the
/// message; error lines; lines naming an address or a port), numbered, then
/// the last `lines` lines.
pub fn excerpt(text: &str, lines: usize) -> String {
    const MOST: usize = 12;
    let all: Vec<&str> = text.trim_end().lines().collect();
    let mut tail_from = all.len().saturating_sub(lines);
    let mut telling: Vec<usize> = Vec::new();
    for (at, line) in all[..tail_from].iter().enumerate() {
        if line.contains("panicked at") {
            telling.push(at);
            telling.extend((at + 1 < tail_from).then_some(at + 1));
        } else if is_error(line) || names_address(line) {
            telling.push(at);
        }
    }
    telling.dedup();
    if telling.is_empty() {
        return tail(text, lines);
    }
    while tail_from + 1 < all.len() && all[tail_from].trim().is_empty() {
        tail_from += 1;
    }
    let mut out = Vec::new();
    let skipped = telling.len().saturating_sub(MOST);
    for (n, &at) in telling.iter().enumerate() {
        if skipped > 0 && n == MOST / 2 {
            out.push(format!("… ({skipped} more such lines)"));
        }
        if skipped == 0 || n < MOST / 2 || n >= telling.len() - MOST / 2 {
            out.push(format!("line {}: {}", at + 1, all[at]));
        }
    }
    out.push(format!(
        "… last {} of {} lines:",
        all.len() - tail_from,
        all.len()
    ));
    out.extend(all[tail_from..].iter().map(|l| l.to_string()));
    out.join("\n")
}

fn is_error(line: &str) -> bool {
    let lower = line.to_lowercase();
    lower.contains("error") || lower.contains("failed")
}

/// "listening on 0.0.0.0:8000", "bind", "port 8000", "127.0.0.1:3000", "[::]:80".
fn names_address(line: &str) -> bool {
    let lower = line.to_lowercase();
    if ["listen", "bind", "port "]
        .iter()
        .any(|word| lower.contains(word))
    {
        return true;
    }
    // host:port, where the host is an IPv4 address, localhost or [IPv6]
    // (not a time of day like 12:30:05).
    lower.match_indices(':').any(|(at, _)| {
        let before = &lower[..at];
        let host = before
            .rsplit(|c: char| c.is_whitespace() || c == '/' || c == '(' || c == '"')
            .next()
            .unwrap_or("");
        let port_follows = lower[at + 1..].starts_with(|c: char| c.is_ascii_digit());
        let is_host = host == "localhost"
            || host.ends_with(']')
            || (host.split('.').count() == 4
                && host
                    .split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())));
        port_follows && is_host
    })
}

/// The last `lines` lines of `text`, trimmed, or "(no output)".
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    let mut from = all.len().saturating_sub(lines);
    // Not a blank first line (a panic message starts with one).
    while from + 1 < all.len() && all[from].trim().is_empty() {
        from += 1;
    }
    let shown = all[from..].join("\n");
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

/// The processes listening on TCP `port` (IPv4 or IPv6), from /proc; `None`
/// where that cannot be read (not Linux, a restricted /proc).
pub fn listeners(port: u16) -> Option<Vec<u32>> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        inodes.extend(listening_inodes(&text, port));
    }
    if inodes.is_empty() {
        return Some(Vec::new());
    }
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let owns = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| {
                let target = target.to_string_lossy();
                inodes
                    .iter()
                    .any(|inode| target == format!("socket:[{inode}]"))
            })
        });
        if owns {
            pids.push(pid);
        }
    }
    Some(pids)
}

/// The socket inodes of a /proc/net/tcp table listening on `port`.
fn listening_inodes(table: &str, port: u16) -> Vec<String> {
    const LISTEN: &str = "0A";
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields.get(1)?.rsplit(':').next()?;
            let listening = u16::from_str_radix(local_port, 16).ok() == Some(port)
                && fields.get(3) == Some(&LISTEN);
            listening.then(|| fields.get(9).map(|inode| inode.to_string()))?
        })
        .collect()
}

/// The process group of `pid`, from /proc/PID/stat.
pub fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces: fields after it.
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_socket_is_found_with_its_process() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
            0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0\n\
            1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0 20 4 30 10 -1\n";
        assert_eq!(listening_inodes(table, 8080), ["4242"]);
        assert!(listening_inodes(table, 8081).is_empty());
        if cfg!(target_os = "linux") {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let me = std::process::id();
            assert_eq!(listeners(port), Some(vec![me]));
            assert!(process_group(me).is_some());
        }
    }

    #[test]
    fn addresses_and_ports_are_told_apart_from_times_of_day() {
        for line in [
            "listening on 0.0.0.0:8000",
            "bound to 127.0.0.1:3000",
            "server at http://localhost:8080/",
            "[::]:80 ready",
            "using port 8000",
        ] {
            assert!(names_address(line), "{line}");
        }
        for line in [
            "2026-12-01T12:30:05Z INFO request done",
            "GET /items/3 200 in 1 ms",
        ] {
            assert!(!names_address(line), "{line}");
        }
    }

    #[test]
    fn the_telling_lines_come_before_the_tail() {
        let mut text = String::from("listening on 0.0.0.0:8000\n");
        for i in 0..100 {
            text.push_str(&format!("request {i}\n"));
        }
        let shown = excerpt(&text, 3);
        assert!(
            shown.starts_with("line 1: listening on 0.0.0.0:8000"),
            "{shown}"
        );
        assert!(
            shown.ends_with("request 97\nrequest 98\nrequest 99"),
            "{shown}"
        );
        // Short output is shown as it is.
        assert_eq!(excerpt("a\nb", 12), "a\nb");
    }
}
