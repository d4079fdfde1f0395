"""One thread beside the render server's handlers that watches every request in flight: it cancels
the render of a client that hung up (Argo CD killed the plugin at its deadline) and tells each
request whether the server's loaded code still matches the files on disk.

Handlers render on their own thread (no second thread per request: every extra wake-up between
threads is paid on each render); the watcher does the waiting instead. The freshness check (~0.5 ms
of stats) runs here while the handler renders, and a handler answers only after the check that began
after its request arrived, so a module changed before a request is never missed.
"""

from __future__ import annotations

import os
import select
import socket
import threading
from dataclasses import dataclass, field

from freightyard.cmp.freshness import LoadedModules
from freightyard.shared.process import Cancellation

_WATCHED = select.POLLIN | select.POLLHUP | select.POLLERR
CHECK_TIMEOUT_S = 5.0


@dataclass(eq=False)
class Watch:
    """One request in flight: its cancellation scope and, once checked, whether the code is stale."""

    conn: socket.socket
    fd: int
    scope: Cancellation = field(default_factory=Cancellation)
    checked: threading.Event = field(default_factory=threading.Event)
    stale: bool = False

    def code_is_stale(self) -> bool:
        """Waits for this request's check; a watcher that never answers counts as stale (the client
        then renders in-process and the server exits), so a fault here cannot hang renders."""
        if not self.checked.wait(CHECK_TIMEOUT_S):
            return True
        return self.stale


class Watcher:
    def __init__(self, modules: LoadedModules) -> None:
        self._modules = modules
        self._lock = threading.Lock()
        self._watches: dict[int, Watch] = {}
        self._unchecked: list[Watch] = []
        self._wake_read, self._wake_write = os.pipe()
        threading.Thread(target=self._run, name="watcher", daemon=True).start()

    def watch(self, conn: socket.socket) -> Watch:
        watch = Watch(conn, conn.fileno())
        with self._lock:
            self._watches[watch.fd] = watch
            self._unchecked.append(watch)
        os.write(self._wake_write, b"\0")
        return watch

    def forget(self, watch: Watch) -> None:
        """Stop watching (the next ``watch`` wakes the thread, which then polls without it)."""
        self._drop(watch)

    def _drop(self, watch: Watch) -> None:
        with self._lock:
            if self._watches.get(watch.fd) is watch:  # the number may belong to a newer request
                del self._watches[watch.fd]

    def _run(self) -> None:
        while True:
            poller = select.poll()
            poller.register(self._wake_read, select.POLLIN)
            with self._lock:
                watched = dict(self._watches)
            for fd in watched:
                poller.register(fd, _WATCHED)
            for fd, _ in poller.poll():
                if fd == self._wake_read:
                    os.read(self._wake_read, 4096)
                elif fd in watched:  # may be a request already answered whose number was reused
                    self._readable(watched[fd])
            with self._lock:
                unchecked, self._unchecked = self._unchecked, []
            if unchecked:
                stale = self._modules.changed() is not None
                for watch in unchecked:
                    watch.stale = stale
                    watch.checked.set()

    def _readable(self, watch: Watch) -> None:
        """The client sends nothing after its request: readable means it hung up (cancel its render)
        or misbehaves; either way its socket is not polled again."""
        if _hung_up(watch.conn):
            watch.scope.cancel()
        self._drop(watch)


def _hung_up(conn: socket.socket) -> bool:
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
