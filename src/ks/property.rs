//! Identifiers, property items, sets and automation tables (ks.h).

use super::{BOOLEAN, FILE_OBJECT, GUID, IRP, NTSTATUS, PVOID, ULONG};

/// `KSIDENTIFIER`: a set GUID, an id and flags (the C union with a LONGLONG only forces
/// 8-byte alignment).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KSIDENTIFIER {
    pub Set: GUID,
    pub Id: ULONG,
    pub Flags: ULONG,
}
pub type KSPROPERTY = KSIDENTIFIER;
pub type KSMETHOD = KSIDENTIFIER;
pub type KSEVENT = KSIDENTIFIER;
pub type KSPIN_INTERFACE = KSIDENTIFIER;
pub type KSPIN_MEDIUM = KSIDENTIFIER;

/// `KSP_PIN`: a property addressed to one pin type of a filter.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSP_PIN {
    pub Property: KSPROPERTY,
    pub PinId: ULONG,
    pub Reserved: ULONG,
}

/// `KSMULTIPLE_ITEM`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSMULTIPLE_ITEM {
    pub Size: ULONG,
    pub Count: ULONG,
}

pub const KSPROPERTY_TYPE_GET: u32 = 0x0000_0001;
pub const KSPROPERTY_TYPE_SET: u32 = 0x0000_0002;
/// ks.h (Windows SDK; not in mingw-w64): the size query of a Get.
pub const KSPROPERTY_TYPE_GETPAYLOADSIZE: u32 = 0x0000_0004;
pub const KSPROPERTY_TYPE_SETSUPPORT: u32 = 0x0000_0100;
pub const KSPROPERTY_TYPE_BASICSUPPORT: u32 = 0x0000_0200;
pub const KSPROPERTY_TYPE_RELATIONS: u32 = 0x0000_0400;
pub const KSPROPERTY_TYPE_SERIALIZESET: u32 = 0x0000_0800;
pub const KSPROPERTY_TYPE_UNSERIALIZESET: u32 = 0x0000_1000;
pub const KSPROPERTY_TYPE_SERIALIZERAW: u32 = 0x0000_2000;
pub const KSPROPERTY_TYPE_UNSERIALIZERAW: u32 = 0x0000_4000;
pub const KSPROPERTY_TYPE_SERIALIZESIZE: u32 = 0x0000_8000;
pub const KSPROPERTY_TYPE_DEFAULTVALUES: u32 = 0x0001_0000;
pub const KSPROPERTY_TYPE_TOPOLOGY: u32 = 0x1000_0000;

/// KSPROPSETID_Connection ids.
pub const KSPROPERTY_CONNECTION_STATE: u32 = 0;
pub const KSPROPERTY_CONNECTION_PRIORITY: u32 = 1;
pub const KSPROPERTY_CONNECTION_DATAFORMAT: u32 = 2;
pub const KSPROPERTY_CONNECTION_ALLOCATORFRAMING: u32 = 3;
pub const KSPROPERTY_CONNECTION_PROPOSEDATAFORMAT: u32 = 4;
pub const KSPROPERTY_CONNECTION_ACQUIREORDERING: u32 = 5;
pub const KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX: u32 = 6;
pub const KSPROPERTY_CONNECTION_STARTAT: u32 = 7;

/// KSPROPSETID_Stream ids.
pub const KSPROPERTY_STREAM_ALLOCATOR: u32 = 0;
pub const KSPROPERTY_STREAM_QUALITY: u32 = 1;
pub const KSPROPERTY_STREAM_DEGRADATION: u32 = 2;
pub const KSPROPERTY_STREAM_MASTERCLOCK: u32 = 3;
/// `KSPROPERTY_CLOCK_FUNCTIONTABLE` (ks.h, KSPROPSETID_Clock; kernel mode only).
pub const KSPROPERTY_CLOCK_FUNCTIONTABLE: u32 = 6;
/// `KSPROPERTY_CLOCK_TIME` (ks.h).
pub const KSPROPERTY_CLOCK_TIME: u32 = 0;
pub const KSPROPERTY_STREAM_TIMEFORMAT: u32 = 4;
pub const KSPROPERTY_STREAM_PRESENTATIONTIME: u32 = 5;
pub const KSPROPERTY_STREAM_PRESENTATIONEXTENT: u32 = 6;
pub const KSPROPERTY_STREAM_FRAMETIME: u32 = 7;
pub const KSPROPERTY_STREAM_RATECAPABILITY: u32 = 8;
pub const KSPROPERTY_STREAM_RATE: u32 = 9;
pub const KSPROPERTY_STREAM_PIPE_ID: u32 = 10;

