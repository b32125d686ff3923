//! The guide: its structure (SUMMARY, includes, stage chapter sections, the
//! course outline's topics) always; its build with the pinned tools and its
//! rendering in headless Chromium when those are available (loud skips
//! otherwise, failures with `LAB_REQUIRE_ALL=1`).

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// `cargo xtask book` writes one output folder: builds take turns.
static BUILD: Mutex<()> = Mutex::new(());

fn src() -> PathBuf {
    support::root().join("book").join("src")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Chapter paths in SUMMARY.md, relative to book/src.
fn chapters() -> Vec<String> {
    read(&src().join("SUMMARY.md"))
        .lines()
        .filter_map(|line| {
            let start = line.find("](")? + 2;
            let end = start + line[start..].find(')')?;
            let target = line[start..end].trim();
            target.ends_with(".md").then(|| target.to_string())
        })
        .collect()
}

/// The text of every chapter in SUMMARY, joined.
fn whole_book() -> String {
    chapters()
        .iter()
        .map(|c| read(&src().join(c)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn flag(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1" || v == "true")
}

/// Whether the pinned book tools can be used: installed already, or required
/// (`LAB_REQUIRE_ALL=1` / `LAB_REQUIRE_MDBOOK=1`, as on CI), in which case
/// `cargo xtask book` installs them now. Otherwise a loud skip.
fn book_tools_ready() -> bool {
    let required = flag("LAB_REQUIRE_ALL") || flag("LAB_REQUIRE_MDBOOK");
    if !pinned_tools_installed() && required {
        let _turn = BUILD.lock().unwrap_or_else(|p| p.into_inner());
        if !pinned_tools_installed() {
            let run = support::xtask(&["book"]);
            assert!(
                run.success,
                "installing the book tools failed:\n{}\n{}",
                run.stdout, run.stderr
            );
        }
    }
    support::tool_available(
        "mdbook",
        pinned_tools_installed(),
        "run `cargo xtask book` once: it installs the pinned mdbook, mdbook-mermaid and mdbook-linkcheck2 into target/tools",
    )
}

/// Where `cargo xtask book` installs its tools (as xtask's `paths::target_dir`).
fn tools_bin() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::root().join("target"))
        .join("tools/bin")
}

fn pinned_tools_installed() -> bool {
    let bin = tools_bin();
    ["mdbook", "mdbook-mermaid", "mdbook-linkcheck2"]
        .iter()
        .all(|b| bin.join(b).is_file())
}

#[test]
fn summary_lists_only_existing_chapters() {
    let chapters = chapters();
    assert!(chapters.len() >= 3, "SUMMARY.md lists {chapters:?}");
    for chapter in &chapters {
        assert!(
            src().join(chapter).is_file(),
            "SUMMARY.md lists {chapter}, which does not exist in book/src (mdbook would refuse to build)"
        );
    }
    for required in [
        "introduction.md",
        "setup.md",
        "distributed-systems.md",
        "containers.md",
    ] {
        assert!(
            chapters.iter().any(|c| c == required),
            "SUMMARY.md does not list {required}"
        );
    }
    assert!(
        chapters.iter().any(|c| c.starts_with("instructors/")),
        "SUMMARY.md has no instructor part"
    );
}

/// In every chapter of SUMMARY (drafts outside it are not built).
#[test]
fn every_include_names_an_existing_file_and_anchor() {
    let files: Vec<PathBuf> = chapters().iter().map(|c| src().join(c)).collect();
    let mut seen = 0;
    for file in files {
        let text = read(&file);
        let mut in_fence = false;
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                in_fence = !in_fence;
            }
            let mut rest = line;
            while let Some(start) = rest.find("{{#include ") {
                let after = &rest[start + "{{#include ".len()..];
                let end = after
                    .find("}}")
                    .unwrap_or_else(|| panic!("{}:{}: unclosed include", file.display(), n + 1));
                let spec = after[..end].trim();
                rest = &after[end..];
                seen += 1;
                let (path, anchor) = match spec.split_once(':') {
                    Some((p, a)) => (p, Some(a)),
                    None => (spec, None),
                };
                let target = file.parent().unwrap().join(path);
                let where_ = format!("{}:{}", file.display(), n + 1);
                assert!(
                    target.is_file(),
                    "{where_}: includes {path}, which does not exist"
                );
                assert!(
                    in_fence || path.ends_with(".md"),
                    "{where_}: includes {path} outside a code block: put it in a ```rust (or ```yaml, ...) fence, or it renders as Markdown"
                );
                let Some(anchor) = anchor else { continue };
                assert!(
                    !anchor.is_empty() && !anchor.chars().all(|c| c.is_ascii_digit() || c == ':'),
                    "{where_}: includes {path} by line numbers ({anchor}); use an ANCHOR marker"
                );
                let body = read(&target);
                for marker in [format!("ANCHOR: {anchor}"), format!("ANCHOR_END: {anchor}")] {
                    assert!(
                        body.lines().any(|l| l.trim_end().ends_with(&marker)),
                        "{where_}: {path} has no `{marker}` line"
                    );
                }
            }
        }
    }
    assert!(
        seen > 0,
        "no {{{{#include}}}} at all: code must be included from the solutions"
    );
}

