//! The simulator's object manager: handles, file objects and their references, and the
//! pool KS allocates frames from itself ([`crate::model::ObjectManager`] for the host).
//!
//! Ob's rules, from the ObReferenceObjectByHandle docs page: a stale or forged handle is
//! STATUS_INVALID_HANDLE; a kernel handle (top bit set on x64, OBJ_KERNEL_HANDLE) is
//! STATUS_INVALID_HANDLE for a UserMode requestor; another object type is
//! STATUS_OBJECT_TYPE_MISMATCH; a UserMode requestor whose handle was not granted the
//! desired access gets STATUS_ACCESS_DENIED, while KernelMode skips the access check.
//! An object lives while it has a handle or a reference; the last of them closes it
//! (IRP_MJ_CLOSE: for a KS allocator, DeleteAllocator).
//!
//! KsCreateAllocator opens the allocator with GENERIC_READ (ReactOS `allocators.c`),
//! which a file object maps to FILE_GENERIC_READ (winnt.h: READ_CONTROL | FILE_READ_DATA
//! | FILE_READ_ATTRIBUTES | FILE_READ_EA | SYNCHRONIZE).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::arithmetic_side_effects)]

use crate::ks::*;
use crate::model::ObjectManager;
use crate::model::allocator::AllocatorObject;
use core::ffi::c_void;
use core::ptr::NonNull;
use std::alloc::Layout;
use std::boxed::Box;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// FILE_GENERIC_READ (winnt.h).
pub const FILE_GENERIC_READ: u32 = 0x0012_0089;

/// What a handle refers to.
pub enum Kind {
    /// A KS allocator file object (KsCreateDefaultAllocatorEx's).
    Allocator(Box<AllocatorObject>),
    /// A file object of something else (a plain file, another KS object).
    File(Box<u64>),
    /// An object of another type (an event).
    Event(Box<u64>),
    /// A KS clock file object (a master clock a graph assigns): its time is the
    /// simulator's virtual time minus `origin`.
    Clock(Box<i64>),
}

impl Kind {
    fn address(&self) -> usize {
        match self {
            Kind::Allocator(a) => &**a as *const AllocatorObject as usize,
            Kind::File(b) | Kind::Event(b) => &**b as *const u64 as usize,
            Kind::Clock(c) => &**c as *const i64 as usize,
        }
    }
}

struct Object {
    kind: Kind,
    handles: usize,
    references: usize,
    total_references: usize,
}

struct Handle {
    object: usize,
    kernel: bool,
    granted: u32,
    refuse: Option<NTSTATUS>,
}

#[derive(Default)]
struct Table {
    next: usize,
    handles: HashMap<usize, Handle>,
    objects: HashMap<usize, Object>,
    /// KS's own blocks: address → (size, the allocating thread).
    own_blocks: HashMap<usize, (usize, std::thread::ThreadId)>,
}

// SAFETY: the table is only reached under its mutex; the raw pointers inside an
// AllocatorObject (the pool context) are owned by that object and valid from any thread
// (the pool is Sync).
unsafe impl Send for Table {}

fn table() -> MutexGuard<'static, Table> {
    static TABLE: OnceLock<Mutex<Table>> = OnceLock::new();
    TABLE
        .get_or_init(|| Mutex::new(Table { next: 0x100, ..Table::default() }))
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

const KERNEL_HANDLE_BIT: usize = 1 << (usize::BITS - 1);

/// Opens a handle to a new object of `kind`, granted `access`; a kernel handle when
/// `kernel`. Returns the handle and the object's address.
pub fn open(kind: Kind, kernel: bool, access: u32) -> (HANDLE, usize) {
    let address = kind.address();
    let mut t = table();
    t.objects.insert(address, Object { kind, handles: 0, references: 0, total_references: 0 });
    let handle = duplicate_locked(&mut t, address, kernel, access);
    (handle, address)
}

fn duplicate_locked(t: &mut Table, object: usize, kernel: bool, granted: u32) -> HANDLE {
    t.next += 4;
    let mut value = t.next;
    if kernel {
        value |= KERNEL_HANDLE_BIT;
    }
    t.handles.insert(value, Handle { object, kernel, granted, refuse: None });
    t.objects.get_mut(&object).expect("live object").handles += 1;
    core::ptr::without_provenance_mut(value)
}

/// A plain (non-KS) file object handle.
pub fn open_file(kernel: bool) -> HANDLE {
    open(Kind::File(Box::new(0)), kernel, FILE_GENERIC_READ).0
}

