//! The requestor of an IRP-source pin: where the frames it sends come from.
//!
//! When a pin is the IRP source of a kernel-to-kernel connection (the pin that was
//! created with the connection to the other pin, its KSPIN_COMMUNICATION_SOURCE side),
//! AVStream's requestor fills the pipe with frames: through the assigned allocator's
//! function table (AllocateFrame / FreeFrame, from KSPROPERTY_STREAM_ALLOCATOR Set) when
//! one is assigned, otherwise from memory it allocates itself, sized from
//! `Descriptor->AllocatorFraming->FramingItem[0]` (KS-NOTES, "How AVStream calls the
//! driver"). The frame size is the framing range's MaxFrameSize, or MinFrameSize when
//! the range is open-ended (inferred; ksframe's items are exact sizes).

use super::avstream::PinObject;
use crate::ks::*;

/// Where a frame came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameSource {
    /// The assigned allocator's AllocateFrame.
    Allocator,
    /// The requestor's own allocation.
    Own,
}

/// A frame the requestor holds.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    /// The frame's memory.
    pub data: PVOID,
    /// Its size (the stream header's FrameExtent).
    pub extent: u32,
    /// Where it came from, and so where it goes back.
    pub source: FrameSource,
}

/// The frame size the requestor uses for `pin`.
pub fn frame_extent(pin: &PinObject) -> u32 {
    // SAFETY: the descriptor's framing is null or a valid KSALLOCATOR_FRAMING_EX.
    let Some(framing) = (unsafe { pin.descriptor().AllocatorFraming.as_ref() }) else {
        return 0;
    };
    let range = framing.FramingItem[0].FramingRange.Range;
    if range.MaxFrameSize == 0 || range.MaxFrameSize == u32::MAX {
        range.MinFrameSize
    } else {
        range.MaxFrameSize
    }
}

/// How many frames the requestor keeps in the pipe: the frame count of
/// `Descriptor->AllocatorFraming->FramingItem[0]`, at least one (inferred, as the frame
/// size is: KS-NOTES says the requestor sizes its frames from that item).
pub fn frames_in_flight(pin: &PinObject) -> usize {
    // SAFETY: the descriptor's framing is null or a valid KSALLOCATOR_FRAMING_EX.
    let frames = unsafe { pin.descriptor().AllocatorFraming.as_ref() }.map_or(1, |f| f.FramingItem[0].Frames);
    (frames as usize).max(1)
}

/// Takes a frame for `pin`'s next IRP (None when the allocator has none left).
pub fn take(pin: &PinObject) -> Option<Frame> {
    let extent = frame_extent(pin);
    match pin.assigned_allocator() {
        Some((file, table)) => {
            let allocate = table.AllocateFrame?;
            let mut data: PVOID = core::ptr::null_mut();
            // SAFETY: a referenced allocator file object and its own function table.
            let status = unsafe { allocate(file, &mut data) };
            (NT_SUCCESS(status) && !data.is_null()).then_some(Frame {
                data,
                extent,
                source: FrameSource::Allocator,
            })
        }
        None => {
            let data = pin.objects.allocate(extent as usize);
            (!data.is_null()).then_some(Frame { data, extent, source: FrameSource::Own })
        }
    }
}

/// Returns a frame where it came from (the IRP completed back to the requestor).
///
/// A frame from an allocator goes back through the allocator the pin holds now: the
/// model does not reassign allocators with frames in flight (STREAM_ALLOCATOR Set is
/// refused outside KSSTATE_STOP, and frames only move in PAUSE and RUN).
pub fn give_back(pin: &PinObject, frame: Frame) {
    match frame.source {
        FrameSource::Allocator => {
            if let Some((file, table)) = pin.assigned_allocator()
                && let Some(free) = table.FreeFrame
            {
                // SAFETY: a frame of this allocator, returned once.
                unsafe { free(file, frame.data) };
            }
        }
        FrameSource::Own => pin.objects.free(frame.data, frame.extent as usize),
    }
}
