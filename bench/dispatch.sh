#!/usr/bin/env bash
# Dispatch benchmark, everything on loopback: a throwaway PostgreSQL 15 cluster with DEFAULT
# durability; pgbench's 1-row INSERT ceiling; the release dispatcher with no-op workers
# (create→result) and with the benchmark's own protocol client (create→assign); graphile-worker
# on the same cluster. Prints one summary table and writes it to bench/results/dispatch-DATE.md.
# See bench/README.md ("Dispatch throughput") for what each number means.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GRAPHILE_VERSION=0.17.3

usage() {
  cat <<EOF
usage: bench/dispatch.sh [options]

  --seconds N             measured seconds per round (default 10)
  --warmup N              uncounted warm-up seconds before each round (default 2)
  --clients LIST          create→result client counts (default 1,8,64,256)
  --assign-clients LIST   create→assign client counts (default 1,64)
  --workers N             canopy-worker --executor noop processes (default 1)
  --threads N             tokio worker threads of the load generator (default 1)
  --dispatcher-bin PATH   default \$CANOPY_DISPATCHER_BIN or target/release/canopy-dispatcher
  --worker-bin PATH       default \$CANOPY_WORKER_BIN or target/release/canopy-worker
  --bench-bin PATH        default \$CANOPY_BENCH_BIN or target/release/canopy-bench-dispatch
                          (built with cargo when missing)
  --pg-bin DIR            default \$CANOPY_PG_BIN_DIR or /usr/lib/postgresql/15/bin
  --worker-message-rate N passed to the dispatcher (default: the dispatcher's own; see bench/README.md)
  --dispatcher-arg ARG    one more dispatcher flag (repeatable), e.g. --dispatcher-arg=--http-workers=2
  --skip-pgbench | --skip-graphile
  --out FILE              default bench/results/dispatch-\$(date +%F).md
  --keep                  keep the run directory (logs, JSON, database) after the run
  --note TEXT             a line for the report's header (e.g. where the binaries were built from)
EOF
}

ROUND_SECONDS=10
WARMUP=2
CLIENTS=1,8,64,256
ASSIGN_CLIENTS=1,64
WORKERS=1
THREADS=1
DISPATCHER_BIN=${CANOPY_DISPATCHER_BIN:-$REPO/target/release/canopy-dispatcher}
WORKER_BIN=${CANOPY_WORKER_BIN:-$REPO/target/release/canopy-worker}
BENCH_BIN=${CANOPY_BENCH_BIN:-$REPO/target/release/canopy-bench-dispatch}
PG_BIN=${CANOPY_PG_BIN_DIR:-/usr/lib/postgresql/15/bin}
MESSAGE_RATE=
DISPATCHER_ARGS=()
SKIP_PGBENCH=0
SKIP_GRAPHILE=0
OUT=$REPO/bench/results/dispatch-$(date +%F).md
KEEP=0
NOTE=
COMMAND_LINE="bench/dispatch.sh$(printf " %q" "$@")"

need() { [ $# -ge 2 ] || { echo "dispatch.sh: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  arg=$1
  case $arg in
    --*=*) set -- "${arg%%=*}" "${arg#*=}" "${@:2}"; continue ;;
  esac
  case $arg in
    --seconds) need "$@"; ROUND_SECONDS=$2; shift 2 ;;
    --warmup) need "$@"; WARMUP=$2; shift 2 ;;
    --clients) need "$@"; CLIENTS=$2; shift 2 ;;
    --assign-clients) need "$@"; ASSIGN_CLIENTS=$2; shift 2 ;;
    --workers) need "$@"; WORKERS=$2; shift 2 ;;
    --threads) need "$@"; THREADS=$2; shift 2 ;;
    --dispatcher-bin) need "$@"; DISPATCHER_BIN=$2; shift 2 ;;
    --worker-bin) need "$@"; WORKER_BIN=$2; shift 2 ;;
    --bench-bin) need "$@"; BENCH_BIN=$2; shift 2 ;;
    --pg-bin) need "$@"; PG_BIN=$2; shift 2 ;;
    --worker-message-rate) need "$@"; MESSAGE_RATE=$2; shift 2 ;;
    --dispatcher-arg) need "$@"; DISPATCHER_ARGS+=("$2"); shift 2 ;;
    --skip-pgbench) SKIP_PGBENCH=1; shift ;;
    --skip-graphile) SKIP_GRAPHILE=1; shift ;;
    --out) need "$@"; OUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --note) need "$@"; NOTE=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "dispatch.sh: unknown option $arg" >&2; usage >&2; exit 2 ;;
  esac
done

# fd 3 is the terminal's stderr, also inside commands whose output goes to a log (traps run there).
exec 3>&2
say() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'dispatch.sh: %s\n' "$*" >&2; exit 1; }
# shellcheck source=bench/dispatch/lib.sh
. "$REPO/bench/dispatch/lib.sh"

# ---- preflight: every binary, with the fix when one is missing -------------------------------
[ -x "$DISPATCHER_BIN" ] || die "dispatcher binary not found: $DISPATCHER_BIN
  build it: cargo build --release -p canopy-dispatcher (or pass --dispatcher-bin / CANOPY_DISPATCHER_BIN)"
[ -x "$WORKER_BIN" ] || die "worker binary not found: $WORKER_BIN
  build it: cargo build --release -p canopy-worker (or pass --worker-bin / CANOPY_WORKER_BIN)"
for tool in initdb pg_ctl postgres psql createdb pgbench; do
  [ -x "$PG_BIN/$tool" ] || die "$PG_BIN/$tool not found: apt-get install postgresql-15 (or pass --pg-bin DIR)"
