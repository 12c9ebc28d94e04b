//! A stand-in ks.sys: just enough of AVStream to load ksframe.sys under Wine and drive
//! its descriptors, KSALLOCATOR_DISPATCH and property handlers with real kernel-style
//! objects (KSDEVICE, KSPIN, IRP, IO_STACK_LOCATION laid out per ksframe's ABI module).
//!
//! Every step prints one machine-readable line through DbgPrint:
//! `KSSTANDIN <step> key=value ...`; tests/wine.rs parses them. Property requests go
//! through `ksframe::ksrules::property_handler`, the same KsPropertyHandler rules the
//! host simulator applies, so the rules are written once.
//!
//! Wine calls no entry point of an import-only driver: nothing here relies on
//! initialisation; the `DriverEntry` the kernel link needs is ksframe's `no-entry` stub.

#![no_std]
#![allow(clippy::missing_safety_doc, non_snake_case)]

use core::ffi::c_void;
use core::fmt::Write;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use ksframe::ks::*;
use ksframe::property::{
    KSPROPERTY_KSFRAME_ALLOCATOR_RESET, KSPROPERTY_KSFRAME_ALLOCATOR_STATISTICS, KSPROPSETID_KsframeAllocator,
};

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "C" {
    fn DbgPrint(format: *const u8, ...) -> u32;
}

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn ExAllocatePoolWithTag(pool_type: i32, bytes: usize, tag: u32) -> PVOID;
    fn ExFreePoolWithTag(p: PVOID, tag: u32);
}

/// The object bag: what `_KsEdit` allocated, freed when the pin closes.
static BAG: [AtomicPtr<c_void>; 8] = [const { AtomicPtr::new(core::ptr::null_mut()) }; 8];
const BAG_TAG: u32 = u32::from_le_bytes(*b"KsSi");

