//! The frame pool: every frame preallocated, handed out and taken back lock-free.
//!
//! # Design
//!
//! All frames live in one non-paged block, `stride` bytes apart (`stride` = FrameSize
//! rounded up to the framing's alignment), so a pointer maps to its frame index with a
//! subtraction, a multiplication and a rotation, and a pointer that is not a frame of
//! this pool (outside the block, or not at a frame's start) is recognised by one
//! comparison, without touching it ([`FramePool::index_of`]).
//!
//! Which frames are free is a bitmap of atomic 64-bit words, 64 frames per word, in the
//! pool's control block: frame `i` is bit `i % 64` of word `1 + i / 64`. Word 0 is a
//! sentinel that is always empty.
//!
//! - **Allocate** reads the word at the *first-free hint*, picks its lowest set bit
//!   and clears it with one compare-exchange of the word with `word & (word − 1)`: one
//!   read-modify-write, which fails only when another thread changed the word since it
//!   was read (Allocate then looks again). There is no ABA problem: if the word is the
//!   same, its lowest set bit is still a free frame. The hint is the lowest word that
//!   may have a free frame; Free lowers it, and the rare Allocate that finds its word
//!   empty scans the words from the first and moves it. So a pair costs the same at any
//!   pool size and occupancy, and frames go out lowest first.
//! - **Free** sets the frame's bit with one bit-test-and-set (`lock bts`): one
//!   read-modify-write. A set old bit means the frame was not out, and Free takes its
//!   cold path, which refuses it (a double free) or, after DeleteAllocator, counts the
//!   frame back (below). Either way the `or` changed nothing, so even racing double
//!   frees cannot corrupt the pool.
//! - An Allocate+Free pair is thus two read-modify-writes, the floor for a pool that
//!   hands out and takes back in one atomic step each, with no ABA problem: a bit is a
//!   frame, and clearing a set bit takes exactly that frame.
//! - **Delete** sets `deleted`, points the hint at the sentinel (so every later
//!   Allocate finds an empty word and fails on its cold path), and then sets *all* of
//!   each word's bits with one `fetch_or` per word. The old value of that `fetch_or` is
//!   the exact set of frames out at that moment; those frames' Frees now find their bit
//!   set and take the cold path, where the frame is recorded in `returned` (a second
//!   bitmap: a frame returned twice is refused) and counted down in `pending`. Delete
//!   adds the number of frames it found out to `pending`; whichever operation brings
//!   `pending` to zero (Delete itself when no frame was out, or the last Free) releases
//!   the pool, exactly once and never under a frame's holder. A Free that set its bit
//!   before Delete's `fetch_or` is counted as free by Delete and never touches the pool
//!   again, so a Free racing DeleteAllocator is exact too.
//!
//! Counters cost no read-modify-write on the hot path: each frame counts its own
//! allocations with a plain store by the thread that just won it; frames out come from
//! the bitmap; frees are allocations minus frames out; failures and refused frees are
//! counted on their own (cold) paths; the peak is worked out when read, as the highest
//! index handed out plus one ([`FramePool::peak`] says why that is exact).
//!
//! The read-mostly fields Allocate and Free read, the bitmap and the cold fields sit on
//! separate cache lines (64 bytes of padding between them; the control block is
//! 16-aligned): two threads working on one pool contend only for the bitmap word, the
//! hint when it moves, and the allocation counters of neighbouring frames.
//!
//! ## The one misuse the pool cannot always refuse
//!
//! A frame that was *free* when DeleteAllocator ran, freed again (a double free) in the
//! few instructions between Delete's `fetch_or` of its word and Delete's record of that
//! word's free frames in `returned`, is counted as returned, and the pool can be
//! released while one frame is still out. That needs a double free racing
//! DeleteAllocator; KS calls DeleteAllocator only when the allocator's file object is
//! closed, its last handle and last reference gone (KS-NOTES, "How AVStream calls the
//! driver"; ReactOS `drivers/ksfilter/ks/allocators.c`), so no caller that holds the
//! allocator can race it. Every double free before DeleteAllocator or after it returns
//! is refused, and a correct Free racing DeleteAllocator is exact (above).
//!
//! ## Memory orderings
//!
//! - Allocate's compare-exchange is `Acquire`: it synchronises with the `Release` bit set of
//!   the Free that returned the frame, so the new owner sees the previous owner's writes
//!   to the frame (and the poison) before using it.
//! - Free's bit set is `AcqRel`: `Release` for the above; `Acquire` so that a Free that
//!   finds the bit set by Delete's `fetch_or` (`AcqRel`, after Delete stored `deleted`)
//!   sees `deleted`.
//! - The `returned` and `pending` operations are `AcqRel`: the release must follow every
//!   use of the pool.
//! - The hint, the counters and the peak are `Relaxed`: hints and statistics, exact
//!   when no call runs concurrently. On x86_64 Free's bit set is `lock bts` in `asm!`
//!   (a full barrier, stronger than the orderings above); loom and Miri run the
//!   portable `fetch_or`.

use super::AllocatorStats;
use crate::kernel::sync::{AtomicU32, AtomicU64, Ordering};
use crate::kernel::{POOL_TAG, PoolBox, PoolBuffer};
use crate::ks::{
    KSALLOCATOR_FRAMING, KSALLOCATOR_OPTIONF_COMPATIBLE, KSALLOCATOR_OPTIONF_SYSTEM_MEMORY,
    KSALLOCATOR_REQUIREMENTF_FRAME_INTEGRITY, KSALLOCATOR_REQUIREMENTF_INPLACE_MODIFIER,
    KSALLOCATOR_REQUIREMENTF_MUST_ALLOCATE, KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY, NTSTATUS,
    STATUS_INVALID_PARAMETER,
};
use core::ptr::NonNull;

