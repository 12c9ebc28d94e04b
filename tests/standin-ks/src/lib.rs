//! A stand-in ks.sys: just enough of AVStream to load ksframe.sys under Wine and drive
//! its descriptors, KSALLOCATOR_DISPATCH and property handlers with real kernel-style
//! objects (KSDEVICE, KSPIN, IRP, IO_STACK_LOCATION laid out per ksframe's ABI module).
//!
//! It plays the same layers as the host simulator, from the same model of KS
//! (`ksframe::model`, which the driver never imports): KsPropertyHandler over the pin's
//! table merged over AVStream's own pin items; allocator creation on the pin
//! (KsCreateDefaultAllocatorEx → InitializeAllocator with a client's framing), its
//! assignment through AVStream's KSPROPERTY_STREAM_ALLOCATOR Set, the requestor taking
//! frames through the allocator's function table, the capture pin's Process on those
//! frames, DeleteAllocator when the allocator object closes. The object manager the
//! model needs (one allocator handle, references, pool) is this file's.
//!
//! Every step prints one machine-readable line through DbgPrint:
//! `KSSTANDIN <step> key=value ...`; tests/wine.rs parses them.
//!
//! Wine calls no entry point of an import-only driver: nothing here relies on
//! initialisation; the `DriverEntry` the kernel link needs is ksframe's `no-entry` stub.

#![no_std]
#![allow(clippy::missing_safety_doc, non_snake_case)]

mod serve;

use core::ffi::c_void;
use core::fmt::Write;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};
use ksframe::ks::*;
use ksframe::model::ObjectManager;
use ksframe::model::allocator::{AllocatorObject, create_on_pin};
use ksframe::model::avstream::{PinObject, set_state};
use ksframe::model::requestor::{self, FrameSource};
use ksframe::property::{
    KSPROPERTY_KSFRAME_ALLOCATOR_RESET, KSPROPERTY_KSFRAME_ALLOCATOR_STATISTICS, KSPROPSETID_KsframeAllocator,
};

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "C" {
    fn DbgPrint(format: *const u8, ...) -> u32;
}

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn ExAllocatePoolWithTag(pool_type: i32, bytes: usize, tag: u32) -> PVOID;
    fn ExFreePoolWithTag(p: PVOID, tag: u32);
}

/// The object bag: what `_KsEdit` allocated, freed when the pin closes.
static BAG: [AtomicPtr<c_void>; 8] = [const { AtomicPtr::new(core::ptr::null_mut()) }; 8];
const BAG_TAG: u32 = u32::from_le_bytes(*b"KsSi");

