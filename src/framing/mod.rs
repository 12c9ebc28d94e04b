//! The pin's allocator framing as a value, and the rule that resolves a pipe's framing.
//!
//! A [`Framing`] is what a pin needs from whoever allocates its frames: how many frames,
//! their size (from the pin's format: the image size), their alignment, the memory type
//! and the requirement flags. It converts to the two forms KS asks for,
//! KSALLOCATOR_FRAMING (KSPROPERTY_CONNECTION_ALLOCATORFRAMING) and a one-item
//! KSALLOCATOR_FRAMING_EX (KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX and
//! `KSPIN_DESCRIPTOR_EX.AllocatorFraming`).
//!
//! # The resolution rule
//!
//! KS does not document how KsProxy resolves framing across a pipe
//! (KsValidateAllocatorFramingEx is marked reserved). ksframe's rule, applied by
//! [`resolve`] to the upstream (output) pin's and the downstream (input) pin's
//! KSALLOCATOR_FRAMING_EX, is:
//!
//! 1. Framing items are tried in order, upstream item `i` against downstream item `j`
//!    for `i` then `j` ascending: the first compatible pair wins (items are listed in
//!    preference order).
//! 2. Memory types are compatible when equal or when either is KSMEMORY_TYPE_DONT_CARE
//!    (GUID_NULL); the resolved type is the specific one, non-paged kernel memory when
//!    both do not care. ksframe's allocator provides only non-paged kernel memory, so a
//!    resolved type other than KSMEMORY_TYPE_KERNEL_NONPAGED (or SYSTEM, which non-paged
//!    memory satisfies) is an incompatibility for it.
//! 3. The frame size lies inside both items' `FramingRange.Range`: the smallest size in
//!    the intersection `[max(Min), min(Max)]`; an empty intersection is an
//!    incompatibility. (`Stepping` is not applied: both ksframe pins declare exact sizes.)
//! 4. The alignment is the stricter one: the larger FileAlignment mask (masks are of the
//!    form 2^k − 1, so the larger is a multiple of the smaller).
//! 5. The frame count is the larger of the two (each side gets at least what it asked).
//! 6. The requirement flags are the union of both items' flags.
//! 7. The result must pass the allocator's own validation ([`Geometry::from_framing`]),
//!    else it is an incompatibility.

