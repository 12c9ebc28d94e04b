//! The Rust frame allocator behind `KSPIN_DISPATCH.Allocator`.
//!
//! [`ALLOCATOR_DISPATCH`] is a complete `KSALLOCATOR_DISPATCH` that knows no pin; the
//! pins' own dispatch (`PIN_ALLOCATOR_DISPATCH` in the avstream module) uses [`allocate`] and
//! [`free`] as they are and wraps [`initialize_allocator`] / [`delete_allocator`] to
//! record the pool in the pin's state (for the statistics property). Offering it does
//! not oblige the graph to use it: the callbacks run only when a client creates an
//! allocator on the pin (KsCreateAllocator → KsCreateDefaultAllocatorEx →
//! InitializeAllocator with the client's framing), and frames only come from it once
//! that allocator is assigned to the IRP source of a pipe.
//!
//! # Kernel contract
//!
//! | callback              | IRQL              | what it does                             |
//! |-----------------------|-------------------|------------------------------------------|
//! | `InitializeAllocator` | PASSIVE_LEVEL     | validates the framing, preallocates every frame ([`FramePool::new`]) |
//! | `Allocate`            | <= DISPATCH_LEVEL | O(1), lock-free, never allocates; NULL when `Frames` are out |
//! | `Free`                | <= DISPATCH_LEVEL | O(1), lock-free; a foreign pointer or a double free is refused and counted |
//! | `DeleteAllocator`     | PASSIVE_LEVEL     | releases the pool, or defers the release to the last frame's Free; may wait a few instructions for a Free in progress ([`FramePool::delete`]) |
//!
//! KS calls DeleteAllocator when the allocator's file object is closed (KS-NOTES, "How
//! AVStream calls the driver"; ReactOS `drivers/ksfilter/ks/allocators.c`), that is from
//! IRP_MJ_CLOSE at PASSIVE_LEVEL, after the allocator's last Allocate.
//!
//! The context KS keeps between the calls is the pool's address (`PoolBox::into_raw`),
//! never null once InitializeAllocator succeeded; Allocate and Free rely on that (KS
//! calls them only on an allocator it created), DeleteAllocator tolerates null.
//! Its lifetime: from a successful InitializeAllocator until DeleteAllocator, or, when
//! frames are still out then, until the last of them is freed (the release is deferred
//! rather than reported as a leak: memory is never pulled from under a frame's holder,
//! and a pin that never returns its frames shows up in the counters and the log).
//!
//! # Failure statuses of InitializeAllocator
//!
//! - STATUS_INVALID_PARAMETER: null framing or context pointer, or a framing that
//!   [`Geometry::from_framing`] rejects (FrameSize 0, OptionsFlags outside
//!   [`KNOWN_OPTIONS`], FileAlignment not 2^k − 1 or above PAGE_SIZE − 1, more
//!   than [`MAX_FRAMES`] frames, too many bytes); Frames 0 is accepted and takes
//!   [`DEFAULT_FRAMES`];
//! - STATUS_INSUFFICIENT_RESOURCES: the pool refused one of the three allocations.
//!
//! In both cases `*Context` is left NULL and nothing stays allocated.

mod pool;

pub use pool::{
    DEFAULT_FRAMES, DeleteOutcome, FRAME_POISON, FramePool, FreeError, FreeOutcome, Geometry, KNOWN_OPTIONS,
    MAX_ALIGNMENT, MAX_FRAMES, MAX_POOL_BYTES,
};

use crate::ks::{
    KSALLOCATOR_DISPATCH, KSALLOCATOR_FRAMING, KSPIN, NTSTATUS, PVOID, STATUS_INVALID_PARAMETER,
    STATUS_SUCCESS,
};
use core::ptr::NonNull;

/// The allocator's counters, as the private property set reports them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocatorStats {
    /// Frames handed out by Allocate.
    pub allocations: u64,
    /// Frames taken back by Free.
    pub frees: u64,
    /// Allocate calls that returned NULL (all frames out, or after delete).
    pub allocation_failures: u64,
    /// Free calls refused: a pointer not of this pool, or a frame already free.
    pub rejected_frees: u64,
    /// Frames out now.
    pub outstanding: u32,
    /// The most frames out at once since creation (or the last reset).
    pub peak_outstanding: u32,
    /// The pool's frame count.
    pub frames: u32,
    /// The pool's frame size in bytes.
    pub frame_size: u32,
}

/// A KSALLOCATOR_DISPATCH over the frame pool alone (no pin bookkeeping).
pub static ALLOCATOR_DISPATCH: KSALLOCATOR_DISPATCH = KSALLOCATOR_DISPATCH {
    InitializeAllocator: Some(initialize_allocator),
    DeleteAllocator: Some(delete_allocator),
    Allocate: Some(allocate),
    Free: Some(free),
};