/// `_KsEdit`: a private, writable copy of `*item` in the object's bag (an item already in
/// the bag is edited in place).
#[unsafe(no_mangle)]
pub unsafe extern "system" fn _KsEdit(
    _bag: PVOID,
    item: *mut PVOID,
    new_size: u32,
    old_size: u32,
    _tag: u32,
) -> NTSTATUS {
    // "_KsEdit" docs: PASSIVE_LEVEL.
    irql_check("_KsEdit", PASSIVE);
    // SAFETY: a valid pointer to the item's pointer (the driver's contract).
    let current = unsafe { *item };
    if BAG.iter().any(|b| b.load(Ordering::Acquire) == current) {
        return STATUS_SUCCESS;
    }
    // SAFETY: non-paged pool of new_size bytes.
    let copy = unsafe { ExAllocatePoolWithTag(NonPagedPoolNx, new_size as usize, BAG_TAG) };
    if copy.is_null() {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    let Some(slot) = BAG.iter().find(|b| {
        b.compare_exchange(core::ptr::null_mut(), copy, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }) else {
        // SAFETY: just allocated.
        unsafe { ExFreePoolWithTag(copy, BAG_TAG) };
        return STATUS_INSUFFICIENT_RESOURCES;
    };
    let _ = slot;
    // SAFETY: old_size readable bytes at `current`, new_size >= old_size writable at `copy`.
    unsafe {
        core::ptr::copy_nonoverlapping(
            current.cast::<u8>(),
            copy.cast::<u8>(),
            old_size.min(new_size) as usize,
        );
        *item = copy;
    }
    STATUS_SUCCESS
}

/// Frees the bag (KS frees a pin's bag with the pin); returns how many items it held.
fn free_bag() -> usize {
    let mut freed = 0;
    for b in &BAG {
        let p = b.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if !p.is_null() {
            // SAFETY: allocated by _KsEdit with BAG_TAG.
            unsafe { ExFreePoolWithTag(p, BAG_TAG) };
            freed += 1;
        }
    }
    freed
}

/// Failures seen so far (reported in the final line).
static FAILURES: AtomicU32 = AtomicU32::new(0);

struct Line {
    buf: [u8; 400],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.buf.len() - 1 - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

fn emit(args: core::fmt::Arguments<'_>) {
    let mut line = Line { buf: [0; 400], len: 0 };
    let _ = line.write_str("KSSTANDIN ");
    let _ = line.write_fmt(args);
    let _ = line.write_str("\n");
    line.buf[line.len] = 0;
    // SAFETY: "%s" with a NUL-terminated stack buffer.
    unsafe { DbgPrint(c"%s".as_ptr().cast(), line.buf.as_ptr()) };
}

macro_rules! say {
    ($($t:tt)*) => { emit(format_args!($($t)*)) };
}

fn check(what: &str, ok: bool) {
    if !ok {
        FAILURES.fetch_add(1, Ordering::Relaxed);
        say!("fail {what}");
    }
}

// --- IRQL, as far as the stand-in can tell it under Wine ---------------------------------
//
// Wine has no IRQL. The stand-in knows two ways a driver callback runs at
// DISPATCH_LEVEL on Windows and reproduces both: the driver's timer DPC (Wine runs it on
// a threadpool thread, so any thread but the one that called KsInitializeDriver is a
// DPC here) and the calls it makes itself with a spin lock held
// (KeAcquireSpinLockRaiseToDpc, which Wine implements). Each KS routine it exports checks
// the IRQL its docs page allows and counts a violation otherwise.

/// The OS thread running this code: the TEB's ClientId.UniqueThread (gs:[0x48] on x64,
/// winternl.h TEB layout). Not PsGetCurrentThreadId: while Wine dispatches an IRP it
/// answers with the *client's* thread (WINE-NOTES: "During dispatch,
/// PsGetCurrentProcessId() / PsGetCurrentThread() ... return the client's process and
/// thread"), so every client process would look like a new thread. Under Wine the
/// stand-in runs in winedevice.exe, a user process, where gs is the TEB.
pub(crate) fn os_thread_id() -> HANDLE {
    let id: usize;
    // SAFETY: reads one pointer-sized field of the current thread's TEB (user mode x64:
    // gs holds the TEB); no memory is written.
    unsafe {
        core::arch::asm!("mov {}, gs:[0x48]", out(reg) id, options(nostack, readonly, preserves_flags))
    };
    id as HANDLE
}

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn KeAcquireSpinLockRaiseToDpc(lock: *mut usize) -> u8;
    fn KeReleaseSpinLock(lock: *mut usize, irql: u8);
}

/// The thread that runs KsInitializeDriver (PASSIVE_LEVEL unless a spin lock is held).
static MAIN_THREAD: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());
/// Spin locks the main thread holds.
static SPIN_DEPTH: AtomicU32 = AtomicU32::new(0);
/// KS routines called at DISPATCH_LEVEL, and those of them whose docs forbid it.
static DISPATCH_CALLS: AtomicU32 = AtomicU32::new(0);
static IRQL_VIOLATIONS: AtomicU32 = AtomicU32::new(0);

const PASSIVE: u8 = 0;
const DISPATCH: u8 = 2;

fn irql_here() -> u8 {
    let me = os_thread_id();
    // The IRP dispatch thread and the processing worker of the user-mode part (serve.rs)
    // run at PASSIVE_LEVEL too, as ks.sys's dispatch routines and pin worker do.
    let passive = me == MAIN_THREAD.load(Ordering::Acquire)
        || serve::PASSIVE_THREADS.iter().any(|t| t.load(Ordering::Acquire) == me);
    if !passive || SPIN_DEPTH.load(Ordering::Acquire) > 0 { DISPATCH } else { PASSIVE }
}

/// Checks the IRQL of a call to `routine`, whose docs allow at most `max`.
fn irql_check(routine: &str, max: u8) {
    let now = irql_here();
    if now == DISPATCH {
        DISPATCH_CALLS.fetch_add(1, Ordering::Relaxed);
    }
    if now > max {
        IRQL_VIOLATIONS.fetch_add(1, Ordering::Relaxed);
        let thread = os_thread_id();
        say!("irql_violation routine={} irql={} max={} thread={:p}", routine, now, max, thread);
    }
}

/// Runs `f` as a driver callback with a spin lock held (DISPATCH_LEVEL on Windows).
fn with_spin_lock<R>(f: impl FnOnce() -> R) -> R {
    static LOCK: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());
    let lock = LOCK.as_ptr().cast::<usize>();
    // SAFETY: a static KSPIN_LOCK word, released below with the IRQL returned.
    let old = unsafe { KeAcquireSpinLockRaiseToDpc(lock) };
    SPIN_DEPTH.fetch_add(1, Ordering::AcqRel);
    let r = f();
    SPIN_DEPTH.fetch_sub(1, Ordering::AcqRel);
    // SAFETY: the lock acquired above.
    unsafe { KeReleaseSpinLock(lock, old) };
    r
}

// The panic handler and the DriverEntry symbol the kernel link names come from ksframe,
// linked with its `no-entry` feature; the image's entry point is StandinEntry (build.rs).

/// The image's entry point. Wine calls it as DllMain because the image imports ntdll.dll
/// (build.rs); TRUE lets the load go on. Nothing is initialised here.
#[unsafe(no_mangle)]
pub extern "system" fn StandinEntry(_module: PVOID, _reason: u32, _reserved: PVOID) -> i32 {
    1
}

/// The stream pointer offered to the pin being processed.
static LEADING_EDGE: AtomicPtr<KSSTREAM_POINTER> = AtomicPtr::new(core::ptr::null_mut());
/// What the last advance did: output bytes, input bytes, eject.
static ADVANCED_OUT: AtomicU32 = AtomicU32::new(0);
static ADVANCED_IN: AtomicU32 = AtomicU32::new(0);
static EJECTED: AtomicBool = AtomicBool::new(false);

#[unsafe(no_mangle)]
pub unsafe extern "system" fn KsPinGetLeadingEdgeStreamPointer(
    _pin: *mut KSPIN,
    _state: i32,
) -> *mut KSSTREAM_POINTER {
    irql_check("KsPinGetLeadingEdgeStreamPointer", DISPATCH);
    LEADING_EDGE.swap(core::ptr::null_mut(), Ordering::AcqRel)
}

/// Records the advance; on a non-DMA queue AVStream adds the output advance to the
/// header's DataUsed (avshws; KS-NOTES).
#[unsafe(no_mangle)]
pub unsafe extern "system" fn KsStreamPointerAdvanceOffsetsAndUnlock(
    pointer: *mut KSSTREAM_POINTER,
    in_used: u32,
    out_used: u32,
    eject: u8,
) {
    irql_check("KsStreamPointerAdvanceOffsetsAndUnlock", DISPATCH);
    ADVANCED_OUT.store(out_used, Ordering::Relaxed);
    ADVANCED_IN.store(in_used, Ordering::Relaxed);
    EJECTED.store(eject != 0, Ordering::Relaxed);
    // SAFETY: the stream pointer this stand-in offered, with its header.
    unsafe {
        if let Some(header) = pointer.as_ref().and_then(|p| p.StreamHeader.as_mut()) {
            header.DataUsed = header.DataUsed.wrapping_add(out_used);
        }
    }
}

