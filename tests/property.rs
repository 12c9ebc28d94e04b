//! The pins' properties through the model of KS (KsPropertyHandler over the pin's table
//! merged over AVStream's), table-driven: every property the pins answer (theirs and
//! AVStream's own items, and the capture pin's dropped-frames property) × every verb (and unknown ones) × output lengths {0, 1, 4,
//! required − 1, required, required + 100} × input lengths {12, 24, 64}, each against
//! the exact NTSTATUS and Information of the shipped ks.sys (KS-NOTES, "KsPropertyHandler
//! as the shipped ks.sys does it"; the rules are written out again below, independently
//! of src/model and src/property).

mod graph;

use graph::AllocatorOn;
use ksframe::allocator::AllocatorStats;
use ksframe::avstream::{CAPTURE_PIN, DEVICE_DESCRIPTOR, FORMATS};
use ksframe::kernel::host::PoolScope;
use ksframe::ks::*;
use ksframe::property::{
    KSPROPERTY_KSFRAME_ALLOCATOR_RESET, KSPROPERTY_KSFRAME_ALLOCATOR_STATISTICS, KSPROPSETID_KsframeAllocator,
};
use ksframe::sim::{Request, Sim};

#[derive(Clone, Copy, Debug)]
struct Spec {
    name: &'static str,
    set: GUID,
    id: u32,
    get: bool,
    set_supported: bool,
    /// MinData KS enforces for Get/Set.
    min_data: u32,
    /// Bytes a successful Get writes.
    value: u32,
    /// The handler does the size protocol itself (MinData 0).
    variable: bool,
    /// MinProperty: the input a request must carry.
    min_property: u32,
    /// What a Get that passes KS's checks returns (Information 0 on failure).
    get_status: NTSTATUS,
}

const SPECS: [Spec; 8] = [
    Spec {
        name: "ALLOCATORFRAMING",
        set: KSPROPSETID_Connection,
        id: KSPROPERTY_CONNECTION_ALLOCATORFRAMING,
        get: true,
        set_supported: false,
        min_data: 24,
        value: 24,
        variable: false,
        min_property: 24,
        get_status: STATUS_SUCCESS,
    },
    Spec {
        name: "ALLOCATORFRAMING_EX",
        set: KSPROPSETID_Connection,
        id: KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX,
        get: true,
        set_supported: false,
        min_data: 0,
        value: 24 + 88,
        variable: true,
        min_property: 24,
        get_status: STATUS_SUCCESS,
    },
    // AVStream's own items (the pins do not list them).
    Spec {
        name: "CONNECTION_STATE",
        set: KSPROPSETID_Connection,
        id: KSPROPERTY_CONNECTION_STATE,
        get: true,
        set_supported: true,
        min_data: 4,
        value: 4,
        variable: false,
        min_property: 24,
        get_status: STATUS_SUCCESS,
    },
    Spec {
        name: "STREAM_MASTERCLOCK",
        set: KSPROPSETID_Stream,
        id: KSPROPERTY_STREAM_MASTERCLOCK,
        get: true,
        set_supported: true,
        min_data: 8,
        value: 8,
        variable: false,
        min_property: 24,
        // ReactOS IKsPin_PinMasterClock: a pin that does not implement a clock.
        get_status: STATUS_UNSUCCESSFUL,
    },
    Spec {
        name: "STREAM_ALLOCATOR",
        set: KSPROPSETID_Stream,
        id: KSPROPERTY_STREAM_ALLOCATOR,
        get: true,
        set_supported: true,
        min_data: 8,
        value: 8,
        variable: false,
        min_property: 24,
        get_status: STATUS_SUCCESS,
    },
    Spec {
        name: "KSFRAME_STATISTICS",
        set: KSPROPSETID_KsframeAllocator,
        id: KSPROPERTY_KSFRAME_ALLOCATOR_STATISTICS,
        get: true,
        set_supported: false,
        min_data: 48,
        value: 48,
        variable: false,
        min_property: 24,
        get_status: STATUS_SUCCESS,
    },
    Spec {
        name: "KSFRAME_RESET",
        set: KSPROPSETID_KsframeAllocator,
        id: KSPROPERTY_KSFRAME_ALLOCATOR_RESET,
        get: false,
        set_supported: true,
        min_data: 0,
        value: 0,
        variable: false,
        min_property: 24,
        get_status: STATUS_SUCCESS,
    },
    // The capture pin's dropped-frames property: request and value are both a
    // KSPROPERTY_DROPPEDFRAMES_CURRENT_S (48 bytes).
    Spec {
        name: "DROPPEDFRAMES_CURRENT",
        set: PROPSETID_VIDCAP_DROPPEDFRAMES,
        id: KSPROPERTY_DROPPEDFRAMES_CURRENT,
        get: true,
        set_supported: false,
        min_data: 48,
        value: 48,
        variable: false,
        min_property: 48,
        get_status: STATUS_SUCCESS,
    },
];

