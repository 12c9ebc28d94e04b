//! The capture pin as a camera, in virtual time: frames paced by the driver's timer DPC
//! at each format's AvgTimePerFrame, stamped (presentation time, duration, flags,
//! KS_FRAME_INFO), dropped frames counted when the sink stalls (in the
//! KSPROPERTY_DROPPEDFRAMES_CURRENT property and in KS_FRAME_INFO alike), a master
//! clock's time used when one is assigned, a restart marked as a discontinuity, and
//! STOP with a DPC queued leaving no timer, no DPC and no byte behind.

mod graph;

use graph::{AllocatorOn, Graph};
use ksframe::avstream::{CAPTURE_PIN, DEVICE_DESCRIPTOR, FORMATS, VIDEO_STREAM_HEADER_SIZE};
use ksframe::kernel::host::{self, PoolScope};
use ksframe::ks::*;
use ksframe::sim::{Pin, Request, Sim};

const SECOND: i64 = 10_000_000;

fn dropped(sim: &mut Sim, pin: &mut Pin) -> KSPROPERTY_DROPPEDFRAMES_CURRENT_S {
    let mut request = Request::get(PROPSETID_VIDCAP_DROPPEDFRAMES, KSPROPERTY_DROPPEDFRAMES_CURRENT, 48);
    request.input_len = 48;
    let reply = sim.property(pin, &request);
    assert_eq!((reply.status, reply.information), (STATUS_SUCCESS, 48));
    // SAFETY: 48 bytes of KSPROPERTY_DROPPEDFRAMES_CURRENT_S.
    unsafe { std::ptr::read_unaligned(reply.output.as_ptr().cast()) }
}

#[test]
fn three_hundred_frames_of_a_30_fps_format_take_ten_virtual_seconds() {
    for (format, f) in FORMATS.iter().enumerate() {
        let scope = PoolScope::new();
        let _g = scope.enter();
        let mut g = graph::build(format, AllocatorOn::Sink);
        let start = g.sim.now();
        assert_eq!(g.run(300), 300, "format {format}");
        let step = f.video_info_header().AvgTimePerFrame;
        assert_eq!(step, 333_333);
        // Frame k is due k × AvgTimePerFrame after RUN; the 300th reaches the sink then.
        assert_eq!(g.sim.now() - start, 300 * step, "format {format}: 300 frames in 10 s");
        let d = &g.connection.delivered;
        for (k, frame) in d.iter().enumerate() {
            let k = k as i64 + 1;
            assert_eq!(frame.at - start, k * step, "frame {k} reached the sink at its due time");
            assert_eq!(frame.presentation_time, k * step, "frame {k}: stream time of its due time");
            assert_eq!(frame.duration, step);
            assert_eq!(
                frame.options & (KSSTREAM_HEADER_OPTIONSF_TIMEVALID | KSSTREAM_HEADER_OPTIONSF_DURATIONVALID),
                KSSTREAM_HEADER_OPTIONSF_TIMEVALID | KSSTREAM_HEADER_OPTIONSF_DURATIONVALID
            );
            assert_eq!(frame.data_used, f.image_size());
            let info = frame.frame_info.expect("the header has room for KS_FRAME_INFO");
            assert_eq!(info.ExtendedHeaderSize as usize, std::mem::size_of::<KS_FRAME_INFO>());
            assert_eq!((info.PictureNumber, info.DropCount, info.dwFrameFlags), (k, 0, KS_VIDEO_FLAG_FRAME));
        }
        for pair in d.windows(2) {
            let gap = pair[1].presentation_time - pair[0].presentation_time;
            assert!((gap - 333_333).abs() <= 1, "timestamps {gap} apart");
        }
        // Only the first frame of the run is a discontinuity.
        assert_ne!(d[0].options & KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY, 0);
        assert!(d[1..].iter().all(|f| f.options & KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY == 0));
        let counts = dropped(&mut g.sim, &mut g.capture);
        assert_eq!((counts.PictureNumber, counts.DropCount), (300, 0));
        assert_eq!(counts.AverageFrameSize, f.image_size());
        assert_eq!(g.sink.state().unwrap().pattern_errors(), 0);
        g.close();
        assert_eq!(scope.bytes_outstanding(), 0);
    }
}

#[test]
fn the_capture_pin_asks_for_room_for_ks_frame_info() {
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    let f = sim.create_filter(0);
    let pin = sim.create_pin(f, CAPTURE_PIN, Some(FORMATS[0].data_format())).unwrap();
    assert_eq!(pin.ks().StreamHeaderSize, VIDEO_STREAM_HEADER_SIZE);
    assert_eq!(VIDEO_STREAM_HEADER_SIZE as usize, 56 + 72);
    sim.close_pin(pin);
}

