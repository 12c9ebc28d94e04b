//! The WDM types the KS path touches: IRP, IO_STACK_LOCATION and friends.

use super::{KPROCESSOR_MODE, NTSTATUS, PVOID, ULONG, ULONG_PTR};
use core::ffi::c_void;

/// `LIST_ENTRY`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LIST_ENTRY {
    pub Flink: *mut LIST_ENTRY,
    pub Blink: *mut LIST_ENTRY,
}

/// `IO_STATUS_BLOCK` (the `Status` member shares its 8 bytes with `Pointer`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct IO_STATUS_BLOCK {
    pub Status: NTSTATUS,
    pub Information: ULONG_PTR,
}

/// `UNICODE_STRING`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct UNICODE_STRING {
    pub Length: u16,
    pub MaximumLength: u16,
    pub Buffer: *mut u16,
}

/// `PDRIVER_UNLOAD` (wdm.h).
pub type PDRIVER_UNLOAD = Option<unsafe extern "system" fn(DriverObject: *mut DRIVER_OBJECT)>;
/// `PDRIVER_DISPATCH` (wdm.h).
pub type PDRIVER_DISPATCH =
    Option<unsafe extern "system" fn(DeviceObject: *mut DEVICE_OBJECT, Irp: *mut IRP) -> NTSTATUS>;

/// `DRIVER_OBJECT` (wdm.h). The driver reads and writes `DriverUnload` only (the KMDF
/// build wraps KS's unload); the other fields are the kernel's.
#[repr(C)]
pub struct DRIVER_OBJECT {
    pub Type: i16,
    pub Size: i16,
    pub DeviceObject: *mut DEVICE_OBJECT,
    pub Flags: u32,
    pub DriverStart: PVOID,
    pub DriverSize: u32,
    pub DriverSection: PVOID,
    pub DriverExtension: PVOID,
    pub DriverName: UNICODE_STRING,
    pub HardwareDatabase: *mut UNICODE_STRING,
    pub FastIoDispatch: PVOID,
    pub DriverInit: PVOID,
    pub DriverStartIo: PVOID,
    pub DriverUnload: PDRIVER_UNLOAD,
    pub MajorFunction: [PDRIVER_DISPATCH; 28],
}

/// Opaque kernel objects, only ever used behind pointers.
#[repr(C)]
pub struct DEVICE_OBJECT {
    _opaque: [u8; 0],
}
#[repr(C)]
pub struct FILE_OBJECT {
    _opaque: [u8; 0],
}
#[repr(C)]
pub struct MDL {
    _opaque: [u8; 0],
}

/// `IRP.AssociatedIrp`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union IRP_ASSOCIATED_IRP {
    pub MasterIrp: *mut IRP,
    pub IrpCount: i32,
    pub SystemBuffer: PVOID,
}

/// `IRP.Overlay` (AsynchronousParameters / AllocationSize).
#[repr(C)]
#[derive(Clone, Copy)]
pub union IRP_OVERLAY {
    pub AsynchronousParameters: [PVOID; 2],
    pub AllocationSize: i64,
}

/// `IRP.Tail.Overlay`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct IRP_TAIL_OVERLAY {
    /// Shares its 32 bytes with `DeviceQueueEntry`.
    pub DriverContext: [PVOID; 4],
    pub Thread: PVOID,
    pub AuxiliaryBuffer: *mut i8,
    pub ListEntry: LIST_ENTRY,
    /// Shares its 8 bytes with `PacketType`.
    pub CurrentStackLocation: *mut IO_STACK_LOCATION,
    pub OriginalFileObject: *mut FILE_OBJECT,
}

/// `IRP.Tail`: Overlay, or a KAPC (88 bytes), or a completion key.
#[repr(C)]
#[derive(Clone, Copy)]
pub union IRP_TAIL {
    pub Overlay: IRP_TAIL_OVERLAY,
    pub Apc: [u64; 11],
    pub CompletionKey: PVOID,
}

