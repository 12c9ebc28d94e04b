/*
 * A test-only ksuser.dll for running user-mode KS clients under Wine 8.0 against the
 * stand-in ks.sys (tests/standin-ks/src/serve.rs). Loaded only by tests/wine_ksprobe.rs
 * (WINEDLLOVERRIDES="ksuser=n", the DLL next to the client's exe) and by
 * tests/wine_gstreamer.rs (the same override, the DLL in the prefix's system32).
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

/*
 * setupapi's SetupDiGetDeviceInterfaceAlias is a stub in Wine 8.0 (dlls/setupapi/
 * setupapi.spec `@ stub`, exported as __wine_stub_SetupDiGetDeviceInterfaceAlias: the
 * first call aborts the process), and GStreamer's ksvideosrc calls it for every
 * KSCATEGORY_VIDEO interface it enumerates (gst-plugins-bad sys/winks/kshelpers.c
 * ks_enumerate_devices; ../shared/GSTREAMER-NOTES.md, "Device discovery", blocker 1).
 * ksvideosrc imports this DLL (KsCreatePin), so it is loaded before any enumeration: on
 * attach, under Wine only (ntdll exports wine_get_version), the stub's first bytes are
 * overwritten with a jump to alias() below.
 *
 * alias() does what the Windows function documents (an interface of the same device
 * under another class, found by its interface path): the interface's path with its
 * `{class}` segment replaced by the alias class, looked up among the alias class's
 * present interfaces. The set it comes from stays alive (the returned data refers to it).
 */
#include <setupapi.h>
#include <wchar.h>

static HDEVINFO alias_sets[16];
static LONG alias_set_count;

static BOOL WINAPI alias(HDEVINFO set, PSP_DEVICE_INTERFACE_DATA iface, const GUID *alias_class,
                         PSP_DEVICE_INTERFACE_DATA out)
{
    BYTE buf[2048];
    SP_DEVICE_INTERFACE_DETAIL_DATA_W *detail = (SP_DEVICE_INTERFACE_DETAIL_DATA_W *)buf;
    WCHAR want[MAX_PATH + 64], *brace;
    HDEVINFO aset;
    SP_DEVICE_INTERFACE_DATA data;
    DWORD i;

    if (!set || !iface || !alias_class || !out || out->cbSize != sizeof(*out))
    {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    detail->cbSize = sizeof(*detail);
    if (!SetupDiGetDeviceInterfaceDetailW(set, iface, detail, sizeof(buf), NULL, NULL)) return FALSE;
    lstrcpynW(want, detail->DevicePath, MAX_PATH);
    brace = wcsrchr(want, L'{');
    if (!brace)
    {
        SetLastError(ERROR_NO_SUCH_DEVICE_INTERFACE);
        return FALSE;
    }
    swprintf(brace, 64, L"{%08lx-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x}", alias_class->Data1,
             alias_class->Data2, alias_class->Data3, alias_class->Data4[0], alias_class->Data4[1],
             alias_class->Data4[2], alias_class->Data4[3], alias_class->Data4[4], alias_class->Data4[5],
             alias_class->Data4[6], alias_class->Data4[7]);
    aset = SetupDiGetClassDevsW(alias_class, NULL, NULL, DIGCF_DEVICEINTERFACE | DIGCF_PRESENT);
    if (aset == INVALID_HANDLE_VALUE) return FALSE;
    for (i = 0;; i++)
    {
        data.cbSize = sizeof(data);
        if (!SetupDiEnumDeviceInterfaces(aset, NULL, alias_class, i, &data)) break;
        detail->cbSize = sizeof(*detail);
        if (SetupDiGetDeviceInterfaceDetailW(aset, &data, detail, sizeof(buf), NULL, NULL)
            && !lstrcmpiW(detail->DevicePath, want))
        {
            LONG n = InterlockedIncrement(&alias_set_count) - 1;
            if (n < (LONG)(sizeof(alias_sets) / sizeof(alias_sets[0]))) alias_sets[n] = aset;
            *out = data;
            return TRUE;
        }
    }
    SetupDiDestroyDeviceInfoList(aset);
    SetLastError(ERROR_NO_SUCH_DEVICE_INTERFACE);
    return FALSE;
}

static void patch_alias_stub(void)
{
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll"), setupapi, self;
    BYTE *stub, code[12] = {0x48, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xE0}; /* mov rax, imm64; jmp rax */
    ULONG64 target = (ULONG64)(ULONG_PTR)alias;
    DWORD old;

    if (!ntdll || !GetProcAddress(ntdll, "wine_get_version")) return;
    /* GStreamer's registry scan loads and unloads the plugin (and with it this DLL)
     * before loading it again: pinned, the jump target stays valid for the process. */
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                            (LPCWSTR)(void *)patch_alias_stub, &self))
        return;
    setupapi = LoadLibraryW(L"setupapi.dll");
    if (!setupapi) return;
    stub = (BYTE *)GetProcAddress(setupapi, "SetupDiGetDeviceInterfaceAlias");
    if (!stub) return;
    memcpy(code + 2, &target, sizeof(target));
    if (!VirtualProtect(stub, sizeof(code), PAGE_EXECUTE_READWRITE, &old)) return;
    memcpy(stub, code, sizeof(code));
    VirtualProtect(stub, sizeof(code), old, &old);
    FlushInstructionCache(GetCurrentProcess(), stub, sizeof(code));
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, void *reserved)
{
    (void)instance; (void)reserved;
    if (reason == DLL_PROCESS_ATTACH) patch_alias_stub();
    return TRUE;
}