/// The most frames one pool holds: a documented ceiling (KS pins use a handful; up to
/// 64 keep the whole pool in one bitmap word).
pub const MAX_FRAMES: u32 = 1024;
/// The frame count of a framing whose Frames is 0 ("no requirement"): enough for a
/// capture pin's usual double buffering with a frame in each of two downstream stages.
pub const DEFAULT_FRAMES: u32 = 4;
/// The flags a KSALLOCATOR_FRAMING's first field may carry in a create request: the
/// KSALLOCATOR_OPTIONF_* options and the KSALLOCATOR_REQUIREMENTF_* requirements the
/// union documents, as ReactOS's KsValidateAllocatorCreateRequest accepts them
/// (`drivers/ksfilter/ks/allocators.c`, SupportedFlags). Anything else is refused.
pub const KNOWN_OPTIONS: u32 = KSALLOCATOR_OPTIONF_COMPATIBLE
    | KSALLOCATOR_OPTIONF_SYSTEM_MEMORY
    | KSALLOCATOR_REQUIREMENTF_INPLACE_MODIFIER
    | KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY
    | KSALLOCATOR_REQUIREMENTF_FRAME_INTEGRITY
    | KSALLOCATOR_REQUIREMENTF_MUST_ALLOCATE;
/// The most bytes one pool's frames may take together (Frames × aligned FrameSize).
pub const MAX_POOL_BYTES: usize = 1 << 30;
/// The largest alignment a framing may ask for: a page (as ReactOS's KS enforces).
pub const MAX_ALIGNMENT: usize = crate::kernel::PAGE_SIZE;

/// Frames per bitmap word.
const FRAMES_PER_WORD: u32 = 64;
/// Bitmap words of the largest pool.
const MAX_WORDS: usize = (MAX_FRAMES / FRAMES_PER_WORD) as usize;
/// Slots of the bitmap: the sentinel word (slot 0, always empty) and the pool's words.
const SLOTS: usize = MAX_WORDS + 1;
/// The hint (a byte offset into the bitmap) of the always-empty sentinel word, slot 0:
/// the hint after DeleteAllocator, and while the peak is counted.
const SENTINEL: u32 = 0;
/// Bytes per bitmap word: the hint of slot `s` is `s * WORD_BYTES`.
const WORD_BYTES: u32 = 8;

/// Byte written over a frame when it is freed, in debug builds.
pub const FRAME_POISON: u8 = 0xFD;

/// Why a Free was refused. The pool is unchanged and the refusal is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeError {
    /// The pointer is not the start of a frame of this pool.
    Foreign,
    /// The frame is already free (a double free).
    AlreadyFree,
}

/// What a successful Free did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeOutcome {
    /// The frame is back in the pool.
    Freed,
    /// The frame was the last one out of a deleted pool, which is now released.
    ReleasedPool,
}

/// What DeleteAllocator did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// No frame was out: the pool is released.
    Released,
    /// `outstanding` frames were out: the release happens when the last comes back.
    Deferred {
        /// Frames out at the moment of the delete.
        outstanding: u32,
    },
}

/// A pool's validated geometry, derived from a KSALLOCATOR_FRAMING.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Number of frames (KSALLOCATOR_FRAMING.Frames).
    pub frames: u32,
    /// Bytes of each frame the client may use (FrameSize).
    pub frame_size: u32,
    /// Alignment of every frame: FileAlignment + 1.
    pub alignment: usize,
    /// Distance between frame starts: frame_size rounded up to `alignment`.
    pub stride: usize,
    /// frames × stride.
    pub total_bytes: usize,
}

impl Geometry {
    /// Validates a framing as InitializeAllocator receives it (the client's
    /// KsCreateAllocator request): Frames in 0..=[`MAX_FRAMES`], 0 meaning "no
    /// requirement" and taking [`DEFAULT_FRAMES`] (KSALLOCATOR_FRAMING docs); FrameSize >
    /// 0; OptionsFlags within [`KNOWN_OPTIONS`]; FileAlignment of the form
    /// 2^k − 1 with 2^k <= [`MAX_ALIGNMENT`] (at most PAGE_SIZE − 1); Frames × aligned
    /// FrameSize without overflow and at most [`MAX_POOL_BYTES`]. Any violation:
    /// STATUS_INVALID_PARAMETER. PoolType is not a constraint (frames are always
    /// non-paged, which satisfies every pool type).
    pub fn from_framing(framing: &KSALLOCATOR_FRAMING) -> Result<Self, NTSTATUS> {
        let frames = if framing.Frames == 0 { DEFAULT_FRAMES } else { framing.Frames };
        let frame_size = framing.FrameSize;
        if frames > MAX_FRAMES || frame_size == 0 || framing.OptionsFlags & !KNOWN_OPTIONS != 0 {
            return Err(STATUS_INVALID_PARAMETER);
        }
        let alignment = usize::try_from(framing.FileAlignment)
            .ok()
            .and_then(|mask| mask.checked_add(1))
            .filter(|a| a.is_power_of_two() && *a <= MAX_ALIGNMENT)
            .ok_or(STATUS_INVALID_PARAMETER)?;
        let size = usize::try_from(frame_size).map_err(|_| STATUS_INVALID_PARAMETER)?;
        let stride = size.checked_next_multiple_of(alignment).ok_or(STATUS_INVALID_PARAMETER)?;
        let total_bytes = stride
            .checked_mul(usize::try_from(frames).map_err(|_| STATUS_INVALID_PARAMETER)?)
            .filter(|t| *t <= MAX_POOL_BYTES)
            .ok_or(STATUS_INVALID_PARAMETER)?;
        Ok(Self { frames, frame_size, alignment, stride, total_bytes })
    }

