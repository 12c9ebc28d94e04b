//! The property handlers (`PFNKSHANDLER`s).
//!
//! Each one runs at PASSIVE_LEVEL with `(Irp, Request, Data)` as KS passes them: `Data`
//! is the system buffer of `OutputBufferLength` bytes (null when that length is 0), and
//! KS has already checked MinProperty and, for Get and Set, MinData.

use crate::allocator::AllocatorStats;
use crate::kernel::{Irp, ObjectType, reference_object_by_handle};
use crate::ks::{
    HANDLE, IRP, KSALLOCATOR_FRAMING, KSALLOCATOR_FRAMING_EX, KSALLOCATOR_FRAMING_EX_SIZE, KSIDENTIFIER,
    KSPROPERTY_DESCRIPTION, KSPROPERTY_TYPE_BASICSUPPORT, KSPROPERTY_TYPE_GET, KSPROPERTY_TYPE_SET,
    KSPROPTYPESETID_General, KSSTATE_STOP, NTSTATUS, PVOID, STATUS_BUFFER_OVERFLOW, STATUS_BUFFER_TOO_SMALL,
    STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER, STATUS_NOT_FOUND,
    STATUS_SUCCESS,
};
use crate::pin::PinState;

/// `FILE_READ_DATA | FILE_WRITE_DATA`: what a pin needs of an allocator file object.
const ALLOCATOR_ACCESS: u32 = 0x0001 | 0x0002;

/// What every handler starts from: the IRP, the request and the pin's state.
pub struct Context<'a> {
    /// The IRP (IoStatus.Information is written through it).
    pub irp: Irp<'a>,
    /// The request's KSPROPERTY.
    pub request: KSIDENTIFIER,
    /// The pin's state.
    pub pin: &'a PinState,
    /// The output buffer and its length (null and 0 when there is none).
    pub data: PVOID,
    /// `OutputBufferLength`.
    pub data_len: u32,
}

/// Unpacks a handler's arguments; STATUS_INVALID_PARAMETER when the IRP or request is
/// null, STATUS_INVALID_DEVICE_REQUEST when the IRP is not addressed to a ksframe pin.
///
/// # Safety
///
/// `irp` and `request` are null or as KS passes them to a pin's property handler, valid
/// for `'a`.
pub unsafe fn context<'a>(
    irp: *mut IRP,
    request: *mut KSIDENTIFIER,
    data: PVOID,
) -> Result<Context<'a>, NTSTATUS> {
    // SAFETY: the caller's contract: a valid IRP with a current stack location.
    let irp = unsafe { Irp::from_raw(irp) }.ok_or(STATUS_INVALID_PARAMETER)?;
    // SAFETY: a non-null request points to at least a KSPROPERTY (KS checked
    // MinProperty >= 24); read unaligned, as user buffers may be.
    let request =
        unsafe { request.as_ref().map(|r| core::ptr::read_unaligned(r)) }.ok_or(STATUS_INVALID_PARAMETER)?;
    let pin = crate::kernel::pin_from_irp(&irp);
    // SAFETY: KS dispatched this IRP to one of ksframe's pins, whose Context is its
    // PinState from Create to Close.
    let pin = unsafe { PinState::of(pin) }.ok_or(STATUS_INVALID_DEVICE_REQUEST)?;
    let data_len = if data.is_null() { 0 } else { irp.output_buffer_length() };
    Ok(Context { irp, request, pin, data, data_len })
}

/// The handler prologue: the [`Context`], or return the status it failed with.
macro_rules! try_context {
    ($context:expr) => {
        match $context {
            Ok(ctx) => ctx,
            Err(status) => return status,
        }
    };
}

/// Writes `value` into the output buffer and sets Information to its size.
///
/// # Safety
///
/// `ctx.data` points to `ctx.data_len` writable bytes.
unsafe fn reply<T: Copy>(ctx: &mut Context<'_>, value: &T) -> NTSTATUS {
    let size = core::mem::size_of::<T>();
    if ctx.data.is_null() || (ctx.data_len as usize) < size {
        ctx.irp.set_information(0);
        return STATUS_BUFFER_TOO_SMALL;
    }
    // SAFETY: at least `size` writable bytes (checked above, caller's contract); the
    // system buffer need not be aligned for T.
    unsafe { core::ptr::write_unaligned(ctx.data.cast::<T>(), *value) };
    ctx.irp.set_information(size);
    STATUS_SUCCESS
}

