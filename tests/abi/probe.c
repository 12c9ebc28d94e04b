/*
 * The KS ABI probe: sizes, alignments and field offsets of every type src/ks declares,
 * as mingw-w64's headers lay them out for x86_64 Windows.
 *
 * Nothing here runs: compiled with `x86_64-w64-mingw32-gcc -S`, each asm statement
 * below prints one "#PROBE <fact>" line into the assembly (the Linux kernel's
 * asm-offsets technique), and gen.sh collects them into ks_layout.txt.
 */
#include <ntddk.h>
#include <windef.h>
#include <tchar.h> /* ksmedia.h uses TCHAR */
#include <ks.h>
#include <ksmedia.h>
#include <stddef.h>

#define SIZE(T) \
    __asm__ volatile("\n#PROBE " #T " size %c0 align %c1" ::"i"(sizeof(T)), "i"(_Alignof(T)))
#define OFF(T, F) \
    __asm__ volatile("\n#PROBE " #T "." #F " offset %c0" ::"i"(offsetof(T, F)))

void probe(void) {
    SIZE(GUID);
    OFF(GUID, Data1); OFF(GUID, Data2); OFF(GUID, Data3); OFF(GUID, Data4);
    SIZE(RECT);
    OFF(RECT, left); OFF(RECT, top); OFF(RECT, right); OFF(RECT, bottom);
    SIZE(SIZE);
    OFF(SIZE, cx); OFF(SIZE, cy);

    /* wdm.h */
    SIZE(KDPC);
    OFF(KDPC, Type); OFF(KDPC, Importance); OFF(KDPC, Number); OFF(KDPC, DpcListEntry); OFF(KDPC, DeferredRoutine);
    OFF(KDPC, DeferredContext); OFF(KDPC, SystemArgument1); OFF(KDPC, SystemArgument2); OFF(KDPC, DpcData);
    SIZE(DISPATCHER_HEADER);
    OFF(DISPATCHER_HEADER, Lock); OFF(DISPATCHER_HEADER, SignalState); OFF(DISPATCHER_HEADER, WaitListHead);
    SIZE(KTIMER);
    OFF(KTIMER, Header); OFF(KTIMER, DueTime); OFF(KTIMER, TimerListEntry); OFF(KTIMER, Dpc);
    OFF(KTIMER, Processor); OFF(KTIMER, Period);
    SIZE(LIST_ENTRY);
    OFF(LIST_ENTRY, Flink); OFF(LIST_ENTRY, Blink);
    SIZE(IO_STATUS_BLOCK);
    OFF(IO_STATUS_BLOCK, Status); OFF(IO_STATUS_BLOCK, Information);
    SIZE(UNICODE_STRING);
    OFF(UNICODE_STRING, Length); OFF(UNICODE_STRING, MaximumLength); OFF(UNICODE_STRING, Buffer);
    SIZE(DRIVER_OBJECT);
    OFF(DRIVER_OBJECT, DeviceObject); OFF(DRIVER_OBJECT, DriverName); OFF(DRIVER_OBJECT, DriverUnload);
    OFF(DRIVER_OBJECT, MajorFunction);
    SIZE(IRP);
    OFF(IRP, Type); OFF(IRP, Size); OFF(IRP, MdlAddress); OFF(IRP, Flags);
    OFF(IRP, AssociatedIrp.MasterIrp); OFF(IRP, AssociatedIrp.IrpCount); OFF(IRP, AssociatedIrp.SystemBuffer);
    OFF(IRP, ThreadListEntry); OFF(IRP, IoStatus); OFF(IRP, RequestorMode); OFF(IRP, PendingReturned);
    OFF(IRP, StackCount); OFF(IRP, CurrentLocation); OFF(IRP, Cancel); OFF(IRP, CancelIrql);
    OFF(IRP, ApcEnvironment); OFF(IRP, AllocationFlags); OFF(IRP, UserIosb); OFF(IRP, UserEvent);
    OFF(IRP, Overlay.AsynchronousParameters); OFF(IRP, Overlay.AllocationSize);
    OFF(IRP, CancelRoutine); OFF(IRP, UserBuffer);
    OFF(IRP, Tail.Overlay.DriverContext); OFF(IRP, Tail.Overlay.Thread); OFF(IRP, Tail.Overlay.AuxiliaryBuffer);
    OFF(IRP, Tail.Overlay.ListEntry); OFF(IRP, Tail.Overlay.CurrentStackLocation);
    OFF(IRP, Tail.Overlay.OriginalFileObject); OFF(IRP, Tail.Apc); OFF(IRP, Tail.CompletionKey);
    SIZE(IO_STACK_LOCATION);
    OFF(IO_STACK_LOCATION, MajorFunction); OFF(IO_STACK_LOCATION, MinorFunction);
    OFF(IO_STACK_LOCATION, Flags); OFF(IO_STACK_LOCATION, Control);
    OFF(IO_STACK_LOCATION, Parameters.DeviceIoControl.OutputBufferLength);
    OFF(IO_STACK_LOCATION, Parameters.DeviceIoControl.InputBufferLength);
    OFF(IO_STACK_LOCATION, Parameters.DeviceIoControl.IoControlCode);
    OFF(IO_STACK_LOCATION, Parameters.DeviceIoControl.Type3InputBuffer);
    OFF(IO_STACK_LOCATION, Parameters.Others);
    OFF(IO_STACK_LOCATION, DeviceObject); OFF(IO_STACK_LOCATION, FileObject);
    OFF(IO_STACK_LOCATION, CompletionRoutine); OFF(IO_STACK_LOCATION, Context);

    /* ks.h: identifiers and automation */
    SIZE(KSIDENTIFIER);
    OFF(KSIDENTIFIER, Set); OFF(KSIDENTIFIER, Id); OFF(KSIDENTIFIER, Flags);
    SIZE(KSP_PIN);
    OFF(KSP_PIN, Property); OFF(KSP_PIN, PinId); OFF(KSP_PIN, Reserved);
    SIZE(KSMULTIPLE_ITEM);
    OFF(KSMULTIPLE_ITEM, Size); OFF(KSMULTIPLE_ITEM, Count);
    SIZE(KSPROPERTY_MEMBERSHEADER);
    OFF(KSPROPERTY_MEMBERSHEADER, MembersFlags); OFF(KSPROPERTY_MEMBERSHEADER, MembersSize);
    OFF(KSPROPERTY_MEMBERSHEADER, MembersCount); OFF(KSPROPERTY_MEMBERSHEADER, Flags);
    SIZE(KSPROPERTY_MEMBERSLIST);
    OFF(KSPROPERTY_MEMBERSLIST, MembersHeader); OFF(KSPROPERTY_MEMBERSLIST, Members);
    SIZE(KSPROPERTY_VALUES);
    OFF(KSPROPERTY_VALUES, PropTypeSet); OFF(KSPROPERTY_VALUES, MembersListCount); OFF(KSPROPERTY_VALUES, MembersList);
    SIZE(KSPROPERTY_DESCRIPTION);
    OFF(KSPROPERTY_DESCRIPTION, AccessFlags); OFF(KSPROPERTY_DESCRIPTION, DescriptionSize);
    OFF(KSPROPERTY_DESCRIPTION, PropTypeSet); OFF(KSPROPERTY_DESCRIPTION, MembersListCount);
    OFF(KSPROPERTY_DESCRIPTION, Reserved);
    SIZE(KSPROPERTY_ITEM);
    OFF(KSPROPERTY_ITEM, PropertyId); OFF(KSPROPERTY_ITEM, GetPropertyHandler); OFF(KSPROPERTY_ITEM, MinProperty);
    OFF(KSPROPERTY_ITEM, MinData); OFF(KSPROPERTY_ITEM, SetPropertyHandler); OFF(KSPROPERTY_ITEM, Values);
    OFF(KSPROPERTY_ITEM, RelationsCount); OFF(KSPROPERTY_ITEM, Relations); OFF(KSPROPERTY_ITEM, SupportHandler);
    OFF(KSPROPERTY_ITEM, SerializedSize);
    SIZE(KSFASTPROPERTY_ITEM);
    OFF(KSFASTPROPERTY_ITEM, PropertyId); OFF(KSFASTPROPERTY_ITEM, GetPropertyHandler);
    OFF(KSFASTPROPERTY_ITEM, SetPropertyHandler); OFF(KSFASTPROPERTY_ITEM, Reserved);
    SIZE(KSPROPERTY_SET);
    OFF(KSPROPERTY_SET, Set); OFF(KSPROPERTY_SET, PropertiesCount); OFF(KSPROPERTY_SET, PropertyItem);
    OFF(KSPROPERTY_SET, FastIoCount); OFF(KSPROPERTY_SET, FastIoTable);
    SIZE(KSMETHOD_ITEM);
    OFF(KSMETHOD_ITEM, MethodId); OFF(KSMETHOD_ITEM, MethodHandler); OFF(KSMETHOD_ITEM, MinMethod);
    OFF(KSMETHOD_ITEM, MinData); OFF(KSMETHOD_ITEM, SupportHandler); OFF(KSMETHOD_ITEM, Flags);
    SIZE(KSMETHOD_SET);
    OFF(KSMETHOD_SET, Set); OFF(KSMETHOD_SET, MethodsCount); OFF(KSMETHOD_SET, MethodItem);
    OFF(KSMETHOD_SET, FastIoCount); OFF(KSMETHOD_SET, FastIoTable);
    SIZE(KSEVENT_ITEM);
    OFF(KSEVENT_ITEM, EventId); OFF(KSEVENT_ITEM, DataInput); OFF(KSEVENT_ITEM, ExtraEntryData);
    OFF(KSEVENT_ITEM, AddHandler); OFF(KSEVENT_ITEM, RemoveHandler); OFF(KSEVENT_ITEM, SupportHandler);
    SIZE(KSEVENT_SET);
    OFF(KSEVENT_SET, Set); OFF(KSEVENT_SET, EventsCount); OFF(KSEVENT_SET, EventItem);
    SIZE(KSAUTOMATION_TABLE);
    OFF(KSAUTOMATION_TABLE, PropertySetsCount); OFF(KSAUTOMATION_TABLE, PropertyItemSize);
    OFF(KSAUTOMATION_TABLE, PropertySets); OFF(KSAUTOMATION_TABLE, MethodSetsCount);
    OFF(KSAUTOMATION_TABLE, MethodItemSize); OFF(KSAUTOMATION_TABLE, MethodSets);
    OFF(KSAUTOMATION_TABLE, EventSetsCount); OFF(KSAUTOMATION_TABLE, EventItemSize); OFF(KSAUTOMATION_TABLE, EventSets);

    /* ks.h: formats, framing, streaming */
    SIZE(KSDATAFORMAT);
    OFF(KSDATAFORMAT, FormatSize); OFF(KSDATAFORMAT, Flags); OFF(KSDATAFORMAT, SampleSize);
    OFF(KSDATAFORMAT, Reserved); OFF(KSDATAFORMAT, MajorFormat); OFF(KSDATAFORMAT, SubFormat);
    OFF(KSDATAFORMAT, Specifier);
    SIZE(KSALLOCATOR_FRAMING);
    OFF(KSALLOCATOR_FRAMING, OptionsFlags); OFF(KSALLOCATOR_FRAMING, PoolType); OFF(KSALLOCATOR_FRAMING, Frames);
    OFF(KSALLOCATOR_FRAMING, FrameSize); OFF(KSALLOCATOR_FRAMING, FileAlignment); OFF(KSALLOCATOR_FRAMING, Reserved);
    SIZE(KS_FRAMING_RANGE);
    OFF(KS_FRAMING_RANGE, MinFrameSize); OFF(KS_FRAMING_RANGE, MaxFrameSize); OFF(KS_FRAMING_RANGE, Stepping);
    SIZE(KS_FRAMING_RANGE_WEIGHTED);
    OFF(KS_FRAMING_RANGE_WEIGHTED, Range); OFF(KS_FRAMING_RANGE_WEIGHTED, InPlaceWeight);
    OFF(KS_FRAMING_RANGE_WEIGHTED, NotInPlaceWeight);
    SIZE(KS_COMPRESSION);
    OFF(KS_COMPRESSION, RatioNumerator); OFF(KS_COMPRESSION, RatioDenominator); OFF(KS_COMPRESSION, RatioConstantMargin);
    SIZE(KS_FRAMING_ITEM);
    OFF(KS_FRAMING_ITEM, MemoryType); OFF(KS_FRAMING_ITEM, BusType); OFF(KS_FRAMING_ITEM, MemoryFlags);
    OFF(KS_FRAMING_ITEM, BusFlags); OFF(KS_FRAMING_ITEM, Flags); OFF(KS_FRAMING_ITEM, Frames);
    OFF(KS_FRAMING_ITEM, FileAlignment); OFF(KS_FRAMING_ITEM, MemoryTypeWeight); OFF(KS_FRAMING_ITEM, PhysicalRange);
    OFF(KS_FRAMING_ITEM, FramingRange);
    SIZE(KSALLOCATOR_FRAMING_EX);
    OFF(KSALLOCATOR_FRAMING_EX, CountItems); OFF(KSALLOCATOR_FRAMING_EX, PinFlags);
    OFF(KSALLOCATOR_FRAMING_EX, OutputCompression); OFF(KSALLOCATOR_FRAMING_EX, PinWeight);
    OFF(KSALLOCATOR_FRAMING_EX, FramingItem);
    SIZE(KSTIME);
    OFF(KSTIME, Time); OFF(KSTIME, Numerator); OFF(KSTIME, Denominator);
    SIZE(KSSTREAM_HEADER);
    OFF(KSSTREAM_HEADER, Size); OFF(KSSTREAM_HEADER, TypeSpecificFlags); OFF(KSSTREAM_HEADER, PresentationTime);
    OFF(KSSTREAM_HEADER, Duration); OFF(KSSTREAM_HEADER, FrameExtent); OFF(KSSTREAM_HEADER, DataUsed);
    OFF(KSSTREAM_HEADER, Data); OFF(KSSTREAM_HEADER, OptionsFlags); OFF(KSSTREAM_HEADER, Reserved);
    SIZE(KSPRIORITY);
    OFF(KSPRIORITY, PriorityClass); OFF(KSPRIORITY, PrioritySubClass);

    /* ks.h: AVStream */
    SIZE(KSSTREAMALLOCATOR_FUNCTIONTABLE);
    OFF(KSSTREAMALLOCATOR_FUNCTIONTABLE, AllocateFrame); OFF(KSSTREAMALLOCATOR_FUNCTIONTABLE, FreeFrame);
    SIZE(KSALLOCATOR_DISPATCH);
    OFF(KSALLOCATOR_DISPATCH, InitializeAllocator); OFF(KSALLOCATOR_DISPATCH, DeleteAllocator);
    OFF(KSALLOCATOR_DISPATCH, Allocate); OFF(KSALLOCATOR_DISPATCH, Free);
    SIZE(KSCLOCK_FUNCTIONTABLE);
    OFF(KSCLOCK_FUNCTIONTABLE, GetTime); OFF(KSCLOCK_FUNCTIONTABLE, GetPhysicalTime);
    OFF(KSCLOCK_FUNCTIONTABLE, GetCorrelatedTime); OFF(KSCLOCK_FUNCTIONTABLE, GetCorrelatedPhysicalTime);
    SIZE(KSCLOCK_DISPATCH);
    OFF(KSCLOCK_DISPATCH, SetTimer); OFF(KSCLOCK_DISPATCH, CancelTimer); OFF(KSCLOCK_DISPATCH, CorrelatedTime);
    OFF(KSCLOCK_DISPATCH, Resolution);
    SIZE(KSPIN_DISPATCH);
    OFF(KSPIN_DISPATCH, Create); OFF(KSPIN_DISPATCH, Close); OFF(KSPIN_DISPATCH, Process); OFF(KSPIN_DISPATCH, Reset);
    OFF(KSPIN_DISPATCH, SetDataFormat); OFF(KSPIN_DISPATCH, SetDeviceState); OFF(KSPIN_DISPATCH, Connect);
    OFF(KSPIN_DISPATCH, Disconnect); OFF(KSPIN_DISPATCH, Clock); OFF(KSPIN_DISPATCH, Allocator);
    SIZE(KSFILTER_DISPATCH);
    OFF(KSFILTER_DISPATCH, Create); OFF(KSFILTER_DISPATCH, Close); OFF(KSFILTER_DISPATCH, Process);
    OFF(KSFILTER_DISPATCH, Reset);
    SIZE(KSDEVICE_DISPATCH);
    OFF(KSDEVICE_DISPATCH, Add); OFF(KSDEVICE_DISPATCH, Start); OFF(KSDEVICE_DISPATCH, PostStart);
    OFF(KSDEVICE_DISPATCH, QueryStop); OFF(KSDEVICE_DISPATCH, CancelStop); OFF(KSDEVICE_DISPATCH, Stop);
    OFF(KSDEVICE_DISPATCH, QueryRemove); OFF(KSDEVICE_DISPATCH, CancelRemove); OFF(KSDEVICE_DISPATCH, Remove);
    OFF(KSDEVICE_DISPATCH, QueryCapabilities); OFF(KSDEVICE_DISPATCH, SurpriseRemoval);
    OFF(KSDEVICE_DISPATCH, QueryPower); OFF(KSDEVICE_DISPATCH, SetPower); OFF(KSDEVICE_DISPATCH, QueryInterface);
    SIZE(KSPIN_DESCRIPTOR);
    OFF(KSPIN_DESCRIPTOR, InterfacesCount); OFF(KSPIN_DESCRIPTOR, Interfaces); OFF(KSPIN_DESCRIPTOR, MediumsCount);
    OFF(KSPIN_DESCRIPTOR, Mediums); OFF(KSPIN_DESCRIPTOR, DataRangesCount); OFF(KSPIN_DESCRIPTOR, DataRanges);
    OFF(KSPIN_DESCRIPTOR, DataFlow); OFF(KSPIN_DESCRIPTOR, Communication); OFF(KSPIN_DESCRIPTOR, Category);
    OFF(KSPIN_DESCRIPTOR, Name); OFF(KSPIN_DESCRIPTOR, ConstrainedDataRangesCount);
    OFF(KSPIN_DESCRIPTOR, ConstrainedDataRanges);
    SIZE(KSPIN_DESCRIPTOR_EX);
    OFF(KSPIN_DESCRIPTOR_EX, Dispatch); OFF(KSPIN_DESCRIPTOR_EX, AutomationTable);
    OFF(KSPIN_DESCRIPTOR_EX, PinDescriptor); OFF(KSPIN_DESCRIPTOR_EX, Flags);
    OFF(KSPIN_DESCRIPTOR_EX, InstancesPossible); OFF(KSPIN_DESCRIPTOR_EX, InstancesNecessary);
    OFF(KSPIN_DESCRIPTOR_EX, AllocatorFraming); OFF(KSPIN_DESCRIPTOR_EX, IntersectHandler);
    SIZE(KSNODE_DESCRIPTOR);
    OFF(KSNODE_DESCRIPTOR, AutomationTable); OFF(KSNODE_DESCRIPTOR, Type); OFF(KSNODE_DESCRIPTOR, Name);
    SIZE(KSTOPOLOGY_CONNECTION);
    OFF(KSTOPOLOGY_CONNECTION, FromNode); OFF(KSTOPOLOGY_CONNECTION, FromNodePin);
    OFF(KSTOPOLOGY_CONNECTION, ToNode); OFF(KSTOPOLOGY_CONNECTION, ToNodePin);
    SIZE(KSCOMPONENTID);
    OFF(KSCOMPONENTID, Manufacturer); OFF(KSCOMPONENTID, Product); OFF(KSCOMPONENTID, Component);
    OFF(KSCOMPONENTID, Name); OFF(KSCOMPONENTID, Version); OFF(KSCOMPONENTID, Revision);
    SIZE(KSFILTER_DESCRIPTOR);
    OFF(KSFILTER_DESCRIPTOR, Dispatch); OFF(KSFILTER_DESCRIPTOR, AutomationTable); OFF(KSFILTER_DESCRIPTOR, Version);
    OFF(KSFILTER_DESCRIPTOR, Flags); OFF(KSFILTER_DESCRIPTOR, ReferenceGuid);
    OFF(KSFILTER_DESCRIPTOR, PinDescriptorsCount); OFF(KSFILTER_DESCRIPTOR, PinDescriptorSize);
    OFF(KSFILTER_DESCRIPTOR, PinDescriptors); OFF(KSFILTER_DESCRIPTOR, CategoriesCount);
    OFF(KSFILTER_DESCRIPTOR, Categories); OFF(KSFILTER_DESCRIPTOR, NodeDescriptorsCount);
    OFF(KSFILTER_DESCRIPTOR, NodeDescriptorSize); OFF(KSFILTER_DESCRIPTOR, NodeDescriptors);
    OFF(KSFILTER_DESCRIPTOR, ConnectionsCount); OFF(KSFILTER_DESCRIPTOR, Connections);
    OFF(KSFILTER_DESCRIPTOR, ComponentId);
    SIZE(KSDEVICE_DESCRIPTOR);
    OFF(KSDEVICE_DESCRIPTOR, Dispatch); OFF(KSDEVICE_DESCRIPTOR, FilterDescriptorsCount);
    OFF(KSDEVICE_DESCRIPTOR, FilterDescriptors); OFF(KSDEVICE_DESCRIPTOR, Version);
    SIZE(KSDEVICE);
    OFF(KSDEVICE, Descriptor); OFF(KSDEVICE, Bag); OFF(KSDEVICE, Context); OFF(KSDEVICE, FunctionalDeviceObject);
    OFF(KSDEVICE, PhysicalDeviceObject); OFF(KSDEVICE, NextDeviceObject); OFF(KSDEVICE, Started);
    OFF(KSDEVICE, SystemPowerState); OFF(KSDEVICE, DevicePowerState);
    SIZE(KSFILTER);
    OFF(KSFILTER, Descriptor); OFF(KSFILTER, Bag); OFF(KSFILTER, Context);
    SIZE(KSPIN);
    OFF(KSPIN, Descriptor); OFF(KSPIN, Bag); OFF(KSPIN, Context); OFF(KSPIN, Id); OFF(KSPIN, Communication);
    OFF(KSPIN, ConnectionIsExternal); OFF(KSPIN, ConnectionInterface); OFF(KSPIN, ConnectionMedium);
    OFF(KSPIN, ConnectionPriority); OFF(KSPIN, ConnectionFormat); OFF(KSPIN, AttributeList);
    OFF(KSPIN, StreamHeaderSize); OFF(KSPIN, DataFlow); OFF(KSPIN, DeviceState); OFF(KSPIN, ResetState);
    OFF(KSPIN, ClientState);
    SIZE(KSMAPPING);
    OFF(KSMAPPING, PhysicalAddress); OFF(KSMAPPING, ByteCount); OFF(KSMAPPING, Alignment);
    SIZE(KSSTREAM_POINTER_OFFSET);
    OFF(KSSTREAM_POINTER_OFFSET, Data); OFF(KSSTREAM_POINTER_OFFSET, Count); OFF(KSSTREAM_POINTER_OFFSET, Remaining);
    SIZE(KSSTREAM_POINTER);
    OFF(KSSTREAM_POINTER, Context); OFF(KSSTREAM_POINTER, Pin); OFF(KSSTREAM_POINTER, StreamHeader);
    OFF(KSSTREAM_POINTER, Offset); OFF(KSSTREAM_POINTER, OffsetIn); OFF(KSSTREAM_POINTER, OffsetOut);

    /* ksmedia.h: video */
    SIZE(KS_FRAME_INFO);
    OFF(KS_FRAME_INFO, ExtendedHeaderSize); OFF(KS_FRAME_INFO, dwFrameFlags); OFF(KS_FRAME_INFO, PictureNumber);
    OFF(KS_FRAME_INFO, DropCount); OFF(KS_FRAME_INFO, hDirectDraw); OFF(KS_FRAME_INFO, hSurfaceHandle);
    OFF(KS_FRAME_INFO, DirectDrawRect); OFF(KS_FRAME_INFO, Reserved1); OFF(KS_FRAME_INFO, Reserved2);
    OFF(KS_FRAME_INFO, Reserved3); OFF(KS_FRAME_INFO, Reserved4);
    SIZE(KSPROPERTY_DROPPEDFRAMES_CURRENT_S);
    OFF(KSPROPERTY_DROPPEDFRAMES_CURRENT_S, Property); OFF(KSPROPERTY_DROPPEDFRAMES_CURRENT_S, PictureNumber);
    OFF(KSPROPERTY_DROPPEDFRAMES_CURRENT_S, DropCount); OFF(KSPROPERTY_DROPPEDFRAMES_CURRENT_S, AverageFrameSize);
    SIZE(KS_BITMAPINFOHEADER);
    OFF(KS_BITMAPINFOHEADER, biSize); OFF(KS_BITMAPINFOHEADER, biWidth); OFF(KS_BITMAPINFOHEADER, biHeight);
    OFF(KS_BITMAPINFOHEADER, biPlanes); OFF(KS_BITMAPINFOHEADER, biBitCount); OFF(KS_BITMAPINFOHEADER, biCompression);
    OFF(KS_BITMAPINFOHEADER, biSizeImage); OFF(KS_BITMAPINFOHEADER, biXPelsPerMeter);
    OFF(KS_BITMAPINFOHEADER, biYPelsPerMeter); OFF(KS_BITMAPINFOHEADER, biClrUsed);
    OFF(KS_BITMAPINFOHEADER, biClrImportant);
    SIZE(KS_VIDEOINFOHEADER);
    OFF(KS_VIDEOINFOHEADER, rcSource); OFF(KS_VIDEOINFOHEADER, rcTarget); OFF(KS_VIDEOINFOHEADER, dwBitRate);
    OFF(KS_VIDEOINFOHEADER, dwBitErrorRate); OFF(KS_VIDEOINFOHEADER, AvgTimePerFrame);
    OFF(KS_VIDEOINFOHEADER, bmiHeader);
    SIZE(KS_VIDEO_STREAM_CONFIG_CAPS);
    OFF(KS_VIDEO_STREAM_CONFIG_CAPS, guid); OFF(KS_VIDEO_STREAM_CONFIG_CAPS, VideoStandard);
    OFF(KS_VIDEO_STREAM_CONFIG_CAPS, InputSize); OFF(KS_VIDEO_STREAM_CONFIG_CAPS, MinCroppingSize);
    OFF(KS_VIDEO_STREAM_CONFIG_CAPS, MaxCroppingSize); OFF(KS_VIDEO_STREAM_CONFIG_CAPS, CropGranularityX);
    OFF(KS_VIDEO_STREAM_CONFIG_CAPS, CropGranularityY); OFF(KS_VIDEO_STREAM_CONFIG_CAPS, CropAlignX);
    OFF(KS_VIDEO_STREAM_CONFIG_CAPS, CropAlignY); OFF(KS_VIDEO_STREAM_CONFIG_CAPS, MinOutputSize);
    OFF(KS_VIDEO_STREAM_CONFIG_CAPS, MaxOutputSize); OFF(KS_VIDEO_STREAM_CONFIG_CAPS, OutputGranularityX);
    OFF(KS_VIDEO_STREAM_CONFIG_CAPS, OutputGranularityY); OFF(KS_VIDEO_STREAM_CONFIG_CAPS, StretchTapsX);
    OFF(KS_VIDEO_STREAM_CONFIG_CAPS, StretchTapsY); OFF(KS_VIDEO_STREAM_CONFIG_CAPS, ShrinkTapsX);
    OFF(KS_VIDEO_STREAM_CONFIG_CAPS, ShrinkTapsY); OFF(KS_VIDEO_STREAM_CONFIG_CAPS, MinFrameInterval);
    OFF(KS_VIDEO_STREAM_CONFIG_CAPS, MaxFrameInterval); OFF(KS_VIDEO_STREAM_CONFIG_CAPS, MinBitsPerSecond);
    OFF(KS_VIDEO_STREAM_CONFIG_CAPS, MaxBitsPerSecond);
    SIZE(KS_DATARANGE_VIDEO);
    OFF(KS_DATARANGE_VIDEO, DataRange); OFF(KS_DATARANGE_VIDEO, bFixedSizeSamples);
    OFF(KS_DATARANGE_VIDEO, bTemporalCompression); OFF(KS_DATARANGE_VIDEO, StreamDescriptionFlags);
    OFF(KS_DATARANGE_VIDEO, MemoryAllocationFlags); OFF(KS_DATARANGE_VIDEO, ConfigCaps);
    OFF(KS_DATARANGE_VIDEO, VideoInfoHeader);
    SIZE(KS_DATAFORMAT_VIDEOINFOHEADER);
    OFF(KS_DATAFORMAT_VIDEOINFOHEADER, DataFormat); OFF(KS_DATAFORMAT_VIDEOINFOHEADER, VideoInfoHeader);
}
