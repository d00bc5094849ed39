#!/usr/bin/env bash
# THE start command of the README: the whole stack on this machine, then a demo that shows it working.
#   scripts/stack.sh [up]     install what is missing, start Kafka on 127.0.0.1:9092 and the three services
#                             (SQLite files under var/), wait until all are ready, run scripts/demo.py
#   scripts/stack.sh down     stop the services and the broker
#   scripts/stack.sh status   what is running
# Set CONTRACTS_DATABASE_URL / BILLING_DATABASE_URL / TIMETRACKING_DATABASE_URL for PostgreSQL instead,
# and STACK_DEMO=0 to skip the demo.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
die() { echo "stack.sh: $*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

services=(contracts billing timetracking)
declare -A ports=([contracts]=8001 [billing]=8002 [timetracking]=8003)
run_dir=$root/var/run
log_dir=$root/var/log

running() { [ -f "$run_dir/$1.pid" ] && kill -0 "$(cat "$run_dir/$1.pid")" 2>/dev/null; }

start_service() {
    local name=$1
    if running "$name"; then echo "$name: already running (pid $(cat "$run_dir/$name.pid"))"; return 0; fi
    nohup uv run --no-sync "$name-service" >>"$log_dir/$name.log" 2>&1 &
    echo $! >"$run_dir/$name.pid"
}

wait_ready() {
    local name=$1 port=${ports[$1]}
    for _ in $(seq 1 120); do
        if curl -sf "http://127.0.0.1:$port/ready" >/dev/null; then return 0; fi
        running "$name" || { tail -20 "$log_dir/$name.log" >&2; die "$name exited during start-up (log: $log_dir/$name.log)"; }
        sleep 0.5
    done
    die "$name not ready after 60 s (log: $log_dir/$name.log)"
}

up() {
    local t0=$SECONDS
    ensure_uv
    command -v java >/dev/null || apt_install default-jre-headless
    command -v curl >/dev/null || apt_install curl
    ensure_pdf_libraries
    if [ ! -f "$root/.cache/kafka/libs/.complete" ] && ! command -v mvn >/dev/null; then apt_install maven; fi
    uv_sync
    "$root/scripts/kafka.sh" start
    mkdir -p "$run_dir" "$log_dir"
    # A local signing key for bearer tokens, made once; the services verify with its key set.
    uv run --no-sync python -m servicekit.dev_token init --dir "$root/var/dev-keys" >/dev/null
    export AUTH_JWKS_FILE=${AUTH_JWKS_FILE:-$root/var/dev-keys/jwks.json}
    for name in "${services[@]}"; do start_service "$name"; done
    for name in "${services[@]}"; do wait_ready "$name"; done
    echo
    echo "The stack is up in $((SECONDS - t0)) s. Kafka: 127.0.0.1:9092. Logs: $log_dir/"
    for name in "${services[@]}"; do
        printf '  %-13s http://127.0.0.1:%s   (OpenAPI docs: http://127.0.0.1:%s/docs)\n' "$name" "${ports[$name]}" "${ports[$name]}"
    done
    echo "A bearer token: uv run python -m servicekit.dev_token --role admin   (roles: admin billing support_rep integration viewer)"
    echo "Stop it with: scripts/stack.sh down"
    if [ "${STACK_DEMO:-1}" != 0 ]; then
        echo
        uv run --no-sync python "$root/scripts/demo.py"
    fi
}

down() {
    for name in "${services[@]}"; do
        if running "$name"; then
            kill -TERM "$(cat "$run_dir/$name.pid")"
            for _ in $(seq 1 30); do running "$name" || break; sleep 0.5; done
            running "$name" && kill -KILL "$(cat "$run_dir/$name.pid")"
            echo "$name: stopped"
        fi
        rm -f "$run_dir/$name.pid"
    done
    "$root/scripts/kafka.sh" stop
}

status() {
    for name in "${services[@]}"; do
        if running "$name"; then echo "$name: running, $(curl -s "http://127.0.0.1:${ports[$name]}/ready")"; else echo "$name: stopped"; fi
    done
    if "$root/scripts/kafka.sh" status; then echo "kafka: up"; else echo "kafka: down"; fi
}

case "${1:-up}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 [up|down|status]" >&2; exit 2 ;;
esac
