//! Per-pin state, kept behind `KSPIN.Context` from the pin's Create to its Close.
//!
//! # Kernel contract
//!
//! Created in the pin's Create dispatch (PASSIVE_LEVEL) and freed in its Close. Property
//! handlers (PASSIVE_LEVEL) and the allocator callbacks (up to DISPATCH_LEVEL) read and
//! update it concurrently, so every field is atomic.
//!
//! The pin holds no allocator handle or reference: which allocator a pipe's IRP source
//! uses is AVStream's to track (KSPROPERTY_STREAM_ALLOCATOR is answered by AVStream, see
//! the property module). The state only remembers the pool a client created on this pin
//! (through the pin's KSALLOCATOR_DISPATCH), for the statistics property.

use crate::allocator::FramePool;
use crate::framing::Framing;
use crate::ks::{GUID, KSPIN};
use crate::pacing::Pacer;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

/// The state of one pin instance.
///
/// # Invariants
///
/// `pool` is null or the live FramePool that KS initialised through this pin (cleared by
/// DeleteAllocator before the pool can be released).
#[derive(Debug)]
pub struct PinState {
    frames: AtomicU32,
    frame_size: AtomicU32,
    alignment_mask: AtomicU32,
    requirements: AtomicU32,
    memory_type: GUID,
    pool: AtomicPtr<FramePool>,
    /// Frames this pin produced (capture) or consumed (sink).
    frames_processed: AtomicU64,
    /// Sink: frames whose pattern was damaged or out of sequence.
    pattern_errors: AtomicU64,
    /// Capture: the camera's pacing (initialised in place by [`PinState::init_pacer`]).
    pacer: Pacer,
    pacer_ready: core::sync::atomic::AtomicBool,
}

impl PinState {
    /// A stopped pin with `framing` and no allocator.
    pub fn new(framing: Framing) -> Self {
        Self {
            frames: AtomicU32::new(framing.frames),
            frame_size: AtomicU32::new(framing.frame_size),
            alignment_mask: AtomicU32::new(framing.alignment_mask),
            requirements: AtomicU32::new(framing.requirements),
            memory_type: framing.memory_type,
            pool: AtomicPtr::new(core::ptr::null_mut()),
            frames_processed: AtomicU64::new(0),
            pattern_errors: AtomicU64::new(0),
            pacer: Pacer::new(),
            pacer_ready: core::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Initialises the pacer's timer and DPC for `pin`, once the state is at its final
    /// address (pin Create).
    ///
    /// # Safety
    ///
    /// `self` is in non-paged pool and stays there until dropped; `pin` outlives it.
    /// IRQL <= DISPATCH_LEVEL.
    pub unsafe fn init_pacer(&self, pin: *mut KSPIN) {
        if !self.pacer_ready.swap(true, Ordering::AcqRel) {
            // SAFETY: the caller's contract; the first and only initialisation.
            unsafe { self.pacer.init(pin) };
        }
    }

    /// The capture pin's pacer (initialised when [`PinState::init_pacer`] ran).
    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    /// Counts a processed frame; returns its number (0 for the first).
    pub fn next_frame(&self) -> u64 {
        self.frames_processed.fetch_add(1, Ordering::Relaxed)
    }

    /// Frames processed so far.
    pub fn frames_processed(&self) -> u64 {
        self.frames_processed.load(Ordering::Relaxed)
    }

    /// Counts a damaged or out-of-sequence frame.
    pub fn count_pattern_error(&self) {
        self.pattern_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Damaged or out-of-sequence frames seen so far.
    pub fn pattern_errors(&self) -> u64 {
        self.pattern_errors.load(Ordering::Relaxed)
    }

    /// The state behind a pin's Context, if the pin has one.
    ///
    /// # Safety
    ///
    /// `pin` is null or a live KSPIN whose Context is null or a PinState of ksframe
    /// (the pin Create dispatch establishes that) that outlives `'a`.
    pub unsafe fn of<'a>(pin: *const KSPIN) -> Option<&'a PinState> {
        // SAFETY: the caller's contract.
        unsafe { pin.as_ref().and_then(|p| p.Context.cast::<PinState>().as_ref()) }
    }

    /// The pin's current framing.
    pub fn framing(&self) -> Framing {
        Framing {
            frames: self.frames.load(Ordering::Relaxed),
            frame_size: self.frame_size.load(Ordering::Relaxed),
            alignment_mask: self.alignment_mask.load(Ordering::Relaxed),
            memory_type: self.memory_type,
            requirements: self.requirements.load(Ordering::Relaxed),
        }
    }

    /// Replaces the framing (a format change, in KSSTATE_STOP).
    pub fn set_framing(&self, framing: Framing) {
        self.frames.store(framing.frames, Ordering::Relaxed);
        self.frame_size.store(framing.frame_size, Ordering::Relaxed);
        self.alignment_mask.store(framing.alignment_mask, Ordering::Relaxed);
        self.requirements.store(framing.requirements, Ordering::Relaxed);
    }

    /// The pool KS initialised through this pin's KSALLOCATOR_DISPATCH, if any.
    pub fn pool(&self) -> *mut FramePool {
        self.pool.load(Ordering::Acquire)
    }

    /// Called by InitializeAllocator when it built `pool` for this pin.
    pub fn attach_pool(&self, pool: *mut FramePool) {
        self.pool.store(pool, Ordering::Release);
    }

    /// Called by DeleteAllocator: forgets `pool` if it is this pin's.
    pub fn detach_pool(&self, pool: *mut FramePool) {
        let _ = self.pool.compare_exchange(pool, core::ptr::null_mut(), Ordering::AcqRel, Ordering::Acquire);
    }

    /// Releases what the pin holds at Close: the pacer's timer, DPC and clock, and the
    /// link from a pool still alive to this state (so a later DeleteAllocator does not
    /// reach it).
    pub fn close(&self) {
        if self.pacer_ready.swap(false, Ordering::AcqRel) {
            // SAFETY: an initialised pacer; Close runs at PASSIVE_LEVEL. After this no
            // timer is set and no DPC is queued or running, so the state can go.
            unsafe { self.pacer.stop() };
        }
        let pool = self.pool.swap(core::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: a pool recorded here is live until DeleteAllocator, which detaches it
        // from this state first; KS serialises DeleteAllocator with the pin's Close
        // (both run on the pin's control path at PASSIVE_LEVEL; inferred).
        if let Some(pool) = unsafe { pool.as_ref() } {
            let _ = pool.take_owner();
        }
    }
}

impl Drop for PinState {
    fn drop(&mut self) {
        self.close();
    }
}
