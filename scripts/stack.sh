#!/usr/bin/env bash
# THE start command of the README: the whole stack on this machine, then a demo that shows it working.
#   scripts/stack.sh [up]     install what is missing, then `supportctl stack up`: Kafka on 127.0.0.1:9092 and
#                             the three services (SQLite files under var/), ready, then scripts/demo.py
#   scripts/stack.sh down     `supportctl stack down`: stop the services and the broker
#   scripts/stack.sh status   `supportctl stack status`: what is running
# Set CONTRACTS_DATABASE_URL / BILLING_DATABASE_URL / TIMETRACKING_DATABASE_URL for PostgreSQL instead,
# and STACK_DEMO=0 to skip the demo. The work is supportctl's (tools/supportctl); this script only
# installs what it needs first.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
die() { echo "stack.sh: $*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

command=${1:-up}
case "$command" in
    up)
        ensure_uv
        command -v java >/dev/null || apt_install default-jre-headless
        ensure_pdf_libraries
        if [ ! -f "$root/.cache/kafka/libs/.complete" ] && ! command -v mvn >/dev/null; then apt_install maven; fi
        uv_sync
        demo=--demo
        [ "${STACK_DEMO:-1}" = 0 ] && demo=--no-demo
        exec uv run --no-sync supportctl stack up "$demo"
        ;;
    down | status)
        ensure_uv
        exec uv run --no-sync supportctl stack "$command"
        ;;
    *) echo "usage: $0 [up|down|status]" >&2; exit 2 ;;
esac
