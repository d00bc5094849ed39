#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft) on loopback for dev and tests.
#   scripts/kafka.sh fetch   resolve the broker jars from Maven Central into .cache/kafka/libs
#   scripts/kafka.sh start   fetch if needed, format storage once, start, wait until it answers
#   scripts/kafka.sh stop    stop it cleanly (SIGTERM, then wait)
#   scripts/kafka.sh status  exit 0 when it answers
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (KAFKA_PORT+1), KAFKA_HOME (.cache/kafka/<port>).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
libs="$root/.cache/kafka/libs"
port=${KAFKA_PORT:-9092}
controller_port=${KAFKA_CONTROLLER_PORT:-$((port + 1))}
home=${KAFKA_HOME:-$root/.cache/kafka/$port}
pidfile="$home/broker.pid"

java_cmd() {
    java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$root/infra/kafka/log4j2.properties" \
        -cp "$libs/*" "$@"
}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

fetch() {
    [ -f "$libs/.complete" ] && return 0
    command -v mvn >/dev/null || { echo "kafka.sh: Maven (mvn) is needed to fetch the broker" >&2; exit 1; }
    rm -rf "$libs"
    mvn -q -B -f "$root/infra/kafka/pom.xml" dependency:copy-dependencies \
        -DoutputDirectory="$libs" -DincludeScope=runtime
    touch "$libs/.complete"
}

write_config() {
    mkdir -p "$home/data"
    cat >"$home/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$home/data
auto.create.topics.enable=false
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
PROPS
}

start() {
    if answers; then echo "kafka: already answering on 127.0.0.1:$port"; return 0; fi
    fetch
    write_config
    if [ ! -f "$home/data/meta.properties" ]; then
        cluster_id=$(java_cmd kafka.tools.StorageTool random-uuid)
        java_cmd kafka.tools.StorageTool format -t "$cluster_id" -c "$home/server.properties" >/dev/null
    fi
    nohup java -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$root/infra/kafka/log4j2.properties" \
        -cp "$libs/*" kafka.Kafka "$home/server.properties" >"$home/broker.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 120); do
        if answers; then echo "kafka: up on 127.0.0.1:$port (pid $(cat "$pidfile"), log $home/broker.log)"; return 0; fi
        if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            echo "kafka: broker exited during start-up; last log lines:" >&2; tail -20 "$home/broker.log" >&2; exit 1
        fi
        sleep 0.5
    done
    echo "kafka: no answer on 127.0.0.1:$port after 60 s" >&2; exit 1
}

stop() {
    [ -f "$pidfile" ] || { echo "kafka: not started from $home"; return 0; }
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$pidfile"
    echo "kafka: stopped"
}

case "${1:-}" in
    fetch) fetch ;;
    start) start ;;
    stop) stop ;;
    status) answers ;;
    *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
esac
