//! Device, filter and pin descriptors as static tables, beside the callbacks they name.
//!
//! One filter with two pin types: a video capture output pin and an input (sink) pin,
//! both offering ksframe's allocator (`KSPIN_DISPATCH.Allocator`) and answering the
//! property sets of [`crate::property`]. The pin's framing follows its format: Create
//! reads the connection format's image size (as avshws resizes its framing with KsEdit).
//!
//! # Kernel contract
//!
//! AVStream calls Create, Close and SetDeviceState at PASSIVE_LEVEL on the pin's control
//! path. Create installs a [`PinState`] (non-paged pool) in `KSPIN.Context` and
//! initialises its pacer's timer and DPC there; Close stops the pacer (no timer set, no
//! DPC queued or running) and frees the state. Process runs at PASSIVE_LEVEL under
//! AVStream's process mutex, concurrently with the pacer's DPC (DISPATCH_LEVEL); the two
//! share only the pacer's atomics ([`crate::pacing`]).

pub mod pattern;

use crate::allocator::FramePool;
use crate::framing::Framing;
use crate::kernel::{POOL_TAG, PoolBox};
use crate::ks::*;
use crate::pin::PinState;

/// Frames each pin asks for.
pub const FRAMES: u32 = 4;
/// 30 fps in 100 ns units.
pub const FRAME_INTERVAL_30FPS: i64 = 333_333;

/// One capture format: a FOURCC subtype at a size, 30 fps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    /// KSDATAFORMAT_SUBTYPE_*.
    pub subtype: GUID,
    /// The FOURCC (biCompression).
    pub fourcc: u32,
    /// Bits per pixel (16 for YUY2, 12 for NV12).
    pub bits: u16,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

// Format arithmetic runs on the constant table above, at compile time (an overflow
// there is a compile error), and on formats AVStream matched against those ranges.
#[allow(clippy::arithmetic_side_effects)]
impl Format {
    /// Bytes of one image.
    pub const fn image_size(&self) -> u32 {
        self.width * self.height * self.bits as u32 / 8
    }

    /// The KS_DATARANGE_VIDEO that offers exactly this format.
    pub const fn data_range(&self) -> KS_DATARANGE_VIDEO {
        let size = SIZE { cx: self.width as i32, cy: self.height as i32 };
        let image = self.image_size();
        let bitrate = image * 8 * 30;
        KS_DATARANGE_VIDEO {
            DataRange: KSDATARANGE {
                FormatSize: core::mem::size_of::<KS_DATARANGE_VIDEO>() as u32,
                Flags: 0,
                SampleSize: image,
                Reserved: 0,
                MajorFormat: KSDATAFORMAT_TYPE_VIDEO,
                SubFormat: self.subtype,
                Specifier: KSDATAFORMAT_SPECIFIER_VIDEOINFO,
            },
            bFixedSizeSamples: 1,
            bTemporalCompression: 0,
            StreamDescriptionFlags: 0,
            MemoryAllocationFlags: 0,
            ConfigCaps: KS_VIDEO_STREAM_CONFIG_CAPS {
                guid: KSDATAFORMAT_SPECIFIER_VIDEOINFO,
                VideoStandard: 0,
                InputSize: size,
                MinCroppingSize: size,
                MaxCroppingSize: size,
                CropGranularityX: 1,
                CropGranularityY: 1,
                CropAlignX: 1,
                CropAlignY: 1,
                MinOutputSize: size,
                MaxOutputSize: size,
                OutputGranularityX: 1,
                OutputGranularityY: 1,
                StretchTapsX: 0,
                StretchTapsY: 0,
                ShrinkTapsX: 0,
                ShrinkTapsY: 0,
                MinFrameInterval: FRAME_INTERVAL_30FPS,
                MaxFrameInterval: FRAME_INTERVAL_30FPS,
                MinBitsPerSecond: bitrate as i32,
                MaxBitsPerSecond: bitrate as i32,
            },
            VideoInfoHeader: self.video_info_header(),
        }
    }

    /// The KS_VIDEOINFOHEADER of this format.
    pub const fn video_info_header(&self) -> KS_VIDEOINFOHEADER {
        let rect = RECT { left: 0, top: 0, right: self.width as i32, bottom: self.height as i32 };
        KS_VIDEOINFOHEADER {
            rcSource: rect,
            rcTarget: rect,
            dwBitRate: self.image_size() * 8 * 30,
            dwBitErrorRate: 0,
            AvgTimePerFrame: FRAME_INTERVAL_30FPS,
            bmiHeader: KS_BITMAPINFOHEADER {
                biSize: core::mem::size_of::<KS_BITMAPINFOHEADER>() as u32,
                biWidth: self.width as i32,
                biHeight: self.height as i32,
                biPlanes: 1,
                biBitCount: self.bits,
                biCompression: self.fourcc,
                biSizeImage: self.image_size(),
                biXPelsPerMeter: 0,
                biYPelsPerMeter: 0,
                biClrUsed: 0,
                biClrImportant: 0,
            },
        }
    }

