//! `src/ks` against a second, independent oracle: the `windows-sys` crate (generated
//! from Microsoft's Windows metadata), for every type, GUID and constant it carries.

use ksframe::ks;
use std::mem::{align_of, offset_of, size_of};
use windows_sys::Win32::Media::KernelStreaming as ws;

/// Size and alignment of our type equal windows-sys's; then each listed field pair has
/// the same offset (our path ; windows-sys's path, which differs where windows-sys names
/// an anonymous union `Anonymous`).
macro_rules! same_layout {
    ($ours:ident = $theirs:ty { $($($a:ident).+ ; $($b:ident).+),* $(,)? }) => {{
        assert_eq!(size_of::<ks::$ours>(), size_of::<$theirs>(), "{} size", stringify!($ours));
        assert_eq!(align_of::<ks::$ours>(), align_of::<$theirs>(), "{} align", stringify!($ours));
        $(
            assert_eq!(
                offset_of!(ks::$ours, $($a).+),
                offset_of!($theirs, $($b).+),
                "{}.{}",
                stringify!($ours),
                stringify!($($a).+)
            );
        )*
        1
    }};
}

/// Same field names on both sides.
macro_rules! same_fields {
    ($ours:ident { $($f:ident),* $(,)? }) => {
        same_layout!($ours = ws::$ours { $($f ; $f),* })
    };
}

#[test]
fn layouts_match_windows_sys() {
    let mut checked = 0;
    checked += same_layout!(KSIDENTIFIER = ws::KSIDENTIFIER {
        Set ; Anonymous.Anonymous.Set,
        Id ; Anonymous.Anonymous.Id,
        Flags ; Anonymous.Anonymous.Flags,
    });
    checked += same_layout!(KSALLOCATOR_FRAMING = ws::KSALLOCATOR_FRAMING {
        OptionsFlags ; Anonymous1.OptionsFlags,
        PoolType ; PoolType,
        Frames ; Frames,
        FrameSize ; FrameSize,
        FileAlignment ; Anonymous2.FileAlignment,
        Reserved ; Reserved,
    });
    checked += same_fields!(KS_FRAMING_RANGE { MinFrameSize, MaxFrameSize, Stepping });
    checked += same_fields!(KS_FRAMING_RANGE_WEIGHTED { Range, InPlaceWeight, NotInPlaceWeight });
    checked += same_fields!(KS_COMPRESSION { RatioNumerator, RatioDenominator, RatioConstantMargin });
    checked += same_layout!(KS_FRAMING_ITEM = ws::KS_FRAMING_ITEM {
        MemoryType ; MemoryType,
        BusType ; BusType,
        MemoryFlags ; MemoryFlags,
        BusFlags ; BusFlags,
        Flags ; Flags,
        Frames ; Frames,
        FileAlignment ; Anonymous.FileAlignment,
        MemoryTypeWeight ; MemoryTypeWeight,
        PhysicalRange ; PhysicalRange,
        FramingRange ; FramingRange,
    });
    checked += same_fields!(KSALLOCATOR_FRAMING_EX {
        CountItems,
        PinFlags,
        OutputCompression,
        PinWeight,
        FramingItem
    });
    checked += same_layout!(KSDATAFORMAT = ws::KSDATAFORMAT {
        FormatSize ; Anonymous.FormatSize,
        Flags ; Anonymous.Flags,
        SampleSize ; Anonymous.SampleSize,
        Reserved ; Anonymous.Reserved,
        MajorFormat ; Anonymous.MajorFormat,
        SubFormat ; Anonymous.SubFormat,
        Specifier ; Anonymous.Specifier,
    });
    checked += same_fields!(KSTIME { Time, Numerator, Denominator });
    checked += same_fields!(KSSTREAM_HEADER {
        Size,
        TypeSpecificFlags,
        PresentationTime,
        Duration,
        FrameExtent,
        DataUsed,
        Data,
        OptionsFlags,
        Reserved,
    });
    checked += same_fields!(KSPRIORITY { PriorityClass, PrioritySubClass });
    checked += same_fields!(KSMULTIPLE_ITEM { Size, Count });
    checked += same_layout!(KSP_PIN = ws::KSP_PIN { Property ; Property, PinId ; PinId, Reserved ; Anonymous.Reserved });
    checked += same_fields!(KSPROPERTY_MEMBERSHEADER { MembersFlags, MembersSize, MembersCount, Flags });
    checked += same_fields!(KSPROPERTY_DESCRIPTION {
        AccessFlags,
        DescriptionSize,
        PropTypeSet,
        MembersListCount,
        Reserved,
    });
    checked += same_fields!(KSCOMPONENTID { Manufacturer, Product, Component, Name, Version, Revision });
    checked += same_fields!(KSTOPOLOGY_CONNECTION { FromNode, FromNodePin, ToNode, ToNodePin });
    checked += same_fields!(KS_BITMAPINFOHEADER {
        biSize,
        biWidth,
        biHeight,
        biPlanes,
        biBitCount,
        biCompression,
        biSizeImage,
        biXPelsPerMeter,
        biYPelsPerMeter,
        biClrUsed,
        biClrImportant,
    });
    checked += same_fields!(KS_VIDEOINFOHEADER {
        rcSource,
        rcTarget,
        dwBitRate,
        dwBitErrorRate,
        AvgTimePerFrame,
        bmiHeader,
    });
    checked += same_fields!(KS_VIDEO_STREAM_CONFIG_CAPS {
        guid,
        VideoStandard,
        InputSize,
        MinCroppingSize,
        MaxCroppingSize,
        CropGranularityX,
        CropGranularityY,
        CropAlignX,
        CropAlignY,
        MinOutputSize,
        MaxOutputSize,
        OutputGranularityX,
        OutputGranularityY,
        StretchTapsX,
        StretchTapsY,
        ShrinkTapsX,
        ShrinkTapsY,
        MinFrameInterval,
        MaxFrameInterval,
        MinBitsPerSecond,
        MaxBitsPerSecond,
    });
    checked += same_fields!(KS_DATARANGE_VIDEO {
        DataRange,
        bFixedSizeSamples,
        bTemporalCompression,
        StreamDescriptionFlags,
        MemoryAllocationFlags,
        ConfigCaps,
        VideoInfoHeader,
    });
    checked += same_fields!(KS_DATAFORMAT_VIDEOINFOHEADER { DataFormat, VideoInfoHeader });
    checked += same_layout!(RECT = windows_sys::Win32::Foundation::RECT { left ; left, top ; top, right ; right, bottom ; bottom });
    checked += same_layout!(SIZE = windows_sys::Win32::Foundation::SIZE { cx ; cx, cy ; cy });
    assert_eq!(checked, 24);
}

