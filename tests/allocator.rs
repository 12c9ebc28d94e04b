//! The frame allocator through its KSALLOCATOR_DISPATCH, on the host backend: every
//! validation rule and failure status, fault injection with leak accounting, alignment,
//! exhaustion, refused frees, deferred release, poisoning, and a model-based proptest.

use ksframe::allocator::{
    ALLOCATOR_DISPATCH, AllocatorStats, FRAME_POISON, FramePool, FreeError, FreeOutcome, MAX_FRAMES,
    MAX_POOL_BYTES, stats_of,
};
use ksframe::kernel::host::{PoolScope, take_log};
use ksframe::ks::{
    KSALLOCATOR_FRAMING, KSALLOCATOR_OPTIONF_COMPATIBLE, KSALLOCATOR_OPTIONF_SYSTEM_MEMORY,
    KSALLOCATOR_OPTIONF_VALID, NonPagedPoolNx, PVOID, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};
use proptest::prelude::*;
use std::collections::HashSet;
use std::ptr::NonNull;

fn framing(frames: u32, size: u32, align_mask: u32) -> KSALLOCATOR_FRAMING {
    KSALLOCATOR_FRAMING {
        OptionsFlags: 0,
        PoolType: NonPagedPoolNx,
        Frames: frames,
        FrameSize: size,
        FileAlignment: align_mask,
        Reserved: 0,
    }
}

/// Calls the dispatch table's InitializeAllocator like KS does.
fn init(f: &KSALLOCATOR_FRAMING) -> (i32, PVOID) {
    let mut f = *f;
    let mut context: PVOID = 0x1234 as PVOID; // KS passes uninitialised storage
    // SAFETY: valid framing and context pointers; pin is unused.
    let status = unsafe {
        ALLOCATOR_DISPATCH.InitializeAllocator.unwrap()(std::ptr::null_mut(), &mut f, &mut context)
    };
    (status, context)
}

fn allocate(context: PVOID) -> PVOID {
    // SAFETY: context is a live pool from init.
    unsafe { ALLOCATOR_DISPATCH.Allocate.unwrap()(context) }
}

fn free(context: PVOID, frame: PVOID) {
    // SAFETY: context is a live pool from init.
    unsafe { ALLOCATOR_DISPATCH.Free.unwrap()(context, frame) }
}

fn delete(context: PVOID) {
    // SAFETY: context is a live pool from init, deleted once.
    unsafe { ALLOCATOR_DISPATCH.DeleteAllocator.unwrap()(context) }
}

fn stats(context: PVOID) -> AllocatorStats {
    // SAFETY: context is a live pool.
    unsafe { stats_of(context) }.unwrap()
}

#[test]
fn every_validation_rule_is_invalid_parameter_and_allocates_nothing() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let options = |bits| KSALLOCATOR_FRAMING { OptionsFlags: bits, ..framing(2, 64, 0) };
    let cases = [
        ("unknown OptionsFlags 0x10", options(0x10)),
        ("unknown OptionsFlags 0x80000000", options(0x8000_0000)),
        ("too many frames", framing(MAX_FRAMES + 1, 16, 0)),
        ("zero frame size", framing(2, 0, 0)),
        ("alignment mask 2 is not 2^k-1", framing(2, 64, 2)),
        ("alignment mask 5 is not 2^k-1", framing(2, 64, 5)),
        ("alignment mask 0x1000 is not 2^k-1", framing(2, 64, 0x1000)),
        ("alignment above a page", framing(2, 64, 0x1FFF)),
        ("alignment mask u32::MAX overflows", framing(2, 64, u32::MAX)),
        (
            "frame size rounds past u32 range is fine but total exceeds the ceiling",
            framing(2, u32::MAX, 0xFFF),
        ),
        (
            "total above the ceiling",
            framing(MAX_FRAMES, (MAX_POOL_BYTES / MAX_FRAMES as usize + 1) as u32, 0),
        ),
    ];
    for (what, f) in cases {
        let (status, context) = init(&f);
        assert_eq!(status, STATUS_INVALID_PARAMETER, "{what}");
        assert!(context.is_null(), "{what}: context must be NULL on failure");
    }
    assert_eq!(scope.stats().attempts, 0, "validation must precede every allocation");
}

