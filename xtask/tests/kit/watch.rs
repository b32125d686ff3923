//! `cargo xtask watch` and `cargo xtask hint` on throwaway copies of
//! stages 01 and 04 (the cheap ones): a save reruns the check, editor
//! files do not, passing moves on to the next stage, hints come in order,
//! and progress is kept next to the stage folders, never inside them.

use crate::support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{copy_tree, root, serial};

/// A folder of stage folders, like a trainee's `exercises/`, under the
/// target folder (so the copies build with the shared target folder).
struct Tree {
    _dir: tempfile::TempDir,
    clone: PathBuf,
}

impl Tree {
    fn new(stages: &[&str]) -> Tree {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(base).unwrap();
        let dir = tempfile::tempdir_in(base).unwrap();
        let clone = dir.path().join("clone");
        for stage in stages {
            copy_tree(
                &root().join("exercises").join(stage),
                &clone.join("exercises").join(stage),
            );
        }
        Tree { _dir: dir, clone }
    }

    fn exercises(&self) -> PathBuf {
        self.clone.join("exercises")
    }

    fn progress(&self) -> String {
        std::fs::read_to_string(self.clone.join(".lab-progress")).unwrap_or_default()
    }

    /// Every file below `exercises/` (the watcher must add none).
    fn files(&self) -> Vec<String> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, base, out);
                } else {
                    out.push(path.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.exercises(), &self.exercises(), &mut out);
        out.sort();
        out
    }
}

/// A running `cargo xtask watch`, its stdout read as it comes; killed when
/// dropped.
struct Watch {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<String>>,
}

impl Watch {
    fn start(args: &[&str]) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("watch")
            .args(args)
            .current_dir(root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the xtask binary starts");
        let out = Arc::new(Mutex::new(String::new()));
        for mut stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let out = out.clone();
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    out.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buffer[..n]));
                }
            });
        }
        Watch {
            stdin: child.stdin.take(),
            child,
            out,
        }
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Waits until the output holds `text` `times` times.
    fn wait_for(&self, text: &str, times: usize, limit: Duration) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.output().matches(text).count() >= times {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "after {} s the watch had not printed {text:?} {times} time(s):\n{}",
            limit.as_secs(),
            self.output()
        );
    }

    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    fn wait_exit(&mut self, limit: Duration) -> i32 {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the watch did not end:\n{}", self.output());
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn copy_solution(stage: &str, part: &str, tree: &Tree) {
    copy_tree(
        &root().join("solutions").join(stage).join(part),
        &tree.exercises().join(stage).join(part),
    );
}

const CHECK: Duration = Duration::from_secs(240);

/// The trainee's loop: the starter of 01 fails; a hint on `h`; a swap file
/// and a build folder change nothing; saving the solution reruns the check,
/// which passes and moves on to 04; saving 04's solution ends the watch.
#[test]
fn a_save_reruns_the_check_and_passing_moves_on() {
    let _turn = serial();
    let tree = Tree::new(&["01-health", "04-kubernetes"]);
    let before = tree.files();
    let exercises = tree.exercises();
    let mut watch = Watch::start(&["01", "04", "--dir", exercises.to_str().unwrap()]);

    watch.wait_for("01-health not yet.", 1, CHECK);
    let out = watch.output();
    assert!(out.contains("✗ "), "{out}");
    assert!(
        out.contains("hint    : "),
        "the failing check's hint:\n{out}"
    );
    // The hints are the starter README's folded blocks, however many.
    let readme = std::fs::read_to_string(exercises.join("01-health/README.md")).unwrap();
    let hints = readme.matches("<details>").count();
    let first = readme
        .split("<summary>")
        .nth(1)
        .and_then(|s| s.split("</summary>").next())
        .unwrap()
        .trim()
        .to_string();
    assert!(
        out.contains(&format!("h Enter: a hint (0 of {hints} shown")),
        "{out}"
    );
    assert!(
        tree.progress().contains("current 01-health"),
        "{}",
        tree.progress()
    );

    watch.type_line("h");
    watch.wait_for(
        &format!("Hint 1 of {hints} for 01-health: {first}"),
        1,
        Duration::from_secs(10),
    );
    assert!(
        tree.progress().contains("hints 01-health 1"),
        "{}",
        tree.progress()
    );

    // Editor files and build output are not a save.
    let stage = tree.exercises().join("01-health");
    std::fs::write(stage.join("src/.lib.rs.swp"), "swap").unwrap();
    std::fs::write(stage.join("src/lib.rs~"), "backup").unwrap();
    std::fs::create_dir_all(stage.join("target/debug")).unwrap();
    std::fs::write(stage.join("target/debug/health"), "binary").unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        watch.output().matches("Checking 01-health").count(),
        1,
        "an editor file or target/ triggered a check:\n{}",
        watch.output()
    );
    for junk in ["src/.lib.rs.swp", "src/lib.rs~", "target"] {
        let path = stage.join(junk);
        if path.is_dir() {
            std::fs::remove_dir_all(path).unwrap();
        } else {
            std::fs::remove_file(path).unwrap();
        }
    }

    // Saving the solution's sources: checked again, passes, on to 04.
    copy_solution("01-health", "src", &tree);
    watch.wait_for("Checking 01-health", 2, Duration::from_secs(20));
    watch.wait_for("✓ 01-health passed. On to 04-kubernetes", 1, CHECK);
    watch.wait_for("04-kubernetes not yet.", 1, CHECK);
    assert!(
        tree.progress().contains("passed 01-health"),
        "{}",
        tree.progress()
    );
    assert!(tree.progress().contains("current 04-kubernetes"));

    copy_solution("04-kubernetes", "k8s", &tree);
    let code = watch.wait_exit(CHECK);
    let out = watch.output();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Every stage you are watching passed (01, 04)"),
        "{out}"
    );
    assert!(tree.progress().contains("passed 04-kubernetes"));
    // The watcher wrote nothing into the stage folders: the files are the
    // ones handed out (the copied solution files replaced starter files).
    assert_eq!(tree.files(), before);
}

