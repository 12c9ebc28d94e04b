//! The KS host simulator (host build only): the model of Kernel Streaming and AVStream
//! ([`crate::model`]) run in process against the driver's real static descriptors.
//!
//! It is the environment the model needs and the graph a test builds, nothing more: the
//! rules are the model's. What it adds:
//!
//! - **Objects** ([`objects`]): handles, file objects, references, KS's own pool.
//! - **Pins**: a [`crate::model::avstream::PinObject`] per pin, created on a filter
//!   instance with a connection format, then `KSPIN_DISPATCH.Create`; Close releases
//!   AVStream's references (allocator, clock), calls `KSPIN_DISPATCH.Close` and frees the
//!   pin's object bag (KsEdit copies included).
//! - **Requests**: property IRPs laid out per the ABI, through
//!   [`crate::model::avstream::PinObject::property`] (KsPropertyHandler over the merged
//!   tables); KsCreateAllocator ([`Sim::create_allocator`]); the state walk.
//! - **The graph**: [`Sim::graph_framing`] decides an allocator framing as KsProxy fills
//!   its create request (ReactOS `dll/directx/ksproxy/allocator.cpp`, KS-NOTES): Frames =
//!   cBuffers, FrameSize = cbBuffer, FileAlignment = cbAlign − 1, OptionsFlags =
//!   SYSTEM_MEMORY; [`Sim::connect`] makes one pin the IRP source of a kernel-to-kernel
//!   connection to another; [`Sim::run`] streams frames through it with the requestor
//!   ([`crate::model::requestor`]), the standard transport (leading-edge stream pointers,
//!   AVStream keeping DataUsed from the advance) and each pin's Process gated by
//!   [`crate::model::avstream::may_process`].

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::missing_panics_doc,
    clippy::not_unsafe_ptr_arg_deref
)]

pub mod objects;

use crate::ks::*;
use crate::model::allocator::create_on_pin;
use crate::model::avstream::{PinObject, set_state};
use crate::model::requestor::{self, Frame, FrameSource};
use objects::{FILE_GENERIC_READ, HOST_OBJECTS, Kind};
use std::boxed::Box;
use std::collections::VecDeque;
use std::string::String;
use std::vec;
use std::vec::Vec;

/// What a property request returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// KS's (or the handler's) status.
    pub status: NTSTATUS,
    /// `Irp->IoStatus.Information`.
    pub information: usize,
    /// The output buffer after the call.
    pub output: Vec<u8>,
}

/// A property request.
#[derive(Clone, Debug)]
pub struct Request {
    /// The property set.
    pub set: GUID,
    /// The property id.
    pub id: u32,
    /// KSPROPERTY_TYPE_* flags.
    pub flags: u32,
    /// InputBufferLength: 24 for a bare KSPROPERTY; less is malformed, more carries
    /// instance data (zero bytes here).
    pub input_len: u32,
    /// OutputBufferLength.
    pub output_len: u32,
    /// The output buffer's initial contents (a Set's value), zero-padded or cut to
    /// `output_len`.
    pub data: Vec<u8>,
    /// Irp->RequestorMode.
    pub requestor: KPROCESSOR_MODE,
}

impl Request {
    /// A Get of (set, id) with `output_len` bytes of output, from user mode.
    pub fn get(set: GUID, id: u32, output_len: u32) -> Self {
        Self {
            set,
            id,
            flags: KSPROPERTY_TYPE_GET,
            input_len: 24,
            output_len,
            data: Vec::new(),
            requestor: UserMode,
        }
    }

    /// A Set of (set, id) with `data` as the value, from user mode.
    pub fn set(set: GUID, id: u32, data: &[u8]) -> Self {
        Self {
            set,
            id,
            flags: KSPROPERTY_TYPE_SET,
            input_len: 24,
            output_len: data.len() as u32,
            data: data.to_vec(),
            requestor: UserMode,
        }
    }

    /// The same request from `mode`.
    pub fn from(mut self, mode: KPROCESSOR_MODE) -> Self {
        self.requestor = mode;
        self
    }
}

/// A pin instance the simulator created.
pub struct Pin {
    object: Box<PinObject>,
    format: Option<Box<KS_DATAFORMAT_VIDEOINFOHEADER>>,
    filter: usize,
}

impl core::fmt::Debug for Pin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pin")
            .field("id", &self.object.ks.Id)
            .field("state", &self.object.ks.DeviceState)
            .finish()
    }
}

impl Pin {
    /// The KSPIN as the driver sees it.
    pub fn ks(&self) -> &KSPIN {
        &self.object.ks
    }

    /// AVStream's side of the pin.
    pub fn object(&self) -> &PinObject {
        &self.object
    }

    fn as_ptr(&mut self) -> *mut KSPIN {
        &mut self.object.ks
    }

    /// The framing AVStream sees for this pin: `Descriptor->AllocatorFraming`.
    pub fn descriptor_framing(&self) -> Option<KSALLOCATOR_FRAMING_EX> {
        // SAFETY: the framing is the static one or the pin's KsEdit copy.
        unsafe { self.object.descriptor().AllocatorFraming.as_ref().copied() }
    }

