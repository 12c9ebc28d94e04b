//! Errors as a Windows client sees them: the Win32 error a call returns, and where it is
//! known the NTSTATUS behind it (an overlapped request's OVERLAPPED.Internal holds the
//! IO_STATUS_BLOCK.Status the driver completed with).

use serde::Serialize;

/// A failed call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Failure {
    /// What was asked ("IOCTL_KS_PROPERTY KSPROPSETID_Connection ALLOCATORFRAMING Get").
    pub call: String,
    pub win32: u32,
    pub win32_name: String,
    pub ntstatus: Option<u32>,
    pub ntstatus_name: Option<String>,
}

impl Failure {
    pub fn new(call: impl Into<String>, win32: u32, ntstatus: Option<u32>) -> Self {
        Self {
            call: call.into(),
            win32,
            win32_name: win32_name(win32).to_string(),
            ntstatus,
            ntstatus_name: ntstatus.map(|s| ntstatus_name(s).to_string()),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed: Win32 error {} ({})", self.call, self.win32, self.win32_name)?;
        if let (Some(s), Some(n)) = (self.ntstatus, &self.ntstatus_name) {
            write!(f, ", NTSTATUS {s:#010x} ({n})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

/// Win32 errors a KS client meets (winerror.h).
pub fn win32_name(code: u32) -> &'static str {
    match code {
        0 => "ERROR_SUCCESS",
        1 => "ERROR_INVALID_FUNCTION",
        2 => "ERROR_FILE_NOT_FOUND",
        5 => "ERROR_ACCESS_DENIED",
        6 => "ERROR_INVALID_HANDLE",
        8 => "ERROR_NOT_ENOUGH_MEMORY",
        21 => "ERROR_NOT_READY",
        22 => "ERROR_BAD_COMMAND",
        24 => "ERROR_BAD_LENGTH",
        31 => "ERROR_GEN_FAILURE",
        50 => "ERROR_NOT_SUPPORTED",
        87 => "ERROR_INVALID_PARAMETER",
        122 => "ERROR_INSUFFICIENT_BUFFER",
        234 => "ERROR_MORE_DATA",
        259 => "ERROR_NO_MORE_ITEMS",
        995 => "ERROR_OPERATION_ABORTED",
        996 => "ERROR_IO_INCOMPLETE",
        997 => "ERROR_IO_PENDING",
        1168 => "ERROR_NOT_FOUND",
        1170 => "ERROR_SET_NOT_FOUND",
        1784 => "ERROR_INVALID_USER_BUFFER",
        0xE000_020B => "ERROR_NO_SUCH_DEVINST",
        _ => "unknown",
    }
}

/// NTSTATUS values KS answers with (ntstatus.h; ../shared/KS-NOTES.md).
pub fn ntstatus_name(status: u32) -> &'static str {
    match status {
        0x0000_0000 => "STATUS_SUCCESS",
        0x0000_0103 => "STATUS_PENDING",
        0x8000_0005 => "STATUS_BUFFER_OVERFLOW",
        0xC000_0001 => "STATUS_UNSUCCESSFUL",
        0xC000_0002 => "STATUS_NOT_IMPLEMENTED",
        0xC000_0008 => "STATUS_INVALID_HANDLE",
        0xC000_000D => "STATUS_INVALID_PARAMETER",
        0xC000_0010 => "STATUS_INVALID_DEVICE_REQUEST",
        0xC000_0022 => "STATUS_ACCESS_DENIED",
        0xC000_0023 => "STATUS_BUFFER_TOO_SMALL",
        0xC000_0024 => "STATUS_OBJECT_TYPE_MISMATCH",
        0xC000_0034 => "STATUS_OBJECT_NAME_NOT_FOUND",
        0xC000_009A => "STATUS_INSUFFICIENT_RESOURCES",
        0xC000_00BB => "STATUS_NOT_SUPPORTED",
        0xC000_0120 => "STATUS_CANCELLED",
        0xC000_0184 => "STATUS_INVALID_DEVICE_STATE",
        0xC000_0206 => "STATUS_INVALID_BUFFER_SIZE",
        0xC000_0225 => "STATUS_NOT_FOUND",
        0xC000_0230 => "STATUS_PROPSET_NOT_FOUND",
        0xC000_00A3 => "STATUS_DEVICE_NOT_READY",
        0xC000_000E => "STATUS_NO_SUCH_DEVICE",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_as_a_windows_client_sees_them() {
        let f = Failure::new("IOCTL_KS_PROPERTY x Get", 1168, Some(0xC000_0230));
        assert_eq!(
            f.to_string(),
            "IOCTL_KS_PROPERTY x Get failed: Win32 error 1168 (ERROR_NOT_FOUND), NTSTATUS 0xc0000230 (STATUS_PROPSET_NOT_FOUND)"
        );
        let g = Failure::new("KsCreatePin", 87, None);
        assert_eq!(g.to_string(), "KsCreatePin failed: Win32 error 87 (ERROR_INVALID_PARAMETER)");
        assert_eq!(win32_name(234), "ERROR_MORE_DATA");
        assert_eq!(ntstatus_name(0xC000_0206), "STATUS_INVALID_BUFFER_SIZE");
    }
}
