//! The real kernel image, executed: ksframe.sys (the cross build) runs under Wine as a
//! kernel service with the stand-in ks.sys of tests/standin-ks, which plays ks.sys
//! against the driver's descriptors, allocator and property handlers and logs each step
//! as a `KSSTANDIN ...` DbgPrint line. This test reads those lines (and the driver's own
//! `ksframe: ...` lines) from Wine's stderr and checks every step and result.
//!
//! A deliberately broken build (feature `broken-double-handout`: Allocate hands the same
//! frame out again) must fail the same checks, so the test is shown to bite.
//!
//! Skipped, saying so, only when Wine is not installed (scripts/test-all.sh installs it).

#![cfg(not(miri))]

mod common;

use ksframe::avstream::{FORMATS, FRAMES};
use ksframe::framing::Framing;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{WINE, wine, wineserver};

/// One run: the driver's and the stand-in's lines, and everything Wine printed.
struct Run {
    lines: Vec<String>,
    log: String,
    net_start_ok: bool,
}

impl Run {
    /// The key=value pairs of the first `KSSTANDIN <step>` line.
    fn step(&self, step: &str) -> Option<BTreeMap<String, String>> {
        let prefix = format!("KSSTANDIN {step} ");
        let line =
            self.lines.iter().find(|l| l.starts_with(&prefix) || **l == format!("KSSTANDIN {step}"))?;
        Some(
            line[prefix.len().min(line.len())..]
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn has(&self, text: &str) -> bool {
        self.lines.iter().any(|l| l.contains(text))
    }
}

/// Boots a private prefix, installs the stand-in and `image`, registers and starts the
/// service, and collects the log.
fn run_under_wine(image: &Path, standin: &Path, tag: &str) -> Run {
    let prefix = common::repo_root().join("target").join("wine").join(tag);
    let _ = std::fs::remove_dir_all(&prefix);
    std::fs::create_dir_all(&prefix).unwrap();
    let boot = wine(&prefix).args(["wineboot", "-i"]).output().expect("wineboot");
    assert!(boot.status.success(), "wineboot failed: {}", String::from_utf8_lossy(&boot.stderr));
    wineserver(&prefix, "-w");
    let drivers = prefix.join("drive_c/windows/system32/drivers");
    std::fs::copy(standin, drivers.join("ks.sys")).unwrap();
    std::fs::copy(image, drivers.join("ksframe.sys")).unwrap();
    let reg = prefix.join("ksframe.reg");
    std::fs::write(
        &reg,
        "REGEDIT4\n\n[HKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Services\\ksframe]\n\
         \"Type\"=dword:00000001\n\"Start\"=dword:00000003\n\"ErrorControl\"=dword:00000001\n\
         \"ImagePath\"=\"C:\\\\windows\\\\system32\\\\drivers\\\\ksframe.sys\"\n",
    )
    .unwrap();
    let reg_path = format!("Z:{}", reg.display()).replace('/', "\\");
    let imported = wine(&prefix).args(["regedit", "/S", &reg_path]).output().unwrap();
    assert!(imported.status.success(), "regedit: {}", String::from_utf8_lossy(&imported.stderr));
    wineserver(&prefix, "-w");
    let out = Command::new("timeout")
        .args(["60", WINE, "net", "start", "ksframe"])
        .env("WINEPREFIX", &prefix)
        .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
        .env("DISPLAY", "")
        .env("WINEDEBUG", "-all,warn+debugstr,err+ntoskrnl,err+module")
        .output()
        .expect("wine net start");
    wineserver(&prefix, "-k");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let lines = log
        .lines()
        .filter_map(|l| {
            l.find("KSSTANDIN ").or_else(|| l.find("ksframe: ")).map(|at| l[at..].trim().to_string())
        })
        .collect();
    let _ = std::fs::remove_dir_all(&prefix);
    Run { lines, log, net_start_ok: out.status.success() }
}

/// Every expected step and result; returns what did not hold.
fn verify(run: &Run) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expect = |what: &str, ok: bool| {
        if !ok {
            problems.push(what.to_string());
        }
    };
    for fatal in ["Unhandled page fault", "unimplemented function", "KSSTANDIN panic"] {
        expect(&format!("no '{fatal}'"), !run.log.contains(fatal));
    }
    expect("net start succeeded", run.net_start_ok);
    // Wine 8.0 lacks ExAllocatePool2: the driver must have fallen back.
    expect(
        "DriverEntry ran on the raw backend with the fallback",
        run.has("ksframe: DriverEntry backend=raw pool=ExAllocatePoolWithTag"),
    );
    expect("DriverEntry status", run.has("ksframe: DriverEntry status=0x00000000"));

    let format = FORMATS[0];
    let framing = Framing::for_image(format.image_size(), FRAMES).to_framing();
    let is = |step: &str, pairs: &[(&str, String)]| -> bool {
        run.step(step).is_some_and(|kv| pairs.iter().all(|(k, v)| kv.get(*k) == Some(v)))
    };
    let s = |v: u32| format!("{v:#010x}");
    let n = |v: u64| v.to_string();
    expect("device_add", is("device_add", &[("status", s(0))]));
    expect("device_start", is("device_start", &[("status", s(0))]));
    expect("filters", is("filters", &[("count", n(1))]));
    expect("filter ReferenceGuid is KSNAME_Filter", is("filter", &[("reference_is_ksname_filter", n(1))]));
    expect(
        "capture pin descriptor",
        is(
            "pin_descriptor",
            &[
                ("id", n(0)),
                ("dataflow", n(2)),
                ("ranges", n(6)),
                ("own_allocator", n(1)),
                ("framing", n(format.image_size().into())),
                ("flags", "0x10000".into()),
                ("lists_stream_allocator", n(0)),
            ],
        ),
    );
    expect(
        "no pin table lists STREAM_ALLOCATOR",
        !run.lines
            .iter()
            .any(|l| l.starts_with("KSSTANDIN pin_descriptor") && l.contains("lists_stream_allocator=1")),
    );
    expect(
        "intersect",
        is("intersect", &[("status", s(0)), ("size", n(152)), ("image", n(format.image_size().into()))]),
    );
    expect(
        "pin created, with its own descriptor copy and framing (KsEdit)",
        is(
            "pin_create",
            &[
                ("status", s(0)),
                ("context", n(1)),
                ("own_descriptor", n(1)),
                ("descriptor_framing", n(format.image_size().into())),
            ],
        ),
    );
    expect(
        "driver logged the pin create",
        run.has(&format!("ksframe: pin create id=0 frame_size={} frames={FRAMES}", format.image_size())),
    );
    expect(
        "ALLOCATORFRAMING",
        is(
            "prop framing",
            &[
                ("status", s(0)),
                ("info", n(24)),
                ("frames", n(framing.Frames.into())),
                ("frame_size", n(framing.FrameSize.into())),
                ("alignment", format!("{:#x}", framing.FileAlignment)),
                ("pool_type", n(framing.PoolType as u64)),
            ],
        ),
    );
    expect(
        "ALLOCATORFRAMING with no output: STATUS_BUFFER_TOO_SMALL (shipped ks.sys)",
        is("prop framing_empty", &[("status", s(0xC000_0023)), ("info", n(0))]),
    );
    expect(
        "a short KSPROPERTY: STATUS_INVALID_BUFFER_SIZE (shipped ks.sys)",
        is("prop short_input", &[("status", s(0xC000_0206)), ("info", n(0))]),
    );
    expect(
        "ALLOCATORFRAMING_EX size query",
        is("prop framing_ex_query", &[("status", s(0x8000_0005)), ("info", n(112))]),
    );
    expect(
        "ALLOCATORFRAMING_EX short buffer",
        is("prop framing_ex_short", &[("status", s(0xC000_0023)), ("info", n(0))]),
    );
    expect(
        "ALLOCATORFRAMING_EX",
        is(
            "prop framing_ex",
            &[("status", s(0)), ("info", n(112)), ("count", n(1)), ("item_frames", n(FRAMES.into()))],
        ),
    );
    expect(
        "STREAM_ALLOCATOR",
        is("prop stream_allocator", &[("status", s(0)), ("info", n(8)), ("handle", "0x0".into())]),
    );
    expect(
        "BASICSUPPORT answered by KS: Get only",
        is("prop basicsupport", &[("status", s(0)), ("info", n(4)), ("access", "0x1".into())]),
    );
    expect(
        "BASICSUPPORT description",
        is(
            "prop basicsupport_description",
            &[("status", s(0)), ("info", n(40)), ("access", "0x1".into()), ("size", n(40))],
        ),
    );
    expect("unknown id", is("prop unknown_id", &[("status", s(0xC000_0225)), ("info", n(0))]));
    expect("unknown set", is("prop unknown_set", &[("status", s(0xC000_0230)), ("info", n(0))]));
    expect("statistics before an allocator", is("prop stats_before", &[("status", s(0xC000_0184))]));
    expect(
        "InitializeAllocator through allocator creation",
        is("alloc_init", &[("status", s(0)), ("context", n(1))]),
    );
    expect("a bad create request refused by KS", is("alloc_init_bad", &[("status", s(0xC000_000D))]));
    expect(
        "assigned through AVStream's STREAM_ALLOCATOR Set",
        is("assign", &[("status", s(0)), ("assigned", n(1)), ("references", n(1))]),
    );
    expect("a kernel handle from user mode", is("assign_user_kernel_handle", &[("status", s(0xC000_0008))]));
    expect("the pin's reference keeps the allocator open", is("handle_closed", &[("closed", n(0))]));
    expect(
        "the requestor exhausts Frames distinct, aligned frames of the allocator",
        is(
            "alloc_exhaust",
            &[
                ("got", n(FRAMES.into())),
                ("distinct", n(FRAMES.into())),
                ("aligned", n(1)),
                ("from_allocator", n(1)),
            ],
        ),
    );
    expect(
        "statistics",
        is(
            "prop stats",
            &[
                ("status", s(0)),
                ("info", n(48)),
                ("allocations", n(FRAMES.into())),
                ("failures", n(1)),
                ("outstanding", n(FRAMES.into())),
                ("peak", n(FRAMES.into())),
            ],
        ),
    );
    expect("foreign free refused", is("alloc_foreign_free", &[("rejected", n(1))]));
    expect(
        "five frames paced by the driver's timer DPC under Wine: nothing due at RUN, then \
         stamped frames (TIMEVALID | DURATIONVALID, increasing due times on the 30 fps grid, \
         increasing KS_FRAME_INFO picture numbers), DataUsed from the advance, pending \
         without data",
        is(
            "process",
            &[
                ("state", s(0)),
                ("early", n(0)),
                ("streamed", n(5)),
                ("data_used_ok", n(1)),
                ("increasing", n(1)),
                ("on_grid", n(1)),
                ("numbered", n(1)),
                ("flags_valid", n(1)),
                ("empty", s(0x103)),
                ("stop", s(0)),
            ],
        ),
    );
    // Five frames at 30 fps take at least 5 × 33.3 ms of Wine's real time: paced, not
    // produced as fast as Process is called.
    expect(
        "the frames took real time",
        run.step("process")
            .and_then(|kv| kv.get("elapsed_ms")?.parse::<u64>().ok())
            .is_some_and(|ms| ms >= 150),
    );
    expect("no processing asked for after STOP", is("after_stop", &[("attempts", n(0))]));
    expect(
        "at DISPATCH_LEVEL (the DPC; Free and Allocate under a spin lock) the driver called only what Windows allows",
        is("irql", &[("violations", n(0))])
            && run
                .step("irql")
                .and_then(|kv| kv.get("dispatch_calls")?.parse::<u64>().ok())
                .is_some_and(|c| c > 0),
    );
    expect(
        "the stand-in's IRQL check bites: SetDataFormat under a spin lock reaches _KsEdit (twice: the \
         descriptor, then its framing)",
        is("irql_probe", &[("violations", n(2))]) && run.has("irql_violation routine=_KsEdit irql=2 max=0"),
    );
    expect(
        "pool balance",
        is(
            "alloc_balance",
            &[("allocations", n(u64::from(FRAMES) + 6)), ("frees", n(u64::from(FRAMES) + 6))],
        ),
    );
    expect("statistics reset", is("prop stats_reset", &[("status", s(0))]));
    expect("detaching closed the allocator", is("detach", &[("status", s(0)), ("closed", n(1))]));
    expect(
        "delete with a frame out deferred",
        run.has("allocator delete deferred") && run.has("outstanding=1"),
    );
    expect("last frame released the pool", run.has("allocator last frame back"));
    expect(
        "pin closed, its bag freed",
        is("pin_close", &[("status", s(0)), ("context", n(0)), ("bag_items", n(2))]),
    );
    expect("stand-in saw no failure", is("done", &[("failures", n(0))]));
    problems
}

fn wine_available() -> bool {
    Path::new(WINE).is_file()
}

fn standin() -> PathBuf {
    common::build_cross_image("tests/standin-ks/Cargo.toml", "ks", "standin")
}

#[test]
fn ksframe_sys_runs_under_wine_and_behaves() {
    if !wine_available() {
        eprintln!("SKIPPED: Wine is not installed ({WINE}); scripts/test-all.sh installs it");
        return;
    }
    let started = std::time::Instant::now();
    let run = run_under_wine(common::ksframe_image(), &standin(), "good");
    let problems = verify(&run);
    assert!(problems.is_empty(), "under Wine: {problems:#?}\n--- log ---\n{}", run.log);
    eprintln!("wine cycle: {:.1} s, {} lines", started.elapsed().as_secs_f64(), run.lines.len());
    eprintln!("wine paced run: {:?}", run.step("process"));
    eprintln!("wine IRQL: {:?}", run.step("irql"));
}

#[test]
fn a_broken_allocator_is_caught_under_wine() {
    if !wine_available() {
        eprintln!("SKIPPED: Wine is not installed ({WINE}); scripts/test-all.sh installs it");
        return;
    }
    let broken = common::build_cross_image_with(
        "Cargo.toml",
        "ksframe",
        "cross-broken",
        &["--features", "broken-double-handout"],
    );
    let run = run_under_wine(&broken, &standin(), "broken");
    let problems = verify(&run);
    assert!(
        problems.iter().any(|p| p.contains("exhausts Frames distinct")),
        "the broken allocator passed: {problems:#?}\n--- log ---\n{}",
        run.log
    );
}
