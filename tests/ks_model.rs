//! The model's own rules, shown on variant pin tables (not ksframe's): the merge gives the
//! minidriver's whole item, a SupportHandler takes BASICSUPPORT unless it answers
//! STATUS_MORE_PROCESSING_REQUIRED, MinProperty is enforced with
//! STATUS_BUFFER_TOO_SMALL. Sources beside the rules in src/model/property.rs.

use ksframe::avstream::{CAPTURE_PIN, DEVICE_DESCRIPTOR, FORMATS, PIN_DESCRIPTORS};
use ksframe::ks::*;
use ksframe::property::{Property, automation_table, items, property_set};
use ksframe::sim::{Request, Sim};

unsafe extern "system" fn state_get_only(irp: *mut IRP, _r: *mut KSIDENTIFIER, data: PVOID) -> NTSTATUS {
    // SAFETY: KS checked MinData (4).
    unsafe {
        data.cast::<u32>().write_unaligned(0xABCD);
        (*irp).IoStatus.Information = 4;
    }
    STATUS_SUCCESS
}

unsafe extern "system" fn support_answers(irp: *mut IRP, _r: *mut KSIDENTIFIER, _d: PVOID) -> NTSTATUS {
    // SAFETY: a valid IRP.
    unsafe { (*irp).IoStatus.Information = 0 };
    STATUS_NOT_SUPPORTED
}

unsafe extern "system" fn support_defers(_irp: *mut IRP, _r: *mut KSIDENTIFIER, _d: PVOID) -> NTSTATUS {
    STATUS_MORE_PROCESSING_REQUIRED
}

const fn with_support(mut item: KSPROPERTY_ITEM, support: PFNKSHANDLER) -> KSPROPERTY_ITEM {
    item.SupportHandler = support;
    item
}

static CONNECTION: [KSPROPERTY_ITEM; 3] = {
    let [state, a, b] = items([
        // Replaces AVStream's STATE (Get and Set) with a Get-only item.
        Property::get(KSPROPERTY_CONNECTION_STATE, Some(state_get_only), 4),
        Property::get(KSPROPERTY_CONNECTION_ALLOCATORFRAMING, Some(state_get_only), 4),
        Property::get(KSPROPERTY_CONNECTION_PRIORITY, Some(state_get_only), 4),
    ]);
    [state, with_support(a, Some(support_answers)), with_support(b, Some(support_defers))]
};
static MIN_PROPERTY: [KSPROPERTY_ITEM; 1] = {
    let [mut item] = items([Property::get(0, Some(state_get_only), 4)]);
    item.MinProperty = 32; // a KSP_PIN-sized request
    [item]
};
const PRIVATE: GUID = GUID::from_u128(0x1111_2222_3333_4444_5555_6666_7777_8888);
static SETS: [KSPROPERTY_SET; 2] =
    [property_set(&KSPROPSETID_Connection, &CONNECTION), property_set(&PRIVATE, &MIN_PROPERTY)];
static TABLE: KSAUTOMATION_TABLE = automation_table(&SETS);
static VARIANT: KSPIN_DESCRIPTOR_EX =
    KSPIN_DESCRIPTOR_EX { AutomationTable: &TABLE, ..PIN_DESCRIPTORS[CAPTURE_PIN as usize] };

fn with_flags(mut r: Request, flags: u32) -> Request {
    r.flags = flags;
    r
}

#[test]
fn the_model_merges_and_dispatches_as_ks_does() {
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    let f = sim.create_filter(0);
    let mut pin = sim.create_pin_with(f, CAPTURE_PIN, &VARIANT, Some(FORMATS[0].data_format())).unwrap();

    // The minidriver's STATE item wins whole: its Get answers, and AVStream's Set is gone.
    let get = sim.property(&mut pin, &Request::get(KSPROPSETID_Connection, KSPROPERTY_CONNECTION_STATE, 4));
    assert_eq!((get.status, &get.output[..]), (STATUS_SUCCESS, &0xABCDu32.to_le_bytes()[..]));
    let set =
        sim.property(&mut pin, &Request::set(KSPROPSETID_Connection, KSPROPERTY_CONNECTION_STATE, &[0; 4]));
    assert_eq!(set.status, STATUS_NOT_FOUND);
    // AVStream's other items still answer (Stream ALLOCATOR, not overridden).
    let alloc = sim.property(&mut pin, &Request::get(KSPROPSETID_Stream, KSPROPERTY_STREAM_ALLOCATOR, 8));
    assert_eq!((alloc.status, alloc.information), (STATUS_SUCCESS, 8));

    // A SupportHandler's status is KS's answer to BASICSUPPORT...
    let basic = |id| with_flags(Request::get(KSPROPSETID_Connection, id, 4), KSPROPERTY_TYPE_BASICSUPPORT);
    let r = sim.property(&mut pin, &basic(KSPROPERTY_CONNECTION_ALLOCATORFRAMING));
    assert_eq!(r.status, STATUS_NOT_SUPPORTED);
    // ... unless it is STATUS_MORE_PROCESSING_REQUIRED: then KS answers itself.
    let r = sim.property(&mut pin, &basic(KSPROPERTY_CONNECTION_PRIORITY));
    assert_eq!((r.status, r.information, &r.output[..]), (STATUS_SUCCESS, 4, &1u32.to_le_bytes()[..]));
    // Without a SupportHandler, KS answers; a 2-byte buffer is too small.
    let mut short = basic(KSPROPERTY_CONNECTION_STATE);
    short.output_len = 2;
    assert_eq!(sim.property(&mut pin, &short).status, STATUS_BUFFER_TOO_SMALL);

    // MinProperty: a bare KSPROPERTY is too short for a 32-byte request.
    let r = sim.property(&mut pin, &Request::get(PRIVATE, 0, 4));
    assert_eq!((r.status, r.information), (STATUS_BUFFER_TOO_SMALL, 0));
    let mut long = Request::get(PRIVATE, 0, 4);
    long.input_len = 32;
    assert_eq!(sim.property(&mut pin, &long).status, STATUS_SUCCESS);
    // GETPAYLOADSIZE: the item's MinData.
    let r = sim.property(&mut pin, &with_flags(long.clone(), KSPROPERTY_TYPE_GETPAYLOADSIZE));
    assert_eq!((r.status, r.information), (STATUS_BUFFER_OVERFLOW, 4));
    sim.close_pin(pin);
}

