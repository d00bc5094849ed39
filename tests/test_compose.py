"""docker-compose.yml is valid for the compose tool and describes the whole stack on PostgreSQL and a
secured Kafka (SASL/SCRAM, the KRaft authorizer, each service as its own user: docs/security.md).

Validated with `docker compose config` (Compose v2 plugin) or Debian's `docker-compose config` (v1);
scripts/test.sh installs docker-compose, so this runs in CI. No Docker engine is needed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SERVICES = {"contracts": 8001, "billing": 8002, "timetracking": 8003}
SETUP = "kafka-setup"

# Compose v1 prints YAML only; it is a Python program that always has PyYAML, so its own
# interpreter turns that YAML into JSON (the project itself does not depend on PyYAML).
_YAML_TO_JSON = "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"


def _run(command: list[str], stdin: str | None = None) -> str:
    result = subprocess.run(
        command, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}{result.stdout}")
    return result.stdout


def _compose_v2() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


def _python_of(script: str) -> str:
    first_line = Path(script).read_text(errors="replace").splitlines()[0]
    if first_line.startswith("#!") and "python" in first_line:
        return first_line[2:].strip().split()[0]
    return "python3"


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    """The compose file as the compose tool resolves it (anchors merged, paths absolute)."""
    if _compose_v2():
        out = _run(["docker", "compose", "-f", str(COMPOSE_FILE), "config", "--format", "json"])
        return dict(json.loads(out))
    legacy = shutil.which("docker-compose")
    if legacy is not None:
        out = _run([legacy, "-f", str(COMPOSE_FILE), "config"])
        return dict(json.loads(_run([_python_of(legacy), "-c", _YAML_TO_JSON], stdin=out)))
    pytest.skip(
        "neither `docker compose` (v2 plugin) nor `docker-compose` is installed "
        "(scripts/test.sh installs Debian's docker-compose)"
    )


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # KEY=VALUE form
        return dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def test_the_stack_has_every_service(config: dict[str, Any]) -> None:
    services = config["services"]
    assert {"kafka", "postgres", SETUP, *SERVICES} <= set(services)
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    assert services["postgres"]["image"].startswith("postgres:16")


def test_services_use_their_postgres_database_and_the_broker(config: dict[str, Any]) -> None:
    services = config["services"]
    for name, port in SERVICES.items():
        env = _environment(services[name])
        prefix = name.upper()
        url = urlsplit(env[f"{prefix}_DATABASE_URL"])
        assert url.scheme == "postgresql+asyncpg", name
        assert url.hostname == "postgres", name
        assert url.path == f"/{name}", name
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092", name
        assert env[f"{prefix}_HTTP_PORT"] == str(port), name
        assert env[f"{prefix}_HTTP_HOST"] == "0.0.0.0", name
        assert f":{port}/health" in json.dumps(services[name]["healthcheck"]["test"]), name
        assert _depends_on(services[name]) == {
            "kafka": "service_healthy",
            "postgres": "service_healthy",
            SETUP: "service_completed_successfully",
        }, name


def test_one_image_and_a_one_shot_kafka_setup_job(config: dict[str, Any]) -> None:
    services = config["services"]
    images = {services[name].get("image") for name in [*SERVICES, SETUP]}
    assert len(images) == 1, images
    for name in [*SERVICES, SETUP]:
        assert Path(services[name]["build"]["context"]).resolve() == ROOT, name
    setup = services[SETUP]
    script = " ".join(setup["command"])
    assert setup["command"][:2] == ["sh", "-c"]
    assert (
        "python -m servicekit.admin users admin contracts billing timetracking integration"
        " && python -m servicekit.admin create-topics && python -m servicekit.admin acls apply"
    ) in " ".join(script.split())
    assert _environment(setup)["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert _depends_on(setup) == {"kafka": "service_healthy"}
    assert str(setup.get("restart", "no")) in {"no", "False", "false"}


def _properties(env: dict[str, str]) -> dict[str, str]:
    """The broker's properties as the apache/kafka image writes them from its KAFKA_* variables."""
    return {
        key.removeprefix("KAFKA_").lower().replace("_", ".").replace("...", "-").replace("..", "_"): value
        for key, value in env.items()
        if key.startswith("KAFKA_")
    }


def _jaas_option(jaas: str, option: str) -> str:
    match = re.search(rf'\b{option}="([^"]*)"', jaas)
    assert match, (option, jaas)
    return match.group(1)


