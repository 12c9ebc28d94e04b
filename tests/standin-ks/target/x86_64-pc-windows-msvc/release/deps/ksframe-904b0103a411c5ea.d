/work/main/tests/standin-ks/target/x86_64-pc-windows-msvc/release/deps/ksframe-904b0103a411c5ea.d: /work/main/src/lib.rs /work/main/src/allocator/mod.rs /work/main/src/allocator/pool.rs /work/main/src/avstream/mod.rs /work/main/src/avstream/pattern.rs /work/main/src/framing/mod.rs /work/main/src/hosting.rs /work/main/src/kernel/mod.rs /work/main/src/kernel/irp.rs /work/main/src/kernel/pool.rs /work/main/src/kernel/raw.rs /work/main/src/ks/mod.rs /work/main/src/ks/avstream.rs /work/main/src/ks/base.rs /work/main/src/ks/guids.rs /work/main/src/ks/property.rs /work/main/src/ks/stream.rs /work/main/src/ks/video.rs /work/main/src/ks/wdm.rs /work/main/src/model/mod.rs /work/main/src/model/allocator.rs /work/main/src/model/avstream.rs /work/main/src/model/intersect.rs /work/main/src/model/property.rs /work/main/src/model/requestor.rs /work/main/src/pin.rs /work/main/src/property/mod.rs /work/main/src/property/handlers.rs /work/main/src/driver.rs

/work/main/tests/standin-ks/target/x86_64-pc-windows-msvc/release/deps/libksframe-904b0103a411c5ea.rmeta: /work/main/src/lib.rs /work/main/src/allocator/mod.rs /work/main/src/allocator/pool.rs /work/main/src/avstream/mod.rs /work/main/src/avstream/pattern.rs /work/main/src/framing/mod.rs /work/main/src/hosting.rs /work/main/src/kernel/mod.rs /work/main/src/kernel/irp.rs /work/main/src/kernel/pool.rs /work/main/src/kernel/raw.rs /work/main/src/ks/mod.rs /work/main/src/ks/avstream.rs /work/main/src/ks/base.rs /work/main/src/ks/guids.rs /work/main/src/ks/property.rs /work/main/src/ks/stream.rs /work/main/src/ks/video.rs /work/main/src/ks/wdm.rs /work/main/src/model/mod.rs /work/main/src/model/allocator.rs /work/main/src/model/avstream.rs /work/main/src/model/intersect.rs /work/main/src/model/property.rs /work/main/src/model/requestor.rs /work/main/src/pin.rs /work/main/src/property/mod.rs /work/main/src/property/handlers.rs /work/main/src/driver.rs

/work/main/src/lib.rs:
/work/main/src/allocator/mod.rs:
/work/main/src/allocator/pool.rs:
/work/main/src/avstream/mod.rs:
/work/main/src/avstream/pattern.rs:
/work/main/src/framing/mod.rs:
/work/main/src/hosting.rs:
/work/main/src/kernel/mod.rs:
/work/main/src/kernel/irp.rs:
/work/main/src/kernel/pool.rs:
/work/main/src/kernel/raw.rs:
/work/main/src/ks/mod.rs:
/work/main/src/ks/avstream.rs:
/work/main/src/ks/base.rs:
/work/main/src/ks/guids.rs:
/work/main/src/ks/property.rs:
/work/main/src/ks/stream.rs:
/work/main/src/ks/video.rs:
/work/main/src/ks/wdm.rs:
/work/main/src/model/mod.rs:
/work/main/src/model/allocator.rs:
/work/main/src/model/avstream.rs:
/work/main/src/model/intersect.rs:
/work/main/src/model/property.rs:
/work/main/src/model/requestor.rs:
/work/main/src/pin.rs:
/work/main/src/property/mod.rs:
/work/main/src/property/handlers.rs:
/work/main/src/driver.rs:
