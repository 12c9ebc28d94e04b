//! An independent Kernel Streaming client against the real image: GStreamer's unmodified
//! `ksvideosrc` (gst-plugins-bad `sys/winks`, from GStreamer's official Windows binaries,
//! the PyPI wheels of 1.28.7) runs under Wine 8.0 against the cross-built ksframe.sys
//! and the stand-in ks.sys serving user mode (tests/standin-ks/src/serve.rs), in one
//! Wine session:
//!
//! - `gst-device-monitor-1.0 Video/Source` shows the device ("ksframe Camera") with caps
//!   for every format the capture pin advertises (`ksframe::avstream::FORMATS`);
//! - `gst-launch-1.0 -v ksvideosrc num-buffers=30 ! <caps of the format> ! fakesink` for
//!   every format: 30 buffers of the format's image size with increasing timestamps, EOS;
//! - one run into a file (`filesink`): every frame is the capture pin's test pattern
//!   (checked with ksprobe's own checker, tools/ksprobe/src/pattern.rs), numbered 0..30;
//! - a client killed while streaming (taskkill /f): the reads it had queued are
//!   cancelled when its pin is closed, and the device serves the next client;
//! - the driver side: a pin per run, created with the format asked for and closed, and
//!   the reads ksvideosrc still has queued at STOP cancelled (the stand-in's log).
//!
//! No format is left out: ksvideosrc turns any FOURCC-style subtype GUID into
//! `video/x-raw, format=<fourcc>` (gst-plugins-bad sys/winks/ksvideohelpers.c
//! `ks_video_format_to_structure`, the MEDIASUBTYPE_FOURCC branch), so both YUY2 and NV12
//! are offered; a format it could not map would be missing from the device monitor.
//!
//! What Wine 8.0 lacks is bridged as for ksprobe, by the test-only ksuser.dll of
//! tests/wine-user (KsCreatePin, and a replacement for setupapi's stub
//! SetupDiGetDeviceInterfaceAlias: ../shared/GSTREAMER-NOTES.md, "Device discovery"),
//! plus the device instance key with a FriendlyName written before `net start`.
//!
//! The wheels (about 103 MiB) are downloaded once by tests/wine-gstreamer/fetch.sh
//! (`pip download`) into a cache reused between runs; failing to fetch them fails this
//! test. Skipped, saying so, only when Wine is not installed (scripts/test-all.sh
//! installs it, and pip).

#![cfg(not(miri))]

mod common;

#[allow(dead_code)]
#[path = "../tools/ksprobe/src/pattern.rs"]
mod pattern;

use ksframe::avstream::{FORMATS, Format};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use common::{WINE, wine, wineserver};

