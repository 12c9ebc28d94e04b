//! `cargo bench --bench allocator`: the ksframe frame pool side by side with its peers,
//! in one run, so that docs/PERFORMANCE.md can report ratios measured together.
//!
//! Peers, all handing out the same preallocated frames (except the system allocator):
//! - `ksframe`: [`FramePool`] (lock-free index free list, one tagged head word);
//! - `mutex`: a `Mutex<Vec<*mut u8>>` of frame pointers;
//! - `arrayqueue`: crossbeam's lock-free `ArrayQueue` of frame pointers;
//! - `system`: the global allocator allocating and freeing each frame;
//! - `floor`: two uncontended atomic read-modify-writes on one word, the least an
//!   Allocate+Free pair can cost.
//!
//! Cases: one Allocate+Free pair on one thread at 4 KiB, 1 MiB and 12 MiB frames; and
//! two threads contending on one pool (each thread does `iters` pairs; the figure is the
//! wall time of both).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use crossbeam_queue::ArrayQueue;
use ksframe::allocator::FramePool;
use ksframe::ks::{KSALLOCATOR_FRAMING, NonPagedPoolNx};
use std::alloc::Layout;
use std::hint::black_box;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

const FRAMES: u32 = 4;
const ALIGN: usize = 64;

trait FramePoolLike: Sync {
    fn alloc(&self) -> *mut u8;
    fn free(&self, p: *mut u8);
}

struct Ksframe(NonNull<FramePool>);
// SAFETY: FramePool is Sync; the pointer stays valid until Drop.
unsafe impl Sync for Ksframe {}
// SAFETY: as above.
unsafe impl Send for Ksframe {}
impl Ksframe {
    fn new(size: usize) -> Self {
        let framing = KSALLOCATOR_FRAMING {
            OptionsFlags: 0,
            PoolType: NonPagedPoolNx,
            Frames: FRAMES,
            FrameSize: size as u32,
            FileAlignment: (ALIGN - 1) as u32,
            Reserved: 0,
        };
        Self(NonNull::new(FramePool::new(&framing).unwrap().into_raw()).unwrap())
    }
}
impl FramePoolLike for Ksframe {
    fn alloc(&self) -> *mut u8 {
        // SAFETY: live pool.
        unsafe { self.0.as_ref() }.allocate().map_or(std::ptr::null_mut(), NonNull::as_ptr)
    }
    fn free(&self, p: *mut u8) {
        // SAFETY: live pool; p came from alloc.
        let _ = unsafe { FramePool::free(self.0, p) };
    }
}
impl Drop for Ksframe {
    fn drop(&mut self) {
        // SAFETY: live pool, deleted once; benches return every frame.
        unsafe { FramePool::delete(self.0) };
    }
}

/// Frames preallocated the same way for the queue-based peers.
struct Frames {
    block: *mut u8,
    layout: Layout,
    stride: usize,
}
impl Frames {
    fn new(size: usize) -> Self {
        let stride = size.next_multiple_of(ALIGN);
        let layout = Layout::from_size_align(stride * FRAMES as usize, ALIGN).unwrap();
        // SAFETY: non-zero size.
        let block = unsafe { std::alloc::alloc_zeroed(layout) };
        Self { block, layout, stride }
    }
    fn iter(&self) -> impl Iterator<Item = *mut u8> + '_ {
        (0..FRAMES as usize).map(|i| self.block.wrapping_add(i * self.stride))
    }
}
impl Drop for Frames {
    fn drop(&mut self) {
        // SAFETY: allocated in new with this layout.
        unsafe { std::alloc::dealloc(self.block, self.layout) }
    }
}

struct SendPtr(*mut u8);
// SAFETY: frame pointers are plain addresses of memory the pools own.
unsafe impl Send for SendPtr {}

