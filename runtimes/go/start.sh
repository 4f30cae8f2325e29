#!/bin/sh
# Serves the function in /app (package function). A compiled package (built once per build by
# `start.sh --compile OUT`, see docs/runtime-contract.md) carries .canopy/compiled and the binary,
# which runs as is. Otherwise the function is compiled here, under /tmp (the code and the root are
# read-only). A function that does not compile is still served: every task gets a 500 with the
# compiler's output.
#
# start.sh --compile OUT: compiles /app into OUT (a copy of the source, .canopy/function and the
# marker .canopy/compiled); exits 1 with the compiler's output in OUT/.canopy/build.log if it fails.
set -u
if [ -f /app/.canopy/compiled ] && [ -x /app/.canopy/function ]; then
    exec /app/.canopy/function
fi
# Cgo stays on (the default) although the image has no C compiler: the std packages were compiled
# that way, so only the function and the runner compile; with CGO_ENABLED=0 or -trimpath go would
# rebuild the whole standard library (about 45 s). Nothing is fetched: GOPROXY=off, and a vendor/
# directory next to go.mod is used as is (-mod=vendor).
export PATH="/usr/lib/go-1.19/bin:$PATH" GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod \
    GOCACHE=/tmp/canopy/gocache GOPATH=/tmp/canopy/gopath GOTELEMETRY=off
out=/tmp/canopy
build=$out/build
log=$out/build.log
rm -rf "$out"
mkdir -p "$build/function"
cp -R /opt/canopy/src/. "$build/"

compile() {
    if ! ls /app/*.go >/dev/null 2>&1; then
        echo "no .go file in /app (the function is handler.go in package function)" >"$log"
        return 1
    fi
    # The function is one package of the runner's module: its own go.mod would split it off. Its
    # requirements and vendor/ move to the runner's module instead.
    cp -R /app/. "$build/function/"
    rm -rf "$build/function/go.mod" "$build/function/go.sum" "$build/function/vendor" \
        "$build/function/.canopy"
    if [ -d /app/vendor ] && [ -f /app/go.mod ]; then
        cp -R /app/vendor "$build/vendor"
        sed -n '/^require[ (]/,/^)/p' /app/go.mod >>"$build/go.mod"
        export GOFLAGS=-mod=vendor
    fi
    if (cd "$build" && go build -o "$1" . >"$log.raw" 2>&1); then
        return 0
    fi
    # Paths as the developer sees them: handler.go:3:2, not function/handler.go:3:2.
    sed -e 's#^function/##' -e '/^# canopy\/function$/d' "$log.raw" >"$log"
    return 1
}

if [ "${1:-}" = "--compile" ]; then
    dest=${2:?usage: start.sh --compile OUT}
    cp -R /app/. "$dest/"
    rm -rf "$dest/.canopy"
    mkdir -p "$dest/.canopy"
    if compile "$dest/.canopy/function"; then
        touch "$dest/.canopy/compiled"
        exit 0
    fi
    cp "$log" "$dest/.canopy/build.log"
    cat "$log" >&2
    exit 1
fi

if compile "$out/function"; then
    rm -rf "$build" "$out/gocache"
    exec "$out/function"
fi
cat "$log" >&2
CANOPY_LOAD_ERROR_FILE=$log exec /opt/canopy/fallback
