#!/usr/bin/env bash
# A PostgreSQL 15 + pgvector server for the test suite, on 127.0.0.1, idempotent.
#
#   scripts/start_postgres.sh        # prints the URL; also written to var/pgtest/url
#
# What it does, each step only when needed (a second run takes well under a second):
#   1. PostgreSQL 15 from Debian (`postgresql-15`), if its binaries are missing.
#   2. pgvector, which Debian 12 does not package: Debian's own `pgvector` source package
#      (from the next release, fetched with `apt-get source` through a private deb-src list,
#      the system's apt configuration untouched) built against `postgresql-server-dev-15`.
#   3. A cluster in var/pgtest/data (git-ignored), owned by the `postgres` user when run as root
#      (initdb refuses root), trust auth, listening on 127.0.0.1 only on a free port.
#   4. The database `recommender_test` with the `vector` extension; the URL in var/pgtest/url.
#
# Tests read var/pgtest/url (tests/pg.py) and skip with the reason when no server answers.
# Concurrent runs (several `make test` at once) serialise on a lock file.
# scripts/stop_postgres.sh stops the server; `make clean` calls it.
#
# PG_SHARED_BUFFERS (default: the 64MB of postgresql.conf below) sets shared_buffers when this script
# starts the server (a running one keeps its own): the scale benchmarks run with a production-like
# cache, e.g. `scripts/stop_postgres.sh; PG_SHARED_BUFFERS=6GB scripts/start_postgres.sh`.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${PGTEST_DIR:-$ROOT/var/pgtest}"
PGBIN=/usr/lib/postgresql/15/bin
DATA="$DIR/data"
DBNAME=recommender_test
PGVECTOR_SUITE=trixie  # the first Debian release that packages pgvector (0.8.0); built here for PostgreSQL 15

mkdir -p "$DIR"
chmod 755 "$DIR" "$(dirname "$DIR")"  # the postgres user must reach its data dir
exec 9>"$DIR/.lock"
flock 9

log() { echo "start_postgres: $*" >&2; }

apt_install() {
    if [ "$(id -u)" != 0 ]; then
        log "need root to install $*; install them or run this script as root"
        exit 1
    fi
    if [ ! -e "$DIR/.apt-updated" ]; then
        apt-get update -qq
        touch "$DIR/.apt-updated"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# -- 1. PostgreSQL 15 --------------------------------------------------------------------------
if [ ! -x "$PGBIN/postgres" ]; then
    log "installing postgresql-15"
    apt_install postgresql-15
fi

# -- 2. pgvector -------------------------------------------------------------------------------
if [ ! -e /usr/share/postgresql/15/extension/vector.control ]; then
    log "building pgvector from Debian's source package"
    [ -x "$PGBIN/pg_config" ] && [ -d /usr/include/postgresql/15/server ] || apt_install postgresql-server-dev-15 make gcc
    APT="$DIR/apt"
    mkdir -p "$APT/lists/partial" "$APT/parts" "$APT/src"
    echo "deb-src http://deb.debian.org/debian $PGVECTOR_SUITE main" >"$APT/sources.list"
    opts=(-o "Dir::Etc::SourceList=$APT/sources.list" -o "Dir::Etc::SourceParts=$APT/parts" -o "Dir::State::Lists=$APT/lists")
    apt-get -qq "${opts[@]}" update
    rm -rf "$APT/src" && mkdir -p "$APT/src"
    (cd "$APT/src" && apt-get -qq "${opts[@]}" source --download-only pgvector 2>/dev/null)
    tar xzf "$APT"/src/pgvector_*.orig.tar.gz -C "$APT/src"
    # OPTFLAGS="" as Debian builds it: no -march=native, so the binary does not depend on this CPU.
    make -s -C "$APT"/src/pgvector-*/ PG_CONFIG="$PGBIN/pg_config" OPTFLAGS="" >"$APT/build.log" 2>&1
    make -s -C "$APT"/src/pgvector-*/ PG_CONFIG="$PGBIN/pg_config" OPTFLAGS="" install >>"$APT/build.log" 2>&1
fi

# -- 3. the cluster ----------------------------------------------------------------------------
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if [ ! -s "$DATA/PG_VERSION" ]; then
    log "initdb $DATA"
    rm -rf "$DATA"
    mkdir -p "$DATA"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$DATA"
    chmod 700 "$DATA"
    as_owner "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log"
    # A throwaway test server: durability off, small memory, room for several test sessions at once.
    cat >>"$DATA/postgresql.conf" <<'EOF'
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
shared_buffers = 64MB
log_min_messages = warning
EOF
fi

running_port() {
    # The port of a live server on this data dir, or nothing.
    [ -s "$DIR/port" ] || return 0
    local port
    port="$(cat "$DIR/port")"
    if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -d postgres -U postgres -t 2 \
        && as_owner "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
        echo "$port"
    fi
}

PORT="$(running_port)"
if [ -z "$PORT" ]; then
    as_owner "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1 && as_owner "$PGBIN/pg_ctl" -D "$DATA" stop -m fast >/dev/null
    PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    log "starting PostgreSQL on 127.0.0.1:$PORT"
    touch "$DIR/server.log" && { [ "$(id -u)" != 0 ] || chown postgres:postgres "$DIR/server.log"; }
    # 9>&-: the server must not inherit (and so hold) the lock.
    OPTIONS="-p $PORT"
    [ -z "${PG_SHARED_BUFFERS:-}" ] || OPTIONS="$OPTIONS -c shared_buffers=$PG_SHARED_BUFFERS"
    as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -o "$OPTIONS" -w -t 60 start >/dev/null 9>&-
    echo "$PORT" >"$DIR/port"
fi

# -- 4. the database ---------------------------------------------------------------------------
PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres)
if [ -z "$("${PSQL[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'")" ]; then
    "${PSQL[@]}" -d postgres -c "CREATE DATABASE $DBNAME"
fi
"${PSQL[@]}" -d "$DBNAME" -c "CREATE EXTENSION IF NOT EXISTS vector" 2>/dev/null

URL="postgresql://postgres@127.0.0.1:$PORT/$DBNAME"
echo "$URL" >"$DIR/url"
echo "$URL"
