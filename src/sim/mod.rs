//! A KS host simulator (host build only): plays ks.sys against the driver's real static
//! descriptors, where the driver can observe it.
//!
//! What it imitates, and from where:
//!
//! - **Pin creation** (AVStream): a KSPIN laid out per the ABI, with the descriptor, id,
//!   data flow and connection format filled in, then `KSPIN_DISPATCH.Create`; Close calls
//!   `KSPIN_DISPATCH.Close` and frees the KSPIN. (Documented: KSPIN, KSPIN_DISPATCH.)
//! - **Property requests** ([`Sim::property`]): an IRP and IO_STACK_LOCATION laid out per
//!   the ABI, routed through the pin's automation table merged over AVStream-style
//!   defaults (a pin item overrides the default item with the same set and id:
//!   documented for AVStream automation tables), with KsPropertyHandler's checks as
//!   [`crate::ksrules`] implements and sources them (shared with the Wine stand-in).
//! - **Handles** for KSPROPERTY_STREAM_ALLOCATOR: the host kernel backend's handle table
//!   ([`crate::kernel::host`]), kernel and user handles, stale and refused ones.
//! - **States**: [`Sim::set_state`] walks STOP → ACQUIRE → PAUSE → RUN (and back) one
//!   step at a time through `SetDeviceState`, as AVStream does (documented).
//! - **Pipes**: [`Sim::connect`] resolves the pipe's framing from both pins'
//!   CONNECTION_ALLOCATORFRAMING_EX answers ([`crate::framing::resolve`]) and, when a
//!   ksframe pin is chosen to allocate, calls its `KSALLOCATOR_DISPATCH.InitializeAllocator`;
//!   otherwise a simulator allocator serves the pipe and ksframe's callbacks are never
//!   called (how KsProxy picks the allocator is not documented: the caller decides).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::missing_panics_doc,
    // Frame pointers passed in are ones the simulator itself handed out.
    clippy::not_unsafe_ptr_arg_deref
)]

use crate::framing::{Incompatible, Resolved, resolve};
use crate::ks::*;
use std::boxed::Box;
use std::vec;
use std::vec::Vec;

/// What a property request returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The handler's (or KS's) status.
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
}

/// A pin instance the simulator created.
#[derive(Debug)]
pub struct Pin {
    ks: Box<KSPIN>,
    format: Option<Box<KS_DATAFORMAT_VIDEOINFOHEADER>>,
    /// The allocator context, when a ksframe pin allocates for this pin's pipe.
    allocator_context: PVOID,
    /// Whether `allocator_context` came from this pin's own dispatch table.
    allocator_owner: bool,
    /// The filter instance the pin is on.
    filter: usize,
}

impl Pin {
    /// The KSPIN as the driver sees it.
    pub fn ks(&self) -> &KSPIN {
        &self.ks
    }

    fn as_ptr(&mut self) -> *mut KSPIN {
        &mut *self.ks
    }

    fn descriptor(&self) -> &KSPIN_DESCRIPTOR_EX {
        // SAFETY: the static descriptor, or the pin's KsEdit copy (alive until close).
        unsafe { &*self.ks.Descriptor }
    }

    /// The framing AVStream sees for this pin: `Descriptor->AllocatorFraming`.
    pub fn descriptor_framing(&self) -> Option<KSALLOCATOR_FRAMING_EX> {
        // SAFETY: as above; the framing is the static one or the pin's copy.
        unsafe { self.descriptor().AllocatorFraming.as_ref().copied() }
    }

    /// The pin's state (None before Create succeeded or after Close).
    pub fn state(&self) -> Option<&crate::pin::PinState> {
        // SAFETY: the Context is ksframe's PinState between Create and Close.
        unsafe { crate::pin::PinState::of(&*self.ks) }
    }
}

/// Who allocates for a pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocatorChoice {
    /// The upstream (output) pin's KSALLOCATOR_DISPATCH.
    Upstream,
    /// The downstream (input) pin's KSALLOCATOR_DISPATCH.
    Downstream,
    /// An allocator outside ksframe (another filter's, or KS's default).
    Foreign,
}

