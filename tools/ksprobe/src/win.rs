//! The Win32 side: SetupDi, CreateFile, ksuser's KsCreatePin / KsCreateAllocator and
//! DeviceIoControl, through windows-sys's generated bindings. Every request is
//! overlapped (KS handles are opened asynchronous: ksuser opens pins without
//! FILE_SYNCHRONOUS_IO_*), so a failure's NTSTATUS is read from OVERLAPPED.Internal.

use crate::decode::{self, DataRange};
use crate::errors::Failure;
use crate::pattern;
use crate::{Cli, Command};
use serde_json::{Value, json};
use windows_sys::Win32::Devices::DeviceAndDriverInstallation::*;
use windows_sys::Win32::Foundation::*;
use windows_sys::Win32::Media::KernelStreaming as ks;
use windows_sys::Win32::Storage::FileSystem::*;
use windows_sys::Win32::System::IO::*;
use windows_sys::Win32::System::Threading::*;
use windows_sys::core::GUID;

/// An owned kernel handle.
struct Handle(HANDLE);

impl Drop for Handle {
    fn drop(&mut self) {
        if !self.0.is_null() && self.0 != INVALID_HANDLE_VALUE {
            // SAFETY: a handle this program opened and owns.
            unsafe { CloseHandle(self.0) };
        }
    }
}

// RtlGetLastNtStatus (ntdll): the NTSTATUS the last Win32 error was converted from
// (RtlNtStatusToDosError records it in the TEB). windows-sys's metadata lacks it, so it
// is the one hand declaration here, through windows-link as windows-sys declares its own.
windows_link::link!("ntdll.dll" "system" fn RtlGetLastNtStatus() -> i32);

/// The NTSTATUS behind the Win32 error just returned.
fn last_ntstatus() -> u32 {
    // SAFETY: no preconditions; reads the calling thread's TEB.
    unsafe { RtlGetLastNtStatus() as u32 }
}

fn last_error() -> u32 {
    // SAFETY: no preconditions.
    unsafe { GetLastError() }
}

/// The answer of one DeviceIoControl.
struct Answer {
    bytes: Vec<u8>,
}

/// A failed DeviceIoControl: the Win32 error, the NTSTATUS, and the byte count the
/// driver reported (the KS size query's answer with ERROR_MORE_DATA).
struct IoFailure {
    win32: u32,
    ntstatus: u32,
    returned: u32,
    bytes: Vec<u8>,
}

impl IoFailure {
    fn failure(&self, call: &str) -> Failure {
        Failure::new(call, self.win32, Some(self.ntstatus))
    }
}

/// An OVERLAPPED with its own manual-reset event.
struct Overlapped {
    ov: Box<OVERLAPPED>,
    event: Handle,
}

impl Overlapped {
    fn new() -> Result<Self, Failure> {
        // SAFETY: no security attributes, manual reset, unsignalled, unnamed.
        let event = unsafe { CreateEventW(core::ptr::null(), 1, 0, core::ptr::null()) };
        if event.is_null() {
            return Err(Failure::new("CreateEventW", last_error(), None));
        }
        let mut ov: Box<OVERLAPPED> = Box::new(decode::unsafe_zeroed());
        ov.hEvent = event;
        Ok(Self { ov, event: Handle(event) })
    }

    fn reset(&mut self) {
        let event = self.event.0;
        *self.ov = decode::unsafe_zeroed();
        self.ov.hEvent = event;
    }
}

