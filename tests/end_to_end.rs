//! The filter end to end in the model: pipes whose allocator is created on either pin or
//! on none, 10,000 frames with the pattern checked at the sink, stop and restart (the
//! capture pin processes in RUN only), a format change that resizes the framing, pin
//! close with frames outstanding, Process without data, and zero pool bytes at the end
//! of every test.

mod graph;

use graph::AllocatorOn;
use ksframe::avstream::{CAPTURE_PIN, DEVICE_DESCRIPTOR, FORMATS, PIN_DESCRIPTORS, SINK_PIN};
use ksframe::kernel::host::PoolScope;
use ksframe::ks::*;
use ksframe::model::requestor;
use ksframe::sim::{Pin, Request, Sim, objects};

fn run_state(sim: &mut Sim, pins: [&mut Pin; 2], state: KSSTATE) {
    for pin in pins {
        assert_eq!(sim.set_state(pin, state), STATUS_SUCCESS);
    }
}

#[test]
fn ten_thousand_frames_wherever_the_allocator_is() {
    for on in [AllocatorOn::Sink, AllocatorOn::Capture, AllocatorOn::Nobody] {
        let scope = PoolScope::new();
        let _g = scope.enter();
        let mut g = graph::build(3, on);
        assert_eq!(g.run(10_000), 10_000, "{on:?}");
        assert!(g.connection.faults.is_empty(), "{on:?}: {:?}", g.connection.faults);
        assert_eq!(g.capture.state().unwrap().frames_processed(), 10_000);
        assert_eq!(g.sink.state().unwrap().frames_processed(), 10_000);
        assert_eq!(g.sink.state().unwrap().pattern_errors(), 0, "{on:?}: the sink saw damaged frames");
        g.close();
        assert_eq!(scope.bytes_outstanding(), 0, "{on:?} leaked");
        assert_eq!(objects::own_blocks_outstanding(), 0);
    }
}

#[test]
fn the_sink_notices_a_damaged_or_missing_frame() {
    // The check is real: a frame the capture pin did not write is counted as an error.
    let scope = PoolScope::new();
    let _g = scope.enter();
    let mut g = graph::build(0, AllocatorOn::Sink);
    assert_eq!(g.run(10), 10);
    // Skip one frame on the capture side only: the sink's sequence breaks.
    let _ = g.capture.state().unwrap().next_frame();
    assert_eq!(g.run(5), 5);
    assert_eq!(g.sink.state().unwrap().pattern_errors(), 5);
    g.close();
    assert_eq!(scope.bytes_outstanding(), 0);
}

#[test]
fn stop_pause_and_restart() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let mut g = graph::build(0, AllocatorOn::Sink);
    for round in 1..=3 {
        run_state(&mut g.sim, [&mut g.capture, &mut g.sink], KSSTATE_RUN);
        assert_eq!(g.run(100), 100);
        // KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY: a paused camera produces nothing.
        run_state(&mut g.sim, [&mut g.capture, &mut g.sink], KSSTATE_PAUSE);
        assert_eq!(g.run(100), 0, "a paused capture pin is not processed");
        run_state(&mut g.sim, [&mut g.capture, &mut g.sink], KSSTATE_STOP);
        assert_eq!(g.run(100), 0, "stopped pins move nothing");
        assert_eq!(g.sink.state().unwrap().frames_processed(), 100 * round);
    }
    assert_eq!(g.sink.state().unwrap().pattern_errors(), 0);
    g.close();
    assert_eq!(scope.bytes_outstanding(), 0);
}

#[test]
fn the_capture_pin_processes_in_run_only_and_both_pend_without_data() {
    assert_ne!(PIN_DESCRIPTORS[CAPTURE_PIN as usize].Flags & KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY, 0);
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    let f = sim.create_filter(0);
    for id in [CAPTURE_PIN, SINK_PIN] {
        let mut pin = sim.create_pin(f, id, Some(FORMATS[0].data_format())).unwrap();
        assert_eq!(sim.set_state(&mut pin, KSSTATE_RUN), STATUS_SUCCESS);
        // "Restarting Processing in AVStream": no data, STATUS_PENDING.
        assert_eq!(sim.process_empty(&mut pin), STATUS_PENDING, "pin {id}");
        sim.close_pin(pin);
    }
}

