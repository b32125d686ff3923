//! Docker for the container stages: read Dockerfiles, build images, run
//! containers on 127.0.0.1 only, inspect images. Every container started here
//! is removed on drop and on Ctrl-C of the xtask.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::http;
use crate::proc::{Cleanup, Registration, register, tail};
use crate::report::Failure;

/// The port the kit's servers listen on inside a container (`PORT`'s default).
pub const CONTAINER_PORT: u16 = 8000;

/// One instruction of a Dockerfile, continuation lines joined.
#[derive(Debug, Clone)]
pub struct Instruction {
    /// 1-based line of the keyword.
    pub line: usize,
    /// Upper case: `FROM`, `RUN`, ...
    pub keyword: String,
    pub args: String,
}

/// The instructions of a Dockerfile (comments and blank lines dropped).
pub fn instructions(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current: Option<Instruction> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_none()) {
            continue;
        }
        let (body, continues) = match line.strip_suffix('\\') {
            Some(body) => (body.trim_end(), true),
            None => (line, false),
        };
        match current.as_mut() {
            Some(instruction) => {
                instruction.args.push(' ');
                instruction.args.push_str(body);
            }
            None => {
                let (keyword, args) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
                current = Some(Instruction {
                    line: index + 1,
                    keyword: keyword.to_uppercase(),
                    args: args.trim().to_string(),
                });
            }
        }
        if !continues {
            out.extend(current.take());
        }
    }
    out.extend(current);
    out
}

/// A `FROM` line: the image it names and the stage name it gives (`AS name`).
#[derive(Debug, Clone)]
pub struct From {
    pub line: usize,
    pub image: String,
    pub alias: Option<String>,
}

pub fn froms(text: &str) -> Vec<From> {
    instructions(text)
        .into_iter()
        .filter(|i| i.keyword == "FROM")
        .map(|i| {
            let words: Vec<&str> = i
                .args
                .split_whitespace()
                .filter(|w| !w.starts_with("--"))
                .collect();
            let alias = match words.as_slice() {
                [_, as_, name, ..] if as_.eq_ignore_ascii_case("as") => Some(name.to_string()),
                _ => None,
            };
            From {
                line: i.line,
                image: words.first().unwrap_or(&"").to_string(),
                alias,
            }
        })
        .collect()
}

/// The images a Dockerfile pulls: its `FROM`s that are neither `scratch` nor
/// an earlier stage.
pub fn base_images(text: &str) -> Vec<From> {
    let all = froms(text);
    let mut aliases: Vec<String> = Vec::new();
    let mut images = Vec::new();
    for from in all {
        let is_stage = aliases.iter().any(|a| a.eq_ignore_ascii_case(&from.image));
        if !is_stage && from.image != "scratch" {
            images.push(from.clone());
        }
        if let Some(alias) = from.alias {
            aliases.push(alias);
        }
    }
    images
}

/// One build stage of a Dockerfile: its `FROM` and the instructions after it.
#[derive(Debug, Clone)]
pub struct BuildStage {
    pub from: From,
    pub instructions: Vec<Instruction>,
}

/// The build stages of a Dockerfile, in order (instructions before the first
/// `FROM`, such as `ARG`, belong to none).
pub fn build_stages(text: &str) -> Vec<BuildStage> {
    let mut froms = froms(text).into_iter();
    let mut out: Vec<BuildStage> = Vec::new();
    for instruction in instructions(text) {
        if instruction.keyword == "FROM" {
            if let Some(from) = froms.next() {
                out.push(BuildStage {
                    from,
                    instructions: Vec::new(),
                });
            }
        } else if let Some(stage) = out.last_mut() {
            stage.instructions.push(instruction);
        }
    }
    out
}

/// A `COPY --from=STAGE SRC... DEST` of a build stage.
#[derive(Debug, Clone)]
pub struct CopyFrom {
    pub line: usize,
    pub stage: String,
    pub sources: Vec<String>,
    pub dest: String,
}

impl CopyFrom {
    /// Where `source` lands: DEST itself for one file copied to a path not
    /// ending in `/`, else DEST/basename.
    pub fn lands(&self, source: &str) -> String {
        let base = source
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(source);
        if self.dest.ends_with('/') || self.dest == "." || self.sources.len() > 1 {
            format!("{}/{base}", self.dest.trim_end_matches('/'))
        } else {
            self.dest.clone()
        }
    }
}

