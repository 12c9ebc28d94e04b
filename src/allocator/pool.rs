//! The frame pool: every frame preallocated, handed out and taken back lock-free.
//!
//! # Design
//!
//! All frames live in one non-paged block, `stride` bytes apart (`stride` = FrameSize
//! rounded up to the framing's alignment), so a pointer maps to its frame index with a
//! subtraction and a multiplication, and a pointer that is not a frame of this pool
//! (outside the block, or not at a frame's start) is recognised without touching it.
//!
//! Which frames are free is a bitmap of atomic 64-bit words, 63 frames per word:
//!
//! ```text
//!   63    62                                   0
//! +-----+---------------------------------------+
//! | del |  free bits of frames 63w .. 63w + 62   |
//! +-----+---------------------------------------+
//! ```
//!
//! - **Allocate** picks the lowest set bit of the first word that has one and clears
//!   it with one compare-exchange: one read-modify-write.
//! - **Free** sets the frame's bit with one `fetch_or`: one read-modify-write, and the
//!   previous value says whether the bit was already set, i.e. a double free, which is
//!   then refused: the `or` changed nothing, so even two racing double frees cannot
//!   corrupt the pool.
//! - An Allocate+Free pair is thus two read-modify-writes, the floor for any pool that
//!   hands out and takes back in one atomic step each. There is no ABA problem to tag
//!   against: the exchange compares the whole free set, and if the set is the same the
//!   bit it clears is still free. This is why the pool is a bitmap rather than the
//!   tagged index list first planned (that design costs a third read-modify-write on
//!   Free to detect double frees, and an ABA tag).
//! - **Delete** sets every word's `del` bit. A word is *done* when `del` is set and all
//!   its frames are free; each word becomes done exactly once, observed by exactly one
//!   atomic operation (Delete's `fetch_or`, or the Free that set the word's last bit).
//!   That operation decrements `words_remaining`; whoever brings it to zero releases
//!   the pool. So the release happens once, when no frame is out, and never under a
//!   frame's holder. Allocate fails on a word with `del` set.
//!
//! With up to 63 frames (every KS framing seen in practice) there is one word and every
//! path is O(1). Larger pools (up to [`MAX_FRAMES`]) scan at most 17 words.
//!
//! Counters cost no read-modify-write on the hot path: each frame counts its own
//! allocations with a plain store by the thread that just won it; frames out come from
//! the bitmap; frees are allocations minus frames out; failures and refused frees are
//! counted on their own (cold) paths; the peak is raised with `fetch_max` only when
//! exceeded.
//!
//! Every word and every frame counter has a cache line of its own, and the read-mostly
//! fields (geometry, block addresses) sit on lines that no hot path writes: two threads
//! working on one pool then only contend for the bitmap word itself.
//!
//! ## Memory orderings
//!
//! - Allocate's successful exchange is `Acquire`: it synchronises with the `Release`
//!   `fetch_or` of the Free that returned the frame, so the new owner sees the previous
//!   owner's writes to the frame (and the poison) before using it.
//! - Free's `fetch_or` is `Release` (`AcqRel`, so that a thread that goes on to release
//!   the pool has seen every other thread's writes first).
//! - Delete's `fetch_or`s and the `words_remaining` decrements are `AcqRel` for the same
//!   reason: the release must follow every use of the pool.
//! - Counters are `Relaxed`: they are statistics, exact when no call runs concurrently.

use super::AllocatorStats;
use crate::kernel::sync::{AtomicU32, AtomicU64, Ordering};
use crate::kernel::{POOL_TAG, PoolBox, PoolBuffer};
use crate::ks::{
    KSALLOCATOR_FRAMING, KSALLOCATOR_OPTIONF_COMPATIBLE, KSALLOCATOR_OPTIONF_SYSTEM_MEMORY,
    KSALLOCATOR_REQUIREMENTF_FRAME_INTEGRITY, KSALLOCATOR_REQUIREMENTF_INPLACE_MODIFIER,
    KSALLOCATOR_REQUIREMENTF_MUST_ALLOCATE, KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY, NTSTATUS,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER,
};
use core::ptr::NonNull;

