//! Stage 02: a single-stage Dockerfile for the stage 01 server, checked by
//! building it with real Docker and talking to the container over a port
//! published on 127.0.0.1 only.

use crate::check::image::{self, image_tag};
use crate::check::proof::{Base, Expect, Mutant, Proof, replace};
use crate::check::{Checker, Stage, Stop};
use crate::tools::Tool;

pub const STAGE: Stage = Stage {
    id: "02-dockerfile",
    title: "A first Dockerfile",
    needs: &[Tool::Docker],
    optional: &[(Tool::Hadolint, "the Dockerfile lint (hadolint)")],
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
        expect: Expect::failing(&["pinned base"]),
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
    image::pinned_bases(ck, &text);
    image::exec_form(ck, &text);
    let tag = image_tag(ck.stage.id);
    image::build_image(ck, &tag)?;
    image::image_size(ck, &tag)?;
    image::run_and_stop(ck, &tag)
}
