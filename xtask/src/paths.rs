//! Where things are in the kit.

use std::path::{Path, PathBuf};

/// The repository root (the folder holding the workspace `Cargo.toml`).
/// `LAB_KIT_ROOT` points it elsewhere: the kit's tests lint altered copies.
pub fn root() -> PathBuf {
    if let Some(root) = std::env::var_os("LAB_KIT_ROOT") {
        return PathBuf::from(root);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one folder below the repository root")
        .to_path_buf()
}

/// The shared target folder every stage builds into (see `.cargo/config.toml`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// A path as the user would type it: relative to the repository when inside it.
pub fn show(path: &Path) -> String {
    match path.strip_prefix(root()) {
        // The kit's root itself (`verify 08 --dir .` checks the kit's own chart).
        Ok(p) if p.as_os_str().is_empty() => ".".into(),
        Ok(p) => p.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}
