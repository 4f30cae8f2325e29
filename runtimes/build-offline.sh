#!/usr/bin/env bash
# Builds the runtime images without any container registry: debootstrap a minimal Debian root from the
# apt mirror, drop the runner in, `docker import` it. The root is cached per package list, so a runner
# change only costs a re-import.
#
#   runtimes/build-offline.sh [python|node|go|csharp|ruby|rust|all] [--force] [--fresh]
#
# An image whose runner and package list match is skipped; --force re-imports it anyway, --fresh also
# throws the cached root away and debootstraps again.
# Env: CANOPY_CACHE_DIR (default /var/cache/canopy), CANOPY_DEBIAN_MIRROR (default: the apt sources' mirror).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=bookworm
cache_dir=${CANOPY_CACHE_DIR:-/var/cache/canopy}
# Bump when strip_rootfs or the layout changes, so cached roots built the old way are not reused.
recipe=1

target=all
force=0
fresh=0
for arg in "$@"; do
    case $arg in
        python | node | go | csharp | ruby | rust | all) target=$arg ;;
        --force) force=1 ;;
        --fresh) force=1 fresh=1 ;;
        -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: $0 [python|node|go|csharp|ruby|rust|all] [--force] [--fresh]" >&2; exit 2 ;;
    esac
done

log() { printf '[build-offline] %s\n' "$*"; }
die() { printf '[build-offline] error: %s\n' "$*" >&2; exit 1; }

seconds_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }

# Runs a step and reports its wall time, so slow mirrors or imports are visible in CI logs.
timed() {
    local label=$1 start=$EPOCHREALTIME
    shift
    "$@"
    log "$(printf '%-26s %7s' "$label" "$(seconds_since "$start")")"
}

# python3-minimal lacks json, http.server and socketserver; they live in libpython3.11-stdlib, which is
# all the runner needs from the full python3 package. mono-mcs brings the Mono runtime, corlib and
# System (Mono.Posix: signals and processes); rustc-web brings its std, gcc and binutils (rustc links through cc), but debootstrap does not
# resolve its virtual libc-dev, hence libc6-dev.
packages_for() {
    case $1 in
        python) echo python3-minimal,libpython3.11-stdlib ;;
        node) echo nodejs ;;
        go) echo golang-1.19-go ;;
        csharp) echo mono-mcs,libmono-posix4.0-cil ;;
        ruby) echo ruby3.1 ;;
        rust) echo rustc-web,cargo-web,libc6-dev ;;
    esac
}
# Everything in runtimes/<lang>/ but the Dockerfile goes to /opt/canopy/ (a runner, or a start script
# with its sources).
runner_files() { (cd "$here/$1" && find . -type f ! -name Dockerfile | sed 's|^\./||' | LC_ALL=C sort); }
runner_sha() {
    local lang=$1 file
    runner_files "$lang" | while read -r file; do
        printf '%s %s\n' "$file" "$(sha256sum <"$here/$lang/$file" | cut -d' ' -f1)"
    done | sha256sum | cut -d' ' -f1
}
# Python's stdout is block-buffered without a tty: handler prints would reach the logs late or never.
# Without LANG, Ruby and Mono fall back to ASCII for the console and file names.
env_for() {
    case $1 in
        python) echo PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ;;
        node) echo NODE_ENV=production ;;
        go | csharp | ruby | rust) echo LANG=C.UTF-8 ;;
    esac
}
cmd_for() {
    case $1 in
        python) echo '["python3", "-B", "/opt/canopy/runner.py"]' ;;
        node) echo '["node", "/opt/canopy/runner.js"]' ;;
        go | rust) echo '["/bin/sh", "/opt/canopy/start.sh"]' ;;
        csharp) echo '["mono", "/opt/canopy/runner.exe"]' ;;
        ruby) echo '["ruby3.1", "/opt/canopy/runner.rb"]' ;;
    esac
}

# The Debian archive the host already trusts and reaches (a local mirror or proxy may be all we have).
debian_mirror() {
    if [[ -n ${CANOPY_DEBIAN_MIRROR:-} ]]; then
        echo "$CANOPY_DEBIAN_MIRROR"
        return
    fi
    local uri
    uri=$(
        {
            grep -hsE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
                sed -E 's/^\s*deb\s+(\[[^]]*\]\s+)?//' | awk '{print $1}'
            grep -hsE '^\s*URIs:' /etc/apt/sources.list.d/*.sources | sed -E 's/^\s*URIs:\s*//' | tr ' ' '\n'
        } | grep -E '/debian/?$' | head -n 1
    )
    echo "${uri:-http://deb.debian.org/debian}"
}

