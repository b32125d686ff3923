//! Stage 07: handler unit tests with a mock. The trainee's tests must pass,
//! and must fail against each deliberately broken copy of the handlers (as
//! expectation-based grading does): a test suite that cannot tell a broken
//! handler from a working one proves nothing.

use std::path::Path;

use crate::check::build::{failed_tests, run_tests, summary};
use crate::check::proof::{Base, Edit, Expect, Mutant, Proof};
use crate::check::{Checker, Stage, Stop};
use crate::report::Failure;
use crate::tools::Tool;

pub const STAGE: Stage = Stage {
    id: "07-mocks",
    title: "Testing handlers with mocks",
    needs: &[Tool::Cargo],
    optional: &[],
    check,
    todos: &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    proof: Proof {
        starter: Expect::only(&["cargo test"]),
        solution: Expect {
            at_least: ("catches: ", 10),
            ..Expect::NOTHING
        },
        mutants: BROKEN,
    },
};

/// Broken copies the check must catch.
const BROKEN: &[Mutant] = &[
    // Tests that pass whatever the handlers do: `cargo test` passes, every
    // mutant of the handlers survives.
    Mutant {
        name: "tests that assert nothing",
        base: Base::Starter,
        edits: &[Edit::DropLines {
            file: "src/handler_tests.rs",
            starting: "todo!(",
        }],
        needs: &[],
        expect: Expect {
            only: true,
            at_least: ("catches: ", 10),
            ..Expect::NOTHING
        },
    },
];

