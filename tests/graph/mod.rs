//! A two-filter graph built as a KsProxy-style client builds one (shared by the
//! integration tests): filter A's capture pin (output, the IRP source) connected kernel
//! to kernel to filter B's sink pin (input); an allocator created with KsCreateAllocator
//! on one pin with the framing the graph decides; assigned to the IRP source with
//! KSPROPERTY_STREAM_ALLOCATOR Set through AVStream's item.

#![allow(dead_code)]

use ksframe::avstream::{CAPTURE_PIN, DEVICE_DESCRIPTOR, FORMATS, SINK_PIN};
use ksframe::ks::*;
use ksframe::sim::{Connection, Pin, Sim, objects};

/// The pin the allocator is created on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocatorOn {
    /// The downstream input pin: DirectShow's DecideAllocator asks the input pin for its
    /// allocator first, and KsProxy creates the kernel allocator there.
    Sink,
    /// The upstream output pin (the IRP source itself).
    Capture,
    /// None: nothing is assigned, AVStream's requestor allocates itself.
    Nobody,
}

pub struct Graph {
    pub sim: Sim,
    pub capture: Pin,
    pub sink: Pin,
    pub connection: Connection,
    /// The allocator file object's address (it outlives its handle while referenced).
    pub allocator: Option<usize>,
}

/// Builds the graph for format `format` with the allocator on `on`, both pins in RUN.
pub fn build(format: usize, on: AllocatorOn) -> Graph {
    build_with(format, on, &ksframe::avstream::PIN_DESCRIPTORS[CAPTURE_PIN as usize])
}

/// As [`build`], with `capture` as the capture pin's descriptor (a variant of the
/// driver's).
pub fn build_with(format: usize, on: AllocatorOn, capture: &'static KSPIN_DESCRIPTOR_EX) -> Graph {
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    let (a, b) = (sim.create_filter(0), sim.create_filter(0));
    let f = FORMATS[format].data_format();
    let mut capture = sim.create_pin_with(a, CAPTURE_PIN, capture, Some(f)).expect("capture pin");
    let mut sink = sim.create_pin(b, SINK_PIN, Some(f)).expect("sink pin");
    let connection = sim.connect(&mut capture, &mut sink);
    let framing = sim.graph_framing(&mut capture, &mut sink);
    let mut allocator = None;
    let owner = match on {
        AllocatorOn::Sink => Some(&mut sink),
        AllocatorOn::Capture => Some(&mut capture),
        AllocatorOn::Nobody => None,
    };
    if let Some(owner) = owner {
        let handle = sim.create_allocator(owner, &framing, KernelMode).expect("KsCreateAllocator");
        allocator = objects::object_of(handle);
        assert_eq!(sim.assign_allocator(&mut capture, handle), STATUS_SUCCESS, "STREAM_ALLOCATOR Set");
        // The graph keeps no handle: the pin's reference keeps the allocator open.
        objects::close(handle);
    }
    assert_eq!(sim.set_state(&mut capture, KSSTATE_RUN), STATUS_SUCCESS);
    assert_eq!(sim.set_state(&mut sink, KSSTATE_RUN), STATUS_SUCCESS);
    Graph { sim, capture, sink, connection, allocator }
}

impl Graph {
    /// Streams `n` frames; returns how many moved.
    pub fn run(&mut self, n: usize) -> usize {
        self.sim.run(&mut self.connection, &mut self.capture, &mut self.sink, n)
    }

    /// Closes both pins (the allocator closes with the capture pin's reference).
    pub fn close(mut self) {
        self.sim.stop(&mut self.connection, &mut self.capture, &mut self.sink);
        assert_eq!(self.sim.close_pin(self.capture), STATUS_SUCCESS);
        assert_eq!(self.sim.close_pin(self.sink), STATUS_SUCCESS);
        if let Some(a) = self.allocator {
            assert!(!objects::is_live(a), "the allocator outlived the pin that referenced it");
        }
    }
}
