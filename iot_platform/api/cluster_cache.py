"""Readings of the engines behind the API, shared by concurrent requests for a short time.

Fifty clients polling ``/cluster/status`` must not become fifty requests per poll to the master: a reading is
kept for ``ttl_s`` (default one second), and callers that arrive while it is being fetched wait for that one
fetch instead of starting their own. A failure is kept for the same time, so a dead master is asked once per
``ttl_s`` rather than once per request. The same holds for Dagster's runs in progress and for the application id
of the platform's Spark Connect server (:class:`TimedReading`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from iot_platform.clients.spark_master import ClusterState, SparkApplication, SparkMasterClient
from iot_platform.errors import ServiceUnavailable

DEFAULT_TTL_S = 1.0
CONNECT_SERVER_TTL_S = 15.0
"""How long the Spark Connect server's application id (or the news that it cannot be reached) is reused: asking
opens a session on the server, and the id only changes when the server restarts."""
T = TypeVar("T")


class TimedReading(Generic[T]):
    """The result of ``read()``, reused for ``ttl_s``; a :class:`ServiceUnavailable` is reused too. Thread-safe:
    callers arriving during a read wait for it instead of reading again."""

    def __init__(
        self, read: Callable[[], T], *, ttl_s: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Wrap a reader.

        Args:
            read: Reads the engine (may raise ``ServiceUnavailable``).
            ttl_s: How long a reading (or a failure) is reused.
            clock: Monotonic seconds (tests only).
        """
        self._read = read
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._value: T | None = None
        self._error: ServiceUnavailable | None = None

    def get(self, *, fresh: bool = False) -> T:
        """The reading, at most ``ttl_s`` old (``fresh=True``: read now).

        Raises:
            ServiceUnavailable: the engine cannot be reached (now, or within the last ``ttl_s``).
        """
        with self._lock:
            now = self._clock()
            if fresh or self._read_at is None or now - self._read_at >= self._ttl_s:
                self._read_at = None  # lock-free readers (peek) see no reading while it changes
                try:
                    self._value, self._error = self._read(), None
                except ServiceUnavailable as exc:
                    self._value, self._error = None, exc
                self._read_at = self._clock()
            if self._error is not None:
                raise self._error
            return self._value  # type: ignore[return-value]  # set by the read above or an earlier one

    def peek(self) -> tuple[bool, T | None]:
        """``(True, reading)`` if a reading is still fresh, else ``(False, None)``, without waiting or reading
        (safe on the event loop).

        Raises:
            ServiceUnavailable: the engine could not be reached within the last ``ttl_s``.
        """
        read_at, value, error = self._read_at, self._value, self._error
        if read_at is None or self._clock() - read_at >= self._ttl_s:
            return False, None
        if error is not None:
            raise error
        return True, value

    def invalidate(self) -> None:
        """Forget the reading, e.g. after a change the caller made."""
        with self._lock:
            self._read_at = None


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
        self._reading = TimedReading(client.cluster_state, ttl_s=ttl_s, clock=clock)
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
        return self._reading.get(fresh=fresh)

    def cached(self) -> ClusterState | None:
        """The reading if it is still fresh, without waiting or calling the master (safe on the event loop).

        Raises:
            ServiceUnavailable: the master could not be reached within the last ``ttl_s``.
        """
        return self._reading.peek()[1]

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
        self._reading.invalidate()

    def kill_application(self, app_id: str) -> SparkApplication:
        """Kill an application at the master (see ``SparkMasterClient.kill_application``) and forget the cache."""
        try:
            return self.client.kill_application(app_id)
        finally:
            self.invalidate()
