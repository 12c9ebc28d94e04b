//! The stand-in serving user mode, as ks.sys serves it: a device with the filter's KS
//! interfaces (KSCATEGORY_CAPTURE, VIDEO, VIDEO_CAMERA), IRP_MJ_CREATE (the filter),
//! IRP_MJ_CLOSE and IRP_MJ_DEVICE_CONTROL (IOCTL_KS_PROPERTY on the filter, on pins and
//! on allocators; IOCTL_KS_READ_STREAM on pins), pins and allocators created from the
//! real KS create requests.
//!
//! Everything the driver sees goes through the same model as the scripted run in
//! `lib.rs` (`ksframe::model`): the pin object, KsPropertyHandler over the merged
//! tables, the state walk, allocator creation on a pin.
//!
//! # What differs from Windows, and why (WINE-NOTES, "A user-mode client through Wine's
//! I/O manager")
//!
//! - Wine 8.0 cannot route a name below a device: a KS create request (KsCreatePin's
//!   `{146F1A80-...}\` + KSPIN_CONNECT + KSDATAFORMAT, KsCreateAllocator's
//!   `{642F5D00-...}\` + KSALLOCATOR_FRAMING) never reaches a driver. The test-only
//!   ksuser.dll (`tests/wine-user/ksuser.c`) opens the device again and hands the create
//!   request over in [`IOCTL_STANDIN_CREATE`] with the parent's handle; this file treats
//!   that IOCTL as the child's IRP_MJ_CREATE (WINE-NOTES step 3).
//! - UserMode ObReferenceObjectByHandle is not implemented in Wine 8.0: a user handle is
//!   duplicated from the client process first (WINE-NOTES step 5).
//! - The device has no PDO: Wine's IoRegisterDeviceInterface asks the device itself for
//!   its instance id (IRP_MN_QUERY_ID, answered here as `ROOT\KSFRAME` / `0000`), and the
//!   interfaces carry no reference string (Windows KS registers them under the filter's
//!   ReferenceGuid; Wine 8.0's pnp.c builds `\??\...#{class}\<ref>` and creates that as
//!   one symbolic link name, which, as read there and not measured, needs an existing
//!   `\??\...#{class}` directory).
//! - METHOD_NEITHER buffers are copies in winedevice.exe; the pointer inside a stream
//!   header (`KSSTREAM_HEADER.Data`) is the client's address. Windows maps the client's
//!   pages (KsProbeStreamIrp with KSPROBE_SYSTEMADDRESS); here the driver's Process writes
//!   a pool buffer of FrameExtent bytes, copied into the client with NtWriteVirtualMemory
//!   (ntdll) when the read completes (GSTREAMER-NOTES, "READ_STREAM under Wine 8.0").
//! - One stream header per read IRP (ksvideosrc and ksprobe send one); more are refused
//!   with STATUS_INVALID_BUFFER_SIZE. Reads cancelled by the client (CancelIo) are not
//!   modelled: no cancel routine is set; AVStream's own cancellation at STOP and close is.
//! - One pin instance at a time (ksframe's capture pin has InstancesPossible 1).

use crate::{HeaderBlock, OBJECTS, emit, free_bag, offer};
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use ksframe::ks::*;
use ksframe::model::allocator::{AllocatorObject, create_on_pin};
use ksframe::model::avstream::{PinObject, may_process, set_state};
use ksframe::model::property::property_handler;
use ksframe::model::requestor::{Frame, FrameSource};

macro_rules! say {
    ($($t:tt)*) => { emit(format_args!($($t)*)) };
}

/// The private create request of the test-only ksuser.dll:
/// `CTL_CODE(FILE_DEVICE_KS, 0x803, METHOD_NEITHER, FILE_ANY_ACCESS)`, input
/// `{u64 parent handle, u32 kind, u32 size, request bytes}` (WINE-NOTES step 3).
pub const IOCTL_STANDIN_CREATE: u32 = 0x002F_200F;
const KIND_PIN: u32 = 1;
const KIND_ALLOCATOR: u32 = 2;

// KSPROPERTY_PIN ids (ks.h, enum KSPROPERTY_PIN).
const KSPROPERTY_PIN_CINSTANCES: u32 = 0;
const KSPROPERTY_PIN_CTYPES: u32 = 1;
const KSPROPERTY_PIN_DATAFLOW: u32 = 2;
const KSPROPERTY_PIN_DATARANGES: u32 = 3;
const KSPROPERTY_PIN_COMMUNICATION: u32 = 7;
const KSPROPERTY_PIN_CATEGORY: u32 = 11;
/// KSDATAFORMAT_TYPE_WILDCARD, SUBTYPE_WILDCARD, SPECIFIER_WILDCARD (ks.h: GUID_NULL).
const WILDCARD: GUID = GUID_NULL;

const IRP_MJ_PNP: u8 = 0x1b;
const IRP_MN_QUERY_ID: u8 = 0x13;
const FILE_DEVICE_KS: u32 = 0x2f;
const SL_PENDING_RETURNED: u8 = 0x01;
const STATUS_CANCELLED: NTSTATUS = 0xC000_0120_u32 as i32;
const STATUS_OBJECT_NAME_NOT_FOUND: NTSTATUS = 0xC000_0034_u32 as i32;
const STATUS_INVALID_USER_BUFFER: NTSTATUS = 0xC000_00E8_u32 as i32;
const PROCESS_DUP_HANDLE: u32 = 0x0040;
const PROCESS_VM_OPERATION: u32 = 0x0008;
const PROCESS_VM_WRITE: u32 = 0x0020;
const DUPLICATE_SAME_ACCESS: u32 = 0x2;
/// FILE_OBJECT (wdm.h, x64): FsContext2 at 0x20, RelatedFileObject at 0x40.
const FO_FSCONTEXT2: usize = 0x20;
const FO_RELATED: usize = 0x40;
const TAG: u32 = u32::from_le_bytes(*b"KsSu");

#[repr(C)]
struct ObjectAttributes {
    length: u32,
    root: HANDLE,
    name: *mut UNICODE_STRING,
    attributes: u32,
    security: PVOID,
    qos: PVOID,
}

impl ObjectAttributes {
    const fn empty() -> Self {
        Self {
            length: core::mem::size_of::<ObjectAttributes>() as u32,
            root: core::ptr::null_mut(),
            name: core::ptr::null_mut(),
            attributes: 0,
            security: core::ptr::null_mut(),
            qos: core::ptr::null_mut(),
        }
    }
}

#[repr(C)]
struct ClientId {
    process: HANDLE,
    thread: HANDLE,
}

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn IoCreateDevice(
        driver: *mut DRIVER_OBJECT,
        extension: u32,
        name: *mut UNICODE_STRING,
        device_type: u32,
        characteristics: u32,
        exclusive: u8,
        device: *mut *mut DEVICE_OBJECT,
    ) -> NTSTATUS;
    fn IoRegisterDeviceInterface(
        device: *mut DEVICE_OBJECT,
        class: *const GUID,
        reference: *mut UNICODE_STRING,
        link: *mut UNICODE_STRING,
    ) -> NTSTATUS;
    fn IoSetDeviceInterfaceState(link: *mut UNICODE_STRING, enable: u8) -> NTSTATUS;
    fn IofCompleteRequest(irp: *mut IRP, boost: i8);
    fn ObReferenceObjectByHandle(
        handle: HANDLE,
        access: u32,
        object_type: PVOID,
        mode: KPROCESSOR_MODE,
        object: *mut PVOID,
        info: PVOID,
    ) -> NTSTATUS;
    fn ObfDereferenceObject(object: PVOID) -> isize;
    fn NtOpenProcess(
        handle: *mut HANDLE,
        access: u32,
        attributes: *mut ObjectAttributes,
        client: *mut ClientId,
    ) -> NTSTATUS;
    fn ZwDuplicateObject(
        source_process: HANDLE,
        source: HANDLE,
        target_process: HANDLE,
        target: *mut HANDLE,
        access: u32,
        attributes: u32,
        options: u32,
    ) -> NTSTATUS;
    fn ZwClose(handle: HANDLE) -> NTSTATUS;
    fn PsGetCurrentProcessId() -> HANDLE;
    fn PsCreateSystemThread(
        thread: *mut HANDLE,
        access: u32,
        attributes: *mut ObjectAttributes,
        process: HANDLE,
        client: *mut ClientId,
        start: unsafe extern "system" fn(PVOID),
        context: PVOID,
    ) -> NTSTATUS;
    fn KeDelayExecutionThread(mode: i8, alertable: u8, interval: *const i64) -> NTSTATUS;
    fn ExAllocatePoolWithTag(pool_type: i32, bytes: usize, tag: u32) -> PVOID;
    fn ExFreePoolWithTag(p: PVOID, tag: u32);
}

