//! The platform boundary: the one module that knows which build it is in.
//!
//! Everything above this module calls the same functions in all three builds; the
//! backend behind them is chosen here, once:
//!
//! | build  | selected when                                   | backend          |
//! |--------|-------------------------------------------------|------------------|
//! | host   | feature `host`                                  | [`host`] (std)   |
//! | driver | feature `wdk` on a Windows target, not `host`   | `wdk` (wdk-sys)  |
//! | cross  | otherwise (`--no-default-features` on Windows)  | `raw` (raw-dylib)|
//!
//! On a non-Windows target without `host` (a plain `cargo build` on Linux) the `raw`
//! backend is compiled against plain `extern` declarations, so the driver code is
//! type-checked and linked as a shared object even there.
//!
//! # Kernel contract
//!
//! - [`PoolBuffer::new`] / drop: IRQL <= DISPATCH_LEVEL, any context; the memory is
//!   non-paged, so it may be touched at any IRQL <= DISPATCH_LEVEL.
//! - [`log!`](crate::log): IRQL <= DIRQL; the line is formatted into a fixed stack
//!   buffer and truncated, never allocated.
//! - [`Irp`]: a borrowed view of an IRP that the I/O manager owns; it lives only as
//!   long as the dispatch call that received the IRP.
//! - [`sync`]: the atomics the allocator uses: `core`'s, or loom's under `cfg(loom)`.

#![allow(clippy::module_name_repetitions)]

mod irp;
mod pool;
pub mod time;

pub use irp::Irp;
pub use pool::{POOL_TAG, PoolBox, PoolBuffer};
pub use time::{ReferenceClock, Timer, attempt_processing, flush_queued_dpcs, now};

use crate::ks::{NTSTATUS, PVOID};
use core::ptr::NonNull;

#[cfg(feature = "host")]
pub mod host;
#[cfg(feature = "host")]
use host as backend;

#[cfg(all(not(feature = "host"), feature = "wdk", windows))]
mod wdk;
#[cfg(all(not(feature = "host"), feature = "wdk", windows))]
use wdk as backend;

// The raw imports serve the cross build, and the driver build reuses part of them.
#[cfg(not(feature = "host"))]
pub(crate) mod raw;
#[cfg(all(not(feature = "host"), not(all(feature = "wdk", windows))))]
use raw as backend;

/// Which backend this build uses, for logs and tests.
pub const BACKEND: &str = backend::NAME;

/// The pool routine the kernel backend allocates with (raw: ExAllocatePool2 when the
/// kernel has it, else ExAllocatePoolWithTag), for the load log.
#[cfg(not(feature = "host"))]
pub fn pool_routine_name() -> &'static str {
    backend::pool_routine_name()
}

/// The size of a page on x64; the largest alignment [`PoolBuffer`] accepts.
pub const PAGE_SIZE: usize = 4096;

/// The alignment every pool allocation has at least (x64 pool blocks are 16-aligned).
pub const POOL_ALIGNMENT: usize = 16;

/// Atomics for lock-free code: `core`'s in every build, loom's model under `cfg(loom)`.
pub mod sync {
    #[cfg(loom)]
    pub use loom::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};

    #[cfg(not(loom))]
    pub use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};

    /// One turn of a spin-wait: the processor's pause hint; under loom a yield, so that
    /// the model runs the thread being waited for.
    #[inline]
    pub fn spin_loop() {
        #[cfg(loom)]
        loom::thread::yield_now();
        #[cfg(not(loom))]
        core::hint::spin_loop();
    }
}

/// The pin an IRP addressed to a pin belongs to (`KsGetPinFromIrp`), or null.
///
/// Host build: the KS simulator stores the KSPIN pointer in the current stack
/// location's `FileObject` (on Windows, KS reaches the pin through the file object's
/// context; the simulator collapses that indirection).
pub fn pin_from_irp(irp: &Irp<'_>) -> *mut crate::ks::KSPIN {
    // SAFETY: `irp` is a valid IRP for the call (Irp invariants); the backends only read
    // it.
    unsafe { backend::pin_from_irp(irp.as_ptr()) }
}

