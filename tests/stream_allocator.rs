//! KSPROPERTY_STREAM_ALLOCATOR with every kind of handle, through the simulator; the
//! file objects' reference counts are balanced at the end of each case.

use ksframe::avstream::{CAPTURE_PIN, DEVICE_DESCRIPTOR, FORMATS, SINK_PIN};
use ksframe::kernel::host::{FakeObjectKind, PoolScope, close_handle, create_handle, refuse_handle};
use ksframe::ks::*;
use ksframe::sim::{AllocatorChoice, Pin, Request, Sim};

fn set(sim: &mut Sim, pin: &mut Pin, handle: HANDLE, mode: KPROCESSOR_MODE) -> NTSTATUS {
    let mut request =
        Request::set(KSPROPSETID_Stream, KSPROPERTY_STREAM_ALLOCATOR, &(handle as usize).to_le_bytes());
    request.requestor = mode;
    sim.property(pin, &request).status
}

fn get(sim: &mut Sim, pin: &mut Pin) -> usize {
    let reply = sim.property(pin, &Request::get(KSPROPSETID_Stream, KSPROPERTY_STREAM_ALLOCATOR, 8));
    assert_eq!((reply.status, reply.information), (STATUS_SUCCESS, 8));
    usize::from_le_bytes(reply.output[..8].try_into().unwrap())
}

fn setup() -> (Sim, Pin) {
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    let filter = sim.create_filter(0);
    let pin = sim.create_pin(filter, CAPTURE_PIN, Some(FORMATS[0].data_format())).unwrap();
    (sim, pin)
}

#[test]
fn valid_handle_is_referenced_reported_and_released_on_close() {
    let (mut sim, mut pin) = setup();
    assert_eq!(get(&mut sim, &mut pin), 0, "no allocator yet: NULL");
    let (handle, file) = create_handle(FakeObjectKind::File, false);
    assert_eq!(set(&mut sim, &mut pin, handle, UserMode), STATUS_SUCCESS);
    assert_eq!(get(&mut sim, &mut pin), handle as usize);
    assert_eq!(file.references(), 1);
    assert!(pin.state().unwrap().has_allocator_reference());
    sim.close_pin(pin);
    assert_eq!(file.references(), 0, "the pin drops its reference on close");
}

#[test]
fn null_detaches_and_replacing_drops_the_previous_reference() {
    let (mut sim, mut pin) = setup();
    let (a, file_a) = create_handle(FakeObjectKind::File, false);
    let (b, file_b) = create_handle(FakeObjectKind::File, false);
    assert_eq!(set(&mut sim, &mut pin, a, UserMode), STATUS_SUCCESS);
    assert_eq!(set(&mut sim, &mut pin, b, UserMode), STATUS_SUCCESS);
    assert_eq!((file_a.references(), file_b.references()), (0, 1));
    assert_eq!(get(&mut sim, &mut pin), b as usize);
    assert_eq!(set(&mut sim, &mut pin, std::ptr::null_mut(), UserMode), STATUS_SUCCESS);
    assert_eq!(get(&mut sim, &mut pin), 0);
    assert_eq!(file_b.references(), 0);
    // Detaching twice is fine.
    assert_eq!(set(&mut sim, &mut pin, std::ptr::null_mut(), UserMode), STATUS_SUCCESS);
    sim.close_pin(pin);
    assert_eq!((file_a.total_references(), file_b.total_references()), (1, 1));
}