/// `IRP` (wdm.h), x64.
#[repr(C)]
pub struct IRP {
    pub Type: i16,
    pub Size: u16,
    pub MdlAddress: *mut MDL,
    pub Flags: ULONG,
    pub AssociatedIrp: IRP_ASSOCIATED_IRP,
    pub ThreadListEntry: LIST_ENTRY,
    pub IoStatus: IO_STATUS_BLOCK,
    pub RequestorMode: KPROCESSOR_MODE,
    pub PendingReturned: u8,
    pub StackCount: i8,
    pub CurrentLocation: i8,
    pub Cancel: u8,
    pub CancelIrql: u8,
    pub ApcEnvironment: i8,
    pub AllocationFlags: u8,
    pub UserIosb: *mut IO_STATUS_BLOCK,
    pub UserEvent: PVOID,
    pub Overlay: IRP_OVERLAY,
    pub CancelRoutine: PVOID,
    pub UserBuffer: PVOID,
    pub Tail: IRP_TAIL,
}

/// `IO_STACK_LOCATION.Parameters.DeviceIoControl` (wdm.h: InputBufferLength and
/// IoControlCode are `POINTER_ALIGNMENT`, i.e. 8-aligned on x64).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct IO_STACK_LOCATION_DEVICE_IO_CONTROL {
    pub OutputBufferLength: ULONG,
    pub InputBufferLength: ULONG_ALIGNED,
    pub IoControlCode: ULONG_ALIGNED,
    pub Type3InputBuffer: PVOID,
}

/// A `ULONG POINTER_ALIGNMENT` field: 4 bytes of value, 8-byte aligned.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ULONG_ALIGNED(pub ULONG);

/// `IO_STACK_LOCATION.Parameters`: the members ksframe reads, plus its full size.
#[repr(C)]
#[derive(Clone, Copy)]
pub union IO_STACK_LOCATION_PARAMETERS {
    pub DeviceIoControl: IO_STACK_LOCATION_DEVICE_IO_CONTROL,
    pub Others: [PVOID; 4],
}

/// `IO_STACK_LOCATION` (wdm.h), x64.
#[repr(C)]
pub struct IO_STACK_LOCATION {
    pub MajorFunction: u8,
    pub MinorFunction: u8,
    pub Flags: u8,
    pub Control: u8,
    pub Parameters: IO_STACK_LOCATION_PARAMETERS,
    pub DeviceObject: *mut DEVICE_OBJECT,
    pub FileObject: *mut FILE_OBJECT,
    pub CompletionRoutine: PVOID,
    pub Context: *mut c_void,
}

pub const IRP_MJ_CREATE: u8 = 0x00;
pub const IRP_MJ_CLOSE: u8 = 0x02;
pub const IRP_MJ_DEVICE_CONTROL: u8 = 0x0e;

/// `CTL_CODE(DeviceType, Function, Method, Access)`.
pub const fn CTL_CODE(device_type: u32, function: u32, method: u32, access: u32) -> u32 {
    (device_type << 16) | (access << 14) | (function << 2) | method
}
pub const FILE_DEVICE_KS: u32 = 0x0000_002f;
pub const METHOD_NEITHER: u32 = 3;
pub const FILE_ANY_ACCESS: u32 = 0;
pub const FILE_READ_ACCESS: u32 = 1;
pub const FILE_WRITE_ACCESS: u32 = 2;
pub const IOCTL_KS_PROPERTY: u32 = CTL_CODE(FILE_DEVICE_KS, 0x000, METHOD_NEITHER, FILE_ANY_ACCESS);
pub const IOCTL_KS_ENABLE_EVENT: u32 = CTL_CODE(FILE_DEVICE_KS, 0x001, METHOD_NEITHER, FILE_ANY_ACCESS);
pub const IOCTL_KS_DISABLE_EVENT: u32 = CTL_CODE(FILE_DEVICE_KS, 0x002, METHOD_NEITHER, FILE_ANY_ACCESS);
pub const IOCTL_KS_METHOD: u32 = CTL_CODE(FILE_DEVICE_KS, 0x003, METHOD_NEITHER, FILE_ANY_ACCESS);
pub const IOCTL_KS_WRITE_STREAM: u32 = CTL_CODE(FILE_DEVICE_KS, 0x004, METHOD_NEITHER, FILE_WRITE_ACCESS);
pub const IOCTL_KS_READ_STREAM: u32 = CTL_CODE(FILE_DEVICE_KS, 0x005, METHOD_NEITHER, FILE_READ_ACCESS);
pub const IOCTL_KS_RESET_STATE: u32 = CTL_CODE(FILE_DEVICE_KS, 0x006, METHOD_NEITHER, FILE_ANY_ACCESS);

