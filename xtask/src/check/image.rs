//! Steps on a Dockerfile and its image: read and lint the Dockerfile,
//! build the image with real Docker, run it with a port published on
//! 127.0.0.1 only, and stop it.

use std::path::Path;
use std::time::Duration;

use super::{Checker, Stop};
use crate::docker::{self, Build, Container};
use crate::report::Failure;
use crate::tools::Tool;

/// The image a check builds: named after the stage and the folder checked
/// (`:exercises`, `:solutions`, or `:dir-HASH` for any other folder), so a
/// check of one copy never replaces the image of another (stage 03 compares
/// its size with stage 02's). A scratch copy's image (the self-test's broken
/// copies) is removed when the check ends.
pub struct ImageTag {
    pub name: String,
    scratch: bool,
}

impl ImageTag {
    pub fn for_folder(id: &str, dir: &Path) -> ImageTag {
        ImageTag {
            name: image_tag(id, dir),
            scratch: dir.starts_with(crate::paths::target_dir()),
        }
    }
}

impl Drop for ImageTag {
    fn drop(&mut self) {
        if self.scratch {
            docker::remove_image(&self.name);
        }
    }
}

/// The tag the check of stage `id` in `dir` gives the image it builds.
pub fn image_tag(id: &str, dir: &Path) -> String {
    let root = crate::paths::root();
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let label = ["exercises", "solutions"]
        .into_iter()
        .find(|tree| dir == root.join(tree).join(id))
        .map(str::to_string)
        .unwrap_or_else(|| {
            // FNV-1a: the same folder gets the same name from run to run.
            let hash = dir
                .to_string_lossy()
                .bytes()
                .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                });
            format!("dir-{:08x}", hash as u32)
        });
    format!("microservices-lab/{id}:{label}")
}

/// A cold build compiles every crate: minutes on a small machine.
pub const BUILD_LIMIT: Duration = Duration::from_secs(30 * 60);

/// The Dockerfile's text, or the stage stops.
pub fn read_dockerfile(ck: &mut Checker) -> Result<String, Stop> {
    let path = ck.dir.join("Dockerfile");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Failure::new(
            format!("a file {}", crate::paths::show(&path)),
            e.to_string(),
        )
        .hint("the Dockerfile sits at the top of the stage folder, next to Cargo.toml")
    });
    let text = ck.require("Dockerfile", text, |text| {
        format!("{} instruction(s)", docker::instructions(text).len())
    })?;
    if docker::instructions(&text).is_empty() {
        // Not a stop: the build below still shows Docker's own words for it.
        ck.fail(
            "instructions",
            "the Dockerfile has no instruction yet",
            Failure::new(
                "FROM, WORKDIR, COPY, RUN and CMD",
                "only comments or nothing",
            )
            .hint("write one instruction under each numbered TODO"),
        );
    }
    Ok(text)
}

/// hadolint, when installed: every finding is a failure, with its line.
pub fn hadolint(ck: &mut Checker) {
    if !ck.has_tool(Tool::Hadolint, "hadolint") {
        return;
    }
    let path = ck.dir.join("Dockerfile");
    let out = duct::cmd!("hadolint", "--no-color", "--format", "json", &path)
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run();
    let findings = match out {
        Ok(out) => match serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout) {
            Ok(findings) => findings,
            Err(_) => {
                let failure = Failure::new(
                    "hadolint's JSON report",
                    String::from_utf8_lossy(&out.stderr).trim().to_string(),
                );
                ck.fail(
                    "hadolint",
                    "hadolint could not read the Dockerfile",
                    failure,
                );
                return;
            }
        },
        Err(e) => {
            ck.fail(
                "hadolint",
                "hadolint could not be run",
                Failure::new("hadolint to run", e.to_string()),
            );
            return;
        }
    };
    if findings.is_empty() {
        ck.pass("hadolint", "no findings");
        return;
    }
    let lines: Vec<String> = findings
        .iter()
        .map(|f| {
            format!(
                "Dockerfile:{}: {} {} ({})",
                f["line"],
                f["code"].as_str().unwrap_or("?"),
                f["message"].as_str().unwrap_or(""),
                f["level"].as_str().unwrap_or("")
            )
        })
        .collect();
    ck.fail(
        "hadolint",
        format!("{} finding(s)", findings.len()),
        Failure::new("no hadolint findings", lines.join("\n"))
            .hint("each code is explained at https://github.com/hadolint/hadolint#rules"),
    );
}

