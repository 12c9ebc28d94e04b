//! A pin as AVStream holds it, and the pin property items AVStream answers itself.
//!
//! # AVStream's own pin table (KS-NOTES, "How AVStream calls the driver")
//!
//! Merged under the minidriver's table ([`super::property`]): a minidriver item with the
//! same (set, id) replaces the item below whole.
//!
//! | item | Get | Set | source |
//! |---|---|---|---|
//! | Connection STATE (0) | the pin's state | the state walk ([`set_state`]) | KSPROPERTY_CONNECTION_STATE docs |
//! | Connection DATAFORMAT (2) | the connection format; short output: STATUS_BUFFER_OVERFLOW, Information = FormatSize | not modelled (the simulator changes formats through SetDataFormat) | KSPROPERTY_CONNECTION_DATAFORMAT docs; the short-output status is inferred |
//! | Connection ALLOCATORFRAMING_EX (6) | `Descriptor->AllocatorFraming` (the KsEdit-ed copy); output 0: STATUS_BUFFER_OVERFLOW with the size; short: STATUS_BUFFER_TOO_SMALL | — | KS-NOTES |
//! | Stream ALLOCATOR (0) | always a NULL handle, success | `stream_allocator_set` (below) | KSPROPERTY_STREAM_ALLOCATOR docs; KS-NOTES |
//! | Stream MASTERCLOCK (3) | a NULL handle and success when the pin implements a clock (KSPIN_FLAG_IMPLEMENT_CLOCK with a Clock dispatch), else STATUS_UNSUCCESSFUL | outside KSSTATE_STOP STATUS_INVALID_DEVICE_STATE; NULL drops the clock; otherwise the handle is referenced (SYNCHRONIZE \| DIRECTORY_QUERY), asked for KSPROPERTY_CLOCK_FUNCTIONTABLE (its failure status returned, the reference dropped), and kept with the table | ReactOS `pin.c` (`IKsPin_PinMasterClock`) |
//! | Stream PIPE_ID (10) | the stored pipe id | stored | ReactOS `pin.c` (`IKsPin_PinPipeId`) |
//!
//! AVStream does not answer Connection ALLOCATORFRAMING (3).
//!
//! # The master clock a minidriver sees
//!
//! [`reference_clock`] is KsPinGetReferenceClockInterface: with a master clock assigned,
//! the pin's IKsReferenceClock (referenced; GetTime calls the clock's function table
//! with its file object), else STATUS_DEVICE_NOT_READY (ReactOS `pin.c`). The model
//! counts the references a minidriver holds ([`PinObject::clock_references`]).
//!
//! # When AVStream calls Process
//!
//! [`dispatches_process`] and [`arrival_initiates`]: pin-centric processing stops when
//! no data is queued on the pin unless the pin sets KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING,
//! and when Process returns STATUS_PENDING; it starts again when data arrives into a
//! previously empty queue (every arrival with KSPIN_FLAG_INITIATE_PROCESSING_ON_EVERY_ARRIVAL,
//! none with KSPIN_FLAG_DO_NOT_INITIATE_PROCESSING) or when the minidriver calls
//! KsPinAttemptProcessing; STATUS_SUCCESS makes AVStream call again ("Restarting
//! Processing in AVStream"; the PFNKSPIN and KSPIN_DESCRIPTOR_EX docs).
//!
//! # Kernel contract
//!
//! The handlers run at PASSIVE_LEVEL under the pin's control mutex (the model is single
//! threaded per pin). The IRP's current stack location's `FileObject` is the
//! [`PinObject`] (the model collapses the file object → KSPIN indirection, as the host
//! backend's KsGetPinFromIrp does).

use super::ObjectManager;
use super::property::property_handler;
use crate::ks::*;
use core::ffi::c_void;
use core::ptr::NonNull;

