"""Errors only the REST API raises. They extend the platform's hierarchy; ``api/main.py`` maps every one to HTTP."""

from __future__ import annotations

from iot_platform.errors import ConfigurationError, PlatformError


class AuthenticationRequired(PlatformError):
    """A mutating call came without an ``Authorization: Bearer <token>`` header (HTTP 401)."""


class PermissionDenied(PlatformError):
    """A mutating call came with a bearer token that is not the API's token (HTTP 403)."""


class TokenNotConfigured(ConfigurationError):
    """The API has no ``IOT_API_TOKEN``, so it refuses every mutating call (HTTP 503)."""


class InvalidQuery(PlatformError):
    """A query parameter is well-formed but its value cannot be used, e.g. a start after the end (HTTP 422)."""


class IdempotencyKeyReused(InvalidQuery):
    """An ``Idempotency-Key`` already named a different submission (HTTP 422)."""
