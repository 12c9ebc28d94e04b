//! The proof that the pool is used: two filter instances connected kernel to kernel, the
//! graph creates the allocator on the pin KsProxy would choose (KsCreateAllocator →
//! AVStream's create item → KsCreateDefaultAllocatorEx → ksframe's InitializeAllocator
//! with the graph's framing), assigns it to the IRP source with
//! KSPROPERTY_STREAM_ALLOCATOR Set through AVStream's item, and N frames stream: every
//! frame the requestor sends lies inside ksframe's pool, and the pool's counters account
//! for each.
//!
//! Two variants show the test can fail: a capture pin whose table lists its own
//! STREAM_ALLOCATOR Set (as ksframe's did) swallows the assignment and loses the pool;
//! and with no allocator assigned, AVStream's requestor allocates every frame itself.

mod graph;

use graph::{AllocatorOn, Graph};
use ksframe::allocator::FramePool;
use ksframe::avstream::{CAPTURE_PIN, FORMATS, PIN_DESCRIPTORS};
use ksframe::kernel::host::PoolScope;
use ksframe::ks::*;
use ksframe::model::requestor::FrameSource;
use ksframe::sim::objects;

/// Checks that every frame sent on `g` came from ksframe's pool and that the pool's
/// counters account for all `n` of them; the reason when not.
fn pool_served_every_frame(g: &Graph, n: usize) -> Result<(), String> {
    if g.connection.sent.len() != n {
        return Err(format!("{} frames sent, {n} expected", g.connection.sent.len()));
    }
    if let Some((i, (frame, _))) =
        g.connection.sent.iter().enumerate().find(|(_, (_, source))| *source != FrameSource::Allocator)
    {
        return Err(format!("frame {i} at {frame:#x} was allocated by AVStream's requestor, not the pool"));
    }
    let Some(address) = g.allocator else { return Err("no allocator was created".into()) };
    let (context, allocated, freed) =
        objects::with_allocator_at(address, |a| (a.context(), a.allocated, a.freed))
            .ok_or("the allocator object is gone")?;
    // SAFETY: the allocator is open (the pin references it), so its pool is live.
    let pool = unsafe { context.cast::<FramePool>().as_ref() }.ok_or("the allocator has no ksframe pool")?;
    for (i, (frame, _)) in g.connection.sent.iter().enumerate() {
        if !pool.contains(*frame as *const u8) {
            return Err(format!("frame {i} at {frame:#x} is not a frame of the pool"));
        }
    }
    let stats = pool.stats();
    if (stats.allocations, stats.frees, stats.outstanding) != (n as u64, n as u64, 0) {
        return Err(format!("pool counters {stats:?} do not account for {n} frames"));
    }
    if (allocated, freed) != (n as u64, n as u64) {
        return Err(format!("function table saw {allocated} allocations / {freed} frees"));
    }
    Ok(())
}

#[test]
fn frames_of_the_graphs_allocator_come_from_ksframes_pool() {
    for on in [AllocatorOn::Sink, AllocatorOn::Capture] {
        for format in [0, 5] {
            let scope = PoolScope::new();
            let _g = scope.enter();
            let mut g = graph::build(format, on);
            assert_eq!(g.run(500), 500, "{on:?} format {format}");
            assert!(g.connection.faults.is_empty(), "{:?}", g.connection.faults);
            pool_served_every_frame(&g, 500).unwrap_or_else(|e| panic!("{on:?} format {format}: {e}"));
            assert_eq!(g.sink.state().unwrap().pattern_errors(), 0, "the sink saw damaged frames");
            assert_eq!(g.sink.state().unwrap().frames_processed(), 500);
            g.close();
            assert_eq!(scope.bytes_outstanding(), 0, "{on:?}: pool bytes leaked");
            assert_eq!(objects::own_blocks_outstanding(), 0);
        }
    }
}

/// A capture pin whose automation table lists its own KSPROPERTY_STREAM_ALLOCATOR, with a
/// Set that accepts the handle and keeps nothing, as a minidriver that answers the
/// property itself does.
mod swallowing {
    use super::*;

    unsafe extern "system" fn own_get(irp: *mut IRP, _r: *mut KSIDENTIFIER, data: PVOID) -> NTSTATUS {
        // SAFETY: KS checked MinData (8).
        unsafe {
            data.cast::<HANDLE>().write_unaligned(core::ptr::null_mut());
            (*irp).IoStatus.Information = 8;
        }
        STATUS_SUCCESS
    }

    unsafe extern "system" fn own_set(_irp: *mut IRP, _r: *mut KSIDENTIFIER, _data: PVOID) -> NTSTATUS {
        STATUS_SUCCESS
    }

