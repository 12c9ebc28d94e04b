//! Allocator creation on a pin and the allocator file object, as KS does them.
//!
//! # The path (KS-NOTES, "How AVStream calls the driver")
//!
//! A client calls `KsCreateAllocator(pin handle, &KSALLOCATOR_FRAMING, &handle)`, which
//! opens the pin's "allocator" create item with GENERIC_READ (ReactOS `allocators.c`,
//! `KsCreateAllocator`). AVStream's pin answers it, under the pin's control mutex at
//! PASSIVE_LEVEL, with `KsCreateDefaultAllocatorEx(Irp, Pin, Allocate, Free,
//! InitializeAllocator, DeleteAllocator)` taken from `KSPIN_DISPATCH.Allocator`, or
//! `KsCreateDefaultAllocator` when the pin has none. [`create_on_pin`] is that create
//! item:
//!
//! 1. `KsValidateAllocatorCreateRequest`: FrameSize 0, or OptionsFlags outside
//!    ReactOS's SupportedFlags (OPTIONF_COMPATIBLE | OPTIONF_SYSTEM_MEMORY |
//!    REQUIREMENTF_INPLACE_MODIFIER | REQUIREMENTF_SYSTEM_MEMORY |
//!    REQUIREMENTF_FRAME_INTEGRITY | REQUIREMENTF_MUST_ALLOCATE = 0xF) →
//!    STATUS_INVALID_PARAMETER (ReactOS `allocators.c`; the shipped behaviour is not
//!    recorded in KS-NOTES);
//! 2. `KsCreateDefaultAllocatorEx`: FileAlignment > PAGE_SIZE − 1 →
//!    STATUS_INVALID_PARAMETER (ReactOS `allocators.c`);
//! 3. with a custom allocator: `InitializeAllocator(Pin, &framing, &Context)` gets the
//!    client's request as it came (not a resolved pipe framing); a failure fails the
//!    create with the callback's status;
//! 4. `DeleteAllocator(Context)` runs when the allocator file object is closed: its last
//!    handle and its last reference gone ([`AllocatorObject::close`], called by the
//!    environment's object manager).
//!
//! The allocator file object answers KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE with
//! [`allocate_frame`] / [`free_frame`], which call the custom Allocate / Free with the
//! context (or KS's own pool). The model collapses the file object to the
//! [`AllocatorObject`] itself: the `FILE_OBJECT` pointer the function table receives is
//! the object's address.

use super::ObjectManager;
use crate::ks::*;

/// KsCreateDefaultAllocatorEx's object: the framing, the pin's callbacks and context.
#[repr(C)]
pub struct AllocatorObject {
    /// The client's create request.
    pub framing: KSALLOCATOR_FRAMING,
    /// The pin's KSALLOCATOR_DISPATCH, or None for KS's own allocator.
    custom: Option<KSALLOCATOR_DISPATCH>,
    /// What InitializeAllocator stored.
    context: PVOID,
    objects: &'static dyn ObjectManager,
    /// Frames handed out through the function table.
    pub allocated: u64,
    /// Frames taken back through the function table.
    pub freed: u64,
    closed: bool,
}

/// KsValidateAllocatorCreateRequest and KsCreateDefaultAllocatorEx's own checks (module
/// docs, steps 1 and 2).
pub fn validate_create_request(framing: &KSALLOCATOR_FRAMING) -> Result<(), NTSTATUS> {
    // ReactOS's SupportedFlags, spelled out here (the model takes nothing of the driver).
    const SUPPORTED_FLAGS: u32 = KSALLOCATOR_OPTIONF_COMPATIBLE
        | KSALLOCATOR_OPTIONF_SYSTEM_MEMORY
        | KSALLOCATOR_REQUIREMENTF_INPLACE_MODIFIER
        | KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY
        | KSALLOCATOR_REQUIREMENTF_FRAME_INTEGRITY
        | KSALLOCATOR_REQUIREMENTF_MUST_ALLOCATE;
    if framing.FrameSize == 0 || framing.OptionsFlags & !SUPPORTED_FLAGS != 0 {
        return Err(STATUS_INVALID_PARAMETER);
    }
    if framing.FileAlignment > 4096 - 1 {
        return Err(STATUS_INVALID_PARAMETER);
    }
    Ok(())
}

