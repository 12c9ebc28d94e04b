//! The main job on any OS: ksframe's real descriptors in the KS simulator.
//!
//! `cargo run --example session -- [--frames N] [--format INDEX] [--allocator sink|capture|none] [--stall MS]`
//!
//! Shows the filter's pins and formats, the framing each pin advertises, a capture →
//! sink connection between two filter instances, the allocator the graph creates on a
//! pin (KsCreateAllocator with the framing a KsProxy-style graph asks for) and assigns to
//! the IRP source through AVStream's KSPROPERTY_STREAM_ALLOCATOR, N frames streamed
//! (pattern checked at the sink) paced by the capture pin's timer DPC in the
//! simulator's virtual time, with a progress display, the frame rate in virtual time,
//! the frames the camera dropped (KSPROPERTY_DROPPEDFRAMES_CURRENT; `--stall MS` stalls
//! the sink halfway through to show drops being counted), where every frame came from,
//! and the allocator's counters at the end with a check that nothing leaked.

use indicatif::{ProgressBar, ProgressStyle};
use ksframe::allocator::AllocatorStats;
use ksframe::avstream::{CAPTURE_PIN, DEVICE_DESCRIPTOR, FORMATS, Format, SINK_PIN};
use ksframe::kernel::host::PoolScope;
use ksframe::ks::*;
use ksframe::model::requestor::FrameSource;
use ksframe::property::{KSPROPERTY_KSFRAME_ALLOCATOR_STATISTICS, KSPROPSETID_KsframeAllocator};
use ksframe::sim::{Pin, Request, Sim, objects};
use std::process::ExitCode;

/// The pin the graph creates the allocator on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum On {
    Sink,
    Capture,
    None,
}

struct Options {
    frames: usize,
    format: usize,
    allocator: On,
    stall_ms: u64,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: session [--frames N] [--format 0..{}] [--allocator sink|capture|none] [--stall MS]",
        FORMATS.len() - 1
    );
    ExitCode::from(2)
}

fn parse() -> Result<Options, ExitCode> {
    let mut o = Options { frames: 300, format: 0, allocator: On::Sink, stall_ms: 0 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or_else(usage)?;
        match arg.as_str() {
            "--frames" => o.frames = value.parse().map_err(|_| usage())?,
            "--stall" => o.stall_ms = value.parse().ok().filter(|ms| *ms <= 60_000).ok_or_else(usage)?,
            "--format" => o.format = value.parse().ok().filter(|i| *i < FORMATS.len()).ok_or_else(usage)?,
            "--allocator" => {
                o.allocator = match value.as_str() {
                    "sink" => On::Sink,
                    "capture" => On::Capture,
                    "none" => On::None,
                    _ => return Err(usage()),
                }
            }
            _ => return Err(usage()),
        }
    }
    Ok(o)
}

fn fourcc(f: &Format) -> String {
    f.fourcc.to_le_bytes().iter().map(|b| *b as char).collect()
}

fn memory_name(g: &GUID) -> &'static str {
    match *g {
        KSMEMORY_TYPE_KERNEL_NONPAGED => "kernel non-paged",
        KSMEMORY_TYPE_KERNEL_PAGED => "kernel paged",
        KSMEMORY_TYPE_SYSTEM => "system",
        KSMEMORY_TYPE_USER => "user",
        KSMEMORY_TYPE_DONT_CARE => "don't care",
        _ => "other",
    }
}

fn show_framing(label: &str, items: &[KS_FRAMING_ITEM]) {
    for it in items {
        println!(
            "  {label}: {} frames of {} bytes, alignment {} (mask {:#x}), {} memory, flags {:#x}",
            it.Frames,
            it.FramingRange.Range.MinFrameSize,
            it.FileAlignment + 1,
            it.FileAlignment,
            memory_name(&it.MemoryType),
            it.Flags
        );
    }
}

fn stats(sim: &mut Sim, pin: &mut Pin) -> Option<AllocatorStats> {
    let r = sim.property(
        pin,
        &Request::get(KSPROPSETID_KsframeAllocator, KSPROPERTY_KSFRAME_ALLOCATOR_STATISTICS, 48),
    );
    // SAFETY: a successful reply holds 48 bytes of AllocatorStats.
    (r.status == STATUS_SUCCESS).then(|| unsafe { std::ptr::read_unaligned(r.output.as_ptr().cast()) })
}

