"""Asking the warm render server to run ``generate``; None whenever it cannot, so the caller renders.

Built-in modules only: this runs in every ``freightyard-cmp generate`` before anything else.
"""

from __future__ import annotations

import _socket
import os
import sys

from freightyard.cmp.protocol import code_version, decode, encode, read_frame, socket_path

TYPE_CHECKING = False  # typing itself costs milliseconds to import; only the checker needs these
if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_TIMEOUT = 45.0
STALE = "stale"


def render(environ: Mapping[str, str], cwd: str) -> tuple[int, bytes, str] | None:
    path = socket_path(environ)
    if not _private(os.path.dirname(path)):
        return None
    try:
        timeout = float(environ.get("FREIGHTYARD_TIMEOUT", "") or DEFAULT_TIMEOUT) + 10.0
    except ValueError:
        timeout = DEFAULT_TIMEOUT + 10.0
    request = encode([code_version(), cwd, *(f"{k}={v}" for k, v in environ.items())])
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        conn.settimeout(timeout)
        conn.connect(path)
        conn.sendall(request)
        header = decode(read_frame(conn))
        out = read_frame(conn)
    except (OSError, ValueError):
        return None  # no server, a stale or dying one: render in-process, correctly, instead
    finally:
        conn.close()
    if len(header) != 2 or header[0] == STALE or not header[0].isdigit():
        return None
    return int(header[0]), out, header[1]


def _private(directory: str) -> bool:
    """Only trust a socket in a directory that we own and nobody else can enter."""
    try:
        info = os.stat(directory)
    except OSError:
        return False
    return info.st_uid == os.getuid() and info.st_mode & 0o077 == 0


def finish(code: int, out: bytes, err: str) -> int:
    """Write an outcome the way argocd-cmp-server expects: manifests on stdout, one line on stderr."""
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
        # -P and cwd "/": the repo copy we were called in must never shadow our modules (a repo file
        # named yaml.py or cmp/server.py would otherwise run inside the server).
        subprocess.Popen(
            [sys.executable, "-P", "-m", "freightyard.cmp.server", path],
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError:
        return