/// IOCTL `code` on `h`: `input`, and an output buffer of `out_len` bytes (prefilled with
/// `out_init`), waited for.
fn ioctl_with(
    h: HANDLE,
    code: u32,
    input: &[u8],
    out_init: &[u8],
    out_len: u32,
) -> Result<Answer, IoFailure> {
    let fail = |win32| IoFailure { win32, ntstatus: 0, returned: 0, bytes: Vec::new() };
    let mut ov = Overlapped::new().map_err(|f| fail(f.win32))?;
    let mut out = vec![0u8; out_len as usize];
    let n = out_init.len().min(out.len());
    out[..n].copy_from_slice(&out_init[..n]);
    let mut returned = 0u32;
    let in_ptr = if input.is_empty() { core::ptr::null() } else { input.as_ptr().cast() };
    let out_ptr = if out.is_empty() { core::ptr::null_mut() } else { out.as_mut_ptr().cast() };
    // SAFETY: the buffers and the OVERLAPPED outlive the request (waited for below).
    let ok = unsafe {
        DeviceIoControl(h, code, in_ptr, input.len() as u32, out_ptr, out_len, &mut returned, &mut *ov.ov)
    };
    let mut error = if ok != 0 { 0 } else { last_error() };
    let mut ntstatus = if ok != 0 { 0 } else { last_ntstatus() };
    if ok == 0 && error == ERROR_IO_PENDING {
        // SAFETY: the request issued above on `h` with this OVERLAPPED; wait for it.
        let done = unsafe { GetOverlappedResult(h, &*ov.ov, &mut returned, 1) };
        (error, ntstatus) = if done != 0 { (0, 0) } else { (last_error(), last_ntstatus()) };
    } else if ok == 0 {
        // Completed at once with an error or a warning: a count, if any, is in
        // InternalHigh (ERROR_MORE_DATA: the size the KS size query asked for).
        returned = ov.ov.InternalHigh as u32;
    }
    out.truncate((returned as usize).min(out.len()));
    ov.reset();
    if error == 0 {
        Ok(Answer { bytes: out })
    } else {
        Err(IoFailure { win32: error, ntstatus, returned, bytes: out })
    }
}

fn ioctl(h: HANDLE, code: u32, input: &[u8], out_len: u32) -> Result<Answer, IoFailure> {
    ioctl_with(h, code, input, &[], out_len)
}

/// A whole variable-size property: the KS size query (output 0 → ERROR_MORE_DATA with the
/// size), then the read.
fn property_sized(h: HANDLE, request: &[u8], what: &str) -> Result<(u32, Vec<u8>), Failure> {
    let size = match ioctl(h, ks::IOCTL_KS_PROPERTY, request, 0) {
        Err(e) if e.win32 == ERROR_MORE_DATA => e.returned,
        Err(e) => return Err(e.failure(&format!("{what} size query"))),
        Ok(_) => return Err(Failure::new(format!("{what} size query (succeeded with no data)"), 0, None)),
    };
    let got = ioctl(h, ks::IOCTL_KS_PROPERTY, request, size).map_err(|e| e.failure(what))?;
    Ok((size, got.bytes))
}

fn property_u32(h: HANDLE, request: &[u8], what: &str) -> Result<u32, Failure> {
    let a = ioctl(h, ks::IOCTL_KS_PROPERTY, request, 4).map_err(|e| e.failure(what))?;
    decode::u32_at(&a.bytes, 0).ok_or_else(|| Failure::new(format!("{what}: short answer"), 24, None))
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(Some(0)).collect()
}

fn from_wide(w: &[u16]) -> String {
    let end = w.iter().position(|c| *c == 0).unwrap_or(w.len());
    String::from_utf16_lossy(&w[..end])
}

/// One device interface of a category: its path and the device's friendly name.
struct Interface {
    path: String,
    name: Option<String>,
}

fn interfaces(category: &GUID) -> Result<Vec<Interface>, Failure> {
    // SAFETY: a class GUID, no enumerator or window.
    let set = unsafe {
        SetupDiGetClassDevsW(
            category,
            core::ptr::null(),
            core::ptr::null_mut(),
            DIGCF_DEVICEINTERFACE | DIGCF_PRESENT,
        )
    };
    if set == INVALID_HANDLE_VALUE as HDEVINFO {
        return Err(Failure::new("SetupDiGetClassDevsW", last_error(), None));
    }
    let mut out = Vec::new();
    for index in 0.. {
        let mut data: SP_DEVICE_INTERFACE_DATA = decode::unsafe_zeroed();
        data.cbSize = size_of::<SP_DEVICE_INTERFACE_DATA>() as u32;
        // SAFETY: the set above, a sized SP_DEVICE_INTERFACE_DATA.
        if unsafe { SetupDiEnumDeviceInterfaces(set, core::ptr::null(), category, index, &mut data) } == 0 {
            break;
        }
        // The detail: a u32 cbSize then the path; 8-aligned storage of 2 KiB.
        let mut storage = vec![0u64; 256];
        let detail = storage.as_mut_ptr().cast::<SP_DEVICE_INTERFACE_DETAIL_DATA_W>();
        let mut device: SP_DEVINFO_DATA = decode::unsafe_zeroed();
        device.cbSize = size_of::<SP_DEVINFO_DATA>() as u32;
        // SAFETY: `detail` points to 2 KiB of writable, aligned storage whose cbSize is
        // the fixed part's size (as SetupDi requires); `device` is sized.
        let ok = unsafe {
            (*detail).cbSize = size_of::<SP_DEVICE_INTERFACE_DETAIL_DATA_W>() as u32;
            SetupDiGetDeviceInterfaceDetailW(set, &data, detail, 2048, core::ptr::null_mut(), &mut device)
        };
        if ok == 0 {
            continue;
        }
        // SAFETY: the path follows cbSize inside the storage, NUL-terminated by SetupDi.
        let path = unsafe {
            let start = core::ptr::addr_of!((*detail).DevicePath).cast::<u16>();
            let room = 2048 / 2 - 2;
            from_wide(core::slice::from_raw_parts(start, room))
        };
        let mut name = None;
        for prop in [SPDRP_FRIENDLYNAME, SPDRP_DEVICEDESC] {
            let mut buf = [0u16; 256];
            // SAFETY: the device of this interface, a 512-byte buffer.
            let ok = unsafe {
                SetupDiGetDeviceRegistryPropertyW(
                    set,
                    &device,
                    prop,
                    core::ptr::null_mut(),
                    buf.as_mut_ptr().cast(),
                    512,
                    core::ptr::null_mut(),
                )
            };
            if ok != 0 {
                name = Some(from_wide(&buf));
                break;
            }
        }
        out.push(Interface { path, name });
    }
    // SAFETY: the set created above.
    unsafe { SetupDiDestroyDeviceInfoList(set) };
    Ok(out)
}

