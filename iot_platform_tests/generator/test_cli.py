"""``iot-platform generator``: bad input is one line on stderr and a non-zero exit, before any Kafka I/O."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from iot_platform.registry import DEFAULT_REGISTRY_FILE


def iot_platform(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from iot_platform.cli import main; main()", *args]
    # A closed port: if a command wrongly reached Kafka it would fail differently (after the connect timeout).
    full_env = {**os.environ, "IOT_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, env=full_env, timeout=60, check=False)


def test_help_lists_run_and_backfill() -> None:
    result = iot_platform("generator", "--help")
    assert result.returncode == 0
    assert "run" in result.stdout and "backfill" in result.stdout
    run_help = iot_platform("generator", "run", "--help").stdout
    for option in ("--rate", "--seed", "--registry", "--faults", "--count"):
        assert option in run_help


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "--rate", "0"), "error: --rate must be a positive number of readings per second, got 0.0"),
        (("run", "--rate", "1e9"), "error: --rate 1e+09 is more than 12 sensors x 1000 readings/s"),
        (("run", "--count", "-3"), "error: --count must be a positive number of readings, got -3"),
        (("backfill", "--start", "soon", "--end", "2026-11-24"), "error: --start: 'soon' is not an ISO-8601 time"),
        (
            ("backfill", "--start", "2026-11-24T10:00Z", "--end", "2026-11-24T09:00Z"),
            "error: --end must be after --start",
        ),
    ],
)
def test_bad_arguments_exit_non_zero_with_one_line(args: tuple[str, ...], message: str) -> None:
    result = iot_platform("generator", *args)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith(message)
    assert "Traceback" not in result.stderr


def test_bad_registry_names_the_field(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_REGISTRY_FILE.read_text())
    data["simulation"]["types"]["pressure"]["min"] = 2000.0
    path = tmp_path / "sensors.yaml"
    path.write_text(yaml.safe_dump(data))
    for env, args in (({}, ("--registry", str(path))), ({"IOT_SENSOR_REGISTRY": str(path)}, ())):
        result = iot_platform("generator", "run", *args, env=env)
        assert result.returncode != 0
        assert result.stderr.strip().splitlines()[-1] == (
            f"error: sensor registry {path}: simulation.types.pressure: min (2000.0) must be below max (1025.0)"
        )


def test_bad_faults_are_refused_before_connecting(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text("- {kind: freeze, sensor_id: NOPE-1, start: 0, duration_s: 5}\n")
    for env, args in (({}, ("--faults", str(path))), ({"IOT_GENERATOR_FAULTS": str(path)}, ())):
        result = iot_platform("generator", "backfill", "--start", "2026-11-24", "--end", "2026-11-25", *args, env=env)
        assert result.returncode != 0
        assert result.stderr.strip().splitlines()[-1] == (
            "error: fault freeze names sensor 'NOPE-1', which the sensor registry does not list"
        )
    result = iot_platform("generator", "run", "--faults", str(tmp_path / "absent.yaml"))
    assert "cannot read it" in result.stderr.strip().splitlines()[-1]


def test_bad_setting_names_the_variable() -> None:
    result = iot_platform("generator", "run", env={"IOT_GENERATOR_INTERVAL_S": "-1"})
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith("error: IOT_GENERATOR_INTERVAL_S")


def test_a_bad_instant_names_its_option() -> None:
    from iot_platform.errors import ConfigurationError
    from iot_platform.generator.cli import backfill

    with pytest.raises(ConfigurationError, match="--end: 'yesterday' is not an ISO-8601 time"):
        backfill.main(["--start", "2026-11-24", "--end", "yesterday"], standalone_mode=False)
