//! Data formats, allocator framing, stream headers and states (ks.h).

use super::{GUID, LONGLONG, POOL_TYPE, PVOID, ULONG};

/// `KSDATAFORMAT` (also `KSDATARANGE`); the C union with a LONGLONG only forces 8-byte
/// alignment.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KSDATAFORMAT {
    pub FormatSize: ULONG,
    pub Flags: ULONG,
    pub SampleSize: ULONG,
    pub Reserved: ULONG,
    pub MajorFormat: GUID,
    pub SubFormat: GUID,
    pub Specifier: GUID,
}
pub type KSDATARANGE = KSDATAFORMAT;

/// `KSALLOCATOR_FRAMING`. `OptionsFlags` is also `RequirementsFlags` (a C union).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KSALLOCATOR_FRAMING {
    pub OptionsFlags: ULONG,
    pub PoolType: POOL_TYPE,
    pub Frames: ULONG,
    pub FrameSize: ULONG,
    pub FileAlignment: ULONG,
    pub Reserved: ULONG,
}

impl KSALLOCATOR_FRAMING {
    /// The union's other name: `RequirementsFlags`.
    pub const fn RequirementsFlags(&self) -> ULONG {
        self.OptionsFlags
    }
}

/// `KS_FRAMING_RANGE`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KS_FRAMING_RANGE {
    pub MinFrameSize: ULONG,
    pub MaxFrameSize: ULONG,
    pub Stepping: ULONG,
}

/// `KS_FRAMING_RANGE_WEIGHTED`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KS_FRAMING_RANGE_WEIGHTED {
    pub Range: KS_FRAMING_RANGE,
    pub InPlaceWeight: ULONG,
    pub NotInPlaceWeight: ULONG,
}

/// `KS_COMPRESSION`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KS_COMPRESSION {
    pub RatioNumerator: ULONG,
    pub RatioDenominator: ULONG,
    pub RatioConstantMargin: ULONG,
}

/// `KS_FRAMING_ITEM`. `Flags` is also `RequirementsFlags` (a C union).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KS_FRAMING_ITEM {
    pub MemoryType: GUID,
    pub BusType: GUID,
    pub MemoryFlags: ULONG,
    pub BusFlags: ULONG,
    pub Flags: ULONG,
    pub Frames: ULONG,
    /// Also `FileAlignment` (a C union); always the alignment mask here.
    pub FileAlignment: ULONG,
    pub MemoryTypeWeight: ULONG,
    pub PhysicalRange: KS_FRAMING_RANGE,
    pub FramingRange: KS_FRAMING_RANGE_WEIGHTED,
}

/// `KSALLOCATOR_FRAMING_EX`: a header and `CountItems` framing items. The C type
/// declares one item; the real structure has `CountItems` of them, so its size is
/// `24 + 88 × CountItems` ([`KSALLOCATOR_FRAMING_EX_SIZE`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KSALLOCATOR_FRAMING_EX {
    pub CountItems: ULONG,
    pub PinFlags: ULONG,
    pub OutputCompression: KS_COMPRESSION,
    pub PinWeight: ULONG,
    pub FramingItem: [KS_FRAMING_ITEM; 1],
}

/// Bytes of a KSALLOCATOR_FRAMING_EX with `items` framing items, or `None` on overflow.
pub const fn KSALLOCATOR_FRAMING_EX_SIZE(items: u32) -> Option<usize> {
    match (items as usize).checked_mul(core::mem::size_of::<KS_FRAMING_ITEM>()) {
        Some(bytes) => bytes.checked_add(core::mem::offset_of!(KSALLOCATOR_FRAMING_EX, FramingItem)),
        None => None,
    }
}

pub const KSALLOCATOR_REQUIREMENTF_INPLACE_MODIFIER: u32 = 0x0000_0001;
pub const KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY: u32 = 0x0000_0002;
pub const KSALLOCATOR_REQUIREMENTF_FRAME_INTEGRITY: u32 = 0x0000_0004;
pub const KSALLOCATOR_REQUIREMENTF_MUST_ALLOCATE: u32 = 0x0000_0008;
pub const KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY: u32 = 0x8000_0000;
pub const KSALLOCATOR_OPTIONF_COMPATIBLE: u32 = 0x0000_0001;
pub const KSALLOCATOR_OPTIONF_SYSTEM_MEMORY: u32 = 0x0000_0002;
pub const KSALLOCATOR_OPTIONF_VALID: u32 = 0x0000_0003;
pub const KSALLOCATOR_FLAG_PARTIAL_READ_SUPPORT: u32 = 0x0000_0010;
pub const KSALLOCATOR_FLAG_DEVICE_SPECIFIC: u32 = 0x0000_0020;
pub const KSALLOCATOR_FLAG_CAN_ALLOCATE: u32 = 0x0000_0040;
pub const KSALLOCATOR_FLAG_INSIST_ON_FRAMESIZE_RATIO: u32 = 0x0000_0080;
pub const KSALLOCATOR_FLAG_NO_FRAME_INTEGRITY: u32 = 0x0000_0100;
pub const KSALLOCATOR_FLAG_MULTIPLE_OUTPUT: u32 = 0x0000_0200;
pub const KSALLOCATOR_FLAG_CYCLE: u32 = 0x0000_0400;
pub const KSALLOCATOR_FLAG_ALLOCATOR_EXISTS: u32 = 0x0000_0800;
pub const KSALLOCATOR_FLAG_INDEPENDENT_RANGES: u32 = 0x0000_1000;
pub const KSALLOCATOR_FLAG_ATTENTION_STEPPING: u32 = 0x0000_2000;