/// The capture filters: KSCATEGORY_CAPTURE interfaces whose device also has a
/// KSCATEGORY_VIDEO interface (the pair ksvideosrc and KsStudio's video view look for).
/// The alias is found by path rather than SetupDiGetDeviceInterfaceAlias (a stub in
/// Wine 8.0; GSTREAMER-NOTES).
fn capture_filters() -> Result<Vec<Interface>, Failure> {
    let video = interfaces(&ks::KSCATEGORY_VIDEO)?;
    let key = |p: &str| {
        let lower = p.to_ascii_lowercase();
        // \\?\<instance>#{class}[\ref]: the instance and reference string identify it.
        let (head, rest) = lower.rsplit_once("#{").unwrap_or((&lower, ""));
        let reference = rest.split_once('\\').map(|(_, r)| r.to_string()).unwrap_or_default();
        (head.to_string(), reference)
    };
    let videos: Vec<_> = video.iter().map(|v| key(&v.path)).collect();
    Ok(interfaces(&ks::KSCATEGORY_CAPTURE)?.into_iter().filter(|c| videos.contains(&key(&c.path))).collect())
}

fn open(path: &str) -> Result<Handle, Failure> {
    let w = wide(path);
    // SAFETY: a NUL-terminated path; as ksvideosrc opens a filter (GSTREAMER-NOTES).
    let h = unsafe {
        CreateFileW(
            w.as_ptr(),
            GENERIC_READ | GENERIC_WRITE,
            0,
            core::ptr::null(),
            OPEN_EXISTING,
            FILE_FLAG_OVERLAPPED,
            core::ptr::null_mut(),
        )
    };
    if h == INVALID_HANDLE_VALUE {
        return Err(Failure::new(format!("CreateFileW({path})"), last_error(), None));
    }
    Ok(Handle(h))
}

fn choose_filter(cli: &Cli) -> Result<(Interface, Handle), Failure> {
    let filters = capture_filters()?;
    let wanted = cli.device.as_deref().map(str::to_ascii_lowercase);
    let chosen = filters
        .into_iter()
        .find(|f| {
            wanted.as_deref().is_none_or(|w| {
                f.path.to_ascii_lowercase().contains(w)
                    || f.name.as_deref().is_some_and(|n| n.to_ascii_lowercase().contains(w))
            })
        })
        .ok_or_else(|| {
            Failure::new("finding a KSCATEGORY_CAPTURE + VIDEO filter", ERROR_FILE_NOT_FOUND, None)
        })?;
    let h = open(&chosen.path)?;
    Ok((chosen, h))
}

fn pin_request(id: u32, pin: u32) -> Vec<u8> {
    decode::pin_property(ks::KSPROPSETID_Pin, id, ks::KSPROPERTY_TYPE_GET, pin)
}

fn pin_ranges(filter: HANDLE, pin: u32) -> Result<Vec<DataRange>, Failure> {
    let what = format!("KSPROPERTY_PIN_DATARANGES (pin {pin})");
    let (_, bytes) = property_sized(filter, &pin_request(ks::KSPROPERTY_PIN_DATARANGES as u32, pin), &what)?;
    decode::data_ranges(&bytes).map_err(|e| Failure::new(format!("{what}: {e}"), ERROR_INVALID_DATA, None))
}