const DESCRIPTION: u32 = 40;

/// The expected (status, information): the shipped ks.sys's KsPropertyHandler, then
/// the handlers (ksframe's, or AVStream's built-in ones as documented).
fn expected(spec: &Spec, flags: u32, input_len: u32, output_len: u32) -> (NTSTATUS, usize) {
    if input_len < 24 {
        return (STATUS_INVALID_BUFFER_SIZE, 0);
    }
    let verb = flags & !KSPROPERTY_TYPE_TOPOLOGY;
    let known = [
        KSPROPERTY_TYPE_GET,
        KSPROPERTY_TYPE_SET,
        KSPROPERTY_TYPE_BASICSUPPORT,
        KSPROPERTY_TYPE_RELATIONS,
        KSPROPERTY_TYPE_GETPAYLOADSIZE,
    ];
    if known.contains(&verb) && input_len < spec.min_property {
        return (STATUS_BUFFER_TOO_SMALL, 0);
    }
    match verb {
        KSPROPERTY_TYPE_SETSUPPORT => (STATUS_SUCCESS, 0),
        KSPROPERTY_TYPE_GETPAYLOADSIZE => (STATUS_BUFFER_OVERFLOW, spec.min_data as usize),
        // No item has a SupportHandler, relations or default values.
        KSPROPERTY_TYPE_RELATIONS => (STATUS_NOT_FOUND, 0),
        KSPROPERTY_TYPE_BASICSUPPORT => match output_len {
            4 => (STATUS_SUCCESS, 4),
            n if n >= DESCRIPTION => (STATUS_SUCCESS, DESCRIPTION as usize),
            _ => (STATUS_BUFFER_TOO_SMALL, 0),
        },
        KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_SET => {
            let is_get = verb == KSPROPERTY_TYPE_GET;
            if (is_get && !spec.get) || (!is_get && !spec.set_supported) {
                return (STATUS_NOT_FOUND, 0);
            }
            if output_len < spec.min_data {
                return (STATUS_BUFFER_TOO_SMALL, 0);
            }
            if !is_get {
                // Sets of zero bytes: STOP (already), a NULL clock / allocator (detach),
                // the counters' reset.
                return (STATUS_SUCCESS, 0);
            }
            if spec.get_status != STATUS_SUCCESS {
                return (spec.get_status, 0);
            }
            if spec.variable {
                return match output_len {
                    0 => (STATUS_BUFFER_OVERFLOW, spec.value as usize),
                    n if n < spec.value => (STATUS_BUFFER_TOO_SMALL, 0),
                    _ => (STATUS_SUCCESS, spec.value as usize),
                };
            }
            (STATUS_SUCCESS, spec.value as usize)
        }
        _ => (STATUS_INVALID_PARAMETER, 0),
    }
}