/// A connected pipe.
#[derive(Debug)]
pub struct Pipe {
    /// The framing the allocator was built with.
    pub resolved: Resolved,
    /// Who allocates.
    pub choice: AllocatorChoice,
    foreign: Option<ForeignAllocator>,
}

/// The simulator's own allocator for pipes where ksframe does not allocate.
#[derive(Debug)]
struct ForeignAllocator {
    free: Vec<Box<[u8]>>,
    frames: usize,
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
        if instance.open[pin_id as usize] >= descriptor.InstancesPossible {
            return Err(STATUS_INVALID_DEVICE_REQUEST);
        }
        let mut format = format.map(Box::new);
        let bag = Box::into_raw(Box::new(0u64)).cast::<core::ffi::c_void>();
        let ks = Box::new(KSPIN {
            Descriptor: descriptor,
            Bag: bag,
            Context: core::ptr::null_mut(),
            Id: pin_id,
            Communication: descriptor.PinDescriptor.Communication,
            ConnectionIsExternal: 0,
            ConnectionInterface: KSIDENTIFIER { Set: KSINTERFACESETID_Standard, Id: 0, Flags: 0 },
            ConnectionMedium: KSIDENTIFIER { Set: KSMEDIUMSETID_Standard, Id: 0, Flags: 0 },
            ConnectionPriority: KSPRIORITY { PriorityClass: 0x200, PrioritySubClass: 1 },
            ConnectionFormat: format
                .as_deref_mut()
                .map_or(core::ptr::null_mut(), |f| (f as *mut KS_DATAFORMAT_VIDEOINFOHEADER).cast()),
            AttributeList: core::ptr::null_mut(),
            StreamHeaderSize: 0,
            DataFlow: descriptor.PinDescriptor.DataFlow,
            DeviceState: KSSTATE_STOP,
            ResetState: KSRESET_END,
            ClientState: KSSTATE_STOP,
        });
        let mut pin =
            Pin { ks, format, allocator_context: core::ptr::null_mut(), allocator_owner: false, filter };
        // SAFETY: the descriptor's dispatch is a static table.
        let dispatch = unsafe { &*descriptor.Dispatch };
        if let Some(create) = dispatch.Create {
            let mut irp = IrpBuffers::new(0, 0, core::ptr::null_mut(), KernelMode);
            // SAFETY: a live KSPIN and IRP, as AVStream passes them.
            let status = unsafe { create(pin.as_ptr(), irp.irp()) };
            if !NT_SUCCESS(status) {
                free_bag(pin.ks.Bag);
                return Err(status);
            }
        }
        self.filters[filter].open[pin_id as usize] += 1;
        Ok(pin)
    }

    /// Closes a pin: deletes the allocator this pin's dispatch built (AVStream deletes a
    /// pin's allocator before closing it), then the Close dispatch.
    pub fn close_pin(&mut self, mut pin: Pin) -> NTSTATUS {
        self.delete_allocator(&mut pin);
        let _ = self.set_state(&mut pin, KSSTATE_STOP);
        let dispatch = pin.descriptor().Dispatch;
        let mut irp = IrpBuffers::new(0, 0, core::ptr::null_mut(), KernelMode);
        // SAFETY: static dispatch table, live pin and IRP.
        let status =
            unsafe { (*dispatch).Close.map_or(STATUS_SUCCESS, |close| close(pin.as_ptr(), irp.irp())) };
        drop(pin.format.take());
        // KS frees the pin's bag (KsEdit copies included) with the pin.
        free_bag(pin.ks.Bag);
        self.filters[pin.filter].open[pin.ks.Id as usize] -= 1;
        status
    }

    /// Walks the pin's state to `target` one step at a time through SetDeviceState.
    pub fn set_state(&mut self, pin: &mut Pin, target: KSSTATE) -> NTSTATUS {
        while pin.ks.DeviceState != target {
            let from = pin.ks.DeviceState;
            let to = if target > from { from + 1 } else { from - 1 };
            // SAFETY: static dispatch table.
            if let Some(set) = unsafe { (*pin.descriptor().Dispatch).SetDeviceState } {
                // SAFETY: a live pin.
                let status = unsafe { set(pin.as_ptr(), to, from) };
                if !NT_SUCCESS(status) {
                    return status;
                }
            }
            pin.ks.DeviceState = to;
            pin.ks.ClientState = to;
        }
        STATUS_SUCCESS
    }

    /// Sends a property request to `pin`, as KsPropertyHandler would (module docs).
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
        let status = dispatch_property(pin.descriptor(), &mut buffers, request);
        let information = buffers.irp.IoStatus.Information;
        Reply { status, information, output: buffers.output.clone() }
    }

    /// Connects `upstream` (output) to `downstream` (input): resolves the framing from
    /// both pins' CONNECTION_ALLOCATORFRAMING_EX, and makes `choice` allocate.
    pub fn connect(
        &mut self,
        upstream: &mut Pin,
        downstream: &mut Pin,
        choice: AllocatorChoice,
    ) -> Result<Pipe, Incompatible> {
        let u = self.framing_items(upstream);
        let d = self.framing_items(downstream);
        let resolved = resolve(&u, &d)?;
        let mut pipe = Pipe { resolved, choice, foreign: None };
        let allocating = match choice {
            AllocatorChoice::Upstream => Some(upstream),
            AllocatorChoice::Downstream => Some(downstream),
            AllocatorChoice::Foreign => None,
        };
        match allocating {
            Some(pin) => {
                // SAFETY: static dispatch table; Allocator is ksframe's.
                let allocator = unsafe { &*(*pin.descriptor().Dispatch).Allocator };
                let mut framing = resolved.framing;
                let mut context: PVOID = core::ptr::null_mut();
                // SAFETY: a live pin, framing and context, as KS passes them.
                let status = unsafe {
                    allocator.InitializeAllocator.unwrap()(pin.as_ptr(), &mut framing, &mut context)
                };
                if !NT_SUCCESS(status) {
                    return Err(Incompatible::Invalid(status));
                }
                pin.allocator_context = context;
                pin.allocator_owner = true;
            }
            None => {
                let frames = resolved.framing.Frames as usize;
                let size = resolved.framing.FrameSize as usize;
                pipe.foreign = Some(ForeignAllocator {
                    free: (0..frames).map(|_| vec![0u8; size].into_boxed_slice()).collect(),
                    frames,
                });
            }
        }
        Ok(pipe)
    }

    /// The pin's framing items, read through its CONNECTION_ALLOCATORFRAMING_EX property
    /// (size query, then the exact size), as KsProxy does.
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

    /// Moves `frames` frames through a connected, running pipe, as AVStream's standard
    /// transport would: a frame from the pipe's allocator goes to the capture pin's
    /// Process as its leading-edge stream pointer (output), then to the sink pin's
    /// Process (input), then back to the allocator. Stops early when the allocator has
    /// no frame (all out) or a pin does not advance its stream pointer.
    /// Frames only move while both pins are in KSSTATE_RUN (0 otherwise).
    pub fn run(&mut self, pipe: &mut Pipe, upstream: &mut Pin, downstream: &mut Pin, frames: usize) -> usize {
        if upstream.ks.DeviceState != KSSTATE_RUN || downstream.ks.DeviceState != KSSTATE_RUN {
            return 0;
        }
        let size = pipe.resolved.framing.FrameSize;
        for n in 0..frames {
            let Some(frame) = self.allocate_frame(pipe, upstream, downstream) else { return n };
            let mut header = KSSTREAM_HEADER {
                Size: core::mem::size_of::<KSSTREAM_HEADER>() as u32,
                TypeSpecificFlags: 0,
                PresentationTime: KSTIME { Time: 0, Numerator: 1, Denominator: 1 },
                Duration: 0,
                FrameExtent: size,
                DataUsed: 0,
                Data: frame,
                OptionsFlags: 0,
                Reserved: 0,
            };
            let out = KSSTREAM_POINTER_OFFSET { Data: frame.cast(), Count: size, Remaining: size };
            let none = KSSTREAM_POINTER_OFFSET { Data: core::ptr::null_mut(), Count: 0, Remaining: 0 };
            let produced = process(upstream, &mut header, none, out).map(|a| a.out_used);
            let consumed = produced.and_then(|used| {
                let input = KSSTREAM_POINTER_OFFSET { Data: frame.cast(), Count: used, Remaining: used };
                process(downstream, &mut header, input, none)
            });
            self.free_frame(pipe, upstream, downstream, frame);
            if consumed.is_none() {
                return n;
            }
        }
        frames
    }

    /// Takes a frame from the pipe's allocator (null when none is free).
    pub fn allocate_frame(&mut self, pipe: &mut Pipe, upstream: &Pin, downstream: &Pin) -> Option<PVOID> {
        if let Some(foreign) = pipe.foreign.as_mut() {
            return foreign.free.pop().map(|f| Box::into_raw(f).cast::<core::ffi::c_void>());
        }
        let context = allocator_context(pipe, upstream, downstream);
        // SAFETY: a live pool context from InitializeAllocator.
        let frame = unsafe { ALLOCATOR().Allocate.unwrap()(context) };
        (!frame.is_null()).then_some(frame)
    }

    /// Gives a frame back to the pipe's allocator.
    pub fn free_frame(&mut self, pipe: &mut Pipe, upstream: &Pin, downstream: &Pin, frame: PVOID) {
        if let Some(foreign) = pipe.foreign.as_mut() {
            let len = pipe.resolved.framing.FrameSize as usize;
            // SAFETY: made by Box::into_raw of a boxed slice of `len` bytes above.
            let frame =
                unsafe { Box::from_raw(core::ptr::slice_from_raw_parts_mut(frame.cast::<u8>(), len)) };
            foreign.free.push(frame);
            assert!(foreign.free.len() <= foreign.frames);
            return;
        }
        let context = allocator_context(pipe, upstream, downstream);
        // SAFETY: giving a frame back to the pool it came from.
        unsafe { ALLOCATOR().Free.unwrap()(context, frame) };
    }

    /// Changes a stopped pin's format, as AVStream does: the new format goes to
    /// `KSPIN.ConnectionFormat`, then SetDataFormat; on failure the old one comes back.
    pub fn change_format(&mut self, pin: &mut Pin, format: KS_DATAFORMAT_VIDEOINFOHEADER) -> NTSTATUS {
        if pin.ks.DeviceState != KSSTATE_STOP {
            return STATUS_INVALID_DEVICE_STATE;
        }
        let mut new = Box::new(format);
        let old_ptr = pin.ks.ConnectionFormat;
        pin.ks.ConnectionFormat = (&mut *new as *mut KS_DATAFORMAT_VIDEOINFOHEADER).cast();
        // SAFETY: static dispatch table.
        let status = match unsafe { (*pin.descriptor().Dispatch).SetDataFormat } {
            // SAFETY: a live pin with the proposed format in place.
            Some(set) => unsafe {
                set(pin.as_ptr(), old_ptr, core::ptr::null_mut(), core::ptr::null(), core::ptr::null_mut())
            },
            None => STATUS_SUCCESS,
        };
        if NT_SUCCESS(status) {
            pin.format = Some(new);
        } else {
            pin.ks.ConnectionFormat = old_ptr;
        }
        status
    }

    /// The connection format for `range` on pin type `pin_id`, as AVStream's
    /// KSPROPERTY_PIN_DATAINTERSECTION does it: each descriptor range in order through the
    /// pin's IntersectHandler, first with a size query, the first match wins.
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
            crate::ksrules::intersect(
                descriptor,
                pin_id,
                (&mut caller as *mut KS_DATARANGE_VIDEO).cast(),
                (&mut format as *mut KS_DATAFORMAT_VIDEOINFOHEADER).cast(),
                core::mem::size_of::<KS_DATAFORMAT_VIDEOINFOHEADER>() as u32,
            )
        }?;
        Ok(format)
    }

    fn delete_allocator(&mut self, pin: &mut Pin) {
        if pin.allocator_owner && !pin.allocator_context.is_null() {
            // SAFETY: the context InitializeAllocator returned, deleted once.
            unsafe { ALLOCATOR().DeleteAllocator.unwrap()(pin.allocator_context) };
            pin.allocator_context = core::ptr::null_mut();
            pin.allocator_owner = false;
        }
    }
}