/// Every base image names a version; whether they all do.
pub fn pinned_bases(ck: &mut Checker, text: &str) -> bool {
    let loose: Vec<String> = docker::base_images(text)
        .into_iter()
        .filter(|from| !docker::is_pinned(&from.image))
        .map(|from| format!("Dockerfile:{}: FROM {}", from.line, from.image))
        .collect();
    if loose.is_empty() {
        ck.pass("pinned base", "every FROM names a version");
        true
    } else {
        ck.fail(
            "pinned base",
            "a base image is not pinned",
            Failure::new(
                "FROM image:version (not `latest`, not bare)",
                loose.join("\n"),
            )
            .hint("pin the tag: `latest` (or no tag) is whatever was pushed last, so the same Dockerfile builds another image next month; name a version, like rust:1.95-slim-trixie"),
        );
        false
    }
}

/// The final stage starts the server with CMD or ENTRYPOINT in JSON form.
pub fn exec_form(ck: &mut Checker, text: &str) {
    let all = docker::instructions(text);
    let last_from = all.iter().rposition(|i| i.keyword == "FROM").unwrap_or(0);
    let start = all[last_from..]
        .iter()
        .rfind(|i| i.keyword == "CMD" || i.keyword == "ENTRYPOINT");
    match start {
        Some(i) if i.args.trim_start().starts_with('[') => ck.pass(
            "exec form",
            format!("{} in JSON form (line {})", i.keyword, i.line),
        ),
        Some(i) => ck.fail(
            "exec form",
            format!("{} is in shell form", i.keyword),
            Failure::new(
                format!("{} [\"/path/to/binary\"]", i.keyword),
                format!("Dockerfile:{}: {} {}", i.line, i.keyword, i.args),
            )
            .hint("shell form runs `/bin/sh -c`: the shell is PID 1 and the server never sees docker stop's SIGTERM"),
        ),
        None => ck.fail(
            "exec form",
            "no CMD or ENTRYPOINT in the final stage",
            Failure::new("CMD [\"/path/to/binary\"]", "neither CMD nor ENTRYPOINT")
                .hint("without one, the container does not know what to run"),
        ),
    }
}

/// Hints a stage gives the static checks of its final stage (its TODOs).
pub struct StageHints {
    /// A Dockerfile with one stage, or no `COPY --from` in the last one.
    pub multi_stage: &'static str,
    /// ENTRYPOINT/CMD runs a path no `COPY --from` put a file at.
    pub binary_path: &'static str,
    /// The final stage runs as root, or as a name.
    pub user: &'static str,
}

/// A multi-stage build: two `FROM`s at least, and the last stage takes
/// files out of an earlier one with `COPY --from`.
pub fn multi_stage(ck: &mut Checker, text: &str, hints: &StageHints) {
    let stages = docker::build_stages(text);
    let Some(last) = stages.last() else {
        ck.fail(
            "stages",
            "no FROM: no build stage",
            Failure::new("a builder stage and a runtime stage", "no FROM").hint(hints.multi_stage),
        );
        return;
    };
    let copies = docker::copies_from(last);
    if stages.len() < 2 || copies.is_empty() {
        let seen = if stages.len() < 2 {
            format!(
                "one stage (Dockerfile:{}: FROM {}): the image is the builder, toolchain and all",
                last.from.line, last.from.image
            )
        } else {
            format!(
                "{} stages, but the last (Dockerfile:{}: FROM {}) copies nothing out of an earlier one",
                stages.len(),
                last.from.line,
                last.from.image
            )
        };
        ck.fail(
            "stages",
            "not a multi-stage build yet",
            Failure::new(
                "FROM ... AS builder, then a last FROM that gets the binary with COPY --from=builder",
                seen,
            )
            .hint(hints.multi_stage),
        );
        return;
    }
    let names: Vec<String> = stages
        .iter()
        .map(|s| s.from.alias.clone().unwrap_or_else(|| s.from.image.clone()))
        .collect();
    ck.pass(
        "stages",
        format!(
            "{} stages ({}); the last copies from {}",
            stages.len(),
            names.join(", "),
            copies[0].stage
        ),
    );
}

