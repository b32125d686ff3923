//! `cargo xtask book`: builds, serves or checks the mdbook guide with pinned
//! tools, installed with `cargo install --locked` into `target/tools` when
//! missing.
//!
//! The three tools must agree on mdbook's preprocessor/renderer protocol,
//! which changed in mdbook 0.5: mdbook-mermaid 0.17 (mdbook-preprocessor 0.5)
//! and mdbook-linkcheck2 0.13 (mdbook-renderer 0.5) are the first releases
//! built for it. Bump the three together and rebuild the book.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::paths;

/// (crate, version, binary): the exact tools the book is built with.
pub const PINNED: &[(&str, &str, &str)] = &[
    ("mdbook", "0.5.4", "mdbook"),
    ("mdbook-mermaid", "0.17.1", "mdbook-mermaid"),
    ("mdbook-linkcheck2", "0.13.0", "mdbook-linkcheck2"),
];

/// Pages screenshotted by `book check` besides every page with a diagram.
const SCREENSHOT_PAGES: &[&str] = &["introduction", "setup", "01-health"];

const CHROMIUM_HINT: &str = "install Chromium: `sudo apt-get install -y chromium` (Debian/Ubuntu), \
     `brew install --cask chromium` (macOS), or point CHROMIUM at a Chrome/Chromium binary";

fn tools_root() -> PathBuf {
    paths::target_dir().join("tools")
}

fn book_dir() -> PathBuf {
    paths::root().join("book")
}

/// Where the HTML renderer writes (a subfolder, since linkcheck2 is a second backend).
pub fn html_dir() -> PathBuf {
    book_dir().join("book").join("html")
}

/// The path of a pinned tool, installing it first when missing.
pub fn ensure(binary: &str) -> anyhow::Result<PathBuf> {
    let &(krate, version, _) = PINNED
        .iter()
        .find(|(_, _, b)| *b == binary)
        .with_context(|| format!("{binary} is not a pinned book tool"))?;
    let path = tools_root().join("bin").join(binary);
    let installed = duct::cmd!(&path, "--version")
        .stdout_capture()
        .stderr_null()
        .unchecked()
        .run()
        .ok()
        .filter(|out| out.status.success())
        .is_some_and(|out| String::from_utf8_lossy(&out.stdout).contains(version));
    if !installed {
        eprintln!(
            "installing {krate} {version} into {} (once; a few minutes)",
            paths::show(&tools_root())
        );
        // Its own target folder: no waiting for the lock of the shared one;
        // the three tools share it, so their common dependencies build once.
        duct::cmd!(
            crate::cargo::program(),
            "install",
            "--locked",
            "--quiet",
            krate,
            "--version",
            version,
            "--root",
            tools_root(),
            "--target-dir",
            tools_root().join("build")
        )
        // The tools render one small book: optimising them fully costs a
        // cold install about 40% more time (8.4 against 5.9 minutes on two
        // cores) and saves nothing noticeable.
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1")
        .run()
        .with_context(|| {
            format!(
                "`cargo install --locked {krate} --version {version}` failed; see the output above"
            )
        })?;
    }
    Ok(path)
}

/// `cargo xtask book tools`: every pinned tool installed (only those
/// missing are built); returns the folder they are in.
pub fn install_tools() -> anyhow::Result<PathBuf> {
    for (_, _, binary) in PINNED {
        ensure(binary)?;
    }
    // About 1 GB of artifacts nothing else uses, once every tool is there.
    std::fs::remove_dir_all(tools_root().join("build")).ok();
    Ok(tools_root().join("bin"))
}

/// mdbook, with every pinned tool installed and first on PATH (mdbook finds
/// its preprocessors and backends as `mdbook-<name>` on PATH).
fn mdbook() -> anyhow::Result<(PathBuf, OsString)> {
    let mut dirs = vec![install_tools()?];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let path = std::env::join_paths(dirs).context("PATH holds an unusable folder")?;
    Ok((tools_root().join("bin").join("mdbook"), path))
}

pub fn build() -> anyhow::Result<()> {
    let (mdbook, path) = mdbook()?;
    let out = duct::cmd!(mdbook, "build", book_dir())
        .env("PATH", path)
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()
        .context("could not run mdbook")?;
    // mdbook-mermaid 0.17.1 is locked to mdbook-preprocessor 0.5.0 and warns
    // on every run that mdbook 0.5.4 calls it; the protocol is the same.
    let log = String::from_utf8_lossy(&out.stdout);
    for line in log.lines() {
        if !line.contains("mdbook-mermaid preprocessor was built against version") {
            eprintln!("{line}");
        }
    }
    if !out.status.success() {
        bail!("`mdbook build book` failed (a broken link fails it too); see the output above");
    }
    // mdbook only warns about an `{{#include}}` it cannot read, and renders
    // the page without the code: for this book every warning is an error.
    let warnings = log
        .lines()
        .filter(|l| l.trim_start().starts_with("WARN"))
        .count();
    if warnings > 0 {
        bail!(
            "mdbook printed {warnings} warning line(s) (above), such as an include it cannot read; fix them"
        );
    }
    println!(
        "✓ the book is in {} (0 broken links)",
        paths::show(&html_dir().join("index.html"))
    );
    Ok(())
}

