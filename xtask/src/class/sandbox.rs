//! Each trainee's `verify` in a container: no network, the clone mounted
//! read-only, CPU, memory, process and time limits, no capabilities, a
//! read-only root file system, and a scratch folder of its own for the
//! build (`target/class/sandbox/<trainee>/`, kept between runs so a
//! regrade rebuilds only what changed). The image is the Rust image the
//! course's Dockerfiles name (`rust:1.95-slim-trixie`, or its local
//! stand-in from `cargo xtask docker standins`); the kit's own xtask binary
//! is mounted in, and the kit itself (read-only, its `target/` hidden, so
//! one trainee's code cannot read another's results).
//!
//! Crates come from the instructor's cargo registry, mounted read-only
//! (the container has no network). A new scratch folder starts as a copy
//! of a warm one, built once from the kit's solutions in the same
//! container setup, so the dependencies are compiled once per class, not
//! once per trainee.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use super::{GradeOptions, Outcome, run_limited};
use crate::check::Stage;
use crate::paths;

/// The image the stage Dockerfiles build with (and `standins.rs` makes).
pub const IMAGE: &str = "rust:1.95-slim-trixie";

/// Where things are inside the container.
const XTASK: &str = "/usr/local/bin/lab-xtask";
pub const TRAINEE: &str = "/class/trainee";
const SCRATCH: &str = "/scratch";

/// The least time the one-off warm-up build gets (see `Sandbox::warm`).
const WARM_LIMIT: Duration = Duration::from_secs(1800);

pub struct Sandbox {
    image: String,
    cpus: f64,
    memory: String,
    exe: PathBuf,
    registry: PathBuf,
    base: PathBuf,
    /// The warm scratch folder for the graded stages.
    warm: PathBuf,
}

/// `4g`, `512m`, `2048M` as whole gigabytes (at least 1).
pub fn gigabytes(size: &str) -> Option<u64> {
    let size = size.trim().to_ascii_lowercase();
    let (number, unit) = size.split_at(size.find(|c: char| !c.is_ascii_digit())?);
    let number: u64 = number.parse().ok()?;
    match unit.trim_end_matches('b') {
        "g" => Some(number),
        "m" => Some((number / 1024).max(1)),
        _ => None,
    }
}

fn docker_works() -> Result<(), String> {
    let out = duct::cmd!("docker", "version", "--format", "{{.Server.Version}}")
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| format!("the docker command could not run ({e})"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(crate::proc::tail(&String::from_utf8_lossy(&out.stderr), 2).replace('\n', " "))
    }
}

