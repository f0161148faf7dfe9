"""The generator's command lines for child processes: what they run is what the CLI parses."""

from __future__ import annotations

import sys

from iot_platform.generator.cli import backfill, generator
from iot_platform.generator.command import backfill_command, live_command


def test_backfill_command_is_what_the_cli_parses() -> None:
    command = backfill_command("2026-11-24T10:00:00+00:00", "2026-11-24T11:00:00+00:00", seed=7, count=100)

    assert command[:5] == [sys.executable, "-m", "iot_platform", "generator", "backfill"]
    params = backfill.make_context("backfill", command[5:]).params
    assert (params["start_text"], params["end_text"], params["seed"], params["count"]) == (
        "2026-11-24T10:00:00+00:00",
        "2026-11-24T11:00:00+00:00",
        7,
        100,
    )
    assert "--count" not in backfill_command("a", "b", seed=1)


def test_live_command_runs_the_generator_with_its_settings() -> None:
    command = live_command()
    assert command == [sys.executable, "-m", "iot_platform", "generator", "run"]
    assert command[-1] in generator.commands