#[test]
fn every_property_verb_and_length_gives_the_exact_status_and_information() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    let a = sim.create_filter(0);
    let mut capture = sim.create_pin(a, CAPTURE_PIN, Some(FORMATS[0].data_format())).unwrap();
    // An allocator created on the pin, so its statistics set has a pool to report on.
    let framing = capture.descriptor_framing().unwrap().FramingItem[0];
    let request = KSALLOCATOR_FRAMING {
        OptionsFlags: KSALLOCATOR_OPTIONF_SYSTEM_MEMORY,
        PoolType: NonPagedPool,
        Frames: framing.Frames,
        FrameSize: framing.FramingRange.Range.MaxFrameSize,
        FileAlignment: framing.FileAlignment,
        Reserved: 0,
    };
    let allocator = sim.create_allocator(&mut capture, &request, UserMode).unwrap();

    let verbs = [
        KSPROPERTY_TYPE_GET,
        KSPROPERTY_TYPE_SET,
        KSPROPERTY_TYPE_BASICSUPPORT,
        KSPROPERTY_TYPE_SETSUPPORT,
        KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_TOPOLOGY,
        KSPROPERTY_TYPE_RELATIONS,
        0x0002_0000,
        KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_SET,
        KSPROPERTY_TYPE_GETPAYLOADSIZE,
    ];
    let mut cases = 0;
    for spec in SPECS {
        for flags in verbs {
            let required = match flags & !KSPROPERTY_TYPE_TOPOLOGY {
                KSPROPERTY_TYPE_BASICSUPPORT => DESCRIPTION,
                _ => spec.value.max(spec.min_data).max(1),
            };
            for output_len in [0, 1, 4, required - 1, required, required + 100] {
                for input_len in [12u32, 24, 64] {
                    let request = Request {
                        set: spec.set,
                        id: spec.id,
                        flags,
                        input_len,
                        output_len,
                        data: Vec::new(),
                        requestor: UserMode,
                    };
                    let reply = sim.property(&mut capture, &request);
                    let want = expected(&spec, flags, input_len, output_len);
                    assert_eq!(
                        (reply.status, reply.information),
                        want,
                        "{} flags {flags:#x} out {output_len} in {input_len}: got {:#010x}/{}, want {:#010x}/{}",
                        spec.name,
                        reply.status as u32,
                        reply.information,
                        want.0 as u32,
                        want.1
                    );
                    if reply.status == STATUS_SUCCESS
                        && flags & !KSPROPERTY_TYPE_TOPOLOGY == KSPROPERTY_TYPE_BASICSUPPORT
                    {
                        let access = u32::from_le_bytes(reply.output[..4].try_into().unwrap());
                        let mut want = 0;
                        if spec.get {
                            want |= KSPROPERTY_TYPE_GET;
                        }
                        if spec.set_supported {
                            want |= KSPROPERTY_TYPE_SET;
                        }
                        assert_eq!(access, want, "{} access flags", spec.name);
                    }
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 8 * 9 * 6 * 3);
    ksframe::sim::objects::close(allocator);
    sim.close_pin(capture);
    assert_eq!(scope.bytes_outstanding(), 0, "pins and pool leaked");
}

#[test]
fn unknown_sets_and_ids_and_default_items() {
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    let filter = sim.create_filter(0);
    let mut pin = sim.create_pin(filter, CAPTURE_PIN, Some(FORMATS[0].data_format())).unwrap();
    let unknown_set = GUID::from_u128(0x01234567_89AB_CDEF_0123_456789ABCDEF);
    assert_eq!(sim.property(&mut pin, &Request::get(unknown_set, 0, 8)).status, STATUS_PROPSET_NOT_FOUND);
    assert_eq!(sim.property(&mut pin, &Request::get(KSPROPSETID_Connection, 99, 8)).status, STATUS_NOT_FOUND);
    assert_eq!(
        sim.property(&mut pin, &Request::get(KSPROPSETID_KsframeAllocator, 7, 8)).status,
        STATUS_NOT_FOUND
    );
    // An AVStream item the pin does not override still answers.
    let state = sim.property(&mut pin, &Request::get(KSPROPSETID_Connection, KSPROPERTY_CONNECTION_STATE, 4));
    assert_eq!(
        (state.status, state.information, state.output.clone()),
        (STATUS_SUCCESS, 4, vec![0, 0, 0, 0])
    );
    // GUID_NULL, id 0, SETSUPPORT: the merged table's sets (the capture pin's three,
    // then AVStream's Stream set, which the pin does not have).
    let mut enumerate = Request::get(GUID_NULL, 0, 0);
    enumerate.flags = KSPROPERTY_TYPE_SETSUPPORT;
    let sizing = sim.property(&mut pin, &enumerate);
    assert_eq!((sizing.status, sizing.information), (STATUS_BUFFER_OVERFLOW, 4 * 16));
    enumerate.output_len = 64;
    let sets = sim.property(&mut pin, &enumerate);
    assert_eq!(sets.status, STATUS_SUCCESS);
    let guids: Vec<[u8; 16]> = sets.output.chunks(16).map(|c| c.try_into().unwrap()).collect();
    let bytes = |g: GUID| -> [u8; 16] { unsafe { std::mem::transmute(g) } };
    assert_eq!(
        guids,
        vec![
            bytes(KSPROPSETID_Connection),
            bytes(KSPROPSETID_KsframeAllocator),
            bytes(PROPSETID_VIDCAP_DROPPEDFRAMES),
            bytes(KSPROPSETID_Stream)
        ]
    );
    // ALLOCATORFRAMING_EX from the pin equals AVStream's answer, the descriptor's copy.
    let ex = sim.framing_items(&mut pin);
    let descriptor = pin.descriptor_framing().unwrap();
    assert_eq!(bytes_of(&ex[0]), bytes_of(&descriptor.FramingItem[0]));
    sim.close_pin(pin);
}

#[test]
fn framing_properties_report_the_pins_format() {
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    let filter = sim.create_filter(0);
    for format in FORMATS {
        let mut pin = sim.create_pin(filter, CAPTURE_PIN, Some(format.data_format())).unwrap();
        let reply = sim.property(
            &mut pin,
            &Request::get(KSPROPSETID_Connection, KSPROPERTY_CONNECTION_ALLOCATORFRAMING, 24),
        );
        // SAFETY: 24 bytes of KSALLOCATOR_FRAMING.
        let framing: KSALLOCATOR_FRAMING = unsafe { std::ptr::read_unaligned(reply.output.as_ptr().cast()) };
        assert_eq!(framing.FrameSize, format.image_size());
        assert_eq!(
            (framing.Frames, framing.FileAlignment, framing.PoolType),
            (4, FILE_64_BYTE_ALIGNMENT, NonPagedPool)
        );
        let items = sim.framing_items(&mut pin);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].FramingRange.Range.MinFrameSize, format.image_size());
        assert_eq!(items[0].MemoryType, KSMEMORY_TYPE_KERNEL_NONPAGED);
        sim.close_pin(pin);
    }
}

