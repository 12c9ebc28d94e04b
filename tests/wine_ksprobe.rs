//! A user-mode client through Wine's I/O manager: the real cross-built ksframe.sys runs
//! under Wine 8.0 with the stand-in ks.sys (tests/standin-ks, which then serves user
//! mode: src/serve.rs), and the cross-built `ksprobe.exe` (tools/ksprobe) runs as an
//! ordinary Windows process in the same prefix: `list`, `framing` for every format,
//! `stream` of 30 frames in two formats, and requests the driver must refuse. Every
//! answer is checked against the driver's descriptors (`ksframe::avstream::FORMATS`,
//! `Framing::for_image`), as a Windows client sees it: decoded structures, Win32 errors
//! and the NTSTATUS behind them.
//!
//! Wine's own ksuser.dll is stubs, and Rust's std needs a bcryptprimitives.dll Wine 8.0
//! lacks: both are replaced for ksprobe only, by the test-only DLLs of tests/wine-user
//! (`WINEDLLOVERRIDES=ksuser,bcryptprimitives=n`, the DLLs next to the exe).
//!
//! Skipped, saying so, only when Wine is not installed (scripts/test-all.sh installs it,
//! with the x86_64-pc-windows-gnu target and mingw-w64).

#![cfg(not(miri))]

mod common;

use ksframe::avstream::{FORMATS, FRAMES};
use ksframe::framing::Framing;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::{WINE, wine, wineserver};

const USER_TARGET: &str = "x86_64-pc-windows-gnu";

