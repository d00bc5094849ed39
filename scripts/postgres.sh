#!/usr/bin/env bash
# Local PostgreSQL for dev and tests: one cluster on loopback, data in .cache/postgres/data.
#   scripts/postgres.sh start       install Debian's PostgreSQL if missing (root), create the cluster once,
#                                   start it, wait until it accepts connections, ensure role and databases
#   scripts/postgres.sh stop        stop it (fast shutdown, waits)
#   scripts/postgres.sh status      exit 0 when it accepts connections, 1 otherwise
#   scripts/postgres.sh url NAME    print the SQLAlchemy URL of database NAME (without NAME: the prefix)
#   scripts/postgres.sh psql [DB]   open psql as the superuser (default database: postgres)
# Connection: 127.0.0.1:${PG_PORT:-55432}, TCP only, password auth (scram-sha-256) everywhere.
#   application role  billing_app / billing_app   (LOGIN CREATEDB; owns contracts, billing, timetracking)
#   superuser         postgres / random password in .cache/postgres/superuser.password (mode 600)
# Environment: PG_PORT (55432), PG_DATA (.cache/postgres/data; when run as root and the postgres system
# user cannot reach the repository, e.g. under /root, it defaults to /var/lib/postgresql/support-billing-*).
# A disposable dev/test cluster: fsync is off for speed, so a machine crash can corrupt it (remove the data
# folder and start again).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
port=${PG_PORT:-55432}
app_user=billing_app
app_password=billing_app
databases=(contracts billing timetracking)
os_user=${PG_OS_USER:-postgres}

die() { echo "postgres.sh: $*" >&2; exit 1; }
log() { echo "postgres: $*"; }

is_root() { [ "$(id -u)" -eq 0 ]; }

