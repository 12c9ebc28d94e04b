#!/usr/bin/env bash
# Mutation testing (docs/MUTANTS.md): cargo-mutants over the driver's logic modules.
#
#   bash scripts/mutants.sh                      # allocator property model framing
#   bash scripts/mutants.sh property model       # any subset of modules under src/
#
# Environment: MUTANTS_JOBS (default 1), MUTANTS_TIMEOUT (seconds per mutant's test
# run, default 30), MUTANTS_OUT (default target/mutants).
#
# Each mutant is built and run against the host tests that exercise these modules (the
# lib's unit tests and the test targets listed below); the cross build, Wine, the ABI
# tables and the source-text checks do not run per mutant. A missed mutant fails the
# script unless docs/mutants-equivalent.txt lists it with the reason it is equivalent.
# Not part of scripts/test-all.sh (docs/MUTANTS.md says how long it takes).
set -euo pipefail
cd "$(dirname "$0")/.."

MUTANTS_VERSION=27.1.0
JOBS="${MUTANTS_JOBS:-1}"
TIMEOUT="${MUTANTS_TIMEOUT:-30}"
OUT="${MUTANTS_OUT:-target/mutants}"
EQUIV=docs/mutants-equivalent.txt

if [ "$#" -gt 0 ]; then modules=("$@"); else modules=(allocator property model framing); fi

# The tests run for every mutant: all host tests that reach the modules above.
TESTS=(--lib --test allocator --test allocator_path --test camera --test end_to_end
    --test ks_model --test property --test stream_allocator --test verifier --test zero_alloc)

rustup toolchain install >/dev/null
if [ "$(cargo mutants --version 2>/dev/null || true)" != "cargo-mutants $MUTANTS_VERSION" ]; then
    cargo install --locked cargo-mutants --version "$MUTANTS_VERSION"
fi

files=()
for m in "${modules[@]}"; do
    [ -d "src/$m" ] || { echo "no module src/$m" >&2; exit 1; }
    files+=(--file "src/$m/**")
done

mkdir -p "$OUT"
echo "cargo-mutants $MUTANTS_VERSION over: ${modules[*]} (-j $JOBS, test timeout ${TIMEOUT}s)"
start=$SECONDS
status=0
cargo mutants --no-shuffle -j "$JOBS" --timeout "$TIMEOUT" --output "$OUT" \
    "${files[@]}" --test-tool cargo -- --locked "${TESTS[@]}" || status=$?
elapsed=$((SECONDS - start))
res="$OUT/mutants.out"

# cargo-mutants' exit codes: 0 all caught, 2 some missed, 3 some timed out; others
# (1 usage, 4 baseline failed, ...) are failures of the run itself.
case "$status" in 0 | 2 | 3) ;; *) echo "cargo mutants failed (exit $status)" >&2; exit "$status" ;; esac

count() { if [ -f "$res/$1" ]; then grep -c . "$res/$1" || true; else echo 0; fi; }
caught=$(count caught.txt)
missed=$(count missed.txt)
unviable=$(count unviable.txt)
timeout=$(count timeout.txt)
viable=$((caught + missed + timeout))
echo
echo "caught $caught, missed $missed, unviable $unviable, timeout $timeout" \
    "(viable $viable) in ${elapsed}s"

# Each line of docs/mutants-equivalent.txt names one missed mutant as cargo-mutants
# names it, then '#' and the reason it is equivalent. With its line:column the entry
# matches that mutant only; without, one mutant of that name (list a name twice for
# two). An entry that matched nothing in the modules run is reported: its mutant is
# caught now, or its line moved.
python3 - "$res/missed.txt" "$EQUIV" "${modules[@]}" <<'EOF'
import re, sys
from collections import Counter
missed_path, equiv_path, modules = sys.argv[1], sys.argv[2], sys.argv[3:]
line_col = re.compile(r":\d+:\d+:")
try:
    missed = [l.strip() for l in open(missed_path) if l.strip()]
except FileNotFoundError:
    missed = []
exact, named = Counter(), Counter()
for line in open(equiv_path):
    name, _, reason = line.partition("#")
    name = name.strip()
    if not name:
        continue
    if not reason.strip():
        sys.exit(f"{equiv_path}: '{name}' has no reason")
    (exact if line_col.search(name) else named)[name] += 1
unexplained = []
for m in missed:
    bare = line_col.sub(":", m)
    if exact[m] > 0:
        exact[m] -= 1
    elif named[bare] > 0:
        named[bare] -= 1
    else:
        unexplained.append(m)
        continue
    print(f"equivalent: {m}")
for name, left in list(exact.items()) + list(named.items()):
    if left > 0 and any(name.startswith(f"src/{m}/") for m in modules):
        print(f"warning: listed as equivalent but not missed: {name}")
for m in unexplained:
    print(f"MISSED: {m}")
if unexplained:
    sys.exit(f"{len(unexplained)} missed mutant(s) neither caught nor listed in {equiv_path}")
print(f"every missed mutant is listed in {equiv_path}")
EOF
