//! The model's own rules, shown on variant pin tables (not ksframe's): the merge gives the
//! minidriver's whole item, a SupportHandler takes BASICSUPPORT unless it answers
//! STATUS_MORE_PROCESSING_REQUIRED, MinProperty is enforced with
//! STATUS_BUFFER_TOO_SMALL. Sources beside the rules in src/model/property.rs.

use ksframe::avstream::{CAPTURE_PIN, DEVICE_DESCRIPTOR, FORMATS, PIN_DESCRIPTORS};
use ksframe::ks::*;
use ksframe::property::{Property, automation_table, items, property_set};
use ksframe::sim::{Request, Sim};

unsafe extern "system" fn state_get_only(irp: *mut IRP, _r: *mut KSIDENTIFIER, data: PVOID) -> NTSTATUS {
    // SAFETY: KS checked MinData (4).
    unsafe {
        data.cast::<u32>().write_unaligned(0xABCD);
        (*irp).IoStatus.Information = 4;
    }
    STATUS_SUCCESS
}

unsafe extern "system" fn support_answers(irp: *mut IRP, _r: *mut KSIDENTIFIER, _d: PVOID) -> NTSTATUS {
    // SAFETY: a valid IRP.
    unsafe { (*irp).IoStatus.Information = 0 };
    STATUS_NOT_SUPPORTED
}

unsafe extern "system" fn support_defers(_irp: *mut IRP, _r: *mut KSIDENTIFIER, _d: PVOID) -> NTSTATUS {
    STATUS_MORE_PROCESSING_REQUIRED
}

const fn with_support(mut item: KSPROPERTY_ITEM, support: PFNKSHANDLER) -> KSPROPERTY_ITEM {
    item.SupportHandler = support;
    item
}

static CONNECTION: [KSPROPERTY_ITEM; 3] = {
    let [state, a, b] = items([
        // Replaces AVStream's STATE (Get and Set) with a Get-only item.
        Property::get(KSPROPERTY_CONNECTION_STATE, Some(state_get_only), 4),
        Property::get(KSPROPERTY_CONNECTION_ALLOCATORFRAMING, Some(state_get_only), 4),
        Property::get(KSPROPERTY_CONNECTION_PRIORITY, Some(state_get_only), 4),
    ]);
    [state, with_support(a, Some(support_answers)), with_support(b, Some(support_defers))]
};
static MIN_PROPERTY: [KSPROPERTY_ITEM; 1] = {
    let [mut item] = items([Property::get(0, Some(state_get_only), 4)]);
    item.MinProperty = 32; // a KSP_PIN-sized request
    [item]
};
const PRIVATE: GUID = GUID::from_u128(0x1111_2222_3333_4444_5555_6666_7777_8888);
static SETS: [KSPROPERTY_SET; 2] =
    [property_set(&KSPROPSETID_Connection, &CONNECTION), property_set(&PRIVATE, &MIN_PROPERTY)];
static TABLE: KSAUTOMATION_TABLE = automation_table(&SETS);
static VARIANT: KSPIN_DESCRIPTOR_EX =
    KSPIN_DESCRIPTOR_EX { AutomationTable: &TABLE, ..PIN_DESCRIPTORS[CAPTURE_PIN as usize] };

fn with_flags(mut r: Request, flags: u32) -> Request {
    r.flags = flags;
    r
}

#[test]
fn the_model_merges_and_dispatches_as_ks_does() {
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    let f = sim.create_filter(0);
    let mut pin = sim.create_pin_with(f, CAPTURE_PIN, &VARIANT, Some(FORMATS[0].data_format())).unwrap();

    // The minidriver's STATE item wins whole: its Get answers, and AVStream's Set is gone.
    let get = sim.property(&mut pin, &Request::get(KSPROPSETID_Connection, KSPROPERTY_CONNECTION_STATE, 4));
    assert_eq!((get.status, &get.output[..]), (STATUS_SUCCESS, &0xABCDu32.to_le_bytes()[..]));
    let set =
        sim.property(&mut pin, &Request::set(KSPROPSETID_Connection, KSPROPERTY_CONNECTION_STATE, &[0; 4]));
    assert_eq!(set.status, STATUS_NOT_FOUND);
    // AVStream's other items still answer (Stream ALLOCATOR, not overridden).
    let alloc = sim.property(&mut pin, &Request::get(KSPROPSETID_Stream, KSPROPERTY_STREAM_ALLOCATOR, 8));
    assert_eq!((alloc.status, alloc.information), (STATUS_SUCCESS, 8));

    // A SupportHandler's status is KS's answer to BASICSUPPORT...
    let basic = |id| with_flags(Request::get(KSPROPSETID_Connection, id, 4), KSPROPERTY_TYPE_BASICSUPPORT);
    let r = sim.property(&mut pin, &basic(KSPROPERTY_CONNECTION_ALLOCATORFRAMING));
    assert_eq!(r.status, STATUS_NOT_SUPPORTED);
    // ... unless it is STATUS_MORE_PROCESSING_REQUIRED: then KS answers itself.
    let r = sim.property(&mut pin, &basic(KSPROPERTY_CONNECTION_PRIORITY));
    assert_eq!((r.status, r.information, &r.output[..]), (STATUS_SUCCESS, 4, &1u32.to_le_bytes()[..]));
    // Without a SupportHandler, KS answers; a 2-byte buffer is too small.
    let mut short = basic(KSPROPERTY_CONNECTION_STATE);
    short.output_len = 2;
    assert_eq!(sim.property(&mut pin, &short).status, STATUS_BUFFER_TOO_SMALL);

    // MinProperty: a bare KSPROPERTY is too short for a 32-byte request.
    let r = sim.property(&mut pin, &Request::get(PRIVATE, 0, 4));
    assert_eq!((r.status, r.information), (STATUS_BUFFER_TOO_SMALL, 0));
    let mut long = Request::get(PRIVATE, 0, 4);
    long.input_len = 32;
    assert_eq!(sim.property(&mut pin, &long).status, STATUS_SUCCESS);
    // GETPAYLOADSIZE: the item's MinData.
    let r = sim.property(&mut pin, &with_flags(long.clone(), KSPROPERTY_TYPE_GETPAYLOADSIZE));
    assert_eq!((r.status, r.information), (STATUS_BUFFER_OVERFLOW, 4));
    sim.close_pin(pin);
}
