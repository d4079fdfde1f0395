"""The warm render server: a long-lived process in the sidecar that runs ``generate`` for
``freightyard-cmp`` so each render pays only for kustomize/helm, not for Python start-up and imports.

One per sidecar (per socket): a second one finds the socket alive and exits. It serves requests
on threads, refuses requests from a different code version or once any module it has loaded changed
on disk (``freshness.py``, checked by ``watcher.py`` while the render runs), stops the render of a
client that hung up, and exits after being idle or stale.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time

from freightyard.cmp.client import STALE
from freightyard.cmp.freshness import LoadedModules
from freightyard.cmp.main import render_request
from freightyard.cmp.protocol import NATIVE_VERSION, code_version, decode, encode, frame, read_frame
from freightyard.cmp.watcher import Watcher
from freightyard.shared.process import CANCELLATION

IDLE_SECONDS = float(os.environ.get("FREIGHTYARD_CMP_SERVER_IDLE", "900"))
# The first client's per-app settings must not leak into the tools every later render runs.
_PER_REQUEST_PREFIXES = ("ARGOCD_", "PARAM_", "KUBE_VERSION", "KUBE_API_VERSIONS")


HANDLERS = 16  # renders at once; more clients wait in the listen backlog (kustomize is CPU-bound anyway)


class RenderServer:
    """Handler threads that each block in ``accept`` and render on their own thread: the kernel hands
    a connection straight to an idle handler, so a render costs no thread start and no hand-off."""

    def __init__(self, path: str) -> None:
        self.version = code_version()
        self.modules = LoadedModules()
        self.stale = False
        self.last_used = time.monotonic()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(path)
        self._listener.listen(128)
        self._watcher = Watcher(self.modules)

    def start(self) -> None:
        for number in range(HANDLERS):
            threading.Thread(target=self._accept_forever, name=f"handler-{number}", daemon=True).start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the handlers blocked in accept
        self._listener.close()

    def touch(self) -> None:
        self.last_used = time.monotonic()

    def _accept_forever(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                if self._listener.fileno() < 0:
                    return
                time.sleep(0.05)  # out of file descriptors, say: not a busy loop
                continue
            # A bug in one request must not cost the pool a handler: its client sees the connection
            # close and renders in-process (the server has no log; the in-process render reports).
            with conn, contextlib.suppress(Exception):
                self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        self.touch()
        conn.settimeout(30)
        try:
            version, cwd, *variables = decode(read_frame(conn))
        except (OSError, ValueError):
            return
        if version not in (self.version, NATIVE_VERSION):
            self._refuse_as_stale(conn)
            return
        environ = dict(v.split("=", 1) for v in variables if "=" in v)
        watch = self._watcher.watch(conn)
        token = CANCELLATION.set(watch.scope)
        try:
            code, out, err = render_request(environ, cwd)
        finally:
            CANCELLATION.reset(token)
            self._watcher.forget(watch)
        if watch.scope.cancelled:
            return  # the client is gone (Argo CD killed it at its deadline): its render was stopped
        if watch.code_is_stale():
            self._refuse_as_stale(conn)
            return
        # What this render imported lazily is checked from now on: stamped before the client hears
        # back, or a change it makes right after its answer would go unseen.
        self.modules.add_new()
        try:
            conn.sendall(encode([str(code), err]) + frame(out))
        except OSError:
            return
        finally:
            self.touch()

    def _refuse_as_stale(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.sendall(encode([STALE, ""]) + frame(b""))
        self.stale = True


def _alive(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def serve(path: str) -> int:
    for key in [k for k in os.environ if k.startswith(_PER_REQUEST_PREFIXES)]:
        del os.environ[key]
    if _alive(path):
        return 0  # another server already answers here
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    old_umask = os.umask(0o077)
    try:
        server = RenderServer(path)
    finally:
        os.umask(old_umask)
    with open(f"{path}.pid", "w", encoding="utf-8") as pid_file:
        pid_file.write(str(os.getpid()))
    server.start()
    try:
        while not server.stale and time.monotonic() - server.last_used < IDLE_SECONDS:
            time.sleep(1.0)
    finally:
        server.close()
        for leftover in (path, f"{path}.pid"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(serve(sys.argv[1]))
