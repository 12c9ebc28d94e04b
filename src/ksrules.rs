//! KsPropertyHandler's rules for a pin's property IRP, and AVStream's data-intersection
//! walk, as the KS host simulator and the Wine stand-in ks.sys apply them (one
//! implementation for both; `no_std`).
//!
//! Where each rule comes from (see also [`crate::sim`]'s module docs):
//!
//! - input shorter than a KSPROPERTY: STATUS_INVALID_PARAMETER (KS-NOTES; ReactOS returns
//!   STATUS_INVALID_BUFFER_SIZE);
//! - a verb other than GET, SET, BASICSUPPORT or SETSUPPORT (TOPOLOGY ignored):
//!   STATUS_INVALID_PARAMETER (inferred);
//! - unknown set: STATUS_PROPSET_NOT_FOUND; unknown id: STATUS_NOT_FOUND (documented);
//! - SETSUPPORT on a known set: STATUS_SUCCESS, Information 0 (documented meaning);
//! - input shorter than the item's MinProperty: STATUS_INVALID_PARAMETER (ReactOS);
//! - GET or SET without a handler for it: STATUS_NOT_FOUND (inferred);
//! - GET or SET with output shorter than MinData: STATUS_BUFFER_OVERFLOW with
//!   Information = MinData for a zero-length output, else STATUS_BUFFER_TOO_SMALL
//!   (KS-NOTES; ReactOS returns STATUS_MORE_ENTRIES); not applied to BASICSUPPORT
//!   (inferred);
//! - BASICSUPPORT goes to the item's SupportHandler, else KS answers the access flags in
//!   a ULONG (ReactOS);
//! - the handler gets `Data` = the system buffer, or NULL for a zero-length output
//!   (ReactOS); its status is returned as it is.
//!
//! # Kernel contract
//!
//! PASSIVE_LEVEL, with an IRP whose current stack location describes an
//! IOCTL_KS_PROPERTY request: `Type3InputBuffer` holds `InputBufferLength` bytes of
//! KSPROPERTY (and instance data), `AssociatedIrp.SystemBuffer` `OutputBufferLength`
//! bytes of output.

use crate::ks::{
    IRP, KSDATARANGE, KSIDENTIFIER, KSP_PIN, KSPIN_DESCRIPTOR_EX, KSPROPERTY_ITEM, KSPROPERTY_SET,
    KSPROPERTY_TYPE_BASICSUPPORT, KSPROPERTY_TYPE_GET, KSPROPERTY_TYPE_SET, KSPROPERTY_TYPE_SETSUPPORT,
    KSPROPERTY_TYPE_TOPOLOGY, KSPROPSETID_Pin, NTSTATUS, STATUS_BUFFER_OVERFLOW, STATUS_BUFFER_TOO_SMALL,
    STATUS_INVALID_PARAMETER, STATUS_NO_MATCH, STATUS_NOT_FOUND, STATUS_PROPSET_NOT_FOUND, STATUS_SUCCESS,
};
use core::ffi::c_void;
use core::ptr::addr_of_mut;

fn find<'a>(sets: &'a [KSPROPERTY_SET], set: &crate::ks::GUID) -> Option<&'a KSPROPERTY_SET> {
    // SAFETY: every set's Set points to a static GUID (KSPROPERTY_SET's contract).
    sets.iter().find(|s| unsafe { s.Set.as_ref() } == Some(set))
}

fn items(set: &KSPROPERTY_SET) -> &[KSPROPERTY_ITEM] {
    if set.PropertyItem.is_null() {
        return &[];
    }
    // SAFETY: PropertyItem points to PropertiesCount items (KSPROPERTY_SET's contract).
    unsafe { core::slice::from_raw_parts(set.PropertyItem, set.PropertiesCount as usize) }
}

