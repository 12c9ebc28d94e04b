/*
 * A test-only bcryptprimitives.dll for Wine 8.0, which has none: Rust's standard library
 * (1.78 and later) imports ProcessPrng from it for HashMap seeding, so a Rust Windows
 * program does not start under Wine 8.0 without it ("Library bcryptprimitives.dll ...
 * not found", c0000135; GSTREAMER-NOTES saw the same for GStreamer's Rust plugins).
 * Windows 10 and later ship the real one. ProcessPrng fills the buffer from
 * RtlGenRandom (advapi32 SystemFunction036, which Wine implements) and always succeeds,
 * as documented ("always returns TRUE").
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length)
    {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        SystemFunction036(data, chunk);
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