    /// The connection format (KS_DATAFORMAT_VIDEOINFOHEADER) that selects this format.
    pub const fn data_format(&self) -> KS_DATAFORMAT_VIDEOINFOHEADER {
        let range = self.data_range();
        KS_DATAFORMAT_VIDEOINFOHEADER {
            DataFormat: KSDATAFORMAT {
                FormatSize: core::mem::size_of::<KS_DATAFORMAT_VIDEOINFOHEADER>() as u32,
                ..range.DataRange
            },
            VideoInfoHeader: self.video_info_header(),
        }
    }
}

const fn fourcc(code: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*code)
}

/// The capture pin's formats, in preference order.
pub const FORMATS: [Format; 6] = [
    Format { subtype: KSDATAFORMAT_SUBTYPE_YUY2, fourcc: fourcc(b"YUY2"), bits: 16, width: 640, height: 480 },
    Format {
        subtype: KSDATAFORMAT_SUBTYPE_YUY2,
        fourcc: fourcc(b"YUY2"),
        bits: 16,
        width: 1280,
        height: 720,
    },
    Format {
        subtype: KSDATAFORMAT_SUBTYPE_YUY2,
        fourcc: fourcc(b"YUY2"),
        bits: 16,
        width: 1920,
        height: 1080,
    },
    Format { subtype: KSDATAFORMAT_SUBTYPE_NV12, fourcc: fourcc(b"NV12"), bits: 12, width: 640, height: 480 },
    Format {
        subtype: KSDATAFORMAT_SUBTYPE_NV12,
        fourcc: fourcc(b"NV12"),
        bits: 12,
        width: 1280,
        height: 720,
    },
    Format {
        subtype: KSDATAFORMAT_SUBTYPE_NV12,
        fourcc: fourcc(b"NV12"),
        bits: 12,
        width: 1920,
        height: 1080,
    },
];

// Compile-time construction: an out-of-bounds index or overflow is a compile error.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
static RANGES: [KS_DATARANGE_VIDEO; 6] = {
    let mut out = [FORMATS[0].data_range(); 6];
    let mut i = 1;
    while i < 6 {
        out[i] = FORMATS[i].data_range();
        i += 1;
    }
    out
};

/// Pointers to the data ranges, as KSPIN_DESCRIPTOR.DataRanges wants them.
#[repr(transparent)]
pub struct RangeList(pub [*const KSDATARANGE; 6]);
// SAFETY: pointers to immutable statics.
unsafe impl Sync for RangeList {}

static RANGE_LIST: RangeList = RangeList([
    &RANGES[0].DataRange,
    &RANGES[1].DataRange,
    &RANGES[2].DataRange,
    &RANGES[3].DataRange,
    &RANGES[4].DataRange,
    &RANGES[5].DataRange,
]);

/// The framing the descriptors advertise (the first format's); each pin resizes it to
/// its connection format on Create.
pub static DEFAULT_FRAMING: KSALLOCATOR_FRAMING_EX =
    Framing::for_image(FORMATS[0].image_size(), FRAMES).to_framing_ex();

const fn pin_dispatch(process: crate::ks::PFNKSPIN) -> KSPIN_DISPATCH {
    KSPIN_DISPATCH {
        Create: Some(pin_create),
        Close: Some(pin_close),
        Process: process,
        Reset: None,
        SetDataFormat: Some(pin_set_data_format),
        SetDeviceState: Some(pin_set_device_state),
        Connect: None,
        Disconnect: None,
        Clock: core::ptr::null(),
        Allocator: &PIN_ALLOCATOR_DISPATCH,
    }
}

/// The pins' KSALLOCATOR_DISPATCH: the frame pool's Allocate and Free as they are, and
/// InitializeAllocator / DeleteAllocator wrapped so that the pin's state knows the pool a
/// client created on it (the statistics property reads it).
///
/// AVStream calls InitializeAllocator with the pin as the initial context when a client
/// opens an allocator on the pin (KsCreateAllocator → KsCreateDefaultAllocatorEx), and
/// DeleteAllocator when that allocator file object closes (KS-NOTES, "How AVStream calls
/// the driver").
pub static PIN_ALLOCATOR_DISPATCH: KSALLOCATOR_DISPATCH = KSALLOCATOR_DISPATCH {
    InitializeAllocator: Some(pin_initialize_allocator),
    DeleteAllocator: Some(pin_delete_allocator),
    Allocate: Some(crate::allocator::allocate),
    Free: Some(crate::allocator::free),
};

