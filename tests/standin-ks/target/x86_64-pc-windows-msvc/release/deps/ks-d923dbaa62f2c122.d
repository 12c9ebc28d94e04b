/work/main/tests/standin-ks/target/x86_64-pc-windows-msvc/release/deps/ks-d923dbaa62f2c122.d: src/lib.rs Cargo.toml

/work/main/tests/standin-ks/target/x86_64-pc-windows-msvc/release/deps/libks-d923dbaa62f2c122.rmeta: src/lib.rs Cargo.toml

src/lib.rs:
Cargo.toml:

# env-dep:CLIPPY_ARGS=
# env-dep:CLIPPY_CONF_DIR
