//! Stage 07: handler unit tests with a mock. The trainee's tests must pass,
//! and must fail against each deliberately broken copy of the handlers (as
//! expectation-based grading does): a test suite that cannot tell a broken
//! handler from a working one proves nothing.

use std::path::Path;

use crate::check::build::{failed_tests, run_tests, summary};
use crate::check::proof::{Base, Edit, Expect, Mutant, Proof, replace};
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
            at_least: ("catches: ", 13),
            passed: &["stretch: invalid books reach the store"],
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
            at_least: ("catches: ", 13),
            skipped: &["stretch: invalid books reach the store"],
            ..Expect::NOTHING
        },
    },
    // One TODO's test that asserts nothing is caught by its own mutant,
    // even though other tests fail with that mutant too; and a stretch test
    // that is present is graded like the others. (One broken copy for both:
    // each copy costs a build per mutant of the handlers.)
    Mutant {
        name: "TODO 4's test and the stretch test assert nothing",
        base: Base::Solution,
        edits: &[
            replace(
                "src/handler_tests.rs",
                "    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);\n    assert!(\n        !body.to_string().contains(\"relation\"),\n        \"no database detail leaks: {body}\"\n    );\n",
                "    let _ = (status, body);\n",
            ),
            replace(
                "src/handler_tests.rs",
                "    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);\n    let fields",
                "    let _ = status;\n    let fields",
            ),
            replace(
                "src/handler_tests.rs",
                "    store.expect_create_book().never();\n    let body",
                "    store.expect_create_book().returning(|_| Ok(book(1)));\n    let body",
            ),
            replace(
                "src/handler_tests.rs",
                "        .expect(\"a 422 problem lists its fields\")",
                "        .map_or(&[][..], Vec::as_slice)",
            ),
            replace(
                "src/handler_tests.rs",
                "    assert!(\n        fields.contains(&\"title\") && fields.contains(&\"published_year\"),\n        \"{problem}\"\n    );\n",
                "    let _ = fields;\n",
            ),
        ],
        needs: &[],
        expect: Expect {
            failed: &[
                "catches: a store failure leaks its message to the client",
                "stretch: invalid books reach the store",
            ],
            only: true,
            message: "store_failure_is_500_without_details still passes",
            hint: "TODO 4",
            ..Expect::NOTHING
        },
    },
    // A trainee's first try (a trial found it passed): the status only.
    Mutant {
        name: "TODO 4's test checks the status, not the body",
        base: Base::Solution,
        edits: &[replace(
            "src/handler_tests.rs",
            "    assert!(\n        !body.to_string().contains(\"relation\"),\n        \"no database detail leaks: {body}\"\n    );\n",
            "    let _ = body;\n",
        )],
        needs: &[],
        expect: Expect {
            message: "store_failure_is_500_without_details still passes",
            hint: "TODO 4",
            ..Expect::only(&["catches: a store failure leaks its message to the client"])
        },
    },
];

// ANCHOR: mutants
/// A broken variant of a reference file (`src/handlers.rs`, or another of
/// `MUTABLE`), and the trainee's test that must catch it: `test` (the
/// function of `src/handler_tests.rs` that `todo` asks for) must fail with
/// `to` in place of `from`. Other tests may fail too; this one must, so
/// every TODO is graded by its own test.
pub struct Mutation {
    /// The file `from` is replaced in, one of `MUTABLE`.
    pub file: &'static str,
    pub todo: &'static str,
    pub test: &'static str,
    /// The bug, as the check names it.
    pub name: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    /// An optional stretch test: graded when present, else reported as skipped.
    pub stretch: bool,
}

const fn todo(
    todo: &'static str,
    test: &'static str,
    name: &'static str,
    from: &'static str,
    to: &'static str,
) -> Mutation {
    Mutation {
        file: "src/handlers.rs",
        todo,
        test,
        name,
        from,
        to,
        stretch: false,
    }
}

/// The files mutants change. Before each mutant all of them are written
/// from the reference, so one mutant's change never outlives it in the
/// shared scratch copy.
const MUTABLE: [&str; 2] = ["src/handlers.rs", "src/error.rs"];