fn free_bag(bag: PVOID) {
    crate::kernel::host::free_bag(bag);
    // SAFETY: made by Box::into_raw in create_pin, freed once here.
    drop(unsafe { Box::from_raw(bag.cast::<u64>()) });
}

fn allocator_context(pipe: &Pipe, upstream: &Pin, downstream: &Pin) -> PVOID {
    match pipe.choice {
        AllocatorChoice::Upstream => upstream.allocator_context,
        AllocatorChoice::Downstream => downstream.allocator_context,
        AllocatorChoice::Foreign => core::ptr::null_mut(),
    }
}

/// Offers one frame to a pin's Process as its locked leading edge; what the pin advanced.
fn process(
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
    // SAFETY: static dispatch table; a live pin.
    let status = unsafe { (*pin.descriptor().Dispatch).Process.map_or(STATUS_SUCCESS, |p| p(pin.as_ptr())) };
    assert!(NT_SUCCESS(status), "Process failed: {status:#x}");
    crate::kernel::host::take_advanced(raw).filter(|a| a.eject)
}

#[allow(non_snake_case)]
fn ALLOCATOR() -> &'static KSALLOCATOR_DISPATCH {
    &crate::allocator::ALLOCATOR_DISPATCH
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

/// AVStream's own pin property items that the simulator answers when the pin's table
/// does not override them (a subset: what a ksframe test can observe).
static DEFAULT_CONNECTION: [KSPROPERTY_ITEM; 2] = crate::property::items([
    crate::property::Property::get(KSPROPERTY_CONNECTION_STATE, Some(default_connection_state), 4),
    // AVStream answers ALLOCATORFRAMING_EX from the descriptor; ksframe's pin overrides it.
    crate::property::Property::get(KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX, Some(default_unreachable), 0),
]);
static DEFAULT_STREAM: [KSPROPERTY_ITEM; 1] = crate::property::items([crate::property::Property::get(
    KSPROPERTY_STREAM_ALLOCATOR,
    Some(default_unreachable),
    8,
)]);

