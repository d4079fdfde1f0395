"""The warm render server: a long-lived process in the sidecar that runs ``generate`` for
``freightyard-cmp`` so each render pays only for kustomize/helm, not for Python start-up and imports.

One per sidecar (per socket): a second one finds the socket alive and exits. It serves requests
on threads, refuses requests from a different code version or once any module it has loaded changed
on disk (``freshness.py``), and exits after being idle or stale.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable

from freightyard.cmp.client import STALE
from freightyard.cmp.freshness import LoadedModules
from freightyard.cmp.main import render_request
from freightyard.cmp.protocol import NATIVE_VERSION, code_version, decode, encode, frame, read_frame

HANGUP_CHECK_S = 0.1  # how soon a render whose client went away is stopped
IDLE_SECONDS = float(os.environ.get("FREIGHTYARD_CMP_SERVER_IDLE", "900"))
# The first client's per-app settings must not leak into the tools every later render runs.
_PER_REQUEST_PREFIXES = ("ARGOCD_", "PARAM_", "KUBE_VERSION", "KUBE_API_VERSIONS")


class _Handler(socketserver.BaseRequestHandler):
    server: RenderServer

    def handle(self) -> None:
        self.server.touch()
        conn: socket.socket = self.request
        conn.settimeout(30)
        try:
            version, cwd, *variables = decode(read_frame(conn))
        except (OSError, ValueError):
            return
        if version not in (self.server.version, NATIVE_VERSION):
            self._refuse_as_stale(conn)
            return
        environ = dict(v.split("=", 1) for v in variables if "=" in v)
        answer = _render_while_connected(conn, environ, cwd, self.server.modules)
        if answer is _STALE_CODE:
            self._refuse_as_stale(conn)
            return
        if answer is None:
            return  # the client is gone (Argo CD killed it at its deadline): its render was cancelled
        code, out, err = answer
        # What this render imported lazily is checked from now on: stamped before the client hears
        # back, or a change it makes right after its answer would go unseen.
        self.server.modules.add_new()
        try:
            conn.sendall(encode([str(code), err]) + frame(out))
        except OSError:
            return
        finally:
            self.server.touch()

    def _refuse_as_stale(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.sendall(encode([STALE, ""]) + frame(b""))
        self.server.stale = True


_STALE_CODE = (-1, b"", "")  # the render ran on code that changed on disk: its answer is not sent


def _render_while_connected(
    conn: socket.socket, environ: dict[str, str], cwd: str, modules: LoadedModules
) -> tuple[int, bytes, str] | None:
    """Render on a worker thread while watching the connection; when the client hangs up, kill the
    render's kustomize/helm processes and answer None.

    Whether every loaded module is still the file on disk is checked while the render waits on its
    tool (or once it is done), not before it starts: the check costs ~0.5 ms of stats, which would
    otherwise add to every render. A render that ran on changed code answers ``_STALE_CODE``."""
    from freightyard.shared.process import CANCELLATION, Cancellation

    scope = Cancellation()
    answer: list[tuple[int, bytes, str]] = []

    def work() -> None:
        CANCELLATION.set(scope)
        try:
            answer.append(render_request(environ, cwd))
        finally:
            scope.tool_started.set()

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    watch = select.poll()
    watch.register(conn.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)

    def stopped_before(done: Callable[[], bool]) -> bool:
        """Wait (in HANGUP_CHECK_S steps) until ``done``; when the client hangs up first, cancel."""
        while not done():
            if watch.poll(0) and _hung_up(conn):
                scope.cancel()
                worker.join()
                return True
        return False

    def finished() -> bool:
        worker.join(HANGUP_CHECK_S)
        return not worker.is_alive()

    if stopped_before(lambda: scope.tool_started.wait(HANGUP_CHECK_S)):
        return None
    if modules.changed() is not None:
        scope.cancel()
        worker.join()
        return _STALE_CODE
    if stopped_before(finished):
        return None
    return answer[0] if answer else None


def _hung_up(conn: socket.socket) -> bool:
    """The client sends nothing after its request, so a readable socket means it closed."""
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


class RenderServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str) -> None:
        self.version = code_version()
        self.modules = LoadedModules()
        self.stale = False
        self.last_used = time.monotonic()
        super().__init__(path, _Handler)

    def touch(self) -> None:
        self.last_used = time.monotonic()


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
    worker = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True)
    worker.start()
    try:
        while not server.stale and time.monotonic() - server.last_used < IDLE_SECONDS:
            time.sleep(1.0)
    finally:
        server.shutdown()
        server.server_close()
        for leftover in (path, f"{path}.pid"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(serve(sys.argv[1]))
