"""One ``git`` process for writes: askpass credentials, a fixed author, no global hooks or prompts, redacted errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from freightyard.shared.core.errors import MechanismError
from freightyard.shared.core.redact import redact
from freightyard.shared.credentials import Credentials
from freightyard.shared.process import Outcome, ProcessError, Request, run
from freightyard.shared.sources.gitauth import askpass_env


class GitWriteError(MechanismError):
    """A git command of a promotion failed; the message is redacted and says which command."""


@dataclass(frozen=True)
class Author:
    """Who promotion commits are by (also the committer)."""

    name: str = "Freightyard"
    email: str = "freightyard@localhost"


@dataclass(frozen=True)
class GitRunner:
    """Runs git with credentials (never in argv) and the promotion author; ``timeout`` in seconds."""

    cache_dir: Path
    author: Author = field(default_factory=Author)
    credentials: Credentials | None = None
    timeout: float = 120.0

    def run(self, *args: str, cwd: Path | None = None, check: bool = True) -> Outcome:
        env = {
            "LC_ALL": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": self.author.name,
            "GIT_AUTHOR_EMAIL": self.author.email,
            "GIT_COMMITTER_NAME": self.author.name,
            "GIT_COMMITTER_EMAIL": self.author.email,
            **askpass_env(self.cache_dir, self.credentials),
        }
        secrets = (self.credentials.password,) if self.credentials and self.credentials.password else ()
        argv = ("git", "-c", "credential.helper=", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null")
        request = Request((*argv, *args), cwd=str(cwd) if cwd else None, env=env, timeout=self.timeout, secrets=secrets)
        try:
            outcome = run(request)
        except ProcessError as error:
            raise GitWriteError(redact(str(error), secrets), temporary=True) from error
        if check and not outcome.ok:
            raise GitWriteError(f"{request.shown}: {outcome.reason()}")
        return outcome

    def text(self, *args: str, cwd: Path | None = None) -> str:
        return self.run(*args, cwd=cwd).text().strip()
