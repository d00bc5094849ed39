"""How every Kafka client of ours reaches a secured broker: SASL/SCRAM (or PLAIN) and TLS.

One value from the settings (`KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`, `KAFKA_SSL_*`) configures the
services' FastStream brokers, the topic set-up, the ops tools, the demo, the benchmarks and the test
helpers alike. Each process brings its own user, which the broker's ACLs hold to its topics and groups
(servicekit.kafka_acls, docs/security.md).
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = None
    cafile: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL")

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(cafile=str(self.cafile) if self.cafile else None)
        if self.certfile is not None:
            context.load_cert_chain(str(self.certfile), str(self.keyfile) if self.keyfile else None)
        return context

    def for_faststream(self) -> BaseSecurity | None:
        """The `security=` of a FastStream KafkaBroker; None on a plaintext broker."""
        context = self.ssl_context()
        if not self.uses_sasl:
            return BaseSecurity(ssl_context=context, use_ssl=True) if context else None
        username, password = self._credentials()
        kind = {"SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512, "PLAIN": SASLPlaintext}[
            self.sasl_mechanism
        ]
        security: BaseSecurity = kind(username, password, ssl_context=context, use_ssl=self.uses_tls)
        return security

    def for_aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's clients (admin, consumer, producer)."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        context = self.ssl_context()
        if context is not None:
            options["ssl_context"] = context
        if self.uses_sasl:
            username, password = self._credentials()
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": username,
                "sasl_plain_password": password,
            }
        return options

    def _credentials(self) -> tuple[str, str]:
        if not self.username or self.password is None:
            raise ValueError(f"{self.protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        return self.username, self.password


PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL")
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")

PLAINTEXT = KafkaSecurity()


def from_environment(environ: Mapping[str, str] = os.environ) -> KafkaSecurity:
    """The security the services' KAFKA_* variables describe, for tools that have no settings class."""
    protocol = environ.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    mechanism = environ.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    if protocol not in PROTOCOLS:
        raise ValueError(f"KAFKA_SECURITY_PROTOCOL must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    if mechanism not in SASL_MECHANISMS:
        raise ValueError(
            f"KAFKA_SASL_MECHANISM must be one of {', '.join(SASL_MECHANISMS)}, not {mechanism!r}"
        )

    def path(variable: str) -> Path | None:
        value = environ.get(variable)
        return Path(value) if value else None

    return KafkaSecurity(
        protocol=protocol,
        sasl_mechanism=mechanism,
        username=environ.get("KAFKA_SASL_USERNAME"),
        password=environ.get("KAFKA_SASL_PASSWORD"),
        cafile=path("KAFKA_SSL_CAFILE"),
        certfile=path("KAFKA_SSL_CERTFILE"),
        keyfile=path("KAFKA_SSL_KEYFILE"),
    )
