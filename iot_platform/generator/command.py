"""The command lines that start ``iot-platform generator`` as a child process, built in one place."""

from __future__ import annotations

import sys


def generator_command(mode: str, *options: str) -> list[str]:
    """``iot-platform generator <mode> <options>`` run with this interpreter.

    Args:
        mode: ``run`` (live readings) or ``backfill`` (a historic window).
        options: Options of that subcommand, e.g. ``("--seed", "7")``.
    """
    return [sys.executable, "-m", "iot_platform", "generator", mode, *options]


def live_command() -> list[str]:
    """The live generator as the stack runs it (rate, sensors and topic from ``IOT_*`` variables)."""
    return generator_command("run")


def backfill_command(start: str, end: str, seed: int, count: int | None = None, faults: str | None = None) -> list[str]:
    """``iot-platform generator backfill`` for the window ``[start, end)``.

    Args:
        start: Window start, ISO-8601 with an offset.
        end: Window end (exclusive), ISO-8601 with an offset.
        seed: Seed of the readings (the same seed repeats the same readings).
        count: Stop after this many readings.
        faults: Faults to inject (``off``, ``demo`` or a YAML file; default: ``IOT_GENERATOR_FAULTS``).
    """
    options = ["--start", start, "--end", end]
    if count is not None:
        options += ["--count", str(count)]
    if faults is not None:
        options += ["--faults", faults]
    return generator_command("backfill", *options, "--seed", str(seed))
