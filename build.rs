//! Build script: on a Windows host it hands the build to `wdk-build` (WDK paths,
//! KMDF link arguments, the driver's configuration from `[package.metadata.wdk]`);
//! on any other host it does nothing, because the WDK does not exist there and no
//! `wdk*` crate is compiled (see the target tables in Cargo.toml).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo::rerun-if-changed=build.rs");
    #[cfg(windows)]
    wdk_build::configure_wdk_binary_build()?;
    Ok(())
}
