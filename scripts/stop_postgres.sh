#!/usr/bin/env bash
# Stop the test server started by scripts/start_postgres.sh (no-op when none runs).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${PGTEST_DIR:-$ROOT/var/pgtest}"
PGBIN=/usr/lib/postgresql/15/bin

[ -s "$DIR/data/PG_VERSION" ] && [ -x "$PGBIN/pg_ctl" ] || exit 0
if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1 || exit 0
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/data" stop -m fast >/dev/null
else
    "$PGBIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1 || exit 0
    "$PGBIN/pg_ctl" -D "$DIR/data" stop -m fast >/dev/null
fi
rm -f "$DIR/port" "$DIR/url"