/// `KsEdit`: makes `*item` (an object reachable from a KS object, e.g. a pin's
/// descriptor) a private, writable copy of `size` bytes held in the object's bag, which KS
/// frees with the object. After it `*item` may be written.
///
/// # Safety
///
/// PASSIVE_LEVEL; `bag` is the bag of a live KS object, and `item` points to a pointer to
/// at least `size` readable bytes that the object owns or shares (a static descriptor).
pub unsafe fn ks_edit(bag: crate::ks::KSOBJECT_BAG, item: *mut PVOID, size: u32) -> NTSTATUS {
    // SAFETY: the caller's contract.
    unsafe { backend::ks_edit(bag, item, size) }
}

/// The pin's leading-edge stream pointer, locked
/// (`KsPinGetLeadingEdgeStreamPointer(Pin, KSSTREAM_POINTER_STATE_LOCKED)`), or `None`
/// when no frame is queued.
///
/// # Safety
///
/// Call from the pin's Process dispatch with the pin being processed.
pub unsafe fn leading_edge(pin: *mut crate::ks::KSPIN) -> Option<NonNull<crate::ks::KSSTREAM_POINTER>> {
    // SAFETY: the caller's contract: `pin` is the live pin being processed.
    NonNull::new(unsafe { backend::leading_edge(pin) })
}

/// `KsStreamPointerAdvanceOffsetsAndUnlock`: marks `in_used` input and `out_used` output
/// bytes consumed and unlocks the pointer; with `eject`, the frame moves on.
///
/// # Safety
///
/// `pointer` came from [`leading_edge`] in this Process call and is not used afterwards.
pub unsafe fn advance_and_unlock(
    pointer: NonNull<crate::ks::KSSTREAM_POINTER>,
    in_used: u32,
    out_used: u32,
    eject: bool,
) {
    // SAFETY: the caller's contract.
    unsafe { backend::advance_and_unlock(pointer.as_ptr(), in_used, out_used, eject) }
}

/// PAGED_CODE(): marks a routine that must run below DISPATCH_LEVEL (it may touch
/// pageable memory or call routines that require PASSIVE_LEVEL). The host build checks
/// the current IRQL and bug-checks (panics) above APC_LEVEL, as the WDK's checked
/// PAGED_CODE does; the kernel builds place no code in pageable sections and compile it
/// to nothing (reading the IRQL there is a CR8 read, an intrinsic with no import).
#[cfg_attr(feature = "host", track_caller)]
pub fn paged_code(routine: &str) {
    #[cfg(feature = "host")]
    host::paged_code(routine);
    #[cfg(not(feature = "host"))]
    let _ = routine;
}

/// A kernel spin lock (`KSPIN_LOCK`), acquired with KeAcquireSpinLockRaiseToDpc: the
/// holder runs at DISPATCH_LEVEL until the guard drops (KeReleaseSpinLock).
///
/// # Kernel contract
///
/// Acquire at IRQL <= DISPATCH_LEVEL; the lock lives in non-paged memory; hold it
/// briefly and touch only non-paged memory meanwhile; never return from a callback
/// with it held (the guard's lifetime enforces that unless the guard is leaked).
#[derive(Debug, Default)]
pub struct SpinLock {
    lock: core::cell::UnsafeCell<usize>,
}

// SAFETY: the KSPIN_LOCK word is only touched by the kernel's acquire/release, which
// synchronise it.
unsafe impl Sync for SpinLock {}

/// A held [`SpinLock`]; dropping it releases the lock and restores the IRQL.
#[derive(Debug)]
#[must_use = "the lock is released when the guard drops"]
pub struct SpinLockGuard<'a> {
    lock: &'a SpinLock,
    old_irql: u8,
}

