//! Driver Verifier's checks, run here: each class of mistake a deliberately broken call
//! site makes is caught by the host backend or the simulator, as Driver Verifier (or a
//! KS/KMDF DDI compliance rule) would catch it on Windows.
//!
//! | class | broken call site | caught as |
//! |---|---|---|
//! | IRQL | KeFlushQueuedDpcs with a spin lock held; KsPinGetReferenceClockInterface from a DISPATCH_LEVEL Process; pageable code at DISPATCH_LEVEL | IRQL_NOT_LESS_OR_EQUAL |
//! | spin lock held on return | SetDeviceState returns holding a spin lock | the callback boundary check |
//! | overrun / underrun | a write one byte past / before a pool block, and past the frame pool's last frame, under the special pool | SIGSEGV at the access (a child process) |
//! | slack corruption | a write into the bytes between a block's end and its page's end | SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION at free |
//! | leak | a pin Create that leaks a pool block | at pin Close, with tag, size and origin; and in the unload check |
//! | wrong tag | ExFreePoolWithTag with another tag | BAD_POOL_CALLER, with the allocation's origin |
//! | double free | a block freed twice | BAD_POOL_CALLER |
//!
//! The special-pool fixtures run in a child process (this test binary, one ignored test,
//! `KSFRAME_SPECIAL_POOL` set), whose death by SIGSEGV is the verdict.