fn describe_pin(filter: HANDLE, pin: u32) -> Value {
    let u32_prop = |id: i32, what: &str| property_u32(filter, &pin_request(id as u32, pin), what);
    let mut out = json!({ "id": pin });
    match u32_prop(ks::KSPROPERTY_PIN_DATAFLOW, "KSPROPERTY_PIN_DATAFLOW") {
        Ok(v) => out["dataflow"] = json!(decode::dataflow_name(v)),
        Err(e) => out["dataflow"] = json!({ "error": e }),
    }
    match u32_prop(ks::KSPROPERTY_PIN_COMMUNICATION, "KSPROPERTY_PIN_COMMUNICATION") {
        Ok(v) => out["communication"] = json!(decode::communication_name(v)),
        Err(e) => out["communication"] = json!({ "error": e }),
    }
    match ioctl(filter, ks::IOCTL_KS_PROPERTY, &pin_request(ks::KSPROPERTY_PIN_CATEGORY as u32, pin), 16) {
        Ok(a) => {
            out["category"] =
                decode::read::<GUID>(&a.bytes).map_or(Value::Null, |g| json!(decode::guid_name(&g)))
        }
        Err(e) => out["category"] = json!({ "error": e.failure("KSPROPERTY_PIN_CATEGORY") }),
    }
    match pin_ranges(filter, pin) {
        Ok(ranges) => {
            out["data_ranges"] = ranges
                .iter()
                .map(|r| {
                    let mut v = json!(r);
                    v["summary"] = json!(r.summary());
                    v
                })
                .collect()
        }
        Err(e) => out["data_ranges"] = json!({ "error": e }),
    }
    out
}

fn list() -> Result<Value, Failure> {
    let mut filters = Vec::new();
    for f in capture_filters()? {
        let mut entry = json!({ "path": f.path, "name": f.name });
        match open(&f.path) {
            Err(e) => entry["error"] = json!(e),
            Ok(h) => {
                match property_u32(
                    h.0,
                    &pin_request(ks::KSPROPERTY_PIN_CTYPES as u32, 0),
                    "KSPROPERTY_PIN_CTYPES",
                ) {
                    Ok(count) => {
                        entry["pin_types"] = json!(count);
                        entry["pins"] = (0..count).map(|p| describe_pin(h.0, p)).collect();
                    }
                    Err(e) => entry["error"] = json!(e),
                }
            }
        }
        filters.push(entry);
    }
    Ok(json!({ "command": "list", "filters": filters }))
}

/// A pin created with KsCreatePin for `range`.
fn create_pin(filter: HANDLE, pin: u32, range: &DataRange) -> Result<Handle, Failure> {
    let request = decode::connect_request(pin, range).ok_or_else(|| {
        Failure::new("building the connect request (not a VIDEOINFO range)", ERROR_INVALID_DATA, None)
    })?;
    // KSPIN_CONNECT is 8-aligned: copy the request into u64 storage.
    let mut storage = vec![0u64; request.len().div_ceil(8)];
    // SAFETY: the storage holds at least request.len() bytes.
    unsafe {
        core::ptr::copy_nonoverlapping(request.as_ptr(), storage.as_mut_ptr().cast::<u8>(), request.len())
    };
    let mut handle: HANDLE = core::ptr::null_mut();
    // SAFETY: a KSPIN_CONNECT followed by its KSDATAFORMAT, an out handle.
    let error = unsafe { ks::KsCreatePin(filter, storage.as_ptr().cast(), GENERIC_READ, &mut handle) };
    if error != 0 {
        // ksuser returns the Win32 error only (RtlNtStatusToDosError of the create's status).
        return Err(Failure::new(format!("KsCreatePin(pin {pin}, {})", range.summary()), error, None));
    }
    Ok(Handle(handle))
}

