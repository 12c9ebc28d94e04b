//! Decoding what a KS filter or pin answers, from the bytes a property request returns,
//! into named fields. Plain Rust over byte slices and windows-sys's generated struct
//! layouts (which compile on every host), so all of it is unit-tested on Linux.
//!
//! Layouts: ks.h / ksmedia.h as windows-sys generates them (KSALLOCATOR_FRAMING 24 bytes,
//! KSALLOCATOR_FRAMING_EX 24 + 88·n, KSMULTIPLE_ITEM 8, KSDATARANGE 64,
//! KS_DATARANGE_VIDEO 296, KSSTREAM_HEADER 56 on x64, KS_FRAME_INFO 72).

use serde::Serialize;
use windows_sys::Win32::Media::KernelStreaming as ks;
use windows_sys::core::GUID;

/// Reads a `T` from the start of `bytes`, if there are enough of them.
pub fn read<T: Copy>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < size_of::<T>() {
        return None;
    }
    // SAFETY: at least size_of::<T>() readable bytes; read_unaligned has no alignment
    // requirement; every T used here is a plain-old-data windows-sys struct (integers,
    // GUIDs, handles as integers) for which any bit pattern is valid.
    Some(unsafe { bytes.as_ptr().cast::<T>().read_unaligned() })
}

/// The bytes of a plain-old-data value.
pub fn bytes_of<T: Copy>(value: &T) -> &[u8] {
    // SAFETY: a live value of size_of::<T>() bytes, read as bytes; the windows-sys structs
    // serialised here are repr(C) and initialised whole (built from zeroed()).
    unsafe { core::slice::from_raw_parts((value as *const T).cast::<u8>(), size_of::<T>()) }
}

pub fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

pub fn guid_string(g: &GUID) -> String {
    format!(
        "{{{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}}}",
        g.data1,
        g.data2,
        g.data3,
        g.data4[0],
        g.data4[1],
        g.data4[2],
        g.data4[3],
        g.data4[4],
        g.data4[5],
        g.data4[6],
        g.data4[7]
    )
}

/// ksframe's private statistics set (ksframe `src/property/mod.rs`).
pub const KSPROPSETID_KSFRAME_ALLOCATOR: GUID = GUID::from_u128(0x6B7D3A52_5E0B_4C1F_9B1E_6B53464B4652);
/// PROPSETID_VIDCAP_DROPPEDFRAMES (ksmedia.h).
pub const PROPSETID_VIDCAP_DROPPEDFRAMES: GUID = GUID::from_u128(0xc6e13344_30ac_11d0_a18c_00a0c9118956);
/// KSMEMORY_TYPE_KERNEL_NONPAGED / SYSTEM (ks.h).
pub const KSMEMORY_TYPE_KERNEL_NONPAGED: GUID = GUID::from_u128(0x4a6d5fc4_7895_11d1_b069_00a0c9062802);
pub const KSMEMORY_TYPE_SYSTEM: GUID = GUID::from_u128(0x091bb638_603f_11d1_b067_00a0c9062802);

/// The name of a GUID KS clients meet, else its string form.
pub fn guid_name(g: &GUID) -> String {
    let known: &[(GUID, &str)] = &[
        (ks::KSDATAFORMAT_TYPE_VIDEO, "KSDATAFORMAT_TYPE_VIDEO"),
        (ks::KSDATAFORMAT_SPECIFIER_VIDEOINFO, "KSDATAFORMAT_SPECIFIER_VIDEOINFO"),
        (ks::KSDATAFORMAT_SPECIFIER_VIDEOINFO2, "KSDATAFORMAT_SPECIFIER_VIDEOINFO2"),
        (ks::KSDATAFORMAT_SPECIFIER_NONE, "KSDATAFORMAT_SPECIFIER_NONE"),
        (ks::KSDATAFORMAT_TYPE_STREAM, "KSDATAFORMAT_TYPE_STREAM"),
        (ks::KSDATAFORMAT_SUBTYPE_NONE, "KSDATAFORMAT_SUBTYPE_NONE"),
        (ks::PINNAME_VIDEO_CAPTURE, "PINNAME_VIDEO_CAPTURE (PINNAME_CAPTURE)"),
        (ks::PINNAME_VIDEO_PREVIEW, "PINNAME_VIDEO_PREVIEW"),
        (ks::KSCATEGORY_CAPTURE, "KSCATEGORY_CAPTURE"),
        (ks::KSCATEGORY_VIDEO, "KSCATEGORY_VIDEO"),
        (KSMEMORY_TYPE_KERNEL_NONPAGED, "KSMEMORY_TYPE_KERNEL_NONPAGED"),
        (KSMEMORY_TYPE_SYSTEM, "KSMEMORY_TYPE_SYSTEM"),
        (GUID::from_u128(0), "GUID_NULL (KS_TYPE_DONT_CARE)"),
        (ks::KSPROPSETID_Pin, "KSPROPSETID_Pin"),
        (ks::KSPROPSETID_Connection, "KSPROPSETID_Connection"),
        (ks::KSPROPSETID_Stream, "KSPROPSETID_Stream"),
        (ks::KSPROPSETID_General, "KSPROPSETID_General"),
        (KSPROPSETID_KSFRAME_ALLOCATOR, "KSPROPSETID_KsframeAllocator"),
        (PROPSETID_VIDCAP_DROPPEDFRAMES, "PROPSETID_VIDCAP_DROPPEDFRAMES"),
    ];
    if let Some((_, name)) = known.iter().find(|(k, _)| same_guid(k, g)) {
        return (*name).to_string();
    }
    // MEDIASUBTYPE_<FOURCC>: {XXXXXXXX-0000-0010-8000-00AA00389B71}.
    if g.data2 == 0 && g.data3 == 0x10 && g.data4 == [0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71] {
        return format!("KSDATAFORMAT_SUBTYPE_{}", fourcc(g.data1));
    }
    guid_string(g)
}

