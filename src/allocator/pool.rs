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
//! Each frame `i` has two counters, each written by one side only:
//!
//! - its **generation** (`generation[i]`): 128 × the times it was handed out, written
//!   with a plain store by the Allocate that just won it;
//! - its **returns** (`freed[i]`): 128 × the times it was freed, changed only by Free's
//!   compare-exchange from `generation − 128` to `generation`.
//!
//! The frame is out exactly when the two differ. Free's compare-exchange is the single
//! atomic step that takes a frame back: it succeeds only for a frame that is out in the
//! generation the caller holds, so a double free (the counters already equal) fails it
//! and is refused, and of two racing Frees of one frame exactly one succeeds. The
//! counters are 64 bits wide and only grow: no ABA.
//!
//! Frames are handed out from **groups of eight**. A group's *claim word* holds, in
//! bits 0–7, each frame's claim parity (flipped by every Allocate of the frame), bit 8
//! always set (a guard: the word is never zero) and, in bits 9–63, a tag that every
//! successful claim increments (so a claim word never repeats a value: no ABA). A
//! group's *ready word* holds one byte per frame, the low byte of its `freed` counter
//! (0x00 or 0x80: the parity of its returns, in bit 7), which Free stores after its
//! compare-exchange. A frame is free when its claim parity and return parity say that
//! it was returned as often as it was claimed; one multiplication gathers the eight
//! bit-7s of the ready word into a byte, and an XOR with the claim word gives the
//! group's free frames.
//!
//! - **Allocate** reads the claim word and the ready word of the group at the
//!   *first-free hint*, takes the lowest free frame and claims it with one
//!   compare-exchange of the claim word (flip its parity, bump the tag), then bumps the
//!   frame's generation and returns its address from a table. Frames only become free
//!   through the ready word, which may lag a Free by one store; a lagging byte makes
//!   the frame look out, never free, and the claim word's compare-exchange fails if
//!   any claim happened since it was read. So a frame is never handed out twice.
//! - **Free** checks the pointer, reads the frame's generation (written by the
//!   Allocate that handed it out) and does the compare-exchange of `freed[i]`; then it
//!   stores the frame's ready byte. A Free below the hint takes its rare path, which
//!   lowers the hint first: frames go out lowest first, and a pair costs the same at
//!   any pool size and occupancy.
//! - **Why two words.** Allocate's and Free's read-modify-writes land on different
//!   words (the group's claim word; the frame's `freed` counter), and neither reads a
//!   word the other's atomic instruction has just written: Allocate reads the ready
//!   word, which Free wrote with a plain store, and Free reads the generation, which
//!   Allocate wrote with a plain store. On the x86 machines measured here a locked
//!   instruction on a word that the previous locked instruction wrote, or a load of
//!   that word, costs about 3.5 ns more (docs/PERFORMANCE.md): an Allocate+Free pair
//!   on one bitmap word, as this pool did before, cannot be faster than ArrayQueue,
//!   whose pop and push work on different words.
//! - **Delete** sets `deleted`, points the hint at the sentinel group (whose claim word
//!   has no free frame, and which lies above every frame, so that every later Allocate
//!   takes its slow path and fails, and every later Free takes its rare path; no
//!   Allocate may run concurrently with Delete, as under KS), then marks every
//!   frame's `freed` counter with the DEL bit (`fetch_or`). The old value of that
//!   `fetch_or` says exactly whether the frame was out at that moment: a Free that
//!   completed before counts as free, one that comes after sees the mark, takes its
//!   rare path and counts the frame down in `pending`; a second Free of it, or a Free
//!   of a frame that was free at the delete, fails the counters' test and is refused.
//!   Delete adds the frames it found out to `pending`; whichever operation brings
//!   `pending` to zero (Delete itself when no frame was out, or the last Free) releases
//!   the pool, exactly once and never under a frame's holder.
//! - A Free touches the pool after its compare-exchange, to store the ready byte. A
//!   Delete that counts such a frame as free therefore waits until its ready byte shows
//!   the return before it may release the pool: the Free is then one store from done
//!   (a spin of a few instructions, unless the freeing thread is preempted between
//!   them; DeleteAllocator runs at PASSIVE_LEVEL when the allocator's file object is
//!   closed, KS-NOTES "How AVStream calls the driver", so it may wait).
//!
//! Counters cost no read-modify-write on the hot path: a frame's allocations are its
//! generation (since the reset: minus a baseline recorded by the reset), frames out come
//! from the claim and ready words, frees are allocations + out-at-reset − out, failures
//! and refused frees are counted on their own (cold) paths, and the peak is worked out
//! when read, as the highest index handed out plus one ([`FramePool::peak`] says why
//! that is exact).
//!
//! The read-mostly fields, the claim words, the ready words and the per-frame arrays
//! sit on separate cache lines. The three per-frame arrays (`generation`, `freed`,
//! `address`) are placed so that a frame's three entries are not 4 KiB apart: a load
//! whose address matches a pending store's in the low 12 bits waits for it on x86
//! ("4K aliasing"), which cost 1.5 ns a pair before the padding.
//!
//! ## Memory orderings
//!
//! - Free's compare-exchange is `Release` and its ready-byte store is `Release`; Allocate
//!   reads the ready word with `Acquire`: the new owner sees the previous owner's
//!   writes to the frame (and the poison).
//! - Allocate reads the claim word with `Acquire` and claims with `AcqRel`, and reads the
//!   claim word *before* the ready word. A claim word that shows frame `i` claimed `a`
//!   times was written by the claimer of the `a`-th claim, which had seen the frame's
//!   `a − 1`-th return published; so the ready word read after it shows at least that
//!   return, and a frame that is out never looks free. (With a relaxed claim word, a
//!   ready word two returns stale would make an out frame look free: loom found that
//!   schedule, `tests/loom_pool.rs`.) On x86 all of this is the plain `mov`s and
//!   `lock cmpxchg` the relaxed version compiles to.
//! - Delete's `fetch_or` marks and the rare path's compare-exchanges are `AcqRel`, and
//!   so is `pending`: the release follows every use of the pool.
//! - The hint, the generations (read by the frame's own holder) and the statistics are
//!   `Relaxed`: hints and statistics, exact when no call runs concurrently. On x86_64
//!   the ready byte is stored with a `mov` in `asm!` (a byte of the ready word, which
//!   Allocate reads whole; Rust's memory model has no mixed-size atomics, so the byte
//!   store is written as the instruction itself); loom and Miri run a portable
//!   compare-exchange of the whole word.

