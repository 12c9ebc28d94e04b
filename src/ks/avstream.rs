//! AVStream objects, descriptors and dispatch tables (ks.h, `_NTDDK_` part).

use super::{
    BOOLEAN, DEVICE_OBJECT, GUID, IRP, KSALLOCATOR_FRAMING, KSALLOCATOR_FRAMING_EX, KSAUTOMATION_TABLE,
    KSDATAFORMAT, KSDATARANGE, KSMULTIPLE_ITEM, KSP_PIN, KSPIN_COMMUNICATION, KSPIN_DATAFLOW,
    KSPIN_INTERFACE, KSPIN_MEDIUM, KSPRIORITY, KSRESET, KSSTATE, KSSTREAM_HEADER, LONGLONG, NTSTATUS, PVOID,
    ULONG,
};

/// `KSOBJECT_BAG`: an opaque handle.
pub type KSOBJECT_BAG = PVOID;

// ----- callbacks ---------------------------------------------------------------------

pub type PFNKSDEVICECREATE = Option<unsafe extern "system" fn(Device: *mut KSDEVICE) -> NTSTATUS>;
pub type PFNKSDEVICEPNPSTART = Option<
    unsafe extern "system" fn(
        Device: *mut KSDEVICE,
        Irp: *mut IRP,
        TranslatedResourceList: PVOID,
        UntranslatedResourceList: PVOID,
    ) -> NTSTATUS,
>;
pub type PFNKSDEVICE = Option<unsafe extern "system" fn(Device: *mut KSDEVICE) -> NTSTATUS>;
pub type PFNKSDEVICEIRP = Option<unsafe extern "system" fn(Device: *mut KSDEVICE, Irp: *mut IRP) -> NTSTATUS>;
pub type PFNKSDEVICEIRPVOID = Option<unsafe extern "system" fn(Device: *mut KSDEVICE, Irp: *mut IRP)>;
pub type PFNKSDEVICEQUERYCAPABILITIES =
    Option<unsafe extern "system" fn(Device: *mut KSDEVICE, Irp: *mut IRP, Capabilities: PVOID) -> NTSTATUS>;
pub type PFNKSDEVICEQUERYPOWER = Option<
    unsafe extern "system" fn(
        Device: *mut KSDEVICE,
        Irp: *mut IRP,
        DeviceTo: i32,
        DeviceFrom: i32,
        SystemTo: i32,
        SystemFrom: i32,
        Action: i32,
    ) -> NTSTATUS,
>;
pub type PFNKSDEVICESETPOWER =
    Option<unsafe extern "system" fn(Device: *mut KSDEVICE, Irp: *mut IRP, To: i32, From: i32)>;
pub type PFNKSFILTERIRP = Option<unsafe extern "system" fn(Filter: *mut KSFILTER, Irp: *mut IRP) -> NTSTATUS>;
pub type PFNKSFILTERPROCESS =
    Option<unsafe extern "system" fn(Filter: *mut KSFILTER, Index: PVOID) -> NTSTATUS>;
pub type PFNKSFILTERVOID = Option<unsafe extern "system" fn(Filter: *mut KSFILTER) -> NTSTATUS>;
pub type PFNKSPINIRP = Option<unsafe extern "system" fn(Pin: *mut KSPIN, Irp: *mut IRP) -> NTSTATUS>;
pub type PFNKSPIN = Option<unsafe extern "system" fn(Pin: *mut KSPIN) -> NTSTATUS>;
pub type PFNKSPINVOID = Option<unsafe extern "system" fn(Pin: *mut KSPIN)>;
pub type PFNKSPINSETDATAFORMAT = Option<
    unsafe extern "system" fn(
        Pin: *mut KSPIN,
        OldFormat: *mut KSDATAFORMAT,
        OldAttributeList: *mut KSMULTIPLE_ITEM,
        DataRange: *const KSDATARANGE,
        AttributeRange: PVOID,
    ) -> NTSTATUS,
>;
pub type PFNKSPINSETDEVICESTATE =
    Option<unsafe extern "system" fn(Pin: *mut KSPIN, ToState: KSSTATE, FromState: KSSTATE) -> NTSTATUS>;
pub type PFNKSPINSETTIMER = Option<
    unsafe extern "system" fn(Pin: *mut KSPIN, Timer: PVOID, DueTime: LONGLONG, Dpc: PVOID) -> BOOLEAN,
>;
pub type PFNKSPINCANCELTIMER = Option<unsafe extern "system" fn(Pin: *mut KSPIN, Timer: PVOID) -> BOOLEAN>;
pub type PFNKSPINCORRELATEDTIME =
    Option<unsafe extern "system" fn(Pin: *mut KSPIN, SystemTime: *mut LONGLONG) -> LONGLONG>;
