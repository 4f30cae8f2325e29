#!/usr/bin/env bash
# Idle-sockets benchmark: N authenticated, idle worker sessions on one release dispatcher, all on
# loopback, and the dispatcher's RSS per session beside the ≤ 16 KiB target (ARCHITECTURE §9).
#
#   bench/sockets.sh [--sockets 50000] [--rate 2000] [--idle-s 30] [--source-addrs 8]
#                    [--dispatcher PATH] [--client PATH] [--http-workers N] [--out FILE] [--clamp]
#                    [--max-in-flight 64] [--rust-log warn] [--log FILE] [--heap-profile FILE]
#
# Starts a throwaway PostgreSQL 15 (fsync off: this measures memory) and the dispatcher on it
# (RUST_LOG=warn), raises the open-file limits the sockets need, then runs canopy-bench-sockets:
# it registers N nodes through the API, opens one session per node from 127.0.0.2… and reports.
# Binaries: --dispatcher / CANOPY_DISPATCHER_BIN (default target/release/canopy-dispatcher) and
# --client / CANOPY_BENCH_SOCKETS_BIN (default target/release/canopy-bench-sockets; build it with
# `cargo build --release -p canopy-bench-sockets`). The report goes to
# bench/results/sockets-<date>.md unless --out says otherwise. --clamp lowers N to what the
# open-file limit allows instead of refusing. --log keeps the dispatcher's log; --heap-profile runs
# the dispatcher under heaptrack's preload library (same pid) and writes FILE.gz plus the top
# allocation sites at the heap's peak to FILE.txt (RSS figures are then inflated by heaptrack).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SOCKETS=50000
RATE=2000
IDLE_S=30
SOURCES=8
HTTP_WORKERS=""
CLAMP=0
KEEP_LOG=""
IN_FLIGHT=64
RUST_LOG_LEVEL=warn
HEAP_PROFILE=""
DISPATCHER=${CANOPY_DISPATCHER_BIN:-$ROOT/target/release/canopy-dispatcher}
CLIENT=${CANOPY_BENCH_SOCKETS_BIN:-$ROOT/target/release/canopy-bench-sockets}
OUT=$ROOT/bench/results/sockets-$(date +%F).md
COMMAND="bench/sockets.sh $*"
NOTES=()

die() { echo "sockets.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --sockets) SOCKETS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --idle-s) IDLE_S=$2; shift 2 ;;
    --source-addrs) SOURCES=$2; shift 2 ;;
    --dispatcher) DISPATCHER=$2; shift 2 ;;
    --client) CLIENT=$2; shift 2 ;;
    --http-workers) HTTP_WORKERS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --clamp) CLAMP=1; shift ;;
    --log) KEEP_LOG=$2; shift 2 ;;
    --max-in-flight) IN_FLIGHT=$2; shift 2 ;;
    --rust-log) RUST_LOG_LEVEL=$2; shift 2 ;;
    --heap-profile) HEAP_PROFILE=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ -x "$DISPATCHER" ] || die "no dispatcher at $DISPATCHER: cargo build --release -p canopy-dispatcher (or --dispatcher PATH)"
[ -x "$CLIENT" ] || die "no client at $CLIENT: cargo build --release -p canopy-bench-sockets (or --client PATH)"
[ "$SOCKETS" -ge 1 ] 2>/dev/null || die "--sockets must be a positive number"

# --- limits: every session is a file descriptor in the dispatcher and one in the client -------
sysctl_at_least() { # name minimum: raises a kernel setting only when it is below what is needed
  local name=$1 want=$2 have
  have=$(sysctl -n "$name")
  if [ "$have" -lt "$want" ]; then
    sysctl -qw "$name=$want" >/dev/null 2>&1 || die "$name is $have but $want is needed and it cannot be raised here"
    echo "raised $name from $have to $want"
  fi
}
want_fds=$((SOCKETS + 1024))
sysctl_at_least fs.file-max $((2 * SOCKETS + 65536))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$want_fds" ]; then
  sysctl_at_least fs.nr_open "$want_fds"
  ulimit -Hn "$want_fds" 2>/dev/null || true
fi
ulimit -Sn "$want_fds" 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"
have_fds=$(ulimit -Sn)
if [ "$have_fds" -lt $((SOCKETS + 256)) ]; then
  why="the open-file limit is $have_fds (hard $(ulimit -Hn)) but $SOCKETS sockets need about $want_fds per process"
  why="$why; raising the hard limit needs CAP_SYS_RESOURCE (e.g. docker run --ulimit nofile=200000:200000, or limits.conf)"
  [ "$CLAMP" = 1 ] || die "$why. Use --sockets $((have_fds - 256)) or --clamp."
  NOTES+=(--note "$SOCKETS sockets were asked for; $why, so --clamp lowered them to $((have_fds - 256))")
  SOCKETS=$((have_fds - 256))
  echo "sockets.sh: $why: --clamp lowers --sockets to $SOCKETS" >&2
fi
# Each source address has the ephemeral port range to itself: use enough of them.
read -r port_low port_high < <(sysctl -n net.ipv4.ip_local_port_range)
ports=$((port_high - port_low + 1 - 1000))
[ $((SOURCES * ports)) -ge "$SOCKETS" ] || SOURCES=$(( (SOCKETS + ports - 1) / ports ))
[ "$SOURCES" -le 250 ] || die "--source-addrs must be at most 250"
# actix-web accepts at most 25,600 connections per HTTP worker.
min_workers=$(( (SOCKETS + 1000 + 25599) / 25600 ))
[ -n "$HTTP_WORKERS" ] || HTTP_WORKERS=$(nproc)
[ "$HTTP_WORKERS" -ge "$min_workers" ] || HTTP_WORKERS=$min_workers
echo "limits: open files $have_fds per process, ports $port_low–$port_high per source address × $SOURCES, $HTTP_WORKERS HTTP workers"