pub fn same_guid(a: &GUID, b: &GUID) -> bool {
    a.data1 == b.data1 && a.data2 == b.data2 && a.data3 == b.data3 && a.data4 == b.data4
}

/// A FOURCC as text (printable ASCII), else hex.
pub fn fourcc(code: u32) -> String {
    let b = code.to_le_bytes();
    if b.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        b.iter().map(|c| *c as char).collect()
    } else {
        format!("{code:#010x}")
    }
}

fn flag_names(value: u32, table: &[(u32, &'static str)]) -> Vec<String> {
    let mut names: Vec<String> =
        table.iter().filter(|(bit, _)| value & bit != 0).map(|(_, n)| (*n).to_string()).collect();
    let rest = table.iter().fold(value, |v, (bit, _)| v & !bit);
    if rest != 0 {
        names.push(format!("{rest:#x}"));
    }
    names
}

/// KSALLOCATOR_REQUIREMENTF_* (ks.h): the meaning of OptionsFlags in a pin's answer.
const REQUIREMENTS: &[(u32, &str)] = &[
    (ks::KSALLOCATOR_REQUIREMENTF_INPLACE_MODIFIER, "INPLACE_MODIFIER"),
    (ks::KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY, "SYSTEM_MEMORY"),
    (ks::KSALLOCATOR_REQUIREMENTF_FRAME_INTEGRITY, "FRAME_INTEGRITY"),
    (ks::KSALLOCATOR_REQUIREMENTF_MUST_ALLOCATE, "MUST_ALLOCATE"),
    (ks::KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY, "PREFERENCES_ONLY"),
];

/// KSALLOCATOR_FLAG_* (ks.h): KS_FRAMING_ITEM.Flags.
const ITEM_FLAGS: &[(u32, &str)] = &[
    (ks::KSALLOCATOR_FLAG_PARTIAL_READ_SUPPORT, "PARTIAL_READ_SUPPORT"),
    (ks::KSALLOCATOR_FLAG_DEVICE_SPECIFIC, "DEVICE_SPECIFIC"),
    (ks::KSALLOCATOR_FLAG_CAN_ALLOCATE, "CAN_ALLOCATE"),
    (ks::KSALLOCATOR_FLAG_INSIST_ON_FRAMESIZE_RATIO, "INSIST_ON_FRAMESIZE_RATIO"),
    (ks::KSALLOCATOR_FLAG_NO_FRAME_INTEGRITY, "NO_FRAME_INTEGRITY"),
    (ks::KSALLOCATOR_FLAG_MULTIPLE_OUTPUT, "MULTIPLE_OUTPUT"),
    (ks::KSALLOCATOR_FLAG_CYCLE, "CYCLE"),
    (ks::KSALLOCATOR_FLAG_ALLOCATOR_EXISTS, "ALLOCATOR_EXISTS"),
    (ks::KSALLOCATOR_FLAG_INDEPENDENT_RANGES, "INDEPENDENT_RANGES"),
    (ks::KSALLOCATOR_FLAG_ATTENTION_STEPPING, "ATTENTION_STEPPING"),
];

/// KSALLOCATOR_FRAMING, decoded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Framing {
    pub requirements_flags: u32,
    pub requirements: Vec<String>,
    pub pool_type: u32,
    pub pool: String,
    pub frames: u32,
    pub frame_size: u32,
    /// FileAlignment: alignment − 1 (FILE_*_ALIGNMENT).
    pub file_alignment: u32,
    pub alignment_bytes: u64,
}

fn pool_name(pool: u32) -> String {
    match pool {
        0 => "NonPagedPool".into(),
        1 => "PagedPool".into(),
        512 => "NonPagedPoolNx".into(),
        other => format!("pool type {other}"),
    }
}

pub fn framing(bytes: &[u8]) -> Option<Framing> {
    let f: ks::KSALLOCATOR_FRAMING = read(bytes)?;
    // SAFETY: both union members are a u32; either reading is valid.
    let (flags, alignment) = unsafe { (f.Anonymous1.OptionsFlags, f.Anonymous2.FileAlignment) };
    Some(Framing {
        requirements_flags: flags,
        requirements: flag_names(flags, REQUIREMENTS),
        pool_type: f.PoolType,
        pool: pool_name(f.PoolType),
        frames: f.Frames,
        frame_size: f.FrameSize,
        file_alignment: alignment,
        alignment_bytes: u64::from(alignment) + 1,
    })
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Range {
    pub min: u32,
    pub max: u32,
    pub stepping: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FramingItem {
    pub memory_type: String,
    pub bus_type: String,
    pub memory_flags: u32,
    pub memory_requirements: Vec<String>,
    pub bus_flags: u32,
    pub flags: u32,
    pub flag_names: Vec<String>,
    pub frames: u32,
    pub file_alignment: u32,
    pub memory_type_weight: u32,
    pub physical_range: Range,
    pub framing_range: Range,
    pub in_place_weight: u32,
    pub not_in_place_weight: u32,
}

/// KSALLOCATOR_FRAMING_EX, decoded (every item).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FramingEx {
    pub count_items: u32,
    pub pin_flags: u32,
    pub output_compression: [u32; 3],
    pub pin_weight: u32,
    pub items: Vec<FramingItem>,
}

/// Bytes of the KSALLOCATOR_FRAMING_EX header and of one KS_FRAMING_ITEM.
pub const FRAMING_EX_HEADER: usize = 24;
pub const FRAMING_ITEM: usize = size_of::<ks::KS_FRAMING_ITEM>();

pub fn framing_ex(bytes: &[u8]) -> Option<FramingEx> {
    let head: ks::KSALLOCATOR_FRAMING_EX = {
        // The struct holds one item; a short answer still has a header to read.
        let mut buf = [0u8; size_of::<ks::KSALLOCATOR_FRAMING_EX>()];
        let n = bytes.len().min(buf.len());
        if n < FRAMING_EX_HEADER {
            return None;
        }
        buf[..n].copy_from_slice(&bytes[..n]);
        read(&buf)?
    };
    let mut items = Vec::new();
    for i in 0..head.CountItems as usize {
        let at = FRAMING_EX_HEADER.checked_add(i.checked_mul(FRAMING_ITEM)?)?;
        let it: ks::KS_FRAMING_ITEM = read(bytes.get(at..)?)?;
        let memory_flags = it.MemoryFlags;
        items.push(FramingItem {
            memory_type: guid_name(&it.MemoryType),
            bus_type: guid_name(&it.BusType),
            memory_flags,
            memory_requirements: flag_names(memory_flags, REQUIREMENTS),
            bus_flags: it.BusFlags,
            flags: it.Flags,
            // KS_FRAMING_ITEM.Flags carries KSALLOCATOR_REQUIREMENTF_* (DECLARE_SIMPLE_FRAMING_EX
            // puts the framing's flags there) and KSALLOCATOR_FLAG_* (ks.h); the bits differ.
            flag_names: flag_names(it.Flags, &[REQUIREMENTS, ITEM_FLAGS].concat()),
            frames: it.Frames,
            // SAFETY: FileAlignment / FramePitch are 32-bit either way.
            file_alignment: unsafe { it.Anonymous.FileAlignment },
            memory_type_weight: it.MemoryTypeWeight,
            physical_range: Range {
                min: it.PhysicalRange.MinFrameSize,
                max: it.PhysicalRange.MaxFrameSize,
                stepping: it.PhysicalRange.Stepping,
            },
            framing_range: Range {
                min: it.FramingRange.Range.MinFrameSize,
                max: it.FramingRange.Range.MaxFrameSize,
                stepping: it.FramingRange.Range.Stepping,
            },
            in_place_weight: it.FramingRange.InPlaceWeight,
            not_in_place_weight: it.FramingRange.NotInPlaceWeight,
        });
    }
    let c = head.OutputCompression;
    Some(FramingEx {
        count_items: head.CountItems,
        pin_flags: head.PinFlags,
        output_compression: [c.RatioNumerator, c.RatioDenominator, c.RatioConstantMargin],
        pin_weight: head.PinWeight,
        items,
    })
}

/// The video part of a KS_DATARANGE_VIDEO.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VideoRange {
    pub width: i32,
    pub height: i32,
    pub bit_count: u16,
    pub compression: String,
    pub image_size: u32,
    pub min_frame_interval: i64,
    pub max_frame_interval: i64,
    pub max_fps: f64,
    pub min_bits_per_second: i32,
    pub max_bits_per_second: i32,
    pub fixed_size_samples: bool,
}

/// One KSDATARANGE (and, for VIDEOINFO ranges, its video part).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DataRange {
    pub index: usize,
    pub format_size: u32,
    pub sample_size: u32,
    pub major_format: String,
    pub sub_format: String,
    pub specifier: String,
    pub video: Option<VideoRange>,
    /// The range's bytes, kept to build a connection format from (not printed).
    #[serde(skip)]
    pub raw: Vec<u8>,
}