ensure_tools() {
    local missing=()
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    if ((${#missing[@]})); then
        if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
            die "need ${missing[*]} (apt-get install ${missing[*]}) and root to debootstrap"
        fi
        log "installing ${missing[*]}"
        apt-get update -qq >/dev/null 2>&1 || true
        local out
        out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" 2>&1) ||
            die "apt-get install ${missing[*]} failed:"$'\n'"$out"
    fi
    [[ $(id -u) -eq 0 ]] || die "debootstrap needs root"
    docker info >/dev/null 2>&1 || die "no Docker engine answers (run scripts/ensure-docker)"
}

# Everything a runtime never reads at run time; keeps copyright files as Debian's own slim images do.
strip_rootfs() {
    local root=$1
    rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/var/cache/debconf/*-old \
        "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
        "$root"/usr/share/lintian "$root"/usr/share/linda "$root"/var/log/* "$root"/tmp/* \
        "$root"/usr/share/bash-completion "$root"/usr/share/zsh
    find "$root"/usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
    find "$root"/usr/share/doc -mindepth 1 -type d -empty -delete
    mkdir -p "$root"/app "$root"/opt/canopy
}

# What the compilers never use to build a function: tests and test data in Go's source tree, the
# toolchain's own packages, the race-detector std, tools that go build does not run; for Rust, gcc's
# C compiler and LTO (gcc is only the linker driver), sanitizer runtimes, rustdoc, libtest. Runs on the
# cached root at every import (deleting is idempotent), so a change here needs no new debootstrap.
strip_toolchain() {
    local lang=$1 root=$2
    case $lang in
        go)
            local goroot="$root/usr/lib/go-1.19"
            rm -rf "$goroot"/pkg/linux_amd64_race "$goroot"/pkg/obj "$goroot"/pkg/linux_amd64/cmd \
                "$root"/usr/share/go-1.19/{api,doc,misc,test,src/cmd}
            find "$root"/usr/share/go-1.19/src -name '*_test.go' -delete
            find "$root"/usr/share/go-1.19/src -depth -type d -name testdata -exec rm -rf {} +
            find "$goroot"/pkg/tool -type f \( -name vet -o -name cover -o -name doc -o -name fix \
                -o -name pprof -o -name trace -o -name test2json -o -name addr2line -o -name nm \
                -o -name objdump -o -name dist \) -delete
            ;;
        rust)
            local gcc="$root/usr/lib/gcc/x86_64-linux-gnu/12"
            rm -f "$gcc"/{cc1,lto1,lto-wrapper} "$gcc"/lib{asan,tsan,lsan,ubsan,hwasan}* \
                "$root"/usr/lib/x86_64-linux-gnu/lib{asan,tsan,lsan,ubsan,hwasan}.so* \
                "$root"/usr/bin/*lto-dump* "$root"/usr/bin/rustdoc \
                "$root"/usr/lib/rustlib/x86_64-unknown-linux-gnu/lib/libtest-*.rlib
            rm -rf "$root"/usr/libexec/rust-analyzer-proc-macro-srv
            ;;
    esac
}

bootstrap_rootfs() {
    local packages=$1 dest=$2 mirror
    mirror=$(debian_mirror)
    log "debootstrap $suite from $mirror with $packages"
    rm -rf "$dest.partial"
    mkdir -p "$(dirname "$dest")"
    debootstrap --variant=minbase --include="$packages" "$suite" "$dest.partial" "$mirror" \
        >"$dest.partial.log" 2>&1 || {
        tail -n 20 "$dest.partial.log" >&2
        die "debootstrap failed (full log: $dest.partial.log)"
    }
    strip_rootfs "$dest.partial"
    # Only a finished root enters the cache; an interrupted run restarts from scratch next time.
    mv "$dest.partial" "$dest"
    mv "$dest.partial.log" "$dest.log"
}

# A cached root must never be removed or tarred with the host's /dev bound into it.
mounted_root=
release_mounts() {
    local dir
    for dir in "$1/dev" "$1/proc"; do
        if mountpoint -q "$dir"; then umount "$dir"; fi
    done
    mounted_root=
}
trap '[[ -z $mounted_root ]] || release_mounts "$mounted_root"' EXIT

# Runs /opt/canopy/prepare.sh inside the root (compilers want /proc and /dev/null); unmounts after.
prepare_in_root() {
    local root=$1 rc=0
    mounted_root=$root
    mount -t proc proc "$root/proc"
    mount --bind /dev "$root/dev"
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C.UTF-8 \
        chroot "$root" /bin/sh /opt/canopy/prepare.sh >"$root.prepare.log" 2>&1 || rc=$?
    release_mounts "$root"
    rm -rf "${root:?}"/tmp/*
    if ((rc)); then
        tail -n 30 "$root.prepare.log" >&2
        die "prepare.sh failed in $root (full log: $root.prepare.log)"
    fi
}

import_image() {
    local lang=$1 root=$2 tag=$3 stamp=$4 file
    strip_toolchain "$lang" "$root"
    rm -rf "$root"/opt/canopy
    runner_files "$lang" | while read -r file; do
        install -D -m 0644 "$here/$lang/$file" "$root/opt/canopy/$file"
    done
    # Compiled runtimes precompile their runner's parts once, here, as the Dockerfile's RUN does.
    if [[ -f $root/opt/canopy/prepare.sh ]]; then
        timed "$lang: prepare.sh" prepare_in_root "$root"
    fi
    local changes=() var previous
    # docker import starts from an empty config, so PATH has to be spelled out like any other variable.
    for var in PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PORT=8080 $(env_for "$lang"); do
        changes+=(--change "ENV $var")
    done
    previous=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
    # Numeric owner keeps the tar independent of the host's user database.
    tar -C "$root" --numeric-owner --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -c . |
        docker import \
            --change 'USER 65534:65534' \
            "${changes[@]}" \
            --change 'EXPOSE 8080' \
            --change 'WORKDIR /app' \
            --change "LABEL ${stamp% }" \
            --change "CMD $(cmd_for "$lang")" \
            - "$tag" >/dev/null
    # The replaced image would linger as <none>; one still used by a container stays, which is fine.
    if [[ -n $previous && $previous != "$(docker image inspect -f '{{.Id}}' "$tag")" ]]; then
        docker image rm "$previous" >/dev/null 2>&1 || true
    fi
}

# What an image was made from, as labels; any difference means a re-import. The script's own hash
# covers the image config (env, cmd) that only this script sets.
labels=(canopy.runner.sha256 canopy.rootfs canopy.builder.sha256)

build() {
    local lang=$1 tag="canopy-runtime-$1:1" packages key root values stamp="" template="" current i
    packages=$(packages_for "$lang")
    [[ -n $(runner_files "$lang") ]] || die "no runner in $here/$lang"
    key=$(printf '%s %s %s' "$suite" "$packages" "$recipe" | sha256sum | cut -c1-12)
    root="$cache_dir/rootfs-$lang-$key"
    values=("$(runner_sha "$lang")" "$key" "$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)")
    for i in "${!labels[@]}"; do stamp+="${labels[i]}=${values[i]} "; done

    for i in "${!labels[@]}"; do template+="${labels[i]}={{index .Config.Labels \"${labels[i]}\"}} "; done
    current=$(docker image inspect -f "$template" "$tag" 2>/dev/null || true)
    if ((!force)) && [[ $current == "$stamp" ]]; then
        log "$tag is up to date (runner ${values[0]:0:12}, rootfs $key); --force re-imports"
        return
    fi

    log "building $tag"
    local start=$EPOCHREALTIME
    if ((fresh)) || [[ ! -d $root ]]; then
        rm -rf "$root"
        timed "$lang: debootstrap + strip" bootstrap_rootfs "$packages" "$root"
    else
        log "reusing cached root $root"
    fi
    timed "$lang: import" import_image "$lang" "$root" "$tag" "$stamp"
    log "$(printf '%-26s %7s  (%s)' "$lang: total" "$(seconds_since "$start")" \
        "$(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}')")"
}

ensure_tools
case $target in
    all) for lang in python node go csharp ruby rust; do build "$lang"; done ;;
    *) build "$target" ;;
esac
