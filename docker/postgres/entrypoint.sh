#!/bin/sh
# Entrypoint of the offline PostgreSQL image (docker/offline/postgres): on an empty PGDATA,
# initdb with POSTGRES_USER and POSTGRES_PASSWORD, password (scram) logins from anywhere, and
# POSTGRES_DB created; then PostgreSQL in the foreground, listening on every address.
set -eu
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA

# Names go into SQL unquoted-safe only: letters, digits, underscores.
for name in "$POSTGRES_USER" "$POSTGRES_DB"; do
    case $name in
        '' | *[!A-Za-z0-9_]*) echo "canopy-postgres: '$name' is not a plain name (letters, digits, _)" >&2; exit 1 ;;
    esac
done

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "canopy-postgres: set POSTGRES_PASSWORD (the database is reachable over the network)" >&2
        exit 1
    fi
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
        echo "CREATE DATABASE $POSTGRES_DB OWNER $POSTGRES_USER" |
            postgres --single -D "$PGDATA" postgres >/dev/null
    fi
    echo "canopy-postgres: initialised $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
fi

if [ "${1:-postgres}" = postgres ]; then
    [ $# -gt 0 ] && shift
    exec postgres -c listen_addresses='*' "$@"
fi
exec "$@"
