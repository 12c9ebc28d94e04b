//! The raw backend (the cross build): imports of ntoskrnl.exe declared by hand.
//!
//! On a Windows target the imports are `#[link(kind = "raw-dylib", modifiers = "+verbatim")]`, so rustc writes
//! the import table itself and no import library is needed: this is how the image is
//! linked on Linux with rust-lld. On any other target (a plain `cargo build` on Linux)
//! the same declarations are plain `extern` items, which type-checks the driver code.
//!
//! Every import here exists in Wine 8.0's ntoskrnl, except ExAllocatePool2 (Windows 10
//! 2004+), which is looked up at run time with MmGetSystemRoutineAddress, falling back
//! to ExAllocatePoolWithTag(NonPagedPoolNx) as drivers for older Windows do.
//!
//! The driver references no object by handle (KSPROPERTY_STREAM_ALLOCATOR is AVStream's
//! to answer, see the property module), so ObReferenceObjectByHandle, ObfDereferenceObject
//! and `IoFileObjectType` are not imported. An earlier version passed `*IoFileObjectType`
//! for a raw-dylib `static IoFileObjectType: *mut PVOID`: with raw-dylib the Rust static
//! *is* ntoskrnl's exported variable (a `POBJECT_TYPE`; the C header's extra `*` stands
//! for the import indirection that rustc already performs), so the dereference passed
//! the first word of the OBJECT_TYPE and every real handle would have failed with
//! STATUS_OBJECT_TYPE_MISMATCH. A data import declared through raw-dylib is used
//! without a dereference.
//!
//! # Kernel contract
//!
//! As in the parent module: pool calls at IRQL <= DISPATCH_LEVEL, DbgPrintEx at any IRQL
//! up to DIRQL (its arguments must be resident, which a stack buffer is).

use crate::ks::{NTSTATUS, PVOID};
#[cfg(not(all(feature = "wdk", windows)))]
use crate::ks::{NonPagedPoolNx, POOL_TYPE};
#[cfg(not(all(feature = "wdk", windows)))]
use core::sync::atomic::{AtomicUsize, Ordering};

#[cfg(not(all(feature = "wdk", windows)))]
pub(super) const NAME: &str = "raw";

/// `POOL_FLAG_NON_PAGED` for ExAllocatePool2 (wdm.h).
#[cfg(not(all(feature = "wdk", windows)))]
const POOL_FLAG_NON_PAGED: u64 = 0x0000_0000_0000_0040;
/// `POOL_FLAG_UNINITIALIZED` (wdm.h): no zeroing by ExAllocatePool2; the pool layer
/// above fills the block once (ExAllocatePoolWithTag never zeroes either).
#[cfg(not(all(feature = "wdk", windows)))]
const POOL_FLAG_UNINITIALIZED: u64 = 0x0000_0000_0000_0002;
/// `DPFLTR_IHVDRIVER_ID` (dpfilter.h): the component id for third-party drivers.
const DPFLTR_IHVDRIVER_ID: u32 = 77;
/// `DPFLTR_INFO_LEVEL`: shown when `Debug Print Filter\IHVDRIVER` allows level 3.
const DPFLTR_INFO_LEVEL: u32 = 3;

/// `UNICODE_STRING` as MmGetSystemRoutineAddress takes it.
#[cfg(not(all(feature = "wdk", windows)))]
#[repr(C)]
struct UnicodeStr {
    length: u16,
    maximum_length: u16,
    buffer: *const u16,
}

#[cfg(not(all(feature = "wdk", windows)))]
type ExAllocatePool2Fn = unsafe extern "system" fn(flags: u64, bytes: usize, tag: u32) -> PVOID;

#[cfg(not(all(feature = "wdk", windows)))]
#[cfg_attr(windows, link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim"))]
unsafe extern "system" {
    fn ExAllocatePoolWithTag(pool_type: POOL_TYPE, bytes: usize, tag: u32) -> PVOID;
    fn ExFreePoolWithTag(p: PVOID, tag: u32);
    fn MmGetSystemRoutineAddress(name: *const UnicodeStr) -> PVOID;
}

#[cfg_attr(windows, link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim"))]
unsafe extern "C" {
    fn DbgPrintEx(component_id: u32, level: u32, format: *const u8, ...) -> u32;
}

/// The resolved ExAllocatePool2, or 1 when it is absent, or 0 before the first lookup.
#[cfg(not(all(feature = "wdk", windows)))]
static EX_ALLOCATE_POOL2: AtomicUsize = AtomicUsize::new(0);
#[cfg(not(all(feature = "wdk", windows)))]
const ABSENT: usize = 1;

