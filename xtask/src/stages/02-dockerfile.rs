//! Stage 02: a single-stage Dockerfile for the stage 01 server, checked by
//! building it with real Docker and talking to the container over a port
//! published on 127.0.0.1 only.

use crate::check::image::{self, ImageTag};
use crate::check::proof::{Base, Edit, Expect, Mutant, Proof, replace};
use crate::check::{Checker, Stage, Stop};
use crate::docker;
use crate::report::Failure;
use crate::tools::Tool;

pub const STAGE: Stage = Stage {
    id: "02-dockerfile",
    title: "A first Dockerfile",
    // Without Docker the Dockerfile is still checked; only the build and
    // the run are skipped (`image::ready_to_build`).
    needs: &[],
    optional: &[
        (Tool::Docker, "building and running the image"),
        (Tool::Hadolint, "the Dockerfile lint (hadolint)"),
    ],
    check,
    todos: &[],
    proof: Proof {
        starter: Expect {
            hint: "no instruction",
            ..Expect::failing(&["docker build"])
        },
        solution: Expect {
            passed: &[
                "Dockerfile",
                "pinned base",
                "exec form",
                "stretch: .dockerignore",
                "docker build",
                "image size",
                "start",
                "answers",
                "status",
                "body",
                "content-type",
                "docker stop",
                "SIGTERM",
            ],
            check: "image size",
            message: "MB",
            ..Expect::NOTHING
        },
        mutants: BROKEN,
    },
};

/// Broken copies the check must catch.
const BROKEN: &[Mutant] = &[
    Mutant {
        name: "the latest tag",
        base: Base::Solution,
        edits: &[replace(
            "Dockerfile",
            "FROM rust:1.95-slim-trixie",
            "FROM rust:latest",
        )],
        needs: &[],
        // Stops before building: nothing named `latest` is pulled.
        expect: Expect {
            skipped: &["docker build"],
            hint: "pin the tag",
            ..Expect::only(&["pinned base"])
        },
    },
    Mutant {
        name: "the stretch .dockerignore leaves the Dockerfile in the context",
        base: Base::Solution,
        // The base is unpinned too, so that nothing is built: the stretch
        // check reads the file, and a build would take minutes.
        edits: &[
            Edit::DropLines {
                file: ".dockerignore",
                starting: "Dockerfile",
            },
            replace(
                "Dockerfile",
                "FROM rust:1.95-slim-trixie",
                "FROM rust:latest",
            ),
        ],
        needs: &[],
        expect: Expect {
            check: "stretch: .dockerignore",
            seen: &["missing: Dockerfile"],
            ..Expect::only(&["stretch: .dockerignore", "pinned base"])
        },
    },
    Mutant {
        name: "a shell-form CMD",
        base: Base::Solution,
        edits: &[replace(
            "Dockerfile",
            r#"CMD ["/app/target/release/health"]"#,
            "CMD /app/target/release/health",
        )],
        needs: &[],
        expect: Expect::failing(&["exec form"]),
    },
];

fn check(ck: &mut Checker) -> Result<(), Stop> {
    let text = image::read_dockerfile(ck)?;
    image::hadolint(ck);
    let pinned = image::pinned_bases(ck, &text);
    image::exec_form(ck, &text);
    stretch_dockerignore(ck);
    image::ready_to_build(ck, pinned)?;
    let tag = ImageTag::for_folder(ck.stage.id, &ck.dir);
    image::build_image(ck, &tag.name)?;
    image::image_size(ck, &tag.name)?;
    image::run_and_stop(ck, &tag.name)
}

/// The stretch task, checked when present: a `.dockerignore` that keeps
/// `target/` out and lists the Dockerfile itself, so that editing the
/// Dockerfile does not change what `COPY . .` copies.
fn stretch_dockerignore(ck: &mut Checker) {
    let Ok(text) = std::fs::read_to_string(ck.dir.join(".dockerignore")) else {
        return;
    };
    let mut missing = Vec::new();
    if !docker::dockerignore_excludes_target(&text) {
        missing.push("target/");
    }
    if !docker::dockerignore_lists(&text, "Dockerfile") {
        missing.push("Dockerfile");
    }
    if missing.is_empty() {
        ck.pass(
            "stretch: .dockerignore",
            "keeps target/ and the Dockerfile out of the build context",
        );
    } else {
        ck.fail(
            "stretch: .dockerignore",
            format!(".dockerignore does not exclude {}", missing.join(" or ")),
            Failure::new("lines `target/` and `Dockerfile`", format!("missing: {}", missing.join(", ")))
                .hint("the optional .dockerignore (the stretch task in README.md): with `COPY . .`, whatever is in the context is an input of the copy; a comment added to the Dockerfile then reruns the whole build"),
        );
    }
}
