//! The capture pin's camera: frames paced at the format's frame rate by a timer DPC,
//! stamped with presentation time and duration, counted as captured or dropped.
//!
//! The shape is avshws's (Windows-driver-samples `avstream/avshws`): a timer DPC plays
//! the sensor, one frame per AvgTimePerFrame, and calls KsPinAttemptProcessing; the
//! pin's Process fills the frame that is due into the leading edge; a frame that is due
//! while no buffer is queued is dropped (avshws counts it as skipped in the DPC when the
//! hardware has no mapping to fill). Sources of each rule:
//!
//! - frame k of a run is due k × AvgTimePerFrame after the RUN transition; the DPC
//!   re-arms the timer for the next frame's absolute time, so errors do not accumulate
//!   (avshws `hwsim.cpp`: `m_StartTime + m_TimePerFrame * (m_InterruptTime + 1)`);
//! - Process fills only the newest due frame; an older due frame that no buffer took is
//!   dropped: "This counter increments whenever the minidriver was scheduled to capture
//!   a frame, but failed to do so, for example, because of buffer starvation"
//!   (KSPROPERTY_DROPPEDFRAMES_CURRENT_S docs); PictureNumber is "the sum of the number
//!   of frames captured plus the number of frames dropped", both reset on the STOP →
//!   ACQUIRE transition (same page);
//! - PresentationTime is the master clock's time when a clock is assigned (avshws
//!   `CompleteMappings`: `m_Clock->GetTime()`), else the stream time of the frame: the
//!   time spent in RUN up to the frame's due time, on the [`crate::kernel::now`] axis;
//!   Duration = AvgTimePerFrame; TIMEVALID | DURATIONVALID; DATADISCONTINUITY on the
//!   first frame after each transition into RUN;
//! - KS_FRAME_INFO after the header when `StreamHeader->Size` has room for it (avshws
//!   checks the size: "AVStream makes no guarantee that because StreamHeaderSize is set
//!   to a specific size that you will get that size"), PictureNumber and DropCount as
//!   above.
//!
//! # Kernel contract
//!
//! - [`Pacer::init`]: once, at the pacer's final non-paged address (pin Create, PASSIVE).
//! - [`Pacer::acquire`], [`Pacer::run`], [`Pacer::pause`], [`Pacer::stop`]:
//!   SetDeviceState at PASSIVE_LEVEL, one transition at a time (AVStream serialises them
//!   under the pin's control mutex). `pause` and `stop` return only when the timer is
//!   cancelled and no DPC of this pacer is queued or running.
//! - [`pacer_dpc`]: the DPC, DISPATCH_LEVEL, any processor, concurrently with Process.
//! - [`Pacer::claim`] and the stamping: Process, PASSIVE_LEVEL (the pin does not ask for
//!   DISPATCH_LEVEL processing), concurrently with the DPC. The DPC and Process share
//!   one atomic word (frames due, frames taken) updated by compare-exchange, so each due
//!   frame is either filled once or dropped once.

use crate::kernel::{ReferenceClock, Timer};
use crate::ks::{IKsReferenceClock, KDPC, KSPIN, PVOID};
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU64, Ordering};

/// Frames due and frames taken (filled or dropped) since STOP → ACQUIRE, in one word:
/// due in the high half, taken in the low half, both counting modulo 2^32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counts {
    due: u32,
    taken: u32,
}

impl Counts {
    const fn unpack(word: u64) -> Self {
        Self { due: (word >> 32) as u32, taken: word as u32 }
    }

    const fn pack(self) -> u64 {
        ((self.due as u64) << 32) | self.taken as u64
    }

    /// Frames due and not yet taken.
    const fn pending(self) -> u32 {
        self.due.wrapping_sub(self.taken)
    }
}

/// A frame Process may fill: its number since STOP → ACQUIRE (0-based) and what to
/// stamp on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The frame's number since STOP → ACQUIRE, 0-based.
    pub index: u64,
    /// PresentationTime.Time.
    pub presentation_time: i64,
    /// Duration.
    pub duration: i64,
    /// KS_FRAME_INFO.PictureNumber: frames captured plus dropped, this one included.
    pub picture_number: i64,
    /// KS_FRAME_INFO.DropCount: frames dropped so far.
    pub drop_count: i64,
    /// The first frame after a transition into RUN.
    pub discontinuity: bool,
}

