//! Scratch copies of a stage folder, for builds that must not disturb it
//! (the dependency-cache check, the image benchmark, stage 07's mutants).

use std::path::{Path, PathBuf};

/// A copy of a stage folder (without `target/` and `.git/`), removed on drop.
pub struct Copy {
    _dir: tempfile::TempDir,
    /// The copy, named like the original.
    pub path: PathBuf,
}

/// Copies `dir` into a fresh folder under `base`.
pub fn copy_in(base: &Path, dir: &Path) -> std::io::Result<Copy> {
    std::fs::create_dir_all(base)?;
    let temp = tempfile::tempdir_in(base)?;
    let path = temp.path().join(dir.file_name().unwrap_or_default());
    copy_tree(dir, &path)?;
    Ok(Copy { _dir: temp, path })
}

/// A copy of `dir` at `base/<its name>`, replacing what was there: the
/// self-test's broken copies of one stage, one after the other at the same
/// path (the compiler's incremental cache keys on it). `base` is removed by
/// its owner.
pub fn copy_at(base: &Path, dir: &Path) -> std::io::Result<At> {
    let path = base.join(dir.file_name().unwrap_or_default());
    if path.exists() {
        std::fs::remove_dir_all(&path)?;
    }
    copy_tree(dir, &path)?;
    Ok(At { path })
}

/// A copy made by [`copy_at`].
pub struct At {
    pub path: PathBuf,
}

/// A copy under target/tmp whose `src/main.rs` gained a unique comment: a
/// source-only change no earlier build can have cached.
pub fn copy_with_source_change(dir: &Path, who: &str) -> std::io::Result<Copy> {
    let copy = copy_in(&crate::paths::target_dir().join("tmp"), dir)?;
    let main = copy.path.join("src/main.rs");
    let text = std::fs::read_to_string(&main)?;
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::fs::write(
        &main,
        format!("{text}\n// A source-only change, made by {who} ({nonce}).\n"),
    )?;
    Ok(copy)
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