fn framing_of(pin: HANDLE) -> Value {
    let mut out = json!({});
    let framing =
        decode::property(ks::KSPROPSETID_Connection, ks::KSPROPERTY_CONNECTION_ALLOCATORFRAMING as u32, 1);
    // The size query first, as for every KS property; ALLOCATORFRAMING has a fixed size,
    // so KS may refuse a zero-length output instead of reporting it.
    out["allocator_framing_size_query"] = match ioctl(pin, ks::IOCTL_KS_PROPERTY, &framing, 0) {
        Err(e) if e.win32 == ERROR_MORE_DATA => json!({ "size": e.returned }),
        Err(e) => json!({ "error": e.failure("ALLOCATORFRAMING size query") }),
        Ok(a) => json!({ "size": a.bytes.len() }),
    };
    out["allocator_framing"] = match ioctl(pin, ks::IOCTL_KS_PROPERTY, &framing, 24) {
        Ok(a) => decode::framing(&a.bytes).map_or(json!({ "short": a.bytes.len() }), |f| json!(f)),
        Err(e) => json!({ "error": e.failure("KSPROPERTY_CONNECTION_ALLOCATORFRAMING Get") }),
    };
    let ex =
        decode::property(ks::KSPROPSETID_Connection, ks::KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX as u32, 1);
    out["allocator_framing_ex"] =
        match property_sized(pin, &ex, "KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX Get") {
            Ok((size, bytes)) => {
                let mut v = decode::framing_ex(&bytes).map_or(json!({ "short": bytes.len() }), |f| json!(f));
                v["size"] = json!(size);
                v
            }
            Err(e) => json!({ "error": e }),
        };
    let sa = decode::property(ks::KSPROPSETID_Stream, ks::KSPROPERTY_STREAM_ALLOCATOR as u32, 1);
    out["stream_allocator"] = match ioctl_with(pin, ks::IOCTL_KS_PROPERTY, &sa, &[0xAA; 8], 8) {
        Ok(a) => json!({ "handle": format!("{:#x}", decode::read::<u64>(&a.bytes).unwrap_or(u64::MAX)) }),
        Err(e) => json!({ "error": e.failure("KSPROPERTY_STREAM_ALLOCATOR Get") }),
    };
    out["statistics"] = stats_of(pin);
    out
}

fn stats_of(pin: HANDLE) -> Value {
    let st = decode::property(decode::KSPROPSETID_KSFRAME_ALLOCATOR, 0, 1);
    match ioctl(pin, ks::IOCTL_KS_PROPERTY, &st, decode::STATS_SIZE as u32) {
        Ok(a) => decode::stats(&a.bytes).map_or(json!({ "short": a.bytes.len() }), |s| json!(s)),
        Err(e) => json!({ "error": e.failure("KSPROPSETID_KsframeAllocator STATISTICS Get") }),
    }
}

fn framing(cli: &Cli, pin: u32, format: Option<usize>) -> Result<Value, Failure> {
    let (filter, h) = choose_filter(cli)?;
    let ranges = pin_ranges(h.0, pin)?;
    let mut formats = Vec::new();
    for range in ranges.iter().filter(|r| format.is_none_or(|f| f == r.index)) {
        let p = create_pin(h.0, pin, range)?;
        let mut v = framing_of(p.0);
        v["format"] = json!(range.index);
        v["summary"] = json!(range.summary());
        formats.push(v);
    }
    if formats.is_empty() {
        return Err(Failure::new(format!("format {format:?} of pin {pin}"), ERROR_NOT_FOUND, None));
    }
    Ok(json!({ "command": "framing", "filter": filter.path, "pin": pin, "formats": formats }))
}

fn set_state(pin: HANDLE, state: i32) -> Result<(), Failure> {
    let req = decode::property(ks::KSPROPSETID_Connection, ks::KSPROPERTY_CONNECTION_STATE as u32, 2);
    // The state travels in the output buffer of a SET (ks.h; ksvideosrc does the same).
    ioctl_with(pin, ks::IOCTL_KS_PROPERTY, &req, &state.to_le_bytes(), 4)
        .map(|_| ())
        .map_err(|e| e.failure(&format!("KSPROPERTY_CONNECTION_STATE Set {}", state_name(state))))
}

fn state_name(s: i32) -> &'static str {
    ["STOP", "ACQUIRE", "PAUSE", "RUN"].get(s as usize).copied().unwrap_or("?")
}

/// One read in flight: its OVERLAPPED, header block and frame buffer.
struct Read {
    ov: Overlapped,
    header: Box<[u64; decode::VIDEO_HEADER_SIZE / 8]>,
    frame: Vec<u64>,
}

