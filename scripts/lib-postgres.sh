# Sourced by scripts: starts a throwaway PostgreSQL cluster on a free loopback port and exports
# DATABASE_URL. PostgreSQL refuses to run as root, so under root it runs as `postgres`.
# Call `stop_throwaway_postgres` (or let the EXIT trap do it) to remove it.

find_pg_bin() {
  if [ -n "${CANOPY_PG_BIN_DIR:-}" ]; then echo "$CANOPY_PG_BIN_DIR"; return; fi
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return; fi
  if command -v pg_ctl >/dev/null 2>&1; then dirname "$(command -v pg_ctl)"; return; fi
  echo "PostgreSQL server binaries not found: apt-get install postgresql (or set CANOPY_PG_BIN_DIR)" >&2
  return 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_throwaway_postgres() {
  local bin; bin=$(find_pg_bin) || return 1
  PG_TMP=$(mktemp -d /tmp/canopy-pg.XXXXXX)
  PG_PORT=$(free_port)
  local as=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$PG_TMP"
    as=(runuser -u postgres --)
  fi
  PG_AS=("${as[@]}")
  PG_BIN=$bin
  "${as[@]}" "$bin/initdb" -D "$PG_TMP/data" -U canopy --auth=trust -E UTF8 --no-locale >"$PG_TMP/initdb.log" 2>&1 \
    || { cat "$PG_TMP/initdb.log" >&2; return 1; }
  # Tests create and drop many databases: trade durability for speed in this throwaway cluster.
  "${as[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_TMP -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
    start >/dev/null || { cat "$PG_TMP/postgres.log" >&2; return 1; }
  export DATABASE_URL="postgres://canopy@127.0.0.1:$PG_PORT/postgres"
  echo "throwaway PostgreSQL on 127.0.0.1:$PG_PORT ($PG_TMP)" >&2
}

stop_throwaway_postgres() {
  if [ -n "${PG_TMP:-}" ] && [ -d "$PG_TMP/data" ]; then
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_TMP"
  fi
}

# Installs PostgreSQL's server binaries when they are missing and we can (root with apt).
ensure_postgres_binaries() {
  if find_pg_bin >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing PostgreSQL server binaries (apt-get install postgresql)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >/dev/null
  fi
  find_pg_bin >/dev/null
}