impl DataRange {
    /// "YUY2 640x480 @30fps 614400 bytes" (or the subtype's name).
    pub fn summary(&self) -> String {
        match &self.video {
            Some(v) => format!(
                "{} {}x{} {}bpp @{:.3}fps, {} bytes/frame",
                v.compression, v.width, v.height, v.bit_count, v.max_fps, v.image_size
            ),
            None => format!("{} / {}", self.major_format, self.sub_format),
        }
    }
}

fn fps(interval: i64) -> f64 {
    if interval > 0 { 10_000_000.0 / interval as f64 } else { 0.0 }
}

pub fn data_range(index: usize, bytes: &[u8]) -> Option<DataRange> {
    let header: ks::KSDATAFORMAT_0 = read(bytes)?;
    let size = header.FormatSize as usize;
    let raw = bytes.get(..size)?.to_vec();
    let video = if same_guid(&header.Specifier, &ks::KSDATAFORMAT_SPECIFIER_VIDEOINFO)
        && size >= size_of::<ks::KS_DATARANGE_VIDEO>()
    {
        let v: ks::KS_DATARANGE_VIDEO = read(bytes)?;
        let bmi = v.VideoInfoHeader.bmiHeader;
        let caps = v.ConfigCaps;
        Some(VideoRange {
            width: bmi.biWidth,
            height: bmi.biHeight,
            bit_count: bmi.biBitCount,
            compression: fourcc(bmi.biCompression),
            image_size: bmi.biSizeImage,
            min_frame_interval: caps.MinFrameInterval,
            max_frame_interval: caps.MaxFrameInterval,
            max_fps: fps(caps.MinFrameInterval),
            min_bits_per_second: caps.MinBitsPerSecond,
            max_bits_per_second: caps.MaxBitsPerSecond,
            fixed_size_samples: v.bFixedSizeSamples != 0,
        })
    } else {
        None
    };
    Some(DataRange {
        index,
        format_size: header.FormatSize,
        sample_size: header.SampleSize,
        major_format: guid_name(&header.MajorFormat),
        sub_format: guid_name(&header.SubFormat),
        specifier: guid_name(&header.Specifier),
        video,
        raw,
    })
}

