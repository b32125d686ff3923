//! A stand-in stage folder: a std-only Rust program (it builds in a second)
//! that misbehaves in the way `FAKE_MODE` says, so the checker's messages for
//! each fault can be tested without the real stages. The xtask passes its own
//! environment on to the program it checks, so tests steer it with
//! `FAKE_MODE` and learn its process ids through `FAKE_PIDS`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The program: `FAKE_MODE` chooses how it (mis)behaves on `PORT`.
const MAIN: &str = r#####"
use std::io::{Read, Write};
use std::net::TcpListener;

fn main() {
    let mode = std::env::var("FAKE_MODE").unwrap_or_default();
    let port: u16 = std::env::var("PORT").expect("PORT").parse().expect("PORT");
    let mut pids = vec![std::process::id()];
    if mode.ends_with("-fork") {
        // A child of its own, as a server that starts a helper would have.
        let child = std::process::Command::new("sleep").arg("600").spawn().expect("sleep");
        pids.push(child.id());
        std::mem::forget(child);
    }
    if let Ok(path) = std::env::var("FAKE_PIDS") {
        let text: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
        std::fs::write(format!("{path}.tmp"), text.join(" ")).unwrap();
        std::fs::rename(format!("{path}.tmp"), &path).unwrap();
    }
    let mut out = std::io::stdout();
    match mode.as_str() {
        "refused" => {
            // Listens on a fixed port instead of PORT, then talks a lot.
            writeln!(out, "listening on http://0.0.0.0:8000").unwrap();
            for i in 0..400 {
                writeln!(out, "GET /items/{i} 200 in 1 ms").unwrap();
            }
            out.flush().unwrap();
            std::thread::sleep(std::time::Duration::from_secs(600));
            return;
        }
        "binary" => {
            out.write_all(b"config: \xff\xfe not text\n").unwrap();
            out.flush().unwrap();
            panic!("no DATABASE_URL given");
        }
        _ => {}
    }
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    writeln!(out, "listening on 127.0.0.1:{port}").unwrap();
    out.flush().unwrap();
    let mut held = Vec::new();
    for stream in listener.incoming() {
        let mut stream = stream.unwrap();
        match mode.as_str() {
            // Accepted by the kernel, never answered.
            "silent" | "silent-fork" => held.push(stream),
            "garbage" => {
                let _ = stream.write_all(b"hello, this is not HTTP\n");
            }
            "close" => drop(stream),
            _ => {
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer);
                let body = r#"{"status":"OK"}"#;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        }
    }
}
"#####;

/// A build script that never ends (a stand-in for a very slow build); it
/// writes its process id to `FAKE_BUILD_PID` first.
pub const SLOW_BUILD: &str = r#"
fn main() {
    if let Ok(path) = std::env::var("FAKE_BUILD_PID") {
        std::fs::write(format!("{path}.tmp"), std::process::id().to_string()).unwrap();
        std::fs::rename(format!("{path}.tmp"), &path).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_secs(600));
}
"#;

/// A fake stage folder `01-health` under the target folder (so it uses the
/// kit's shared target folder, as the real stage copies do).
pub struct FakeStage {
    dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl FakeStage {
    /// `package` must differ between tests that build at the same time.
    pub fn new(package: &str) -> FakeStage {
        Self::with_build_script(package, None)
    }

    pub fn with_build_script(package: &str, build_rs: Option<&str>) -> FakeStage {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(base).unwrap();
        let dir = tempfile::tempdir_in(base).unwrap();
        let path = dir.path().join("01-health");
        std::fs::create_dir_all(path.join("src")).unwrap();
        std::fs::write(
            path.join("Cargo.toml"),
            format!("[package]\nname = \"{package}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n"),
        )
        .unwrap();
        // A lockfile, so the build does not write one into the checked folder.
        std::fs::write(
            path.join("Cargo.lock"),
            format!("version = 4\n\n[[package]]\nname = \"{package}\"\nversion = \"0.1.0\"\n"),
        )
        .unwrap();
        std::fs::write(path.join("src/main.rs"), MAIN).unwrap();
        if let Some(script) = build_rs {
            std::fs::write(path.join("build.rs"), script).unwrap();
        }
        FakeStage { dir, path }
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// A path in the fake's scratch folder (outside the checked folder).
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Process ids a test learned; SIGKILLed when dropped, so a failing test
/// leaves nothing running.
#[derive(Default)]
pub struct Pids(pub Vec<i32>);

impl Pids {
    /// Waits (at most `limit`) for `file` to hold the ids.
    pub fn read(file: &Path, limit: Duration) -> Option<Pids> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(text) = std::fs::read_to_string(file) {
                return Some(Pids(
                    text.split_whitespace()
                        .map(|p| p.parse().unwrap())
                        .collect(),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// The ids of processes still running (zombies count as gone).
    pub fn alive(&self) -> Vec<i32> {
        self.0.iter().copied().filter(|&pid| alive(pid)).collect()
    }

    /// Waits at most `limit` until none runs; returns those still running.
    pub fn wait_gone(&self, limit: Duration) -> Vec<i32> {
        let start = Instant::now();
        while start.elapsed() < limit && !self.alive().is_empty() {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.alive()
    }
}

impl Drop for Pids {
    fn drop(&mut self) {
        for pid in self.alive() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Whether `pid` runs (a zombie waiting to be reaped does not).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
        !s.lines()
            .any(|l| l.starts_with("State:") && l.contains('Z'))
    })
}

/// A started `cargo xtask ...`, killed (SIGKILL) if still running when dropped.
pub struct Running {
    pub handle: duct::Handle,
}

impl Running {
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut expression = duct::cmd(env!("CARGO_BIN_EXE_xtask"), args).dir(super::root());
        for (key, value) in env {
            expression = expression.env(key, value);
        }
        let handle = expression
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .start()
            .expect("the xtask binary starts");
        Running { handle }
    }

    pub fn pid(&self) -> i32 {
        self.handle.pids()[0] as i32
    }

    /// Waits at most `limit` for the xtask to end; if it does not, kills it
    /// and fails the test naming `what` was being checked.
    pub fn finish(self, limit: Duration, what: &str) -> super::Run {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(out)) = self.handle.try_wait() {
                return super::Run {
                    success: out.status.success(),
                    code: out.status.code(),
                    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.handle.kill();
        panic!(
            "{what}: the xtask was still running after {} s",
            limit.as_secs()
        );
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !matches!(self.handle.try_wait(), Ok(Some(_))) {
            let _ = self.handle.kill();
        }
    }
}