/// Frames the paced run streams.
const PACED_FRAMES: usize = 5;

/// KsPinAttemptProcessing calls (from the driver's DPC, on a Wine threadpool thread).
static ATTEMPTS: AtomicU32 = AtomicU32::new(0);

/// `KsPinAttemptProcessing`: AVStream would schedule processing on its worker; the
/// stand-in counts the request and its main thread processes.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn KsPinAttemptProcessing(_pin: *mut KSPIN, _asynchronous: u8) {
    irql_check("KsPinAttemptProcessing", DISPATCH);
    ATTEMPTS.fetch_add(1, Ordering::AcqRel);
    serve::attempt_processing();
}

/// `KsPinGetReferenceClockInterface`: the model's answer for the pin (no master clock is
/// assigned here: STATUS_DEVICE_NOT_READY).
#[unsafe(no_mangle)]
pub unsafe extern "system" fn KsPinGetReferenceClockInterface(
    pin: *mut KSPIN,
    interface: *mut *mut IKsReferenceClock,
) -> NTSTATUS {
    irql_check("KsPinGetReferenceClockInterface", PASSIVE);
    // SAFETY: the driver passes the pin this stand-in made (a PinObject's KSPIN).
    unsafe { ksframe::model::avstream::reference_clock(pin, interface) }
}

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn KeDelayExecutionThread(mode: i8, alertable: u8, interval: *const i64) -> NTSTATUS;
}

#[link(name = "hal.dll", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn KeQueryPerformanceCounter(frequency: *mut i64) -> i64;
}

fn delay_5ms() {
    let interval: i64 = -50_000;
    // SAFETY: a relative interval on the stack.
    let _ = unsafe { KeDelayExecutionThread(0, 0, &interval) };
}

fn now_100ns() -> i64 {
    let mut frequency = 0i64;
    // SAFETY: a valid out pointer.
    let count = unsafe { KeQueryPerformanceCounter(&mut frequency) };
    ksframe::kernel::time::scale_counter(count, frequency)
}

/// What one Process call did with the frame offered.
#[derive(Clone, Copy)]
struct Outcome {
    ejected: bool,
    extent: u32,
    data_used: u32,
    options: u32,
    presentation_time: i64,
    picture_number: i64,
}

/// A stream header with room for the KS_FRAME_INFO the capture pin asks for.
#[repr(C)]
#[derive(Clone, Copy)]
struct HeaderBlock {
    header: KSSTREAM_HEADER,
    info: KS_FRAME_INFO,
}

/// Offers `frame` as the pin's locked leading edge to Process.
fn offer(
    pin: &mut PinObject,
    process: PFNKSPIN,
    frame: Option<requestor::Frame>,
) -> Option<(Outcome, HeaderBlock)> {
    let frame = frame?;
    // SAFETY: all-zero bytes are a valid header block.
    let mut block: HeaderBlock = unsafe { core::mem::zeroed() };
    block.header.Size = pin.ks.StreamHeaderSize.clamp(56, core::mem::size_of::<HeaderBlock>() as u32);
    block.header.FrameExtent = frame.extent;
    block.header.Data = frame.data;
    let none = KSSTREAM_POINTER_OFFSET { Data: core::ptr::null_mut(), Count: 0, Remaining: 0 };
    let mut pointer = KSSTREAM_POINTER {
        Context: core::ptr::null_mut(),
        Pin: &mut pin.ks,
        StreamHeader: &mut block.header,
        Offset: core::ptr::null_mut(),
        OffsetIn: none,
        OffsetOut: KSSTREAM_POINTER_OFFSET {
            Data: frame.data.cast(),
            Count: frame.extent,
            Remaining: frame.extent,
        },
    };
    pointer.Offset = &mut pointer.OffsetOut;
    EJECTED.store(false, Ordering::Relaxed);
    LEADING_EDGE.store(&mut pointer, Ordering::Release);
    // SAFETY: a live pin with a locked leading edge offered.
    let _ = process.map(|p| unsafe { p(&mut pin.ks) });
    LEADING_EDGE.store(core::ptr::null_mut(), Ordering::Release);
    let outcome = Outcome {
        ejected: EJECTED.load(Ordering::Relaxed),
        extent: frame.extent,
        data_used: block.header.DataUsed,
        options: block.header.OptionsFlags,
        presentation_time: block.header.PresentationTime.Time,
        picture_number: block.info.PictureNumber,
    };
    Some((outcome, block))
}

// --- the object manager the model runs on ---------------------------------------------

/// The one allocator handle this stand-in hands out (a kernel handle: top bit set).
const ALLOCATOR_HANDLE: usize = 0x8000_0000_0000_0104;
const OBJECT_TAG: u32 = u32::from_le_bytes(*b"KsSo");
/// The allocator object (pool storage), its open handle and its references.
static ALLOCATOR: AtomicPtr<AllocatorObject> = AtomicPtr::new(core::ptr::null_mut());
static HANDLE_OPEN: AtomicBool = AtomicBool::new(false);
static REFERENCES: AtomicU32 = AtomicU32::new(0);
/// Whether the allocator object was closed (DeleteAllocator called).
static CLOSED: AtomicBool = AtomicBool::new(false);

struct StandinObjects;
static OBJECTS: StandinObjects = StandinObjects;

fn close_allocator_if_unused() {
    if HANDLE_OPEN.load(Ordering::Acquire) || REFERENCES.load(Ordering::Acquire) != 0 {
        return;
    }
    let object = ALLOCATOR.swap(core::ptr::null_mut(), Ordering::AcqRel);
    // SAFETY: the object this stand-in stored; no handle or reference is left.
    if let Some(a) = unsafe { object.as_mut() } {
        // SAFETY: as above: IRP_MJ_CLOSE of the allocator file object.
        unsafe { a.close() };
        CLOSED.store(true, Ordering::Release);
        // SAFETY: allocated with OBJECT_TAG in `open_allocator`.
        unsafe { ExFreePoolWithTag(object.cast(), OBJECT_TAG) };
    }
}