pub fn serve() -> anyhow::Result<()> {
    let (mdbook, path) = mdbook()?;
    duct::cmd!(mdbook, "serve", "--open", book_dir())
        .env("PATH", path)
        .run()
        .context("`mdbook serve` failed; see the output above")?;
    Ok(())
}

/// The chapters listed in `SUMMARY.md`, as paths relative to `book/src`.
pub fn summary_chapters(summary: &str) -> Vec<String> {
    summary
        .lines()
        .filter_map(|line| {
            let start = line.find("](")? + 2;
            let end = start + line[start..].find(')')?;
            let target = line[start..end].trim();
            (!target.is_empty() && target.ends_with(".md")).then(|| target.to_string())
        })
        .collect()
}

/// How many ```mermaid blocks a chapter's Markdown holds.
pub fn mermaid_blocks(markdown: &str) -> usize {
    markdown
        .lines()
        .filter(|line| line.trim_start().starts_with("```mermaid"))
        .count()
}

/// The plain text at the start of the first `# ` heading (up to any inline
/// markup, which the page renders as tags).
fn title(markdown: &str) -> Option<String> {
    markdown
        .lines()
        .find_map(|line| line.strip_prefix("# "))
        .map(|t| {
            t[..t.find(['`', '*', '_', '[']).unwrap_or(t.len())]
                .trim()
                .to_string()
        })
        .filter(|t| !t.is_empty())
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// What is wrong with a rendered page: its DOM after scripts ran.
/// `diagrams` is the number of mermaid blocks in its Markdown.
pub fn dom_problems(dom: &str, title: Option<&str>, diagrams: usize) -> Vec<String> {
    let mut problems = Vec::new();
    if !dom.contains("<main") {
        problems.push("no <main> element: the page did not render".to_string());
    }
    if let Some(title) = title
        && !dom.contains(&escape_html(title))
    {
        problems.push(format!("its title {title:?} is not on the page"));
    }
    let blocks: Vec<&str> = dom.split("<pre class=\"mermaid\"").skip(1).collect();
    if blocks.len() != diagrams {
        problems.push(format!(
            "{diagrams} mermaid block(s) in the Markdown, {} <pre class=\"mermaid\"> on the page",
            blocks.len()
        ));
    }
    for (n, block) in blocks.iter().enumerate() {
        let inside = block.split_once('>').map_or("", |(_, rest)| rest);
        let inside = &inside[..inside.find("</pre>").unwrap_or(inside.len())];
        if inside.contains("Syntax error in text")
            || inside.contains("aria-roledescription=\"error\"")
        {
            problems.push(format!(
                "diagram {} has a mermaid syntax error (the page shows mermaid's error picture)",
                n + 1
            ));
        } else if !inside.trim_start().starts_with("<svg") {
            problems.push(format!(
                "diagram {} did not become an SVG (mermaid.min.js did not load or run)",
                n + 1
            ));
        }
    }
    problems
}

/// A Chromium (or Chrome) binary: `$CHROMIUM`, else the usual names on PATH.
pub fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        // A name on PATH or a path; one that does not exist counts as missing.
        return which::which(&path).ok();
    }
    ["chromium", "chromium-browser", "google-chrome", "chrome"]
        .iter()
        .find_map(|name| which::which(name).ok())
}

