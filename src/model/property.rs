//! KsPropertyHandler as the shipped ks.sys behaves, and AVStream's merge of a pin's
//! automation table over its own (the lookup side of KsMergeAutomationTables).
//!
//! # Sources, in the order the checks run
//!
//! The order and the statuses are the production x64 ks.sys's, as recorded in
//! ../shared/KS-NOTES.md, "KsPropertyHandler as the shipped ks.sys does it" (observed
//! behaviour of the shipped binary); where ReactOS (`drivers/ksfilter/ks/property.c`,
//! `KspPropertyHandler`) differs, the shipped behaviour is used and ReactOS is named.
//!
//! | case | status | source |
//! |---|---|---|
//! | input shorter than a KSPROPERTY | STATUS_INVALID_BUFFER_SIZE | shipped (ReactOS: STATUS_INVALID_PARAMETER) |
//! | a verb KS does not know | STATUS_INVALID_PARAMETER | shipped, same in ReactOS |
//! | GUID_NULL set, id 0, SETSUPPORT | the merged sets' GUIDs; short output: Information = size, STATUS_BUFFER_OVERFLOW | ReactOS (which returns STATUS_MORE_ENTRIES; the shipped size status is used, as for MinData) |
//! | unknown set | STATUS_PROPSET_NOT_FOUND | shipped (ReactOS: STATUS_NOT_FOUND) |
//! | SETSUPPORT on a known set | STATUS_SUCCESS, Information 0 | shipped |
//! | no item with that id, or no handler for GET/SET | STATUS_NOT_FOUND | shipped, same in ReactOS |
//! | input shorter than the item's MinProperty | STATUS_BUFFER_TOO_SMALL | shipped |
//! | GETPAYLOADSIZE alone | STATUS_BUFFER_OVERFLOW, Information = MinData | shipped |
//! | GET/SET with output shorter than MinData (zero included) | STATUS_BUFFER_TOO_SMALL | shipped (ReactOS: STATUS_MORE_ENTRIES) |
//! | GET | Information preset to MinData, Data NULL for a zero-length output | shipped |
//! | BASICSUPPORT, RELATIONS, DEFAULTVALUES, SERIALIZESIZE with a SupportHandler | the SupportHandler's status, unless STATUS_MORE_PROCESSING_REQUIRED | shipped (KS-NOTES) |
//! | BASICSUPPORT without one | output 4: the access flags; >= 40: a KSPROPERTY_DESCRIPTION; else STATUS_BUFFER_TOO_SMALL | shipped; description fields from ReactOS |
//! | RELATIONS, DEFAULTVALUES, SERIALIZESIZE without one | STATUS_NOT_FOUND | inferred: no item in the model has relations or values |
//!
//! # The merge (KsMergeAutomationTables)
//!
//! AVStream merges the minidriver's KSPIN_DESCRIPTOR_EX.AutomationTable (dominant) over
//! its own pin table: on a duplicate (set, id) the minidriver's whole item wins, its
//! handlers, sizes and SupportHandler together (KS-NOTES "How AVStream calls the
//! driver"; ReactOS `api.c`, `KspMergePropertySet`, which copies the dominant table's
//! items first and adds only the other table's items whose id is not among them). A set
//! is known when either table has it. [`lookup`] answers exactly what the merged table
//! would: `tables` are given in dominance order.
//!
//! # Kernel contract
//!
//! PASSIVE_LEVEL, an IRP whose current stack location describes an IOCTL_KS_PROPERTY
//! request: `Type3InputBuffer` holds `InputBufferLength` bytes of KSPROPERTY (and instance
//! data), `AssociatedIrp.SystemBuffer` `OutputBufferLength` bytes of output.

use crate::ks::*;
use core::ffi::c_void;
use core::ptr::addr_of_mut;

/// What the merged table holds for one (set, id).
pub struct Lookup<'a> {
    /// Whether any table has the set.
    pub known_set: bool,
    /// The dominant item with that id, if any table has one.
    pub item: Option<&'a KSPROPERTY_ITEM>,
}

