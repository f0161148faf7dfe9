"""Size limits on what a caller can make the API read: the request line and headers, the body, error bodies.

Oversized requests are answered before any route, dependency or token check runs: 431 for the request line and
headers over :data:`MAX_HEADER_BYTES`, 413 for a body over :data:`MAX_BODY_BYTES` (by its ``Content-Length``, or
while it streams in). :class:`BoundedHttpToolsProtocol` keeps the server itself from buffering an endless header.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_BODY_BYTES = 64 * 1024
"""Largest request body the API reads (a submit body is under 200 bytes)."""
MAX_HEADER_BYTES = 16 * 1024
"""Largest request line plus headers the API reads (a bearer token and a browser's headers fit easily)."""
MAX_ERROR_ISSUES = 20
"""Most validation issues a 422 lists; the rest are counted."""
MAX_ERROR_TEXT = 300
"""Longest text of one validation issue or error ``detail`` part."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_WITHOUT_BODY = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


def clip(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    """``text`` cut to ``limit`` characters, marked when cut."""
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def head_size(scope: Scope) -> int:
    """Bytes of the request line and headers as the caller sent them (about: separators counted once)."""
    line = len(scope.get("raw_path") or scope.get("path", "").encode()) + len(scope.get("query_string", b""))
    return line + sum(len(name) + len(value) + 4 for name, value in scope.get("headers", ()))


async def answer(send: Send, status: int, detail: str) -> None:
    """Send ``{"detail": ...}`` with ``status`` and close the connection (the rest of the request is not read)."""
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """ASGI middleware: refuse oversized heads (431) and bodies (413) before the app sees the request.

    A body is read in full (up to the limit) before the app runs, then handed on in one piece, so no route ever
    parses a body it should have refused.
    """

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES, max_head: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_body = max_body
        self.max_head = max_head

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if head_size(scope) > self.max_head:
            await answer(send, 431, f"the request line and headers exceed {self.max_head} bytes: send less")
            return
        headers = dict(scope.get("headers", ()))
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await answer(send, 400, "Content-Length is not a number of bytes")
                return
            if int(declared) > self.max_body:
                await answer(send, 413, self._too_large())
                return
        if scope["method"] in _WITHOUT_BODY and declared in (None, b"0") and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)
            return
        body = await self._read_body(receive)
        if body is None:
            await answer(send, 413, self._too_large())
            return
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self) -> str:
        return f"the request body exceeds {self.max_body} bytes: a request to this API is a small JSON object"

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or ``None`` once it grows past the limit (the rest is not read)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)  # the caller went away: the app sees an empty remainder
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands over ``body`` once, then waits on the real one (for a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that stops reading a request whose head grows past a limit (431).

    httptools buffers a header until it ends; without this, a client could make the server hold megabytes of
    one header before the app's own check (:class:`RequestLimits`) could refuse it.
    """

    max_head = 4 * MAX_HEADER_BYTES
    """Bytes of an unfinished head the server buffers; :class:`RequestLimits` applies the exact limit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._in_head = True

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._in_head or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > self.max_head:
            body = json.dumps({"detail": f"the request headers exceed {self.max_head} bytes: send less"}).encode()
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
                + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
                + body
            )
            self.transport.close()
