//! The Kernel Streaming ABI: `repr(C)` mirrors of the ks.h / ksmedia.h / wdm.h types,
//! constants, GUIDs and callback types the driver uses. No logic.
//!
//! Types and fields keep their header names (`KSALLOCATOR_FRAMING_EX.FramingItem`,
//! `KSPIN_DISPATCH.Allocator`), so code reads like the WDK documentation. Every struct's
//! x64 size and alignment, and the offsets the driver depends on, are pinned by
//! compile-time assertions here; `tests/abi_layout.rs` compares every field offset with
//! the table that `tests/abi/probe.c` extracts from mingw-w64's headers, and
//! `tests/windows_sys.rs` compares with the `windows-sys` crate.
//!
//! C anonymous unions are mirrored as follows: a union that only forces 8-byte alignment
//! (`KSIDENTIFIER`, `KSDATAFORMAT`) becomes `#[repr(C, align(8))]`; a union of a handler
//! and a `BOOLEAN` (`KSPROPERTY_ITEM.GetPropertyHandler` / `GetSupported`) keeps the
//! handler member, since ksframe's tables always name handlers; other unions become Rust
//! `union`s under the header's member names.

#![allow(
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    clippy::upper_case_acronyms,
    missing_docs
)]

mod avstream;
mod base;
mod guids;
mod property;
mod stream;
mod video;
mod wdm;

pub use avstream::*;
pub use base::*;
pub use guids::*;
pub use property::*;
pub use stream::*;
pub use video::*;
pub use wdm::*;

/// Marks descriptor and table types as shareable between threads, so that they can be
/// `static`s, as AVStream expects them to be.
macro_rules! static_tables {
    ($($t:ty),* $(,)?) => {
        $(
            // SAFETY: these are the read-only tables AVStream reads by pointer (descriptors,
            // dispatch and automation tables). ksframe only builds them as immutable
            // statics; their pointers lead to other immutable statics, and neither Rust
            // nor KS writes through them, so sharing them across threads is sound.
            unsafe impl Sync for $t {}
        )*
    };
}

static_tables!(
    KSDEVICE_DESCRIPTOR,
    KSFILTER_DESCRIPTOR,
    KSPIN_DESCRIPTOR,
    KSPIN_DESCRIPTOR_EX,
    KSPIN_DISPATCH,
    KSNODE_DESCRIPTOR,
    KSAUTOMATION_TABLE,
    KSPROPERTY_SET,
    KSPROPERTY_ITEM,
    KSPROPERTY_VALUES,
    KSPROPERTY_MEMBERSLIST,
    KSMETHOD_SET,
    KSEVENT_SET,
);

/// `size_of` / `align_of` assertions for x64, evaluated at compile time.
macro_rules! assert_layout {
    ($($t:ty => $size:expr, $align:expr;)*) => {
        $(
            #[cfg(target_pointer_width = "64")]
            const _: () = assert!(
                core::mem::size_of::<$t>() == $size && core::mem::align_of::<$t>() == $align
            );
        )*
    };
}
pub(crate) use assert_layout;

/// `offset_of!` assertions for x64, evaluated at compile time.
macro_rules! assert_offsets {
    ($t:ty { $($field:tt).+ => $off:expr $(, $($rest:tt).+ => $roff:expr)* $(,)? }) => {
        #[cfg(target_pointer_width = "64")]
        const _: () = assert!(core::mem::offset_of!($t, $($field).+) == $off);
        $(
            #[cfg(target_pointer_width = "64")]
            const _: () = assert!(core::mem::offset_of!($t, $($rest).+) == $roff);
        )*
    };
}
pub(crate) use assert_offsets;
