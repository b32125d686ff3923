//! Stage 03: a multi-stage Dockerfile: a small, non-root runtime image without
//! shell or toolchain, and a dependency layer that survives source changes.

use std::path::Path;

use crate::check::image::{self, ImageTag, StageHints, image_tag};
use crate::check::proof::{Base, Edit, Expect, Mutant, Proof, replace};
use crate::check::{Checker, Stage, Stop};
use crate::report::Failure;
use crate::tools::Tool;
use crate::{docker, scratch};

pub const STAGE: Stage = Stage {
    id: "03-multi-stage",
    title: "A multi-stage build",
    // Without Docker the Dockerfile is still checked; only the build and
    // the run are skipped (`image::ready_to_build`).
    needs: &[],
    optional: &[
        (Tool::Docker, "building and running the image"),
        (Tool::Hadolint, "the Dockerfile lint (hadolint)"),
    ],
    check,
    todos: &[1, 2, 3, 4, 5, 6],
    proof: Proof {
        // The starter is stage 02's working Dockerfile: it builds and answers.
        starter: Expect {
            passed: &["docker build", "status", "body", "SIGTERM"],
            ..Expect::failing(&[
                ".dockerignore",
                "stages",
                "USER",
                "small",
                "non-root",
                "no shell",
                "no cargo",
                "dependency cache",
            ])
        },
        solution: Expect {
            passed: &[
                ".dockerignore",
                "stages",
                "binary path",
                "USER",
                "docker build",
                "small",
                "non-root",
                "no shell",
                "no cargo",
                "status",
                "SIGTERM",
                "dependency cache",
            ],
            ..Expect::NOTHING
        },
        mutants: BROKEN,
    },
};

