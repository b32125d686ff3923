//! `cargo xtask smoke`: the maintainers' run on a real cluster. It runs the
//! cluster commands one after the other as a trainee would (`up`, `deploy
//! --solutions`, stage 04's check with a cluster required, both chaos labs,
//! `down`) and writes everything they print, with times and exit statuses,
//! to a transcript the book shows (book/src/smoke/). Nothing else in the
//! kit runs a cluster; until someone runs this, the transcript says so.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use crate::paths;

/// The steps, as `cargo xtask` arguments, and what each shows.
pub const STEPS: &[(&[&str], &str)] = &[
    (&["up"], "the k3d cluster and the CloudNativePG operator"),
    (
        &["deploy", "--solutions"],
        "the reference IBDb and its database (Helm)",
    ),
    (
        &["verify", "--solutions", "04"],
        "stage 04 with its live part (LAB_REQUIRE_CLUSTER=1)",
    ),
    (
        &["chaos", "failover", "--svg", "book/src/smoke/failover.svg"],
        "the primary killed under load",
    ),
    (
        &[
            "chaos",
            "switchover",
            "--svg",
            "book/src/smoke/switchover.svg",
        ],
        "a planned switchover under load",
    ),
];

/// Where the transcript goes by default: next to the book page that shows it.
pub fn default_transcript() -> PathBuf {
    paths::root().join("book/src/smoke/transcript.txt")
}

/// Runs (or prints) the steps; `down` runs at the end unless `keep`.
pub fn run(dry_run: bool, keep: bool, transcript: Option<PathBuf>) -> anyhow::Result<bool> {
    let transcript = transcript.unwrap_or_else(default_transcript);
    let mut steps: Vec<(Vec<&str>, &str)> = STEPS.iter().map(|(a, w)| (a.to_vec(), *w)).collect();
    if !keep {
        steps.push((vec!["down"], "the cluster deleted again"));
    }
    if dry_run {
        for (args, what) in &steps {
            println!("$ cargo xtask {}   # {what}", args.join(" "));
        }
        println!(
            "# everything printed goes to {}, with times and exit statuses",
            paths::show(&transcript)
        );
        return Ok(true);
    }
    if let Some(parent) = transcript.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::File::create(&transcript)
        .with_context(|| format!("creating {}", transcript.display()))?;
    let exe = std::env::current_exe().context("the xtask binary")?;
    let versions = tool_versions();
    writeln!(
        file,
        "cargo xtask smoke: a run on a real cluster (started at unix time {})\n{versions}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    )?;
    let mut all_ok = true;
    for (args, what) in &steps {
        let is_down = args.first() == Some(&"down");
        if !all_ok && !is_down {
            continue;
        }
        let header = format!("\n$ cargo xtask {}   # {what}", args.join(" "));
        println!("{header}");
        writeln!(file, "{header}")?;
        let start = Instant::now();
        let reader = duct::cmd(&exe, args)
            .dir(paths::root())
            .env("LAB_REQUIRE_CLUSTER", "1")
            .stderr_to_stdout()
            .unchecked()
            .reader()?;
        let mut lines = BufReader::new(&reader);
        let mut line = String::new();
        while lines.read_line(&mut line)? > 0 {
            print!("{line}");
            file.write_all(line.as_bytes())?;
            line.clear();
        }
        let status = reader
            .try_wait()?
            .map(|o| o.status.success())
            .unwrap_or(false);
        let footer = format!(
            "[{} after {} s]",
            if status { "ok" } else { "FAILED" },
            start.elapsed().as_secs()
        );
        println!("{footer}");
        writeln!(file, "{footer}")?;
        all_ok &= status;
    }
    println!("transcript: {}", paths::show(&transcript));
    Ok(all_ok)
}

fn tool_versions() -> String {
    let mut out = String::new();
    for (tool, args) in [
        ("k3d", &["version"][..]),
        ("kubectl", &["version", "--client"][..]),
        ("helm", &["version", "--short"][..]),
        (
            "docker",
            &["version", "--format", "{{.Server.Version}}"][..],
        ),
    ] {
        let text = duct::cmd(tool, args)
            .stderr_to_stdout()
            .stdout_capture()
            .unchecked()
            .run()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .replace('\n', "; ")
            })
            .unwrap_or_else(|e| format!("not found ({e})"));
        out.push_str(&format!("{tool}: {text}\n"));
    }
    out
}