use ksframe::avstream::{CAPTURE_PIN, DEVICE_DESCRIPTOR, FORMATS, PIN_DESCRIPTORS};
use ksframe::kernel::host::{self, PoolScope};
use ksframe::kernel::{POOL_TAG, PoolBox, PoolBuffer, SpinLock};
use ksframe::ks::*;
use ksframe::sim::Sim;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `f`, which must panic; returns the panic's message.
fn bug_check(f: impl FnOnce()) -> String {
    let outcome = catch_unwind(AssertUnwindSafe(f));
    let payload = outcome.expect_err("the broken call site was not caught");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// A variant of the capture pin descriptor with another dispatch table.
macro_rules! variant {
    ($name:ident, $dispatch:expr, $flags:expr) => {
        static $name: KSPIN_DESCRIPTOR_EX = {
            static DISPATCH: KSPIN_DISPATCH = $dispatch;
            KSPIN_DESCRIPTOR_EX {
                Dispatch: &DISPATCH,
                Flags: $flags,
                ..PIN_DESCRIPTORS[CAPTURE_PIN as usize]
            }
        };
    };
}

const fn capture_dispatch() -> KSPIN_DISPATCH {
    ksframe::avstream::CAPTURE_DISPATCH
}

static LOCK: SpinLock = SpinLock::new();

unsafe extern "system" fn flush_under_a_spin_lock(pin: *mut KSPIN, to: KSSTATE, from: KSSTATE) -> NTSTATUS {
    let _held = LOCK.lock();
    // KeFlushQueuedDpcs requires PASSIVE_LEVEL; the lock raised the IRQL to DISPATCH.
    // SAFETY: deliberately at the wrong IRQL; the host backend refuses before acting.
    unsafe { ksframe::kernel::flush_queued_dpcs() };
    // SAFETY: the driver's own handler, as the variant would chain to it.
    unsafe { ksframe::avstream::pin_set_device_state(pin, to, from) }
}

unsafe extern "system" fn return_holding_a_spin_lock(
    _pin: *mut KSPIN,
    _to: KSSTATE,
    _from: KSSTATE,
) -> NTSTATUS {
    core::mem::forget(LOCK.lock());
    STATUS_SUCCESS
}

unsafe extern "system" fn clock_at_dispatch(pin: *mut KSPIN) -> NTSTATUS {
    // SAFETY: deliberately at DISPATCH_LEVEL (the pin asks for DISPATCH_LEVEL
    // processing); KsPinGetReferenceClockInterface requires PASSIVE_LEVEL.
    drop(unsafe { ksframe::kernel::ReferenceClock::of_pin(pin) });
    STATUS_PENDING
}

unsafe extern "system" fn create_and_leak(pin: *mut KSPIN, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: the driver's own Create.
    let status = unsafe { ksframe::avstream::pin_create(pin, irp) };
    let _leaked = PoolBox::try_new([0u8; 40], POOL_TAG).ok().map(PoolBox::into_raw);
    status
}

variant!(
    FLUSH_UNDER_LOCK,
    KSPIN_DISPATCH { SetDeviceState: Some(flush_under_a_spin_lock), ..capture_dispatch() },
    0
);
variant!(
    HOLDS_A_LOCK,
    KSPIN_DISPATCH { SetDeviceState: Some(return_holding_a_spin_lock), ..capture_dispatch() },
    0
);
variant!(
    CLOCK_AT_DISPATCH,
    KSPIN_DISPATCH { Process: Some(clock_at_dispatch), ..capture_dispatch() },
    KSPIN_FLAG_DISPATCH_LEVEL_PROCESSING
);
variant!(LEAKS_ON_CREATE, KSPIN_DISPATCH { Create: Some(create_and_leak), ..capture_dispatch() }, 0);

fn pin_with(sim: &mut Sim, descriptor: &'static KSPIN_DESCRIPTOR_EX) -> ksframe::sim::Pin {
    let f = sim.create_filter(0);
    sim.create_pin_with(f, CAPTURE_PIN, descriptor, Some(FORMATS[0].data_format())).unwrap()
}

// A bug check inside a driver callback cannot unwind through its `extern "system"`
// frame: the process aborts, as the machine stops. Those fixtures run in a child.

#[test]
#[ignore = "a fixture: run by passive_only_routines_at_dispatch_level_are_irql_violations"]
fn fixture_flush_under_a_spin_lock() {
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    let mut pin = pin_with(&mut sim, &FLUSH_UNDER_LOCK);
    let _ = sim.set_state(&mut pin, KSSTATE_ACQUIRE);
}

#[test]
#[ignore = "a fixture: run by passive_only_routines_at_dispatch_level_are_irql_violations"]
fn fixture_clock_at_dispatch() {
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    let mut pin = pin_with(&mut sim, &CLOCK_AT_DISPATCH);
    assert_eq!(sim.set_state(&mut pin, KSSTATE_RUN), STATUS_SUCCESS);
    let _ = sim.process_empty(&mut pin);
}

#[test]
fn passive_only_routines_at_dispatch_level_are_irql_violations() {
    for (fixture, expect) in [
        ("fixture_flush_under_a_spin_lock", "IRQL_NOT_LESS_OR_EQUAL: KeFlushQueuedDpcs called at IRQL 2"),
        // KSPIN_FLAG_DISPATCH_LEVEL_PROCESSING: Process runs at DISPATCH_LEVEL.
        (
            "fixture_clock_at_dispatch",
            "IRQL_NOT_LESS_OR_EQUAL: KsPinGetReferenceClockInterface called at IRQL 2",
        ),
    ] {
        let (signal, stderr) = run_fixture(fixture, "off");
        assert_eq!(signal, Some(SIGABRT), "{fixture}: {stderr}");
        assert!(stderr.contains(expect), "{fixture}: {stderr}");
    }
}

#[test]
fn returning_from_a_callback_with_a_spin_lock_held_is_caught() {
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    let mut pin = pin_with(&mut sim, &HOLDS_A_LOCK);
    let message = bug_check(|| {
        let _ = sim.set_state(&mut pin, KSSTATE_ACQUIRE);
    });
    assert!(message.contains("spin lock(s) still held") && message.contains("SetDeviceState"), "{message}");
}

#[test]
fn pageable_code_at_dispatch_level_is_caught() {
    // The driver's callbacks that are marked PAGED_CODE refuse DISPATCH_LEVEL: here the
    // property handler prologue, entered from a DPC-level context.
    host::clear_virtual_time();
    let message = bug_check(|| {
        host::callback(host::DISPATCH_LEVEL, 0, "a test DPC", || {
            ksframe::kernel::paged_code("a property handler")
        });
    });
    assert!(message.contains("pageable code (a property handler) ran at IRQL 2"), "{message}");
    // At PASSIVE_LEVEL it passes.
    host::callback(host::PASSIVE_LEVEL, 0, "a test call", || {
        ksframe::kernel::paged_code("a property handler")
    });
}

#[test]
fn a_pool_block_that_outlives_its_pin_is_reported_with_tag_size_and_origin() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let mut sim = Sim::new(&DEVICE_DESCRIPTOR);
    let pin = pin_with(&mut sim, &LEAKS_ON_CREATE);
    let message = bug_check(|| {
        sim.close_pin(pin);
    });
    assert!(message.contains("outlived its Close"), "{message}");
    assert!(message.contains("tag 'KsFr'") && message.contains("40 bytes"), "{message}");
    assert!(message.contains("tests/verifier.rs"), "the origin is the leaking call site: {message}");
    // And the unload check (everything the driver allocated in this scope) names it too.
    let left = host::live_allocations_in(&scope);
    assert_eq!(left.len(), 1, "{left:#?}");
    assert!(left[0].contains("tests/verifier.rs"), "{left:?}");
}

