//! Time, timers and DPCs, and the two AVStream routines a paced pin needs
//! (KsPinAttemptProcessing, KsPinGetReferenceClockInterface): safe wrappers over the
//! backend's raw calls.
//!
//! # Kernel contract
//!
//! - [`now`]: any IRQL. KeQueryPerformanceCounter ("KeQueryPerformanceCounter routine":
//!   any IRQL), scaled to 100 ns units as KSCONVERT_PERFORMANCE_TIME does (avscamera's
//!   timestamps use the same source). It is the interrupt-time axis at full precision
//!   (KeQueryInterruptTimePrecise is built on it); the x64 KeQueryInterruptTime is a
//!   header inline reading KUSER_SHARED_DATA, which no import library exports and
//!   Wine's kernel emulation does not map.
//! - [`Timer`]: KTIMER + KDPC storage that must stay at one non-paged address from
//!   [`Timer::init`] until the timer is cancelled and no DPC is queued or running
//!   ([`Timer::shutdown`]); set and cancel at IRQL <= DISPATCH_LEVEL ("KeSetTimerEx",
//!   "KeCancelTimer" docs). The DPC routine runs at DISPATCH_LEVEL in an arbitrary
//!   thread context.
//! - [`flush_queued_dpcs`]: PASSIVE_LEVEL only ("KeFlushQueuedDpcs routine": "The caller
//!   must be running at IRQL = PASSIVE_LEVEL"); returns after every DPC queued on any
//!   processor when it was called has run.
//! - [`attempt_processing`]: IRQL <= DISPATCH_LEVEL ("KsPinAttemptProcessing" docs).
//! - [`ReferenceClock::of_pin`]: PASSIVE_LEVEL ("KsPinGetReferenceClockInterface" docs);
//!   the interface is referenced and released on drop.

use super::backend;
use crate::ks::{IKsReferenceClock, KDPC, KSPIN, KTIMER, NT_SUCCESS, PVOID};
use core::cell::UnsafeCell;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

/// 100 ns units per second (KS's REFERENCE_TIME).
pub const UNITS_PER_SECOND: i64 = 10_000_000;

/// Monotonic time in 100 ns units since an arbitrary origin (boot), at any IRQL.
pub fn now() -> i64 {
    let (count, frequency) = backend::performance_counter();
    scale_counter(count, frequency)
}

/// `count` ticks of a `frequency` Hz counter in 100 ns units, without overflowing the
/// intermediate product (KSCONVERT_PERFORMANCE_TIME splits it the same way).
pub fn scale_counter(count: i64, frequency: i64) -> i64 {
    if frequency <= 0 {
        return 0;
    }
    let whole = count.checked_div(frequency).unwrap_or(0);
    let part = count.checked_rem(frequency).unwrap_or(0);
    whole
        .saturating_mul(UNITS_PER_SECOND)
        .saturating_add(part.saturating_mul(UNITS_PER_SECOND).checked_div(frequency).unwrap_or(0))
}

/// A DPC routine, as KeInitializeDpc takes it.
pub type DpcRoutine = unsafe extern "system" fn(dpc: *mut KDPC, context: PVOID, arg1: PVOID, arg2: PVOID);

/// A one-shot kernel timer whose expiry queues a DPC, re-armable from that DPC.
///
/// It is two KTIMER + KDPC pairs used in turn: each [`Timer::set`] arms the pair the
/// previous set did not, so a DPC that re-arms the timer never sets the KTIMER whose
/// expiry queued it. Windows allows re-arming a timer from its own DPC (avshws does),
/// but Wine 8's KeSetTimerEx first cancels a set timer with
/// WaitForThreadpoolTimerCallbacks, which waits forever when called from that timer's
/// own callback (dlls/ntoskrnl.exe/sync.c; observed here as a hang in RUN). Alternating
/// costs one more KTIMER and KDPC and is correct on both.
///
/// # Invariants
///
/// After [`Timer::init`] the storage is the kernel's: it is only touched through the
/// kernel routines, and it must not move or be freed while a timer is set or a DPC is
/// queued or running ([`Timer::shutdown`] establishes that).
#[derive(Debug)]
pub struct Timer {
    timers: [UnsafeCell<KTIMER>; 2],
    dpcs: [UnsafeCell<KDPC>; 2],
    /// The pair the next set arms (0 or 1).
    turn: AtomicUsize,
}