impl ObjectManager for StandinObjects {
    fn reference_file_by_handle(
        &self,
        handle: HANDLE,
        _access: u32,
        mode: KPROCESSOR_MODE,
    ) -> Result<NonNull<c_void>, NTSTATUS> {
        let object = ALLOCATOR.load(Ordering::Acquire);
        if handle as usize != ALLOCATOR_HANDLE || !HANDLE_OPEN.load(Ordering::Acquire) || object.is_null() {
            return Err(STATUS_INVALID_HANDLE);
        }
        if mode == UserMode {
            // A kernel handle from user mode (ObReferenceObjectByHandle docs).
            return Err(STATUS_INVALID_HANDLE);
        }
        REFERENCES.fetch_add(1, Ordering::AcqRel);
        NonNull::new(object.cast()).ok_or(STATUS_INVALID_HANDLE)
    }

    fn dereference(&self, object: NonNull<c_void>) {
        if object.as_ptr() == ALLOCATOR.load(Ordering::Acquire).cast() {
            REFERENCES.fetch_sub(1, Ordering::AcqRel);
            close_allocator_if_unused();
        } else {
            check("dereference_known_object", false);
        }
    }

    fn property_get(
        &self,
        object: NonNull<c_void>,
        set: &GUID,
        id: u32,
        out: &mut [u8],
    ) -> Result<usize, NTSTATUS> {
        // SAFETY: the object is the live allocator while referenced.
        match unsafe { ALLOCATOR.load(Ordering::Acquire).as_ref() } {
            Some(a) if object.as_ptr() == (a as *const AllocatorObject).cast_mut().cast() => {
                a.property_get(set, id, out)
            }
            _ => Err(STATUS_INVALID_DEVICE_REQUEST),
        }
    }

    fn allocate(&self, bytes: usize) -> PVOID {
        // SAFETY: non-paged pool.
        unsafe { ExAllocatePoolWithTag(NonPagedPoolNx, bytes, OBJECT_TAG) }
    }

    fn free(&self, block: PVOID, _bytes: usize) {
        // SAFETY: allocated by `allocate`.
        unsafe { ExFreePoolWithTag(block, OBJECT_TAG) }
    }
}

/// Stores `object` as the allocator behind [`ALLOCATOR_HANDLE`].
fn open_allocator(object: AllocatorObject) -> bool {
    // SAFETY: non-paged pool for one object.
    let storage =
        unsafe { ExAllocatePoolWithTag(NonPagedPoolNx, core::mem::size_of::<AllocatorObject>(), OBJECT_TAG) }
            .cast::<AllocatorObject>();
    if storage.is_null() {
        return false;
    }
    // SAFETY: fresh, suitably aligned pool memory (16-aligned blocks).
    unsafe { storage.write(object) };
    ALLOCATOR.store(storage, Ordering::Release);
    HANDLE_OPEN.store(true, Ordering::Release);
    true
}

fn close_allocator_handle() {
    HANDLE_OPEN.store(false, Ordering::Release);
    close_allocator_if_unused();
}

/// The pin a property IRP addresses: like the host backend, this stand-in keeps it in
/// the stack location's FileObject (ks.sys reaches it through the file object).
#[unsafe(no_mangle)]
pub unsafe extern "system" fn KsGetPinFromIrp(irp: *mut IRP) -> *mut KSPIN {
    // SAFETY: an IRP this stand-in built, with its stack location.
    unsafe { (*(*irp).Tail.Overlay.CurrentStackLocation).FileObject.cast() }
}

/// A property request with real IRP and stack location, through the model's
/// KsPropertyHandler over the pin's table merged over AVStream's. Returns (status,
/// information); the output lands in `out`.
#[allow(clippy::too_many_arguments)]
unsafe fn property_ex(
    pin: &PinObject,
    set: GUID,
    id: u32,
    flags: u32,
    input_len: u32,
    mode: KPROCESSOR_MODE,
    out: &mut [u8],
    out_len: u32,
) -> (NTSTATUS, usize) {
    let mut request = KSIDENTIFIER { Set: set, Id: id, Flags: flags };
    // SAFETY: all-zero IRP / IO_STACK_LOCATION are valid starting values.
    let mut stack: IO_STACK_LOCATION = unsafe { core::mem::zeroed() };
    // SAFETY: as above.
    let mut irp: IRP = unsafe { core::mem::zeroed() };
    stack.MajorFunction = IRP_MJ_DEVICE_CONTROL;
    stack.Parameters.DeviceIoControl = IO_STACK_LOCATION_DEVICE_IO_CONTROL {
        OutputBufferLength: out_len,
        InputBufferLength: ULONG_ALIGNED(input_len),
        IoControlCode: ULONG_ALIGNED(IOCTL_KS_PROPERTY),
        Type3InputBuffer: (&mut request as *mut KSIDENTIFIER).cast(),
    };
    stack.FileObject = (pin as *const PinObject).cast_mut().cast();
    irp.RequestorMode = mode;
    irp.AssociatedIrp.SystemBuffer = out.as_mut_ptr().cast();
    irp.Tail.Overlay.CurrentStackLocation = &mut stack;
    // SAFETY: a complete property IRP addressed to this pin.
    let status = unsafe { pin.property(&mut irp) };
    (status, irp.IoStatus.Information)
}

/// A user-mode request with a whole KSPROPERTY.
unsafe fn property(
    pin: &PinObject,
    set: GUID,
    id: u32,
    flags: u32,
    out: &mut [u8],
    out_len: u32,
) -> (NTSTATUS, usize) {
    // SAFETY: the caller's contract.
    unsafe { property_ex(pin, set, id, flags, 24, UserMode, out, out_len) }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u32_at(b, at) as u64 | (u32_at(b, at + 4) as u64) << 32
}

