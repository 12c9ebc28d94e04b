//! The pin's allocator framing as a value, in the two forms KS asks for.
//!
//! A [`Framing`] is what a pin needs from whoever allocates its frames: how many frames,
//! their size (from the pin's format: the image size), their alignment, the memory type
//! and the requirement flags. It converts to the two forms KS asks for,
//! KSALLOCATOR_FRAMING (KSPROPERTY_CONNECTION_ALLOCATORFRAMING) and a one-item
//! KSALLOCATOR_FRAMING_EX (KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX and
//! `KSPIN_DESCRIPTOR_EX.AllocatorFraming`).
//!
//! How a pipe's allocator is chosen is not the pin's business: KsProxy (or another
//! client) reads both pins' framing, creates an allocator on a pin with
//! KsCreateAllocator and the framing it decided, and assigns it to the IRP source with
//! KSPROPERTY_STREAM_ALLOCATOR. The pin only advertises what it needs, here.
//!
//! `PoolType` is NonPagedPool (0): the KSALLOCATOR_FRAMING counterpart of
//! KSMEMORY_TYPE_KERNEL_NONPAGED; KS's default allocator and AVStream's requestor only
//! tell 0 from PagedPool (1) (KS-NOTES).

use crate::ks::{
    FILE_64_BYTE_ALIGNMENT, GUID, KS_COMPRESSION, KS_FRAMING_ITEM, KS_FRAMING_RANGE,
    KS_FRAMING_RANGE_WEIGHTED, KSALLOCATOR_FRAMING, KSALLOCATOR_FRAMING_EX,
    KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY, KSMEMORY_TYPE_DONT_CARE, KSMEMORY_TYPE_KERNEL_NONPAGED, NTSTATUS,
    NonPagedPool, STATUS_INVALID_PARAMETER,
};

/// A pin's framing requirements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framing {
    /// Frames the pin wants in flight.
    pub frames: u32,
    /// Bytes per frame.
    pub frame_size: u32,
    /// Alignment mask (alignment − 1, a FILE_*_ALIGNMENT value).
    pub alignment_mask: u32,
    /// KSMEMORY_TYPE_* the frames must be in.
    pub memory_type: GUID,
    /// KSALLOCATOR_REQUIREMENTF_* flags.
    pub requirements: u32,
}

impl Framing {
    /// The framing of a pin streaming images of `image_size` bytes with `frames` in
    /// flight: non-paged kernel memory, 64-byte alignment (cache lines, as capture
    /// hardware and SIMD pattern code like), system memory required.
    pub const fn for_image(image_size: u32, frames: u32) -> Self {
        Self {
            frames,
            frame_size: image_size,
            alignment_mask: FILE_64_BYTE_ALIGNMENT,
            memory_type: KSMEMORY_TYPE_KERNEL_NONPAGED,
            requirements: KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY,
        }
    }

    /// Whether the framing is one a pin may advertise: at least one frame of at least
    /// one byte, an alignment mask of the form 2^k − 1 no larger than a page
    /// (KSALLOCATOR_FRAMING docs; ReactOS refuses FileAlignment above PAGE_SIZE − 1).
    /// STATUS_INVALID_PARAMETER otherwise.
    pub fn validate(&self) -> Result<(), NTSTATUS> {
        let alignment = self
            .alignment_mask
            .checked_add(1)
            .filter(|a| a.is_power_of_two() && *a as usize <= crate::kernel::PAGE_SIZE);
        if self.frames == 0 || self.frame_size == 0 || alignment.is_none() {
            return Err(STATUS_INVALID_PARAMETER);
        }
        Ok(())
    }

    /// KSALLOCATOR_FRAMING, as CONNECTION_ALLOCATORFRAMING returns it.
    pub const fn to_framing(&self) -> KSALLOCATOR_FRAMING {
        KSALLOCATOR_FRAMING {
            OptionsFlags: self.requirements,
            PoolType: NonPagedPool,
            Frames: self.frames,
            FrameSize: self.frame_size,
            FileAlignment: self.alignment_mask,
            Reserved: 0,
        }
    }