#[test]
fn zero_frames_means_no_requirement_and_known_options_are_accepted() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    // Every flag ReactOS's KsValidateAllocatorCreateRequest accepts (SupportedFlags,
    // `allocators.c`), alone and together, by value: the OPTIONF_* and REQUIREMENTF_*
    // names share bits 0 and 1, so 0x1, 0x2, 0x4, 0x8 and 0xF are the whole set.
    for bits in [
        0,
        KSALLOCATOR_OPTIONF_COMPATIBLE,
        KSALLOCATOR_OPTIONF_SYSTEM_MEMORY,
        KSALLOCATOR_OPTIONF_VALID,
        0x1,
        0x2,
        0x4,
        0x8,
        0xF,
    ] {
        let f = KSALLOCATOR_FRAMING { OptionsFlags: bits, ..framing(0, 4096, 0) };
        let (status, context) = init(&f);
        assert_eq!(status, STATUS_SUCCESS, "options {bits:#x}");
        assert_eq!(stats(context).frames, ksframe::allocator::DEFAULT_FRAMES);
        // SAFETY: the context just made, deleted once.
        unsafe { ALLOCATOR_DISPATCH.DeleteAllocator.unwrap()(context) };
    }
    assert_eq!(scope.bytes_outstanding(), 0);
}

#[test]
fn null_pointers_are_invalid_parameter() {
    let mut context: PVOID = std::ptr::null_mut();
    // SAFETY: null framing is what is being tested; context is valid.
    let s = unsafe {
        ALLOCATOR_DISPATCH.InitializeAllocator.unwrap()(
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut context,
        )
    };
    assert_eq!(s, STATUS_INVALID_PARAMETER);
    let mut f = framing(1, 16, 0);
    // SAFETY: null context is what is being tested.
    let s = unsafe {
        ALLOCATOR_DISPATCH.InitializeAllocator.unwrap()(std::ptr::null_mut(), &mut f, std::ptr::null_mut())
    };
    assert_eq!(s, STATUS_INVALID_PARAMETER);
    // Neither failure leaves a context behind (KS never calls Allocate or Free on an
    // allocator whose InitializeAllocator failed, and they do not check for null: see
    // `allocator::allocate`); DeleteAllocator tolerates null.
    assert!(context.is_null());
    delete(std::ptr::null_mut());
}

#[test]
fn the_limits_themselves_are_accepted() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    for f in [framing(1, 1, 0), framing(MAX_FRAMES, 1, 0), framing(2, 64, 0xFFF)] {
        let (status, context) = init(&f);
        assert_eq!(status, STATUS_SUCCESS);
        delete(context);
    }
    assert_eq!(scope.bytes_outstanding(), 0);
}

#[test]
fn failing_each_pool_allocation_of_initialize_gives_insufficient_resources_and_leaks_nothing() {
    let f = framing(4, 1 << 20, 0x3F);
    // Count the allocations a successful InitializeAllocator makes.
    let probe = PoolScope::new();
    let allocations = {
        let _g = probe.enter();
        let (status, context) = init(&f);
        assert_eq!(status, STATUS_SUCCESS);
        let n = probe.stats().allocations;
        delete(context);
        n
    };
    assert_eq!(allocations, 3, "slot table, frames, control block");
    for n in 1..=allocations {
        let scope = PoolScope::new();
        let _g = scope.enter();
        scope.fail_nth_allocation(n);
        let (status, context) = init(&f);
        assert_eq!(status, STATUS_INSUFFICIENT_RESOURCES, "allocation {n} failed");
        assert!(context.is_null());
        let s = scope.stats();
        assert_eq!(s.failed, 1, "allocation {n}");
        assert_eq!(s.bytes_outstanding, 0, "allocation {n} failed: {} bytes leaked", s.bytes_outstanding);
        assert_eq!(s.allocations, s.frees, "allocation {n}");
    }
}

