#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for the test suite.
#
#   pg.sh start DIR PORT   initdb in DIR, start on 127.0.0.1:PORT, create superuser role + database
#                          "armsim"; the last line on stdout is the SQLAlchemy URL.
#   pg.sh stop DIR         stop the cluster (fast) and remove DIR.
#
# Everything except the URL goes to stderr, so `url=$(pg.sh start ...)` just works.
# Installs Debian's `postgresql` package if no server binaries are found. The package's own
# default cluster (port 5432, /var/run/postgresql) is never used.
set -euo pipefail

exec 3>&1 1>&2
log() { echo "pg.sh: $*"; }
die() { log "error: $*"; exit 1; }

usage() { die "usage: $0 start DIR PORT | stop DIR"; }

find_bindir() {
    local d
    # Debian layout, newest version first.
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
        [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]] && { echo "$d"; return 0; }
    done
    # Anything on PATH (e.g. /usr/local/bin/pg_ctl symlinks): use the directory it really lives in.
    if d=$(command -v pg_ctl); then
        d=$(dirname "$(readlink -f "$d")")
        [[ -x $d/initdb && -x $d/postgres ]] && { echo "$d"; return 0; }
    fi
    return 1
}

ensure_server() {
    BIN=$(find_bindir) && return 0
    [[ $(id -u) == 0 ]] || die "no PostgreSQL server binaries found and not root; install package 'postgresql'"
    log "installing PostgreSQL from Debian packages"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql
    BIN=$(find_bindir) || die "PostgreSQL installed but initdb/pg_ctl/postgres not found"
}

# Postgres refuses to run as root: as root, run server-side commands as the `postgres` user.
as_pg() {
    if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_user() {
    [[ $(id -u) == 0 ]] || return 0
    id -u postgres >/dev/null 2>&1 ||
        useradd --system --user-group --no-create-home --shell /usr/sbin/nologin postgres
}

cmd_start() {
    local dir=$1 port=$2
    [[ $port =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    touch "$dir/.pg.sh"   # marks DIR as ours so that `stop` may delete it
    local data=$dir/data sock=$dir/sock logf=$dir/postgres.log

    ensure_server
    ensure_user
    log "using $BIN"
    mkdir -p "$sock"
    if [[ $(id -u) == 0 ]]; then
        chown -R postgres:postgres "$dir"
        chmod 700 "$dir"
        as_pg test -w "$dir" || die "user postgres cannot write $dir (check the permissions of its parents)"
    fi

    if [[ ! -f $data/PG_VERSION ]]; then
        as_pg "$BIN/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null ||
            as_pg "$BIN/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --no-locale >/dev/null
        cat >>"$data/postgresql.conf" <<EOF

# --- pg.sh: throwaway test cluster ---
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    fi

    if as_pg "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        log "cluster in $data is already running; reusing it"
    # 3>&-: the server must not inherit the URL pipe, or `url=$(pg.sh start ...)` never returns.
    elif ! as_pg "$BIN/pg_ctl" -D "$data" -l "$logf" -w -t 60 start >/dev/null 3>&-; then
        tail -n 30 "$logf" || true
        die "PostgreSQL failed to start (is port $port already in use?)"
    fi

    local i
    for i in $(seq 1 60); do
        "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres && break
        [[ $i == 60 ]] && die "PostgreSQL not ready on 127.0.0.1:$port"
        sleep 1
    done

    local psql=("$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres)
    "${psql[@]}" -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'armsim'" | grep -q 1 ||
        "${psql[@]}" -d postgres -c "CREATE ROLE armsim LOGIN SUPERUSER CREATEDB CREATEROLE"
    "${psql[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'armsim'" | grep -q 1 ||
        "${psql[@]}" -d postgres -c "CREATE DATABASE armsim OWNER armsim"

    log "PostgreSQL ready on 127.0.0.1:$port (data in $data)"
    echo "postgresql+psycopg://armsim@127.0.0.1:$port/armsim" >&3
}

cmd_stop() {
    local dir=$1
    [[ -d $dir ]] || { log "$dir does not exist, nothing to stop"; return 0; }
    dir=$(cd "$dir" && pwd)
    [[ $dir != / && -e $dir/.pg.sh ]] || die "$dir was not created by pg.sh start; not touching it"
    if [[ -f $dir/data/postmaster.pid ]]; then
        BIN=$(find_bindir) || die "pg_ctl not found"
        as_pg "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || log "warning: pg_ctl stop failed"
    fi
    rm -rf "$dir"
    log "stopped and removed $dir"
}

case "${1:-}" in
    start) [[ $# == 3 ]] || usage; cmd_start "$2" "$3" ;;
    stop) [[ $# == 2 ]] || usage; cmd_stop "$2" ;;
    *) usage ;;
esac
