"""Credentials for git remotes, registries and chart repos, read from env vars or Secret-mounted files.

A subscription names its credentials (``credentials: registry-ro``); the name is looked up as

* environment variables ``REGISTRY_RO_USERNAME`` / ``REGISTRY_RO_PASSWORD`` (``_TOKEN`` also works), or
* files ``<secrets_dir>/registry-ro/username`` and ``password`` (a Kubernetes Secret mounted as a volume).

Without a name, ``<secrets_dir>/<host>/`` is tried, so one Secret per registry host serves every
subscription on it. Values never reach ``repr``, logs or error messages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from freightyard.shared.core.errors import SourceError

SECRETS_DIR_ENV = "FREIGHTYARD_CREDENTIALS_DIR"
DEFAULT_SECRETS_DIR = "/etc/freightyard/credentials"


@dataclass(frozen=True)
class Credentials:
    """A username and a password or token; the secret half is masked in ``repr``."""

    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"


class CredentialLookup(Protocol):
    def __call__(self, name: str, host: str) -> Credentials | None:
        """Credentials called ``name`` (or, when empty, for ``host``); None when there are none."""
        ...


def env_prefix(name: str) -> str:
    """``registry-ro`` -> ``REGISTRY_RO``: the env-var prefix a credentials name maps to."""
    return re.sub(r"[^A-Z0-9]", "_", name.upper())


@dataclass(frozen=True)
class EnvFileCredentials:
    """Looks credentials up in a snapshot of the environment, then in a Secret-mounted directory."""

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)
    secrets_dir: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EnvFileCredentials:
        values = dict(os.environ if env is None else env)
        return cls(env=values, secrets_dir=Path(values.get(SECRETS_DIR_ENV, DEFAULT_SECRETS_DIR)))

    def __call__(self, name: str, host: str) -> Credentials | None:
        if name:
            found = self._from_env(name) or self._from_dir(name)
            if found is None:
                where = f" or files {self.secrets_dir}/{name}/username and password" if self.secrets_dir else ""
                raise SourceError(
                    f"credentials {name!r} not found: set {env_prefix(name)}_USERNAME and "
                    f"{env_prefix(name)}_PASSWORD{where}"
                )
            return found
        return self._from_dir(host) if host else None

    def _from_env(self, name: str) -> Credentials | None:
        prefix = env_prefix(name)
        secret = self.env.get(f"{prefix}_PASSWORD") or self.env.get(f"{prefix}_TOKEN")
        if not secret:
            return None
        return Credentials(self.env.get(f"{prefix}_USERNAME", ""), secret)

    def _from_dir(self, name: str) -> Credentials | None:
        if self.secrets_dir is None or "/" in name or name in ("", ".", ".."):
            return None
        folder = self.secrets_dir / name
        secret = _read(folder / "password") or _read(folder / "token")
        if not secret:
            return None
        return Credentials(_read(folder / "username"), secret)


def no_credentials(name: str, host: str) -> Credentials | None:
    """A lookup that never finds anything (tests, anonymous-only setups)."""
    if name:
        raise SourceError(f"credentials {name!r} requested but no credential lookup is configured")
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""