#[test]
fn every_alignment_mask_up_to_a_page_is_honoured() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    for k in 0..=12 {
        let mask = (1u32 << k) - 1;
        for size in [1u32, 3, mask.max(1), mask + 1, mask + 2] {
            let (status, context) = init(&framing(3, size, mask));
            assert_eq!(status, STATUS_SUCCESS, "mask {mask:#x} size {size}");
            let frames: Vec<usize> = (0..3).map(|_| allocate(context) as usize).collect();
            for &p in &frames {
                assert_ne!(p, 0);
                assert_eq!(p & mask as usize, 0, "frame {p:#x} not aligned to mask {mask:#x}");
            }
            // Frames do not overlap: sorted starts are at least `size` apart.
            let mut sorted = frames.clone();
            sorted.sort_unstable();
            for w in sorted.windows(2) {
                assert!(w[1] - w[0] >= size as usize, "frames overlap");
            }
            for p in frames {
                free(context, p as PVOID);
            }
            delete(context);
        }
    }
    assert_eq!(scope.bytes_outstanding(), 0);
}

#[test]
fn allocate_returns_null_after_frames_are_out_and_frames_are_usable() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let (status, context) = init(&framing(3, 4096, 0xF));
    assert_eq!(status, STATUS_SUCCESS);
    let frames: Vec<PVOID> = (0..3).map(|_| allocate(context)).collect();
    assert!(frames.iter().all(|p| !p.is_null()));
    assert_eq!(frames.iter().map(|p| *p as usize).collect::<HashSet<_>>().len(), 3);
    for (i, f) in frames.iter().enumerate() {
        // SAFETY: each frame is 4096 writable bytes that we own.
        unsafe { std::ptr::write_bytes(f.cast::<u8>(), i as u8 + 1, 4096) };
    }
    assert!(allocate(context).is_null());
    assert!(allocate(context).is_null());
    for (i, f) in frames.iter().enumerate() {
        // SAFETY: still ours; no other frame overlapped it.
        let bytes = unsafe { std::slice::from_raw_parts(f.cast::<u8>(), 4096) };
        assert!(bytes.iter().all(|&b| b == i as u8 + 1), "frame {i} was overwritten");
    }
    let s = stats(context);
    assert_eq!(
        s,
        AllocatorStats {
            allocations: 3,
            frees: 0,
            allocation_failures: 2,
            rejected_frees: 0,
            outstanding: 3,
            peak_outstanding: 3,
            frames: 3,
            frame_size: 4096,
        }
    );
    free(context, frames[1]);
    assert_eq!(allocate(context), frames[1], "the freed frame is the one handed out next");
    for f in frames {
        free(context, f);
    }
    delete(context);
    assert_eq!(scope.bytes_outstanding(), 0);
}

