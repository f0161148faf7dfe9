"""``iot-platform stack``: start, stop and inspect the local stack."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from iot_platform.settings import Profile, load_settings
from iot_platform.stack.api import Api
from iot_platform.stack.log_writer import log_files, tail_lines
from iot_platform.stack.stack import Stack


def _stack(profile: str | None = None) -> Stack:
    overrides = {"profile": profile} if profile else {}
    return Stack(load_settings(**overrides), echo=click.echo)


@click.group()
def stack() -> None:
    """Run the platform's engines locally: Kafka, Spark master and worker, Iceberg catalog, Dagster, API."""


@stack.command()
@click.option(
    "--profile", type=click.Choice([profile.value for profile in Profile]), help="Catalog profile (IOT_PROFILE)."
)
@click.option("--service", "only", multiple=True, help="Start only this service (repeatable).")
@click.option("--without", multiple=True, help="Leave this service off, e.g. --without generator (repeatable).")
def up(profile: str | None, only: tuple[str, ...], without: tuple[str, ...]) -> None:
    """Start every service (or the chosen ones) and wait until each is healthy."""
    began = time.monotonic()
    current = _stack(profile)
    current.up(only, without)
    s = current.settings
    click.echo(f"stack up in {time.monotonic() - began:.1f}s (profile {s.profile.value}, state {s.state_dir})")
    click.echo(f"  kafka     {s.bootstrap_servers} topic {s.kafka_topic}")
    click.echo(f"  spark     {s.master_url}  UI {s.master_web_url}")
    if s.spark_run_mode == "connect":
        click.echo(f"  warm      {s.connect_url}  UI {s.connect_ui_url} (Spark Connect server every run works on)")
    click.echo(f"  dagster   {s.dagster_web_url}")
    click.echo(f"  api       {s.api_base_url}/docs")
    token_file = Api(s).token_file
    if s.api_token is None and token_file.exists():
        click.echo(f"  api token (mutating calls): {token_file}")


@stack.command()
@click.option("--service", "only", multiple=True, help="Stop only this service (repeatable).")
def down(only: tuple[str, ...]) -> None:
    """Stop the services this stack started (data is kept)."""
    stopped = _stack().down(only)
    click.echo(f"stopped {len(stopped)} service(s)")


@stack.command()
@click.option("--json", "as_json", is_flag=True, help="Print the machine-readable status document.")
def status(as_json: bool) -> None:
    """Show each service's state and endpoints. Exit code 1 when a service is neither healthy nor left off."""
    current = _stack()
    document = current.status_document()
    services: dict[str, dict[str, object]] = document["services"]  # type: ignore[assignment]
    if as_json:
        click.echo(json.dumps(document, indent=2))
    else:
        for name, info in services.items():
            click.echo(f"{name:<18} {info['state']:<10} {info['detail']}")
    bad = [name for name, info in services.items() if info["state"] not in ("healthy", "off")]
    if bad:
        sys.exit(1)


@stack.command()
@click.argument("service")
@click.option("-n", "--lines", default=100, show_default=True, help="Lines from the end of the log.")
def logs(service: str, lines: int) -> None:
    """Print the end of one service's log file."""
    current = _stack()
    log_file: Path = current.service(service).log_file
    if not log_files(log_file):
        click.echo(f"no log yet at {log_file}")
        return
    click.echo("\n".join(tail_lines(log_file, lines)))


@stack.command()
def fetch() -> None:
    """Download every artifact into the cache without starting anything."""
    _stack().fetch()
