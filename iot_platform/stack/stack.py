"""The local stack as a whole: start in order and wait for health, stop in reverse, report status."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from iot_platform.errors import StackError
from iot_platform.settings import CATALOG_NAMESPACE, Settings
from iot_platform.stack import artifacts
from iot_platform.stack.service import Service, ServiceStatus
from iot_platform.stack.services import SERVICE_NAMES, services_for


class Stack:
    """Every service of one state folder. Idempotent: ``up`` on a running stack only checks health."""

    def __init__(self, settings: Settings, echo: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.echo = echo or (lambda message: None)
        self.services = services_for(settings)

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        known = ", ".join(s.name for s in self.services)
        raise StackError(f"unknown service {name!r}; services of this stack: {known}")

    def select(self, only: Iterable[str] = (), without: Iterable[str] = ()) -> list[Service]:
        only, without = list(only), set(without)
        for name in only:
            self.service(name)
        unknown = without - set(SERVICE_NAMES)
        if unknown:
            raise StackError(f"unknown service {sorted(unknown)[0]!r}; services: {', '.join(SERVICE_NAMES)}")
        chosen = [s for s in self.services if (not only or s.name in only) and s.name not in without]
        if not self.settings.generator_enabled and not only:
            chosen = [s for s in chosen if s.name != "generator"]
        return chosen

    def fetch(self) -> None:
        """Resolve every download into the cache without starting anything (for images and warm starts)."""
        artifacts.java_executable(self.settings.java_home)
        for artifact_set in artifacts.ALL_SETS:
            self.echo(f"jars {artifact_set.name}: {artifacts.ensure_artifacts(self.settings.cache_dir, artifact_set)}")
        self.echo(f"jar platform: {artifacts.platform_jar(self.settings.cache_dir, self.settings.java_home)}")
        for service in self.services:
            if service.name in ("object-store",):
                service.prepare()
                self.echo(f"{service.name}: ready in cache")

    def up(self, only: Iterable[str] = (), without: Iterable[str] = ()) -> list[ServiceStatus]:
        """Start the chosen services in order, each healthy before the next starts.

        Raises:
            StackError: a service could not start; the message names it, the reason and its log file.
        """
        for folder in (self.settings.state_dir, self.settings.cache_dir, self.settings.logs_dir, self.settings.run_dir):
            folder.mkdir(parents=True, exist_ok=True)
        artifacts.java_executable(self.settings.java_home)
        chosen = self.select(only, without)
        if any(service.name == "spark-master" for service in chosen):  # sessions only locate the jars: build them now
            artifacts.prepare_spark_jars(self.settings.cache_dir, self.settings.java_home)
        if not only:  # a full `up`: what it leaves out is off on purpose, and status says so
            for service in self.services:
                service.mark_off(service not in chosen)
        for service in chosen:
            began = time.monotonic()
            started = service.start()
            service.wait_healthy(self.settings.stack_start_timeout_s)
            verb = "started" if started else "already running"
            self.echo(f"{service.name:<18} {verb} ({time.monotonic() - began:.1f}s)")
        return self.status()

    def down(self, only: Iterable[str] = ()) -> list[str]:
        """Stop the chosen (default: all) services in reverse order; only processes this stack started."""
        stopped = []
        chosen = self.select(only) if only else self.services
        for service in reversed(chosen):
            if service.stop():
                stopped.append(service.name)
                self.echo(f"{service.name:<18} stopped")
        return stopped

    def status(self) -> list[ServiceStatus]:
        return [service.status() for service in self.services]

    def status_document(self) -> dict[str, object]:
        """The ``stack status --json`` document (contract section 4)."""
        s = self.settings
        return {
            "profile": s.profile.value,
            "state_dir": str(s.state_dir),
            "kafka": {"bootstrap_servers": s.bootstrap_servers, "topic": s.kafka_topic},
            "spark": {"master_url": s.master_url, "web_url": s.master_web_url, "connect_url": s.connect_url},
            "catalog": {"name": s.catalog_name, "namespace": CATALOG_NAMESPACE, "properties": s.catalog_properties()},
            "dagster": {"url": s.dagster_web_url},
            "api": {"url": s.api_base_url},
            "services": {status.name: status.as_dict() for status in self.status()},
        }
