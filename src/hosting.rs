//! KMDF hosting of the AVStream driver (the windows-drivers-rs build).
//!
//! AVStream owns the driver's IRP dispatch; KMDF is hosted the miniport way ("Using
//! Kernel-Mode Driver Framework with Miniport Drivers"; KS-NOTES, "KMDF hosting and the
//! windows-drivers-rs build"):
//!
//! 1. DriverEntry creates the KMDF driver object with `WdfDriverInitNoDispatchOverride`
//!    (KMDF installs no dispatch routines and no unload of its own), then calls
//!    `KsInitializeDriver`; [`wrap_unload`] then puts an unload routine in front of the
//!    one KS installed, which runs KS's and then `WdfDriverMiniportUnload(WdfGetDriver())`
//!    (wdfminiport.h: "typically from within a driver-supplied unload routine that is
//!    defined by the port driver's architecture").
//! 2. The KSDEVICE Add callback binds the device to KMDF with `WdfDeviceMiniportCreate`
//!    and keeps the WDFDEVICE in `KSDEVICE.Context`; the Remove callback deletes it with
//!    `WdfObjectDelete`.
//!
//! In the cross and host builds there is no KMDF: every step succeeds without doing
//! anything.
//!
//! wdk-sys binds `wdf.h`, not `wdfminiport.h`: `WdfDeviceMiniportCreate` (table index 200
//! in KMDF 1.15–1.33) and `WdfDriverMiniportUnload` (201) are called through the WDF
//! function table with their signatures declared here from wdfminiport.h, the way
//! wdk-macros calls every bound WDF function. `WdfGetDriver` is an inline function of
//! wdfdriver.h (`WdfDriverGlobals->Driver`), not a table entry.
//!
//! The `kmdf` part is compiled only for a Windows target with the `wdk` feature; on
//! Linux the test command type-checks and lints it against a shim of the wdk crates
//! with the real wdk-macros (scripts/check-wdk.sh).
//!
//! # Kernel contract
//!
//! PASSIVE_LEVEL throughout: [`driver_create`] and [`wrap_unload`] from DriverEntry,
//! [`device_add`] and [`device_remove`] from AVStream's Add and Remove dispatches, the
//! unload routine from the I/O manager.

use crate::ks::{KSDEVICE, NTSTATUS};

#[cfg(all(feature = "wdk", windows, not(feature = "host")))]
mod kmdf {
    use crate::ks::{DRIVER_OBJECT, KSDEVICE, NTSTATUS, PDRIVER_UNLOAD, UNICODE_STRING};
    use core::sync::atomic::{AtomicPtr, Ordering};
    use wdk_sys::call_unsafe_wdf_function_binding;

    /// `PFN_WDFDEVICEMINIPORTCREATE` (wdfminiport.h).
    type PfnWdfDeviceMiniportCreate = unsafe extern "C" fn(
        driver_globals: wdk_sys::PWDF_DRIVER_GLOBALS,
        driver: wdk_sys::WDFDRIVER,
        attributes: wdk_sys::PWDF_OBJECT_ATTRIBUTES,
        device_object: wdk_sys::PDEVICE_OBJECT,
        attached_device_object: wdk_sys::PDEVICE_OBJECT,
        pdo: wdk_sys::PDEVICE_OBJECT,
        device: *mut wdk_sys::WDFDEVICE,
    ) -> wdk_sys::NTSTATUS;

    /// `PFN_WDFDRIVERMINIPORTUNLOAD` (wdfminiport.h).
    type PfnWdfDriverMiniportUnload =
        unsafe extern "C" fn(driver_globals: wdk_sys::PWDF_DRIVER_GLOBALS, driver: wdk_sys::WDFDRIVER);

    /// The unload routine KsInitializeDriver installed (null until [`wrap_unload`]).
    static KS_UNLOAD: AtomicPtr<core::ffi::c_void> = AtomicPtr::new(core::ptr::null_mut());