/// ksprobe.exe, cross-built for Windows user mode.
fn ksprobe_exe() -> PathBuf {
    let root = common::repo_root();
    let target_dir = root.join("target").join("ksprobe");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root)
        .args(["build", "--release", "--locked", "--target", USER_TARGET, "--manifest-path"])
        .arg(root.join("tools/ksprobe/Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .expect("cargo");
    assert!(out.status.success(), "ksprobe build failed:\n{}", String::from_utf8_lossy(&out.stderr));
    target_dir.join(USER_TARGET).join("release").join("ksprobe.exe")
}

/// One ksprobe run: exit status, stdout parsed as JSON, stderr.
struct Probe {
    ok: bool,
    json: Value,
    stderr: String,
}

struct Session {
    prefix: PathBuf,
    probe_dir: PathBuf,
}

impl Session {
    fn start(tag: &str) -> (Session, std::process::Child) {
        let root = common::repo_root();
        let prefix = root.join("target").join("wine").join(tag);
        let _ = std::fs::remove_dir_all(&prefix);
        std::fs::create_dir_all(&prefix).unwrap();
        let boot = wine(&prefix).args(["wineboot", "-i"]).output().expect("wineboot");
        assert!(boot.status.success(), "wineboot: {}", String::from_utf8_lossy(&boot.stderr));
        wineserver(&prefix, "-w");
        let drivers = prefix.join("drive_c/windows/system32/drivers");
        let standin = common::build_cross_image("tests/standin-ks/Cargo.toml", "ks", "standin");
        std::fs::copy(standin, drivers.join("ks.sys")).unwrap();
        std::fs::copy(common::ksframe_image(), drivers.join("ksframe.sys")).unwrap();
        let probe_dir = prefix.join("drive_c/probe");
        std::fs::create_dir_all(&probe_dir).unwrap();
        std::fs::copy(ksprobe_exe(), probe_dir.join("ksprobe.exe")).unwrap();
        let dlls = common::wine_user_dlls();
        for dll in ["ksuser.dll", "bcryptprimitives.dll"] {
            std::fs::copy(dlls.join(dll), probe_dir.join(dll)).unwrap();
        }
        common::register_service_and_device(&prefix);
        let net = common::start_service(&prefix);
        (Session { prefix, probe_dir }, net)
    }

    fn probe(&self, args: &[&str]) -> Probe {
        let out = Command::new("timeout")
            .arg("60")
            .arg(WINE)
            .arg("C:\\probe\\ksprobe.exe")
            .arg("--json")
            .args(args)
            .current_dir(&self.probe_dir)
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=;ksuser,bcryptprimitives=n")
            .env("WINEDEBUG", "-all,err+module")
            .env("DISPLAY", "")
            .output()
            .expect("ksprobe");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!("ksprobe {args:?}: not JSON ({e}):\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr))
        });
        Probe { ok: out.status.success(), json, stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
    }

    /// Ends the session; returns the driver side's log.
    fn finish(self) -> String {
        common::end_wine_session(&self.prefix)
    }
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn fourcc(code: u32) -> String {
    code.to_le_bytes().iter().map(|c| *c as char).collect()
}

/// `list`: the filter and its two pins, every range decoded as the descriptors say.
fn check_list(p: &Probe, problems: &mut Vec<String>) {
    let mut expect = |what: String, ok: bool| {
        if !ok {
            problems.push(what);
        }
    };
    expect(format!("list succeeded: {}", p.stderr), p.ok);
    let filters = p.json["filters"].as_array().cloned().unwrap_or_default();
    expect(format!("one filter listed: {}", p.json), filters.len() == 1);
    let Some(f) = filters.first() else { return };
    expect(
        "the filter's interface path".into(),
        f["path"].as_str().is_some_and(|s| s.contains("root#ksframe#0000#")),
    );
    expect("the device's FriendlyName".into(), f["name"] == "ksframe Camera");
    expect("KSPROPERTY_PIN_CTYPES = 2".into(), f["pin_types"] == 2);
    let pin = &f["pins"][0];
    expect("pin 0 is OUT".into(), pin["dataflow"] == "OUT (source)");
    expect("pin 0 communication BOTH".into(), pin["communication"] == "BOTH");
    expect("pin 0 category".into(), pin["category"] == "PINNAME_VIDEO_CAPTURE (PINNAME_CAPTURE)");
    expect("pin 1 is IN".into(), f["pins"][1]["dataflow"] == "IN (sink)");
    let ranges = pin["data_ranges"].as_array().cloned().unwrap_or_default();
    expect(format!("pin 0 has {} ranges", FORMATS.len()), ranges.len() == FORMATS.len());
    for (r, fmt) in ranges.iter().zip(FORMATS.iter()) {
        let v = &r["video"];
        let ok = v["width"] == fmt.width
            && v["height"] == fmt.height
            && v["bit_count"] == fmt.bits
            && v["compression"] == fourcc(fmt.fourcc)
            && v["image_size"] == fmt.image_size()
            && r["sample_size"] == fmt.image_size()
            && r["format_size"] == 296
            && v["min_frame_interval"] == 333_333
            && v["max_frame_interval"] == 333_333
            && r["specifier"] == "KSDATAFORMAT_SPECIFIER_VIDEOINFO"
            && r["sub_format"] == format!("KSDATAFORMAT_SUBTYPE_{}", fourcc(fmt.fourcc));
        expect(format!("range {} is {fmt:?}: {r}", r["index"]), ok);
    }
}

/// `framing`: each format's pin framing equals the driver's Framing for that image.
fn check_framing(p: &Probe, problems: &mut Vec<String>) {
    let mut expect = |what: String, ok: bool| {
        if !ok {
            problems.push(what);
        }
    };
    expect(format!("framing succeeded: {}", p.stderr), p.ok);
    let formats = p.json["formats"].as_array().cloned().unwrap_or_default();
    expect("a pin per format".into(), formats.len() == FORMATS.len());
    for (i, (f, fmt)) in formats.iter().zip(FORMATS.iter()).enumerate() {
        let want = Framing::for_image(fmt.image_size(), FRAMES).to_framing();
        let a = &f["allocator_framing"];
        expect(
            format!("format {i}: ALLOCATORFRAMING {a}"),
            a["frames"] == want.Frames
                && a["frame_size"] == want.FrameSize
                && a["file_alignment"] == want.FileAlignment
                && a["requirements_flags"] == want.OptionsFlags
                && a["pool_type"] == want.PoolType as u32,
        );
        // ALLOCATORFRAMING has a fixed size: the shipped ks.sys refuses the size query
        // with STATUS_BUFFER_TOO_SMALL, which a Windows client sees as
        // ERROR_INSUFFICIENT_BUFFER (KS-NOTES).
        let q = &f["allocator_framing_size_query"]["error"];
        expect(
            format!("format {i}: size query refused: {q}"),
            q["win32"] == 122 && q["ntstatus"] == 0xC000_0023u32,
        );
        let ex = &f["allocator_framing_ex"];
        let item = &ex["items"][0];
        expect(
            format!("format {i}: ALLOCATORFRAMING_EX {ex}"),
            ex["size"] == 112
                && ex["count_items"] == 1
                && item["frames"] == FRAMES
                && item["framing_range"]["min"] == fmt.image_size()
                && item["framing_range"]["max"] == fmt.image_size()
                && item["memory_type"] == "KSMEMORY_TYPE_KERNEL_NONPAGED"
                && item["file_alignment"] == want.FileAlignment,
        );
        expect(format!("format {i}: STREAM_ALLOCATOR Get is NULL"), f["stream_allocator"]["handle"] == "0x0");
        // No allocator on the pin yet: the private set answers STATUS_INVALID_DEVICE_STATE
        // (ERROR_BAD_COMMAND for a Windows client).
        let st = &f["statistics"]["error"];
        expect(
            format!("format {i}: statistics before an allocator: {st}"),
            st["win32"] == 22 && st["ntstatus"] == 0xC000_0184u32,
        );
    }
}

/// `stream 30`: every frame the driver's pattern, in order, timed, and a clean stop.
fn check_stream(p: &Probe, format: usize, problems: &mut Vec<String>) {
    let mut expect = |what: String, ok: bool| {
        if !ok {
            problems.push(what);
        }
    };
    let fmt = FORMATS[format];
    let want = Framing::for_image(fmt.image_size(), FRAMES).to_framing();
    expect(format!("stream {format} succeeded: {} {}", p.json, p.stderr), p.ok);
    let f = &p.json["frames"];
    expect(format!("stream {format}: 30 frames of {} bytes, the pattern intact: {f}", fmt.image_size()), {
        f["received"] == 30
            && f["pattern_intact"] == 30
            && f["wrong_size"] == 0
            && f["bytes_per_frame"] == fmt.image_size()
    });
    expect(
        format!("stream {format}: frame numbers and timestamps increase, TIMEVALID, on the 30 fps grid: {f}"),
        f["frame_numbers_increasing"] == true
            && f["timestamps_valid"] == true
            && f["timestamps_increasing"] == true
            && f["first_pts_100ns"].as_i64().is_some_and(|t| t > 0 && t % 333_333 == 0)
            && f["last_pts_100ns"].as_i64().is_some_and(|t| t % 333_333 == 0),
    );
    // 30 frames paced at 30 fps by the driver's timer DPC take about a second.
    expect(
        format!("stream {format}: paced at 30 fps: {f}"),
        f["seconds"].as_f64().is_some_and(|s| s > 0.85)
            && f["fps"].as_f64().is_some_and(|r| (25.0..=31.0).contains(&r)),
    );
    expect(format!("stream {format}: no drops: {f}"), f["drop_count"] == 0);
    // The reads still queued at STOP come back cancelled (one may complete with a frame
    // if it became due while the state walked down).
    expect(
        format!("stream {format}: the reads queued at STOP are cancelled: {f}"),
        u(&f["cancelled_at_stop"]) > 0
            && u(&f["cancelled_at_stop"]) + u(&f["completed_after_stop"]) == u(&f["queued_at_stop"]),
    );
    expect(
        format!("stream {format}: the state walk back to STOP"),
        p.json["stop_errors"].as_array().is_some_and(Vec::is_empty),
    );
    for key in ["statistics_before", "statistics_after"] {
        let s = &p.json[key];
        // The allocator KsCreateAllocator made on the pin (its pool of Frames frames);
        // a user-mode client's reads bring their own buffers, so no frame is taken from
        // it, and none is out (KS-NOTES: InitializeAllocator for user-mode clients).
        expect(
            format!("stream {format}: {key}: {s}"),
            s["frames"] == want.Frames
                && s["frame_size"] == want.FrameSize
                && s["allocations"] == 0
                && s["outstanding"] == 0
                && s["rejected_frees"] == 0,
        );
    }
    let before = &p.json["statistics_before_allocator"]["error"];
    expect(
        format!("stream {format}: no statistics before KsCreateAllocator: {before}"),
        before["ntstatus"] == 0xC000_0184u32,
    );
}

/// A refused request: ksprobe exits non-zero and shows the Win32 error and NTSTATUS.
fn check_refused(p: &Probe, what: &str, win32: u32, ntstatus: u32, problems: &mut Vec<String>) {
    let e = &p.json["error"];
    if p.ok || e["win32"] != win32 || e["ntstatus"] != ntstatus {
        problems.push(format!(
            "{what}: expected Win32 {win32} / NTSTATUS {ntstatus:#010x}, got {} (exit ok: {})",
            p.json, p.ok
        ));
    }
}

#[test]
fn ksprobe_through_wines_io_manager() {
    if !Path::new(WINE).is_file() {
        eprintln!("SKIPPED: Wine is not installed ({WINE}); scripts/test-all.sh installs it");
        return;
    }
    // Build everything first, so that the cycle measures Wine alone.
    let _ = (common::ksframe_image(), ksprobe_exe(), common::wine_user_dlls());
    let _ = common::build_cross_image("tests/standin-ks/Cargo.toml", "ks", "standin");
    let started = Instant::now();
    let (session, mut net) = Session::start("ksprobe");
    let net_ok = net.wait().is_ok_and(|s| s.success());
    let mut problems = Vec::new();
    if !net_ok {
        problems.push("net start ksframe failed".to_string());
    }
    let t = Instant::now();
    let list = session.probe(&["list"]);
    check_list(&list, &mut problems);
    let framing = session.probe(&["framing"]);
    check_framing(&framing, &mut problems);
    let mut streamed = Vec::new();
    for format in [0usize, 5] {
        let s = session.probe(&["stream", "30", "--format", &format.to_string()]);
        check_stream(&s, format, &mut problems);
        let f = &s.json["frames"];
        streamed.push(format!(
            "format {format}: {} frames, {} intact, {} s, {} fps, {} cancelled at STOP",
            f["received"], f["pattern_intact"], f["seconds"], f["fps"], f["cancelled_at_stop"]
        ));
    }
    // Requests the driver (and KS on its behalf) must refuse, as a Windows client sees
    // them: the Win32 error of RtlNtStatusToDosError and the NTSTATUS behind it.
    let unknown_set = session.probe(&[
        "get",
        "{01234567-89AB-CDEF-0123-456789ABCDEF}",
        "0",
        "--on-pin-format",
        "0",
        "--out",
        "8",
    ]);
    check_refused(&unknown_set, "an unknown property set on the pin", 1170, 0xC000_0230, &mut problems);
    let short =
        session.probe(&["get", "Connection", "3", "--on-pin-format", "0", "--input", "12", "--out", "24"]);
    check_refused(&short, "a KSPROPERTY of 12 bytes", 1784, 0xC000_0206, &mut problems);
    let small = session.probe(&["get", "Connection", "3", "--on-pin-format", "0", "--out", "8"]);
    check_refused(&small, "ALLOCATORFRAMING into 8 bytes", 122, 0xC000_0023, &mut problems);
    let bad_pin = session.probe(&["get", "Pin", "2", "--pin", "7", "--out", "4"]);
    check_refused(&bad_pin, "DATAFLOW of a pin the filter lacks", 87, 0xC000_000D, &mut problems);
    let size = session.probe(&["get", "Pin", "3", "--pin", "0"]);
    if !(size.ok && size.json["size_query"]["size"] == 8 + 296 * 6 && size.json["size_query"]["win32"] == 234)
    {
        problems
            .push(format!("the DATARANGES size query answers ERROR_MORE_DATA with the size: {}", size.json));
    }
    let probes = t.elapsed();
    let log = session.finish();
    let cycle = started.elapsed();
    for fatal in ["Unhandled page fault", "unimplemented function", "KSSTANDIN panic", "KSSTANDIN fail"] {
        if log.contains(fatal) {
            problems.push(format!("driver side: '{fatal}'"));
        }
    }
    // The scripted run's own IRQL probe makes exactly two violations; serving user mode
    // must add none.
    let violations = log.matches("KSSTANDIN irql_violation").count();
    if violations != 2 {
        problems.push(format!("IRQL violations while serving user mode: {}", violations.saturating_sub(2)));
    }
    for (what, line, n) in [
        (
            "a pin per framing format, per stream and per pin request",
            "KSSTANDIN serve pin_create status=0x00000000",
            6 + 2 + 3,
        ),
        ("every pin closed", "KSSTANDIN serve pin_close status=0x00000000", 6 + 2 + 3),
        ("an allocator per stream", "KSSTANDIN serve allocator_create frames=4", 2),
        ("every allocator closed", "KSSTANDIN serve allocator_close", 2),
    ] {
        let got = log.matches(line).count();
        if got != n {
            problems.push(format!("{what}: {got} '{line}' lines, expected {n}"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}\n--- driver side ---\n{log}");
    eprintln!(
        "ksprobe under Wine: cycle {:.1} s (prefix, net start, 11 ksprobe runs in {:.1} s, wineserver -k); {}",
        cycle.as_secs_f64(),
        probes.as_secs_f64(),
        streamed.join("; ")
    );
    assert!(cycle.as_secs() < 30, "the cycle took {:.1} s", cycle.as_secs_f64());
}