/// A pin: the KSPIN the minidriver sees, followed by what AVStream keeps beside it.
///
/// # Invariants
///
/// `ks` is the first field, so a `*mut KSPIN` the model handed out is a `*mut
/// PinObject`. `allocator_file` is null or a file object this pin holds one reference
/// to, whose function table is `allocator_table`.
#[repr(C)]
pub struct PinObject {
    /// The KSPIN the minidriver sees.
    pub ks: KSPIN,
    /// The environment's object manager.
    pub objects: &'static dyn ObjectManager,
    /// The allocator assigned through STREAM_ALLOCATOR Set (referenced), or null.
    allocator_file: *mut c_void,
    /// Its function table (meaningful when `allocator_file` is set).
    allocator_table: KSSTREAMALLOCATOR_FUNCTIONTABLE,
    /// The master clock file object (referenced), or null.
    master_clock: *mut c_void,
    /// Its function table (meaningful when `master_clock` is set).
    clock_table: KSCLOCK_FUNCTIONTABLE,
    /// The IKsReferenceClock KsPinGetReferenceClockInterface hands out.
    clock_interface: IKsReferenceClock,
    /// References a minidriver holds on `clock_interface`.
    clock_references: u32,
    /// KSPROPERTY_STREAM_PIPE_ID's value.
    pipe_id: HANDLE,
}

impl PinObject {
    /// A stopped pin of `descriptor` with `id`, `format` as its connection format.
    pub fn new(
        descriptor: &'static KSPIN_DESCRIPTOR_EX,
        id: u32,
        bag: KSOBJECT_BAG,
        format: *mut KSDATAFORMAT,
        objects: &'static dyn ObjectManager,
    ) -> Self {
        let d = descriptor;
        Self {
            ks: KSPIN {
                Descriptor: descriptor,
                Bag: bag,
                Context: core::ptr::null_mut(),
                Id: id,
                Communication: d.PinDescriptor.Communication,
                ConnectionIsExternal: 0,
                ConnectionInterface: KSIDENTIFIER { Set: KSINTERFACESETID_Standard, Id: 0, Flags: 0 },
                ConnectionMedium: KSIDENTIFIER { Set: KSMEDIUMSETID_Standard, Id: 0, Flags: 0 },
                ConnectionPriority: KSPRIORITY { PriorityClass: 0x200, PrioritySubClass: 1 },
                ConnectionFormat: format,
                AttributeList: core::ptr::null_mut(),
                StreamHeaderSize: 0,
                DataFlow: d.PinDescriptor.DataFlow,
                DeviceState: KSSTATE_STOP,
                ResetState: KSRESET_END,
                ClientState: KSSTATE_STOP,
            },
            objects,
            allocator_file: core::ptr::null_mut(),
            allocator_table: KSSTREAMALLOCATOR_FUNCTIONTABLE { AllocateFrame: None, FreeFrame: None },
            master_clock: core::ptr::null_mut(),
            clock_table: NO_CLOCK,
            clock_interface: IKsReferenceClock { lpVtbl: &REFERENCE_CLOCK_VTBL },
            clock_references: 0,
            pipe_id: core::ptr::null_mut(),
        }
    }

    /// References the minidriver holds on the pin's IKsReferenceClock (0 once it has
    /// released every one it took).
    pub fn clock_references(&self) -> u32 {
        self.clock_references
    }

    /// The pin's descriptor (static, or its KsEdit copy).
    pub fn descriptor(&self) -> &KSPIN_DESCRIPTOR_EX {
        // SAFETY: a live pin's Descriptor is valid (static or in its bag).
        unsafe { &*self.ks.Descriptor }
    }

    /// The pin's dispatch table.
    pub fn dispatch(&self) -> Option<&KSPIN_DISPATCH> {
        // SAFETY: a static dispatch table, or null.
        unsafe { self.descriptor().Dispatch.as_ref() }
    }

    /// The allocator AVStream's requestor takes frames from: the file object and its
    /// function table, when one is assigned.
    pub fn assigned_allocator(&self) -> Option<(*mut FILE_OBJECT, KSSTREAMALLOCATOR_FUNCTIONTABLE)> {
        (!self.allocator_file.is_null()).then_some((self.allocator_file.cast(), self.allocator_table))
    }

