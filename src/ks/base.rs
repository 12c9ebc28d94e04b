//! Base Windows types, GUID, NTSTATUS values.

use core::ffi::c_void;

pub type NTSTATUS = i32;
pub type ULONG = u32;
pub type LONG = i32;
pub type USHORT = u16;
pub type UCHAR = u8;
pub type BOOLEAN = u8;
pub type LONGLONG = i64;
pub type ULONGLONG = u64;
pub type ULONG_PTR = usize;
pub type PVOID = *mut c_void;
pub type HANDLE = *mut c_void;
pub type REFERENCE_TIME = i64;
/// `KPROCESSOR_MODE` (`CCHAR`): [`KernelMode`] or [`UserMode`].
pub type KPROCESSOR_MODE = i8;
pub const KernelMode: KPROCESSOR_MODE = 0;
pub const UserMode: KPROCESSOR_MODE = 1;
/// `POOL_TYPE`.
pub type POOL_TYPE = i32;
pub const NonPagedPool: POOL_TYPE = 0;
pub const PagedPool: POOL_TYPE = 1;
pub const NonPagedPoolNx: POOL_TYPE = 512;

/// `GUID`. [`GUID::from_u128`] takes the text form's digits in order:
/// `GUID::from_u128(0x1D58C920_AC9B_11CF_A5D6_28DB04C10000)`.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct GUID {
    pub Data1: u32,
    pub Data2: u16,
    pub Data3: u16,
    pub Data4: [u8; 8],
}

impl GUID {
    /// The GUID whose registry form is the hexadecimal digits of `v`, in order.
    pub const fn from_u128(v: u128) -> Self {
        Self {
            Data1: (v >> 96) as u32,
            Data2: (v >> 80) as u16,
            Data3: (v >> 64) as u16,
            Data4: (v as u64).to_be_bytes(),
        }
    }
}

impl core::fmt::Display for GUID {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let d = &self.Data4;
        write!(
            f,
            "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
            self.Data1, self.Data2, self.Data3, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
        )
    }
}

pub const GUID_NULL: GUID = GUID::from_u128(0);

/// `NT_SUCCESS(Status)`: success and informational values.
pub const fn NT_SUCCESS(status: NTSTATUS) -> bool {
    status >= 0
}

pub const STATUS_SUCCESS: NTSTATUS = 0;
pub const STATUS_PENDING: NTSTATUS = 0x0000_0103;
/// ReactOS's KsPropertyHandler returns it where ks.sys returns STATUS_BUFFER_TOO_SMALL.
pub const STATUS_MORE_ENTRIES: NTSTATUS = 0x0000_0105;
pub const STATUS_BUFFER_OVERFLOW: NTSTATUS = 0x8000_0005_u32 as i32;
pub const STATUS_UNSUCCESSFUL: NTSTATUS = 0xC000_0001_u32 as i32;
pub const STATUS_NOT_IMPLEMENTED: NTSTATUS = 0xC000_0002_u32 as i32;
pub const STATUS_INVALID_HANDLE: NTSTATUS = 0xC000_0008_u32 as i32;
pub const STATUS_INVALID_PARAMETER: NTSTATUS = 0xC000_000D_u32 as i32;
pub const STATUS_INVALID_DEVICE_REQUEST: NTSTATUS = 0xC000_0010_u32 as i32;
pub const STATUS_ACCESS_DENIED: NTSTATUS = 0xC000_0022_u32 as i32;
pub const STATUS_BUFFER_TOO_SMALL: NTSTATUS = 0xC000_0023_u32 as i32;
pub const STATUS_OBJECT_TYPE_MISMATCH: NTSTATUS = 0xC000_0024_u32 as i32;
pub const STATUS_INSUFFICIENT_RESOURCES: NTSTATUS = 0xC000_009A_u32 as i32;
pub const STATUS_DEVICE_NOT_READY: NTSTATUS = 0xC000_00A3_u32 as i32;
pub const STATUS_NOT_SUPPORTED: NTSTATUS = 0xC000_00BB_u32 as i32;
pub const STATUS_INVALID_DEVICE_STATE: NTSTATUS = 0xC000_0184_u32 as i32;
pub const STATUS_MORE_PROCESSING_REQUIRED: NTSTATUS = 0xC000_0016_u32 as i32;
pub const STATUS_INVALID_BUFFER_SIZE: NTSTATUS = 0xC000_0206_u32 as i32;
pub const STATUS_NOT_FOUND: NTSTATUS = 0xC000_0225_u32 as i32;
pub const STATUS_PROPSET_NOT_FOUND: NTSTATUS = 0xC000_0230_u32 as i32;
pub const STATUS_NO_MATCH: NTSTATUS = 0xC000_0272_u32 as i32;

/// `FILE_*_ALIGNMENT` (wdm.h): alignment − 1, the form `FileAlignment` takes.
/// winnt.h access rights (ACCESS_MASK bits).
pub const FILE_READ_DATA: u32 = 0x0000_0001;
pub const FILE_WRITE_DATA: u32 = 0x0000_0002;
pub const SYNCHRONIZE: u32 = 0x0010_0000;
pub const GENERIC_READ: u32 = 0x8000_0000;

pub const FILE_BYTE_ALIGNMENT: u32 = 0x0000_0000;
pub const FILE_WORD_ALIGNMENT: u32 = 0x0000_0001;
pub const FILE_LONG_ALIGNMENT: u32 = 0x0000_0003;
pub const FILE_QUAD_ALIGNMENT: u32 = 0x0000_0007;
pub const FILE_OCTA_ALIGNMENT: u32 = 0x0000_000f;
pub const FILE_32_BYTE_ALIGNMENT: u32 = 0x0000_001f;
pub const FILE_64_BYTE_ALIGNMENT: u32 = 0x0000_003f;
pub const FILE_128_BYTE_ALIGNMENT: u32 = 0x0000_007f;
pub const FILE_256_BYTE_ALIGNMENT: u32 = 0x0000_00ff;
pub const FILE_512_BYTE_ALIGNMENT: u32 = 0x0000_01ff;

/// `RECT` (windef.h).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RECT {
    pub left: LONG,
    pub top: LONG,
    pub right: LONG,
    pub bottom: LONG,
}

/// `SIZE` (windef.h).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SIZE {
    pub cx: LONG,
    pub cy: LONG,
}

super::assert_layout! {
    GUID => 16, 4;
    RECT => 16, 4;
    SIZE => 8, 4;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_from_u128_matches_the_text_form() {
        let g = GUID::from_u128(0x1D58C920_AC9B_11CF_A5D6_28DB04C10000);
        assert_eq!(g.Data1, 0x1D58C920);
        assert_eq!(g.Data2, 0xAC9B);
        assert_eq!(g.Data3, 0x11CF);
        assert_eq!(g.Data4, [0xA5, 0xD6, 0x28, 0xDB, 0x04, 0xC1, 0x00, 0x00]);
        extern crate std;
        use std::string::ToString;
        assert_eq!(g.to_string(), "1D58C920-AC9B-11CF-A5D6-28DB04C10000");
    }

    #[test]
    fn nt_success_splits_on_the_sign_bit() {
        assert!(NT_SUCCESS(STATUS_SUCCESS) && NT_SUCCESS(STATUS_PENDING));
        assert!(!NT_SUCCESS(STATUS_BUFFER_OVERFLOW) && !NT_SUCCESS(STATUS_INVALID_PARAMETER));
    }
}
