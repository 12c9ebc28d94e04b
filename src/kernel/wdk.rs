//! The wdk backend (the Windows driver build): pool memory through wdk-sys.
//!
//! The WDK build targets Windows 10 2004 and later, where ExAllocatePool2 exists, so it
//! is called directly through wdk-sys's binding; freeing uses ExFreePoolWithTag with the
//! same tag. The KS calls and the debug log use the raw backend's imports
//! (raw-dylib links the same way under the MSVC linker), so the two kernel builds share
//! them. Only a Windows build with the WDK compiles this file.

pub(super) use super::raw::{
    acquire_spin_lock, advance_and_unlock, attempt_processing, cancel_timer, flush_queued_dpcs,
    initialize_dpc, initialize_timer, ks_edit, leading_edge, log, performance_counter, pin_from_irp,
    reference_clock, release_spin_lock, set_timer,
};

pub(super) const NAME: &str = "wdk";

/// The pool routine this backend uses, for the load log.
pub(super) fn pool_routine_name() -> &'static str {
    "ExAllocatePool2"
}

/// wdm.h `POOL_FLAG_UNINITIALIZED`: ExAllocatePool2 does not zero the block (the pool
/// layer above fills what it hands out, once).
const POOL_FLAG_UNINITIALIZED: wdk_sys::POOL_FLAGS = 0x0000_0000_0000_0002;

pub(super) unsafe fn pool_alloc(bytes: usize, tag: u32) -> *mut u8 {
    // SAFETY: ExAllocatePool2 with POOL_FLAG_NON_PAGED at IRQL <= DISPATCH_LEVEL (the
    // parent module's contract); it returns null on failure.
    unsafe {
        wdk_sys::ntddk::ExAllocatePool2(
            wdk_sys::POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED,
            bytes as wdk_sys::SIZE_T,
            tag,
        )
    }
    .cast()
}

pub(super) unsafe fn fill_zero(ptr: *mut u8, len: usize) {
    // SAFETY: the caller's contract: `len` writable bytes at `ptr`.
    unsafe { core::ptr::write_bytes(ptr, 0, len) }
}

pub(super) unsafe fn pool_free(ptr: *mut u8, tag: u32) {
    // SAFETY: `ptr` came from pool_alloc with `tag` (parent contract).
    unsafe { wdk_sys::ntddk::ExFreePoolWithTag(ptr.cast(), tag) }
}