def test_kafka_authenticates_every_client_and_allows_only_what_an_acl_allows(config: dict[str, Any]) -> None:
    props = _properties(_environment(config["services"]["kafka"]))
    assert props["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin"
    protocols = dict(item.split(":") for item in props["listener.security.protocol.map"].split(","))
    assert set(protocols.values()) == {"SASL_PLAINTEXT"}, "no listener without authentication"
    listeners = {item.split("://")[0] for item in props["listeners"].split(",")}
    assert listeners == set(protocols)
    # From the host, only SCRAM users; PLAIN (admin's static password) stays inside the network.
    assert props["listener.name.host.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert "SCRAM-SHA-512" in props["listener.name.internal.sasl.enabled.mechanisms"].split(",")
    for listener in listeners:
        for mechanism in props[f"listener.name.{listener.lower()}.sasl.enabled.mechanisms"].split(","):
            assert f"listener.name.{listener.lower()}.{mechanism.lower()}.sasl.jaas.config" in props
    controller = props["listener.name.controller.plain.sasl.jaas.config"]
    assert _jaas_option(controller, "username") == "admin"
    assert _jaas_option(controller, "password") == _jaas_option(controller, "user_admin")


def test_each_service_connects_as_its_own_user_with_the_password_kafka_setup_gave_it(
    config: dict[str, Any],
) -> None:
    services = config["services"]
    setup = _environment(services[SETUP])
    admin_password = _jaas_option(
        _properties(_environment(services["kafka"]))["listener.name.internal.plain.sasl.jaas.config"],
        "password",
    )
    assert (setup["KAFKA_SASL_USERNAME"], setup["KAFKA_SASL_PASSWORD"]) == ("admin", admin_password)
    assert setup["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT" and setup["KAFKA_SASL_MECHANISM"] == "PLAIN"
    assert setup["KAFKA_PASSWORD_ADMIN"] == admin_password
    for name in SERVICES:
        env = _environment(services[name])
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT", name
        assert env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512", name
        assert env["KAFKA_SASL_USERNAME"] == name, name
        assert env["KAFKA_SASL_PASSWORD"] == setup[f"KAFKA_PASSWORD_{name.upper()}"], name
        assert env["KAFKA_CREATE_TOPICS"] == "false", name
    ui = _environment(services["kafka-ui"])
    assert ui["KAFKA_CLUSTERS_0_PROPERTIES_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert _jaas_option(ui["KAFKA_CLUSTERS_0_PROPERTIES_SASL_JAAS_CONFIG"], "password") == admin_password
    assert "--command-config" in json.dumps(services["kafka"]["healthcheck"]["test"])


def test_kafka_does_not_create_topics_and_postgres_gets_the_databases(config: dict[str, Any]) -> None:
    services = config["services"]
    assert _environment(services["kafka"])["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "healthcheck" in services["kafka"] and "healthcheck" in services["postgres"]
    init_sql = (ROOT / "infra/postgres/init/01-databases.sql").read_text()
    for name in SERVICES:
        assert f"'{name}'" in init_sql
    mounts = json.dumps(services["postgres"].get("volumes", []))
    assert "docker-entrypoint-initdb.d" in mounts and "infra/postgres/init" in mounts
    assert (ROOT / "Dockerfile").is_file() and (ROOT / ".dockerignore").is_file()


def test_services_have_the_dev_stacks_settings_json_logs_and_traces_off(config: dict[str, Any]) -> None:
    services = config["services"]
    for name in SERVICES:
        env = _environment(services[name])
        prefix = name.upper()
        for setting, value in (
            ("RELAY_POLL_SECONDS", "0.5"),
            ("RELAY_BATCH_SIZE", "2000"),
            ("CONSUMER_BATCH_SIZE", "2000"),
            ("SCHEDULER_INTERVAL_SECONDS", "30"),
        ):
            assert env[f"{prefix}_{setting}"] == value, (name, setting)
        assert (env["LOG_FORMAT"], env["OTEL_TRACES_EXPORTER"], env["OTEL_SERVICE_NAME"]) == (
            "json",
            "none",
            name,
        )


def test_prometheus_scrapes_each_service_and_kafka_ui_reads_the_broker(config: dict[str, Any]) -> None:
    services = config["services"]
    prometheus = services["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus:")
    assert "infra/prometheus/prometheus.yml" in json.dumps(prometheus["volumes"])
    scrape = (ROOT / "infra/prometheus/prometheus.yml").read_text()
    for name, port in SERVICES.items():
        assert f'"{name}:{port}"' in scrape, name
    assert scrape.count("metrics_path: /metrics") == len(SERVICES)
    assert set(_depends_on(prometheus)) == set(SERVICES)
    ui = services["kafka-ui"]
    assert ui["image"].startswith("kafbat/kafka-ui:")
    assert _environment(ui)["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] == "kafka:9092"
    assert _depends_on(ui) == {"kafka": "service_healthy"}