/// AVStream's pin allocator create item (module docs).
///
/// # Safety
///
/// `pin` is a live KSPIN whose Descriptor and Dispatch are valid, at PASSIVE_LEVEL.
pub unsafe fn create_on_pin(
    pin: *mut KSPIN,
    framing: &KSALLOCATOR_FRAMING,
    objects: &'static dyn ObjectManager,
) -> Result<AllocatorObject, NTSTATUS> {
    validate_create_request(framing)?;
    // SAFETY: the caller's contract: a live pin with a valid descriptor and dispatch.
    let dispatch = unsafe { (*(*pin).Descriptor).Dispatch.as_ref() };
    // SAFETY: as above; Allocator is null or a static KSALLOCATOR_DISPATCH.
    let custom = dispatch.and_then(|d| unsafe { d.Allocator.as_ref() }).copied();
    let mut object = AllocatorObject {
        framing: *framing,
        custom,
        context: core::ptr::null_mut(),
        objects,
        allocated: 0,
        freed: 0,
        closed: false,
    };
    if let Some(custom) = custom {
        // KS hands the callback its own copy of the request.
        let mut request = *framing;
        let mut context: PVOID = core::ptr::null_mut();
        let status = match custom.InitializeAllocator {
            // SAFETY: as KsCreateDefaultAllocatorEx calls it: the pin as the initial
            // context, a framing and a context slot, PASSIVE_LEVEL.
            Some(init) => unsafe { init(pin.cast(), &mut request, &mut context) },
            None => STATUS_SUCCESS,
        };
        if !NT_SUCCESS(status) {
            return Err(status);
        }
        object.context = context;
    }
    Ok(object)
}

impl AllocatorObject {
    /// Whether the pin's own callbacks serve this allocator.
    pub fn is_custom(&self) -> bool {
        self.custom.is_some()
    }

    /// The context InitializeAllocator stored (null for KS's own allocator).
    pub fn context(&self) -> PVOID {
        self.context
    }

    /// IRP_MJ_CLOSE of the allocator file object: DeleteAllocator, once.
    ///
    /// # Safety
    ///
    /// No frame function of this object runs concurrently; called by the object manager
    /// when the last handle and reference are gone.
    pub unsafe fn close(&mut self) {
        if core::mem::replace(&mut self.closed, true) {
            return;
        }
        if let Some(delete) = self.custom.and_then(|c| c.DeleteAllocator) {
            // SAFETY: the context InitializeAllocator returned, deleted once.
            unsafe { delete(self.context) };
        }
    }

    /// The allocator object's property set (KSPROPSETID_StreamAllocator): the function
    /// table, 16 bytes. Anything else: STATUS_NOT_FOUND / STATUS_PROPSET_NOT_FOUND.
    pub fn property_get(&self, set: &GUID, id: u32, out: &mut [u8]) -> Result<usize, NTSTATUS> {
        if *set != KSPROPSETID_StreamAllocator {
            return Err(STATUS_PROPSET_NOT_FOUND);
        }
        if id != KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE {
            return Err(STATUS_NOT_FOUND);
        }
        let table = KSSTREAMALLOCATOR_FUNCTIONTABLE {
            AllocateFrame: Some(allocate_frame),
            FreeFrame: Some(free_frame),
        };
        let size = core::mem::size_of::<KSSTREAMALLOCATOR_FUNCTIONTABLE>();
        let slot = out.get_mut(..size).ok_or(STATUS_BUFFER_TOO_SMALL)?;
        // SAFETY: `slot` is `size` writable bytes.
        unsafe { slot.as_mut_ptr().cast::<KSSTREAMALLOCATOR_FUNCTIONTABLE>().write_unaligned(table) };
        Ok(size)
    }
}

/// `PFNALLOCATOR_ALLOCATEFRAME` of KS's default allocator object.
///
/// # Safety
///
/// `file` is a live [`AllocatorObject`] (the model's file object), `frame` writable.
pub unsafe extern "system" fn allocate_frame(file: *mut FILE_OBJECT, frame: *mut PVOID) -> NTSTATUS {
    // SAFETY: the caller's contract.
    let (object, frame) = unsafe { (&mut *file.cast::<AllocatorObject>(), &mut *frame) };
    *frame = match object.custom {
        // SAFETY: the live context of this allocator.
        Some(custom) => custom.Allocate.map_or(core::ptr::null_mut(), |a| unsafe { a(object.context) }),
        None => object.objects.allocate(object.framing.FrameSize as usize),
    };
    if frame.is_null() {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    object.allocated = object.allocated.wrapping_add(1);
    STATUS_SUCCESS
}

/// `PFNALLOCATOR_FREEFRAME` of KS's default allocator object.
///
/// # Safety
///
/// `file` is a live [`AllocatorObject`]; `frame` came from [`allocate_frame`] on it.
pub unsafe extern "system" fn free_frame(file: *mut FILE_OBJECT, frame: PVOID) {
    // SAFETY: the caller's contract.
    let object = unsafe { &mut *file.cast::<AllocatorObject>() };
    match object.custom {
        Some(custom) => {
            if let Some(free) = custom.Free {
                // SAFETY: a frame of this allocator's context.
                unsafe { free(object.context, frame) };
            }
        }
        None => object.objects.free(frame, object.framing.FrameSize as usize),
    }
    object.freed = object.freed.wrapping_add(1);
}