#[test]
fn freeing_with_another_tag_names_the_allocation() {
    let scope = PoolScope::new();
    let _g = scope.enter();
    let raw = PoolBox::try_new(7u64, POOL_TAG).unwrap().into_raw();
    let message = bug_check(|| {
        // SAFETY: deliberately the wrong tag; the host backend refuses before freeing.
        drop(unsafe { PoolBox::from_raw(raw, u32::from_le_bytes(*b"Oops")) });
    });
    assert!(message.contains("BAD_POOL_CALLER") && message.contains("tag 'KsFr'"), "{message}");
    assert!(message.contains("tests/verifier.rs"), "{message}");
    // SAFETY: still allocated; freed with its own tag.
    drop(unsafe { PoolBox::from_raw(raw, POOL_TAG) });
    assert_eq!(scope.bytes_outstanding(), 0);
}

#[test]
fn a_double_free_is_caught() {
    let raw = PoolBox::try_new(7u64, POOL_TAG).unwrap().into_raw();
    // SAFETY: the first free is legitimate.
    drop(unsafe { PoolBox::from_raw(raw, POOL_TAG) });
    let message = bug_check(|| {
        // SAFETY: deliberately a second free; the host backend refuses it.
        let again = unsafe { PoolBox::from_raw(raw, POOL_TAG) };
        // Only the pool call is under test: skip u64's (trivial) drop and free.
        drop(again);
    });
    assert!(message.contains("BAD_POOL_CALLER") && message.contains("freed twice"), "{message}");
}

// --- the special pool, in child processes -----------------------------------------------

/// Runs the ignored fixture `name` in a child process with the special pool in `mode`;
/// returns the child's signal (None when it exited) and its stderr.
fn run_fixture(name: &str, mode: &str) -> (Option<i32>, String) {
    use std::os::unix::process::ExitStatusExt;
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", name, "--test-threads", "1", "--nocapture"])
        .env("KSFRAME_SPECIAL_POOL", mode)
        .output()
        .unwrap();
    (out.status.signal(), String::from_utf8_lossy(&out.stderr).into_owned())
}

const SIGSEGV: i32 = 11;
const SIGABRT: i32 = 6;

#[test]
#[ignore = "a fixture: run by overruns_and_underruns_fault_at_once under the special pool"]
fn fixture_overrun() {
    let buffer = PoolBuffer::new(96, 16, POOL_TAG).unwrap();
    // SAFETY: deliberately one byte past the block, where the guard page is.
    unsafe { buffer.as_ptr().add(96).write_volatile(1) };
}