/// Routes a property IRP through `tables` (the pin's property sets first, then the
/// defaults they override) with KsPropertyHandler's checks, and returns the status.
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
        // SAFETY: the IRP is valid; IoStatus is ours to write.
        unsafe { addr_of_mut!((*irp).IoStatus.Information).write(value) }
    };
    if (input_len as usize) < core::mem::size_of::<KSIDENTIFIER>() || input.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    let property = input.cast::<KSIDENTIFIER>();
    // SAFETY: at least a KSPROPERTY's worth of input (checked); it may be unaligned.
    let request = unsafe { core::ptr::read_unaligned(property) };
    let verb = request.Flags & !KSPROPERTY_TYPE_TOPOLOGY;
    if ![KSPROPERTY_TYPE_GET, KSPROPERTY_TYPE_SET, KSPROPERTY_TYPE_BASICSUPPORT, KSPROPERTY_TYPE_SETSUPPORT]
        .contains(&verb)
    {
        return STATUS_INVALID_PARAMETER;
    }
    let mut known_set = false;
    let mut found = None;
    for sets in tables {
        if let Some(set) = find(sets, &request.Set) {
            known_set = true;
            if found.is_none() {
                found = items(set).iter().find(|i| i.PropertyId == request.Id);
            }
        }
    }
    if !known_set {
        return STATUS_PROPSET_NOT_FOUND;
    }
    if verb == KSPROPERTY_TYPE_SETSUPPORT {
        set_information(0);
        return STATUS_SUCCESS;
    }
    let Some(item) = found else {
        return STATUS_NOT_FOUND;
    };
    if input_len < item.MinProperty {
        return STATUS_INVALID_PARAMETER;
    }
    let data: *mut c_void = if output_len == 0 { core::ptr::null_mut() } else { system_buffer };
    let handler = match verb {
        KSPROPERTY_TYPE_GET => item.GetPropertyHandler,
        KSPROPERTY_TYPE_SET => item.SetPropertyHandler,
        _ => match item.SupportHandler {
            Some(support) => Some(support),
            None => {
                if output_len < 4 || data.is_null() {
                    return STATUS_INVALID_PARAMETER;
                }
                let mut access = 0u32;
                if item.GetPropertyHandler.is_some() {
                    access |= KSPROPERTY_TYPE_GET;
                }
                if item.SetPropertyHandler.is_some() {
                    access |= KSPROPERTY_TYPE_SET;
                }
                // SAFETY: at least 4 bytes of output (checked).
                unsafe { core::ptr::write_unaligned(data.cast::<u32>(), access) };
                set_information(4);
                return STATUS_SUCCESS;
            }
        },
    };
    let Some(handler) = handler else {
        return STATUS_NOT_FOUND;
    };
    if verb != KSPROPERTY_TYPE_BASICSUPPORT && output_len < item.MinData {
        if output_len == 0 {
            set_information(item.MinData as usize);
            return STATUS_BUFFER_OVERFLOW;
        }
        return STATUS_BUFFER_TOO_SMALL;
    }
    // SAFETY: the handler contract: a valid IRP, the KSPROPERTY in the input buffer, the
    // output buffer (or null for none).
    unsafe { handler(irp, property, data) }
}

/// AVStream's data intersection for one pin type (KSPROPERTY_PIN_DATAINTERSECTION):
/// each of the descriptor's data ranges in order through its IntersectHandler, first a
/// size query (a zero-length buffer), then into `out`; the first range that does not
/// answer STATUS_NO_MATCH decides. Returns the format's size, STATUS_NO_MATCH when no
/// range matches, STATUS_NOT_FOUND without an intersect handler, STATUS_BUFFER_TOO_SMALL
/// when `out_len` is short, or the handler's own failure.
///
/// # Safety
///
/// `descriptor` is a valid pin descriptor with `DataRangesCount` valid ranges, `caller`
/// a valid data range, and `out` `out_len` writable bytes.
pub unsafe fn intersect(
    descriptor: &KSPIN_DESCRIPTOR_EX,
    pin_id: u32,
    caller: *mut KSDATARANGE,
    out: *mut c_void,
    out_len: u32,
) -> Result<u32, NTSTATUS> {
    let handler = descriptor.IntersectHandler.ok_or(STATUS_NOT_FOUND)?;
    if descriptor.PinDescriptor.DataRanges.is_null() {
        return Err(STATUS_NO_MATCH);
    }
    // SAFETY: DataRanges holds DataRangesCount range pointers (the caller's contract).
    let ranges = unsafe {
        core::slice::from_raw_parts(
            descriptor.PinDescriptor.DataRanges,
            descriptor.PinDescriptor.DataRangesCount as usize,
        )
    };
    let mut pin = KSP_PIN {
        Property: KSIDENTIFIER { Set: KSPROPSETID_Pin, Id: 0, Flags: KSPROPERTY_TYPE_GET },
        PinId: pin_id,
        Reserved: 0,
    };
    let null = core::ptr::null_mut();
    for ours in ranges {
        let mut size = 0u32;
        // SAFETY: valid ranges and a size query, as AVStream calls the handler.
        let status =
            unsafe { handler(null, null.cast(), &mut pin, caller, ours.cast_mut(), 0, null, &mut size) };
        if status == STATUS_NO_MATCH {
            continue;
        }
        if status != STATUS_BUFFER_OVERFLOW {
            return Err(status);
        }
        if size > out_len {
            return Err(STATUS_BUFFER_TOO_SMALL);
        }
        // SAFETY: `size` <= `out_len` writable bytes at `out`.
        let status =
            unsafe { handler(null, null.cast(), &mut pin, caller, ours.cast_mut(), size, out, &mut size) };
        return if crate::ks::NT_SUCCESS(status) { Ok(size) } else { Err(status) };
    }
    Err(STATUS_NO_MATCH)
}