/// `PFNKSPININITIALIZEALLOCATOR` of the pins: builds the pool from the client's framing
/// (the allocator's rules: `crate::allocator`) and records it in the pin's state.
///
/// # Safety
///
/// Called by AVStream at PASSIVE_LEVEL: `pin` is null or a live pin whose Context is
/// null or its PinState; `framing` and `context` as for
/// [`crate::allocator::initialize_allocator`].
pub unsafe extern "system" fn pin_initialize_allocator(
    pin: *mut KSPIN,
    framing: *mut KSALLOCATOR_FRAMING,
    context: *mut PVOID,
) -> NTSTATUS {
    crate::kernel::paged_code("InitializeAllocator");
    // SAFETY: the caller's contract.
    let status = unsafe { crate::allocator::initialize_allocator(pin, framing, context) };
    if !NT_SUCCESS(status) {
        return status;
    }
    // SAFETY: on success `*context` is the new pool (initialize_allocator's contract);
    // a live pin's Context is null or its PinState (pin_create).
    unsafe {
        let pool = (*context).cast::<FramePool>();
        if let (Some(state), Some(p)) = (PinState::of(pin), pool.as_ref()) {
            p.set_owner((state as *const PinState).cast());
            state.attach_pool(pool);
        }
    }
    status
}

/// `PFNKSDELETEALLOCATOR` of the pins: forgets the pool in the pin's state (if the pin
/// is still open), then deletes it.
///
/// # Safety
///
/// `context` is what [`pin_initialize_allocator`] stored (or null), deleted once.
pub unsafe extern "system" fn pin_delete_allocator(context: PVOID) {
    crate::kernel::paged_code("DeleteAllocator");
    let pool = context.cast::<FramePool>();
    // SAFETY: a live pool (KS's contract); its owner, when still set, is the PinState of
    // a pin that has not closed (PinState::close takes the owner out first).
    unsafe {
        if let Some(p) = pool.as_ref()
            && let Some(owner) = p.take_owner().cast::<PinState>().as_ref()
        {
            owner.detach_pool(pool);
        }
        crate::allocator::delete_allocator(context);
    }
}

/// The capture pin's dispatch: Process writes the test pattern; ksframe's allocator.
pub static CAPTURE_DISPATCH: KSPIN_DISPATCH = pin_dispatch(Some(capture_process));
/// The sink pin's dispatch: Process checks the test pattern; ksframe's allocator.
pub static SINK_DISPATCH: KSPIN_DISPATCH = pin_dispatch(Some(sink_process));

const fn pin_descriptor(
    dispatch: &'static KSPIN_DISPATCH,
    automation: &'static KSAUTOMATION_TABLE,
    data_flow: i32,
    flags: u32,
) -> KSPIN_DESCRIPTOR_EX {
    KSPIN_DESCRIPTOR_EX {
        Dispatch: dispatch,
        AutomationTable: automation,
        PinDescriptor: KSPIN_DESCRIPTOR {
            InterfacesCount: 0,
            Interfaces: core::ptr::null(),
            MediumsCount: 0,
            Mediums: core::ptr::null(),
            DataRangesCount: 6,
            DataRanges: RANGE_LIST.0.as_ptr(),
            DataFlow: data_flow,
            Communication: KSPIN_COMMUNICATION_BOTH,
            Category: &PINNAME_VIDEO_CAPTURE,
            Name: core::ptr::null(),
            ConstrainedDataRangesCount: 0,
            ConstrainedDataRanges: core::ptr::null_mut(),
        },
        Flags: flags,
        InstancesPossible: 1,
        InstancesNecessary: 0,
        AllocatorFraming: &DEFAULT_FRAMING,
        IntersectHandler: Some(intersect_handler),
    }
}

/// Pin 0: video capture (output), processed in RUN only (as avshws's capture pin: a
/// camera produces no frames while paused), with the dropped-frames property; pin 1:
/// sink (input).
pub static PIN_DESCRIPTORS: [KSPIN_DESCRIPTOR_EX; 2] = [
    pin_descriptor(
        &CAPTURE_DISPATCH,
        &crate::property::CAPTURE_AUTOMATION_TABLE,
        KSPIN_DATAFLOW_OUT,
        KSPIN_FLAG_PROCESS_IN_RUN_STATE_ONLY,
    ),
    pin_descriptor(&SINK_DISPATCH, &crate::property::PIN_AUTOMATION_TABLE, KSPIN_DATAFLOW_IN, 0),
];

/// The stream header size of a video capture pin: the KSSTREAM_HEADER and the
/// KS_FRAME_INFO after it (avshws sets `Pin->StreamHeaderSize` to this in Create).
pub const VIDEO_STREAM_HEADER_SIZE: u32 =
    (core::mem::size_of::<KSSTREAM_HEADER>() + core::mem::size_of::<KS_FRAME_INFO>()) as u32;

/// Capture pin id.
pub const CAPTURE_PIN: u32 = 0;
/// Sink pin id.
pub const SINK_PIN: u32 = 1;