/// Broken copies the check must catch.
const BROKEN: &[Mutant] = &[
    Mutant {
        name: "running as root",
        base: Base::Solution,
        edits: &[replace("Dockerfile", "\nUSER 65532:65532", "\nUSER 0")],
        needs: &[],
        expect: Expect {
            seen: &["Dockerfile:{line:Dockerfile:USER 0}: USER 0"],
            message: "runs as root",
            ..Expect::only(&["USER", "non-root"])
        },
    },
    Mutant {
        name: "USER root: runs as root, not a name",
        base: Base::Solution,
        edits: &[replace("Dockerfile", "\nUSER 65532:65532", "\nUSER root")],
        needs: &[],
        expect: Expect {
            message: "runs as root",
            ..Expect::failing(&["USER"])
        },
    },
    Mutant {
        name: "hadolint's finding, with its line",
        base: Base::Solution,
        edits: &[replace("Dockerfile", "\nUSER 65532:65532", "\nUSER root")],
        needs: &[Tool::Hadolint],
        expect: Expect {
            seen: &["Dockerfile:{line:Dockerfile:USER root}: DL3002"],
            ..Expect::failing(&["hadolint"])
        },
    },
    Mutant {
        name: "a user name",
        base: Base::Solution,
        edits: &[replace("Dockerfile", "\nUSER 65532:65532", "\nUSER nonroot")],
        needs: &[],
        expect: Expect {
            message: "a name, not a number",
            ..Expect::only(&["USER", "non-root"])
        },
    },
    Mutant {
        name: "a single stage (no COPY --from)",
        base: Base::Solution,
        edits: &[
            replace(
                "Dockerfile",
                "\nFROM gcr.io/distroless/cc-debian13:nonroot",
                "",
            ),
            replace(
                "Dockerfile",
                "COPY --from=builder /app/target/release/health /usr/local/bin/health",
                "RUN cp /app/target/release/health /usr/local/bin/health",
            ),
        ],
        needs: &[],
        expect: Expect {
            seen: &["one stage"],
            ..Expect::failing(&["stages", "small", "no shell", "no cargo"])
        },
    },
    Mutant {
        name: "stage 02's CMD kept after COPY --from (TODO 4 followed literally)",
        base: Base::Solution,
        edits: &[replace(
            "Dockerfile",
            "\nENTRYPOINT [\"/usr/local/bin/health\"]",
            "\nCMD [\"/app/target/release/health\"]",
        )],
        needs: &[],
        // Static: proven without Docker too (the run then fails to start).
        expect: Expect {
            seen: &[
                "Dockerfile:{line:Dockerfile:CMD [}: CMD runs /app/target/release/health",
                "COPY --from puts /usr/local/bin/health",
            ],
            hint: "replace stage 02's CMD",
            ..Expect::failing(&["binary path"])
        },
    },
    Mutant {
        name: "the placeholder binary shipped (the service never rebuilt)",
        base: Base::Solution,
        edits: &[replace(
            "Dockerfile",
            "RUN touch src/main.rs src/lib.rs \\\n    && cargo build --release --locked",
            "RUN touch src/main.rs src/lib.rs",
        )],
        needs: &[],
        expect: Expect {
            seen: &["exit code 0"],
            hint: "placeholder",
            ..Expect::failing(&["answers"])
        },
    },
    Mutant {
        name: "a glibc binary on distroless/static (the Go habit)",
        base: Base::Solution,
        edits: &[replace(
            "Dockerfile",
            "\nFROM gcr.io/distroless/cc-debian13:nonroot",
            "\nFROM gcr.io/distroless/static-debian13:nonroot",
        )],
        needs: &[],
        expect: Expect {
            seen: &["no such file or directory"],
            hint: "CGO_ENABLED=0",
            ..Expect::failing(&["answers"])
        },
    },
    Mutant {
        name: "a shell-form ENTRYPOINT",
        base: Base::Solution,
        edits: &[replace(
            "Dockerfile",
            r#"ENTRYPOINT ["/usr/local/bin/health"]"#,
            "ENTRYPOINT /usr/local/bin/health",
        )],
        needs: &[],
        // Distroless has no /bin/sh to run the shell form with: the
        // container does not start (or stops at once).
        expect: Expect {
            any_failed: &["start", "answers"],
            ..Expect::failing(&["exec form"])
        },
    },
    Mutant {
        name: "no .dockerignore",
        base: Base::Solution,
        edits: &[Edit::Remove(".dockerignore")],
        needs: &[],
        expect: Expect::only(&[".dockerignore"]),
    },
    Mutant {
        name: "SIGTERM ignored",
        base: Base::Solution,
        edits: &[replace(
            "src/main.rs",
            ".with_graceful_shutdown(health::shutdown_signal())",
            "",
        )],
        needs: &[],
        expect: Expect::only(&["SIGTERM"]),
    },
    Mutant {
        name: "sources copied before the dependencies are built",
        base: Base::Solution,
        edits: &[replace(
            "Dockerfile",
            "COPY Cargo.toml Cargo.lock ./\nRUN mkdir src \\",
            "COPY . .\nRUN rm -r src && mkdir src \\",
        )],
        needs: &[],
        expect: Expect::only(&["dependency cache"]),
    },
];

/// Upper bound for the final image, uncompressed.
const MAX_SIZE: u64 = 40_000_000;
/// How much smaller than stage 02's image it must be.
const FACTOR: u64 = 10;
/// Shells a final image must not contain (their file names).
const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "zsh", "busybox"];
/// Toolchain programs a final image must not contain.
const TOOLCHAIN: &[&str] = &["cargo", "rustc", "rustup", "gcc", "cc", "ld"];

/// What the static checks of the final stage say to do (this stage's TODOs).
const HINTS: StageHints = StageHints {
    multi_stage: "name the first stage (`AS builder`, TODO 1) and add a second FROM gcr.io/distroless/cc-debian13:nonroot that copies only the binary with COPY --from=builder (TODO 4)",
    binary_path: "ENTRYPOINT must run the file COPY --from put in this stage: replace stage 02's CMD with ENTRYPOINT [\"<the COPY's destination>\"] (TODO 4)",
    user: "add `USER 65532:65532` to the final stage: a number other than 0, so Kubernetes' runAsNonRoot can verify it (TODO 5)",
};

