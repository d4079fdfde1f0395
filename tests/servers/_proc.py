"""Shared plumbing: free loopback ports, managed subprocesses, in-process HTTP servers."""

from __future__ import annotations

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
        fd, log_path = tempfile.mkstemp(
            prefix=f"{name}-", suffix=".log", dir=str(log_dir) if log_dir else None
        )
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

    def wait_ready(
        self, check: Callable[[], bool], *, timeout: float = 20.0, interval: float = 0.05
    ) -> None:
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
                if check():
                    return
            except Exception:  # readiness probes may raise while starting
                pass
            if time.monotonic() >= deadline:
                raise ServerStartError(
                    f"{self.name} not ready after {timeout:.0f}s; argv={self.argv}"
                    f"\n--- log tail ---\n{self.tail()}"
                )
            time.sleep(interval)

    def stop(self, grace: float = 5.0) -> None:
        """Terminate the process group, escalating to SIGKILL after `grace` seconds."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # Always reap stragglers in the group (e.g. git daemon's per-connection children).
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass

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