// SAFETY: the KTIMERs and KDPCs are only accessed through kernel routines, which
// synchronise their own access to them (the timer and DPC queues' locks); `turn` is
// atomic.
unsafe impl Sync for Timer {}
// SAFETY: as above; the storage holds no thread-bound state before init.
unsafe impl Send for Timer {}

impl Timer {
    /// Storage for a timer, not yet initialised (all zero, as ExAllocatePool2 leaves it).
    pub const fn new() -> Self {
        // SAFETY: KTIMER and KDPC are plain C structs for which all-zero bytes are valid
        // (null pointers, zero counts).
        unsafe {
            Self {
                timers: [UnsafeCell::new(core::mem::zeroed()), UnsafeCell::new(core::mem::zeroed())],
                dpcs: [UnsafeCell::new(core::mem::zeroed()), UnsafeCell::new(core::mem::zeroed())],
                turn: AtomicUsize::new(0),
            }
        }
    }

    /// KeInitializeTimerEx(NotificationTimer) and KeInitializeDpc(routine, context), for
    /// both pairs.
    ///
    /// # Safety
    ///
    /// `self` is at its final non-paged address and stays there until
    /// [`Timer::shutdown`] has returned; no timer is set; `context` is valid for
    /// `routine` whenever a DPC can run. IRQL <= DISPATCH_LEVEL.
    pub unsafe fn init(&self, routine: DpcRoutine, context: PVOID) {
        for (timer, dpc) in self.timers.iter().zip(&self.dpcs) {
            // SAFETY: the caller's contract; the storage is ours and not yet in use.
            unsafe {
                backend::initialize_timer(timer.get());
                backend::initialize_dpc(dpc.get(), routine, context);
            }
        }
    }

    /// Sets the timer to expire `after` 100 ns units from now (at least 1) and queue the
    /// DPC. Returns whether the pair it armed was still set.
    ///
    /// # Safety
    ///
    /// [`Timer::init`] was called. IRQL <= DISPATCH_LEVEL. Not called again before the
    /// expiry it arms, except after [`Timer::shutdown`] (one set per expiry, so the
    /// pairs strictly alternate).
    pub unsafe fn set(&self, after: i64) -> bool {
        // A negative due time is relative (KeSetTimerEx docs).
        let due = after.max(1).saturating_neg();
        let i = self.turn.fetch_xor(1, Ordering::AcqRel) & 1;
        let (Some(timer), Some(dpc)) = (self.timers.get(i), self.dpcs.get(i)) else { return false };
        // SAFETY: an initialised timer and DPC (the caller's contract).
        unsafe { backend::set_timer(timer.get(), due, dpc.get()) }
    }

    /// KeCancelTimer on both pairs: whether one was set (and is now not).
    ///
    /// # Safety
    ///
    /// [`Timer::init`] was called. IRQL <= DISPATCH_LEVEL.
    pub unsafe fn cancel(&self) -> bool {
        let mut was = false;
        for timer in &self.timers {
            // SAFETY: an initialised timer (the caller's contract).
            was |= unsafe { backend::cancel_timer(timer.get()) };
        }
        was
    }

    /// Stops the timer for good: after it returns no timer is set and no DPC is queued
    /// or running, provided the DPC re-arms the timer only while a flag of its owner
    /// says so and that flag is already cleared.
    ///
    /// Cancel, flush (a DPC that already ran may have re-armed the timer before it saw
    /// the stop), cancel again, flush again (a DPC queued by an expiry between the two
    /// cancels has run and, seeing the stop, re-armed nothing). avscamera's KTimer
    /// cancels then flushes the same way.
    ///
    /// # Safety
    ///
    /// [`Timer::init`] was called. PASSIVE_LEVEL.
    pub unsafe fn shutdown(&self) {
        // SAFETY: the caller's contract.
        unsafe {
            let _ = self.cancel();
            flush_queued_dpcs();
            let _ = self.cancel();
            flush_queued_dpcs();
        }
    }
}

impl Default for Timer {
    fn default() -> Self {
        Self::new()
    }
}