fn check(ck: &mut Checker) -> Result<(), Stop> {
    let text = image::read_dockerfile(ck)?;
    image::hadolint(ck);
    let pinned = image::pinned_bases(ck, &text);
    image::exec_form(ck, &text);
    dockerignore(ck);
    image::multi_stage(ck, &text, &HINTS);
    image::binary_path(ck, &text, &HINTS);
    image::user(ck, &text, &HINTS);
    image::ready_to_build(ck, pinned)?;
    let tag = ImageTag::for_folder(ck.stage.id, &ck.dir);
    image::build_image(ck, &tag.name)?;
    let size = image::image_size(ck, &tag.name)?;
    small(ck, size, &text);
    non_root(ck, &tag.name);
    files(ck, &tag.name);
    image::run_and_stop(ck, &tag.name)?;
    stretch_static(ck, &text, size);
    // In the self-test, a broken copy that changed only the final stage's
    // configuration reuses its base's rebuild (`image::reusable`).
    image::reusable(ck, "dependency cache", dependency_cache);
    Ok(())
}

/// The stretch task, checked when present: a static binary on
/// distroless/static (or scratch), which only starts when the binary needs
/// no C library (it has just answered).
fn stretch_static(ck: &mut Checker, text: &str, size: u64) {
    let Some(last) = docker::build_stages(text).pop() else {
        return;
    };
    if docker::has_no_libc(&last.from.image) {
        ck.pass(
            "stretch: static",
            format!(
                "a static binary on {} ({})",
                last.from.image,
                docker::megabytes(size)
            ),
        );
    }
}

fn dockerignore(ck: &mut Checker) {
    let path = ck.dir.join(".dockerignore");
    let hint = "add a .dockerignore next to the Dockerfile with the line `target/`: the build context then stays small and a local build never leaks into the image (TODO 6)";
    match std::fs::read_to_string(&path) {
        Ok(text) if docker::dockerignore_excludes_target(&text) => {
            ck.pass(".dockerignore", "keeps target/ out of the build context")
        }
        Ok(_) => ck.fail(
            ".dockerignore",
            ".dockerignore does not exclude target/",
            Failure::new(
                "a line `target/` (or `/target`)",
                "no pattern matching target",
            )
            .hint(hint),
        ),
        Err(_) => ck.fail(
            ".dockerignore",
            "there is no .dockerignore",
            Failure::new("a .dockerignore excluding target/", "no such file").hint(hint),
        ),
    }
}

/// Under 40 MB and at least 10x smaller than stage 02's image (or, when that
/// was never built here, than the builder's base image, which it contains).
fn small(ck: &mut Checker, size: u64, text: &str) {
    // Stage 02's image from the folder next to this one (a trainee's copy of
    // both), else the kit's own.
    let root = crate::paths::root();
    let id = "02-dockerfile";
    let candidates = [
        ck.dir.parent().map(|p| p.join(id)),
        Some(root.join("solutions").join(id)),
        Some(root.join("exercises").join(id)),
    ];
    let single = candidates
        .into_iter()
        .flatten()
        .map(|dir| image_tag(id, &dir))
        .find_map(|tag| docker::image_size(&tag).ok().map(|bytes| (bytes, tag)));
    let (reference, what) = match single {
        Some((bytes, tag)) => (Some(bytes), format!("stage 02's image {tag}")),
        None => {
            let base = docker::base_images(text).into_iter().next();
            match base.and_then(|b| docker::image_size(&b.image).ok().map(|s| (s, b.image))) {
                Some((bytes, image)) => (
                    Some(bytes),
                    format!("the builder image {image} (stage 02's image contains it)"),
                ),
                None => (None, String::new()),
            }
        }
    };
    let mut problems = Vec::new();
    if size >= MAX_SIZE {
        problems.push(format!(
            "{} is not under {}",
            docker::megabytes(size),
            docker::megabytes(MAX_SIZE)
        ));
    }
    if let Some(reference) = reference
        && size.saturating_mul(FACTOR) > reference
    {
        problems.push(format!(
            "{} is not {FACTOR}x smaller than {what} ({})",
            docker::megabytes(size),
            docker::megabytes(reference)
        ));
    }
    if problems.is_empty() {
        let ratio = reference.map_or(String::new(), |r| {
            format!(", {:.0}x smaller than {what}", r as f64 / size as f64)
        });
        ck.pass("small", format!("{}{ratio}", docker::megabytes(size)));
    } else {
        ck.fail(
            "small",
            "the image is too big",
            Failure::new(
                format!(
                    "under {} and {FACTOR}x smaller than stage 02's",
                    docker::megabytes(MAX_SIZE)
                ),
                problems.join("; "),
            )
            .hint("copy only the binary into a second stage FROM gcr.io/distroless/cc-debian13:nonroot (TODO 4)"),
        );
    }
}

