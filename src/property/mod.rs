//! The pins' property sets: a declarative table turned into the `KSPROPERTY_ITEM` /
//! `KSPROPERTY_SET` / `KSAUTOMATION_TABLE` statics AVStream reads, and their handlers.
//!
//! # Adding a property
//!
//! 1. Write a handler `unsafe extern "system" fn(*mut IRP, *mut KSIDENTIFIER, PVOID) ->
//!    NTSTATUS` (see [`handlers`]; most start with [`handlers::context`]).
//! 2. Add one [`Property`] line to the set's table below (`CONNECTION` or `STATISTICS`),
//!    naming the id, the Get and/or Set handler and the minimum sizes.
//!
//! Everything else (item layout, the set's count and pointer) follows from that line.
//! Items carry no SupportHandler: KS answers BASICSUPPORT itself from the item (access
//! flags as the handlers allow), and a SupportHandler would also take RELATIONS,
//! DEFAULTVALUES and SERIALIZESIZE away from KS (KsPropertyHandler docs: give one only
//! for raw serialization).
//!
//! # What the pins answer, and what they leave to AVStream
//!
//! AVStream merges this table over its own pin table, and on a duplicate (set, id) the
//! item here replaces AVStream's whole (KsMergeAutomationTables; KS-NOTES, "How AVStream
//! calls the driver"). So the table lists only what AVStream does not answer, or answers
//! from the same source:
//!
//! - KSPROPERTY_CONNECTION_ALLOCATORFRAMING: AVStream has no item; the pin answers.
//! - KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX: the pin answers from the framing it wrote
//!   into its descriptor copy with KsEdit, the same value AVStream's own item would give
//!   (`Descriptor->AllocatorFraming`), with the same size protocol.
//! - KSPROPERTY_STREAM_ALLOCATOR: **not listed, on purpose.** AVStream's own item is the
//!   one whose Set hands the graph's allocator (its file object and function table) to
//!   the pin's requestor, which then takes every frame of the pipe from it when the pin is
//!   the IRP source. Both ksframe pins are KSPIN_COMMUNICATION_BOTH, so either can be an
//!   IRP source; an item here would swallow the assignment and AVStream would allocate
//!   frames itself. AVStream's answer is the documented one (Get: a NULL handle, success;
//!   Set: referenced, asked for its function table, kept until replaced or the pin
//!   closes). `tests/allocator_path.rs` shows a pin table that lists it losing the pool.
//! - The private statistics set: the pool a client created on this pin.
//! - PROPSETID_VIDCAP_DROPPEDFRAMES (capture pin only): KSPROPERTY_DROPPEDFRAMES_CURRENT,
//!   which a video capture pin must implement ("KSPROPERTY_DROPPEDFRAMES_CURRENT" docs);
//!   AVStream has no item of its own for it.
//!
//! # Kernel contract
//!
//! KS calls the handlers at PASSIVE_LEVEL, in the requestor's context, after checking
//! MinProperty / MinData and presetting Information to MinData for a Get; a handler sets
//! `Irp->IoStatus.Information` and returns the status, and never completes the IRP.

pub mod handlers;

use crate::allocator::AllocatorStats;
use crate::ks::{
    GUID, KSALLOCATOR_FRAMING, KSAUTOMATION_TABLE, KSIDENTIFIER, KSPROPERTY_CONNECTION_ALLOCATORFRAMING,
    KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX, KSPROPERTY_DROPPEDFRAMES_CURRENT,
    KSPROPERTY_DROPPEDFRAMES_CURRENT_S, KSPROPERTY_ITEM, KSPROPERTY_SET, KSPROPSETID_Connection,
    PFNKSHANDLER, PROPSETID_VIDCAP_DROPPEDFRAMES,
};

/// ksframe's private property set: the allocator's counters (named as KS names sets).
/// `{6B7D3A52-5E0B-4C1F-9B1E-6B53464B4652}` (the last bytes spell "kSFKFR", ours).
#[allow(non_upper_case_globals)]
pub const KSPROPSETID_KsframeAllocator: GUID = GUID::from_u128(0x6B7D3A52_5E0B_4C1F_9B1E_6B53464B4652);
/// Get: [`AllocatorStats`] of the pool KS initialised through this pin.
pub const KSPROPERTY_KSFRAME_ALLOCATOR_STATISTICS: u32 = 0;
/// Set (no data): zero the counters.
pub const KSPROPERTY_KSFRAME_ALLOCATOR_RESET: u32 = 1;

/// One line of a property table.
#[derive(Clone, Copy, Debug)]
pub struct Property {
    /// The property id within its set.
    pub id: u32,
    /// The Get handler, if the property can be read.
    pub get: PFNKSHANDLER,
    /// The Set handler, if the property can be written.
    pub set: PFNKSHANDLER,
    /// Minimum input (KSPROPERTY and any instance data) length.
    pub min_property: u32,
    /// Minimum output (data) length KS enforces before calling a Get or Set handler.
    pub min_data: u32,
}

const KSPROPERTY_SIZE: u32 = core::mem::size_of::<KSIDENTIFIER>() as u32;

impl Property {
    /// A read-only property with `min_data` bytes of value.
    pub const fn get(id: u32, handler: PFNKSHANDLER, min_data: u32) -> Self {
        Self { id, get: handler, set: None, min_property: KSPROPERTY_SIZE, min_data }
    }

    /// A write-only property with `min_data` bytes of value.
    pub const fn set(id: u32, handler: PFNKSHANDLER, min_data: u32) -> Self {
        Self { id, get: None, set: handler, min_property: KSPROPERTY_SIZE, min_data }
    }