/// What KSPROPERTY_DROPPEDFRAMES_CURRENT reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Frames captured plus dropped since STOP → ACQUIRE.
    pub picture_number: i64,
    /// Frames dropped since STOP → ACQUIRE.
    pub drop_count: i64,
    /// Average bytes of the frames captured.
    pub average_frame_size: u32,
}

/// The pacing state of one capture pin.
#[derive(Debug)]
pub struct Pacer {
    timer: Timer,
    /// The pin, for the DPC's KsPinAttemptProcessing.
    pin: AtomicPtr<KSPIN>,
    /// The DPC may tick and re-arm (RUN).
    running: AtomicBool,
    /// AvgTimePerFrame of the current run, 100 ns units.
    interval: AtomicI64,
    /// [`crate::kernel::now`] at the RUN transition.
    run_start: AtomicI64,
    /// Frames due before this run (Counts.due at the RUN transition).
    run_base: AtomicU64,
    /// Stream time accumulated by earlier runs since STOP → ACQUIRE.
    stream_base: AtomicI64,
    counts: AtomicU64,
    dropped: AtomicU64,
    filled: AtomicU64,
    filled_bytes: AtomicU64,
    discontinuity: AtomicBool,
    /// The referenced master clock (IKsReferenceClock), or null.
    clock: AtomicPtr<IKsReferenceClock>,
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new()
    }
}

/// The frame interval used when a format states none (30 fps).
pub const DEFAULT_INTERVAL: i64 = 333_333;

