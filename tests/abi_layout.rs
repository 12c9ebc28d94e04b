//! Every `src/ks` type against mingw-w64's headers: size, alignment and each field's
//! offset, read from `tests/abi/ks_layout.txt` (regenerated from the headers by
//! `tests/abi/gen.sh`, and checked to be current by scripts/test-all.sh).
//!
//! The list below names every type and field of the table; a field missing on the Rust
//! side fails to compile, a wrong offset, size or alignment fails the test, and a table
//! line that no entry checks (a type or field added to the probe only) fails it too.

use ksframe::ks::*;
use std::collections::BTreeMap;
use std::mem::{align_of, offset_of, size_of};

/// One fact per line of the table: `T size S align A` or `T.path offset O`.
fn rust_facts() -> BTreeMap<String, String> {
    let mut facts = BTreeMap::new();
    macro_rules! layout {
        ($($t:ident { $($($f:ident).+),* $(,)? },)*) => {
            $(
                facts.insert(
                    stringify!($t).to_string(),
                    format!("size {} align {}", size_of::<$t>(), align_of::<$t>()),
                );
                $(
                    facts.insert(
                        format!("{}.{}", stringify!($t), [$(stringify!($f)),+].join(".")),
                        format!("offset {}", offset_of!($t, $($f).+)),
                    );
                )*
            )*
        };
    }
    layout! {
        GUID { Data1, Data2, Data3, Data4 },
        KDPC { Type, Importance, Number, DpcListEntry, DeferredRoutine, DeferredContext, SystemArgument1, SystemArgument2, DpcData },
        DISPATCHER_HEADER { Lock, SignalState, WaitListHead },
        KTIMER { Header, DueTime, TimerListEntry, Dpc, Processor, Period },
        KSCLOCK_FUNCTIONTABLE { GetTime, GetPhysicalTime, GetCorrelatedTime, GetCorrelatedPhysicalTime },
        KS_FRAME_INFO { ExtendedHeaderSize, dwFrameFlags, PictureNumber, DropCount, hDirectDraw, hSurfaceHandle, DirectDrawRect, Reserved1, Reserved2, Reserved3, Reserved4 },
        KSPROPERTY_DROPPEDFRAMES_CURRENT_S { Property, PictureNumber, DropCount, AverageFrameSize },
        IO_STACK_LOCATION { CompletionRoutine, Context, Control, DeviceObject, FileObject, Flags, MajorFunction, MinorFunction, Parameters.DeviceIoControl.InputBufferLength, Parameters.DeviceIoControl.IoControlCode, Parameters.DeviceIoControl.OutputBufferLength, Parameters.DeviceIoControl.Type3InputBuffer, Parameters.Others },
        IO_STATUS_BLOCK { Information, Status },
        IRP { AllocationFlags, ApcEnvironment, AssociatedIrp.IrpCount, AssociatedIrp.MasterIrp, AssociatedIrp.SystemBuffer, Cancel, CancelIrql, CancelRoutine, CurrentLocation, Flags, IoStatus, MdlAddress, Overlay.AllocationSize, Overlay.AsynchronousParameters, PendingReturned, RequestorMode, Size, StackCount, Tail.Apc, Tail.CompletionKey, Tail.Overlay.AuxiliaryBuffer, Tail.Overlay.CurrentStackLocation, Tail.Overlay.DriverContext, Tail.Overlay.ListEntry, Tail.Overlay.OriginalFileObject, Tail.Overlay.Thread, ThreadListEntry, Type, UserBuffer, UserEvent, UserIosb },
        KSALLOCATOR_DISPATCH { Allocate, DeleteAllocator, Free, InitializeAllocator },
        KSSTREAMALLOCATOR_FUNCTIONTABLE { AllocateFrame, FreeFrame },
        KSALLOCATOR_FRAMING { FileAlignment, FrameSize, Frames, OptionsFlags, PoolType, Reserved },
        KSALLOCATOR_FRAMING_EX { CountItems, FramingItem, OutputCompression, PinFlags, PinWeight },
        KSAUTOMATION_TABLE { EventItemSize, EventSets, EventSetsCount, MethodItemSize, MethodSets, MethodSetsCount, PropertyItemSize, PropertySets, PropertySetsCount },
        KSCLOCK_DISPATCH { CancelTimer, CorrelatedTime, Resolution, SetTimer },
        KSCOMPONENTID { Component, Manufacturer, Name, Product, Revision, Version },
        KSDATAFORMAT { Flags, FormatSize, MajorFormat, Reserved, SampleSize, Specifier, SubFormat },
        KSDEVICE { Bag, Context, Descriptor, DevicePowerState, FunctionalDeviceObject, NextDeviceObject, PhysicalDeviceObject, Started, SystemPowerState },
        KSDEVICE_DESCRIPTOR { Dispatch, FilterDescriptors, FilterDescriptorsCount, Version },
        KSDEVICE_DISPATCH { Add, CancelRemove, CancelStop, PostStart, QueryCapabilities, QueryInterface, QueryPower, QueryRemove, QueryStop, Remove, SetPower, Start, Stop, SurpriseRemoval },
        KSEVENT_ITEM { AddHandler, DataInput, EventId, ExtraEntryData, RemoveHandler, SupportHandler },
        KSEVENT_SET { EventItem, EventsCount, Set },
        KSFASTPROPERTY_ITEM { GetPropertyHandler, PropertyId, Reserved, SetPropertyHandler },
        KSFILTER { Bag, Context, Descriptor },
        KSFILTER_DESCRIPTOR { AutomationTable, Categories, CategoriesCount, ComponentId, Connections, ConnectionsCount, Dispatch, Flags, NodeDescriptorSize, NodeDescriptors, NodeDescriptorsCount, PinDescriptorSize, PinDescriptors, PinDescriptorsCount, ReferenceGuid, Version },
        KSFILTER_DISPATCH { Close, Create, Process, Reset },
        KSIDENTIFIER { Flags, Id, Set },
        KSMAPPING { Alignment, ByteCount, PhysicalAddress },
        KSMETHOD_ITEM { Flags, MethodHandler, MethodId, MinData, MinMethod, SupportHandler },
        KSMETHOD_SET { FastIoCount, FastIoTable, MethodItem, MethodsCount, Set },
        KSMULTIPLE_ITEM { Count, Size },
        KSNODE_DESCRIPTOR { AutomationTable, Name, Type },
        KSPIN { AttributeList, Bag, ClientState, Communication, ConnectionFormat, ConnectionInterface, ConnectionIsExternal, ConnectionMedium, ConnectionPriority, Context, DataFlow, Descriptor, DeviceState, Id, ResetState, StreamHeaderSize },
        KSPIN_DESCRIPTOR { Category, Communication, ConstrainedDataRanges, ConstrainedDataRangesCount, DataFlow, DataRanges, DataRangesCount, Interfaces, InterfacesCount, Mediums, MediumsCount, Name },
        KSPIN_DESCRIPTOR_EX { AllocatorFraming, AutomationTable, Dispatch, Flags, InstancesNecessary, InstancesPossible, IntersectHandler, PinDescriptor },
        KSPIN_DISPATCH { Allocator, Clock, Close, Connect, Create, Disconnect, Process, Reset, SetDataFormat, SetDeviceState },
        KSPRIORITY { PriorityClass, PrioritySubClass },
        KSPROPERTY_DESCRIPTION { AccessFlags, DescriptionSize, MembersListCount, PropTypeSet, Reserved },
        KSPROPERTY_ITEM { GetPropertyHandler, MinData, MinProperty, PropertyId, Relations, RelationsCount, SerializedSize, SetPropertyHandler, SupportHandler, Values },
        KSPROPERTY_MEMBERSHEADER { Flags, MembersCount, MembersFlags, MembersSize },
        KSPROPERTY_MEMBERSLIST { Members, MembersHeader },
        KSPROPERTY_SET { FastIoCount, FastIoTable, PropertiesCount, PropertyItem, Set },
        KSPROPERTY_VALUES { MembersList, MembersListCount, PropTypeSet },
        KSP_PIN { PinId, Property, Reserved },
        KSSTREAM_HEADER { Data, DataUsed, Duration, FrameExtent, OptionsFlags, PresentationTime, Reserved, Size, TypeSpecificFlags },
        KSSTREAM_POINTER { Context, Offset, OffsetIn, OffsetOut, Pin, StreamHeader },
        KSSTREAM_POINTER_OFFSET { Count, Data, Remaining },
        KSTIME { Denominator, Numerator, Time },
        KSTOPOLOGY_CONNECTION { FromNode, FromNodePin, ToNode, ToNodePin },
        KS_BITMAPINFOHEADER { biBitCount, biClrImportant, biClrUsed, biCompression, biHeight, biPlanes, biSize, biSizeImage, biWidth, biXPelsPerMeter, biYPelsPerMeter },
        KS_COMPRESSION { RatioConstantMargin, RatioDenominator, RatioNumerator },
        KS_DATAFORMAT_VIDEOINFOHEADER { DataFormat, VideoInfoHeader },
        KS_DATARANGE_VIDEO { ConfigCaps, DataRange, MemoryAllocationFlags, StreamDescriptionFlags, VideoInfoHeader, bFixedSizeSamples, bTemporalCompression },
        KS_FRAMING_ITEM { BusFlags, BusType, FileAlignment, Flags, Frames, FramingRange, MemoryFlags, MemoryType, MemoryTypeWeight, PhysicalRange },
        KS_FRAMING_RANGE { MaxFrameSize, MinFrameSize, Stepping },
        KS_FRAMING_RANGE_WEIGHTED { InPlaceWeight, NotInPlaceWeight, Range },
        KS_VIDEOINFOHEADER { AvgTimePerFrame, bmiHeader, dwBitErrorRate, dwBitRate, rcSource, rcTarget },
        KS_VIDEO_STREAM_CONFIG_CAPS { CropAlignX, CropAlignY, CropGranularityX, CropGranularityY, InputSize, MaxBitsPerSecond, MaxCroppingSize, MaxFrameInterval, MaxOutputSize, MinBitsPerSecond, MinCroppingSize, MinFrameInterval, MinOutputSize, OutputGranularityX, OutputGranularityY, ShrinkTapsX, ShrinkTapsY, StretchTapsX, StretchTapsY, VideoStandard, guid },
        LIST_ENTRY { Blink, Flink },
        RECT { bottom, left, right, top },
        SIZE { cx, cy },
        UNICODE_STRING { Buffer, Length, MaximumLength },
        DRIVER_OBJECT { DeviceObject, DriverName, DriverUnload, MajorFunction },
    }
    // The WDK's KSDEVICE_DESCRIPTOR has `Flags` after `Version`; mingw-w64's does not.
    // Same size (checked above); the field's place is checked here, by hand.
    assert_eq!(offset_of!(KSDEVICE_DESCRIPTOR, Flags), 28);
    facts
}