#[test]
fn bad_handles_are_refused_without_a_reference_or_a_change() {
    let (mut sim, mut pin) = setup();
    let (good, good_file) = create_handle(FakeObjectKind::File, false);
    assert_eq!(set(&mut sim, &mut pin, good, UserMode), STATUS_SUCCESS);

    let (stale, stale_file) = create_handle(FakeObjectKind::File, false);
    close_handle(stale);
    let forged: HANDLE = std::ptr::without_provenance_mut(0x7FFF_0000);
    let (event, event_object) = create_handle(FakeObjectKind::Event, false);
    let (kernel, kernel_file) = create_handle(FakeObjectKind::File, true);
    let (refused, refused_file) = create_handle(FakeObjectKind::File, false);
    refuse_handle(refused, STATUS_ACCESS_DENIED);

    for (what, handle, mode, status) in [
        ("stale", stale, UserMode, STATUS_INVALID_HANDLE),
        ("forged", forged, UserMode, STATUS_INVALID_HANDLE),
        ("another object type", event, UserMode, STATUS_OBJECT_TYPE_MISMATCH),
        ("kernel handle from user mode", kernel, UserMode, STATUS_INVALID_HANDLE),
        ("access denied", refused, UserMode, STATUS_ACCESS_DENIED),
    ] {
        assert_eq!(set(&mut sim, &mut pin, handle, mode), status, "{what}");
        assert_eq!(get(&mut sim, &mut pin), good as usize, "{what}: the allocator in use changed");
    }
    for object in [&stale_file, &event_object, &kernel_file, &refused_file] {
        assert_eq!(object.references(), 0);
    }
    assert_eq!(good_file.references(), 1);
    // A kernel-mode requestor may use the kernel handle.
    assert_eq!(set(&mut sim, &mut pin, kernel, KernelMode), STATUS_SUCCESS);
    assert_eq!((good_file.references(), kernel_file.references()), (0, 1));
    sim.close_pin(pin);
    assert_eq!(kernel_file.references(), 0);
}

#[test]
fn set_outside_stop_is_refused() {
    let (mut sim, mut pin) = setup();
    let (handle, file) = create_handle(FakeObjectKind::File, false);
    for state in [KSSTATE_ACQUIRE, KSSTATE_PAUSE, KSSTATE_RUN] {
        assert_eq!(sim.set_state(&mut pin, state), STATUS_SUCCESS);
        assert_eq!(set(&mut sim, &mut pin, handle, UserMode), STATUS_INVALID_DEVICE_STATE, "state {state}");
        assert_eq!(set(&mut sim, &mut pin, std::ptr::null_mut(), UserMode), STATUS_INVALID_DEVICE_STATE);
    }
    assert_eq!(sim.set_state(&mut pin, KSSTATE_STOP), STATUS_SUCCESS);
    assert_eq!(set(&mut sim, &mut pin, handle, UserMode), STATUS_SUCCESS);
    sim.close_pin(pin);
    assert_eq!(file.references(), 0);
}

#[test]
fn pipes_with_and_without_our_allocator() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    for choice in [AllocatorChoice::Upstream, AllocatorChoice::Downstream, AllocatorChoice::Foreign] {
        let _ = ksframe::kernel::host::take_log();
        let before = scope.stats();
        let (a, b) = (sim.create_filter(0), sim.create_filter(0));
        let mut up = sim.create_pin(a, CAPTURE_PIN, Some(FORMATS[1].data_format())).unwrap();
        let mut down = sim.create_pin(b, SINK_PIN, Some(FORMATS[1].data_format())).unwrap();
        let mut pipe = sim.connect(&mut up, &mut down, choice).unwrap();
        assert_eq!(pipe.resolved.framing.FrameSize, FORMATS[1].image_size());
        assert_eq!(sim.set_state(&mut up, KSSTATE_RUN), STATUS_SUCCESS);
        assert_eq!(sim.set_state(&mut down, KSSTATE_RUN), STATUS_SUCCESS);
        assert_eq!(sim.run(&mut pipe, &mut up, &mut down, 1000), 1000);
        assert_eq!(down.state().unwrap().pattern_errors(), 0);
        let inits = ksframe::kernel::host::take_log().iter().filter(|l| l.contains("allocator init")).count();
        let pools = [up.state().unwrap().pool().is_null(), down.state().unwrap().pool().is_null()];
        match choice {
            AllocatorChoice::Upstream => assert_eq!((inits, pools), (1, [false, true])),
            AllocatorChoice::Downstream => assert_eq!((inits, pools), (1, [true, false])),
            AllocatorChoice::Foreign => {
                // ksframe's callbacks were never called, and the pins work regardless.
                assert_eq!((inits, pools), (0, [true, true]));
                let pool_allocations = scope.stats().allocations - before.allocations;
                // Per pin: its state, and the KsEdit copies of its descriptor and framing.
                assert_eq!(pool_allocations, 2 * 3, "no frame pool");
            }
        }
        sim.close_pin(up);
        sim.close_pin(down);
        assert_eq!(scope.bytes_outstanding(), 0, "{choice:?} leaked");
    }
}