// Wine-only: the client's memory through its process handle (GSTREAMER-NOTES,
// "READ_STREAM under Wine 8.0"; ntoskrnl's MmCopyVirtualMemory is a stub in Wine 8.0).
#[link(name = "ntdll.dll", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn NtWriteVirtualMemory(
        process: HANDLE,
        base: PVOID,
        buffer: *const c_void,
        size: usize,
        written: *mut usize,
    ) -> NTSTATUS;
}

const CURRENT_PROCESS: HANDLE = usize::MAX as HANDLE;

fn pool<T>(bytes: usize) -> *mut T {
    // SAFETY: non-paged pool; null on failure, checked by every caller.
    unsafe { ExAllocatePoolWithTag(NonPagedPoolNx, bytes, TAG) }.cast()
}

fn free(p: *mut c_void) {
    if !p.is_null() {
        // SAFETY: allocated by `pool` with TAG, freed once.
        unsafe { ExFreePoolWithTag(p, TAG) };
    }
}

fn sleep_ms(ms: i64) {
    let interval = -ms * 10_000;
    // SAFETY: a relative interval on the stack.
    let _ = unsafe { KeDelayExecutionThread(0, 0, &interval) };
}

// --- the objects behind file objects (FsContext2, where KS keeps its object header:
// ReactOS drivers/ksfilter/ks/irp.c, KsAllocateObjectHeader) ----------------------------

const MAGIC_FILTER: u32 = u32::from_le_bytes(*b"Filt");
const MAGIC_PIN: u32 = u32::from_le_bytes(*b"Pin_");
const MAGIC_ALLOCATOR: u32 = u32::from_le_bytes(*b"Allo");

#[repr(C)]
struct Header {
    magic: u32,
}

#[repr(C)]
struct FilterObject {
    header: Header,
}

/// A read waiting on a pin's queue.
#[derive(Clone, Copy)]
struct PendingRead {
    irp: *mut IRP,
    /// The winedevice copy of the client's header block (Irp->UserBuffer).
    header: *mut u8,
    header_size: u32,
    /// The client's frame address, and the pool buffer the driver writes.
    client_data: PVOID,
    buffer: PVOID,
    extent: u32,
    /// The client process (PROCESS_VM_WRITE), opened in the client's context.
    process: HANDLE,
    /// Arrival order.
    sequence: u64,
}

const QUEUE: usize = 32;

#[repr(C)]
struct PinFile {
    header: Header,
    pin: PinObject,
    /// The connection format (pool, FormatSize bytes).
    format: *mut c_void,
    /// The filter's file object, referenced while the pin lives.
    parent: PVOID,
    queue: [Option<PendingRead>; QUEUE],
    arrivals: u64,
    /// The pin's control and processing mutex (one sleeping lock here; AVStream has two).
    lock: AtomicBool,
    /// Set by KsPinAttemptProcessing, arrivals and state changes; the worker processes.
    attempt: AtomicBool,
}

#[repr(C)]
struct AllocatorFile {
    header: Header,
    object: AllocatorObject,
    parent: PVOID,
}

/// The pin being served.
static PIN: AtomicPtr<PinFile> = AtomicPtr::new(core::ptr::null_mut());
static FILTER: AtomicPtr<KSFILTER_DESCRIPTOR> = AtomicPtr::new(core::ptr::null_mut());
/// Set while the worker may be touching the served pin (close waits for it).
static WORKER_BUSY: AtomicBool = AtomicBool::new(false);
/// Threads that run at PASSIVE_LEVEL: IRP dispatch and the processing worker.
pub static PASSIVE_THREADS: [AtomicPtr<c_void>; 4] = [const { AtomicPtr::new(core::ptr::null_mut()) }; 4];

fn note_passive_thread() {
    let me = crate::os_thread_id();
    if PASSIVE_THREADS.iter().any(|t| t.load(Ordering::Acquire) == me) {
        return;
    }
    let slot = PASSIVE_THREADS.iter().position(|t| {
        t.compare_exchange(core::ptr::null_mut(), me, Ordering::AcqRel, Ordering::Acquire).is_ok()
    });
    if slot.is_none() {
        say!("fail passive_threads_full thread={:p}", me);
    }
}

impl PinFile {
    fn lock(&self) {
        while self.lock.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_err() {
            sleep_ms(1);
        }
    }

    fn unlock(&self) {
        self.lock.store(false, Ordering::Release);
    }
}

/// # Safety
///
/// `fo` is a live FILE_OBJECT.
unsafe fn fo_context(fo: *mut FILE_OBJECT) -> *mut Header {
    // SAFETY: the caller's contract; FsContext2 at 0x20 (wdm.h).
    unsafe { *fo.cast::<u8>().add(FO_FSCONTEXT2).cast::<*mut Header>() }
}

/// # Safety
///
/// `fo` is a live FILE_OBJECT and `offset` one of its pointer fields.
unsafe fn set_fo(fo: *mut FILE_OBJECT, offset: usize, value: PVOID) {
    // SAFETY: the caller's contract.
    unsafe { *fo.cast::<u8>().add(offset).cast::<PVOID>() = value };
}

/// Completes `irp` with `status` and `information`.
///
/// # Safety
///
/// `irp` is an IRP this dispatch owns, completed once.
unsafe fn complete(irp: *mut IRP, status: NTSTATUS, information: usize) -> NTSTATUS {
    // SAFETY: the caller's contract.
    unsafe {
        (*irp).IoStatus.Status = status;
        (*irp).IoStatus.Information = information;
        IofCompleteRequest(irp, 0);
    }
    status
}

/// # Safety
///
/// `irp` is an IRP from the I/O manager (it carries its current stack location).
unsafe fn stack(irp: *mut IRP) -> *mut IO_STACK_LOCATION {
    // SAFETY: the caller's contract.
    unsafe { (*irp).Tail.Overlay.CurrentStackLocation }
}

// --- set-up ----------------------------------------------------------------------------