/// `PFNKSHANDLER`: a property, method or support handler.
pub type PFNKSHANDLER =
    Option<unsafe extern "system" fn(Irp: *mut IRP, Request: *mut KSIDENTIFIER, Data: PVOID) -> NTSTATUS>;
/// `PFNKSFASTHANDLER`.
pub type PFNKSFASTHANDLER = Option<
    unsafe extern "system" fn(
        FileObject: *mut FILE_OBJECT,
        Request: *mut KSIDENTIFIER,
        RequestLength: ULONG,
        Data: PVOID,
        DataLength: ULONG,
        IoStatus: *mut super::IO_STATUS_BLOCK,
    ) -> BOOLEAN,
>;
/// `PFNKSADDEVENT`.
pub type PFNKSADDEVENT =
    Option<unsafe extern "system" fn(Irp: *mut IRP, EventData: PVOID, EventEntry: PVOID) -> NTSTATUS>;
/// `PFNKSREMOVEEVENT`.
pub type PFNKSREMOVEEVENT =
    Option<unsafe extern "system" fn(FileObject: *mut FILE_OBJECT, EventEntry: PVOID)>;

/// `KSPROPERTY_MEMBERSHEADER`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSPROPERTY_MEMBERSHEADER {
    pub MembersFlags: ULONG,
    pub MembersSize: ULONG,
    pub MembersCount: ULONG,
    pub Flags: ULONG,
}

/// `KSPROPERTY_MEMBERSLIST`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSPROPERTY_MEMBERSLIST {
    pub MembersHeader: KSPROPERTY_MEMBERSHEADER,
    pub Members: *const core::ffi::c_void,
}

/// `KSPROPERTY_VALUES`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSPROPERTY_VALUES {
    pub PropTypeSet: KSIDENTIFIER,
    pub MembersListCount: ULONG,
    pub MembersList: *const KSPROPERTY_MEMBERSLIST,
}

/// `KSPROPERTY_DESCRIPTION`: the answer to a BASICSUPPORT request.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KSPROPERTY_DESCRIPTION {
    pub AccessFlags: ULONG,
    pub DescriptionSize: ULONG,
    pub PropTypeSet: KSIDENTIFIER,
    pub MembersListCount: ULONG,
    pub Reserved: ULONG,
}

/// `KSPROPERTY_ITEM`. `GetPropertyHandler` / `SetPropertyHandler` share their storage
/// with `GetSupported` / `SetSupported` in C; ksframe always names a handler.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSPROPERTY_ITEM {
    pub PropertyId: ULONG,
    pub GetPropertyHandler: PFNKSHANDLER,
    pub MinProperty: ULONG,
    pub MinData: ULONG,
    pub SetPropertyHandler: PFNKSHANDLER,
    pub Values: *const KSPROPERTY_VALUES,
    pub RelationsCount: ULONG,
    pub Relations: *const KSPROPERTY,
    pub SupportHandler: PFNKSHANDLER,
    pub SerializedSize: ULONG,
}

/// `KSFASTPROPERTY_ITEM`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSFASTPROPERTY_ITEM {
    pub PropertyId: ULONG,
    pub GetPropertyHandler: PFNKSFASTHANDLER,
    pub SetPropertyHandler: PFNKSFASTHANDLER,
    pub Reserved: ULONG,
}

/// `KSPROPERTY_SET`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSPROPERTY_SET {
    pub Set: *const GUID,
    pub PropertiesCount: ULONG,
    pub PropertyItem: *const KSPROPERTY_ITEM,
    pub FastIoCount: ULONG,
    pub FastIoTable: *const KSFASTPROPERTY_ITEM,
}