impl Read {
    fn issue(&mut self, pin: HANDLE, extent: u32) -> Result<(), Failure> {
        self.ov.reset();
        // SAFETY: ResetEvent on our own event.
        unsafe { ResetEvent(self.ov.event.0) };
        let mut h: ks::KSSTREAM_HEADER = decode::unsafe_zeroed();
        h.Size = decode::VIDEO_HEADER_SIZE as u32;
        h.FrameExtent = extent;
        h.Data = self.frame.as_mut_ptr().cast();
        h.PresentationTime.Numerator = 1;
        h.PresentationTime.Denominator = 1;
        let mut info: ks::KS_FRAME_INFO = decode::unsafe_zeroed();
        info.ExtendedHeaderSize = size_of::<ks::KS_FRAME_INFO>() as u32;
        let bytes = self.header.as_mut_ptr().cast::<u8>();
        // SAFETY: the header block holds 128 bytes: the 56-byte header then the 72-byte info.
        unsafe {
            bytes.cast::<ks::KSSTREAM_HEADER>().write_unaligned(h);
            bytes.add(size_of::<ks::KSSTREAM_HEADER>()).cast::<ks::KS_FRAME_INFO>().write_unaligned(info);
        }
        let mut returned = 0u32;
        // SAFETY: the header block, the frame buffer and the OVERLAPPED live in `self`,
        // which outlives the request (completed or cancelled and waited for).
        let ok = unsafe {
            DeviceIoControl(
                pin,
                ks::IOCTL_KS_READ_STREAM,
                core::ptr::null(),
                0,
                bytes.cast(),
                decode::VIDEO_HEADER_SIZE as u32,
                &mut returned,
                &mut *self.ov.ov,
            )
        };
        if ok == 0 && last_error() != ERROR_IO_PENDING {
            return Err(Failure::new("IOCTL_KS_READ_STREAM", last_error(), Some(last_ntstatus())));
        }
        Ok(())
    }

    /// Waits up to `ms` for the read; Ok(Some(header)) when it completed.
    fn wait(&mut self, pin: HANDLE, ms: u32) -> Result<Option<decode::FrameHeader>, Failure> {
        // SAFETY: our event.
        if unsafe { WaitForSingleObject(self.ov.event.0, ms) } != WAIT_OBJECT_0 {
            return Ok(None);
        }
        let mut returned = 0u32;
        // SAFETY: the request issued on `pin` with this OVERLAPPED, signalled.
        if unsafe { GetOverlappedResult(pin, &*self.ov.ov, &mut returned, 1) } == 0 {
            return Err(Failure::new(
                "IOCTL_KS_READ_STREAM (completion)",
                last_error(),
                Some(self.ov.ov.Internal as u32),
            ));
        }
        // SAFETY: 128 initialised bytes of header block.
        let bytes = unsafe {
            core::slice::from_raw_parts(self.header.as_ptr().cast::<u8>(), decode::VIDEO_HEADER_SIZE)
        };
        Ok(decode::frame_header(bytes))
    }

    fn frame_bytes(&self, used: u32) -> &[u8] {
        let len = (used as usize).min(self.frame.len() * 8);
        // SAFETY: `len` bytes inside the frame buffer.
        unsafe { core::slice::from_raw_parts(self.frame.as_ptr().cast::<u8>(), len) }
    }
}

