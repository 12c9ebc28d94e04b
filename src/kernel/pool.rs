//! Non-paged pool memory with a pool tag and an alignment.
//!
//! # Kernel contract
//!
//! Allocation and release run at IRQL <= DISPATCH_LEVEL. The memory is non-paged
//! (NonPagedPoolNx), so it may be touched at DISPATCH_LEVEL, e.g. by Allocate/Free of a
//! KS allocator. Pool blocks are 16-byte aligned; a larger alignment (up to a page) is
//! obtained by over-allocating and keeping the block's base beside the aligned pointer.

use super::{PAGE_SIZE, POOL_ALIGNMENT, backend};
use crate::ks::{NTSTATUS, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER};
use core::ptr::NonNull;

/// The pool tag of every ksframe allocation: `KsFr`, as `!pool` and PoolMon show it.
pub const POOL_TAG: u32 = u32::from_le_bytes(*b"KsFr");

/// An owned, zeroed, aligned block of non-paged pool.
///
/// # Invariants
///
/// - `base` was returned by the backend's `pool_alloc(block_len, tag)` and is freed
///   exactly once, in `drop`, with the same tag;
/// - `data` lies in that block, `data + len <= base + block_len`, `data` is aligned to
///   the alignment requested at construction, and all `len` bytes were initialised.
#[derive(Debug)]
pub struct PoolBuffer {
    base: NonNull<u8>,
    data: NonNull<u8>,
    len: usize,
    tag: u32,
}

// SAFETY: the buffer owns its memory exclusively; non-paged pool may be used and freed
// from any thread.
unsafe impl Send for PoolBuffer {}
// SAFETY: shared references only give out `&[u8]`-like access through raw pointers
// whose use is the caller's responsibility; no interior mutability.
unsafe impl Sync for PoolBuffer {}

impl PoolBuffer {
    /// Allocates `len` zeroed bytes aligned to `align` from non-paged pool.
    ///
    /// `align` must be a power of two no larger than [`PAGE_SIZE`] and `len` must be
    /// non-zero: otherwise STATUS_INVALID_PARAMETER. When the pool (or, in the host
    /// build, an injected fault) refuses: STATUS_INSUFFICIENT_RESOURCES.
    #[cfg_attr(feature = "host", track_caller)]
    pub fn new(len: usize, align: usize, tag: u32) -> Result<Self, NTSTATUS> {
        if len == 0 || !align.is_power_of_two() || align > PAGE_SIZE {
            return Err(STATUS_INVALID_PARAMETER);
        }
        // Pool blocks are POOL_ALIGNMENT-aligned, so at most `align - POOL_ALIGNMENT`
        // bytes of padding bring the start to `align`.
        let slack = align.saturating_sub(POOL_ALIGNMENT);
        let block_len = len.checked_add(slack).ok_or(STATUS_INVALID_PARAMETER)?;
        // SAFETY: `block_len` is non-zero; the backend returns null or a block of at least
        // `block_len` bytes aligned to POOL_ALIGNMENT.
        let base = unsafe { backend::pool_alloc(block_len, tag) };
        let base = NonNull::new(base).ok_or(STATUS_INSUFFICIENT_RESOURCES)?;
        // The highest aligned start in the block, so that the data ends as close to the
        // block's end as the alignment allows: under a special pool (a guard page right
        // after the block) an overrun of a buffer whose length is a multiple of its
        // alignment faults at its first byte.
        let top = (base.as_ptr() as usize).wrapping_add(slack);
        let offset = slack.wrapping_sub(top & align.wrapping_sub(1));
        if offset > slack {
            // Cannot happen for a POOL_ALIGNMENT-aligned block; fail rather than overrun.
            // SAFETY: `base` came from pool_alloc with this tag and is not used again.
            unsafe { backend::pool_free(base.as_ptr(), tag) };
            return Err(STATUS_INSUFFICIENT_RESOURCES);
        }
        // SAFETY: `offset <= slack`, so `base + offset + len <= base + block_len`: the
        // pointer stays inside the block.
        let data = unsafe { base.add(offset) };
        // The one pass over the memory: the backend asks the pool for it uninitialised
        // (POOL_FLAG_UNINITIALIZED), so this fill is not a second zeroing.
        // SAFETY: `data .. data + len` lies inside the block (above) and is writable.
        unsafe { backend::fill_zero(data.as_ptr(), len) };
        // INVARIANT: base/tag from pool_alloc; data aligned, in bounds, initialised.
        Ok(Self { base, data, len, tag })
    }

    /// The first byte of the buffer (aligned as requested).
    pub fn as_ptr(&self) -> *mut u8 {
        self.data.as_ptr()
    }

    /// The buffer's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a buffer has at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The buffer as a byte slice.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: by the invariants, `data .. data + len` is initialised memory owned by
        // self, and `&self` prevents mutation through `as_mut_slice` meanwhile.
        unsafe { core::slice::from_raw_parts(self.data.as_ptr(), self.len) }
    }

    /// The buffer as a mutable byte slice.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and `&mut self` makes the access exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.data.as_ptr(), self.len) }
    }

    /// Whether `ptr` points into this buffer.
    pub fn contains(&self, ptr: *const u8) -> bool {
        let start = self.data.as_ptr() as usize;
        let addr = ptr as usize;
        addr >= start && addr.wrapping_sub(start) < self.len
    }
}

