//! `cargo xtask bench ...`: figures the course sets goals for, printed, never asserted.

mod chart;
pub mod ibdb;
mod images;
mod middleware;
mod wrk;

pub use images::images;
pub use middleware::middleware;

/// Builds `targets` of solutions/06-ibdb in release mode, through
/// `cargo::in_stage`: the exercise folder's package has the same name, and
/// without forgetting its fingerprints cargo may call a binary built from
/// the other folder fresh (seen: a bench measured a stale example).
fn release_build(targets: &[&str]) -> anyhow::Result<std::path::PathBuf> {
    use anyhow::Context;
    let stage = crate::paths::root().join("solutions/06-ibdb");
    let mut args = vec!["build", "--release", "--quiet"];
    args.extend_from_slice(targets);
    let out = crate::cargo::in_stage(&stage, &args)
        .unchecked()
        .run()
        .context("running cargo")?;
    if !out.status.success() {
        anyhow::bail!(
            "cargo {} failed in solutions/06-ibdb (its errors are above)",
            args.join(" ")
        );
    }
    Ok(crate::paths::target_dir().join("release"))
}