    /// The driver's state behind `KSPIN.Context`: a test's window into the driver, not
    /// something the model reads.
    pub fn state(&self) -> Option<&crate::pin::PinState> {
        // SAFETY: the Context is ksframe's PinState between Create and Close.
        unsafe { crate::pin::PinState::of(&self.object.ks) }
    }
}

/// What reached the sink of one frame: its stream header as the IRP source's Process
/// left it, and the KS_FRAME_INFO after it when the header had room for one.
#[derive(Clone, Copy, Debug)]
pub struct Delivered {
    /// Virtual time when the sink took it (100 ns units).
    pub at: i64,
    /// PresentationTime.Time.
    pub presentation_time: i64,
    /// Duration.
    pub duration: i64,
    /// OptionsFlags.
    pub options: u32,
    /// DataUsed.
    pub data_used: u32,
    /// The KS_FRAME_INFO after the header, when `Size` covered one.
    pub frame_info: Option<KS_FRAME_INFO>,
}

/// A stream header as AVStream allocates it for a pin: StreamHeaderSize bytes, room for
/// a KS_FRAME_INFO after the KSSTREAM_HEADER.
#[repr(C)]
struct HeaderBlock {
    header: KSSTREAM_HEADER,
    info: KS_FRAME_INFO,
}

/// A frame in the pipe and its header.
struct Slot {
    frame: Frame,
    header: Box<HeaderBlock>,
}

/// A kernel-to-kernel connection: `source` sends IRPs (its requestor fills them) to
/// `sink`. Frames circulate: the requestor queues empty frames on the source pin, the
/// source's Process fills them, they queue on the sink, the sink's Process consumes
/// them, and the requestor gives each back and takes a new one.
#[derive(Default)]
pub struct Connection {
    /// Every frame the sink consumed, in order: its address and where it came from.
    pub sent: Vec<(usize, FrameSource)>,
    /// What the sink saw of each frame, in order.
    pub delivered: Vec<Delivered>,
    /// Process calls that returned a failure status, or advanced more than the frame.
    pub faults: Vec<String>,
    at_source: VecDeque<Slot>,
    at_sink: VecDeque<Slot>,
    kick_source: bool,
    kick_sink: bool,
    stall_until: i64,
    takes_left: Option<usize>,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("sent", &self.sent.len())
            .field("at_source", &self.at_source.len())
            .field("at_sink", &self.at_sink.len())
            .field("faults", &self.faults)
            .finish()
    }
}

impl Connection {
    /// Frames in the pipe now (queued on either pin).
    pub fn in_flight(&self) -> usize {
        self.at_source.len() + self.at_sink.len()
    }

    /// Empty frames queued on the source pin now.
    pub fn queued_at_source(&self) -> usize {
        self.at_source.len()
    }
}

std::thread_local! {
    /// Pins KsPinAttemptProcessing was called for since the simulator last looked.
    static ATTEMPTS: core::cell::RefCell<Vec<usize>> = const { core::cell::RefCell::new(Vec::new()) };
}

fn record_attempt(pin: *mut KSPIN, _asynchronous: bool) {
    ATTEMPTS.with(|a| a.borrow_mut().push(pin as usize));
}

fn pin_reference_clock(pin: *mut KSPIN, out: *mut *mut IKsReferenceClock) -> NTSTATUS {
    // SAFETY: every KSPIN the host backend sees in a simulation is the first field of a
    // live PinObject (Sim::create_pin_with), and `out` is the driver's out pointer.
    unsafe { crate::model::avstream::reference_clock(pin, out) }
}

/// The AVStream pin routines the simulator answers (through the host backend).
static PIN_SERVICES: crate::kernel::host::PinServices = crate::kernel::host::PinServices {
    attempt_processing: record_attempt,
    reference_clock: pin_reference_clock,
};

/// How long [`Sim::run`] waits in virtual time without a frame reaching the sink before
/// it gives up (the pipe is not moving: a pin paused or stopped).
pub const IDLE_LIMIT: i64 = 20_000_000;

/// A filter instance: which descriptor it was made from and how many pins of each type
/// are open on it.
#[derive(Debug)]
struct FilterInstance {
    descriptor: usize,
    open: Vec<u32>,
}

/// The simulator: the driver's device descriptor and the objects made from it.
pub struct Sim {
    device: &'static KSDEVICE_DESCRIPTOR,
    filters: Vec<FilterInstance>,
}

impl Sim {
    /// A simulator over `device`.
    pub fn new(device: &'static KSDEVICE_DESCRIPTOR) -> Self {
        crate::kernel::host::clear_virtual_time();
        crate::kernel::host::set_pin_services(Some(&PIN_SERVICES));
        ATTEMPTS.with(|a| a.borrow_mut().clear());
        Self { device, filters: Vec::new() }
    }

    /// The virtual time, 100 ns units (it starts at 0 with each simulator).
    pub fn now(&self) -> i64 {
        crate::kernel::host::virtual_now()
    }

    /// Creates an instance of filter descriptor `descriptor` (what opening the filter's
    /// device interface does; ksframe's filter has no Create dispatch) and returns its
    /// id, for [`Sim::create_pin`].
    pub fn create_filter(&mut self, descriptor: usize) -> usize {
        let pins = self.pin_descriptors(descriptor).len();
        self.filters.push(FilterInstance { descriptor, open: vec![0; pins] });
        self.filters.len() - 1
    }

