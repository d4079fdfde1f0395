"""Clients that open a request and never finish its headers: what must not starve an HTTP server."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def trickling(port: int, request_line: bytes, count: int = 20) -> Iterator[None]:
    """``count`` connections to 127.0.0.1:``port`` sending ``request_line`` and then one header line
    every half second, never the blank line that ends the headers; all closed on exit."""
    stop = threading.Event()

    def trickle() -> None:
        try:
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(request_line)
                while not stop.is_set():
                    s.sendall(b"X-A: b\r\n")
                    stop.wait(0.5)
        except OSError:
            return

    threads = [threading.Thread(target=trickle, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