/// KSPROPERTY_CONNECTION_ALLOCATORFRAMING, Get: the pin's framing as KSALLOCATOR_FRAMING.
///
/// # Safety
///
/// Called by KS as a PFNKSHANDLER.
pub unsafe extern "system" fn allocator_framing(
    irp: *mut IRP,
    request: *mut KSIDENTIFIER,
    data: PVOID,
) -> NTSTATUS {
    // SAFETY: KS's handler contract.
    let mut ctx = try_context!(unsafe { context(irp, request, data) });
    let framing: KSALLOCATOR_FRAMING = ctx.pin.framing().to_framing();
    // SAFETY: data_len bytes at data (KS's contract).
    unsafe { reply(&mut ctx, &framing) }
}

/// KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX, Get: variable size (24 + 88 × CountItems).
/// Output length 0: STATUS_BUFFER_OVERFLOW with Information = the size needed; shorter
/// than that: STATUS_BUFFER_TOO_SMALL (Information 0); enough: STATUS_SUCCESS with
/// Information = the bytes written.
///
/// # Safety
///
/// Called by KS as a PFNKSHANDLER.
pub unsafe extern "system" fn allocator_framing_ex(
    irp: *mut IRP,
    request: *mut KSIDENTIFIER,
    data: PVOID,
) -> NTSTATUS {
    // SAFETY: KS's handler contract.
    let mut ctx = try_context!(unsafe { context(irp, request, data) });
    let framing: KSALLOCATOR_FRAMING_EX = ctx.pin.framing().to_framing_ex();
    let Some(required) = KSALLOCATOR_FRAMING_EX_SIZE(framing.CountItems) else {
        return STATUS_INVALID_PARAMETER;
    };
    if ctx.data_len == 0 {
        ctx.irp.set_information(required);
        return STATUS_BUFFER_OVERFLOW;
    }
    // SAFETY: data_len bytes at data (KS's contract); `reply` checks the size.
    unsafe { reply(&mut ctx, &framing) }
}

/// KSPROPERTY_STREAM_ALLOCATOR, Get: the allocator handle in use, or NULL.
///
/// # Safety
///
/// Called by KS as a PFNKSHANDLER.
pub unsafe extern "system" fn stream_allocator_get(
    irp: *mut IRP,
    request: *mut KSIDENTIFIER,
    data: PVOID,
) -> NTSTATUS {
    // SAFETY: KS's handler contract.
    let mut ctx = try_context!(unsafe { context(irp, request, data) });
    let handle: HANDLE = ctx.pin.allocator_handle();
    // SAFETY: data_len bytes at data (KS's contract).
    unsafe { reply(&mut ctx, &handle) }
}

/// KSPROPERTY_STREAM_ALLOCATOR, Set: assign the allocator file object behind a handle
/// (referenced with the requestor's mode), or detach with NULL. Refused outside
/// KSSTATE_STOP with STATUS_INVALID_DEVICE_STATE; a handle that does not reference
/// (stale, forged, another object type, a kernel handle from user mode) fails with
/// ObReferenceObjectByHandle's status and changes nothing.
///
/// # Safety
///
/// Called by KS as a PFNKSHANDLER.
pub unsafe extern "system" fn stream_allocator_set(
    irp: *mut IRP,
    request: *mut KSIDENTIFIER,
    data: PVOID,
) -> NTSTATUS {
    // SAFETY: KS's handler contract.
    let mut ctx = try_context!(unsafe { context(irp, request, data) });
    ctx.irp.set_information(0);
    if ctx.data.is_null() || (ctx.data_len as usize) < core::mem::size_of::<HANDLE>() {
        return STATUS_BUFFER_TOO_SMALL;
    }
    if ctx.pin.device_state() != KSSTATE_STOP {
        return STATUS_INVALID_DEVICE_STATE;
    }
    // SAFETY: at least a HANDLE's worth of readable bytes (checked above).
    let handle = unsafe { core::ptr::read_unaligned(ctx.data.cast::<HANDLE>()) };
    if handle.is_null() {
        ctx.pin.set_allocator(handle, None);
        crate::log!("pin allocator detached");
        return STATUS_SUCCESS;
    }
    match reference_object_by_handle(handle, ALLOCATOR_ACCESS, ObjectType::File, ctx.irp.requestor_mode()) {
        Ok(object) => {
            ctx.pin.set_allocator(handle, Some(object));
            crate::log!("pin allocator set handle={:p}", handle);
            STATUS_SUCCESS
        }
        Err(status) => {
            crate::log!("pin allocator refused handle={:p} status={:#010x}", handle, status as u32);
            status
        }
    }
}

