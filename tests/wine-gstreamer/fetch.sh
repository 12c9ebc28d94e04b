#!/usr/bin/env bash
# Fetches GStreamer's official Windows binaries (the PyPI wheels of gstreamer 1.28.7,
# win_amd64) into a cache and unpacks what tests/wine_gstreamer.rs runs: bin/ (the CLI
# tools and every DLL), the plugin scanner, and three plugins (coreelements, winks,
# videotestsrc). Recipe measured in ../shared/GSTREAMER-NOTES.md, "Getting GStreamer
# without Python". Prints the tree's path. Any failure (no network, no pip, a changed
# wheel) fails loudly: the caller turns it into a test failure, not a skip.
#
# Cache: $KSFRAME_GST_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/ksframe-gstreamer; the
# wheels (about 103 MiB) are downloaded once and reused while their sizes match.
set -euo pipefail
version=1.28.7
cache="${KSFRAME_GST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ksframe-gstreamer}"
wheels="$cache/wheels"
tree="$cache/tree-$version"
pkgs=(gstreamer-libs gstreamer-cli gstreamer-plugins gstreamer-plugins-libs gstreamer-ext-runtime)
mkdir -p "$wheels"
have=0
for p in "${pkgs[@]}"; do
    [ -s "$wheels/${p//-/_}-$version-cp39-abi3-win_amd64.whl" ] && have=$((have + 1))
done
if [ "$have" -ne "${#pkgs[@]}" ]; then
    specs=()
    for p in "${pkgs[@]}"; do specs+=("$p==$version"); done
    # --no-deps: the five are the whole closure needed (libs' setuptools is not).
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        --platform win_amd64 --python-version 3.12 -d "$wheels" "${specs[@]}" >&2
    rm -rf "$tree"
fi
if [ ! -f "$tree/.complete" ]; then
    rm -rf "$tree"
    python3 - "$wheels" "$tree" "$version" <<'PY'
import os, sys, zipfile, glob
wheels, tree, version = sys.argv[1:]
plugins = {"gstcoreelements.dll", "gstwinks.dll", "gstvideotestsrc.dll"}
for w in sorted(glob.glob(os.path.join(wheels, f"*-{version}-cp39-abi3-win_amd64.whl"))):
    with zipfile.ZipFile(w) as z:
        for n in z.namelist():
            parts = n.split("/")
            # <pkg>-<ver>.data/purelib/<pkg>/<rest>
            if len(parts) < 5 or parts[1] != "purelib" or n.endswith("/"):
                continue
            rest = parts[3:]
            if rest[0] == "bin":
                dest = os.path.join(tree, "bin", *rest[1:])
            elif rest[:2] == ["libexec", "gstreamer-1.0"] and rest[-1] == "gst-plugin-scanner.exe":
                dest = os.path.join(tree, "libexec", rest[-1])
            elif rest[:2] == ["lib", "gstreamer-1.0"] and rest[-1] in plugins:
                dest = os.path.join(tree, "plugins", rest[-1])
            else:
                continue
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with z.open(n) as src, open(dest, "wb") as out:
                out.write(src.read())
for need in ["bin/gst-launch-1.0.exe", "bin/gst-device-monitor-1.0.exe", "plugins/gstwinks.dll",
             "plugins/gstcoreelements.dll", "libexec/gst-plugin-scanner.exe"]:
    if not os.path.isfile(os.path.join(tree, need)):
        sys.exit(f"the wheels lack {need}")
open(os.path.join(tree, ".complete"), "w").close()
PY
fi
echo "$tree"