#[test]
fn foreign_and_double_frees_are_refused_counted_and_harmless() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let (_, context) = init(&framing(2, 256, 0x3F));
    let a = allocate(context);
    let b = allocate(context);
    let mut on_stack = 0u64;
    let foreign: [PVOID; 5] = [
        std::ptr::null_mut(),
        (&mut on_stack as *mut u64).cast(),
        a.cast::<u8>().wrapping_add(1).cast(), // inside a frame, not its start
        a.cast::<u8>().wrapping_sub(64).cast(), // before the block
        b.cast::<u8>().wrapping_add(4096 * 16).cast(), // past the block
    ];
    for p in foreign {
        free(context, p);
    }
    assert_eq!(stats(context).rejected_frees, 5);
    free(context, a);
    free(context, a); // double free
    assert_eq!(stats(context).rejected_frees, 6);
    assert_eq!(stats(context).outstanding, 1);
    // SAFETY: the pool is live.
    let direct = unsafe { FramePool::free(NonNull::new(context.cast()).unwrap(), a.cast()) };
    assert_eq!(direct, Err(FreeError::AlreadyFree));
    // SAFETY: the pool is live.
    let direct =
        unsafe { FramePool::free(NonNull::new(context.cast()).unwrap(), (&mut on_stack as *mut u64).cast()) };
    assert_eq!(direct, Err(FreeError::Foreign));
    // The pool is intact: exactly two distinct frames can be out again.
    let a2 = allocate(context);
    assert!(!a2.is_null() && a2 != b);
    assert!(allocate(context).is_null());
    assert!(take_log().iter().any(|l| l.contains("free refused")));
    free(context, a2);
    free(context, b);
    let s = stats(context);
    assert_eq!((s.allocations, s.frees, s.outstanding), (3, 3, 0));
    delete(context);
    assert_eq!(scope.bytes_outstanding(), 0);
}

#[test]
fn delete_with_frames_out_defers_release_until_the_last_frame_returns() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let (_, context) = init(&framing(3, 1000, 0x7));
    let a = allocate(context);
    let b = allocate(context);
    let held = scope.bytes_outstanding();
    let _ = take_log();
    delete(context);
    assert!(take_log().iter().any(|l| l.contains("delete deferred") && l.contains("outstanding=2")));
    assert_eq!(scope.bytes_outstanding(), held, "memory released under its holders");
    // The holders may still use their frames.
    // SAFETY: frames a and b are still ours and their memory is still allocated.
    unsafe {
        std::ptr::write_bytes(a.cast::<u8>(), 0xAB, 1000);
        std::ptr::write_bytes(b.cast::<u8>(), 0xCD, 1000);
    }
    // No allocation after delete.
    assert!(allocate(context).is_null());
    free(context, a);
    assert_eq!(scope.bytes_outstanding(), held);
    free(context, b);
    assert!(take_log().iter().any(|l| l.contains("last frame back")));
    assert_eq!(scope.bytes_outstanding(), 0, "the last Free releases the pool");
}

#[test]
fn delete_with_no_frame_out_releases_at_once() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let (_, context) = init(&framing(2, 64, 0));
    let a = allocate(context);
    free(context, a);
    delete(context);
    assert_eq!(scope.bytes_outstanding(), 0);
    assert_eq!(scope.stats().frees, 3);
}

#[test]
#[cfg(debug_assertions)]
fn freed_frames_are_poisoned_in_debug_builds() {
    let (_, context) = init(&framing(2, 128, 0));
    let a = allocate(context);
    // SAFETY: our frame.
    unsafe { std::ptr::write_bytes(a.cast::<u8>(), 0x11, 128) };
    free(context, a);
    // SAFETY: the frame's memory still belongs to the live pool; reading it through the
    // stale pointer is exactly the use-after-free this poisoning exposes.
    let bytes = unsafe { std::slice::from_raw_parts(a.cast::<u8>(), 128) };
    assert!(bytes.iter().all(|&b| b == FRAME_POISON));
    delete(context);
}

#[test]
fn reset_stats_zeroes_counters_but_keeps_frames_out() {
    let (_, context) = init(&framing(2, 64, 0));
    let a = allocate(context);
    let b = allocate(context);
    assert!(allocate(context).is_null());
    free(context, b);
    free(context, b);
    // SAFETY: live pool.
    unsafe { &*context.cast::<FramePool>() }.reset_stats();
    let s = stats(context);
    assert_eq!((s.allocations, s.frees, s.allocation_failures, s.rejected_frees), (0, 0, 0, 0));
    assert_eq!((s.outstanding, s.peak_outstanding), (1, 1));
    free(context, a);
    assert_eq!(stats(context).outstanding, 0);
    delete(context);
}