impl Pacer {
    /// A stopped pacer; [`Pacer::init`] must follow at its final address.
    pub const fn new() -> Self {
        Self {
            timer: Timer::new(),
            pin: AtomicPtr::new(core::ptr::null_mut()),
            running: AtomicBool::new(false),
            interval: AtomicI64::new(DEFAULT_INTERVAL),
            run_start: AtomicI64::new(0),
            run_base: AtomicU64::new(0),
            stream_base: AtomicI64::new(0),
            counts: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            filled: AtomicU64::new(0),
            filled_bytes: AtomicU64::new(0),
            discontinuity: AtomicBool::new(false),
            clock: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// Initialises the timer and its DPC for `pin`.
    ///
    /// # Safety
    ///
    /// Once, with `self` at its final non-paged address, where it stays until
    /// [`Pacer::stop`] has returned; `pin` outlives the pacer. IRQL <= DISPATCH_LEVEL.
    pub unsafe fn init(&self, pin: *mut KSPIN) {
        self.pin.store(pin, Ordering::Release);
        // SAFETY: the caller's contract; the DPC's context is this pacer, which outlives
        // every DPC (stop shuts the timer down before the pacer goes).
        unsafe { self.timer.init(pacer_dpc, (self as *const Self).cast_mut().cast()) };
    }

    /// STOP → ACQUIRE: the counters start again, and the pin's master clock, if one is
    /// assigned (it can only be assigned in STOP), is taken for timestamps.
    ///
    /// # Safety
    ///
    /// PASSIVE_LEVEL; `pin` is the live pin this pacer belongs to.
    pub unsafe fn acquire(&self, pin: *mut KSPIN) {
        self.counts.store(0, Ordering::Relaxed);
        self.dropped.store(0, Ordering::Relaxed);
        self.filled.store(0, Ordering::Relaxed);
        self.filled_bytes.store(0, Ordering::Relaxed);
        self.stream_base.store(0, Ordering::Relaxed);
        // SAFETY: the caller's contract.
        let clock =
            unsafe { ReferenceClock::of_pin(pin) }.map_or(core::ptr::null_mut(), ReferenceClock::into_raw);
        let old = self.clock.swap(clock, Ordering::AcqRel);
        // SAFETY: a pointer from into_raw, taken back once.
        drop(unsafe { ReferenceClock::from_raw(old) });
    }

    /// PAUSE → RUN: frames are due every `interval` from now.
    ///
    /// # Safety
    ///
    /// PASSIVE_LEVEL, after [`Pacer::init`]; not running.
    pub unsafe fn run(&self, interval: i64) {
        let interval = if interval > 0 { interval } else { DEFAULT_INTERVAL };
        self.interval.store(interval, Ordering::Relaxed);
        self.run_start.store(crate::kernel::now(), Ordering::Relaxed);
        self.run_base
            .store(u64::from(Counts::unpack(self.counts.load(Ordering::Acquire)).due), Ordering::Relaxed);
        self.discontinuity.store(true, Ordering::Relaxed);
        self.running.store(true, Ordering::Release);
        // SAFETY: an initialised timer (the caller's contract).
        let _ = unsafe { self.timer.set(interval) };
    }

    /// RUN → PAUSE: no frame is due until the next RUN; returns when the timer is
    /// cancelled and no DPC is queued or running. The stream time stops here.
    ///
    /// # Safety
    ///
    /// PASSIVE_LEVEL, after [`Pacer::init`].
    pub unsafe fn pause(&self) {
        if !self.running.swap(false, Ordering::AcqRel) {
            return;
        }
        // SAFETY: the caller's contract; `running` is false, so the DPC re-arms nothing.
        unsafe { self.timer.shutdown() };
        let ran = crate::kernel::now().saturating_sub(self.run_start.load(Ordering::Relaxed));
        let _ = self.stream_base.fetch_add(ran.max(0), Ordering::Relaxed);
    }

    /// ACQUIRE → STOP (and pin Close): as [`Pacer::pause`], and the clock is released.
    ///
    /// # Safety
    ///
    /// PASSIVE_LEVEL, after [`Pacer::init`].
    pub unsafe fn stop(&self) {
        // SAFETY: the caller's contract.
        unsafe {
            // Only `run` sets the timer, and only a running pacer's DPC sets it again, so
            // once `pause` has shut a running pacer down (or found it paused already) no
            // timer is set and no DPC is queued.
            self.pause();
            drop(ReferenceClock::from_raw(self.clock.swap(core::ptr::null_mut(), Ordering::AcqRel)));
        }
    }

    /// The DPC's work: frames due by now; an older frame still pending is dropped; the
    /// timer is re-armed for the next frame. Returns whether processing should be
    /// attempted (the pacer is running).
    fn tick(&self) -> bool {
        if !self.running.load(Ordering::Acquire) {
            return false;
        }
        let interval = self.interval.load(Ordering::Relaxed).max(1);
        let start = self.run_start.load(Ordering::Relaxed);
        let elapsed = crate::kernel::now().saturating_sub(start).max(0);
        let frames_this_run = elapsed.checked_div(interval).unwrap_or(0);
        let due_now =
            self.run_base.load(Ordering::Relaxed).wrapping_add(u64::try_from(frames_this_run).unwrap_or(0))
                as u32;
        self.advance_due(due_now);
        // The next frame's absolute time, from the run's start (no accumulated error).
        let next = start.saturating_add(frames_this_run.saturating_add(1).saturating_mul(interval));
        // SAFETY: an initialised timer (init precedes run); DISPATCH_LEVEL is allowed.
        let _ = unsafe { self.timer.set(next.saturating_sub(crate::kernel::now())) };
        true
    }

    /// Moves the due count to `due_now` (never back); every frame still pending that is
    /// older than the newest due one is dropped: its time has passed with no buffer to
    /// take it. Returns how many were dropped.
    fn advance_due(&self, due_now: u32) -> u32 {
        let mut word = self.counts.load(Ordering::Acquire);
        loop {
            let old = Counts::unpack(word);
            let ahead = due_now.wrapping_sub(old.due);
            let due = if ahead > 0 && ahead < u32::MAX / 2 { due_now } else { old.due };
            let pending = due.wrapping_sub(old.taken);
            let taken = if pending > 1 { due.wrapping_sub(1) } else { old.taken };
            let new = Counts { due, taken };
            match self.counts.compare_exchange_weak(word, new.pack(), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    let dropped = new.taken.wrapping_sub(old.taken);
                    let _ = self.dropped.fetch_add(u64::from(dropped), Ordering::Relaxed);
                    return dropped;
                }
                Err(current) => word = current,
            }
        }
    }

    /// Process's claim on the newest due frame, or None when no frame is due. Older
    /// pending frames are dropped. `bytes` is what the frame will hold.
    pub fn claim(&self, bytes: u32) -> Option<Claim> {
        let mut word = self.counts.load(Ordering::Acquire);
        let (old, new) = loop {
            let old = Counts::unpack(word);
            if old.pending() == 0 {
                return None;
            }
            let new = Counts { due: old.due, taken: old.due };
            match self.counts.compare_exchange_weak(word, new.pack(), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break (old, new),
                Err(current) => word = current,
            }
        };
        let older = old.pending().wrapping_sub(1);
        let drop_count =
            self.dropped.fetch_add(u64::from(older), Ordering::Relaxed).wrapping_add(u64::from(older));
        let _ = self.filled.fetch_add(1, Ordering::Relaxed);
        let _ = self.filled_bytes.fetch_add(u64::from(bytes), Ordering::Relaxed);
        let index = u64::from(new.due.wrapping_sub(1));
        let interval = self.interval.load(Ordering::Relaxed);
        // SAFETY: a clock taken in acquire stays referenced until stop, which runs only
        // after the pin has left RUN and Process can no longer run.
        let clock = unsafe { ReferenceClock::time_of(self.clock.load(Ordering::Acquire)) };
        let presentation_time = clock.unwrap_or_else(|| {
            // The frame's due time on the stream-time axis: earlier runs, then its place
            // in this run (frame k of the run is due k × interval after its start).
            let in_run = index.wrapping_sub(self.run_base.load(Ordering::Relaxed)).wrapping_add(1);
            self.stream_base
                .load(Ordering::Relaxed)
                .saturating_add(i64::try_from(in_run).unwrap_or(i64::MAX).saturating_mul(interval))
        });
        Some(Claim {
            index,
            presentation_time,
            duration: interval,
            picture_number: i64::from(new.taken),
            drop_count: i64::try_from(drop_count).unwrap_or(i64::MAX),
            discontinuity: self.discontinuity.swap(false, Ordering::AcqRel),
        })
    }

    /// The counters KSPROPERTY_DROPPEDFRAMES_CURRENT reports.
    pub fn dropped(&self) -> Dropped {
        let counts = Counts::unpack(self.counts.load(Ordering::Acquire));
        let filled = self.filled.load(Ordering::Relaxed);
        let bytes = self.filled_bytes.load(Ordering::Relaxed);
        Dropped {
            picture_number: i64::from(counts.taken),
            drop_count: i64::try_from(self.dropped.load(Ordering::Relaxed)).unwrap_or(i64::MAX),
            average_frame_size: bytes.checked_div(filled).and_then(|a| u32::try_from(a).ok()).unwrap_or(0),
        }
    }

    /// Whether the DPC is live (RUN).
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }
}