/// Runs headless Chromium with the flags the kit uses everywhere and `extra`
/// arguments, each run with a fresh profile folder; returns stdout.
pub fn run_chromium(chromium: &Path, extra: &[OsString]) -> anyhow::Result<String> {
    let profile = tempfile::tempdir().context("a temporary Chromium profile folder")?;
    let mut args: Vec<OsString> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let mut data_dir = OsString::from("--user-data-dir=");
    data_dir.push(profile.path());
    args.push(data_dir);
    args.extend(extra.iter().cloned());
    let handle = duct::cmd(chromium, &args)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .with_context(|| format!("could not start {}", chromium.display()))?;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(out) = handle.try_wait()? {
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            if !out.status.success() {
                bail!(
                    "chromium exited with {}: {}",
                    out.status,
                    crate::proc::tail(&String::from_utf8_lossy(&out.stderr), 5)
                );
            }
            return Ok(stdout);
        }
        if Instant::now() > deadline {
            handle.kill().ok();
            bail!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `cargo xtask book check`: build, then render every chapter in headless
/// Chromium, check that it rendered and that each diagram became an SVG, and
/// take screenshots into `target/book-screenshots`.
pub fn check() -> anyhow::Result<bool> {
    let Some(chromium) = chromium() else {
        bail!("`book check` needs headless Chromium, which is not installed: {CHROMIUM_HINT}");
    };
    build()?;
    let src = book_dir().join("src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).context("book/src/SUMMARY.md")?;
    let shots = paths::target_dir().join("book-screenshots");
    std::fs::create_dir_all(&shots).with_context(|| shots.display().to_string())?;
    let mut ok = true;
    let (mut pages, mut diagrams_total) = (0, 0);
    for chapter in summary_chapters(&summary) {
        let markdown = std::fs::read_to_string(src.join(&chapter))
            .with_context(|| format!("book/src/{chapter}"))?;
        let html = html_dir().join(&chapter).with_extension("html");
        let url = OsString::from(format!(
            "file://{}",
            html.display()
                .to_string()
                .replace('%', "%25")
                .replace(' ', "%20")
        ));
        let diagrams = mermaid_blocks(&markdown);
        let dom = run_chromium(
            &chromium,
            &[
                "--virtual-time-budget=5000".into(),
                "--dump-dom".into(),
                url.clone(),
            ],
        )
        .with_context(|| format!("rendering {chapter}"))?;
        let problems = dom_problems(&dom, title(&markdown).as_deref(), diagrams);
        pages += 1;
        diagrams_total += diagrams;
        let stem = Path::new(&chapter)
            .with_extension("")
            .display()
            .to_string()
            .replace('/', "-");
        let mut shot_note = String::new();
        if diagrams > 0 || SCREENSHOT_PAGES.contains(&stem.as_str()) {
            let png = shots.join(format!("{stem}.png"));
            let mut arg = OsString::from("--screenshot=");
            arg.push(&png);
            run_chromium(
                &chromium,
                &[
                    "--virtual-time-budget=5000".into(),
                    "--window-size=1280,2000".into(),
                    arg,
                    url,
                ],
            )
            .with_context(|| format!("screenshot of {chapter}"))?;
            let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
            if size < 10_000 {
                ok = false;
                println!(
                    "  ✗ {chapter}: the screenshot {} is missing or blank ({size} bytes)",
                    paths::show(&png)
                );
            }
            shot_note = format!(", screenshot {}", paths::show(&png));
        }
        if problems.is_empty() {
            println!("  ✓ {chapter}: rendered, {diagrams} diagram(s) as SVG{shot_note}");
        } else {
            ok = false;
            for problem in problems {
                println!("  ✗ {chapter}: {problem}");
            }
        }
    }
    if ok {
        println!("✓ {pages} pages rendered in Chromium, {diagrams_total} diagrams became SVGs");
    } else {
        println!("✗ some pages did not render as they should (see above)");
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_chapters_are_the_linked_md_files() {
        let summary = "# Summary\n\n[Introduction](introduction.md)\n\n# Part 1\n\n- [A](a.md)\n  - [B](dir/b.md)\n- [Draft]()\n";
        assert_eq!(
            summary_chapters(summary),
            ["introduction.md", "a.md", "dir/b.md"]
        );
    }

    #[test]
    fn a_rendered_diagram_passes() {
        let dom = "<html><main><h1>Containers</h1><pre class=\"mermaid\" data-processed=\"true\"><svg id=\"mermaid-0\"></svg></pre></main></html>";
        assert!(dom_problems(dom, Some("Containers"), 1).is_empty());
    }

    #[test]
    fn an_unrendered_or_broken_diagram_fails() {
        let raw = "<main><h1>T</h1><pre class=\"mermaid\">graph TD\nA --&gt; B</pre></main>";
        assert_eq!(dom_problems(raw, Some("T"), 1).len(), 1);
        let error = "<main><h1>T</h1><pre class=\"mermaid\" data-processed=\"true\"><div id=\"dmermaid-1\"><svg aria-roledescription=\"error\">Syntax error in text</svg></div></pre></main>";
        let problems = dom_problems(error, Some("T"), 1);
        assert!(
            problems.len() == 1 && problems[0].contains("syntax error"),
            "{problems:?}"
        );
        let lost = "<main><h1>T</h1></main>";
        assert_eq!(dom_problems(lost, Some("T"), 1).len(), 1);
        assert_eq!(dom_problems("<body></body>", Some("T"), 0).len(), 2);
    }
}