pub const MUTANTS: &[Mutation] = &[
    todo(
        "TODO 1",
        "get_book_returns_the_stored_book",
        "get_book asks the store for another book",
        "store\n        .get_book(id)\n        .await?",
        "store\n        .get_book(id + 1)\n        .await?",
    ),
    todo(
        "TODO 2",
        "get_book_unknown_is_404",
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
    todo(
        "TODO 3",
        "store_unavailable_is_503",
        "a store outage answers 500, not 503",
        "store\n        .get_book(id)\n        .await?",
        "store\n        .get_book(id)\n        .await\n        .map_err(|e| ApiError::Internal(e.to_string()))?",
    ),
    // Still a 500: only a test that reads the body catches it.
    Mutation {
        file: "src/error.rs",
        ..todo(
            "TODO 4",
            "store_failure_is_500_without_details",
            "a store failure leaks its message to the client",
            "#[error(\"internal error\")]\n    Internal(String),",
            "#[error(\"internal error: {0}\")]\n    Internal(String),",
        )
    },
    todo(
        "TODO 5",
        "create_book_stores_the_validated_book_and_returns_201",
        "create_book answers 200, not 201",
        "StatusCode::CREATED,\n        [(header::LOCATION, location)],",
        "StatusCode::OK,\n        [(header::LOCATION, location)],",
    ),
    todo(
        "TODO 5",
        "create_book_stores_the_validated_book_and_returns_201",
        "create_book passes the untrimmed input to the store",
        "let book = store.create_book(input.validate()?).await?;",
        "let raw = crate::models::NewBook { title: input.title.clone().unwrap_or_default(), author: input.author.clone().unwrap_or_default(), isbn: input.isbn.clone(), published_year: input.published_year.map(|y| y as i32) };\n    input.validate()?;\n    let book = store.create_book(raw).await?;",
    ),
    todo(
        "TODO 6",
        "create_book_duplicate_isbn_is_409",
        "a duplicate ISBN answers 500, not 409",
        "let book = store.create_book(input.validate()?).await?;",
        "let book = store.create_book(input.validate()?).await.map_err(|e| ApiError::Internal(e.to_string()))?;",
    ),
    todo(
        "TODO 7",
        "create_review_passes_book_and_review_to_the_store",
        "create_review stores the review under the wrong book",
        ".create_review(book_id, review)",
        ".create_review(book_id + 1, review)",
    ),
    todo(
        "TODO 7",
        "create_review_passes_book_and_review_to_the_store",
        "create_review drops the comment",
        ".create_review(book_id, review)",
        ".create_review(book_id, crate::models::NewReview { comment: String::new(), ..review })",
    ),
    todo(
        "TODO 8",
        "invalid_review_is_422_and_never_reaches_the_store",
        "invalid reviews reach the store",
        "let review = input.validate()?;",
        "let review = crate::models::NewReview { rating: input.rating.unwrap_or(0) as i16, comment: input.comment.clone().unwrap_or_default().trim().to_string() };\n    let _ = input.validate();",
    ),
    todo(
        "TODO 9",
        "review_of_unknown_book_is_404",
        "a review of an unknown book answers 201",
        r#".map(|review| (StatusCode::CREATED, Json(review)))
        .ok_or_else(|| ApiError::NotFound(format!("there is no book with id {book_id}")))"#,
        r#".map(|review| (StatusCode::CREATED, Json(review)))
        .ok_or_else(|| ApiError::NotFound(format!("there is no book with id {book_id}")))
        .or_else(|_| Ok((StatusCode::CREATED, Json(crate::models::Review { id: 0, book_id, rating: 1, comment: String::new(), created_at: chrono::Utc::now() }))))"#,
    ),
    todo(
        "TODO 10",
        "list_reviews_passes_the_paging_from_the_query",
        "list_reviews ignores the paging of the query",
        ".get_reviews(book_id, query.paging()?)",
        ".get_reviews(book_id, crate::models::PageQuery::default().paging()?)",
    ),
    todo(
        "TODO 11",
        "list_reviews_defaults_and_limits_paging",
        "list_reviews lets any limit through",
        ".get_reviews(book_id, query.paging()?)",
        ".get_reviews(book_id, crate::models::Paging { limit: query.limit.unwrap_or(20), offset: query.offset.unwrap_or(0) })",
    ),
    Mutation {
        stretch: true,
        ..todo(
            "the stretch task",
            "invalid_book_is_422_and_never_reaches_the_store",
            "invalid books reach the store",
            "let book = store.create_book(input.validate()?).await?;",
            "let book = store.create_book(input.validate().unwrap_or_else(|_| crate::models::NewBook { title: String::new(), author: String::new(), isbn: None, published_year: None })).await?;",
        )
    },
];
// ANCHOR_END: mutants

fn check(ck: &mut Checker) -> Result<(), Stop> {
    let mut references = Vec::new();
    for file in MUTABLE {
        let reference = crate::paths::root().join("solutions/07-mocks").join(file);
        let text = std::fs::read_to_string(&reference).map_err(|e| {
            ck.stop(
                "mutants",
                "a reference file the mutants change is missing",
                Failure::new(crate::paths::show(&reference), e.to_string()),
            )
        })?;
        references.push((file, text));
    }
    let out = run_tests(&ck.dir, &[]);
    let tests = match &out {
        Ok((_, stdout, _)) => outcomes(stdout),
        Err(_) => Vec::new(),
    };
    let result = match out {
        Ok((true, stdout, _)) => Ok(summary(&stdout)),
        Ok((false, stdout, stderr)) => Err(Failure::new(
            "`cargo test` to pass",
            // Said apart from the broken copies' failures below, which are
            // the point: these are the trainee's tests on their own code.
            match tests.iter().filter(|(_, ok)| !ok).count() {
                0 => format!(
                    "cargo test did not get to run your tests; its output:\n{}",
                    failed_tests(&stdout, &stderr)
                ),
                failing => format!(
                    "{failing} of your {} tests fail on your own code; the failing ones:\n{}",
                    tests.len(),
                    failed_tests(&stdout, &stderr)
                ),
            },
        )
        .hint(format!(
            "write the tests of src/handler_tests.rs (TODO 1 to 11), in order; each todo!() fails{}. \
             Once your tests pass on your code, the check runs them against broken copies of it",
            first_todo(&tests)
                .map(|t| format!(" (next: {t})"))
                .unwrap_or_default()
        ))),
        Err(e) => Err(Failure::new("cargo to run", e)),
    };
    ck.require("cargo test", result, Clone::clone)?;

    // Each mutant is compiled and tested once; the tests that fail are read
    // from libtest's output. They run one after the other in one scratch
    // copy, at one path, so the compiler's incremental cache of the crate
    // serves the next mutant; inside the kit, under its target folder, where
    // the kit's cargo settings apply as they did to the build above (outside
    // them, cargo would compile every dependency a second time).
    let inside = std::path::absolute(&ck.dir).is_ok_and(|d| d.starts_with(crate::paths::root()));
    let scratch_base = if inside {
        crate::paths::target_dir().join("tmp")
    } else {
        std::env::temp_dir()
    };
    let scratch = crate::scratch::copy_in(&scratch_base, &ck.dir);
    crate::report::progress_line(&format!(
        "your tests against {} broken copies of the handlers, one bug each: \
         on each copy, the test of that bug's TODO should fail",
        MUTANTS.len()
    ));
    for (i, mutation) in MUTANTS.iter().enumerate() {
        let check = format!("catches: {}", mutation.name);
        let present = tests.iter().any(|(name, _)| name == mutation.test);
        if !present {
            if mutation.stretch {
                ck.skip(
                    &format!("stretch: {}", mutation.name),
                    format!("optional, not attempted (no test `{}`)", mutation.test),
                    "see \"Stretch\" in the stage's README.md",
                );
            } else {
                ck.fail(
                    &check,
                    format!("there is no test `{}`", mutation.test),
                    Failure::new(
                        format!("the test `{}` of {}", mutation.test, mutation.todo),
                        "no test of that name ran",
                    )
                    .hint(format!(
                        "keep the names of the starter's test functions ({}); the check grades each TODO by its test",
                        mutation.todo
                    )),
                );
            }
            continue;
        }
        let check = if mutation.stretch {
            format!("stretch: {}", mutation.name)
        } else {
            check
        };
        let files = mutant_files(&references, mutation);
        let Some(files) = files else {
            ck.fail(
                &check,
                "the mutation no longer applies to the reference",
                Failure::new(
                    format!("the text to replace in solutions/07-mocks/{}", mutation.file),
                    mutation.from,
                )
                .hint("update MUTANTS in xtask/src/stages/07-mocks.rs"),
            );
            continue;
        };
        let label = format!(
            "broken copy {} of {} ({}: {})",
            i + 1,
            MUTANTS.len(),
            mutation.todo,
            mutation.name
        );
        let ran = match &scratch {
            Ok(copy) => run_mutant(&label, &copy.path, &files),
            Err(e) => Err(format!("could not copy the stage folder: {e}")),
        };
        match ran {
            Ok(failed) if failed.iter().any(|t| t == mutation.test) => ck.pass(
                &check,
                format!(
                    "your test {} fails on it, as it should ({})",
                    mutation.test, mutation.todo
                ),
            ),
            Ok(failed) => ck.fail(
                &check,
                format!(
                    "{} still passes: your tests did not notice this bug",
                    mutation.test
                ),
                Failure::new(
                    format!(
                        "`{}` to fail on a copy of your code with this bug in {}: {}",
                        mutation.test, mutation.file, mutation.name
                    ),
                    if failed.is_empty() {
                        "every test passed on the broken copy".to_string()
                    } else {
                        format!(
                            "it passed on the broken copy (other tests failed: {})",
                            failed.join(", ")
                        )
                    },
                )
                .hint(format!(
                    "{}: assert the status and body in `{}`, and tell the mock which arguments and how many calls to expect; then verify again",
                    mutation.todo, mutation.test
                )),
            ),
            Err(e) => ck.fail(
                &check,
                "could not run your tests against the broken copy",
                Failure::new("cargo test to run", e).hint(
                    "the broken copies are the kit's: if `cargo test` passes in your folder, \
                     this is a bug of the kit (MUTANTS in xtask/src/stages/07-mocks.rs); tell your trainer",
                ),
            ),
        }
    }
    Ok(())
}

/// Each test libtest reported (`test handler_tests::NAME ... ok|FAILED`):
/// its function name and whether it passed.
pub fn outcomes(stdout: &str) -> Vec<(String, bool)> {
    stdout
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("test ")?;
            let (path, result) = rest.split_once(" ... ")?;
            let name = path.rsplit("::").next()?.to_string();
            match result.trim() {
                "ok" => Some((name, true)),
                "FAILED" => Some((name, false)),
                _ => None,
            }
        })
        .collect()
}