impl Drop for PoolBuffer {
    fn drop(&mut self) {
        // SAFETY: by the invariants `base` came from pool_alloc with `tag` and this is
        // the one place it is freed.
        unsafe { backend::pool_free(self.base.as_ptr(), self.tag) };
    }
}

/// A `T` in non-paged pool, like `Box<T>` but fallible and tagged: for kernel objects
/// whose address is handed to KS as an opaque context.
///
/// # Invariants
///
/// `ptr` was returned by the backend's `pool_alloc(size_of::<T>().max(1), tag)` (aligned
/// to POOL_ALIGNMENT, which is at least `align_of::<T>()` by a compile-time check), holds
/// an initialised `T`, and is freed exactly once, by drop or by a `from_raw` owner.
#[derive(Debug)]
pub struct PoolBox<T> {
    ptr: NonNull<T>,
    tag: u32,
}

// SAFETY: PoolBox<T> owns its T like Box<T> does.
unsafe impl<T: Send> Send for PoolBox<T> {}
// SAFETY: PoolBox<T> gives out &T only through &self, like Box<T>.
unsafe impl<T: Sync> Sync for PoolBox<T> {}

impl<T> PoolBox<T> {
    const ALIGN_OK: () = assert!(core::mem::align_of::<T>() <= POOL_ALIGNMENT);

    /// Moves `value` into a new non-paged pool block. On failure the value is handed
    /// back with STATUS_INSUFFICIENT_RESOURCES, so nothing it owns is lost.
    #[cfg_attr(feature = "host", track_caller)]
    pub fn try_new(value: T, tag: u32) -> Result<Self, (T, NTSTATUS)> {
        let () = Self::ALIGN_OK;
        let size = core::mem::size_of::<T>().max(1);
        // SAFETY: `size` is non-zero; the block is POOL_ALIGNMENT-aligned, enough for T.
        let raw = unsafe { backend::pool_alloc(size, tag) };
        let Some(ptr) = NonNull::new(raw.cast::<T>()) else {
            return Err((value, STATUS_INSUFFICIENT_RESOURCES));
        };
        // SAFETY: `ptr` is valid for writes of a T and suitably aligned (ALIGN_OK).
        unsafe { ptr.as_ptr().write(value) };
        // INVARIANT: ptr from pool_alloc, holds an initialised T.
        Ok(Self { ptr, tag })
    }

    /// Allocates a block for a `T` and has `init` write the `T` in place: for a `T` too
    /// large to build on a kernel stack (kernel stacks are 24 KiB on x64). When the pool
    /// refuses, `init` is dropped without being called (so whatever it captured is
    /// dropped, and freed) and the result is STATUS_INSUFFICIENT_RESOURCES.
    ///
    /// # Safety
    ///
    /// `init` initialises the whole `T` it is given (a block valid for writes of a `T`,
    /// aligned for it, uninitialised) before it returns, and does not panic.
    #[cfg_attr(feature = "host", track_caller)]
    pub unsafe fn try_new_in_place(tag: u32, init: impl FnOnce(NonNull<T>)) -> Result<Self, NTSTATUS> {
        let () = Self::ALIGN_OK;
        let size = core::mem::size_of::<T>().max(1);
        // SAFETY: `size` is non-zero; the block is POOL_ALIGNMENT-aligned, enough for T.
        let raw = unsafe { backend::pool_alloc(size, tag) };
        let ptr = NonNull::new(raw.cast::<T>()).ok_or(STATUS_INSUFFICIENT_RESOURCES)?;
        init(ptr);
        // INVARIANT: ptr from pool_alloc; `init` initialised the T (the caller's contract).
        Ok(Self { ptr, tag })
    }

    /// Gives up ownership: the pointer may travel through a `PVOID` context and come
    /// back through [`PoolBox::from_raw`] with the same tag.
    pub fn into_raw(self) -> *mut T {
        let ptr = self.ptr.as_ptr();
        core::mem::forget(self);
        ptr
    }

    /// Takes back ownership of a pointer made by [`PoolBox::into_raw`].
    ///
    /// # Safety
    ///
    /// `ptr` came from `into_raw` of a `PoolBox<T>` made with `tag`, and no other owner
    /// of it exists any more (it is not used after this call except through the box).
    pub unsafe fn from_raw(ptr: *mut T, tag: u32) -> Self {
        // SAFETY: the caller guarantees ptr came from into_raw, hence non-null.
        let ptr = unsafe { NonNull::new_unchecked(ptr) };
        // INVARIANT: restored from into_raw by the caller's contract.
        Self { ptr, tag }
    }
}

impl<T> core::ops::Deref for PoolBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: by the invariants `ptr` holds an initialised T owned by self.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> core::ops::DerefMut for PoolBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in Deref, and `&mut self` makes the access exclusive.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T> Drop for PoolBox<T> {
    fn drop(&mut self) {
        // SAFETY: by the invariants `ptr` holds an initialised T that self owns; after
        // dropping it the block is freed once with its tag.
        unsafe {
            core::ptr::drop_in_place(self.ptr.as_ptr());
            backend::pool_free(self.ptr.as_ptr().cast::<u8>(), self.tag);
        }
    }
}
