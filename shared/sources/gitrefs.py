"""A remote's ref advertisement read in-process: smart HTTP ``info/refs`` or a ``git://`` socket.

This is the "has the remote changed?" check that every sync starts with; doing it without
spawning ``git ls-remote`` saves a process per check. Only protocol v0 is spoken (one request,
the advertisement is the whole answer). ``RefsError.final`` says whether the answer is definitive
(authentication refused, no such repository); anything else is worth a retry with the git CLI,
which knows proxies, CA stores, dumb HTTP and configuration this reader does not.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from freightyard.shared.core.errors import SourceError
from freightyard.shared.credentials import Credentials
from freightyard.shared.sources.pktline import (
    FLUSH,
    Advertisement,
    PktLineError,
    RemoteRefusal,
    encode,
    http_advertisement,
    parse_advertisement,
    read_advertisement,
)

if TYPE_CHECKING:  # requests is imported only when an HTTP remote is checked
    from freightyard.shared.sources.http import HttpClient

SCHEMES = ("http", "https", "git")
GIT_PORT = 9418
ADVERTISEMENT_TYPE = "application/x-git-upload-pack-advertisement"
USER_AGENT = "git/2.0 (freightyard)"  # some hosts only speak the smart protocol to git/* agents
DEFAULT_USERNAME = "git"  # as in gitauth: token-only credentials still need a user name


class RefsError(Exception):
    """The native read failed; ``final``: the server's answer settles it (no CLI retry)."""

    def __init__(self, reason: str, *, final: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.final = final


def supports(url: str) -> bool:
    """True for URLs this module can read (``http://``, ``https://``, ``git://``)."""
    return url.split("://", 1)[0].lower() in SCHEMES if "://" in url else False


def read_refs(
    url: str, credentials: Credentials | None, *, http: Callable[[], HttpClient], timeout: float, verify: bool = True
) -> Advertisement:
    """The advertisement of ``url`` (credentials already split out of it)."""
    scheme = url.split("://", 1)[0].lower()
    if scheme == "git":
        return daemon_refs(url, timeout)
    return http_refs(url, credentials, http(), verify=verify)


def http_refs(url: str, credentials: Credentials | None, client: HttpClient, *, verify: bool = True) -> Advertisement:
    """``GET <url>/info/refs?service=git-upload-pack`` (basic auth when ``credentials`` has a secret)."""
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Pragma": "no-cache"}
    if credentials is not None and credentials.password:
        pair = f"{credentials.username or DEFAULT_USERNAME}:{credentials.password}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    try:
        reply = client.send("GET", url.rstrip("/") + "/info/refs?service=git-upload-pack", headers, verify=verify)
    except SourceError as error:
        raise RefsError(error.message, final=False) from error
    if reply.status in (401, 403):
        raise RefsError(f"authentication failed (HTTP {reply.status})", final=True)
    if reply.status == 404:
        raise RefsError("repository not found (HTTP 404)", final=True)
    if reply.status != 200:
        raise RefsError(f"HTTP {reply.status} from info/refs", final=False)
    kind = reply.header("content-type").split(";", 1)[0].strip().lower()
    if kind != ADVERTISEMENT_TYPE:
        raise RefsError(f"not a smart HTTP server (content type {kind or 'none'!r})", final=False)
    return _parsed(lambda: http_advertisement(reply.body))


def daemon_refs(url: str, timeout: float) -> Advertisement:
    """Ask a ``git://`` daemon for ``git-upload-pack``; read the advertisement, say "nothing wanted", hang up."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or GIT_PORT
    except ValueError as error:
        raise RefsError(f"bad port in {parts.netloc!r}", final=True) from error
    virtual_host = parts.netloc.rsplit("@", 1)[-1]
    request = encode(
        b"git-upload-pack " + unquote(parts.path or "/").encode() + b"\0host=" + virtual_host.encode() + b"\0"
    )
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(request)
            with sock.makefile("rb") as stream:
                packets = _parsed_packets(lambda: read_advertisement(stream.read))
                if packets and not packets[0].startswith(b"ERR "):
                    sock.sendall(FLUSH)  # we want nothing: upload-pack ends quietly
    except OSError as error:
        raise RefsError(f"cannot read refs from {host}:{port} ({error.strerror or error})", final=False) from error
    return _parsed(lambda: packets)


def _parsed_packets(read: Callable[[], list[bytes]]) -> list[bytes]:
    try:
        return read()
    except PktLineError as error:
        raise RefsError(f"unreadable ref advertisement ({error})", final=False) from error


def _parsed(packets: Callable[[], list[bytes]]) -> Advertisement:
    try:
        return parse_advertisement(packets())
    except RemoteRefusal as error:
        raise RefsError(f"remote error: {error}", final=True) from error
    except PktLineError as error:
        raise RefsError(f"unreadable ref advertisement ({error})", final=False) from error