/// UTF-16 of "ExAllocatePool2", built at compile time (an out-of-bounds index here would
/// be a compile error, not a run-time panic).
#[cfg(not(all(feature = "wdk", windows)))]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const EX_ALLOCATE_POOL2_NAME: [u16; 15] = {
    let s = b"ExAllocatePool2";
    let mut out = [0u16; 15];
    let mut i = 0;
    while i < s.len() {
        out[i] = s[i] as u16;
        i += 1;
    }
    out
};

/// Its length in bytes, as UNICODE_STRING counts it.
#[cfg(not(all(feature = "wdk", windows)))]
#[allow(clippy::arithmetic_side_effects)]
const EX_ALLOCATE_POOL2_BYTES: u16 = (EX_ALLOCATE_POOL2_NAME.len() * 2) as u16;

#[cfg(not(all(feature = "wdk", windows)))]
fn ex_allocate_pool2() -> Option<ExAllocatePool2Fn> {
    let mut cached = EX_ALLOCATE_POOL2.load(Ordering::Acquire);
    if cached == 0 {
        let name = UnicodeStr {
            length: EX_ALLOCATE_POOL2_BYTES,
            maximum_length: EX_ALLOCATE_POOL2_BYTES,
            buffer: EX_ALLOCATE_POOL2_NAME.as_ptr(),
        };
        // SAFETY: `name` is a valid counted string for the duration of the call;
        // MmGetSystemRoutineAddress runs at PASSIVE_LEVEL, and so does the first pool
        // allocation of a driver (DriverEntry / pin creation).
        let found = unsafe { MmGetSystemRoutineAddress(&name) };
        cached = if found.is_null() { ABSENT } else { found as usize };
        // Racing first calls store the same value: Release publishes it.
        EX_ALLOCATE_POOL2.store(cached, Ordering::Release);
    }
    if cached == ABSENT {
        return None;
    }
    // SAFETY: `cached` is the address of the kernel's ExAllocatePool2, whose signature
    // is ExAllocatePool2Fn (wdm.h).
    Some(unsafe { core::mem::transmute::<usize, ExAllocatePool2Fn>(cached) })
}

/// Which allocator the raw backend uses on this kernel, for the load log.
#[cfg(not(all(feature = "wdk", windows)))]
pub(super) fn pool_routine_name() -> &'static str {
    if ex_allocate_pool2().is_some() { "ExAllocatePool2" } else { "ExAllocatePoolWithTag" }
}

#[cfg(not(all(feature = "wdk", windows)))]
pub(super) unsafe fn pool_alloc(bytes: usize, tag: u32) -> *mut u8 {
    match ex_allocate_pool2() {
        // SAFETY: documented ntoskrnl calls with a non-paged pool request; callers stay
        // at IRQL <= DISPATCH_LEVEL (module contract).
        Some(alloc2) => unsafe { alloc2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, bytes, tag) }.cast(),
        // SAFETY: as above.
        None => unsafe { ExAllocatePoolWithTag(NonPagedPoolNx, bytes, tag) }.cast(),
    }
}

#[cfg(not(all(feature = "wdk", windows)))]
pub(super) unsafe fn fill_zero(ptr: *mut u8, len: usize) {
    // SAFETY: the caller's contract: `len` writable bytes at `ptr`.
    unsafe { core::ptr::write_bytes(ptr, 0, len) }
}

#[cfg(not(all(feature = "wdk", windows)))]
pub(super) unsafe fn pool_free(ptr: *mut u8, tag: u32) {
    // SAFETY: the caller passes a block from pool_alloc with its tag (parent contract).
    unsafe { ExFreePoolWithTag(ptr.cast(), tag) }
}

pub(super) fn log(args: core::fmt::Arguments<'_>) {
    let line = super::format_line::<256>(args);
    // SAFETY: "%s" with a NUL-terminated buffer on our stack, valid for the call.
    unsafe {
        DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, c"%s".as_ptr().cast(), line.as_c_ptr());
    }
}

#[cfg_attr(windows, link(name = "ks.sys", kind = "raw-dylib", modifiers = "+verbatim"))]
unsafe extern "system" {
    fn KsGetPinFromIrp(Irp: *mut crate::ks::IRP) -> *mut crate::ks::KSPIN;
    fn _KsEdit(
        Bag: crate::ks::KSOBJECT_BAG,
        PointerToPointer: *mut PVOID,
        NewSize: u32,
        OldSize: u32,
        Tag: u32,
    ) -> NTSTATUS;
    fn KsPinGetLeadingEdgeStreamPointer(
        Pin: *mut crate::ks::KSPIN,
        State: i32,
    ) -> *mut crate::ks::KSSTREAM_POINTER;
    fn KsStreamPointerAdvanceOffsetsAndUnlock(
        StreamPointer: *mut crate::ks::KSSTREAM_POINTER,
        InUsed: u32,
        OutUsed: u32,
        Eject: u8,
    );
    fn KsInitializeDriver(
        DriverObject: *mut crate::ks::DRIVER_OBJECT,
        RegistryPathName: *const crate::ks::UNICODE_STRING,
        Descriptor: *const crate::ks::KSDEVICE_DESCRIPTOR,
    ) -> NTSTATUS;
}

