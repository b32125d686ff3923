//! Tree comparison: a stage folder's files against the reference solution's.

use std::collections::BTreeSet;
use std::path::Path;

use super::{Checker, Stop};
use crate::report::Failure;

/// The stage's `tests/` must be the reference ones, as the solution has
/// them or as the starter hands them out (without the book's anchor
/// comments): the check runs them as the specification, so an edited test
/// would grade itself.
pub fn tests_unchanged(ck: &mut Checker) -> Result<(), Stop> {
    let reference = crate::paths::root()
        .join("solutions")
        .join(ck.stage.id)
        .join("tests");
    let differing = differing_files(&reference, &ck.dir.join("tests"));
    let result = if differing.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(
            "tests/ as handed out",
            format!("changed: {}", differing.join(", ")),
        )
        .hint(format!(
            "the tests are the specification; restore them from {}",
            crate::paths::show(&reference)
        )))
    };
    ck.require("tests unchanged", result, |()| {
        "tests/ match the reference".into()
    })
}

/// Relative paths of the files of `b` that are neither the reference's
/// file in `a` nor its starter form (or that exist in only one tree).
pub fn differing_files(a: &Path, b: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut names = BTreeSet::new();
    walk(a, a, &mut names);
    walk(b, b, &mut names);
    names
        .into_iter()
        .filter(|name| {
            let reference = std::fs::read(a.join(name)).ok();
            let checked = std::fs::read(b.join(name)).ok();
            reference != checked && starter_form(reference.as_deref()) != checked
        })
        .collect()
}

/// A reference file as `cargo xtask sync` hands it out in a starter.
fn starter_form(reference: Option<&[u8]>) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(reference?).ok()?;
    crate::carry::starter_of(text).ok().map(String::into_bytes)
}
