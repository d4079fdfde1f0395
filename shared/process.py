"""Running a subprocess as data: a request (argv, cwd, env, timeout) and an outcome.

No shell, always a timeout, and a redacted form of the command for logs and errors.
"""

from __future__ import annotations

import os
import subprocess
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


def run(request: Request) -> Outcome:
    env = None
    if request.env is not None:
        env = {**os.environ, **request.env}
    started = time.monotonic()
    try:
        done = subprocess.run(
            request.argv,
            cwd=request.cwd,
            env=env,
            input=request.stdin,
            capture_output=True,
            timeout=request.timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise ProcessTimeout(f"{request.shown}: no answer within {request.timeout:g}s") from error
    except FileNotFoundError as error:
        raise ProcessError(f"{request.argv[0]}: not installed or not on PATH") from error
    return Outcome(request, done.returncode, done.stdout, done.stderr, time.monotonic() - started)
