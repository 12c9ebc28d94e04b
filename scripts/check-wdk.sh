#!/usr/bin/env bash
# Type-checks and lints the Windows driver flavour (feature `wdk`, cfg(windows): KMDF
# hosting, the wdk kernel backend, wdk-alloc / wdk-panic) on Linux, against the shim of
# the wdk crates in tests/wdk-shim with the real wdk-macros proc-macro (see
# tests/wdk-shim/README.md). Then shows that the check bites: each mutation below of the
# driver's real source (a WDF call to a name not in the function table, an argument of
# the wrong type) must fail the same check.
#
# The package is copied to target/wdk-check/crate with a [patch.crates-io] appended to
# its Cargo.toml; the repository's Cargo.toml and Cargo.lock are not touched.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$root/target/wdk-check"
export CARGO_TARGET_DIR="$work/target"
TARGET=x86_64-pc-windows-msvc

# A copy of the package (src copied, so that a mutation cannot reach the repository).
prepare() {
    local dir="$1"
    rm -rf "$dir"
    mkdir -p "$dir"
    cp -r "$root/src" "$root/build.rs" "$root/Cargo.lock" "$dir/"
    for d in benches examples tests; do ln -s "$root/$d" "$dir/$d"; done
    {
        cat "$root/Cargo.toml"
        echo
        echo "# Added by scripts/check-wdk.sh: the shim of the wdk crates (tests/wdk-shim)."
        echo "[patch.crates-io]"
        for c in wdk wdk-sys wdk-alloc wdk-panic; do
            echo "$c = { path = \"$root/tests/wdk-shim/$c\" }"
        done
    } >"$dir/Cargo.toml"
}

check() {
    local dir="$1"
    (cd "$dir" && cargo check --lib --target "$TARGET" --message-format short 2>&1 \
        && cargo clippy --lib --target "$TARGET" --message-format short -- -D warnings 2>&1)
}

# wdk-macros caches what it read of types.rs under the scratch crate's output directory;
# a stale cache would hide a change to the shim.
find "$CARGO_TARGET_DIR" -type d -name 'wdk_macros_ast_fragments*' -prune -exec rm -rf {} + 2>/dev/null || true

good="$work/crate"
prepare "$good"
echo "check + clippy -D warnings of the Windows flavour (wdk feature, $TARGET, shimmed wdk crates)"
if ! out="$(check "$good")"; then
    echo "$out" >&2
    echo "the Windows flavour does not type-check or lint cleanly" >&2
    exit 1
fi
grep -E '^(warning|error)' <<<"$out" && { echo "unexpected diagnostics" >&2; exit 1; }
echo "ok: 0 errors, 0 warnings"

# Mutations of src/hosting.rs: file | text | replacement | expected diagnostic.
fixtures=(
    "src/hosting.rs|WdfDriverCreate,|WdfDriverCreat,|Failed to find function info for WdfDriverCreat"
    "src/hosting.rs|                wdf_get_driver(),|                call_unsafe_wdf_function_binding!(WdfGetDriver),|Failed to find function info for WdfGetDriver"
    "src/hosting.rs|                &mut config,|                config,|mismatched types"
    "src/hosting.rs|call_unsafe_wdf_function_binding!(WdfObjectDelete, wdf_device.cast())|call_unsafe_wdf_function_binding!(WdfObjectDelete, device)|mismatched types"
)
bad="$work/mutant"
for fixture in "${fixtures[@]}"; do
    IFS='|' read -r file from to expect <<<"$fixture"
    prepare "$bad"
    python3 - "$bad/$file" "$from" "$to" <<'PY'
import sys
path, old, new = sys.argv[1:]
text = open(path).read()
if text.count(old) != 1:
    sys.exit(f"fixture text {old!r} is not in {path} exactly once")
open(path, "w").write(text.replace(old, new))
PY
    if out="$(cd "$bad" && cargo check --lib --target "$TARGET" --message-format short 2>&1)"; then
        echo "the mutation '$from' -> '$to' passed the check: it does not bite" >&2
        exit 1
    fi
    if ! grep -q -- "$expect" <<<"$out"; then
        echo "$out" >&2
        echo "the mutation '$from' -> '$to' failed, but not with '$expect'" >&2
        exit 1
    fi
    echo "ok: '$from' -> '$to' is rejected: $(grep -m1 -- "$expect" <<<"$out")"
done
rm -rf "$bad"