/// Rust code comes from the solutions through `{{#include ...:anchor}}`, so
/// it always compiles and never drifts: no ```rust block without one.
#[test]
fn rust_code_is_included_not_pasted() {
    let mut problems = Vec::new();
    for chapter in chapters() {
        let text = read(&src().join(&chapter));
        let mut lines = text.lines().enumerate();
        while let Some((n, line)) = lines.next() {
            if !line.trim_start().starts_with("```rust") {
                continue;
            }
            let mut included = false;
            for (_, body) in lines.by_ref() {
                if body.trim_start().starts_with("```") {
                    break;
                }
                included |= body.contains("{{#include");
            }
            if !included {
                problems.push(format!(
                    "{chapter}:{}: a ```rust block with pasted code; include it from solutions/ with an ANCHOR",
                    n + 1
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Stage chapters (`NN-slug.md`): goals, steps, hints folded away, the check
/// command with the output a trainee should see, the solution behind a spoiler.
#[test]
fn stage_chapters_have_the_required_sections() {
    let stage_chapters: Vec<String> = chapters()
        .into_iter()
        .filter(|c| {
            c.len() > 3 && c.as_bytes()[..2].iter().all(u8::is_ascii_digit) && &c[2..3] == "-"
        })
        .collect();
    assert!(!stage_chapters.is_empty(), "no stage chapter in SUMMARY.md");
    let mut problems = Vec::new();
    for chapter in stage_chapters {
        let text = read(&src().join(&chapter));
        let lower = text.to_lowercase();
        let number = &chapter[..2];
        let mut need = |ok: bool, what: &str| {
            if !ok {
                problems.push(format!("{chapter}: {what}"));
            }
        };
        need(
            lower.contains("goal"),
            "no goal(s) (a `**Goal:**` line or a `## Goals` section)",
        );
        need(
            text.lines().any(|l| l.trim_start().starts_with("1. ")),
            "no numbered steps (a `1. ...` list)",
        );
        need(
            text.contains("<details>") && lower.contains("<summary>hint"),
            "no hint folded away (`<details><summary>Hint: ...</summary>`)",
        );
        need(
            text.contains(&format!("cargo xtask verify {number}")),
            &format!("no check command (`cargo xtask verify {number}` in a console block)"),
        );
        need(
            text.contains("```text") && text.contains('✓'),
            "no expected check output (a ```text block with the ✓ lines)",
        );
        match lower.find("<summary>spoiler") {
            None => need(
                false,
                "no solution behind a spoiler (`<details><summary>Spoiler: ...`)",
            ),
            Some(at) => need(
                text[at..].contains("{{#include"),
                "the spoiler includes no solution code ({{#include ...:anchor}})",
            ),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every topic of the course outline (../shared/course/outline.md), by the
/// terms a section about it cannot avoid (case-insensitive, whole book), and
/// the chapter(s) expected to teach it.
const OUTLINE: &[(&str, &str, &[&str])] = &[
    (
        "distributed systems",
        "distributed-systems.md",
        &[
            "distributed system",
            "passing messages",
            "microservice",
            "global clock",
            "synchroni",
            "independent failures",
        ],
    ),
    (
        "CAP theorem",
        "distributed-systems.md",
        &[
            "CAP",
            "consistency",
            "availability",
            "partition tolerance",
            "most recent write",
            "network partition",
        ],
    ),
    (
        "eventual consistency",
        "distributed-systems.md",
        &[
            "eventual consistency",
            "asynchronously",
            "availability and partition tolerance",
        ],
    ),
    (
        "containers",
        "containers.md",
        &[
            "OS-level virtualization",
            "host kernel",
            "virtual machine",
            "hypervisor",
            "dependency hell",
            "fast start",
        ],
    ),
    (
        "container history",
        "containers.md",
        &[
            "1979",
            "chroot",
            "2000",
            "FreeBSD jails",
            "2006",
            "cgroups",
            "2008",
            "LXC",
            "2013",
            "Docker",
            "2015",
            "OCI",
            "2017",
            "containerd",
            "2018",
            "Firecracker",
        ],
    ),
    (
        "CNCF",
        "containers.md",
        &[
            "Cloud Native Computing Foundation",
            "Linux Foundation",
            "sandbox",
            "incubating",
            "graduated",
            "Prometheus",
            "Envoy",
            "CoreDNS",
            "Argo",
        ],
    ),
    (
        "OCI",
        "containers.md",
        &[
            "Open Container Initiative",
            "runtime specification",
            "image specification",
            "distribution specification",
        ],
    ),
    (
        "images and the build flow",
        "containers.md, 02-dockerfile.md",
        &["Dockerfile", "layer", "cache", "build context", "docker.io"],
    ),
    (
        "Dockerfile instructions",
        "containers.md, 02-dockerfile.md",
        &["FROM", "WORKDIR", "COPY", "RUN", "CMD", "ENTRYPOINT", "tag"],
    ),
    (
        "smaller images",
        "03-multi-stage.md",
        &["multi-stage", "distroless", "non-root", "USER"],
    ),
    (
        "Kubernetes components",
        "kubernetes.md",
        &[
            "API server",
            "scheduler",
            "etcd",
            "Raft",
            "kubelet",
            "kube-proxy",
            "container runtime",
        ],
    ),
    (
        "Kubernetes resources",
        "kubernetes.md",
        &[
            "controller",
            "reconcil",
            "Pod",
            "Deployment",
            "ReplicaSet",
            "rolling update",
            "selector",
            "template",
        ],
    ),
    (
        "Services",
        "kubernetes.md, 04-kubernetes.md",
        &[
            "Service",
            "ClusterIP",
            "NodePort",
            "LoadBalancer",
            "ExternalName",
            "targetPort",
        ],
    ),
    (
        "configuration",
        "kubernetes.md, 04-kubernetes.md",
        &["ConfigMap", "Secret"],
    ),
    (
        "CRDs",
        "kubernetes.md",
        &[
            "Custom Resource Definition",
            "CRD",
            "cert-manager",
            "operator",
        ],
    ),
    (
        "tools",
        "kubernetes.md, 04-kubernetes.md",
        &["k3d", "kubectl get nodes"],
    ),
    (
        "Skaffold and Helm",
        "08-ship.md",
        &[
            "Skaffold",
            "skaffold init",
            "skaffold dev",
            "profiles",
            "Helm",
            "chart",
            "repositories",
            "helm upgrade",
            "helm rollback",
        ],
    ),
    (
        "PostgreSQL operator",
        "05-postgres.md",
        &["CloudNativePG", "kubectl get clusters"],
    ),
    ("IBDb", "06-ibdb.md", &["IBDb", "OpenAPI", "review"]),
    (
        "testing and mocks",
        "07-mocks.md",
        &[
            "BookStore",
            "trait",
            "mock",
            "mockall",
            "automock",
            "mockgen",
            "go generate",
        ],
    ),
    (
        "Go counterparts",
        "01-health.md, 05-postgres.md, 07-mocks.md",
        &["Gin", "axum", "GORM", "sqlx"],
    ),
];

#[test]
fn every_outline_topic_is_covered() {
    let book = whole_book().to_lowercase();
    let missing: Vec<String> = OUTLINE
        .iter()
        .flat_map(|(topic, chapter, terms)| {
            let book = &book;
            terms
                .iter()
                .filter(move |t| !book.contains(&t.to_lowercase()))
                .map(move |t| format!("{topic} (in {chapter}): {t:?}"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "outline topics the book does not cover yet (term not found in any SUMMARY chapter):\n{}",
        missing.join("\n")
    );
}

/// "Setting up" teaches the README's two commands, word for word.
#[test]
fn setting_up_shows_the_readme_commands() {
    let readme = read(&support::root().join("README.md"));
    let setup = read(&src().join("setup.md"));
    let commands: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("$ "))
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|c| *c == "cargo test" || c.starts_with("cargo xtask verify"))
        .collect();
    assert!(
        commands.len() >= 2,
        "README.md shows no `$ cargo xtask verify ...` / `$ cargo test` commands"
    );
    for command in commands {
        assert!(
            setup.contains(command),
            "book/src/setup.md does not show the README's `{command}`"
        );
    }
}

#[test]
fn every_chapter_has_a_title_and_no_filler() {
    for chapter in chapters() {
        let text = read(&src().join(&chapter));
        assert!(
            text.lines().next().is_some_and(|l| l.starts_with("# ")),
            "{chapter} does not start with a `# Title` line"
        );
        for filler in ["lorem ipsum", "TBD", "coming soon"] {
            assert!(!text.contains(filler), "{chapter} contains {filler:?}");
        }
    }
}

#[test]
fn the_book_builds_with_the_pinned_tools_and_no_broken_link() {
    if !book_tools_ready() {
        return;
    }
    let _turn = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    let run = support::xtask(&["book"]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let html = support::root().join("book/book/html");
    for chapter in chapters() {
        let page = html.join(&chapter).with_extension("html");
        assert!(page.is_file(), "{} was not written", page.display());
    }
    // mdbook 0.5 copies additional-js with a content hash in the name.
    let intro = read(&html.join("introduction.html"));
    assert!(
        intro.contains("src=\"mermaid-") && intro.contains(".min.js\""),
        "pages do not load the book's own mermaid.min.js"
    );
    let bundled = std::fs::read_dir(&html).unwrap().flatten().any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        name.starts_with("mermaid") && name.ends_with(".min.js")
    });
    assert!(
        bundled,
        "mermaid.min.js is not copied into the book: diagrams need it offline"
    );
    let containers = read(&html.join("containers.html"));
    assert!(
        containers.contains("<pre class=\"mermaid\">"),
        "mdbook-mermaid did not turn ```mermaid blocks into <pre class=\"mermaid\">"
    );
}

/// The link checker is wired in and fails the build: a tiny book with the
/// kit's book.toml and one broken link must not build.
#[test]
fn a_broken_link_fails_the_build() {
    if !book_tools_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        support::root().join("book/book.toml"),
        dir.path().join("book.toml"),
    )
    .unwrap();
    for asset in ["mermaid.min.js", "mermaid-init.js"] {
        std::fs::copy(
            support::root().join("book").join(asset),
            dir.path().join(asset),
        )
        .unwrap();
    }
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(
        dir.path().join("src/SUMMARY.md"),
        "# Summary\n\n- [One](one.md)\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("src/one.md"),
        "# One\n\nSee [the missing chapter](missing.md).\n",
    )
    .unwrap();
    let bin = tools_bin();
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let out = duct::cmd!(bin.join("mdbook"), "build", dir.path())
        .env("PATH", path)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a broken link did not fail the build:\n{stderr}"
    );
    assert!(
        stderr.contains("missing.md"),
        "the error names the broken link:\n{stderr}"
    );
}

#[test]
fn pages_render_and_diagrams_become_svg_in_chromium() {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .any(|name| which_on_path(name))
        || std::env::var_os("CHROMIUM").is_some();
    if !support::tool_available(
        "chromium",
        chromium,
        "sudo apt-get install -y chromium (Debian/Ubuntu)",
    ) {
        return;
    }
    if !book_tools_ready() {
        return;
    }
    let _turn = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    let run = support::xtask(&["book", "check"]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("diagrams became SVGs"),
        "{}",
        run.stdout
    );
    let shots = tools_bin()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("book-screenshots");
    for page in ["introduction", "distributed-systems", "containers"] {
        let png = shots.join(format!("{page}.png"));
        assert!(png.is_file(), "no screenshot {}", png.display());
    }
}

#[test]
fn book_check_without_chromium_says_how_to_install_it() {
    let run = support::xtask_with_env(&["book", "check"], &[("CHROMIUM", "/nonexistent/chromium")]);
    assert!(!run.success, "{}", run.stdout);
    assert!(
        run.stderr.contains("apt-get install -y chromium"),
        "no install hint:\n{}",
        run.stderr
    );
}

fn which_on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

/// The lines of `text` between `ANCHOR: anchor` and `ANCHOR_END: anchor`
/// (the whole file without one), each with whether it lies in an
/// `ANCHOR: starter` region: code only the solution has, which a TODO asks
/// the trainee to write (CONTRIBUTING.md, "The solution is the source of
/// the starter").
fn included_lines(text: &str, anchor: Option<&str>) -> Vec<(usize, bool)> {
    let marker = |line: &str, what: &str| {
        let t = line.trim_start();
        ["//", "#", "--"]
            .iter()
            .any(|c| t.strip_prefix(c).is_some_and(|rest| rest.trim() == what))
    };
    let mut out = Vec::new();
    let mut inside = anchor.is_none();
    let mut starter = false;
    for (n, line) in text.lines().enumerate() {
        if marker(line, "ANCHOR: starter") {
            starter = true;
            continue;
        }
        if marker(line, "ANCHOR_END: starter") {
            starter = false;
            continue;
        }
        if let Some(anchor) = anchor {
            if marker(line, &format!("ANCHOR: {anchor}")) {
                inside = true;
                continue;
            }
            if marker(line, &format!("ANCHOR_END: {anchor}")) {
                inside = false;
                continue;
            }
        }
        // mdbook leaves every marker line out of an include.
        if inside && !line.contains("ANCHOR:") && !line.contains("ANCHOR_END:") {
            out.push((n + 1, starter && !line.trim().is_empty()));
        }
    }
    out
}

/// Code a TODO asks for (lines in an `ANCHOR: starter` region of the
/// solution file) is included only inside a spoiler (`<details>`), so the
/// book never shows an answer in the open.
#[test]
fn todo_code_is_included_only_inside_a_spoiler() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for chapter in chapters() {
        let file = src().join(&chapter);
        let text = read(&file);
        let mut open_details = 0usize;
        for (n, line) in text.lines().enumerate() {
            // HTML blocks start a line; `<details>` quoted in prose does not count.
            let html = line.trim_start();
            if html.starts_with("<details") {
                open_details += 1;
            }
            if html.starts_with("</details>")
                || (html.starts_with("<details") && html.contains("</details>"))
            {
                open_details = open_details.saturating_sub(1);
            }
            let mut rest = line;
            while let Some(start) = rest.find("{{#include ") {
                let after = &rest[start + "{{#include ".len()..];
                let Some(end) = after.find("}}") else { break };
                let spec = after[..end].trim();
                rest = &after[end..];
                let (path, anchor) = match spec.split_once(':') {
                    Some((p, a)) => (p, Some(a)),
                    None => (spec, None),
                };
                let Ok(body) = std::fs::read_to_string(file.parent().unwrap().join(path)) else {
                    continue; // every_include_names_an_existing_file_and_anchor says so
                };
                checked += 1;
                let todo: Vec<usize> = included_lines(&body, anchor)
                    .into_iter()
                    .filter_map(|(line, starter)| starter.then_some(line))
                    .collect();
                if open_details == 0 && !todo.is_empty() {
                    problems.push(format!(
                        "book/src/{chapter}:{}: includes {spec} outside a spoiler, but lines {:?} of {path} are code a TODO asks for (inside `ANCHOR: starter`): \
                         move the include into a `<details><summary>Spoiler: ...</summary>` block, or include an anchor without the answer",
                        n + 1,
                        todo
                    ));
                }
            }
        }
    }
    assert!(checked > 0, "no include found to check");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The rule above decides mechanically: an anchor overlapping a starter
/// region is TODO code, one that does not is not.
#[test]
fn todo_code_is_told_apart_by_the_starter_regions() {
    let file = "\
// ANCHOR: given
fn given() {}
// ANCHOR_END: given
// ANCHOR: asked
fn asked() {
    // ANCHOR: starter| todo!()
    // ANCHOR: starter
    answer()
    // ANCHOR_END: starter
}
// ANCHOR_END: asked
";
    let todo = |anchor| {
        included_lines(file, Some(anchor))
            .iter()
            .filter(|(_, starter)| *starter)
            .count()
    };
    assert_eq!(todo("given"), 0);
    assert_eq!(todo("asked"), 1);
    assert_eq!(
        included_lines(file, None)
            .iter()
            .filter(|(_, s)| *s)
            .count(),
        1
    );
}
