//! The framing resolution rule over random pairs of framings: a result lies inside both
//! (size in both ranges, the stricter alignment, enough frames, a memory type both
//! accept), and an incompatibility is real (no pair could have satisfied both).

use ksframe::allocator::Geometry;
use ksframe::framing::{Framing, Incompatible, resolve};
use ksframe::ks::*;
use proptest::prelude::*;

const MEMORY: [GUID; 4] =
    [KSMEMORY_TYPE_DONT_CARE, KSMEMORY_TYPE_KERNEL_NONPAGED, KSMEMORY_TYPE_KERNEL_PAGED, KSMEMORY_TYPE_USER];

fn item() -> impl Strategy<Value = KS_FRAMING_ITEM> {
    (0u32..6, 1u32..5000, 0u32..5000, 0u32..13, 0usize..4, any::<u32>()).prop_map(
        |(frames, min, span, k, memory, flags)| {
            let mut it = Framing::for_image(min, frames).to_framing_item();
            it.FramingRange.Range.MaxFrameSize = min.saturating_add(span);
            it.FileAlignment = (1u32 << k) - 1;
            it.MemoryType = MEMORY[memory];
            it.Flags = flags & 0xF;
            it
        },
    )
}

fn compatible_memory(a: &GUID, b: &GUID) -> bool {
    a == b || *a == KSMEMORY_TYPE_DONT_CARE || *b == KSMEMORY_TYPE_DONT_CARE
}

fn overlap(a: &KS_FRAMING_ITEM, b: &KS_FRAMING_ITEM) -> bool {
    a.FramingRange.Range.MinFrameSize.max(b.FramingRange.Range.MinFrameSize)
        <= a.FramingRange.Range.MaxFrameSize.min(b.FramingRange.Range.MaxFrameSize)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn resolution_lies_inside_both_or_the_incompatibility_is_real(
        up in proptest::collection::vec(item(), 0..3),
        down in proptest::collection::vec(item(), 0..3),
    ) {
        match resolve(&up, &down) {
            Ok(r) => {
                let (u, d) = (&up[r.upstream_item], &down[r.downstream_item]);
                let f = r.framing;
                for it in [u, d] {
                    prop_assert!(it.FramingRange.Range.MinFrameSize <= f.FrameSize);
                    prop_assert!(f.FrameSize <= it.FramingRange.Range.MaxFrameSize);
                    prop_assert!(f.FileAlignment >= it.FileAlignment);
                    prop_assert_eq!(f.FileAlignment & it.FileAlignment, it.FileAlignment, "stricter alignment is a multiple");
                    prop_assert!(f.Frames >= it.Frames);
                    prop_assert!(compatible_memory(&it.MemoryType, &r.memory_type) && r.memory_type != KSMEMORY_TYPE_DONT_CARE);
                    prop_assert_eq!(f.OptionsFlags & it.Flags, it.Flags);
                }
                // The smallest size both accept, and one the allocator accepts.
                prop_assert_eq!(f.FrameSize, u.FramingRange.Range.MinFrameSize.max(d.FramingRange.Range.MinFrameSize));
                prop_assert!(Geometry::from_framing(&f).is_ok());
                // Earlier pairs were all unusable.
                for (i, a) in up.iter().enumerate() {
                    for (j, b) in down.iter().enumerate() {
                        if (i, j) < (r.upstream_item, r.downstream_item) {
                            let usable = compatible_memory(&a.MemoryType, &b.MemoryType) && overlap(a, b) && a.Frames.max(b.Frames) > 0;
                            prop_assert!(!usable, "pair ({}, {}) was usable but skipped", i, j);
                        }
                    }
                }
            }
            Err(Incompatible::NoItems) => prop_assert!(up.is_empty() || down.is_empty()),
            Err(why) => {
                // No pair satisfies memory, range and a valid frame count at once.
                for a in &up {
                    for b in &down {
                        let usable = compatible_memory(&a.MemoryType, &b.MemoryType) && overlap(a, b) && a.Frames.max(b.Frames) > 0;
                        prop_assert!(!usable, "{:?} reported, but {:?} / {:?} fit", why, a, b);
                    }
                }
                if why == Incompatible::MemoryType {
                    prop_assert!(up.iter().all(|a| down.iter().all(|b| !compatible_memory(&a.MemoryType, &b.MemoryType))));
                }
            }
        }
    }
}
