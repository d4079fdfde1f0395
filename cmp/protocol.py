"""The render server's wire format and where its socket lives (shared by client and server).

A frame is a 4-byte big-endian length and that many bytes. A request is one JSON frame
``{"version", "cwd", "env"}``; a reply is a JSON frame ``{"code", "err"}`` then a frame of stdout.
"""

import os
import socket
import struct
import zlib
from collections.abc import Mapping

MAX_FRAME = 256 * 1024 * 1024  # manifests of a very large app; anything bigger is refused
_LENGTH = struct.Struct(">I")


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


def pack(data: bytes) -> bytes:
    return _LENGTH.pack(len(data)) + data


def read_frame(sock: socket.socket) -> bytes:
    (length,) = _LENGTH.unpack(_read_exactly(sock, _LENGTH.size))
    if length > MAX_FRAME:
        raise ValueError(f"frame of {length} bytes exceeds the {MAX_FRAME} limit")
    return _read_exactly(sock, length)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = []
    remaining = size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise ConnectionError("connection closed mid-frame")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