    /// The WDF function table entry at `index`, if the table has one.
    ///
    /// # Safety
    ///
    /// After WdfDriverCreate succeeded (the table and its count are KMDF's).
    unsafe fn table_entry(index: usize) -> wdk_sys::WDFFUNC {
        // SAFETY: the WDF function table holds get_wdf_function_count() entries, as
        // wdk-macros relies on.
        unsafe {
            let count = wdk_sys::wdf::__private::get_wdf_function_count();
            let table = core::slice::from_raw_parts(wdk_sys::WdfFunctions, count);
            table.get(index).copied().flatten()
        }
    }

    /// `WdfGetDriver()` (wdfdriver.h, inline): the driver globals' Driver.
    ///
    /// # Safety
    ///
    /// After WdfDriverCreate succeeded.
    unsafe fn wdf_get_driver() -> wdk_sys::WDFDRIVER {
        // SAFETY: KMDF's driver globals are valid once the driver object exists.
        unsafe { (*wdk_sys::WdfDriverGlobals).Driver }
    }

    pub(super) unsafe fn driver_create(
        driver: *mut DRIVER_OBJECT,
        registry_path: *const UNICODE_STRING,
    ) -> NTSTATUS {
        let mut config = wdk_sys::WDF_DRIVER_CONFIG {
            Size: core::mem::size_of::<wdk_sys::WDF_DRIVER_CONFIG>() as u32,
            DriverInitFlags: wdk_sys::_WDF_DRIVER_INIT_FLAGS::WdfDriverInitNoDispatchOverride as u32,
            ..Default::default()
        };
        // SAFETY: DriverEntry's own arguments, at PASSIVE_LEVEL; no attributes, and the
        // driver handle is not needed (WdfGetDriver finds it).
        unsafe {
            call_unsafe_wdf_function_binding!(
                WdfDriverCreate,
                driver.cast(),
                registry_path.cast(),
                wdk_sys::WDF_NO_OBJECT_ATTRIBUTES,
                &mut config,
                wdk_sys::WDF_NO_HANDLE.cast()
            )
        }
    }

    pub(super) unsafe fn wrap_unload(driver: *mut DRIVER_OBJECT) {
        // SAFETY: DriverEntry's driver object, after KsInitializeDriver set its unload.
        if let Some(driver) = unsafe { driver.as_mut() } {
            let ks = driver.DriverUnload.map_or(core::ptr::null_mut(), |f| f as *mut core::ffi::c_void);
            KS_UNLOAD.store(ks, Ordering::Release);
            driver.DriverUnload = Some(driver_unload);
        }
    }

    /// The driver's unload: KS's, then the KMDF driver object's deletion.
    unsafe extern "system" fn driver_unload(driver: *mut DRIVER_OBJECT) {
        let ks = KS_UNLOAD.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if !ks.is_null() {
            // SAFETY: the PDRIVER_UNLOAD KsInitializeDriver installed, stored as a
            // pointer by wrap_unload.
            let ks: PDRIVER_UNLOAD = unsafe { core::mem::transmute(ks) };
            if let Some(ks) = ks {
                // SAFETY: the I/O manager's unload call, passed on.
                unsafe { ks(driver) };
            }
        }
        // SAFETY: WdfDriverCreate succeeded before KsInitializeDriver ran; the entry at
        // WdfDriverMiniportUnloadTableIndex has wdfminiport.h's signature.
        unsafe {
            if let Some(entry) =
                table_entry(wdk_sys::_WDFFUNCENUM::WdfDriverMiniportUnloadTableIndex as usize)
            {
                let unload: PfnWdfDriverMiniportUnload = core::mem::transmute(entry);
                unload(wdk_sys::WdfDriverGlobals, wdf_get_driver());
            }
        }
    }