/// An event handle (another object type).
pub fn open_event(kernel: bool) -> HANDLE {
    open(Kind::Event(Box::new(0)), kernel, SYNCHRONIZE).0
}

/// A kernel handle to a new KS clock whose time is the virtual time minus `origin`.
pub fn open_clock(origin: i64) -> HANDLE {
    open(Kind::Clock(Box::new(origin)), true, FILE_GENERIC_READ).0
}

/// KSCLOCK_FUNCTIONTABLE.GetTime of the simulator's clocks.
unsafe extern "system" fn clock_get_time(file: *mut FILE_OBJECT) -> i64 {
    let origin = match table().objects.get(&(file as usize)).map(|o| &o.kind) {
        Some(Kind::Clock(origin)) => **origin,
        _ => panic!("GetTime on a file object that is not a live clock"),
    };
    crate::kernel::host::virtual_now() - origin
}

/// KSCLOCK_FUNCTIONTABLE.GetCorrelatedTime of the simulator's clocks.
unsafe extern "system" fn clock_get_correlated_time(file: *mut FILE_OBJECT, system: *mut i64) -> i64 {
    // SAFETY: the caller passes a writable LONGLONG (or null).
    if let Some(system) = unsafe { system.as_mut() } {
        *system = crate::kernel::host::virtual_now();
    }
    // SAFETY: as for GetTime.
    unsafe { clock_get_time(file) }
}

/// The function table the simulator's clocks answer KSPROPERTY_CLOCK_FUNCTIONTABLE with.
pub static CLOCK_FUNCTIONS: KSCLOCK_FUNCTIONTABLE = KSCLOCK_FUNCTIONTABLE {
    GetTime: Some(clock_get_time),
    GetPhysicalTime: Some(clock_get_time),
    GetCorrelatedTime: Some(clock_get_correlated_time),
    GetCorrelatedPhysicalTime: Some(clock_get_correlated_time),
};

/// Another handle to the object behind `handle`, with `granted` access.
pub fn duplicate(handle: HANDLE, kernel: bool, granted: u32) -> Option<HANDLE> {
    let mut t = table();
    let object = t.handles.get(&(handle as usize))?.object;
    Some(duplicate_locked(&mut t, object, kernel, granted))
}

/// Fault injection: referencing `handle` fails with `status` from now on.
pub fn refuse(handle: HANDLE, status: NTSTATUS) {
    if let Some(h) = table().handles.get_mut(&(handle as usize)) {
        h.refuse = Some(status);
    }
}

/// ZwClose: a later lookup of `handle` is STATUS_INVALID_HANDLE; the object closes when
/// its last handle and reference are gone.
pub fn close(handle: HANDLE) {
    let closing = {
        let mut t = table();
        let Some(h) = t.handles.remove(&(handle as usize)) else { return };
        let o = t.objects.get_mut(&h.object).expect("live object");
        o.handles -= 1;
        (o.handles == 0 && o.references == 0).then(|| t.objects.remove(&h.object).expect("live object"))
    };
    finish(closing);
}

fn finish(closing: Option<Object>) {
    if let Some(Object { kind: Kind::Allocator(mut a), .. }) = closing {
        // SAFETY: the last handle and reference are gone: nothing else uses it.
        unsafe { a.close() };
    }
}

/// References currently held on the object behind `handle` (or at `address`).
pub fn references(address: usize) -> usize {
    table().objects.get(&address).map_or(0, |o| o.references)
}

/// References ever taken on the object at `address`.
pub fn total_references(address: usize) -> usize {
    table().objects.get(&address).map_or(0, |o| o.total_references)
}

/// Whether an object still lives at `address`.
pub fn is_live(address: usize) -> bool {
    table().objects.contains_key(&address)
}

/// The address of the object behind `handle`.
pub fn object_of(handle: HANDLE) -> Option<usize> {
    table().handles.get(&(handle as usize)).map(|h| h.object)
}

/// Runs `f` on the allocator object behind `handle`, if it is one.
pub fn with_allocator<R>(handle: HANDLE, f: impl FnOnce(&AllocatorObject) -> R) -> Option<R> {
    let t = table();
    let object = t.handles.get(&(handle as usize))?.object;
    match &t.objects.get(&object)?.kind {
        Kind::Allocator(a) => Some(f(a)),
        _ => None,
    }
}

