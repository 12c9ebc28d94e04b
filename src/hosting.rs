//! KMDF hosting of the AVStream driver.
//!
//! In the Windows driver build (feature `wdk` on a Windows target), DriverEntry first
//! creates the KMDF driver object with `WdfDriverInitNoDispatchOverride` (AVStream keeps
//! the IRP dispatch table), and the KSDEVICE Add callback binds the device to KMDF with
//! `WdfDeviceMiniportCreate`. In the cross and host builds there is no KMDF: both steps
//! succeed without doing anything.
//!
//! Only a Windows build with the WDK compiles the `kmdf` part; nothing on the Linux
//! machines this project is developed on checks it. `WdfDeviceMiniportCreate` lives in
//! wdfminiport.h, which wdk-sys's generated bindings may not cover, so it is called
//! through the WDF function table at `WdfDeviceMiniportCreateTableIndex` with its
//! signature declared here (wdfminiport.h), the way wdk-macros calls every WDF function.
//!
//! # Kernel contract
//!
//! Both functions run at PASSIVE_LEVEL: `driver_create` from DriverEntry, `device_add`
//! from AVStream's Add dispatch with the new KSDEVICE.

use crate::ks::{KSDEVICE, NTSTATUS};

#[cfg(all(feature = "wdk", windows, not(feature = "host")))]
mod kmdf {
    use crate::ks::{DRIVER_OBJECT, KSDEVICE, NTSTATUS, UNICODE_STRING};
    use wdk_sys::call_unsafe_wdf_function_binding;

    /// `WdfDeviceMiniportCreate` (wdfminiport.h).
    type PfnWdfDeviceMiniportCreate = unsafe extern "C" fn(
        DriverGlobals: wdk_sys::PWDF_DRIVER_GLOBALS,
        Driver: wdk_sys::WDFDRIVER,
        Attributes: wdk_sys::PWDF_OBJECT_ATTRIBUTES,
        DeviceObject: wdk_sys::PDEVICE_OBJECT,
        AttachedDeviceObject: wdk_sys::PDEVICE_OBJECT,
        Pdo: wdk_sys::PDEVICE_OBJECT,
        Device: *mut wdk_sys::WDFDEVICE,
    ) -> NTSTATUS;

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

    pub(super) unsafe fn device_add(device: *mut KSDEVICE) -> NTSTATUS {
        // SAFETY: AVStream's Add passes a live device with its device objects set.
        let Some(device) = (unsafe { device.as_ref() }) else {
            return crate::ks::STATUS_INVALID_PARAMETER;
        };
        // SAFETY: the WDF function table holds get_wdf_function_count() entries (as
        // wdk-macros relies on) and the entry at WdfDeviceMiniportCreateTableIndex has
        // the signature of wdfminiport.h.
        unsafe {
            let count = wdk_sys::wdf::__private::get_wdf_function_count();
            let table = core::slice::from_raw_parts(wdk_sys::WdfFunctions, count);
            let Some(entry) = table
                .get(wdk_sys::_WDFFUNCENUM::WdfDeviceMiniportCreateTableIndex as usize)
                .copied()
                .flatten()
            else {
                return crate::ks::STATUS_NOT_SUPPORTED;
            };
            let create: PfnWdfDeviceMiniportCreate = core::mem::transmute(entry);
            let mut wdf_device: wdk_sys::WDFDEVICE = core::ptr::null_mut();
            create(
                wdk_sys::WdfDriverGlobals,
                call_unsafe_wdf_function_binding!(WdfGetDriver),
                wdk_sys::WDF_NO_OBJECT_ATTRIBUTES,
                device.FunctionalDeviceObject.cast(),
                device.NextDeviceObject.cast(),
                device.PhysicalDeviceObject.cast(),
                &mut wdf_device,
            )
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
        return unsafe { kmdf::driver_create(driver, registry_path) };
    }
    #[cfg(not(all(feature = "wdk", windows)))]
    {
        let _ = (driver, registry_path);
        crate::ks::STATUS_SUCCESS
    }
}

/// Binds the AVStream device to KMDF (KMDF build); nothing elsewhere.
pub fn device_add(device: *mut KSDEVICE) -> NTSTATUS {
    #[cfg(all(feature = "wdk", windows, not(feature = "host")))]
    {
        // SAFETY: called from AVStream's Add dispatch with its device.
        return unsafe { kmdf::device_add(device) };
    }
    #[cfg(not(all(feature = "wdk", windows, not(feature = "host"))))]
    {
        let _ = device;
        crate::ks::STATUS_SUCCESS
    }
}
