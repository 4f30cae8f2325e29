#!/bin/sh
# Compiles the function in /app (package function) together with the runner, then runs it. The code
# and the root are read-only, so everything is built under /tmp. A function that does not compile is
# still served: every task gets a 500 with the compiler's output (docs/runtime-contract.md).
set -u
# Cgo stays on (the default) although the image has no C compiler: the std packages were compiled
# that way, so only the function and the runner compile; with CGO_ENABLED=0 or -trimpath go would
# rebuild the whole standard library (about 45 s).
export PATH="/usr/lib/go-1.19/bin:$PATH" GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod \
    GOCACHE=/tmp/canopy/gocache GOPATH=/tmp/canopy/gopath GOTELEMETRY=off
out=/tmp/canopy
build=$out/build
log=$out/build.log
rm -rf "$out"
mkdir -p "$build/function"
cp -R /opt/canopy/src/. "$build/"

if ! ls /app/*.go >/dev/null 2>&1; then
    echo "no .go file in /app (the function is handler.go in package function)" >"$log"
else
    # The function is one package of the runner's module: its own go.mod would split it off.
    cp -R /app/. "$build/function/"
    rm -f "$build/function/go.mod" "$build/function/go.sum"
    if (cd "$build" && go build -o "$out/function" . >"$log.raw" 2>&1); then
        rm -rf "$build" "$out/gocache"
        exec "$out/function"
    fi
    # Paths as the developer sees them: handler.go:3:2, not function/handler.go:3:2.
    sed -e 's#^function/##' -e '/^# canopy\/function$/d' "$log.raw" >"$log"
fi
cat "$log" >&2
CANOPY_LOAD_ERROR_FILE=$log exec /opt/canopy/fallback
