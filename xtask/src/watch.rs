//! `cargo xtask watch`: the trainee's loop, as rustlings' watch mode and
//! the workshop runner of 100-exercises-to-learn-rust have it. It checks
//! the current stage, shows the first failing check and its hint on a
//! cleared screen, checks again whenever a file of the stage is saved, and
//! moves on to the next stage once this one passes. Progress is kept in
//! `.lab-progress` at the root of the clone (`progress.rs`).
//!
//! Files are watched by polling their modification times and sizes
//! (std only, every [`POLL`]): a stage folder holds a few dozen files, and
//! a notify backend would be one more dependency for a trainee's first
//! compile. A change is acted on once the folder has been still for one
//! more poll, so an editor's write-then-rename is one change, not two.
//! The watcher reads the stage folder and never writes into it.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, SystemTime};

use crate::check::{Stage, run_stage};
use crate::hint;
use crate::paths;
use crate::progress::{self, Progress};
use crate::report::{Printer, StageResult, Status};
use crate::stages::{STAGES, find};

/// How often the stage folder is looked at.
pub const POLL: Duration = Duration::from_millis(500);

/// The folder of stage folders to watch: `exercises/` unless told.
pub fn tree(dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let tree = match dir {
        Some(dir) => std::path::absolute(dir)?,
        None => paths::root().join("exercises"),
    };
    anyhow::ensure!(
        tree.is_dir(),
        "--dir {}: no such folder; give the folder that holds the stage folders (like exercises/)",
        tree.display()
    );
    Ok(tree)
}

/// Whether a path below a stage folder is left out of the watch: build
/// output, version control, and the files editors write beside the one
/// being edited (backups, swap and lock files).
pub fn ignored(name: &str, is_dir: bool) -> bool {
    if is_dir {
        return matches!(
            name,
            "target" | ".git" | "node_modules" | ".idea" | ".vscode"
        );
    }
    name.starts_with(".#") // Emacs lock files
        || (name.starts_with('#') && name.ends_with('#')) // Emacs auto-saves
        || name.ends_with('~') // Emacs, gedit, nano backups
        || name == "4913" // Vim's probe whether the folder is writable
        || name == ".DS_Store"
        || [".swp", ".swo", ".swx", ".tmp", ".bak", ".orig", ".rs.bk"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
        || name.starts_with(".goutputstream-") // GNOME's atomic saves
}

/// What the watch compares: each file's modification time and size.
pub type Snapshot = BTreeMap<PathBuf, (SystemTime, u64)>;

pub fn snapshot(dir: &Path) -> Snapshot {
    fn walk(dir: &Path, out: &mut Snapshot) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if ignored(&name, kind.is_dir()) {
                continue;
            }
            if kind.is_dir() {
                walk(&entry.path(), out);
            } else if let Ok(meta) = entry.metadata() {
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                out.insert(entry.path(), (modified, meta.len()));
            }
        }
    }
    let mut out = Snapshot::new();
    walk(dir, &mut out);
    out
}

/// What a trainee typed (a letter and Enter).
enum Key {
    Hint,
    Recheck,
    Next,
    Quit,
}

/// Lines from stdin, as keys; when stdin ends (or is not there), the
/// channel closes and the watch goes on by file changes alone.
fn keys() -> Receiver<Key> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let key = match line.trim().to_ascii_lowercase().as_str() {
                "h" | "hint" => Key::Hint,
                "" | "r" => Key::Recheck,
                "n" | "next" => Key::Next,
                "q" | "quit" => Key::Quit,
                _ => continue,
            };
            if send.send(key).is_err() {
                break;
            }
        }
    });
    receive
}

/// What ended a wait.
enum Woke {
    Changed,
    Key(Key),
}

