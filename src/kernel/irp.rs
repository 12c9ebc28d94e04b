//! The IRP fields the property path reads and writes.
//!
//! The layout is the WDM one (declared in [`crate::ks`], checked against mingw-w64's
//! wdm.h), identical in all three builds, so this file has no backend.
//!
//! # Kernel contract
//!
//! An [`Irp`] borrows an IRP that the I/O manager (or KS) owns, for the duration of the
//! dispatch or handler call that received it; it never completes the IRP. A KS property
//! handler runs at PASSIVE_LEVEL in the requestor's context.

use crate::ks::{IO_STACK_LOCATION, IRP, KPROCESSOR_MODE, NTSTATUS, ULONG_PTR};
use core::marker::PhantomData;
use core::ptr::{NonNull, addr_of, addr_of_mut};

/// A borrowed IRP with a current stack location.
///
/// # Invariants
///
/// `irp` points to a valid IRP for `'a`, nobody else writes the fields this type
/// touches during `'a`, and its `Tail.Overlay.CurrentStackLocation` points to a valid
/// IO_STACK_LOCATION.
#[derive(Debug)]
pub struct Irp<'a> {
    irp: NonNull<IRP>,
    _borrow: PhantomData<&'a mut IRP>,
}

impl<'a> Irp<'a> {
    /// Wraps a raw IRP pointer as KS passes it to a handler; null gives `None`.
    ///
    /// # Safety
    ///
    /// A non-null `irp` must be a valid IRP, with a valid current stack location, that
    /// the caller may read and update (IoStatus) for `'a`, as it may in a KS handler.
    pub unsafe fn from_raw(irp: *mut IRP) -> Option<Self> {
        // INVARIANT: the caller's contract.
        NonNull::new(irp).map(|irp| Self { irp, _borrow: PhantomData })
    }

    /// The raw pointer, to hand back to the kernel.
    pub fn as_ptr(&self) -> *mut IRP {
        self.irp.as_ptr()
    }

    fn stack(&self) -> *const IO_STACK_LOCATION {
        // SAFETY: by the invariants the IRP is valid; reading a pointer-sized union
        // member of Tail.Overlay is how IoGetCurrentIrpStackLocation is defined.
        unsafe { addr_of!((*self.irp.as_ptr()).Tail.Overlay.CurrentStackLocation).read() }
    }

    /// `Irp->RequestorMode`: KernelMode or UserMode, the mode whose handles and
    /// buffers the request carries.
    pub fn requestor_mode(&self) -> KPROCESSOR_MODE {
        // SAFETY: the IRP is valid (invariants); a plain field read.
        unsafe { addr_of!((*self.irp.as_ptr()).RequestorMode).read() }
    }

    /// `Parameters.DeviceIoControl.OutputBufferLength` of the current stack location.
    pub fn output_buffer_length(&self) -> u32 {
        // SAFETY: the stack location is valid (invariants); DeviceIoControl is the
        // union member that IOCTL_KS_PROPERTY IRPs use.
        unsafe { addr_of!((*self.stack()).Parameters.DeviceIoControl.OutputBufferLength).read() }
    }

    /// `Parameters.DeviceIoControl.InputBufferLength` of the current stack location.
    pub fn input_buffer_length(&self) -> u32 {
        // SAFETY: as in output_buffer_length.
        unsafe { addr_of!((*self.stack()).Parameters.DeviceIoControl.InputBufferLength).read().0 }
    }

    /// `Irp->IoStatus.Information`.
    pub fn information(&self) -> ULONG_PTR {
        // SAFETY: the IRP is valid (invariants); a plain field read.
        unsafe { addr_of!((*self.irp.as_ptr()).IoStatus.Information).read() }
    }

    /// Sets `Irp->IoStatus.Information` (bytes returned, or the size a caller needs).
    pub fn set_information(&mut self, information: ULONG_PTR) {
        // SAFETY: the IRP is valid and we may update IoStatus (invariants).
        unsafe { addr_of_mut!((*self.irp.as_ptr()).IoStatus.Information).write(information) }
    }

    /// `Irp->IoStatus.Status`.
    pub fn status(&self) -> NTSTATUS {
        // SAFETY: the IRP is valid (invariants); a plain field read.
        unsafe { addr_of!((*self.irp.as_ptr()).IoStatus.Status).read() }
    }

    /// Sets `Irp->IoStatus.Status`.
    pub fn set_status(&mut self, status: NTSTATUS) {
        // SAFETY: the IRP is valid and we may update IoStatus (invariants).
        unsafe { addr_of_mut!((*self.irp.as_ptr()).IoStatus.Status).write(status) }
    }
}
