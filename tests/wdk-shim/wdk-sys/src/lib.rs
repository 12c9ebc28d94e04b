//! Shim of wdk-sys 0.5.2's API surface used by ksframe (see ../../README.md): the real
//! proc-macro behind `call_unsafe_wdf_function_binding!`, the types of `types.rs`, the
//! hand-written constants of wdk-sys's `constants.rs`, and the `ntddk` functions the
//! driver calls.

#![no_std]
#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals, missing_docs)]

pub use wdk_macros as __proc_macros;

mod types;
pub use types::*;

mod macros {
    include!(concat!(env!("OUT_DIR"), "/call_unsafe_wdf_function_binding.rs"));
}

// wdk-sys 0.5.2 src/constants.rs (hand-written there too: bindgen cannot translate them).
pub const WDF_NO_OBJECT_ATTRIBUTES: PWDF_OBJECT_ATTRIBUTES = core::ptr::null_mut();
pub const WDF_NO_HANDLE: PVOID = core::ptr::null_mut();
/// wdm.h `POOL_FLAG_NON_PAGED` (wdk-sys constants.rs).
pub const POOL_FLAG_NON_PAGED: POOL_FLAGS = 0x0000_0000_0000_0040;

/// wdk-sys's `ntddk` module: functions of ntddk.h / wdm.h.
pub mod ntddk {
    use crate::types::{POOL_FLAGS, PVOID, SIZE_T, ULONG};
    unsafe extern "C" {
        /// wdm.h (Windows 10 2004+).
        pub fn ExAllocatePool2(Flags: POOL_FLAGS, NumberOfBytes: SIZE_T, Tag: ULONG) -> PVOID;
        /// wdm.h.
        pub fn ExFreePoolWithTag(P: PVOID, Tag: ULONG);
    }
}

/// wdk-sys's `wdf` module: the function count the proc-macro's code reads.
pub mod wdf {
    /// wdk-sys 0.5.2 `__private` (generated `wdf_function_count.rs`): KMDF 1.25 and later
    /// export `WdfFunctionCount`.
    #[doc(hidden)]
    pub mod __private {
        #[allow(clippy::must_use_candidate)]
        pub fn get_wdf_function_count() -> usize {
            // SAFETY: as wdk-sys: generated as a mutable static, never mutated by WDF.
            (unsafe { crate::WdfFunctionCount }) as usize
        }
    }
}
