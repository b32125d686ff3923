//! Starters are generated from their solutions (`cargo xtask sync`), `lint`
//! fails on a hand edit, `sync` never destroys a trainee's work, and
//! `verify` writes nothing into the folder it checks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::support::{self, serial, xtask_with_env};

/// A copy of the kit's stage folders, chapters and sync manifest, for
/// `LAB_KIT_ROOT`.
fn kit_copy() -> tempfile::TempDir {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).unwrap();
    let kit = tempfile::tempdir_in(base).unwrap();
    // helm/: the kit's chart is generated from stage 08's solution.
    for part in ["exercises", "solutions", "book", "helm"] {
        support::copy_tree(&support::root().join(part), &kit.path().join(part));
    }
    kit
}

fn in_kit(kit: &Path, args: &[&str]) -> support::Run {
    xtask_with_env(args, &[("LAB_KIT_ROOT", kit.to_str().unwrap())])
}

fn replace_line(path: &Path, number: usize, with: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[number - 1] = with;
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn the_committed_starters_are_what_sync_generates() {
    let kit = kit_copy();
    let run = in_kit(kit.path(), &["lint"]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let run = in_kit(kit.path(), &["sync"]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("0 file(s) updated"), "{}", run.stdout);
}

#[test]
fn lint_names_a_hand_edited_starter_and_sync_keeps_it() {
    let kit = kit_copy();
    let starter = kit.path().join("exercises/01-health/src/lib.rs");
    replace_line(&starter, 5, "// the trainee's own line");
    let edited = std::fs::read(&starter).unwrap();

    let run = in_kit(kit.path(), &["lint"]);
    assert!(
        !run.success,
        "lint passed a hand-edited starter:\n{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "exercises/01-health/src/lib.rs:5: differs from its source solutions/01-health/src/lib.rs"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("cargo xtask sync"), "{}", run.stdout);

    // A trainee's clone: sync must not destroy the edit, and says so.
    let run = in_kit(kit.path(), &["sync"]);
    assert!(
        !run.success,
        "sync kept a file and exited 0:\n{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("kept exercises/01-health/src/lib.rs"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("--force"), "{}", run.stdout);
    assert_eq!(
        std::fs::read(&starter).unwrap(),
        edited,
        "sync overwrote the edit"
    );

    // --force replaces it, after saving it.
    let run = in_kit(kit.path(), &["sync", "--force"]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let saved = kit
        .path()
        .join("exercises/01-health/src/lib.rs.before-sync");
    assert_eq!(std::fs::read(&saved).unwrap(), edited, "{}", run.stdout);
    let run = in_kit(kit.path(), &["lint"]);
    assert!(run.success, "{}", run.stdout);
}

#[test]
fn sync_rewrites_untouched_starters_and_copies_after_a_solution_edit() {
    let kit = kit_copy();
    let solution = kit.path().join("solutions/01-health/src/lib.rs");
    let text = std::fs::read_to_string(&solution).unwrap();
    let from = "//! Stage 01: the smallest useful microservice, a health endpoint.";
    assert!(
        text.contains(from),
        "solutions/01-health/src/lib.rs changed its first line"
    );
    std::fs::write(&solution, text.replacen(from, "//! Stage 01: edited.", 1)).unwrap();
    std::fs::remove_file(kit.path().join("exercises/06-ibdb/src/routes/books.rs")).unwrap();

    let run = in_kit(kit.path(), &["lint"]);
    assert!(!run.success, "{}", run.stdout);
    let run = in_kit(kit.path(), &["sync"]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    for generated in [
        "exercises/01-health/src/lib.rs",
        "solutions/02-dockerfile/src/lib.rs",
        "exercises/02-dockerfile/src/lib.rs",
        "exercises/04-kubernetes/src/lib.rs",
        "exercises/06-ibdb/src/routes/books.rs",
    ] {
        assert!(
            run.stdout.contains(&format!("wrote {generated}")),
            "{generated} not rewritten:\n{}",
            run.stdout
        );
    }
    let starter =
        std::fs::read_to_string(kit.path().join("exercises/01-health/src/lib.rs")).unwrap();
    assert!(starter.starts_with("//! Stage 01: edited.\n"), "{starter}");
    assert!(
        starter.contains("todo!(\"TODO 1: read PORT\")"),
        "{starter}"
    );
    assert!(
        !starter.contains("ANCHOR"),
        "markers left in the starter:\n{starter}"
    );
    // Stage 02 packages the finished server: no TODOs there.
    let carried =
        std::fs::read_to_string(kit.path().join("exercises/02-dockerfile/src/lib.rs")).unwrap();
    assert!(!carried.contains("todo!("), "{carried}");
    let run = in_kit(kit.path(), &["lint"]);
    assert!(run.success, "{}", run.stdout);
}

#[test]
fn lint_names_a_starter_file_no_solution_generates() {
    let kit = kit_copy();
    std::fs::write(
        kit.path().join("exercises/05-postgres/src/extra.rs"),
        "// kept by hand\n",
    )
    .unwrap();
    let run = in_kit(kit.path(), &["lint"]);
    assert!(!run.success, "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "exercises/05-postgres/src/extra.rs: not generated from solutions/05-postgres/src/extra.rs"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn a_broken_marker_is_named_with_its_file_and_line() {
    let kit = kit_copy();
    let solution = kit.path().join("solutions/05-postgres/src/db.rs");
    let text = std::fs::read_to_string(&solution).unwrap();
    let end = text
        .lines()
        .position(|l| l.trim() == "// ANCHOR_END: starter")
        .expect("solutions/05-postgres/src/db.rs has a starter region");
    let without: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != end)
        .map(|(_, l)| l)
        .collect();
    std::fs::write(&solution, without.join("\n") + "\n").unwrap();
    let run = in_kit(kit.path(), &["lint"]);
    assert!(!run.success, "{}", run.stdout);
    assert!(
        run.stdout.contains("solutions/05-postgres/src/db.rs:")
            && run.stdout.contains("`ANCHOR: starter`"),
        "{}",
        run.stdout
    );
    let run = in_kit(kit.path(), &["sync"]);
    assert!(!run.success, "{}", run.stdout);
    assert!(
        run.stderr.contains("solutions/05-postgres/src/db.rs:"),
        "{}",
        run.stderr
    );
}

/// Every file and folder below `dir` with its modification time and bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Option<SystemTime>, Vec<u8>)> {
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, (Option<SystemTime>, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let meta = entry.metadata().unwrap();
            let bytes = if meta.is_dir() {
                walk(&path, out);
                Vec::new()
            } else {
                std::fs::read(&path).unwrap()
            };
            out.insert(path, (meta.modified().ok(), bytes));
        }
    }
    let mut out = BTreeMap::new();
    out.insert(
        dir.to_path_buf(),
        (std::fs::metadata(dir).unwrap().modified().ok(), Vec::new()),
    );
    walk(dir, &mut out);
    out
}

fn assert_untouched(
    dir: &Path,
    before: &BTreeMap<PathBuf, (Option<SystemTime>, Vec<u8>)>,
    what: &str,
) {
    let after = snapshot(dir);
    let mut changes = Vec::new();
    for (path, state) in &after {
        match before.get(path) {
            None => changes.push(format!("created {}", path.display())),
            Some(old) if old.1 != state.1 => changes.push(format!("rewrote {}", path.display())),
            Some(old) if old.0 != state.0 => changes.push(format!(
                "changed the modification time of {}",
                path.display()
            )),
            Some(_) => {}
        }
    }
    for path in before.keys().filter(|p| !after.contains_key(*p)) {
        changes.push(format!("removed {}", path.display()));
    }
    assert!(
        changes.is_empty(),
        "{what} wrote into the folder it checks:\n{}",
        changes.join("\n")
    );
}

#[test]
fn verify_writes_nothing_into_the_folder_it_checks() {
    // The kit's own starter, in place (the trainee's usual case), and after
    // it the solution, which shares its package name and artifacts.
    let _turn = serial();
    let exercise = support::root().join("exercises/01-health");
    let before = snapshot(&exercise);
    let run = support::xtask(&["verify", "--json", "01"]);
    assert!(!run.success, "the starter passed:\n{}", run.stdout);
    assert_untouched(&exercise, &before, "`verify 01`");

    let solution = support::root().join("solutions/01-health");
    let before = snapshot(&solution);
    let run = support::xtask(&["verify", "--json", "--solutions", "01"]);
    assert!(
        run.success,
        "the solution failed after the starter:\n{}",
        run.stdout
    );
    assert_untouched(&solution, &before, "`verify --solutions 01`");

    // A trainee's copy outside the kit: no `target/` in it either.
    let outside = tempfile::tempdir().unwrap();
    let copy = outside.path().join("01-health");
    support::copy_tree(&support::root().join("solutions/01-health"), &copy);
    let before = snapshot(outside.path());
    let run = support::xtask(&["verify", "--json", "--dir", copy.to_str().unwrap()]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert_untouched(outside.path(), &before, "`verify --dir` (outside the kit)");
}