static CATEGORIES: [GUID; 3] = [KSCATEGORY_CAPTURE, KSCATEGORY_VIDEO, KSCATEGORY_VIDEO_CAMERA];

/// The filter. Its ReferenceGuid is the reference string the INF registers the device
/// interfaces under (KSNAME_Filter, as avshws and avssamp do): opening an interface of
/// the device reaches this filter's factory (`tests/inf.rs` checks the two agree).
pub static FILTER_DESCRIPTOR: KSFILTER_DESCRIPTOR = KSFILTER_DESCRIPTOR {
    Dispatch: core::ptr::null(),
    AutomationTable: core::ptr::null(),
    Version: KSFILTER_DESCRIPTOR_VERSION,
    Flags: 0,
    ReferenceGuid: &KSNAME_Filter,
    PinDescriptorsCount: 2,
    PinDescriptorSize: core::mem::size_of::<KSPIN_DESCRIPTOR_EX>() as u32,
    PinDescriptors: PIN_DESCRIPTORS.as_ptr(),
    CategoriesCount: 3,
    Categories: CATEGORIES.as_ptr(),
    NodeDescriptorsCount: 0,
    NodeDescriptorSize: 0,
    NodeDescriptors: core::ptr::null(),
    ConnectionsCount: 0,
    Connections: core::ptr::null(),
    ComponentId: core::ptr::null(),
};

/// The filter list of the device.
#[repr(transparent)]
pub struct FilterList(pub [*const KSFILTER_DESCRIPTOR; 1]);
// SAFETY: a pointer to an immutable static.
unsafe impl Sync for FilterList {}

static FILTERS: FilterList = FilterList([&FILTER_DESCRIPTOR]);

/// The device dispatch: Add, Start and Remove (a software device: no resources to
/// claim; Add and Remove bind and unbind KMDF in the driver build).
pub static DEVICE_DISPATCH: KSDEVICE_DISPATCH = KSDEVICE_DISPATCH {
    Add: Some(device_add),
    Start: Some(device_start),
    PostStart: None,
    QueryStop: None,
    CancelStop: None,
    Stop: None,
    QueryRemove: None,
    CancelRemove: None,
    Remove: Some(device_remove),
    QueryCapabilities: None,
    SurpriseRemoval: None,
    QueryPower: None,
    SetPower: None,
    QueryInterface: None,
};

/// The device: one filter factory.
pub static DEVICE_DESCRIPTOR: KSDEVICE_DESCRIPTOR = KSDEVICE_DESCRIPTOR {
    Dispatch: &DEVICE_DISPATCH,
    FilterDescriptorsCount: 1,
    FilterDescriptors: FILTERS.0.as_ptr(),
    Version: KSDEVICE_DESCRIPTOR_VERSION,
    Flags: 0,
};

/// The image size of a pin's connection format, if it is a video-info format.
///
/// # Safety
///
/// `pin` is a live KSPIN whose ConnectionFormat is null or a valid KSDATAFORMAT of
/// `FormatSize` bytes.
unsafe fn connection_image_size(pin: &KSPIN) -> Option<u32> {
    // SAFETY: the caller's contract.
    let format = unsafe { pin.ConnectionFormat.as_ref() }?;
    if format.Specifier != KSDATAFORMAT_SPECIFIER_VIDEOINFO
        || (format.FormatSize as usize) < core::mem::size_of::<KS_DATAFORMAT_VIDEOINFOHEADER>()
    {
        return None;
    }
    // SAFETY: FormatSize covers a KS_DATAFORMAT_VIDEOINFOHEADER (checked above).
    let video = unsafe { &*(pin.ConnectionFormat as *const KS_DATAFORMAT_VIDEOINFOHEADER) };
    Some(video.VideoInfoHeader.bmiHeader.biSizeImage).filter(|s| *s > 0)
}

/// Gives the pin its own copies of its descriptor and of the descriptor's framing
/// (KsEdit, as avshws does) and writes `framing` there, so that AVStream, which reads
/// `Pin->Descriptor->AllocatorFraming`, sees the framing of the pin's actual format.
///
/// # Safety
///
/// PASSIVE_LEVEL, a live pin with its object bag.
unsafe fn edit_descriptor_framing(pin: &mut KSPIN, framing: &Framing) -> NTSTATUS {
    let descriptor = core::ptr::addr_of_mut!(pin.Descriptor).cast::<PVOID>();
    // SAFETY: the pin's descriptor pointer, a KSPIN_DESCRIPTOR_EX (static or already ours).
    let status = unsafe {
        crate::kernel::ks_edit(pin.Bag, descriptor, core::mem::size_of::<KSPIN_DESCRIPTOR_EX>() as u32)
    };
    if !NT_SUCCESS(status) {
        return status;
    }
    let own = pin.Descriptor.cast_mut();
    // SAFETY: `own` is now the pin's private copy; its AllocatorFraming points to a
    // KSALLOCATOR_FRAMING_EX with one item (DEFAULT_FRAMING, or the pin's earlier copy).
    unsafe {
        let framing_ptr = core::ptr::addr_of_mut!((*own).AllocatorFraming).cast::<PVOID>();
        let status = crate::kernel::ks_edit(
            pin.Bag,
            framing_ptr,
            core::mem::size_of::<KSALLOCATOR_FRAMING_EX>() as u32,
        );
        if !NT_SUCCESS(status) {
            return status;
        }
        (*own).AllocatorFraming.cast_mut().write(framing.to_framing_ex());
    }
    STATUS_SUCCESS
}