    /// Bitmap words: ceil(frames / 64).
    fn words(&self) -> u32 {
        self.frames.div_ceil(FRAMES_PER_WORD)
    }

    /// The bits word `w` (0-based, not counting the sentinel) has when all its frames
    /// are free.
    fn full_mask(&self, w: u32) -> u64 {
        let first = w.saturating_mul(FRAMES_PER_WORD);
        let n = self.frames.saturating_sub(first).min(FRAMES_PER_WORD);
        u64::MAX.checked_shr(FRAMES_PER_WORD.saturating_sub(n)).unwrap_or(0)
    }
}

/// A pool of preallocated frames behind a lock-free bitmap (see the module docs).
///
/// # Invariants
///
/// - `words[0]` (the sentinel) is always 0; for `1 <= s <= nwords`, bit `b` of
///   `words[s]` is set iff frame `64(s − 1) + b` is free (or, after delete, back or
///   counted by Delete); bits of frames past `geometry.frames` are never set; a frame
///   whose bit is clear belongs to whoever Allocate gave it to;
/// - `hint` is `8s` for a slot `s <= nwords` (hence < [`SLOTS`]); after delete it is
///   [`SENTINEL`] (slot 0) for good: Free only lowers it, and no slot is below 0;
/// - `biased_counters + 64` points to `geometry.frames` initialised `AtomicU64`s inside
///   `counter_block`;
/// - `base` is `frames.as_ptr()` and `biased_base` is `base − 64 · stride` (wrapping); `frames` holds `geometry.total_bytes` bytes, frame `i`
///   starting at `base + i * stride`, aligned to `geometry.alignment`;
/// - `stride_inverse · (stride >> stride_shift) ≡ 1 (mod 2^64)`;
/// - once `deleted` is set, `pending` + the frames Delete found out that are not yet
///   back = 0 after Delete's addition (module docs); the pool is released exactly when
///   an operation brings it to zero.
#[repr(C)]
#[derive(Debug)]
pub struct FramePool {
    // --- read by every Allocate and Free; written only on cold paths ---------------
    base: *mut u8,
    /// `base − 64 · stride` (wrapping): frame `i` starts at `biased_base + (i + 64) ·
    /// stride`, so Allocate, which finds frames by their bit offset from slot 0 (`i +
    /// 64`), needs no subtraction.
    biased_base: *mut u8,
    stride: usize,
    stride_inverse: u64,
    /// The frame count, widened for the index comparison.
    frame_bound: u64,
    /// `counters − 64` (wrapping), for the same reason: frame `i`'s counter is
    /// `biased_counters + i + 64`.
    biased_counters: *const AtomicU64,
    stride_shift: u32,
    /// The first-free hint: the byte offset in `words` of the lowest word that may have
    /// a free frame ([`SENTINEL`]: Allocate takes its slow path).
    hint: AtomicU32,
    _hot_end: [u8; 64],
    // --- the bitmap ----------------------------------------------------------------
    words: [AtomicU64; SLOTS],
    _bitmap_end: [u8; 64],
    // --- cold ------------------------------------------------------------------------
    /// Frames recorded as back after delete (free at Delete's `fetch_or`, or returned
    /// since); same slots as `words`.
    returned: [AtomicU64; SLOTS],
    /// Frames out at delete not yet back, as a wrapping count (module docs).
    pending: AtomicU64,
    /// Set once, by DeleteAllocator.
    deleted: AtomicU32,
    /// 1 while the peak is counted: from a reset with frames out until an Allocate
    /// finds itself the only frame out ([`FramePool::peak`]); the hint is then the
    /// sentinel, so every Allocate takes the slow path, which counts.
    peak_by_count: AtomicU32,
    /// The peak as of the last reset, raised by the counting Allocates.
    peak: AtomicU32,
    /// Frames out when the counters were last reset (frees = allocations + this − out).
    outstanding_at_reset: AtomicU32,
    allocation_failures: AtomicU64,
    rejected_frees: AtomicU64,
    /// Whoever built the pool and wants to hear of its deletion (opaque to the pool; the
    /// pin's state in ksframe's pins), or null.
    owner: core::sync::atomic::AtomicPtr<core::ffi::c_void>,
    nwords: u32,
    geometry: Geometry,
    counter_block: PoolBuffer,
    frames: PoolBuffer,
}

// SAFETY: all shared mutation goes through atomics; `counters` and `base` point into
// `counter_block` and `frames`, which the pool owns.
unsafe impl Send for FramePool {}
// SAFETY: `&FramePool` only permits atomic operations and reads of immutable fields.
unsafe impl Sync for FramePool {}

/// The stride's odd part's inverse modulo 2^64 and its power-of-two exponent.
///
/// Newton's iteration x ← x(2 − dx) doubles the correct low bits each step; for odd d,
/// x = d is correct to 3 bits, so five steps give 96 > 64.
fn stride_inverse(stride: usize) -> (u64, u32) {
    let shift = stride.trailing_zeros();
    let odd = (stride as u64).checked_shr(shift).unwrap_or(1);
    let mut x = odd;
    for _ in 0..5 {
        x = x.wrapping_mul(2u64.wrapping_sub(odd.wrapping_mul(x)));
    }
    (x, shift)
}

/// Free's bit set, addressed as a bit string from the pool's first bitmap word (slot
/// 1): frame `i` is bit `i % 64` of the word `i / 64` past it. On x86_64 (outside loom
/// and Miri) it is `lock bts` with a register bit offset, which addresses the qword
/// `i / 64` past the operand (no shift and mask to find the word), reads and writes
/// exactly that qword atomically, and sets CF to the old bit. Elsewhere: `fetch_or` on
/// the word.
mod bits {
    use super::FramePool;
    #[cfg(not(all(target_arch = "x86_64", not(loom), not(miri))))]
    use crate::kernel::sync::Ordering;

