//! The model of Windows that judges the driver: Kernel Streaming and AVStream as the
//! shipped ks.sys behaves, one layer per module, each rule beside its source.
//!
//! It drives the driver only through the KS ABI (descriptors, dispatch tables, property
//! items, KSALLOCATOR_DISPATCH), as ks.sys does, and uses none of the driver's own rules
//! or helpers: it imports nothing of ksframe but [`crate::ks`] (the ABI both sides are
//! written against). The driver never imports it (`tests/structure.rs` checks both).
//!
//! - [`property`]: KsPropertyHandler (validation order, statuses, BASICSUPPORT without a
//!   SupportHandler) and the automation-table merge (the minidriver's item wins whole);
//! - [`avstream`]: a pin as AVStream holds it ([`avstream::PinObject`]), AVStream's own
//!   pin property items (Connection STATE, DATAFORMAT, ALLOCATORFRAMING_EX; Stream
//!   ALLOCATOR, MASTERCLOCK, PIPE_ID), the state walk and when Process may run;
//! - [`allocator`]: allocator creation on a pin (KsCreateAllocator → the pin's allocator
//!   create item → KsCreateDefaultAllocatorEx → InitializeAllocator with the client's
//!   framing; DeleteAllocator on close) and the allocator file object's function table;
//! - [`requestor`]: the requestor of an IRP-source pin, taking frames through the
//!   assigned allocator's function table, or allocating them itself;
//! - [`intersect`]: the data-intersection walk over a pin's ranges.
//!
//! It is `no_std`: the host simulator (`src/sim`) and the Wine stand-in ks.sys
//! (`tests/standin-ks`) both run it, each supplying an [`ObjectManager`] (handles,
//! object references, I/O to a file object, pool).

pub mod allocator;
pub mod avstream;
pub mod intersect;
pub mod property;
pub mod requestor;

use crate::ks::{GUID, HANDLE, KPROCESSOR_MODE, NTSTATUS, PVOID};
use core::ffi::c_void;
use core::ptr::NonNull;

/// The parts of the object manager, the I/O manager and the pool the model needs, as the
/// environment (host simulator or Wine stand-in) provides them.
pub trait ObjectManager: Sync {
    /// `ObReferenceObjectByHandle(handle, access, *IoFileObjectType, mode, &object,
    /// NULL)`: a referenced file object, or the Ob status (STATUS_INVALID_HANDLE for a
    /// stale or forged handle or a kernel handle from user mode,
    /// STATUS_OBJECT_TYPE_MISMATCH for another object type, STATUS_ACCESS_DENIED when a
    /// UserMode requestor's handle lacks `access`). Docs: ObReferenceObjectByHandle.
    fn reference_file_by_handle(
        &self,
        handle: HANDLE,
        access: u32,
        mode: KPROCESSOR_MODE,
    ) -> Result<NonNull<c_void>, NTSTATUS>;

    /// `ObDereferenceObject`.
    fn dereference(&self, object: NonNull<c_void>);

    /// `KsSynchronousIoControlDevice(object, KernelMode, IOCTL_KS_PROPERTY, {set, id,
    /// KSPROPERTY_TYPE_GET}, ..., out, ...)`: the bytes returned, or the failure.
    fn property_get(
        &self,
        object: NonNull<c_void>,
        set: &GUID,
        id: u32,
        out: &mut [u8],
    ) -> Result<usize, NTSTATUS>;

    /// Non-paged pool for frames KS allocates itself (null when exhausted).
    fn allocate(&self, bytes: usize) -> PVOID;

    /// Frees what [`ObjectManager::allocate`] returned.
    fn free(&self, block: PVOID, bytes: usize);
}