/// The KSMULTIPLE_ITEM of KSPROPERTY_PIN_DATARANGES: Size (all bytes), Count, then the
/// ranges, each starting on an 8-byte boundary (FILE_QUAD_ALIGNMENT; KSPROPERTY_PIN_DATARANGES
/// docs, and ReactOS `drivers/ksfilter/ks/connectivity.c`, KspPinPropertyHandler).
pub fn data_ranges(bytes: &[u8]) -> Result<Vec<DataRange>, String> {
    let head: ks::KSMULTIPLE_ITEM = read(bytes).ok_or("shorter than a KSMULTIPLE_ITEM")?;
    if head.Size as usize > bytes.len() {
        return Err(format!("KSMULTIPLE_ITEM.Size {} but {} bytes returned", head.Size, bytes.len()));
    }
    let mut at = size_of::<ks::KSMULTIPLE_ITEM>();
    let mut out = Vec::new();
    for i in 0..head.Count as usize {
        let range = bytes
            .get(at..head.Size as usize)
            .and_then(|b| data_range(i, b))
            .ok_or_else(|| format!("range {i} at offset {at} runs past the item"))?;
        if range.format_size < size_of::<ks::KSDATAFORMAT>() as u32 {
            return Err(format!("range {i}: FormatSize {} is below a KSDATARANGE", range.format_size));
        }
        at = at.saturating_add((range.format_size as usize).next_multiple_of(8));
        out.push(range);
    }
    Ok(out)
}