/// Compares a table with the Rust facts; returns every discrepancy.
fn compare(table: &str, rust: &BTreeMap<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for line in table.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (name, value) = line.split_once(' ').unwrap_or((line, ""));
        seen.insert(name.to_string());
        match rust.get(name) {
            None => problems.push(format!("{name}: in the C table, not checked on the Rust side")),
            Some(v) if v != value => problems.push(format!("{name}: C says '{value}', Rust has '{v}'")),
            Some(_) => {}
        }
    }
    for name in rust.keys().filter(|k| !seen.contains(*k)) {
        problems.push(format!("{name}: checked on the Rust side, absent from the C table"));
    }
    problems
}

const TABLE: &str = include_str!("abi/ks_layout.txt");

#[test]
fn every_ks_type_matches_mingw_headers() {
    let rust = rust_facts();
    let problems = compare(TABLE, &rust);
    assert!(problems.is_empty(), "{} ABI mismatches:\n{}", problems.len(), problems.join("\n"));
    let lines = TABLE.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(rust.len(), lines);
    assert!(lines > 400, "the table has only {lines} facts");
}

#[test]
fn the_comparison_reports_each_kind_of_discrepancy() {
    let rust = rust_facts();
    let wrong_offset =
        TABLE.replace("KSPIN_DISPATCH.Allocator offset 72", "KSPIN_DISPATCH.Allocator offset 64");
    let wrong_size =
        TABLE.replace("KSALLOCATOR_FRAMING_EX size 112 align 4", "KSALLOCATOR_FRAMING_EX size 24 align 4");
    let extra_line = format!("{TABLE}KSPIN.Unheard offset 8\n");
    let missing_line = TABLE.replace("KSPIN.ClientState offset 128\n", "");
    for (what, table, expected) in [
        ("offset", wrong_offset, "KSPIN_DISPATCH.Allocator: C says 'offset 64', Rust has 'offset 72'"),
        ("size", wrong_size, "KSALLOCATOR_FRAMING_EX: C says 'size 24 align 4'"),
        ("extra", extra_line, "KSPIN.Unheard: in the C table, not checked"),
        ("missing", missing_line, "KSPIN.ClientState: checked on the Rust side, absent"),
    ] {
        assert_ne!(table, TABLE, "{what}: the edit did not apply");
        let problems = compare(&table, &rust);
        assert!(problems.iter().any(|p| p.starts_with(expected)), "{what}: {problems:?}");
        assert_eq!(problems.len(), 1, "{what}: {problems:?}");
    }
}