/// The TODO of the first failing graded test, in the order of the TODOs.
fn first_todo(tests: &[(String, bool)]) -> Option<&'static str> {
    MUTANTS
        .iter()
        .filter(|m| !m.stretch)
        .find(|m| tests.iter().any(|(name, ok)| name == m.test && !ok))
        .map(|m| m.todo)
}

/// `from` replaced by `to`, once; `None` when `from` does not occur.
pub fn mutate(source: &str, from: &str, to: &str) -> Option<String> {
    source.contains(from).then(|| source.replacen(from, to, 1))
}

/// Every file of `MUTABLE` as the mutant has it: the reference's, with the
/// mutation applied to its file. `None` when `from` no longer occurs there.
fn mutant_files(
    references: &[(&'static str, String)],
    mutation: &Mutation,
) -> Option<Vec<(&'static str, String)>> {
    references
        .iter()
        .map(|(file, text)| {
            if *file == mutation.file {
                mutate(text, mutation.from, mutation.to).map(|m| (*file, m))
            } else {
                Some((*file, text.clone()))
            }
        })
        .collect()
}

/// Puts the mutant's files in place in `copy` (a scratch copy of the stage
/// folder), runs the tests there and returns the names of those that
/// failed. A mutant that does not compile is an error in MUTANTS, not a
/// caught bug.
fn run_mutant(label: &str, copy: &Path, files: &[(&str, String)]) -> Result<Vec<String>, String> {
    for (file, text) in files {
        std::fs::write(copy.join(file), text).map_err(|e| e.to_string())?;
    }
    // The handler tests live in the library (they need the mock, which only
    // exists under cfg(test)): `--lib` skips building the binary's tests.
    // Their failures are the point here, so the check says what they mean
    // (`run_as`), not cargo's "failed" line. The panic message, not a
    // backtrace, as in `run_tests`.
    let ran = crate::cargo::run_as(
        label,
        copy,
        &["test", "--color=never", "--lib"],
        &[("RUST_BACKTRACE", "0")],
    )
    .map_err(|failure| format!("{}: {}", failure.seen, failure.hint))?;
    let (passed, stdout, stderr) = (ran.status.success(), ran.stdout, ran.stderr);
    if !passed && !stdout.contains("test result:") {
        return Err(format!(
            "the mutant does not compile:\n{}",
            crate::proc::tail(&stderr, 15)
        ));
    }
    Ok(outcomes(&stdout)
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(name, _)| name)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each mutant must still apply to the reference handlers (they are
    /// edited by hand, and `cargo fmt` may reflow the text a mutant looks for).
    #[test]
    fn every_mutant_applies_to_the_reference_handlers() {
        for m in MUTANTS {
            assert!(MUTABLE.contains(&m.file), "{}: {} is not in MUTABLE", m.name, m.file);
            let path = crate::paths::root().join("solutions/07-mocks").join(m.file);
            let reference = std::fs::read_to_string(path).unwrap();
            let mutant = mutate(&reference, m.from, m.to);
            assert!(
                mutant.is_some_and(|m| m != reference),
                "mutant {:?} does not apply",
                m.name
            );
        }
    }

    /// Every graded test is a test function of the reference.
    #[test]
    fn every_graded_test_is_in_the_reference_tests() {
        let path = crate::paths::root().join("solutions/07-mocks/src/handler_tests.rs");
        let tests = std::fs::read_to_string(path).unwrap();
        for m in MUTANTS {
            assert!(
                tests.contains(&format!("async fn {}()", m.test)),
                "{}: no test {}",
                m.name,
                m.test
            );
        }
    }

    #[test]
    fn outcomes_reads_libtest_lines() {
        let out = "running 2 tests\ntest handler_tests::a ... ok\ntest handler_tests::b ... FAILED\ntest c ... ignored\n";
        assert_eq!(
            outcomes(out),
            vec![("a".to_string(), true), ("b".to_string(), false)]
        );
    }
}