/// Creates the device, its interfaces and the dispatch table (AVStream's KsCreateDevice
/// registers each filter factory's KSFILTER_DESCRIPTOR.Categories as interfaces), and
/// the pin worker.
///
/// # Safety
///
/// `driver` is the driver object KsInitializeDriver received; PASSIVE_LEVEL.
pub unsafe fn start(driver: *mut DRIVER_OBJECT, filter: &'static KSFILTER_DESCRIPTOR) {
    note_passive_thread();
    FILTER.store((filter as *const KSFILTER_DESCRIPTOR).cast_mut(), Ordering::Release);
    let mut name_buf: [u16; 20] = [0; 20];
    for (d, s) in name_buf.iter_mut().zip("\\Device\\ksframe0".encode_utf16()) {
        *d = s;
    }
    let mut name = UNICODE_STRING { Length: 32, MaximumLength: 40, Buffer: name_buf.as_mut_ptr() };
    let mut device: *mut DEVICE_OBJECT = core::ptr::null_mut();
    // SAFETY: the driver object, a counted name, an out pointer.
    let created = unsafe { IoCreateDevice(driver, 0, &mut name, FILE_DEVICE_KS, 0, 0, &mut device) };
    // SAFETY: the driver object is ours to fill before any IRP arrives (wdm.h layout).
    unsafe {
        let major = &mut (*driver).MajorFunction;
        major[IRP_MJ_CREATE as usize] = Some(dispatch_create);
        major[IRP_MJ_CLOSE as usize] = Some(dispatch_close);
        major[IRP_MJ_DEVICE_CONTROL as usize] = Some(dispatch_control);
        major[IRP_MJ_PNP as usize] = Some(dispatch_pnp);
    }
    let mut registered = 0;
    if NT_SUCCESS(created) {
        // SAFETY: the categories array of the static filter descriptor.
        let categories =
            unsafe { core::slice::from_raw_parts(filter.Categories, filter.CategoriesCount as usize) };
        for category in categories {
            let mut link = UNICODE_STRING { Length: 0, MaximumLength: 0, Buffer: core::ptr::null_mut() };
            // SAFETY: our device, a static GUID, no reference string (module docs).
            let s = unsafe { IoRegisterDeviceInterface(device, category, core::ptr::null_mut(), &mut link) };
            // SAFETY: the link IoRegisterDeviceInterface returned.
            let e = if NT_SUCCESS(s) { unsafe { IoSetDeviceInterfaceState(&mut link, 1) } } else { s };
            if NT_SUCCESS(e) {
                registered += 1;
            } else {
                say!("serve_interface status={:#010x} enable={:#010x}", s as u32, e as u32);
            }
        }
    }
    let mut thread: HANDLE = core::ptr::null_mut();
    // SAFETY: a system thread running `worker` with no context.
    let t = unsafe {
        PsCreateSystemThread(
            &mut thread,
            0,
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            worker,
            core::ptr::null_mut(),
        )
    };
    if NT_SUCCESS(t) {
        // SAFETY: our thread handle; the thread keeps running.
        let _ = unsafe { ZwClose(thread) };
    }
    say!("serve device={:#010x} interfaces={} worker={:#010x}", created as u32, registered, t as u32);
}

unsafe extern "system" fn dispatch_pnp(_device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: a PnP IRP from Wine's PnP manager; QueryId.IdType is the first parameter.
    let (minor, id_type, status, information) = unsafe {
        let s = stack(irp);
        (
            (*s).MinorFunction,
            (*s).Parameters.Others[0] as usize as u32,
            (*irp).IoStatus.Status,
            (*irp).IoStatus.Information,
        )
    };
    // BusQueryDeviceID 0, BusQueryInstanceID 3 (wdm.h): ROOT\KSFRAME\0000 (WINE-NOTES step
    // 1). Other PnP requests pass with the status they carry.
    let text: &str = match (minor, id_type) {
        (IRP_MN_QUERY_ID, 0) => "ROOT\\KSFRAME",
        (IRP_MN_QUERY_ID, 3) => "0000",
        // SAFETY: the IRP of this dispatch.
        _ => return unsafe { complete(irp, status, information) },
    };
    let id: *mut u16 = pool((text.len() + 1) * 2);
    if id.is_null() {
        // SAFETY: as above.
        return unsafe { complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0) };
    }
    for (i, c) in text.encode_utf16().chain(Some(0)).enumerate() {
        // SAFETY: text.len() + 1 u16 slots.
        unsafe { *id.add(i) = c };
    }
    // SAFETY: as above; the PnP manager frees the id.
    unsafe { complete(irp, STATUS_SUCCESS, id as usize) }
}

// --- create / close --------------------------------------------------------------------

/// IRP_MJ_CREATE on the device: the filter (KS hands an open of a filter factory's
/// interface to that factory: ReactOS drivers/ksfilter/ks/device.c IKsDevice_Create →
/// the create item of the reference string). Under Wine every open arrives here without
/// FileName (WINE-NOTES step 2); a child's open becomes a pin or an allocator through
/// [`IOCTL_STANDIN_CREATE`].
unsafe extern "system" fn dispatch_create(_device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    note_passive_thread();
    // SAFETY: the create IRP's stack location and file object.
    let fo = unsafe { (*stack(irp)).FileObject };
    let filter: *mut FilterObject = pool(core::mem::size_of::<FilterObject>());
    if filter.is_null() || fo.is_null() {
        free(filter.cast());
        // SAFETY: the IRP of this dispatch.
        return unsafe { complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0) };
    }
    // SAFETY: fresh pool; the create's file object.
    unsafe {
        filter.write(FilterObject { header: Header { magic: MAGIC_FILTER } });
        set_fo(fo, FO_FSCONTEXT2, filter.cast());
        complete(irp, STATUS_SUCCESS, 0)
    }
}

unsafe extern "system" fn dispatch_close(_device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    note_passive_thread();
    // SAFETY: the close IRP's file object.
    let fo = unsafe { (*stack(irp)).FileObject };
    // SAFETY: a live file object; its context is null or one of ours.
    let object = if fo.is_null() { core::ptr::null_mut() } else { unsafe { fo_context(fo) } };
    // SAFETY: null or one of our objects (the magic tells which).
    match unsafe { object.as_ref() }.map(|h| h.magic) {
        // SAFETY: a pin file of this module.
        Some(MAGIC_PIN) => unsafe { close_pin(object.cast()) },
        // SAFETY: an allocator file of this module.
        Some(MAGIC_ALLOCATOR) => unsafe { close_allocator(object.cast()) },
        Some(_) => free(object.cast()),
        None => {}
    }
    if !fo.is_null() {
        // SAFETY: as above.
        unsafe { set_fo(fo, FO_FSCONTEXT2, core::ptr::null_mut()) };
    }
    // SAFETY: the IRP of this dispatch.
    unsafe { complete(irp, STATUS_SUCCESS, 0) }
}

/// The pin's close (ReactOS pin.c IKsPin_Close: the minidriver's Close; AVStream
/// cancels the queued IRPs and drops its references).
///
/// # Safety
///
/// `file` is a live pin file whose file object is closing.
unsafe fn close_pin(file: *mut PinFile) {
    // The worker must no longer find the pin, and must be out of it, before it goes.
    PIN.store(core::ptr::null_mut(), Ordering::SeqCst);
    while WORKER_BUSY.load(Ordering::SeqCst) {
        sleep_ms(1);
    }
    // SAFETY: the caller's contract; no worker inside.
    let p = unsafe { &mut *file };
    p.lock();
    // A pin closed while running is stopped first (the state walk down to STOP).
    let _ = set_state(&mut p.pin, KSSTATE_STOP);
    let cancelled = cancel_queue(p);
    p.pin.release_references();
    let closed = p
        .pin
        .dispatch()
        .and_then(|d| d.Close)
        // SAFETY: the pin this file created, closed once.
        .map_or(STATUS_SUCCESS, |c| unsafe { c(&mut p.pin.ks, core::ptr::null_mut()) });
    let bag = free_bag();
    p.unlock();
    say!("serve pin_close status={:#010x} cancelled={} bag_items={}", closed as u32, cancelled, bag);
    if !p.parent.is_null() {
        // SAFETY: the reference taken when the pin was created.
        unsafe { ObfDereferenceObject(p.parent) };
    }
    free(p.format);
    free(file.cast());
}

