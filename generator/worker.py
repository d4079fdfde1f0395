"""A gunicorn ``gthread`` worker that gives a connection to a thread only once its request head is complete.

Stock ``gthread`` hands a connection to a thread as soon as it is readable; a client that then sends
its headers a line at a time (never finishing) holds that thread, and a few such clients starve the
ApplicationSet controller's requests. Here the head is collected in the worker's event loop without
blocking (at most ``MAX_HEAD_BYTES``, within ``HEAD_TIMEOUT_S``, else the connection is closed), so
threads only ever parse requests that have fully arrived. Plain HTTP/1.1 only (what the generator
serves); TLS or HTTP/2 connections take the stock path.
"""

from __future__ import annotations

import selectors
import time
from functools import partial
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

HEAD_TIMEOUT_S = 10.0  # the ApplicationSet controller sends its request at once
MAX_HEAD_BYTES = 64 * 1024  # gunicorn's own limits (request line, fields) refuse far less than this
END_OF_HEAD = b"\r\n\r\n"


class HeadFirstWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no types
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heads: dict[Any, tuple[bytearray, float]] = {}  # connection -> (bytes so far, deadline)
        self.waiting: list[Any] = []  # connections the poller watches for more of their head

    def enqueue_req(self, conn: Any) -> None:
        if self.cfg.is_ssl or conn.is_http2 or (conn.initialized and conn.parser.unreader.buf.getvalue()):
            super().enqueue_req(conn)  # TLS/HTTP/2, or a read-ahead next request already buffered
            return
        head = self.heads.setdefault(conn, (bytearray(), time.monotonic() + HEAD_TIMEOUT_S))[0]
        conn.sock.setblocking(False)
        try:
            chunk = conn.sock.recv(MAX_HEAD_BYTES)
        except (BlockingIOError, InterruptedError):
            chunk = None
        except OSError:
            chunk = b""
        if chunk == b"":  # the client went away
            self._drop(conn)
            return
        head += chunk or b""
        if END_OF_HEAD not in head and len(head) < MAX_HEAD_BYTES:
            self.waiting.append(conn)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._head_readable, conn))
            return
        del self.heads[conn]
        if not conn.initialized:
            conn.init()  # plain HTTP/1.1: makes the parser, reads nothing
        conn.parser.unreader.unread(bytes(head))
        conn.data_ready = True
        super().enqueue_req(conn)

    def _head_readable(self, conn: Any, _sock: Any) -> None:
        self.poller.unregister(conn.sock)
        self.waiting.remove(conn)
        self.enqueue_req(conn)

    def murder_pending(self) -> None:
        """Also close connections whose head did not arrive in time (all of them when stopping)."""
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c in self.waiting if not self.alive or self.heads[c][1] <= now]:
            self.waiting.remove(conn)
            self.poller.unregister(conn.sock)
            self._drop(conn)

    def _drop(self, conn: Any) -> None:
        self.heads.pop(conn, None)
        self.nr_conns -= 1
        conn.close()