/// The `COPY --from=...` instructions of a stage (shell-like or JSON form).
pub fn copies_from(stage: &BuildStage) -> Vec<CopyFrom> {
    stage
        .instructions
        .iter()
        .filter(|i| i.keyword == "COPY")
        .filter_map(|i| {
            let words = exec_words(&i.args)
                .unwrap_or_else(|| i.args.split_whitespace().map(str::to_string).collect());
            let from = words
                .iter()
                .find_map(|w| w.strip_prefix("--from="))?
                .to_string();
            let mut paths: Vec<String> =
                words.into_iter().filter(|w| !w.starts_with("--")).collect();
            let dest = paths.pop()?;
            Some(CopyFrom {
                line: i.line,
                stage: from,
                sources: paths,
                dest,
            })
        })
        .collect()
}

/// The words of a JSON (exec) form argument list, `None` for the shell form.
pub fn exec_words(args: &str) -> Option<Vec<String>> {
    let args = args.trim();
    if !args.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(args).ok()
}

/// The program a stage starts: the first word of its last ENTRYPOINT, or
/// of its last CMD when there is no ENTRYPOINT (JSON form only).
pub fn start_program(stage: &BuildStage) -> Option<(&Instruction, String)> {
    let last = |keyword: &str| {
        stage
            .instructions
            .iter()
            .rev()
            .find(|i| i.keyword == keyword)
    };
    let instruction = last("ENTRYPOINT").or_else(|| last("CMD"))?;
    let program = exec_words(&instruction.args)?.into_iter().next()?;
    Some((instruction, program))
}

/// The user a stage's last `USER` instruction sets, with its line.
pub fn stage_user(stage: &BuildStage) -> Option<(usize, String)> {
    stage
        .instructions
        .iter()
        .rev()
        .find(|i| i.keyword == "USER")
        .map(|i| (i.line, i.args.trim().to_string()))
}

/// Whether an image is one that holds no C library: `scratch` and
/// distroless `static` (a binary linked against glibc cannot start there).
pub fn has_no_libc(image: &str) -> bool {
    let name = image.rsplit('/').next().unwrap_or(image);
    image == "scratch" || (image.contains("distroless/") && name.starts_with("static"))
}

/// Whether an image reference names a version: a tag other than `latest`, or a digest.
pub fn is_pinned(image: &str) -> bool {
    if image.contains('@') {
        return true;
    }
    // The tag follows the last ':' after the last '/' (a registry may have a port).
    let name = image.rsplit('/').next().unwrap_or(image);
    match name.split_once(':') {
        Some((_, tag)) => !tag.is_empty() && tag != "latest",
        None => false,
    }
}

/// The outcome of `docker build`.
pub struct Build {
    pub success: bool,
    /// The plain BuildKit progress log (stdout and stderr).
    pub log: String,
    pub took: Duration,
    /// Which builder ran: BuildKit, or the legacy builder as a fallback.
    pub builder: &'static str,
    /// The build was ended on purpose before it finished.
    pub stopped_early: bool,
}

impl Build {
    /// The crates cargo compiled during this build, as `(name, version)`.
    pub fn compiled_crates(&self) -> Vec<(String, String)> {
        compiled_crates(&self.log)
    }
}

/// `Compiling tokio v1.54.0` lines of a (BuildKit plain) log.
pub fn compiled_crates(log: &str) -> Vec<(String, String)> {
    log.lines()
        .filter_map(|line| {
            let at = line.find("Compiling ")?;
            let mut words = line[at + "Compiling ".len()..].split_whitespace();
            let name = words.next()?;
            let version = words.next()?.strip_prefix('v')?;
            Some((name.to_string(), version.to_string()))
        })
        .collect()
}

/// `docker build` with BuildKit and plain progress output, bounded by `limit`.
///
/// A docker CLI from 23.0 on builds with BuildKit only through the buildx
/// plugin; where that plugin is missing (some distributions package the CLI
/// without it) the build falls back to the legacy builder and says so.
pub fn build(context: &Path, tag: &str, limit: Duration) -> std::io::Result<Build> {
    build_until(context, tag, limit, &|_| false)
}

/// A build that uses no cached layer at all (`--no-cache`): a cold build.
pub fn build_cold(context: &Path, tag: &str, limit: Duration) -> std::io::Result<Build> {
    build_inner(context, tag, limit, &["--no-cache"], &|_| false)
}

