//! KSPROPERTY_STREAM_ALLOCATOR as a client sees it on ksframe's pins: AVStream's own item
//! answers (the pins do not list it), with AVStream's semantics (KS-NOTES, "How AVStream
//! calls the driver"): Get is always a NULL handle; Set outside KSSTATE_STOP is
//! STATUS_INVALID_DEVICE_STATE; a handle is referenced with SYNCHRONIZE | FILE_READ_DATA
//! as a file object in the requestor's mode (Ob's statuses for bad handles) and must
//! answer the allocator function table (else STATUS_INVALID_BUFFER_SIZE); the reference
//! is kept until replaced, detached with NULL, or the pin closes. Reference counts
//! balance in every case.

use ksframe::avstream::{CAPTURE_PIN, DEVICE_DESCRIPTOR, FORMATS, SINK_PIN};
use ksframe::kernel::host::PoolScope;
use ksframe::ks::*;
use ksframe::sim::objects::{self, FILE_GENERIC_READ};
use ksframe::sim::{Pin, Request, Sim};

fn set(sim: &mut Sim, pin: &mut Pin, handle: HANDLE, mode: KPROCESSOR_MODE) -> NTSTATUS {
    let request =
        Request::set(KSPROPSETID_Stream, KSPROPERTY_STREAM_ALLOCATOR, &(handle as usize).to_le_bytes())
            .from(mode);
    sim.property(pin, &request).status
}

fn get(sim: &mut Sim, pin: &mut Pin) -> usize {
    let reply = sim.property(pin, &Request::get(KSPROPSETID_Stream, KSPROPERTY_STREAM_ALLOCATOR, 8));
    assert_eq!((reply.status, reply.information), (STATUS_SUCCESS, 8));
    usize::from_le_bytes(reply.output[..8].try_into().unwrap())
}

fn setup(pin_id: u32) -> (Sim, Pin, Pin) {
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    let (a, b) = (sim.create_filter(0), sim.create_filter(0));
    let pin = sim.create_pin(a, pin_id, Some(FORMATS[0].data_format())).unwrap();
    // A pin of another filter to create allocators on.
    let other = sim.create_pin(b, SINK_PIN, Some(FORMATS[0].data_format())).unwrap();
    (sim, pin, other)
}

fn allocator(sim: &mut Sim, on: &mut Pin, mode: KPROCESSOR_MODE) -> (HANDLE, usize) {
    let framing = KSALLOCATOR_FRAMING {
        OptionsFlags: KSALLOCATOR_OPTIONF_SYSTEM_MEMORY,
        PoolType: NonPagedPool,
        Frames: 2,
        FrameSize: 4096,
        FileAlignment: 0,
        Reserved: 0,
    };
    let handle = sim.create_allocator(on, &framing, mode).unwrap();
    (handle, objects::object_of(handle).unwrap())
}

#[test]
fn an_allocator_is_referenced_kept_and_released_on_close_and_get_stays_null() {
    for pin_id in [CAPTURE_PIN, SINK_PIN] {
        let scope = PoolScope::new();
        let _g = scope.enter();
        let (mut sim, mut pin, mut other) = setup(pin_id);
        assert_eq!(get(&mut sim, &mut pin), 0);
        let (handle, object) = allocator(&mut sim, &mut other, UserMode);
        assert_eq!(set(&mut sim, &mut pin, handle, UserMode), STATUS_SUCCESS);
        assert_eq!(get(&mut sim, &mut pin), 0, "AVStream's Get is always a NULL handle");
        assert_eq!(objects::references(object), 1);
        assert!(pin.object().assigned_allocator().is_some());
        objects::close(handle);
        assert!(objects::is_live(object), "the pin's reference keeps the allocator open");
        sim.close_pin(pin);
        assert!(!objects::is_live(object), "the last reference closed the allocator (DeleteAllocator)");
        sim.close_pin(other);
        assert_eq!(scope.bytes_outstanding(), 0);
    }
}

#[test]
fn null_detaches_and_replacing_drops_the_previous_reference() {
    let (mut sim, mut pin, mut other) = setup(CAPTURE_PIN);
    let (first, a) = allocator(&mut sim, &mut other, KernelMode);
    let (second, b) = allocator(&mut sim, &mut other, KernelMode);
    assert_eq!(set(&mut sim, &mut pin, first, KernelMode), STATUS_SUCCESS);
    assert_eq!(set(&mut sim, &mut pin, second, KernelMode), STATUS_SUCCESS);
    assert_eq!((objects::references(a), objects::references(b)), (0, 1));
    assert_eq!(set(&mut sim, &mut pin, core::ptr::null_mut(), KernelMode), STATUS_SUCCESS);
    assert_eq!(objects::references(b), 0);
    assert!(pin.object().assigned_allocator().is_none());
    objects::close(first);
    objects::close(second);
    sim.close_pin(pin);
    sim.close_pin(other);
}

