//! Shared helpers of the integration tests: building the cross images, and Wine sessions
//! (a prefix, the ksframe service and its device, the driver side's log).

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

/// Wine 8's loader and server, as Debian installs them.
pub const WINE: &str = "/usr/lib/wine/wine64";
pub const WINESERVER: &str = "/usr/lib/wine/wineserver";

/// `wine64` in `prefix`, without the Mono/Gecko installers and without a display.
pub fn wine(prefix: &Path) -> Command {
    let mut c = Command::new(WINE);
    c.env("WINEPREFIX", prefix).env("WINEDLLOVERRIDES", "mscoree,mshtml=").env("DISPLAY", "");
    c
}

/// `wineserver <arg>` for `prefix` (`-w` waits for it to go idle, `-k` ends it).
pub fn wineserver(prefix: &Path, arg: &str) {
    let _ = Command::new(WINESERVER).arg(arg).env("WINEPREFIX", prefix).output();
}

/// The test-only user-mode DLLs (ksuser.dll, bcryptprimitives.dll; tests/wine-user,
/// mingw-w64), built into `target/wine-user`; returns that directory.
pub fn wine_user_dlls() -> PathBuf {
    let out_dir = repo_root().join("target").join("wine-user");
    let out = Command::new("bash")
        .arg(repo_root().join("tests/wine-user/build.sh"))
        .arg(&out_dir)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "wine-user DLLs: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out_dir
}

/// Registers the ksframe service and the device instance the stand-in's interfaces
/// hang on, before the driver registers them: with a class and a FriendlyName
/// (ksvideosrc drops a device without FriendlyName or DeviceDesc: kshelpers.c
/// ks_enumerate_devices), and no Service value (else Wine's PnP manager would enumerate
/// it as a root device). GSTREAMER-NOTES, "Device discovery", blocker 2.
pub fn register_service_and_device(prefix: &Path) {
    std::fs::write(
        prefix.join("drive_c/ksframe.reg"),
        "REGEDIT4\n\n[HKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Services\\ksframe]\n\
         \"Type\"=dword:00000001\n\"Start\"=dword:00000003\n\"ErrorControl\"=dword:00000001\n\
         \"ImagePath\"=\"C:\\\\windows\\\\system32\\\\drivers\\\\ksframe.sys\"\n\n\
         [-HKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Enum\\ROOT\\KSFRAME]\n\n\
         [HKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Enum\\ROOT\\KSFRAME\\0000]\n\
         \"ClassGUID\"=\"{6BDD1FC6-810F-11D0-BEC7-08002BE2092F}\"\n\
         \"FriendlyName\"=\"ksframe Camera\"\n",
    )
    .unwrap();
    let imported = wine(prefix).args(["regedit", "/S", "C:\\ksframe.reg"]).output().unwrap();
    assert!(imported.status.success(), "regedit: {}", String::from_utf8_lossy(&imported.stderr));
    wineserver(prefix, "-w");
}

/// Starts the ksframe service. `net start` returns once DriverEntry has returned;
/// winedevice.exe (and the driver) stay until `wineserver -k`, and its output (the
/// DbgPrint lines) goes to `net.log` in the prefix ([`end_wine_session`] reads it).
pub fn start_service(prefix: &Path) -> std::process::Child {
    let log = std::fs::File::create(prefix.join("net.log")).unwrap();
    Command::new("timeout")
        .args(["60", WINE, "net", "start", "ksframe"])
        .env("WINEPREFIX", prefix)
        .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
        .env("DISPLAY", "")
        .env("WINEDEBUG", "-all,warn+debugstr,err+ntoskrnl,err+module")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("net start")
}

/// Ends the prefix's Wine session, removes the prefix and returns the driver side's log.
pub fn end_wine_session(prefix: &Path) -> String {
    wineserver(prefix, "-k");
    let log = std::fs::read_to_string(prefix.join("net.log")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(prefix);
    log
}