/// The KSPIN_CONNECT + KSDATAFORMAT (+ format body) KsCreatePin sends for `range`, as
/// ksvideosrc builds it from a KS_DATARANGE_VIDEO (GSTREAMER-NOTES): the range's
/// KSDATARANGE header as the format header with FormatSize = 64 + 88
/// (KS_DATAFORMAT_VIDEOINFOHEADER), then the range's KS_VIDEOINFOHEADER.
pub fn connect_request(pin_id: u32, range: &DataRange) -> Option<Vec<u8>> {
    // Only VIDEOINFO ranges: their KS_VIDEOINFOHEADER becomes the format body.
    range.video.as_ref()?;
    let mut connect: ks::KSPIN_CONNECT = unsafe_zeroed();
    connect.Interface = identifier(ks::KSINTERFACESETID_Standard, ks::KSINTERFACE_STANDARD_STREAMING as u32);
    connect.Medium = identifier(ks::KSMEDIUMSETID_Standard, ks::KSMEDIUM_TYPE_ANYINSTANCE);
    connect.PinId = pin_id;
    connect.Priority =
        ks::KSPRIORITY { PriorityClass: ks::KSPRIORITY_NORMAL, PrioritySubClass: ks::KSPRIORITY_NORMAL };
    let mut header: ks::KSDATAFORMAT_0 = read(&range.raw)?;
    let vih_at = size_of::<ks::KS_DATARANGE_VIDEO>() - size_of::<ks::KS_VIDEOINFOHEADER>();
    let vih = range.raw.get(vih_at..vih_at + size_of::<ks::KS_VIDEOINFOHEADER>())?;
    header.FormatSize = (size_of::<ks::KSDATAFORMAT>() + vih.len()) as u32;
    header.Flags = 0;
    let mut out = bytes_of(&connect).to_vec();
    out.extend_from_slice(bytes_of(&header));
    out.extend_from_slice(vih);
    Some(out)
}

fn identifier(set: GUID, id: u32) -> ks::KSIDENTIFIER {
    let mut k: ks::KSIDENTIFIER = unsafe_zeroed();
    k.Anonymous.Anonymous.Set = set;
    k.Anonymous.Anonymous.Id = id;
    k
}

/// A zeroed windows-sys struct (all of them have Default = zeroed; this names the intent).
pub fn unsafe_zeroed<T: Copy>() -> T {
    // SAFETY: only used for windows-sys plain-old-data structs (integers, GUIDs, raw
    // pointers, unions of those), for which all-zero bytes are a valid value.
    unsafe { core::mem::zeroed() }
}

/// A KSPROPERTY (Set, Id, Flags), as bytes.
pub fn property(set: GUID, id: u32, flags: u32) -> Vec<u8> {
    let mut k = identifier(set, id);
    k.Anonymous.Anonymous.Flags = flags;
    bytes_of(&k).to_vec()
}

/// A KSP_PIN (KSPROPERTY + PinId + Reserved), as bytes.
pub fn pin_property(set: GUID, id: u32, flags: u32, pin: u32) -> Vec<u8> {
    let mut p = property(set, id, flags);
    p.extend_from_slice(&pin.to_le_bytes());
    p.extend_from_slice(&0u32.to_le_bytes());
    p
}

pub fn dataflow_name(v: u32) -> &'static str {
    match v as i32 {
        ks::KSPIN_DATAFLOW_IN => "IN (sink)",
        ks::KSPIN_DATAFLOW_OUT => "OUT (source)",
        _ => "unknown",
    }
}

pub fn communication_name(v: u32) -> &'static str {
    match v as i32 {
        ks::KSPIN_COMMUNICATION_NONE => "NONE",
        ks::KSPIN_COMMUNICATION_SINK => "SINK",
        ks::KSPIN_COMMUNICATION_SOURCE => "SOURCE",
        ks::KSPIN_COMMUNICATION_BOTH => "BOTH",
        ks::KSPIN_COMMUNICATION_BRIDGE => "BRIDGE",
        _ => "unknown",
    }
}

