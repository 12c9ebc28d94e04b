//! Structured bytes → property requests through the model of KS (KsPropertyHandler over
//! the pins' tables merged over AVStream's) to ksframe's pins.
//!
//! The graph is prepared once per process (two filter instances, a capture pin and a
//! sink pin, an allocator created on the sink pin from kernel mode, a user-mode
//! allocator handle to the same object, a plain file and an event): building it costs
//! far more than a request, and the property path is what is under test. Each input is
//! a sequence of requests (any set, id, flags, input and output lengths, value bytes,
//! handle kind, requestor mode, pin, pin state). Whatever they are, the driver and the
//! model must answer with a status, never Information past the buffer, and after each
//! input the graph is put back (both pins to STOP, no allocator or clock assigned, the
//! counters reset) with no pool byte, no KS-owned block and no object reference more
//! than before it.
//!
//! The input format (`decode`) is also what `fuzz/src/bin/seeds.rs` writes: every
//! table-driven property case of tests/property.rs as a seed.

#![no_main]

use ksframe::avstream::{CAPTURE_PIN, DEVICE_DESCRIPTOR, FORMATS, SINK_PIN};
use ksframe::kernel::host::PoolScope;
use ksframe::ks::*;
use ksframe::sim::{Pin, Request, Sim, objects};
use ksframe_fuzz::{Op, Value, decode};
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

struct Graph {
    scope: PoolScope,
    sim: Sim,
    up: Pin,
    down: Pin,
    /// Kernel allocator handle, the same allocator from user mode, a plain file, an event.
    handles: [HANDLE; 4],
    objects: Vec<usize>,
    references: Vec<usize>,
    bytes: usize,
}

impl Graph {
    fn new() -> Self {
        let scope = PoolScope::new();
        let _g = scope.enter();
        let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
        let format = FORMATS[0];
        let (a, b) = (sim.create_filter(0), sim.create_filter(0));
        let up = sim.create_pin(a, CAPTURE_PIN, Some(format.data_format())).expect("capture pin");
        let mut down = sim.create_pin(b, SINK_PIN, Some(format.data_format())).expect("sink pin");
        // Small frames: the pool is made once, and its size does not change the paths.
        let framing = KSALLOCATOR_FRAMING {
            OptionsFlags: KSALLOCATOR_OPTIONF_SYSTEM_MEMORY,
            PoolType: NonPagedPool,
            Frames: 4,
            FrameSize: 256,
            FileAlignment: 0x3f,
            Reserved: 0,
        };
        let kernel = sim.create_allocator(&mut down, &framing, KernelMode).expect("allocator");
        let user = objects::duplicate(kernel, false, objects::FILE_GENERIC_READ).expect("duplicate");
        let handles = [kernel, user, objects::open_file(true), objects::open_event(false)];
        let objects: Vec<usize> = handles.iter().filter_map(|h| objects::object_of(*h)).collect();
        let references = objects.iter().map(|o| objects::references(*o)).collect();
        let bytes = scope.bytes_outstanding();
        Graph { scope, sim, up, down, handles, objects, references, bytes }
    }

    /// Puts the graph back as `new` left it: both pins stopped, no allocator and no
    /// clock assigned (kernel-mode Sets of NULL), the sink's counters reset.
    fn restore(&mut self) {
        for pin in [&mut self.up, &mut self.down] {
            assert_eq!(self.sim.set_state(pin, KSSTATE_STOP), STATUS_SUCCESS);
            for id in [KSPROPERTY_STREAM_ALLOCATOR, KSPROPERTY_STREAM_MASTERCLOCK] {
                let detach = Request::set(KSPROPSETID_Stream, id, &[0; 8]).from(KernelMode);
                assert_eq!(self.sim.property(pin, &detach).status, STATUS_SUCCESS);
            }
        }
    }

    fn check(&self) {
        let now: Vec<usize> = self.objects.iter().map(|o| objects::references(*o)).collect();
        assert_eq!(now, self.references, "an object reference leaked");
        assert_eq!(self.scope.bytes_outstanding(), self.bytes, "pool leaked");
        assert_eq!(objects::own_blocks_outstanding(), 0, "a KS-owned block leaked");
    }
}

thread_local! {
    static GRAPH: RefCell<Option<Graph>> = const { RefCell::new(None) };
}

fn run(g: &mut Graph, op: &Op) {
    let value: Vec<u8> = match &op.value {
        Value::Handle(kind) => (g.handles[usize::from(*kind) % 4] as usize).to_le_bytes().to_vec(),
        Value::Forged(h) => h.to_le_bytes().to_vec(),
        Value::Null => vec![0; 8],
        Value::Bytes(b) => b.clone(),
    };
    let requestor = if op.kernel { KernelMode } else { UserMode };
    let pin = if op.sink { &mut g.down } else { &mut g.up };
    if let Some(state) = op.state {
        let _ = g.sim.set_state(pin, KSSTATE::from(state % 4));
    }
    let request = Request {
        set: op.set,
        id: op.id,
        flags: op.flags,
        input_len: op.input_len,
        output_len: op.output_len,
        data: value,
        requestor,
    };
    let reply = g.sim.property(pin, &request);
    assert!(reply.output.len() == op.output_len as usize);
    if NT_SUCCESS(reply.status) && reply.status != STATUS_BUFFER_OVERFLOW {
        assert!(reply.information <= op.output_len as usize, "Information past the buffer");
    }
}

fuzz_target!(|data: &[u8]| {
    GRAPH.with(|cell| {
        let mut cell = cell.borrow_mut();
        let g = cell.get_or_insert_with(Graph::new);
        let _scope = g.scope.enter();
        for op in decode(data) {
            run(g, &op);
        }
        g.restore();
        g.check();
    });
});
