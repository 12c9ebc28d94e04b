//! A counting global allocator proves that Allocate and Free make no heap allocation in
//! steady state (the kernel analogue: no pool call at DISPATCH_LEVEL).

#![cfg(not(miri))]

use ksframe::allocator::FramePool;
use ksframe::ks::{KSALLOCATOR_FRAMING, NonPagedPoolNx};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ptr::NonNull;

struct Counting;

std::thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: delegates to System; the counter is a const-initialised thread local, which
// does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn allocate_and_free_make_no_heap_allocation_in_steady_state() {
    let framing = KSALLOCATOR_FRAMING {
        OptionsFlags: 0,
        PoolType: NonPagedPoolNx,
        Frames: 8,
        FrameSize: 4096,
        FileAlignment: 0x3F,
        Reserved: 0,
    };
    let pool = FramePool::new(&framing).unwrap();
    let pool = NonNull::new(pool.into_raw()).unwrap();
    // SAFETY: live until the delete at the end.
    let p = unsafe { pool.as_ref() };
    let before_init = allocations();
    assert!(before_init > 0, "the counter must see the pool's own (init-time) allocations");

    let mut held = Vec::with_capacity(8);
    let before = allocations();
    for round in 0..10_000 {
        let n = 1 + round % 8;
        for _ in 0..n {
            held.push(p.allocate().unwrap());
        }
        assert!(n < 8 || p.allocate().is_none());
        for f in held.drain(..) {
            // SAFETY: live pool, frame ours.
            unsafe { FramePool::free(pool, f.as_ptr()) }.unwrap();
        }
    }
    let _ = p.stats();
    assert_eq!(allocations() - before, 0, "Allocate/Free allocated on the heap");
    // SAFETY: live pool, deleted once, nothing out.
    unsafe { FramePool::delete(pool) };
}