use super::AllocatorStats;
use crate::kernel::sync::{AtomicU32, AtomicU64, Ordering, spin_loop};
use crate::kernel::{POOL_TAG, PoolBox, PoolBuffer};
use crate::ks::{
    KSALLOCATOR_FRAMING, KSALLOCATOR_OPTIONF_COMPATIBLE, KSALLOCATOR_OPTIONF_SYSTEM_MEMORY,
    KSALLOCATOR_REQUIREMENTF_FRAME_INTEGRITY, KSALLOCATOR_REQUIREMENTF_INPLACE_MODIFIER,
    KSALLOCATOR_REQUIREMENTF_MUST_ALLOCATE, KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY, NTSTATUS,
    STATUS_INVALID_PARAMETER,
};
use core::ptr::{NonNull, addr_of_mut};

/// The most frames one pool holds: a documented ceiling (KS pins use a handful). Under
/// loom and Miri 64, so that a model's pool has few atomics and Miri does not spend
/// minutes initialising the per-frame arrays of every pool (the control block holds
/// them for MAX_FRAMES frames).
pub const MAX_FRAMES: u32 = if cfg!(any(loom, miri)) { 64 } else { 1024 };
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

/// Frames per group (claim word and ready word).
const GROUP: u32 = 8;
/// Entries of the per-frame arrays.
const FRAMES: usize = MAX_FRAMES as usize;
/// Groups of the largest pool.
const GROUPS: usize = FRAMES / GROUP as usize;
/// Claim and ready words: the groups, and the sentinel group above them.
const SLOTS: usize = GROUPS + 1;
/// The hint of the sentinel group: its first frame index (8 × its slot). Above every
/// frame index, so that every Free takes its rare path; its claim word has no free
/// frame, so that every Allocate takes its slow path. The hint after DeleteAllocator,
/// and while the peak is counted.
const SENTINEL: u64 = (GROUPS as u64) * GROUP as u64;
/// Bit 8 of every claim word: always set, so that the free-frame figure is never zero.
const GUARD: u64 = 1 << 8;
/// What a successful claim adds to the claim word's tag (bits 9–63).
const TAG_ONE: u64 = 1 << 9;
/// A claim's step of a frame's generation, and a return's step of its `freed`: bit 7
/// of both is the parity, the low byte of `freed` is the frame's ready byte.
const STEP: u64 = 128;
/// The mark DeleteAllocator sets in every frame's `freed` (below the steps).
const DEL: u64 = 1;
/// Gathers bit 7 of each byte of a ready word into bits 56–63 (byte k to bit 56 + k):
/// the sum of 2^(49 − 7k); no two partial products meet, so nothing carries.
const GATHER: u64 = 0x0002_0408_1020_4081;
/// Bytes between the ends and starts of the per-frame arrays, so that one frame's
/// entries in the three arrays are 1344 bytes (mod 4 KiB) apart, not a multiple of 4 KiB
/// (module docs), whatever the arrays' length.
const SKEW: usize = (1344 + 4096 - FRAMES * 8 % 4096) % 4096;

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

    /// Groups: ceil(frames / 8).
    fn groups(&self) -> u32 {
        self.frames.div_ceil(GROUP)
    }

    /// The claim bits of group `g` that are frames of the pool (all of them, but the
    /// last group's past `frames`).
    fn group_mask(&self, g: u32) -> u64 {
        let first = g.saturating_mul(GROUP);
        let n = self.frames.saturating_sub(first).min(GROUP);
        (1u64 << n).wrapping_sub(1)
    }
}

/// A pool of preallocated frames (see the module docs).
///
/// # Invariants
///
/// - for every frame `i` < `geometry.frames`, with `c` its group's claim word, `k = i %
///   8`: `generation[i] = 128·a` and `freed[i] & !DEL = 128·f` where `a` is the times it
///   was claimed and `f` the times it was returned, `f <= a <= f + 1` (out iff `a = f +
///   1`), except that `generation[i]` lags a claim until the claiming Allocate's store;
///   bit `k` of `c` is `1 ^ (a & 1)` (so 1 = claimed an even number of times); its
///   ready byte is `freed[i]`'s low byte as of the last return whose store is done;
/// - claim bits of non-frames (past `frames`, and the sentinel's) are 0 and their ready
///   bytes 0: never free; bit 8 of every claim word is set;
/// - `hint` is 8·g for a group `g < groups` or [`SENTINEL`]; once `deleted` is set it
///   is [`SENTINEL`] for good (nothing lowers the sentinel);
/// - `address[i]` = `base + i·stride` for i < frames; `frames` holds
///   `geometry.total_bytes` bytes, frame `i` starting there, aligned to
///   `geometry.alignment`; `baseline` points to `geometry.frames` initialised
///   `AtomicU64`s inside `baseline_block`;
/// - `stride_inverse · (stride >> stride_shift) ≡ 1 (mod 2^64)`;
/// - once `deleted` is set, `pending` + the frames Delete found out that are not yet
///   back = 0 after Delete's addition; the pool is released exactly when an operation
///   brings it to zero.
#[repr(C)]
#[derive(Debug)]
pub struct FramePool {
    // --- read by every Allocate and Free; written only on cold paths ---------------
    base: *mut u8,
    stride_inverse: u64,
    /// The frame count, widened for the index comparison.
    frame_bound: u64,
    /// The first-free hint: the first frame index (8·g) of the lowest group that may
    /// have a free frame, or [`SENTINEL`].
    hint: AtomicU64,
    stride_shift: u32,
    _hot_end: [u8; 64],
    // --- the groups ------------------------------------------------------------------
    claims: [AtomicU64; SLOTS],
    _claims_end: [u8; 64],
    ready: [AtomicU64; SLOTS],
    _ready_end: [u8; 64],
    // --- the frames --------------------------------------------------------------------
    generation: [AtomicU64; FRAMES],
    _generation_end: [u8; SKEW],
    freed: [AtomicU64; FRAMES],
    _freed_end: [u8; SKEW],
    address: [*mut u8; FRAMES],
    _address_end: [u8; 64],
    // --- cold ------------------------------------------------------------------------
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
    groups: u32,
    stride: usize,
    geometry: Geometry,
    /// Each frame's generation at the last reset.
    baseline: *const AtomicU64,
    baseline_block: PoolBuffer,
    frames: PoolBuffer,
}