/// Like [`build`], but ends the build as soon as a log line satisfies
/// `enough` (the build then counts as failed, with `stopped_early`).
pub fn build_until(
    context: &Path,
    tag: &str,
    limit: Duration,
    enough: &dyn Fn(&str) -> bool,
) -> std::io::Result<Build> {
    build_inner(context, tag, limit, &[], enough)
}

fn build_inner(
    context: &Path,
    tag: &str,
    limit: Duration,
    extra: &[&str],
    enough: &dyn Fn(&str) -> bool,
) -> std::io::Result<Build> {
    let first = build_with(context, tag, limit, true, extra, enough)?;
    if first.success || !first.log.contains("buildx component is missing") {
        return Ok(first);
    }
    let mut legacy = build_with(context, tag, limit, false, extra, enough)?;
    legacy.builder = "legacy builder (the buildx plugin is missing)";
    Ok(legacy)
}

fn build_with(
    context: &Path,
    tag: &str,
    limit: Duration,
    buildkit: bool,
    extra: &[&str],
    enough: &dyn Fn(&str) -> bool,
) -> std::io::Result<Build> {
    use std::io::BufRead;
    use std::sync::mpsc;

    let dockerfile = context.join("Dockerfile");
    let mut args: Vec<std::ffi::OsString> = vec!["build".into()];
    if buildkit {
        args.push("--progress=plain".into());
    }
    for arg in extra.iter().copied().chain(["--tag", tag, "--file"]) {
        args.push(arg.into());
    }
    args.push(dockerfile.into());
    args.push(context.into());
    let start = Instant::now();
    let reader = duct::cmd("docker", args)
        .env("DOCKER_BUILDKIT", if buildkit { "1" } else { "0" })
        .stdin_null()
        .stderr_to_stdout()
        .unchecked()
        .reader()?;
    let reader = std::sync::Arc::new(reader);
    let (lines, received) = mpsc::channel::<String>();
    let reading = std::sync::Arc::clone(&reader);
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(&*reading).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    let mut stopped_early = false;
    let mut timed_out = false;
    loop {
        match received.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                log.push_str(&line);
                log.push('\n');
                if enough(&line) {
                    stopped_early = true;
                    let _ = reader.kill();
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if start.elapsed() > limit {
            timed_out = true;
            let _ = reader.kill();
            break;
        }
    }
    let status = reader.try_wait().ok().flatten().map(|o| o.status);
    if timed_out {
        log.push_str(&format!(
            "docker build did not finish within {} s\n",
            limit.as_secs()
        ));
    }
    Ok(Build {
        success: !stopped_early && !timed_out && status.is_some_and(|s| s.success()),
        log,
        took: start.elapsed(),
        builder: if buildkit {
            "BuildKit"
        } else {
            "legacy builder"
        },
        stopped_early,
    })
}

/// Why a failed build failed, for a person: the last lines of the log, and a
/// hint when the base image is simply missing.
pub fn explain_failed_build(build: &Build) -> (String, Option<&'static str>) {
    let log = &build.log;
    let missing_base = [
        "failed to resolve source metadata",
        "pull access denied",
        "failed to do request",
        "manifest unknown",
        "failed to authorize",
    ]
    .iter()
    .any(|needle| log.contains(needle));
    let hint = if log.contains("the Dockerfile cannot be empty")
        || log.contains("file with no instructions")
    {
        Some("the Dockerfile has no instruction yet: write one under each TODO")
    } else if missing_base {
        Some(
            "a base image is not on this machine and cannot be pulled; with a registry, `docker pull` it; offline, run `cargo xtask docker standins`",
        )
    } else if log.contains("self-signed certificate") {
        Some(
            "a proxy intercepts TLS: the build image must trust its certificate authority (see the book's troubleshooting part)",
        )
    } else {
        None
    };
    (tail(log, 25), hint)
}

fn docker(args: &[&str]) -> Result<String, String> {
    let out = duct::cmd("docker", args)
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| format!("docker could not be run: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "docker {}: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Whether the image exists locally.
pub fn image_exists(image: &str) -> bool {
    docker(&["image", "inspect", "--format", "{{.Id}}", image]).is_ok()
}

/// The value of one label of a local image ("" when it has no such label).
pub fn image_label(image: &str, label: &str) -> Result<String, String> {
    let format = format!("{{{{index .Config.Labels \"{label}\"}}}}");
    docker(&["image", "inspect", "--format", &format, image]).map(|value| {
        if value == "<no value>" {
            String::new()
        } else {
            value
        }
    })
}

/// The uncompressed size of a local image, in bytes.
pub fn image_size(image: &str) -> Result<u64, String> {
    let text = docker(&["image", "inspect", "--format", "{{.Size}}", image])?;
    text.parse()
        .map_err(|_| format!("unexpected image size {text:?}"))
}

/// The `User` of an image's config (empty: root).
pub fn image_user(image: &str) -> Result<String, String> {
    docker(&["image", "inspect", "--format", "{{.Config.User}}", image])
}

/// Every path in an image's file system (`docker create` + `docker export`),
/// without a leading `./` or `/`.
pub fn image_files(image: &str) -> Result<Vec<String>, String> {
    // The entrypoint is never run; it only lets `create` accept any image.
    let id = docker(&["create", "--entrypoint", "/nonexistent", image])?;
    let _cleanup = register(Cleanup::Command(vec![
        "docker".into(),
        "rm".into(),
        "-f".into(),
        id.clone(),
    ]));
    let listing = duct::cmd!("docker", "export", &id)
        .pipe(duct::cmd!("tar", "-t"))
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run();
    let _ = docker(&["rm", "-f", &id]);
    let out = listing.map_err(|e| format!("docker export | tar -t: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "docker export | tar -t: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            l.trim_start_matches("./")
                .trim_start_matches('/')
                .trim_end_matches('/')
                .to_string()
        })
        .filter(|l| !l.is_empty())
        .collect())
}

pub fn remove_image(image: &str) {
    let _ = docker(&["image", "rm", "--force", image]);
}

/// `1234567` → `1.2 MB` (decimal megabytes, as `docker images` shows them).
pub fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / 1e6;
    if mb >= 100.0 {
        format!("{mb:.0} MB")
    } else {
        format!("{mb:.1} MB")
    }
}

/// A running container whose port 8000 is published on 127.0.0.1 only.
pub struct Container {
    pub id: String,
    pub port: u16,
    /// Just before `docker start`.
    pub started: Instant,
    removed: bool,
    _registration: Registration,
}

impl Container {
    /// `docker run --detach -p 127.0.0.1:PORT:8000 image`.
    pub fn run(image: &str) -> Result<Container, String> {
        Container::run_with_env(image, &[])
    }

    /// Like [`Container::run`], with environment variables (`NAME=value`).
    pub fn run_with_env(image: &str, env: &[&str]) -> Result<Container, String> {
        Container::start(image, env, false)
    }

    /// Like [`Container::run_with_env`], but in the host's network namespace
    /// with `PORT` set to a free port: the service then reaches a database on
    /// the host's 127.0.0.1, and is reached on 127.0.0.1 itself.
    pub fn run_on_host_network(image: &str, env: &[&str]) -> Result<Container, String> {
        Container::start(image, env, true)
    }

    fn start(image: &str, env: &[&str], host_network: bool) -> Result<Container, String> {
        let port = http::free_port();
        let publish = format!("127.0.0.1:{port}:{CONTAINER_PORT}");
        let port_env = format!("PORT={port}");
        // A name, so that a container whose creation half failed can still
        // be removed.
        let name = format!("microservices-lab-{}-{port}", std::process::id());
        let mut args = vec!["create", "--name", &name];
        if host_network {
            args.extend(["--network", "host", "--env", &port_env]);
        } else {
            args.extend(["--publish", &publish]);
        }
        for pair in env {
            args.extend(["--env", pair]);
        }
        args.push(image);
        let id = docker(&args).inspect_err(|_| {
            let _ = docker(&["rm", "--force", &name]);
        })?;
        let registration = register(Cleanup::Command(vec![
            "docker".into(),
            "rm".into(),
            "-f".into(),
            id.clone(),
        ]));
        // Created first, started now: `started` excludes image unpacking
        // and container set-up, which are Docker's, not the service's.
        let container = Container {
            id,
            port,
            started: Instant::now(),
            removed: false,
            _registration: registration,
        };
        docker(&["start", &container.id])?;
        Ok(container)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }

    fn state(&self, field: &str) -> Result<String, String> {
        docker(&[
            "container",
            "inspect",
            "--format",
            &format!("{{{{.State.{field}}}}}"),
            &self.id,
        ])
    }

    pub fn running(&self) -> bool {
        self.state("Running").is_ok_and(|s| s == "true")
    }

    pub fn exit_code(&self) -> Option<i64> {
        self.state("ExitCode").ok()?.parse().ok()
    }

    /// The last `lines` lines the container printed.
    pub fn log_tail(&self, lines: usize) -> String {
        let out = duct::cmd!("docker", "logs", "--tail", lines.to_string(), &self.id)
            .stderr_to_stdout()
            .stdout_capture()
            .unchecked()
            .run();
        match out {
            Ok(out) => tail(&String::from_utf8_lossy(&out.stdout), lines),
            Err(e) => format!("(docker logs failed: {e})"),
        }
    }

    /// Polls `url` until it answers (any status) or `limit` passes; fails
    /// early, with the container's output, if the container stops.
    pub fn wait_until_answers(&self, url: &str, limit: Duration) -> Result<Duration, Failure> {
        let start = Instant::now();
        let mut last_error = String::from("no attempt");
        let mut attempts = 0u32;
        while start.elapsed() < limit {
            attempts += 1;
            if attempts % 5 == 1 && !self.running() {
                let code = self
                    .exit_code()
                    .map(|c| format!("exit code {c}"))
                    .unwrap_or_else(|| "it is gone".into());
                return Err(Failure::new(
                    format!("the container keeps running and answers {url}"),
                    format!(
                        "the container stopped ({code}) before answering; its last output:\n{}",
                        self.log_tail(12)
                    ),
                ));
            }
            match http::get(url, Duration::from_secs(2)) {
                Ok(_) => return Ok(start.elapsed()),
                Err(e) => last_error = e,
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(Failure::new(
            format!("an answer from {url} within {} s", limit.as_secs()),
            format!(
                "no answer ({last_error}); the container's last output:\n{}",
                self.log_tail(12)
            ),
        ))
    }

    /// `docker stop --time GRACE`: how long it took and the exit code.
    pub fn stop(&self, grace: Duration) -> Result<(Duration, Option<i64>), String> {
        let start = Instant::now();
        docker(&[
            "stop",
            "--time",
            &grace.as_secs().max(1).to_string(),
            &self.id,
        ])?;
        Ok((start.elapsed(), self.exit_code()))
    }

    /// Resident set size (VmRSS) of the container's main process, in bytes,
    /// read from the host's /proc: where the engine runs in a VM (Docker
    /// Desktop), that process is not visible and this is an error.
    pub fn process_rss(&self) -> Result<u64, String> {
        let pid = self.state("Pid")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(|e| format!("/proc/{pid}/status: {e} (is the engine in a VM?)"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kb| kb.trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| format!("no VmRSS line in /proc/{pid}/status"))
    }

    /// Memory charged to the container's cgroup, in bytes (`docker stats`:
    /// anonymous memory and active page cache).
    pub fn memory_usage(&self) -> Result<u64, String> {
        let text = docker(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.MemUsage}}",
            &self.id,
        ])?;
        parse_memory(text.split('/').next().unwrap_or("").trim())
            .ok_or_else(|| format!("unexpected docker stats output {text:?}"))
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if !self.removed {
            self.removed = true;
            let _ = docker(&["rm", "--force", &self.id]);
        }
    }
}

/// `12.5MiB` → bytes.
fn parse_memory(text: &str) -> Option<u64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.trim().parse().ok()?;
    let factor = match unit {
        "B" => 1.0,
        "KiB" | "kB" => 1024.0,
        "MiB" | "MB" => 1024.0 * 1024.0,
        "GiB" | "GB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((number * factor) as u64)
}

/// Whether `.dockerignore` (text) keeps `target/` out of the build context:
/// the last pattern matching `target` decides, as in Docker.
pub fn dockerignore_excludes_target(text: &str) -> bool {
    let mut excluded = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (negated, pattern) = match line.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        let pattern = pattern.trim_start_matches("./").trim_start_matches('/');
        let pattern = pattern.trim_end_matches('/');
        let matches = matches!(
            pattern,
            "target" | "target/*" | "target/**" | "**/target" | "**/target/**" | "*" | "**"
        );
        if matches {
            excluded = !negated;
        }
    }
    excluded
}

