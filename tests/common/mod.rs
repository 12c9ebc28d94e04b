//! Shared helpers of the integration tests: building the cross images.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The cross target every kernel image is built for.
pub const CROSS_TARGET: &str = "x86_64-pc-windows-msvc";

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Builds `package` (a manifest path relative to the repository root) for the cross
/// target in release mode, in its own target directory under `target/`, and returns
/// the path of `<lib_name>.dll`. Runs from the repository root so that
/// `rust-toolchain.toml` applies, with `.cargo/cross.toml` (linker, kernel link
/// arguments) passed explicitly.
pub fn build_cross_image(manifest: &str, lib_name: &str, target_subdir: &str) -> PathBuf {
    build_cross_image_with(manifest, lib_name, target_subdir, &[])
}

/// [`build_cross_image`] with extra cargo arguments (e.g. `--features`).
pub fn build_cross_image_with(
    manifest: &str,
    lib_name: &str,
    target_subdir: &str,
    extra: &[&str],
) -> PathBuf {
    let root = repo_root();
    let target_dir = root.join("target").join(target_subdir);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(root)
        .arg("--config")
        .arg(root.join(".cargo").join("cross.toml"))
        .args(["build", "--release", "--no-default-features", "--target", CROSS_TARGET, "--manifest-path"])
        .arg(root.join(manifest))
        .args(extra)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .expect("cannot run cargo");
    assert!(
        output.status.success(),
        "cross build of {manifest} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let image = target_dir.join(CROSS_TARGET).join("release").join(format!("{lib_name}.dll"));
    assert!(image.is_file(), "{} missing after the build", image.display());
    image
}

/// The ksframe kernel image (built once per test process).
pub fn ksframe_image() -> &'static Path {
    static IMAGE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    IMAGE.get_or_init(|| build_cross_image("Cargo.toml", "ksframe", "cross"))
}