find_bindir() {
    local candidate
    candidate=$(for f in /usr/lib/postgresql/*/bin/postgres; do [ -x "$f" ] && echo "$f"; done | sort -V | tail -n 1 || true)
    [ -n "$candidate" ] && dirname "$candidate"
}

install_server() {
    is_root || die "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin; install them as root: apt-get install postgresql"
    command -v apt-get >/dev/null || die "no PostgreSQL server binaries and no apt-get to install them"
    log "installing Debian's PostgreSQL with apt-get (once)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
        || die "apt-get install postgresql failed"
}

bindir=""
need_bindir() {
    [ -n "$bindir" ] && return 0
    bindir=$(find_bindir || true)
    if [ -z "$bindir" ]; then
        install_server
        bindir=$(find_bindir || true)
        [ -n "$bindir" ] || die "PostgreSQL was installed but no /usr/lib/postgresql/*/bin/postgres was found"
    fi
}

# --- where the cluster lives, and as whom it runs -------------------------------------------------
ensure_os_user() {
    id -u "$os_user" >/dev/null 2>&1 && return 0
    log "creating system user $os_user"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash "$os_user" \
        || die "could not create system user $os_user"
}

# run a command as the cluster owner (root: via runuser, from / so the cwd need not be readable)
as_owner() {
    if is_root; then
        (cd / && runuser -u "$os_user" -- "$@")
    else
        "$@"
    fi
}

owner_can_reach() { as_owner test -x "$1" 2>/dev/null; }

resolve_data_dir() {
    if [ -n "${PG_DATA:-}" ]; then
        data=$PG_DATA
    else
        data=$root/.cache/postgres/data
        mkdir -p "$root/.cache/postgres"
        if is_root && ! owner_can_reach "$root/.cache/postgres"; then
            # e.g. the repository is under /root (mode 700): keep the cluster where postgres can reach it
            data=/var/lib/postgresql/support-billing-$(printf '%s' "$root" | cksum | cut -d' ' -f1)/data
            if [ ! -L "$root/.cache/postgres/data" ] && [ ! -e "$root/.cache/postgres/data" ]; then
                ln -s "$data" "$root/.cache/postgres/data"
            fi
        fi
    fi
    state=$(dirname "$data")
    pwfile=$state/superuser.password
    logfile=$state/postgres.log
}

# --- client helpers -------------------------------------------------------------------------------
answers() {
    if [ -n "$bindir" ]; then
        "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2 >/dev/null 2>&1
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
    fi
}

running_here() { [ -f "$data/postmaster.pid" ] && as_owner "$bindir/pg_ctl" status -D "$data" >/dev/null 2>&1; }

psql_admin() { # psql_admin DB [psql args...]
    local db=$1; shift
    [ -r "$pwfile" ] || die "missing $pwfile (superuser password); remove $data to recreate the cluster"
    PGPASSWORD=$(cat "$pwfile") "$bindir/psql" -X -q -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
}

# --- cluster lifecycle ----------------------------------------------------------------------------
init_cluster() {
    log "creating cluster in $data"
    mkdir -p "$state"
    if is_root; then chown "$os_user:" "$state"; chmod 700 "$state"; fi
    rm -rf "$data"
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$pwfile")
    local tmp_pw
    tmp_pw=$(mktemp)
    cp "$pwfile" "$tmp_pw"
    if is_root; then chown "$os_user:" "$tmp_pw"; fi
    as_owner "$bindir/initdb" -D "$data" -U postgres --pwfile="$tmp_pw" --auth=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1 \
        || { rm -f "$tmp_pw"; cat "$state/initdb.log" >&2; die "initdb failed"; }
    rm -f "$tmp_pw"
    # TCP on loopback only, password auth for everyone
    as_owner tee "$data/pg_hba.conf" >/dev/null <<'HBA'
# TYPE  DATABASE  USER  ADDRESS       METHOD
host    all       all   127.0.0.1/32  scram-sha-256
HBA
    echo "include_if_exists = 'support-billing.conf'" | as_owner tee -a "$data/postgresql.conf" >/dev/null
}

write_config() {
    as_owner tee "$data/support-billing.conf" >/dev/null <<CONF
# written by scripts/postgres.sh on every start
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
password_encryption = 'scram-sha-256'
max_connections = 200
# a disposable dev/test cluster: trade crash safety for speed (CREATE DATABASE per test is fsync-heavy)
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
CONF
}

ensure_role_and_databases() {
    psql_admin postgres <<SQL
SELECT format('CREATE ROLE %I LOGIN CREATEDB', '$app_user')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$app_user') \gexec
ALTER ROLE $app_user LOGIN CREATEDB PASSWORD '$app_password';
SQL
    local db
    for db in "${databases[@]}"; do
        psql_admin postgres <<SQL
SELECT format('CREATE DATABASE %I OWNER %I', '$db', '$app_user')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db') \gexec
SQL
    done
}

start() {
    need_bindir
    is_root && ensure_os_user
    resolve_data_dir
    if is_root; then
        mkdir -p "$state"
        chown "$os_user:" "$state"
    fi
    if running_here; then
        # just started, or just crashed: give it a moment to settle either way
        for _ in $(seq 1 20); do answers && break; running_here || break; sleep 0.5; done
    fi
    if ! running_here && answers; then
        die "something else already answers on 127.0.0.1:$port; stop it or choose PG_PORT"
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
        init_cluster
    elif [ "$(cat "$data/PG_VERSION")" != "$(basename "$(dirname "$bindir")")" ]; then
        die "$data was created by PostgreSQL $(cat "$data/PG_VERSION"), the server here is $(basename "$(dirname "$bindir")"); remove $data to recreate it"
    fi
    if running_here; then
        answers || die "the cluster in $data runs but does not answer on 127.0.0.1:$port (started with another PG_PORT?)"
        log "already running on 127.0.0.1:$port"
    else
        write_config
        if is_root; then touch "$logfile"; chown "$os_user:" "$logfile"; fi
        as_owner "$bindir/pg_ctl" start -D "$data" -l "$logfile" -w -t 60 >/dev/null 2>&1 \
            || { echo "postgres.sh: server did not start; last log lines:" >&2; tail -n 20 "$logfile" >&2; exit 1; }
        for _ in $(seq 1 60); do answers && break; sleep 0.5; done
        answers || die "no answer on 127.0.0.1:$port after 30 s (log: $logfile)"
        log "up on 127.0.0.1:$port (data $data, log $logfile)"
    fi
    ensure_role_and_databases
    log "role $app_user and databases ${databases[*]} ready"
}

stop() {
    bindir=$(find_bindir || true)
    [ -n "$bindir" ] || { log "not installed, nothing to stop"; return 0; }
    is_root && ensure_os_user
    resolve_data_dir
    if running_here; then
        as_owner "$bindir/pg_ctl" stop -D "$data" -m fast -w -t 60 >/dev/null || die "pg_ctl stop failed"
        log "stopped"
    else
        log "not running from $data"
    fi
}

status() {
    bindir=$(find_bindir || true)
    if answers; then log "accepting connections on 127.0.0.1:$port"; return 0; fi
    log "not answering on 127.0.0.1:$port"
    return 1
}

url() { printf 'postgresql+asyncpg://%s:%s@127.0.0.1:%s/%s\n' "$app_user" "$app_password" "$port" "${1:-}"; }

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    url) url "${2:-}" ;;
    psql) need_bindir; resolve_data_dir; psql_admin "${2:-postgres}" ;;
    *) echo "usage: $0 start|stop|status|url NAME|psql [DB]" >&2; exit 2 ;;
esac