/// Runs `f` on the allocator object at `address`, if one lives there.
pub fn with_allocator_at<R>(address: usize, f: impl FnOnce(&AllocatorObject) -> R) -> Option<R> {
    match &table().objects.get(&address)?.kind {
        Kind::Allocator(a) => Some(f(a)),
        _ => None,
    }
}

/// Blocks KS allocated itself (requestor frames, KS's default allocator) on this thread
/// and not yet freed. Per thread, as `PoolScope` is: the table is shared by the tests of
/// one binary, which run in parallel, each on its own thread.
pub fn own_blocks_outstanding() -> usize {
    let me = std::thread::current().id();
    table().own_blocks.values().filter(|(_, thread)| *thread == me).count()
}

/// The host's object manager.
pub struct HostObjects;

/// The one instance the simulator's pins use.
pub static HOST_OBJECTS: HostObjects = HostObjects;

impl ObjectManager for HostObjects {
    fn reference_file_by_handle(
        &self,
        handle: HANDLE,
        access: u32,
        mode: KPROCESSOR_MODE,
    ) -> Result<NonNull<c_void>, NTSTATUS> {
        let mut t = table();
        let h = t.handles.get(&(handle as usize)).ok_or(STATUS_INVALID_HANDLE)?;
        if mode == UserMode && h.kernel {
            return Err(STATUS_INVALID_HANDLE);
        }
        if let Some(status) = h.refuse {
            return Err(status);
        }
        let (object, granted) = (h.object, h.granted);
        let o = t.objects.get_mut(&object).expect("live object");
        if matches!(o.kind, Kind::Event(_)) {
            return Err(STATUS_OBJECT_TYPE_MISMATCH);
        }
        if mode == UserMode && access & !granted != 0 {
            return Err(STATUS_ACCESS_DENIED);
        }
        o.references += 1;
        o.total_references += 1;
        Ok(NonNull::new(object as *mut c_void).expect("non-null address"))
    }

    fn dereference(&self, object: NonNull<c_void>) {
        let closing = {
            let mut t = table();
            let address = object.as_ptr() as usize;
            let o = t.objects.get_mut(&address).expect("REFERENCE_BY_POINTER: dereference of a dead object");
            assert!(o.references > 0, "REFERENCE_BY_POINTER: dereferenced below zero");
            o.references -= 1;
            (o.handles == 0 && o.references == 0).then(|| t.objects.remove(&address).expect("live object"))
        };
        finish(closing);
    }

    fn property_get(
        &self,
        object: NonNull<c_void>,
        set: &GUID,
        id: u32,
        out: &mut [u8],
    ) -> Result<usize, NTSTATUS> {
        let t = table();
        match &t.objects.get(&(object.as_ptr() as usize)).ok_or(STATUS_INVALID_HANDLE)?.kind {
            Kind::Allocator(a) => a.property_get(set, id, out),
            Kind::Clock(_) if *set == KSPROPSETID_Clock && id == KSPROPERTY_CLOCK_FUNCTIONTABLE => {
                let size = core::mem::size_of::<KSCLOCK_FUNCTIONTABLE>();
                let out = out.get_mut(..size).ok_or(STATUS_BUFFER_TOO_SMALL)?;
                // SAFETY: `size` writable bytes.
                unsafe { core::ptr::write_unaligned(out.as_mut_ptr().cast(), CLOCK_FUNCTIONS) };
                Ok(size)
            }
            Kind::Clock(_) => Err(STATUS_NOT_FOUND),
            // A file object that is not a KS object has no IOCTL_KS_PROPERTY.
            _ => Err(STATUS_INVALID_DEVICE_REQUEST),
        }
    }

    fn allocate(&self, bytes: usize) -> PVOID {
        let Ok(layout) = Layout::from_size_align(bytes.max(1), 16) else { return core::ptr::null_mut() };
        // SAFETY: a non-zero size.
        let p = unsafe { std::alloc::alloc_zeroed(layout) };
        if !p.is_null() {
            table().own_blocks.insert(p as usize, (bytes.max(1), std::thread::current().id()));
        }
        p.cast()
    }

    fn free(&self, block: PVOID, bytes: usize) {
        let (size, _) =
            table().own_blocks.remove(&(block as usize)).expect("BAD_POOL_CALLER: free of a foreign block");
        assert_eq!(size, bytes.max(1), "freed with another size");
        // SAFETY: allocated above with this layout.
        unsafe { std::alloc::dealloc(block.cast(), Layout::from_size_align(size, 16).expect("layout")) };
    }
}
