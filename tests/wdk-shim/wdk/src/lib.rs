//! Shim of wdk 0.5.0: ksframe names nothing of it (see ../../README.md).
#![no_std]