/// # Safety
///
/// `file` is a live allocator file whose file object is closing.
unsafe fn close_allocator(file: *mut AllocatorFile) {
    // SAFETY: the caller's contract.
    let a = unsafe { &mut *file };
    // SAFETY: the served pin, if any; DeleteAllocator runs under its mutex.
    let pin = unsafe { PIN.load(Ordering::Acquire).as_ref() };
    if let Some(p) = pin {
        p.lock();
    }
    // SAFETY: IRP_MJ_CLOSE of the allocator: DeleteAllocator, once (the model's close).
    unsafe { a.object.close() };
    if let Some(p) = pin {
        p.unlock();
    }
    say!("serve allocator_close");
    if !a.parent.is_null() {
        // SAFETY: the reference taken at creation.
        unsafe { ObfDereferenceObject(a.parent) };
    }
    free(file.cast());
}

/// The client's handle as a referenced FILE_OBJECT: duplicated from the client process
/// (the caller's context), then referenced KernelMode (WINE-NOTES step 5: UserMode
/// ObReferenceObjectByHandle is not implemented in Wine 8.0).
fn reference_user_handle(handle: HANDLE) -> Result<PVOID, NTSTATUS> {
    let mut process: HANDLE = core::ptr::null_mut();
    let mut attributes = ObjectAttributes::empty();
    // SAFETY: any IRQL; during dispatch this is the client's process id (WINE-NOTES).
    let mut client = ClientId { process: unsafe { PsGetCurrentProcessId() }, thread: core::ptr::null_mut() };
    // SAFETY: out handle, attributes and client id on the stack.
    let s = unsafe { NtOpenProcess(&mut process, PROCESS_DUP_HANDLE, &mut attributes, &mut client) };
    if !NT_SUCCESS(s) {
        return Err(s);
    }
    let mut local: HANDLE = core::ptr::null_mut();
    // SAFETY: the client's handle value, duplicated into this process.
    let s = unsafe {
        ZwDuplicateObject(process, handle, CURRENT_PROCESS, &mut local, 0, 0, DUPLICATE_SAME_ACCESS)
    };
    // SAFETY: our process handle.
    let _ = unsafe { ZwClose(process) };
    if !NT_SUCCESS(s) {
        return Err(STATUS_INVALID_HANDLE);
    }
    let mut object: PVOID = core::ptr::null_mut();
    // SAFETY: our own duplicate, referenced KernelMode, then closed.
    let s = unsafe {
        ObReferenceObjectByHandle(
            local,
            0,
            core::ptr::null_mut(),
            KernelMode,
            &mut object,
            core::ptr::null_mut(),
        )
    };
    // SAFETY: as above.
    let _ = unsafe { ZwClose(local) };
    if NT_SUCCESS(s) { Ok(object) } else { Err(s) }
}

/// The KS create request of the test-only ksuser.dll, as the child's IRP_MJ_CREATE.
///
/// # Safety
///
/// `fo` is the file object of the IRP being dispatched.
unsafe fn create_child(fo: *mut FILE_OBJECT, input: &[u8]) -> NTSTATUS {
    if input.len() < 16 {
        return STATUS_INVALID_PARAMETER;
    }
    let parent_handle = u64_at(input, 0) as usize as HANDLE;
    let kind = u32_at(input, 8);
    let size = u32_at(input, 12) as usize;
    let Some(request) = input.get(16..16usize.saturating_add(size)) else {
        return STATUS_INVALID_PARAMETER;
    };
    let parent = match reference_user_handle(parent_handle) {
        Ok(p) => p,
        Err(s) => return s,
    };
    // SAFETY: a referenced FILE_OBJECT; its context is null or one of ours... or another
    // driver's: only ours carry our device's contexts, and the magic is checked.
    let parent_object = unsafe { fo_context(parent.cast()) };
    // SAFETY: as above.
    let parent_kind = unsafe { parent_object.as_ref() }.map(|h| h.magic);
    let result = match (kind, parent_kind) {
        // SAFETY: the request bytes; the child file object of this IRP.
        (KIND_PIN, Some(MAGIC_FILTER)) => unsafe { create_pin(fo, parent, request) },
        // SAFETY: as above, with the parent pin file.
        (KIND_ALLOCATOR, Some(MAGIC_PIN)) => unsafe {
            create_allocator(fo, parent, parent_object.cast(), request)
        },
        // A name the parent has no create item for (ReactOS irp.c KspCreate: no matching
        // create item → STATUS_OBJECT_NAME_NOT_FOUND).
        _ => Err(STATUS_OBJECT_NAME_NOT_FOUND),
    };
    match result {
        Ok(()) => {
            // SAFETY: the child's file object: the parent as its RelatedFileObject, as
            // the I/O manager sets it for a relative open.
            unsafe { set_fo(fo, FO_RELATED, parent) };
            STATUS_SUCCESS
        }
        Err(s) => {
            // SAFETY: the reference taken above.
            unsafe { ObfDereferenceObject(parent) };
            s
        }
    }
}

/// KSPIN_CONNECT (ks.h, 72 bytes on x64).
#[repr(C)]
#[derive(Clone, Copy)]
struct KsPinConnect {
    interface: KSIDENTIFIER,
    medium: KSIDENTIFIER,
    pin_id: u32,
    pin_to_handle: HANDLE,
    priority: KSPRIORITY,
}
const _: () = assert!(core::mem::size_of::<KsPinConnect>() == 72);

/// KsCreatePin's request on the filter (AVStream's pin create item: ReactOS
/// drivers/ksfilter/ks/filter.c IKsFilter_DispatchCreatePin → KsValidateConnectRequest
/// (connectivity.c) → KspCreatePin (pin.c)).
///
/// # Safety
///
/// `fo` is the child's file object; `parent` the referenced filter file object.
unsafe fn create_pin(fo: *mut FILE_OBJECT, parent: PVOID, request: &[u8]) -> Result<(), NTSTATUS> {
    // SAFETY: the static filter descriptor stored at start, or null.
    let Some(filter) = (unsafe { FILTER.load(Ordering::Acquire).as_ref() }) else {
        return Err(STATUS_INVALID_DEVICE_REQUEST);
    };
    let connect_size = core::mem::size_of::<KsPinConnect>();
    // KsValidateConnectRequest: at least a KSPIN_CONNECT and a KSDATAFORMAT.
    if request.len() < connect_size + core::mem::size_of::<KSDATAFORMAT>() {
        return Err(STATUS_INVALID_BUFFER_SIZE);
    }
    // SAFETY: at least a KSPIN_CONNECT of bytes (checked); unaligned read.
    let connect = unsafe { request.as_ptr().cast::<KsPinConnect>().read_unaligned() };
    // SAFETY: as above, the KSDATAFORMAT after it.
    let format = unsafe { request.as_ptr().add(connect_size).cast::<KSDATAFORMAT>().read_unaligned() };
    // KsValidateConnectRequest: the pin id within the descriptors (STATUS_INVALID_PARAMETER),
    // the standard interface and medium for a pin that lists none (STATUS_NO_MATCH), the
    // format within the request (STATUS_INVALID_BUFFER_SIZE).
    if connect.pin_id >= filter.PinDescriptorsCount {
        return Err(STATUS_INVALID_PARAMETER);
    }
    if connect.interface.Set != KSINTERFACESETID_Standard
        || connect.interface.Id != 0
        || connect.medium.Set != KSMEDIUMSETID_Standard
        || connect.medium.Id != 0
    {
        return Err(STATUS_NO_MATCH);
    }
    let format_size = format.FormatSize as usize;
    if format_size < core::mem::size_of::<KSDATAFORMAT>() || connect_size + format_size > request.len() {
        return Err(STATUS_INVALID_BUFFER_SIZE);
    }
    // SAFETY: PinDescriptorsCount descriptors of the static filter (id checked).
    let descriptor: &'static KSPIN_DESCRIPTOR_EX =
        unsafe { &*filter.PinDescriptors.add(connect.pin_id as usize) };
    if !PIN.load(Ordering::Acquire).is_null() {
        // filter.c: CurrentPinInstanceCount >= InstancesPossible → STATUS_UNSUCCESSFUL
        // (one instance is served at a time: module docs).
        return Err(STATUS_UNSUCCESSFUL);
    }
    // KsValidateConnectRequest: a range whose MajorFormat, SubFormat and Specifier match
    // the format's (a wildcard in the range matches anything), else STATUS_NO_MATCH.
    // SAFETY: the descriptor's DataRangesCount static ranges.
    let ranges = unsafe {
        core::slice::from_raw_parts(
            descriptor.PinDescriptor.DataRanges,
            descriptor.PinDescriptor.DataRangesCount as usize,
        )
    };
    let matches = |a: &GUID, b: &GUID| a == b || *a == WILDCARD;
    let Some(range) = ranges.iter().copied().find(|r| {
        // SAFETY: a static range.
        let r = unsafe { &**r };
        matches(&r.MajorFormat, &format.MajorFormat)
            && matches(&r.SubFormat, &format.SubFormat)
            && matches(&r.Specifier, &format.Specifier)
    }) else {
        return Err(STATUS_NO_MATCH);
    };
    let format_copy: *mut c_void = pool(format_size);
    let file: *mut PinFile = pool(core::mem::size_of::<PinFile>());
    if format_copy.is_null() || file.is_null() {
        free(format_copy);
        free(file.cast());
        return Err(STATUS_INSUFFICIENT_RESOURCES);
    }
    // SAFETY: format_size bytes of request (checked) into the fresh copy.
    unsafe {
        core::ptr::copy_nonoverlapping(
            request.as_ptr().add(connect_size),
            format_copy.cast::<u8>(),
            format_size,
        )
    };
    let pin = PinObject::new(
        descriptor,
        connect.pin_id,
        (&crate::BAG as *const _ as *mut c_void).cast(),
        format_copy.cast(),
        &OBJECTS,
    );
    // SAFETY: fresh pool for one PinFile.
    unsafe {
        file.write(PinFile {
            header: Header { magic: MAGIC_PIN },
            pin,
            format: format_copy,
            parent,
            queue: [None; QUEUE],
            arrivals: 0,
            lock: AtomicBool::new(false),
            attempt: AtomicBool::new(false),
        })
    };
    // SAFETY: just written.
    let p = unsafe { &mut *file };
    let dispatch = p.pin.dispatch().copied();
    // AVStream has the pin's SetDataFormat check the format against the matched range
    // before Create (KS-NOTES: "SetDataFormat can run before Create, with the pin's
    // Context still NULL"; KSPIN_DISPATCH SetDataFormat docs).
    let mut status = dispatch.and_then(|d| d.SetDataFormat).map_or(STATUS_SUCCESS, |f| {
        // SAFETY: a pin with its connection format, no old format, the matched range.
        unsafe {
            f(&mut p.pin.ks, core::ptr::null_mut(), core::ptr::null_mut(), range, core::ptr::null_mut())
        }
    });
    if NT_SUCCESS(status) {
        status = dispatch.and_then(|d| d.Create).map_or(STATUS_SUCCESS, |c| {
            // SAFETY: the new pin, as AVStream calls Create (ksframe's Create needs no IRP).
            unsafe { c(&mut p.pin.ks, core::ptr::null_mut()) }
        });
    }
    let image = if format_size >= core::mem::size_of::<KS_DATAFORMAT_VIDEOINFOHEADER>() {
        // SAFETY: a format of that size carries a KS_VIDEOINFOHEADER after its header.
        unsafe {
            (*format_copy.cast::<KS_DATAFORMAT_VIDEOINFOHEADER>()).VideoInfoHeader.bmiHeader.biSizeImage
        }
    } else {
        0
    };
    say!(
        "serve pin_create status={:#010x} id={} format_size={} image={}",
        status as u32,
        connect.pin_id,
        format_size,
        image
    );
    if !NT_SUCCESS(status) {
        let _ = free_bag();
        free(format_copy);
        free(file.cast());
        return Err(status);
    }
    // SAFETY: the child's file object (the caller's contract).
    unsafe { set_fo(fo, FO_FSCONTEXT2, file.cast()) };
    PIN.store(file, Ordering::Release);
    Ok(())
}

/// KsCreateAllocator's request on a pin: AVStream's allocator create item →
/// KsCreateDefaultAllocatorEx with the pin's KSALLOCATOR_DISPATCH (KS-NOTES; the model's
/// `create_on_pin`, which validates the request as KsValidateAllocatorCreateRequest).
///
/// # Safety
///
/// `fo` is the child's file object; `pin` a live pin file referenced through `parent`.
unsafe fn create_allocator(
    fo: *mut FILE_OBJECT,
    parent: PVOID,
    pin: *mut PinFile,
    request: &[u8],
) -> Result<(), NTSTATUS> {
    // KsValidateAllocatorCreateRequest: a whole KSALLOCATOR_FRAMING (ReactOS allocators.c).
    if request.len() < core::mem::size_of::<KSALLOCATOR_FRAMING>() {
        return Err(STATUS_INVALID_BUFFER_SIZE);
    }
    // SAFETY: 24 bytes (checked), unaligned.
    let framing = unsafe { request.as_ptr().cast::<KSALLOCATOR_FRAMING>().read_unaligned() };
    // SAFETY: the caller's contract.
    let p = unsafe { &mut *pin };
    p.lock();
    // SAFETY: a live pin under its control mutex, PASSIVE_LEVEL.
    let created = unsafe { create_on_pin(&mut p.pin.ks, &framing, &OBJECTS) };
    p.unlock();
    let object = created?;
    let file: *mut AllocatorFile = pool(core::mem::size_of::<AllocatorFile>());
    if file.is_null() {
        let mut object = object;
        // SAFETY: the object just created, never used.
        unsafe { object.close() };
        return Err(STATUS_INSUFFICIENT_RESOURCES);
    }
    say!(
        "serve allocator_create frames={} frame_size={} alignment={:#x}",
        framing.Frames,
        framing.FrameSize,
        framing.FileAlignment
    );
    // SAFETY: fresh pool; the child's file object.
    unsafe {
        file.write(AllocatorFile { header: Header { magic: MAGIC_ALLOCATOR }, object, parent });
        set_fo(fo, FO_FSCONTEXT2, file.cast());
    }
    Ok(())
}

// --- device control ------------------------------------------------------------------

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at.saturating_add(4)).map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at)) | (u64::from(u32_at(b, at.saturating_add(4))) << 32)
}

