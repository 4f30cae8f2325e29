# Sourced by bench/dispatch.sh: the processes of one run (PostgreSQL, pgbench, dispatcher,
# workers, graphile-worker), started into $RUN and stopped by `cleanup` (the EXIT trap).
# shellcheck shell=bash disable=SC2154  # variables come from dispatch.sh

WORKER_PIDS=()
DISPATCHER_PID=
FG_PID=
PG_STARTED=0
PG_AS=()

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

short_sha() { sha256sum "$1" | cut -c1-12; }

json_skip() {
  python3 -c 'import json,sys; print(json.dumps({"status": "skipped", "reason": sys.argv[1]}))' "$1"
}

# psql_q DB ARGS…: psql as the cluster's superuser over loopback.
psql_q() {
  local db=$1; shift
  "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U canopy -d "$db" -v ON_ERROR_STOP=1 -q "$@"
}

# run_fg CMD…: runs a long command as a waited-for child, so that a signal to the script runs
# its trap at once (bash defers traps until a foreground command ends) and cleanup can stop it.
run_fg() {
  local rc=0
  "$@" &
  FG_PID=$!
  wait "$FG_PID" || rc=$?
  FG_PID=
  return "$rc"
}

# stop_pid PID GRACE_S: SIGTERM, then SIGKILL after the grace period.
stop_pid() {
  local pid=$1 grace=${2:-10} i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    sleep 0.1
  done
  echo "dispatch.sh: pid $pid ignored SIGTERM for ${grace}s; killing it" >&3
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

start_postgres() {
  PG_DIR=$RUN/pg
  mkdir -p "$PG_DIR"
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$PG_DIR"
    PG_AS=(runuser -u postgres --)
  fi
  PG_PORT=$(free_port)
  "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U canopy --auth=trust -E UTF8 --no-locale \
    >"$RUN/initdb.log" 2>&1 || { cat "$RUN/initdb.log" >&2; die "initdb failed"; }
  # Default durability on purpose (fsync, synchronous_commit, full_page_writes stay on).
  local options="-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c max_connections=400"
  options+=" -c shared_buffers=256MB -c fsync=on -c synchronous_commit=on -c full_page_writes=on"
  # For profiling only, e.g. "-c shared_preload_libraries=pg_stat_statements".
  options+=" ${CANOPY_BENCH_PG_OPTIONS:-}"
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 -o "$options" start \
    >/dev/null || { cat "$PG_DIR/postgres.log" >&2; die "PostgreSQL did not start"; }
  PG_STARTED=1
}

stop_postgres() {
  [ "$PG_STARTED" = 1 ] || return 0
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
    || "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
  PG_STARTED=0
}

# run_pgbench CLIENTS: writes results/pgbench-c<CLIENTS>.json (1 client: percentiles from the log).
run_pgbench() {
  local clients=$1 jobs=2 text=$RUN/pgbench-c$1.txt log_args=()
  [ "$clients" -ge 2 ] || jobs=1
  if [ ! -f "$RUN/insert.sql" ]; then
    psql_q pgbench_db -c "CREATE TABLE bench_insert (id bigserial PRIMARY KEY, payload text)"
    echo "INSERT INTO bench_insert (payload) VALUES ('x');" >"$RUN/insert.sql"
  fi
  [ "$clients" != 1 ] || log_args=(-l "--log-prefix=$RUN/pgbench-log")
  run_fg "$PG_BIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U canopy -n -M prepared \
    -f "$RUN/insert.sql" -c "$clients" -j "$jobs" -T "$ROUND_SECONDS" "${log_args[@]}" pgbench_db \
    >"$text" 2>&1 || { cat "$text" >&2; die "pgbench -c $clients failed"; }
  local tps avg failed extra=""
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$text" | head -n 1)
  avg=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$text" | head -n 1)
  failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$text" | head -n 1)
  [ -n "$tps" ] && [ -n "$avg" ] || { cat "$text" >&2; die "cannot read pgbench's output"; }
  if [ "$clients" = 1 ]; then
    # Per-transaction log: field 3 is the latency in µs.
    extra=$(cat "$RUN"/pgbench-log.* | awk '{print $3}' | sort -n | awk '
      { v[NR] = $1 }
      END { if (NR == 0) exit; r50 = int(NR * 0.50); if (r50 < NR * 0.50) r50++;
            r99 = int(NR * 0.99); if (r99 < NR * 0.99) r99++;
            printf ", \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f", v[r50] / 1000, v[r99] / 1000, v[NR] / 1000 }')
    rm -f "$RUN"/pgbench-log.*
  fi
  printf '{"clients": %s, "tps": %s, "latency_avg_ms": %s, "failed": %s%s}\n' \
    "$clients" "$tps" "$avg" "${failed:-0}" "$extra" >"$RUN/results/pgbench-c$clients.json"
  printf 'pgbench        clients=%-4s tps=%-10s latency avg=%s ms%s\n' "$clients" "$tps" "$avg" "$extra"
}

start_dispatcher() {
  local port i
  port=$(free_port)
  BASE=http://127.0.0.1:$port
  RUST_LOG=${CANOPY_BENCH_DISPATCHER_LOG:-warn} "$DISPATCHER_BIN" --listen "127.0.0.1:$port" \
    --database-url "postgres://canopy@127.0.0.1:$PG_PORT/canopy_bench" \
    --auth-auto-activate true ${MESSAGE_RATE:+--worker-message-rate "$MESSAGE_RATE"} "${DISPATCHER_ARGS[@]}" \
    >"$RUN/dispatcher.log" 2>&1 &
  DISPATCHER_PID=$!
  for ((i = 0; i < 600; i++)); do
    kill -0 "$DISPATCHER_PID" 2>/dev/null || { tail -n 30 "$RUN/dispatcher.log" >&2; die "the dispatcher exited"; }
    curl -sf -o /dev/null "$BASE/readyz" && return 0
    sleep 0.1
  done
  tail -n 30 "$RUN/dispatcher.log" >&2
  die "the dispatcher was not ready within 60 s"
}

stop_dispatcher() {
  stop_pid "$DISPATCHER_PID" 15
  DISPATCHER_PID=
}

# One `canopy-worker run --executor noop` per node in $BENCH_WORKER_NODES ("id:token id:token").
start_workers() {
  local entry i=0
  for entry in $BENCH_WORKER_NODES; do
    i=$((i + 1))
    CANOPY_WORKER_NODE_TOKEN=${entry#*:} RUST_LOG=warn "$WORKER_BIN" \
      --config "$RUN/no-such-worker.toml" run --executor noop \
      --dispatcher "$BASE" --node-id "${entry%%:*}" --max-concurrency 512 --memory-mb 4096 \
      --cache-dir "$RUN/worker-$i-cache" >"$RUN/worker-$i.log" 2>&1 &
    WORKER_PIDS+=($!)
  done
}

stop_workers() {
  local pid
  for pid in "${WORKER_PIDS[@]}"; do stop_pid "$pid" 20; done
  WORKER_PIDS=()
}

# graphile-worker from npm into bench/.cache/graphile (only when missing); never fails the run.
run_graphile() {
  local dir=$REPO/bench/.cache/graphile out=$RUN/results/graphile.json installed=""
  skip() { json_skip "$1" >"$out"; echo "graphile-worker skipped: $1" >&2; }
  command -v node >/dev/null || { skip "node is not installed"; return 0; }
  if [ -f "$dir/node_modules/graphile-worker/package.json" ]; then
    installed=$(node -p "require('$dir/node_modules/graphile-worker/package.json').version" 2>/dev/null || true)
  fi
  if [ "$installed" != "$GRAPHILE_VERSION" ]; then
    command -v npm >/dev/null || { skip "npm is not installed"; return 0; }
    echo "installing graphile-worker@$GRAPHILE_VERSION into $dir" >&2
    mkdir -p "$dir"
    timeout 300 npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
      "graphile-worker@$GRAPHILE_VERSION" >"$RUN/npm.log" 2>&1 \
      || { skip "npm install failed: $(tail -n 1 "$RUN/npm.log")"; return 0; }
  fi
  GRAPHILE_DIR=$dir DATABASE_URL="postgres://canopy@127.0.0.1:$PG_PORT/graphile_db" \
    BENCH_SECONDS=$ROUND_SECONDS WARMUP_S=$WARMUP PRODUCERS=64 CONCURRENCY=64 OUT=$out \
    run_fg timeout $((ROUND_SECONDS + WARMUP + 120)) node "$REPO/bench/dispatch/graphile/bench.cjs" \
    >"$RUN/graphile.log" 2>&1 \
    || { skip "the node script failed: $(tail -n 1 "$RUN/graphile.log")"; return 0; }
  tail -n 1 "$RUN/graphile.log"
}

cleanup() {
  local rc=$? pid
  set +e
  exec >&3 2>&3
  trap - INT TERM
  stop_pid "$FG_PID" 5
  for pid in "${WORKER_PIDS[@]}"; do stop_pid "$pid" 5; done
  stop_pid "$DISPATCHER_PID" 5
  stop_postgres
  if [ "${RUN_OK:-0}" = 1 ] && [ "$KEEP" = 0 ]; then
    rm -rf "$RUN"
  elif [ -n "${RUN:-}" ] && [ -d "$RUN" ]; then
    if [ "$KEEP" = 0 ]; then mv "$RUN/pg/postgres.log" "$RUN/" 2>/dev/null; rm -rf "$RUN/pg"; fi
    echo "dispatch.sh: logs and results kept in $RUN" >&3
  fi
  exit "$rc"
}