#[test]
#[cfg_attr(miri, ignore = "12 MiB frames are too slow under Miri")]
fn large_frames_work() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let (status, context) = init(&framing(2, 12 << 20, 0xFFF));
    assert_eq!(status, STATUS_SUCCESS);
    let a = allocate(context);
    assert_eq!(a as usize % 4096, 0);
    free(context, a);
    delete(context);
    assert_eq!(scope.bytes_outstanding(), 0);
}

#[derive(Clone, Debug)]
enum Op {
    Allocate,
    Free(usize),
    DoubleFree(usize),
    ForeignFree(usize),
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Allocate),
        4 => any::<usize>().prop_map(Op::Free),
        1 => any::<usize>().prop_map(Op::DoubleFree),
        1 => any::<usize>().prop_map(Op::ForeignFree),
        1 => Just(Op::Reset),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 4 } else { 256 },
        ..ProptestConfig::default()
    })]

    /// Random sequences of allocate / free / double free / foreign free / counter
    /// reset, then delete, against a model: a set of frames out and the counters (the
    /// peak included, which the pool works out from the highest index handed out, or
    /// counts after a reset with frames out). Pools of one word and of several (the
    /// first-free hint). After a deferred delete, double frees (of a frame free at the
    /// delete and of one returned since) are refused and the pool is released exactly
    /// when the last frame out comes back.
    #[test]
    fn pool_matches_model(
        // Under Miri MAX_FRAMES is 64: still eight groups.
        frames in prop_oneof![1u32..8, 60u32..MAX_FRAMES.min(200)],
        size in 1u32..300,
        align_k in 0u32..8,
        ops in proptest::collection::vec(op(), 0..(if cfg!(miri) { 60 } else { 400 })),
        free_rest_first in any::<bool>(),
    ) {
        let scope = PoolScope::new();
        let _g = scope.enter();
        let mask = (1u32 << align_k) - 1;
        let (status, context) = init(&framing(frames, size, mask));
        prop_assert_eq!(status, STATUS_SUCCESS);
        let mut out: Vec<PVOID> = Vec::new();
        let mut freed: Vec<PVOID> = Vec::new();
        let mut model = AllocatorStats { frames, frame_size: size, ..AllocatorStats::default() };
        for op in ops {
            match op {
                Op::Allocate => {
                    let p = allocate(context);
                    if out.len() < frames as usize {
                        prop_assert!(!p.is_null());
                        prop_assert!(!out.contains(&p), "frame handed out twice");
                        prop_assert_eq!(p as usize & mask as usize, 0);
                        out.push(p);
                        freed.retain(|f| *f != p);
                        model.allocations += 1;
                        model.peak_outstanding = model.peak_outstanding.max(out.len() as u32);
                    } else {
                        prop_assert!(p.is_null());
                        model.allocation_failures += 1;
                    }
                }
                Op::Free(i) if !out.is_empty() => {
                    let p = out.swap_remove(i % out.len());
                    free(context, p);
                    freed.push(p);
                    model.frees += 1;
                }
                Op::Free(_) => {}
                Op::DoubleFree(i) if !freed.is_empty() => {
                    free(context, freed[i % freed.len()]);
                    model.rejected_frees += 1;
                }
                Op::DoubleFree(_) => {}
                Op::Reset => {
                    // SAFETY: live pool.
                    unsafe { &*context.cast::<FramePool>() }.reset_stats();
                    model = AllocatorStats {
                        frames,
                        frame_size: size,
                        outstanding: out.len() as u32,
                        peak_outstanding: out.len() as u32,
                        ..AllocatorStats::default()
                    };
                }
                Op::ForeignFree(offset) => {
                    let base = out.first().or(freed.first()).map_or(0x1000usize, |p| *p as usize);
                    let p = base.wrapping_add(1 + offset % 512);
                    let stride = (size as usize).next_multiple_of(mask as usize + 1);
                    // Skip offsets that land exactly on another frame's start.
                    if !(p - base).is_multiple_of(stride) {
                        free(context, p as PVOID);
                        model.rejected_frees += 1;
                    }
                }
            }
            model.outstanding = out.len() as u32;
            prop_assert_eq!(stats(context), model);
        }
        if free_rest_first {
            for p in out.drain(..) {
                free(context, p);
            }
            delete(context);
        } else {
            delete(context);
            if !out.is_empty() {
                // Deferred: the pool is still there, and refuses to allocate.
                prop_assert!(allocate(context).is_null());
                let held = scope.bytes_outstanding();
                // A double free of a frame that was free at the delete is refused.
                if let Some(f) = freed.iter().find(|f| !out.contains(f)) {
                    free(context, *f);
                    prop_assert_eq!(scope.bytes_outstanding(), held);
                }
                // So is the second Free of a frame returned after the delete, while
                // another frame is still out.
                if out.len() >= 2 {
                    let first = out.swap_remove(0);
                    free(context, first);
                    free(context, first);
                    prop_assert_eq!(scope.bytes_outstanding(), held, "released with a frame out");
                }
            }
            for p in out.drain(..) {
                free(context, p);
            }
        }
        prop_assert_eq!(scope.bytes_outstanding(), 0);
        let s = scope.stats();
        prop_assert_eq!(s.allocations, s.frees);
        let _ = take_log();
        let _ = FreeOutcome::Freed;
    }
}

