"""``python -m iot_platform`` is the ``iot-platform`` command."""

from iot_platform.cli import main

main()
