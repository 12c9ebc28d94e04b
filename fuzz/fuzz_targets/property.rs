//! Arbitrary bytes → property requests through the model of KS (KsPropertyHandler over
//! the pins' tables merged over AVStream's) to ksframe's pins.
//!
//! Whatever the request (any set, id, flags, input and output lengths, value bytes,
//! handle value, requestor mode, pin state), the driver and the model must answer with a
//! status and not crash, and after the pins close no pool byte, no KS-owned block and no
//! object reference may remain.

#![no_main]

use ksframe::avstream::{CAPTURE_PIN, DEVICE_DESCRIPTOR, FORMATS, SINK_PIN};
use ksframe::kernel::host::PoolScope;
use ksframe::ks::*;
use ksframe::property::KSPROPSETID_KsframeAllocator;
use ksframe::sim::{Request, Sim, objects};
use libfuzzer_sys::fuzz_target;

const SETS: [GUID; 3] = [KSPROPSETID_Connection, KSPROPSETID_Stream, KSPROPSETID_KsframeAllocator];

/// The allocator create request a client sends for `format`.
fn request(frames: u32, size: u32) -> KSALLOCATOR_FRAMING {
    KSALLOCATOR_FRAMING {
        OptionsFlags: KSALLOCATOR_OPTIONF_SYSTEM_MEMORY,
        PoolType: NonPagedPool,
        Frames: frames,
        FrameSize: size,
        FileAlignment: 0x3f,
        Reserved: 0,
    }
}

/// Reads little-endian fields off the front of the input, zero when it runs out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().map_or((0, &[][..]), |(f, r)| (*f, r));
        self.0 = rest;
        first
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
}

fuzz_target!(|data: &[u8]| {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let mut input = Bytes(data);
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    // The 640x480 formats (YUY2, NV12): the larger ones only make each run slower, the
    // property paths are the same.
    let format = FORMATS[if input.u8() & 1 == 0 { 0 } else { 3 }];
    let (a, b) = (sim.create_filter(0), sim.create_filter(0));
    let mut up = sim.create_pin(a, CAPTURE_PIN, Some(format.data_format())).expect("capture pin");
    let mut down = sim.create_pin(b, SINK_PIN, Some(format.data_format())).expect("sink pin");
    // An allocator created on one pin (or none), from kernel or user mode; a plain file
    // and an event besides.
    let how = input.u8();
    let mode = if how & 4 == 0 { UserMode } else { KernelMode };
    let owner = match how % 3 {
        0 => Some(&mut up),
        1 => Some(&mut down),
        _ => None,
    };
    let allocator = owner.and_then(|pin| {
        sim.create_allocator(pin, &request(u32::from(input.u8() % 8), format.image_size()), mode).ok()
    });
    let handles = [allocator, Some(objects::open_file(how & 8 != 0)), Some(objects::open_event(false))];
    let addresses: Vec<usize> = handles.iter().flatten().filter_map(|h| objects::object_of(*h)).collect();

    while !input.0.is_empty() {
        let op = input.u8();
        let set = match op & 3 {
            3 => GUID::from_u128(u128::from(input.u32()) << 96),
            n => SETS[usize::from(n)],
        };
        let id = u32::from(input.u8() % 8);
        let flags = match input.u8() % 6 {
            0 => KSPROPERTY_TYPE_GET,
            1 => KSPROPERTY_TYPE_SET,
            2 => KSPROPERTY_TYPE_BASICSUPPORT,
            3 => KSPROPERTY_TYPE_SETSUPPORT,
            4 => KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_TOPOLOGY,
            _ => input.u32(),
        };
        let input_len = u32::from(input.u8());
        let output_len = u32::from(input.u8()) * 2;
        // The value: a real handle, a forged one, NULL, or raw bytes.
        let value: Vec<u8> = match input.u8() % 4 {
            0 => (handles[usize::from(input.u8()) % 3].map_or(0, |h| h as usize)).to_le_bytes().to_vec(),
            1 => u64::from(input.u32()).to_le_bytes().to_vec(),
            2 => vec![0; 8],
            _ => (0..input.u8() % 64).map(|_| input.u8()).collect(),
        };
        let requestor = if op & 4 == 0 { UserMode } else { KernelMode };
        let pin = if op & 8 == 0 { &mut up } else { &mut down };
        if op & 16 != 0 {
            let _ = sim.set_state(pin, KSSTATE::from(input.u8() % 4));
        }
        let request = Request { set, id, flags, input_len, output_len, data: value, requestor };
        let reply = sim.property(pin, &request);
        assert!(reply.output.len() == output_len as usize);
        if NT_SUCCESS(reply.status) && reply.status != STATUS_BUFFER_OVERFLOW {
            assert!(reply.information <= output_len as usize, "Information past the buffer");
        }
    }
    sim.close_pin(up);
    sim.close_pin(down);
    for h in handles.into_iter().flatten() {
        objects::close(h);
    }
    for a in addresses {
        assert!(!objects::is_live(a), "an object reference leaked");
    }
    assert_eq!(scope.bytes_outstanding(), 0, "pool leaked");
    assert_eq!(objects::own_blocks_outstanding(), 0, "a KS-owned block leaked");
});