done
command -v python3 >/dev/null || die "python3 is needed (to pick free ports)"
if [ ! -x "$BENCH_BIN" ]; then
  command -v cargo >/dev/null || die "load generator not found: $BENCH_BIN, and no cargo to build it"
  say "building the load generator (cargo build --release -p canopy-bench-dispatch)"
  (cd "$REPO" && SQLX_OFFLINE=true cargo build --release -p canopy-bench-dispatch) \
    || die "cannot build the load generator"
  BENCH_BIN=$REPO/target/release/canopy-bench-dispatch
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge 4096 ] || echo "dispatch.sh: warning: only $(ulimit -n) file descriptors" >&2

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RUN=$(mktemp -d /tmp/canopy-bench-dispatch.XXXXXX)
chmod 711 "$RUN"
mkdir -p "$RUN/results"
trap cleanup EXIT
trap 'echo "dispatch.sh: interrupted" >&3; exit 130' INT TERM
echo "run directory: $RUN" >&2

# ---- The load generator's own ceiling (an in-process server that answers at once) ---------------
say "calibration: the load generator alone"
run_fg "$BENCH_BIN" --threads "$THREADS" calibrate --clients 1,64 --seconds 3 --warmup-s 1 --out-dir "$RUN/results"

# ---- PostgreSQL --------------------------------------------------------------------------------
say "PostgreSQL: throwaway cluster, default durability"
start_postgres
PG_VERSION=$("$PG_BIN/postgres" --version)
PG_SETTINGS=$(psql_q postgres -Atc "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync','synchronous_commit','full_page_writes','wal_sync_method','max_connections','shared_buffers')")
echo "$PG_VERSION; $PG_SETTINGS" >&2
for db in pgbench_db canopy_bench graphile_db; do "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U canopy "$db"; done

# ---- Baseline A: pgbench -------------------------------------------------------------------------
if [ "$SKIP_PGBENCH" = 0 ]; then
  say "pgbench: one single-row INSERT per transaction, -M prepared, ${ROUND_SECONDS}s per run"
  run_pgbench 1
  run_pgbench 64
fi

# ---- Canopy: dispatcher, setup, real no-op workers ----------------------------------------------
say "dispatcher: $DISPATCHER_BIN"
start_dispatcher
run_fg "$BENCH_BIN" setup --base "$BASE" --worker-nodes "$WORKERS" --env-out "$RUN/bench.env"
set -a; . "$RUN/bench.env"; set +a

say "create→result: $WORKERS canopy-worker --executor noop --max-concurrency 512"
start_workers
run_fg "$BENCH_BIN" wait-nodes --base "$BASE" --count "$WORKERS" --timeout-s 30 \
  || die "the workers did not connect; see $RUN/worker-*.log"
run_fg "$BENCH_BIN" --threads "$THREADS" create-result --base "$BASE" --clients "$CLIENTS" \
  --seconds "$ROUND_SECONDS" --warmup-s "$WARMUP" --wait-s 30 --out-dir "$RUN/results"
stop_workers

say "create→assign: the load generator's own worker over the WebSocket"
run_fg "$BENCH_BIN" --threads "$THREADS" create-assign --base "$BASE" --clients "$ASSIGN_CLIENTS" \
  --seconds "$ROUND_SECONDS" --warmup-s "$WARMUP" --out-dir "$RUN/results"
stop_dispatcher

# ---- Baseline B: graphile-worker ------------------------------------------------------------------
if [ "$SKIP_GRAPHILE" = 0 ]; then
  say "graphile-worker $GRAPHILE_VERSION: concurrency 64, 64 producers, one addJob per call"
  run_graphile || true
else
  printf '{"status":"skipped","reason":"--skip-graphile"}\n' >"$RUN/results/graphile.json"
fi

# ---- Summary ---------------------------------------------------------------------------------------
say "summary"
DISPATCHER_VERSION=$("$DISPATCHER_BIN" --version 2>/dev/null || echo unknown)
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
NOTE_META=()
[ -z "$NOTE" ] || NOTE_META=(--meta "Note=$NOTE")
"$BENCH_BIN" report --dir "$RUN/results" --out "$OUT" --date "$(date +%F)" "${NOTE_META[@]}" \
  --meta "Command=\`$COMMAND_LINE\` (the script from the repository at $COMMIT; the binaries are identified by sha256 below; ${ROUND_SECONDS} s measured per round after ${WARMUP} s warm-up)" \
  --meta "PostgreSQL=$PG_VERSION, throwaway cluster on loopback: $PG_SETTINGS" \
  --meta "Dispatcher=$DISPATCHER_BIN ($DISPATCHER_VERSION, sha256 $(short_sha "$DISPATCHER_BIN")), RUST_LOG=warn, flags: --auth-auto-activate true ${MESSAGE_RATE:+--worker-message-rate $MESSAGE_RATE }${DISPATCHER_ARGS[*]:-}" \
  --meta "Workers=$WORKERS × $WORKER_BIN (sha256 $(short_sha "$WORKER_BIN")) run --executor noop --max-concurrency 512, RUST_LOG=warn; create→assign uses the load generator's own protocol client instead (1024 credits)" \
  --meta "Load average (1/5/15 min)=$LOAD_BEFORE before the run, $(cut -d' ' -f1-3 /proc/loadavg) after (anything else running on the machine shows here)" \
  --meta "Load generator=canopy-bench-dispatch, $THREADS tokio thread(s), one keep-alive HTTP/1.1 connection per client, closed loop; body {\"n\":1}"
echo "written: $OUT" >&2
RUN_OK=1