/// `KSTIME`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KSTIME {
    pub Time: LONGLONG,
    pub Numerator: ULONG,
    pub Denominator: ULONG,
}

/// `KSSTREAM_HEADER` (x64: with the trailing `Reserved`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSSTREAM_HEADER {
    pub Size: ULONG,
    pub TypeSpecificFlags: ULONG,
    pub PresentationTime: KSTIME,
    pub Duration: LONGLONG,
    pub FrameExtent: ULONG,
    pub DataUsed: ULONG,
    pub Data: PVOID,
    pub OptionsFlags: ULONG,
    pub Reserved: ULONG,
}

pub const KSSTREAM_HEADER_OPTIONSF_SPLICEPOINT: u32 = 0x0000_0001;
pub const KSSTREAM_HEADER_OPTIONSF_PREROLL: u32 = 0x0000_0002;
pub const KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY: u32 = 0x0000_0004;
pub const KSSTREAM_HEADER_OPTIONSF_TYPECHANGED: u32 = 0x0000_0008;
pub const KSSTREAM_HEADER_OPTIONSF_TIMEVALID: u32 = 0x0000_0010;
pub const KSSTREAM_HEADER_OPTIONSF_TIMEDISCONTINUITY: u32 = 0x0000_0040;
pub const KSSTREAM_HEADER_OPTIONSF_DURATIONVALID: u32 = 0x0000_0100;
pub const KSSTREAM_HEADER_OPTIONSF_ENDOFSTREAM: u32 = 0x0000_0200;

/// `KSPRIORITY`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KSPRIORITY {
    pub PriorityClass: ULONG,
    pub PrioritySubClass: ULONG,
}

/// `KSSTATE`.
pub type KSSTATE = i32;
pub const KSSTATE_STOP: KSSTATE = 0;
pub const KSSTATE_ACQUIRE: KSSTATE = 1;
pub const KSSTATE_PAUSE: KSSTATE = 2;
pub const KSSTATE_RUN: KSSTATE = 3;

/// `KSRESET`.
pub type KSRESET = i32;
pub const KSRESET_BEGIN: KSRESET = 0;
pub const KSRESET_END: KSRESET = 1;

/// `KSPIN_DATAFLOW`.
pub type KSPIN_DATAFLOW = i32;
pub const KSPIN_DATAFLOW_IN: KSPIN_DATAFLOW = 1;
pub const KSPIN_DATAFLOW_OUT: KSPIN_DATAFLOW = 2;

/// `KSPIN_COMMUNICATION`.
pub type KSPIN_COMMUNICATION = i32;
pub const KSPIN_COMMUNICATION_NONE: KSPIN_COMMUNICATION = 0;
pub const KSPIN_COMMUNICATION_SINK: KSPIN_COMMUNICATION = 1;
pub const KSPIN_COMMUNICATION_SOURCE: KSPIN_COMMUNICATION = 2;
pub const KSPIN_COMMUNICATION_BOTH: KSPIN_COMMUNICATION = 3;
pub const KSPIN_COMMUNICATION_BRIDGE: KSPIN_COMMUNICATION = 4;

super::assert_layout! {
    KSDATAFORMAT => 64, 8;
    KSALLOCATOR_FRAMING => 24, 4;
    KS_FRAMING_RANGE => 12, 4;
    KS_FRAMING_RANGE_WEIGHTED => 20, 4;
    KS_COMPRESSION => 12, 4;
    KS_FRAMING_ITEM => 88, 4;
    KSALLOCATOR_FRAMING_EX => 112, 4;
    KSTIME => 16, 8;
    KSSTREAM_HEADER => 56, 8;
    KSPRIORITY => 8, 4;
}
super::assert_offsets!(KSALLOCATOR_FRAMING {
    OptionsFlags => 0,
    PoolType => 4,
    Frames => 8,
    FrameSize => 12,
    FileAlignment => 16,
    Reserved => 20,
});
super::assert_offsets!(KS_FRAMING_ITEM {
    MemoryType => 0,
    BusType => 16,
    MemoryFlags => 32,
    BusFlags => 36,
    Flags => 40,
    Frames => 44,
    FileAlignment => 48,
    MemoryTypeWeight => 52,
    PhysicalRange => 56,
    FramingRange => 68,
});
super::assert_offsets!(KSALLOCATOR_FRAMING_EX {
    CountItems => 0,
    PinFlags => 4,
    OutputCompression => 8,
    PinWeight => 20,
    FramingItem => 24,
});
