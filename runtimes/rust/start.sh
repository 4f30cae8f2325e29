#!/bin/sh
# Serves the function in /app/handler.rs. A compiled package (built once per build by
# `start.sh --compile OUT`, see docs/runtime-contract.md) carries .canopy/compiled and the binary,
# which runs as is. Otherwise the function is compiled here against the precompiled runner crate,
# under /tmp (the code and the root are read-only). A function that does not compile is still
# served: every task gets a 500 with the compiler's output.
#
# start.sh --compile OUT: compiles /app into OUT (a copy of the source, .canopy/function and the
# marker .canopy/compiled); exits 1 with the compiler's output in OUT/.canopy/build.log if it fails.
set -u
if [ -f /app/.canopy/compiled ] && [ -x /app/.canopy/function ]; then
    exec /app/.canopy/function
fi
out=/tmp/canopy
log=$out/build.log
rm -rf "$out"
mkdir -p "$out"
# handler.rs is a module of this crate, so its own `mod x;` files sit next to it in /app/handler/.
cat >"$out/main.rs" <<'RUST'
#[path = "/app/handler.rs"]
mod handler;

fn main() {
    canopy::serve(handler::handle);
}
RUST
compile() {
    if [ ! -f /app/handler.rs ]; then
        echo "no handler.rs in /app (the function is pub fn handle(req: canopy::Request) in handler.rs)" >"$log"
        return 1
    fi
    if TMPDIR=$out rustc --edition 2021 -C opt-level=2 --error-format short \
        --extern canopy=/opt/canopy/lib/libcanopy.rlib -L /opt/canopy/lib \
        -o "$1" "$out/main.rs" >"$log.raw" 2>&1; then
        return 0
    fi
    # Paths as the developer sees them: handler.rs:3:5, not /app/handler.rs:3:5.
    sed -e 's#/app/##g' "$log.raw" >"$log"
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
    exec "$out/function"
fi
cat "$log" >&2
CANOPY_LOAD_ERROR_FILE=$log exec /opt/canopy/fallback
