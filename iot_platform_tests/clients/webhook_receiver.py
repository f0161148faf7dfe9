"""A real HTTP webhook receiver on 127.0.0.1 for tests: it records every POST and answers with scripted statuses."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it, with the status it answered."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int


class WebhookReceiver:
    """Answers 200 unless told otherwise: :meth:`fail_next` queues error statuses, :meth:`fail_always` sets one
    for every request until :meth:`recover`. ``url`` carries a secret-looking path, as real webhooks do."""

    SECRET = "hooks/secret-token-4711"

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._queued: deque[int] = deque()
        self._always: int | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = receiver._next_status()
                with receiver._lock:
                    receiver.requests.append(Received(self.path, dict(self.headers.items()), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/{self.SECRET}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _next_status(self) -> int:
        with self._lock:
            if self._queued:
                return self._queued.popleft()
            return self._always or 200

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` requests with ``status``."""
        with self._lock:
            self._queued.extend([status] * count)

    def fail_always(self, status: int = 500) -> None:
        """Answer every request with ``status`` until :meth:`recover`."""
        self._always = status

    def recover(self) -> None:
        """Accept every request again."""
        self._always = None

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """Bodies of the requests answered with 2xx, in arrival order."""
        with self._lock:
            return [request.body for request in self.requests if 200 <= request.status < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