// ANCHOR: mutants
/// Broken variants of the reference `src/handlers.rs`: (name, the text to
/// find, what to put instead). Each names a bug a good test suite catches.
pub const MUTANTS: &[(&str, &str, &str)] = &[
    (
        "unknown book answers 500, not 404",
        r#"store
        .get_book(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("#,
        r#"store
        .get_book(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::Internal("#,
    ),
    (
        "a store outage answers 500, not 503",
        "store\n        .get_book(id)\n        .await?",
        "store\n        .get_book(id)\n        .await\n        .map_err(|e| ApiError::Internal(e.to_string()))?",
    ),
    (
        "a store failure leaks its message to the client",
        "store\n        .get_book(id)\n        .await?",
        "store\n        .get_book(id)\n        .await\n        .map_err(|e| ApiError::BadRequest(e.to_string()))?",
    ),
    (
        "create_book answers 200, not 201",
        "StatusCode::CREATED,\n        [(header::LOCATION, location)],",
        "StatusCode::OK,\n        [(header::LOCATION, location)],",
    ),
    (
        "create_book passes the untrimmed input to the store",
        "let book = store.create_book(input.validate()?).await?;",
        "let raw = crate::models::NewBook { title: input.title.clone().unwrap_or_default(), author: input.author.clone().unwrap_or_default(), isbn: input.isbn.clone(), published_year: input.published_year.map(|y| y as i32) };\n    input.validate()?;\n    let book = store.create_book(raw).await?;",
    ),
    (
        "a duplicate ISBN answers 500, not 409",
        "let book = store.create_book(input.validate()?).await?;",
        "let book = store.create_book(input.validate()?).await.map_err(|e| ApiError::Internal(e.to_string()))?;",
    ),
    (
        "invalid reviews reach the store",
        "let review = input.validate()?;",
        "let review = crate::models::NewReview { rating: input.rating.unwrap_or(0) as i16, comment: input.comment.clone().unwrap_or_default().trim().to_string() };\n    let _ = input.validate();",
    ),
    (
        "create_review stores the review under the wrong book",
        ".create_review(book_id, review)",
        ".create_review(book_id + 1, review)",
    ),
    (
        "create_review drops the comment",
        ".create_review(book_id, review)",
        ".create_review(book_id, crate::models::NewReview { comment: String::new(), ..review })",
    ),
    (
        "a review of an unknown book answers 201",
        r#".map(|review| (StatusCode::CREATED, Json(review)))
        .ok_or_else(|| ApiError::NotFound(format!("there is no book with id {book_id}")))"#,
        r#".map(|review| (StatusCode::CREATED, Json(review)))
        .ok_or_else(|| ApiError::NotFound(format!("there is no book with id {book_id}")))
        .or_else(|_| Ok((StatusCode::CREATED, Json(crate::models::Review { id: 0, book_id, rating: 1, comment: String::new(), created_at: chrono::Utc::now() }))))"#,
    ),
    (
        "list_reviews ignores the paging of the query",
        ".get_reviews(book_id, query.paging()?)",
        ".get_reviews(book_id, crate::models::PageQuery::default().paging()?)",
    ),
    (
        "list_reviews lets any limit through",
        ".get_reviews(book_id, query.paging()?)",
        ".get_reviews(book_id, crate::models::Paging { limit: query.limit.unwrap_or(20), offset: query.offset.unwrap_or(0) })",
    ),
];
// ANCHOR_END: mutants

fn check(ck: &mut Checker) -> Result<(), Stop> {
    let reference = crate::paths::root().join("solutions/07-mocks/src/handlers.rs");
    let handlers = std::fs::read_to_string(&reference).map_err(|e| {
        ck.stop(
            "mutants",
            "the reference handlers are missing",
            Failure::new(crate::paths::show(&reference), e.to_string()),
        )
    })?;
    let out = run_tests(&ck.dir, &[]);
    let result = match out {
        Ok((true, stdout, _)) => Ok(summary(&stdout)),
        Ok((false, stdout, stderr)) => Err(Failure::new(
            "`cargo test` to pass",
            failed_tests(&stdout, &stderr),
        )
        .hint("write the tests of src/handler_tests.rs (TODO 1 to 11); each todo!() fails")),
        Err(e) => Err(Failure::new("cargo to run", e)),
    };
    ck.require("cargo test", result, Clone::clone)?;

    for (name, from, to) in MUTANTS {
        let check = format!("catches: {name}");
        let Some(mutant) = mutate(&handlers, from, to) else {
            ck.fail(
                &check,
                "the mutation no longer applies to the reference handlers",
                Failure::new(
                    "the text to replace in solutions/07-mocks/src/handlers.rs",
                    *from,
                )
                .hint("update MUTANTS in xtask/src/stages/07-mocks.rs"),
            );
            continue;
        };
        match run_mutant(&ck.dir, &mutant) {
            Ok(false) => ck.pass(&check, "at least one test fails"),
            Ok(true) => ck.fail(
                &check,
                "every test still passes",
                Failure::new("at least one failing test", "all tests pass")
                    .hint("assert the status and body, and tell the mock which arguments and how many calls to expect"),
            ),
            Err(e) => ck.fail(&check, "could not run", Failure::new("cargo test to run", e)),
        }
    }
    Ok(())
}

/// `from` replaced by `to`, once; `None` when `from` does not occur.
pub fn mutate(source: &str, from: &str, to: &str) -> Option<String> {
    source.contains(from).then(|| source.replacen(from, to, 1))
}

/// Copies the stage (without build output) to a temporary folder, puts the
/// mutant in place of `src/handlers.rs`, and runs the tests there. A mutant
/// that does not compile is an error in MUTANTS, not a caught bug.
fn run_mutant(dir: &Path, handlers: &str) -> Result<bool, String> {
    let scratch = crate::scratch::copy_in(&std::env::temp_dir(), dir).map_err(|e| e.to_string())?;
    let copy = scratch.path.as_path();
    std::fs::write(copy.join("src/handlers.rs"), handlers).map_err(|e| e.to_string())?;
    // The handler tests live in the library (they need the mock, which only
    // exists under cfg(test)): `--lib` skips building the binary's tests.
    let (passed, stdout, stderr) = run_tests(copy, &["--lib"])?;
    if !passed && !stdout.contains("test result:") {
        return Err(format!(
            "the mutant does not compile:\n{}",
            crate::proc::tail(&stderr, 15)
        ));
    }
    Ok(passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each mutant must still apply to the reference handlers (they are
    /// edited by hand, and `cargo fmt` may reflow the text a mutant looks for).
    #[test]
    fn every_mutant_applies_to_the_reference_handlers() {
        let path = crate::paths::root().join("solutions/07-mocks/src/handlers.rs");
        let handlers = std::fs::read_to_string(path).unwrap();
        for (name, from, to) in MUTANTS {
            let mutant = mutate(&handlers, from, to);
            assert!(
                mutant.is_some_and(|m| m != handlers),
                "mutant {name:?} does not apply"
            );
        }
    }
}