#[cfg(not(all(feature = "wdk", windows)))]
#[cfg_attr(windows, link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim"))]
unsafe extern "system" {
    fn KeBugCheckEx(code: u32, p1: usize, p2: usize, p3: usize, p4: usize) -> !;
}

pub(super) unsafe fn pin_from_irp(irp: *mut crate::ks::IRP) -> *mut crate::ks::KSPIN {
    // SAFETY: a valid IRP that KS dispatched to a pin (the caller's contract).
    unsafe { KsGetPinFromIrp(irp) }
}

pub(super) unsafe fn ks_edit(bag: crate::ks::KSOBJECT_BAG, item: *mut PVOID, size: u32) -> NTSTATUS {
    // SAFETY: the caller's contract is _KsEdit's (KsEdit passes the same old and new size).
    unsafe { _KsEdit(bag, item, size, size, super::POOL_TAG) }
}

#[cfg_attr(windows, link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim"))]
unsafe extern "system" {
    fn KeInitializeTimerEx(Timer: *mut crate::ks::KTIMER, Type: i32);
    fn KeInitializeDpc(Dpc: *mut crate::ks::KDPC, Routine: crate::ks::PKDEFERRED_ROUTINE, Context: PVOID);
    fn KeSetTimerEx(
        Timer: *mut crate::ks::KTIMER,
        DueTime: i64,
        Period: i32,
        Dpc: *mut crate::ks::KDPC,
    ) -> u8;
    fn KeCancelTimer(Timer: *mut crate::ks::KTIMER) -> u8;
    fn KeFlushQueuedDpcs();
    fn KeAcquireSpinLockRaiseToDpc(SpinLock: *mut usize) -> u8;
    fn KeReleaseSpinLock(SpinLock: *mut usize, NewIrql: u8);
}

pub(super) unsafe fn acquire_spin_lock(lock: *mut usize) -> u8 {
    // SAFETY: a KSPIN_LOCK in non-paged memory, IRQL <= DISPATCH_LEVEL (the caller's
    // contract).
    unsafe { KeAcquireSpinLockRaiseToDpc(lock) }
}

pub(super) unsafe fn release_spin_lock(lock: *mut usize, old: u8) {
    // SAFETY: a lock this thread holds, with the IRQL its acquisition returned.
    unsafe { KeReleaseSpinLock(lock, old) }
}

// HAL's export on every x64 Windows (forwarded to ntoskrnl since Windows 8) and in
// Wine's hal.dll; mingw-w64's libhal.a lists it.
#[cfg_attr(windows, link(name = "hal.dll", kind = "raw-dylib", modifiers = "+verbatim"))]
unsafe extern "system" {
    fn KeQueryPerformanceCounter(PerformanceFrequency: *mut i64) -> i64;
}

#[cfg_attr(windows, link(name = "ks.sys", kind = "raw-dylib", modifiers = "+verbatim"))]
unsafe extern "system" {
    fn KsPinAttemptProcessing(Pin: *mut crate::ks::KSPIN, Asynchronous: u8);
    fn KsPinGetReferenceClockInterface(
        Pin: *mut crate::ks::KSPIN,
        Interface: *mut *mut crate::ks::IKsReferenceClock,
    ) -> NTSTATUS;
}

pub(super) fn performance_counter() -> (i64, i64) {
    let mut frequency = 0i64;
    // SAFETY: any IRQL; `frequency` is a valid out pointer.
    let count = unsafe { KeQueryPerformanceCounter(&mut frequency) };
    (count, frequency)
}

pub(super) unsafe fn initialize_timer(timer: *mut crate::ks::KTIMER) {
    // SAFETY: the caller's contract (kernel::time::Timer::init).
    unsafe { KeInitializeTimerEx(timer, crate::ks::NotificationTimer) }
}

pub(super) unsafe fn initialize_dpc(
    dpc: *mut crate::ks::KDPC,
    routine: super::time::DpcRoutine,
    context: PVOID,
) {
    // SAFETY: the caller's contract (kernel::time::Timer::init).
    unsafe { KeInitializeDpc(dpc, Some(routine), context) }
}

pub(super) unsafe fn set_timer(timer: *mut crate::ks::KTIMER, due: i64, dpc: *mut crate::ks::KDPC) -> bool {
    // SAFETY: an initialised timer and DPC (the caller's contract); one-shot (period 0).
    unsafe { KeSetTimerEx(timer, due, 0, dpc) != 0 }
}

pub(super) unsafe fn cancel_timer(timer: *mut crate::ks::KTIMER) -> bool {
    // SAFETY: an initialised timer (the caller's contract).
    unsafe { KeCancelTimer(timer) != 0 }
}

