#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for tests and benchmarks: initialised in a new temporary
# directory, listening on a free loopback port, run as a non-root user (PostgreSQL refuses
# root: then as `postgres`, created if missing), removed by `stop`.
#   scripts/pg-cluster.sh start        prints "DIR URL" (URL: postgres://postgres@127.0.0.1:PORT/postgres)
#   scripts/pg-cluster.sh stop DIR     stops it and deletes DIR
#   scripts/pg-cluster.sh bin NAME     path of a PostgreSQL program (initdb, pg_ctl)
set -euo pipefail

# A PostgreSQL program: on PATH, else in Debian's versioned directory (newest first).
bin() {
  local found
  found=$(command -v "$1" 2>/dev/null || true)
  if [ -z "$found" ]; then
    found=$(ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1 || true)
  fi
  [ -n "$found" ] || { echo "pg-cluster: $1 not found (scripts/setup.sh --browser installs postgresql)" >&2; return 1; }
  echo "$found"
}

# Runs a command as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "${1:-}" in
  bin)
    bin "$2"
    ;;
  start)
    initdb=$(bin initdb)
    pg_ctl=$(bin pg_ctl)
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
      useradd --system --no-create-home postgres
    fi
    dir=$(mktemp -d "${TMPDIR:-/tmp}/srvra-pg.XXXXXX")
    chmod 755 "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
    as_owner "$initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "$dir postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    dir="$2"
    case "$dir" in */srvra-pg.*) ;; *) echo "pg-cluster: not a cluster directory: $dir" >&2; exit 1;; esac
    if [ -d "$dir/data" ]; then
      as_owner "$(bin pg_ctl)" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start | stop DIR | bin NAME" >&2
    exit 2
    ;;
esac
