//! The host backend (feature `host`): std stands in for ntoskrnl.
//!
//! What it adds over the kernel, for tests:
//!
//! - **pool accounting**: every block is recorded with its size, tag and the
//!   [`PoolScope`] that was current on the allocating thread, so a test can assert that
//!   nothing leaked; freeing an unknown pointer or with the wrong tag panics, as the
//!   kernel would bug check (BAD_POOL_CALLER);
//! - **fault injection**: a scope can make its Nth pool allocation fail;
//! - **a captured log**: each thread's log lines, readable with [`take_log`];
//! - **Driver Verifier's checks**: the IRQL as state (each callback entered at its
//!   IRQL through [`callback`], which also checks that it returns at that IRQL holding
//!   no spin lock; each kernel routine checks the maximum IRQL its docs page gives);
//!   PAGED_CODE; spin locks; the special pool ([`special`]); pool tracking with each
//!   allocation's call site and owner ([`live_allocations_of`], [`live_allocations_in`]);
//! - **virtual time**: a clock the simulator advances, timers and DPCs
//!   ([`advance_to`], [`run_queued_dpcs`]).
//!
//! Panics here imitate bug checks and are deliberate: this module never runs in a
//! kernel.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use crate::ks::{NTSTATUS, PVOID};
use std::alloc::Layout;
use std::cell::RefCell;
use std::collections::HashMap;
use std::string::String;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::vec::Vec;

pub(super) const NAME: &str = "host";

/// Byte pattern written over a pool block when it is freed (debug aid: a use after
/// free reads this instead of plausible data).
pub const POOL_FREE_POISON: u8 = 0xDD;

// ---------------------------------------------------------------------------------
// Pool accounting and fault injection
// ---------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct ScopeState {
    attempts: AtomicU64,
    allocations: AtomicU64,
    frees: AtomicU64,
    failed: AtomicU64,
    bytes_outstanding: AtomicUsize,
    blocks_outstanding: AtomicUsize,
    /// 1-based index of the allocation attempt that fails; 0 = none.
    fail_at: AtomicU64,
    /// Fail every attempt from `fail_at` on, not just that one.
    fail_from: AtomicBool,
}

struct Record {
    size: usize,
    tag: u32,
    scope: Arc<ScopeState>,
    /// Where the driver asked for it (Driver Verifier's pool tracking names the tag; the
    /// host names the call site too).
    origin: &'static core::panic::Location<'static>,
    /// The KS object on whose behalf it was allocated ([`with_owner`]), or 0.
    owner: usize,
    /// The guard-page mapping when the block came from the special pool.
    special: Option<special::Region>,
    /// Passes the pool layer made over the block's bytes ([`fill_passes`]).
    passes: u32,
}

fn describe(ptr: usize, r: &Record) -> String {
    let tag = r
        .tag
        .to_le_bytes()
        .iter()
        .map(|b| if b.is_ascii_graphic() { *b as char } else { '.' })
        .collect::<String>();
    std::format!("{ptr:#x}: tag '{tag}' ({:#010x}), {} bytes, allocated at {}", r.tag, r.size, r.origin)
}

fn pool_records() -> MutexGuard<'static, HashMap<usize, Record>> {
    static RECORDS: OnceLock<Mutex<HashMap<usize, Record>>> = OnceLock::new();
    RECORDS
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn global_scope() -> &'static Arc<ScopeState> {
    static GLOBAL: OnceLock<Arc<ScopeState>> = OnceLock::new();
    GLOBAL.get_or_init(|| Arc::new(ScopeState::default()))
}

std::thread_local! {
    static CURRENT: RefCell<Vec<Arc<ScopeState>>> = const { RefCell::new(Vec::new()) };
    static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn current_scope() -> Arc<ScopeState> {
    CURRENT.with(|c| c.borrow().last().cloned()).unwrap_or_else(|| global_scope().clone())
}

/// An accounting and fault-injection scope for pool allocations.
///
/// Allocations made on a thread while a scope is entered there are counted against it,
/// wherever they are later freed. Scopes nest per thread; clones share one state, so a
/// test can enter the same scope on several threads.
#[derive(Clone, Debug)]
pub struct PoolScope {
    state: Arc<ScopeState>,
}

/// While alive, the scope it came from is current on this thread.
#[derive(Debug)]
pub struct PoolScopeGuard {
    _not_send: core::marker::PhantomData<*const ()>,
}

impl Drop for PoolScopeGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| {
            c.borrow_mut().pop();
        });
    }
}

/// A snapshot of a scope's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Allocation attempts, including failed ones.
    pub attempts: u64,
    /// Successful allocations.
    pub allocations: u64,
    /// Frees of blocks allocated in this scope.
    pub frees: u64,
    /// Attempts that failed (injected).
    pub failed: u64,
    /// Bytes allocated in this scope and not yet freed.
    pub bytes_outstanding: usize,
    /// Blocks allocated in this scope and not yet freed.
    pub blocks_outstanding: usize,
}

impl PoolScope {
    /// A fresh scope with zeroed counters and no fault armed.
    pub fn new() -> Self {
        Self { state: Arc::new(ScopeState::default()) }
    }

    /// Makes this scope current on the calling thread until the guard drops.
    pub fn enter(&self) -> PoolScopeGuard {
        CURRENT.with(|c| c.borrow_mut().push(self.state.clone()));
        PoolScopeGuard { _not_send: core::marker::PhantomData }
    }

    /// Arms a fault: the `n`th allocation attempt (1-based, counted from now) fails.
    pub fn fail_nth_allocation(&self, n: u64) {
        let base = self.state.attempts.load(Ordering::SeqCst);
        self.state.fail_from.store(false, Ordering::SeqCst);
        self.state.fail_at.store(base + n, Ordering::SeqCst);
    }

