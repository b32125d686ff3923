//! `cargo xtask book`: builds (or serves) the mdbook guide with pinned tools,
//! installed with `cargo install --locked` into `target/tools` when missing.

use std::path::PathBuf;

use anyhow::Context;

use crate::paths;

/// (crate, version, binary): the exact tools the book is built with.
pub const PINNED: &[(&str, &str, &str)] = &[("mdbook", "0.5.4", "mdbook")];

fn tools_root() -> PathBuf {
    paths::target_dir().join("tools")
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
            "installing {krate} {version} into {} (once)",
            paths::show(&tools_root())
        );
        duct::cmd!(
            crate::cargo::program(),
            "install",
            "--locked",
            "--quiet",
            krate,
            "--version",
            version,
            "--root",
            tools_root()
        )
        .run()
        .with_context(|| {
            format!(
                "`cargo install --locked {krate} --version {version}` failed; see the output above"
            )
        })?;
    }
    Ok(path)
}

pub fn build() -> anyhow::Result<()> {
    let mdbook = ensure("mdbook")?;
    let book = paths::root().join("book");
    duct::cmd!(mdbook, "build", &book)
        .run()
        .context("`mdbook build book` failed; see the output above")?;
    println!("The book is in {}", paths::show(&book.join("book")));
    Ok(())
}

pub fn serve() -> anyhow::Result<()> {
    let mdbook = ensure("mdbook")?;
    duct::cmd!(mdbook, "serve", "--open", paths::root().join("book"))
        .run()
        .context("`mdbook serve` failed; see the output above")?;
    Ok(())
}