/// Streams 3 s, stalls the sink for 1 s, streams 2 s more; returns the drops.
fn stall_for_a_second(g: &mut Graph) -> i64 {
    let Graph { sim, capture, sink, connection, .. } = g;
    sim.run_for(connection, capture, sink, 3 * SECOND);
    let before = dropped(sim, capture);
    assert_eq!(before.DropCount, 0, "no drops while the sink keeps up");
    let queued = connection.queued_at_source() as i64;
    sim.stall_sink(connection, SECOND);
    sim.run_for(connection, capture, sink, SECOND / 2);
    let halfway = dropped(sim, capture).DropCount;
    assert!(halfway > 0, "drops are counted while the stall lasts, not only after it");
    sim.run_for(connection, capture, sink, SECOND / 2 + 2 * SECOND);
    let after = dropped(sim, capture);
    // 30 frames fall due in the second; the frames queued on the capture pin when the
    // stall began take the first of them, the rest are dropped, except the newest: it
    // is still pending when the sink returns a buffer just after the stall, and is
    // captured into that buffer.
    assert!(
        (30 - queued - 1..=30 - queued).contains(&after.DropCount),
        "{} drops with {queued} frames queued at the stall",
        after.DropCount
    );
    let last = connection.delivered.last().unwrap().frame_info.unwrap();
    assert_eq!(last.DropCount, after.DropCount, "KS_FRAME_INFO and the property agree");
    assert_eq!(last.PictureNumber, after.PictureNumber);
    assert_eq!(after.PictureNumber as usize, connection.delivered.len() + after.DropCount as usize);
    after.DropCount
}

#[test]
fn a_stalled_sink_makes_the_camera_drop_about_thirty_frames_a_second() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let mut g = graph::build(0, AllocatorOn::Sink);
    let drops = stall_for_a_second(&mut g);
    assert!((25..=30).contains(&drops), "{drops} drops");
    // Timestamps stay monotonic with the gap of the drops in them.
    let d = &g.connection.delivered;
    assert!(d.windows(2).all(|w| w[1].presentation_time > w[0].presentation_time));
    let gaps = d.windows(2).filter(|w| w[1].presentation_time - w[0].presentation_time > 333_334).count();
    assert!(gaps >= 1);
    assert_eq!(g.sink.state().unwrap().pattern_errors(), 0, "dropped frames are not sent at all");
    g.close();
    assert_eq!(scope.bytes_outstanding(), 0);
}

#[test]
fn pause_and_run_again_is_a_discontinuity_and_stop_resets_the_counters() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let mut g = graph::build(1, AllocatorOn::Capture);
    assert_eq!(g.run(30), 30);
    assert_eq!(g.sim.set_state(&mut g.capture, KSSTATE_PAUSE), STATUS_SUCCESS);
    assert_eq!(host::armed_timers(), 0, "PAUSE cancels the frame timer");
    // Paused for 5 s: nothing is due, nothing dropped, and the stream time stops.
    {
        let Graph { sim, capture, sink, connection, .. } = &mut g;
        assert_eq!(sim.run_for(connection, capture, sink, 5 * SECOND), 0);
    }
    assert_eq!(dropped(&mut g.sim, &mut g.capture).DropCount, 0);
    assert_eq!(g.sim.set_state(&mut g.capture, KSSTATE_RUN), STATUS_SUCCESS);
    assert_eq!(g.run(30), 30);
    let d = &g.connection.delivered;
    assert_ne!(d[30].options & KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY, 0, "first frame after RUN");
    assert!(d[31..].iter().all(|f| f.options & KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY == 0));
    assert!(d.windows(2).all(|w| w[1].presentation_time > w[0].presentation_time), "monotonic");
    assert_eq!(d[30].presentation_time - d[29].presentation_time, 333_333, "the pause is not stream time");
    assert_eq!(d[59].frame_info.unwrap().PictureNumber, 60);
    // STOP → ACQUIRE starts the counters again.
    let Graph { sim, capture, sink, connection, .. } = &mut g;
    sim.stop(connection, capture, sink);
    assert_eq!(sim.set_state(capture, KSSTATE_RUN), STATUS_SUCCESS);
    assert_eq!(sim.set_state(sink, KSSTATE_RUN), STATUS_SUCCESS);
    assert_eq!(sim.run(connection, capture, sink, 3), 3);
    let last = connection.delivered.last().unwrap();
    assert_eq!(last.frame_info.unwrap().PictureNumber, 3);
    assert_eq!(last.presentation_time, 3 * 333_333, "stream time starts again too");
    g.close();
    assert_eq!(scope.bytes_outstanding(), 0);
}