    /// Arms a fault: every attempt from the `n`th on (1-based, counted from now) fails.
    pub fn fail_from_nth_allocation(&self, n: u64) {
        let base = self.state.attempts.load(Ordering::SeqCst);
        self.state.fail_from.store(true, Ordering::SeqCst);
        self.state.fail_at.store(base + n, Ordering::SeqCst);
    }

    /// Disarms any fault.
    pub fn clear_faults(&self) {
        self.state.fail_at.store(0, Ordering::SeqCst);
        self.state.fail_from.store(false, Ordering::SeqCst);
    }

    /// The scope's counters now.
    pub fn stats(&self) -> PoolStats {
        let s = &self.state;
        PoolStats {
            attempts: s.attempts.load(Ordering::SeqCst),
            allocations: s.allocations.load(Ordering::SeqCst),
            frees: s.frees.load(Ordering::SeqCst),
            failed: s.failed.load(Ordering::SeqCst),
            bytes_outstanding: s.bytes_outstanding.load(Ordering::SeqCst),
            blocks_outstanding: s.blocks_outstanding.load(Ordering::SeqCst),
        }
    }

    /// Bytes allocated in this scope and not yet freed.
    pub fn bytes_outstanding(&self) -> usize {
        self.state.bytes_outstanding.load(Ordering::SeqCst)
    }
}

impl Default for PoolScope {
    fn default() -> Self {
        Self::new()
    }
}

fn layout(bytes: usize) -> Layout {
    Layout::from_size_align(bytes, super::POOL_ALIGNMENT).expect("pool block size overflows a Layout")
}

/// `ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, bytes, tag)`:
/// uninitialised on the kernel, filled with 0xCD here so that reads of unwritten memory
/// stand out (that fill is the kernel's garbage, not a pass of the driver's). IRQL <=
/// DISPATCH_LEVEL for non-paged pool ("ExAllocatePool2" docs). In special-pool mode
/// ([`special::Mode`]) the block sits against a guard page.
#[track_caller]
pub(super) unsafe fn pool_alloc(bytes: usize, tag: u32) -> *mut u8 {
    assert!(bytes > 0, "pool_alloc of zero bytes");
    require_irql_at_most(DISPATCH_LEVEL, "ExAllocatePool2 (non-paged)");
    let origin = core::panic::Location::caller();
    let scope = current_scope();
    let attempt = scope.attempts.fetch_add(1, Ordering::SeqCst) + 1;
    let fail_at = scope.fail_at.load(Ordering::SeqCst);
    let fail = fail_at != 0
        && (attempt == fail_at || (scope.fail_from.load(Ordering::SeqCst) && attempt >= fail_at));
    if fail {
        scope.failed.fetch_add(1, Ordering::SeqCst);
        return core::ptr::null_mut();
    }
    if isize::try_from(bytes).is_err() {
        scope.failed.fetch_add(1, Ordering::SeqCst);
        return core::ptr::null_mut();
    }
    let (ptr, special) = match special::mode() {
        special::Mode::Off => {
            // SAFETY: the layout has a non-zero size.
            (unsafe { std::alloc::alloc(layout(bytes)) }, None)
        }
        mode => match special::Region::map(bytes, mode) {
            Some(region) => (region.block(), Some(region)),
            None => (core::ptr::null_mut(), None),
        },
    };
    if ptr.is_null() {
        scope.failed.fetch_add(1, Ordering::SeqCst);
        return ptr;
    }
    // SAFETY: `ptr` is a fresh block of `bytes` bytes.
    unsafe { core::ptr::write_bytes(ptr, 0xCD, bytes) };
    scope.allocations.fetch_add(1, Ordering::SeqCst);
    scope.bytes_outstanding.fetch_add(bytes, Ordering::SeqCst);
    scope.blocks_outstanding.fetch_add(1, Ordering::SeqCst);
    let owner = OWNER.with(core::cell::Cell::get);
    let previous = pool_records()
        .insert(ptr as usize, Record { size: bytes, tag, scope, origin, owner, special, passes: 0 });
    assert!(previous.is_none(), "pool handed out a live block twice");
    ptr
}

/// The pool layer's fill of `len` bytes at `ptr` (zeroing what the pool handed out
/// uninitialised): counted as a pass over the block that holds them.
pub(super) unsafe fn fill_zero(ptr: *mut u8, len: usize) {
    // SAFETY: the caller's contract: `len` writable bytes at `ptr`.
    unsafe { core::ptr::write_bytes(ptr, 0, len) };
    if let Some(r) = pool_records().iter_mut().find(|(b, r)| holds(**b, r, ptr as usize)).map(|(_, r)| r) {
        r.passes += 1;
    }
}

/// Whether the block at `base` described by `r` holds the address `at`.
fn holds(base: usize, r: &Record, at: usize) -> bool {
    at >= base && at - base < r.size
}

/// How many times the pool layer filled the block containing `ptr` (None: no live
/// block holds it). ExAllocatePool2 is asked for uninitialised memory
/// (POOL_FLAG_UNINITIALIZED), so this is the number of passes over it in all.
pub fn fill_passes(ptr: *const u8) -> Option<u32> {
    pool_records().iter().find(|(b, r)| holds(**b, r, ptr as usize)).map(|(_, r)| r.passes)
}