unsafe extern "system" fn dispatch_control(_device: *mut DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    note_passive_thread();
    // SAFETY: a device-control IRP from Wine's I/O manager: its stack location, file
    // object and (METHOD_NEITHER) winedevice copies of the buffers (WINE-NOTES step 4).
    let (fo, code, in_len, out_len, input, output) = unsafe {
        let s = stack(irp);
        let p = (*s).Parameters.DeviceIoControl;
        (
            (*s).FileObject,
            p.IoControlCode.0,
            p.InputBufferLength.0,
            p.OutputBufferLength,
            p.Type3InputBuffer,
            (*irp).UserBuffer,
        )
    };
    // SAFETY: a live file object; its context is null or one of ours.
    let object = if fo.is_null() { core::ptr::null_mut() } else { unsafe { fo_context(fo) } };
    // SAFETY: as above.
    let magic = unsafe { object.as_ref() }.map(|h| h.magic);
    if code == IOCTL_STANDIN_CREATE {
        // Only a fresh open (still the filter context dispatch_create gave it) becomes a child.
        let status = if magic == Some(MAGIC_FILTER) && !input.is_null() {
            // SAFETY: in_len bytes of the winedevice copy.
            let bytes = unsafe { core::slice::from_raw_parts(input.cast::<u8>(), in_len as usize) };
            free(object.cast());
            // SAFETY: this IRP's file object.
            unsafe { set_fo(fo, FO_FSCONTEXT2, core::ptr::null_mut()) };
            // SAFETY: as above. A failed create leaves the open without an object: every
            // later request on it is refused (ksuser closes it).
            unsafe { create_child(fo, bytes) }
        } else {
            STATUS_INVALID_DEVICE_REQUEST
        };
        // SAFETY: the IRP of this dispatch.
        return unsafe { complete(irp, status, 0) };
    }
    // SAFETY (all arms): the IRP of this dispatch, its buffers as above, and our object.
    unsafe {
        match (magic, code) {
            (Some(MAGIC_FILTER), IOCTL_KS_PROPERTY) => {
                let (s, info) = filter_property(input, in_len, output, out_len);
                complete(irp, s, info)
            }
            (Some(MAGIC_PIN), IOCTL_KS_PROPERTY) => {
                let (s, info) =
                    pin_property(&mut *object.cast::<PinFile>(), irp, input, in_len, output, out_len);
                complete(irp, s, info)
            }
            (Some(MAGIC_PIN), IOCTL_KS_READ_STREAM) => {
                read_stream(&mut *object.cast::<PinFile>(), irp, output, out_len)
            }
            (Some(MAGIC_ALLOCATOR), IOCTL_KS_PROPERTY) => {
                let (s, info) =
                    allocator_property(&*object.cast::<AllocatorFile>(), input, in_len, output, out_len);
                complete(irp, s, info)
            }
            // An object without a handler for the request (ReactOS irp.c KsDispatchIrp:
            // STATUS_INVALID_DEVICE_REQUEST).
            _ => complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0),
        }
    }
}

/// The model's property IRP (the stack location's FileObject is `object`, as
/// KsGetPinFromIrp finds the pin here) around the real request's buffers, handled by `f`.
///
/// # Safety
///
/// `input`/`output` hold `in_len`/`out_len` bytes (or are null with 0).
unsafe fn model_irp(
    object: *mut c_void,
    mode: KPROCESSOR_MODE,
    input: PVOID,
    in_len: u32,
    output: PVOID,
    out_len: u32,
    f: impl FnOnce(*mut IRP) -> NTSTATUS,
) -> (NTSTATUS, usize) {
    // SAFETY: all-zero IRP and stack location are valid starting values.
    let mut s: IO_STACK_LOCATION = unsafe { core::mem::zeroed() };
    // SAFETY: as above.
    let mut irp: IRP = unsafe { core::mem::zeroed() };
    s.MajorFunction = IRP_MJ_DEVICE_CONTROL;
    s.Parameters.DeviceIoControl = IO_STACK_LOCATION_DEVICE_IO_CONTROL {
        OutputBufferLength: out_len,
        InputBufferLength: ULONG_ALIGNED(in_len),
        IoControlCode: ULONG_ALIGNED(IOCTL_KS_PROPERTY),
        Type3InputBuffer: input,
    };
    s.FileObject = object.cast();
    irp.RequestorMode = mode;
    // KsPropertyHandler hands the handler a system buffer; under Wine the output is
    // already a winedevice copy that goes back to the client whole (WINE-NOTES step 4).
    irp.AssociatedIrp.SystemBuffer = output;
    irp.Tail.Overlay.CurrentStackLocation = &mut s;
    let status = f(&mut irp);
    (status, irp.IoStatus.Information)
}

/// # Safety
///
/// `irp` is the real request; the buffers as for [`model_irp`].
unsafe fn pin_property(
    p: &mut PinFile,
    irp: *mut IRP,
    input: PVOID,
    in_len: u32,
    output: PVOID,
    out_len: u32,
) -> (NTSTATUS, usize) {
    // SAFETY: the real IRP's requestor mode.
    let mode = unsafe { (*irp).RequestorMode };
    p.lock();
    let pin_ptr = (&mut p.pin as *mut PinObject).cast::<c_void>();
    let pin = &p.pin;
    // SAFETY: a property IRP addressed to this pin, under its control mutex.
    let r = unsafe { model_irp(pin_ptr, mode, input, in_len, output, out_len, |i| pin.property(i)) };
    p.unlock();
    // A state change may open the gate: the worker looks.
    p.attempt.store(true, Ordering::Release);
    r
}

/// The allocator file object's properties (the model's `AllocatorObject::property_get`:
/// KSPROPSETID_StreamAllocator FUNCTIONTABLE).
///
/// # Safety
///
/// The buffers as for [`model_irp`].
unsafe fn allocator_property(
    a: &AllocatorFile,
    input: PVOID,
    in_len: u32,
    output: PVOID,
    out_len: u32,
) -> (NTSTATUS, usize) {
    if in_len < 24 || input.is_null() {
        return (STATUS_INVALID_BUFFER_SIZE, 0);
    }
    // SAFETY: a KSPROPERTY's worth of input (checked).
    let request = unsafe { input.cast::<KSIDENTIFIER>().read_unaligned() };
    let out: &mut [u8] = if output.is_null() {
        &mut []
    } else {
        // SAFETY: out_len bytes of the winedevice output copy.
        unsafe { core::slice::from_raw_parts_mut(output.cast::<u8>(), out_len as usize) }
    };
    match a.object.property_get(&request.Set, request.Id, out) {
        Ok(n) => (STATUS_SUCCESS, n),
        Err(s) => (s, 0),
    }
}

// --- the filter's KSPROPSETID_Pin (AVStream's filter automation table: ReactOS
// drivers/ksfilter/ks/filter.c IKsFilterPinSet, handled by connectivity.c
// KspPinPropertyHandler) ---------------------------------------------------------------

fn filter_pins() -> &'static [KSPIN_DESCRIPTOR_EX] {
    // SAFETY: the static filter descriptor stored at start, and its pins.
    unsafe {
        FILTER
            .load(Ordering::Acquire)
            .as_ref()
            .map_or(&[], |f| core::slice::from_raw_parts(f.PinDescriptors, f.PinDescriptorsCount as usize))
    }
}

/// # Safety
///
/// `irp` is the model's IRP.
unsafe fn info(irp: *mut IRP, value: usize) {
    // SAFETY: the caller's contract.
    unsafe { (*irp).IoStatus.Information = value };
}

