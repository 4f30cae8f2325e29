# shellcheck shell=bash disable=SC2034,SC2154  # globals are shared with the sourcing script
# Helpers for runtimes/test-runtimes.sh (sourced): checks, HTTP requests with captured responses,
# containers started with the worker's flags. Expects $work, $net, $bridge, $run_label, $guard_rule.

pass() { checks=$((checks + 1)); printf '  ok    %s\n' "$1"; }
fail() { checks=$((checks + 1)) failures=$((failures + 1)); printf '  FAIL  %s\n        %s\n' "$1" "$2"; }
expect() { # expect DESCRIPTION EXPECTED ACTUAL
    if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1" "expected [$2], got [$3]"; fi
}
# JSON equality ignores formatting, which differs between the runtimes.
expect_json() { # expect_json DESCRIPTION EXPECTED_JSON FILE
    local got
    got=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), sort_keys=True))' "$3" 2>&1) || true
    expect "$1" "$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), sort_keys=True))' "$2")" "$got"
}
expect_match() { # expect_match DESCRIPTION GLOB ACTUAL
    # shellcheck disable=SC2053  # the glob is the point
    if [[ $3 == $2 ]]; then pass "$1"; else fail "$1" "expected [$2], got [$3]"; fi
}
json_field() { python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))[sys.argv[2]], ensure_ascii=False))' "$1" "$2" 2>&1 || true; }

# request NAME URL [curl args...]: leaves $work/NAME.{status,headers,body}.
request() {
    local name=$1 url=$2
    shift 2
    curl -sS --max-time 10 -D "$work/$name.headers" -o "$work/$name.body" -w '%{http_code}' "$@" "$url" \
        >"$work/$name.status" 2>"$work/$name.err" || echo "curl failed: $(cat "$work/$name.err")" >"$work/$name.status"
}
status_of() { cat "$work/$1.status"; }
body_of() { cat "$work/$1.body"; }
header_of() { # header_of NAME HEADER (case-insensitive, last one wins)
    tr -d '\r' <"$work/$1.headers" | awk -v h="$(tr '[:upper:]' '[:lower:]' <<<"$2")" -F': ' \
        'tolower($1) == h { sub(/^[^:]*: /, ""); v = $0 } END { print v }'
}

# The worker's network (docs/runtime-contract.md, "Networking (verified)"): internal (no egress),
# no traffic between containers, a fixed bridge name the host firewall can match.
ensure_network() {
    local want="true false $bridge" have
    if have=$(docker network inspect -f \
        '{{.Internal}} {{index .Options "com.docker.network.bridge.enable_icc"}} {{index .Options "com.docker.network.bridge.name"}}' \
        "$net" 2>/dev/null); then
        [[ $have == "$want" ]] && return
        echo "recreating $net (options were: $have)"
        docker network rm "$net" >/dev/null
    fi
    docker network create --internal \
        -o com.docker.network.bridge.enable_icc=false \
        -o com.docker.network.bridge.name="$bridge" "$net" >/dev/null
    echo "created network $net (--internal, icc off, bridge $bridge)"
}

# Containers must not open connections to the host either (its dispatcher, Postgres, ...). Docker has
# no option for that, so the worker's host adds one INPUT rule; we add the same for our bridge.
ensure_host_guard() {
    if [[ $(id -u) -ne 0 ]] || ! command -v iptables >/dev/null; then
        echo "  WARN  not root or no iptables: container -> host checks only warn"
        return 1
    fi
    if ! iptables -C "${guard_rule[@]}" 2>/dev/null; then
        iptables -I "${guard_rule[@]}"
        added_guard=1
    fi
}

# A TCP listener on all host addresses, to see whether a container can reach the host. Call it
# directly (not in $(...)) so listener_pid reaches cleanup; the port is in listener_port.
start_listener() {
    python3 -c '
import socket, sys
s = socket.socket(); s.bind(("0.0.0.0", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
while True:
    s.accept()[0].close()
' >"$work/listener.port" &
    listener_pid=$!
    for _ in $(seq 50); do [[ -s $work/listener.port ]] && break; sleep 0.1; done
    listener_port=$(cat "$work/listener.port")
}

# run_container IMAGE CODE_DIR [NETWORK]: the worker's hardening flags; prints the container id.
# /tmp is noexec but for the runtimes that compile the function into it and run the result.
run_container() {
    local id tmp=rw,size=64m
    case $1 in *-go:* | *-rust:*) tmp=rw,exec,size=64m ;; esac
    id=$(docker run -d --label "$run_label" \
        --read-only --tmpfs "/tmp:$tmp" --user 65534:65534 \
        --cap-drop ALL --security-opt no-new-privileges \
        --pids-limit 128 --memory 256m --cpus 1 \
        --network "${3:-$net}" -v "$2:/app:ro" "$1")
    echo "$id"
}
ip_of() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }

wait_healthy() { # wait_healthy ID IP: up to 15 s (60 s for a compiled function), like the worker's
    local start=$EPOCHREALTIME tries=150
    case $(docker inspect -f '{{.Config.Image}}' "$1") in *-go:* | *-csharp:* | *-rust:*) tries=600 ;; esac
    for _ in $(seq "$tries"); do
        if [[ $(curl -s --max-time 1 "http://$2:8080/__canopy/health" 2>/dev/null) == ok ]]; then
            awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
            return 0
        fi
        [[ $(docker inspect -f '{{.State.Running}}' "$1") == true ]] || break
        sleep 0.1
    done
    echo "container $1 never became healthy; logs:" >&2
    docker logs "$1" 2>&1 | tail -n 20 >&2
    return 1
}

# What each runtime's fixture (runtimes/testdata/<lang>) fails with, as X-Canopy-Error shows it.
raise_message() {
    case $1 in
        python) echo "ValueError: boom requested" ;;
        node) echo "Error: boom requested" ;;
        go | rust) echo "boom requested" ;; # an error value, not an exception: no type name
        csharp) echo "InvalidOperationException: boom requested" ;;
        ruby) echo "ArgumentError: boom requested" ;;
    esac
}
unicode_prefix() { # the type before "déjà vu ☃ second line"
    case $1 in
        python | ruby) echo "RuntimeError: " ;;
        node) echo "RangeError: " ;;
        go | rust) echo "panic: " ;;
        csharp) echo "ArgumentException: " ;;
    esac
}
broken_message() { # a glob for runtimes/testdata/<lang>/broken
    case $1 in
        python) echo "loading handler.py failed: ImportError: broken on purpose" ;;
        node) echo "loading handler.js failed: Error: broken on purpose" ;;
        ruby) echo "loading handler.rb failed: LoadError: broken on purpose" ;;
        go) echo "compiling handler.go failed: *handler.go:8:*undefined: undefinedOnPurpose*" ;;
        csharp) echo "compiling Handler.cs failed: *Handler.cs(*error CS0103*undefinedOnPurpose*" ;;
        rust) echo "compiling handler.rs failed: *handler.rs:*cannot find value*undefined_on_purpose*" ;;
    esac
}
