"""Shared plumbing: free loopback ports, managed subprocesses, in-process HTTP servers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self

LOOPBACK = "127.0.0.1"


class ServerStartError(RuntimeError):
    """A test server did not become ready in time (message carries its stderr tail)."""


def free_port() -> int:
    """Return a currently free TCP port on 127.0.0.1 (racy by nature; callers retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class ManagedProcess:
    """A subprocess in its own process group; stderr+stdout go to a log file; always killed."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        name: str,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        log_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.name = name
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        fd, log_path = tempfile.mkstemp(prefix=f"{name}-", suffix=".log", dir=str(log_dir) if log_dir else None)
        os.close(fd)
        self.log_path = Path(log_path)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Spawn the process (new session so the whole group can be killed)."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )

    def poll(self) -> int | None:
        """Exit code if the process has exited, else None."""
        return None if self.proc is None else self.proc.poll()

    def tail(self, lines: int = 40) -> str:
        """Last lines of the process's combined stdout/stderr."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, check: Callable[[], bool], *, timeout: float = 20.0, interval: float = 0.05) -> None:
        """Poll `check` until true; raise ServerStartError with the log tail on exit/timeout."""
        deadline = time.monotonic() + timeout
        while True:
            code = self.poll()
            if code is not None:
                raise ServerStartError(
                    f"{self.name} exited with code {code} before becoming ready;"
                    f" argv={self.argv}\n--- log tail ---\n{self.tail()}"
                )
            try:
                ready = check()
            except Exception:  # readiness probes may raise while the server starts
                ready = False
            if ready:
                return
            if time.monotonic() >= deadline:
                raise ServerStartError(
                    f"{self.name} not ready after {timeout:.0f}s; argv={self.argv}\n--- log tail ---\n{self.tail()}"
                )
            time.sleep(interval)

    def stop(self, grace: float = 5.0) -> None:
        """Terminate the process group, escalating to SIGKILL after `grace` seconds."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
        # Always reap stragglers in the group (e.g. git daemon's per-connection children).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)

    def __enter__(self) -> ManagedProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class InProcessHTTPServer:
    """Run a ThreadingHTTPServer on an ephemeral loopback port in a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, name: str) -> None:
        self.name = name
        self.httpd = ThreadingHTTPServer((LOOPBACK, 0), handler)
        self.httpd.daemon_threads = True
        self.port: int = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:PORT."""
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        """Start serving and wait until the port accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + 10.0
        while not port_open(self.port):
            if time.monotonic() >= deadline:
                raise ServerStartError(f"{self.name} did not start listening on {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=10.0)


def run_checked(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    input_bytes: bytes | None = None,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[bytes]:
    """Run a command, raising RuntimeError with stdout/stderr when it fails."""
    result = subprocess.run(
        list(argv),
        env=dict(env) if env is not None else None,
        cwd=cwd,
        input=input_bytes,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"command failed ({result.returncode}): {list(argv)}\n"
            f"--- stdout ---\n{result.stdout.decode(errors='replace')[-4000:]}\n"
            f"--- stderr ---\n{result.stderr.decode(errors='replace')[-4000:]}"
        )
    return result


def read_request_body(handler: BaseHTTPRequestHandler, max_bytes: int = 512 * 1024 * 1024) -> bytes:
    """Read a request body (Content-Length or chunked Transfer-Encoding), bounded by max_bytes."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = handler.rfile.readline(1024)
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                break
            total += size
            if total > max_bytes:
                raise ValueError("request body too large")
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline(16)  # CRLF after each chunk
        return b"".join(chunks)
    length = int(handler.headers.get("Content-Length") or 0)
    if length > max_bytes:
        raise ValueError("request body too large")
    return handler.rfile.read(length) if length else b""


class ServesInThread:
    """The context-manager half of every wrapper that owns an ``InProcessHTTPServer`` as ``_server``."""

    _server: InProcessHTTPServer

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop()