/// `_KsEdit`: a private, writable copy of `*item` in the object's bag (an item already in
/// the bag is edited in place).
#[unsafe(no_mangle)]
pub unsafe extern "system" fn _KsEdit(
    _bag: PVOID,
    item: *mut PVOID,
    new_size: u32,
    old_size: u32,
    _tag: u32,
) -> NTSTATUS {
    // SAFETY: a valid pointer to the item's pointer (the driver's contract).
    let current = unsafe { *item };
    if BAG.iter().any(|b| b.load(Ordering::Acquire) == current) {
        return STATUS_SUCCESS;
    }
    // SAFETY: non-paged pool of new_size bytes.
    let copy = unsafe { ExAllocatePoolWithTag(NonPagedPoolNx, new_size as usize, BAG_TAG) };
    if copy.is_null() {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    let Some(slot) = BAG.iter().find(|b| {
        b.compare_exchange(core::ptr::null_mut(), copy, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }) else {
        // SAFETY: just allocated.
        unsafe { ExFreePoolWithTag(copy, BAG_TAG) };
        return STATUS_INSUFFICIENT_RESOURCES;
    };
    let _ = slot;
    // SAFETY: old_size readable bytes at `current`, new_size >= old_size writable at `copy`.
    unsafe {
        core::ptr::copy_nonoverlapping(
            current.cast::<u8>(),
            copy.cast::<u8>(),
            old_size.min(new_size) as usize,
        );
        *item = copy;
    }
    STATUS_SUCCESS
}

/// Frees the bag (KS frees a pin's bag with the pin); returns how many items it held.
fn free_bag() -> usize {
    let mut freed = 0;
    for b in &BAG {
        let p = b.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if !p.is_null() {
            // SAFETY: allocated by _KsEdit with BAG_TAG.
            unsafe { ExFreePoolWithTag(p, BAG_TAG) };
            freed += 1;
        }
    }
    freed
}

/// Failures seen so far (reported in the final line).
static FAILURES: AtomicU32 = AtomicU32::new(0);

struct Line {
    buf: [u8; 400],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.buf.len() - 1 - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

fn emit(args: core::fmt::Arguments<'_>) {
    let mut line = Line { buf: [0; 400], len: 0 };
    let _ = line.write_str("KSSTANDIN ");
    let _ = line.write_fmt(args);
    let _ = line.write_str("\n");
    line.buf[line.len] = 0;
    // SAFETY: "%s" with a NUL-terminated stack buffer.
    unsafe { DbgPrint(c"%s".as_ptr().cast(), line.buf.as_ptr()) };
}

macro_rules! say {
    ($($t:tt)*) => { emit(format_args!($($t)*)) };
}

fn check(what: &str, ok: bool) {
    if !ok {
        FAILURES.fetch_add(1, Ordering::Relaxed);
        say!("fail {what}");
    }
}

// The panic handler and the (never called) DriverEntry come from ksframe, linked with
// its `no-entry` feature.

/// The stream pointer offered to the pin being processed (none: this stand-in does not
/// run Process).
static LEADING_EDGE: AtomicPtr<KSSTREAM_POINTER> = AtomicPtr::new(core::ptr::null_mut());

#[unsafe(no_mangle)]
pub unsafe extern "system" fn KsPinGetLeadingEdgeStreamPointer(
    _pin: *mut KSPIN,
    _state: i32,
) -> *mut KSSTREAM_POINTER {
    LEADING_EDGE.swap(core::ptr::null_mut(), Ordering::AcqRel)
}

#[unsafe(no_mangle)]
pub unsafe extern "system" fn KsStreamPointerAdvanceOffsetsAndUnlock(
    _pointer: *mut KSSTREAM_POINTER,
    _in_used: u32,
    _out_used: u32,
    _eject: u8,
) {
}

/// The pin a property IRP addresses: like the host backend, this stand-in keeps it in
/// the stack location's FileObject (ks.sys reaches it through the file object).
#[unsafe(no_mangle)]
pub unsafe extern "system" fn KsGetPinFromIrp(irp: *mut IRP) -> *mut KSPIN {
    // SAFETY: an IRP this stand-in built, with its stack location.
    unsafe { (*(*irp).Tail.Overlay.CurrentStackLocation).FileObject.cast() }
}

/// A property request with real IRP and stack location, through the pin's automation
/// table. Returns (status, information); the output lands in `out`.
unsafe fn property(
    pin: *mut KSPIN,
    set: GUID,
    id: u32,
    flags: u32,
    out: &mut [u8],
    out_len: u32,
) -> (NTSTATUS, usize) {
    let mut request = KSIDENTIFIER { Set: set, Id: id, Flags: flags };
    // SAFETY: all-zero IRP / IO_STACK_LOCATION are valid starting values.
    let mut stack: IO_STACK_LOCATION = unsafe { core::mem::zeroed() };
    // SAFETY: as above.
    let mut irp: IRP = unsafe { core::mem::zeroed() };
    stack.MajorFunction = IRP_MJ_DEVICE_CONTROL;
    stack.Parameters.DeviceIoControl = IO_STACK_LOCATION_DEVICE_IO_CONTROL {
        OutputBufferLength: out_len,
        InputBufferLength: ULONG_ALIGNED(24),
        IoControlCode: ULONG_ALIGNED(IOCTL_KS_PROPERTY),
        Type3InputBuffer: (&mut request as *mut KSIDENTIFIER).cast(),
    };
    stack.FileObject = pin.cast();
    irp.RequestorMode = UserMode;
    irp.AssociatedIrp.SystemBuffer = out.as_mut_ptr().cast();
    irp.Tail.Overlay.CurrentStackLocation = &mut stack;
    // SAFETY: the pin's automation table is the driver's static.
    let sets: &[KSPROPERTY_SET] = unsafe {
        let table = &*(*(*pin).Descriptor).AutomationTable;
        core::slice::from_raw_parts(table.PropertySets, table.PropertySetsCount as usize)
    };
    // SAFETY: a complete property IRP and the driver's static tables.
    let status = unsafe { ksframe::ksrules::property_handler(&mut irp, &[sets]) };
    (status, irp.IoStatus.Information)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u32_at(b, at) as u64 | (u32_at(b, at + 4) as u64) << 32
}

/// Plays ks.sys: device Add/Start, descriptors, a pin, its allocator and its properties.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn KsInitializeDriver(
    _driver: *mut DRIVER_OBJECT,
    _registry_path: *const UNICODE_STRING,
    descriptor: *const KSDEVICE_DESCRIPTOR,
) -> NTSTATUS {
    say!("begin descriptor={:p}", descriptor);
    // SAFETY: the driver passes its static device descriptor.
    let Some(device_descriptor) = (unsafe { descriptor.as_ref() }) else {
        say!("fail no_descriptor");
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: the driver's static tables, read as AVStream reads them.
    unsafe { play(device_descriptor) };
    say!("done failures={}", FAILURES.load(Ordering::Relaxed));
    STATUS_SUCCESS
}

unsafe fn play(device_descriptor: &'static KSDEVICE_DESCRIPTOR) {
    // --- device -------------------------------------------------------------------------
    // SAFETY: all-zero KSDEVICE is valid (null pointers, zero state).
    let mut device: KSDEVICE = unsafe { core::mem::zeroed() };
    device.Descriptor = device_descriptor;
    // SAFETY: the driver's static dispatch table.
    if let Some(dispatch) = unsafe { device_descriptor.Dispatch.as_ref() } {
        // SAFETY: a device laid out per the ABI.
        let add = dispatch.Add.map_or(STATUS_SUCCESS, |add| unsafe { add(&mut device) });
        say!("device_add status={:#010x}", add as u32);
        // SAFETY: as above; no IRP or resources for a software device.
        let start = dispatch.Start.map_or(STATUS_SUCCESS, |start| unsafe {
            start(&mut device, core::ptr::null_mut(), core::ptr::null_mut(), core::ptr::null_mut())
        });
        say!("device_start status={:#010x}", start as u32);
        check("device", NT_SUCCESS(add) && NT_SUCCESS(start));
    }

    // --- descriptors ----------------------------------------------------------------------
    // SAFETY: FilterDescriptorsCount static descriptors.
    let filters = unsafe {
        core::slice::from_raw_parts(
            device_descriptor.FilterDescriptors,
            device_descriptor.FilterDescriptorsCount as usize,
        )
    };
    say!("filters count={}", filters.len());
    let Some(filter) = filters.first().and_then(|f| unsafe { f.as_ref() }) else {
        check("filter", false);
        return;
    };
    // SAFETY: PinDescriptorsCount static pin descriptors.
    let pins =
        unsafe { core::slice::from_raw_parts(filter.PinDescriptors, filter.PinDescriptorsCount as usize) };
    for (i, p) in pins.iter().enumerate() {
        // SAFETY: static dispatch table.
        let allocator = unsafe { p.Dispatch.as_ref() }.is_some_and(|d| !d.Allocator.is_null());
        say!(
            "pin_descriptor id={} dataflow={} ranges={} own_allocator={} framing={}",
            i,
            p.PinDescriptor.DataFlow,
            p.PinDescriptor.DataRangesCount,
            allocator as u32,
            // SAFETY: the static KSALLOCATOR_FRAMING_EX the descriptor points to.
            unsafe { p.AllocatorFraming.as_ref() }
                .map_or(0, |f| f.FramingItem[0].FramingRange.Range.MinFrameSize)
        );
    }
    let capture = &pins[0];

    // --- the connection format, through the intersect handler -----------------------------
    // SAFETY: DataRanges holds DataRangesCount static ranges.
    let first_range = unsafe { *capture.PinDescriptor.DataRanges };
    // SAFETY: all-zero bytes are a valid KS_DATAFORMAT_VIDEOINFOHEADER.
    let mut format: KS_DATAFORMAT_VIDEOINFOHEADER = unsafe { core::mem::zeroed() };
    // SAFETY: the driver's static descriptor and range, and a format-sized output.
    let result = unsafe {
        ksframe::ksrules::intersect(
            capture,
            0,
            first_range.cast_mut(),
            (&mut format as *mut KS_DATAFORMAT_VIDEOINFOHEADER).cast(),
            core::mem::size_of::<KS_DATAFORMAT_VIDEOINFOHEADER>() as u32,
        )
    };
    let (status, size) = match result {
        Ok(size) => (STATUS_SUCCESS, size),
        Err(status) => (status, 0),
    };
    say!(
        "intersect status={:#010x} size={} image={}",
        status as u32,
        size,
        format.VideoInfoHeader.bmiHeader.biSizeImage
    );
    check("intersect", status == STATUS_SUCCESS);

    // --- pin create -----------------------------------------------------------------------
    // SAFETY: all-zero KSPIN is valid.
    let mut pin: KSPIN = unsafe { core::mem::zeroed() };
    pin.Descriptor = capture;
    pin.Bag = (&BAG as *const _ as *mut c_void).cast();
    pin.Id = 0;
    pin.DataFlow = capture.PinDescriptor.DataFlow;
    pin.Communication = capture.PinDescriptor.Communication;
    pin.ConnectionFormat = (&mut format as *mut KS_DATAFORMAT_VIDEOINFOHEADER).cast();
    pin.DeviceState = KSSTATE_STOP;
    // SAFETY: the static pin dispatch.
    let dispatch = unsafe { &*capture.Dispatch };
    // SAFETY: a pin laid out per the ABI, no IRP needed by ksframe's Create.
    let created = dispatch.Create.map_or(STATUS_SUCCESS, |c| unsafe { c(&mut pin, core::ptr::null_mut()) });
    // SAFETY: the pin's descriptor (its own KsEdit copy after Create) and its framing.
    let edited = unsafe { pin.Descriptor.as_ref().and_then(|d| d.AllocatorFraming.as_ref()) }
        .map_or(0, |f| f.FramingItem[0].FramingRange.Range.MinFrameSize);
    say!(
        "pin_create status={:#010x} context={} own_descriptor={} descriptor_framing={}",
        created as u32,
        (!pin.Context.is_null()) as u32,
        (pin.Descriptor != capture as *const KSPIN_DESCRIPTOR_EX) as u32,
        edited
    );
    check("pin_create", NT_SUCCESS(created) && !pin.Context.is_null());
    let pin_ptr: *mut KSPIN = &mut pin;

    // --- properties -----------------------------------------------------------------------
    let mut out = [0u8; 256];
    // SAFETY (all property calls): a live pin whose automation table is the driver's.
    let (s, info) = unsafe {
        property(pin_ptr, KSPROPSETID_Connection, KSPROPERTY_CONNECTION_ALLOCATORFRAMING, 1, &mut out, 24)
    };
    let frames = u32_at(&out, 8);
    let frame_size = u32_at(&out, 12);
    let alignment = u32_at(&out, 16);
    say!(
        "prop framing status={:#010x} info={} frames={} frame_size={} alignment={:#x} pool_type={}",
        s as u32,
        info,
        frames,
        frame_size,
        alignment,
        u32_at(&out, 4)
    );
    check("framing", s == STATUS_SUCCESS && info == 24);
    let (s, info) = unsafe {
        property(pin_ptr, KSPROPSETID_Connection, KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX, 1, &mut out, 0)
    };
    say!("prop framing_ex_query status={:#010x} info={}", s as u32, info);
    check("framing_ex_query", s == STATUS_BUFFER_OVERFLOW && info == 112);
    let (s, info) = unsafe {
        property(pin_ptr, KSPROPSETID_Connection, KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX, 1, &mut out, 111)
    };
    say!("prop framing_ex_short status={:#010x} info={}", s as u32, info);
    check("framing_ex_short", s == STATUS_BUFFER_TOO_SMALL);
    let (s, info) = unsafe {
        property(pin_ptr, KSPROPSETID_Connection, KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX, 1, &mut out, 112)
    };
    say!(
        "prop framing_ex status={:#010x} info={} count={} item_frames={}",
        s as u32,
        info,
        u32_at(&out, 0),
        u32_at(&out, 24 + 44)
    );
    check("framing_ex", s == STATUS_SUCCESS && info == 112 && u32_at(&out, 0) == 1);
    let (s, info) =
        unsafe { property(pin_ptr, KSPROPSETID_Stream, KSPROPERTY_STREAM_ALLOCATOR, 1, &mut out, 8) };
    say!("prop stream_allocator status={:#010x} info={} handle={:#x}", s as u32, info, u64_at(&out, 0));
    check("stream_allocator", s == STATUS_SUCCESS && info == 8 && u64_at(&out, 0) == 0);
    let (s, info) = unsafe {
        property(
            pin_ptr,
            KSPROPSETID_Connection,
            KSPROPERTY_CONNECTION_ALLOCATORFRAMING,
            KSPROPERTY_TYPE_BASICSUPPORT,
            &mut out,
            4,
        )
    };
    say!("prop basicsupport status={:#010x} info={} access={:#x}", s as u32, info, u32_at(&out, 0));
    let (s, info) = unsafe { property(pin_ptr, KSPROPSETID_Connection, 99, 1, &mut out, 8) };
    say!("prop unknown_id status={:#010x} info={}", s as u32, info);
    let (s, info) = unsafe { property(pin_ptr, GUID::from_u128(0x0123_4567), 0, 1, &mut out, 8) };
    say!("prop unknown_set status={:#010x} info={}", s as u32, info);
    let (s, info) = unsafe {
        property(
            pin_ptr,
            KSPROPSETID_KsframeAllocator,
            KSPROPERTY_KSFRAME_ALLOCATOR_STATISTICS,
            1,
            &mut out,
            48,
        )
    };
    say!("prop stats_before status={:#010x} info={}", s as u32, info);

    // --- the allocator ----------------------------------------------------------------------
    // SAFETY: the static allocator dispatch.
    let Some(allocator) = (unsafe { dispatch.Allocator.as_ref() }) else {
        check("allocator", false);
        return;
    };
    let mut framing = KSALLOCATOR_FRAMING {
        OptionsFlags: 0,
        PoolType: NonPagedPoolNx,
        Frames: frames,
        FrameSize: frame_size,
        FileAlignment: alignment,
        Reserved: 0,
    };
    let mut context: PVOID = core::ptr::null_mut();
    // SAFETY: as KS calls InitializeAllocator.
    let s = unsafe { allocator.InitializeAllocator.unwrap()(pin_ptr, &mut framing, &mut context) };
    say!("alloc_init status={:#010x} context={}", s as u32, (!context.is_null()) as u32);
    check("alloc_init", s == STATUS_SUCCESS && !context.is_null());
    let mut held = [core::ptr::null_mut::<c_void>(); 16];
    let mut got = 0usize;
    let limit = (frames as usize + 2).min(held.len());
    while got < limit {
        // SAFETY: a live allocator context.
        let frame = unsafe { allocator.Allocate.unwrap()(context) };
        if frame.is_null() {
            break;
        }
        held[got] = frame;
        got += 1;
    }
    let mut distinct = 0;
    for i in 0..got {
        if !held[..i].contains(&held[i]) {
            distinct += 1;
        }
    }
    let aligned = held[..got].iter().all(|f| (*f as usize) & alignment as usize == 0);
    say!("alloc_exhaust got={} distinct={} frames={} aligned={}", got, distinct, frames, aligned as u32);
    check("alloc_exhaust", got == frames as usize && distinct == got && aligned);
    let (s, info) = unsafe {
        property(
            pin_ptr,
            KSPROPSETID_KsframeAllocator,
            KSPROPERTY_KSFRAME_ALLOCATOR_STATISTICS,
            1,
            &mut out,
            48,
        )
    };
    say!(
        "prop stats status={:#010x} info={} allocations={} frees={} failures={} rejected={} outstanding={} peak={}",
        s as u32,
        info,
        u64_at(&out, 0),
        u64_at(&out, 8),
        u64_at(&out, 16),
        u64_at(&out, 24),
        u32_at(&out, 32),
        u32_at(&out, 36)
    );
    let mut foreign = 0u64;
    // SAFETY: a stack address is not a frame: the driver must refuse it.
    unsafe { allocator.Free.unwrap()(context, (&mut foreign as *mut u64).cast()) };
    let (_, _) = unsafe {
        property(
            pin_ptr,
            KSPROPSETID_KsframeAllocator,
            KSPROPERTY_KSFRAME_ALLOCATOR_STATISTICS,
            1,
            &mut out,
            48,
        )
    };
    say!("alloc_foreign_free rejected={}", u64_at(&out, 24));
    check("alloc_foreign_free", u64_at(&out, 24) == 1);
    // Return all but one, delete with that one out, then return it.
    for frame in held[1..got].iter() {
        // SAFETY: frames of this allocator.
        unsafe { allocator.Free.unwrap()(context, *frame) };
    }
    let (_, _) = unsafe {
        property(
            pin_ptr,
            KSPROPSETID_KsframeAllocator,
            KSPROPERTY_KSFRAME_ALLOCATOR_STATISTICS,
            1,
            &mut out,
            48,
        )
    };
    let (allocations, frees) = (u64_at(&out, 0), u64_at(&out, 8));
    let (s, _) = unsafe {
        property(pin_ptr, KSPROPSETID_KsframeAllocator, KSPROPERTY_KSFRAME_ALLOCATOR_RESET, 2, &mut out, 0)
    };
    say!("prop stats_reset status={:#010x}", s as u32);
    // SAFETY: delete once, one frame still out.
    unsafe { allocator.DeleteAllocator.unwrap()(context) };
    say!("alloc_delete outstanding=1");
    if got > 0 {
        // SAFETY: the last frame of the deleted (still live) pool.
        unsafe { allocator.Free.unwrap()(context, held[0]) };
    }
    say!("alloc_balance allocations={} frees={}", allocations, frees + u64::from(got > 0));
    check("alloc_balance", allocations == frees + u64::from(got > 0));

    // --- close ------------------------------------------------------------------------------
    // SAFETY: the pin created above.
    let closed = dispatch.Close.map_or(STATUS_SUCCESS, |c| unsafe { c(pin_ptr, core::ptr::null_mut()) });
    let bag_items = free_bag();
    say!(
        "pin_close status={:#010x} context={} bag_items={}",
        closed as u32,
        (!pin.Context.is_null()) as u32,
        bag_items
    );
    check("pin_close", NT_SUCCESS(closed) && pin.Context.is_null());
}