    /// The byte offset of slot 1 (the first word of the pool) in the control block.
    #[cfg(all(target_arch = "x86_64", not(loom), not(miri)))]
    const SLOT_1: usize = core::mem::offset_of!(FramePool, words) + 8;

    /// Sets frame `index`'s bit: true when it was clear (the frame was out and is now
    /// free).
    ///
    /// # Safety
    ///
    /// `pool` is live and `index` is a frame index of it (< frames).
    #[inline(always)]
    pub(super) unsafe fn give(pool: &FramePool, index: u64) -> bool {
        #[cfg(all(target_arch = "x86_64", not(loom), not(miri)))]
        {
            let was_set: u8;
            // SAFETY: the caller's contract: the qword `index / 64` past slot 1 is a
            // live AtomicU64 of the pool's bitmap; a locked bts is an atomic
            // read-modify-write of it (the instruction `fetch_or` with a tested single
            // bit compiles to), a full barrier.
            unsafe {
                core::arch::asm!(
                    "lock bts qword ptr [{p} + {off}], {i}",
                    "setc {r}",
                    p = in(reg) pool,
                    off = const SLOT_1,
                    i = in(reg) index,
                    r = out(reg_byte) was_set,
                    options(nostack),
                );
            }
            was_set == 0
        }
        #[cfg(not(all(target_arch = "x86_64", not(loom), not(miri))))]
        {
            let mask = 1u64 << (index & 63);
            pool.word(((index >> 6) as u32).wrapping_add(1)).fetch_or(mask, Ordering::AcqRel) & mask == 0
        }
    }
}

impl FramePool {
    /// Validates `framing` and preallocates every frame: three pool allocations (the
    /// allocation counters, the frames, the control block). On any failure nothing
    /// stays allocated: the buffers already obtained are dropped, and so freed.
    pub fn new(framing: &KSALLOCATOR_FRAMING) -> Result<PoolBox<FramePool>, NTSTATUS> {
        let geometry = Geometry::from_framing(framing)?;
        let nwords = geometry.words();
        let counter_bytes = core::mem::size_of::<AtomicU64>()
            .checked_mul(geometry.frames as usize)
            .ok_or(STATUS_INVALID_PARAMETER)?;
        let counter_block = PoolBuffer::new(counter_bytes, 64, POOL_TAG)?;
        let frames = PoolBuffer::new(geometry.total_bytes, geometry.alignment, POOL_TAG)?;
        let first = counter_block.as_ptr().cast::<AtomicU64>();
        for i in 0..geometry.frames as usize {
            // SAFETY: `counter_block` holds `frames` AtomicU64s' worth of bytes, aligned
            // (64 >= 8), and `i < frames`; the memory is not yet an AtomicU64: `write`.
            unsafe { first.add(i).write(AtomicU64::new(0)) };
        }
        let words: [AtomicU64; SLOTS] = core::array::from_fn(|slot| {
            let w = u32::try_from(slot).unwrap_or(u32::MAX);
            AtomicU64::new(if w >= 1 && w <= nwords { geometry.full_mask(w.wrapping_sub(1)) } else { 0 })
        });
        let (stride_inverse, stride_shift) = stride_inverse(geometry.stride);
        // INVARIANT: the sentinel is 0 and each word has exactly its frames' bits set
        // (all free); the hint is slot 1's (a pool has at least one frame); counters zeroed;
        // `base` is the frames block, which holds total_bytes aligned as asked.
        let pool = FramePool {
            base: frames.as_ptr(),
            biased_base: frames.as_ptr().wrapping_sub(geometry.stride.wrapping_mul(64)),
            stride: geometry.stride,
            stride_inverse,
            frame_bound: u64::from(geometry.frames),
            biased_counters: first.cast_const().wrapping_sub(64),
            stride_shift,
            hint: AtomicU32::new(WORD_BYTES),
            _hot_end: [0; 64],
            words,
            _bitmap_end: [0; 64],
            returned: core::array::from_fn(|_| AtomicU64::new(0)),
            pending: AtomicU64::new(0),
            deleted: AtomicU32::new(0),
            peak_by_count: AtomicU32::new(0),
            peak: AtomicU32::new(0),
            outstanding_at_reset: AtomicU32::new(0),
            allocation_failures: AtomicU64::new(0),
            rejected_frees: AtomicU64::new(0),
            owner: core::sync::atomic::AtomicPtr::new(core::ptr::null_mut()),
            nwords,
            geometry,
            counter_block,
            frames,
        };
        // On failure the pool comes back and is dropped here, freeing both buffers.
        PoolBox::try_new(pool, POOL_TAG).map_err(|(_, status)| status)
    }

    /// Whether `frame` is the start of one of this pool's frames (free or not).
    pub fn contains(&self, frame: *const u8) -> bool {
        self.index_of(frame).is_some()
    }

    /// The pool's geometry.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// Records who this pool serves (opaque; null: none).
    pub fn set_owner(&self, owner: *const core::ffi::c_void) {
        self.owner.store(owner.cast_mut(), Ordering::Release);
    }

    /// Takes the owner out (it is returned once; later calls give null).
    pub fn take_owner(&self) -> *const core::ffi::c_void {
        self.owner.swap(core::ptr::null_mut(), Ordering::AcqRel)
    }