/// KeFlushQueuedDpcs: returns after every queued DPC has run.
///
/// # Safety
///
/// PASSIVE_LEVEL.
pub unsafe fn flush_queued_dpcs() {
    // SAFETY: the caller's contract.
    unsafe { backend::flush_queued_dpcs() }
}

/// KsPinAttemptProcessing(pin, asynchronous): asks AVStream to call the pin's Process
/// if its gate is open and data is queued.
///
/// # Safety
///
/// `pin` is a live pin. IRQL <= DISPATCH_LEVEL (asynchronous must be true above
/// PASSIVE_LEVEL for the call to be deferred rather than made in place).
pub unsafe fn attempt_processing(pin: *mut KSPIN, asynchronous: bool) {
    // SAFETY: the caller's contract.
    unsafe { backend::attempt_processing(pin, asynchronous) }
}

/// The pin's master clock, referenced.
#[derive(Debug)]
pub struct ReferenceClock {
    interface: NonNull<IKsReferenceClock>,
}

// SAFETY: a KS reference clock may be called from any thread (its GetTime reads the
// clock through the clock's own function table); the reference is released once.
unsafe impl Send for ReferenceClock {}
// SAFETY: as above: GetTime takes no lock of the caller's and mutates nothing visible.
unsafe impl Sync for ReferenceClock {}

impl ReferenceClock {
    /// KsPinGetReferenceClockInterface: the pin's master clock, if one is assigned.
    ///
    /// # Safety
    ///
    /// `pin` is a live pin. PASSIVE_LEVEL.
    pub unsafe fn of_pin(pin: *mut KSPIN) -> Option<Self> {
        let mut interface: *mut IKsReferenceClock = core::ptr::null_mut();
        // SAFETY: the caller's contract; `interface` is a valid out pointer.
        let status = unsafe { backend::reference_clock(pin, &mut interface) };
        if !NT_SUCCESS(status) {
            return None;
        }
        NonNull::new(interface).map(|interface| Self { interface })
    }

    /// The clock's current time (IKsReferenceClock::GetTime), 100 ns units.
    pub fn time(&self) -> i64 {
        // SAFETY: a referenced interface whose vtable is the KS one (ks.h order).
        unsafe {
            let this = self.interface.as_ptr();
            match (*(*this).lpVtbl).GetTime {
                Some(get_time) => get_time(this),
                None => 0,
            }
        }
    }

    /// The time of a clock held as a pointer from [`ReferenceClock::into_raw`], without
    /// taking the reference back; None for null.
    ///
    /// # Safety
    ///
    /// `raw` is null or came from `into_raw` and has not been taken back.
    pub unsafe fn time_of(raw: *mut IKsReferenceClock) -> Option<i64> {
        let clock = core::mem::ManuallyDrop::new(NonNull::new(raw).map(|interface| Self { interface })?);
        Some(clock.time())
    }

    /// Keeps the reference, handing out the raw pointer for a caller that stores it.
    pub fn into_raw(self) -> *mut IKsReferenceClock {
        let raw = self.interface.as_ptr();
        core::mem::forget(self);
        raw
    }

    /// Takes back a pointer from [`ReferenceClock::into_raw`].
    ///
    /// # Safety
    ///
    /// `raw` came from `into_raw` and is taken back once.
    pub unsafe fn from_raw(raw: *mut IKsReferenceClock) -> Option<Self> {
        NonNull::new(raw).map(|interface| Self { interface })
    }
}

impl Drop for ReferenceClock {
    fn drop(&mut self) {
        // SAFETY: the reference KsPinGetReferenceClockInterface gave us, released once.
        unsafe {
            let this = self.interface.as_ptr();
            if let Some(release) = (*(*this).lpVtbl).Release {
                let _ = release(this);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_scaling_is_exact_and_does_not_overflow() {
        assert_eq!(scale_counter(10_000_000, UNITS_PER_SECOND), 10_000_000);
        assert_eq!(scale_counter(3_579_545, 3_579_545), UNITS_PER_SECOND);
        assert_eq!(scale_counter(1, 3), 3_333_333);
        // A year of a 3 GHz counter: count × 10^7 would overflow i64.
        let count = 3_000_000_000i64 * 86_400 * 365;
        assert_eq!(scale_counter(count, 3_000_000_000), 86_400 * 365 * UNITS_PER_SECOND);
        assert_eq!(scale_counter(5, 0), 0);
    }
}
