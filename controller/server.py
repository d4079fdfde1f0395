"""The controller's small HTTP server: ``/healthz``, ``/readyz``, ``/metrics``, ``POST /webhooks/<provider>``
and, when given, the UI API under ``/api/`` (controller/api.py) and the standalone page's files.

Stdlib ``http.server`` in a daemon thread: a handful of requests a minute does not need more.
Request bodies are bounded (``MAX_BODY_BYTES``, 413 beyond it; 411 without a length), paths are
matched exactly, and answers are small JSON documents that never echo secrets or payloads.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("freightyard.controller")
MAX_BODY_BYTES = 1024 * 1024  # GitHub caps payloads at 25 MB but pushes are tiny; 1 MiB is plenty
DRAIN_LIMIT_BYTES = 8 * MAX_BODY_BYTES  # refused bodies up to this size are read and dropped
WEBHOOK_PREFIX = "/webhooks/"
API_PREFIX = "/api/"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, data: dict[str, Any]) -> Answer:
        return cls(status, json.dumps(data, sort_keys=True).encode() + b"\n")


@dataclass(frozen=True)
class Routes:
    """What the server calls: health, metrics and the webhook handler (provider, headers, query, body)."""

    health: Callable[[], Answer]
    ready: Callable[[], Answer]
    metrics: Callable[[], Answer]
    webhook: Callable[[str, dict[str, str], dict[str, str], bytes], Answer]
    api: Callable[[str, str, dict[str, str], bytes], Answer] | None = None  # method, path, headers, body
    page: Callable[[str], Answer | None] | None = None  # static files of the standalone page


READ_TIMEOUT_S = 10.0  # a connection silent this long (headers or body) is closed: threads never pile up
MAX_PER_CLIENT = 32  # connections at once from one address; more are closed at once
MAX_CONNECTIONS = 256  # in all


class _Handler(BaseHTTPRequestHandler):
    routes: Routes
    server_version = "freightyard-controller"
    sys_version = ""
    timeout = READ_TIMEOUT_S  # socketserver applies it to every read: the timed-out request is one log line

    def log_error(self, format: str, *args: Any) -> None:
        log.info("http %s: " + format, self.client_address[0], *args)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/healthz":
            self._send(self.routes.health())
        elif path == "/readyz":
            self._send(self.routes.ready())
        elif path == "/metrics":
            self._send(self.routes.metrics())
        elif path.startswith(API_PREFIX) and self.routes.api is not None:
            self._send(self._call_api("GET", path, b""))
        elif self.routes.page is not None and (page := self.routes.page(path)) is not None:
            self._send(page)
        else:
            self._send(Answer.json(404, {"error": f"no route {path[:100]}"}))

    def do_POST(self) -> None:
        split = urlsplit(self.path)
        api = split.path.startswith(API_PREFIX) and self.routes.api is not None
        if not split.path.startswith(WEBHOOK_PREFIX) and not api:
            self._send(Answer.json(404, {"error": f"no route {split.path[:100]}"}))
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._send(Answer.json(411, {"error": "Content-Length is required"}))
            return
        if int(length) > MAX_BODY_BYTES:
            self._drain(int(length))
            self._send(Answer.json(413, {"error": f"body over {MAX_BODY_BYTES} bytes"}))
            return
        body = self.rfile.read(int(length))
        if api:
            self._send(self._call_api("POST", split.path, body))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        query = {k: v[0] for k, v in parse_qs(split.query).items() if v}
        provider = split.path[len(WEBHOOK_PREFIX) :].strip("/")
        try:
            answer = self.routes.webhook(provider, headers, query, body)
        except Exception:  # a bug: log it with its traceback, answer 500 without it
            log.exception("webhook handler failed")
            answer = Answer.json(500, {"error": "internal error"})
        self._send(answer)

    def _call_api(self, method: str, path: str, body: bytes) -> Answer:
        if self.routes.api is None:
            return Answer.json(404, {"message": f"no route {path[:100]}"})
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            return self.routes.api(method, path, headers, body)
        except Exception:  # a bug: log it with its traceback, answer 500 without it
            log.exception("api handler failed")
            return Answer.json(500, {"message": "internal error"})

    def _drain(self, length: int) -> None:
        """Read and drop a refused body (bounded), so the sender gets our 413 instead of a reset."""
        if length > DRAIN_LIMIT_BYTES:
            return
        self.connection.settimeout(2.0)
        remaining = length
        try:
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 64 * 1024))
                if not chunk:
                    break
                remaining -= len(chunk)
        except OSError:
            return

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)


class _BoundedServer(ThreadingHTTPServer):
    """Threads per connection, bounded per client address and in all; a disconnect is one log line."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}

    def process_request(self, request: Any, client_address: Any) -> None:
        host = str(client_address[0])
        with self._lock:
            refused = self._open.get(host, 0) >= MAX_PER_CLIENT or sum(self._open.values()) >= MAX_CONNECTIONS
            if not refused:
                self._open[host] = self._open.get(host, 0) + 1
        if refused:
            log.info("http %s: too many connections at once; closing this one", host)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            host = str(client_address[0])
            with self._lock:
                self._open[host] -= 1
                if not self._open[host]:
                    del self._open[host]

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError):  # the client went away (reset, broken pipe, timeout)
            log.info("http %s: connection closed: %s", client_address[0], error)
        else:
            log.error("http %s: request failed", client_address[0], exc_info=error)


class HttpServer:
    """``with HttpServer(routes, "127.0.0.1", 0) as server: server.port``."""

    def __init__(self, routes: Routes, host: str, port: int) -> None:
        handler = type("BoundHandler", (_Handler,), {"routes": routes})
        self._server = _BoundedServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> HttpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``:8080`` means all interfaces) into a pair; ValueError when malformed."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"--listen {text!r}: expected HOST:PORT, e.g. 0.0.0.0:8080 or 127.0.0.1:0")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - an explicit ":PORT" asks for all interfaces
