#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft) on loopback for dev and tests.
#   scripts/kafka.sh fetch   resolve the broker jars from Maven Central into .cache/kafka/libs
#   scripts/kafka.sh start   fetch if needed, format storage once, start, wait until it answers
#   scripts/kafka.sh stop    stop it cleanly (SIGTERM, then wait)
#   scripts/kafka.sh status  exit 0 when it answers
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (KAFKA_PORT+1), KAFKA_HOME (.cache/kafka/<port>).
#
# KAFKA_SASL=1 starts it secured instead (docs/security.md): clients authenticate with SASL/SCRAM-SHA-512 on
# a SASL_PLAINTEXT listener, the KRaft authorizer allows only what an ACL allows, and `admin` (password
# KAFKA_ADMIN_PASSWORD, default admin-secret) is the super user, created as a SCRAM user when the storage
# is formatted. The broker talks to its own controller as admin with SASL/PLAIN (KRaft controllers cannot
# use SCRAM). Its data lives in .cache/kafka/<port>-sasl; give stop and status the same KAFKA_SASL.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
libs="$root/.cache/kafka/libs"
port=${KAFKA_PORT:-9092}
controller_port=${KAFKA_CONTROLLER_PORT:-$((port + 1))}
sasl=${KAFKA_SASL:-0}
admin_password=${KAFKA_ADMIN_PASSWORD:-admin-secret}
if [ "$sasl" = 1 ]; then home=${KAFKA_HOME:-$root/.cache/kafka/$port-sasl}; else home=${KAFKA_HOME:-$root/.cache/kafka/$port}; fi
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

listener_config() {
    if [ "$sasl" != 1 ]; then
        cat <<PROPS
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
PROPS
        return
    fi
    cat <<PROPS
listeners=SASL_PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=SASL_PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
inter.broker.listener.name=SASL_PLAINTEXT
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
sasl.mechanism.controller.protocol=PLAIN
listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin_password";
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$admin_password" user_admin="$admin_password";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin
PROPS
}

write_config() {
    mkdir -p "$home/data"
    (umask 077; {
        cat <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
PROPS
        listener_config
        cat <<PROPS
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
    } >"$home/server.properties")
}

format_storage() {
    [ -f "$home/data/meta.properties" ] && return 0
    local cluster_id
    cluster_id=$(java_cmd kafka.tools.StorageTool random-uuid)
    if [ "$sasl" = 1 ]; then
        java_cmd kafka.tools.StorageTool format -t "$cluster_id" -c "$home/server.properties" \
            --add-scram "SCRAM-SHA-512=[name=admin,password=$admin_password]" >/dev/null
    else
        java_cmd kafka.tools.StorageTool format -t "$cluster_id" -c "$home/server.properties" >/dev/null
    fi
}

start() {
    if answers; then echo "kafka: already answering on 127.0.0.1:$port"; return 0; fi
    fetch
    write_config
    format_storage
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