/// Waits until a file of `dir` differs from `before` and has stayed the
/// same for one more poll, or a key comes.
fn wait(dir: &Path, before: &Snapshot, keys: &Receiver<Key>, keys_open: &mut bool) -> Woke {
    let mut changed: Option<Snapshot> = None;
    loop {
        if *keys_open {
            match keys.recv_timeout(POLL) {
                Ok(key) => return Woke::Key(key),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => *keys_open = false,
            }
        } else {
            std::thread::sleep(POLL);
        }
        let now = snapshot(dir);
        match &changed {
            // Still the same as before: nothing saved yet.
            None if &now == before => {}
            // The same as one poll ago: the save is complete.
            Some(last) if *last == now => return Woke::Changed,
            _ => changed = Some(now),
        }
    }
}

fn clear_screen() {
    let mut out = std::io::stdout();
    if out.is_terminal() {
        let _ = write!(out, "\x1b[2J\x1b[3J\x1b[H");
    } else {
        // A log or a test reads on: a rule marks where a screen began.
        let _ = writeln!(out, "\n────────────────────────────────────────");
    }
    let _ = out.flush();
}

/// The screen after a check: the checks up to the first failure, with its
/// expected, seen and hint; then what the trainee can do.
fn show(result: &StageResult, banner: Option<&str>, footer: &str) {
    clear_screen();
    if let Some(banner) = banner {
        println!("{banner}\n");
    }
    let printer = Printer::new(false);
    println!("{}: {}  ({})", result.stage, result.title, result.dir);
    let first_failed = result
        .checks
        .iter()
        .position(|c| c.status == Status::Failed);
    let shown = first_failed.map_or(result.checks.len(), |at| at + 1);
    for check in &result.checks[..shown] {
        printer.check(check);
    }
    let more = result.checks[shown..]
        .iter()
        .filter(|c| c.status == Status::Failed)
        .count();
    if more > 0 {
        println!("  ({more} more check(s) failed after this one; fix it first)");
    }
    let word = match result.status {
        Status::Passed => "passed",
        Status::Failed => "not yet",
        Status::Skipped => "could not be checked here (see above)",
    };
    println!("\n{} {word}. {footer}", result.stage);
    let _ = std::io::stdout().flush();
}

fn footer(stage: &Stage, tree: &Path, progress: &Progress, status: Status) -> String {
    let total = hint::stage_hints(tree, stage).map_or(0, |h| h.len());
    let hints = if total == 0 {
        String::new()
    } else {
        format!(
            "\n  h Enter: a hint ({} of {total} shown; or `cargo xtask hint {}`)",
            progress.hints_shown(stage.id).min(total),
            stage.number()
        )
    };
    let next = if status == Status::Skipped {
        "move on without it"
    } else {
        "skip to the next stage"
    };
    format!(
        "Watching {}: save a file to check again.{hints}\n  r Enter: check again · n Enter: {next} · q Enter: quit (Ctrl-C too)",
        paths::show(&tree.join(stage.id))
    )
}

/// The first stage of `chosen` at or after `from` (wrapping around) that
/// has not passed.
fn next_stage(
    chosen: &[&'static Stage],
    progress: &Progress,
    from: usize,
) -> Option<&'static Stage> {
    (0..chosen.len())
        .map(|i| chosen[(from + i) % chosen.len()])
        .find(|s| !progress.has_passed(s.id))
}

