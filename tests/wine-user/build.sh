#!/usr/bin/env bash
# Builds the two test-only user-mode DLLs for Wine (ksuser.dll, bcryptprimitives.dll)
# with mingw-w64 into $1 (tests/wine_ksprobe.rs and tests/wine_gstreamer.rs run this).
set -euo pipefail
out="$1"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$out"
cc=x86_64-w64-mingw32-gcc
"$cc" -O2 -Wall -Wextra -Werror -shared -o "$out/ksuser.dll" "$here/ksuser.c" -lsetupapi -lntdll \
    -Wl,--kill-at
"$cc" -O2 -Wall -Wextra -Werror -shared -o "$out/bcryptprimitives.dll" "$here/bcryptprimitives.c" -ladvapi32 \
    -Wl,--kill-at