pub(super) unsafe fn flush_queued_dpcs() {
    // SAFETY: PASSIVE_LEVEL (the caller's contract).
    unsafe { KeFlushQueuedDpcs() }
}

pub(super) unsafe fn attempt_processing(pin: *mut crate::ks::KSPIN, asynchronous: bool) {
    // SAFETY: a live pin at IRQL <= DISPATCH_LEVEL (the caller's contract).
    unsafe { KsPinAttemptProcessing(pin, u8::from(asynchronous)) }
}

pub(super) unsafe fn reference_clock(
    pin: *mut crate::ks::KSPIN,
    interface: *mut *mut crate::ks::IKsReferenceClock,
) -> NTSTATUS {
    // SAFETY: a live pin at PASSIVE_LEVEL, a valid out pointer (the caller's contract).
    unsafe { KsPinGetReferenceClockInterface(pin, interface) }
}

/// KSSTREAM_POINTER_STATE_LOCKED (ks.h).
const KSSTREAM_POINTER_STATE_LOCKED: i32 = 1;

pub(super) unsafe fn leading_edge(pin: *mut crate::ks::KSPIN) -> *mut crate::ks::KSSTREAM_POINTER {
    // SAFETY: the live pin of the current Process call (the caller's contract).
    unsafe { KsPinGetLeadingEdgeStreamPointer(pin, KSSTREAM_POINTER_STATE_LOCKED) }
}

pub(super) unsafe fn advance_and_unlock(
    pointer: *mut crate::ks::KSSTREAM_POINTER,
    in_used: u32,
    out_used: u32,
    eject: bool,
) {
    // SAFETY: a locked stream pointer of the current Process call (the caller's contract).
    unsafe { KsStreamPointerAdvanceOffsetsAndUnlock(pointer, in_used, out_used, u8::from(eject)) }
}

/// `KsInitializeDriver`: hands the driver object to AVStream with the device descriptor.
///
/// # Safety
///
/// Call from DriverEntry at PASSIVE_LEVEL with the arguments DriverEntry received;
/// `descriptor` must outlive the driver (a static).
pub(crate) unsafe fn ks_initialize_driver(
    driver: *mut crate::ks::DRIVER_OBJECT,
    registry_path: *const crate::ks::UNICODE_STRING,
    descriptor: &'static crate::ks::KSDEVICE_DESCRIPTOR,
) -> NTSTATUS {
    // SAFETY: the caller's contract is KsInitializeDriver's.
    unsafe { KsInitializeDriver(driver, registry_path, descriptor) }
}

/// Stops the machine with MANUALLY_INITIATED_CRASH (0xE2) and `KsFr` + `line` as
/// parameters: what a panic in the cross build does (there is no unwinding; the driver
/// build uses wdk-panic's handler).
#[cfg(not(all(feature = "wdk", windows)))]
pub(crate) fn bug_check(line: u32) -> ! {
    // SAFETY: KeBugCheckEx may be called at any IRQL and does not return.
    unsafe { KeBugCheckEx(0xE2, super::POOL_TAG as usize, line as usize, 0, 0) }
}

/// What the compiler's output needs from a C runtime, for the cross build only (the WDK
/// build links the kernel CRT, libcntpr.lib, instead).
///
/// - `memcpy`, `memmove`, `memset`, `memcmp`: LLVM emits calls to them; ntoskrnl.exe
///   exports all four, so they are imported from it like any kernel routine.
/// - `__CxxFrameHandler3`: the precompiled `core` for this target was built with
///   unwinding, and its unwind tables name this personality routine. With
///   `panic = "abort"` no Rust unwind ever starts; should a kernel SEH exception pass
///   through a `core` frame, the routine answers ExceptionContinueSearch, so the search
///   goes on to the frames that have a handler, as if `core` had none.
/// - `_fltused`: MSVC's marker that the image contains floating-point code (`core`'s
///   float formatting); the driver itself does no floating point.
#[cfg(all(windows, not(feature = "wdk")))]
mod crt {
    // Never called from Rust: the linker resolves LLVM's calls against these imports.
    #[allow(dead_code)]
    #[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
    unsafe extern "C" {
        pub fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8;
        pub fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8;
        pub fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8;
        pub fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32;
    }

    /// EXCEPTION_DISPOSITION::ExceptionContinueSearch.
    const EXCEPTION_CONTINUE_SEARCH: i32 = 1;

    #[unsafe(no_mangle)]
    extern "C" fn __CxxFrameHandler3(
        _record: *mut u8,
        _frame: *mut u8,
        _context: *mut u8,
        _dispatcher: *mut u8,
    ) -> i32 {
        EXCEPTION_CONTINUE_SEARCH
    }

    #[unsafe(no_mangle)]
    #[used]
    static _fltused: i32 = 0;
}