#[test]
#[ignore = "a fixture: run by overruns_and_underruns_fault_at_once under the special pool"]
fn fixture_underrun() {
    let buffer = PoolBuffer::new(96, 16, POOL_TAG).unwrap();
    // SAFETY: deliberately one byte before the block, where the guard page is.
    unsafe { buffer.as_ptr().sub(1).write_volatile(1) };
}

#[test]
#[ignore = "a fixture: run by overruns_and_underruns_fault_at_once under the special pool"]
fn fixture_frame_overrun() {
    // The frame pool KS's InitializeAllocator builds: a write one byte past the last frame.
    let mut framing = KSALLOCATOR_FRAMING {
        OptionsFlags: KSALLOCATOR_OPTIONF_SYSTEM_MEMORY,
        PoolType: NonPagedPool,
        Frames: 2,
        FrameSize: 8192,
        FileAlignment: 63,
        Reserved: 0,
    };
    let mut context: PVOID = std::ptr::null_mut();
    host::callback(host::PASSIVE_LEVEL, 0, "InitializeAllocator", || {
        // SAFETY: a valid framing and out pointer; no pin (the pool needs none).
        let status = unsafe {
            ksframe::allocator::initialize_allocator(std::ptr::null_mut(), &mut framing, &mut context)
        };
        assert_eq!(status, STATUS_SUCCESS);
    });
    let frames: Vec<PVOID> = (0..2)
        .map(|_| {
            // SAFETY: the pool just made.
            let frame = unsafe { ksframe::allocator::allocate(context) };
            assert!(!frame.is_null());
            frame
        })
        .collect();
    let last = frames.iter().map(|f| *f as usize).max().unwrap();
    // SAFETY: deliberately one byte past the last frame.
    unsafe { ((last + 8192) as *mut u8).write_volatile(1) };
}

#[test]
#[ignore = "a fixture: run by slack_corruption_is_found_at_free under the special pool"]
fn fixture_slack_write() {
    let buffer = PoolBuffer::new(90, 16, POOL_TAG).unwrap();
    // SAFETY: deliberately past the 90 bytes into the block's page slack (not yet the
    // guard page: the block is placed at the 16-byte boundary before it).
    unsafe { buffer.as_ptr().add(92).write_volatile(1) };
    drop(buffer);
}

#[test]
fn overruns_and_underruns_fault_at_once() {
    for (fixture, mode) in [
        ("fixture_overrun", "overrun"),
        ("fixture_underrun", "underrun"),
        ("fixture_frame_overrun", "overrun"),
    ] {
        let (signal, stderr) = run_fixture(fixture, mode);
        assert_eq!(signal, Some(SIGSEGV), "{fixture} under {mode}: {stderr}");
    }
    // Without the special pool the same overrun goes unnoticed at the access: the
    // fixture's process survives it (the point of the special pool).
    let (signal, _) = run_fixture("fixture_overrun", "off");
    assert_eq!(signal, None);
}

#[test]
fn slack_corruption_is_found_at_free() {
    let (signal, stderr) = run_fixture("fixture_slack_write", "overrun");
    assert_eq!(signal, None, "{stderr}");
    assert!(stderr.contains("SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION"), "{stderr}");
    assert!(stderr.contains("tests/verifier.rs"), "{stderr}");
}

#[test]
fn under_the_special_pool_each_block_ends_at_a_guard_page() {
    // Meaningful in the verifier-mode run (KSFRAME_SPECIAL_POOL set by
    // scripts/test-all.sh); in a normal run it checks that the mode is off.
    let mode = host::special::mode();
    let buffer = PoolBuffer::new(4096 * 3, 64, POOL_TAG).unwrap();
    let end = buffer.as_ptr() as usize + buffer.len();
    match mode {
        host::special::Mode::Overrun => assert_eq!(end % 4096, 0, "the data ends at the guard page"),
        host::special::Mode::Underrun => assert_eq!(buffer.as_ptr() as usize % 4096, 0),
        host::special::Mode::Off => assert!(std::env::var_os("KSFRAME_SPECIAL_POOL").is_none()),
    }
}