    fn replace_allocator(&mut self, file: *mut c_void, table: KSSTREAMALLOCATOR_FUNCTIONTABLE) {
        let old = core::mem::replace(&mut self.allocator_file, file);
        self.allocator_table = table;
        if let Some(old) = NonNull::new(old) {
            self.objects.dereference(old);
        }
    }

    /// What AVStream releases when the pin closes: the allocator and clock references.
    pub fn release_references(&mut self) {
        self.replace_allocator(
            core::ptr::null_mut(),
            KSSTREAMALLOCATOR_FUNCTIONTABLE { AllocateFrame: None, FreeFrame: None },
        );
        self.replace_clock(core::ptr::null_mut(), NO_CLOCK);
    }

    fn replace_clock(&mut self, file: *mut c_void, table: KSCLOCK_FUNCTIONTABLE) {
        let old = core::mem::replace(&mut self.master_clock, file);
        self.clock_table = table;
        if let Some(old) = NonNull::new(old) {
            self.objects.dereference(old);
        }
    }

    /// The pin's property sets in dominance order: the minidriver's table, then
    /// AVStream's ([`PIN_PROPERTY_SETS`]).
    pub fn property_tables(&self) -> [&'static [KSPROPERTY_SET]; 2] {
        // SAFETY: the descriptor's automation table is null or a static of static sets.
        let ours: &'static [KSPROPERTY_SET] = unsafe {
            self.descriptor()
                .AutomationTable
                .as_ref()
                .filter(|t| !t.PropertySets.is_null())
                .map_or(&[], |t| core::slice::from_raw_parts(t.PropertySets, t.PropertySetsCount as usize))
        };
        [ours, &PIN_PROPERTY_SETS]
    }

    /// A property IRP on the pin: KsPropertyHandler over the merged tables.
    ///
    /// # Safety
    ///
    /// `irp` is an IOCTL_KS_PROPERTY IRP whose stack location's FileObject is this pin.
    pub unsafe fn property(&self, irp: *mut IRP) -> NTSTATUS {
        let tables = self.property_tables();
        // SAFETY: the caller's contract; the tables are statics.
        unsafe { property_handler(irp, &tables) }
    }
}

/// Whether AVStream calls the pin's Process in its current state: in PAUSE and RUN, or
/// only in RUN with KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY (KSPIN_DESCRIPTOR_EX docs,
/// Flags).
pub fn may_process(pin: &PinObject) -> bool {
    let state = pin.ks.DeviceState;
    if pin.descriptor().Flags & KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY != 0 {
        state == KSSTATE_RUN
    } else {
        state == KSSTATE_PAUSE || state == KSSTATE_RUN
    }
}

/// Walks the pin to `target` one state at a time through `KSPIN_DISPATCH.SetDeviceState`
/// (STOP ↔ ACQUIRE ↔ PAUSE ↔ RUN: "AVStream transitions one state at a time", the
/// KSPIN_DISPATCH SetDeviceState docs). A failure stops the walk where it is.
pub fn set_state(pin: &mut PinObject, target: KSSTATE) -> NTSTATUS {
    if !(KSSTATE_STOP..=KSSTATE_RUN).contains(&target) {
        return STATUS_INVALID_PARAMETER;
    }
    while pin.ks.DeviceState != target {
        let from = pin.ks.DeviceState;
        let to = if target > from { from.wrapping_add(1) } else { from.wrapping_sub(1) };
        if let Some(set) = pin.dispatch().and_then(|d| d.SetDeviceState) {
            // SAFETY: a live pin, as AVStream calls SetDeviceState.
            let status = unsafe { set(&mut pin.ks, to, from) };
            if !NT_SUCCESS(status) {
                return status;
            }
        }
        pin.ks.DeviceState = to;
        pin.ks.ClientState = to;
    }
    STATUS_SUCCESS
}