/// `hint NN` shows a stage's folded hints one by one, in order, remembers
/// how many, and says when there are no more; `--all` shows them again.
#[test]
fn hints_come_in_order_and_are_remembered() {
    let tree = Tree::new(&["01-health"]);
    let readme = tree.exercises().join("01-health/README.md");
    std::fs::write(
        &readme,
        "# 01\n\n<details><summary>First</summary>\n\nThe first hint.\n</details>\n\n<details><summary>Second</summary>\n\nThe second hint.\n</details>\n",
    )
    .unwrap();
    let dir = tree.exercises();
    let dir = dir.to_str().unwrap();
    let one = support::xtask(&["hint", "01", "--dir", dir]);
    assert!(one.success, "{one:?}");
    assert!(
        one.stdout.contains("Hint 1 of 2 for 01-health: First"),
        "{one:?}"
    );
    assert!(one.stdout.contains("The first hint."), "{one:?}");
    assert!(!one.stdout.contains("The second hint."), "{one:?}");
    assert!(
        one.stdout
            .contains("1 more: run `cargo xtask hint 01` again")
    );
    let two = support::xtask(&["hint", "1", "--dir", dir]);
    assert!(
        two.stdout.contains("Hint 2 of 2 for 01-health: Second"),
        "{two:?}"
    );
    assert!(two.stdout.contains("The second hint."), "{two:?}");
    assert!(
        tree.progress().contains("hints 01-health 2"),
        "{}",
        tree.progress()
    );
    let three = support::xtask(&["hint", "01", "--dir", dir]);
    assert!(three.success, "{three:?}");
    assert!(
        three
            .stdout
            .contains("You have seen all 2 hints of 01-health"),
        "{three:?}"
    );
    let all = support::xtask(&["hint", "01", "--all", "--dir", dir]);
    assert!(all.stdout.contains("The first hint.") && all.stdout.contains("The second hint."));
    // Without a stage: the one the progress file says the trainee is on.
    std::fs::write(
        tree.clone.join(".lab-progress"),
        "current 01-health\nhints 01-health 0\n",
    )
    .unwrap();
    let current = support::xtask(&["hint", "--dir", dir]);
    assert!(
        current.stdout.contains("Hint 1 of 2 for 01-health"),
        "{current:?}"
    );
}

/// The progress file is ignored by git in the kit, so a trainee's clone
/// never commits it.
#[test]
fn the_progress_file_is_ignored_by_git() {
    let gitignore = std::fs::read_to_string(root().join(".gitignore")).unwrap();
    assert!(
        gitignore.lines().any(|l| l.trim() == "/.lab-progress"),
        "{gitignore}"
    );
}

/// Every stage of the folder passed before: the watch says so and ends
/// instead of waiting; a folder without stage folders is refused.
#[test]
fn a_finished_course_says_so_and_ends() {
    let tree = Tree::new(&["04-kubernetes"]);
    std::fs::write(
        tree.clone.join(".lab-progress"),
        "current 04-kubernetes\npassed 04-kubernetes\n",
    )
    .unwrap();
    let dir = tree.exercises();
    let run = support::xtask(&["watch", "--dir", dir.to_str().unwrap()]);
    assert!(run.success, "{run:?}");
    assert!(
        run.stdout.contains("Every stage has passed already"),
        "{run:?}"
    );
    let empty = tempfile::tempdir().unwrap();
    let run = support::xtask(&["watch", "--dir", empty.path().to_str().unwrap()]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("no stage folders in it"), "{run:?}");
}
