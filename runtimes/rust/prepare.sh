#!/bin/sh
# Runs once when the image is built: compiles the runner crate (libcanopy.rlib) that every function
# links against, and the fallback that start.sh serves when a function does not compile.
set -eu
lib=/opt/canopy/lib
mkdir -p "$lib"
rustc --edition 2021 --crate-type rlib --crate-name canopy -C opt-level=2 \
    -o "$lib/libcanopy.rlib" /opt/canopy/canopy/lib.rs
rustc --edition 2021 -C opt-level=2 --extern canopy="$lib/libcanopy.rlib" \
    -o /opt/canopy/fallback /opt/canopy/fallback.rs
chmod 0755 /opt/canopy/fallback