/// The pin an IRP of the model is addressed to.
///
/// # Safety
///
/// `irp` is a valid IRP whose stack location's FileObject is a live [`PinObject`].
unsafe fn pin_of<'a>(irp: *mut IRP) -> &'a mut PinObject {
    // SAFETY: the caller's contract.
    unsafe { &mut *(*(*irp).Tail.Overlay.CurrentStackLocation).FileObject.cast::<PinObject>() }
}

/// # Safety
///
/// As a PFNKSHANDLER: a valid IRP.
unsafe fn requestor_mode(irp: *mut IRP) -> KPROCESSOR_MODE {
    // SAFETY: the caller's contract.
    unsafe { (*irp).RequestorMode }
}

/// # Safety
///
/// As a PFNKSHANDLER: a valid IRP.
unsafe fn set_information(irp: *mut IRP, value: usize) {
    // SAFETY: the caller's contract.
    unsafe { (*irp).IoStatus.Information = value };
}

/// # Safety
///
/// As a PFNKSHANDLER: a valid IRP.
unsafe fn output_length(irp: *mut IRP) -> u32 {
    // SAFETY: the caller's contract.
    unsafe { (*(*irp).Tail.Overlay.CurrentStackLocation).Parameters.DeviceIoControl.OutputBufferLength }
}

unsafe extern "system" fn state_get(irp: *mut IRP, _r: *mut KSIDENTIFIER, data: PVOID) -> NTSTATUS {
    // SAFETY: KS's handler contract (MinData 4 checked).
    unsafe {
        data.cast::<KSSTATE>().write_unaligned(pin_of(irp).ks.DeviceState);
        set_information(irp, 4);
    }
    STATUS_SUCCESS
}

unsafe extern "system" fn state_set(irp: *mut IRP, _r: *mut KSIDENTIFIER, data: PVOID) -> NTSTATUS {
    // SAFETY: KS's handler contract (MinData 4 checked).
    let (pin, target) = unsafe { (pin_of(irp), data.cast::<KSSTATE>().read_unaligned()) };
    set_state(pin, target)
}

unsafe extern "system" fn dataformat_get(irp: *mut IRP, _r: *mut KSIDENTIFIER, data: PVOID) -> NTSTATUS {
    // SAFETY: KS's handler contract.
    let (pin, out_len) = unsafe { (pin_of(irp), output_length(irp)) };
    // SAFETY: the connection format is null or FormatSize valid bytes.
    let Some(format) = (unsafe { pin.ks.ConnectionFormat.as_ref() }) else {
        return STATUS_NOT_FOUND;
    };
    let size = format.FormatSize;
    // SAFETY: KS's handler contract.
    unsafe { set_information(irp, size as usize) };
    if out_len < size {
        return STATUS_BUFFER_OVERFLOW;
    }
    // SAFETY: `size` bytes of format, `out_len >= size` writable bytes of output.
    unsafe {
        core::ptr::copy_nonoverlapping(pin.ks.ConnectionFormat.cast::<u8>(), data.cast::<u8>(), size as usize)
    };
    STATUS_SUCCESS
}

unsafe extern "system" fn framing_ex_get(irp: *mut IRP, _r: *mut KSIDENTIFIER, data: PVOID) -> NTSTATUS {
    // SAFETY: KS's handler contract.
    let (pin, out_len) = unsafe { (pin_of(irp), output_length(irp)) };
    // SAFETY: the descriptor's framing is null or a valid KSALLOCATOR_FRAMING_EX.
    let Some(framing) = (unsafe { pin.descriptor().AllocatorFraming.as_ref() }) else {
        return STATUS_NOT_FOUND;
    };
    // 24 bytes of header and 88 per item (ks.h; CountItems >= 1 in the struct).
    let size = 24usize.saturating_add(88usize.saturating_mul(framing.CountItems.max(1) as usize));
    if out_len == 0 {
        // SAFETY: KS's handler contract.
        unsafe { set_information(irp, size) };
        return STATUS_BUFFER_OVERFLOW;
    }
    if (out_len as usize) < size {
        // SAFETY: KS's handler contract.
        unsafe { set_information(irp, 0) };
        return STATUS_BUFFER_TOO_SMALL;
    }
    // SAFETY: `size` bytes of framing (CountItems items) and of output.
    unsafe {
        core::ptr::copy_nonoverlapping(
            (framing as *const KSALLOCATOR_FRAMING_EX).cast::<u8>(),
            data.cast(),
            size,
        );
        set_information(irp, size);
    }
    STATUS_SUCCESS
}