/// `cargo xtask watch [STAGES] [--dir TREE]`: returns when every chosen
/// stage passed (true) or the trainee quits.
pub fn run(stages: Vec<String>, dir: Option<PathBuf>) -> anyhow::Result<bool> {
    let tree = tree(dir)?;
    let chosen: Vec<&'static Stage> = if stages.is_empty() {
        // The stages of this folder (a class may hand out only some).
        let present: Vec<&'static Stage> = STAGES
            .iter()
            .copied()
            .filter(|s| tree.join(s.id).is_dir())
            .collect();
        anyhow::ensure!(
            !present.is_empty(),
            "{}: no stage folders in it (like 01-health); give --dir the folder that holds them",
            tree.display()
        );
        present
    } else {
        stages.iter().map(|s| find(s)).collect::<Result<_, _>>()?
    };
    let mut progress = Progress::load(&progress::path_for(&tree))?;
    // Where the trainee was, else the first stage not passed.
    let start = progress
        .current
        .as_deref()
        .and_then(|c| chosen.iter().position(|s| s.id == c))
        .unwrap_or(0);
    // Stages named on the command line are checked even if they passed
    // before (the trainee wants to see them); otherwise the first one left.
    let mut current = if stages.is_empty() {
        next_stage(&chosen, &progress, start)
    } else {
        Some(chosen[0])
    };
    if current.is_none() {
        println!(
            "✓ Every stage has passed already (see {}). Name a stage to check it again, like `cargo xtask watch 01`.",
            progress::FILE
        );
        return Ok(true);
    }
    let keys = keys();
    let mut keys_open = true;
    let mut banner: Option<String> = None;
    while let Some(stage) = current {
        progress.current = Some(stage.id.to_string());
        progress.save()?;
        let dir = tree.join(stage.id);
        let before = snapshot(&dir);
        clear_screen();
        if let Some(banner) = &banner {
            println!("{banner}\n");
        }
        println!("Checking {} ({})…", stage.id, paths::show(&dir));
        let _ = std::io::stdout().flush();
        let result = run_stage(stage, &dir, &Printer::quiet());
        let at = chosen.iter().position(|s| s.id == stage.id).unwrap_or(0);
        if result.status == Status::Passed {
            progress.pass(stage.id);
            progress.save()?;
            current = next_stage(&chosen, &progress, at + 1);
            banner = Some(match current {
                Some(next) => format!(
                    "✓ {} passed. On to {}: {} ({}, chapter book/src/{}.md).",
                    stage.id,
                    next.id,
                    next.title,
                    paths::show(&tree.join(next.id)),
                    next.id
                ),
                None => String::new(),
            });
            if current.is_none() {
                show(&result, None, "");
                println!(
                    "\n✓ Every stage you are watching passed ({}). Well done!",
                    chosen
                        .iter()
                        .map(|s| s.number())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                return Ok(true);
            }
            continue;
        }
        let foot = footer(stage, &tree, &progress, result.status);
        show(&result, banner.as_deref(), &foot);
        banner = None;
        loop {
            match wait(&dir, &before, &keys, &mut keys_open) {
                Woke::Changed | Woke::Key(Key::Recheck) => break,
                Woke::Key(Key::Quit) => {
                    println!("Your progress is kept in {}.", progress::FILE);
                    return Ok(true);
                }
                Woke::Key(Key::Next) => {
                    current = next_stage(&chosen, &progress, at + 1)
                        .filter(|s| s.id != stage.id)
                        .or(Some(stage));
                    break;
                }
                Woke::Key(Key::Hint) => match hint::next(&tree, stage, &mut progress) {
                    Ok(text) => println!("\n{text}"),
                    Err(e) => println!("\n{e:#}"),
                },
            }
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::{ignored, snapshot};

    #[test]
    fn editor_files_and_build_output_are_not_watched() {
        for name in [
            ".main.rs.swp",
            "main.rs~",
            ".#main.rs",
            "#main.rs#",
            "4913",
            "main.rs.tmp",
            ".goutputstream-ABC123",
        ] {
            assert!(ignored(name, false), "{name}");
        }
        for name in ["main.rs", "Dockerfile", "Cargo.toml", "deployment.yaml"] {
            assert!(!ignored(name, false), "{name}");
        }
        assert!(ignored("target", true));
        assert!(!ignored("src", true));
    }

    #[test]
    fn a_snapshot_sees_saves_but_not_swap_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::create_dir_all(dir.path().join("target/debug")).unwrap();
        std::fs::write(dir.path().join("src/main.rs"), "fn main() {}\n").unwrap();
        let before = snapshot(dir.path());
        std::fs::write(dir.path().join("src/.main.rs.swp"), "x").unwrap();
        std::fs::write(dir.path().join("target/debug/app"), "x").unwrap();
        assert_eq!(snapshot(dir.path()), before);
        std::fs::write(dir.path().join("src/main.rs"), "fn main() { }\n").unwrap();
        assert_ne!(snapshot(dir.path()), before);
    }
}