// ----- Rules the ksframe pins cannot tell apart (their flags and framing are fixed), shown
// on model pins of variant descriptors: no dispatch, so no driver code runs. ------------

use ksframe::framing::Framing;
use ksframe::model::allocator::{create_on_pin, validate_create_request};
use ksframe::model::avstream::{PinObject, arrival_initiates, dispatches_process, may_process};
use ksframe::model::requestor::{frame_extent, frames_in_flight};
use ksframe::sim::objects::{self, HOST_OBJECTS};

/// A stopped model pin of a descriptor with `flags` and `framing`, and no dispatch.
fn model_pin(flags: u32, framing: Option<KSALLOCATOR_FRAMING_EX>) -> PinObject {
    let descriptor: &'static KSPIN_DESCRIPTOR_EX = Box::leak(Box::new(KSPIN_DESCRIPTOR_EX {
        Dispatch: core::ptr::null(),
        AutomationTable: core::ptr::null(),
        Flags: flags,
        AllocatorFraming: framing.map_or(core::ptr::null(), |f| Box::leak(Box::new(f))),
        ..PIN_DESCRIPTORS[CAPTURE_PIN as usize]
    }));
    PinObject::new(descriptor, CAPTURE_PIN, core::ptr::null_mut(), core::ptr::null_mut(), &HOST_OBJECTS)
}

const STATES: [KSSTATE; 4] = [KSSTATE_STOP, KSSTATE_ACQUIRE, KSSTATE_PAUSE, KSSTATE_RUN];

/// KsValidateAllocatorCreateRequest: FrameSize 0, or an OptionsFlags bit outside
/// ReactOS's SupportedFlags (0xF) → STATUS_INVALID_PARAMETER; KsCreateDefaultAllocatorEx:
/// FileAlignment > PAGE_SIZE − 1 → STATUS_INVALID_PARAMETER (ReactOS `allocators.c`, as
/// src/model/allocator.rs cites).
#[test]
fn allocator_create_requests_are_validated_as_ks_does() {
    let request = |flags, frame_size, alignment| KSALLOCATOR_FRAMING {
        OptionsFlags: flags,
        PoolType: NonPagedPool,
        Frames: 2,
        FrameSize: frame_size,
        FileAlignment: alignment,
        Reserved: 0,
    };
    // Every supported flag alone and all together; alignments up to a page.
    for flags in [0, 1, 2, 4, 8, 0xF] {
        assert_eq!(validate_create_request(&request(flags, 4096, 0)), Ok(()), "flags {flags:#x}");
    }
    for alignment in [0, FILE_64_BYTE_ALIGNMENT, 4095] {
        assert_eq!(validate_create_request(&request(0, 4096, alignment)), Ok(()), "alignment {alignment:#x}");
    }
    let refused = [
        ("FrameSize 0", request(KSALLOCATOR_OPTIONF_SYSTEM_MEMORY, 0, 0)),
        ("flag 0x10", request(0x10, 4096, 0)),
        ("PREFERENCES_ONLY", request(KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY, 4096, 0)),
        ("a supported flag with an unsupported one", request(0x12, 4096, 0)),
        ("FileAlignment 4096", request(0, 4096, 4096)),
        ("FileAlignment 4097", request(0, 4096, 4097)),
    ];
    for (what, r) in refused {
        assert_eq!(validate_create_request(&r), Err(STATUS_INVALID_PARAMETER), "{what}");
    }
}