unsafe extern "system" fn null_handle_get(irp: *mut IRP, _r: *mut KSIDENTIFIER, data: PVOID) -> NTSTATUS {
    // SAFETY: KS's handler contract (MinData 8 checked).
    unsafe {
        data.cast::<HANDLE>().write_unaligned(core::ptr::null_mut());
        set_information(irp, core::mem::size_of::<HANDLE>());
    }
    STATUS_SUCCESS
}

/// AVStream's KSPROPERTY_STREAM_ALLOCATOR Set (KS-NOTES): outside KSSTATE_STOP
/// STATUS_INVALID_DEVICE_STATE; NULL drops the current allocator; otherwise the handle is
/// referenced with SYNCHRONIZE | FILE_READ_DATA as a file object in the requestor's mode,
/// and the file object must answer KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE (16 bytes),
/// else STATUS_INVALID_BUFFER_SIZE; the reference is kept until replaced or the pin
/// closes.
unsafe extern "system" fn stream_allocator_set(
    irp: *mut IRP,
    _r: *mut KSIDENTIFIER,
    data: PVOID,
) -> NTSTATUS {
    // SAFETY: KS's handler contract (MinData 8 checked).
    let (pin, mode, handle) =
        unsafe { (pin_of(irp), requestor_mode(irp), data.cast::<HANDLE>().read_unaligned()) };
    // SAFETY: as above.
    unsafe { set_information(irp, 0) };
    if pin.ks.DeviceState != KSSTATE_STOP {
        return STATUS_INVALID_DEVICE_STATE;
    }
    if handle.is_null() {
        pin.replace_allocator(
            core::ptr::null_mut(),
            KSSTREAMALLOCATOR_FUNCTIONTABLE { AllocateFrame: None, FreeFrame: None },
        );
        return STATUS_SUCCESS;
    }
    let file = match pin.objects.reference_file_by_handle(handle, SYNCHRONIZE | FILE_READ_DATA, mode) {
        Ok(file) => file,
        Err(status) => return status,
    };
    let mut table = [0u8; 16];
    let answered = pin.objects.property_get(
        file,
        &KSPROPSETID_StreamAllocator,
        KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE,
        &mut table,
    );
    if answered != Ok(table.len()) {
        pin.objects.dereference(file);
        return STATUS_INVALID_BUFFER_SIZE;
    }
    // SAFETY: 16 bytes the allocator wrote as a KSSTREAMALLOCATOR_FUNCTIONTABLE.
    let table = unsafe { table.as_ptr().cast::<KSSTREAMALLOCATOR_FUNCTIONTABLE>().read_unaligned() };
    pin.replace_allocator(file.as_ptr(), table);
    STATUS_SUCCESS
}

/// AVStream's KSPROPERTY_STREAM_MASTERCLOCK Get (ReactOS `IKsPin_PinMasterClock`): a
/// NULL handle when the pin implements a clock itself, else STATUS_UNSUCCESSFUL.
unsafe extern "system" fn master_clock_get(irp: *mut IRP, r: *mut KSIDENTIFIER, data: PVOID) -> NTSTATUS {
    // SAFETY: KS's handler contract.
    let pin = unsafe { pin_of(irp) };
    let implements = pin.descriptor().Flags & KSPIN_FLAG_IMPLEMENT_CLOCK != 0
        // SAFETY: a static dispatch table's clock dispatch, or null.
        && pin.dispatch().is_some_and(|d| !d.Clock.is_null());
    if !implements {
        // SAFETY: as above.
        unsafe { set_information(irp, 0) };
        return STATUS_UNSUCCESSFUL;
    }
    // SAFETY: as above.
    unsafe { null_handle_get(irp, r, data) }
}