// SAFETY: all shared mutation goes through atomics; `address`, `base` and `baseline`
// point into `frames` and `baseline_block`, which the pool owns.
unsafe impl Send for FramePool {}
// SAFETY: `&FramePool` only permits atomic operations and reads of fields that do not
// change after construction.
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

/// The free frames of a group, from its claim word and its ready word: bit k set when
/// frame k of the group is free. Bits 8 and up are the claim word's guard and tag.
#[inline(always)]
fn free_bits(claim: u64, ready: u64) -> u64 {
    (ready.wrapping_mul(GATHER) >> 56) ^ claim
}

/// Claims frame `bit` of a group whose claim word held `current`: one compare-exchange
/// that flips the frame's claim parity and moves the tag on; true when the word was
/// still `current`, so the frame was free and is now this caller's.
#[inline(always)]
fn claim_frame(claim: &AtomicU64, current: u64, bit: u32) -> bool {
    claim
        .compare_exchange(
            current,
            current.wrapping_add(TAG_ONE) ^ (1u64 << bit),
            Ordering::AcqRel,
            Ordering::Relaxed,
        )
        .is_ok()
}

/// Whether frame `index` lies below the first-free hint: Free's common path leaves
/// such a frame (and every frame after DeleteAllocator or while the peak is counted,
/// the hint being the sentinel) to its rare path. On x86_64 (outside loom and Miri)
/// the comparison reads the hint from memory in `asm!` (`cmp` with a memory operand,
/// one instruction; the compiler does not fold an atomic load into a comparison);
/// elsewhere an atomic load. Either way a relaxed read of the hint.
///
/// # Safety
///
/// `pool` is live.
#[inline(always)]
unsafe fn below_hint(pool: &FramePool, index: u64) -> bool {
    #[cfg(all(target_arch = "x86_64", not(loom), not(miri)))]
    {
        // SAFETY: the hint is a live, aligned AtomicU64 of the pool; an aligned qword
        // read is atomic on x86_64. The asm only reads memory and sets the flags.
        unsafe {
            core::arch::asm!(
                "cmp {i}, qword ptr [{p} + {off}]",
                "jb {below}",
                i = in(reg) index,
                p = in(reg) pool,
                off = const core::mem::offset_of!(FramePool, hint),
                below = label { return true; },
                options(nostack, readonly),
            );
        }
        false
    }
    #[cfg(not(all(target_arch = "x86_64", not(loom), not(miri))))]
    {
        index < pool.hint.load(Ordering::Relaxed)
    }
}

/// Free's store of a frame's ready byte (byte `index % 8` of ready word `index / 8`).
/// On x86_64 (outside loom and Miri) one byte `mov` in `asm!`, since Allocate reads the
/// whole word and Rust's memory model has no mixed-size atomic accesses; a plain store is
/// a release on x86. Elsewhere a compare-exchange loop on the word.
mod ready {
    use super::FramePool;
    #[cfg(not(all(target_arch = "x86_64", not(loom), not(miri))))]
    use crate::kernel::sync::Ordering;

    /// The byte offset of the ready words in the control block.
    #[cfg(all(target_arch = "x86_64", not(loom), not(miri)))]
    const READY: usize = core::mem::offset_of!(FramePool, ready);

    /// Stores `byte` as frame `index`'s ready byte.
    ///
    /// # Safety
    ///
    /// `pool` is live and `index` is a frame index of it (< frames).
    #[inline(always)]
    pub(super) unsafe fn publish(pool: &FramePool, index: u64, byte: u8) {
        #[cfg(all(target_arch = "x86_64", not(loom), not(miri)))]
        // SAFETY: the caller's contract: byte `index` past the ready words is byte
        // `index % 8` of ready word `index / 8` (index < frames < 8 × SLOTS), inside the
        // live pool. A byte store is atomic on x86 and ordered after every earlier
        // store (a release); the asm may touch memory, so the compiler keeps the
        // earlier stores before it.
        unsafe {
            core::arch::asm!(
                "mov byte ptr [{p} + {i} + {off}], {b}",
                p = in(reg) pool,
                i = in(reg) index,
                off = const READY,
                b = in(reg_byte) byte,
                options(nostack, preserves_flags),
            );
        }
        #[cfg(not(all(target_arch = "x86_64", not(loom), not(miri))))]
        {
            let word = pool.ready_word((index >> 3) as usize);
            let shift = (index & 7) << 3;
            let mut current = word.load(Ordering::Relaxed);
            loop {
                let new = (current & !(0xFF << shift)) | (u64::from(byte) << shift);
                match word.compare_exchange_weak(current, new, Ordering::Release, Ordering::Relaxed) {
                    Ok(_) => break,
                    Err(seen) => current = seen,
                }
            }
        }
    }
}

