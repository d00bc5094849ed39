#!/usr/bin/env bash
# THE test command (README, .ci/run): everything from a fresh clone to a verdict.
#   scripts/test.sh [PYTEST ARGS...]     e.g. scripts/test.sh -x -k billing
# Steps: install missing tools (uv; Java and Maven for the broker; docker-compose for tests/test_compose.py;
# kcat for the README's recipes),
# `uv sync --all-packages --locked`, a fresh Kafka broker on 127.0.0.1:19092 (.cache/kafka-test, wiped
# every run, stopped on exit), PostgreSQL via scripts/postgres.sh (stopped on exit only if this run
# started it), lint (ruff, mypy), then pytest twice: TEST_DATABASE=sqlite, then TEST_DATABASE=postgresql.
# Environment for the tests:
#   KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092
#   TEST_DATABASE=sqlite | postgresql
#   TEST_POSTGRES_URL_PREFIX=postgresql+asyncpg://billing_app:billing_app@127.0.0.1:55432/  (postgresql run)
# Knobs: TEST_KAFKA_PORT (19092), PG_PORT (55432).
# Exit status: 0 only when every phase passed; pytest collecting no tests (exit 5) is a failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

kafka_port=${TEST_KAFKA_PORT:-19092}
kafka_home=$root/.cache/kafka-test
export PG_PORT=${PG_PORT:-55432}

die() { echo "test.sh: $*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
say() { printf '\n==> %s\n' "$*"; }

# --- phase bookkeeping ----------------------------------------------------------------------------
summary=()
failed=0
current_phase=""
started_at=$(date +%s%N)

elapsed() { # elapsed START_NS -> "12.3s"
    local ns=$(( $(date +%s%N) - $1 ))
    printf '%d.%ds' $((ns / 1000000000)) $(( (ns / 100000000) % 10 ))
}

# run_phase NAME CMD...: run, time and record one phase; returns the command's exit status.
# (The command runs where `set -e` does not apply: phase functions return their failures explicitly.)
run_phase() {
    local name=$1; shift
    local t0 rc=0
    t0=$(date +%s%N)
    say "$name"
    current_phase=$name
    "$@" 9>&- || rc=$?
    current_phase=""
    local verdict=ok
    if [ "$rc" -ne 0 ]; then verdict="FAILED (exit $rc)"; failed=1; fi
    summary+=("$(printf '  %-30s %8s  %s' "$name" "$(elapsed "$t0")" "$verdict")")
    return "$rc"
}

# a set-up phase that fails ends the run
setup_phase() { run_phase "$@" || exit 1; }

print_summary() {
    echo
    echo "==> summary"
    local line
    for line in "${summary[@]}"; do echo "$line"; done
    if [ -n "$current_phase" ]; then # the run ended inside this phase: a fatal error or a signal
        local how="FAILED (exit $1)"
        case $1 in 130 | 143) how=INTERRUPTED ;; esac
        printf '  %-30s %8s  %s\n' "$current_phase" "" "$how"
    fi
    printf '  %-30s %8s  %s\n' total "$(elapsed "$started_at")" "$([ "$failed" -eq 0 ] && echo PASSED || echo FAILED)"
}

# --- clean-up on any exit -------------------------------------------------------------------------
kafka_started=0
postgres_started=0
kafka() { KAFKA_PORT=$kafka_port KAFKA_CONTROLLER_PORT=$((kafka_port + 1)) KAFKA_HOME=$kafka_home \
    "$root/scripts/kafka.sh" "$@"; }

cleanup() {
    local rc=$?
    set +e
    if [ "$kafka_started" -eq 1 ]; then kafka stop >/dev/null 9>&-; echo "test.sh: test broker stopped"; fi
    if [ "$postgres_started" -eq 1 ]; then
        "$root/scripts/postgres.sh" stop >/dev/null 9>&-; echo "test.sh: PostgreSQL stopped"
    fi
    [ "$rc" -ne 0 ] && failed=1
    print_summary "$rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One run at a time per checkout (the test broker's folder and port are shared). Children never
# inherit the lock (9>&-), so a broker left behind by a killed run cannot hold it.
mkdir -p "$root/.cache"
exec 9>"$root/.cache/test.sh.lock"
if ! flock -n 9; then
    echo "test.sh: another scripts/test.sh is running in this checkout; waiting for it to finish"
    flock 9
fi

# --- tools ----------------------------------------------------------------------------------------
have_compose() { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null; }

tools() {
    ensure_uv
    command -v git >/dev/null || apt_install git
    command -v java >/dev/null || apt_install default-jre-headless
    if [ ! -f "$root/.cache/kafka/libs/.complete" ] && ! command -v mvn >/dev/null; then apt_install maven; fi
    have_compose || apt_install docker-compose
    command -v kcat >/dev/null || apt_install kcat  # the README's operations recipes use it
    ensure_pdf_libraries
    echo "uv $(uv --version | cut -d' ' -f2), $(java -version 2>&1 | head -n 1)"
}

start_kafka() {
    # a broker left over from a killed run: stop it before wiping its folder
    if [ -f "$kafka_home/broker.pid" ]; then kafka stop || return 1; fi
    if kafka status; then
        echo "test.sh: something already answers on 127.0.0.1:$kafka_port (another test run?); stop it or set TEST_KAFKA_PORT" >&2
        return 1
    fi
    rm -rf "$kafka_home" || return 1
    kafka_started=1
    kafka start
}

start_postgres() {
    if ! "$root/scripts/postgres.sh" status >/dev/null 2>&1; then postgres_started=1; fi
    "$root/scripts/postgres.sh" start
}

lint_ruff() { uv run --no-sync ruff check . && uv run --no-sync ruff format --check .; }
lint_mypy() { uv run --no-sync mypy contracts-schema/src libs/servicekit/src services/*/src tools/supportctl/src; }

# The published schemas must be up to date, and break no consumer of the first published version.
schema_check() {
    local first_published
    first_published=$(git log --diff-filter=A --format=%H -- contracts-schema/asyncapi.json 2>/dev/null | tail -n 1)
    if [ -n "$first_published" ]; then
        uv run --no-sync contracts-schema check --against "$first_published"
    else
        uv run --no-sync contracts-schema check
    fi
}

pytest_run() { # pytest_run DATABASE [PYTEST ARGS...]
    local database=$1; shift
    local rc=0
    if [ "$database" = postgresql ]; then
        TEST_DATABASE=postgresql TEST_POSTGRES_URL_PREFIX=$("$root/scripts/postgres.sh" url) \
            uv run --no-sync pytest "$@" || rc=$?
    else
        (unset TEST_POSTGRES_URL_PREFIX; TEST_DATABASE=sqlite uv run --no-sync pytest "$@") || rc=$?
    fi
    if [ "$rc" -eq 5 ]; then
        echo "test.sh: pytest collected no tests (exit 5) with TEST_DATABASE=$database: that is a failure" >&2
    fi
    return "$rc"
}

# --- the run --------------------------------------------------------------------------------------
setup_phase "tools" tools
setup_phase "uv sync" uv_sync
setup_phase "kafka (127.0.0.1:$kafka_port)" start_kafka
export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$kafka_port
setup_phase "postgresql (127.0.0.1:$PG_PORT)" start_postgres

run_phase "ruff" lint_ruff || true
run_phase "mypy" lint_mypy || true
run_phase "schema check" schema_check || true
run_phase "pytest sqlite" pytest_run sqlite "$@" || true
run_phase "pytest postgresql" pytest_run postgresql "$@" || true

[ "$failed" -eq 0 ] || exit 1