fn stream(cli: &Cli, frames: u32, pin_id: u32, format: usize, no_allocator: bool) -> Result<Value, Failure> {
    let (filter, h) = choose_filter(cli)?;
    let ranges = pin_ranges(h.0, pin_id)?;
    let range = ranges
        .iter()
        .find(|r| r.index == format)
        .ok_or_else(|| Failure::new(format!("format {format} of pin {pin_id}"), ERROR_NOT_FOUND, None))?;
    let pin = create_pin(h.0, pin_id, range)?;
    let framing_req =
        decode::property(ks::KSPROPSETID_Connection, ks::KSPROPERTY_CONNECTION_ALLOCATORFRAMING as u32, 1);
    let framing_bytes = ioctl(pin.0, ks::IOCTL_KS_PROPERTY, &framing_req, 24)
        .map_err(|e| e.failure("KSPROPERTY_CONNECTION_ALLOCATORFRAMING Get"))?
        .bytes;
    let framing = decode::framing(&framing_bytes).ok_or_else(|| {
        Failure::new("KSPROPERTY_CONNECTION_ALLOCATORFRAMING: short answer", ERROR_INVALID_DATA, None)
    })?;
    let mut report = json!({
        "command": "stream", "filter": filter.path, "pin": pin_id, "format": format,
        "summary": range.summary(), "framing": framing,
    });
    report["statistics_before_allocator"] = stats_of(pin.0);
    let _allocator = if no_allocator {
        None
    } else {
        // KsProxy's request: Frames, FrameSize, FileAlignment as the pin asks, SYSTEM_MEMORY.
        let mut request: ks::KSALLOCATOR_FRAMING =
            decode::read(&framing_bytes).ok_or_else(|| Failure::new("framing", ERROR_INVALID_DATA, None))?;
        request.Anonymous1.OptionsFlags = ks::KSALLOCATOR_OPTIONF_SYSTEM_MEMORY;
        let mut handle: HANDLE = core::ptr::null_mut();
        // SAFETY: a pin handle, a KSALLOCATOR_FRAMING, an out handle.
        let error = unsafe { ks::KsCreateAllocator(pin.0, &request, &mut handle) };
        if error != 0 {
            return Err(Failure::new("KsCreateAllocator", error, None));
        }
        Some(Handle(handle))
    };
    report["statistics_before"] = stats_of(pin.0);
    let extent = range.video.as_ref().map_or(range.sample_size, |v| v.image_size);
    let in_flight = (framing.frames.clamp(1, 8) as usize).min(frames.max(1) as usize);
    for state in [ks::KSSTATE_ACQUIRE, ks::KSSTATE_PAUSE, ks::KSSTATE_RUN] {
        set_state(pin.0, state)?;
    }
    let started = std::time::Instant::now();
    let mut reads: Vec<Read> = Vec::new();
    for _ in 0..in_flight {
        let mut r = Read {
            ov: Overlapped::new()?,
            header: Box::new([0u64; decode::VIDEO_HEADER_SIZE / 8]),
            frame: vec![0u64; (extent as usize).div_ceil(8)],
        };
        r.issue(pin.0, extent)?;
        reads.push(r);
    }
    let mut issued = in_flight as u32;
    let (mut got, mut intact, mut bad_pattern, mut wrong_size) = (0u32, 0u32, 0u32, 0u32);
    let (mut first_pts, mut last_pts, mut increasing, mut timed) = (None::<i64>, None::<i64>, true, true);
    let (mut numbers, mut last_drop, mut first_problem) = (Vec::new(), 0i64, None::<String>);
    let mut failure = None;
    let mut next = 0usize;
    while got < frames {
        let r = &mut reads[next];
        match r.wait(pin.0, 5000) {
            Ok(Some(hdr)) => {
                got += 1;
                if hdr.data_used != extent {
                    wrong_size += 1;
                }
                match pattern::check(r.frame_bytes(hdr.data_used)) {
                    Ok(n) => {
                        intact += 1;
                        numbers.push(n);
                    }
                    Err(m) => {
                        bad_pattern += 1;
                        first_problem.get_or_insert(format!("frame {got}: {m:?}"));
                    }
                }
                timed &= hdr.options.iter().any(|o| o == "TIMEVALID");
                if let Some(prev) = last_pts {
                    increasing &= hdr.presentation_time > prev;
                }
                first_pts.get_or_insert(hdr.presentation_time);
                last_pts = Some(hdr.presentation_time);
                last_drop = hdr.drop_count.unwrap_or(last_drop);
                // Re-issued at once, as ksvideosrc does: reads stay queued up to STOP,
                // which must cancel them.
                {
                    if let Err(e) = r.issue(pin.0, extent) {
                        failure = Some(e);
                        break;
                    }
                    issued += 1;
                }
                next = (next + 1) % reads.len();
            }
            Ok(None) => {
                failure = Some(Failure::new(
                    format!("IOCTL_KS_READ_STREAM (frame {} not delivered in 5 s)", got + 1),
                    WAIT_TIMEOUT,
                    None,
                ));
                break;
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Back to STOP one state at a time; STOP cancels the reads still queued.
    let mut stop_errors = Vec::new();
    for state in [ks::KSSTATE_PAUSE, ks::KSSTATE_ACQUIRE, ks::KSSTATE_STOP] {
        if let Err(e) = set_state(pin.0, state) {
            stop_errors.push(json!(e));
        }
    }
    let (mut cancelled, mut late) = (0, 0);
    let outstanding = issued.saturating_sub(got);
    let count = reads.len();
    for k in 0..(outstanding as usize).min(count) {
        let r = &mut reads[(next + k) % count];
        match r.wait(pin.0, 2000) {
            Err(e) if e.win32 == ERROR_OPERATION_ABORTED => cancelled += 1,
            Ok(Some(_)) => late += 1,
            Ok(None) => {
                // SAFETY: cancel our own request on our handle, then wait for it.
                unsafe { CancelIoEx(pin.0, &*r.ov.ov) };
                let _ = r.wait(pin.0, 2000);
            }
            Err(e) => stop_errors.push(json!(e)),
        }
    }
    let sequential = numbers.windows(2).all(|w| w[1] > w[0]);
    report["frames"] = json!({
        "requested": frames, "received": got, "in_flight": in_flight, "bytes_per_frame": extent,
        "wrong_size": wrong_size, "pattern_intact": intact, "pattern_broken": bad_pattern,
        "first_problem": first_problem, "frame_numbers_increasing": sequential,
        "first_frame_number": numbers.first(), "last_frame_number": numbers.last(),
        "timestamps_valid": timed, "timestamps_increasing": increasing,
        "first_pts_100ns": first_pts, "last_pts_100ns": last_pts,
        "drop_count": last_drop, "seconds": (elapsed * 1000.0).round() / 1000.0,
        "fps": if elapsed > 0.0 { ((got as f64 / elapsed) * 10.0).round() / 10.0 } else { 0.0 },
        "queued_at_stop": outstanding, "cancelled_at_stop": cancelled, "completed_after_stop": late,
    });
    report["stop_errors"] = json!(stop_errors);
    report["statistics_after"] = stats_of(pin.0);
    if let Some(f) = failure {
        report["error"] = json!(f);
        return Err(f);
    }
    Ok(report)
}

fn named_set(s: &str) -> Option<GUID> {
    Some(match s.to_ascii_lowercase().as_str() {
        "pin" => ks::KSPROPSETID_Pin,
        "connection" => ks::KSPROPSETID_Connection,
        "stream" => ks::KSPROPSETID_Stream,
        "general" => ks::KSPROPSETID_General,
        "ksframeallocator" => decode::KSPROPSETID_KSFRAME_ALLOCATOR,
        other => {
            let hex: String = other.chars().filter(|c| c.is_ascii_hexdigit()).collect();
            if hex.len() != 32 {
                return None;
            }
            GUID::from_u128(u128::from_str_radix(&hex, 16).ok()?)
        }
    })
}

#[allow(clippy::too_many_arguments)]
fn get(
    cli: &Cli,
    set: &str,
    id: u32,
    on_pin_format: Option<usize>,
    pin: u32,
    out: u32,
    input: Option<u32>,
    flags: u32,
) -> Result<Value, Failure> {
    let guid = named_set(set)
        .ok_or_else(|| Failure::new(format!("property set '{set}'"), ERROR_INVALID_PARAMETER, None))?;
    let (filter, h) = choose_filter(cli)?;
    let (target, request, _pin_handle) = match on_pin_format {
        Some(format) => {
            let ranges = pin_ranges(h.0, pin)?;
            let range = ranges
                .iter()
                .find(|r| r.index == format)
                .ok_or_else(|| Failure::new(format!("format {format}"), ERROR_NOT_FOUND, None))?;
            let p = create_pin(h.0, pin, range)?;
            (p.0, decode::property(guid, id, flags), Some(p))
        }
        None => (h.0, decode::pin_property(guid, id, flags, pin), None),
    };
    let mut request = request;
    if let Some(n) = input {
        request.resize(n as usize, 0);
    }
    let what = format!(
        "IOCTL_KS_PROPERTY {} id {id} flags {flags:#x} in {} out {out}",
        decode::guid_name(&guid),
        request.len()
    );
    let mut doc = json!({ "command": "get", "filter": filter.path, "on": if on_pin_format.is_some() { "pin" } else { "filter" }, "request": what });
    match ioctl(target, ks::IOCTL_KS_PROPERTY, &request, out) {
        Ok(a) => {
            doc["bytes_returned"] = json!(a.bytes.len());
            doc["data"] = json!(a.bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
            Ok(doc)
        }
        Err(e) => {
            doc["bytes_returned"] = json!(e.returned);
            doc["data"] = json!(e.bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
            let f = e.failure(&what);
            if e.win32 == ERROR_MORE_DATA {
                // The KS size query's answer, not a failure.
                doc["size_query"] = json!({ "size": e.returned, "win32": e.win32, "win32_name": f.win32_name, "ntstatus": f.ntstatus, "ntstatus_name": f.ntstatus_name });
                return Ok(doc);
            }
            Err(f)
        }
    }
}

pub fn run(cli: &Cli) -> Result<Value, Failure> {
    match &cli.command {
        Command::List => list(),
        Command::Framing { pin, format } => framing(cli, *pin, *format),
        Command::Stream { frames, pin, format, no_allocator } => {
            stream(cli, *frames, *pin, *format, *no_allocator)
        }
        Command::Get { set, id, on_pin_format, pin, out, input, flags } => {
            get(cli, set, *id, *on_pin_format, *pin, *out, *input, *flags)
        }
    }
}
