#!/usr/bin/env bash
# The one test command (README.md "Test"): installs what it needs on a fresh Linux
# machine, then runs every check. Fails loudly at the first failing step.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
SECONDS=0

# --- Prerequisites --------------------------------------------------------------------
step "prerequisites"
if ! command -v rustup >/dev/null; then
    echo "rustup is required (https://rustup.rs)" >&2
    exit 1
fi
# rust-toolchain.toml names the channel, components and cross target; with
# RUSTUP_AUTO_INSTALL=0 nothing installs them unless asked. A nightly (NIGHTLY, default
# "nightly") runs Miri and cargo-fuzz.
rustup toolchain install
NIGHTLY="${NIGHTLY:-nightly}"
if ! cargo "+$NIGHTLY" miri --version >/dev/null 2>&1 \
    || ! rustup "+$NIGHTLY" component list --installed 2>/dev/null | grep -q '^rust-src'; then
    rustup toolchain install "$NIGHTLY" --profile minimal --component miri,rust-src
fi
need_pkgs=()
command -v x86_64-w64-mingw32-gcc >/dev/null || need_pkgs+=(gcc-mingw-w64-x86-64-win32)
[ -f /usr/x86_64-w64-mingw32/include/ks.h ] || need_pkgs+=(mingw-w64-x86-64-dev)
# Wine runs the cross-built kernel image (tests/wine.rs) and, with mingw-w64's gcc
# (above), the Windows user-mode probe and its test-only DLLs (tests/wine_ksprobe.rs).
[ -x /usr/lib/wine/wine64 ] || need_pkgs+=(wine64 wine)
# Callgrind counts the allocator's instructions (scripts/instructions.sh).
command -v valgrind >/dev/null || need_pkgs+=(valgrind)
# pip downloads GStreamer's official Windows binaries (PyPI wheels, about 103 MiB, cached
# under ~/.cache/ksframe-gstreamer) for tests/wine_gstreamer.rs: ksvideosrc under Wine.
python3 -m pip --version >/dev/null 2>&1 || need_pkgs+=(python3-pip)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need_pkgs[@]}"
fi
rustc --version
cargo "+$NIGHTLY" miri --version
x86_64-w64-mingw32-gcc --version | head -n1
/usr/lib/wine/wine64 --version
python3 -m pip --version

# The cross build's linker and kernel link arguments are in .cargo/cross.toml, passed
# explicitly so that they never reach a WDK build of the same triple.
CROSS=(--config .cargo/cross.toml --target x86_64-pc-windows-msvc --no-default-features)

# --- Static checks --------------------------------------------------------------------
step "cargo fmt --check"
cargo fmt --all --check

step "clippy: host build (lib, tests, examples, benches)"
cargo clippy --all-targets --locked -- -D warnings
step "clippy: driver code on Linux (no host feature)"
cargo clippy --lib --locked -- -D warnings
step "clippy: cross build"
cargo clippy --lib --release --locked "${CROSS[@]}" -- -D warnings

# tools/ksprobe: its own package (not a workspace member) for Windows user mode
# (x86_64-pc-windows-gnu, from rust-toolchain.toml; linked by mingw-w64's gcc). Its
# decoders' unit tests run on the host; tests/wine_ksprobe.rs runs the .exe under Wine.
step "ksprobe: fmt, clippy (host and Windows), unit tests"
(cd tools/ksprobe && cargo fmt --check \
    && cargo clippy --locked --all-targets -- -D warnings \
    && cargo clippy --locked --release --target x86_64-pc-windows-gnu -- -D warnings \
    && cargo test --locked)
step "the stand-in ks.sys: fmt, clippy (cross build)"
(cd tests/standin-ks && cargo fmt --check)
CARGO_TARGET_DIR=target/standin cargo clippy --release --locked "${CROSS[@]}" \
    --manifest-path tests/standin-ks/Cargo.toml -- -D warnings

step "the Windows flavour (wdk feature): check + clippy against the wdk shim, and mutations that must fail"
bash scripts/check-wdk.sh

step "no wdk crate in the Linux dependency graph"
if cargo tree --locked --target x86_64-unknown-linux-gnu -e normal,build | grep -i wdk; then
    echo "a wdk crate would be compiled on Linux" >&2
    exit 1
fi