const FRAMES: usize = 30;

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The unpacked GStreamer tree (bin/, plugins/, libexec/), fetched on first use.
fn gstreamer() -> PathBuf {
    let out = Command::new("bash")
        .arg(common::repo_root().join("tests/wine-gstreamer/fetch.sh"))
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "fetching GStreamer's Windows wheels failed (network and `python3 -m pip` are needed; \
         scripts/test-all.sh installs pip):\n{}",
        text(&out)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A booted prefix, made once and copied for each run (`wineboot -i` takes 8-16 s; a
/// copy about 2 s). Keyed on Wine's version.
fn prefix_template() -> PathBuf {
    let version = Command::new(WINE).arg("--version").output().expect("wine --version");
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let template = common::repo_root().join("target").join("wine").join("gstreamer-template");
    let stamp = template.join(".ksframe-template");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(version.as_str()) {
        return template;
    }
    let _ = std::fs::remove_dir_all(&template);
    std::fs::create_dir_all(&template).unwrap();
    let boot = wine(&template).args(["wineboot", "-i"]).output().expect("wineboot");
    assert!(boot.status.success(), "wineboot: {}", text(&boot));
    wineserver(&template, "-w");
    std::fs::write(&stamp, &version).unwrap();
    template
}

struct Session {
    prefix: PathBuf,
    /// `Z:\...\bin` of the GStreamer tree.
    bin: String,
}

impl Session {
    fn start(gst: &Path) -> (Session, std::process::Child) {
        let root = common::repo_root();
        let prefix = root.join("target").join("wine").join("gstreamer");
        let _ = std::fs::remove_dir_all(&prefix);
        let copied = Command::new("cp").arg("-a").arg(prefix_template()).arg(&prefix).status().unwrap();
        assert!(copied.success(), "copying the prefix template");
        let system32 = prefix.join("drive_c/windows/system32");
        let standin = common::build_cross_image("tests/standin-ks/Cargo.toml", "ks", "standin");
        std::fs::copy(standin, system32.join("drivers/ks.sys")).unwrap();
        std::fs::copy(common::ksframe_image(), system32.join("drivers/ksframe.sys")).unwrap();
        // The test-only ksuser.dll replaces Wine's in system32 (used as native:
        // WINEDLLOVERRIDES ksuser=n). Measured: next to gstwinks.dll or on WINEPATH it is
        // not found when GStreamer loads the plugin (c0000135), in system32 it is.
        std::fs::copy(common::wine_user_dlls().join("ksuser.dll"), system32.join("ksuser.dll")).unwrap();
        // Only the three plugins used: the registry scan of all 251 takes about a minute
        // under Wine (GSTREAMER-NOTES, "Getting GStreamer without Python").
        let plugins = prefix.join("drive_c/gst/plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        for entry in std::fs::read_dir(gst.join("plugins")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), plugins.join(entry.file_name())).unwrap();
        }
        common::register_service_and_device(&prefix);
        let net = common::start_service(&prefix);
        let bin = format!("Z:{}", gst.join("bin").display()).replace('/', "\\");
        (Session { prefix, bin }, net)
    }

    /// One GStreamer tool run (`exe` from the tree's bin/), as GSTREAMER-NOTES sets it up:
    /// the plugin directory, a writable registry, and no forked plugin scanner (which
    /// can outlive the command and keep wineserver alive).
    fn gst(&self, exe: &str, args: &[&str]) -> Output {
        self.gst_command(exe, args).output().expect("wine")
    }

    fn gst_command(&self, exe: &str, args: &[&str]) -> Command {
        let mut c = Command::new("timeout");
        c.arg("60")
            .arg(WINE)
            .arg(format!("{}\\{exe}", self.bin))
            .args(args)
            .current_dir(self.prefix.join("drive_c/gst"))
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=;ksuser=n")
            .env("WINEDEBUG", "-all,err+module")
            .env("WINEPATH", &self.bin)
            .env("DISPLAY", "")
            .env("GST_PLUGIN_SYSTEM_PATH", "C:\\gst\\plugins")
            .env("GST_PLUGIN_PATH", "C:\\gst\\plugins")
            .env("GST_REGISTRY", "C:\\gst\\registry.bin")
            .env("GST_REGISTRY_FORK", "no")
            .env("GST_DEBUG", "*ks*:3,2")
            .env("GST_DEBUG_NO_COLOR", "1");
        c
    }

    /// The driver side's log so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self.prefix.join("net.log")).unwrap_or_default()
    }

    /// Ends the session; returns the driver side's log.
    fn finish(self) -> String {
        common::end_wine_session(&self.prefix)
    }
}

fn fourcc(code: u32) -> String {
    code.to_le_bytes().iter().map(|c| *c as char).collect()
}

/// The caps ksvideosrc makes of a format's KS_DATARANGE_VIDEO (ksvideohelpers.c: format
/// from the FOURCC subtype, fixed size, framerate from the 333333 interval, and
/// pixel-aspect-ratio 1/1 guessed for width/height >= 1.2778).
fn caps(f: &Format) -> String {
    format!(
        "video/x-raw, format={}, width={}, height={}, framerate=30/1, pixel-aspect-ratio=1/1",
        fourcc(f.fourcc),
        f.width,
        f.height
    )
}

/// `fakesink silent=false` under `-v`: (bytes, pts in ns, duration in ns) per buffer.
fn buffers(out: &str) -> Vec<(u64, u64, u64)> {
    fn time(s: &str) -> Option<u64> {
        let (hms, frac) = s.split_once('.')?;
        let mut it = hms.split(':').map(|x| x.parse::<u64>().ok());
        let (h, m, sec) = (it.next()??, it.next()??, it.next()??);
        Some(((h * 60 + m) * 60 + sec) * 1_000_000_000 + frac.get(..9)?.parse::<u64>().ok()?)
    }
    out.lines()
        .filter(|l| l.contains("last-message = chain"))
        .filter_map(|l| {
            let bytes = l.split_once(") (")?.1.split_once(" bytes")?.0.trim().parse().ok()?;
            let pts = time(l.split_once("pts: ")?.1.split(',').next()?)?;
            let duration = time(l.split_once("duration: ")?.1.split(',').next()?)?;
            Some((bytes, pts, duration))
        })
        .collect()
}

#[test]
fn gstreamer_ksvideosrc_under_wine() {
    if !Path::new(WINE).is_file() {
        eprintln!("SKIPPED: Wine is not installed ({WINE}); scripts/test-all.sh installs it");
        return;
    }
    // Fetch and build everything first, so that the cycle measures Wine alone.
    let gst = gstreamer();
    let _ = (common::ksframe_image(), common::wine_user_dlls(), prefix_template());
    let _ = common::build_cross_image("tests/standin-ks/Cargo.toml", "ks", "standin");
    let started = Instant::now();
    let (session, mut net) = Session::start(&gst);
    let mut problems = Vec::new();
    if !net.wait().is_ok_and(|s| s.success()) {
        problems.push("net start ksframe failed".to_string());
    }

    let monitor = session.gst("gst-device-monitor-1.0.exe", &["Video/Source"]);
    let shown = text(&monitor);
    if !monitor.status.success() || !shown.contains("name  : ksframe Camera") {
        problems.push(format!("gst-device-monitor does not show 'ksframe Camera':\n{shown}"));
    }
    let listed: Vec<&str> =
        shown.lines().filter_map(|l| l.find("video/x-raw").map(|i| l[i..].trim())).collect();
    let wanted: Vec<String> = FORMATS.iter().map(caps).collect();
    if listed != wanted {
        problems.push(format!("device monitor caps {listed:#?}, expected {wanted:#?}"));
    }

    // A client that dies while streaming: ksvideosrc without num-buffers, killed the
    // Windows way (taskkill /f: TerminateProcess) once the pin runs and its reads are
    // queued. The process's handles close, and the reads still queued at close come back
    // cancelled (AVStream cancels a pin's queue at close: ReactOS pin.c; serve.rs
    // close_pin); the device then serves the next client as before.
    let f = &FORMATS[0];
    let filter = format!("video/x-raw,format={},width={},height={}", fourcc(f.fourcc), f.width, f.height);
    let runs_before = session.log().matches("ksframe: pin state 2 -> 3").count();
    let mut doomed = session
        .gst_command("gst-launch-1.0.exe", &["ksvideosrc", "!", &filter, "!", "fakesink"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("wine");
    let waited = Instant::now();
    while session.log().matches("ksframe: pin state 2 -> 3").count() == runs_before
        && waited.elapsed().as_secs() < 20
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // A few frames in: reads are queued at any moment while it runs.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let kill = wine(&session.prefix).args(["taskkill", "/f", "/im", "gst-launch-1.0.exe"]).output().unwrap();
    let _ = doomed.wait();
    if !kill.status.success() {
        problems.push(format!("taskkill: {}", text(&kill)));
    }

    let mut streamed = Vec::new();
    for (i, f) in FORMATS.iter().enumerate() {
        let filter = format!("video/x-raw,format={},width={},height={}", fourcc(f.fourcc), f.width, f.height);
        let n = format!("num-buffers={FRAMES}");
        let t = Instant::now();
        let out = session.gst(
            "gst-launch-1.0.exe",
            &["-v", "ksvideosrc", &n, "!", &filter, "!", "fakesink", "silent=false"],
        );
        let secs = t.elapsed().as_secs_f64();
        let all = text(&out);
        let got = buffers(&all);
        let size = u64::from(f.image_size());
        let sizes_ok = got.iter().all(|b| b.0 == size);
        let increasing = got.windows(2).all(|w| w[1].1 > w[0].1);
        let durations_ok = got.iter().all(|b| b.2 == 33_333_333);
        // Paced by the driver's 30 fps timer: 29 intervals of 1/30 s between the first and
        // the last buffer (0.967 s), not a burst; the upper bound leaves room for a
        // loaded machine. ksvideosrc's pts is its pipeline clock at the read's completion
        // minus the duration, never the driver's PresentationTime (gstksvideosrc.c
        // gst_ks_video_src_timestamp_buffer), so this measures the pacing.
        let span = got.last().zip(got.first()).map_or(0.0, |(l, f)| l.1.saturating_sub(f.1) as f64 / 1e9);
        let paced = (0.8..2.0).contains(&span);
        if !out.status.success()
            || !all.contains("Got EOS from element")
            || got.len() != FRAMES
            || !sizes_ok
            || !increasing
            || !durations_ok
            || !paced
        {
            problems.push(format!(
                "format {i} ({filter}): exit {:?}, {} buffers (of {size} bytes: {sizes_ok}), pts increasing: \
                 {increasing}, 1/30 s durations: {durations_ok}, first to last pts {span:.3} s:\n{all}",
                out.status.code(),
                got.len()
            ));
        }
        streamed.push(format!("{filter}: {} buffers, pts span {span:.3} s, run {secs:.2} s", got.len()));
    }

    // One run into a file: the frames' bytes are the capture pin's test pattern.
    let f = &FORMATS[0];
    let filter = format!("video/x-raw,format={},width={},height={}", fourcc(f.fourcc), f.width, f.height);
    let n = format!("num-buffers={FRAMES}");
    let out = session.gst(
        "gst-launch-1.0.exe",
        &["ksvideosrc", &n, "!", &filter, "!", "filesink", "location=C:/gst/frames.raw"],
    );
    let bytes = std::fs::read(session.prefix.join("drive_c/gst/frames.raw")).unwrap_or_default();
    let size = f.image_size() as usize;
    let numbers: Vec<Result<u64, pattern::Mismatch>> = bytes.chunks(size).map(pattern::check).collect();
    let consecutive = numbers.iter().enumerate().all(|(i, n)| n.as_ref().is_ok_and(|n| *n == i as u64));
    if !out.status.success() || bytes.len() != FRAMES * size || !consecutive {
        problems.push(format!(
            "filesink: exit {:?}, {} bytes (expected {}), frames {numbers:?}:\n{}",
            out.status.code(),
            bytes.len(),
            FRAMES * size,
            text(&out)
        ));
    }

    let log = session.finish();
    let cycle = started.elapsed();
    for fatal in ["Unhandled page fault", "unimplemented function", "KSSTANDIN panic", "KSSTANDIN fail"] {
        if log.contains(fatal) {
            problems.push(format!("driver side: '{fatal}'"));
        }
    }
    // A pin per gst-launch run, each with the format asked for, each closed; ksvideosrc
    // keeps reads in flight, so each run's STOP finds some queued and cancels them.
    // The killed client's pin first (closed, not stopped), then one per gst-launch run.
    let runs = FORMATS.len() + 1;
    let creates: Vec<&str> = log.lines().filter(|l| l.contains("KSSTANDIN serve pin_create")).collect();
    let mut images = vec![format!("image={}", FORMATS[0].image_size())];
    images.extend(FORMATS.iter().map(|f| format!("image={}", f.image_size())));
    images.push(format!("image={}", FORMATS[0].image_size()));
    let formats_ok = creates.len() == runs + 1
        && creates
            .iter()
            .zip(&images)
            .all(|(l, image)| l.contains("status=0x00000000") && l.trim_end().ends_with(image.as_str()));
    if !formats_ok {
        problems.push(format!("pins created {creates:#?}, expected {} with {images:?}", runs + 1));
    }
    let closes: Vec<u32> = log
        .lines()
        .filter_map(|l| {
            let rest = l.split_once("KSSTANDIN serve pin_close status=0x00000000 cancelled=")?.1;
            rest.split_whitespace().next()?.parse().ok()
        })
        .collect();
    // The killed client's reads are cancelled at close; the others' queues are empty by
    // then (cancelled at STOP).
    if closes.len() != runs + 1 || closes[0] == 0 || closes[1..].iter().any(|n| *n != 0) {
        problems.push(format!(
            "reads cancelled at each pin's close: {closes:?}, expected some, then {runs} zeros"
        ));
    }
    let cancelled: Vec<u32> = log
        .lines()
        .filter_map(|l| l.split_once("KSSTANDIN serve cancelled_at_stop count=")?.1.trim().parse().ok())
        .collect();
    if cancelled.len() != runs || cancelled.contains(&0) {
        problems
            .push(format!("reads cancelled at STOP per run: {cancelled:?}, expected {runs} runs with some"));
    }
    assert!(problems.is_empty(), "{problems:#?}\n--- driver side ---\n{log}");
    eprintln!(
        "GStreamer ksvideosrc under Wine: cycle {:.1} s; device monitor: {} caps; {}; filesink: {} frames \
         of the pattern; reads cancelled at STOP per run {cancelled:?}, at close {closes:?}",
        cycle.as_secs_f64(),
        listed.len(),
        streamed.join("; "),
        numbers.len()
    );
    assert!(cycle.as_secs() < 30, "the cycle took {:.1} s", cycle.as_secs_f64());
}
