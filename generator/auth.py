"""Bearer-token check: constant-time, token file re-read when it changes, so rotation needs no restart.

A Kubernetes Secret mounted as a volume is updated in place (an atomic symlink swap), so the file's
identity (inode, size, mtime) changes and the next request reads the new token. The file may hold
several tokens, one a line, so old and new are both accepted while the ApplicationSet controller
picks up a rotated Secret.
"""

from __future__ import annotations

import hmac
import os
import threading
from pathlib import Path

from freightyard.generator.errors import ApiError

MAX_TOKEN_FILE_BYTES = 16 * 1024


class TokenSource:
    """The accepted tokens: from ``token_file`` when set (re-read on change), else ``token``."""

    def __init__(self, token: str = "", token_file: str = "") -> None:
        self._static = tuple(t for t in (token.strip(),) if t)
        self._path = Path(token_file) if token_file else None
        self._lock = threading.Lock()
        self._identity: tuple[int, int, int] | None = None
        self._tokens: tuple[bytes, ...] = tuple(t.encode() for t in self._static)

    def tokens(self) -> tuple[bytes, ...]:
        """The tokens accepted now; raises ``ApiError(503)`` when the token file cannot be read."""
        if self._path is None:
            return self._tokens
        try:
            stat = os.stat(self._path)
        except OSError as e:
            raise ApiError(
                503,
                f"the token file {self._path} cannot be read ({e.strerror}); check the Secret volume mount",
                reason="TokenUnavailable",
            ) from e
        identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if identity != self._identity:
            with self._lock:
                self._tokens = _read_tokens(self._path)
                self._identity = identity
        return self._tokens

    def check(self, authorization: str | None) -> None:
        """Accept ``Bearer <token>``; 401 without credentials, 403 with wrong ones."""
        challenge = {"WWW-Authenticate": 'Bearer realm="freightyard-generator"'}
        if not authorization:
            raise ApiError(401, "missing Authorization header (expected: Bearer <token>)", headers=challenge)
        scheme, _, presented = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise ApiError(401, "Authorization must use the Bearer scheme", headers=challenge)
        candidate = presented.strip().encode()
        matched = False
        for token in self.tokens():  # compare with every token, so timing says nothing about which matched
            matched |= hmac.compare_digest(candidate, token)
        if not matched:
            raise ApiError(
                403, "invalid bearer token (compare with the Secret named in the plugin ConfigMap's data.token)"
            )


def _read_tokens(path: Path) -> tuple[bytes, ...]:
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_TOKEN_FILE_BYTES)
    except OSError as e:
        raise ApiError(
            503,
            f"the token file {path} cannot be read ({e.strerror}); check the Secret volume mount",
            reason="TokenUnavailable",
        ) from e
    tokens = tuple(line.strip() for line in raw.splitlines() if line.strip())
    if not tokens:
        raise ApiError(503, f"the token file {path} is empty; put the token in the Secret", reason="TokenUnavailable")
    return tokens
