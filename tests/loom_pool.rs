//! Loom models of the frame pool's concurrent paths. Run with
//! `RUSTFLAGS="--cfg loom" cargo test --release --test loom_pool` (scripts/test-all.sh
//! does, in its own target directory); without `--cfg loom` this file is empty.
//!
//! Each model explores every interleaving (up to loom's preemption bound) of the
//! pool's atomics and checks: no frame is ever held by two threads at once, counters and
//! the free set stay consistent (no lost or duplicated frame, the ABA-style schedule
//! included: after the threads join, exactly `Frames` distinct frames can be
//! allocated), and racing Free / DeleteAllocator releases the pool exactly once and
//! leaks nothing.

#![cfg(loom)]

use ksframe::allocator::{DeleteOutcome, FramePool, FreeOutcome};
use ksframe::kernel::host::PoolScope;
use ksframe::ks::{KSALLOCATOR_FRAMING, NonPagedPoolNx};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};
use std::ptr::NonNull;

/// Counts a model's executions, to show that loom explored many schedules.
struct Executions(std::sync::atomic::AtomicUsize);
impl Executions {
    const fn new() -> Self {
        Self(std::sync::atomic::AtomicUsize::new(0))
    }
    fn tick(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    fn assert_at_least(&self, n: usize) {
        let runs = self.0.load(std::sync::atomic::Ordering::Relaxed);
        eprintln!("loom explored {runs} executions");
        assert!(runs >= n, "loom explored only {runs} executions");
    }
}

fn framing(frames: u32) -> KSALLOCATOR_FRAMING {
    KSALLOCATOR_FRAMING {
        OptionsFlags: 0,
        PoolType: NonPagedPoolNx,
        Frames: frames,
        FrameSize: 64,
        FileAlignment: 0xF,
        Reserved: 0,
    }
}

#[derive(Clone, Copy)]
struct PoolPtr(NonNull<FramePool>);
// SAFETY: FramePool is Sync; the pointer is only used while the pool is live.
unsafe impl Send for PoolPtr {}
// SAFETY: as above.
unsafe impl Sync for PoolPtr {}

impl PoolPtr {
    fn pool(&self) -> &FramePool {
        // SAFETY: the models keep the pool alive while threads use it.
        unsafe { self.0.as_ref() }
    }
}

/// Per-frame "held" flags: swapping true in must find false, or two threads hold it.
struct Holders {
    base: usize,
    stride: usize,
    held: Vec<AtomicBool>,
}

impl Holders {
    fn new(pool: &FramePool, frames: usize) -> (Self, Vec<NonNull<u8>>) {
        // Learn each frame's address: allocate all, then free all (single-threaded).
        let all: Vec<NonNull<u8>> = (0..frames).map(|_| pool.allocate().unwrap()).collect();
        let base = all.iter().map(|p| p.as_ptr() as usize).min().unwrap();
        let stride = pool.geometry().stride;
        (Self { base, stride, held: (0..frames).map(|_| AtomicBool::new(false)).collect() }, all)
    }
    fn take(&self, p: NonNull<u8>) {
        let i = (p.as_ptr() as usize - self.base) / self.stride;
        assert!(!self.held[i].swap(true, Ordering::SeqCst), "frame {i} handed out twice");
    }
    fn give(&self, p: NonNull<u8>) {
        let i = (p.as_ptr() as usize - self.base) / self.stride;
        assert!(self.held[i].swap(false, Ordering::SeqCst));
    }
}

fn new_pool(frames: u32) -> PoolPtr {
    let pool = FramePool::new(&framing(frames)).expect("pool");
    PoolPtr(NonNull::new(pool.into_raw()).unwrap())
}

fn drain_and_delete(pool: PoolPtr, frames: u32) {
    // After the threads: exactly `frames` distinct frames, then NULL.
    let mut got = Vec::new();
    while let Some(p) = pool.pool().allocate() {
        assert!(!got.contains(&p), "free list corrupted: frame listed twice");
        got.push(p);
    }
    assert_eq!(got.len(), frames as usize, "free list lost frames");
    let s = pool.pool().stats();
    assert_eq!(s.outstanding, frames);
    for p in got {
        // SAFETY: live pool, frames ours.
        unsafe { FramePool::free(pool.0, p.as_ptr()) }.unwrap();
    }
    // SAFETY: live pool, deleted once.
    assert_eq!(unsafe { FramePool::delete(pool.0) }, DeleteOutcome::Released);
}

#[test]
fn concurrent_allocate_free_never_hands_a_frame_out_twice() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    static RUNS: Executions = Executions::new();
    builder.check(|| {
        RUNS.tick();
        let scope = PoolScope::new();
        let _g = scope.enter();
        let pool = new_pool(2);
        let (holders, all) = Holders::new(pool.pool(), 2);
        for p in all {
            // SAFETY: live pool.
            unsafe { FramePool::free(pool.0, p.as_ptr()) }.unwrap();
        }
        let holders = Arc::new(holders);
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let holders = holders.clone();
                loom::thread::spawn(move || {
                    for _ in 0..2 {
                        if let Some(p) = pool.pool().allocate() {
                            holders.take(p);
                            holders.give(p);
                            // SAFETY: live pool; the frame is ours.
                            unsafe { FramePool::free(pool.0, p.as_ptr()) }.unwrap();
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = pool.pool().stats();
        // 2 setup allocations plus 2 per thread, each of which must succeed: a thread
        // holds at most one of the 2 frames at a time. Every frame came back.
        assert_eq!((s.allocations, s.frees, s.allocation_failures), (6, 6, 0));
        drain_and_delete(pool, 2);
        assert_eq!(scope.bytes_outstanding(), 0);
    });
    RUNS.assert_at_least(100);
}

#[test]
fn aba_schedule_keeps_the_free_set_exact() {
    // Thread A allocates while thread B allocates two frames and frees the first: the
    // schedule that corrupts an untagged Treiber stack (A's exchange sees the same head
    // value again). The claim word's exchange compares its tag, so A must still
    // end up with a frame nobody else holds.
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    static RUNS: Executions = Executions::new();
    builder.check(|| {
        RUNS.tick();
        let pool = new_pool(3);
        let (holders, all) = Holders::new(pool.pool(), 3);
        for p in all {
            // SAFETY: live pool.
            unsafe { FramePool::free(pool.0, p.as_ptr()) }.unwrap();
        }
        let holders = Arc::new(holders);
        let h = holders.clone();
        let a = loom::thread::spawn(move || {
            let p = pool.pool().allocate().unwrap();
            h.take(p);
            p.as_ptr() as usize
        });
        let h = holders.clone();
        let b = loom::thread::spawn(move || {
            let x = pool.pool().allocate().unwrap();
            h.take(x);
            let y = pool.pool().allocate();
            if let Some(y) = y {
                h.take(y);
            }
            h.give(x);
            // SAFETY: live pool; x is ours.
            unsafe { FramePool::free(pool.0, x.as_ptr()) }.unwrap();
            y.map(|y| y.as_ptr() as usize)
        });
        let pa = a.join().unwrap();
        let pb = b.join().unwrap();
        assert_ne!(Some(pa), pb);
        for p in [Some(pa), pb].into_iter().flatten() {
            let p = NonNull::new(p as *mut u8).unwrap();
            holders.give(p);
            // SAFETY: live pool; p is ours.
            unsafe { FramePool::free(pool.0, p.as_ptr()) }.unwrap();
        }
        drain_and_delete(pool, 3);
    });
    RUNS.assert_at_least(100);
}

/// The preemption bound of `free_racing_delete_releases_exactly_once`.
const PREEMPTIONS: usize = 3;

#[test]
fn free_racing_delete_releases_exactly_once() {
    // Three frames out; two threads return them while DeleteAllocator runs: exactly one
    // of the three parties releases the pool, after the last frame is back.
    // Bounded like the other models: with Delete's wait for a Free's last store, an
    // unbounded model does not finish in 25 minutes.
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(PREEMPTIONS);
    static RUNS: Executions = Executions::new();
    builder.check(|| {
        RUNS.tick();
        let scope = PoolScope::new();
        let _g = scope.enter();
        let pool = new_pool(3);
        let frames: Vec<usize> = (0..3).map(|_| pool.pool().allocate().unwrap().as_ptr() as usize).collect();
        let released = Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let freer = |mine: Vec<usize>| {
            let released = released.clone();
            loom::thread::spawn(move || {
                for p in mine {
                    // SAFETY: the pool is live until the last of the frees releases it.
                    if unsafe { FramePool::free(pool.0, p as *mut u8) } == Ok(FreeOutcome::ReleasedPool) {
                        released.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        };
        let a = freer(vec![frames[0]]);
        let b = freer(vec![frames[1], frames[2]]);
        // SAFETY: live pool (frames are out, so it cannot be released before this).
        if unsafe { FramePool::delete(pool.0) } == DeleteOutcome::Released {
            released.fetch_add(1, Ordering::SeqCst);
        }
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(released.load(Ordering::SeqCst), 1, "released twice or never");
        assert_eq!(scope.bytes_outstanding(), 0, "leaked");
    });
    RUNS.assert_at_least(20);
}