/// AVStream's allocator create item uses the pin's KSPIN_DISPATCH.Allocator callbacks, or
/// KS's own allocator (KsCreateDefaultAllocator) when the pin has none (KS-NOTES, "How
/// AVStream calls the driver", as src/model/allocator.rs cites).
#[test]
fn the_allocator_is_the_pins_own_only_with_an_allocator_dispatch() {
    let mut pin = model_pin(0, None);
    let framing = KSALLOCATOR_FRAMING {
        OptionsFlags: KSALLOCATOR_OPTIONF_SYSTEM_MEMORY,
        PoolType: NonPagedPool,
        Frames: 2,
        FrameSize: 4096,
        FileAlignment: 0,
        Reserved: 0,
    };
    // SAFETY: a live model pin whose descriptor has no dispatch, at PASSIVE_LEVEL.
    let mut ks_own = unsafe { create_on_pin(&mut pin.ks, &framing, &HOST_OBJECTS) }.unwrap();
    assert!(!ks_own.is_custom());
    assert!(ks_own.context().is_null());
    // SAFETY: no frame function runs; closed once.
    unsafe { ks_own.close() };

    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    let f = sim.create_filter(0);
    let mut ours = sim.create_pin(f, CAPTURE_PIN, Some(FORMATS[0].data_format())).unwrap();
    let handle = sim.create_allocator(&mut ours, &framing, KernelMode).unwrap();
    let (custom, context) = objects::with_allocator(handle, |a| (a.is_custom(), a.context())).unwrap();
    assert!(custom, "ksframe's pins bring KSALLOCATOR_DISPATCH");
    assert!(!context.is_null(), "InitializeAllocator stored the pool");
    objects::close(handle);
    sim.close_pin(ours);
}

/// Process runs in PAUSE and RUN, or only in RUN with KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY
/// (KSPIN_DESCRIPTOR_EX docs, Flags); it is dispatched with data queued, or without with
/// KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING ("Restarting Processing in AVStream").
#[test]
fn process_runs_in_the_states_and_with_the_data_the_flags_say() {
    for (flags, runs_in) in [
        (0, [false, false, true, true]),
        (KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY, [false, false, false, true]),
        (KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING, [false, false, true, true]),
    ] {
        let mut pin = model_pin(flags, None);
        for (state, runs) in STATES.into_iter().zip(runs_in) {
            pin.ks.DeviceState = state;
            assert_eq!(may_process(&pin), runs, "flags {flags:#x}, state {state}");
            let without_data = runs && flags & KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING != 0;
            assert_eq!(dispatches_process(&pin, 0), without_data, "flags {flags:#x}, state {state}, empty");
            for queued in [1, 2] {
                assert_eq!(
                    dispatches_process(&pin, queued),
                    runs,
                    "flags {flags:#x}, state {state}, {queued}"
                );
            }
        }
    }
}

/// An arrival initiates processing when the queue was empty, on every arrival with
/// KSPIN_FLAG_INITIATE_PROCESSING_ON_EVERY_ARRIVAL, never with
/// KSPIN_FLAG_DO_NOT_INITIATE_PROCESSING (KSPIN_DESCRIPTOR_EX docs; PFNKSPIN docs).
#[test]
fn arrivals_initiate_processing_as_the_flags_say() {
    let every = KSPIN_FLAG_INITIATE_PROCESSING_ON_EVERY_ARRIVAL;
    let never = KSPIN_FLAG_DO_NOT_INITIATE_PROCESSING;
    // Initiates with 0, 1, 2 frames queued before the arrival.
    for (flags, initiates) in [
        (0, [true, false, false]),
        (every, [true, true, true]),
        (never, [false, false, false]),
        (every | never, [false, false, false]),
        (KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY, [true, false, false]),
    ] {
        let pin = model_pin(flags, None);
        for (before, want) in [0, 1, 2].into_iter().zip(initiates) {
            assert_eq!(arrival_initiates(&pin, before), want, "flags {flags:#x}, {before} queued before");
        }
    }
}

/// The requestor sizes its frames from Descriptor->AllocatorFraming->FramingItem[0]
/// (KS-NOTES, "How AVStream calls the driver"): MaxFrameSize, or MinFrameSize when the
/// range is open-ended (Max 0 or ~0; inferred, as src/model/requestor.rs says), and keeps
/// that item's Frames in flight, at least one (inferred likewise).
#[test]
fn the_requestor_sizes_and_counts_frames_from_the_first_framing_item() {
    let framing = |frames, min, max| {
        let mut ex = Framing::for_image(min, frames).to_framing_ex();
        ex.FramingItem[0].FramingRange.Range.MaxFrameSize = max;
        Some(ex)
    };
    for (min, max, extent) in [(100, 200, 200), (100, 100, 100), (100, 0, 100), (100, u32::MAX, 100)] {
        assert_eq!(frame_extent(&model_pin(0, framing(3, min, max))), extent, "range {min}..{max}");
    }
    assert_eq!(frame_extent(&model_pin(0, None)), 0);
    assert_eq!(frames_in_flight(&model_pin(0, framing(3, 100, 100))), 3);
    assert_eq!(frames_in_flight(&model_pin(0, framing(0, 100, 100))), 1);
    assert_eq!(frames_in_flight(&model_pin(0, None)), 1);
}
