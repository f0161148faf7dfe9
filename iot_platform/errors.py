"""The platform's error hierarchy. The CLI prints ``str(error)``; the API maps each class to an HTTP code."""

from __future__ import annotations


class PlatformError(Exception):
    """Base of every error the platform reports to its users."""


class ConfigurationError(PlatformError):
    """A setting or configuration file has a missing or bad value."""


class ServiceUnavailable(PlatformError):
    """An engine (Kafka, Spark master, catalog, Dagster) cannot be reached."""

    def __init__(self, service: str, message: str) -> None:
        super().__init__(f"{service} unavailable: {message}")
        self.service = service


class StackError(PlatformError):
    """The local stack could not start, stop or report a service."""


class PortInUse(StackError):
    """A port the stack needs is already taken by another process."""


class DownloadError(StackError):
    """An artifact could not be resolved from the package registry."""


class InvalidPartition(PlatformError):
    """A partition key or range is malformed, out of the partition set, in the future or too large."""


class UnknownJob(PlatformError):
    """A job name that the platform does not offer."""


class NotFound(PlatformError):
    """A run, application or other named object does not exist."""


class IngestionError(PlatformError):
    """Ingestion cannot proceed safely (for example offsets lost to Kafka retention)."""


class Conflict(PlatformError):
    """The request does not fit the object's current state, e.g. terminating a run that already ended (HTTP 409)."""


class UpstreamError(PlatformError):
    """Dagster or the Spark master answered, but with an error the API cannot turn into a result (HTTP 502)."""

    def __init__(self, service: str, message: str) -> None:
        super().__init__(f"{service} error: {message}")
        self.service = service


class NotificationUndelivered(PlatformError):
    """Alert transitions could not be delivered to the alert webhook; they stay pending and are tried again."""
