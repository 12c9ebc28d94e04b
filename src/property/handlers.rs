//! The property handlers (`PFNKSHANDLER`s).
//!
//! Each one runs at PASSIVE_LEVEL with `(Irp, Request, Data)` as KS passes them: `Data`
//! is the system buffer of `OutputBufferLength` bytes (null when that length is 0), and
//! KS has already checked MinProperty and, for Get and Set, MinData.

use crate::allocator::AllocatorStats;
use crate::kernel::Irp;
use crate::ks::{
    IRP, KSALLOCATOR_FRAMING, KSALLOCATOR_FRAMING_EX, KSALLOCATOR_FRAMING_EX_SIZE, KSIDENTIFIER,
    KSPROPERTY_DROPPEDFRAMES_CURRENT_S, NTSTATUS, PVOID, STATUS_BUFFER_OVERFLOW, STATUS_BUFFER_TOO_SMALL,
    STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};
use crate::pin::PinState;

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
    crate::kernel::paged_code("a property handler");
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

/// KSPROPERTY_DROPPEDFRAMES_CURRENT (PROPSETID_VIDCAP_DROPPEDFRAMES) Get: the capture
/// pin's picture number, drop count and average frame size since STOP → ACQUIRE
/// ([`crate::pacing::Pacer::dropped`]). The value is a whole
/// KSPROPERTY_DROPPEDFRAMES_CURRENT_S ("KSPROPERTY_DROPPEDFRAMES_CURRENT" docs: the
/// property descriptor and value types are both that structure), its Property member
/// a copy of the request.
///
/// # Safety
///
/// As a PFNKSHANDLER: KS checked MinData (48).
pub unsafe extern "system" fn dropped_frames(
    irp: *mut IRP,
    request: *mut KSIDENTIFIER,
    data: PVOID,
) -> NTSTATUS {
    // SAFETY: KS's handler contract.
    let mut ctx = try_context!(unsafe { context(irp, request, data) });
    let counts = ctx.pin.pacer().dropped();
    let value = KSPROPERTY_DROPPEDFRAMES_CURRENT_S {
        Property: ctx.request,
        PictureNumber: counts.picture_number,
        DropCount: counts.drop_count,
        AverageFrameSize: counts.average_frame_size,
    };
    // SAFETY: `data` is the system buffer of `data_len` bytes (KS's contract).
    unsafe { reply(&mut ctx, &value) }
}