#[test]
fn a_format_change_resizes_the_framing() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    let (a, b) = (sim.create_filter(0), sim.create_filter(0));
    let f = FORMATS[0].data_format();
    let mut up = sim.create_pin(a, CAPTURE_PIN, Some(f)).unwrap();
    let mut down = sim.create_pin(b, SINK_PIN, Some(f)).unwrap();
    let framing_size = |sim: &mut Sim, pin: &mut Pin| {
        let r = sim
            .property(pin, &Request::get(KSPROPSETID_Connection, KSPROPERTY_CONNECTION_ALLOCATORFRAMING, 24));
        u32::from_le_bytes(r.output[12..16].try_into().unwrap())
    };
    assert_eq!(framing_size(&mut sim, &mut up), FORMATS[0].image_size());
    for pin in [&mut up, &mut down] {
        assert_eq!(sim.change_format(pin, FORMATS[2].data_format()), STATUS_SUCCESS);
    }
    assert_eq!(framing_size(&mut sim, &mut up), FORMATS[2].image_size());
    // AVStream's view (the pin's KsEdit copy of its descriptor) follows too, and the
    // static descriptor is untouched.
    assert_eq!(
        up.descriptor_framing().unwrap().FramingItem[0].FramingRange.Range.MinFrameSize,
        FORMATS[2].image_size()
    );
    assert_eq!(
        ksframe::avstream::DEFAULT_FRAMING.FramingItem[0].FramingRange.Range.MinFrameSize,
        FORMATS[0].image_size()
    );
    assert!(!std::ptr::eq(up.ks().Descriptor, &PIN_DESCRIPTORS[0]));
    let mut connection = sim.connect(&mut up, &mut down);
    let framing = sim.graph_framing(&mut up, &mut down);
    assert_eq!(framing.FrameSize, 1920 * 1080 * 2);
    let handle = sim.create_allocator(&mut down, &framing, KernelMode).unwrap();
    assert_eq!(sim.assign_allocator(&mut up, handle), STATUS_SUCCESS);
    objects::close(handle);
    run_state(&mut sim, [&mut up, &mut down], KSSTATE_RUN);
    assert_eq!(sim.run(&mut connection, &mut up, &mut down, 20), 20);
    // Not while running, and not to a format the pin does not offer.
    assert_eq!(sim.change_format(&mut up, FORMATS[0].data_format()), STATUS_INVALID_DEVICE_STATE);
    run_state(&mut sim, [&mut up, &mut down], KSSTATE_STOP);
    let mut odd = FORMATS[0].data_format();
    odd.VideoInfoHeader.bmiHeader.biWidth = 641;
    assert_eq!(sim.change_format(&mut up, odd), STATUS_NO_MATCH);
    assert_eq!(
        framing_size(&mut sim, &mut up),
        FORMATS[2].image_size(),
        "a refused change keeps the framing"
    );
    assert_eq!(down.state().unwrap().pattern_errors(), 0);
    sim.close_pin(up);
    sim.close_pin(down);
    assert_eq!(scope.bytes_outstanding(), 0);
}

#[test]
fn pin_close_with_frames_outstanding_defers_the_release() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let g = graph::build(3, AllocatorOn::Sink);
    let address = g.allocator.unwrap();
    let context = objects::with_allocator_at(address, |a| a.context()).unwrap();
    // The requestor holds three frames of the assigned allocator when the pins close.
    let held: Vec<PVOID> = (0..3).map(|_| requestor::take(g.capture.object()).unwrap().data).collect();
    g.close();
    assert!(scope.bytes_outstanding() > 0, "frames still out: the pool must stay");
    for (i, frame) in held.into_iter().enumerate() {
        // SAFETY: the frame's memory is still the pool's (deferred release).
        unsafe { std::ptr::write_bytes(frame.cast::<u8>(), i as u8, 64) };
        // SAFETY: returning a frame to its (deleted, still live) pool.
        unsafe { ksframe::allocator::free(context, frame) };
    }
    assert_eq!(scope.bytes_outstanding(), 0, "the last Free releases the pool");
}

#[test]
fn intersection_picks_the_matching_range() {
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    let filter = sim.create_filter(0);
    for (i, f) in FORMATS.iter().enumerate() {
        let format = sim.intersect(filter, CAPTURE_PIN, &f.data_range()).unwrap();
        assert_eq!(format.VideoInfoHeader.bmiHeader.biSizeImage, f.image_size(), "format {i}");
        assert_eq!(format.DataFormat.SubFormat, f.subtype);
        assert_eq!(
            format.DataFormat.FormatSize as usize,
            std::mem::size_of::<KS_DATAFORMAT_VIDEOINFOHEADER>()
        );
    }
    let mut other = FORMATS[0].data_range();
    other.DataRange.SubFormat = KSDATAFORMAT_TYPE_STREAM;
    assert_eq!(sim.intersect(filter, CAPTURE_PIN, &other).unwrap_err(), STATUS_NO_MATCH);
    let mut odd = FORMATS[0].data_range();
    odd.VideoInfoHeader.bmiHeader.biWidth = 800;
    assert_eq!(sim.intersect(filter, SINK_PIN, &odd).unwrap_err(), STATUS_NO_MATCH);
}

#[test]
fn one_pin_of_each_type_per_filter_instance() {
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    let a = sim.create_filter(0);
    let first = sim.create_pin(a, CAPTURE_PIN, Some(FORMATS[0].data_format())).unwrap();
    assert_eq!(
        sim.create_pin(a, CAPTURE_PIN, Some(FORMATS[0].data_format())).unwrap_err(),
        STATUS_INVALID_DEVICE_REQUEST,
        "InstancesPossible is 1"
    );
    let b = sim.create_filter(0);
    let other = sim.create_pin(b, CAPTURE_PIN, Some(FORMATS[0].data_format())).unwrap();
    sim.close_pin(first);
    let again = sim.create_pin(a, CAPTURE_PIN, Some(FORMATS[0].data_format())).unwrap();
    sim.close_pin(again);
    sim.close_pin(other);
}
