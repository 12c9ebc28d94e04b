#!/usr/bin/env bash
# Instructions per Allocate+Free pair, measured with callgrind (valgrind): each case of
# benches/pairs.rs runs N1 and N2 pairs; (Ir(N2) - Ir(N1)) / (N2 - N1) is one pair's
# cost, loop and calls through function pointers included, start-up excluded. Prints a
# table and fails when ksframe exceeds its targets (issue 12): 40 at 8 frames, 48 at
# 1024 frames with 512 held.
#
# Usage: scripts/instructions.sh [--no-check]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind not installed (apt-get install valgrind)" >&2; exit 1; }
bin="$(cargo bench --locked --bench pairs --no-run --message-format=json 2>/dev/null \
    | grep -o '"executable":"[^"]*pairs-[^"]*"' | head -n1 | sed 's/"executable":"//; s/"$//')"
[ -x "$bin" ] || { echo "instructions.sh: benches/pairs did not build" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
n1=200000
n2=400000
ir() { # case n -> total instructions
    valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" "$1" "$2" >/dev/null 2>&1
    grep '^summary:' "$tmp/out" | awk '{print $2}'
}
declare -A per
printf '%-20s %s\n' "case" "instructions per pair"
for case in ksframe-8 ksframe-1024-half arrayqueue-8 floor floor2; do
    a="$(ir "$case" "$n1")"
    b="$(ir "$case" "$n2")"
    per[$case]="$(awk -v a="$a" -v b="$b" -v n1="$n1" -v n2="$n2" 'BEGIN { printf "%.2f", (b - a) / (n2 - n1) }')"
    printf '%-20s %s\n' "$case" "${per[$case]}"
done
[ "${1:-}" = "--no-check" ] && exit 0
fail=0
check() { # case limit
    if awk -v v="${per[$1]}" -v l="$2" 'BEGIN { exit !(v > l) }'; then
        echo "instructions.sh: $1 takes ${per[$1]} instructions per pair, over the target of $2" >&2
        fail=1
    fi
}
check ksframe-8 40
check ksframe-1024-half 48
exit $fail