/// AVStream's KSPROPERTY_STREAM_MASTERCLOCK Set (ReactOS `IKsPin_PinMasterClock`):
/// outside KSSTATE_STOP STATUS_INVALID_DEVICE_STATE; NULL drops the clock; otherwise
/// the handle is referenced with SYNCHRONIZE | DIRECTORY_QUERY (= FILE_READ_DATA) and
/// asked for KSPROPERTY_CLOCK_FUNCTIONTABLE; a failure returns its status and drops the
/// reference.
unsafe extern "system" fn master_clock_set(irp: *mut IRP, _r: *mut KSIDENTIFIER, data: PVOID) -> NTSTATUS {
    // SAFETY: KS's handler contract (MinData 8 checked).
    let (pin, mode, handle) =
        unsafe { (pin_of(irp), requestor_mode(irp), data.cast::<HANDLE>().read_unaligned()) };
    // SAFETY: as above.
    unsafe { set_information(irp, 0) };
    if pin.ks.ClientState != KSSTATE_STOP {
        return STATUS_INVALID_DEVICE_STATE;
    }
    if handle.is_null() {
        pin.replace_clock(core::ptr::null_mut(), NO_CLOCK);
        return STATUS_SUCCESS;
    }
    let file = match pin.objects.reference_file_by_handle(handle, SYNCHRONIZE | FILE_READ_DATA, mode) {
        Ok(file) => file,
        Err(status) => return status,
    };
    let mut table = [0u8; core::mem::size_of::<KSCLOCK_FUNCTIONTABLE>()];
    match pin.objects.property_get(file, &KSPROPSETID_Clock, KSPROPERTY_CLOCK_FUNCTIONTABLE, &mut table) {
        Ok(n) if n == table.len() => {
            // SAFETY: the clock wrote a whole KSCLOCK_FUNCTIONTABLE.
            let table = unsafe { table.as_ptr().cast::<KSCLOCK_FUNCTIONTABLE>().read_unaligned() };
            pin.replace_clock(file.as_ptr(), table);
            STATUS_SUCCESS
        }
        answered => {
            pin.objects.dereference(file);
            answered.err().unwrap_or(STATUS_INVALID_BUFFER_SIZE)
        }
    }
}

const NO_CLOCK: KSCLOCK_FUNCTIONTABLE = KSCLOCK_FUNCTIONTABLE {
    GetTime: None,
    GetPhysicalTime: None,
    GetCorrelatedTime: None,
    GetCorrelatedPhysicalTime: None,
};

/// KsPinGetReferenceClockInterface (ReactOS `pin.c`): the pin's IKsReferenceClock,
/// referenced, when a master clock is assigned; else STATUS_DEVICE_NOT_READY.
///
/// # Safety
///
/// `pin` is the KSPIN of a live [`PinObject`]; `out` is writable.
pub unsafe fn reference_clock(pin: *mut KSPIN, out: *mut *mut IKsReferenceClock) -> NTSTATUS {
    // SAFETY: the caller's contract: KSPIN is the first field of a PinObject.
    let pin = unsafe { &mut *pin.cast::<PinObject>() };
    if pin.master_clock.is_null() {
        return STATUS_DEVICE_NOT_READY;
    }
    pin.clock_references = pin.clock_references.saturating_add(1);
    // SAFETY: the caller's contract.
    unsafe { *out = &mut pin.clock_interface };
    STATUS_SUCCESS
}

/// The PinObject an IKsReferenceClock of the model belongs to.
///
/// # Safety
///
/// `this` is the `clock_interface` of a live PinObject.
unsafe fn clock_owner<'a>(this: *mut IKsReferenceClock) -> &'a mut PinObject {
    let offset = core::mem::offset_of!(PinObject, clock_interface);
    // SAFETY: the caller's contract.
    unsafe { &mut *this.cast::<u8>().sub(offset).cast::<PinObject>() }
}