pub type PFNKSPINRESOLUTION = Option<unsafe extern "system" fn(Pin: *mut KSPIN, Resolution: PVOID)>;
pub type PFNKSPININITIALIZEALLOCATOR = Option<
    unsafe extern "system" fn(
        Pin: *mut KSPIN,
        AllocatorFraming: *mut KSALLOCATOR_FRAMING,
        Context: *mut PVOID,
    ) -> NTSTATUS,
>;
pub type PFNKSDELETEALLOCATOR = Option<unsafe extern "system" fn(Context: PVOID)>;
pub type PFNKSDEFAULTALLOCATE = Option<unsafe extern "system" fn(Context: PVOID) -> PVOID>;
pub type PFNKSDEFAULTFREE = Option<unsafe extern "system" fn(Context: PVOID, Buffer: PVOID)>;
pub type PFNKSINTERSECTHANDLEREX = Option<
    unsafe extern "system" fn(
        Context: PVOID,
        Irp: *mut IRP,
        Pin: *mut KSP_PIN,
        DataRange: *mut KSDATARANGE,
        MatchingDataRange: *mut KSDATARANGE,
        DataBufferSize: ULONG,
        Data: PVOID,
        DataSize: *mut ULONG,
    ) -> NTSTATUS,
>;

// ----- dispatch tables ---------------------------------------------------------------

/// `KSALLOCATOR_DISPATCH`: a pin's own allocator (`KSPIN_DISPATCH.Allocator`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSALLOCATOR_DISPATCH {
    pub InitializeAllocator: PFNKSPININITIALIZEALLOCATOR,
    pub DeleteAllocator: PFNKSDELETEALLOCATOR,
    pub Allocate: PFNKSDEFAULTALLOCATE,
    pub Free: PFNKSDEFAULTFREE,
}

/// `KSCLOCK_DISPATCH`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSCLOCK_DISPATCH {
    pub SetTimer: PFNKSPINSETTIMER,
    pub CancelTimer: PFNKSPINCANCELTIMER,
    pub CorrelatedTime: PFNKSPINCORRELATEDTIME,
    pub Resolution: PFNKSPINRESOLUTION,
}

/// `KSPIN_DISPATCH`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSPIN_DISPATCH {
    pub Create: PFNKSPINIRP,
    pub Close: PFNKSPINIRP,
    pub Process: PFNKSPIN,
    pub Reset: PFNKSPINVOID,
    pub SetDataFormat: PFNKSPINSETDATAFORMAT,
    pub SetDeviceState: PFNKSPINSETDEVICESTATE,
    pub Connect: PFNKSPIN,
    pub Disconnect: PFNKSPINVOID,
    pub Clock: *const KSCLOCK_DISPATCH,
    pub Allocator: *const KSALLOCATOR_DISPATCH,
}

/// `KSFILTER_DISPATCH`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSFILTER_DISPATCH {
    pub Create: PFNKSFILTERIRP,
    pub Close: PFNKSFILTERIRP,
    pub Process: PFNKSFILTERPROCESS,
    pub Reset: PFNKSFILTERVOID,
}

/// `KSDEVICE_DISPATCH`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSDEVICE_DISPATCH {
    pub Add: PFNKSDEVICECREATE,
    pub Start: PFNKSDEVICEPNPSTART,
    pub PostStart: PFNKSDEVICE,
    pub QueryStop: PFNKSDEVICEIRP,
    pub CancelStop: PFNKSDEVICEIRPVOID,
    pub Stop: PFNKSDEVICEIRPVOID,
    pub QueryRemove: PFNKSDEVICEIRP,
    pub CancelRemove: PFNKSDEVICEIRPVOID,
    pub Remove: PFNKSDEVICEIRPVOID,
    pub QueryCapabilities: PFNKSDEVICEQUERYCAPABILITIES,
    pub SurpriseRemoval: PFNKSDEVICEIRPVOID,
    pub QueryPower: PFNKSDEVICEQUERYPOWER,
    pub SetPower: PFNKSDEVICESETPOWER,
    pub QueryInterface: PFNKSDEVICEIRP,
}

// ----- descriptors -------------------------------------------------------------------

