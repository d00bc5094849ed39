"""The root of every service's domain errors, and how entrypoints tell them apart."""

from __future__ import annotations


class DomainError(Exception):
    """A request or message that breaks a business rule: a 4xx over REST, a reply or dead letter on Kafka."""

    status_code = 422


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Unauthenticated(DomainError):
    """No bearer token, or one that does not verify."""

    status_code = 401


class Forbidden(DomainError):
    """The caller is known, but its roles or accounts do not allow this."""

    status_code = 403