/// KspPinPropertyHandler (connectivity.c): CTYPES needs no pin; any other id needs a
/// KSP_PIN whose PinId is within the descriptors, else STATUS_INVALID_PARAMETER.
unsafe extern "system" fn pin_set_get(irp: *mut IRP, request: *mut KSIDENTIFIER, data: PVOID) -> NTSTATUS {
    let pins = filter_pins();
    // SAFETY: KsPropertyHandler checked MinProperty (24 for CTYPES, 32 = KSP_PIN else).
    let id = unsafe { (*request).Id };
    if id == KSPROPERTY_PIN_CTYPES {
        // SAFETY: MinData 4 checked.
        unsafe {
            data.cast::<u32>().write_unaligned(pins.len() as u32);
            info(irp, 4);
        }
        return STATUS_SUCCESS;
    }
    // SAFETY: a KSP_PIN: the PinId follows the KSPROPERTY.
    let pin_id = unsafe { request.cast::<u8>().add(24).cast::<u32>().read_unaligned() } as usize;
    let Some(pin) = pins.get(pin_id) else {
        return STATUS_INVALID_PARAMETER;
    };
    let descriptor = &pin.PinDescriptor;
    match id {
        KSPROPERTY_PIN_DATAFLOW | KSPROPERTY_PIN_COMMUNICATION => {
            let v =
                if id == KSPROPERTY_PIN_DATAFLOW { descriptor.DataFlow } else { descriptor.Communication };
            // SAFETY: MinData 4 checked.
            unsafe {
                data.cast::<i32>().write_unaligned(v);
                info(irp, 4);
            }
            STATUS_SUCCESS
        }
        KSPROPERTY_PIN_CATEGORY => {
            // SAFETY: a static GUID or null ("no pin category": STATUS_NOT_FOUND).
            let Some(category) = (unsafe { descriptor.Category.as_ref() }) else {
                return STATUS_NOT_FOUND;
            };
            // SAFETY: MinData 16 checked.
            unsafe {
                data.cast::<GUID>().write_unaligned(*category);
                info(irp, 16);
            }
            STATUS_SUCCESS
        }
        KSPROPERTY_PIN_CINSTANCES => {
            // KSPIN_CINSTANCES { PossibleCount, CurrentCount } (ks.h); AVStream counts the
            // pin instances of the filter (filter.c).
            // SAFETY: the served pin, if any.
            let current = unsafe { PIN.load(Ordering::Acquire).as_ref() }
                .is_some_and(|p| p.pin.ks.Id as usize == pin_id);
            // SAFETY: MinData 8 checked.
            unsafe {
                data.cast::<u32>().write_unaligned(pin.InstancesPossible);
                data.cast::<u32>().add(1).write_unaligned(u32::from(current));
                info(irp, 8);
            }
            STATUS_SUCCESS
        }
        KSPROPERTY_PIN_DATARANGES => {
            // SAFETY: the descriptor's static ranges.
            let ranges = unsafe {
                core::slice::from_raw_parts(descriptor.DataRanges, descriptor.DataRangesCount as usize)
            };
            // SAFETY: static ranges.
            let size_of = |r: &*const KSDATARANGE| unsafe { (**r).FormatSize } as usize;
            let size = 8 + ranges.iter().map(|r| size_of(r).next_multiple_of(8)).sum::<usize>();
            // SAFETY: the model's IRP and its stack location.
            let out_len = unsafe {
                (*(*irp).Tail.Overlay.CurrentStackLocation).Parameters.DeviceIoControl.OutputBufferLength
            } as usize;
            // connectivity.c: output 0 → STATUS_BUFFER_OVERFLOW with the size; 4 → the size
            // alone; 8 → the KSMULTIPLE_ITEM header; shorter than the whole → the shipped
            // ks.sys's STATUS_BUFFER_TOO_SMALL (KS-NOTES, variable-size properties; ReactOS
            // would copy past the buffer); else Size, Count and each range 8-aligned.
            // SAFETY (all writes): out_len writable bytes at `data`, checked per case.
            unsafe {
                match out_len {
                    0 => {
                        info(irp, size);
                        return STATUS_BUFFER_OVERFLOW;
                    }
                    4 => {
                        data.cast::<u32>().write_unaligned(size as u32);
                        info(irp, 4);
                        return STATUS_SUCCESS;
                    }
                    8 => {
                        data.cast::<u32>().write_unaligned(size as u32);
                        data.cast::<u32>().add(1).write_unaligned(ranges.len() as u32);
                        info(irp, 8);
                        return STATUS_SUCCESS;
                    }
                    n if n < size => {
                        info(irp, 0);
                        return STATUS_BUFFER_TOO_SMALL;
                    }
                    _ => {}
                }
                data.cast::<u32>().write_unaligned(size as u32);
                data.cast::<u32>().add(1).write_unaligned(ranges.len() as u32);
                let mut at = 8usize;
                for r in ranges {
                    let s = size_of(r);
                    core::ptr::copy_nonoverlapping((*r).cast::<u8>(), data.cast::<u8>().add(at), s);
                    core::ptr::write_bytes(data.cast::<u8>().add(at + s), 0, s.next_multiple_of(8) - s);
                    at += s.next_multiple_of(8);
                }
                info(irp, size);
            }
            STATUS_SUCCESS
        }
        _ => STATUS_NOT_FOUND,
    }
}

const fn pin_item(id: u32, min_property: u32, min_data: u32) -> KSPROPERTY_ITEM {
    KSPROPERTY_ITEM {
        PropertyId: id,
        GetPropertyHandler: Some(pin_set_get),
        MinProperty: min_property,
        MinData: min_data,
        SetPropertyHandler: None,
        Values: core::ptr::null(),
        RelationsCount: 0,
        Relations: core::ptr::null(),
        SupportHandler: None,
        SerializedSize: 0,
    }
}

/// The filter's property request: KsPropertyHandler (the model's, with the shipped
/// statuses) over the filter's KSPROPSETID_Pin items with DEFINE_KSPROPERTY_PINSET's
/// sizes (ks.h: CTYPES takes a KSPROPERTY, the others a KSP_PIN; MinData ULONG,
/// KSPIN_CINSTANCES, GUID; DATARANGES variable).
///
/// # Safety
///
/// The buffers as for [`model_irp`].
unsafe fn filter_property(input: PVOID, in_len: u32, output: PVOID, out_len: u32) -> (NTSTATUS, usize) {
    let items = [
        pin_item(KSPROPERTY_PIN_CINSTANCES, 32, 8),
        pin_item(KSPROPERTY_PIN_CTYPES, 24, 4),
        pin_item(KSPROPERTY_PIN_DATAFLOW, 32, 4),
        pin_item(KSPROPERTY_PIN_DATARANGES, 32, 0),
        pin_item(KSPROPERTY_PIN_COMMUNICATION, 32, 4),
        pin_item(KSPROPERTY_PIN_CATEGORY, 32, 16),
    ];
    let sets = [KSPROPERTY_SET {
        Set: &KSPROPSETID_Pin,
        PropertiesCount: items.len() as u32,
        PropertyItem: items.as_ptr(),
        FastIoCount: 0,
        FastIoTable: core::ptr::null(),
    }];
    let tables: [&[KSPROPERTY_SET]; 1] = [&sets];
    // SAFETY: the caller's contract; the handlers above accept the model's IRP.
    unsafe {
        model_irp(core::ptr::null_mut(), UserMode, input, in_len, output, out_len, |i| {
            property_handler(i, &tables)
        })
    }
}

// --- streaming -------------------------------------------------------------------------