use crate::allocator::Geometry;
use crate::ks::{
    FILE_64_BYTE_ALIGNMENT, GUID, KS_COMPRESSION, KS_FRAMING_ITEM, KS_FRAMING_RANGE,
    KS_FRAMING_RANGE_WEIGHTED, KSALLOCATOR_FRAMING, KSALLOCATOR_FRAMING_EX,
    KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY, KSMEMORY_TYPE_DONT_CARE, KSMEMORY_TYPE_KERNEL_NONPAGED,
    KSMEMORY_TYPE_SYSTEM, NTSTATUS, NonPagedPoolNx,
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

    /// Whether ksframe's allocator could serve this framing; the same rules and status
    /// as InitializeAllocator (STATUS_INVALID_PARAMETER).
    pub fn validate(&self) -> Result<(), NTSTATUS> {
        Geometry::from_framing(&self.to_framing()).map(|_| ())
    }

    /// KSALLOCATOR_FRAMING, as CONNECTION_ALLOCATORFRAMING returns it.
    pub const fn to_framing(&self) -> KSALLOCATOR_FRAMING {
        KSALLOCATOR_FRAMING {
            OptionsFlags: self.requirements,
            PoolType: NonPagedPoolNx,
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

/// Why two framings cannot share an allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incompatible {
    /// A side has no framing item.
    NoItems,
    /// No item pair has compatible memory types.
    MemoryType,
    /// No item pair with compatible memory has overlapping size ranges.
    SizeRange,
    /// The combined framing fails the allocator's validation (e.g. zero frames).
    Invalid(NTSTATUS),
}

/// Memory types that ksframe's non-paged pool satisfies.
pub fn nonpaged_satisfies(memory_type: &GUID) -> bool {
    *memory_type == KSMEMORY_TYPE_KERNEL_NONPAGED || *memory_type == KSMEMORY_TYPE_SYSTEM
}

fn memory_type(a: &GUID, b: &GUID) -> Option<GUID> {
    match (*a == KSMEMORY_TYPE_DONT_CARE, *b == KSMEMORY_TYPE_DONT_CARE) {
        (true, true) => Some(KSMEMORY_TYPE_KERNEL_NONPAGED),
        (true, false) => Some(*b),
        (false, true) => Some(*a),
        (false, false) => (a == b).then_some(*a),
    }
}

/// The framing the pipe's allocator is initialised with, by the rule in the module docs:
/// the result (frames, a size inside both ranges, the stricter alignment, a memory type
/// both accept) and the item pair it came from, or why there is none.
pub fn resolve(
    upstream: &[KS_FRAMING_ITEM],
    downstream: &[KS_FRAMING_ITEM],
) -> Result<Resolved, Incompatible> {
    if upstream.is_empty() || downstream.is_empty() {
        return Err(Incompatible::NoItems);
    }
    let mut best = Incompatible::MemoryType;
    for (i, u) in upstream.iter().enumerate() {
        for (j, d) in downstream.iter().enumerate() {
            let Some(memory) = memory_type(&u.MemoryType, &d.MemoryType) else {
                continue;
            };
            let lo = u.FramingRange.Range.MinFrameSize.max(d.FramingRange.Range.MinFrameSize);
            let hi = u.FramingRange.Range.MaxFrameSize.min(d.FramingRange.Range.MaxFrameSize);
            if lo > hi {
                best = Incompatible::SizeRange;
                continue;
            }
            let framing = KSALLOCATOR_FRAMING {
                OptionsFlags: u.Flags | d.Flags,
                PoolType: NonPagedPoolNx,
                Frames: u.Frames.max(d.Frames),
                FrameSize: lo,
                FileAlignment: u.FileAlignment.max(d.FileAlignment),
                Reserved: 0,
            };
            if let Err(status) = Geometry::from_framing(&framing) {
                best = Incompatible::Invalid(status);
                continue;
            }
            return Ok(Resolved { framing, memory_type: memory, upstream_item: i, downstream_item: j });
        }
    }
    Err(best)
}

/// A resolved pipe framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// What InitializeAllocator receives.
    pub framing: KSALLOCATOR_FRAMING,
    /// The memory type the frames must be in.
    pub memory_type: GUID,
    /// Index of the upstream framing item used.
    pub upstream_item: usize,
    /// Index of the downstream framing item used.
    pub downstream_item: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ks::{KSMEMORY_TYPE_USER, STATUS_INVALID_PARAMETER};

    fn item(frames: u32, min: u32, max: u32, mask: u32, memory: GUID) -> KS_FRAMING_ITEM {
        let mut it = Framing::for_image(min, frames).to_framing_item();
        it.FramingRange.Range.MaxFrameSize = max;
        it.FileAlignment = mask;
        it.MemoryType = memory;
        it
    }

    #[test]
    fn image_framing_converts_to_both_forms() {
        let f = Framing::for_image(640 * 480 * 2, 4);
        assert_eq!(f.validate(), Ok(()));
        let k = f.to_framing();
        assert_eq!((k.Frames, k.FrameSize, k.FileAlignment, k.PoolType), (4, 614_400, 0x3F, NonPagedPoolNx));
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

    #[test]
    fn resolution_takes_the_stricter_of_each() {
        let u = [item(2, 100, 1000, 0xF, KSMEMORY_TYPE_DONT_CARE)];
        let d = [item(5, 300, 2000, 0x3F, KSMEMORY_TYPE_KERNEL_NONPAGED)];
        let r = resolve(&u, &d).unwrap();
        assert_eq!((r.framing.Frames, r.framing.FrameSize, r.framing.FileAlignment), (5, 300, 0x3F));
        assert_eq!(r.memory_type, KSMEMORY_TYPE_KERNEL_NONPAGED);
    }

    #[test]
    fn incompatibilities_are_named() {
        let nonpaged = [item(2, 100, 200, 0, KSMEMORY_TYPE_KERNEL_NONPAGED)];
        let user = [item(2, 100, 200, 0, KSMEMORY_TYPE_USER)];
        let big = [item(2, 300, 400, 0, KSMEMORY_TYPE_KERNEL_NONPAGED)];
        let zero = [item(0, 100, 200, 0, KSMEMORY_TYPE_KERNEL_NONPAGED)];
        assert_eq!(resolve(&nonpaged, &user), Err(Incompatible::MemoryType));
        assert_eq!(resolve(&nonpaged, &big), Err(Incompatible::SizeRange));
        assert_eq!(resolve(&zero, &zero), Err(Incompatible::Invalid(STATUS_INVALID_PARAMETER)));
        assert_eq!(resolve(&[], &big), Err(Incompatible::NoItems));
        // A later item pair can rescue an earlier mismatch.
        let two = [user[0], nonpaged[0]];
        let r = resolve(&two, &nonpaged).unwrap();
        assert_eq!((r.upstream_item, r.downstream_item), (1, 0));
    }
}