/// The program the final stage starts is a file a `COPY --from` put there.
/// Runs only when the last stage copies from another (a single-stage image
/// builds its binary in place).
pub fn binary_path(ck: &mut Checker, text: &str, hints: &StageHints) {
    let stages = docker::build_stages(text);
    let Some(last) = stages.last().filter(|_| stages.len() > 1) else {
        return;
    };
    let copies = docker::copies_from(last);
    if copies.is_empty() {
        return;
    }
    let Some((start, program)) = docker::start_program(last) else {
        // No JSON-form ENTRYPOINT/CMD: `exec form` already says so.
        return;
    };
    let landed: Vec<(usize, String)> = copies
        .iter()
        .flat_map(|c| c.sources.iter().map(move |s| (c.line, c.lands(s))))
        .collect();
    if landed.iter().any(|(_, path)| *path == program) {
        ck.pass(
            "binary path",
            format!(
                "{} runs {program}, copied from an earlier stage",
                start.keyword
            ),
        );
        return;
    }
    let put: Vec<String> = landed
        .iter()
        .map(|(line, path)| format!("Dockerfile:{line}: COPY --from puts {path}"))
        .collect();
    ck.fail(
        "binary path",
        format!(
            "{} runs a file the final stage does not have",
            start.keyword
        ),
        Failure::new(
            format!(
                "{} runs the path COPY --from put the binary at",
                start.keyword
            ),
            format!(
                "Dockerfile:{}: {} runs {program}\n{}",
                start.line,
                start.keyword,
                put.join("\n")
            ),
        )
        .hint(hints.binary_path),
    );
}

/// The final stage's user, from the Dockerfile: a number other than 0, or
/// no USER on a base image whose tag says it is non-root (distroless
/// `:nonroot` sets user 65532 itself).
pub fn user(ck: &mut Checker, text: &str, hints: &StageHints) {
    let stages = docker::build_stages(text);
    let Some(last) = stages.last() else {
        return;
    };
    let fail = |ck: &mut Checker, message: &str, seen: String| {
        ck.fail(
            "USER",
            message.to_string(),
            Failure::new(
                "USER with a numeric id other than 0, like 65532:65532",
                seen,
            )
            .hint(hints.user),
        );
    };
    match docker::stage_user(last) {
        Some((line, user)) => {
            let uid = user.split(':').next().unwrap_or("").trim();
            let seen = format!("Dockerfile:{line}: USER {user}");
            match uid.parse::<u32>() {
                Ok(0) => fail(ck, "the image runs as root", seen),
                Ok(_) => ck.pass("USER", format!("USER {user} (line {line})")),
                Err(_) if uid == "root" => fail(ck, "the image runs as root", seen),
                Err(_) => fail(ck, "the user is a name, not a number", seen),
            }
        }
        None if last.from.image.ends_with(":nonroot") => ck.pass(
            "USER",
            format!(
                "no USER; the base {} sets user 65532 (nonroot)",
                last.from.image
            ),
        ),
        None => fail(
            ck,
            "the image runs as root (no USER)",
            format!(
                "no USER after Dockerfile:{}: FROM {}",
                last.from.line, last.from.image
            ),
        ),
    }
}

/// Whether to build: not with an unpinned base (the build would pull
/// whatever is newest), not without Docker (skipped; a failure under
/// `LAB_REQUIRE_DOCKER`). The checks of the Dockerfile have run by then.
pub fn ready_to_build(ck: &mut Checker, pinned: bool) -> Result<(), Stop> {
    if !pinned {
        ck.skip(
            "docker build",
            "not built: a base image is not pinned (see `pinned base`)",
            "pin the tag first; building would pull whatever `latest` is today",
        );
        return Err(Stop::Failed);
    }
    match Tool::Docker.probe() {
        Ok(_) => Ok(()),
        Err(why) if Tool::Docker.required() => {
            let failure = Failure::new("docker to work", why).hint(Tool::Docker.install_hint());
            Err(ck.stop(
                "docker build",
                "docker is required here (LAB_REQUIRE_DOCKER)",
                failure,
            ))
        }
        Err(why) => {
            ck.skip(
                "docker build",
                format!("{why}: the image is not built or run (the Dockerfile checks above ran)"),
                Tool::Docker.install_hint(),
            );
            Err(Stop::Skipped)
        }
    }
}

/// `docker build` with the stage folder as context, or the stage stops.
pub fn build_image(ck: &mut Checker, tag: &str) -> Result<Build, Stop> {
    ck.note(&format!(
        "docker build {} (a first build compiles every crate: minutes)",
        crate::paths::show(&ck.dir)
    ));
    let result = run_build(&ck.dir, tag);
    ck.require("docker build", result, |build| {
        format!(
            "built {tag} in {:.0} s ({})",
            build.took.as_secs_f64(),
            build.builder
        )
    })
}

