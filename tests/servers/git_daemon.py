"""Run the real `git daemon` (git:// protocol, push enabled) on a free loopback port."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from tests.servers._proc import LOOPBACK, ManagedProcess, ServerStartError, free_port, port_open
from tests.servers.git_http import git_env
from tests.servers.tools import git_path

_START_ATTEMPTS = 3


class GitDaemon:
    """Context manager: `git daemon --export-all --enable=receive-pack --base-path=ROOT`."""

    def __init__(self, base_path: str | os.PathLike[str], *, ready_timeout: float = 15.0) -> None:
        self.base_path = Path(base_path).resolve()
        self.base_path.mkdir(parents=True, exist_ok=True)
        self.ready_timeout = ready_timeout
        self.port = 0
        self._proc: ManagedProcess | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. git://127.0.0.1:PORT."""
        return f"git://{LOOPBACK}:{self.port}"

    def repo_url(self, name: str) -> str:
        """git:// URL of repo `name` relative to base_path."""
        return f"{self.url}/{name.lstrip('/')}"

    def __enter__(self) -> GitDaemon:
        last_error: ServerStartError | None = None
        for _ in range(_START_ATTEMPTS):  # free_port() is racy: retry on a lost race
            self.port = free_port()
            env = git_env({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "*"})
            proc = ManagedProcess(
                [
                    git_path(),
                    "daemon",
                    "--reuseaddr",
                    "--export-all",
                    "--enable=receive-pack",
                    "--informative-errors",
                    f"--listen={LOOPBACK}",
                    f"--port={self.port}",
                    f"--base-path={self.base_path}",
                    str(self.base_path),
                ],
                name="git-daemon",
                env=env,
            )
            proc.start()
            try:
                proc.wait_ready(lambda: port_open(self.port), timeout=self.ready_timeout)
            except ServerStartError as exc:
                proc.stop()
                last_error = exc
                continue
            self._proc = proc
            return self
        assert last_error is not None
        raise last_error

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            self._proc.stop()
            self._proc = None
