//! The stand-in imports ntdll.dll (NtWriteVirtualMemory, serve.rs). Wine's loader then
//! treats the image as an ordinary DLL ("imports system dll, assuming not native") and
//! calls its entry point as DllMain, where a zero return fails the load
//! (STATUS_DLL_INIT_FAILED, c0000142). The stand-in's entry is therefore its own
//! `StandinEntry`, which returns TRUE, instead of ksframe's DriverEntry stub.
fn main() {
    println!("cargo:rustc-link-arg-cdylib=/ENTRY:StandinEntry");
}