/// The pacer's DPC (`KDEFERRED_ROUTINE`): DISPATCH_LEVEL, any processor. Ticks the
/// pacer and, while running, asks AVStream to process the pin (asynchronously, as
/// avshws does from its DPC: `KsPinAttemptProcessing(m_Pin, TRUE)`).
///
/// # Safety
///
/// `context` is the [`Pacer`] that initialised this DPC, alive while the DPC can run
/// ([`Pacer::stop`] guarantees it).
pub unsafe extern "system" fn pacer_dpc(_dpc: *mut KDPC, context: PVOID, _a: PVOID, _b: PVOID) {
    // SAFETY: the caller's contract.
    let Some(pacer) = (unsafe { context.cast::<Pacer>().as_ref() }) else { return };
    if pacer.tick() {
        let pin = pacer.pin.load(Ordering::Acquire);
        if !pin.is_null() {
            // SAFETY: the pin outlives the pacer (init's contract); DISPATCH_LEVEL is
            // allowed with asynchronous = true.
            unsafe { crate::kernel::attempt_processing(pin, true) };
        }
    }
}

#[cfg(all(test, feature = "host"))]
mod tests {
    use super::*;
    use crate::kernel::host;
    use std::boxed::Box;

    #[test]
    fn the_dpc_and_process_racing_fill_or_drop_each_due_frame_exactly_once() {
        // One thread plays the DPC (frames fall due), another Process (claims); at the
        // end every due frame was claimed once or dropped once.
        let pacer = std::sync::Arc::new(Pacer::new());
        const FRAMES: u32 = if cfg!(miri) { 300 } else { 200_000 };
        let dpc = {
            let pacer = pacer.clone();
            std::thread::spawn(move || {
                for due in 1..=FRAMES {
                    pacer.advance_due(due);
                }
            })
        };
        let mut claimed = std::vec::Vec::new();
        while claimed.last().is_none_or(|c: &Claim| c.index + 1 < u64::from(FRAMES)) {
            if let Some(c) = pacer.claim(1) {
                claimed.push(c);
            }
        }
        dpc.join().unwrap();
        assert!(claimed.windows(2).all(|w| w[1].index > w[0].index), "no frame claimed twice");
        let d = pacer.dropped();
        assert_eq!(d.picture_number, i64::from(FRAMES));
        assert_eq!(claimed.len() as i64 + d.drop_count, i64::from(FRAMES), "filled + dropped = due");
        assert_eq!(claimed.last().unwrap().drop_count, d.drop_count);
    }