    /// The bitmap word in `slot` (0 the sentinel, 1..=nwords the pool's words).
    #[inline(always)]
    fn word(&self, slot: u32) -> &AtomicU64 {
        debug_assert!((slot as usize) < SLOTS);
        // SAFETY: every caller passes a slot <= nwords <= MAX_WORDS (the hint's
        // invariant, or a frame index / 64 + 1 with index < frames <= MAX_FRAMES).
        unsafe { self.words.get_unchecked(slot as usize) }
    }

    /// The slot of `returned` for bitmap slot `slot`.
    fn returned(&self, slot: u32) -> &AtomicU64 {
        debug_assert!((slot as usize) < SLOTS);
        // SAFETY: as in `word`.
        unsafe { self.returned.get_unchecked(slot as usize) }
    }

    /// Frame `index`'s allocation counter.
    fn counter(&self, index: u32) -> &AtomicU64 {
        self.biased_counter(index.wrapping_add(FRAMES_PER_WORD))
    }

    /// The allocation counter of the frame with bit offset `biased` from slot 0 (frame
    /// `biased − 64`).
    #[inline(always)]
    fn biased_counter(&self, biased: u32) -> &AtomicU64 {
        debug_assert!(
            biased >= FRAMES_PER_WORD && biased.wrapping_sub(FRAMES_PER_WORD) < self.geometry.frames
        );
        // SAFETY: callers pass the bit offset of a frame (64 + an index < frames), so the
        // pointer is back inside the counters, which are initialised (invariants).
        unsafe { &*self.biased_counters.wrapping_add(biased as usize) }
    }

    /// The start of the frame with bit offset `biased` from slot 0.
    #[inline(always)]
    fn biased_frame_ptr(&self, biased: u32) -> *mut u8 {
        // `(biased − 64) · stride < total_bytes` for every frame, so this is inside the
        // frames block.
        self.biased_base.wrapping_add((biased as usize).wrapping_mul(self.stride))
    }

    /// The index of the frame starting at `frame`, or `None` for any other address.
    ///
    /// One multiplication and one comparison reject every other address at once: with
    /// stride = d·2^s (d odd) and offset = frame − base, `(offset · d⁻¹ mod 2^64)`
    /// rotated right by s is offset / stride when the stride divides the offset, and
    /// otherwise at least 2^34: nonzero low bits rotate to the top, and for y = offset /
    /// 2^s, y·d⁻¹ mod 2^(64−s) exceeds (2^(64−s) − 1)/d unless d divides y (the standard
    /// divisibility test by a modular inverse), while frames·stride <= 2^30 keeps every
    /// valid index below that bound. An address below the base wraps to a huge offset
    /// and fails the same way.
    #[inline(always)]
    fn index_of(&self, frame: *const u8) -> Option<u64> {
        let q = self.quotient(frame);
        if q < self.frame_bound { Some(q) } else { None }
    }

    /// `index_of`'s figure for any address: the frame index for a frame's start, at
    /// least `frames` otherwise. Every step is a bijection of the 64-bit values, so
    /// [`FramePool::address_of`] gets the address back.
    #[inline(always)]
    fn quotient(&self, frame: *const u8) -> u64 {
        let offset = (frame as u64).wrapping_sub(self.base as u64);
        offset.wrapping_mul(self.stride_inverse).rotate_right(self.stride_shift)
    }

    /// The address whose [`FramePool::quotient`] is `q`.
    pub fn address_of(&self, q: u64) -> *mut u8 {
        let odd = (self.stride as u64) >> self.stride_shift;
        let offset = q.rotate_left(self.stride_shift).wrapping_mul(odd);
        self.base.wrapping_add(offset as usize)
    }

    /// Frames out, from the bitmap (exact when nothing runs concurrently).
    fn outstanding(&self) -> u32 {
        let free: u32 = (1..=self.nwords).map(|s| self.word(s).load(Ordering::Acquire).count_ones()).sum();
        self.geometry.frames.saturating_sub(free)
    }

    /// The bitmap word at byte offset `offset` (a hint: 8 × slot).
    #[inline(always)]
    fn word_at(&self, offset: u32) -> &AtomicU64 {
        debug_assert!(offset.is_multiple_of(WORD_BYTES) && ((offset / WORD_BYTES) as usize) < SLOTS);
        // SAFETY: hints are 8 × a slot <= nwords <= MAX_WORDS (invariants), so the
        // offset is that of an initialised word of the array.
        unsafe { &*self.words.as_ptr().cast::<u8>().add(offset as usize).cast::<AtomicU64>() }
    }

    /// Hands out a free frame, or `None` when all `Frames` are out (or after delete).
    /// Lowest free frame first; O(1) from the first-free hint, at any pool size and
    /// occupancy; lock-free, no allocation; callable at DISPATCH_LEVEL.
    #[inline(always)]
    pub fn allocate(&self) -> Option<NonNull<u8>> {
        let hint = self.hint.load(Ordering::Relaxed);
        let current = self.word_at(hint).load(Ordering::Relaxed);
        if current == 0 {
            return self.allocate_slow();
        }
        // A nonempty word is a pool word, slot >= 1; its bit `b` is frame 64(slot − 1) +
        // b, at bit offset 64 · slot + b = 8 · hint + b from slot 0.
        let biased = hint.wrapping_mul(8).wrapping_add(current.trailing_zeros());
        if !self.take_lowest(hint, current) {
            return self.allocate_slow();
        }
        self.handed_out(biased)
    }