fn run_build(context: &Path, tag: &str) -> Result<Build, Failure> {
    let build = docker::build(context, tag, BUILD_LIMIT)
        .map_err(|e| Failure::new("docker build to run", e.to_string()))?;
    if build.success {
        return Ok(build);
    }
    let (tail, hint) = docker::explain_failed_build(&build);
    let failure = Failure::new("docker build to succeed", format!("it failed:\n{tail}"));
    Err(match hint {
        Some(hint) => failure.hint(hint),
        None => failure.hint("the build log above names the failing instruction"),
    })
}

/// Prints the image's uncompressed size.
pub fn image_size(ck: &mut Checker, tag: &str) -> Result<u64, Stop> {
    let size = docker::image_size(tag).map_err(|e| Failure::new("the image's size", e));
    ck.require("image size", size, |bytes| docker::megabytes(*bytes))
}

/// Runs the image, checks `GET /` as stage 01 does, then `docker stop`.
pub fn run_and_stop(ck: &mut Checker, tag: &str) -> Result<(), Stop> {
    let container = Container::run(tag).map_err(|e| {
        let hint = if e.contains("no such file or directory") {
            "the program ENTRYPOINT/CMD names is not in the image: name the path the binary was built or copied to (COPY --from=builder SRC DEST puts it at DEST)"
        } else {
            "docker run failed before the program started; see the message"
        };
        Failure::new("the container to start", e).hint(hint)
    });
    let container = ck.require("start", container, |c| {
        format!("container {} on 127.0.0.1:{}", c.short_id(), c.port)
    })?;
    let url = container.url("/");
    let waited = container
        .wait_until_answers(&url, Duration::from_secs(30))
        .map_err(|f| {
            let hint = early_exit_hint(&container);
            f.hint(hint)
        });
    ck.require("answers", waited, |waited| {
        format!("answers on {url} after {} ms", waited.as_millis())
    })?;
    super::service::expect_health(ck, &url, &super::service::HealthHints::IN_IMAGE)?;
    docker_stop(ck, &container)
}

/// Why a container did not answer, told apart by how it ended.
fn early_exit_hint(container: &Container) -> &'static str {
    const LISTEN: &str = "the server must listen on 0.0.0.0:8000 inside the container (PORT's default); the output above shows what it said";
    if container.running() {
        return LISTEN;
    }
    let output = container.log_tail(12);
    early_exit_reason(container.exit_code(), &output)
}

/// The hint for a container that ended with `code` after printing `output`.
pub fn early_exit_reason(code: Option<i64>, output: &str) -> &'static str {
    // (`proc::tail` writes "(no output)" for nothing.)
    let silent = output.trim().is_empty() || output.trim() == "(no output)";
    if code == Some(0) && silent {
        "it exited at once, with code 0 and no output: that is not the server but the dependency layer's placeholder `fn main() {}`. cargo took it for up to date because COPY kept the sources' old modification times: touch the sources before the second cargo build"
    } else if output.contains("exec ") && output.contains("no such file or directory") {
        "the binary is there, but what it needs to start is not: a Rust binary for the gnu target is linked against glibc (`ldd` on it lists libc.so.6 and ld-linux), and distroless/static and scratch have no C library. This is Go's habit: Go binaries are static (CGO_ENABLED=0), Rust has no such switch. Use gcr.io/distroless/cc-debian13:nonroot, or build a static binary (a musl target, or +crt-static with an explicit --target)"
    } else {
        "the server must listen on 0.0.0.0:8000 inside the container (PORT's default); the output above shows what it said"
    }
}

