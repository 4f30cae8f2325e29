#!/bin/sh
# A compile job's entry point (the worker runs `start.sh --compile OUT`, as for Go and Rust): the
# runner compiles /app into OUT once per build. Tasks start the runner directly (the image's CMD);
# it loads the compiled assembly when the package carries one.
exec mono /opt/canopy/runner.exe "$@"
