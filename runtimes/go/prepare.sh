#!/bin/sh
# Runs once when the image is built: compiles the runner with a stand-in function into
# /opt/canopy/fallback, which start.sh serves when the real function does not compile.
set -eu
export PATH="/usr/lib/go-1.19/bin:$PATH" GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod \
    GOCACHE=/tmp/prepare/gocache GOPATH=/tmp/prepare/gopath GOTELEMETRY=off
build=/tmp/prepare/build
rm -rf /tmp/prepare
mkdir -p "$build/function"
cp -R /opt/canopy/src/. "$build/"
cp /opt/canopy/stub/function.go "$build/function/"
cd "$build"
go build -o /opt/canopy/fallback .
chmod 0755 /opt/canopy/fallback
rm -rf /tmp/prepare