/// `docker stop` sends SIGTERM to PID 1 and, after the grace period, SIGKILL.
fn docker_stop(ck: &mut Checker, container: &Container) -> Result<(), Stop> {
    const LIMIT: Duration = Duration::from_secs(5);
    let stopped = container
        .stop(LIMIT + Duration::from_secs(3))
        .map_err(|e| Failure::new("docker stop to work", e));
    let (took, code) = ck.require("docker stop", stopped, |(took, _)| {
        format!("stopped after {} ms", took.as_millis())
    })?;
    let hint = "PID 1 must be the server itself (CMD/ENTRYPOINT in JSON form), and the server must end on SIGTERM";
    if took > LIMIT {
        let failure = Failure::new(
            format!("the container ends within {} s of SIGTERM", LIMIT.as_secs()),
            format!("it took {} ms: Docker had to kill it", took.as_millis()),
        )
        .hint(hint);
        return Err(ck.stop("SIGTERM", "the container ignored SIGTERM", failure));
    }
    match code {
        Some(0) => {
            ck.pass("SIGTERM", "exit code 0");
            Ok(())
        }
        other => {
            let seen = other.map_or("unknown".to_string(), |c| format!("exit code {c}"));
            let failure = Failure::new("exit code 0 after SIGTERM", seen).hint(hint);
            Err(ck.stop("SIGTERM", "the container did not exit cleanly", failure))
        }
    }
}

/// Runs `step`, a check whose outcome depends only on what the build
/// stages of the folder's Dockerfile do with its files (stage 03's rebuild
/// after a source change). In the self-test, a broken copy with the same
/// [`build_inputs`] as its base (it changed only the final stage's `USER`,
/// `ENTRYPOINT` and the like) gets the base's outcome instead, marked as
/// reused: the rebuild would compile exactly what the base's compiled.
/// Outside the self-test the step always runs.
pub fn reusable(ck: &mut Checker, name: &'static str, step: impl FnOnce(&mut Checker)) {
    use super::build::memo::{self, Kept, Mode};
    let digest = match memo::mode() {
        Mode::Off => None,
        Mode::Record | Mode::Replay => build_inputs(&ck.dir),
    };
    if let Some((Kept::Results(results), base)) =
        digest.and_then(|digest| memo::replay_digest(name, digest))
    {
        for result in results {
            let failure = result.expected.map(|expected| Failure {
                expected,
                seen: result.seen.unwrap_or_default(),
                hint: result.hint.unwrap_or_default(),
            });
            let message = format!(
                "{} ({base}'s run reused by the self-test: the same build stages and files)",
                result.message
            );
            ck.record(&result.check, result.status, message, failure);
        }
        return;
    }
    let before = ck.results.len();
    step(ck);
    if let Some(digest) = digest {
        let results = ck.results[before..].to_vec();
        memo::record_digest(name, digest, &ck.dir, Kept::Results(results));
    }
}

/// Final-stage instructions that change the image's configuration and
/// nothing any stage builds.
const CONFIG_ONLY: &[&str] = &[
    "USER",
    "ENTRYPOINT",
    "CMD",
    "EXPOSE",
    "LABEL",
    "STOPSIGNAL",
    "HEALTHCHECK",
];