/// `KSPIN_DESCRIPTOR`. The last 16 bytes are a C union of `LONGLONG Reserved` and the
/// `ConstrainedDataRangesCount` / `ConstrainedDataRanges` pair, declared here as the pair.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSPIN_DESCRIPTOR {
    pub InterfacesCount: ULONG,
    pub Interfaces: *const KSPIN_INTERFACE,
    pub MediumsCount: ULONG,
    pub Mediums: *const KSPIN_MEDIUM,
    pub DataRangesCount: ULONG,
    pub DataRanges: *const *const KSDATARANGE,
    pub DataFlow: KSPIN_DATAFLOW,
    pub Communication: KSPIN_COMMUNICATION,
    pub Category: *const GUID,
    pub Name: *const GUID,
    pub ConstrainedDataRangesCount: ULONG,
    pub ConstrainedDataRanges: *mut *mut KSDATARANGE,
}

/// `KSPIN_DESCRIPTOR_EX`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSPIN_DESCRIPTOR_EX {
    pub Dispatch: *const KSPIN_DISPATCH,
    pub AutomationTable: *const KSAUTOMATION_TABLE,
    pub PinDescriptor: KSPIN_DESCRIPTOR,
    pub Flags: ULONG,
    pub InstancesPossible: ULONG,
    pub InstancesNecessary: ULONG,
    pub AllocatorFraming: *const KSALLOCATOR_FRAMING_EX,
    pub IntersectHandler: PFNKSINTERSECTHANDLEREX,
}

pub const KSPIN_FLAG_DISPATCH_LEVEL_PROCESSING: u32 = 0x0000_0001;
pub const KSPIN_FLAG_CRITICAL_PROCESSING: u32 = 0x0000_0002;
pub const KSPIN_FLAG_HYPERCRITICAL_PROCESSING: u32 = 0x0000_0004;
pub const KSPIN_FLAG_ASYNCHRONOUS_PROCESSING: u32 = 0x0000_0008;
pub const KSPIN_FLAG_DO_NOT_INITIATE_PROCESSING: u32 = 0x0000_0010;
pub const KSPIN_FLAG_INITIATE_PROCESSING_ON_EVERY_ARRIVAL: u32 = 0x0000_0020;
pub const KSPIN_FLAG_FRAMES_NOT_REQUIRED_FOR_PROCESSING: u32 = 0x0000_0040;
pub const KSPIN_FLAG_ENFORCE_FIFO: u32 = 0x0000_0080;
pub const KSPIN_FLAG_GENERATE_MAPPINGS: u32 = 0x0000_0100;
pub const KSPIN_FLAG_DISTINCT_TRAILING_EDGE: u32 = 0x0000_0200;
pub const KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY: u32 = 0x0001_0000;
pub const KSPIN_FLAG_SPLITTER: u32 = 0x0002_0000;
pub const KSPIN_FLAG_USE_STANDARD_TRANSPORT: u32 = 0x0004_0000;
pub const KSPIN_FLAG_DO_NOT_USE_STANDARD_TRANSPORT: u32 = 0x0008_0000;
pub const KSPIN_FLAG_FIXED_FORMAT: u32 = 0x0010_0000;
pub const KSPIN_FLAG_GENERATE_EOS_EVENTS: u32 = 0x0020_0000;
pub const KSPIN_FLAG_RENDERER: u32 = KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY | KSPIN_FLAG_GENERATE_EOS_EVENTS;
pub const KSPIN_FLAG_IMPLEMENT_CLOCK: u32 = 0x0040_0000;
pub const KSPIN_FLAG_DENY_USERMODE_ACCESS: u32 = 0x8000_0000;

/// `KSNODE_DESCRIPTOR` (x64: no trailing Alignment).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSNODE_DESCRIPTOR {
    pub AutomationTable: *const KSAUTOMATION_TABLE,
    pub Type: *const GUID,
    pub Name: *const GUID,
}

/// `KSTOPOLOGY_CONNECTION`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KSTOPOLOGY_CONNECTION {
    pub FromNode: ULONG,
    pub FromNodePin: ULONG,
    pub ToNode: ULONG,
    pub ToNodePin: ULONG,
}

/// `KSCOMPONENTID`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KSCOMPONENTID {
    pub Manufacturer: GUID,
    pub Product: GUID,
    pub Component: GUID,
    pub Name: GUID,
    pub Version: ULONG,
    pub Revision: ULONG,
}

/// `KSFILTER_DESCRIPTOR`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSFILTER_DESCRIPTOR {
    pub Dispatch: *const KSFILTER_DISPATCH,
    pub AutomationTable: *const KSAUTOMATION_TABLE,
    pub Version: ULONG,
    pub Flags: ULONG,
    pub ReferenceGuid: *const GUID,
    pub PinDescriptorsCount: ULONG,
    pub PinDescriptorSize: ULONG,
    pub PinDescriptors: *const KSPIN_DESCRIPTOR_EX,
    pub CategoriesCount: ULONG,
    pub Categories: *const GUID,
    pub NodeDescriptorsCount: ULONG,
    pub NodeDescriptorSize: ULONG,
    pub NodeDescriptors: *const KSNODE_DESCRIPTOR,
    pub ConnectionsCount: ULONG,
    pub Connections: *const KSTOPOLOGY_CONNECTION,
    pub ComponentId: *const KSCOMPONENTID,
}