struct MutexPool(Mutex<Vec<SendPtr>>, #[allow(dead_code)] Frames);
impl MutexPool {
    fn new(size: usize) -> Self {
        let frames = Frames::new(size);
        let v = frames.iter().map(SendPtr).collect();
        Self(Mutex::new(v), frames)
    }
}
// SAFETY: the Frames block is only reached through the mutex-protected pointers.
unsafe impl Sync for MutexPool {}
impl FramePoolLike for MutexPool {
    fn alloc(&self) -> *mut u8 {
        self.0.lock().unwrap().pop().map_or(std::ptr::null_mut(), |p| p.0)
    }
    fn free(&self, p: *mut u8) {
        self.0.lock().unwrap().push(SendPtr(p));
    }
}

struct QueuePool(ArrayQueue<SendPtr>, #[allow(dead_code)] Frames);
impl QueuePool {
    fn new(size: usize) -> Self {
        let frames = Frames::new(size);
        let q = ArrayQueue::new(FRAMES as usize);
        for p in frames.iter() {
            let _ = q.push(SendPtr(p));
        }
        Self(q, frames)
    }
}
// SAFETY: as for MutexPool.
unsafe impl Sync for QueuePool {}
impl FramePoolLike for QueuePool {
    fn alloc(&self) -> *mut u8 {
        self.0.pop().map_or(std::ptr::null_mut(), |p| p.0)
    }
    fn free(&self, p: *mut u8) {
        let _ = self.0.push(SendPtr(p));
    }
}

struct SystemAlloc(Layout);
impl FramePoolLike for SystemAlloc {
    fn alloc(&self) -> *mut u8 {
        // SAFETY: non-zero layout.
        unsafe { std::alloc::alloc(self.0) }
    }
    fn free(&self, p: *mut u8) {
        // SAFETY: p came from alloc with this layout.
        unsafe { std::alloc::dealloc(p, self.0) }
    }
}

/// The floor: Allocate and Free each as one uncontended RMW on one word.
struct Floor(AtomicU64, Frames);
// SAFETY: only the atomic is shared.
unsafe impl Sync for Floor {}
impl FramePoolLike for Floor {
    fn alloc(&self) -> *mut u8 {
        self.0.fetch_add(1, Ordering::AcqRel);
        self.1.block
    }
    fn free(&self, _p: *mut u8) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn peers(size: usize) -> Vec<(&'static str, Box<dyn FramePoolLike>)> {
    vec![
        ("ksframe", Box::new(Ksframe::new(size))),
        ("arrayqueue", Box::new(QueuePool::new(size))),
        ("mutex", Box::new(MutexPool::new(size))),
        ("system", Box::new(SystemAlloc(Layout::from_size_align(size, ALIGN).unwrap()))),
        ("floor", Box::new(Floor(AtomicU64::new(0), Frames::new(64)))),
    ]
}

fn pair(pool: &dyn FramePoolLike) {
    let p = pool.alloc();
    assert!(!p.is_null());
    // Touch the frame as a producer would touch its first bytes.
    // SAFETY: p is a frame of at least 64 bytes that we hold.
    unsafe { p.write_volatile(1) };
    pool.free(black_box(p));
}

fn single_thread(c: &mut Criterion) {
    for (label, size) in [("4KiB", 4usize << 10), ("1MiB", 1 << 20), ("12MiB", 12 << 20)] {
        let mut group = c.benchmark_group(format!("pair/{label}"));
        for (name, pool) in peers(size) {
            group.bench_function(BenchmarkId::from_parameter(name), |b| b.iter(|| pair(pool.as_ref())));
        }
        group.finish();
    }
}

fn contended(c: &mut Criterion) {
    let mut group = c.benchmark_group("contended2/4KiB");
    for (name, pool) in peers(4 << 10) {
        if name == "floor" || name == "system" {
            // The floor has no pool to contend for; the system allocator's arenas are
            // per thread, so "contention" measures nothing comparable.
            continue;
        }
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| {
                let barrier = Barrier::new(2);
                let pool = pool.as_ref();
                std::thread::scope(|s| {
                    let worker = s.spawn(|| {
                        barrier.wait();
                        for _ in 0..iters {
                            pair(pool);
                        }
                    });
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        pair(pool);
                    }
                    worker.join().unwrap();
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = single_thread, contended
}
criterion_main!(benches);