/// Whether `.dockerignore` (text) excludes the file `name` at the top of
/// the context (the last matching pattern decides, as in Docker).
pub fn dockerignore_lists(text: &str, name: &str) -> bool {
    let mut excluded = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (negated, pattern) = match line.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        let pattern = pattern.trim_start_matches("./").trim_start_matches('/');
        if pattern == name || pattern == "*" || pattern == "**" || pattern == format!("**/{name}") {
            excluded = !negated;
        }
    }
    excluded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_join_continuations_and_skip_comments() {
        let text = "# c\nFROM rust:1 AS b\n\nRUN a \\\n    && b\n# x\nCMD [\"x\"]\n";
        let all = instructions(text);
        let keywords: Vec<&str> = all.iter().map(|i| i.keyword.as_str()).collect();
        assert_eq!(keywords, ["FROM", "RUN", "CMD"]);
        assert_eq!(all[1].line, 4);
        assert_eq!(all[1].args, "a && b");
    }

    #[test]
    fn base_images_skip_stages_and_scratch() {
        let text = "FROM rust:1.95-slim-trixie AS builder\nFROM builder AS x\nFROM scratch\nFROM gcr.io/distroless/cc-debian13:nonroot\n";
        let images: Vec<String> = base_images(text).into_iter().map(|f| f.image).collect();
        assert_eq!(
            images,
            [
                "rust:1.95-slim-trixie",
                "gcr.io/distroless/cc-debian13:nonroot"
            ]
        );
    }

    #[test]
    fn pinned_means_a_tag_other_than_latest() {
        assert!(is_pinned("rust:1.95-slim-trixie"));
        assert!(is_pinned("gcr.io/distroless/cc-debian13:nonroot"));
        assert!(is_pinned("rust@sha256:abc"));
        assert!(!is_pinned("rust"));
        assert!(!is_pinned("rust:latest"));
        assert!(!is_pinned("localhost:5000/rust"));
    }

    #[test]
    fn compiled_crates_come_from_cargo_lines() {
        let log = "#9 12.3    Compiling tokio v1.54.0\n#9 20.1    Compiling health v0.1.0 (/app)\n#9 DONE\n";
        assert_eq!(
            compiled_crates(log),
            [
                ("tokio".to_string(), "1.54.0".to_string()),
                ("health".to_string(), "0.1.0".to_string())
            ]
        );
    }

    #[test]
    fn dockerignore_patterns() {
        assert!(dockerignore_excludes_target("target/\n"));
        assert!(dockerignore_excludes_target("/target\n"));
        assert!(dockerignore_excludes_target("*\n!src\n!Cargo.*\n"));
        assert!(!dockerignore_excludes_target("target\n!target\n"));
        assert!(!dockerignore_excludes_target(".git\n"));
    }

    #[test]
    fn the_last_stage_copies_and_starts() {
        let text = "FROM rust:1 AS builder\nRUN cargo build\nFROM gcr.io/distroless/cc-debian13:nonroot\nCOPY --from=builder /app/target/release/health /usr/local/bin/health\nCOPY --from=builder --chown=1:1 /a /b /opt/\nUSER 65532:65532\nENTRYPOINT [\"/usr/local/bin/health\"]\n";
        let stages = build_stages(text);
        assert_eq!(stages.len(), 2);
        let copies = copies_from(&stages[1]);
        assert_eq!(copies[0].stage, "builder");
        assert_eq!(
            copies[0].lands("/app/target/release/health"),
            "/usr/local/bin/health"
        );
        assert_eq!(copies[1].lands("/a"), "/opt/a");
        let (instruction, program) = start_program(&stages[1]).unwrap();
        assert_eq!(
            (instruction.line, program.as_str()),
            (7, "/usr/local/bin/health")
        );
        assert_eq!(stage_user(&stages[1]), Some((6, "65532:65532".to_string())));
        assert!(start_program(&build_stages("FROM x\nCMD /bin/x\n")[0]).is_none());
    }

    #[test]
    fn images_without_a_c_library() {
        assert!(has_no_libc("scratch"));
        assert!(has_no_libc("gcr.io/distroless/static-debian13:nonroot"));
        assert!(!has_no_libc("gcr.io/distroless/cc-debian13:nonroot"));
        assert!(!has_no_libc("rust:1.95-slim-trixie"));
    }

    #[test]
    fn dockerignore_lists_a_file() {
        assert!(dockerignore_lists("target/\nDockerfile\n", "Dockerfile"));
        assert!(!dockerignore_lists("target/\n", "Dockerfile"));
        assert!(!dockerignore_lists(
            "Dockerfile\n!Dockerfile\n",
            "Dockerfile"
        ));
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1.5MiB"), Some(1572864));
        assert_eq!(parse_memory("512KiB"), Some(524288));
        assert_eq!(parse_memory("x"), None);
    }
}