/// `KSPIN_DISPATCH.Create`: installs the pin's state, framing sized to its format.
///
/// # Safety
///
/// Called by AVStream with a live pin.
pub unsafe extern "system" fn pin_create(pin: *mut KSPIN, _irp: *mut IRP) -> NTSTATUS {
    crate::kernel::paged_code("pin Create");
    // SAFETY: AVStream passes a live pin it owns for the call.
    let Some(pin) = (unsafe { pin.as_mut() }) else {
        return crate::ks::STATUS_INVALID_PARAMETER;
    };
    // SAFETY: AVStream validated the connection format against our ranges.
    let image = unsafe { connection_image_size(pin) }.unwrap_or(FORMATS[0].image_size());
    let framing = Framing::for_image(image, FRAMES);
    if let Err(status) = framing.validate() {
        return status;
    }
    // SAFETY: a live pin with its bag, at PASSIVE_LEVEL.
    let status = unsafe { edit_descriptor_framing(pin, &framing) };
    if !crate::ks::NT_SUCCESS(status) {
        return status;
    }
    match PoolBox::try_new(PinState::new(framing), POOL_TAG) {
        Ok(state) => {
            let pin_ptr: *mut KSPIN = pin;
            // SAFETY: the state is at its final non-paged address (the pool block) until
            // Close frees it; the pin outlives its state.
            unsafe { state.init_pacer(pin_ptr) };
            if pin.DataFlow == KSPIN_DATAFLOW_OUT {
                pin.StreamHeaderSize = VIDEO_STREAM_HEADER_SIZE;
            }
            pin.Context = state.into_raw().cast();
            crate::log!(
                "pin create id={} frame_size={} frames={}",
                pin.Id,
                framing.frame_size,
                framing.frames
            );
            STATUS_SUCCESS
        }
        Err((_, status)) => status,
    }
}

/// `KSPIN_DISPATCH.Close`: releases the pin's state (and its allocator reference).
///
/// # Safety
///
/// Called by AVStream with a live pin whose Context is what Create installed.
pub unsafe extern "system" fn pin_close(pin: *mut KSPIN, _irp: *mut IRP) -> NTSTATUS {
    crate::kernel::paged_code("pin Close");
    // SAFETY: AVStream passes a live pin.
    let Some(pin) = (unsafe { pin.as_mut() }) else {
        return crate::ks::STATUS_INVALID_PARAMETER;
    };
    let state = core::mem::replace(&mut pin.Context, core::ptr::null_mut()).cast::<PinState>();
    if !state.is_null() {
        // SAFETY: Create installed this PoolBox<PinState>; it is taken back once.
        drop(unsafe { PoolBox::from_raw(state, POOL_TAG) });
    }
    crate::log!("pin close id={}", pin.Id);
    STATUS_SUCCESS
}

/// The AvgTimePerFrame of a pin's connection format (0 when it has none).
///
/// # Safety
///
/// As for `connection_image_size`.
unsafe fn connection_interval(pin: &KSPIN) -> i64 {
    // SAFETY: the caller's contract; a format of FormatSize bytes.
    if unsafe { connection_image_size(pin) }.is_none() {
        return 0;
    }
    // SAFETY: connection_image_size checked it is a KS_DATAFORMAT_VIDEOINFOHEADER.
    unsafe {
        (*(pin.ConnectionFormat as *const KS_DATAFORMAT_VIDEOINFOHEADER)).VideoInfoHeader.AvgTimePerFrame
    }
}

