/*
 * A test-only ksuser.dll for running user-mode KS clients under Wine 8.0 against the
 * stand-in ks.sys (tests/standin-ks/src/serve.rs). Loaded only by tests/wine_ksprobe.rs
 * (WINEDLLOVERRIDES="ksuser=n", the DLL next to the client's exe).
 *
 * Why: Wine 8.0's ksuser.dll exports KsCreatePin and KsCreateAllocator as stubs that
 * abort (dlls/ksuser/ksuser.spec), and its I/O manager cannot open a name below a
 * device: the request Windows' ksuser makes (ReactOS dll/directx/ksuser/ksuser.c,
 * KsiCreateObjectType: NtCreateFile with RootDirectory = the parent handle and the name
 * "{object type GUID}\" + the create request's bytes) returns
 * STATUS_OBJECT_NAME_NOT_FOUND before any driver sees it (../shared/WINE-NOTES.md,
 * "A user-mode client through Wine's I/O manager", step 3).
 *
 * What it does instead (WINE-NOTES step 3, the measured substitute): it opens the
 * parent's device again by its NT name (NtQueryObject ObjectNameInformation), as
 * Windows' ksuser opens the child (no FILE_SYNCHRONOUS_IO_*: an asynchronous handle),
 * and hands the same create request to the stand-in in a private IOCTL together with the
 * parent's handle; the stand-in treats it as the child's IRP_MJ_CREATE. The sizes and
 * accesses are those of ReactOS's ksuser.c: KsCreatePin sends KSPIN_CONNECT + the
 * KSDATAFORMAT's FormatSize (+ attributes when KSDATAFORMAT_ATTRIBUTES is set) with the
 * caller's access; KsCreateAllocator sends a KSALLOCATOR_FRAMING with GENERIC_READ.
 * Both return a Win32 error (RtlNtStatusToDosError of the create's status), 0 on success.
 */
#include <windows.h>
#include <winternl.h>

#define IOCTL_STANDIN_CREATE 0x002F200F /* CTL_CODE(FILE_DEVICE_KS, 0x803, METHOD_NEITHER, FILE_ANY_ACCESS) */
#define KIND_PIN 1
#define KIND_ALLOCATOR 2
#define KSDATAFORMAT_ATTRIBUTES 0x2


static DWORD create_object(HANDLE parent, ULONG kind, const void *request, ULONG size, ACCESS_MASK access,
                           HANDLE *out)
{
    BYTE name_buf[1024];
    ULONG len = 0;
    NTSTATUS status;
    OBJECT_ATTRIBUTES attr;
    IO_STATUS_BLOCK io;
    HANDLE child = NULL, event;
    BYTE *packet;
    ULONG packet_size = 16 + size;

    *out = NULL;
    status = NtQueryObject(parent, ObjectNameInformation, name_buf, sizeof(name_buf), &len);
    if (status) return RtlNtStatusToDosError(status);
    InitializeObjectAttributes(&attr, &((OBJECT_NAME_INFORMATION *)name_buf)->Name, OBJ_CASE_INSENSITIVE, NULL, NULL);
    status = NtCreateFile(&child, access | SYNCHRONIZE, &attr, &io, NULL, 0, FILE_SHARE_READ | FILE_SHARE_WRITE,
                          FILE_OPEN, 0, NULL, 0);
    if (status) return RtlNtStatusToDosError(status);

    packet = HeapAlloc(GetProcessHeap(), 0, packet_size);
    event = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!packet || !event)
    {
        if (packet) HeapFree(GetProcessHeap(), 0, packet);
        if (event) CloseHandle(event);
        NtClose(child);
        return ERROR_NOT_ENOUGH_MEMORY;
    }
    *(ULONG64 *)packet = (ULONG64)(ULONG_PTR)parent;
    *(ULONG *)(packet + 8) = kind;
    *(ULONG *)(packet + 12) = size;
    memcpy(packet + 16, request, size);
    status = NtDeviceIoControlFile(child, event, NULL, NULL, &io, IOCTL_STANDIN_CREATE, packet, packet_size, NULL, 0);
    if (status == STATUS_PENDING)
    {
        WaitForSingleObject(event, INFINITE);
        status = io.Status;
    }
    CloseHandle(event);
    HeapFree(GetProcessHeap(), 0, packet);
    if (status)
    {
        NtClose(child);
        return RtlNtStatusToDosError(status);
    }
    *out = child;
    return ERROR_SUCCESS;
}

typedef struct
{
    BYTE interface_medium[48];
    ULONG pin_id;
    HANDLE pin_to_handle;
    ULONG priority[2];
} KSPIN_CONNECT_BYTES; /* KSPIN_CONNECT, 72 bytes on x64 */

DWORD WINAPI KsCreatePin(HANDLE filter, const void *connect, ACCESS_MASK access, HANDLE *pin)
{
    /* ReactOS ksuser.c KsCreatePin: KSPIN_CONNECT + DataFormat->FormatSize, plus the
     * attribute list (a KSMULTIPLE_ITEM after the 8-aligned format) when flagged. */
    const BYTE *format = (const BYTE *)connect + sizeof(KSPIN_CONNECT_BYTES);
    ULONG format_size = *(const ULONG *)format, flags = *(const ULONG *)(format + 4);
    ULONG size = sizeof(KSPIN_CONNECT_BYTES) + format_size;
    if (flags & KSDATAFORMAT_ATTRIBUTES)
    {
        ULONG aligned = (format_size + 7) & ~7u;
        size = sizeof(KSPIN_CONNECT_BYTES) + aligned + *(const ULONG *)(format + aligned);
    }
    return create_object(filter, KIND_PIN, connect, size, access, pin);
}

DWORD WINAPI KsCreateAllocator(HANDLE pin, const void *framing, HANDLE *allocator)
{
    return create_object(pin, KIND_ALLOCATOR, framing, 24, GENERIC_READ, allocator);
}

/* Windows' ksuser.dll also exports these; Wine's are stubs as well. */
DWORD WINAPI KsCreateClock(HANDLE pin, const void *create, HANDLE *clock)
{
    (void)pin; (void)create;
    *clock = NULL;
    return ERROR_NOT_SUPPORTED;
}

DWORD WINAPI KsCreateTopologyNode(HANDLE parent, const void *create, ACCESS_MASK access, HANDLE *node)
{
    (void)parent; (void)create; (void)access;
    *node = NULL;
    return ERROR_NOT_SUPPORTED;
}