    #[test]
    fn counts_pack_and_unpack_and_wrap() {
        let c = Counts { due: u32::MAX, taken: u32::MAX - 2 };
        assert_eq!(Counts::unpack(c.pack()), c);
        assert_eq!(c.pending(), 2);
        assert_eq!(Counts { due: 1, taken: u32::MAX }.pending(), 2, "counts wrap");
    }

    /// Runs the timers and DPCs due by `t` (what the simulator does between events).
    fn until(t: i64) {
        while let Some(due) = host::next_timer_due().filter(|d| *d <= t) {
            host::advance_to(due);
            host::run_queued_dpcs();
        }
        host::advance_to(t);
    }

    #[test]
    fn due_frames_are_claimed_once_and_stale_ones_dropped() {
        host::clear_virtual_time();
        let pacer = Box::new(Pacer::new());
        const I: i64 = 333_333;
        // SAFETY: boxed (stable address) for the whole test; no pin (the DPC skips
        // KsPinAttemptProcessing); PASSIVE_LEVEL on this thread.
        unsafe {
            pacer.init(core::ptr::null_mut());
            pacer.acquire(core::ptr::null_mut());
            pacer.run(I);
        }
        assert_eq!(pacer.claim(100), None, "nothing is due at RUN");
        until(I);
        let first = pacer.claim(100).unwrap();
        assert_eq!(
            (first.index, first.presentation_time, first.duration, first.picture_number, first.drop_count),
            (0, I, I, 1, 0)
        );
        assert!(first.discontinuity);
        assert_eq!(pacer.claim(100), None, "a frame is claimed once");
        // Three more frames fall due with no buffer: the two older ones are dropped at
        // the ticks that made them stale, the newest is still there to take.
        until(4 * I);
        assert_eq!(pacer.dropped().drop_count, 2);
        let late = pacer.claim(100).unwrap();
        assert_eq!(
            (late.index, late.presentation_time, late.picture_number, late.drop_count),
            (3, 4 * I, 4, 2)
        );
        assert!(!late.discontinuity);
        assert_eq!(pacer.dropped(), Dropped { picture_number: 4, drop_count: 2, average_frame_size: 100 });
        // PAUSE stops the timer; the stream time resumes where it stopped.
        // SAFETY: as above.
        unsafe { pacer.pause() };
        assert_eq!(host::armed_timers(), 0);
        until(100 * I);
        assert_eq!(pacer.claim(100), None, "nothing falls due while paused");
        // SAFETY: as above.
        unsafe { pacer.run(I) };
        until(101 * I);
        let resumed = pacer.claim(100).unwrap();
        assert!(resumed.discontinuity);
        assert_eq!((resumed.index, resumed.picture_number), (4, 5));
        assert_eq!(resumed.presentation_time, 4 * I + I, "stream time excludes the pause");
        // SAFETY: as above.
        unsafe { pacer.stop() };
        assert_eq!((host::armed_timers(), host::queued_dpcs()), (0, 0));
    }
}
