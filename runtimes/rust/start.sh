#!/bin/sh
# Serves the function in /app/handler.rs. A compiled package (built once per build by
# `start.sh --compile OUT`, see docs/runtime-contract.md) carries .canopy/compiled and the binary,
# which runs as is. Otherwise the function is compiled here, under /tmp (the code and the root are
# read-only): with plain rustc against the precompiled runner crate, or, when the upload has a
# Cargo.toml (and the vendor/ directory `cargo vendor` writes next to it), with cargo, offline, from
# those vendored crates. A function that does not compile is still served: every task gets a 500
# with the compiler's output.
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

# std and canopy only: one rustc run against the runner crate precompiled in the image (fastest).
compile_rustc() {
    TMPDIR=$out rustc --edition 2021 -C opt-level=2 --error-format short \
        --extern canopy=/opt/canopy/lib/libcanopy.rlib -L /opt/canopy/lib \
        -o "$1" "$out/main.rs" >"$log.raw" 2>&1
}

# The same crate built by cargo, with the [dependencies] of /app/Cargo.toml resolved from /app/vendor
# only: crates-io is replaced by that directory and cargo is offline (compile containers have no
# network at all). The runner crate is a path dependency built from its source in the image.
compile_cargo() {
    mkdir -p "$out/runner" "$out/cargo-home"
    # Cargo wants a package around the runner's source; its lib.rs stays where the image has it.
    cat >"$out/runner/Cargo.toml" <<'TOML'
[package]
name = "canopy"
version = "0.0.0"
edition = "2021"

[lib]
path = "/opt/canopy/canopy/lib.rs"
TOML
    {
        cat <<'TOML'
[package]
name = "function"
version = "0.0.0"
edition = "2021"

[[bin]]
name = "function"
path = "main.rs"

# The optimisation level of the rustc path.
[profile.release]
opt-level = 2

TOML
        # The developer's [dependencies] and [dependencies.NAME] tables, nothing else of their manifest.
        awk '/^[ \t]*\[/ { keep = ($0 ~ /^[ \t]*\[dependencies(\.[^]]*)?\][ \t]*(#.*)?$/) } keep' \
            /app/Cargo.toml
        printf '\n[dependencies.canopy]\npath = "%s/runner"\n' "$out"
    } >"$out/Cargo.toml"
    if [ -d /app/vendor ]; then
        cat >"$out/cargo-home/config.toml" <<'TOML'
[source.crates-io]
replace-with = "vendored"

[source.vendored]
directory = "/app/vendor"
TOML
    fi
    # Cargo starts from the developer's lock (the versions they vendored) instead of resolving afresh.
    # Not --locked: the lock names their package, not this generated one, so cargo rewrites it.
    if [ -f /app/Cargo.lock ]; then
        cp /app/Cargo.lock "$out/Cargo.lock"
    fi
    # --quiet: the log keeps only what the compiler says, as on the rustc path.
    CARGO_HOME=$out/cargo-home CARGO_NET_OFFLINE=true CARGO_TARGET_DIR=$out/target TMPDIR=$out \
        cargo build --offline --release --quiet --message-format short \
        --manifest-path "$out/Cargo.toml" >"$log.raw" 2>&1 || return 1
    cp "$out/target/release/function" "$1" || return 1
    # The target directory takes most of /tmp's room, which the function may want.
    rm -rf "$out/target"
}

compile() {
    if [ ! -f /app/handler.rs ]; then
        echo "no handler.rs in /app (the function is pub fn handle(req: canopy::Request) in handler.rs)" >"$log"
        return 1
    fi
    if [ -f /app/Cargo.toml ]; then
        compile_cargo "$1" && return 0
    else
        compile_rustc "$1" && return 0
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
