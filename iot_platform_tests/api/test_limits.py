"""Size limits: oversized heads and bodies are refused before any route or token check; error bodies stay small."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Iterator

import pytest
import uvicorn

from iot_platform.api.limits import MAX_BODY_BYTES, MAX_ERROR_ISSUES, MAX_HEADER_BYTES, BoundedHttpToolsProtocol
from iot_platform_tests.api.conftest import AUTH, Api

SUBMIT = "/api/v1/jobs/submit"


def test_a_body_over_the_limit_is_413_before_the_token_is_checked(api: Api) -> None:
    response = api.client.post(SUBMIT, content=b"{" + b" " * (2 * MAX_BODY_BYTES) + b"}")
    assert response.status_code == 413
    assert f"exceeds {MAX_BODY_BYTES} bytes" in response.json()["detail"]
    assert api.dagster.submitted == []


def test_a_streamed_body_over_the_limit_is_413(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b" " * 4096

    response = api.client.post(SUBMIT, content=chunks(), headers=AUTH)
    assert response.status_code == 413
    assert api.dagster.submitted == []


def test_a_body_under_the_limit_still_reaches_the_route(api: Api) -> None:
    response = api.client.post(SUBMIT, json={"job": "hourly_stats", "partition": "2026-11-24-09:00"}, headers=AUTH)
    assert response.status_code == 202


def test_headers_over_the_limit_are_431(api: Api) -> None:
    response = api.client.get("/api/v1/cluster/status", headers={"X-Padding": "a" * MAX_HEADER_BYTES})
    assert response.status_code == 431
    assert "headers exceed" in response.json()["detail"]


def test_a_body_of_many_unknown_keys_is_a_small_422(api: Api) -> None:
    body = {"job": "hourly_stats", "partition": "2026-11-24-09:00", **{f"k{i}": i for i in range(3000)}}
    response = api.client.post(SUBMIT, content=json.dumps(body), headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert len(response.content) < 8 * 1024
    answer = response.json()
    assert len(answer["errors"]) == MAX_ERROR_ISSUES
    assert f"and {3000 - MAX_ERROR_ISSUES} more issue(s)" in answer["detail"]


@pytest.fixture
def server_port() -> Iterator[int]:
    """A real uvicorn with the platform's protocol, serving an app that answers 200 to everything."""

    async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, http=BoundedHttpToolsProtocol, lifespan="off", log_level="critical")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.02)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(10)


def test_the_server_stops_reading_an_endless_header_with_431(server_port: int) -> None:
    with socket.create_connection(("127.0.0.1", server_port), timeout=10) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Padding: ")
        sent, answer = 0, b""
        try:
            while sent < 8 * 1024 * 1024:
                conn.sendall(b"a" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            pass
        with contextlib.suppress(ConnectionResetError):
            answer = conn.recv(4096)
    assert sent < 8 * 1024 * 1024, "the server read an 8 MB header"
    assert answer.startswith(b"HTTP/1.1 431") or answer == b""


def test_the_server_still_answers_ordinary_requests(server_port: int) -> None:
    with socket.create_connection(("127.0.0.1", server_port), timeout=10) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert conn.recv(4096).startswith(b"HTTP/1.1 200")