    /// The filter descriptors.
    pub fn filters(&self) -> &'static [&'static KSFILTER_DESCRIPTOR] {
        // SAFETY: a static array of FilterDescriptorsCount static descriptors.
        unsafe {
            let list = core::slice::from_raw_parts(
                self.device.FilterDescriptors,
                self.device.FilterDescriptorsCount as usize,
            );
            core::slice::from_raw_parts(list.as_ptr().cast(), list.len())
        }
    }

    /// The pin descriptors of filter descriptor `filter`.
    pub fn pin_descriptors(&self, filter: usize) -> &'static [KSPIN_DESCRIPTOR_EX] {
        let f = self.filters()[filter];
        // SAFETY: a static array of PinDescriptorsCount descriptors.
        unsafe { core::slice::from_raw_parts(f.PinDescriptors, f.PinDescriptorsCount as usize) }
    }

    /// Creates pin `pin_id` on filter instance `filter` with `format` as its connection
    /// format, calling the descriptor's Create dispatch. More pins of a type than its
    /// `InstancesPossible` on one filter instance: STATUS_INVALID_DEVICE_REQUEST (AVStream
    /// refuses them; the exact status is inferred).
    pub fn create_pin(
        &mut self,
        filter: usize,
        pin_id: u32,
        format: Option<KS_DATAFORMAT_VIDEOINFOHEADER>,
    ) -> Result<Pin, NTSTATUS> {
        let instance = self.filters.get(filter).ok_or(STATUS_INVALID_PARAMETER)?;
        let descriptor =
            self.pin_descriptors(instance.descriptor).get(pin_id as usize).ok_or(STATUS_INVALID_PARAMETER)?;
        self.create_pin_with(filter, pin_id, descriptor, format)
    }

    /// As [`Sim::create_pin`], with another descriptor standing in for the filter's
    /// (a test's variant of the driver's pin).
    pub fn create_pin_with(
        &mut self,
        filter: usize,
        pin_id: u32,
        descriptor: &'static KSPIN_DESCRIPTOR_EX,
        format: Option<KS_DATAFORMAT_VIDEOINFOHEADER>,
    ) -> Result<Pin, NTSTATUS> {
        let instance = self.filters.get(filter).ok_or(STATUS_INVALID_PARAMETER)?;
        if instance.open[pin_id as usize] >= descriptor.InstancesPossible {
            return Err(STATUS_INVALID_DEVICE_REQUEST);
        }
        let mut format = format.map(Box::new);
        let bag = Box::into_raw(Box::new(0u64)).cast::<core::ffi::c_void>();
        let connection = format
            .as_deref_mut()
            .map_or(core::ptr::null_mut(), |f| (f as *mut KS_DATAFORMAT_VIDEOINFOHEADER).cast());
        let object = Box::new(PinObject::new(descriptor, pin_id, bag, connection, &HOST_OBJECTS));
        let mut pin = Pin { object, format, filter };
        if let Some(create) = pin.object.dispatch().and_then(|d| d.Create) {
            let mut irp = IrpBuffers::new(0, 0, core::ptr::null_mut(), KernelMode);
            let pin_ptr = pin.as_ptr();
            // SAFETY: a live KSPIN and IRP, as AVStream passes them, at PASSIVE_LEVEL.
            let status = at_passive(pin_ptr, "pin Create", || unsafe { create(pin_ptr, irp.irp()) });
            if !NT_SUCCESS(status) {
                free_bag(pin.object.ks.Bag);
                return Err(status);
            }
        }
        self.filters[filter].open[pin_id as usize] += 1;
        Ok(pin)
    }

    /// Closes a pin as AVStream does: back to KSSTATE_STOP, AVStream's references
    /// (allocator, clock) dropped, the Close dispatch, the bag freed.
    pub fn close_pin(&mut self, mut pin: Pin) -> NTSTATUS {
        let pin_ptr = pin.as_ptr();
        let _ = at_passive(pin_ptr, "SetDeviceState", || set_state(&mut pin.object, KSSTATE_STOP));
        assert_eq!(
            pin.object.clock_references(),
            0,
            "the minidriver still holds references on the pin's IKsReferenceClock after STOP"
        );
        pin.object.release_references();
        let mut irp = IrpBuffers::new(0, 0, core::ptr::null_mut(), KernelMode);
        let close = pin.object.dispatch().and_then(|d| d.Close);
        let status = at_passive(pin_ptr, "pin Close", || {
            // SAFETY: a live pin and IRP, at PASSIVE_LEVEL.
            close.map_or(STATUS_SUCCESS, |close| unsafe { close(pin_ptr, irp.irp()) })
        });
        drop(pin.format.take());
        free_bag(pin.object.ks.Bag);
        // Driver Verifier's pool tracking: what the driver allocated for this pin must be
        // gone with it.
        let leaks = crate::kernel::host::live_allocations_of(pin_ptr as usize);
        assert!(leaks.is_empty(), "pool allocated for the pin outlived its Close: {leaks:#?}");
        self.filters[pin.filter].open[pin.object.ks.Id as usize] -= 1;
        status
    }

    /// Walks the pin's state to `target` one step at a time through SetDeviceState.
    pub fn set_state(&mut self, pin: &mut Pin, target: KSSTATE) -> NTSTATUS {
        let pin_ptr = pin.as_ptr();
        at_passive(pin_ptr, "SetDeviceState", || set_state(&mut pin.object, target))
    }

    /// Sends a property request to `pin`: KsPropertyHandler over the pin's table merged
    /// over AVStream's.
    pub fn property(&mut self, pin: &mut Pin, request: &Request) -> Reply {
        let mut buffers =
            IrpBuffers::new(request.input_len, request.output_len, pin.as_ptr(), request.requestor);
        let mut property = [0u8; 24];
        property[..16].copy_from_slice(&guid_bytes(&request.set));
        property[16..20].copy_from_slice(&request.id.to_le_bytes());
        property[20..24].copy_from_slice(&request.flags.to_le_bytes());
        let n = buffers.input.len().min(24);
        buffers.input[..n].copy_from_slice(&property[..n]);
        let n = buffers.output.len().min(request.data.len());
        buffers.output[..n].copy_from_slice(&request.data[..n]);
        let pin_ptr = pin.as_ptr();
        // SAFETY: a complete IOCTL_KS_PROPERTY IRP addressed to this pin, at PASSIVE_LEVEL.
        let status =
            at_passive(pin_ptr, "a property handler", || unsafe { pin.object.property(buffers.irp()) });
        let information = buffers.irp.IoStatus.Information;
        Reply { status, information, output: buffers.output.clone() }
    }

    /// KsCreateAllocator(pin, framing) from `mode`: AVStream's allocator create item on
    /// the pin ([`crate::model::allocator::create_on_pin`]); the handle (a kernel handle
    /// for KernelMode) is opened with GENERIC_READ.
    pub fn create_allocator(
        &mut self,
        pin: &mut Pin,
        framing: &KSALLOCATOR_FRAMING,
        mode: KPROCESSOR_MODE,
    ) -> Result<HANDLE, NTSTATUS> {
        let pin_ptr = pin.as_ptr();
        // SAFETY: a live pin at PASSIVE_LEVEL. The pool belongs to the allocator object,
        // not the pin (it may outlive the pin).
        let object = at_passive(core::ptr::null_mut(), "InitializeAllocator", || unsafe {
            create_on_pin(pin_ptr, framing, &HOST_OBJECTS)
        })?;
        Ok(objects::open(Kind::Allocator(Box::new(object)), mode == KernelMode, FILE_GENERIC_READ).0)
    }

    /// Assigns the allocator behind `handle` (or none, with NULL) to `pin` through
    /// KSPROPERTY_STREAM_ALLOCATOR Set from kernel mode, as a graph builder does.
    pub fn assign_allocator(&mut self, pin: &mut Pin, handle: HANDLE) -> NTSTATUS {
        let request =
            Request::set(KSPROPSETID_Stream, KSPROPERTY_STREAM_ALLOCATOR, &(handle as usize).to_le_bytes())
                .from(KernelMode);
        self.property(pin, &request).status
    }

    /// The allocator framing a KsProxy-style graph asks for on the pipe `up` → `down`,
    /// from both pins' ALLOCATORFRAMING_EX (first items): cBuffers the larger frame
    /// count, cbBuffer the larger frame size, cbAlign the stricter alignment; the create
    /// request then carries Frames = cBuffers, FrameSize = cbBuffer, FileAlignment =
    /// cbAlign − 1, OptionsFlags = KSALLOCATOR_OPTIONF_SYSTEM_MEMORY, PoolType
    /// NonPagedPool (ReactOS ksproxy `allocator.cpp`; KS-NOTES).
    pub fn graph_framing(&mut self, up: &mut Pin, down: &mut Pin) -> KSALLOCATOR_FRAMING {
        let (u, d) = (self.framing_items(up)[0], self.framing_items(down)[0]);
        KSALLOCATOR_FRAMING {
            OptionsFlags: KSALLOCATOR_OPTIONF_SYSTEM_MEMORY,
            PoolType: NonPagedPool,
            Frames: u.Frames.max(d.Frames),
            FrameSize: u.FramingRange.Range.MaxFrameSize.max(d.FramingRange.Range.MaxFrameSize),
            FileAlignment: u.FileAlignment.max(d.FileAlignment),
            Reserved: 0,
        }
    }

    /// The pin's framing items, read through CONNECTION_ALLOCATORFRAMING_EX (size query,
    /// then the exact size), as KsProxy does.
    pub fn framing_items(&mut self, pin: &mut Pin) -> Vec<KS_FRAMING_ITEM> {
        let query = self.property(
            pin,
            &Request::get(KSPROPSETID_Connection, KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX, 0),
        );
        assert_eq!(query.status, STATUS_BUFFER_OVERFLOW, "size query");
        let reply = self.property(
            pin,
            &Request::get(
                KSPROPSETID_Connection,
                KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX,
                query.information as u32,
            ),
        );
        assert_eq!(reply.status, STATUS_SUCCESS);
        let count = u32::from_le_bytes(reply.output[..4].try_into().unwrap()) as usize;
        (0..count)
            .map(|i| {
                let at = 24 + i * core::mem::size_of::<KS_FRAMING_ITEM>();
                // SAFETY: the reply holds `count` items after the 24-byte header.
                unsafe { core::ptr::read_unaligned(reply.output[at..].as_ptr().cast()) }
            })
            .collect()
    }

    /// Connects `source` (the IRP source, an output pin) to `sink` kernel to kernel.
    pub fn connect(&mut self, source: &mut Pin, sink: &mut Pin) -> Connection {
        assert_eq!(source.object.ks.DataFlow, KSPIN_DATAFLOW_OUT, "the model streams from an output source");
        assert_eq!(sink.object.ks.DataFlow, KSPIN_DATAFLOW_IN);
        source.object.ks.Communication = KSPIN_COMMUNICATION_SOURCE;
        sink.object.ks.Communication = KSPIN_COMMUNICATION_SINK;
        Connection { kick_source: true, kick_sink: true, ..Connection::default() }
    }

    /// A kernel handle to a new KS clock for [`Sim::assign_clock`]; its time is the
    /// virtual time minus `origin`.
    pub fn create_clock(&mut self, origin: i64) -> HANDLE {
        objects::open_clock(origin)
    }

    /// Assigns the clock behind `handle` (or none, with NULL) to `pin` as its master
    /// clock through KSPROPERTY_STREAM_MASTERCLOCK Set from kernel mode, as a graph does.
    pub fn assign_clock(&mut self, pin: &mut Pin, handle: HANDLE) -> NTSTATUS {
        let request =
            Request::set(KSPROPSETID_Stream, KSPROPERTY_STREAM_MASTERCLOCK, &(handle as usize).to_le_bytes())
                .from(KernelMode);
        self.property(pin, &request).status
    }

    /// The sink stops taking frames for `duration` (a downstream filter that is busy):
    /// the source's queue drains and the camera drops the frames that fall due meanwhile.
    pub fn stall_sink(&mut self, connection: &mut Connection, duration: i64) {
        connection.stall_until = self.now().saturating_add(duration);
    }

    /// Streams until `frames` more frames reached the sink, advancing virtual time from
    /// timer to timer; the requestor takes no more frames than that, so none is left in
    /// the pipe at the end. Stops early when the pipe stops moving for [`IDLE_LIMIT`]
    /// (a pin not running). Returns the frames that reached the sink.
    pub fn run(
        &mut self,
        connection: &mut Connection,
        source: &mut Pin,
        sink: &mut Pin,
        frames: usize,
    ) -> usize {
        let start = connection.sent.len();
        connection.takes_left = Some(frames.saturating_sub(connection.in_flight()));
        let (mut last_progress, mut last_done) = (self.now(), 0);
        loop {
            self.service(connection, source, sink);
            let done = connection.sent.len() - start;
            if done >= frames {
                break;
            }
            if done > last_done {
                (last_progress, last_done) = (self.now(), done);
            }
            // A stalled sink is waited out: idleness counts from the stall's end.
            if connection.stall_until > self.now() {
                last_progress = self.now();
            }
            match self.next_event(connection) {
                Some(t) if t.saturating_sub(last_progress) <= IDLE_LIMIT || connection.stall_until >= t => {
                    self.advance(connection, source, sink, t);
                }
                _ => break,
            }
        }
        connection.takes_left = None;
        connection.sent.len() - start
    }

    /// Streams for `duration` of virtual time; returns the frames that reached the sink.
    /// Frames stay in the pipe at the end ([`Sim::stop`] returns them).
    pub fn run_for(
        &mut self,
        connection: &mut Connection,
        source: &mut Pin,
        sink: &mut Pin,
        duration: i64,
    ) -> usize {
        let start = connection.sent.len();
        let end = self.now().saturating_add(duration);
        loop {
            self.service(connection, source, sink);
            match self.next_event(connection) {
                Some(t) if t <= end => self.advance(connection, source, sink, t),
                _ => break,
            }
        }
        self.advance(connection, source, sink, end);
        self.service(connection, source, sink);
        connection.sent.len() - start
    }

    /// Stops the pipe as a graph does: both pins walk to KSSTATE_STOP, then the frames
    /// still queued are cancelled back to the requestor, which returns them where they
    /// came from.
    pub fn stop(&mut self, connection: &mut Connection, source: &mut Pin, sink: &mut Pin) {
        let _ = set_state(&mut source.object, KSSTATE_STOP);
        let _ = set_state(&mut sink.object, KSSTATE_STOP);
        for slot in connection.at_source.drain(..).chain(connection.at_sink.drain(..)) {
            give_back(source, slot.frame);
        }
        connection.kick_source = true;
        connection.kick_sink = true;
    }

    /// The next time something happens: a timer expires, or the sink's stall ends.
    fn next_event(&self, connection: &Connection) -> Option<i64> {
        let timer = crate::kernel::host::next_timer_due();
        let stall = (connection.stall_until > self.now()).then_some(connection.stall_until);
        match (timer, stall) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Moves virtual time to `t`: expired timers queue their DPCs, the DPCs run (at
    /// DISPATCH_LEVEL), and their KsPinAttemptProcessing calls become processing
    /// attempts; a stall that ended lets the sink process again.
    fn advance(&mut self, connection: &mut Connection, source: &mut Pin, sink: &mut Pin, t: i64) {
        let _ = crate::kernel::host::advance_to(t);
        let _ = crate::kernel::host::run_queued_dpcs();
        let (source_ptr, sink_ptr) = (source.as_ptr() as usize, sink.as_ptr() as usize);
        for pin in ATTEMPTS.with(|a| core::mem::take(&mut *a.borrow_mut())) {
            connection.kick_source |= pin == source_ptr;
            connection.kick_sink |= pin == sink_ptr;
        }
        if connection.stall_until != 0 && connection.stall_until <= t {
            connection.stall_until = 0;
            connection.kick_sink = true;
        }
    }

    /// Runs everything that can happen without time passing.
    fn service(&mut self, connection: &mut Connection, source: &mut Pin, sink: &mut Pin) {
        let mut rounds = 0usize;
        while self.prime(connection, source)
            | self.process_source(connection, source, sink)
            | self.process_sink(connection, source, sink)
        {
            rounds += 1;
            if rounds > 100_000 {
                connection.faults.push("Process returned STATUS_SUCCESS forever without progress".into());
                return;
            }
        }
    }

    /// The requestor keeps its frames in the pipe (from PAUSE on).
    fn prime(&mut self, connection: &mut Connection, source: &mut Pin) -> bool {
        let mut took = false;
        while source.object.ks.DeviceState >= KSSTATE_PAUSE
            && connection.in_flight() < requestor::frames_in_flight(&source.object)
            && connection.takes_left != Some(0)
        {
            let Some(frame) =
                at_passive(core::ptr::null_mut(), "KSALLOCATOR Allocate", || requestor::take(&source.object))
            else {
                break;
            };
            if let Some(left) = connection.takes_left.as_mut() {
                *left -= 1;
            }
            let size = (source.object.ks.StreamHeaderSize as usize)
                .clamp(core::mem::size_of::<KSSTREAM_HEADER>(), core::mem::size_of::<HeaderBlock>());
            // SAFETY: all-zero bytes are a valid header block.
            let mut header: Box<HeaderBlock> = Box::new(unsafe { core::mem::zeroed() });
            header.header.Size = size as u32;
            header.header.FrameExtent = frame.extent;
            header.header.Data = frame.data;
            header.header.PresentationTime = KSTIME { Time: 0, Numerator: 1, Denominator: 1 };
            let before = connection.at_source.len();
            connection.at_source.push_back(Slot { frame, header });
            connection.kick_source |= crate::model::avstream::arrival_initiates(&source.object, before);
            took = true;
        }
        took
    }

    /// The source's Process when processing was initiated and AVStream dispatches it.
    fn process_source(&mut self, connection: &mut Connection, source: &mut Pin, sink: &mut Pin) -> bool {
        if !connection.kick_source
            || !crate::model::avstream::dispatches_process(&source.object, connection.at_source.len())
        {
            return false;
        }
        connection.kick_source = false;
        let none = KSSTREAM_POINTER_OFFSET { Data: core::ptr::null_mut(), Count: 0, Remaining: 0 };
        let Some(slot) = connection.at_source.front_mut() else { return false };
        let extent = slot.frame.extent;
        let out = KSSTREAM_POINTER_OFFSET { Data: slot.frame.data.cast(), Count: extent, Remaining: extent };
        let header: *mut KSSTREAM_HEADER = &mut slot.header.header;
        let (status, advanced) = process(source, header, none, out);
        let ejected = advanced.filter(|a| a.eject);
        if let Some(a) = ejected {
            let mut slot = connection.at_source.pop_front().expect("the front slot");
            // AVStream keeps DataUsed for a non-DMA output queue from the advance
            // (avshws's comment; KS-NOTES): added to what the header held.
            slot.header.header.DataUsed = slot.header.header.DataUsed.saturating_add(a.out_used);
            if slot.header.header.DataUsed > slot.header.header.FrameExtent {
                connection.faults.push(std::format!(
                    "DataUsed {} > FrameExtent {}",
                    slot.header.header.DataUsed,
                    slot.header.header.FrameExtent
                ));
            }
            let before = connection.at_sink.len();
            connection.at_sink.push_back(slot);
            connection.kick_sink |= crate::model::avstream::arrival_initiates(&sink.object, before);
        }
        if !NT_SUCCESS(status) {
            connection
                .faults
                .push(std::format!("Process of pin {} failed: {status:#x}", source.object.ks.Id));
        }
        // STATUS_SUCCESS: AVStream calls again ("Restarting Processing in AVStream").
        connection.kick_source |= status == STATUS_SUCCESS;
        ejected.is_some() || status == STATUS_SUCCESS
    }

    /// The sink's Process, unless it is stalled.
    fn process_sink(&mut self, connection: &mut Connection, source: &mut Pin, sink: &mut Pin) -> bool {
        if self.now() < connection.stall_until
            || !connection.kick_sink
            || !crate::model::avstream::dispatches_process(&sink.object, connection.at_sink.len())
        {
            return false;
        }
        connection.kick_sink = false;
        let none = KSSTREAM_POINTER_OFFSET { Data: core::ptr::null_mut(), Count: 0, Remaining: 0 };
        let Some(slot) = connection.at_sink.front_mut() else { return false };
        let used = slot.header.header.DataUsed;
        let input = KSSTREAM_POINTER_OFFSET { Data: slot.frame.data.cast(), Count: used, Remaining: used };
        let header: *mut KSSTREAM_HEADER = &mut slot.header.header;
        let (status, advanced) = process(sink, header, input, none);
        let ejected = advanced.is_some_and(|a| a.eject);
        if ejected {
            let slot = connection.at_sink.pop_front().expect("the front slot");
            let h = &slot.header.header;
            let info_fits = h.Size as usize >= core::mem::size_of::<HeaderBlock>();
            connection.delivered.push(Delivered {
                at: self.now(),
                presentation_time: h.PresentationTime.Time,
                duration: h.Duration,
                options: h.OptionsFlags,
                data_used: h.DataUsed,
                frame_info: info_fits.then_some(slot.header.info),
            });
            give_back(source, slot.frame);
            connection.sent.push((slot.frame.data as usize, slot.frame.source));
        }
        if !NT_SUCCESS(status) {
            connection.faults.push(std::format!("Process of pin {} failed: {status:#x}", sink.object.ks.Id));
        }
        connection.kick_sink |= status == STATUS_SUCCESS;
        ejected || status == STATUS_SUCCESS
    }

    /// Calls the pin's Process with no frame queued, as AVStream does when processing is
    /// attempted on an empty queue; returns its status.
    pub fn process_empty(&mut self, pin: &mut Pin) -> NTSTATUS {
        let process = pin.object.dispatch().and_then(|d| d.Process);
        let pin_ptr = pin.as_ptr();
        // SAFETY: a live pin with no leading edge offered.
        call_process(pin, || process.map_or(STATUS_SUCCESS, |p| unsafe { p(pin_ptr) }))
    }

    /// Changes a stopped pin's format, as AVStream does: the new format goes to
    /// `KSPIN.ConnectionFormat`, then SetDataFormat; on failure the old one comes back.
    pub fn change_format(&mut self, pin: &mut Pin, format: KS_DATAFORMAT_VIDEOINFOHEADER) -> NTSTATUS {
        if pin.object.ks.DeviceState != KSSTATE_STOP {
            return STATUS_INVALID_DEVICE_STATE;
        }
        let mut new = Box::new(format);
        let old_ptr = pin.object.ks.ConnectionFormat;
        pin.object.ks.ConnectionFormat = (&mut *new as *mut KS_DATAFORMAT_VIDEOINFOHEADER).cast();
        let pin_ptr = pin.as_ptr();
        let status = match pin.object.dispatch().and_then(|d| d.SetDataFormat) {
            // SAFETY: a live pin with the proposed format in place, at PASSIVE_LEVEL.
            Some(set) => at_passive(pin_ptr, "SetDataFormat", || unsafe {
                set(pin_ptr, old_ptr, core::ptr::null_mut(), core::ptr::null(), core::ptr::null_mut())
            }),
            None => STATUS_SUCCESS,
        };
        if NT_SUCCESS(status) {
            pin.format = Some(new);
        } else {
            pin.object.ks.ConnectionFormat = old_ptr;
        }
        status
    }

    /// The connection format for `range` on pin type `pin_id`
    /// ([`crate::model::intersect::intersect`]).
    pub fn intersect(
        &mut self,
        filter: usize,
        pin_id: u32,
        range: &KS_DATARANGE_VIDEO,
    ) -> Result<KS_DATAFORMAT_VIDEOINFOHEADER, NTSTATUS> {
        let descriptor = &self.pin_descriptors(self.filters[filter].descriptor)[pin_id as usize];
        let mut caller = *range;
        // SAFETY: all-zero bytes are a valid KS_DATAFORMAT_VIDEOINFOHEADER.
        let mut format: KS_DATAFORMAT_VIDEOINFOHEADER = unsafe { core::mem::zeroed() };
        // SAFETY: a static descriptor, a valid caller range and an output of the right size,
        // at PASSIVE_LEVEL.
        at_passive(core::ptr::null_mut(), "the intersect handler", || unsafe {
            crate::model::intersect::intersect(
                descriptor,
                pin_id,
                (&mut caller as *mut KS_DATARANGE_VIDEO).cast(),
                (&mut format as *mut KS_DATAFORMAT_VIDEOINFOHEADER).cast(),
                core::mem::size_of::<KS_DATAFORMAT_VIDEOINFOHEADER>() as u32,
            )
        })?;
        Ok(format)
    }
}

/// Calls into the driver at PASSIVE_LEVEL on behalf of `owner` (a pin, or 0), with the
/// host backend's checks at the boundary (IRQL restored, no spin lock held).
#[track_caller]
fn at_passive<R>(owner: *mut KSPIN, what: &str, f: impl FnOnce() -> R) -> R {
    crate::kernel::host::callback(crate::kernel::host::PASSIVE_LEVEL, owner as usize, what, f)
}

/// A pin's Process at the IRQL its descriptor asks for: DISPATCH_LEVEL with
/// KSPIN_FLAG_DISPATCH_LEVEL_PROCESSING, else PASSIVE_LEVEL (KSPIN_DESCRIPTOR_EX docs).
fn call_process(pin: &Pin, f: impl FnOnce() -> NTSTATUS) -> NTSTATUS {
    let level = if pin.object.descriptor().Flags & KSPIN_FLAG_DISPATCH_LEVEL_PROCESSING != 0 {
        crate::kernel::host::DISPATCH_LEVEL
    } else {
        crate::kernel::host::PASSIVE_LEVEL
    };
    let owner = (&pin.object.ks as *const KSPIN) as usize;
    crate::kernel::host::callback(level, owner, "Process", f)
}

/// The requestor returns a frame: for a non-paged allocator Free may run at
/// DISPATCH_LEVEL (KS-NOTES: only PagedPool frames are freed at PASSIVE_LEVEL), so the
/// simulator frees at DISPATCH_LEVEL.
fn give_back(source: &Pin, frame: Frame) {
    crate::kernel::host::callback(crate::kernel::host::DISPATCH_LEVEL, 0, "KSALLOCATOR Free", || {
        requestor::give_back(&source.object, frame)
    });
}

fn free_bag(bag: PVOID) {
    crate::kernel::host::free_bag(bag);
    // SAFETY: made by Box::into_raw in create_pin_with, freed once here.
    drop(unsafe { Box::from_raw(bag.cast::<u64>()) });
}

/// Offers one frame to a pin's Process as its locked leading edge (or none, with both
/// offsets empty); the status and what the pin advanced.
fn process(
    pin: &mut Pin,
    header: *mut KSSTREAM_HEADER,
    input: KSSTREAM_POINTER_OFFSET,
    output: KSSTREAM_POINTER_OFFSET,
) -> (NTSTATUS, Option<crate::kernel::host::Advanced>) {
    let offered = !input.Data.is_null() || !output.Data.is_null();
    let mut pointer = Box::new(KSSTREAM_POINTER {
        Context: core::ptr::null_mut(),
        Pin: pin.as_ptr(),
        StreamHeader: header,
        Offset: core::ptr::null_mut(),
        OffsetIn: input,
        OffsetOut: output,
    });
    pointer.Offset = if output.Data.is_null() { &mut pointer.OffsetIn } else { &mut pointer.OffsetOut };
    let raw: *mut KSSTREAM_POINTER = &mut *pointer;
    if offered {
        crate::kernel::host::offer_stream_pointer(pin.as_ptr(), raw);
    }
    let dispatch_process = pin.object.dispatch().and_then(|d| d.Process);
    let pin_ptr = pin.as_ptr();
    // SAFETY: a live pin, at the IRQL its descriptor asks for.
    let status = call_process(pin, || dispatch_process.map_or(STATUS_SUCCESS, |p| unsafe { p(pin_ptr) }));
    // A pointer the pin did not take stays queued for the next call: withdraw the offer.
    let _ = crate::kernel::host::withdraw_stream_pointer(pin.as_ptr());
    (status, crate::kernel::host::take_advanced(raw))
}

fn guid_bytes(g: &GUID) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&g.Data1.to_le_bytes());
    out[4..6].copy_from_slice(&g.Data2.to_le_bytes());
    out[6..8].copy_from_slice(&g.Data3.to_le_bytes());
    out[8..].copy_from_slice(&g.Data4);
    out
}

