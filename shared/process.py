"""Running a subprocess as data: a request (argv, cwd, env, timeout) and an outcome.

No shell, always a timeout, and a redacted form of the command for logs and errors.
"""

from __future__ import annotations

import contextvars
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field

from freightyard.shared.core.redact import redact


@dataclass(frozen=True)
class Request:
    argv: tuple[str, ...]
    cwd: str | None = None
    env: dict[str, str] | None = field(default=None, repr=False)  # added to a minimal inherited env
    timeout: float = 60.0
    stdin: bytes | None = field(default=None, repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def shown(self) -> str:
        """The command as it may be logged."""
        return redact(" ".join(self.argv), self.secrets)


@dataclass(frozen=True)
class Outcome:
    request: Request
    code: int
    out: bytes
    err: bytes
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.code == 0

    def text(self) -> str:
        return self.out.decode("utf-8", "replace")

    def reason(self, limit: int = 400) -> str:
        """The last meaningful stderr line(s), redacted and bounded: what to show a user."""
        lines = [ln.strip() for ln in self.err.decode("utf-8", "replace").splitlines() if ln.strip()]
        message = " | ".join(lines[-3:]) if lines else f"exit code {self.code}"
        return redact(message, self.request.secrets)[:limit]


class ProcessError(Exception):
    """The program could not be run to completion (missing binary, timeout)."""


class ProcessTimeout(ProcessError):
    pass


class ProcessCancelled(ProcessError):
    """Whoever asked for the work went away (the render server's client hung up)."""


class Cancellation:
    """Kills every process started under it (``cancellable``) once ``cancel`` is called: the render
    server cancels a render whose client Argo CD killed, so kustomize does not run on for nobody."""

    def __init__(self) -> None:
        self.cancelled = False
        self._running: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            for process in self._running:
                process.kill()

    def _add(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.add(process)
            if self.cancelled:
                process.kill()

    def _discard(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.discard(process)


CANCELLATION: contextvars.ContextVar[Cancellation | None] = contextvars.ContextVar("cancellation", default=None)


def run(request: Request) -> Outcome:
    env = None
    if request.env is not None:
        env = {**os.environ, **request.env}
    scope = CANCELLATION.get()
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            request.argv,
            cwd=request.cwd,
            env=env,
            stdin=subprocess.PIPE if request.stdin is not None else None,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except FileNotFoundError as error:
        raise ProcessError(f"{request.argv[0]}: not installed or not on PATH") from error
    with process:
        if scope is not None:
            scope._add(process)
        try:
            out, err = process.communicate(request.stdin, timeout=request.timeout)
        except subprocess.TimeoutExpired as error:
            process.kill()
            process.communicate()
            raise ProcessTimeout(f"{request.shown}: no answer within {request.timeout:g}s") from error
        finally:
            if scope is not None:
                scope._discard(process)
    if scope is not None and scope.cancelled:
        raise ProcessCancelled(f"{request.shown}: cancelled (the caller went away)")
    return Outcome(request, process.returncode, out, err, time.monotonic() - started)
