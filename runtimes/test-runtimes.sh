#!/usr/bin/env bash
# Runs each runtime image the way the worker does (hardened, private network, code mounted read-only)
# and checks docs/runtime-contract.md over HTTP from the host. Exits non-zero on any mismatch.
#
#   runtimes/test-runtimes.sh [python|node|go|csharp|ruby|rust|all]
#
# Needs the images (runtimes/build-offline.sh), a Docker engine (scripts/ensure-docker), curl and python3.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
net=canopy-test-net
target=${1:-all}
case $target in
    python | node | go | csharp | ruby | rust) langs=("$target") ;;
    all) langs=(python node go csharp ruby rust) ;;
    *) echo "usage: $0 [python|node|go|csharp|ruby|rust|all]" >&2; exit 2 ;;
esac

bridge=canopy-test0
# Replies to the host's own connections are ESTABLISHED; only connections a container opens are NEW.
guard_rule=(INPUT -i "$bridge" -m conntrack --ctstate NEW -j DROP)

failures=0
checks=0
run_label="canopy.test.run=$$-$RANDOM"
added_guard=0
listener_pid=
work=$(mktemp -d -t canopy-test.XXXXXX)
cleanup() {
    docker ps -aq --filter "label=$run_label" | xargs -r docker rm -f >/dev/null 2>&1 || true
    [[ -n $listener_pid ]] && kill "$listener_pid" 2>/dev/null
    ((added_guard)) && iptables -D "${guard_rule[@]}" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=runtimes/test-lib.sh
source "$here/test-lib.sh"

binary_sha=$(python3 -c 'import hashlib; print(hashlib.sha256(bytes(range(256)) * 16).hexdigest())')
# A real outside address the host itself can reach, so "no egress" is not just "no internet here".
mirror_ip=$(getent ahostsv4 deb.debian.org 2>/dev/null | awk 'NR == 1 { print $1 }')

test_fixture() { # test_fixture LANG PEER_IP
    local lang=$1 peer=$2 image="canopy-runtime-$1:1" id ip base ready
    echo "== $image: fixture runtimes/testdata/$lang"
    id=$(run_container "$image" "$here/testdata/$lang")
    ip=$(ip_of "$id")
    if ! ready=$(wait_healthy "$id" "$ip"); then
        fail "$lang: container healthy" "see logs above"
        return
    fi
    pass "$lang: host reaches $ip:8080 on --internal $net, healthy after ${ready}s"
    base="http://$ip:8080"

    request health "$base/__canopy/health"
    expect "$lang: GET /__canopy/health is 200 ok" "200 ok" "$(status_of health) $(body_of health)"

    request get "$base/greet?mode=echo&name=Ada&name=Grace&empty="
    expect "$lang: GET ?name=Ada&name=Grace reaches the handler (last value wins)" \
        '200 "Grace"' "$(status_of get) $(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["queryParams"]["name"]))' "$work/get.body" 2>&1)"
    expect_json "$lang: request fields method/path/query/queryParams" \
        '{"method":"GET","path":"/greet","query":"mode=echo&name=Ada&name=Grace&empty=","queryParams":{"mode":"echo","name":"Grace","empty":""},"contentType":null,"json":null}' \
        "$work/get.body"

    request post "$base/?mode=echo" -H 'Content-Type: application/json' --data-binary '{"n":[1,2.5,"x"],"u":"caf\u00e9 ☕"}'
    expect "$lang: POST JSON is 200 application/json" "200 application/json" \
        "$(status_of post) $(header_of post content-type)"
    expect "$lang: POST JSON body echoed" '{"n": [1, 2.5, "x"], "u": "café ☕"}' "$(json_field "$work/post.body" json)"

    request chunked "$base/?mode=echo" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
        --data-binary '{"chunked":true}'
    expect "$lang: chunked request body reaches the handler" '{"chunked": true}' "$(json_field "$work/chunked.body" json)"

    request binary "$base/?mode=binary"
    expect "$lang: binary is 200 application/octet-stream, 4096 bytes" "200 application/octet-stream 4096" \
        "$(status_of binary) $(header_of binary content-type) $(header_of binary content-length)"
    expect "$lang: binary round-trips byte for byte (sha256)" "$binary_sha" \
        "$(sha256sum <"$work/binary.body" | cut -d' ' -f1)"

    local raised
    raised=$(raise_message "$lang")
    request raise "$base/?mode=raise"
    expect "$lang: exception gives 500 text/plain" "500 text/plain; charset=utf-8" \
        "$(status_of raise) $(header_of raise content-type)"
    expect "$lang: X-Canopy-Error carries the message" "$raised" "$(header_of raise x-canopy-error)"
    expect "$lang: 500 body is error: <message>" "error: $raised" "$(body_of raise)"

    request uraise "$base/?mode=unicode-raise"
    expect "$lang: X-Canopy-Error is one ASCII line" \
        "$(unicode_prefix "$lang")d\\u00e9j\\u00e0 vu \\u2603 second line" "$(header_of uraise x-canopy-error)"

    request string "$base/?mode=string"
    expect "$lang: string gives 200 text/plain; charset=utf-8" "200 text/plain; charset=utf-8 plain string" \
        "$(status_of string) $(header_of string content-type) $(body_of string)"

    request json "$base/?mode=json"
    expect "$lang: JSON value gives 200 application/json" "200 application/json" \
        "$(status_of json) $(header_of json content-type)"
    expect_json "$lang: JSON value body" '[1, "two", {"three": 3}, null, true]' "$work/json.body"

    request none "$base/?mode=none"
    expect "$lang: None/undefined gives 200 with an empty body" "200 0 0" \
        "$(status_of none) $(header_of none content-length) $(wc -c <"$work/none.body")"

    request status "$base/?mode=status" -X PUT
    expect "$lang: response object sets status and headers" "201 yes text/plain; charset=utf-8 created" \
        "$(status_of status) $(header_of status x-fixture) $(header_of status content-type) $(body_of status)"

    # Two requests in one curl run: the second must reuse the first connection.
    local connects
    connects=$(curl -s --max-time 10 -o /dev/null -o /dev/null -w '%{num_connects} ' \
        "$base/?mode=string" "$base/?mode=binary")
    expect "$lang: HTTP/1.1 keep-alive reuses the connection" "1 0" "${connects% }"

    # A slow task must not hold up another one sent meanwhile on a second connection.
    curl -s --max-time 10 -o /dev/null "$base/?mode=sleep&seconds=2" &
    local sleeper=$! start
    sleep 0.3
    start=$EPOCHREALTIME
    request during "$base/?mode=string"
    expect "$lang: a request during a 2 s handler answers within 1 s" "200 1" \
        "$(status_of during) $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print (b - a < 1) ? 1 : 0 }')"
    wait "$sleeper"

    # After each response the runner kills (and, as PID 1, collects) what the function left running.
    # One connection, as the worker's pooled client does: the second task is read after the reaping.
    local statuses
    statuses=$(curl -s --max-time 10 -o "$work/fork.body" -o "$work/procs.body" -w '%{http_code} ' \
        "$base/?mode=fork" "$base/?mode=procs")
    expect "$lang: a process the function left running is gone after the response" "200 200 forked []" \
        "${statuses% } $(body_of fork) $(tr -d ' \n' <"$work/procs.body")"

    request fs "$base/?mode=fs"
    expect "$lang: runs as 65534, writes only /tmp" '65534 true false false' \
        "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["uid"], *(str(d[k]).lower() for k in ("tmp","root","app")))' "$work/fs.body" 2>&1)"

    request egress "$base/?mode=egress&host=1.1.1.1&port=80"
    expect "$lang: no egress to 1.1.1.1:80" false "$(json_field "$work/egress.body" connected)"
    if [[ -n $mirror_ip ]]; then
        request egress2 "$base/?mode=egress&host=$mirror_ip&port=80"
        expect "$lang: no egress to the apt mirror $mirror_ip:80" false "$(json_field "$work/egress2.body" connected)"
    fi

    request peer "$base/?mode=egress&host=$peer&port=8080"
    expect "$lang: no connection to another function's container ($peer:8080)" false \
        "$(json_field "$work/peer.body" connected)"
    local addr
    for addr in "${host_addrs[@]}"; do
        request hostc "$base/?mode=egress&host=$addr&port=$listener_port"
        if ((guarded)); then
            expect "$lang: no connection to the host ($addr:$listener_port)" false "$(json_field "$work/hostc.body" connected)"
        else
            echo "  WARN  $lang: container -> host $addr:$listener_port connected=$(json_field "$work/hostc.body" connected)"
        fi
    done

    expect "$lang: runner still running after handler errors" true "$(docker inspect -f '{{.State.Running}}' "$id")"
    local start=$EPOCHREALTIME
    docker stop -t 10 "$id" >/dev/null
    expect "$lang: docker stop takes under 3 s (SIGTERM handled as PID 1)" 1 \
        "$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print (b - a < 3) ? 1 : 0 }')"
}

test_example() { # test_example LANG ID IP
    local lang=$1 id=$2 ip=$3
    echo "== canopy-runtime-$lang:1: example examples/$lang-hello"
    wait_healthy "$id" "$ip" >/dev/null || { fail "$lang example: healthy" "see logs above"; return; }
    request hello "http://$ip:8080/?name=Ada"
    expect "$lang example: GET ?name=Ada greets" "200 Hello, Ada!" "$(status_of hello) $(body_of hello)"
    request hpost "http://$ip:8080/" -H 'Content-Type: application/json' -d '{"x":1}'
    expect_json "$lang example: POST echoes the JSON body" '{"you sent": {"x": 1}}' "$work/hpost.body"
}

test_broken() {
    local lang=$1 id ip want
    echo "== canopy-runtime-$lang:1: entry point that fails to load"
    id=$(run_container "canopy-runtime-$lang:1" "$here/testdata/$lang/broken")
    ip=$(ip_of "$id")
    wait_healthy "$id" "$ip" >/dev/null || { fail "$lang broken: still healthy" "see logs above"; return; }
    pass "$lang broken: health still answers 200 ok"
    want=$(broken_message "$lang")
    request broken "http://$ip:8080/"
    # A glob: compilers' messages carry positions and wording that may vary by version.
    expect_match "$lang broken: a task gets 500 with the load error" "500 $want" \
        "$(status_of broken) $(header_of broken x-canopy-error)"
    expect_match "$lang broken: the 500 body is error: <message>" "error: ${want%%\*}*" "$(body_of broken)"
}

# A function with vendored dependencies (runtimes/testdata/<lang>/vendored) compiles at cold start
# on the private network, so from vendor/ alone.
test_vendored() {
    local lang=$1 id ip ready
    echo "== canopy-runtime-$lang:1: fixture with vendored dependencies"
    id=$(run_container "canopy-runtime-$lang:1" "$here/testdata/$lang/vendored")
    ip=$(ip_of "$id")
    ready=$(wait_healthy "$id" "$ip") || { fail "$lang vendored: healthy" "see logs above"; return; }
    request vendored "http://$ip:8080/"
    expect "$lang vendored: compiled without network, healthy after ${ready}s, answers" \
        "200 hello canopy from vendor" "$(status_of vendored) $(body_of vendored)"
}

# Egress must be checked against an address the same image *can* reach on an ordinary bridge,
# otherwise a host without internet would make the no-egress checks pass trivially.
egress_control() {
    local lang=$1 id ip
    id=$(run_container "canopy-runtime-$lang:1" "$here/testdata/$lang" bridge)
    ip=$(ip_of "$id")
    wait_healthy "$id" "$ip" >/dev/null || return 0
    request control "http://$ip:8080/?mode=egress&host=1.1.1.1&port=80"
    if [[ $(json_field "$work/control.body" connected) == true ]]; then
        echo "  info  control: on the default bridge the same container does reach 1.1.1.1:80"
    else
        echo "  info  control: even the default bridge has no route to 1.1.1.1:80 here; no-egress checks are weak"
    fi
    docker rm -f "$id" >/dev/null
}

command -v curl >/dev/null || { echo "curl is required" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "no Docker engine answers (run scripts/ensure-docker)" >&2; exit 1; }
for lang in "${langs[@]}"; do
    docker image inspect "canopy-runtime-$lang:1" >/dev/null 2>&1 ||
        { echo "missing canopy-runtime-$lang:1 (run runtimes/build-offline.sh $lang)" >&2; exit 1; }
done
ensure_network
guarded=0
ensure_host_guard && guarded=1
start_listener
gateway=$(docker network inspect -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' "$net")
host_addrs=("$gateway")
main_ip=$(ip -4 route get 1.1.1.1 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "src") print $(i + 1) }')
[[ -n $main_ip ]] && host_addrs+=("$main_ip")

for lang in "${langs[@]}"; do
    # The example runs alongside the fixture, so it doubles as the "other function" to isolate from.
    example=$(run_container "canopy-runtime-$lang:1" "$root/examples/$lang-hello")
    test_fixture "$lang" "$(ip_of "$example")"
    test_example "$lang" "$example" "$(ip_of "$example")"
    test_broken "$lang"
    if [[ -d $here/testdata/$lang/vendored ]]; then test_vendored "$lang"; fi
done
egress_control "${langs[0]}"

echo
if ((failures)); then
    echo "FAILED: $failures of $checks checks"
    exit 1
fi
echo "all $checks checks passed"
