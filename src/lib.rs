//! ksframe: an AVStream minidriver whose pins bring their own KS frame allocator.
//!
//! One crate, three builds (see README.md):
//!
//! - **driver** (Windows host with the WDK, default feature `wdk`): the KMDF-hosted
//!   `ksframe.sys`, through windows-drivers-rs;
//! - **host** (feature `host`, any OS): a `std` build of the same code with a host
//!   kernel backend that accounts for every pool byte and can inject faults; tests,
//!   examples and benches use it;
//! - **cross** (`--config .cargo/cross.toml --target x86_64-pc-windows-msvc
//!   --no-default-features` on Linux): a
//!   real PE32+ kernel image from the same source, importing only kernel exports.
//!
//! Layers, each a module; a layer uses only the ones below it:
//!
//! - [`avstream`]: the device, filter and pin descriptors and the pin callbacks;
//! - [`property`]: the property-set dispatch table and its handlers;
//! - [`allocator`]: the frame pool behind `KSALLOCATOR_DISPATCH`;
//! - [`pin`]: the per-pin state behind `KSPIN.Context`;
//! - [`pacing`]: the capture pin's camera: frames paced by a timer DPC, timestamps,
//!   dropped frames;
//! - [`framing`]: the pin's framing as a value, in KS's two forms;
//! - [`ks`]: the Kernel Streaming ABI (`repr(C)` types, constants, GUIDs), no logic;
//! - [`kernel`]: the platform boundary, the only module that knows which build it is in;
//! - `model` (host build and the Wine stand-in, feature `model`): the model of Kernel
//!   Streaming and AVStream that judges the driver; the driver never imports it;
//! - `sim` (host build only): the model run in process against the real descriptors.
//!
//! The crate is `no_std` in every build; `std` comes in only with the `host` feature.

#![no_std]
// No panic reachable from a kernel entry point. Host-only modules (the host kernel
// backend, which panics to imitate a bug check) opt out locally and say why.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
// The `no-entry` library build (the Wine stand-in links it) leaves the entry path unused.
#![cfg_attr(feature = "no-entry", allow(dead_code, unused_imports))]
// Unit tests assert by panicking.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

#[cfg(feature = "host")]
extern crate std;

pub mod allocator;
pub mod avstream;
pub mod framing;
mod hosting;
pub mod kernel;
pub mod ks;
#[cfg(any(feature = "host", feature = "model"))]
pub mod model;
pub mod pacing;
pub mod pin;
pub mod property;
#[cfg(feature = "host")]
pub mod sim;

#[cfg(not(feature = "host"))]
mod driver;