unsafe extern "system" fn clock_add_ref(this: *mut IKsReferenceClock) -> u32 {
    // SAFETY: the vtable's contract: `this` is a pin's interface.
    let pin = unsafe { clock_owner(this) };
    pin.clock_references = pin.clock_references.saturating_add(1);
    pin.clock_references
}

unsafe extern "system" fn clock_release(this: *mut IKsReferenceClock) -> u32 {
    // SAFETY: as above.
    let pin = unsafe { clock_owner(this) };
    pin.clock_references = pin.clock_references.saturating_sub(1);
    pin.clock_references
}

unsafe extern "system" fn clock_get_time(this: *mut IKsReferenceClock) -> i64 {
    // SAFETY: as above.
    let pin = unsafe { clock_owner(this) };
    match pin.clock_table.GetTime {
        // SAFETY: the clock's own function for its referenced file object.
        Some(get) if !pin.master_clock.is_null() => unsafe { get(pin.master_clock.cast()) },
        _ => 0,
    }
}

unsafe extern "system" fn clock_get_physical_time(this: *mut IKsReferenceClock) -> i64 {
    // SAFETY: as above.
    let pin = unsafe { clock_owner(this) };
    match pin.clock_table.GetPhysicalTime {
        // SAFETY: as above.
        Some(get) if !pin.master_clock.is_null() => unsafe { get(pin.master_clock.cast()) },
        _ => 0,
    }
}

unsafe extern "system" fn clock_correlated(this: *mut IKsReferenceClock, system: *mut i64) -> i64 {
    // SAFETY: as above.
    let pin = unsafe { clock_owner(this) };
    match pin.clock_table.GetCorrelatedTime {
        // SAFETY: as above; `system` is the caller's.
        Some(get) if !pin.master_clock.is_null() => unsafe { get(pin.master_clock.cast(), system) },
        _ => 0,
    }
}

unsafe extern "system" fn clock_query_interface(
    _this: *mut IKsReferenceClock,
    _iid: *const GUID,
    _out: *mut PVOID,
) -> NTSTATUS {
    STATUS_NOT_IMPLEMENTED
}

unsafe extern "system" fn clock_not_modelled(_this: *mut IKsReferenceClock, _out: PVOID) -> NTSTATUS {
    STATUS_NOT_IMPLEMENTED
}

unsafe extern "system" fn clock_state_not_modelled(
    _this: *mut IKsReferenceClock,
    _out: *mut KSSTATE,
) -> NTSTATUS {
    STATUS_NOT_IMPLEMENTED
}

/// The model's IKsReferenceClock vtable (ks.h order).
static REFERENCE_CLOCK_VTBL: IKsReferenceClockVtbl = IKsReferenceClockVtbl {
    QueryInterface: Some(clock_query_interface),
    AddRef: Some(clock_add_ref),
    Release: Some(clock_release),
    GetTime: Some(clock_get_time),
    GetPhysicalTime: Some(clock_get_physical_time),
    GetCorrelatedTime: Some(clock_correlated),
    GetCorrelatedPhysicalTime: Some(clock_correlated),
    GetResolution: Some(clock_not_modelled),
    GetState: Some(clock_state_not_modelled),
};

/// Whether AVStream dispatches a pin's Process now, with `queued` frames in its queue:
/// the state allows it ([`may_process`]) and data is queued, or the pin sets
/// KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING ("Restarting Processing in AVStream").
pub fn dispatches_process(pin: &PinObject, queued: usize) -> bool {
    may_process(pin)
        && (queued > 0 || pin.descriptor().Flags & KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING != 0)
}

