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
use crate::model::avstream::{PinObject, may_process, set_state};
use crate::model::requestor::{self, Frame, FrameSource};
use objects::{FILE_GENERIC_READ, HOST_OBJECTS, Kind};
use std::boxed::Box;
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

/// A kernel-to-kernel connection: `source` sends IRPs (its requestor fills them) to
/// `sink`.
#[derive(Debug, Default)]
pub struct Connection {
    /// Every frame the requestor sent, in order: its address and where it came from.
    pub sent: Vec<(usize, FrameSource)>,
    /// Process calls that returned a failure status, or advanced more than the frame.
    pub faults: Vec<String>,
}

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
        Self { device, filters: Vec::new() }
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
            // SAFETY: a live KSPIN and IRP, as AVStream passes them.
            let status = unsafe { create(pin.as_ptr(), irp.irp()) };
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
        let _ = set_state(&mut pin.object, KSSTATE_STOP);
        pin.object.release_references();
        let mut irp = IrpBuffers::new(0, 0, core::ptr::null_mut(), KernelMode);
        let close = pin.object.dispatch().and_then(|d| d.Close);
        // SAFETY: a live pin and IRP.
        let status = close.map_or(STATUS_SUCCESS, |close| unsafe { close(pin.as_ptr(), irp.irp()) });
        drop(pin.format.take());
        free_bag(pin.object.ks.Bag);
        self.filters[pin.filter].open[pin.object.ks.Id as usize] -= 1;
        status
    }

    /// Walks the pin's state to `target` one step at a time through SetDeviceState.
    pub fn set_state(&mut self, pin: &mut Pin, target: KSSTATE) -> NTSTATUS {
        set_state(&mut pin.object, target)
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
        // SAFETY: a complete IOCTL_KS_PROPERTY IRP addressed to this pin.
        let status = unsafe { pin.object.property(buffers.irp()) };
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
        // SAFETY: a live pin at PASSIVE_LEVEL.
        let object = unsafe { create_on_pin(pin.as_ptr(), framing, &HOST_OBJECTS) }?;
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
        Connection::default()
    }

    /// Streams up to `frames` frames `source` → `sink`: the source's requestor takes a
    /// frame (assigned allocator, or its own), the source's Process fills it as its
    /// output leading edge, the IRP goes to the sink's Process as its input leading edge
    /// with DataUsed bytes, then back to the requestor, which returns the frame. Frames
    /// move only while both pins may process; stops early when none is left.
    pub fn run(
        &mut self,
        connection: &mut Connection,
        source: &mut Pin,
        sink: &mut Pin,
        frames: usize,
    ) -> usize {
        for n in 0..frames {
            if !may_process(&source.object) || !may_process(&sink.object) {
                return n;
            }
            let Some(frame) = requestor::take(&source.object) else { return n };
            let delivered = self.deliver(connection, source, sink, frame);
            requestor::give_back(&source.object, frame);
            connection.sent.push((frame.data as usize, frame.source));
            if !delivered {
                return n;
            }
        }
        frames
    }

    fn deliver(
        &mut self,
        connection: &mut Connection,
        source: &mut Pin,
        sink: &mut Pin,
        frame: Frame,
    ) -> bool {
        let mut header = KSSTREAM_HEADER {
            Size: core::mem::size_of::<KSSTREAM_HEADER>() as u32,
            TypeSpecificFlags: 0,
            PresentationTime: KSTIME { Time: 0, Numerator: 1, Denominator: 1 },
            Duration: 0,
            FrameExtent: frame.extent,
            DataUsed: 0,
            Data: frame.data,
            OptionsFlags: 0,
            Reserved: 0,
        };
        let none = KSSTREAM_POINTER_OFFSET { Data: core::ptr::null_mut(), Count: 0, Remaining: 0 };
        let out =
            KSSTREAM_POINTER_OFFSET { Data: frame.data.cast(), Count: frame.extent, Remaining: frame.extent };
        let Some(produced) = process(connection, source, &mut header, none, out) else { return false };
        // AVStream keeps DataUsed for a non-DMA output queue from the advance (avshws's
        // comment; KS-NOTES): added to what the header held.
        header.DataUsed = header.DataUsed.saturating_add(produced.out_used);
        if header.DataUsed > header.FrameExtent {
            connection.faults.push(std::format!(
                "DataUsed {} > FrameExtent {}",
                header.DataUsed,
                header.FrameExtent
            ));
            return false;
        }
        let used = header.DataUsed;
        let input = KSSTREAM_POINTER_OFFSET { Data: frame.data.cast(), Count: used, Remaining: used };
        process(connection, sink, &mut header, input, none).is_some()
    }

    /// Calls the pin's Process with no frame queued, as AVStream does when processing is
    /// attempted on an empty queue; returns its status.
    pub fn process_empty(&mut self, pin: &mut Pin) -> NTSTATUS {
        let process = pin.object.dispatch().and_then(|d| d.Process);
        // SAFETY: a live pin with no leading edge offered.
        process.map_or(STATUS_SUCCESS, |p| unsafe { p(pin.as_ptr()) })
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
        let status = match pin.object.dispatch().and_then(|d| d.SetDataFormat) {
            // SAFETY: a live pin with the proposed format in place.
            Some(set) => unsafe {
                set(pin.as_ptr(), old_ptr, core::ptr::null_mut(), core::ptr::null(), core::ptr::null_mut())
            },
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
        // SAFETY: a static descriptor, a valid caller range and an output of the right size.
        unsafe {
            crate::model::intersect::intersect(
                descriptor,
                pin_id,
                (&mut caller as *mut KS_DATARANGE_VIDEO).cast(),
                (&mut format as *mut KS_DATAFORMAT_VIDEOINFOHEADER).cast(),
                core::mem::size_of::<KS_DATAFORMAT_VIDEOINFOHEADER>() as u32,
            )
        }?;
        Ok(format)
    }
}

fn free_bag(bag: PVOID) {
    crate::kernel::host::free_bag(bag);
    // SAFETY: made by Box::into_raw in create_pin_with, freed once here.
    drop(unsafe { Box::from_raw(bag.cast::<u64>()) });
}

/// Offers one frame to a pin's Process as its locked leading edge; what the pin advanced
/// (None when it did not move the frame on, or failed).
fn process(
    connection: &mut Connection,
    pin: &mut Pin,
    header: &mut KSSTREAM_HEADER,
    input: KSSTREAM_POINTER_OFFSET,
    output: KSSTREAM_POINTER_OFFSET,
) -> Option<crate::kernel::host::Advanced> {
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
    crate::kernel::host::offer_stream_pointer(pin.as_ptr(), raw);
    let dispatch_process = pin.object.dispatch().and_then(|d| d.Process);
    // SAFETY: a live pin.
    let status = dispatch_process.map_or(STATUS_SUCCESS, |p| unsafe { p(pin.as_ptr()) });
    if !NT_SUCCESS(status) {
        connection.faults.push(std::format!("Process of pin {} failed: {status:#x}", pin.object.ks.Id));
    }
    crate::kernel::host::take_advanced(raw).filter(|a| a.eject)
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
