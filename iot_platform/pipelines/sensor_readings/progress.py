"""Progress lines of an ingestion run, each with the time its step took."""

from __future__ import annotations

import time
from collections.abc import Callable


class Progress:
    """Logs what a step did and how long it took since the previous step."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self._step = time.monotonic()

    def __call__(self, what: str) -> None:
        self.log(f"{what} in {time.monotonic() - self._step:.1f}s")
        self._step = time.monotonic()