/// ksframe's allocator counters (ksframe `AllocatorStats`, 48 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    pub allocations: u64,
    pub frees: u64,
    pub allocation_failures: u64,
    pub rejected_frees: u64,
    pub outstanding: u32,
    pub peak_outstanding: u32,
    pub frames: u32,
    pub frame_size: u32,
}

pub const STATS_SIZE: usize = 48;

pub fn stats(b: &[u8]) -> Option<Stats> {
    let u64_at = |at: usize| -> Option<u64> { Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?)) };
    Some(Stats {
        allocations: u64_at(0)?,
        frees: u64_at(8)?,
        allocation_failures: u64_at(16)?,
        rejected_frees: u64_at(24)?,
        outstanding: u32_at(b, 32)?,
        peak_outstanding: u32_at(b, 36)?,
        frames: u32_at(b, 40)?,
        frame_size: u32_at(b, 44)?,
    })
}

/// The KSSTREAM_HEADER + KS_FRAME_INFO a video capture read returns.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrameHeader {
    pub data_used: u32,
    pub frame_extent: u32,
    pub options_flags: u32,
    pub options: Vec<String>,
    pub presentation_time: i64,
    pub duration: i64,
    pub picture_number: Option<i64>,
    pub drop_count: Option<i64>,
}

const OPTIONS: &[(u32, &str)] = &[
    (ks::KSSTREAM_HEADER_OPTIONSF_SPLICEPOINT, "SPLICEPOINT"),
    (ks::KSSTREAM_HEADER_OPTIONSF_PREROLL, "PREROLL"),
    (ks::KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY, "DATADISCONTINUITY"),
    (ks::KSSTREAM_HEADER_OPTIONSF_TYPECHANGED, "TYPECHANGED"),
    (ks::KSSTREAM_HEADER_OPTIONSF_TIMEVALID, "TIMEVALID"),
    (ks::KSSTREAM_HEADER_OPTIONSF_TIMEDISCONTINUITY, "TIMEDISCONTINUITY"),
    (ks::KSSTREAM_HEADER_OPTIONSF_FLUSHONPAUSE, "FLUSHONPAUSE"),
    (ks::KSSTREAM_HEADER_OPTIONSF_DURATIONVALID, "DURATIONVALID"),
    (ks::KSSTREAM_HEADER_OPTIONSF_ENDOFSTREAM, "ENDOFSTREAM"),
];

/// Bytes of the header block a video capture read carries (KSSTREAM_HEADER + KS_FRAME_INFO).
pub const VIDEO_HEADER_SIZE: usize = size_of::<ks::KSSTREAM_HEADER>() + size_of::<ks::KS_FRAME_INFO>();