impl FramePool {
    /// Validates `framing` and preallocates every frame: three pool allocations (the
    /// reset baselines, the frames, the control block, which is built in place: it is
    /// about 30 KiB). On any failure nothing stays allocated: the buffers already
    /// obtained are dropped, and so freed.
    pub fn new(framing: &KSALLOCATOR_FRAMING) -> Result<PoolBox<FramePool>, NTSTATUS> {
        let geometry = Geometry::from_framing(framing)?;
        let count = geometry.frames as usize;
        let baseline_bytes =
            core::mem::size_of::<AtomicU64>().checked_mul(count).ok_or(STATUS_INVALID_PARAMETER)?;
        let baseline_block = PoolBuffer::new(baseline_bytes, 64, POOL_TAG)?;
        let frames = PoolBuffer::new(geometry.total_bytes, geometry.alignment, POOL_TAG)?;
        let baseline = baseline_block.as_ptr().cast::<AtomicU64>();
        for i in 0..count {
            // SAFETY: `baseline_block` holds `frames` AtomicU64s' worth of bytes, aligned
            // (64 >= 8), and `i < frames`; the memory is not yet an AtomicU64: `write`.
            unsafe { baseline.add(i).write(AtomicU64::new(0)) };
        }
        let (stride_inverse, stride_shift) = stride_inverse(geometry.stride);
        let base = frames.as_ptr();
        let groups = geometry.groups();
        let init = move |pool: NonNull<FramePool>| {
            let p = pool.as_ptr();
            // SAFETY: `p` is valid for writes of a FramePool and aligned (the caller,
            // `try_new_in_place`); every field is written exactly once below, through
            // raw field pointers (nothing reads the uninitialised block), and the array
            // elements through element pointers below each array's length.
            // INVARIANT: every frame claimed and returned 0 times (generation = freed =
            // 0, claim bit 1, ready byte 0: free); non-frames have claim bit 0 and ready
            // byte 0; the guard is set; the hint is group 0's; `address` is each frame's
            // start; baselines zero; nothing deleted.
            unsafe {
                addr_of_mut!((*p).base).write(base);
                addr_of_mut!((*p).stride_inverse).write(stride_inverse);
                addr_of_mut!((*p).frame_bound).write(u64::from(geometry.frames));
                addr_of_mut!((*p).hint).write(AtomicU64::new(0));
                addr_of_mut!((*p).stride_shift).write(stride_shift);
                addr_of_mut!((*p)._hot_end).write([0; 64]);
                let claims = addr_of_mut!((*p).claims).cast::<AtomicU64>();
                let ready = addr_of_mut!((*p).ready).cast::<AtomicU64>();
                for slot in 0..SLOTS {
                    let g = slot as u32;
                    let bits = if g < groups { geometry.group_mask(g) } else { 0 };
                    claims.add(slot).write(AtomicU64::new(GUARD | bits));
                    ready.add(slot).write(AtomicU64::new(0));
                }
                addr_of_mut!((*p)._claims_end).write([0; 64]);
                addr_of_mut!((*p)._ready_end).write([0; 64]);
                let generation = addr_of_mut!((*p).generation).cast::<AtomicU64>();
                let freed = addr_of_mut!((*p).freed).cast::<AtomicU64>();
                let address = addr_of_mut!((*p).address).cast::<*mut u8>();
                for i in 0..FRAMES {
                    generation.add(i).write(AtomicU64::new(0));
                    freed.add(i).write(AtomicU64::new(0));
                    let start = if i < count {
                        base.wrapping_add(i.wrapping_mul(geometry.stride))
                    } else {
                        core::ptr::null_mut()
                    };
                    address.add(i).write(start);
                }
                addr_of_mut!((*p)._generation_end).write([0; SKEW]);
                addr_of_mut!((*p)._freed_end).write([0; SKEW]);
                addr_of_mut!((*p)._address_end).write([0; 64]);
                addr_of_mut!((*p).pending).write(AtomicU64::new(0));
                addr_of_mut!((*p).deleted).write(AtomicU32::new(0));
                addr_of_mut!((*p).peak_by_count).write(AtomicU32::new(0));
                addr_of_mut!((*p).peak).write(AtomicU32::new(0));
                addr_of_mut!((*p).outstanding_at_reset).write(AtomicU32::new(0));
                addr_of_mut!((*p).allocation_failures).write(AtomicU64::new(0));
                addr_of_mut!((*p).rejected_frees).write(AtomicU64::new(0));
                addr_of_mut!((*p).owner).write(core::sync::atomic::AtomicPtr::new(core::ptr::null_mut()));
                addr_of_mut!((*p).groups).write(groups);
                addr_of_mut!((*p).stride).write(geometry.stride);
                addr_of_mut!((*p).geometry).write(geometry);
                addr_of_mut!((*p).baseline).write(baseline.cast_const());
                addr_of_mut!((*p).baseline_block).write(baseline_block);
                addr_of_mut!((*p).frames).write(frames);
            }
        };
        // SAFETY: `init` writes every field of the pool (above) and cannot panic. When the
        // control block is refused, `init` is dropped and with it both buffers.
        unsafe { PoolBox::try_new_in_place(POOL_TAG, init) }
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

    /// The claim word of the group whose hint is `hint` (8 × its slot).
    #[inline(always)]
    fn claim_at(&self, hint: u64) -> &AtomicU64 {
        debug_assert!(hint.is_multiple_of(8));
        debug_assert!(hint <= SENTINEL);
        // SAFETY: hints are 8·g for g <= GROUPS (invariants), so the slot is below SLOTS;
        // telling the compiler that the hint is a multiple of 8 lets it use the hint as a
        // byte offset.
        unsafe {
            core::hint::assert_unchecked(hint.is_multiple_of(8));
            self.claims.get_unchecked((hint / 8) as usize)
        }
    }

    /// The ready word of the group whose hint is `hint`.
    #[inline(always)]
    fn ready_at(&self, hint: u64) -> &AtomicU64 {
        // SAFETY: as in `claim_at`.
        unsafe {
            core::hint::assert_unchecked(hint.is_multiple_of(8));
            self.ready.get_unchecked((hint / 8) as usize)
        }
    }

    /// The claim word of group `slot` (< SLOTS).
    fn claim_word(&self, slot: usize) -> &AtomicU64 {
        debug_assert!(slot < SLOTS);
        // SAFETY: every caller passes a group below `groups` <= GROUPS < SLOTS.
        unsafe { self.claims.get_unchecked(slot) }
    }

    /// The ready word of group `slot` (< SLOTS).
    fn ready_word(&self, slot: usize) -> &AtomicU64 {
        debug_assert!(slot < SLOTS);
        // SAFETY: as in `claim_word` (or a frame index / 8, below GROUPS).
        unsafe { self.ready.get_unchecked(slot) }
    }

    /// Frame `index`'s ready byte as stored last.
    fn ready_byte(&self, index: u64) -> u8 {
        (self.ready_word((index >> 3) as usize).load(Ordering::Acquire) >> ((index & 7) << 3)) as u8
    }

    /// Group `slot`'s claim word and its free frames (bits 0–7), the claim word read
    /// first (module docs, memory orderings).
    fn group(&self, slot: usize) -> (u64, u64) {
        let current = self.claim_word(slot).load(Ordering::Acquire);
        (current, free_bits(current, self.ready_word(slot).load(Ordering::Acquire)) & 0xFF)
    }

    /// Group `slot`'s free frames (bits 0–7).
    fn free_mask(&self, slot: usize) -> u64 {
        self.group(slot).1
    }

    /// Frame `index`'s generation.
    #[inline(always)]
    fn generation(&self, index: u64) -> &AtomicU64 {
        debug_assert!(index < self.frame_bound);
        // SAFETY: callers pass a frame index (< frames <= FRAMES).
        unsafe { self.generation.get_unchecked(index as usize) }
    }

    /// Frame `index`'s returns.
    #[inline(always)]
    fn freed(&self, index: u64) -> &AtomicU64 {
        debug_assert!(index < self.frame_bound);
        // SAFETY: as in `generation`.
        unsafe { self.freed.get_unchecked(index as usize) }
    }

    /// Frame `index`'s generation at the last reset.
    fn baseline(&self, index: u32) -> &AtomicU64 {
        debug_assert!(index < self.geometry.frames);
        // SAFETY: callers pass a frame index (< frames); the baselines are initialised
        // (invariants).
        unsafe { &*self.baseline.add(index as usize) }
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

    /// Frames out, from the claim and ready words (exact when nothing runs
    /// concurrently).
    fn outstanding(&self) -> u32 {
        let free: u32 = (0..self.groups as usize).map(|s| self.free_mask(s).count_ones()).sum();
        self.geometry.frames.saturating_sub(free)
    }

    /// Hands out a free frame, or `None` when all `Frames` are out (or after delete).
    /// Lowest free frame first; O(1) from the first-free hint, at any pool size and
    /// occupancy; lock-free, no allocation; callable at DISPATCH_LEVEL. Must not run
    /// concurrently with [`FramePool::delete`] (KS deletes an allocator when its file
    /// object is closed, after its last use).
    #[inline(always)]
    pub fn allocate(&self) -> Option<NonNull<u8>> {
        let hint = self.hint.load(Ordering::Relaxed);
        let claim = self.claim_at(hint);
        let current = claim.load(Ordering::Acquire);
        let free = free_bits(current, self.ready_at(hint).load(Ordering::Acquire));
        debug_assert!(free & GUARD != 0);
        // SAFETY: every claim word has the guard bit 8 set (invariants) and the gathered
        // byte is below 2^8, so bit 8 of `free` is set: it is not zero.
        let bit = unsafe { core::num::NonZeroU64::new_unchecked(free) }.trailing_zeros();
        if bit >= GROUP {
            return self.allocate_slow();
        }
        // The deliberately broken variant (feature `broken-double-handout`, only for
        // tests/wine.rs): frame 0 is handed out without being taken.
        #[cfg(feature = "broken-double-handout")]
        if hint == 0 && bit == 0 {
            return self.handed_out(0);
        }
        if !claim_frame(claim, current, bit) {
            return self.allocate_slow();
        }
        // The hint is the group's first frame index.
        self.handed_out(hint.wrapping_add(u64::from(bit)))
    }

    /// Allocate's rare path: the hint's group had no free frame or its claim word
    /// changed meanwhile; the pool is deleted or exhausted; or the peak is being
    /// counted. Scans the groups from the first and moves the hint to the one it takes
    /// from.
    #[cold]
    #[inline(never)]
    fn allocate_slow(&self) -> Option<NonNull<u8>> {
        loop {
            if self.deleted.load(Ordering::Acquire) != 0 {
                return self.allocation_failed();
            }
            let hint = self.hint.load(Ordering::Relaxed);
            let Some((slot, current, free)) = (0..self.groups as usize)
                .map(|s| {
                    let (current, free) = self.group(s);
                    (s, current, free)
                })
                .find(|(_, _, free)| *free != 0)
            else {
                return self.allocation_failed();
            };
            let counting = self.peak_by_count.load(Ordering::Relaxed) != 0;
            let found = (slot as u64).wrapping_mul(u64::from(GROUP));
            if !counting && found != hint {
                // A compare-exchange, so that a sentinel stored meanwhile (by
                // DeleteAllocator or a reset) is not overwritten.
                let _ = self.hint.compare_exchange(hint, found, Ordering::Relaxed, Ordering::Relaxed);
            }
            let bit = free.trailing_zeros();
            if claim_frame(self.claim_word(slot), current, bit) {
                if counting {
                    self.count_peak(found);
                }
                return self.handed_out(found.wrapping_add(u64::from(bit)));
            }
        }
    }

    /// The count mode's step (after a reset with frames out): raises the peak to the
    /// frames out now; when this Allocate's frame is the only one out, the highest
    /// index counts again from here ([`FramePool::peak`]) and the hint leaves the
    /// sentinel.
    #[cold]
    fn count_peak(&self, found: u64) {
        let out = self.outstanding();
        self.peak.fetch_max(out, Ordering::Relaxed);
        if out <= 1 {
            self.peak_by_count.store(0, Ordering::Relaxed);
            if self.deleted.load(Ordering::Acquire) == 0 {
                let _ = self.hint.compare_exchange(SENTINEL, found, Ordering::Relaxed, Ordering::Relaxed);
            }
        }
    }

    /// The bookkeeping of frame `index`, just claimed: its generation (a plain store by
    /// its new owner); then its address.
    #[inline(always)]
    fn handed_out(&self, index: u64) -> Option<NonNull<u8>> {
        let generation = self.generation(index);
        generation.store(generation.load(Ordering::Relaxed).wrapping_add(STEP), Ordering::Relaxed);
        // SAFETY: `index` is a frame index (< frames <= FRAMES).
        NonNull::new(unsafe { *self.address.get_unchecked(index as usize) })
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
    /// whose generation moved since the reset. A reset with frames out breaks the first
    /// half (the frames out need not be the lowest), so the pool then counts the frames
    /// out on each Allocate (the slow path, [`FramePool::count_peak`]) into `peak`,
    /// until an Allocate finds itself the only frame out; from that moment the highest
    /// index counts again. Frames taken while counting are taken lowest first too, so
    /// their indices never exceed the peak: the maximum of both figures is exact.
    fn peak(&self) -> u32 {
        let highest = (0..self.geometry.frames).rev().find(|i| {
            self.generation(u64::from(*i)).load(Ordering::Relaxed)
                != self.baseline(*i).load(Ordering::Relaxed)
        });
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
    /// it). Frames below the hint, and every frame after DeleteAllocator or while the
    /// peak is counted (the hint is then the sentinel, above every frame), are left to
    /// the rare path.
    ///
    /// # Safety
    ///
    /// As for [`FramePool::free`].
    #[inline(always)]
    pub unsafe fn free_fast(pool: NonNull<FramePool>, frame: *mut u8) -> Result<(), u64> {
        // SAFETY: the caller guarantees the pool is live. DeleteAllocator waits for the
        // ready byte of every frame it counts as free, so the pool stays until this
        // Free's last store.
        let this = unsafe { pool.as_ref() };
        let index = this.quotient(frame);
        if index >= this.frame_bound {
            return Err(index);
        }
        // SAFETY: a live pool.
        if unsafe { below_hint(this, index) } {
            return Err(index);
        }
        // Written by the Allocate that handed the frame out (the caller's or, for a
        // double free, whoever's; the compare-exchange decides).
        let generation = this.generation(index).load(Ordering::Relaxed);
        let out = generation.wrapping_sub(STEP);
        // Debug builds poison a frame that is out before giving it back; a frame
        // already free is left alone. (A double free racing the frame's next Allocate
        // can still poison the new owner's frame; the pool itself stays intact either
        // way, and release builds, which do not poison, rely on the counters alone.)
        #[cfg(debug_assertions)]
        if this.freed(index).load(Ordering::Relaxed) == out {
            // SAFETY: `frame` is the start of frame `index` (the quotient is below
            // frames), frame_size bytes inside the frames block, and the caller gives it
            // up.
            unsafe { core::ptr::write_bytes(frame, FRAME_POISON, this.geometry.frame_size as usize) };
        }
        if this.freed(index).compare_exchange(out, generation, Ordering::Release, Ordering::Relaxed).is_err()
        {
            return Err(index);
        }
        // SAFETY: a live pool (DeleteAllocator waits for this store) and a frame index.
        unsafe { ready::publish(this, index, generation as u8) };
        Ok(())
    }

    /// What a Free that [`FramePool::free_fast`] did not complete does, given the
    /// quotient it returned: refuses a foreign pointer, or takes the rare path
    /// ([`FramePool::free_slow`]).
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
        // SAFETY: live pool; `q` is a frame index.
        unsafe { Self::free_slow(pool, q) }
    }

    /// Free's rare path, for frame `index`: lowers the hint to the frame's group when it
    /// is above it (not from the sentinel); then takes the frame back like the common
    /// path, or refuses a frame that is not out (a double free); after DeleteAllocator
    /// the frame is counted down and the last one releases the pool.
    ///
    /// # Safety
    ///
    /// `pool` is live and `index` < frames.
    unsafe fn free_slow(pool: NonNull<FramePool>, index: u64) -> Result<FreeOutcome, FreeError> {
        // SAFETY: live pool (caller). The reference is not used after the `pending`
        // decrement, after which another thread may release the pool.
        let release = unsafe {
            let this = pool.as_ref();
            this.lower_hint(index);
            let deleted = loop {
                let freed = this.freed(index).load(Ordering::Acquire);
                let generation = this.generation(index).load(Ordering::Relaxed);
                let mark = freed & DEL;
                if freed != generation.wrapping_sub(STEP) | mark {
                    return this.refused(FreeError::AlreadyFree);
                }
                #[cfg(debug_assertions)]
                core::ptr::write_bytes(
                    this.address_of(index),
                    FRAME_POISON,
                    this.geometry.frame_size as usize,
                );
                if this
                    .freed(index)
                    .compare_exchange(freed, generation | mark, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    if mark == 0 {
                        ready::publish(this, index, generation as u8);
                    }
                    break mark != 0;
                }
            };
            deleted && this.pending.fetch_sub(1, Ordering::AcqRel) == 1
        };
        if release {
            // SAFETY: `pending` reached zero after Delete's addition: every frame out at
            // the delete is back, Delete is done with the pool, and this thread made the
            // last decrement: it is the pool's last user.
            unsafe { Self::release(pool) };
            return Ok(FreeOutcome::ReleasedPool);
        }
        Ok(FreeOutcome::Freed)
    }

    /// Lowers the hint to frame `index`'s group if it is above it, unless it is the
    /// sentinel (after delete, or while the peak is counted).
    fn lower_hint(&self, index: u64) {
        let group = index & !u64::from(GROUP - 1);
        let mut hint = self.hint.load(Ordering::Relaxed);
        while group < hint && hint != SENTINEL {
            match self.hint.compare_exchange_weak(hint, group, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break,
                Err(seen) => hint = seen,
            }
        }
    }

    /// DeleteAllocator: no more allocations; the memory is released now if no frame is
    /// out, or else by the Free of the last frame out (deferred release: memory is never
    /// freed under a frame's holder).
    ///
    /// # Safety
    ///
    /// `pool` points to a live pool on which delete was not called before, and no
    /// Allocate runs concurrently; after this call the caller must not use `pool` except
    /// through `free` of frames still out. It may wait (a few instructions) for a
    /// concurrent Free to finish: PASSIVE_LEVEL, as KS calls it.
    pub unsafe fn delete(pool: NonNull<FramePool>) -> DeleteOutcome {
        // SAFETY: live pool (caller). Once every frame is marked, Frees of the frames out
        // count down `pending`, so after Delete's own addition the pool is not touched.
        let (outstanding, release) = unsafe {
            let this = pool.as_ref();
            this.deleted.store(1, Ordering::Release);
            this.hint.store(SENTINEL, Ordering::Release);
            let mut out: u32 = 0;
            for slot in 0..this.groups as usize {
                let claim = this.claim_word(slot).load(Ordering::Acquire);
                let first = (slot as u64).wrapping_mul(u64::from(GROUP));
                for k in 0..u64::from(this.geometry.group_mask(slot as u32).count_ones()) {
                    let index = first.wrapping_add(k);
                    let freed = this.freed(index).fetch_or(DEL, Ordering::AcqRel);
                    // Free when claimed as often as returned: claim bit 1 (even) and
                    // return parity 0, or claim bit 0 and return parity 1.
                    if ((claim >> k) ^ (freed >> 7)) & 1 == 1 {
                        // Its Free may still have its ready byte to store.
                        while this.ready_byte(index) != freed as u8 {
                            spin_loop();
                        }
                    } else {
                        out = out.saturating_add(1);
                    }
                }
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
            .map(|i| {
                let moved = self.generation(u64::from(i)).load(Ordering::Relaxed);
                moved.wrapping_sub(self.baseline(i).load(Ordering::Relaxed)) / STEP
            })
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
            self.baseline(i).store(self.generation(u64::from(i)).load(Ordering::Relaxed), Ordering::Relaxed);
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
    fn group_masks_cover_exactly_the_pools_frames() {
        let g = |frames| Geometry {
            frames,
            frame_size: 1,
            alignment: 1,
            stride: 1,
            total_bytes: frames as usize,
        };
        assert_eq!((g(1).groups(), g(1).group_mask(0)), (1, 1));
        assert_eq!((g(7).groups(), g(7).group_mask(0)), (1, 0x7F));
        assert_eq!((g(8).groups(), g(8).group_mask(0)), (1, 0xFF));
        assert_eq!((g(9).groups(), g(9).group_mask(0), g(9).group_mask(1)), (2, 0xFF, 1));
        assert_eq!(g(MAX_FRAMES).groups() as usize, GROUPS);
        let total: u32 = (0..g(MAX_FRAMES).groups()).map(|w| g(MAX_FRAMES).group_mask(w).count_ones()).sum();
        assert_eq!(total, MAX_FRAMES);
    }

    /// The gather constant moves bit 7 of byte k to bit 56 + k for every pattern of the
    /// eight bits, with nothing else reaching bits 56–63.
    #[test]
    fn the_gather_constant_collects_each_bytes_bit_7() {
        for pattern in 0u64..256 {
            let ready = (0..8).filter(|k| pattern >> k & 1 == 1).fold(0u64, |w, k| w | 0x80 << (8 * k));
            assert_eq!(free_bits(0, ready), pattern, "{pattern:#x}");
            assert_eq!(free_bits(GUARD | 0xFF, ready) & 0xFF, !pattern & 0xFF);
        }
    }

    #[test]
    fn the_hot_fields_groups_and_cold_data_sit_on_separate_cache_lines() {
        let off = |f: usize| f;
        let hot_end = off(core::mem::offset_of!(FramePool, _hot_end));
        let claims = off(core::mem::offset_of!(FramePool, claims));
        let ready = off(core::mem::offset_of!(FramePool, ready));
        let generation = off(core::mem::offset_of!(FramePool, generation));
        let freed = off(core::mem::offset_of!(FramePool, freed));
        let address = off(core::mem::offset_of!(FramePool, address));
        let cold = off(core::mem::offset_of!(FramePool, pending));
        assert!(claims - hot_end >= 64 && ready - claims >= 64 * 2 && generation > ready);
        assert!(cold - address >= FRAMES * 8 + 64);
        assert!(core::mem::align_of::<FramePool>() <= 16);
        // One frame's entries in the three per-frame arrays are not a multiple of 4 KiB
        // apart, nor close to one (4K aliasing, module docs).
        assert_eq!(((freed - generation) % 4096, (address - freed) % 4096), (1344, 1344));
    }

    fn framing(frames: u32) -> KSALLOCATOR_FRAMING {
        KSALLOCATOR_FRAMING {
            OptionsFlags: 0,
            PoolType: crate::ks::NonPagedPool,
            Frames: frames,
            FrameSize: 100,
            FileAlignment: 63,
            Reserved: 0,
        }
    }

    fn new_pool(frames: u32) -> NonNull<FramePool> {
        NonNull::new(FramePool::new(&framing(frames)).unwrap().into_raw()).unwrap()
    }

    /// The claim words keep their guard, and bits of non-frames stay clear; the sentinel
    /// never has a free frame.
    fn assert_claim_words(pool: &FramePool) {
        for slot in 0..SLOTS {
            let c = pool.claims[slot].load(Ordering::Relaxed);
            assert_ne!(c & GUARD, 0, "slot {slot}: guard");
            let mask = if slot < pool.groups as usize { pool.geometry.group_mask(slot as u32) } else { 0 };
            assert_eq!(pool.free_mask(slot) & !mask, 0, "slot {slot}: a non-frame looks free");
        }
    }

    #[test]
    fn the_hint_follows_the_lowest_group_with_a_free_frame() {
        let p = new_pool(20);
        // SAFETY: live until the delete at the end.
        let pool = unsafe { p.as_ref() };
        let hint = || pool.hint.load(Ordering::Relaxed);
        let frames: [NonNull<u8>; 8] = core::array::from_fn(|_| pool.allocate().unwrap());
        assert_eq!(hint(), 0, "group 0 emptied, the hint moves only when an Allocate needs it");
        let ninth = pool.allocate().unwrap();
        assert_eq!((hint(), pool.index_of(ninth.as_ptr())), (8, Some(8)));
        // SAFETY: live pool, frame ours.
        assert_eq!(unsafe { FramePool::free(p, frames[3].as_ptr()) }, Ok(FreeOutcome::Freed));
        assert_eq!(hint(), 0, "a Free below the hint lowers it");
        assert_eq!(pool.allocate(), Some(frames[3]));
        // SAFETY: as above.
        assert_eq!(unsafe { FramePool::free(p, ninth.as_ptr()) }, Ok(FreeOutcome::Freed));
        assert_eq!(hint(), 0, "a Free above the hint leaves it");
        assert_eq!(pool.allocate(), Some(ninth));
        assert_eq!(hint(), 8);
        assert_claim_words(pool);
        // A reset with frames out counts the peak: the sentinel hint, which Frees do not
        // lower, until an Allocate finds itself the only frame out.
        pool.reset_stats();
        assert_eq!((hint(), pool.peak_by_count.load(Ordering::Relaxed)), (SENTINEL, 1));
        for f in frames.iter().chain([&ninth]) {
            // SAFETY: as above.
            assert_eq!(unsafe { FramePool::free(p, f.as_ptr()) }, Ok(FreeOutcome::Freed));
            assert_eq!(hint(), SENTINEL);
        }
        let one = pool.allocate().unwrap();
        assert_eq!((hint(), pool.peak_by_count.load(Ordering::Relaxed)), (0, 0));
        assert_eq!(pool.stats().peak_outstanding, 9);
        // A reset with no frame out does not count.
        // SAFETY: as above.
        assert_eq!(unsafe { FramePool::free(p, one.as_ptr()) }, Ok(FreeOutcome::Freed));
        pool.reset_stats();
        assert_eq!((hint(), pool.peak_by_count.load(Ordering::Relaxed)), (0, 0));
        let out = pool.allocate().unwrap();
        assert_claim_words(pool);
        // SAFETY: live pool, deleted once; `out` is still out.
        assert_eq!(unsafe { FramePool::delete(p) }, DeleteOutcome::Deferred { outstanding: 1 });
        assert_eq!(hint(), SENTINEL);
        assert_eq!(pool.allocate(), None);
        // SAFETY: the last frame out: the pool is released.
        assert_eq!(unsafe { FramePool::free(p, out.as_ptr()) }, Ok(FreeOutcome::ReleasedPool));
    }

    #[test]
    fn frames_map_to_their_indices_and_back_and_nothing_else_is_a_frame() {
        let p = new_pool(5);
        // SAFETY: live until the delete at the end.
        let pool = unsafe { p.as_ref() };
        let stride = pool.geometry().stride;
        assert_eq!(stride, 128);
        for i in 0..5u64 {
            let start = pool.address_of(i);
            assert_eq!(start, pool.base.wrapping_add(i as usize * stride));
            assert!(pool.contains(start));
            assert_eq!(pool.index_of(start), Some(i));
            for delta in [1usize, 63, 127] {
                assert!(!pool.contains(start.wrapping_add(delta)), "frame {i} + {delta}");
                let q = pool.quotient(start.wrapping_add(delta));
                assert_eq!(pool.address_of(q), start.wrapping_add(delta), "the quotient is a bijection");
            }
        }
        assert!(!pool.contains(pool.address_of(5)));
        assert!(!pool.contains(pool.base.wrapping_sub(stride)));
        // SAFETY: live pool, deleted once, nothing out.
        assert_eq!(unsafe { FramePool::delete(p) }, DeleteOutcome::Released);
    }

    #[test]
    fn the_owner_is_kept_and_taken_out_once() {
        let p = new_pool(1);
        // SAFETY: live until the delete at the end.
        let pool = unsafe { p.as_ref() };
        assert!(pool.take_owner().is_null());
        let owner: *const core::ffi::c_void = NonNull::<u64>::dangling().as_ptr().cast_const().cast();
        pool.set_owner(owner);
        assert_eq!(pool.take_owner(), owner);
        assert!(pool.take_owner().is_null());
        // SAFETY: live pool, deleted once, nothing out.
        assert_eq!(unsafe { FramePool::delete(p) }, DeleteOutcome::Released);
    }

    #[test]
    fn every_claim_moves_the_claim_words_tag() {
        let p = new_pool(1);
        // SAFETY: live until the delete at the end.
        let pool = unsafe { p.as_ref() };
        let before = pool.claims[0].load(Ordering::Relaxed);
        for _ in 0..2 {
            let f = pool.allocate().unwrap();
            // SAFETY: live pool, frame ours.
            assert_eq!(unsafe { FramePool::free(p, f.as_ptr()) }, Ok(FreeOutcome::Freed));
        }
        let after = pool.claims[0].load(Ordering::Relaxed);
        assert_eq!(after & 0xFF, before & 0xFF, "two claims: the parity is back");
        assert_eq!(after.wrapping_sub(before), 2 << 9, "the tag (bits 9-63) moved on by two");
        // SAFETY: live pool, deleted once, nothing out.
        assert_eq!(unsafe { FramePool::delete(p) }, DeleteOutcome::Released);
    }
}