/// `KSPIN_DISPATCH.SetDeviceState`: the capture pin's camera follows the state, one step
/// at a time as AVStream walks it (STOP → ACQUIRE takes the master clock and resets the
/// counters; PAUSE → RUN starts the frame timer; RUN → PAUSE stops it and waits for its
/// DPC; ACQUIRE → STOP releases the clock). The sink pin only logs.
///
/// # Safety
///
/// Called by AVStream at PASSIVE_LEVEL with a live pin, under its control mutex.
pub unsafe extern "system" fn pin_set_device_state(pin: *mut KSPIN, to: KSSTATE, from: KSSTATE) -> NTSTATUS {
    crate::kernel::paged_code("SetDeviceState");
    crate::log!("pin state {} -> {}", from, to);
    // SAFETY: AVStream passes a live pin whose Context is its PinState (Create).
    let (Some(pin_ref), Some(state)) = (unsafe { pin.as_ref() }, unsafe { PinState::of(pin) }) else {
        return STATUS_SUCCESS;
    };
    if pin_ref.DataFlow != KSPIN_DATAFLOW_OUT {
        return STATUS_SUCCESS;
    }
    let pacer = state.pacer();
    // Each arm: PASSIVE_LEVEL, the live pin, its pacer initialised in Create.
    match (from, to) {
        // SAFETY: as above.
        (KSSTATE_STOP, KSSTATE_ACQUIRE) => unsafe { pacer.acquire(pin) },
        // SAFETY: as above; the connection format is valid while the pin lives.
        (KSSTATE_PAUSE, KSSTATE_RUN) => unsafe { pacer.run(connection_interval(pin_ref)) },
        // SAFETY: as above.
        (KSSTATE_RUN, KSSTATE_PAUSE) => unsafe { pacer.pause() },
        // SAFETY: as above.
        (KSSTATE_ACQUIRE, KSSTATE_STOP) => unsafe { pacer.stop() },
        _ => {}
    }
    STATUS_SUCCESS
}

/// The format (of [`FORMATS`]) a pin's connection format selects, if any.
///
/// # Safety
///
/// As for `connection_image_size`.
unsafe fn connection_format(pin: &KSPIN) -> Option<Format> {
    // SAFETY: the caller's contract.
    let image = unsafe { connection_image_size(pin) }?;
    // SAFETY: connection_image_size checked it is a KS_DATAFORMAT_VIDEOINFOHEADER.
    let video = unsafe { &*(pin.ConnectionFormat as *const KS_DATAFORMAT_VIDEOINFOHEADER) };
    FORMATS.iter().copied().find(|f| {
        f.subtype == video.DataFormat.SubFormat
            && f.image_size() == image
            && f.width as i32 == video.VideoInfoHeader.bmiHeader.biWidth
    })
}