/// `PKDEFERRED_ROUTINE` (wdm.h): a DPC's routine, called at DISPATCH_LEVEL.
pub type PKDEFERRED_ROUTINE = Option<
    unsafe extern "system" fn(
        Dpc: *mut KDPC,
        DeferredContext: PVOID,
        SystemArgument1: PVOID,
        SystemArgument2: PVOID,
    ),
>;

/// `KDPC` (wdm.h): storage the kernel owns between KeInitializeDpc and the DPC's last
/// run; the driver only provides it (non-paged, not moved, not freed while queued).
#[repr(C)]
#[derive(Debug)]
pub struct KDPC {
    pub Type: u8,
    pub Importance: u8,
    pub Number: u16,
    pub DpcListEntry: LIST_ENTRY,
    pub DeferredRoutine: PKDEFERRED_ROUTINE,
    pub DeferredContext: PVOID,
    pub SystemArgument1: PVOID,
    pub SystemArgument2: PVOID,
    pub DpcData: PVOID,
}

/// `DISPATCHER_HEADER` (wdm.h), as the kernel's objects begin; opaque to the driver.
#[repr(C)]
#[derive(Debug)]
pub struct DISPATCHER_HEADER {
    pub Lock: i32,
    pub SignalState: i32,
    pub WaitListHead: LIST_ENTRY,
}

/// `KTIMER` (wdm.h): storage the kernel owns between KeInitializeTimerEx and the last
/// KeCancelTimer / expiry; the driver only provides it (non-paged, not moved).
#[repr(C)]
#[derive(Debug)]
pub struct KTIMER {
    pub Header: DISPATCHER_HEADER,
    pub DueTime: u64,
    pub TimerListEntry: LIST_ENTRY,
    pub Dpc: *mut KDPC,
    pub Processor: u32,
    pub Period: u32,
}

/// `TIMER_TYPE::NotificationTimer` (wdm.h).
pub const NotificationTimer: i32 = 0;
/// `TIMER_TYPE::SynchronizationTimer` (wdm.h).
pub const SynchronizationTimer: i32 = 1;

super::assert_layout! {
    LIST_ENTRY => 16, 8;
    KDPC => 64, 8;
    DISPATCHER_HEADER => 24, 8;
    KTIMER => 64, 8;
    IO_STATUS_BLOCK => 16, 8;
    UNICODE_STRING => 16, 8;
    DRIVER_OBJECT => 0x150, 8;
    IRP => 0xD0, 8;
    IO_STACK_LOCATION => 0x48, 8;
}
super::assert_offsets!(DRIVER_OBJECT { DriverName => 0x38, DriverUnload => 0x68, MajorFunction => 0x70 });
super::assert_offsets!(IRP {
    MdlAddress => 8,
    IoStatus => 0x30,
    RequestorMode => 0x40,
    UserBuffer => 0x70,
    Tail.Overlay.CurrentStackLocation => 0xB8,
});
super::assert_offsets!(IO_STACK_LOCATION {
    Parameters.DeviceIoControl.OutputBufferLength => 8,
    Parameters.DeviceIoControl.InputBufferLength => 0x10,
    Parameters.DeviceIoControl.IoControlCode => 0x18,
    Parameters.DeviceIoControl.Type3InputBuffer => 0x20,
    DeviceObject => 0x28,
    FileObject => 0x30,
});
super::assert_offsets!(KDPC { DeferredRoutine => 0x18, DeferredContext => 0x20, DpcData => 0x38 });
super::assert_offsets!(KTIMER { DueTime => 0x18, Dpc => 0x30, Period => 0x3C });