fn guid(g: windows_sys::core::GUID) -> ks::GUID {
    ks::GUID { Data1: g.data1, Data2: g.data2, Data3: g.data3, Data4: g.data4 }
}

#[test]
fn guids_match_windows_sys() {
    let pairs = [
        ("KSPROPSETID_General", ks::KSPROPSETID_General, ws::KSPROPSETID_General),
        ("KSPROPSETID_Pin", ks::KSPROPSETID_Pin, ws::KSPROPSETID_Pin),
        ("KSPROPSETID_Connection", ks::KSPROPSETID_Connection, ws::KSPROPSETID_Connection),
        ("KSPROPSETID_Stream", ks::KSPROPSETID_Stream, ws::KSPROPSETID_Stream),
        ("KSPROPSETID_StreamAllocator", ks::KSPROPSETID_StreamAllocator, ws::KSPROPSETID_StreamAllocator),
        ("KSNAME_Filter", ks::KSNAME_Filter, ws::KSNAME_Filter),
        ("KSMEMORY_TYPE_SYSTEM", ks::KSMEMORY_TYPE_SYSTEM, ws::KSMEMORY_TYPE_SYSTEM),
        ("KSMEMORY_TYPE_USER", ks::KSMEMORY_TYPE_USER, ws::KSMEMORY_TYPE_USER),
        ("KSMEMORY_TYPE_KERNEL_PAGED", ks::KSMEMORY_TYPE_KERNEL_PAGED, ws::KSMEMORY_TYPE_KERNEL_PAGED),
        (
            "KSMEMORY_TYPE_KERNEL_NONPAGED",
            ks::KSMEMORY_TYPE_KERNEL_NONPAGED,
            ws::KSMEMORY_TYPE_KERNEL_NONPAGED,
        ),
        ("KSINTERFACESETID_Standard", ks::KSINTERFACESETID_Standard, ws::KSINTERFACESETID_Standard),
        ("KSMEDIUMSETID_Standard", ks::KSMEDIUMSETID_Standard, ws::KSMEDIUMSETID_Standard),
        ("KSCATEGORY_CAPTURE", ks::KSCATEGORY_CAPTURE, ws::KSCATEGORY_CAPTURE),
        ("KSCATEGORY_VIDEO", ks::KSCATEGORY_VIDEO, ws::KSCATEGORY_VIDEO),
        ("KSCATEGORY_VIDEO_CAMERA", ks::KSCATEGORY_VIDEO_CAMERA, ws::KSCATEGORY_VIDEO_CAMERA),
        ("KSDATAFORMAT_TYPE_STREAM", ks::KSDATAFORMAT_TYPE_STREAM, ws::KSDATAFORMAT_TYPE_STREAM),
        ("KSDATAFORMAT_TYPE_VIDEO", ks::KSDATAFORMAT_TYPE_VIDEO, ws::KSDATAFORMAT_TYPE_VIDEO),
        (
            "KSDATAFORMAT_SPECIFIER_VIDEOINFO",
            ks::KSDATAFORMAT_SPECIFIER_VIDEOINFO,
            ws::KSDATAFORMAT_SPECIFIER_VIDEOINFO,
        ),
        ("PINNAME_VIDEO_CAPTURE", ks::PINNAME_VIDEO_CAPTURE, ws::PINNAME_VIDEO_CAPTURE),
    ];
    for (name, ours, theirs) in pairs {
        assert_eq!(ours, guid(theirs), "{name}");
    }
    // The FOURCC subtypes follow MEDIASUBTYPE's pattern: FOURCC-0000-0010-8000-00AA00389B71.
    for (name, ours, fourcc) in
        [("YUY2", ks::KSDATAFORMAT_SUBTYPE_YUY2, *b"YUY2"), ("NV12", ks::KSDATAFORMAT_SUBTYPE_NV12, *b"NV12")]
    {
        assert_eq!(ours.Data1, u32::from_le_bytes(fourcc), "{name}");
        assert_eq!((ours.Data2, ours.Data3), (0x0000, 0x0010), "{name}");
        assert_eq!(ours.Data4, ks::KSDATAFORMAT_TYPE_VIDEO.Data4, "{name}");
    }
}

