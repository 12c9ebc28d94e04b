//! Shim of wdk-alloc 0.4.2: `WdkAllocator`, the pool-backed global allocator ksframe
//! installs in the driver build (never run: see ../../README.md).
#![no_std]

use core::alloc::{GlobalAlloc, Layout};

/// wdk-alloc's allocator type.
pub struct WdkAllocator;

// SAFETY: the shim is only type-checked, never linked; it hands out no memory.
unsafe impl GlobalAlloc for WdkAllocator {
    unsafe fn alloc(&self, _layout: Layout) -> *mut u8 {
        core::ptr::null_mut()
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}
