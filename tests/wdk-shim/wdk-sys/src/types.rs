// The items of wdk-sys 0.5.2's bindgen-generated `types.rs` (KMDF 1.33, x64) that ksframe
// uses, in bindgen's shape. The real wdk-macros proc-macro parses this file: it finds
// `_WDFFUNCENUM` and the `PFN_<FUNCTION>` aliases to build each WDF call.

#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals, dead_code)]

// --- basic types (ntdef.h, basetsd.h) ---------------------------------------------------
pub type CHAR = ::core::ffi::c_char;
pub type UCHAR = ::core::ffi::c_uchar;
pub type BOOLEAN = UCHAR;
pub type USHORT = ::core::ffi::c_ushort;
pub type WCHAR = ::core::ffi::c_ushort;
pub type PWCH = *mut WCHAR;
pub type LONG = ::core::ffi::c_long;
pub type ULONG = ::core::ffi::c_ulong;
pub type ULONG64 = ::core::ffi::c_ulonglong;
pub type ULONG_PTR = ::core::ffi::c_ulonglong;
pub type SIZE_T = ULONG_PTR;
pub type NTSTATUS = LONG;
pub type PVOID = *mut ::core::ffi::c_void;
pub type HANDLE = *mut ::core::ffi::c_void;
/// wdm.h: `typedef ULONG64 POOL_FLAGS`.
pub type POOL_FLAGS = ULONG64;

/// ntdef.h `UNICODE_STRING`.
#[repr(C)]
#[derive(Debug, Copy, Clone)]
pub struct _UNICODE_STRING {
    pub Length: USHORT,
    pub MaximumLength: USHORT,
    pub Buffer: PWCH,
}
pub type UNICODE_STRING = _UNICODE_STRING;
pub type PCUNICODE_STRING = *const UNICODE_STRING;

// --- WDM objects the driver passes by pointer (wdm.h; opaque here) ----------------------
#[repr(C)]
pub struct _DRIVER_OBJECT {
    _opaque: [u8; 0],
}
pub type DRIVER_OBJECT = _DRIVER_OBJECT;
pub type PDRIVER_OBJECT = *mut _DRIVER_OBJECT;
#[repr(C)]
pub struct _DEVICE_OBJECT {
    _opaque: [u8; 0],
}
pub type DEVICE_OBJECT = _DEVICE_OBJECT;
pub type PDEVICE_OBJECT = *mut _DEVICE_OBJECT;

// --- KMDF handles (wdftypes.h: DECLARE_HANDLE, and `typedef HANDLE WDFOBJECT`) ---------
#[repr(C)]
#[derive(Debug, Copy, Clone)]
pub struct WDFDRIVER__ {
    pub unused: ::core::ffi::c_int,
}
pub type WDFDRIVER = *mut WDFDRIVER__;
#[repr(C)]
#[derive(Debug, Copy, Clone)]
pub struct WDFDEVICE__ {
    pub unused: ::core::ffi::c_int,
}
pub type WDFDEVICE = *mut WDFDEVICE__;
pub type WDFOBJECT = HANDLE;
#[repr(C)]
pub struct WDFDEVICE_INIT {
    _opaque: [u8; 0],
}
pub type PWDFDEVICE_INIT = *mut WDFDEVICE_INIT;

/// wdfobject.h `WDF_OBJECT_ATTRIBUTES` (passed by pointer only: opaque here).
#[repr(C)]
pub struct _WDF_OBJECT_ATTRIBUTES {
    _opaque: [u8; 0],
}
pub type WDF_OBJECT_ATTRIBUTES = _WDF_OBJECT_ATTRIBUTES;
pub type PWDF_OBJECT_ATTRIBUTES = *mut _WDF_OBJECT_ATTRIBUTES;