#[test]
fn constants_match_windows_sys() {
    let u32s = [
        ("KSPROPERTY_TYPE_GET", ks::KSPROPERTY_TYPE_GET, ws::KSPROPERTY_TYPE_GET),
        ("KSPROPERTY_TYPE_SET", ks::KSPROPERTY_TYPE_SET, ws::KSPROPERTY_TYPE_SET),
        ("KSPROPERTY_TYPE_SETSUPPORT", ks::KSPROPERTY_TYPE_SETSUPPORT, ws::KSPROPERTY_TYPE_SETSUPPORT),
        ("KSPROPERTY_TYPE_BASICSUPPORT", ks::KSPROPERTY_TYPE_BASICSUPPORT, ws::KSPROPERTY_TYPE_BASICSUPPORT),
        (
            "KSPROPERTY_TYPE_GETPAYLOADSIZE",
            ks::KSPROPERTY_TYPE_GETPAYLOADSIZE,
            ws::KSPROPERTY_TYPE_GETPAYLOADSIZE,
        ),
        ("KSPROPERTY_TYPE_RELATIONS", ks::KSPROPERTY_TYPE_RELATIONS, ws::KSPROPERTY_TYPE_RELATIONS),
        (
            "KSPROPERTY_TYPE_DEFAULTVALUES",
            ks::KSPROPERTY_TYPE_DEFAULTVALUES,
            ws::KSPROPERTY_TYPE_DEFAULTVALUES,
        ),
        ("KSPROPERTY_TYPE_TOPOLOGY", ks::KSPROPERTY_TYPE_TOPOLOGY, ws::KSPROPERTY_TYPE_TOPOLOGY),
        (
            "KSALLOCATOR_REQUIREMENTF_INPLACE_MODIFIER",
            ks::KSALLOCATOR_REQUIREMENTF_INPLACE_MODIFIER,
            ws::KSALLOCATOR_REQUIREMENTF_INPLACE_MODIFIER,
        ),
        (
            "KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY",
            ks::KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY,
            ws::KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY,
        ),
        (
            "KSALLOCATOR_REQUIREMENTF_FRAME_INTEGRITY",
            ks::KSALLOCATOR_REQUIREMENTF_FRAME_INTEGRITY,
            ws::KSALLOCATOR_REQUIREMENTF_FRAME_INTEGRITY,
        ),
        (
            "KSALLOCATOR_REQUIREMENTF_MUST_ALLOCATE",
            ks::KSALLOCATOR_REQUIREMENTF_MUST_ALLOCATE,
            ws::KSALLOCATOR_REQUIREMENTF_MUST_ALLOCATE,
        ),
        (
            "KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY",
            ks::KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY,
            ws::KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY,
        ),
        (
            "KSALLOCATOR_OPTIONF_COMPATIBLE",
            ks::KSALLOCATOR_OPTIONF_COMPATIBLE,
            ws::KSALLOCATOR_OPTIONF_COMPATIBLE,
        ),
        (
            "KSALLOCATOR_OPTIONF_SYSTEM_MEMORY",
            ks::KSALLOCATOR_OPTIONF_SYSTEM_MEMORY,
            ws::KSALLOCATOR_OPTIONF_SYSTEM_MEMORY,
        ),
        (
            "KSALLOCATOR_FLAG_PARTIAL_READ_SUPPORT",
            ks::KSALLOCATOR_FLAG_PARTIAL_READ_SUPPORT,
            ws::KSALLOCATOR_FLAG_PARTIAL_READ_SUPPORT,
        ),
        (
            "KSALLOCATOR_FLAG_CAN_ALLOCATE",
            ks::KSALLOCATOR_FLAG_CAN_ALLOCATE,
            ws::KSALLOCATOR_FLAG_CAN_ALLOCATE,
        ),
        (
            "KSALLOCATOR_FLAG_INDEPENDENT_RANGES",
            ks::KSALLOCATOR_FLAG_INDEPENDENT_RANGES,
            ws::KSALLOCATOR_FLAG_INDEPENDENT_RANGES,
        ),
        ("IOCTL_KS_PROPERTY", ks::IOCTL_KS_PROPERTY, ws::IOCTL_KS_PROPERTY),
        ("IOCTL_KS_METHOD", ks::IOCTL_KS_METHOD, ws::IOCTL_KS_METHOD),
        ("IOCTL_KS_ENABLE_EVENT", ks::IOCTL_KS_ENABLE_EVENT, ws::IOCTL_KS_ENABLE_EVENT),
        ("IOCTL_KS_DISABLE_EVENT", ks::IOCTL_KS_DISABLE_EVENT, ws::IOCTL_KS_DISABLE_EVENT),
        ("IOCTL_KS_RESET_STATE", ks::IOCTL_KS_RESET_STATE, ws::IOCTL_KS_RESET_STATE),
        ("IOCTL_KS_READ_STREAM", ks::IOCTL_KS_READ_STREAM, ws::IOCTL_KS_READ_STREAM),
        ("IOCTL_KS_WRITE_STREAM", ks::IOCTL_KS_WRITE_STREAM, ws::IOCTL_KS_WRITE_STREAM),
    ];
    for (name, ours, theirs) in u32s {
        assert_eq!(ours, theirs, "{name}");
    }
    let ids = [
        ("KSPROPERTY_CONNECTION_STATE", ks::KSPROPERTY_CONNECTION_STATE, ws::KSPROPERTY_CONNECTION_STATE),
        (
            "KSPROPERTY_CONNECTION_ALLOCATORFRAMING",
            ks::KSPROPERTY_CONNECTION_ALLOCATORFRAMING,
            ws::KSPROPERTY_CONNECTION_ALLOCATORFRAMING,
        ),
        (
            "KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX",
            ks::KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX,
            ws::KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX,
        ),
        (
            "KSPROPERTY_CONNECTION_STARTAT",
            ks::KSPROPERTY_CONNECTION_STARTAT,
            ws::KSPROPERTY_CONNECTION_STARTAT,
        ),
        ("KSPROPERTY_STREAM_ALLOCATOR", ks::KSPROPERTY_STREAM_ALLOCATOR, ws::KSPROPERTY_STREAM_ALLOCATOR),
        ("KSPROPERTY_STREAM_QUALITY", ks::KSPROPERTY_STREAM_QUALITY, ws::KSPROPERTY_STREAM_QUALITY),
        ("KSPROPERTY_STREAM_PIPE_ID", ks::KSPROPERTY_STREAM_PIPE_ID, ws::KSPROPERTY_STREAM_PIPE_ID),
    ];
    for (name, ours, theirs) in ids {
        assert_eq!(i64::from(ours), i64::from(theirs), "{name}");
    }
    let states = [
        (ks::KSSTATE_STOP, ws::KSSTATE_STOP),
        (ks::KSSTATE_ACQUIRE, ws::KSSTATE_ACQUIRE),
        (ks::KSSTATE_PAUSE, ws::KSSTATE_PAUSE),
        (ks::KSSTATE_RUN, ws::KSSTATE_RUN),
        (ks::KSPIN_DATAFLOW_IN, ws::KSPIN_DATAFLOW_IN),
        (ks::KSPIN_DATAFLOW_OUT, ws::KSPIN_DATAFLOW_OUT),
        (ks::KSPIN_COMMUNICATION_SINK, ws::KSPIN_COMMUNICATION_SINK),
        (ks::KSPIN_COMMUNICATION_SOURCE, ws::KSPIN_COMMUNICATION_SOURCE),
        (ks::KSPIN_COMMUNICATION_BOTH, ws::KSPIN_COMMUNICATION_BOTH),
    ];
    for (ours, theirs) in states {
        assert_eq!(ours, theirs);
    }
}