fn items(set: &KSPROPERTY_SET) -> &[KSPROPERTY_ITEM] {
    if set.PropertyItem.is_null() {
        return &[];
    }
    // SAFETY: PropertyItem points to PropertiesCount items (KSPROPERTY_SET's contract).
    unsafe { core::slice::from_raw_parts(set.PropertyItem, set.PropertiesCount as usize) }
}

fn set_guid(set: &KSPROPERTY_SET) -> Option<GUID> {
    // SAFETY: a set's Set points to a static GUID (KSPROPERTY_SET's contract).
    unsafe { set.Set.as_ref().copied() }
}

/// The merged table's answer for (set, id); `tables` in dominance order.
pub fn lookup<'a>(tables: &[&'a [KSPROPERTY_SET]], set: &GUID, id: u32) -> Lookup<'a> {
    let mut out = Lookup { known_set: false, item: None };
    for table in tables {
        for s in table.iter().filter(|s| set_guid(s).as_ref() == Some(set)) {
            out.known_set = true;
            if out.item.is_none() {
                out.item = items(s).iter().find(|i| i.PropertyId == id);
            }
        }
    }
    out
}

/// The distinct set GUIDs of the merged table, in table order, into `out`; returns how
/// many there are (which may exceed `out.len()`).
pub fn merged_sets(tables: &[&[KSPROPERTY_SET]], out: &mut [GUID]) -> usize {
    let mut n = 0usize;
    for table in tables {
        for guid in table.iter().filter_map(set_guid) {
            let seen = out.get(..n.min(out.len())).is_some_and(|s| s.contains(&guid));
            if seen {
                continue;
            }
            if let Some(slot) = out.get_mut(n) {
                *slot = guid;
            }
            n = n.saturating_add(1);
        }
    }
    n
}

/// The verbs KS dispatches (TOPOLOGY is a modifier and ignored).
const KNOWN_VERBS: [u32; 8] = [
    KSPROPERTY_TYPE_GET,
    KSPROPERTY_TYPE_SET,
    KSPROPERTY_TYPE_GETPAYLOADSIZE,
    KSPROPERTY_TYPE_SETSUPPORT,
    KSPROPERTY_TYPE_BASICSUPPORT,
    KSPROPERTY_TYPE_RELATIONS,
    KSPROPERTY_TYPE_DEFAULTVALUES,
    KSPROPERTY_TYPE_SERIALIZESIZE,
];

