//! Driver entry for the kernel builds (driver and cross); absent from the host build.
//!
//! # Kernel contract
//!
//! `DriverEntry` runs once, at PASSIVE_LEVEL, in the system process, with the driver
//! object and its registry path; in the KMDF build KMDF's `FxDriverEntry` runs first and
//! calls it. It hands the driver to AVStream with `KsInitializeDriver`, which installs
//! AVStream's dispatch routines in the driver object.

use crate::avstream::DEVICE_DESCRIPTOR;
use crate::kernel::raw;
use crate::ks::{DRIVER_OBJECT, NTSTATUS, UNICODE_STRING};

/// The driver's entry point (`/ENTRY:DriverEntry` in the cross build; called by
/// `FxDriverEntry` in the KMDF build).
///
/// # Safety
///
/// Called only by the kernel's loader (or KMDF), with a valid driver object and
/// registry path, at PASSIVE_LEVEL.
#[cfg(not(feature = "no-entry"))]
#[unsafe(no_mangle)]
pub unsafe extern "system" fn DriverEntry(
    driver: *mut DRIVER_OBJECT,
    registry_path: *const UNICODE_STRING,
) -> NTSTATUS {
    crate::log!("DriverEntry backend={} pool={}", crate::kernel::BACKEND, crate::kernel::pool_routine_name());
    // SAFETY: DriverEntry's arguments (KMDF driver object first; nothing in the cross
    // build).
    let status = unsafe { crate::hosting::driver_create(driver, registry_path) };
    if !crate::ks::NT_SUCCESS(status) {
        crate::log!("DriverEntry WdfDriverCreate status={:#010x}", status as u32);
        return status;
    }
    // SAFETY: we are DriverEntry: the arguments are the loader's, PASSIVE_LEVEL holds,
    // and DEVICE_DESCRIPTOR (crate::avstream) is a static.
    let status = unsafe { raw::ks_initialize_driver(driver, registry_path, &DEVICE_DESCRIPTOR) };
    crate::log!("DriverEntry status={:#010x}", status as u32);
    if crate::ks::NT_SUCCESS(status) {
        // SAFETY: DriverEntry's driver object, after KsInitializeDriver succeeded.
        unsafe { crate::hosting::wrap_unload(driver) };
    }
    status
}

// The driver build: wdk-panic's handler and wdk-alloc's global allocator (pool-backed,
// tag "rust"), as in the windows-drivers-rs samples. The cross build has its own panic
// handler below and no global allocator (nothing in the driver allocates implicitly).
/// With feature `no-entry` (an image that links ksframe as a library: the Wine stand-in
/// ks.sys) the entry does nothing; such an image's entry point is never called.
#[cfg(feature = "no-entry")]
#[unsafe(no_mangle)]
pub extern "system" fn DriverEntry(
    _driver: *mut DRIVER_OBJECT,
    _registry_path: *const UNICODE_STRING,
) -> NTSTATUS {
    crate::ks::STATUS_SUCCESS
}

#[cfg(all(feature = "wdk", windows))]
extern crate wdk_panic;

#[cfg(all(feature = "wdk", windows))]
#[global_allocator]
static GLOBAL_ALLOCATOR: wdk_alloc::WdkAllocator = wdk_alloc::WdkAllocator;

/// Panics end in a bug check in the cross build (no unwinding in the kernel).
#[cfg(not(all(feature = "wdk", windows)))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let line = info.location().map_or(0, |l| l.line());
    raw::bug_check(line)
}