/// `PFNKSPININITIALIZEALLOCATOR`: validates the framing and builds the pool. The
/// initial context (the pin, from AVStream) is not used here.
///
/// # Safety
///
/// Called by KS: `framing` is null or points to a KSALLOCATOR_FRAMING, `context` is null
/// or points to a writable PVOID.
pub unsafe extern "system" fn initialize_allocator(
    _pin: *mut KSPIN,
    framing: *mut KSALLOCATOR_FRAMING,
    context: *mut PVOID,
) -> NTSTATUS {
    if context.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: `context` is non-null and writable (KS's contract).
    unsafe { context.write(core::ptr::null_mut()) };
    // SAFETY: non-null `framing` points to a KSALLOCATOR_FRAMING (KS's contract); it is
    // copied, not kept.
    let Some(framing) = (unsafe { framing.as_ref() }) else {
        return STATUS_INVALID_PARAMETER;
    };
    match FramePool::new(framing) {
        Ok(pool) => {
            let geometry = pool.geometry();
            let raw = pool.into_raw();
            // SAFETY: as above; the pool's ownership passes to the context.
            unsafe { context.write(raw.cast()) };
            crate::log!(
                "allocator init frames={} size={} align={} pool={:p}",
                geometry.frames,
                geometry.frame_size,
                geometry.alignment,
                raw
            );
            STATUS_SUCCESS
        }
        Err(status) => {
            crate::log!(
                "allocator init refused frames={} size={} align_mask={:#x} options={:#x} status={:#010x}",
                framing.Frames,
                framing.FrameSize,
                framing.FileAlignment,
                framing.OptionsFlags,
                status as u32
            );
            status
        }
    }
}

/// `PFNKSDELETEALLOCATOR`: releases the pool, or defers the release to the last Free.
///
/// # Safety
///
/// `context` is what InitializeAllocator stored (or null), and delete runs once; the
/// pool's owner has been taken out ([`FramePool::take_owner`]) by whoever recorded it.
pub unsafe extern "system" fn delete_allocator(context: PVOID) {
    let Some(pool) = NonNull::new(context.cast::<FramePool>()) else {
        return;
    };
    // SAFETY: the context is a live pool, deleted once (KS's contract).
    match unsafe { FramePool::delete(pool) } {
        DeleteOutcome::Released => crate::log!("allocator delete released pool={:p}", context),
        DeleteOutcome::Deferred { outstanding } => crate::log!(
            "allocator delete deferred pool={:p} outstanding={} (released when the last frame is freed)",
            context,
            outstanding
        ),
    }
}

/// `PFNKSDEFAULTALLOCATE`: a frame, or NULL when all are out.
///
/// # Safety
///
/// `context` is a live pool from InitializeAllocator. KS calls Allocate and Free only
/// on an allocator whose InitializeAllocator succeeded, which always stores a non-null
/// context, so neither checks for null (each check would cost the hot path two
/// instructions; DeleteAllocator, which is not hot, still tolerates null).
pub unsafe extern "system" fn allocate(context: PVOID) -> PVOID {
    // SAFETY: a live pool (KS's contract).
    let pool = unsafe { &*context.cast::<FramePool>() };
    pool.allocate().map_or(core::ptr::null_mut(), |f| f.as_ptr().cast())
}

/// `PFNKSDEFAULTFREE`: returns a frame; foreign pointers and double frees are refused
/// and counted, never corrupting the pool.
///
/// # Safety
///
/// `context` is a live pool from InitializeAllocator (never null: see [`allocate`]).
pub unsafe extern "system" fn free(context: PVOID, buffer: PVOID) {
    // SAFETY: KS's contract: a live pool, so non-null.
    let pool = unsafe { NonNull::new_unchecked(context.cast::<FramePool>()) };
    // SAFETY: a live pool (KS's contract).
    if let Err(q) = unsafe { FramePool::free_fast(pool, buffer.cast()) } {
        // SAFETY: as above; the common path did not complete this Free.
        unsafe { free_rest(pool, q) }
    }
}

/// Free's rare outcomes and their log lines, out of line so that the common path needs
/// no stack frame. An `extern "system"` (cannot unwind) function, so that Free reaches
/// it by a tail jump.
///
/// # Safety
///
/// `pool` is live and [`FramePool::free_fast`] returned `Err(q)`.
#[cold]
#[inline(never)]
unsafe extern "system" fn free_rest(pool: NonNull<FramePool>, q: u64) {
    let context: PVOID = pool.as_ptr().cast();
    // SAFETY: the caller's contract: the pool is live until free_rest below returns.
    let buffer = unsafe { pool.as_ref() }.address_of(q);
    // SAFETY: the caller's contract.
    match unsafe { FramePool::free_rest(pool, q) } {
        Ok(FreeOutcome::Freed) => {}
        Ok(FreeOutcome::ReleasedPool) => {
            crate::log!("allocator last frame back: pool={:p} released", context)
        }
        Err(FreeError::Foreign) => {
            crate::log!("allocator free refused: {:p} is not a frame of pool={:p}", buffer, context)
        }
        Err(FreeError::AlreadyFree) => {
            crate::log!("allocator free refused: {:p} is already free (pool={:p})", buffer, context)
        }
    }
}

/// The counters of the pool behind an allocator context (for the property handlers).
///
/// # Safety
///
/// `context` is null or a live pool from InitializeAllocator.
pub unsafe fn stats_of(context: PVOID) -> Option<AllocatorStats> {
    // SAFETY: the caller's contract.
    unsafe { context.cast::<FramePool>().as_ref() }.map(FramePool::stats)
}