# --- throwaway PostgreSQL (as `postgres` under root: it refuses to run as root) ----------------
PG_BIN=${CANOPY_PG_BIN_DIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$PG_BIN/initdb" ] || die "PostgreSQL server binaries not found (set CANOPY_PG_BIN_DIR)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
WORK=$(mktemp -d /tmp/canopy-sockets.XXXXXX)
AS=()
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$WORK"; AS=(runuser -u postgres --); fi
DISPATCHER_PID=""
stop_dispatcher() {
  if [ -n "$DISPATCHER_PID" ]; then
    kill -TERM "$DISPATCHER_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$DISPATCHER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$DISPATCHER_PID" 2>/dev/null || true
    wait "$DISPATCHER_PID" 2>/dev/null || true
    DISPATCHER_PID=""
  fi
}
cleanup() {
  stop_dispatcher
  if [ -d "$WORK/data" ]; then "${AS[@]}" "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
PG_PORT=$(free_port)
"${AS[@]}" "$PG_BIN/initdb" -D "$WORK/data" -U canopy --auth=trust -E UTF8 --no-locale >"$WORK/initdb.log" 2>&1 \
  || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
"${AS[@]}" "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/postgres.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $WORK -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" \
  start >/dev/null || { cat "$WORK/postgres.log" >&2; die "PostgreSQL did not start"; }
DATABASE_URL="postgres://canopy@127.0.0.1:$PG_PORT/postgres"
echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (fsync off)"

# --- the dispatcher --------------------------------------------------------------------------
PORT=$(free_port)
JWT_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
DISPATCHER_ARGS=(--listen "127.0.0.1:$PORT" --auth-auto-activate true --http-workers "$HTTP_WORKERS" --log-format text)
PRELOAD=()
if [ -n "$HEAP_PROFILE" ]; then
  HEAPTRACK_LIB=${HEAPTRACK_LIB:-/usr/lib/heaptrack/libheaptrack_preload.so}
  [ -f "$HEAPTRACK_LIB" ] || die "--heap-profile needs heaptrack (apt-get install heaptrack): no $HEAPTRACK_LIB"
  PRELOAD=(env LD_PRELOAD="$HEAPTRACK_LIB" DUMP_HEAPTRACK_OUTPUT="$WORK/heaptrack.raw")
fi
RUST_LOG=$RUST_LOG_LEVEL NO_COLOR=1 CANOPY_DATABASE_URL=$DATABASE_URL CANOPY_JWT_SECRET=$JWT_SECRET \
  "${PRELOAD[@]}" "$DISPATCHER" "${DISPATCHER_ARGS[@]}" >"$WORK/dispatcher.log" 2>&1 &
DISPATCHER_PID=$!
echo "dispatcher pid $DISPATCHER_PID: $DISPATCHER ${DISPATCHER_ARGS[*]} (RUST_LOG=$RUST_LOG_LEVEL)"

# --- the client --------------------------------------------------------------------------------
status=0
"$CLIENT" --dispatcher-url "http://127.0.0.1:$PORT" --dispatcher-pid "$DISPATCHER_PID" \
  --sockets "$SOCKETS" --rate "$RATE" --idle-s "$IDLE_S" --source-addrs "$SOURCES" --max-in-flight "$IN_FLIGHT" \
  --report "$OUT" --command "$COMMAND" "${NOTES[@]}" \
  --dispatcher-command "RUST_LOG=$RUST_LOG_LEVEL canopy-dispatcher ${DISPATCHER_ARGS[*]} (PostgreSQL 127.0.0.1, fsync off)" || status=$?

kill -0 "$DISPATCHER_PID" 2>/dev/null || { echo "the dispatcher exited during the run" >&2; status=1; }
stop_dispatcher
lines=$(wc -l <"$WORK/dispatcher.log")
echo "dispatcher log: $lines lines at $RUST_LOG_LEVEL or above (whole run, shutdown included); most frequent, numbers as N:"
# Group lines by message: without the timestamp, span fields, ids, numbers and quoted values.
{ sed -E 's/^[^ ]+ +//; s/[a-z_]+\{[^}]*\}: //g; s/[0-9a-f]{32}/ID/g; s/[0-9]+(\.[0-9]+)?/N/g; s/"[^"]*"/"…"/g' "$WORK/dispatcher.log" | cut -c1-150 \
    | sort | uniq -c | sort -rn | head -n 8; } || true
if [ -n "$KEEP_LOG" ]; then cp "$WORK/dispatcher.log" "$KEEP_LOG" && echo "dispatcher log kept in $KEEP_LOG"; fi
if [ -n "$HEAP_PROFILE" ] && [ -s "$WORK/heaptrack.raw" ]; then
  /usr/lib/heaptrack/libexec/heaptrack_interpret <"$WORK/heaptrack.raw" | gzip >"$HEAP_PROFILE.gz"
  heaptrack_print --print-peaks 1 --print-allocators 0 --print-leaks 0 --print-temporary 0 \
    --peak-limit 25 "$HEAP_PROFILE.gz" >"$HEAP_PROFILE.txt" 2>&1 || true
  echo "heap profile: $HEAP_PROFILE.gz, peak allocation sites in $HEAP_PROFILE.txt"
fi
exit "$status"