#[test]
fn bad_handles_get_the_exact_status_and_change_nothing() {
    let (mut sim, mut pin, mut other) = setup(CAPTURE_PIN);
    let (good, object) = allocator(&mut sim, &mut other, UserMode);
    assert_eq!(set(&mut sim, &mut pin, good, UserMode), STATUS_SUCCESS);
    let kernel_allocator = allocator(&mut sim, &mut other, KernelMode);
    let stale = allocator(&mut sim, &mut other, UserMode);
    objects::close(stale.0);
    let refused = allocator(&mut sim, &mut other, UserMode);
    objects::refuse(refused.0, STATUS_ACCESS_DENIED);
    // A user handle to the allocator without FILE_READ_DATA.
    let write_only = objects::duplicate(refused.0, false, FILE_WRITE_DATA | SYNCHRONIZE).unwrap();
    let cases: [(&str, HANDLE, KPROCESSOR_MODE, NTSTATUS); 8] = [
        ("stale", stale.0, UserMode, STATUS_INVALID_HANDLE),
        ("forged", core::ptr::without_provenance_mut(0x7777_0000), UserMode, STATUS_INVALID_HANDLE),
        ("kernel handle from user mode", kernel_allocator.0, UserMode, STATUS_INVALID_HANDLE),
        ("an event", objects::open_event(false), UserMode, STATUS_OBJECT_TYPE_MISMATCH),
        ("refused by Ob", refused.0, UserMode, STATUS_ACCESS_DENIED),
        ("no FILE_READ_DATA", write_only, UserMode, STATUS_ACCESS_DENIED),
        ("a file that is no allocator", objects::open_file(false), UserMode, STATUS_INVALID_BUFFER_SIZE),
        (
            "a kernel file that is no allocator",
            objects::open_file(true),
            KernelMode,
            STATUS_INVALID_BUFFER_SIZE,
        ),
    ];
    for (what, handle, mode, want) in cases {
        assert_eq!(set(&mut sim, &mut pin, handle, mode), want, "{what}");
        if let Some(o) = objects::object_of(handle) {
            assert_eq!(objects::references(o), 0, "{what}: a refused handle keeps no reference");
        }
    }
    // The first allocator is still the one assigned.
    assert_eq!(objects::references(object), 1);
    let (file, _) = pin.object().assigned_allocator().unwrap();
    assert_eq!(file as usize, object);
    // KernelMode skips the access check (ObReferenceObjectByHandle docs).
    let kernel_dup = objects::duplicate(write_only, true, FILE_WRITE_DATA).unwrap();
    assert_eq!(set(&mut sim, &mut pin, kernel_dup, KernelMode), STATUS_SUCCESS);
    assert_eq!(objects::references(object), 0);
    for h in [good, kernel_allocator.0, refused.0, write_only, kernel_dup] {
        objects::close(h);
    }
    sim.close_pin(pin);
    sim.close_pin(other);
    let _ = FILE_GENERIC_READ;
}

#[test]
fn set_outside_stop_is_refused() {
    let (mut sim, mut pin, mut other) = setup(CAPTURE_PIN);
    let (handle, object) = allocator(&mut sim, &mut other, KernelMode);
    for state in [KSSTATE_ACQUIRE, KSSTATE_PAUSE, KSSTATE_RUN] {
        assert_eq!(sim.set_state(&mut pin, state), STATUS_SUCCESS);
        assert_eq!(set(&mut sim, &mut pin, handle, KernelMode), STATUS_INVALID_DEVICE_STATE);
        assert_eq!(set(&mut sim, &mut pin, core::ptr::null_mut(), KernelMode), STATUS_INVALID_DEVICE_STATE);
    }
    assert_eq!(objects::references(object), 0);
    assert_eq!(sim.set_state(&mut pin, KSSTATE_STOP), STATUS_SUCCESS);
    assert_eq!(set(&mut sim, &mut pin, handle, KernelMode), STATUS_SUCCESS);
    objects::close(handle);
    sim.close_pin(pin);
    sim.close_pin(other);
}