    /// A read-write property.
    pub const fn get_set(id: u32, get: PFNKSHANDLER, set: PFNKSHANDLER, min_data: u32) -> Self {
        Self { id, get, set, min_property: KSPROPERTY_SIZE, min_data }
    }

    /// The KSPROPERTY_ITEM AVStream reads (no SupportHandler: KS answers BASICSUPPORT).
    pub const fn item(&self) -> KSPROPERTY_ITEM {
        KSPROPERTY_ITEM {
            PropertyId: self.id,
            GetPropertyHandler: self.get,
            MinProperty: self.min_property,
            MinData: self.min_data,
            SetPropertyHandler: self.set,
            Values: core::ptr::null(),
            RelationsCount: 0,
            Relations: core::ptr::null(),
            SupportHandler: None,
            SerializedSize: 0,
        }
    }
}

/// Builds a `[KSPROPERTY_ITEM; N]` from a `[Property; N]` at compile time.
pub const fn items<const N: usize>(table: [Property; N]) -> [KSPROPERTY_ITEM; N] {
    let mut out = [Property::get(0, None, 0).item(); N];
    let mut i = 0;
    while i < N {
        // `i < N`: the const evaluator rejects an out-of-bounds index at compile time.
        #[allow(clippy::indexing_slicing)]
        {
            out[i] = table[i].item();
        }
        i = i.wrapping_add(1);
    }
    out
}

/// A KSPROPERTY_SET over a static item array.
pub const fn property_set(set: &'static GUID, items: &'static [KSPROPERTY_ITEM]) -> KSPROPERTY_SET {
    KSPROPERTY_SET {
        Set: set,
        PropertiesCount: items.len() as u32,
        PropertyItem: items.as_ptr(),
        FastIoCount: 0,
        FastIoTable: core::ptr::null(),
    }
}

/// A KSAUTOMATION_TABLE with property sets only.
pub const fn automation_table(sets: &'static [KSPROPERTY_SET]) -> KSAUTOMATION_TABLE {
    KSAUTOMATION_TABLE {
        PropertySetsCount: sets.len() as u32,
        PropertyItemSize: core::mem::size_of::<KSPROPERTY_ITEM>() as u32,
        PropertySets: sets.as_ptr(),
        MethodSetsCount: 0,
        MethodItemSize: 0,
        MethodSets: core::ptr::null(),
        EventSetsCount: 0,
        EventItemSize: 0,
        EventSets: core::ptr::null(),
    }
}

const FRAMING_SIZE: u32 = core::mem::size_of::<KSALLOCATOR_FRAMING>() as u32;
const STATS_SIZE: u32 = core::mem::size_of::<AllocatorStats>() as u32;

/// KSPROPSETID_Connection items the pins answer.
pub static CONNECTION: [KSPROPERTY_ITEM; 2] = items([
    Property::get(KSPROPERTY_CONNECTION_ALLOCATORFRAMING, Some(handlers::allocator_framing), FRAMING_SIZE),
    // Variable size: MinData 0, the size protocol is in the handler.
    Property::get(KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX, Some(handlers::allocator_framing_ex), 0),
]);

/// KSPROPSETID_KsframeAllocator items.
pub static STATISTICS: [KSPROPERTY_ITEM; 2] = items([
    Property::get(KSPROPERTY_KSFRAME_ALLOCATOR_STATISTICS, Some(handlers::statistics), STATS_SIZE),
    Property::set(KSPROPERTY_KSFRAME_ALLOCATOR_RESET, Some(handlers::reset_statistics), 0),
]);

/// The pins' property sets. No KSPROPSETID_Stream set: STREAM_ALLOCATOR is AVStream's
/// (module docs, "What the pins answer").
pub static PIN_PROPERTY_SETS: [KSPROPERTY_SET; 2] = [
    property_set(&KSPROPSETID_Connection, &CONNECTION),
    property_set(&KSPROPSETID_KsframeAllocator, &STATISTICS),
];

/// The pins' automation table (`KSPIN_DESCRIPTOR_EX.AutomationTable`).
pub static PIN_AUTOMATION_TABLE: KSAUTOMATION_TABLE = automation_table(&PIN_PROPERTY_SETS);

const DROPPED_SIZE: u32 = core::mem::size_of::<KSPROPERTY_DROPPEDFRAMES_CURRENT_S>() as u32;

/// PROPSETID_VIDCAP_DROPPEDFRAMES items (the capture pin). The request and the value are
/// both a KSPROPERTY_DROPPEDFRAMES_CURRENT_S, so MinProperty and MinData are its size
/// (the property's usage table in the docs; the stream-class capture samples declare
/// the item the same way).
pub static DROPPED_FRAMES: [KSPROPERTY_ITEM; 1] = items([Property {
    id: KSPROPERTY_DROPPEDFRAMES_CURRENT,
    get: Some(handlers::dropped_frames),
    set: None,
    min_property: DROPPED_SIZE,
    min_data: DROPPED_SIZE,
}]);

/// The capture pin's property sets: the pins' sets and the dropped-frames set.
pub static CAPTURE_PROPERTY_SETS: [KSPROPERTY_SET; 3] = [
    property_set(&KSPROPSETID_Connection, &CONNECTION),
    property_set(&KSPROPSETID_KsframeAllocator, &STATISTICS),
    property_set(&PROPSETID_VIDCAP_DROPPEDFRAMES, &DROPPED_FRAMES),
];

/// The capture pin's automation table.
pub static CAPTURE_AUTOMATION_TABLE: KSAUTOMATION_TABLE = automation_table(&CAPTURE_PROPERTY_SETS);
