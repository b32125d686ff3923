//! A trainee's progress, kept by `cargo xtask watch` and `cargo xtask hint`
//! in `.lab-progress` at the root of their clone (next to `exercises/`),
//! which `.gitignore` lists: the stage being worked on, the stages that
//! passed, and how many folded hints of each stage were shown.
//!
//! A plain text file, one fact a line, so a trainee can read it and delete
//! it to start over. Never inside `exercises/`: the grader and the watcher
//! leave the checked folders alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The file's name, at the root of the clone.
pub const FILE: &str = ".lab-progress";

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Progress {
    path: PathBuf,
    pub current: Option<String>,
    pub passed: Vec<String>,
    pub hints: BTreeMap<String, usize>,
}

/// Where the progress of the stages in `tree` (a folder of stage folders,
/// like `exercises/`) is kept: next to it.
pub fn path_for(tree: &Path) -> PathBuf {
    tree.parent().unwrap_or(tree).join(FILE)
}

impl Progress {
    /// Reads the file; a missing one is a fresh start. Lines it does not
    /// know are ignored (a newer kit may add some).
    pub fn load(path: &Path) -> anyhow::Result<Progress> {
        let mut progress = Progress {
            path: path.to_path_buf(),
            ..Progress::default()
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(progress),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "reading {} (your progress); delete it to start over",
                        path.display()
                    )
                });
            }
        };
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["current", stage] => progress.current = Some(stage.to_string()),
                ["passed", stage] => progress.pass(stage),
                ["hints", stage, count] => {
                    if let Ok(count) = count.parse() {
                        progress.hints.insert(stage.to_string(), count);
                    }
                }
                _ => {}
            }
        }
        Ok(progress)
    }

    pub fn save(&self) -> anyhow::Result<()> {
        let mut text = String::from(
            "# Your progress, kept by `cargo xtask watch` and `cargo xtask hint`.\n# Ignored by git; delete this file to start over.\n",
        );
        if let Some(current) = &self.current {
            text.push_str(&format!("current {current}\n"));
        }
        for stage in &self.passed {
            text.push_str(&format!("passed {stage}\n"));
        }
        for (stage, count) in &self.hints {
            text.push_str(&format!("hints {stage} {count}\n"));
        }
        std::fs::write(&self.path, text).with_context(|| {
            format!(
                "writing {} (your progress): is the folder writable?",
                self.path.display()
            )
        })
    }

    pub fn has_passed(&self, stage: &str) -> bool {
        self.passed.iter().any(|s| s == stage)
    }

    pub fn pass(&mut self, stage: &str) {
        if !self.has_passed(stage) {
            self.passed.push(stage.to_string());
        }
    }

    pub fn hints_shown(&self, stage: &str) -> usize {
        self.hints.get(stage).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::Progress;

    #[test]
    fn progress_survives_a_save_and_a_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(super::FILE);
        let mut progress = Progress::load(&path).unwrap();
        assert_eq!(progress.current, None);
        progress.current = Some("04-kubernetes".into());
        progress.pass("01-health");
        progress.pass("01-health");
        progress.hints.insert("04-kubernetes".into(), 2);
        progress.save().unwrap();
        let again = Progress::load(&path).unwrap();
        assert_eq!(again, progress);
        assert_eq!(again.passed, ["01-health"]);
        assert_eq!(again.hints_shown("04-kubernetes"), 2);
        assert_eq!(again.hints_shown("01-health"), 0);
    }
}