fn dropped(sim: &mut Sim, pin: &mut Pin) -> Option<KSPROPERTY_DROPPEDFRAMES_CURRENT_S> {
    let mut request = Request::get(PROPSETID_VIDCAP_DROPPEDFRAMES, KSPROPERTY_DROPPEDFRAMES_CURRENT, 48);
    request.input_len = 48;
    let r = sim.property(pin, &request);
    // SAFETY: a successful reply holds a 48-byte KSPROPERTY_DROPPEDFRAMES_CURRENT_S.
    (r.status == STATUS_SUCCESS).then(|| unsafe { std::ptr::read_unaligned(r.output.as_ptr().cast()) })
}

fn main() -> ExitCode {
    let options = match parse() {
        Ok(o) => o,
        Err(code) => return code,
    };
    let scope = PoolScope::new();
    let _g = scope.enter();
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);

    println!("ksframe session (KS simulator, host kernel backend)\n");
    for (f, filter) in sim.filters().iter().enumerate() {
        println!(
            "filter {f}: {} pin types, {} categories",
            filter.PinDescriptorsCount, filter.CategoriesCount
        );
        for (p, pin) in sim.pin_descriptors(f).iter().enumerate() {
            let flow =
                if pin.PinDescriptor.DataFlow == KSPIN_DATAFLOW_OUT { "capture (out)" } else { "sink (in)" };
            println!(
                "  pin {p}: {flow}, {} formats, own allocator: {}",
                pin.PinDescriptor.DataRangesCount,
                {
                    // SAFETY: static dispatch tables.
                    !unsafe { (*pin.Dispatch).Allocator }.is_null()
                }
            );
        }
    }
    println!("\nformats:");
    for (i, f) in FORMATS.iter().enumerate() {
        println!("  [{i}] {} {}x{} @30fps, {} bytes per frame", fourcc(f), f.width, f.height, f.image_size());
    }

    let format = FORMATS[options.format];
    println!(
        "\nfilter instances A and B; A.capture -> B.sink as {} {}x{}",
        fourcc(&format),
        format.width,
        format.height
    );
    let (a, b) = (sim.create_filter(0), sim.create_filter(0));
    let mut capture = match sim.create_pin(a, CAPTURE_PIN, Some(format.data_format())) {
        Ok(p) => p,
        Err(s) => {
            eprintln!("capture pin create failed: {s:#010x}");
            return ExitCode::FAILURE;
        }
    };
    let mut sink = match sim.create_pin(b, SINK_PIN, Some(format.data_format())) {
        Ok(p) => p,
        Err(s) => {
            eprintln!("sink pin create failed: {s:#010x}");
            return ExitCode::FAILURE;
        }
    };
    println!("advertised framing (CONNECTION_ALLOCATORFRAMING_EX):");
    let up_items = sim.framing_items(&mut capture);
    let down_items = sim.framing_items(&mut sink);
    show_framing("A.capture", &up_items);
    show_framing("B.sink   ", &down_items);

    let mut connection = sim.connect(&mut capture, &mut sink);
    let f = sim.graph_framing(&mut capture, &mut sink);
    println!(
        "graph's allocator request (as KsProxy fills it): {} frames of {} bytes, alignment {}, options {:#x}",
        f.Frames,
        f.FrameSize,
        f.FileAlignment + 1,
        f.OptionsFlags
    );
    let owner = match options.allocator {
        On::Sink => Some((&mut sink, "B.sink")),
        On::Capture => Some((&mut capture, "A.capture")),
        On::None => None,
    };
    let mut allocator = None;
    match owner {
        Some((pin, name)) => {
            let handle = match sim.create_allocator(pin, &f, KernelMode) {
                Ok(h) => h,
                Err(s) => {
                    eprintln!("KsCreateAllocator on {name} failed: {s:#010x}");
                    return ExitCode::FAILURE;
                }
            };
            allocator = objects::object_of(handle);
            let status = sim.assign_allocator(&mut capture, handle);
            objects::close(handle);
            println!(
                "allocator: created on {name} (ksframe's InitializeAllocator), assigned to A.capture, the IRP \
                 source, with STREAM_ALLOCATOR Set: {status:#010x}"
            );
            if status != STATUS_SUCCESS {
                return ExitCode::FAILURE;
            }
        }
        None => println!("allocator: none assigned (AVStream's requestor allocates frames itself)"),
    }

    for pin in [&mut capture, &mut sink] {
        if sim.set_state(pin, KSSTATE_RUN) != STATUS_SUCCESS {
            eprintln!("state change failed");
            return ExitCode::FAILURE;
        }
    }
    println!(
        "\nstreaming {} frames (STOP -> ACQUIRE -> PAUSE -> RUN), paced by the capture pin's timer DPC in virtual time{}",
        options.frames,
        if options.stall_ms > 0 {
            format!("; the sink stalls {} ms halfway", options.stall_ms)
        } else {
            String::new()
        }
    );
    let started = sim.now();
    let mut moved = 0;
    let chunk = (options.frames / 50).max(1);
    let bar = ProgressBar::new(options.frames as u64);
    bar.set_style(
        ProgressStyle::with_template("  [{bar:40}] {pos}/{len} frames  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("#>-"),
    );
    let mut stalled = options.stall_ms == 0;
    while moved < options.frames {
        if !stalled && moved >= options.frames / 2 {
            sim.stall_sink(&mut connection, options.stall_ms as i64 * 10_000);
            stalled = true;
        }
        let n = chunk.min(options.frames - moved);
        let done = sim.run(&mut connection, &mut capture, &mut sink, n);
        moved += done;
        let drops = dropped(&mut sim, &mut capture).map_or(0, |d| d.DropCount);
        let seconds = (sim.now() - started) as f64 / 1e7;
        bar.set_position(moved as u64);
        bar.set_message(format!("{seconds:.2} s virtual, {drops} dropped"));
        if done < n {
            break;
        }
    }
    bar.finish();
    let elapsed = (sim.now() - started) as f64 / 1e7;
    let counts = dropped(&mut sim, &mut capture);
    let drops = counts.map_or(-1, |d| d.DropCount);
    let (first, last) = (connection.delivered.first(), connection.delivered.last());
    println!(
        "virtual time: {elapsed:.3} s, {:.2} frames per second; dropped (DROPPEDFRAMES_CURRENT): {drops}, picture number {}",
        moved as f64 / elapsed.max(1e-9),
        counts.map_or(-1, |d| d.PictureNumber)
    );
    if let (Some(first), Some(last)) = (first, last) {
        println!(
            "timestamps: first {} last {} (100 ns units), duration {}; last KS_FRAME_INFO: picture {} drops {}",
            first.presentation_time,
            last.presentation_time,
            last.duration,
            last.frame_info.map_or(-1, |i| i.PictureNumber),
            last.frame_info.map_or(-1, |i| i.DropCount)
        );
    }
    let errors = sink.state().map_or(0, |s| s.pattern_errors());
    println!("frames through: {moved}, pattern errors at the sink: {errors}");

    let from_pool = allocator
        .and_then(|a| objects::with_allocator_at(a, |o| o.context()))
        // SAFETY: the allocator is open (A.capture references it), so its pool is live.
        .and_then(|c| unsafe { c.cast::<ksframe::allocator::FramePool>().as_ref() })
        .map_or(0, |pool| {
            connection
                .sent
                .iter()
                .filter(|(frame, source)| {
                    *source == FrameSource::Allocator && pool.contains(*frame as *const u8)
                })
                .count()
        });
    println!("frames from ksframe's pool: {from_pool} of {moved}");
    let counters = match options.allocator {
        On::Capture => stats(&mut sim, &mut capture),
        On::Sink => stats(&mut sim, &mut sink),
        On::None => None,
    };
    match counters {
        Some(s) => println!(
            "allocator counters: allocations {}, frees {}, failures {}, refused frees {}, outstanding {}, peak {}",
            s.allocations,
            s.frees,
            s.allocation_failures,
            s.rejected_frees,
            s.outstanding,
            s.peak_outstanding
        ),
        None => println!("allocator counters: none (ksframe's allocator was not used)"),
    }

    sim.stop(&mut connection, &mut capture, &mut sink);
    sim.close_pin(capture);
    sim.close_pin(sink);
    let leaked = scope.stats();
    println!(
        "closed both pins; pool: {} allocations, {} frees, {} bytes outstanding",
        leaked.allocations, leaked.frees, leaked.bytes_outstanding
    );
    let pool_expected = if options.allocator == On::None { 0 } else { moved };
    let drops_as_expected = match counts {
        Some(d) if options.stall_ms == 0 => d.DropCount == 0,
        Some(d) => d.DropCount > 0 && d.PictureNumber == moved as i64 + d.DropCount,
        None => false,
    };
    if !drops_as_expected {
        println!("dropped-frame counters not as expected");
    }
    if leaked.bytes_outstanding != 0
        || !drops_as_expected
        || errors != 0
        || moved != options.frames
        || from_pool != pool_expected
        || objects::own_blocks_outstanding() != 0
    {
        println!("FAILED");
        return ExitCode::FAILURE;
    }
    println!("OK: nothing leaked");
    ExitCode::SUCCESS
}