/// An IRP, its stack location and its buffers, laid out per the ABI.
struct IrpBuffers {
    irp: Box<IRP>,
    stack: Box<IO_STACK_LOCATION>,
    input: Vec<u8>,
    output: Vec<u8>,
}

impl IrpBuffers {
    fn new(input_len: u32, output_len: u32, pin: *mut KSPIN, requestor: KPROCESSOR_MODE) -> Self {
        // SAFETY: IRP and IO_STACK_LOCATION are plain C structs for which all-zero bytes
        // are valid (null pointers, zero counts).
        let mut irp: Box<IRP> = Box::new(unsafe { core::mem::zeroed() });
        // SAFETY: as above.
        let mut stack: Box<IO_STACK_LOCATION> = Box::new(unsafe { core::mem::zeroed() });
        stack.MajorFunction = IRP_MJ_DEVICE_CONTROL;
        stack.Parameters.DeviceIoControl = IO_STACK_LOCATION_DEVICE_IO_CONTROL {
            OutputBufferLength: output_len,
            InputBufferLength: ULONG_ALIGNED(input_len),
            IoControlCode: ULONG_ALIGNED(IOCTL_KS_PROPERTY),
            Type3InputBuffer: core::ptr::null_mut(),
        };
        // The host kernel backend's KsGetPinFromIrp reads the pin from here.
        stack.FileObject = pin.cast();
        irp.RequestorMode = requestor;
        irp.Size = core::mem::size_of::<IRP>() as u16;
        irp.StackCount = 1;
        irp.CurrentLocation = 1;
        irp.Tail.Overlay = IRP_TAIL_OVERLAY {
            DriverContext: [core::ptr::null_mut(); 4],
            Thread: core::ptr::null_mut(),
            AuxiliaryBuffer: core::ptr::null_mut(),
            ListEntry: LIST_ENTRY { Flink: core::ptr::null_mut(), Blink: core::ptr::null_mut() },
            CurrentStackLocation: &mut *stack,
            OriginalFileObject: core::ptr::null_mut(),
        };
        let mut b =
            Self { irp, stack, input: vec![0; input_len as usize], output: vec![0; output_len as usize] };
        b.stack.Parameters.DeviceIoControl.Type3InputBuffer = b.input.as_mut_ptr().cast();
        b.irp.UserBuffer = b.output.as_mut_ptr().cast();
        b.irp.AssociatedIrp.SystemBuffer = b.output.as_mut_ptr().cast();
        b
    }

    fn irp(&mut self) -> *mut IRP {
        &mut *self.irp
    }
}