    pub(super) unsafe fn device_add(device: *mut KSDEVICE) -> NTSTATUS {
        // SAFETY: AVStream's Add passes a live device with its device objects set.
        let Some(device) = (unsafe { device.as_mut() }) else {
            return crate::ks::STATUS_INVALID_PARAMETER;
        };
        // SAFETY: after WdfDriverCreate; the entry at WdfDeviceMiniportCreateTableIndex
        // has wdfminiport.h's signature.
        unsafe {
            let Some(entry) = table_entry(wdk_sys::_WDFFUNCENUM::WdfDeviceMiniportCreateTableIndex as usize)
            else {
                return crate::ks::STATUS_NOT_SUPPORTED;
            };
            let create: PfnWdfDeviceMiniportCreate = core::mem::transmute(entry);
            let mut wdf_device: wdk_sys::WDFDEVICE = core::ptr::null_mut();
            let status = create(
                wdk_sys::WdfDriverGlobals,
                wdf_get_driver(),
                wdk_sys::WDF_NO_OBJECT_ATTRIBUTES,
                device.FunctionalDeviceObject.cast(),
                device.NextDeviceObject.cast(),
                device.PhysicalDeviceObject.cast(),
                &mut wdf_device,
            );
            if crate::ks::NT_SUCCESS(status) {
                device.Context = wdf_device.cast();
            }
            status
        }
    }

    pub(super) unsafe fn device_remove(device: *mut KSDEVICE) {
        // SAFETY: AVStream's Remove passes the live device Add saw.
        let Some(device) = (unsafe { device.as_mut() }) else {
            return;
        };
        let wdf_device = core::mem::replace(&mut device.Context, core::ptr::null_mut());
        if !wdf_device.is_null() {
            // SAFETY: the WDFDEVICE WdfDeviceMiniportCreate made in Add, deleted once.
            unsafe { call_unsafe_wdf_function_binding!(WdfObjectDelete, wdf_device.cast()) };
        }
    }
}

/// Creates the KMDF driver object (KMDF build); nothing elsewhere.
///
/// # Safety
///
/// Call from DriverEntry with its arguments.
#[cfg(not(feature = "host"))]
pub(crate) unsafe fn driver_create(
    driver: *mut crate::ks::DRIVER_OBJECT,
    registry_path: *const crate::ks::UNICODE_STRING,
) -> NTSTATUS {
    #[cfg(all(feature = "wdk", windows))]
    {
        // SAFETY: the caller's contract.
        unsafe { kmdf::driver_create(driver, registry_path) }
    }
    #[cfg(not(all(feature = "wdk", windows)))]
    {
        let _ = (driver, registry_path);
        crate::ks::STATUS_SUCCESS
    }
}

/// Puts the KMDF teardown after KS's unload routine (KMDF build); nothing elsewhere.
///
/// # Safety
///
/// Call from DriverEntry, after KsInitializeDriver succeeded, with its driver object.
#[cfg(not(feature = "host"))]
pub(crate) unsafe fn wrap_unload(driver: *mut crate::ks::DRIVER_OBJECT) {
    #[cfg(all(feature = "wdk", windows))]
    {
        // SAFETY: the caller's contract.
        unsafe { kmdf::wrap_unload(driver) }
    }
    #[cfg(not(all(feature = "wdk", windows)))]
    {
        let _ = driver;
    }
}

/// Binds the AVStream device to KMDF (KMDF build); nothing elsewhere.
pub fn device_add(device: *mut KSDEVICE) -> NTSTATUS {
    #[cfg(all(feature = "wdk", windows, not(feature = "host")))]
    {
        // SAFETY: called from AVStream's Add dispatch with its device.
        unsafe { kmdf::device_add(device) }
    }
    #[cfg(not(all(feature = "wdk", windows, not(feature = "host"))))]
    {
        let _ = device;
        crate::ks::STATUS_SUCCESS
    }
}

/// Deletes the device's WDFDEVICE (KMDF build); nothing elsewhere.
pub fn device_remove(device: *mut KSDEVICE) {
    #[cfg(all(feature = "wdk", windows, not(feature = "host")))]
    {
        // SAFETY: called from AVStream's Remove dispatch with its device.
        unsafe { kmdf::device_remove(device) }
    }
    #[cfg(not(all(feature = "wdk", windows, not(feature = "host"))))]
    {
        let _ = device;
    }
}
