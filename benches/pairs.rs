//! The instruction-count benchmark's workload (`scripts/instructions.sh` runs it under
//! callgrind): `pairs CASE N` does N Allocate+Free pairs of CASE and nothing else, so
//! the difference of two runs' instruction counts divided by the difference of their N
//! is the cost of one pair, loop included.
//!
//! Cases:
//! - `ksframe-8`: ksframe's pool with 8 frames, through the pins' KSALLOCATOR_DISPATCH
//!   Allocate and Free (called through function pointers, as KS calls them);
//! - `ksframe-1024-half`: 1024 frames, 512 of them held for the whole run;
//! - `arrayqueue-8`: crossbeam's ArrayQueue of 8 frame pointers behind `extern "C"`
//!   functions called through pointers (the same call shape);
//! - `floor`: two atomic read-modify-writes on one word behind the same call shape;
//! - `floor2`: two atomic read-modify-writes on two words on separate cache lines.

use crossbeam_queue::ArrayQueue;
use ksframe::avstream::PIN_ALLOCATOR_DISPATCH;
use ksframe::ks::{KSALLOCATOR_FRAMING, NonPagedPool, PVOID};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

type Allocate = unsafe extern "system" fn(PVOID) -> PVOID;
type Free = unsafe extern "system" fn(PVOID, PVOID);

fn pool(frames: u32) -> PVOID {
    let mut framing = KSALLOCATOR_FRAMING {
        OptionsFlags: 0,
        PoolType: NonPagedPool,
        Frames: frames,
        FrameSize: 4096,
        FileAlignment: 63,
        Reserved: 0,
    };
    let mut context: PVOID = std::ptr::null_mut();
    let init = PIN_ALLOCATOR_DISPATCH.InitializeAllocator.unwrap();
    // SAFETY: a valid framing and out pointer; no pin.
    let status = unsafe { init(std::ptr::null_mut(), &mut framing, &mut context) };
    assert_eq!(status, 0);
    context
}

fn run(context: PVOID, allocate: Allocate, free: Free, n: u64) {
    let (allocate, free) = (black_box(allocate), black_box(free));
    for _ in 0..n {
        // SAFETY: a live context of these functions.
        unsafe {
            let frame = allocate(context);
            free(context, black_box(frame));
        }
    }
}

static QUEUE: std::sync::OnceLock<ArrayQueue<usize>> = std::sync::OnceLock::new();

unsafe extern "system" fn queue_allocate(_: PVOID) -> PVOID {
    QUEUE.get().and_then(ArrayQueue::pop).map_or(std::ptr::null_mut(), |p| p as PVOID)
}

unsafe extern "system" fn queue_free(_: PVOID, frame: PVOID) {
    let _ = QUEUE.get().map(|q| q.push(frame as usize));
}

static WORD: AtomicU64 = AtomicU64::new(u64::MAX);

/// A word alone on its cache line.
#[repr(align(64))]
struct Line(AtomicU64);
static SPLIT: [Line; 2] = [Line(AtomicU64::new(0)), Line(AtomicU64::new(0))];

unsafe extern "system" fn floor2_allocate(_: PVOID) -> PVOID {
    (SPLIT[0].0.fetch_add(1, Ordering::Acquire) & 1) as PVOID
}

unsafe extern "system" fn floor2_free(_: PVOID, _: PVOID) {
    SPLIT[1].0.fetch_add(1, Ordering::Release);
}

unsafe extern "system" fn floor_allocate(_: PVOID) -> PVOID {
    (WORD.fetch_and(!1, Ordering::Acquire) & 1) as PVOID
}

unsafe extern "system" fn floor_free(_: PVOID, _: PVOID) {
    WORD.fetch_or(1, Ordering::Release);
}

fn main() {
    let mut args = std::env::args().skip(1);
    // `cargo bench` passes `--bench`: no case, nothing to do.
    let (Some(case), Some(n)) = (args.next(), args.next().and_then(|n| n.parse::<u64>().ok())) else {
        return;
    };
    let allocate = PIN_ALLOCATOR_DISPATCH.Allocate.unwrap();
    let free = PIN_ALLOCATOR_DISPATCH.Free.unwrap();
    match case.as_str() {
        "ksframe-8" => run(pool(8), allocate, free, n),
        "ksframe-1024-half" => {
            let context = pool(1024);
            // SAFETY: a live pool.
            let held: Vec<PVOID> = (0..512).map(|_| unsafe { allocate(context) }).collect();
            assert!(held.iter().all(|f| !f.is_null()));
            run(context, allocate, free, n);
            black_box(held);
        }
        "arrayqueue-8" => {
            let q = ArrayQueue::new(8);
            let frames: Vec<Box<[u8; 4096]>> = (0..8).map(|_| Box::new([0u8; 4096])).collect();
            for f in &frames {
                let _ = q.push(f.as_ptr() as usize);
            }
            let _ = QUEUE.set(q);
            run(std::ptr::null_mut(), queue_allocate, queue_free, n);
            black_box(frames);
        }
        "floor" => run(std::ptr::null_mut(), floor_allocate, floor_free, n),
        "floor2" => run(std::ptr::null_mut(), floor2_allocate, floor2_free, n),
        other => panic!("unknown case {other}"),
    }
}