/// `ExFreePoolWithTag(ptr, tag)`: panics (the bug check) on an unknown block (a double
/// free included), a tag mismatch, or a block that still holds a set timer or a queued
/// DPC; poisons the block before releasing it. IRQL <= DISPATCH_LEVEL for non-paged
/// pool ("ExFreePoolWithTag" docs). A special-pool block is checked for writes past its
/// end into the page's slack, then made inaccessible.
pub(super) unsafe fn pool_free(ptr: *mut u8, tag: u32) {
    require_irql_at_most(DISPATCH_LEVEL, "ExFreePoolWithTag (non-paged)");
    let record = {
        let mut records = pool_records();
        let Some(found) = records.get(&(ptr as usize)) else {
            panic!(
                "BAD_POOL_CALLER: ExFreePoolWithTag({ptr:p}) of a block that is not allocated \
                 (freed twice, or never allocated)"
            );
        };
        // A wrong tag leaves the block allocated (and accounted), as the bug check would.
        assert_eq!(
            found.tag,
            tag,
            "BAD_POOL_CALLER: ExFreePoolWithTag with tag {tag:#010x} of {}",
            describe(ptr as usize, found)
        );
        // The block stays allocated too when it still holds a timer or a queued DPC.
        if let Some(what) = timer_or_dpc_in(ptr as usize, found.size) {
            panic!("TIMER_OR_DPC_INVALID: ExFreePoolWithTag({ptr:p}) of a block holding {what}");
        }
        records.remove(&(ptr as usize)).expect("present under the same lock")
    };
    match &record.special {
        Some(region) => {
            if let Some(at) = region.slack_damage(record.size) {
                panic!(
                    "SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION: a write {at} bytes past the end of {}",
                    describe(ptr as usize, &record)
                );
            }
            region.retire();
        }
        None => {
            // SAFETY: the record proves `ptr` is a live block of `record.size` bytes
            // that we allocated with this layout; it is removed from the table, so freed
            // once.
            unsafe {
                core::ptr::write_bytes(ptr, POOL_FREE_POISON, record.size);
                std::alloc::dealloc(ptr, layout(record.size));
            }
        }
    }
    record.scope.frees.fetch_add(1, Ordering::SeqCst);
    record.scope.bytes_outstanding.fetch_sub(record.size, Ordering::SeqCst);
    record.scope.blocks_outstanding.fetch_sub(1, Ordering::SeqCst);
}

