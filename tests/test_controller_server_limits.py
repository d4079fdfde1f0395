"""The controller's HTTP server under hostile clients: silent and trickling connections, floods, disconnects."""

from __future__ import annotations

import http.client
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from freightyard.controller import server as server_module
from freightyard.controller.server import MAX_PER_CLIENT, Answer, HttpServer, Routes
from tests.helpers.slow_clients import trickling


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpServer]:
    monkeypatch.setattr(server_module._Handler, "timeout", 1.0)  # the 10 s of production, shortened
    routes = Routes(
        health=lambda: Answer.json(200, {"ok": True}),
        ready=lambda: Answer.json(200, {}),
        metrics=lambda: Answer(200, b"m 1\n", "text/plain"),
        webhook=lambda provider, headers, query, body: Answer.json(202, {}),
    )
    with HttpServer(routes, "127.0.0.1", 0) as running:
        yield running


def healthz(port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status
    finally:
        connection.close()


def http_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("Thread-") and t.daemon)


def test_silent_connections_are_released_and_capped(server: HttpServer) -> None:
    before = http_threads()
    silent = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(200)]
    try:
        time.sleep(0.3)
        assert http_threads() - before <= MAX_PER_CLIENT  # the rest were closed at once, no thread each
        deadline = time.monotonic() + 5
        while http_threads() > before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert http_threads() <= before  # every silent connection timed out and its thread ended
        assert healthz(server.port) == 200
    finally:
        for s in silent:
            s.close()


def test_twenty_trickling_clients_do_not_starve_normal_requests(server: HttpServer) -> None:
    with trickling(server.port, b"GET /healthz HTTP/1.1\r\n"):
        time.sleep(0.3)
        started = time.monotonic()
        assert [healthz(server.port) for _ in range(3)] == [200, 200, 200]
        assert time.monotonic() - started < 2


def test_a_disconnect_is_one_log_line(
    server: HttpServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="freightyard.controller")
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"POST /webhooks/github HTTP/1.1\r\nContent-Length: 100000\r\n\r\npartial")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # reset on close
    time.sleep(1.5)
    records = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert all(r.exc_info is None for r in records)
    assert any("connection closed" in r.getMessage() for r in records)
    err = capfd.readouterr().err  # socketserver's default handle_error prints ~20 lines starting so:
    assert "Exception occurred during processing of request" not in err
    assert all("\n" not in r.getMessage() for r in records)
    assert healthz(server.port) == 200