impl SpinLock {
    /// An unlocked spin lock (KeInitializeSpinLock zeroes it).
    pub const fn new() -> Self {
        Self { lock: core::cell::UnsafeCell::new(0) }
    }

    /// KeAcquireSpinLockRaiseToDpc. IRQL <= DISPATCH_LEVEL.
    pub fn lock(&self) -> SpinLockGuard<'_> {
        // SAFETY: a KSPIN_LOCK in memory that outlives the guard.
        let old_irql = unsafe { backend::acquire_spin_lock(self.lock.get()) };
        SpinLockGuard { lock: self, old_irql }
    }
}

impl Drop for SpinLockGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: the lock this guard acquired, released once with the saved IRQL.
        unsafe { backend::release_spin_lock(self.lock.lock.get(), self.old_irql) }
    }
}

/// Writes one line to the kernel debugger (DbgPrintEx, IHVDRIVER, INFO level).
///
/// Use the [`log!`](crate::log) macro rather than calling this directly.
pub fn log_fmt(args: core::fmt::Arguments<'_>) {
    backend::log(args);
}

/// Logs one line to the kernel debugger: `ksframe: ` + the formatted text.
///
/// Formats into a fixed buffer on the stack (truncating long lines); never allocates.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::kernel::log_fmt(format_args!($($arg)*))
    };
}

/// A fixed-capacity line buffer for the log backends: truncates, never allocates,
/// always leaves room for a terminating NUL.
pub(crate) struct LineBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> LineBuf<N> {
    pub(crate) const fn new() -> Self {
        Self { buf: [0; N], len: 0 }
    }

    /// The text written so far, NUL-terminated (the NUL is not part of the slice's
    /// text but follows it in the buffer).
    #[cfg_attr(feature = "host", allow(dead_code))]
    pub(crate) fn as_c_ptr(&self) -> *const u8 {
        self.buf.as_ptr()
    }

    #[cfg_attr(not(feature = "host"), allow(dead_code))]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

impl<const N: usize> core::fmt::Write for LineBuf<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // Keep one byte for the NUL; drop what does not fit (truncation, not an error,
        // so a long line still prints its start).
        let room = N.saturating_sub(1).saturating_sub(self.len);
        let take = s.len().min(room);
        if let (Some(dst), Some(src)) =
            (self.buf.get_mut(self.len..self.len.saturating_add(take)), s.as_bytes().get(..take))
        {
            dst.copy_from_slice(src);
            self.len = self.len.saturating_add(take);
        }
        if let Some(nul) = self.buf.get_mut(self.len) {
            *nul = 0;
        }
        Ok(())
    }
}

/// Formats `args` behind the `ksframe: ` prefix into a line buffer.
pub(crate) fn format_line<const N: usize>(args: core::fmt::Arguments<'_>) -> LineBuf<N> {
    use core::fmt::Write as _;
    let mut line = LineBuf::<N>::new();
    // Writing into a LineBuf never fails (it truncates), and a Display impl that
    // reports an error only shortens the line.
    let _ = line.write_str("ksframe: ");
    let _ = line.write_fmt(args);
    let _ = line.write_str("\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_buffer_truncates_and_terminates() {
        let line = format_line::<16>(format_args!("{}", "abcdefghijklmnopqrstuvwxyz"));
        assert_eq!(line.as_bytes(), b"ksframe: abcdef");
        assert_eq!(line.as_bytes().len(), 15);
        // SAFETY: the buffer is 16 bytes and byte 15 is the terminating NUL.
        assert_eq!(unsafe { *line.as_c_ptr().add(15) }, 0);
    }

    #[test]
    fn line_buffer_keeps_short_lines_whole() {
        let line = format_line::<64>(format_args!("pin {} state {}", 1, "RUN"));
        assert_eq!(line.as_bytes(), b"ksframe: pin 1 state RUN\n");
    }

    #[test]
    fn backend_is_host_in_tests() {
        assert_eq!(BACKEND, "host");
    }
}
