//! Video format types (ksmedia.h).

use super::{
    GUID, HANDLE, KSDATAFORMAT, KSDATARANGE, KSPROPERTY, LONG, LONGLONG, RECT, REFERENCE_TIME, SIZE, ULONG,
};

/// `KS_BITMAPINFOHEADER`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KS_BITMAPINFOHEADER {
    pub biSize: u32,
    pub biWidth: LONG,
    pub biHeight: LONG,
    pub biPlanes: u16,
    pub biBitCount: u16,
    pub biCompression: u32,
    pub biSizeImage: u32,
    pub biXPelsPerMeter: LONG,
    pub biYPelsPerMeter: LONG,
    pub biClrUsed: u32,
    pub biClrImportant: u32,
}

/// `KS_VIDEOINFOHEADER` (`bmiHeader` last; palettes and masks would follow it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KS_VIDEOINFOHEADER {
    pub rcSource: RECT,
    pub rcTarget: RECT,
    pub dwBitRate: u32,
    pub dwBitErrorRate: u32,
    pub AvgTimePerFrame: REFERENCE_TIME,
    pub bmiHeader: KS_BITMAPINFOHEADER,
}

/// `KS_VIDEO_STREAM_CONFIG_CAPS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KS_VIDEO_STREAM_CONFIG_CAPS {
    pub guid: GUID,
    pub VideoStandard: ULONG,
    pub InputSize: SIZE,
    pub MinCroppingSize: SIZE,
    pub MaxCroppingSize: SIZE,
    pub CropGranularityX: i32,
    pub CropGranularityY: i32,
    pub CropAlignX: i32,
    pub CropAlignY: i32,
    pub MinOutputSize: SIZE,
    pub MaxOutputSize: SIZE,
    pub OutputGranularityX: i32,
    pub OutputGranularityY: i32,
    pub StretchTapsX: i32,
    pub StretchTapsY: i32,
    pub ShrinkTapsX: i32,
    pub ShrinkTapsY: i32,
    pub MinFrameInterval: LONGLONG,
    pub MaxFrameInterval: LONGLONG,
    pub MinBitsPerSecond: LONG,
    pub MaxBitsPerSecond: LONG,
}

/// `KS_DATARANGE_VIDEO`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KS_DATARANGE_VIDEO {
    pub DataRange: KSDATARANGE,
    pub bFixedSizeSamples: i32,
    pub bTemporalCompression: i32,
    pub StreamDescriptionFlags: u32,
    pub MemoryAllocationFlags: u32,
    pub ConfigCaps: KS_VIDEO_STREAM_CONFIG_CAPS,
    pub VideoInfoHeader: KS_VIDEOINFOHEADER,
}

/// `KS_DATAFORMAT_VIDEOINFOHEADER`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KS_DATAFORMAT_VIDEOINFOHEADER {
    pub DataFormat: KSDATAFORMAT,
    pub VideoInfoHeader: KS_VIDEOINFOHEADER,
}

/// `KS_FRAME_INFO` (ksmedia.h): the extended header that follows a video stream's
/// KSSTREAM_HEADER when the pin's StreamHeaderSize makes room for it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KS_FRAME_INFO {
    pub ExtendedHeaderSize: ULONG,
    pub dwFrameFlags: u32,
    pub PictureNumber: LONGLONG,
    pub DropCount: LONGLONG,
    pub hDirectDraw: HANDLE,
    pub hSurfaceHandle: HANDLE,
    pub DirectDrawRect: RECT,
    pub Reserved1: u32,
    pub Reserved2: u32,
    pub Reserved3: u32,
    pub Reserved4: u32,
}

/// `KS_VIDEO_FLAG_FRAME` (ksmedia.h): a whole frame (not a field).
pub const KS_VIDEO_FLAG_FRAME: u32 = 0x0000;
/// `KS_VIDEO_FLAG_I_FRAME` (ksmedia.h): a key frame.
pub const KS_VIDEO_FLAG_I_FRAME: u32 = 0x0000;

/// `PROPSETID_VIDCAP_DROPPEDFRAMES` (ksmedia.h) `{C6E13344-30AC-11D0-A18C-00A0C9118956}`.
pub const PROPSETID_VIDCAP_DROPPEDFRAMES: GUID = GUID::from_u128(0xC6E13344_30AC_11D0_A18C_00A0C9118956);
/// `KSPROPERTY_DROPPEDFRAMES_CURRENT` (ksmedia.h).
pub const KSPROPERTY_DROPPEDFRAMES_CURRENT: u32 = 0;

/// `KSPROPERTY_DROPPEDFRAMES_CURRENT_S` (ksmedia.h): both the property descriptor and the
/// value of KSPROPERTY_DROPPEDFRAMES_CURRENT.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KSPROPERTY_DROPPEDFRAMES_CURRENT_S {
    pub Property: KSPROPERTY,
    pub PictureNumber: LONGLONG,
    pub DropCount: LONGLONG,
    pub AverageFrameSize: ULONG,
}

super::assert_layout! {
    KS_FRAME_INFO => 72, 8;
    KSPROPERTY_DROPPEDFRAMES_CURRENT_S => 48, 8;
    KS_BITMAPINFOHEADER => 40, 4;
    KS_VIDEOINFOHEADER => 88, 8;
    KS_VIDEO_STREAM_CONFIG_CAPS => 128, 8;
    KS_DATARANGE_VIDEO => 296, 8;
    KS_DATAFORMAT_VIDEOINFOHEADER => 152, 8;
}
super::assert_offsets!(KS_VIDEOINFOHEADER { AvgTimePerFrame => 40, bmiHeader => 48 });
super::assert_offsets!(KS_DATARANGE_VIDEO { ConfigCaps => 80, VideoInfoHeader => 208 });
super::assert_offsets!(KS_FRAME_INFO { PictureNumber => 8, DropCount => 16, DirectDrawRect => 40 });
super::assert_offsets!(KSPROPERTY_DROPPEDFRAMES_CURRENT_S { PictureNumber => 24, DropCount => 32, AverageFrameSize => 40 });