/// `KSPIN_DISPATCH.SetDataFormat`: a format change (in KSSTATE_STOP) resizes the framing,
/// as avshws does with KsEdit. A format outside [`FORMATS`] is refused.
///
/// # Safety
///
/// Called by AVStream with a live pin whose ConnectionFormat is the proposed format.
pub unsafe extern "system" fn pin_set_data_format(
    pin: *mut KSPIN,
    _old_format: *mut KSDATAFORMAT,
    _old_attributes: *mut KSMULTIPLE_ITEM,
    _data_range: *const KSDATARANGE,
    _attribute_range: PVOID,
) -> NTSTATUS {
    crate::kernel::paged_code("SetDataFormat");
    // SAFETY: AVStream passes a live pin.
    let Some(pin_ref) = (unsafe { pin.as_ref() }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: ConnectionFormat is the proposed format (AVStream's contract).
    let Some(format) = (unsafe { connection_format(pin_ref) }) else {
        return STATUS_NO_MATCH;
    };
    let framing = Framing::for_image(format.image_size(), FRAMES);
    // SAFETY: a live pin (AVStream's contract); its descriptor copy is edited in place.
    let status = unsafe { edit_descriptor_framing(&mut *pin, &framing) };
    if !NT_SUCCESS(status) {
        return status;
    }
    // SAFETY: the pin's Context is its PinState (Create).
    if let Some(state) = unsafe { PinState::of(pin) } {
        let old = state.framing().frame_size;
        state.set_framing(framing);
        crate::log!("pin format change id={} frame_size {} -> {}", pin_ref.Id, old, format.image_size());
    }
    STATUS_SUCCESS
}

/// The frame a locked stream pointer offers: (data, bytes available).
///
/// # Safety
///
/// `sp` is a locked stream pointer of the current Process call.
unsafe fn offset(sp: core::ptr::NonNull<KSSTREAM_POINTER>, output: bool) -> (*mut u8, u32) {
    // SAFETY: the caller's contract.
    let sp = unsafe { sp.as_ref() };
    let o = if output { sp.OffsetOut } else { sp.OffsetIn };
    (o.Data, o.Remaining)
}

/// Stamps a frame's stream header as a camera does: presentation time and duration
/// valid, the discontinuity flag on the first frame of a run, and the KS_FRAME_INFO
/// after the header when the header has room for it (see [`crate::pacing`]).
///
/// # Safety
///
/// `header` is the leading edge's stream header, `Size` bytes long.
unsafe fn stamp(header: *mut KSSTREAM_HEADER, claim: &crate::pacing::Claim) {
    // SAFETY: the caller's contract.
    let Some(h) = (unsafe { header.as_mut() }) else { return };
    h.PresentationTime = KSTIME { Time: claim.presentation_time, Numerator: 1, Denominator: 1 };
    h.Duration = claim.duration;
    h.OptionsFlags |= KSSTREAM_HEADER_OPTIONSF_TIMEVALID | KSSTREAM_HEADER_OPTIONSF_DURATIONVALID;
    if claim.discontinuity {
        h.OptionsFlags |= KSSTREAM_HEADER_OPTIONSF_DATADISCONTINUITY;
    }
    if h.Size >= VIDEO_STREAM_HEADER_SIZE {
        let info = KS_FRAME_INFO {
            ExtendedHeaderSize: core::mem::size_of::<KS_FRAME_INFO>() as u32,
            dwFrameFlags: KS_VIDEO_FLAG_FRAME | KS_VIDEO_FLAG_I_FRAME,
            PictureNumber: claim.picture_number,
            DropCount: claim.drop_count,
            hDirectDraw: core::ptr::null_mut(),
            hSurfaceHandle: core::ptr::null_mut(),
            DirectDrawRect: RECT { left: 0, top: 0, right: 0, bottom: 0 },
            Reserved1: 0,
            Reserved2: 0,
            Reserved3: 0,
            Reserved4: 0,
        };
        // SAFETY: Size covers the header and a KS_FRAME_INFO right after it (checked);
        // the header is 8-aligned and 48 bytes long, so the info is 8-aligned too, but
        // an unaligned write costs nothing here.
        unsafe { header.add(1).cast::<KS_FRAME_INFO>().write_unaligned(info) };
    }
}

/// `KSPIN_DISPATCH.Process` of the capture pin (PASSIVE_LEVEL, AVStream's process
/// mutex held): when a frame is due ([`crate::pacing::Pacer::claim`]), writes the moving
/// pattern into the leading frame, stamps it and sends it on. It always returns
/// STATUS_PENDING: at most one frame is due at a time, and the next one comes with the
/// timer DPC's KsPinAttemptProcessing ("Restarting Processing in AVStream": a
/// minidriver that returns STATUS_PENDING restarts processing with
/// KsPinAttemptProcessing). With nothing due the leading edge is unlocked unmoved.
/// DataUsed is AVStream's to maintain from the advance on this non-DMA queue (avshws),
/// so it is not written here.
///
/// # Safety
///
/// Called by AVStream with the live pin being processed.
pub unsafe extern "system" fn capture_process(pin: *mut KSPIN) -> NTSTATUS {
    // SAFETY: AVStream's Process contract.
    let Some(state) = (unsafe { PinState::of(pin) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: Process is running for `pin`.
    let Some(sp) = (unsafe { crate::kernel::leading_edge(pin) }) else {
        return STATUS_PENDING;
    };
    // SAFETY: the locked leading edge.
    let (data, available) = unsafe { offset(sp, true) };
    let len = state.framing().frame_size.min(available);
    let Some(claim) = state.pacer().claim(len) else {
        // SAFETY: the locked leading edge, unlocked without moving.
        unsafe { crate::kernel::advance_and_unlock(sp, 0, 0, false) };
        return STATUS_PENDING;
    };
    if !data.is_null() {
        // SAFETY: the locked frame has `available` writable bytes at `data`, and `len`
        // does not exceed them.
        let frame = unsafe { core::slice::from_raw_parts_mut(data, len as usize) };
        pattern::fill(frame, state.next_frame());
    }
    // SAFETY: the locked leading edge's header (AVStream's, StreamHeaderSize bytes).
    unsafe { stamp(sp.as_ref().StreamHeader, &claim) };
    // SAFETY: the locked leading edge; AVStream adds the advance to DataUsed.
    unsafe { crate::kernel::advance_and_unlock(sp, 0, len, true) };
    STATUS_PENDING
}

/// `KSPIN_DISPATCH.Process` of the sink pin: checks the pattern and the frame sequence
/// of the leading frame and consumes it; STATUS_PENDING without a frame.
///
/// # Safety
///
/// Called by AVStream with the live pin being processed.
pub unsafe extern "system" fn sink_process(pin: *mut KSPIN) -> NTSTATUS {
    // SAFETY: AVStream's Process contract.
    let Some(state) = (unsafe { PinState::of(pin) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: Process is running for `pin`.
    let Some(sp) = (unsafe { crate::kernel::leading_edge(pin) }) else {
        return STATUS_PENDING;
    };
    // SAFETY: the locked leading edge.
    let (data, available) = unsafe { offset(sp, false) };
    let expected = state.next_frame();
    let ok = !data.is_null() && {
        // SAFETY: `available` readable bytes at `data` in the locked frame.
        let frame = unsafe { core::slice::from_raw_parts(data, available as usize) };
        pattern::check(frame) == Some(expected)
    };
    if !ok {
        state.count_pattern_error();
    }
    // SAFETY: the locked leading edge, consumed whole.
    unsafe { crate::kernel::advance_and_unlock(sp, available, 0, true) };
    STATUS_SUCCESS
}

/// `KSPIN_DESCRIPTOR_EX.IntersectHandler`: the connection format for a caller's range
/// that matches one of ours (same subtype and size), KS's size protocol on `Data`.
///
/// # Safety
///
/// Called by AVStream with ranges of at least a KSDATARANGE, `Data` of `DataBufferSize`
/// writable bytes (or null when 0) and a writable `DataSize`.
pub unsafe extern "system" fn intersect_handler(
    _context: PVOID,
    _irp: *mut IRP,
    _pin: *mut KSP_PIN,
    caller_range: *mut KSDATARANGE,
    descriptor_range: *mut KSDATARANGE,
    data_buffer_size: ULONG,
    data: PVOID,
    data_size: *mut ULONG,
) -> NTSTATUS {
    crate::kernel::paged_code("the intersect handler");
    // SAFETY: AVStream passes valid ranges.
    let (Some(caller), Some(ours)) = (unsafe { caller_range.as_ref() }, unsafe { descriptor_range.as_ref() })
    else {
        return STATUS_INVALID_PARAMETER;
    };
    if caller.MajorFormat != ours.MajorFormat
        || caller.SubFormat != ours.SubFormat
        || caller.Specifier != ours.Specifier
        || (ours.FormatSize as usize) < core::mem::size_of::<KS_DATARANGE_VIDEO>()
    {
        return STATUS_NO_MATCH;
    }
    // SAFETY: FormatSize covers a KS_DATARANGE_VIDEO (checked).
    let ours = unsafe { &*(descriptor_range as *const KS_DATARANGE_VIDEO) };
    if (caller.FormatSize as usize) >= core::mem::size_of::<KS_DATARANGE_VIDEO>() {
        // SAFETY: as above, for the caller's range.
        let theirs = unsafe { &*(caller_range as *const KS_DATARANGE_VIDEO) };
        let size = |r: &KS_DATARANGE_VIDEO| {
            (r.VideoInfoHeader.bmiHeader.biWidth, r.VideoInfoHeader.bmiHeader.biHeight)
        };
        if size(theirs) != size(ours) {
            return STATUS_NO_MATCH;
        }
    }
    let format = KS_DATAFORMAT_VIDEOINFOHEADER {
        DataFormat: KSDATAFORMAT {
            FormatSize: core::mem::size_of::<KS_DATAFORMAT_VIDEOINFOHEADER>() as u32,
            ..ours.DataRange
        },
        VideoInfoHeader: ours.VideoInfoHeader,
    };
    let needed = core::mem::size_of::<KS_DATAFORMAT_VIDEOINFOHEADER>() as u32;
    // SAFETY: a writable DataSize (AVStream's contract).
    let Some(data_size) = (unsafe { data_size.as_mut() }) else {
        return STATUS_INVALID_PARAMETER;
    };
    *data_size = needed;
    if data_buffer_size == 0 {
        return STATUS_BUFFER_OVERFLOW;
    }
    if data_buffer_size < needed || data.is_null() {
        return STATUS_BUFFER_TOO_SMALL;
    }
    // SAFETY: `needed` writable bytes at `data` (checked).
    unsafe { core::ptr::write_unaligned(data.cast::<KS_DATAFORMAT_VIDEOINFOHEADER>(), format) };
    STATUS_SUCCESS
}

/// `KSDEVICE_DISPATCH.Add`. In the KMDF build AVStream's device is bound to KMDF here
/// (see src/driver.rs); a software device has nothing else to set up.
///
/// # Safety
///
/// Called by AVStream with the new device.
pub unsafe extern "system" fn device_add(device: *mut KSDEVICE) -> NTSTATUS {
    crate::kernel::paged_code("device Add");
    crate::log!("device add {:p}", device);
    crate::hosting::device_add(device)
}

/// `KSDEVICE_DISPATCH.Remove`: in the KMDF build the device's WDFDEVICE is deleted here
/// (see src/hosting.rs).
///
/// # Safety
///
/// Called by AVStream with the device and its remove IRP.
pub unsafe extern "system" fn device_remove(device: *mut KSDEVICE, _irp: *mut IRP) {
    crate::kernel::paged_code("device Remove");
    crate::log!("device remove {:p}", device);
    crate::hosting::device_remove(device)
}

/// `KSDEVICE_DISPATCH.Start`: no hardware resources to claim.
///
/// # Safety
///
/// Called by AVStream with the device and its start IRP.
pub unsafe extern "system" fn device_start(
    device: *mut KSDEVICE,
    _irp: *mut IRP,
    _t: PVOID,
    _u: PVOID,
) -> NTSTATUS {
    crate::kernel::paged_code("device Start");
    crate::log!("device start {:p}", device);
    STATUS_SUCCESS
}