/// `KSMETHOD_ITEM`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSMETHOD_ITEM {
    pub MethodId: ULONG,
    pub MethodHandler: PFNKSHANDLER,
    pub MinMethod: ULONG,
    pub MinData: ULONG,
    pub SupportHandler: PFNKSHANDLER,
    pub Flags: ULONG,
}

/// `KSMETHOD_SET` (`FastIoTable` points to KSFASTMETHOD_ITEMs, never used here).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSMETHOD_SET {
    pub Set: *const GUID,
    pub MethodsCount: ULONG,
    pub MethodItem: *const KSMETHOD_ITEM,
    pub FastIoCount: ULONG,
    pub FastIoTable: *const core::ffi::c_void,
}

/// `KSEVENT_ITEM`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSEVENT_ITEM {
    pub EventId: ULONG,
    pub DataInput: ULONG,
    pub ExtraEntryData: ULONG,
    pub AddHandler: PFNKSADDEVENT,
    pub RemoveHandler: PFNKSREMOVEEVENT,
    pub SupportHandler: PFNKSHANDLER,
}

/// `KSEVENT_SET`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSEVENT_SET {
    pub Set: *const GUID,
    pub EventsCount: ULONG,
    pub EventItem: *const KSEVENT_ITEM,
}

/// `KSAUTOMATION_TABLE`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSAUTOMATION_TABLE {
    pub PropertySetsCount: ULONG,
    pub PropertyItemSize: ULONG,
    pub PropertySets: *const KSPROPERTY_SET,
    pub MethodSetsCount: ULONG,
    pub MethodItemSize: ULONG,
    pub MethodSets: *const KSMETHOD_SET,
    pub EventSetsCount: ULONG,
    pub EventItemSize: ULONG,
    pub EventSets: *const KSEVENT_SET,
}

/// ks.h: KSPROPSETID_StreamAllocator ids.
pub const KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE: u32 = 0;
pub const KSPROPERTY_STREAMALLOCATOR_STATUS: u32 = 1;

/// ks.h: `PFNALLOCATOR_ALLOCATEFRAME`.
pub type PFNALLOCATOR_ALLOCATEFRAME =
    Option<unsafe extern "system" fn(FileObject: *mut super::FILE_OBJECT, Frame: *mut PVOID) -> NTSTATUS>;
/// ks.h: `PFNALLOCATOR_FREEFRAME`.
pub type PFNALLOCATOR_FREEFRAME =
    Option<unsafe extern "system" fn(FileObject: *mut super::FILE_OBJECT, Frame: PVOID)>;

/// ks.h: what an allocator file object answers for
/// KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSSTREAMALLOCATOR_FUNCTIONTABLE {
    pub AllocateFrame: PFNALLOCATOR_ALLOCATEFRAME,
    pub FreeFrame: PFNALLOCATOR_FREEFRAME,
}

super::assert_layout! {
    KSSTREAMALLOCATOR_FUNCTIONTABLE => 16, 8;
}

super::assert_layout! {
    KSIDENTIFIER => 24, 8;
    KSP_PIN => 32, 8;
    KSMULTIPLE_ITEM => 8, 4;
    KSPROPERTY_MEMBERSHEADER => 16, 4;
    KSPROPERTY_MEMBERSLIST => 24, 8;
    KSPROPERTY_VALUES => 40, 8;
    KSPROPERTY_DESCRIPTION => 40, 8;
    KSPROPERTY_ITEM => 72, 8;
    KSFASTPROPERTY_ITEM => 32, 8;
    KSPROPERTY_SET => 40, 8;
    KSMETHOD_ITEM => 40, 8;
    KSMETHOD_SET => 40, 8;
    KSEVENT_ITEM => 40, 8;
    KSEVENT_SET => 24, 8;
    KSAUTOMATION_TABLE => 48, 8;
}
super::assert_offsets!(KSIDENTIFIER { Set => 0, Id => 16, Flags => 20 });
super::assert_offsets!(KSPROPERTY_ITEM {
    PropertyId => 0,
    GetPropertyHandler => 8,
    MinProperty => 16,
    MinData => 20,
    SetPropertyHandler => 24,
    SupportHandler => 56,
    SerializedSize => 64,
});
super::assert_offsets!(KSPROPERTY_DESCRIPTION { PropTypeSet => 8, MembersListCount => 32 });
