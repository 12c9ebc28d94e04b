//! Shim of wdk-panic 0.5.0: the `#[panic_handler]` the driver build links (never run:
//! see ../../README.md).
#![no_std]

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