    /// The single framing item describing this framing (an exact size range).
    pub const fn to_framing_item(&self) -> KS_FRAMING_ITEM {
        KS_FRAMING_ITEM {
            MemoryType: self.memory_type,
            BusType: KSMEMORY_TYPE_DONT_CARE,
            MemoryFlags: 0,
            BusFlags: 0,
            Flags: self.requirements,
            Frames: self.frames,
            FileAlignment: self.alignment_mask,
            MemoryTypeWeight: 0,
            PhysicalRange: KS_FRAMING_RANGE { MinFrameSize: 0, MaxFrameSize: u32::MAX, Stepping: 1 },
            FramingRange: KS_FRAMING_RANGE_WEIGHTED {
                Range: KS_FRAMING_RANGE {
                    MinFrameSize: self.frame_size,
                    MaxFrameSize: self.frame_size,
                    Stepping: 1,
                },
                InPlaceWeight: 0,
                NotInPlaceWeight: 0,
            },
        }
    }

    /// A one-item KSALLOCATOR_FRAMING_EX (24 + 88 bytes).
    pub const fn to_framing_ex(&self) -> KSALLOCATOR_FRAMING_EX {
        KSALLOCATOR_FRAMING_EX {
            CountItems: 1,
            PinFlags: 0,
            OutputCompression: KS_COMPRESSION {
                RatioNumerator: 1,
                RatioDenominator: 1,
                RatioConstantMargin: 0,
            },
            PinWeight: 0,
            FramingItem: [self.to_framing_item()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ks::STATUS_INVALID_PARAMETER;

    #[test]
    fn image_framing_converts_to_both_forms() {
        let f = Framing::for_image(640 * 480 * 2, 4);
        assert_eq!(f.validate(), Ok(()));
        let k = f.to_framing();
        assert_eq!((k.Frames, k.FrameSize, k.FileAlignment, k.PoolType), (4, 614_400, 0x3F, NonPagedPool));
        let ex = f.to_framing_ex();
        assert_eq!(ex.CountItems, 1);
        let it = ex.FramingItem[0];
        assert_eq!(
            (it.Frames, it.FramingRange.Range.MinFrameSize, it.FramingRange.Range.MaxFrameSize),
            (4, 614_400, 614_400)
        );
        assert_eq!(it.MemoryType, KSMEMORY_TYPE_KERNEL_NONPAGED);
        assert_eq!(Framing::for_image(0, 4).validate(), Err(STATUS_INVALID_PARAMETER));
    }

    /// The alignment must be a power of two *and* at most a page: each half alone is not
    /// enough (KSALLOCATOR_FRAMING docs: FileAlignment is a FILE_*_ALIGNMENT value;
    /// ReactOS refuses FileAlignment above PAGE_SIZE − 1).
    #[test]
    fn validate_wants_a_power_of_two_alignment_no_larger_than_a_page() {
        let with_mask = |alignment_mask| Framing { alignment_mask, ..Framing::for_image(4096, 2) };
        let page = crate::kernel::PAGE_SIZE as u32;
        for mask in [0, 1, 0x3F, page - 1] {
            assert_eq!(with_mask(mask).validate(), Ok(()), "mask {mask:#x}");
        }
        // A power of two above a page; a page-sized non-power of two; a small one; and
        // u32::MAX, whose alignment overflows.
        for mask in [2 * page - 1, page - 2, 2, u32::MAX] {
            assert_eq!(with_mask(mask).validate(), Err(STATUS_INVALID_PARAMETER), "mask {mask:#x}");
        }
        assert_eq!(Framing::for_image(4096, 0).validate(), Err(STATUS_INVALID_PARAMETER));
    }
}