/// The most frames one pool holds: a documented ceiling (KS pins use a handful; up to
/// 63 keeps every operation on one bitmap word).
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
const FRAMES_PER_WORD: u32 = 63;
/// The word's bit set by DeleteAllocator.
const DELETED: u64 = 1 << 63;
/// The free bits of a word.
const FREE_MASK: u64 = DELETED - 1;

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

    /// Bitmap words: ceil(frames / 63).
    fn words(&self) -> u32 {
        self.frames.div_ceil(FRAMES_PER_WORD)
    }

    /// The free bits word `w` has when all its frames are free.
    fn full_mask(&self, w: u32) -> u64 {
        let first = w.saturating_mul(FRAMES_PER_WORD);
        let n = self.frames.saturating_sub(first).min(FRAMES_PER_WORD);
        FREE_MASK >> FRAMES_PER_WORD.saturating_sub(n)
    }
}

/// An atomic on a cache line of its own.
#[repr(C, align(64))]
#[derive(Debug)]
struct Line {
    value: AtomicU64,
}

/// A pool of preallocated frames behind a lock-free bitmap (see the module docs).
///
/// # Invariants
///
/// - `lines` points to `words + frames` initialised [`Line`]s inside `line_block`: the
///   bitmap words first, then one allocation counter per frame;
/// - bit `b` of word `w` (b < 63) is set iff frame `63w + b` is free; bits of frames
///   past `geometry.frames` are never set; a frame whose bit is clear belongs to
///   whoever Allocate gave it to;
/// - `frames` holds `geometry.total_bytes` bytes, frame `i` starting at
///   `frames + i * stride`, aligned to `geometry.alignment`;
/// - `words_remaining` counts the words not yet *done* (module docs); the pool is
///   released exactly when it reaches zero.
#[repr(C)]
#[derive(Debug)]
pub struct FramePool {
    /// Cold counters, on their own line (the control block is 16-aligned, so 64 bytes
    /// of padding on each side keep them off the lines of the fields below).
    peak: AtomicU32,
    words_remaining: AtomicU32,
    allocation_failures: AtomicU64,
    rejected_frees: AtomicU64,
    /// Frames out when the counters were last reset (frees = allocations + this − out).
    outstanding_at_reset: AtomicU32,
    /// Whoever built the pool and wants to hear of its deletion (opaque to the pool; the
    /// pin's state in ksframe's pins), or null.
    owner: core::sync::atomic::AtomicPtr<core::ffi::c_void>,
    _cold_line: [u8; 92],
    geometry: Geometry,
    /// ceil(2^64 / stride) for strides of 2 and more; 0 for stride 1 (see `index_of`).
    stride_reciprocal: u64,
    words: u32,
    lines: NonNull<Line>,
    line_block: PoolBuffer,
    frames: PoolBuffer,
}

// SAFETY: all shared mutation goes through atomics; `lines` points into `line_block`,
// which the pool owns.
unsafe impl Send for FramePool {}
// SAFETY: `&FramePool` only permits atomic operations and reads of immutable fields.
unsafe impl Sync for FramePool {}

/// ceil(2^64 / stride) for a stride of 2 or more (it then fits 64 bits); 0 for 1.
fn stride_reciprocal(stride: usize) -> u64 {
    u64::try_from((1u128 << 64).div_ceil(stride as u128)).unwrap_or(0)
}

/// `offset / stride` as the high half of `offset * reciprocal` (stride >= 2).
fn quotient(offset: usize, reciprocal: u64) -> usize {
    ((offset as u128).wrapping_mul(u128::from(reciprocal)) >> 64) as usize
}