/// Plays ks.sys: device Add/Start, descriptors, a pin, its allocator and its properties.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn KsInitializeDriver(
    driver: *mut DRIVER_OBJECT,
    _registry_path: *const UNICODE_STRING,
    descriptor: *const KSDEVICE_DESCRIPTOR,
) -> NTSTATUS {
    MAIN_THREAD.store(os_thread_id(), Ordering::Release);
    say!("begin descriptor={:p}", descriptor);
    // SAFETY: the driver passes its static device descriptor.
    let Some(device_descriptor) = (unsafe { descriptor.as_ref() }) else {
        say!("fail no_descriptor");
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: the driver's static tables, read as AVStream reads them.
    unsafe { play(device_descriptor) };
    say!("done failures={}", FAILURES.load(Ordering::Relaxed));
    // Then serve user mode through Wine's I/O manager (serve.rs), as KS does once the
    // device has started: the device, its interfaces, the dispatch table.
    // SAFETY: FilterDescriptorsCount static descriptors; the driver object we were given.
    let filter = unsafe {
        core::slice::from_raw_parts(
            device_descriptor.FilterDescriptors,
            device_descriptor.FilterDescriptorsCount as usize,
        )
    }
    .first()
    .and_then(|f| unsafe { f.as_ref() });
    if let Some(filter) = filter {
        // SAFETY: the driver object KsInitializeDriver received, PASSIVE_LEVEL.
        unsafe { serve::start(driver, filter) };
    }
    STATUS_SUCCESS
}

unsafe fn play(device_descriptor: &'static KSDEVICE_DESCRIPTOR) {
    // --- device -------------------------------------------------------------------------
    // SAFETY: all-zero KSDEVICE is valid (null pointers, zero state).
    let mut device: KSDEVICE = unsafe { core::mem::zeroed() };
    device.Descriptor = device_descriptor;
    // SAFETY: the driver's static dispatch table.
    if let Some(dispatch) = unsafe { device_descriptor.Dispatch.as_ref() } {
        // SAFETY: a device laid out per the ABI.
        let add = dispatch.Add.map_or(STATUS_SUCCESS, |add| unsafe { add(&mut device) });
        say!("device_add status={:#010x}", add as u32);
        // SAFETY: as above; no IRP or resources for a software device.
        let start = dispatch.Start.map_or(STATUS_SUCCESS, |start| unsafe {
            start(&mut device, core::ptr::null_mut(), core::ptr::null_mut(), core::ptr::null_mut())
        });
        say!("device_start status={:#010x}", start as u32);
        check("device", NT_SUCCESS(add) && NT_SUCCESS(start));
    }

    // --- descriptors ----------------------------------------------------------------------
    // SAFETY: FilterDescriptorsCount static descriptors.
    let filters = unsafe {
        core::slice::from_raw_parts(
            device_descriptor.FilterDescriptors,
            device_descriptor.FilterDescriptorsCount as usize,
        )
    };
    say!("filters count={}", filters.len());
    let Some(filter) = filters.first().and_then(|f| unsafe { f.as_ref() }) else {
        check("filter", false);
        return;
    };
    // SAFETY: a static GUID or null.
    let reference = unsafe { filter.ReferenceGuid.as_ref() };
    say!("filter reference_is_ksname_filter={}", (reference == Some(&KSNAME_Filter)) as u32);
    // SAFETY: PinDescriptorsCount static pin descriptors.
    let pins =
        unsafe { core::slice::from_raw_parts(filter.PinDescriptors, filter.PinDescriptorsCount as usize) };
    for (i, p) in pins.iter().enumerate() {
        // SAFETY: static dispatch table.
        let allocator = unsafe { p.Dispatch.as_ref() }.is_some_and(|d| !d.Allocator.is_null());
        // Whether the pin's own table lists Stream ALLOCATOR (which would replace
        // AVStream's item whole).
        let tables = [
            // SAFETY: the static automation table of the descriptor.
            unsafe {
                p.AutomationTable.as_ref().map_or(&[][..], |t| {
                    core::slice::from_raw_parts(t.PropertySets, t.PropertySetsCount as usize)
                })
            },
        ];
        let lists_stream_allocator =
            ksframe::model::property::lookup(&tables, &KSPROPSETID_Stream, KSPROPERTY_STREAM_ALLOCATOR)
                .item
                .is_some();
        // SAFETY: the static KSALLOCATOR_FRAMING_EX the descriptor points to.
        let framing = unsafe { p.AllocatorFraming.as_ref() };
        say!(
            "pin_descriptor id={} dataflow={} ranges={} own_allocator={} framing={} flags={:#x} lists_stream_allocator={}",
            i,
            p.PinDescriptor.DataFlow,
            p.PinDescriptor.DataRangesCount,
            allocator as u32,
            framing.map_or(0, |f| f.FramingItem[0].FramingRange.Range.MinFrameSize),
            p.Flags,
            lists_stream_allocator as u32
        );
    }
    let capture = &pins[0];

    // --- the connection format, through the intersect handler -----------------------------
    // SAFETY: DataRanges holds DataRangesCount static ranges.
    let first_range = unsafe { *capture.PinDescriptor.DataRanges };
    // SAFETY: all-zero bytes are a valid KS_DATAFORMAT_VIDEOINFOHEADER.
    let mut format: KS_DATAFORMAT_VIDEOINFOHEADER = unsafe { core::mem::zeroed() };
    // SAFETY: the driver's static descriptor and range, and a format-sized output.
    let result = unsafe {
        ksframe::model::intersect::intersect(
            capture,
            0,
            first_range.cast_mut(),
            (&mut format as *mut KS_DATAFORMAT_VIDEOINFOHEADER).cast(),
            core::mem::size_of::<KS_DATAFORMAT_VIDEOINFOHEADER>() as u32,
        )
    };
    let (status, size) = match result {
        Ok(size) => (STATUS_SUCCESS, size),
        Err(status) => (status, 0),
    };
    say!(
        "intersect status={:#010x} size={} image={}",
        status as u32,
        size,
        format.VideoInfoHeader.bmiHeader.biSizeImage
    );
    check("intersect", status == STATUS_SUCCESS);

    // --- pin create -----------------------------------------------------------------------
    let mut pin = PinObject::new(
        capture,
        0,
        (&BAG as *const _ as *mut c_void).cast(),
        (&mut format as *mut KS_DATAFORMAT_VIDEOINFOHEADER).cast(),
        &OBJECTS,
    );
    let dispatch = pin.dispatch().copied();
    // SAFETY: a pin laid out per the ABI, no IRP needed by ksframe's Create.
    let created = dispatch
        .and_then(|d| d.Create)
        .map_or(STATUS_SUCCESS, |c| unsafe { c(&mut pin.ks, core::ptr::null_mut()) });
    // SAFETY: the pin's descriptor (its own KsEdit copy after Create) and its framing.
    let edited = unsafe { pin.descriptor().AllocatorFraming.as_ref() }
        .map_or(0, |f| f.FramingItem[0].FramingRange.Range.MinFrameSize);
    say!(
        "pin_create status={:#010x} context={} own_descriptor={} descriptor_framing={}",
        created as u32,
        (!pin.ks.Context.is_null()) as u32,
        (!core::ptr::eq(pin.ks.Descriptor, capture)) as u32,
        edited
    );
    check("pin_create", NT_SUCCESS(created) && !pin.ks.Context.is_null());

    // --- properties, KsPropertyHandler over the merged tables -------------------------------
    let mut out = [0u8; 256];
    // SAFETY (all property calls): a live pin whose automation table is the driver's.
    let (s, info) = unsafe {
        property(&pin, KSPROPSETID_Connection, KSPROPERTY_CONNECTION_ALLOCATORFRAMING, 1, &mut out, 24)
    };
    let frames = u32_at(&out, 8);
    let frame_size = u32_at(&out, 12);
    let alignment = u32_at(&out, 16);
    say!(
        "prop framing status={:#010x} info={} frames={} frame_size={} alignment={:#x} pool_type={}",
        s as u32,
        info,
        frames,
        frame_size,
        alignment,
        u32_at(&out, 4)
    );
    check("framing", s == STATUS_SUCCESS && info == 24);
    let (s, info) = unsafe {
        property(&pin, KSPROPSETID_Connection, KSPROPERTY_CONNECTION_ALLOCATORFRAMING, 1, &mut out, 0)
    };
    say!("prop framing_empty status={:#010x} info={}", s as u32, info);
    let (s, info) = unsafe {
        property_ex(
            &pin,
            KSPROPSETID_Connection,
            KSPROPERTY_CONNECTION_ALLOCATORFRAMING,
            1,
            12,
            UserMode,
            &mut out,
            24,
        )
    };
    say!("prop short_input status={:#010x} info={}", s as u32, info);
    let (s, info) = unsafe {
        property(&pin, KSPROPSETID_Connection, KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX, 1, &mut out, 0)
    };
    say!("prop framing_ex_query status={:#010x} info={}", s as u32, info);
    check("framing_ex_query", s == STATUS_BUFFER_OVERFLOW && info == 112);
    let (s, info) = unsafe {
        property(&pin, KSPROPSETID_Connection, KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX, 1, &mut out, 111)
    };
    say!("prop framing_ex_short status={:#010x} info={}", s as u32, info);
    check("framing_ex_short", s == STATUS_BUFFER_TOO_SMALL);
    let (s, info) = unsafe {
        property(&pin, KSPROPSETID_Connection, KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX, 1, &mut out, 112)
    };
    say!(
        "prop framing_ex status={:#010x} info={} count={} item_frames={}",
        s as u32,
        info,
        u32_at(&out, 0),
        u32_at(&out, 24 + 44)
    );
    check("framing_ex", s == STATUS_SUCCESS && info == 112 && u32_at(&out, 0) == 1);
    out[..8].fill(0xAA);
    let (s, info) =
        unsafe { property(&pin, KSPROPSETID_Stream, KSPROPERTY_STREAM_ALLOCATOR, 1, &mut out, 8) };
    say!("prop stream_allocator status={:#010x} info={} handle={:#x}", s as u32, info, u64_at(&out, 0));
    check("stream_allocator", s == STATUS_SUCCESS && info == 8 && u64_at(&out, 0) == 0);
    let (s, info) = unsafe {
        property(
            &pin,
            KSPROPSETID_Connection,
            KSPROPERTY_CONNECTION_ALLOCATORFRAMING,
            KSPROPERTY_TYPE_BASICSUPPORT,
            &mut out,
            4,
        )
    };
    say!("prop basicsupport status={:#010x} info={} access={:#x}", s as u32, info, u32_at(&out, 0));
    let (s, info) = unsafe {
        property(
            &pin,
            KSPROPSETID_Connection,
            KSPROPERTY_CONNECTION_ALLOCATORFRAMING,
            KSPROPERTY_TYPE_BASICSUPPORT,
            &mut out,
            40,
        )
    };
    say!(
        "prop basicsupport_description status={:#010x} info={} access={:#x} size={}",
        s as u32,
        info,
        u32_at(&out, 0),
        u32_at(&out, 4)
    );
    let (s, info) = unsafe { property(&pin, KSPROPSETID_Connection, 99, 1, &mut out, 8) };
    say!("prop unknown_id status={:#010x} info={}", s as u32, info);
    let (s, info) = unsafe { property(&pin, GUID::from_u128(0x0123_4567), 0, 1, &mut out, 8) };
    say!("prop unknown_set status={:#010x} info={}", s as u32, info);
    let stats_get = |pin: &PinObject, out: &mut [u8; 256]| unsafe {
        property(pin, KSPROPSETID_KsframeAllocator, KSPROPERTY_KSFRAME_ALLOCATOR_STATISTICS, 1, out, 48)
    };
    let (s, info) = stats_get(&pin, &mut out);
    say!("prop stats_before status={:#010x} info={}", s as u32, info);

    // --- allocator creation on the pin (KsCreateAllocator with a client's framing) --------
    let request = KSALLOCATOR_FRAMING {
        OptionsFlags: KSALLOCATOR_OPTIONF_SYSTEM_MEMORY,
        PoolType: NonPagedPool,
        Frames: frames,
        FrameSize: frame_size,
        FileAlignment: alignment,
        Reserved: 0,
    };
    // SAFETY: a live pin at PASSIVE_LEVEL.
    let created = unsafe { create_on_pin(&mut pin.ks, &request, &OBJECTS) };
    let (s, context) = match created {
        Ok(object) => {
            let context = object.context();
            check("allocator object stored", open_allocator(object));
            (STATUS_SUCCESS, context)
        }
        Err(status) => (status, core::ptr::null_mut()),
    };
    say!("alloc_init status={:#010x} context={}", s as u32, (!context.is_null()) as u32);
    check("alloc_init", s == STATUS_SUCCESS && !context.is_null());
    // KS refuses a bad create request before the driver sees it.
    let bad = KSALLOCATOR_FRAMING { FrameSize: 0, ..request };
    // SAFETY: as above.
    let refused = unsafe { create_on_pin(&mut pin.ks, &bad, &OBJECTS) }.err().unwrap_or(STATUS_SUCCESS);
    say!("alloc_init_bad status={:#010x}", refused as u32);

    // --- assignment through AVStream's STREAM_ALLOCATOR Set ---------------------------------
    out[..8].copy_from_slice(&(ALLOCATOR_HANDLE as u64).to_le_bytes());
    let (s, _) = unsafe {
        property_ex(&pin, KSPROPSETID_Stream, KSPROPERTY_STREAM_ALLOCATOR, 2, 24, KernelMode, &mut out, 8)
    };
    say!(
        "assign status={:#010x} assigned={} references={}",
        s as u32,
        pin.assigned_allocator().is_some() as u32,
        REFERENCES.load(Ordering::Relaxed)
    );
    check("assign", s == STATUS_SUCCESS && pin.assigned_allocator().is_some());
    out[..8].copy_from_slice(&(ALLOCATOR_HANDLE as u64).to_le_bytes());
    let (s, _) = unsafe {
        property_ex(&pin, KSPROPSETID_Stream, KSPROPERTY_STREAM_ALLOCATOR, 2, 24, UserMode, &mut out, 8)
    };
    say!("assign_user_kernel_handle status={:#010x}", s as u32);
    // The graph keeps no handle; the pin's reference keeps the allocator open.
    close_allocator_handle();
    say!("handle_closed closed={}", CLOSED.load(Ordering::Relaxed) as u32);

    // --- the requestor takes frames through the allocator's function table -----------------
    let mut held = [None::<requestor::Frame>; 16];
    let mut got = 0usize;
    let limit = (frames as usize + 2).min(held.len());
    while got < limit {
        let Some(frame) = requestor::take(&pin) else { break };
        held[got] = Some(frame);
        got += 1;
    }
    let data = |i: usize| held[i].map_or(core::ptr::null_mut(), |f| f.data);
    let mut distinct = 0;
    for i in 0..got {
        if !(0..i).any(|j| data(j) == data(i)) {
            distinct += 1;
        }
    }
    let aligned = (0..got).all(|i| (data(i) as usize) & alignment as usize == 0);
    let from_allocator = held[..got].iter().flatten().all(|f| f.source == FrameSource::Allocator);
    say!(
        "alloc_exhaust got={} distinct={} frames={} aligned={} from_allocator={}",
        got,
        distinct,
        frames,
        aligned as u32,
        from_allocator as u32
    );
    check("alloc_exhaust", got == frames as usize && distinct == got && aligned && from_allocator);
    let (s, info) = stats_get(&pin, &mut out);
    say!(
        "prop stats status={:#010x} info={} allocations={} frees={} failures={} rejected={} outstanding={} peak={}",
        s as u32,
        info,
        u64_at(&out, 0),
        u64_at(&out, 8),
        u64_at(&out, 16),
        u64_at(&out, 24),
        u32_at(&out, 32),
        u32_at(&out, 36)
    );
    // A foreign pointer through the function table's FreeFrame: refused and counted.
    let mut foreign = 0u64;
    if let Some((file, table)) = pin.assigned_allocator() {
        // SAFETY: a stack address is not a frame: the driver must refuse it.
        unsafe { table.FreeFrame.unwrap()(file, (&mut foreign as *mut u64).cast()) };
    }
    let _ = stats_get(&pin, &mut out);
    say!("alloc_foreign_free rejected={}", u64_at(&out, 24));
    check("alloc_foreign_free", u64_at(&out, 24) == 1);
    for frame in held[..got].iter_mut() {
        if let Some(f) = frame.take() {
            requestor::give_back(&pin, f);
        }
    }

    // --- paced frames: RUN arms the driver's timer; Wine's threadpool runs its DPC, whose
    // KsPinAttemptProcessing lands here; this thread (PASSIVE, as AVStream's processing
    // worker) then offers the next frame to Process (PROCESS_IN_RUN_STATE_ONLY). ------------
    let process = dispatch.and_then(|d| d.Process);
    let mut frame = requestor::take(&pin);
    let state = set_state(&mut pin, KSSTATE_RUN);
    let started = now_100ns();
    // The gate opens at RUN and AVStream attempts processing: no frame is due yet, so
    // Process leaves the frame where it is and pends.
    let early = offer(&mut pin, process, frame).map(|(o, _)| o);
    let mut streamed = 0u32;
    let mut data_used_ok = true;
    let mut times = [0i64; PACED_FRAMES];
    let mut pictures = [0i64; PACED_FRAMES];
    let mut valid_flags = true;
    let mut waited = 0;
    while (streamed as usize) < PACED_FRAMES && waited < 400 {
        delay_5ms();
        waited += 1;
        if ATTEMPTS.swap(0, Ordering::AcqRel) == 0 {
            continue;
        }
        let outcome = offer(&mut pin, process, frame).map(|(o, _)| o);
        if let Some(o) = outcome.filter(|o| o.ejected) {
            data_used_ok &= o.data_used == o.extent;
            valid_flags &= o.options & 0x110 == 0x110;
            times[streamed as usize] = o.presentation_time;
            pictures[streamed as usize] = o.picture_number;
            streamed += 1;
            // The requestor returns the frame and takes the next with a spin lock held:
            // the allocator's Free and Allocate run at DISPATCH_LEVEL (KS-NOTES: only
            // paged frames are freed at PASSIVE_LEVEL).
            let done = frame.take();
            frame = with_spin_lock(|| {
                if let Some(f) = done {
                    requestor::give_back(&pin, f);
                }
                requestor::take(&pin)
            });
        }
    }
    let elapsed = now_100ns() - started;
    // SAFETY: no leading edge: the pin must pend.
    let empty = process.map_or(STATUS_SUCCESS, |p| unsafe { p(&mut pin.ks) });
    let stopped = set_state(&mut pin, KSSTATE_STOP);
    if let Some(f) = frame.take() {
        requestor::give_back(&pin, f);
    }
    let increasing = times[..streamed as usize].windows(2).all(|w| w[1] > w[0]);
    // Each timestamp is a frame's due time: a whole number of frame intervals.
    let on_grid = times[..streamed as usize].iter().all(|t| *t > 0 && t % 333_333 == 0);
    let numbered = pictures[..streamed as usize].windows(2).all(|w| w[1] > w[0]);
    say!(
        "process state={:#010x} early={} streamed={} data_used_ok={} increasing={} on_grid={} numbered={} flags_valid={} first_pts={} last_pts={} elapsed_ms={} empty={:#010x} stop={:#010x}",
        state as u32,
        early.map_or(2, |o| o.ejected as u32),
        streamed,
        data_used_ok as u32,
        increasing as u32,
        on_grid as u32,
        numbered as u32,
        valid_flags as u32,
        times[0],
        times[(streamed as usize).saturating_sub(1)],
        elapsed / 10_000,
        empty as u32,
        stopped as u32
    );
    check(
        "process",
        streamed as usize == PACED_FRAMES
            && data_used_ok
            && increasing
            && on_grid
            && numbered
            && valid_flags
            && empty == STATUS_PENDING,
    );
    // Stopped: the timer is cancelled and its DPC flushed; nothing asks for processing.
    let _ = ATTEMPTS.swap(0, Ordering::AcqRel);
    for _ in 0..20 {
        delay_5ms();
    }
    say!("after_stop attempts={}", ATTEMPTS.load(Ordering::Acquire));
    check("after_stop", ATTEMPTS.load(Ordering::Acquire) == 0);
    // What the driver called at DISPATCH_LEVEL (its DPC; Free and Allocate with a spin
    // lock held): every call must be one Windows allows there.
    say!(
        "irql dispatch_calls={} violations={}",
        DISPATCH_CALLS.load(Ordering::Relaxed),
        IRQL_VIOLATIONS.load(Ordering::Relaxed)
    );
    check("irql", IRQL_VIOLATIONS.load(Ordering::Relaxed) == 0 && DISPATCH_CALLS.load(Ordering::Relaxed) > 0);
    // The check bites: SetDataFormat (PASSIVE_LEVEL on Windows) called with a spin lock
    // held reaches _KsEdit, which Windows allows at PASSIVE_LEVEL only.
    let before = IRQL_VIOLATIONS.load(Ordering::Relaxed);
    let set_format = dispatch.and_then(|d| d.SetDataFormat);
    let _ = with_spin_lock(|| {
        // SAFETY: a live stopped pin with its own format as the proposed one; the wrong
        // IRQL is the point of the probe.
        set_format.map(|f| unsafe {
            f(
                &mut pin.ks,
                core::ptr::null_mut(),
                core::ptr::null_mut(),
                core::ptr::null(),
                core::ptr::null_mut(),
            )
        })
    });
    let probe = IRQL_VIOLATIONS.swap(before, Ordering::Relaxed) - before;
    say!("irql_probe violations={}", probe);

    let _ = stats_get(&pin, &mut out);
    let (allocations, frees) = (u64_at(&out, 0), u64_at(&out, 8));
    say!("alloc_balance allocations={} frees={}", allocations, frees);
    check("alloc_balance", allocations == frees && allocations == frames as u64 + PACED_FRAMES as u64 + 1);
    let (s, _) = unsafe {
        property(&pin, KSPROPSETID_KsframeAllocator, KSPROPERTY_KSFRAME_ALLOCATOR_RESET, 2, &mut out, 0)
    };
    say!("prop stats_reset status={:#010x}", s as u32);

    // --- one frame out, the allocator detached: DeleteAllocator defers the release --------
    let last = requestor::take(&pin);
    out[..8].fill(0);
    let (s, _) = unsafe {
        property_ex(&pin, KSPROPSETID_Stream, KSPROPERTY_STREAM_ALLOCATOR, 2, 24, KernelMode, &mut out, 8)
    };
    say!("detach status={:#010x} closed={}", s as u32, CLOSED.load(Ordering::Relaxed) as u32);
    check("detach", s == STATUS_SUCCESS && CLOSED.load(Ordering::Relaxed));
    if let Some(frame) = last {
        // SAFETY: the last frame of the deleted (still live) pool, through the driver's
        // own Free with the context InitializeAllocator returned.
        unsafe { ksframe::allocator::free(context, frame.data) };
    }

    // --- close ------------------------------------------------------------------------------
    pin.release_references();
    // SAFETY: the pin created above.
    let closed = dispatch
        .and_then(|d| d.Close)
        .map_or(STATUS_SUCCESS, |c| unsafe { c(&mut pin.ks, core::ptr::null_mut()) });
    let bag_items = free_bag();
    say!(
        "pin_close status={:#010x} context={} bag_items={}",
        closed as u32,
        (!pin.ks.Context.is_null()) as u32,
        bag_items
    );
    check("pin_close", NT_SUCCESS(closed) && pin.ks.Context.is_null());
}
