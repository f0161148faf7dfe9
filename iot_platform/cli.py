"""The ``iot-platform`` command: mounts the stack, generator, api and demo commands."""

from __future__ import annotations

import sys

import click

from iot_platform.errors import PlatformError


@click.group()
def cli() -> None:
    """IoT sensor data platform: run the local stack, the sensor generator, the REST API and the demo."""


def _mount() -> None:
    from iot_platform.stack.cli import stack

    cli.add_command(stack)
    try:
        from iot_platform.generator.cli import generator
    except ImportError:  # pragma: no cover - only while the generator is being built
        pass
    else:
        cli.add_command(generator)
    try:
        from iot_platform.api.cli import api
    except ImportError:  # pragma: no cover - only while the API is being built
        pass
    else:
        cli.add_command(api)
    from iot_platform.demo import demo

    cli.add_command(demo)


def main() -> None:
    """Entry point: one-line error and non-zero exit for every platform error."""
    _mount()
    try:
        cli.main(standalone_mode=False)
    except PlatformError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