fn non_root(ck: &mut Checker, tag: &str) {
    let hint = "add `USER 65532:65532` to the final stage: a number, so Kubernetes' runAsNonRoot can verify it (TODO 5)";
    match docker::image_user(tag) {
        Ok(user) => {
            let uid = user.split(':').next().unwrap_or("");
            match uid.parse::<u32>() {
                Ok(0) => ck.fail(
                    "non-root",
                    "the image runs as root",
                    Failure::new("a numeric user other than 0", format!("User {user:?}"))
                        .hint(hint),
                ),
                Ok(_) => ck.pass("non-root", format!("User {user}")),
                Err(_) if uid == "root" => ck.fail(
                    "non-root",
                    "the image runs as root",
                    Failure::new("a numeric user other than 0", format!("User {user:?}"))
                        .hint(hint),
                ),
                Err(_) if uid.is_empty() => ck.fail(
                    "non-root",
                    "the image runs as root (no USER)",
                    Failure::new("a numeric user other than 0", "no User: root").hint(hint),
                ),
                Err(_) => ck.fail(
                    "non-root",
                    "the user is a name, not a number",
                    Failure::new("a numeric user, like 65532", format!("User {user:?}")).hint(hint),
                ),
            }
        }
        Err(e) => ck.fail(
            "non-root",
            "the image config could not be read",
            Failure::new("docker image inspect to work", e),
        ),
    }
}

/// No shell and no toolchain in the final image's file system.
fn files(ck: &mut Checker, tag: &str) {
    let listing = match docker::image_files(tag) {
        Ok(listing) => listing,
        Err(e) => {
            let failure = Failure::new("docker export to list the image's files", e);
            ck.fail("no shell", "the image's files could not be listed", failure);
            return;
        }
    };
    let named = |names: &[&str]| -> Vec<String> {
        listing
            .iter()
            .filter(|path| {
                let file = path.rsplit('/').next().unwrap_or(path);
                (path.contains("bin/") && names.contains(&file)) || file == names[0]
            })
            .take(5)
            .map(|p| format!("/{p}"))
            .collect()
    };
    let hint = "the final stage must start FROM a runtime image (distroless) and copy only the binary from the builder (TODO 4)";
    let shells = named(SHELLS);
    if shells.is_empty() {
        ck.pass("no shell", format!("{} files, no shell", listing.len()));
    } else {
        ck.fail(
            "no shell",
            "the image contains a shell",
            Failure::new(
                "no shell: nothing for an intruder to run",
                shells.join(", "),
            )
            .hint(hint),
        );
    }
    let tools = named(TOOLCHAIN);
    if tools.is_empty() {
        ck.pass("no cargo", "no Rust toolchain, no compiler");
    } else {
        ck.fail(
            "no cargo",
            "the image contains the toolchain",
            Failure::new("no cargo, rustc or compiler", tools.join(", ")).hint(hint),
        );
    }
}