std::thread_local! {
    static OWNER: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// Runs `f` with allocations attributed to the KS object at `owner` (a pin), so that
/// [`live_allocations_of`] can name what outlives it.
pub fn with_owner<R>(owner: usize, f: impl FnOnce() -> R) -> R {
    let previous = OWNER.with(|o| o.replace(owner));
    let result = f();
    OWNER.with(|o| o.set(previous));
    result
}

/// The live pool blocks allocated on behalf of `owner`, described (tag, size, origin).
pub fn live_allocations_of(owner: usize) -> Vec<String> {
    live_allocations_where(|r| r.owner == owner)
}

/// The live pool blocks of `scope`, described: what a driver unload would leak.
pub fn live_allocations_in(scope: &PoolScope) -> Vec<String> {
    live_allocations_where(|r| Arc::ptr_eq(&r.scope, &scope.state))
}

fn live_allocations_where(keep: impl Fn(&Record) -> bool) -> Vec<String> {
    let mut out: Vec<String> =
        pool_records().iter().filter(|(_, r)| keep(r)).map(|(p, r)| describe(*p, r)).collect();
    out.sort();
    out
}

/// Driver Verifier's special pool, on the host: each pool block gets its own mapping
/// with an inaccessible guard page right after it (overruns) or right before it
/// (underruns), so an out-of-bounds access faults at once (SIGSEGV), as a bug check
/// does under the real special pool ("Special Pool" in the Driver Verifier docs: the
/// allocation is placed at the end of a page followed by a no-access page, or, in the
/// underrun variant, at the start of a page preceded by one). The bytes between an
/// overrun-mode block's end and its page end (blocks are 16-aligned) are filled with a
/// pattern checked at free, as Driver Verifier checks them. A freed block's pages stay
/// reserved and inaccessible, so a use after free faults too.
pub mod special {
    use std::sync::atomic::{AtomicU8, Ordering};

    /// Where the guard page goes.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Mode {
        /// Ordinary host memory.
        Off,
        /// A guard page after each block.
        Overrun,
        /// A guard page before each block.
        Underrun,
    }

    const PAGE: usize = 4096;
    const SLACK_FILL: u8 = 0x5A;
    /// 0 = not read yet, 1 = off, 2 = overrun, 3 = underrun.
    static MODE: AtomicU8 = AtomicU8::new(0);

    /// The mode: `KSFRAME_SPECIAL_POOL=overrun|underrun` in the environment, or what
    /// [`set_mode`] chose.
    pub fn mode() -> Mode {
        let mut m = MODE.load(Ordering::Acquire);
        if m == 0 {
            m = match std::env::var("KSFRAME_SPECIAL_POOL").as_deref() {
                Ok("overrun") => 2,
                Ok("underrun") => 3,
                _ => 1,
            };
            MODE.store(m, Ordering::Release);
        }
        match m {
            2 => Mode::Overrun,
            3 => Mode::Underrun,
            _ => Mode::Off,
        }
    }

    /// Chooses the mode for the whole process from now on.
    pub fn set_mode(mode: Mode) {
        let m = match mode {
            Mode::Off => 1,
            Mode::Overrun => 2,
            Mode::Underrun => 3,
        };
        MODE.store(m, Ordering::Release);
    }

    /// One block's mapping.
    pub(crate) struct Region {
        base: usize,
        len: usize,
        block: usize,
        /// The accessible pages: [start, end).
        start: usize,
        end: usize,
    }

    impl Region {
        /// Maps a region for a block of `bytes` with its guard page, or None.
        #[cfg(not(unix))]
        pub(crate) fn map(_bytes: usize, _mode: Mode) -> Option<Self> {
            // No guard pages without mmap: the special pool is a Unix host feature.
            None
        }

        /// Maps a region for a block of `bytes` with its guard page, or None.
        #[cfg(unix)]
        pub(crate) fn map(bytes: usize, mode: Mode) -> Option<Self> {
            let data_pages = bytes.checked_add(PAGE - 1)? / PAGE;
            let len = (data_pages + 1).checked_mul(PAGE)?;
            // SAFETY: an anonymous private mapping; no file, no fixed address.
            let base = unsafe {
                libc::mmap(
                    core::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if base == libc::MAP_FAILED {
                return None;
            }
            let base = base as usize;
            let (guard, start, end, block) = match mode {
                Mode::Underrun => (base, base + PAGE, base + len, base + PAGE),
                _ => {
                    let end = base + data_pages * PAGE;
                    let rounded = bytes.checked_add(15)? & !15;
                    (end, base, end, end - rounded)
                }
            };
            // SAFETY: the guard page lies inside the mapping just made.
            unsafe { libc::mprotect(guard as *mut libc::c_void, PAGE, libc::PROT_NONE) };
            // SAFETY: [start, end) is mapped read-write.
            unsafe { core::ptr::write_bytes(start as *mut u8, SLACK_FILL, end - start) };
            Some(Self { base, len, block, start, end })
        }

        /// The block's first byte.
        pub(crate) fn block(&self) -> *mut u8 {
            self.block as *mut u8
        }

        /// How far past a `bytes`-long block the first changed slack byte is, if any.
        pub(crate) fn slack_damage(&self, bytes: usize) -> Option<usize> {
            let tail = self.block + bytes;
            // SAFETY: [tail, end) is inside the accessible pages.
            let slack = unsafe { core::slice::from_raw_parts(tail as *const u8, self.end - tail) };
            slack.iter().position(|b| *b != SLACK_FILL)
        }

        /// Releases the memory but keeps the addresses reserved and inaccessible.
        #[cfg(not(unix))]
        pub(crate) fn retire(&self) {}

        /// Releases the memory but keeps the addresses reserved and inaccessible.
        #[cfg(unix)]
        pub(crate) fn retire(&self) {
            // SAFETY: the mapping this region made; nothing uses it any more.
            unsafe {
                libc::madvise(self.start as *mut libc::c_void, self.end - self.start, libc::MADV_DONTNEED);
                libc::mprotect(self.base as *mut libc::c_void, self.len, libc::PROT_NONE);
            }
        }
    }
}

/// KsGetPinFromIrp: any IRQL ("KsGetPinFromIrp" docs).
pub(super) unsafe fn pin_from_irp(irp: *mut crate::ks::IRP) -> *mut crate::ks::KSPIN {
    // SAFETY: the caller passes a valid IRP with a current stack location.
    unsafe {
        let stack = core::ptr::addr_of!((*irp).Tail.Overlay.CurrentStackLocation).read();
        if stack.is_null() {
            return core::ptr::null_mut();
        }
        core::ptr::addr_of!((*stack).FileObject).read().cast()
    }
}

// ---------------------------------------------------------------------------------
// Object bags (KsEdit)
// ---------------------------------------------------------------------------------

/// Bag address → the (copy address, size) items KsEdit put in it.
type Bags = HashMap<usize, Vec<(usize, usize)>>;

fn bags() -> MutexGuard<'static, Bags> {
    static BAGS: OnceLock<Mutex<Bags>> = OnceLock::new();
    BAGS.get_or_init(|| Mutex::new(HashMap::new())).lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(super) unsafe fn ks_edit(
    bag: crate::ks::KSOBJECT_BAG,
    item: *mut crate::ks::PVOID,
    size: u32,
) -> NTSTATUS {
    // "_KsEdit" docs: IRQL PASSIVE_LEVEL (the caller holds the bag's mutex).
    require_irql_at_most(PASSIVE_LEVEL, "_KsEdit");
    assert!(!bag.is_null(), "KsEdit on an object without a bag");
    // An item already edited into this bag is edited in place (KsEdit with equal sizes).
    // SAFETY: `item` is a valid pointer to a pointer (the caller's contract).
    let current = unsafe { *item } as usize;
    if bags()
        .get(&(bag as usize))
        .is_some_and(|items| items.iter().any(|(copy, len)| *copy == current && *len >= size as usize))
    {
        return crate::ks::STATUS_SUCCESS;
    }
    // SAFETY: a pool block of `size` bytes (pool_alloc's contract for a non-zero size).
    let copy = unsafe { pool_alloc(size.max(1) as usize, super::POOL_TAG) };
    if copy.is_null() {
        return crate::ks::STATUS_INSUFFICIENT_RESOURCES;
    }
    // SAFETY: `*item` points to `size` readable bytes (the caller's contract); the copy
    // is fresh and as large.
    unsafe {
        core::ptr::copy_nonoverlapping((*item).cast::<u8>(), copy, size as usize);
        *item = copy.cast();
    }
    bags().entry(bag as usize).or_default().push((copy as usize, size as usize));
    crate::ks::STATUS_SUCCESS
}

/// Frees everything KsEdit put in `bag` (what KS does when the object goes away).
pub fn free_bag(bag: crate::ks::KSOBJECT_BAG) {
    let items = bags().remove(&(bag as usize)).unwrap_or_default();
    for (copy, _) in items {
        // SAFETY: allocated by ks_edit with POOL_TAG and owned by the bag.
        unsafe { pool_free(copy as *mut u8, super::POOL_TAG) };
    }
}

// ---------------------------------------------------------------------------------
// Stream pointers (KsPinGetLeadingEdgeStreamPointer / KsStreamPointerAdvanceOffsetsAndUnlock)
// ---------------------------------------------------------------------------------

/// What a Process call did with the stream pointer it was offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advanced {
    /// Input bytes consumed.
    pub in_used: u32,
    /// Output bytes produced.
    pub out_used: u32,
    /// Whether the frame was ejected (moved on).
    pub eject: bool,
}

std::thread_local! {
    static LEADING_EDGE: RefCell<HashMap<usize, usize>> = RefCell::new(HashMap::new());
    static ADVANCED: RefCell<HashMap<usize, Advanced>> = RefCell::new(HashMap::new());
}

/// Queues `pointer` as `pin`'s leading edge for the next Process call on this thread
/// (the simulator's side of KsPinGetLeadingEdgeStreamPointer).
pub fn offer_stream_pointer(pin: *mut crate::ks::KSPIN, pointer: *mut crate::ks::KSSTREAM_POINTER) {
    LEADING_EDGE.with(|l| l.borrow_mut().insert(pin as usize, pointer as usize));
}

/// Withdraws the pointer offered to `pin` if the driver did not take it; whether one
/// was left.
pub fn withdraw_stream_pointer(pin: *mut crate::ks::KSPIN) -> bool {
    LEADING_EDGE.with(|l| l.borrow_mut().remove(&(pin as usize))).is_some()
}

/// What the driver did with `pointer`, if it advanced it (and forgets it).
pub fn take_advanced(pointer: *mut crate::ks::KSSTREAM_POINTER) -> Option<Advanced> {
    ADVANCED.with(|a| a.borrow_mut().remove(&(pointer as usize)))
}

pub(super) unsafe fn leading_edge(pin: *mut crate::ks::KSPIN) -> *mut crate::ks::KSSTREAM_POINTER {
    // "KsPinGetLeadingEdgeStreamPointer" docs: IRQL <= DISPATCH_LEVEL.
    require_irql_at_most(DISPATCH_LEVEL, "KsPinGetLeadingEdgeStreamPointer");
    LEADING_EDGE
        .with(|l| l.borrow_mut().remove(&(pin as usize)))
        .map_or(core::ptr::null_mut(), |p| p as *mut _)
}

pub(super) unsafe fn advance_and_unlock(
    pointer: *mut crate::ks::KSSTREAM_POINTER,
    in_used: u32,
    out_used: u32,
    eject: bool,
) {
    // "KsStreamPointerAdvanceOffsetsAndUnlock" docs: IRQL <= DISPATCH_LEVEL.
    require_irql_at_most(DISPATCH_LEVEL, "KsStreamPointerAdvanceOffsetsAndUnlock");
    // SAFETY: the simulator offered this pointer (a live KSSTREAM_POINTER it owns).
    unsafe {
        let sp = &mut *pointer;
        assert!(in_used <= sp.OffsetIn.Remaining, "advanced past the input");
        assert!(out_used <= sp.OffsetOut.Remaining, "advanced past the output");
        sp.OffsetIn.Remaining -= in_used;
        sp.OffsetIn.Data = sp.OffsetIn.Data.wrapping_add(in_used as usize);
        sp.OffsetOut.Remaining -= out_used;
        sp.OffsetOut.Data = sp.OffsetOut.Data.wrapping_add(out_used as usize);
    }
    let previous =
        ADVANCED.with(|a| a.borrow_mut().insert(pointer as usize, Advanced { in_used, out_used, eject }));
    assert!(previous.is_none(), "a stream pointer advanced twice");
}

// ---------------------------------------------------------------------------------
// Virtual time, timers and DPCs (KeQueryPerformanceCounter, KeSetTimerEx, KeCancelTimer,
// KeInitializeDpc, KeFlushQueuedDpcs), and the pin services AVStream provides
// (KsPinAttemptProcessing, KsPinGetReferenceClockInterface)
// ---------------------------------------------------------------------------------

/// PASSIVE_LEVEL.
pub const PASSIVE_LEVEL: u8 = 0;
/// DISPATCH_LEVEL.
pub const DISPATCH_LEVEL: u8 = 2;

type DpcRoutine = super::time::DpcRoutine;

/// One thread's virtual machine time: the clock a simulator advances, the timers the
/// driver set and the DPCs their expiries queued.
///
/// Kernel rules it keeps (each a bug check on Windows, a panic here):
/// - KeFlushQueuedDpcs and KsPinGetReferenceClockInterface only at PASSIVE_LEVEL (their
///   docs' IRQL requirements);
/// - pool memory holding a set timer or a queued DPC must not be freed
///   (TIMER_OR_DPC_INVALID, bug check 0xC7: "a kernel timer or DPC was found somewhere
///   in memory where it is not permitted", e.g. in freed pool).
#[derive(Default)]
struct Scheduler {
    now: i64,
    seq: u64,
    /// (due, sequence) → (timer, dpc): the set timers in expiry order.
    armed: std::collections::BTreeMap<(i64, u64), (usize, usize)>,
    /// timer → its key in `armed`.
    timers: HashMap<usize, (i64, u64)>,
    /// Initialised DPCs: address → (routine, context).
    dpcs: HashMap<usize, (DpcRoutine, usize)>,
    /// Queued DPCs, in order (a DPC is in the queue at most once, as KeInsertQueueDpc).
    queue: std::collections::VecDeque<usize>,
    irql: u8,
    dpcs_run: u64,
}

std::thread_local! {
    static SCHEDULER: RefCell<Scheduler> = RefCell::new(Scheduler::default());
    static PIN_SERVICES: core::cell::Cell<Option<&'static PinServices>> = const { core::cell::Cell::new(None) };
}

fn with_scheduler<R>(f: impl FnOnce(&mut Scheduler) -> R) -> R {
    SCHEDULER.with(|s| f(&mut s.borrow_mut()))
}

/// The AVStream routines a simulator answers for the pins it made.
#[derive(Debug)]
pub struct PinServices {
    /// KsPinAttemptProcessing(pin, asynchronous).
    pub attempt_processing: fn(pin: *mut crate::ks::KSPIN, asynchronous: bool),
    /// KsPinGetReferenceClockInterface(pin, &interface).
    pub reference_clock:
        fn(pin: *mut crate::ks::KSPIN, interface: *mut *mut crate::ks::IKsReferenceClock) -> NTSTATUS,
}

/// Installs (or removes) the pin services on this thread.
pub fn set_pin_services(services: Option<&'static PinServices>) {
    PIN_SERVICES.with(|p| p.set(services));
}

/// Bug-checks (panics) unless the current IRQL is at most `level`: the IRQL
/// requirement of `routine` (its docs page's "IRQL" line, named by the caller).
#[track_caller]
pub(super) fn require_irql_at_most(level: u8, routine: &str) {
    let current = current_irql();
    assert!(
        current <= level,
        "IRQL_NOT_LESS_OR_EQUAL: {routine} called at IRQL {current}; its documented maximum is {level} \
         (called from {})",
        core::panic::Location::caller()
    );
}

/// PAGED_CODE(): the caller may page-fault, so it must run below DISPATCH_LEVEL (wdm.h;
/// Driver Verifier's IRQL checking reports it).
#[track_caller]
pub(super) fn paged_code(routine: &str) {
    let current = current_irql();
    assert!(
        current < DISPATCH_LEVEL,
        "IRQL_NOT_LESS_OR_EQUAL: pageable code ({routine}) ran at IRQL {current} (called from {})",
        core::panic::Location::caller()
    );
}

std::thread_local! {
    /// Spin locks this thread holds, with the IRQL each acquisition raised from.
    static HELD: RefCell<Vec<(usize, u8)>> = const { RefCell::new(Vec::new()) };
}

/// KeAcquireSpinLockRaiseToDpc: IRQL <= DISPATCH_LEVEL ("KeAcquireSpinLockRaiseToDpc"
/// docs); raises to DISPATCH_LEVEL and returns the old IRQL. Acquiring a lock this
/// thread already holds deadlocks on Windows: a bug check here.
pub(super) unsafe fn acquire_spin_lock(lock: *mut usize) -> u8 {
    require_irql_at_most(DISPATCH_LEVEL, "KeAcquireSpinLockRaiseToDpc");
    HELD.with(|h| {
        let mut held = h.borrow_mut();
        assert!(
            !held.iter().any(|(l, _)| *l == lock as usize),
            "spin lock {lock:p} acquired twice: a deadlock"
        );
        let old = with_scheduler(|s| core::mem::replace(&mut s.irql, DISPATCH_LEVEL));
        held.push((lock as usize, old));
        old
    })
}

/// KeReleaseSpinLock: back to the IRQL the acquisition saved.
pub(super) unsafe fn release_spin_lock(lock: *mut usize, old: u8) {
    HELD.with(|h| {
        let mut held = h.borrow_mut();
        let at = held.iter().rposition(|(l, _)| *l == lock as usize).expect("released a spin lock not held");
        let (_, saved) = held.remove(at);
        assert_eq!(saved, old, "KeReleaseSpinLock with another IRQL than its acquisition returned");
    });
    with_scheduler(|s| s.irql = old);
}

/// Spin locks this thread holds now.
pub fn spin_locks_held() -> usize {
    HELD.with(|h| h.borrow().len())
}

/// Calls into the driver as the kernel calls a callback at `level`, on behalf of the KS
/// object at `owner` (0: none): the IRQL is `level` during `f`, and on return the
/// callback must be back at `level` holding no spin lock (Driver Verifier's IRQL
/// checking bug-checks a driver that returns with a spin lock held or its IRQL raised).
#[track_caller]
pub fn callback<R>(level: u8, owner: usize, what: &str, f: impl FnOnce() -> R) -> R {
    let previous = with_scheduler(|s| core::mem::replace(&mut s.irql, level));
    let locks_before = spin_locks_held();
    let result = with_owner(owner, f);
    let (after, locks) = (current_irql(), spin_locks_held());
    assert!(
        locks == locks_before && after == level,
        "IRQL_NOT_LESS_OR_EQUAL / DRIVER_LEFT_LOCKED: {what} returned at IRQL {after} (entered at {level}) with \
         {} spin lock(s) still held (called from {})",
        locks - locks_before.min(locks),
        core::panic::Location::caller()
    );
    with_scheduler(|s| s.irql = previous);
    result
}

/// The virtual time, 100 ns units.
pub fn virtual_now() -> i64 {
    with_scheduler(|s| s.now)
}

/// When the earliest set timer expires.
pub fn next_timer_due() -> Option<i64> {
    with_scheduler(|s| s.armed.keys().next().map(|(due, _)| *due))
}

/// Moves the clock to `t` (never back) and expires every timer due by then, queueing
/// their DPCs (they run in [`run_queued_dpcs`]). Returns how many timers expired.
pub fn advance_to(t: i64) -> usize {
    with_scheduler(|s| {
        s.now = s.now.max(t);
        let mut fired = 0;
        while let Some((&key, &(timer, dpc))) = s.armed.iter().next() {
            if key.0 > s.now {
                break;
            }
            s.armed.remove(&key);
            s.timers.remove(&timer);
            fired += 1;
            if dpc != 0 && !s.queue.contains(&dpc) {
                s.queue.push_back(dpc);
            }
        }
        fired
    })
}

/// Runs every queued DPC, in order, at DISPATCH_LEVEL (DPCs a DPC queues run too).
/// Returns how many ran.
pub fn run_queued_dpcs() -> usize {
    let mut ran = 0;
    loop {
        let next = with_scheduler(|s| {
            let dpc = s.queue.pop_front()?;
            let (routine, context) = *s.dpcs.get(&dpc).expect("a queued DPC was initialised");
            Some((dpc, routine, context))
        });
        let Some((dpc, routine, context)) = next else { return ran };
        let previous = with_scheduler(|s| core::mem::replace(&mut s.irql, DISPATCH_LEVEL));
        // SAFETY: the routine and context the driver gave KeInitializeDpc for this DPC,
        // called as the kernel calls a DPC.
        unsafe {
            routine(
                dpc as *mut crate::ks::KDPC,
                context as PVOID,
                core::ptr::null_mut(),
                core::ptr::null_mut(),
            )
        };
        with_scheduler(|s| {
            s.irql = previous;
            s.dpcs_run += 1;
        });
        ran += 1;
    }
}

/// DPCs queued and not yet run.
pub fn queued_dpcs() -> usize {
    with_scheduler(|s| s.queue.len())
}

/// Timers set and not yet expired or cancelled.
pub fn armed_timers() -> usize {
    with_scheduler(|s| s.armed.len())
}

/// DPCs run on this thread so far.
pub fn dpcs_run() -> u64 {
    with_scheduler(|s| s.dpcs_run)
}

/// The IRQL the current callback runs at.
pub fn current_irql() -> u8 {
    with_scheduler(|s| s.irql)
}

/// Starts this thread's virtual time again at 0 for a new simulation, forgetting timers
/// and DPCs an earlier one left behind (its pins were never closed).
pub fn clear_virtual_time() {
    with_scheduler(|s| *s = Scheduler::default());
}

fn timer_or_dpc_in(start: usize, len: usize) -> Option<String> {
    let inside = |a: usize| a >= start && a < start.saturating_add(len);
    with_scheduler(|s| {
        if let Some(t) = s.timers.keys().find(|t| inside(**t)) {
            return Some(std::format!("a set timer at {t:#x}"));
        }
        s.queue.iter().find(|d| inside(**d)).map(|d| std::format!("a queued DPC at {d:#x}"))
    })
}

pub(super) fn performance_counter() -> (i64, i64) {
    (virtual_now(), super::time::UNITS_PER_SECOND)
}

pub(super) unsafe fn initialize_timer(timer: *mut crate::ks::KTIMER) {
    // "KeInitializeTimerEx" docs: IRQL <= DISPATCH_LEVEL.
    require_irql_at_most(DISPATCH_LEVEL, "KeInitializeTimerEx");
    let armed = with_scheduler(|s| s.timers.contains_key(&(timer as usize)));
    assert!(!armed, "KeInitializeTimerEx on a timer that is set");
}

pub(super) unsafe fn initialize_dpc(dpc: *mut crate::ks::KDPC, routine: DpcRoutine, context: PVOID) {
    with_scheduler(|s| {
        assert!(!s.queue.contains(&(dpc as usize)), "KeInitializeDpc on a queued DPC");
        s.dpcs.insert(dpc as usize, (routine, context as usize));
    });
}

pub(super) unsafe fn set_timer(timer: *mut crate::ks::KTIMER, due: i64, dpc: *mut crate::ks::KDPC) -> bool {
    // "KeSetTimerEx" docs: IRQL <= DISPATCH_LEVEL.
    require_irql_at_most(DISPATCH_LEVEL, "KeSetTimerEx");
    with_scheduler(|s| {
        assert!(
            dpc.is_null() || s.dpcs.contains_key(&(dpc as usize)),
            "KeSetTimerEx with an uninitialised DPC"
        );
        let was = s.timers.remove(&(timer as usize)).map(|key| s.armed.remove(&key)).is_some();
        // Negative: relative to now; positive: absolute (KeSetTimerEx docs).
        let at = if due < 0 { s.now.saturating_add(due.saturating_neg()) } else { due };
        s.seq += 1;
        let key = (at, s.seq);
        s.armed.insert(key, (timer as usize, dpc as usize));
        s.timers.insert(timer as usize, key);
        was
    })
}

pub(super) unsafe fn cancel_timer(timer: *mut crate::ks::KTIMER) -> bool {
    // "KeCancelTimer" docs: IRQL <= DISPATCH_LEVEL.
    require_irql_at_most(DISPATCH_LEVEL, "KeCancelTimer");
    with_scheduler(|s| s.timers.remove(&(timer as usize)).map(|key| s.armed.remove(&key)).is_some())
}

pub(super) unsafe fn flush_queued_dpcs() {
    // "KeFlushQueuedDpcs" docs: IRQL PASSIVE_LEVEL.
    require_irql_at_most(PASSIVE_LEVEL, "KeFlushQueuedDpcs");
    let _ = run_queued_dpcs();
}

pub(super) unsafe fn attempt_processing(pin: *mut crate::ks::KSPIN, asynchronous: bool) {
    // "KsPinAttemptProcessing" docs: IRQL <= DISPATCH_LEVEL.
    require_irql_at_most(DISPATCH_LEVEL, "KsPinAttemptProcessing");
    if let Some(services) = PIN_SERVICES.with(core::cell::Cell::get) {
        (services.attempt_processing)(pin, asynchronous);
    }
}

pub(super) unsafe fn reference_clock(
    pin: *mut crate::ks::KSPIN,
    interface: *mut *mut crate::ks::IKsReferenceClock,
) -> NTSTATUS {
    // "KsPinGetReferenceClockInterface" docs: IRQL PASSIVE_LEVEL.
    require_irql_at_most(PASSIVE_LEVEL, "KsPinGetReferenceClockInterface");
    match PIN_SERVICES.with(core::cell::Cell::get) {
        Some(services) => (services.reference_clock)(pin, interface),
        // ReactOS pin.c: STATUS_DEVICE_NOT_READY without a clock.
        None => crate::ks::STATUS_DEVICE_NOT_READY,
    }
}

// ---------------------------------------------------------------------------------
// Debug log
// ---------------------------------------------------------------------------------

pub(super) fn log(args: core::fmt::Arguments<'_>) {
    let line = super::format_line::<512>(args);
    let text = String::from(String::from_utf8_lossy(line.as_bytes()).trim_end());
    if std::env::var_os("KSFRAME_LOG").is_some() {
        std::eprintln!("{text}");
    }
    LOG.with(|l| {
        let mut lines = l.borrow_mut();
        // Bounded: a long run (a fuzzer) keeps the most recent lines only.
        if lines.len() >= LOG_CAPACITY {
            lines.drain(..LOG_CAPACITY / 2);
        }
        lines.push(text);
    });
}

/// Log lines kept per thread.
pub const LOG_CAPACITY: usize = 10_000;

/// Takes the log lines this thread wrote so far.
pub fn take_log() -> Vec<String> {
    LOG.with(|l| core::mem::take(&mut *l.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::super::{PoolBox, PoolBuffer};
    use super::*;

    #[test]
    fn scope_counts_and_releases_every_byte() {
        let scope = PoolScope::new();
        let _g = scope.enter();
        let a = PoolBuffer::new(100, 64, super::super::POOL_TAG).unwrap();
        let b = PoolBox::try_new([7u64; 4], super::super::POOL_TAG).unwrap();
        assert_eq!(a.as_ptr() as usize % 64, 0);
        assert!(a.as_slice().iter().all(|&x| x == 0));
        assert_eq!(b[3], 7);
        let s = scope.stats();
        assert_eq!((s.allocations, s.blocks_outstanding), (2, 2));
        assert_eq!(s.bytes_outstanding, 100 + (64 - 16) + 32);
        drop(a);
        drop(b);
        assert_eq!(scope.stats().bytes_outstanding, 0);
        assert_eq!(scope.stats().frees, 2);
    }

    #[test]
    fn nth_allocation_fails_once() {
        let scope = PoolScope::new();
        let _g = scope.enter();
        scope.fail_nth_allocation(2);
        let first = PoolBuffer::new(8, 16, 1);
        let second = PoolBuffer::new(8, 16, 1);
        let third = PoolBuffer::new(8, 16, 1);
        assert!(first.is_ok());
        assert_eq!(second.unwrap_err(), crate::ks::STATUS_INSUFFICIENT_RESOURCES);
        assert!(third.is_ok());
        assert_eq!(scope.stats().failed, 1);
    }

    #[test]
    fn failing_from_n_fails_every_later_attempt() {
        let scope = PoolScope::new();
        let _g = scope.enter();
        scope.fail_from_nth_allocation(1);
        assert!(PoolBuffer::new(8, 16, 1).is_err());
        assert!(PoolBox::try_new(1u8, 1).is_err());
        scope.clear_faults();
        assert!(PoolBuffer::new(8, 16, 1).is_ok());
    }

    #[test]
    fn pool_box_hands_value_back_on_failure() {
        let scope = PoolScope::new();
        let _g = scope.enter();
        scope.fail_nth_allocation(1);
        let (v, status) = PoolBox::try_new(std::string::String::from("kept"), 1).unwrap_err();
        assert_eq!(v, "kept");
        assert_eq!(status, crate::ks::STATUS_INSUFFICIENT_RESOURCES);
    }

    #[test]
    fn bad_buffer_requests_are_invalid_parameter() {
        use crate::ks::STATUS_INVALID_PARAMETER;
        assert_eq!(PoolBuffer::new(0, 16, 1).unwrap_err(), STATUS_INVALID_PARAMETER);
        assert_eq!(PoolBuffer::new(8, 24, 1).unwrap_err(), STATUS_INVALID_PARAMETER);
        assert_eq!(PoolBuffer::new(8, 8192, 1).unwrap_err(), STATUS_INVALID_PARAMETER);
        assert_eq!(PoolBuffer::new(usize::MAX, 4096, 1).unwrap_err(), STATUS_INVALID_PARAMETER);
    }

    #[test]
    fn every_power_of_two_alignment_up_to_a_page_is_honoured() {
        let scope = PoolScope::new();
        let _g = scope.enter();
        let mut align = 1;
        while align <= super::super::PAGE_SIZE {
            let b = PoolBuffer::new(3, align, 1).unwrap();
            assert_eq!(b.as_ptr() as usize % align, 0, "align {align}");
            assert!(b.contains(b.as_ptr()) && !b.contains(b.as_ptr().wrapping_add(3)));
            align *= 2;
        }
        assert_eq!(scope.bytes_outstanding(), 0);
    }

    #[test]
    fn freeing_with_a_wrong_tag_bugchecks_and_keeps_the_block() {
        let scope = PoolScope::new();
        let _g = scope.enter();
        let raw = PoolBox::try_new(5u32, 1).unwrap().into_raw();
        let outcome = std::panic::catch_unwind(|| {
            // SAFETY: deliberately wrong tag; the host backend panics before freeing.
            drop(unsafe { PoolBox::from_raw(raw, 2) });
        });
        let message = outcome.unwrap_err();
        let message = message.downcast_ref::<std::string::String>().unwrap();
        assert!(message.contains("BAD_POOL_CALLER"), "{message}");
        assert_eq!(scope.stats().blocks_outstanding, 1, "the block stays allocated");
        // SAFETY: the block is still allocated; now freed with its own tag.
        drop(unsafe { PoolBox::from_raw(raw, 1) });
        assert_eq!(scope.bytes_outstanding(), 0);
    }

    #[test]
    fn log_lines_are_captured_per_thread() {
        let _ = take_log();
        crate::log!("hello {}", 42);
        assert_eq!(take_log(), std::vec![std::string::String::from("ksframe: hello 42")]);
    }
}