/// Whether a frame arriving in a queue that held `queued_before` frames initiates
/// processing: into an empty queue by default, on every arrival with
/// KSPIN_FLAG_INITIATE_PROCESSING_ON_EVERY_ARRIVAL, never with
/// KSPIN_FLAG_DO_NOT_INITIATE_PROCESSING (KSPIN_DESCRIPTOR_EX docs; PFNKSPIN docs: "AVStream
/// calls AVStrMiniPinProcess when new data arrives into a previously empty queue").
pub fn arrival_initiates(pin: &PinObject, queued_before: usize) -> bool {
    let flags = pin.descriptor().Flags;
    flags & KSPIN_FLAG_DO_NOT_INITIATE_PROCESSING == 0
        && (queued_before == 0 || flags & KSPIN_FLAG_INITIATE_PROCESSING_ON_EVERY_ARRIVAL != 0)
}

unsafe extern "system" fn pipe_id_get(irp: *mut IRP, _r: *mut KSIDENTIFIER, data: PVOID) -> NTSTATUS {
    // SAFETY: KS's handler contract (MinData 8 checked).
    unsafe {
        data.cast::<HANDLE>().write_unaligned(pin_of(irp).pipe_id);
        set_information(irp, core::mem::size_of::<HANDLE>());
    }
    STATUS_SUCCESS
}

unsafe extern "system" fn pipe_id_set(irp: *mut IRP, _r: *mut KSIDENTIFIER, data: PVOID) -> NTSTATUS {
    // SAFETY: KS's handler contract (MinData 8 checked).
    unsafe {
        pin_of(irp).pipe_id = data.cast::<HANDLE>().read_unaligned();
        set_information(irp, 0);
    }
    STATUS_SUCCESS
}

const fn item(id: u32, get: PFNKSHANDLER, set: PFNKSHANDLER, min_data: u32) -> KSPROPERTY_ITEM {
    KSPROPERTY_ITEM {
        PropertyId: id,
        GetPropertyHandler: get,
        MinProperty: core::mem::size_of::<KSIDENTIFIER>() as u32,
        MinData: min_data,
        SetPropertyHandler: set,
        Values: core::ptr::null(),
        RelationsCount: 0,
        Relations: core::ptr::null(),
        SupportHandler: None,
        SerializedSize: 0,
    }
}

const HANDLE_SIZE: u32 = core::mem::size_of::<HANDLE>() as u32;

/// AVStream's Connection items on a pin.
pub static CONNECTION_ITEMS: [KSPROPERTY_ITEM; 3] = [
    item(KSPROPERTY_CONNECTION_STATE, Some(state_get), Some(state_set), 4),
    item(
        KSPROPERTY_CONNECTION_DATAFORMAT,
        Some(dataformat_get),
        None,
        core::mem::size_of::<KSDATAFORMAT>() as u32,
    ),
    item(KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX, Some(framing_ex_get), None, 0),
];

/// AVStream's Stream items on a pin.
pub static STREAM_ITEMS: [KSPROPERTY_ITEM; 3] = [
    item(KSPROPERTY_STREAM_ALLOCATOR, Some(null_handle_get), Some(stream_allocator_set), HANDLE_SIZE),
    item(KSPROPERTY_STREAM_MASTERCLOCK, Some(master_clock_get), Some(master_clock_set), HANDLE_SIZE),
    item(KSPROPERTY_STREAM_PIPE_ID, Some(pipe_id_get), Some(pipe_id_set), HANDLE_SIZE),
];

/// AVStream's pin property sets.
pub static PIN_PROPERTY_SETS: [KSPROPERTY_SET; 2] = [
    KSPROPERTY_SET {
        Set: &KSPROPSETID_Connection,
        PropertiesCount: 3,
        PropertyItem: CONNECTION_ITEMS.as_ptr(),
        FastIoCount: 0,
        FastIoTable: core::ptr::null(),
    },
    KSPROPERTY_SET {
        Set: &KSPROPSETID_Stream,
        PropertiesCount: 3,
        PropertyItem: STREAM_ITEMS.as_ptr(),
        FastIoCount: 0,
        FastIoTable: core::ptr::null(),
    },
];
