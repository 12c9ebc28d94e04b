//! AVStream's data intersection for one pin type (KSPROPERTY_PIN_DATAINTERSECTION on the
//! filter), as the model plays it.
//!
//! Source: the KSPIN_DESCRIPTOR_EX.IntersectHandler and "Data Range Intersections in
//! AVStream" docs pages: AVStream calls the pin's IntersectHandler once per descriptor
//! data range, in the descriptor's order, first with a zero `DataBufferSize` (a size
//! query answered with STATUS_BUFFER_OVERFLOW and `*DataSize`), then with the buffer;
//! STATUS_NO_MATCH goes on to the next range. Without an IntersectHandler AVStream runs
//! its default intersection (not modelled: ksframe's pins have one, STATUS_NOT_FOUND).

use crate::ks::{
    KSDATARANGE, KSIDENTIFIER, KSP_PIN, KSPIN_DESCRIPTOR_EX, KSPROPERTY_TYPE_GET, KSPROPSETID_Pin,
    NT_SUCCESS, NTSTATUS, STATUS_BUFFER_OVERFLOW, STATUS_BUFFER_TOO_SMALL, STATUS_NO_MATCH, STATUS_NOT_FOUND,
};
use core::ffi::c_void;

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
        return if NT_SUCCESS(status) { Ok(size) } else { Err(status) };
    }
    Err(STATUS_NO_MATCH)
}
