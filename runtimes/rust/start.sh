#!/bin/sh
# Compiles the function in /app/handler.rs against the precompiled runner crate, then runs it. The
# code and the root are read-only, so the build goes to /tmp. A function that does not compile is
# still served: every task gets a 500 with the compiler's output (docs/runtime-contract.md).
set -u
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
if [ ! -f /app/handler.rs ]; then
    echo "no handler.rs in /app (the function is pub fn handle(req: canopy::Request) in handler.rs)" >"$log"
elif TMPDIR=$out rustc --edition 2021 -C opt-level=2 --error-format short \
    --extern canopy=/opt/canopy/lib/libcanopy.rlib -L /opt/canopy/lib \
    -o "$out/function" "$out/main.rs" >"$log.raw" 2>&1; then
    exec "$out/function"
else
    # Paths as the developer sees them: handler.rs:3:5, not /app/handler.rs:3:5.
    sed -e 's#/app/##g' "$log.raw" >"$log"
fi
cat "$log" >&2
CANOPY_LOAD_ERROR_FILE=$log exec /opt/canopy/fallback