/// IOCTL_KS_READ_STREAM on a pin (ReactOS pin.c IKsPin_DispatchKsStream: KsProbeStreamIrp
/// with the pin's StreamHeaderSize, then the IRP is queued pending in any state;
/// processing starts when the pin may process).
///
/// # Safety
///
/// `irp` is the request being dispatched; `output` its header copy of `out_len` bytes.
unsafe fn read_stream(p: &mut PinFile, irp: *mut IRP, output: PVOID, out_len: u32) -> NTSTATUS {
    if output.is_null() || (out_len as usize) < core::mem::size_of::<KSSTREAM_HEADER>() {
        // SAFETY: the IRP of this dispatch.
        return unsafe { complete(irp, STATUS_INVALID_BUFFER_SIZE, 0) };
    }
    // SAFETY: at least a KSSTREAM_HEADER of output (checked).
    let header = unsafe { output.cast::<KSSTREAM_HEADER>().read_unaligned() };
    let wanted = p.pin.ks.StreamHeaderSize;
    // KsProbeStreamIrp (ReactOS irp.c): Size == HeaderSize when the pin gives one (else at
    // least a KSSTREAM_HEADER, 8-aligned), the length holds it, a read's DataUsed 0
    // (else STATUS_INVALID_BUFFER_SIZE) and OptionsFlags 0 (else STATUS_INVALID_PARAMETER).
    let size_ok = if wanted != 0 {
        header.Size == wanted
    } else {
        header.Size as usize >= core::mem::size_of::<KSSTREAM_HEADER>() && header.Size & 7 == 0
    };
    let status = if !size_ok || out_len < header.Size || header.DataUsed != 0 || out_len != header.Size {
        STATUS_INVALID_BUFFER_SIZE
    } else if header.OptionsFlags != 0 {
        STATUS_INVALID_PARAMETER
    } else {
        STATUS_SUCCESS
    };
    if !NT_SUCCESS(status) {
        // SAFETY: as above.
        return unsafe { complete(irp, status, 0) };
    }
    let mut process: HANDLE = core::ptr::null_mut();
    let mut attributes = ObjectAttributes::empty();
    // SAFETY: the client's process id, in its context.
    let mut client = ClientId { process: unsafe { PsGetCurrentProcessId() }, thread: core::ptr::null_mut() };
    // SAFETY: out handle, attributes and client id on the stack.
    let opened = unsafe {
        NtOpenProcess(&mut process, PROCESS_VM_OPERATION | PROCESS_VM_WRITE, &mut attributes, &mut client)
    };
    let buffer: PVOID =
        if header.FrameExtent == 0 { core::ptr::null_mut() } else { pool(header.FrameExtent as usize) };
    if !NT_SUCCESS(opened) || (header.FrameExtent != 0 && buffer.is_null()) {
        free(buffer);
        if NT_SUCCESS(opened) {
            // SAFETY: our process handle.
            let _ = unsafe { ZwClose(process) };
        }
        // SAFETY: as above.
        return unsafe { complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0) };
    }
    p.lock();
    p.arrivals += 1;
    let read = PendingRead {
        irp,
        header: output.cast(),
        header_size: header.Size,
        client_data: header.Data,
        buffer,
        extent: header.FrameExtent,
        process,
        sequence: p.arrivals,
    };
    let queued = match p.queue.iter_mut().find(|s| s.is_none()) {
        Some(slot) => {
            *slot = Some(read);
            // IoMarkIrpPending.
            // SAFETY: the IRP's current stack location.
            unsafe { (*stack(irp)).Control |= SL_PENDING_RETURNED };
            true
        }
        None => false,
    };
    p.unlock();
    if !queued {
        release(&read);
        // SAFETY: as above.
        return unsafe { complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0) };
    }
    p.attempt.store(true, Ordering::Release);
    STATUS_PENDING
}

fn release(read: &PendingRead) {
    free(read.buffer);
    // SAFETY: the process handle opened for this read, closed once.
    let _ = unsafe { ZwClose(read.process) };
}

/// Completes every queued read with STATUS_CANCELLED (AVStream cancels a pin's queue at
/// STOP and at close: KsCancelIo in ReactOS pin.c; GSTREAMER-NOTES). Called locked.
fn cancel_queue(p: &mut PinFile) -> u32 {
    let mut n = 0;
    for slot in p.queue.iter_mut() {
        if let Some(read) = slot.take() {
            release(&read);
            // SAFETY: a queued, pending IRP, completed once.
            unsafe { complete(read.irp, STATUS_CANCELLED, 0) };
            n += 1;
        }
    }
    n
}

/// The oldest queued read.
fn head(p: &PinFile) -> Option<usize> {
    p.queue
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.map(|r| (i, r.sequence)))
        .min_by_key(|(_, seq)| *seq)
        .map(|(i, _)| i)
}

/// AVStream's processing of the pin (ReactOS pin.c IKsPin_PinCentricWorker): at STOP the
/// queue is cancelled; while the pin may process and a read is queued, Process runs on
/// the leading edge; a frame the driver ejected completes its read; a call that leaves
/// the frame (STATUS_PENDING, nothing due) ends the loop.
fn process_pin(p: &mut PinFile) {
    p.lock();
    if p.pin.ks.DeviceState == KSSTATE_STOP {
        let n = cancel_queue(p);
        if n > 0 {
            say!("serve cancelled_at_stop count={}", n);
        }
    }
    let process = p.pin.dispatch().and_then(|d| d.Process);
    while may_process(&p.pin) {
        let Some(index) = head(p) else { break };
        let Some(read) = p.queue.get(index).copied().flatten() else { break };
        let frame = Frame { data: read.buffer, extent: read.extent, source: FrameSource::Own };
        let Some((outcome, block)) = offer(&mut p.pin, process, Some(frame)) else { break };
        if !outcome.ejected {
            break;
        }
        if let Some(slot) = p.queue.get_mut(index) {
            *slot = None;
        }
        complete_read(&read, &block);
    }
    p.unlock();
}

/// Copies the frame into the client and the header fields back, then completes the read.
fn complete_read(read: &PendingRead, block: &HeaderBlock) {
    let used = block.header.DataUsed.min(read.extent);
    let mut status = STATUS_SUCCESS;
    if used > 0 {
        let mut written = 0usize;
        // SAFETY: the client's frame address and process (opened with VM_WRITE); `used`
        // bytes of the pool buffer the driver wrote.
        let s = unsafe {
            NtWriteVirtualMemory(read.process, read.client_data, read.buffer, used as usize, &mut written)
        };
        if !NT_SUCCESS(s) || written != used as usize {
            status = STATUS_INVALID_USER_BUFFER;
        }
    }
    // SAFETY: the winedevice copy of the client's header block, header_size bytes
    // (at least a KSSTREAM_HEADER; the KS_FRAME_INFO follows when the size has room).
    unsafe {
        let h = read.header.cast::<KSSTREAM_HEADER>();
        let mut out = h.read_unaligned();
        out.DataUsed = used;
        out.OptionsFlags = block.header.OptionsFlags;
        out.PresentationTime = block.header.PresentationTime;
        out.Duration = block.header.Duration;
        h.write_unaligned(out);
        if read.header_size as usize >= core::mem::size_of::<HeaderBlock>() {
            read.header
                .add(core::mem::size_of::<KSSTREAM_HEADER>())
                .cast::<KS_FRAME_INFO>()
                .write_unaligned(block.info);
        }
    }
    release(read);
    // SAFETY: the pending IRP, completed once; Information = the header bytes returned.
    unsafe { complete(read.irp, status, read.header_size as usize) };
}

/// KsPinAttemptProcessing while serving: the pin's worker runs processing (AVStream
/// queues its processing worker; ReactOS pin.c KsPinAttemptProcessing).
pub fn attempt_processing() {
    // SAFETY: the served pin, if any (only its atomic flag is touched; close clears PIN
    // and waits for the worker, and this runs on the DPC, which the driver's STOP flushes).
    if let Some(p) = unsafe { PIN.load(Ordering::Acquire).as_ref() } {
        p.attempt.store(true, Ordering::Release);
    }
}

/// The processing worker: AVStream's pin worker (a PASSIVE_LEVEL work item per pin).
unsafe extern "system" fn worker(_context: PVOID) {
    note_passive_thread();
    loop {
        sleep_ms(2);
        WORKER_BUSY.store(true, Ordering::SeqCst);
        let pin = PIN.load(Ordering::SeqCst);
        // SAFETY: the served pin: its close clears PIN, then waits for WORKER_BUSY to drop
        // before freeing it, so a pin found here lives until the flag drops.
        if let Some(p) = unsafe { pin.as_mut() }
            && p.attempt.swap(false, Ordering::AcqRel)
        {
            process_pin(p);
        }
        WORKER_BUSY.store(false, Ordering::SeqCst);
    }
}