pub fn frame_header(b: &[u8]) -> Option<FrameHeader> {
    let h: ks::KSSTREAM_HEADER = read(b)?;
    let info: Option<ks::KS_FRAME_INFO> = if h.Size as usize >= VIDEO_HEADER_SIZE {
        read(b.get(size_of::<ks::KSSTREAM_HEADER>()..)?)
    } else {
        None
    };
    Some(FrameHeader {
        data_used: h.DataUsed,
        frame_extent: h.FrameExtent,
        options_flags: h.OptionsFlags,
        options: flag_names(h.OptionsFlags, OPTIONS),
        presentation_time: h.PresentationTime.Time,
        duration: h.Duration,
        picture_number: info.map(|i| i.PictureNumber),
        drop_count: info.map(|i| i.DropCount),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framing_bytes() -> Vec<u8> {
        let mut f: ks::KSALLOCATOR_FRAMING = unsafe_zeroed();
        f.Anonymous1.OptionsFlags =
            ks::KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY | ks::KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY;
        f.PoolType = 0;
        f.Frames = 4;
        f.FrameSize = 614_400;
        f.Anonymous2.FileAlignment = 63;
        bytes_of(&f).to_vec()
    }

    #[test]
    fn layouts_are_the_headers() {
        assert_eq!(size_of::<ks::KSALLOCATOR_FRAMING>(), 24);
        assert_eq!(size_of::<ks::KSALLOCATOR_FRAMING_EX>(), 112);
        assert_eq!(FRAMING_ITEM, 88);
        assert_eq!(size_of::<ks::KS_DATARANGE_VIDEO>(), 296);
        assert_eq!(size_of::<ks::KSPIN_CONNECT>(), 72);
        assert_eq!(VIDEO_HEADER_SIZE, 128);
    }

    #[test]
    fn framing_is_decoded() {
        let f = framing(&framing_bytes()).unwrap();
        assert_eq!(f.frames, 4);
        assert_eq!(f.frame_size, 614_400);
        assert_eq!(f.alignment_bytes, 64);
        assert_eq!(f.pool, "NonPagedPool");
        assert_eq!(f.requirements, ["SYSTEM_MEMORY", "PREFERENCES_ONLY"]);
        assert!(framing(&framing_bytes()[..23]).is_none());
    }

    #[test]
    fn framing_ex_items_are_decoded() {
        let mut f: ks::KSALLOCATOR_FRAMING_EX = unsafe_zeroed();
        f.CountItems = 1;
        f.OutputCompression =
            ks::KS_COMPRESSION { RatioNumerator: 1, RatioDenominator: 1, RatioConstantMargin: 0 };
        let item = &mut f.FramingItem[0];
        item.MemoryType = KSMEMORY_TYPE_KERNEL_NONPAGED;
        item.MemoryFlags = ks::KSALLOCATOR_REQUIREMENTF_MUST_ALLOCATE;
        item.Flags = ks::KSALLOCATOR_FLAG_CAN_ALLOCATE | ks::KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY;
        item.Frames = 4;
        item.PhysicalRange = ks::KS_FRAMING_RANGE { MinFrameSize: 0, MaxFrameSize: u32::MAX, Stepping: 1 };
        item.FramingRange.Range =
            ks::KS_FRAMING_RANGE { MinFrameSize: 614_400, MaxFrameSize: 614_400, Stepping: 1 };
        let d = framing_ex(bytes_of(&f)).unwrap();
        assert_eq!(d.count_items, 1);
        assert_eq!(d.output_compression, [1, 1, 0]);
        let i = &d.items[0];
        assert_eq!(i.memory_type, "KSMEMORY_TYPE_KERNEL_NONPAGED");
        assert_eq!(i.bus_type, "GUID_NULL (KS_TYPE_DONT_CARE)");
        assert_eq!(i.memory_requirements, ["MUST_ALLOCATE"]);
        assert_eq!(i.flag_names, ["SYSTEM_MEMORY", "CAN_ALLOCATE"]);
        assert_eq!(i.framing_range, Range { min: 614_400, max: 614_400, stepping: 1 });
        // Two items claimed, one present: refused rather than read past the end.
        let mut two = bytes_of(&f).to_vec();
        two[0] = 2;
        assert!(framing_ex(&two).is_none());
        assert!(framing_ex(&two[..20]).is_none());
    }

    fn video_range(fourcc_code: &[u8; 4], bits: u16, w: i32, h: i32) -> Vec<u8> {
        let mut r: ks::KS_DATARANGE_VIDEO = unsafe_zeroed();
        let image = (w * h) as u32 * u32::from(bits) / 8;
        r.DataRange.Anonymous.FormatSize = size_of::<ks::KS_DATARANGE_VIDEO>() as u32;
        r.DataRange.Anonymous.SampleSize = image;
        r.DataRange.Anonymous.MajorFormat = ks::KSDATAFORMAT_TYPE_VIDEO;
        let mut sub = GUID::from_u128(0x0000_0000_0000_0010_8000_00aa_0038_9b71);
        sub.data1 = u32::from_le_bytes(*fourcc_code);
        r.DataRange.Anonymous.SubFormat = sub;
        r.DataRange.Anonymous.Specifier = ks::KSDATAFORMAT_SPECIFIER_VIDEOINFO;
        r.bFixedSizeSamples = 1;
        r.ConfigCaps.MinFrameInterval = 333_333;
        r.ConfigCaps.MaxFrameInterval = 333_333;
        r.VideoInfoHeader.AvgTimePerFrame = 333_333;
        let bmi = &mut r.VideoInfoHeader.bmiHeader;
        bmi.biSize = 40;
        bmi.biWidth = w;
        bmi.biHeight = h;
        bmi.biBitCount = bits;
        bmi.biCompression = u32::from_le_bytes(*fourcc_code);
        bmi.biSizeImage = image;
        bytes_of(&r).to_vec()
    }

    #[test]
    fn data_ranges_walk_the_multiple_item() {
        let a = video_range(b"YUY2", 16, 640, 480);
        let b = video_range(b"NV12", 12, 1920, 1080);
        let mut all = Vec::new();
        all.extend_from_slice(&((8 + a.len() + b.len()) as u32).to_le_bytes());
        all.extend_from_slice(&2u32.to_le_bytes());
        all.extend_from_slice(&a);
        all.extend_from_slice(&b);
        let ranges = data_ranges(&all).unwrap();
        assert_eq!(ranges.len(), 2);
        let v = ranges[0].video.as_ref().unwrap();
        assert_eq!((v.width, v.height, v.bit_count, v.compression.as_str()), (640, 480, 16, "YUY2"));
        assert_eq!(v.image_size, 614_400);
        assert!((v.max_fps - 30.0).abs() < 0.001);
        assert_eq!(ranges[0].sub_format, "KSDATAFORMAT_SUBTYPE_YUY2");
        assert_eq!(ranges[0].specifier, "KSDATAFORMAT_SPECIFIER_VIDEOINFO");
        assert_eq!(ranges[1].video.as_ref().unwrap().image_size, 1920 * 1080 * 12 / 8);
        assert_eq!(ranges[1].summary(), "NV12 1920x1080 12bpp @30.000fps, 3110400 bytes/frame");
        // A count that runs past Size is an error, not a read past the buffer.
        let mut bad = all.clone();
        bad[4] = 3;
        assert!(data_ranges(&bad).is_err());
        assert!(data_ranges(&all[..100]).is_err());
    }

    #[test]
    fn the_connect_request_is_ksvideosrcs() {
        let range = data_range(0, &video_range(b"YUY2", 16, 320, 240)).unwrap();
        let req = connect_request(0, &range).unwrap();
        // KSPIN_CONNECT 72 + KSDATAFORMAT 64 + KS_VIDEOINFOHEADER 88 = 224 (GSTREAMER-NOTES).
        assert_eq!(req.len(), 224);
        let format: ks::KSDATAFORMAT_0 = read(&req[72..]).unwrap();
        assert_eq!(format.FormatSize, 152);
        assert_eq!(format.SampleSize, 153_600);
        let vih: ks::KS_VIDEOINFOHEADER = read(&req[136..]).unwrap();
        assert_eq!(vih.bmiHeader.biSizeImage, 153_600);
        assert_eq!(vih.AvgTimePerFrame, 333_333);
        let connect: ks::KSPIN_CONNECT = read(&req).unwrap();
        assert_eq!(connect.PinId, 0);
        assert_eq!(connect.Priority.PriorityClass, 0x4000_0000);
    }

    #[test]
    fn frame_headers_and_stats() {
        let mut block = [0u8; VIDEO_HEADER_SIZE];
        let mut h: ks::KSSTREAM_HEADER = unsafe_zeroed();
        h.Size = VIDEO_HEADER_SIZE as u32;
        h.DataUsed = 100;
        h.OptionsFlags = ks::KSSTREAM_HEADER_OPTIONSF_TIMEVALID | ks::KSSTREAM_HEADER_OPTIONSF_DURATIONVALID;
        h.PresentationTime.Time = 333_333;
        block[..56].copy_from_slice(bytes_of(&h));
        let mut info: ks::KS_FRAME_INFO = unsafe_zeroed();
        info.PictureNumber = 7;
        info.DropCount = 2;
        block[56..].copy_from_slice(bytes_of(&info));
        let d = frame_header(&block).unwrap();
        assert_eq!(d.options, ["TIMEVALID", "DURATIONVALID"]);
        assert_eq!((d.picture_number, d.drop_count), (Some(7), Some(2)));
        let mut s = [0u8; STATS_SIZE];
        s[0] = 5;
        s[32] = 1;
        s[40] = 4;
        let st = stats(&s).unwrap();
        assert_eq!((st.allocations, st.outstanding, st.frames), (5, 1, 4));
        assert!(stats(&s[..47]).is_none());
    }

    #[test]
    fn names() {
        assert_eq!(guid_name(&ks::PINNAME_VIDEO_CAPTURE), "PINNAME_VIDEO_CAPTURE (PINNAME_CAPTURE)");
        assert_eq!(fourcc(u32::from_le_bytes(*b"NV12")), "NV12");
        assert_eq!(fourcc(3), "0x00000003");
        assert_eq!(guid_string(&ks::KSCATEGORY_CAPTURE), "{65E8773D-8F56-11D0-A3B9-00A0C9223196}");
        assert_eq!(property(ks::KSPROPSETID_Pin, 1, 1).len(), 24);
        assert_eq!(pin_property(ks::KSPROPSETID_Pin, 1, 1, 0).len(), 32);
    }
}