unsafe extern "system" fn default_connection_state(
    irp: *mut IRP,
    _r: *mut KSIDENTIFIER,
    data: PVOID,
) -> NTSTATUS {
    // SAFETY: the simulator's own IRP with the pin in FileObject, and 4 output bytes
    // (MinData checked).
    unsafe {
        let pin = &*(*(*irp).Tail.Overlay.CurrentStackLocation).FileObject.cast::<KSPIN>();
        data.cast::<i32>().write_unaligned(pin.DeviceState);
        (*irp).IoStatus.Information = 4;
    }
    STATUS_SUCCESS
}

unsafe extern "system" fn default_unreachable(_irp: *mut IRP, _r: *mut KSIDENTIFIER, _d: PVOID) -> NTSTATUS {
    panic!("a default item that ksframe's pin table overrides was called");
}

fn dispatch_property(descriptor: &KSPIN_DESCRIPTOR_EX, b: &mut IrpBuffers, _request: &Request) -> NTSTATUS {
    // SAFETY: the descriptor's automation table is a static of static sets.
    let pin_sets: &[KSPROPERTY_SET] = unsafe {
        descriptor
            .AutomationTable
            .as_ref()
            .map_or(&[], |t| core::slice::from_raw_parts(t.PropertySets, t.PropertySetsCount as usize))
    };
    let defaults = [
        crate::property::property_set(&KSPROPSETID_Connection, &DEFAULT_CONNECTION),
        crate::property::property_set(&KSPROPSETID_Stream, &DEFAULT_STREAM),
    ];
    // SAFETY: a complete IOCTL_KS_PROPERTY IRP built by IrpBuffers, and static tables.
    unsafe { crate::ksrules::property_handler(b.irp(), &[pin_sets, &defaults]) }
}