    static STREAM: [KSPROPERTY_ITEM; 1] = ksframe::property::items([ksframe::property::Property::get_set(
        KSPROPERTY_STREAM_ALLOCATOR,
        Some(own_get),
        Some(own_set),
        8,
    )]);
    static SETS: [KSPROPERTY_SET; 3] = [
        ksframe::property::PIN_PROPERTY_SETS[0],
        ksframe::property::PIN_PROPERTY_SETS[1],
        ksframe::property::property_set(&KSPROPSETID_Stream, &STREAM),
    ];
    static TABLE: KSAUTOMATION_TABLE = ksframe::property::automation_table(&SETS);

    pub static DESCRIPTOR: KSPIN_DESCRIPTOR_EX =
        KSPIN_DESCRIPTOR_EX { AutomationTable: &TABLE, ..PIN_DESCRIPTORS[CAPTURE_PIN as usize] };
}

#[test]
fn a_pin_table_that_lists_stream_allocator_loses_the_pool() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let mut g = graph::build_with(0, AllocatorOn::Sink, &swallowing::DESCRIPTOR);
    assert_eq!(g.run(50), 50);
    let verdict = pool_served_every_frame(&g, 50);
    assert!(
        verdict.as_ref().is_err_and(|e| e.contains("allocated by AVStream's requestor")),
        "the variant must fail the pool check: {verdict:?}"
    );
    g.close();
    assert_eq!(scope.bytes_outstanding(), 0);
    assert_eq!(objects::own_blocks_outstanding(), 0);
}

#[test]
fn with_no_allocator_assigned_avstream_allocates_itself() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let mut g = graph::build(1, AllocatorOn::Nobody);
    assert_eq!(g.run(30), 30);
    assert!(g.connection.sent.iter().all(|(_, source)| *source == FrameSource::Own));
    assert!(pool_served_every_frame(&g, 30).is_err());
    assert_eq!(g.sink.state().unwrap().pattern_errors(), 0);
    // No pool exists anywhere: InitializeAllocator was never called.
    let log = ksframe::kernel::host::take_log();
    assert!(!log.iter().any(|l| l.contains("allocator init")), "{log:?}");
    g.close();
    assert_eq!(scope.bytes_outstanding(), 0);
    assert_eq!(objects::own_blocks_outstanding(), 0);
}

#[test]
fn the_allocator_gets_the_clients_framing_and_frames_zero_takes_the_default() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let mut g = graph::build(0, AllocatorOn::Nobody);
    assert_eq!(g.sim.set_state(&mut g.capture, KSSTATE_STOP), STATUS_SUCCESS);
    let size = FORMATS[0].image_size();
    let framing = |frames, size, align, options| KSALLOCATOR_FRAMING {
        OptionsFlags: options,
        PoolType: NonPagedPool,
        Frames: frames,
        FrameSize: size,
        FileAlignment: align,
        Reserved: 0,
    };
    // KsProxy's request as it comes: 7 buffers, 16-byte alignment.
    let h = g.sim.create_allocator(&mut g.sink, &framing(7, size, 15, 2), UserMode).unwrap();
    let geometry = objects::with_allocator(h, |a| {
        // SAFETY: a live allocator's pool.
        unsafe { a.context().cast::<FramePool>().as_ref() }.unwrap().geometry()
    })
    .unwrap();
    assert_eq!((geometry.frames, geometry.frame_size, geometry.alignment), (7, size, 16));
    objects::close(h);
    // Frames 0: "no requirement", the documented default.
    let h = g.sim.create_allocator(&mut g.sink, &framing(0, size, 0, 0), UserMode).unwrap();
    let frames = objects::with_allocator(h, |a| {
        // SAFETY: as above.
        unsafe { a.context().cast::<FramePool>().as_ref() }.unwrap().geometry().frames
    });
    assert_eq!(frames, Some(ksframe::allocator::DEFAULT_FRAMES));
    objects::close(h);
    // Refused by KS before the driver sees them: FrameSize 0, unknown OptionsFlags,
    // FileAlignment above PAGE_SIZE − 1.
    for bad in [framing(4, 0, 0, 0), framing(4, size, 0, 0x10), framing(4, size, 8191, 0)] {
        assert_eq!(g.sim.create_allocator(&mut g.sink, &bad, UserMode), Err(STATUS_INVALID_PARAMETER));
    }
    // Refused by the driver itself (KS passes it on): an alignment that is not 2^k − 1.
    assert_eq!(
        g.sim.create_allocator(&mut g.sink, &framing(4, size, 5, 0), UserMode),
        Err(STATUS_INVALID_PARAMETER)
    );
    g.close();
    assert_eq!(scope.bytes_outstanding(), 0);
}