impl Sandbox {
    /// Checks that Docker and the image are there; refuses otherwise, saying
    /// how to fix it (or to pass --unsandboxed).
    pub fn prepare(options: &GradeOptions, stages: &[&Stage]) -> anyhow::Result<Sandbox> {
        if let Err(why) = docker_works() {
            bail!(
                "Docker is not usable here ({why}), and without it the trainees' code (build scripts, tests, servers) would run unsandboxed on this machine. Start Docker and run this again, or pass --unsandboxed if you trust every trainee's code"
            );
        }
        let image = std::env::var("LAB_CLASS_IMAGE").unwrap_or_else(|_| IMAGE.to_string());
        if !crate::docker::image_exists(&image) {
            bail!(
                "the image {image} is not on this machine: `docker pull {image}`, or `cargo xtask docker standins` where nothing can be pulled"
            );
        }
        anyhow::ensure!(
            gigabytes(&options.memory).is_some(),
            "--memory {}: give a size like 4g or 2048m",
            options.memory
        );
        let exe = std::env::current_exe().context("where the xtask binary is")?;
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
            .context("neither CARGO_HOME nor HOME is set: where is cargo's registry?")?;
        let registry = cargo_home.join("registry");
        anyhow::ensure!(
            registry.is_dir(),
            "{}: no cargo registry; the containers have no network and take the crates from it: run `cargo xtask verify --solutions` once (or `cargo fetch` in each stage folder) first",
            registry.display()
        );
        Ok(Sandbox {
            image,
            cpus: options.cpus,
            memory: options.memory.clone(),
            exe,
            registry,
            base: paths::target_dir().join("class/sandbox"),
            warm: paths::target_dir().join(format!(
                "class/sandbox/warm-{}",
                stages
                    .iter()
                    .map(|s| s.number())
                    .collect::<Vec<_>>()
                    .join("-")
            )),
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "docker, image {}, no network, {} CPU(s), {} memory, clone read-only",
            self.image, self.cpus, self.memory
        )
    }

    /// What a cached row depends on in this mode.
    pub fn key(&self) -> String {
        format!("docker {} {} {}", self.image, self.cpus, self.memory)
    }

    /// `docker run ...` up to the image, for a container named `name` with
    /// `scratch` as its build folder and `mounts` added.
    fn docker_args(&self, name: &str, scratch: &Path, mounts: &[String]) -> Vec<String> {
        let root = paths::root();
        let root = root.display();
        let mut args: Vec<String> = vec![
            "run".into(),
            "--rm".into(),
            "--name".into(),
            name.into(),
            "--label".into(),
            format!("dev.microservices-lab.class={}", std::process::id()),
            "--network".into(),
            "none".into(),
            "--cpus".into(),
            self.cpus.to_string(),
            "--memory".into(),
            self.memory.clone(),
            "--memory-swap".into(),
            self.memory.clone(),
            "--pids-limit".into(),
            "4096".into(),
            "--cap-drop".into(),
            "ALL".into(),
            "--security-opt".into(),
            "no-new-privileges".into(),
            "--read-only".into(),
            "--tmpfs".into(),
            "/tmp:rw,exec,size=1g".into(),
            // The kit at its own path (the xtask finds it there), read-only,
            // with its target folder (other trainees' results) hidden.
            "--volume".into(),
            format!("{root}:{root}:ro"),
            "--mount".into(),
            format!("type=tmpfs,destination={root}/target"),
            "--volume".into(),
            format!("{}:{XTASK}:ro", self.exe.display()),
            "--volume".into(),
            format!("{}:{SCRATCH}", scratch.display()),
            "--volume".into(),
            format!("{}:{SCRATCH}/cargo/registry:ro", self.registry.display()),
            "--env".into(),
            format!("CARGO_HOME={SCRATCH}/cargo"),
            "--env".into(),
            format!("CARGO_TARGET_DIR={SCRATCH}/target"),
            "--env".into(),
            "CARGO_NET_OFFLINE=true".into(),
            "--env".into(),
            "HOME=/tmp".into(),
        ];
        #[cfg(unix)]
        if let Ok(meta) = std::fs::metadata(scratch) {
            // Files in the scratch folder belong to whoever made it (the
            // instructor), not to root. (Its owner, rather than a getuid
            // that would need another nix feature.)
            use std::os::unix::fs::MetadataExt;
            args.push("--user".into());
            args.push(format!("{}:{}", meta.uid(), meta.gid()));
        }
        args.extend(mounts.iter().cloned());
        args.push(self.image.clone());
        args
    }

    fn run(
        &self,
        name: &str,
        scratch: &Path,
        mounts: &[String],
        verify: &[String],
        limit: Duration,
    ) -> Outcome {
        if let Err(e) = std::fs::create_dir_all(scratch.join("cargo/registry")) {
            return Outcome {
                exit_code: None,
                stdout: String::new(),
                stderr: format!("creating {}: {e}", scratch.display()),
                timed_out: false,
            };
        }
        let mut args = self.docker_args(name, scratch, mounts);
        args.push(XTASK.into());
        args.extend(verify.iter().cloned());
        // Ctrl-C of the grader removes the container too.
        let _cleanup = crate::proc::register(crate::proc::Cleanup::Command(vec![
            "docker".into(),
            "rm".into(),
            "--force".into(),
            name.into(),
        ]));
        run_limited(duct::cmd("docker", &args), limit, |_| {
            let _ = duct::cmd!("docker", "rm", "--force", name)
                .stdout_null()
                .stderr_null()
                .unchecked()
                .run();
        })
    }

    /// Builds the solutions of `stages` once in the container setup, so new
    /// trainees' scratch folders start with the dependencies compiled.
    /// The per-trainee `timeout` (seconds) bounds the warm-up only when it is
    /// longer than `WARM_LIMIT`: the warm-up compiles every dependency once,
    /// which takes far longer than grading one trainee on top of it.
    pub fn warm(&self, stages: &[&Stage], timeout: u64) -> anyhow::Result<()> {
        let warm = &self.warm;
        if warm.join(".warm").is_file() {
            return Ok(());
        }
        crate::report::progress_line(&format!(
            "compiling the stages' dependencies once in the sandbox (from the kit's solutions, into {}); later runs reuse them",
            paths::show(warm)
        ));
        let mut verify: Vec<String> = vec![
            "verify".into(),
            "--json".into(),
            "--keep-going".into(),
            "--solutions".into(),
        ];
        verify.extend(stages.iter().map(|s| s.id.to_string()));
        let name = format!("lab-class-{}-warm", std::process::id());
        let limit = Duration::from_secs(timeout).max(WARM_LIMIT);
        let outcome = self.run(&name, warm, &[], &verify, limit);
        let built = warm.join("target").is_dir();
        if outcome.timed_out {
            bail!(
                "compiling the solutions in the sandbox took longer than {} s and was stopped; its output ends with:\n{}\nrun it again with a longer `--timeout` on a slow machine",
                limit.as_secs(),
                crate::proc::tail(&outcome.stderr, 15),
            );
        }
        if !built {
            bail!(
                "compiling the solutions in the sandbox failed (exit code {:?}); its output ends with:\n{}\nfix that (is every crate in {}? `cargo xtask verify --solutions` fetches them), then run this again",
                outcome.exit_code,
                crate::proc::tail(&outcome.stderr, 15),
                self.registry.display()
            );
        }
        std::fs::write(warm.join(".warm"), "built from the solutions\n")?;
        Ok(())
    }

    /// `verify` of one trainee's clone in a container.
    pub fn verify(
        &self,
        trainee: &str,
        clone: &Path,
        exercises: &Path,
        stages: &[String],
        limit: Duration,
    ) -> Outcome {
        let safe: String = trainee
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let scratch = self.base.join("trainees").join(format!(
            "{safe}-{}",
            &super::fnv(&clone.display().to_string())[..8]
        ));
        if !scratch.is_dir() {
            let warm = &self.warm;
            if let Some(parent) = scratch.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            // A real copy: a hard link would let one trainee's build write
            // into another's files.
            if warm.join(".warm").is_file() {
                let _ = duct::cmd!("cp", "-a", "--reflink=auto", warm, &scratch)
                    .stdout_null()
                    .stderr_null()
                    .unchecked()
                    .run();
            }
        }
        let inside = match exercises.strip_prefix(clone) {
            Ok(rel) => Path::new(TRAINEE).join(rel),
            Err(_) => PathBuf::from(TRAINEE),
        };
        let mounts = vec![
            "--volume".into(),
            format!("{}:{TRAINEE}:ro", clone.display()),
            "--workdir".into(),
            TRAINEE.into(),
        ];
        let mut verify: Vec<String> = vec![
            "verify".into(),
            "--json".into(),
            "--keep-going".into(),
            "--dir".into(),
            inside.display().to_string(),
        ];
        verify.extend(stages.iter().cloned());
        let name = format!("lab-class-{}-{safe}", std::process::id());
        self.run(&name, &scratch, &mounts, &verify, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::gigabytes;

    #[test]
    fn memory_sizes_read_as_docker_reads_them() {
        assert_eq!(gigabytes("4g"), Some(4));
        assert_eq!(gigabytes("2048m"), Some(2));
        assert_eq!(gigabytes("512M"), Some(1));
        assert_eq!(gigabytes("8GB"), Some(8));
        assert_eq!(gigabytes("lots"), None);
    }
}