/// A digest of what the build stages of `dir`'s Dockerfile compile from:
/// every file of the folder (`target/` aside) but the Dockerfile, and the
/// Dockerfile's instructions except the final stage's configuration-only
/// ones ([`CONFIG_ONLY`]). `None` when that would not decide what is
/// compiled: a single stage, a final stage that RUNs anything, or a
/// Dockerfile the build context holds (not listed in `.dockerignore`: a
/// `COPY . .` copies it, so every line of it is an input).
pub fn build_inputs(dir: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(dir.join("Dockerfile")).ok()?;
    let all = docker::instructions(&text);
    let last = all.iter().rposition(|i| i.keyword == "FROM")?;
    let earlier_stage = all[..last].iter().any(|i| i.keyword == "FROM");
    if !earlier_stage || all[last..].iter().any(|i| i.keyword == "RUN") {
        return None;
    }
    let ignored = std::fs::read_to_string(dir.join(".dockerignore"))
        .is_ok_and(|ignore| docker::dockerignore_lists(&ignore, "Dockerfile"));
    if !ignored {
        return None;
    }
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        hash = (hash ^ 0xff).wrapping_mul(0x0100_0000_01b3);
    };
    for (index, instruction) in all.iter().enumerate() {
        if index > last && CONFIG_ONLY.contains(&instruction.keyword.as_str()) {
            continue;
        }
        eat(instruction.keyword.as_bytes());
        eat(instruction.args.as_bytes());
    }
    fn walk(dir: &Path, at: &Path, out: &mut Vec<(std::path::PathBuf, Vec<u8>)>) -> Option<()> {
        for entry in std::fs::read_dir(at).ok()? {
            let entry = entry.ok()?;
            let path = entry.path();
            if entry.file_name() == "target" || entry.file_name() == ".git" {
                continue;
            }
            if entry.file_type().ok()?.is_dir() {
                walk(dir, &path, out)?;
            } else {
                let relative = path.strip_prefix(dir).ok()?.to_path_buf();
                if relative != Path::new("Dockerfile") {
                    out.push((relative, std::fs::read(&path).ok()?));
                }
            }
        }
        Some(())
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.sort();
    for (relative, bytes) in &files {
        eat(relative.to_string_lossy().as_bytes());
        eat(bytes);
    }
    Some(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_folder_gets_its_own_image() {
        let root = crate::paths::root();
        let id = "02-dockerfile";
        assert_eq!(
            image_tag(id, &root.join("solutions").join(id)),
            "microservices-lab/02-dockerfile:solutions"
        );
        assert_eq!(
            image_tag(id, &root.join("exercises").join(id)),
            "microservices-lab/02-dockerfile:exercises"
        );
        let copy = image_tag(id, Path::new("/tmp/copy/02-dockerfile"));
        assert!(copy.starts_with("microservices-lab/02-dockerfile:dir-"));
        assert_ne!(copy, image_tag(id, Path::new("/tmp/other/02-dockerfile")));
        assert_eq!(copy, image_tag(id, Path::new("/tmp/copy/02-dockerfile")));
    }

    #[test]
    fn an_early_exit_is_told_apart() {
        assert!(early_exit_reason(Some(0), "\n").contains("placeholder"));
        assert!(early_exit_reason(Some(0), "(no output)").contains("placeholder"));
        assert!(
            early_exit_reason(
                Some(1),
                "exec /usr/local/bin/health: no such file or directory"
            )
            .contains("CGO_ENABLED=0")
        );
        assert!(early_exit_reason(Some(101), "panicked").contains("0.0.0.0:8000"));
    }

    /// A broken copy that changes only the final stage's configuration
    /// builds what its base builds; any other change, or a Dockerfile the
    /// context holds, is not the same build.
    #[test]
    fn build_inputs_leave_out_only_the_final_stages_configuration() {
        let solution = crate::paths::root().join("solutions/03-multi-stage");
        let copy = crate::scratch::copy_in(&std::env::temp_dir(), &solution).unwrap();
        let dir = &copy.path;
        let base = build_inputs(dir).expect("the solution is a multi-stage build");
        let edit = |file: &str, from: &str, to: &str| {
            let path = dir.join(file);
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.contains(from), "{file}: {from}");
            std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
        };
        let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        let restore = || std::fs::write(dir.join("Dockerfile"), &dockerfile).unwrap();
        edit("Dockerfile", "\nUSER 65532:65532", "\nUSER 0");
        edit(
            "Dockerfile",
            "ENTRYPOINT [\"/usr/local/bin/health\"]",
            "ENTRYPOINT /usr/local/bin/health",
        );
        edit("Dockerfile", "\nEXPOSE 8000", "\n# a comment\nEXPOSE 8001");
        assert_eq!(build_inputs(dir), Some(base));
        restore();
        // The builder stage, or what the final stage copies from it.
        edit(
            "Dockerfile",
            "ENV CARGO_PROFILE_RELEASE_STRIP=symbols",
            "ENV X=1",
        );
        assert_ne!(build_inputs(dir), Some(base));
        restore();
        edit(
            "Dockerfile",
            "COPY --from=builder /app/target/release/health /usr/local/bin/health",
            "COPY --from=builder /app/target/release/health /health",
        );
        assert_ne!(build_inputs(dir), Some(base));
        restore();
        // Something the final stage runs, or a single stage.
        edit(
            "Dockerfile",
            "\nUSER 65532:65532",
            "\nRUN [\"/usr/local/bin/health\", \"--version\"]\nUSER 65532:65532",
        );
        assert_eq!(build_inputs(dir), None);
        restore();
        edit(
            "Dockerfile",
            "\nFROM gcr.io/distroless/cc-debian13:nonroot",
            "",
        );
        assert_eq!(build_inputs(dir), None);
        restore();
        // A source, and a Dockerfile the context holds.
        assert_eq!(build_inputs(dir), Some(base));
        edit("src/main.rs", "\n", "\n// edited\n");
        assert_ne!(build_inputs(dir), Some(base));
        std::fs::copy(solution.join("src/main.rs"), dir.join("src/main.rs")).unwrap();
        assert_eq!(build_inputs(dir), Some(base));
        std::fs::remove_file(dir.join(".dockerignore")).unwrap();
        assert_eq!(build_inputs(dir), None);
    }
}
