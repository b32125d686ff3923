//! `cargo xtask hint NN`: the next folded hint of a stage, read from the
//! `<details>` blocks of its starter's README.md, in order. How many were
//! shown is kept in the trainee's progress file (`progress.rs`), so each
//! call shows one more, as rustlings' `hint` does for one exercise.

use std::path::{Path, PathBuf};

use crate::check::Stage;
use crate::paths;
use crate::progress::{self, Progress};

/// One `<details><summary>TITLE</summary> BODY </details>` block.
#[derive(Debug, PartialEq, Eq)]
pub struct Hint {
    pub title: String,
    pub body: String,
}

/// The folded blocks of a README, in order. A block without a summary gets
/// a numbered title; an unclosed block runs to the end of the text.
pub fn hints(readme: &str) -> Vec<Hint> {
    let mut found = Vec::new();
    let mut rest = readme;
    while let Some(start) = rest.find("<details>") {
        let after = &rest[start + "<details>".len()..];
        let (block, next) = match after.find("</details>") {
            Some(end) => (&after[..end], &after[end + "</details>".len()..]),
            None => (after, ""),
        };
        let (title, body) = match (block.find("<summary>"), block.find("</summary>")) {
            (Some(open), Some(close)) if open < close => (
                block[open + "<summary>".len()..close].trim().to_string(),
                block[close + "</summary>".len()..].trim().to_string(),
            ),
            _ => (
                format!("Hint {}", found.len() + 1),
                block.trim().to_string(),
            ),
        };
        found.push(Hint { title, body });
        rest = next;
    }
    found
}

/// The README whose hints a stage has, in the tree (a folder of stage
/// folders, `exercises/` unless told).
pub fn readme(tree: &Path, stage: &Stage) -> PathBuf {
    tree.join(stage.id).join("README.md")
}

/// Reads the hints of `stage`; an error names the file and what to do.
pub fn stage_hints(tree: &Path, stage: &Stage) -> anyhow::Result<Vec<Hint>> {
    let path = readme(tree, stage);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}; the stage's hints are in its README.md (restore it with `git checkout -- {}`)",
            paths::show(&path),
            paths::show(&path)
        )
    })?;
    Ok(hints(&text))
}

/// Text of hint `index` (0-based) of `all`, for the terminal.
pub fn render(stage: &Stage, all: &[Hint], index: usize) -> String {
    let hint = &all[index];
    format!(
        "Hint {} of {} for {}: {}\n\n{}\n",
        index + 1,
        all.len(),
        stage.id,
        hint.title,
        hint.body
    )
}

/// Shows the next hint of `stage` and remembers it; returns the text shown.
pub fn next(tree: &Path, stage: &Stage, progress: &mut Progress) -> anyhow::Result<String> {
    let all = stage_hints(tree, stage)?;
    let shown = progress.hints_shown(stage.id);
    let chapter = format!("book/src/{}.md", stage.id);
    if all.is_empty() {
        return Ok(format!(
            "{} has no folded hints; the check's own hint says what to fix, and the chapter {chapter} explains the stage.\n",
            paths::show(&readme(tree, stage))
        ));
    }
    if shown >= all.len() {
        return Ok(format!(
            "You have seen all {} hints of {}; `cargo xtask hint {} --all` shows them again, and the chapter {chapter} explains the stage.\n",
            all.len(),
            stage.id,
            stage.number()
        ));
    }
    progress.hints.insert(stage.id.to_string(), shown + 1);
    progress.save()?;
    let mut text = render(stage, &all, shown);
    if shown + 1 < all.len() {
        text.push_str(&format!(
            "\n({} more: run `cargo xtask hint {}` again.)\n",
            all.len() - shown - 1,
            stage.number()
        ));
    }
    Ok(text)
}

/// `cargo xtask hint [NN] [--all] [--dir TREE]`.
pub fn run(stage: Option<String>, all: bool, dir: Option<PathBuf>) -> anyhow::Result<bool> {
    let tree = crate::watch::tree(dir)?;
    let mut progress = Progress::load(&progress::path_for(&tree))?;
    let stage = match stage {
        Some(name) => crate::stages::find(&name)?,
        None => match progress.current.as_deref() {
            Some(current) => crate::stages::find(current)?,
            None => anyhow::bail!(
                "which stage? name it, for example `cargo xtask hint 01` (`cargo xtask watch` remembers the stage you are on)"
            ),
        },
    };
    if all {
        let hints = stage_hints(&tree, stage)?;
        if hints.is_empty() {
            println!(
                "{} has no folded hints.",
                paths::show(&readme(&tree, stage))
            );
        }
        for index in 0..hints.len() {
            println!("{}", render(stage, &hints, index));
        }
        return Ok(true);
    }
    print!("{}", next(&tree, stage, &mut progress)?);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::{Hint, hints};

    #[test]
    fn folded_blocks_are_read_in_order() {
        let text = "# Stage\n\nIntro.\n\n<details><summary>Step 1: env</summary>\n\nUse `std::env::var`.\n</details>\n\ntext\n\n<details>\n<summary>Step 2</summary>\n\nTwo\nlines.\n\n</details>\n<details>no summary</details>";
        assert_eq!(
            hints(text),
            [
                Hint {
                    title: "Step 1: env".into(),
                    body: "Use `std::env::var`.".into()
                },
                Hint {
                    title: "Step 2".into(),
                    body: "Two\nlines.".into()
                },
                Hint {
                    title: "Hint 3".into(),
                    body: "no summary".into()
                },
            ]
        );
        assert!(hints("no hints here").is_empty());
    }

    /// Every starter's README parses; the stages with hints have their
    /// titles (a README edit that breaks a block shows here).
    #[test]
    fn the_starters_hints_parse() {
        let tree = crate::paths::root().join("exercises");
        for stage in crate::stages::STAGES {
            let found = super::stage_hints(&tree, stage).unwrap();
            for hint in &found {
                assert!(
                    !hint.title.is_empty() && !hint.body.is_empty(),
                    "{}: {hint:?}",
                    stage.id
                );
                assert!(!hint.body.contains("<details>"), "{}: {hint:?}", stage.id);
            }
        }
    }
}