/// The pool of this pin's allocator, when KS chose ksframe's allocator for the pipe.
fn pool_of(ctx: &Context<'_>) -> Option<&'static crate::allocator::FramePool> {
    // SAFETY: a pool recorded in the PinState is live until DeleteAllocator detaches it,
    // and KS does not run DeleteAllocator concurrently with the pin's property handlers
    // (both on the pin's control path; inferred).
    unsafe { ctx.pin.pool().as_ref() }
}

/// KSPROPERTY_KSFRAME_ALLOCATOR_STATISTICS, Get: the counters; STATUS_INVALID_DEVICE_STATE
/// when this pin's allocator is not in use (another pin of the pipe allocates).
///
/// # Safety
///
/// Called by KS as a PFNKSHANDLER.
pub unsafe extern "system" fn statistics(irp: *mut IRP, request: *mut KSIDENTIFIER, data: PVOID) -> NTSTATUS {
    // SAFETY: KS's handler contract.
    let mut ctx = try_context!(unsafe { context(irp, request, data) });
    let Some(pool) = pool_of(&ctx) else {
        ctx.irp.set_information(0);
        return STATUS_INVALID_DEVICE_STATE;
    };
    let stats: AllocatorStats = pool.stats();
    // SAFETY: data_len bytes at data (KS's contract).
    unsafe { reply(&mut ctx, &stats) }
}

/// KSPROPERTY_KSFRAME_ALLOCATOR_RESET, Set: zero the counters.
///
/// # Safety
///
/// Called by KS as a PFNKSHANDLER.
pub unsafe extern "system" fn reset_statistics(
    irp: *mut IRP,
    request: *mut KSIDENTIFIER,
    data: PVOID,
) -> NTSTATUS {
    // SAFETY: KS's handler contract.
    let mut ctx = try_context!(unsafe { context(irp, request, data) });
    ctx.irp.set_information(0);
    match pool_of(&ctx) {
        Some(pool) => {
            pool.reset_stats();
            STATUS_SUCCESS
        }
        None => STATUS_INVALID_DEVICE_STATE,
    }
}

/// The SupportHandler of every item: answers KSPROPERTY_TYPE_BASICSUPPORT with the
/// item's access flags. Output 0 bytes: STATUS_BUFFER_OVERFLOW, Information = 40 (a
/// KSPROPERTY_DESCRIPTION); 4 to 39 bytes: the access flags as a ULONG; 40 or more: a
/// KSPROPERTY_DESCRIPTION; 1 to 3 bytes: STATUS_BUFFER_TOO_SMALL.
///
/// # Safety
///
/// Called by KS as a PFNKSHANDLER.
pub unsafe extern "system" fn basic_support(
    irp: *mut IRP,
    request: *mut KSIDENTIFIER,
    data: PVOID,
) -> NTSTATUS {
    // SAFETY: KS's handler contract.
    let mut ctx = try_context!(unsafe { context(irp, request, data) });
    if ctx.request.Flags & KSPROPERTY_TYPE_BASICSUPPORT == 0 {
        return STATUS_INVALID_PARAMETER;
    }
    let Some(item) = super::find_item(&ctx.request.Set, ctx.request.Id) else {
        return STATUS_NOT_FOUND;
    };
    let mut access = KSPROPERTY_TYPE_BASICSUPPORT;
    if item.GetPropertyHandler.is_some() {
        access |= KSPROPERTY_TYPE_GET;
    }
    if item.SetPropertyHandler.is_some() {
        access |= KSPROPERTY_TYPE_SET;
    }
    let description = KSPROPERTY_DESCRIPTION {
        AccessFlags: access,
        DescriptionSize: core::mem::size_of::<KSPROPERTY_DESCRIPTION>() as u32,
        PropTypeSet: KSIDENTIFIER { Set: KSPROPTYPESETID_General, Id: 0, Flags: 0 },
        MembersListCount: 0,
        Reserved: 0,
    };
    match ctx.data_len as usize {
        0 => {
            ctx.irp.set_information(core::mem::size_of::<KSPROPERTY_DESCRIPTION>());
            STATUS_BUFFER_OVERFLOW
        }
        n if n >= core::mem::size_of::<KSPROPERTY_DESCRIPTION>() => {
            // SAFETY: data_len bytes at data.
            unsafe { reply(&mut ctx, &description) }
        }
        // SAFETY: data_len bytes at data; `reply` refuses 1..=3 bytes.
        _ => unsafe { reply(&mut ctx, &access) },
    }
}
