"""Response headers the API controls whatever a request claims: links without the request's host, a complete
``Allow``.

Every ``Location`` and ``Link`` the API sends is a path (``/api/v1/...``), so a forged ``Host`` header never
reaches an answer or a cache. A 405 lists every method the path takes, not only those of the first route that
matched it (the methods the OpenAPI schema documents for the path).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders

from iot_platform.api.limits import ASGIApp, Message, Receive, Scope, Send

_ABSOLUTE_IN_LINK = re.compile(r"<[A-Za-z][A-Za-z0-9+.-]*://[^/>]*")


def relative(url: str) -> str:
    """The path, query and fragment of ``url`` (``url`` unchanged when it has no host)."""
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc:
        return url
    query = f"?{parts.query}" if parts.query else ""
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return f"{parts.path or '/'}{query}{fragment}"


_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def path_methods(openapi: dict[str, Any]) -> list[tuple[re.Pattern[str], list[str]]]:
    """Each documented path as a pattern (a ``{parameter}`` stands for one segment) with its methods, sorted."""
    table = []
    for template, operations in openapi.get("paths", {}).items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        methods = sorted(method.upper() for method in operations if method in _METHODS)
        table.append((re.compile(f"^{pattern}$"), methods))
    return table


def allowed_methods(table: list[tuple[re.Pattern[str], list[str]]], path: str) -> list[str]:
    """Every documented method of ``path``, sorted (empty when the path is not documented)."""
    methods: set[str] = set()
    for pattern, path_methods_ in table:
        if pattern.match(path):
            methods.update(path_methods_)
    return sorted(methods)


class ResponseHeaders:
    """ASGI middleware: make ``Location`` and ``Link`` relative; on 405, ``Allow`` every method of the path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._paths: list[tuple[re.Pattern[str], list[str]]] | None = None

    def _allowed(self, scope: Scope) -> list[str]:
        if self._paths is None:
            self._paths = path_methods(scope["app"].openapi())  # the routes are final once requests arrive
        return allowed_methods(self._paths, scope["path"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "location" in headers:
                    headers["location"] = relative(headers["location"])
                if "link" in headers:
                    headers["link"] = _ABSOLUTE_IN_LINK.sub("<", headers["link"])
                if message["status"] == 405 and "app" in scope:
                    allowed = self._allowed(scope)
                    if allowed:
                        headers["allow"] = ", ".join(allowed)
            await send(message)

        await self.app(scope, receive, send_with_headers)