step "the same Cargo.toml pulls all five wdk crates for a Windows build"
windows_tree="$(cargo tree --locked --target x86_64-pc-windows-msvc -e normal --depth 1)"
for crate in wdk wdk-sys wdk-alloc wdk-panic; do
    grep -q " $crate v" <<<"$windows_tree" \
        || { echo "$crate is not a dependency of the Windows build" >&2; exit 1; }
done
# Build-dependency target tables are evaluated against the host, so cargo tree on Linux
# cannot show wdk-build; the manifest's declaration is checked instead.
cargo metadata --locked --format-version 1 --no-deps | python3 -c '
import json, sys
deps = json.load(sys.stdin)["packages"][0]["dependencies"]
ok = any(d["name"] == "wdk-build" and d["kind"] == "build" and d["target"] == "cfg(windows)" for d in deps)
sys.exit(0 if ok else "wdk-build is not a cfg(windows) build-dependency")
'

# --- ABI table ------------------------------------------------------------------------
step "KS ABI table regenerated from mingw-w64's ks.h matches the committed one"
abi_tmp="$(mktemp)"
trap 'rm -f "$abi_tmp"' EXIT
bash tests/abi/gen.sh "$abi_tmp"
if ! diff -u tests/abi/ks_layout.txt "$abi_tmp"; then
    echo "tests/abi/ks_layout.txt is stale: run 'bash tests/abi/gen.sh' and review the diff" >&2
    exit 1
fi

# --- Cross build ----------------------------------------------------------------------
step "cross build: the kernel image"
cargo build --release --locked "${CROSS[@]}"
ls -l target/x86_64-pc-windows-msvc/release/ksframe.dll

# --- Tests ----------------------------------------------------------------------------
step "cargo test (host build; includes the ABI and image checks)"
cargo test --locked --all-targets

# Driver Verifier's special pool on the host: every pool block against a guard page,
# after it (overrun) and then before it (underrun); the verifier test's placement check
# proves the mode is on, and its fixtures (run in every mode) must each be caught.
for mode in overrun underrun; do
    step "verifier mode: special pool ($mode) under the allocator, property, end-to-end and camera tests"
    KSFRAME_SPECIAL_POOL=$mode cargo test --locked --test allocator --test property --test end_to_end \
        --test allocator_path --test camera --test stream_allocator --test verifier
done

step "instructions per Allocate+Free pair (callgrind): at most 40 at 8 frames, 48 at 1024 frames half held"
bash scripts/instructions.sh

step "the main job: cargo run --example session"
cargo run --locked --example session -- --frames 300 | tail -n 4
cargo run --locked --example session -- --frames 100 --format 5 --allocator none | tail -n 2
cargo run --locked --example session -- --frames 300 --stall 1000 | tail -n 9

step "fuzz: property requests on a prepared graph (1,000,000 runs, seeded with every table-driven case)"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
fuzz_out="$(mktemp -d)"
seeds="$(mktemp -d)"
(cd fuzz && cargo "+$NIGHTLY" run --locked --release --bin seeds -- "$seeds")
# No AddressSanitizer (it costs 10x here); the host backend's special pool puts every
# pool block of the driver against a guard page instead, and debug assertions stay on.
if ! (cd fuzz && KSFRAME_SPECIAL_POOL=overrun cargo "+$NIGHTLY" fuzz run --sanitizer none property \
    "$fuzz_out" "$seeds" corpus/property -- -runs="${FUZZ_RUNS:-1000000}" -max_total_time=300 \
    -rss_limit_mb=4096 >"$fuzz_out.log" 2>&1); then
    tail -n 80 "$fuzz_out.log"
    echo "the fuzz target failed (crash input under fuzz/artifacts/property)" >&2
    exit 1
fi
grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs)' "$fuzz_out.log"
runs="$(grep -oE '^Done [0-9]+ runs' "$fuzz_out.log" | grep -oE '[0-9]+')"
[ "${runs:-0}" -ge "${FUZZ_RUNS:-1000000}" ] || { echo "the fuzz smoke run stopped at ${runs:-0} runs" >&2; exit 1; }
rm -rf "$fuzz_out" "$fuzz_out.log" "$seeds"

step "loom: the allocator's concurrent paths"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
    cargo test --locked --release --test loom_pool

step "Miri: the unsafe code's tests (ks, kernel, allocator)"
# Isolation off: proptest looks for its regression files.
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}"
cargo "+$NIGHTLY" miri test --locked --lib -- ks:: kernel:: allocator:: pacing::
cargo "+$NIGHTLY" miri test --locked --test allocator

step "all checks passed in ${SECONDS}s"