pub const KSFILTER_DESCRIPTOR_VERSION: u32 = u32::MAX;
pub const KSFILTER_FLAG_DISPATCH_LEVEL_PROCESSING: u32 = 0x0000_0001;
pub const KSFILTER_FLAG_CRITICAL_PROCESSING: u32 = 0x0000_0002;
pub const KSFILTER_FLAG_HYPERCRITICAL_PROCESSING: u32 = 0x0000_0004;
pub const KSFILTER_FLAG_RECEIVE_ZERO_LENGTH_SAMPLES: u32 = 0x0000_0008;
pub const KSFILTER_FLAG_DENY_USERMODE_ACCESS: u32 = 0x8000_0000;

/// `KSDEVICE_DESCRIPTOR`, in the WDK's form: `Flags` follows `Version` (mingw-w64's
/// ks.h stops at `Version`; the size, 32, is the same, the field sitting in padding).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSDEVICE_DESCRIPTOR {
    pub Dispatch: *const KSDEVICE_DISPATCH,
    pub FilterDescriptorsCount: ULONG,
    pub FilterDescriptors: *const *const KSFILTER_DESCRIPTOR,
    pub Version: ULONG,
    pub Flags: ULONG,
}

pub const KSDEVICE_DESCRIPTOR_VERSION: u32 = 0x100;

// ----- objects -----------------------------------------------------------------------

/// `KSDEVICE`.
#[repr(C)]
#[derive(Debug)]
pub struct KSDEVICE {
    pub Descriptor: *const KSDEVICE_DESCRIPTOR,
    pub Bag: KSOBJECT_BAG,
    pub Context: PVOID,
    pub FunctionalDeviceObject: *mut DEVICE_OBJECT,
    pub PhysicalDeviceObject: *mut DEVICE_OBJECT,
    pub NextDeviceObject: *mut DEVICE_OBJECT,
    pub Started: BOOLEAN,
    pub SystemPowerState: i32,
    pub DevicePowerState: i32,
}

/// `KSFILTER`.
#[repr(C)]
#[derive(Debug)]
pub struct KSFILTER {
    pub Descriptor: *const KSFILTER_DESCRIPTOR,
    pub Bag: KSOBJECT_BAG,
    pub Context: PVOID,
}

/// `KSPIN`.
#[repr(C)]
#[derive(Debug)]
pub struct KSPIN {
    pub Descriptor: *const KSPIN_DESCRIPTOR_EX,
    pub Bag: KSOBJECT_BAG,
    pub Context: PVOID,
    pub Id: ULONG,
    pub Communication: KSPIN_COMMUNICATION,
    pub ConnectionIsExternal: BOOLEAN,
    pub ConnectionInterface: KSPIN_INTERFACE,
    pub ConnectionMedium: KSPIN_MEDIUM,
    pub ConnectionPriority: KSPRIORITY,
    pub ConnectionFormat: *mut KSDATAFORMAT,
    pub AttributeList: *mut KSMULTIPLE_ITEM,
    pub StreamHeaderSize: ULONG,
    pub DataFlow: KSPIN_DATAFLOW,
    pub DeviceState: KSSTATE,
    pub ResetState: KSRESET,
    pub ClientState: KSSTATE,
}

/// `KSMAPPING`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSMAPPING {
    pub PhysicalAddress: i64,
    pub ByteCount: ULONG,
    pub Alignment: ULONG,
}

/// `KSSTREAM_POINTER_OFFSET` (x64; `Data` shares its 8 bytes with `Mappings`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSSTREAM_POINTER_OFFSET {
    pub Data: *mut u8,
    pub Count: ULONG,
    pub Remaining: ULONG,
}

/// `KSSTREAM_POINTER`.
#[repr(C)]
#[derive(Debug)]
pub struct KSSTREAM_POINTER {
    pub Context: PVOID,
    pub Pin: *mut KSPIN,
    pub StreamHeader: *mut KSSTREAM_HEADER,
    pub Offset: *mut KSSTREAM_POINTER_OFFSET,
    pub OffsetIn: KSSTREAM_POINTER_OFFSET,
    pub OffsetOut: KSSTREAM_POINTER_OFFSET,
}