/// After a source-only change, the rebuild compiles the service and no
/// dependency: decided from cargo's `Compiling` lines in the BuildKit log.
fn dependency_cache(ck: &mut Checker) {
    let own = package_name(&ck.dir).unwrap_or_else(|| "health".into());
    // A fully cached rebuild (no `Compiling` line at all) after a unique
    // change was seen twice in long test runs and never reproduced alone: try
    // once more with a new change before calling it a failure. A Dockerfile
    // whose source changes never reach cargo fails both attempts.
    let Some(mut build) = rebuild_after_change(ck, &own) else {
        return;
    };
    if build.compiled_crates().is_empty() {
        let Some(again) = rebuild_after_change(ck, &own) else {
            return;
        };
        build = again;
    }
    let compiled = build.compiled_crates();
    let deps: Vec<String> = compiled
        .iter()
        .filter(|(name, _)| *name != own)
        .map(|(name, version)| format!("{name} v{version}"))
        .collect();
    let hint = "copy Cargo.toml and Cargo.lock first and build the dependencies in their own layer, before `COPY src` (TODO 2)";
    if !deps.is_empty() {
        let shown: Vec<&str> = deps.iter().take(8).map(String::as_str).collect();
        ck.fail(
            "dependency cache",
            "a source-only change recompiles the dependencies",
            Failure::new(
                format!("only {own} compiled again"),
                format!(
                    "compiled: {}{}",
                    shown.join(", "),
                    if deps.len() > 8 { ", …" } else { "" }
                ),
            )
            .hint(hint),
        );
    } else if !compiled.iter().any(|(name, _)| *name == own) {
        ck.fail(
            "dependency cache",
            "the rebuild did not compile the changed source",
            Failure::new(
                format!("{own} compiled again after src/main.rs changed"),
                format!(
                    "no `Compiling` line in the rebuild's log (twice); its end:\n{}",
                    crate::proc::tail(&build.log, 12)
                ),
            )
            .hint("the source change must reach cargo: COPY src after the dependency layer, and touch the sources so cargo does not trust the placeholder build (TODO 3)"),
        );
    } else {
        ck.pass(
            "dependency cache",
            format!(
                "the rebuild compiled only {own} ({:.0} s); the dependency layer came from the cache",
                build.took.as_secs_f64()
            ),
        );
    }
}

/// Builds a copy of the stage with a unique source-only change; `None` when
/// that could not be done (the failure is already recorded).
fn rebuild_after_change(ck: &mut Checker, own: &str) -> Option<docker::Build> {
    let copy = match scratch::copy_with_source_change(&ck.dir, "the dependency cache check") {
        Ok(copy) => copy,
        Err(e) => {
            let failure = Failure::new("a copy of the stage folder", e.to_string());
            ck.fail(
                "dependency cache",
                "the stage folder could not be copied",
                failure,
            );
            return None;
        }
    };
    let tag = format!("microservices-lab/{}:rebuild", ck.stage.id);
    ck.note("rebuilding after a source-only change (src/main.rs)");
    // Stop at the first dependency compiled again: that already decides.
    let recompiles_a_dependency = |line: &str| {
        docker::compiled_crates(line)
            .iter()
            .any(|(name, _)| *name != own)
    };
    let build = docker::build_until(
        &copy.path,
        &tag,
        image::BUILD_LIMIT,
        &recompiles_a_dependency,
    );
    docker::remove_image(&tag);
    match build {
        Ok(build) if build.success || build.stopped_early => Some(build),
        Ok(build) => {
            let (tail, _) = docker::explain_failed_build(&build);
            let failure = Failure::new("the rebuild to succeed", tail);
            ck.fail("dependency cache", "the rebuild failed", failure);
            None
        }
        Err(e) => {
            let failure = Failure::new("docker build to run", e.to_string());
            ck.fail("dependency cache", "the rebuild could not run", failure);
            None
        }
    }
}

fn package_name(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("name = "))
        .map(|v| v.trim().trim_matches('"').to_string())
}
