//! Steps on a Dockerfile and its image: read and lint the Dockerfile,
//! build the image with real Docker, run it with a port published on
//! 127.0.0.1 only, and stop it.

use std::path::Path;
use std::time::Duration;

use super::{Checker, Stop};
use crate::docker::{self, Build, Container};
use crate::report::Failure;
use crate::tools::Tool;

/// The tag the check of stage `id` gives the image it builds.
pub fn image_tag(id: &str) -> String {
    format!("microservices-lab/{id}:check")
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

/// Every base image names a version.
pub fn pinned_bases(ck: &mut Checker, text: &str) {
    let loose: Vec<String> = docker::base_images(text)
        .into_iter()
        .filter(|from| !docker::is_pinned(&from.image))
        .map(|from| format!("Dockerfile:{}: FROM {}", from.line, from.image))
        .collect();
    if loose.is_empty() {
        ck.pass("pinned base", "every FROM names a version");
    } else {
        ck.fail(
            "pinned base",
            "a base image is not pinned",
            Failure::new(
                "FROM image:version (not `latest`, not bare)",
                loose.join("\n"),
            )
            .hint("`latest` changes under you: pin the version, like rust:1.95-slim-trixie"),
        );
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
        Failure::new("the container to start", e)
            .hint("docker run failed before the program started; see the message")
    });
    let container = ck.require("start", container, |c| {
        format!("container {} on 127.0.0.1:{}", c.short_id(), c.port)
    })?;
    let url = container.url("/");
    let waited = container
        .wait_until_answers(&url, Duration::from_secs(30))
        .map_err(|f| {
            f.hint("the server must listen on 0.0.0.0:8000 inside the container (PORT's default); the output above shows what it said")
        });
    ck.require("answers", waited, |waited| {
        format!("answers on {url} after {} ms", waited.as_millis())
    })?;
    super::service::expect_health(ck, &url, &super::service::HealthHints::IN_IMAGE)?;
    docker_stop(ck, &container)
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