/// Routes a property IRP through the merged `tables` with KsPropertyHandler's checks
/// (module docs) and returns the status; Information is set in the IRP.
///
/// # Safety
///
/// `irp` is a valid IRP as the module's kernel contract describes, and every set in
/// `tables` is a valid KSPROPERTY_SET whose handlers accept this IRP.
pub unsafe fn property_handler(irp: *mut IRP, tables: &[&[KSPROPERTY_SET]]) -> NTSTATUS {
    // SAFETY: the caller's contract: a valid IRP with its current stack location.
    let (stack, system_buffer) =
        unsafe { ((*irp).Tail.Overlay.CurrentStackLocation, (*irp).AssociatedIrp.SystemBuffer) };
    // SAFETY: as above.
    let (input_len, output_len, input) = unsafe {
        let p = &(*stack).Parameters.DeviceIoControl;
        (p.InputBufferLength.0, p.OutputBufferLength, p.Type3InputBuffer)
    };
    let set_information = |value: usize| {
        // SAFETY: the IRP is valid; IoStatus is KS's to write.
        unsafe { addr_of_mut!((*irp).IoStatus.Information).write(value) }
    };
    set_information(0);
    if (input_len as usize) < core::mem::size_of::<KSIDENTIFIER>() || input.is_null() {
        return STATUS_INVALID_BUFFER_SIZE;
    }
    let property = input.cast::<KSIDENTIFIER>();
    // SAFETY: at least a KSPROPERTY's worth of input (checked); it may be unaligned.
    let request = unsafe { core::ptr::read_unaligned(property) };
    let verb = request.Flags & !KSPROPERTY_TYPE_TOPOLOGY;
    if !KNOWN_VERBS.contains(&verb) {
        return STATUS_INVALID_PARAMETER;
    }
    let data: *mut c_void = if output_len == 0 { core::ptr::null_mut() } else { system_buffer };
    if verb == KSPROPERTY_TYPE_SETSUPPORT && request.Set == GUID_NULL && request.Id == 0 {
        let mut guids = [GUID_NULL; 16];
        let count = merged_sets(tables, &mut guids).min(guids.len());
        let needed = count.saturating_mul(core::mem::size_of::<GUID>());
        set_information(needed);
        if (output_len as usize) < needed {
            return STATUS_BUFFER_OVERFLOW;
        }
        for (i, g) in guids.iter().take(count).enumerate() {
            // SAFETY: `needed` writable bytes of output (checked).
            unsafe { data.cast::<GUID>().add(i).write_unaligned(*g) };
        }
        return STATUS_SUCCESS;
    }
    let found = lookup(tables, &request.Set, request.Id);
    if !found.known_set {
        return STATUS_PROPSET_NOT_FOUND;
    }
    if verb == KSPROPERTY_TYPE_SETSUPPORT {
        return STATUS_SUCCESS;
    }
    let Some(item) = found.item else {
        return STATUS_NOT_FOUND;
    };
    if input_len < item.MinProperty {
        return STATUS_BUFFER_TOO_SMALL;
    }
    match verb {
        KSPROPERTY_TYPE_GETPAYLOADSIZE => {
            set_information(item.MinData as usize);
            STATUS_BUFFER_OVERFLOW
        }
        KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_SET => {
            let handler =
                if verb == KSPROPERTY_TYPE_GET { item.GetPropertyHandler } else { item.SetPropertyHandler };
            let Some(handler) = handler else {
                return STATUS_NOT_FOUND;
            };
            if output_len < item.MinData {
                return STATUS_BUFFER_TOO_SMALL;
            }
            if verb == KSPROPERTY_TYPE_GET {
                set_information(item.MinData as usize);
            }
            // SAFETY: the handler contract: a valid IRP, the KSPROPERTY in the input
            // buffer, the output buffer (or null for none), MinProperty/MinData checked.
            unsafe { handler(irp, property, data) }
        }
        _ => {
            if let Some(support) = item.SupportHandler {
                // SAFETY: as for GET/SET.
                let status = unsafe { support(irp, property, data) };
                if status != STATUS_MORE_PROCESSING_REQUIRED {
                    return status;
                }
                set_information(0);
            }
            if verb != KSPROPERTY_TYPE_BASICSUPPORT {
                return STATUS_NOT_FOUND;
            }
            // SAFETY: `output_len` writable bytes at `data`.
            unsafe { basic_support(item, data, output_len, set_information) }
        }
    }
}

/// KS's own BASICSUPPORT answer for an item without a SupportHandler.
///
/// # Safety
///
/// `data` points to `output_len` writable bytes (or is null when it is 0).
unsafe fn basic_support(
    item: &KSPROPERTY_ITEM,
    data: *mut c_void,
    output_len: u32,
    set_information: impl Fn(usize),
) -> NTSTATUS {
    let mut access = 0u32;
    if item.GetPropertyHandler.is_some() {
        access |= KSPROPERTY_TYPE_GET;
    }
    if item.SetPropertyHandler.is_some() {
        access |= KSPROPERTY_TYPE_SET;
    }
    let description_size = core::mem::size_of::<KSPROPERTY_DESCRIPTION>();
    if output_len as usize >= description_size {
        let description = KSPROPERTY_DESCRIPTION {
            AccessFlags: access,
            DescriptionSize: description_size as u32,
            PropTypeSet: KSIDENTIFIER { Set: KSPROPTYPESETID_General, Id: 0, Flags: 0 },
            MembersListCount: 0,
            Reserved: 0,
        };
        // SAFETY: at least a description's worth of writable bytes (checked).
        unsafe { data.cast::<KSPROPERTY_DESCRIPTION>().write_unaligned(description) };
        set_information(description_size);
        STATUS_SUCCESS
    } else if output_len == 4 {
        // SAFETY: 4 writable bytes.
        unsafe { data.cast::<u32>().write_unaligned(access) };
        set_information(4);
        STATUS_SUCCESS
    } else {
        STATUS_BUFFER_TOO_SMALL
    }
}