/// wdfglobals.h `WDF_DRIVER_GLOBALS` (KMDF 1.33).
#[repr(C)]
#[derive(Debug, Copy, Clone)]
pub struct _WDF_DRIVER_GLOBALS {
    pub Driver: WDFDRIVER,
    pub DriverFlags: ULONG,
    pub DriverTag: ULONG,
    pub DriverName: [CHAR; 32usize],
    pub DisplaceDriverUnload: BOOLEAN,
}
pub type WDF_DRIVER_GLOBALS = _WDF_DRIVER_GLOBALS;
pub type PWDF_DRIVER_GLOBALS = *mut _WDF_DRIVER_GLOBALS;

// --- wdfdriver.h ----------------------------------------------------------------------
pub type PFN_WDF_DRIVER_DEVICE_ADD =
    ::core::option::Option<unsafe extern "C" fn(Driver: WDFDRIVER, DeviceInit: PWDFDEVICE_INIT) -> NTSTATUS>;
pub type PFN_WDF_DRIVER_UNLOAD = ::core::option::Option<unsafe extern "C" fn(Driver: WDFDRIVER)>;

/// wdfdriver.h `WDF_DRIVER_INIT_FLAGS` (bindgen module-consts style, as wdk-sys).
pub mod _WDF_DRIVER_INIT_FLAGS {
    pub type Type = ::core::ffi::c_int;
    pub const WdfDriverInitNonPnpDriver: Type = 1;
    pub const WdfDriverInitNoDispatchOverride: Type = 2;
    pub const WdfVerifyOn: Type = 4;
    pub const WdfVerifierOn: Type = 8;
    pub const WdfDriverInitCompanion: Type = 16;
}

/// wdfdriver.h `WDF_DRIVER_CONFIG`.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone)]
pub struct _WDF_DRIVER_CONFIG {
    pub Size: ULONG,
    pub EvtDriverDeviceAdd: PFN_WDF_DRIVER_DEVICE_ADD,
    pub EvtDriverUnload: PFN_WDF_DRIVER_UNLOAD,
    pub DriverInitFlags: ULONG,
    pub DriverPoolTag: ULONG,
}
pub type WDF_DRIVER_CONFIG = _WDF_DRIVER_CONFIG;
pub type PWDF_DRIVER_CONFIG = *mut _WDF_DRIVER_CONFIG;

/// wdfdriver.h `WdfDriverCreate`.
pub type PFN_WDFDRIVERCREATE = ::core::option::Option<
    unsafe extern "C" fn(
        DriverGlobals: PWDF_DRIVER_GLOBALS,
        DriverObject: PDRIVER_OBJECT,
        RegistryPath: PCUNICODE_STRING,
        DriverAttributes: PWDF_OBJECT_ATTRIBUTES,
        DriverConfig: PWDF_DRIVER_CONFIG,
        Driver: *mut WDFDRIVER,
    ) -> NTSTATUS,
>;

// --- wdfobject.h ----------------------------------------------------------------------
/// wdfobject.h `WdfObjectDelete`.
pub type PFN_WDFOBJECTDELETE =
    ::core::option::Option<unsafe extern "C" fn(DriverGlobals: PWDF_DRIVER_GLOBALS, Object: WDFOBJECT)>;

// --- wdffuncenum.h (KMDF 1.33): the function table ----------------------------------------
pub type WDFFUNC = ::core::option::Option<unsafe extern "C" fn()>;

/// wdffuncenum.h `WDFFUNCENUM` (the indexes ksframe uses; the table has more).
pub mod _WDFFUNCENUM {
    pub type Type = ::core::ffi::c_int;
    pub const WdfDriverCreateTableIndex: Type = 116;
    pub const WdfDeviceMiniportCreateTableIndex: Type = 200;
    pub const WdfDriverMiniportUnloadTableIndex: Type = 201;
    pub const WdfObjectDeleteTableIndex: Type = 208;
}

unsafe extern "C" {
    /// `WdfFunctions_01033`, renamed `WdfFunctions` by wdk-build's bindgen callbacks.
    #[link_name = "WdfFunctions_01033"]
    pub static mut WdfFunctions: *const WDFFUNC;
    /// wdfglobals.h.
    pub static mut WdfDriverGlobals: PWDF_DRIVER_GLOBALS;
    /// wdffuncenum.h (KMDF 1.25+).
    pub static mut WdfFunctionCount: ULONG;
}
