"""The render server's wire format and where its socket lives (shared by client and server).

Kept to built-in modules only (no json, struct or socket's enums): the client runs once per render.
A frame is a 4-byte big-endian length and that many bytes, fields separated by NUL (which neither
paths nor environment variables can contain). Request: ``version, cwd, KEY=VALUE...``;
reply: ``code, stderr line`` then a frame of stdout.
"""

from __future__ import annotations

import _socket
import os
import zlib

TYPE_CHECKING = False  # typing itself costs milliseconds to import; only the checker needs these
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

NATIVE_VERSION = "native:1"  # what cmp/launcher.c sends: it cannot compute code_version(); the server's own
# check that none of its loaded modules changed on disk still refuses it after an upgrade
MAX_FRAME = 256 * 1024 * 1024  # manifests of a very large app; anything bigger is refused


def socket_path(environ: Mapping[str, str]) -> str:
    explicit = environ.get("FREIGHTYARD_CMP_SOCKET", "")
    if explicit:
        return explicit
    base = environ.get("TMPDIR") or "/tmp"  # noqa: S108 - a private 0700 directory is made inside
    return os.path.join(base, f"freightyard-cmp-{os.getuid()}", "render.sock")


def code_version() -> str:
    """Changes whenever the installed code changes, so a stale server is never used."""
    here = os.path.dirname(os.path.abspath(__file__))
    shared = os.path.join(os.path.dirname(here), "shared")
    stamps: list[str] = []
    for directory in (here, shared, os.path.join(shared, "render")):
        try:
            with os.scandir(directory) as entries:
                stamps.extend(f"{e.name}:{e.stat().st_mtime_ns}" for e in entries if e.name.endswith(".py"))
        except OSError:
            stamps.append(directory)
    stamps.sort()
    return f"{zlib.crc32('|'.join(stamps).encode()):08x}-{len(stamps)}"


def encode(fields: Sequence[str]) -> bytes:
    return frame("\0".join(fields).encode("utf-8", "surrogateescape"))


def decode(data: bytes) -> list[str]:
    return data.decode("utf-8", "surrogateescape").split("\0")


def frame(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def read_frame(sock: _socket.socket) -> bytes:
    length = int.from_bytes(_read_exactly(sock, 4), "big")
    if length > MAX_FRAME:
        raise ValueError(f"frame of {length} bytes exceeds the {MAX_FRAME} limit")
    return _read_exactly(sock, length)


def _read_exactly(sock: _socket.socket, size: int) -> bytes:
    chunks = []
    remaining = size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise ConnectionError("connection closed mid-frame")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
