#!/usr/bin/env bash
# A private Postgres cluster for development and tests, in the ignored .data/pg folder,
# listening on 127.0.0.1:$PGPORT (55432 by default). Usage: pg.sh start|stop|restart|status|dir|url [db]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pg_bin() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; else ls /usr/lib/postgresql/*/bin/"$1" | sort -V | tail -1; fi
}
# initdb and postgres refuse to run as root: run them as the `postgres` system user then
# (as anyone else, as the invoking user).
as_owner() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# As root, the `postgres` user must be able to reach the data directory, which a checkout
# under /root or any 0700 folder does not allow ("Permission denied"). Then the cluster
# lives in /var/tmp/launch-edge-pg/<hash of the wanted path> (the same on every call).
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$(dirname "$PG_DIR")"
  if ! runuser -u postgres -- test -x "$(dirname "$PG_DIR")" 2>/dev/null; then
    mkdir -p /var/tmp/launch-edge-pg && chmod 755 /var/tmp/launch-edge-pg
    PG_DIR="/var/tmp/launch-edge-pg/$(printf '%s' "$PG_DIR" | sha256sum | cut -c1-16)"
  fi
fi

start() {
  mkdir -p "$DATA_DIR"
  if [ ! -f "$PG_DIR/PG_VERSION" ]; then
    log "initdb $PG_DIR"
    mkdir -p "$PG_DIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$PG_DIR"
    as_owner "$(pg_bin initdb)" -D "$PG_DIR" -U "$PGUSER" --auth=trust --encoding=UTF8 --no-locale >/dev/null
  fi
  if as_owner "$(pg_bin pg_ctl)" -D "$PG_DIR" status >/dev/null 2>&1; then
    return 0
  fi
  log "starting Postgres on $PGHOST:$PGPORT"
  if ! as_owner "$(pg_bin pg_ctl)" -D "$PG_DIR" -l "$PG_DIR/server.log" -w -t 30 \
    -o "-c listen_addresses=$PGHOST -p $PGPORT -k '' -c max_connections=200 -c fsync=${PG_FSYNC:-on}" start >/dev/null; then
    # The usual cause: another checkout's cluster (or any server) already holds the port.
    local holder
    holder="$(pgrep -af "postgres.* -p $PGPORT( |$)" | grep -v -- "-D $PG_DIR " | head -1 || true)"
    if [ -n "$holder" ]; then
      echo "pg.sh: port $PGPORT is taken by another Postgres: $holder" >&2
      echo "pg.sh: stop it (PG_DIR=<its data dir> bash scripts/pg.sh stop) or pick another port (PGPORT=55433 bash scripts/...)" >&2
    else
      echo "pg.sh: Postgres did not start; the end of $PG_DIR/server.log:" >&2
      tail -n 5 "$PG_DIR/server.log" >&2 || true
    fi
    return 1
  fi
}

stop() {
  [ -f "$PG_DIR/PG_VERSION" ] || return 0
  as_owner "$(pg_bin pg_ctl)" -D "$PG_DIR" -m fast -w stop >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) start ;;
  dir) echo "$PG_DIR" ;;
  stop) stop ;;
  restart) stop; start ;;
  status) as_owner "$(pg_bin pg_ctl)" -D "$PG_DIR" status ;;
  url) echo "postgres://$PGUSER@$PGHOST:$PGPORT/${2:-launch_edge}" ;;
  *) echo "usage: $0 start|stop|restart|status|dir|url [db]" >&2; exit 2 ;;
esac