fn bytes_of<T>(value: &T) -> Vec<u8> {
    // SAFETY: plain C structs, read as bytes.
    unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), std::mem::size_of::<T>()).to_vec() }
}

#[test]
fn statistics_follow_the_allocator_and_reset() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let mut g = graph::build(3, AllocatorOn::Sink);
    assert_eq!(g.run(100), 100);
    let stats = |sim: &mut Sim, pin: &mut ksframe::sim::Pin| {
        let r = sim.property(
            pin,
            &Request::get(KSPROPSETID_KsframeAllocator, KSPROPERTY_KSFRAME_ALLOCATOR_STATISTICS, 48),
        );
        assert_eq!(r.status, STATUS_SUCCESS);
        // SAFETY: 48 bytes of AllocatorStats.
        unsafe { std::ptr::read_unaligned(r.output.as_ptr().cast::<AllocatorStats>()) }
    };
    let s = stats(&mut g.sim, &mut g.sink);
    assert_eq!(
        (s.allocations, s.frees, s.outstanding, s.frames, s.frame_size),
        (100, 100, 0, 4, FORMATS[3].image_size())
    );
    // No allocator was created on the capture pin: no counters there.
    let r = g.sim.property(
        &mut g.capture,
        &Request::get(KSPROPSETID_KsframeAllocator, KSPROPERTY_KSFRAME_ALLOCATOR_STATISTICS, 48),
    );
    assert_eq!(r.status, STATUS_INVALID_DEVICE_STATE);
    let r = g.sim.property(
        &mut g.sink,
        &Request::set(KSPROPSETID_KsframeAllocator, KSPROPERTY_KSFRAME_ALLOCATOR_RESET, &[]),
    );
    assert_eq!(r.status, STATUS_SUCCESS);
    assert_eq!(stats(&mut g.sim, &mut g.sink).allocations, 0);
    g.close();
    assert_eq!(scope.bytes_outstanding(), 0);
}
