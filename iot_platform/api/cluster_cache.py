"""The Spark master's state, shared by concurrent requests for a short time.

Fifty clients polling ``/cluster/status`` must not become fifty requests per poll to the master: a reading is
kept for ``ttl_s`` (default one second), and callers that arrive while it is being fetched wait for that one
fetch instead of starting their own. A failure is kept for the same time, so a dead master is asked once per
``ttl_s`` rather than once per request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from iot_platform.clients.spark_master import ClusterState, SparkApplication, SparkMasterClient
from iot_platform.errors import ServiceUnavailable

DEFAULT_TTL_S = 1.0
T = TypeVar("T")


class CachedClusterState:
    """Reads the master's state through ``client`` at most once per ``ttl_s``; thread-safe."""

    def __init__(
        self, client: SparkMasterClient, *, ttl_s: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Wrap a master client.

        Args:
            client: The real (or, in unit tests, fake) master client.
            ttl_s: How long a reading (or a failure) is reused.
            clock: Monotonic seconds (tests only).
        """
        self.client = client
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._state: ClusterState | None = None
        self._error: ServiceUnavailable | None = None
        self._derived: dict[str, tuple[ClusterState, object]] = {}

    @property
    def web_url(self) -> str:
        """The master's web UI URL, for messages."""
        return self.client.web_url

    def state(self, *, fresh: bool = False) -> ClusterState:
        """The master's state, at most ``ttl_s`` old (``fresh=True``: read now).

        Raises:
            ServiceUnavailable: the master cannot be reached (now, or within the last ``ttl_s``).
        """
        with self._lock:
            now = self._clock()
            if fresh or self._read_at is None or now - self._read_at >= self._ttl_s:
                self._read_at = None  # lock-free readers (cached) see no reading while it changes
                try:
                    self._state, self._error = self.client.cluster_state(), None
                except ServiceUnavailable as exc:
                    self._state, self._error = None, exc
                self._read_at = self._clock()
            if self._error is not None:
                raise self._error
            assert self._state is not None
            return self._state

    def cached(self) -> ClusterState | None:
        """The reading if it is still fresh, without waiting or calling the master (safe on the event loop).

        Raises:
            ServiceUnavailable: the master could not be reached within the last ``ttl_s``.
        """
        read_at, state, error = self._read_at, self._state, self._error
        if read_at is None or self._clock() - read_at >= self._ttl_s:
            return None
        if error is not None:
            raise error
        return state

    async def state_async(self) -> ClusterState:
        """:meth:`state` for ``async`` endpoints: a fresh reading is returned on the event loop; otherwise the
        blocking read runs in the threadpool, so the loop never waits on the master."""
        from starlette.concurrency import run_in_threadpool

        state = self.cached()
        if state is not None:
            return state
        return await run_in_threadpool(self.state)

    def derived(self, state: ClusterState, key: str, build: Callable[[ClusterState], T]) -> T:
        """``build(state)``, computed once per reading: e.g. a rendered answer every request can send as is."""
        found = self._derived.get(key)
        if found is not None and found[0] is state:
            return found[1]  # type: ignore[return-value]  # stored by the same key with the same builder
        value = build(state)
        self._derived[key] = (state, value)
        return value

    def invalidate(self) -> None:
        """Forget the cached reading, e.g. after killing an application."""
        with self._lock:
            self._read_at = None

    def kill_application(self, app_id: str) -> SparkApplication:
        """Kill an application at the master (see ``SparkMasterClient.kill_application``) and forget the cache."""
        try:
            return self.client.kill_application(app_id)
        finally:
            self.invalidate()