impl FramePool {
    /// Validates `framing` and preallocates every frame: three pool allocations (the
    /// bitmap and counters, the frames, the control block). On any failure nothing stays
    /// allocated: the buffers already obtained are dropped, and so freed.
    pub fn new(framing: &KSALLOCATOR_FRAMING) -> Result<PoolBox<FramePool>, NTSTATUS> {
        let geometry = Geometry::from_framing(framing)?;
        let words = geometry.words();
        let line_count = words.checked_add(geometry.frames).ok_or(STATUS_INVALID_PARAMETER)?;
        let line_bytes =
            core::mem::size_of::<Line>().checked_mul(line_count as usize).ok_or(STATUS_INVALID_PARAMETER)?;
        let line_block = PoolBuffer::new(line_bytes, core::mem::align_of::<Line>(), POOL_TAG)?;
        let frames = PoolBuffer::new(geometry.total_bytes, geometry.alignment, POOL_TAG)?;
        let base = line_block.as_ptr().cast::<Line>();
        for i in 0..line_count {
            let initial = if i < words { geometry.full_mask(i) } else { 0 };
            // SAFETY: `line_block` holds `line_count` Lines' worth of bytes aligned for
            // Line, and `i < line_count`; the memory is not yet a Line, so `write`.
            unsafe { base.add(i as usize).write(Line { value: AtomicU64::new(initial) }) };
        }
        let Some(lines) = NonNull::new(base) else {
            return Err(STATUS_INSUFFICIENT_RESOURCES);
        };
        // INVARIANT: every Line initialised; each word has exactly its frames' bits set
        // (all free), the counters are zero; frames holds total_bytes aligned as asked
        // (PoolBuffer::new); no word is done, so words_remaining = words.
        let pool = FramePool {
            peak: AtomicU32::new(0),
            words_remaining: AtomicU32::new(words),
            allocation_failures: AtomicU64::new(0),
            rejected_frees: AtomicU64::new(0),
            outstanding_at_reset: AtomicU32::new(0),
            owner: core::sync::atomic::AtomicPtr::new(core::ptr::null_mut()),
            _cold_line: [0; 92],
            geometry,
            stride_reciprocal: stride_reciprocal(geometry.stride),
            words,
            lines,
            line_block,
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

    fn line(&self, i: u32) -> &AtomicU64 {
        debug_assert!(i < self.words.saturating_add(self.geometry.frames));
        debug_assert!(self.line_block.len() > (i as usize).wrapping_mul(core::mem::size_of::<Line>()));
        // SAFETY: callers pass `i < words + frames` (bitmap word indices below `words`,
        // counters at `words + frame index`), all initialised Lines (invariants).
        unsafe { &(*self.lines.as_ptr().add(i as usize)).value }
    }

    fn word(&self, w: u32) -> &AtomicU64 {
        self.line(w)
    }

    fn counter(&self, frame: u32) -> &AtomicU64 {
        self.line(self.words.wrapping_add(frame))
    }

    fn frame_ptr(&self, index: u32) -> *mut u8 {
        // `index * stride < total_bytes` for every valid index, so this stays in the
        // frames block.
        self.frames.as_ptr().wrapping_add((index as usize).wrapping_mul(self.geometry.stride))
    }

    /// The index of the frame starting at `frame`, or `None` for any other address.
    ///
    /// A 64-bit division costs more than the rest of Free together, so the quotient is
    /// the high half of `offset * ceil(2^64 / stride)`, exact for `offset * stride <
    /// 2^64` (here `offset < total_bytes <= 2^30` and `stride <= 2^33`); the product
    /// check then rejects an address inside a frame. A stride of 1 is its own quotient.
    fn index_of(&self, frame: *const u8) -> Option<u32> {
        let base = self.frames.as_ptr() as usize;
        let offset = (frame as usize).checked_sub(base)?;
        if offset >= self.geometry.total_bytes {
            return None;
        }
        let index =
            if self.stride_reciprocal == 0 { offset } else { quotient(offset, self.stride_reciprocal) };
        if index.wrapping_mul(self.geometry.stride) != offset {
            return None;
        }
        u32::try_from(index).ok()
    }

    /// Frames out, from the bitmap (exact when nothing runs concurrently).
    fn outstanding(&self) -> u32 {
        let free: u32 =
            (0..self.words).map(|w| (self.word(w).load(Ordering::Acquire) & FREE_MASK).count_ones()).sum();
        self.geometry.frames.saturating_sub(free)
    }

    /// Hands out a free frame, or `None` when all `Frames` are out (or after delete).
    /// O(1) for up to 63 frames, lock-free, no allocation; callable at DISPATCH_LEVEL.
    pub fn allocate(&self) -> Option<NonNull<u8>> {
        for w in 0..self.words {
            let word = self.word(w);
            let mut current = word.load(Ordering::Relaxed);
            loop {
                let free = current & FREE_MASK;
                if current & DELETED != 0 {
                    self.allocation_failures.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                if free == 0 {
                    break;
                }
                let bit = free.trailing_zeros();
                let taken = current & !(1u64 << bit);
                // The deliberately broken variant (feature `broken-double-handout`, only
                // for tests/wine.rs): frame 0 is handed out without being taken.
                #[cfg(feature = "broken-double-handout")]
                let taken = if bit == 0 { current } else { taken };
                match word.compare_exchange_weak(current, taken, Ordering::Acquire, Ordering::Relaxed) {
                    Ok(_) => {
                        let index = w.wrapping_mul(FRAMES_PER_WORD).wrapping_add(bit);
                        // The frame is ours: a plain load+store counts it race-free.
                        let counter = self.counter(index);
                        counter.store(counter.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
                        self.raise_peak(w, taken);
                        return NonNull::new(self.frame_ptr(index));
                    }
                    Err(now) => current = now,
                }
            }
        }
        self.allocation_failures.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Raises the peak if the frames out now exceed it. With one word the figure comes
    /// from the exchange itself; with more, the other words are read (Relaxed).
    fn raise_peak(&self, w: u32, word_now: u64) {
        let mut free = (word_now & FREE_MASK).count_ones();
        if self.words > 1 {
            for other in (0..self.words).filter(|o| *o != w) {
                free =
                    free.saturating_add((self.word(other).load(Ordering::Relaxed) & FREE_MASK).count_ones());
            }
        }
        let out = self.geometry.frames.saturating_sub(free);
        if out > self.peak.load(Ordering::Relaxed) {
            self.peak.fetch_max(out, Ordering::Relaxed);
        }
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
    pub unsafe fn free(pool: NonNull<FramePool>, frame: *mut u8) -> Result<FreeOutcome, FreeError> {
        // SAFETY: the caller guarantees the pool is live; the reference ends with this
        // block, before the pool can be released below.
        let release = unsafe {
            let this = pool.as_ref();
            let Some(index) = this.index_of(frame) else {
                this.rejected_frees.fetch_add(1, Ordering::Relaxed);
                return Err(FreeError::Foreign);
            };
            // One word (up to 63 frames, the usual case) needs no division by 63.
            let (w, b) =
                if this.words == 1 { (0, index) } else { (index / FRAMES_PER_WORD, index % FRAMES_PER_WORD) };
            let bit = 1u64 << b;
            let word = this.word(w);
            // Debug builds poison the frame; a frame already free is refused before its
            // memory is touched. (A double free racing the frame's next Allocate can still
            // poison the new owner's frame; the pool itself stays intact either way, and
            // release builds, which do not poison, rely on the `fetch_or` alone.)
            #[cfg(debug_assertions)]
            {
                if word.load(Ordering::Relaxed) & bit != 0 {
                    this.rejected_frees.fetch_add(1, Ordering::Relaxed);
                    return Err(FreeError::AlreadyFree);
                }
                core::ptr::write_bytes(frame, FRAME_POISON, this.geometry.frame_size as usize);
            }
            let previous = word.fetch_or(bit, Ordering::AcqRel);
            if previous & bit != 0 {
                this.rejected_frees.fetch_add(1, Ordering::Relaxed);
                return Err(FreeError::AlreadyFree);
            }
            let now = previous | bit;
            // This Free made a deleted word done: count it; the last done word releases.
            now & DELETED != 0
                && now & FREE_MASK == this.geometry.full_mask(w)
                && this.words_remaining.fetch_sub(1, Ordering::AcqRel) == 1
        };
        if release {
            // SAFETY: every word is done: deleted and all frames free, so no frame is out,
            // Allocate refuses, and DeleteAllocator has finished with the pool; this
            // thread made the last decrement, so it is the pool's last user.
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
        // SAFETY: live pool (caller). The reference ends with this block: once the last
        // word has its DELETED bit, a Free may release the pool, so after the loop only
        // the final decrement touches it, and only when it has something to count.
        let (done, outstanding, release) = unsafe {
            let this = pool.as_ref();
            let mut done: u32 = 0;
            let mut free: u32 = 0;
            let (words, frames) = (this.words, this.geometry.frames);
            let remaining = &this.words_remaining;
            for w in 0..words {
                let previous = this.word(w).fetch_or(DELETED, Ordering::AcqRel);
                free = free.saturating_add((previous & FREE_MASK).count_ones());
                if previous & FREE_MASK == this.geometry.full_mask(w) {
                    done = done.saturating_add(1);
                }
            }
            // Only words this loop found done are counted here; the others are counted by
            // the Frees that complete them, so `remaining` cannot reach zero before this
            // subtraction when `done > 0`.
            let release = done > 0 && remaining.fetch_sub(done, Ordering::AcqRel) == done;
            (done, frames.saturating_sub(free), release)
        };
        let _ = done;
        if release {
            // SAFETY: all words are done (no frame out, no allocation possible) and this
            // thread made the last decrement: it is the pool's last user.
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
            peak_outstanding: self.peak.load(Ordering::Relaxed),
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
    }
}

impl Drop for FramePool {
    fn drop(&mut self) {
        for i in 0..self.words.saturating_add(self.geometry.frames) {
            // SAFETY: each Line was initialised in `new` and is dropped once, here,
            // before `line_block` frees their memory.
            unsafe { core::ptr::drop_in_place(self.lines.as_ptr().add(i as usize)) };
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
    use super::*;

    /// The reciprocal quotient equals the division for every stride shape the pool can
    /// have (1, powers of two, odd, page multiples, the largest) at the offsets where an
    /// error would show: around multiples spread over the largest pool size.
    #[test]
    fn reciprocal_division_is_exact_over_the_pool_range() {
        let strides = [1usize, 2, 3, 7, 48, 64, 100, 4095, 4096, 4097, 12 << 20, (1 << 32) + 4096];
        for stride in strides {
            let r = stride_reciprocal(stride);
            assert_eq!(r == 0, stride == 1);
            let q = |offset: usize| if r == 0 { offset } else { quotient(offset, r) };
            let count = (MAX_POOL_BYTES / stride).max(1);
            let picks =
                [0, 1, 2, count / 3, count / 2, count.saturating_sub(2), count.saturating_sub(1), count];
            for k in picks {
                for offset in [k * stride, (k * stride).saturating_sub(1), k * stride + 1] {
                    if offset <= MAX_POOL_BYTES {
                        assert_eq!(q(offset), offset / stride, "stride {stride} offset {offset}");
                    }
                }
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
        assert_eq!(g(63).full_mask(0), FREE_MASK);
        assert_eq!((g(64).words(), g(64).full_mask(0), g(64).full_mask(1)), (2, FREE_MASK, 1));
        assert_eq!(g(MAX_FRAMES).words(), 17);
        let total: u32 = (0..g(MAX_FRAMES).words()).map(|w| g(MAX_FRAMES).full_mask(w).count_ones()).sum();
        assert_eq!(total, MAX_FRAMES);
    }

    #[test]
    fn hot_and_cold_data_sit_on_separate_cache_lines() {
        assert!(core::mem::offset_of!(FramePool, geometry) >= 128);
        assert_eq!(core::mem::size_of::<Line>(), 64);
        assert_eq!(core::mem::align_of::<Line>(), 64);
    }
}
