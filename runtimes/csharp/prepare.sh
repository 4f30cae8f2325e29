#!/bin/sh
# Runs once when the image is built: compiles the runner, whose types (Canopy.Request, ...) every
# function references; the function itself is compiled when its container starts.
set -eu
cd /opt/canopy
mcs -nologo -optimize+ -out:/opt/canopy/runner.exe -r:System.dll -r:System.Core.dll -r:Mono.Posix.dll \
    Runner.cs Http.cs Json.cs Types.cs
