"""``iot-platform generator``: run the simulated sensors live, or backfill a historic window."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from iot_platform.errors import ConfigurationError, PlatformError
from iot_platform.generator.command import backfill_command
from iot_platform.generator.faults import load_faults
from iot_platform.generator.sensors_config import load_sensor_set
from iot_platform.generator.service import GeneratorService, stop_on_signals
from iot_platform.instants import parse_instant
from iot_platform.settings import load_settings

__all__ = ["BackfillIncomplete", "backfill", "backfill_command", "generator", "run"]

_registry = click.option(
    "--registry",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="YAML sensor registry: the sensors and their simulation (default: IOT_SENSOR_REGISTRY, else the built-in).",
)
_faults = click.option(
    "--faults",
    default=None,
    metavar="off|demo|PATH",
    help="Faults to inject besides the registry's simulation.faults (default: IOT_GENERATOR_FAULTS, else off).",
)


_seed = click.option("--seed", type=int, default=None, help="Seed of the readings (default: random, logged).")
_count = click.option("--count", type=int, default=None, help="Stop after this many readings.")


class BackfillIncomplete(PlatformError):
    """A backfill stopped before publishing its whole window."""


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _service(registry: Path | None, faults: str | None, seed: int | None) -> GeneratorService:
    settings = load_settings()
    _configure_logging()
    sensor_set = load_sensor_set(registry or settings.sensor_registry)
    injected = load_faults(faults or settings.generator_faults)
    return GeneratorService(settings, sensor_set=sensor_set, seed=seed, faults=injected)


@click.group()
def generator() -> None:
    """Simulated factory sensors publishing readings to Kafka."""


@generator.command()
@click.option(
    "--rate",
    type=float,
    default=None,
    help="Total readings/s across all sensors (default: one per sensor each IOT_GENERATOR_INTERVAL_S).",
)
@_seed
@_registry
@_faults
@_count
def run(rate: float | None, seed: int | None, registry: Path | None, faults: str | None, count: int | None) -> None:
    """Publish live readings until stopped (SIGTERM/SIGINT flush and exit)."""
    service = _service(registry, faults, seed)
    with stop_on_signals(service):
        report = service.run_live(rate=rate, count=count)
    report.raise_for_loss()


@generator.command()
@click.option("--start", "start_text", required=True, help="First event time, ISO-8601 (UTC if no offset).")
@click.option("--end", "end_text", required=True, help="End of the window (exclusive), ISO-8601.")
@_seed
@_registry
@_faults
@_count
def backfill(  # noqa: PLR0913 - one parameter per option
    start_text: str,
    end_text: str,
    seed: int | None,
    registry: Path | None,
    faults: str | None,
    count: int | None,
) -> None:
    """Publish the readings of [--start, --end) at the sensor cadence, as fast as Kafka takes them."""
    start = parse_instant(start_text, "--start", ConfigurationError)
    end = parse_instant(end_text, "--end", ConfigurationError)
    service = _service(registry, faults, seed)
    with stop_on_signals(service):
        report = service.run_backfill(start, end, count=count)
    report.raise_for_loss()
    if report.expected is not None and report.produced < report.expected:
        raise BackfillIncomplete(
            f"backfill stopped ({report.stop_reason}) after {report.produced} of {report.expected} readings; "
            f"run it again with --seed {report.seed} to complete the window (the same seed repeats the same "
            "readings, which are counted once downstream)"
        )
