"""Asking the warm render server to run ``generate``; None whenever it cannot, so the caller renders."""

import json
import os
import socket
import stat
import sys
from collections.abc import Mapping

from cmp.protocol import code_version, pack, read_frame, socket_path

DEFAULT_TIMEOUT = 45.0


def render(environ: Mapping[str, str], cwd: str) -> tuple[int, bytes, str] | None:
    path = socket_path(environ)
    if not _private(os.path.dirname(path)):
        return None
    try:
        timeout = float(environ.get("FREIGHTYARD_TIMEOUT", "") or DEFAULT_TIMEOUT) + 10.0
    except ValueError:
        timeout = DEFAULT_TIMEOUT + 10.0
    request = json.dumps({"version": code_version(), "cwd": cwd, "env": dict(environ)}).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(path)
            conn.sendall(pack(request))
            header = json.loads(read_frame(conn))
            out = read_frame(conn)
    except (OSError, ValueError):
        return None  # no server, a stale or dying one: render in-process, correctly, instead
    if not isinstance(header, dict) or header.get("stale"):
        return None
    return int(header.get("code", 1)), out, str(header.get("err", ""))


def _private(directory: str) -> bool:
    """Only trust a socket in a directory that we own and nobody else can enter."""
    try:
        info = os.stat(directory)
    except OSError:
        return False
    return info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077 == 0


def finish(code: int, out: bytes, err: str) -> int:
    if err:
        sys.stderr.write(err)
        sys.stderr.flush()
    if code == 0:
        try:
            sys.stdout.buffer.write(out)
            if out and not out.endswith(b"\n"):
                sys.stdout.buffer.write(b"\n")
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            return 1
    return code


def start_server(environ: Mapping[str, str]) -> None:
    """Start the render server in the background (detached); never fails the current render."""
    import subprocess

    path = socket_path(environ)
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        if not _private(os.path.dirname(path)):
            return
        subprocess.Popen([sys.executable, "-m", "cmp.server", path],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True)
    except OSError:
        return