    /// Takes the lowest free frame of the word at byte offset `hint`, which held
    /// `current`: one compare-exchange that clears the lowest set bit (`x & (x − 1)`);
    /// true when the word was still `current`. (Measured: `lock btr` with a register
    /// bit offset needs one instruction less here but takes about 5 ns more a pair, its
    /// address depending on the bit offset; Free's `lock bts` does not show this.)
    #[inline(always)]
    fn take_lowest(&self, hint: u32, current: u64) -> bool {
        // The deliberately broken variant (feature `broken-double-handout`, only for
        // tests/wine.rs): frame 0 is handed out without being taken.
        #[cfg(feature = "broken-double-handout")]
        if hint == WORD_BYTES && current & 1 != 0 {
            return true;
        }
        self.word_at(hint)
            .compare_exchange(
                current,
                current & current.wrapping_sub(1),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Allocate's rare path: the hint's word was empty or its frame taken meanwhile;
    /// the pool is deleted or exhausted; or the peak is being counted. Scans the words
    /// from the first and moves the hint to the one it takes from.
    #[cold]
    #[inline(never)]
    fn allocate_slow(&self) -> Option<NonNull<u8>> {
        loop {
            if self.deleted.load(Ordering::Acquire) != 0 {
                return self.allocation_failed();
            }
            let hint = self.hint.load(Ordering::Relaxed);
            let Some((slot, current)) =
                (1..=self.nwords).map(|s| (s, self.word(s).load(Ordering::Relaxed))).find(|(_, w)| *w != 0)
            else {
                return self.allocation_failed();
            };
            let counting = self.peak_by_count.load(Ordering::Relaxed) != 0;
            let found = slot.wrapping_mul(WORD_BYTES);
            if !counting && found != hint {
                // A compare-exchange, so that a sentinel stored meanwhile (by
                // DeleteAllocator or a reset) is not overwritten.
                let _ = self.hint.compare_exchange(hint, found, Ordering::Relaxed, Ordering::Relaxed);
            }
            let biased = slot.wrapping_mul(FRAMES_PER_WORD).wrapping_add(current.trailing_zeros());
            if self.take_lowest(found, current) {
                if counting {
                    self.count_peak(found);
                }
                return self.handed_out(biased);
            }
        }
    }

    /// The count mode's step (after a reset with frames out): raises the peak to the
    /// frames out now; when this Allocate's frame is the only one out, the highest
    /// index counts again from here ([`FramePool::peak`]) and the hint leaves the
    /// sentinel.
    #[cold]
    fn count_peak(&self, found: u32) {
        let out = self.outstanding();
        self.peak.fetch_max(out, Ordering::Relaxed);
        if out <= 1 {
            self.peak_by_count.store(0, Ordering::Relaxed);
            if self.deleted.load(Ordering::Acquire) == 0 {
                let _ = self.hint.compare_exchange(SENTINEL, found, Ordering::Relaxed, Ordering::Relaxed);
            }
        }
    }

    /// The bookkeeping of the frame just taken, by its bit offset from slot 0: its
    /// allocation count (a plain store by its new owner); then its address.
    #[inline(always)]
    fn handed_out(&self, biased: u32) -> Option<NonNull<u8>> {
        let counter = self.biased_counter(biased);
        counter.store(counter.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
        NonNull::new(self.biased_frame_ptr(biased))
    }

    #[cold]
    #[inline(never)]
    fn allocation_failed(&self) -> Option<NonNull<u8>> {
        self.allocation_failures.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// The most frames out at once since creation or the last reset.
    ///
    /// Frames go out lowest first, so when frame `i` is taken every frame below it is
    /// out: at least i + 1 are out; and whenever n frames are out one of them has an
    /// index of at least n − 1. Counting from a moment when no frame was out, the peak
    /// is therefore exactly the highest index handed out, plus one: the highest frame
    /// whose allocation counter is nonzero. A reset with frames out breaks the first
    /// half (the frames out need not be the lowest), so the pool then counts the frames
    /// out on each Allocate (the slow path, [`FramePool::count_peak`]) into `peak`,
    /// until an Allocate finds itself the only frame out; from that moment the highest
    /// index counts again. Frames taken while counting are taken lowest first too, so
    /// their indices never exceed the peak: the maximum of both figures is exact.
    fn peak(&self) -> u32 {
        let highest = (0..self.geometry.frames).rev().find(|i| self.counter(*i).load(Ordering::Relaxed) != 0);
        let by_index = highest.map_or(0, |i| i.saturating_add(1));
        by_index.max(self.peak.load(Ordering::Relaxed))
    }

    /// Takes a frame back.
    ///
    /// A pointer that is not a frame of this pool, or a frame that is already free, is
    /// refused and counted, and the pool is left as it was. When DeleteAllocator ran
    /// before and this is the last frame out, the pool is released before returning
    /// ([`FreeOutcome::ReleasedPool`]): `pool` must not be used afterwards.
    ///
    /// # Safety
    ///
    /// `pool` points to a live pool (not yet released). The caller gives up `frame`.
    #[inline(always)]
    pub unsafe fn free(pool: NonNull<FramePool>, frame: *mut u8) -> Result<FreeOutcome, FreeError> {
        // SAFETY: the caller's contract.
        match unsafe { Self::free_fast(pool, frame) } {
            Ok(()) => Ok(FreeOutcome::Freed),
            // SAFETY: the caller's contract; `free_fast` did not complete this Free.
            Err(q) => unsafe { Self::free_rest(pool, q) },
        }
    }

    /// Free's common path: `Ok` when `frame` was a frame of this pool that was out and
    /// is now free. Otherwise nothing changed, and the error is the frame's
    /// [`FramePool::quotient`], for [`FramePool::free_rest`] (from which
    /// [`FramePool::address_of`] recovers `frame`, so that the common path need not keep
    /// it).
    ///
    /// # Safety
    ///
    /// As for [`FramePool::free`].
    #[inline(always)]
    pub unsafe fn free_fast(pool: NonNull<FramePool>, frame: *mut u8) -> Result<(), u64> {
        // SAFETY: the caller guarantees the pool is live. After the bit set below a
        // deleted pool may be released by another thread, so nothing of it is touched
        // after that.
        let this = unsafe { pool.as_ref() };
        let index = this.quotient(frame);
        if index >= this.frame_bound {
            return Err(index);
        }
        // Lower the hint to this frame's word (at byte offset 8(index / 64 + 1)) when it
        // is above it: (index + 64) / 8 < hint exactly then, hints being multiples of 8.
        // (`index < frames <= 1024`, so nothing overflows.)
        let index32 = index as u32;
        if index32.wrapping_add(FRAMES_PER_WORD) / 8 < this.hint.load(Ordering::Relaxed) {
            this.hint.store(((index32 >> 6).wrapping_add(1)).wrapping_mul(WORD_BYTES), Ordering::Relaxed);
        }
        // Debug builds poison a frame that is out before giving it back; a frame
        // already free is left alone. (A double free racing the frame's next Allocate
        // can still poison the new owner's frame; the pool itself stays intact either
        // way, and release builds, which do not poison, rely on the bit set alone.)
        #[cfg(debug_assertions)]
        if this.word(((index >> 6) as u32).wrapping_add(1)).load(Ordering::Relaxed) & (1u64 << (index & 63))
            == 0
        {
            // SAFETY: `frame` is the start of frame `index` (index_of), frame_size
            // bytes inside the frames block, and the caller gives it up.
            unsafe { core::ptr::write_bytes(frame, FRAME_POISON, this.geometry.frame_size as usize) };
        }
        // SAFETY: a live pool and a frame index.
        if unsafe { bits::give(this, index) } { Ok(()) } else { Err(index) }
    }

    /// What a Free that [`FramePool::free_fast`] did not complete does, given the
    /// quotient it returned: refuses a foreign pointer, or handles a frame whose bit was
    /// set ([`FramePool::free_slow`]).
    ///
    /// # Safety
    ///
    /// As for [`FramePool::free`], and `free_fast` returned `Err(q)`.
    #[cold]
    #[inline(never)]
    pub unsafe fn free_rest(pool: NonNull<FramePool>, q: u64) -> Result<FreeOutcome, FreeError> {
        // SAFETY: the caller's contract.
        let this = unsafe { pool.as_ref() };
        if q >= this.frame_bound {
            return this.refused(FreeError::Foreign);
        }
        // SAFETY: live pool; free_fast found the frame's bit set.
        unsafe { Self::free_slow(pool, q as u32) }
    }

    /// Free's rare path: the frame's bit was already set. Before delete that is a
    /// double free, refused. After delete it is a frame out at the delete coming back
    /// (counted down; the last one releases the pool), or a double free (refused).
    ///
    /// # Safety
    ///
    /// `pool` is live and frame `index`'s bit is set.
    unsafe fn free_slow(pool: NonNull<FramePool>, index: u32) -> Result<FreeOutcome, FreeError> {
        // SAFETY: live pool (caller). The reference is not used after the `pending`
        // decrement, after which another thread may release the pool.
        let release = unsafe {
            let this = pool.as_ref();
            if this.deleted.load(Ordering::Acquire) == 0 {
                return this.refused(FreeError::AlreadyFree);
            }
            let slot = (index >> 6).wrapping_add(1);
            let bit = 1u64 << (index & 63);
            if this.returned(slot).fetch_or(bit, Ordering::AcqRel) & bit != 0 {
                return this.refused(FreeError::AlreadyFree);
            }
            this.pending.fetch_sub(1, Ordering::AcqRel) == 1
        };
        if release {
            // SAFETY: `pending` reached zero after Delete's addition: every frame out at
            // the delete is back, Allocate fails, Delete is done with the pool, and this
            // thread made the last decrement: it is the pool's last user.
            unsafe { Self::release(pool) };
            return Ok(FreeOutcome::ReleasedPool);
        }
        Ok(FreeOutcome::Freed)
    }

    /// DeleteAllocator: no more allocations; the memory is released now if no frame is
    /// out, or else by the Free of the last frame out (deferred release: memory is never
    /// freed under a frame's holder).
    ///
    /// # Safety
    ///
    /// `pool` points to a live pool on which delete was not called before; after this
    /// call the caller must not use `pool` except through `free` of frames still out.
    pub unsafe fn delete(pool: NonNull<FramePool>) -> DeleteOutcome {
        // SAFETY: live pool (caller). Once the words are all set, Frees of the frames out
        // count down `pending`, so after Delete's own addition the pool is not touched.
        let (outstanding, release) = unsafe {
            let this = pool.as_ref();
            this.deleted.store(1, Ordering::Release);
            this.hint.store(SENTINEL, Ordering::Release);
            let mut out: u32 = 0;
            for slot in 1..=this.nwords {
                let full = this.geometry.full_mask(slot.wrapping_sub(1));
                let previous = this.word(slot).fetch_or(full, Ordering::AcqRel);
                let free = previous & full;
                if free != 0 {
                    this.returned(slot).fetch_or(free, Ordering::AcqRel);
                }
                out = out.saturating_add((full & !previous).count_ones());
            }
            let before = this.pending.fetch_add(u64::from(out), Ordering::AcqRel);
            (out, before.wrapping_add(u64::from(out)) == 0)
        };
        if release {
            // SAFETY: no frame is out (all counted back), Allocate fails, and this
            // thread brought `pending` to zero: it is the pool's last user.
            unsafe { Self::release(pool) };
            DeleteOutcome::Released
        } else {
            DeleteOutcome::Deferred { outstanding }
        }
    }

    /// Frees the pool's memory.
    ///
    /// # Safety
    ///
    /// `pool` came from `PoolBox::into_raw` of [`FramePool::new`]'s box and nobody uses
    /// it any more.
    unsafe fn release(pool: NonNull<FramePool>) {
        // SAFETY: the caller's contract: we take back the sole ownership.
        drop(unsafe { PoolBox::from_raw(pool.as_ptr(), POOL_TAG) });
    }

    /// The counters now. Exact when no Allocate/Free runs concurrently; otherwise each
    /// figure is one that held during the call.
    pub fn stats(&self) -> AllocatorStats {
        let allocations: u64 = (0..self.geometry.frames)
            .map(|i| self.counter(i).load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add);
        let outstanding = self.outstanding();
        let base = u64::from(self.outstanding_at_reset.load(Ordering::Relaxed));
        AllocatorStats {
            allocations,
            frees: allocations.wrapping_add(base).wrapping_sub(u64::from(outstanding)),
            allocation_failures: self.allocation_failures.load(Ordering::Relaxed),
            rejected_frees: self.rejected_frees.load(Ordering::Relaxed),
            outstanding,
            peak_outstanding: self.peak(),
            frames: self.geometry.frames,
            frame_size: self.geometry.frame_size,
        }
    }

    /// Zeroes the counters (allocations, frees, failures, refused frees; the peak
    /// becomes the frames out now). Frames out stay out. A reset during traffic may keep
    /// or lose a concurrent count.
    pub fn reset_stats(&self) {
        for i in 0..self.geometry.frames {
            self.counter(i).store(0, Ordering::Relaxed);
        }
        self.allocation_failures.store(0, Ordering::Relaxed);
        self.rejected_frees.store(0, Ordering::Relaxed);
        let out = self.outstanding();
        self.outstanding_at_reset.store(out, Ordering::Relaxed);
        self.peak.store(out, Ordering::Relaxed);
        // With frames out, the frames out need not be the lowest: count from now on
        // (the sentinel hint sends every Allocate to the slow path, which counts, until
        // the pool is empty again).
        if out > 0 && self.deleted.load(Ordering::Acquire) == 0 {
            self.peak_by_count.store(1, Ordering::Relaxed);
            self.hint.store(SENTINEL, Ordering::Relaxed);
        }
    }

    #[cold]
    #[inline(never)]
    fn refused<T>(&self, why: FreeError) -> Result<T, FreeError> {
        self.rejected_frees.fetch_add(1, Ordering::Relaxed);
        Err(why)
    }
}

impl Drop for FramePool {
    fn drop(&mut self) {
        for i in 0..self.geometry.frames {
            let counter: *const AtomicU64 = self.counter(i);
            // SAFETY: each counter was initialised in `new` and is dropped once, here,
            // before `counter_block` frees their memory.
            unsafe { core::ptr::drop_in_place(counter.cast_mut()) };
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
    use super::*;

    /// The inverse test accepts exactly the frame starts, for every stride shape the
    /// pool can have, at the offsets where an error would show (around each multiple,
    /// below the base, past the end).
    #[test]
    fn the_inverse_accepts_exactly_the_frame_starts() {
        let strides = [1usize, 2, 3, 7, 48, 64, 100, 4095, 4096, 4097, 12 << 20, (1 << 29) + 4096];
        for stride in strides {
            let (inverse, shift) = stride_inverse(stride);
            assert_eq!(((stride as u64) >> shift).wrapping_mul(inverse), 1, "stride {stride}");
            let frames = (MAX_POOL_BYTES / stride).clamp(1, MAX_FRAMES as usize) as u64;
            let index = |offset: u64| {
                let q = offset.wrapping_mul(inverse).rotate_right(shift);
                (q < frames).then_some(q)
            };
            let last = frames - 1;
            for k in [0, 1, 2, frames / 2, last.saturating_sub(1), last, frames, frames + 1] {
                let start = k * stride as u64;
                assert_eq!(index(start), (k < frames).then_some(k), "stride {stride} frame {k}");
                for delta in [1u64, 2, 3, 15, 16, 63, 64] {
                    if delta < stride as u64 {
                        assert_eq!(index(start + delta), None, "stride {stride} inside frame {k}");
                    }
                }
            }
            for below in [1u64, stride as u64, 1 << 40] {
                assert_eq!(index(0u64.wrapping_sub(below)), None, "stride {stride}: below the base");
            }
        }
    }

    #[test]
    fn full_masks_cover_exactly_the_pools_frames() {
        let g = |frames| Geometry {
            frames,
            frame_size: 1,
            alignment: 1,
            stride: 1,
            total_bytes: frames as usize,
        };
        assert_eq!(g(1).full_mask(0), 1);
        assert_eq!(g(63).full_mask(0), u64::MAX >> 1);
        assert_eq!(g(64).full_mask(0), u64::MAX);
        assert_eq!((g(65).words(), g(65).full_mask(0), g(65).full_mask(1)), (2, u64::MAX, 1));
        assert_eq!(g(MAX_FRAMES).words(), 16);
        assert_eq!(g(MAX_FRAMES).words() as usize, MAX_WORDS);
        let total: u32 = (0..g(MAX_FRAMES).words()).map(|w| g(MAX_FRAMES).full_mask(w).count_ones()).sum();
        assert_eq!(total, MAX_FRAMES);
    }

    #[test]
    fn hot_bitmap_and_cold_data_sit_on_separate_cache_lines() {
        let hot_end = core::mem::offset_of!(FramePool, _hot_end);
        let bitmap = core::mem::offset_of!(FramePool, words);
        let bitmap_end = core::mem::offset_of!(FramePool, _bitmap_end);
        let cold = core::mem::offset_of!(FramePool, returned);
        assert!(bitmap - hot_end >= 64 && cold - bitmap_end >= 64);
        assert!(core::mem::align_of::<FramePool>() <= 16);
    }
}