#[test]
fn initialize_allocator_makes_one_pass_over_the_frame_memory() {
    // The pool asks ExAllocatePool2 for uninitialised memory and zeroes it once (issue
    // 12: before, ExAllocatePool2 zeroed and the pool zeroed again).
    let scope = PoolScope::new();
    let _g = scope.enter();
    let (status, context) = init(&framing(4, 100_000, 63));
    assert_eq!(status, 0);
    let frames: Vec<PVOID> = (0..4).map(|_| allocate(context)).collect();
    for f in &frames {
        assert_eq!(ksframe::kernel::host::fill_passes(f.cast()), Some(1), "one pass over the frames");
        // SAFETY: a frame of 100,000 bytes handed out above.
        let bytes = unsafe { std::slice::from_raw_parts(f.cast::<u8>(), 100_000) };
        assert!(bytes.iter().all(|b| *b == 0), "and that pass zeroed them");
    }
    for f in frames {
        free(context, f);
    }
    delete(context);
    assert_eq!(scope.bytes_outstanding(), 0);
}

/// The largest pool (128 groups of 8): frames go out lowest first, a frame freed below
/// the first-free hint is the next one handed out, and the peak is exact throughout.
#[test]
#[cfg_attr(miri, ignore = "1024 frames are slow under Miri")]
fn the_first_free_hint_keeps_frames_going_out_lowest_first() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let (_, context) = init(&framing(MAX_FRAMES, 64, 0x3F));
    let all: Vec<PVOID> = (0..MAX_FRAMES).map(|_| allocate(context)).collect();
    assert!(all.windows(2).all(|w| w[1] as usize == w[0] as usize + 64), "lowest first, in order");
    assert!(allocate(context).is_null());
    for i in [700usize, 3, 1023, 64] {
        free(context, all[i]);
    }
    // Lowest first again: 3, 64, 700, 1023.
    for i in [3usize, 64, 700, 1023] {
        assert_eq!(allocate(context), all[i]);
    }
    for &p in &all[512..] {
        free(context, p);
    }
    // Half held: pairs reuse frame 512 and the peak stays at its mark.
    for _ in 0..100 {
        let p = allocate(context);
        assert_eq!(p, all[512]);
        free(context, p);
    }
    let s = stats(context);
    assert_eq!((s.outstanding, s.peak_outstanding, s.allocations), (512, 1024, 1024 + 4 + 100));
    for &p in &all[..512] {
        free(context, p);
    }
    delete(context);
    assert_eq!(scope.bytes_outstanding(), 0);
}