/// `PFNKSCLOCK_GETTIME` (ks.h; FASTCALL is the x64 convention).
pub type PFNKSCLOCK_GETTIME = Option<unsafe extern "system" fn(FileObject: *mut super::FILE_OBJECT) -> i64>;
/// `PFNKSCLOCK_CORRELATEDTIME` (ks.h).
pub type PFNKSCLOCK_CORRELATEDTIME =
    Option<unsafe extern "system" fn(FileObject: *mut super::FILE_OBJECT, SystemTime: *mut i64) -> i64>;

/// `KSCLOCK_FUNCTIONTABLE` (ks.h): a clock file object's answer to
/// KSPROPERTY_CLOCK_FUNCTIONTABLE, which AVStream keeps for the pin's master clock.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSCLOCK_FUNCTIONTABLE {
    pub GetTime: PFNKSCLOCK_GETTIME,
    pub GetPhysicalTime: PFNKSCLOCK_GETTIME,
    pub GetCorrelatedTime: PFNKSCLOCK_CORRELATEDTIME,
    pub GetCorrelatedPhysicalTime: PFNKSCLOCK_CORRELATEDTIME,
}

/// `IKsReferenceClock` (ks.h): the COM-style interface KsPinGetReferenceClockInterface
/// returns (referenced; the minidriver releases it).
#[repr(C)]
#[derive(Debug)]
pub struct IKsReferenceClock {
    pub lpVtbl: *const IKsReferenceClockVtbl,
}

/// The vtable of [`IKsReferenceClock`]: IUnknown's three methods, then the clock's (ks.h
/// order; STDMETHOD is the x64 convention).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct IKsReferenceClockVtbl {
    pub QueryInterface: Option<
        unsafe extern "system" fn(
            This: *mut IKsReferenceClock,
            Iid: *const super::GUID,
            Out: *mut PVOID,
        ) -> NTSTATUS,
    >,
    pub AddRef: Option<unsafe extern "system" fn(This: *mut IKsReferenceClock) -> u32>,
    pub Release: Option<unsafe extern "system" fn(This: *mut IKsReferenceClock) -> u32>,
    pub GetTime: Option<unsafe extern "system" fn(This: *mut IKsReferenceClock) -> i64>,
    pub GetPhysicalTime: Option<unsafe extern "system" fn(This: *mut IKsReferenceClock) -> i64>,
    pub GetCorrelatedTime:
        Option<unsafe extern "system" fn(This: *mut IKsReferenceClock, SystemTime: *mut i64) -> i64>,
    pub GetCorrelatedPhysicalTime:
        Option<unsafe extern "system" fn(This: *mut IKsReferenceClock, SystemTime: *mut i64) -> i64>,
    pub GetResolution:
        Option<unsafe extern "system" fn(This: *mut IKsReferenceClock, Resolution: PVOID) -> NTSTATUS>,
    pub GetState:
        Option<unsafe extern "system" fn(This: *mut IKsReferenceClock, State: *mut KSSTATE) -> NTSTATUS>,
}

super::assert_layout! {
    KSCLOCK_FUNCTIONTABLE => 32, 8;
    IKsReferenceClockVtbl => 72, 8;
    KSALLOCATOR_DISPATCH => 32, 8;
    KSCLOCK_DISPATCH => 32, 8;
    KSPIN_DISPATCH => 80, 8;
    KSFILTER_DISPATCH => 32, 8;
    KSDEVICE_DISPATCH => 112, 8;
    KSPIN_DESCRIPTOR => 88, 8;
    KSPIN_DESCRIPTOR_EX => 136, 8;
    KSNODE_DESCRIPTOR => 24, 8;
    KSTOPOLOGY_CONNECTION => 16, 4;
    KSCOMPONENTID => 72, 4;
    KSFILTER_DESCRIPTOR => 104, 8;
    KSDEVICE_DESCRIPTOR => 32, 8;
    KSDEVICE => 64, 8;
    KSFILTER => 24, 8;
    KSPIN => 136, 8;
    KSMAPPING => 16, 8;
    KSSTREAM_POINTER_OFFSET => 16, 8;
    KSSTREAM_POINTER => 64, 8;
}
super::assert_offsets!(KSALLOCATOR_DISPATCH {
    InitializeAllocator => 0,
    DeleteAllocator => 8,
    Allocate => 16,
    Free => 24,
});
super::assert_offsets!(KSPIN_DISPATCH { Allocator => 72 });
super::assert_offsets!(KSPIN_DESCRIPTOR_EX { PinDescriptor => 16, AllocatorFraming => 120, IntersectHandler => 128 });
super::assert_offsets!(KSDEVICE_DESCRIPTOR { Version => 24, Flags => 28 });
