//! Video format types (ksmedia.h).

use super::{GUID, KSDATAFORMAT, KSDATARANGE, LONG, LONGLONG, RECT, REFERENCE_TIME, SIZE, ULONG};

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

super::assert_layout! {
    KS_BITMAPINFOHEADER => 40, 4;
    KS_VIDEOINFOHEADER => 88, 8;
    KS_VIDEO_STREAM_CONFIG_CAPS => 128, 8;
    KS_DATARANGE_VIDEO => 296, 8;
    KS_DATAFORMAT_VIDEOINFOHEADER => 152, 8;
}
super::assert_offsets!(KS_VIDEOINFOHEADER { AvgTimePerFrame => 40, bmiHeader => 48 });
super::assert_offsets!(KS_DATARANGE_VIDEO { ConfigCaps => 80, VideoInfoHeader => 208 });
