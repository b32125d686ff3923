//! `cargo xtask hint NN`: the next folded hint of a stage, read from the
//! `<details>` blocks of its starter's README.md, in order. How many were
//! shown is kept in the trainee's progress file (`progress.rs`), so each
//! call shows one more, as rustlings' `hint` does for one exercise.
//! `--todo N` takes the hints under the README's heading for TODO N only:
//! a stage has a dozen TODOs, and a trainee stuck on one should not have
//! to page through the hints of all those before it.

use std::path::{Path, PathBuf};

use crate::check::Stage;
use crate::paths;
use crate::progress::{self, Progress};

/// One `<details><summary>TITLE</summary> BODY </details>` block.
#[derive(Debug, PartialEq, Eq)]
pub struct Hint {
    pub title: String,
    pub body: String,
    /// The TODOs of the nearest heading above the block (`### TODO 3: ...`,
    /// `### TODOs 4, 5, 7: ...`).
    pub todos: Vec<u32>,
}

/// The TODOs a markdown heading is about: `### TODO 13: the tower layer`.
fn heading_todos(line: &str) -> Vec<u32> {
    let Some(heading) = line.trim_start().strip_prefix('#') else {
        return Vec::new();
    };
    let heading = heading.trim_start_matches('#').trim_start();
    let Some(after) = heading
        .strip_prefix("TODOs ")
        .or_else(|| heading.strip_prefix("TODO "))
    else {
        return Vec::new();
    };
    let numbers = after.split(':').next().unwrap_or_default();
    numbers
        .split([',', ' '])
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// The folded blocks of a README, in order. A block without a summary gets
/// a numbered title; an unclosed block runs to the end of the text.
pub fn hints(readme: &str) -> Vec<Hint> {
    let mut found = Vec::new();
    let mut rest = readme;
    let mut todos = Vec::new();
    while let Some(start) = rest.find("<details>") {
        for line in rest[..start]
            .lines()
            .filter(|l| l.trim_start().starts_with('#'))
        {
            todos = heading_todos(line);
        }
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
        found.push(Hint {
            title,
            body,
            todos: todos.clone(),
        });
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
    let todo = match hint.todos.as_slice() {
        [] => String::new(),
        [one] => format!(", TODO {one}"),
        many => format!(
            ", TODOs {}",
            many.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!(
        "Hint {} of {} for {}{todo}: {}\n\n{}\n",
        index + 1,
        all.len(),
        stage.id,
        hint.title,
        hint.body
    )
}

/// Shows the next hint of TODO `todo` of `stage` and remembers it (apart
/// from the stage's own count, which `next` and `watch` use).
pub fn next_of_todo(
    tree: &Path,
    stage: &Stage,
    todo: u32,
    progress: &mut Progress,
) -> anyhow::Result<String> {
    let all = stage_hints(tree, stage)?;
    let mut with_hints: Vec<u32> = all.iter().flat_map(|h| h.todos.clone()).collect();
    with_hints.sort_unstable();
    with_hints.dedup();
    let of_todo: Vec<Hint> = all
        .into_iter()
        .filter(|h| h.todos.contains(&todo))
        .collect();
    if of_todo.is_empty() {
        let listed = with_hints
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        anyhow::bail!(
            "{} has no hints for TODO {todo}; the TODOs with hints: {}. `cargo xtask hint {}` shows the next hint in order.",
            paths::show(&readme(tree, stage)),
            if listed.is_empty() { "none" } else { &listed },
            stage.number()
        );
    }
    let key = format!("{} TODO {todo}", stage.id);
    let Some(shown) = advance(progress, key, of_todo.len())? else {
        return Ok(format!(
            "You have seen all {} hints of TODO {todo}; `cargo xtask hint {} --all` shows every hint of the stage again.\n",
            of_todo.len(),
            stage.number()
        ));
    };
    let hint = &of_todo[shown];
    let text = format!(
        "Hint {} of {} for TODO {todo} of {}: {}\n\n{}\n",
        shown + 1,
        of_todo.len(),
        stage.id,
        hint.title,
        hint.body
    );
    let again = format!("cargo xtask hint {} --todo {todo}", stage.number());
    Ok(text + &more(of_todo.len() - shown - 1, &again))
}

/// Counts one more hint shown under `key` and saves the progress file;
/// the index of the hint to show, or `None` when all `count` were shown.
fn advance(progress: &mut Progress, key: String, count: usize) -> anyhow::Result<Option<usize>> {
    let shown = progress.hints_shown(&key);
    if shown >= count {
        return Ok(None);
    }
    progress.hints.insert(key, shown + 1);
    progress.save()?;
    Ok(Some(shown))
}

/// The line after a hint that says how many are left and how to see the next.
fn more(left: usize, again: &str) -> String {
    if left == 0 {
        String::new()
    } else {
        format!("\n({left} more: run `{again}` again.)\n")
    }
}

/// Shows the next hint of `stage` and remembers it; returns the text shown.
pub fn next(tree: &Path, stage: &Stage, progress: &mut Progress) -> anyhow::Result<String> {
    let all = stage_hints(tree, stage)?;
    let chapter = format!("book/src/{}.md", stage.id);
    if all.is_empty() {
        return Ok(format!(
            "{} has no folded hints; the check's own hint says what to fix, and the chapter {chapter} explains the stage.\n",
            paths::show(&readme(tree, stage))
        ));
    }
    let Some(shown) = advance(progress, stage.id.to_string(), all.len())? else {
        return Ok(format!(
            "You have seen all {} hints of {}; `cargo xtask hint {} --all` shows them again, and the chapter {chapter} explains the stage.\n",
            all.len(),
            stage.id,
            stage.number()
        ));
    };
    let again = format!("cargo xtask hint {}", stage.number());
    Ok(render(stage, &all, shown) + &more(all.len() - shown - 1, &again))
}

/// `cargo xtask hint [NN] [--todo N] [--all] [--dir TREE]`.
pub fn run(
    stage: Option<String>,
    todo: Option<u32>,
    all: bool,
    dir: Option<PathBuf>,
) -> anyhow::Result<bool> {
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
    match todo {
        Some(todo) => print!("{}", next_of_todo(&tree, stage, todo, &mut progress)?),
        None => print!("{}", next(&tree, stage, &mut progress)?),
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::{Hint, hints};

    #[test]
    fn folded_blocks_are_read_in_order() {
        let text = "# Stage\n\nIntro.\n\n<details><summary>Step 1: env</summary>\n\nUse `std::env::var`.\n</details>\n\n### TODO 12: text\n\n<details>\n<summary>Step 2</summary>\n\nTwo\nlines.\n\n</details>\n## Stretch\n<details>no summary</details>";
        assert_eq!(
            hints(text),
            [
                Hint {
                    title: "Step 1: env".into(),
                    body: "Use `std::env::var`.".into(),
                    todos: vec![],
                },
                Hint {
                    title: "Step 2".into(),
                    body: "Two\nlines.".into(),
                    todos: vec![12],
                },
                Hint {
                    title: "Hint 3".into(),
                    body: "no summary".into(),
                    todos: vec![],
                },
            ]
        );
        assert!(hints("no hints here").is_empty());
    }

    /// `--todo 3` of stage 06 shows TODO 3's hints in order, then says
    /// they are all seen, apart from the stage's own count.
    #[test]
    fn a_todos_hints_come_one_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut progress = crate::progress::Progress::load(&dir.path().join("p.json")).unwrap();
        let tree = crate::paths::root().join("exercises");
        let stage = crate::stages::find("06").unwrap();
        let first = super::next_of_todo(&tree, stage, 3, &mut progress).unwrap();
        assert!(first.starts_with("Hint 1 of "), "{first}");
        assert!(first.contains("for TODO 3 of 06-ibdb"), "{first}");
        let mut last = first;
        for _ in 0..20 {
            last = super::next_of_todo(&tree, stage, 3, &mut progress).unwrap();
            if last.starts_with("You have seen all") {
                break;
            }
        }
        assert!(last.starts_with("You have seen all"), "{last}");
        assert_eq!(progress.hints_shown("06-ibdb"), 0);
        let none = super::next_of_todo(&tree, stage, 99, &mut progress).unwrap_err();
        assert!(
            none.to_string()
                .contains("the TODOs with hints: 2, 3, 4, 5, 6, 7"),
            "{none}"
        );
        let sql = super::next_of_todo(&tree, stage, 9, &mut progress).unwrap();
        assert!(sql.contains("for TODO 9 of 06-ibdb"), "{sql}");
    }

    #[test]
    fn headings_name_their_todos() {
        assert_eq!(super::heading_todos("### TODO 13: the tower layer"), [13]);
        assert_eq!(
            super::heading_todos("### TODOs 4, 5, 7, 9: the SQL"),
            [4, 5, 7, 9]
        );
        assert_eq!(
            super::heading_todos("## Stretch (optional)"),
            [] as [u32; 0]
        );
        assert_eq!(super::heading_todos("TODO 3 in text"), [] as [u32; 0]);
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