#[test]
fn with_a_master_clock_frames_carry_the_clocks_time() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let mut g = graph::build(0, AllocatorOn::Sink);
    // The clock can only be assigned in STOP (ReactOS IKsPin_PinMasterClock).
    let origin = 42_000;
    let clock = g.sim.create_clock(origin);
    assert_eq!(g.sim.assign_clock(&mut g.capture, clock), STATUS_INVALID_DEVICE_STATE);
    let Graph { sim, capture, sink, connection, .. } = &mut g;
    sim.stop(connection, capture, sink);
    assert_eq!(sim.assign_clock(capture, clock), STATUS_SUCCESS);
    ksframe::sim::objects::close(clock);
    assert_eq!(sim.set_state(capture, KSSTATE_RUN), STATUS_SUCCESS);
    assert_eq!(capture.object().clock_references(), 1, "the pin took the clock at ACQUIRE");
    assert_eq!(sim.set_state(sink, KSSTATE_RUN), STATUS_SUCCESS);
    assert_eq!(sim.run(connection, capture, sink, 20), 20);
    for f in &connection.delivered {
        assert_eq!(f.presentation_time, f.at - origin, "GetTime of the master clock when filled");
    }
    sim.stop(connection, capture, sink);
    assert_eq!(capture.object().clock_references(), 0, "released at STOP");
    g.close();
    assert_eq!(scope.bytes_outstanding(), 0);
}

#[test]
fn stop_with_a_dpc_queued_releases_everything_and_nothing_runs_after_close() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let mut g = graph::build(0, AllocatorOn::Nobody);
    assert_eq!(g.run(10), 10);
    // The timer expires and queues its DPC, which has not run yet.
    let due = host::next_timer_due().expect("the frame timer is set in RUN");
    assert_eq!(host::advance_to(due), 1);
    assert_eq!(host::queued_dpcs(), 1);
    let ran_before = host::dpcs_run();
    let Graph { sim, capture, sink, connection, .. } = &mut g;
    sim.stop(connection, capture, sink);
    // KeFlushQueuedDpcs in the RUN → PAUSE transition ran the DPC; it saw the pin
    // stopping and set no timer again.
    assert_eq!(host::dpcs_run(), ran_before + 1);
    assert_eq!((host::queued_dpcs(), host::armed_timers()), (0, 0));
    let ran = host::dpcs_run();
    g.close();
    host::advance_to(host::virtual_now() + 10 * SECOND);
    assert_eq!(host::run_queued_dpcs(), 0);
    assert_eq!(host::dpcs_run(), ran, "no callback after Close");
    assert_eq!(scope.bytes_outstanding(), 0, "0 bytes leaked");
}

#[test]
fn freeing_memory_that_holds_a_set_timer_is_a_bug_check() {
    // The check the previous test relies on bites: pool memory holding a set timer
    // cannot be freed (TIMER_OR_DPC_INVALID).
    unsafe extern "system" fn never(_: *mut KDPC, _: PVOID, _: PVOID, _: PVOID) {}
    let scope = PoolScope::new();
    let _g = scope.enter();
    host::clear_virtual_time();
    let timer = ksframe::kernel::PoolBox::try_new(ksframe::kernel::Timer::new(), 1).unwrap();
    // SAFETY: the timer sits in pool memory that does not move.
    unsafe {
        timer.init(never, std::ptr::null_mut());
        timer.set(SECOND);
    }
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(timer)));
    let message = outcome.unwrap_err();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(message.contains("TIMER_OR_DPC_INVALID"), "{message}");
    host::clear_virtual_time();
}

#[test]
fn the_dropped_frames_property_is_the_capture_pins_only() {
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    let f = sim.create_filter(0);
    let mut sink = sim.create_pin(f, ksframe::avstream::SINK_PIN, Some(FORMATS[0].data_format())).unwrap();
    let mut request = Request::get(PROPSETID_VIDCAP_DROPPEDFRAMES, KSPROPERTY_DROPPEDFRAMES_CURRENT, 48);
    request.input_len = 48;
    assert_eq!(sim.property(&mut sink, &request).status, STATUS_PROPSET_NOT_FOUND);
    sim.close_pin(sink);
}
