"""Git's pkt-line framing and the protocol-v0 ref advertisement, parsed without any I/O.

A pkt-line is four hex digits giving the whole packet's length (header included), then the
payload; ``0000`` is a flush packet (shown here as ``None``). The v0 advertisement that
``upload-pack`` sends is one ``<sha> <ref>`` packet per ref, the first one carrying the
capabilities after a NUL, ended by a flush. Smart HTTP prefixes it with a ``# service=…``
packet and a flush; an empty repository advertises ``<zero-id> capabilities^{}`` only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

FLUSH = b"0000"
MAX_PKT = 65520  # the largest packet git sends (LARGE_PACKET_MAX)
_REF = re.compile(rb"([0-9a-f]{40}|[0-9a-f]{64}) ([^\0 ]+)")
_HEX4 = re.compile(rb"[0-9a-fA-F]{4}")


class PktLineError(ValueError):
    """The bytes are not a well-formed pkt-line stream or ref advertisement."""


class RemoteRefusal(ValueError):
    """The server answered ``ERR <message>`` instead of an advertisement."""


@dataclass(frozen=True)
class Advertisement:
    """Refs as ``git ls-remote`` prints them (``HEAD``, peeled tags under ``ref^{}``) and the default branch."""

    refs: dict[str, str]
    head: str = ""  # "main": the branch HEAD points at, from the symref capability
    capabilities: tuple[str, ...] = field(default=())


def encode(payload: bytes) -> bytes:
    """One pkt-line carrying ``payload``."""
    if len(payload) + 4 > MAX_PKT:
        raise PktLineError(f"payload of {len(payload)} bytes does not fit in a pkt-line")
    return b"%04x" % (len(payload) + 4) + payload


def read_packet(read: Callable[[int], bytes]) -> bytes | None:
    """The next packet from a stream (``read(n)`` returns up to n bytes, b"" at the end); None for flush."""
    header = _exactly(read, 4, "length header")
    size = _length(header)
    if size == 0:
        return None
    return _exactly(read, size - 4, "packet body")


def split_packets(data: bytes) -> Iterator[bytes | None]:
    """Every packet in ``data``, flushes as None; raises ``PktLineError`` on a bad length or a short packet."""
    at = 0
    while at < len(data):
        if at + 4 > len(data):
            raise PktLineError(f"truncated length header at byte {at}")
        size = _length(data[at : at + 4])
        if size == 0:
            yield None
            at += 4
            continue
        if at + size > len(data):
            raise PktLineError(f"packet at byte {at} claims {size} bytes, only {len(data) - at} remain")
        yield data[at + 4 : at + size]
        at += size


def read_advertisement(read: Callable[[int], bytes]) -> list[bytes]:
    """The packets of one advertisement from a stream, up to (not including) its flush; or a lone ``ERR``."""
    packets: list[bytes] = []
    while (packet := read_packet(read)) is not None:
        packets.append(packet)
        if len(packets) == 1 and packet.startswith(b"ERR "):
            break  # the server hangs up after an error, without a flush
    return packets


def http_advertisement(body: bytes) -> list[bytes]:
    """The ref packets of a smart-HTTP ``info/refs`` answer (service header and its flush skipped)."""
    packets = iter(split_packets(body))
    first = next(packets, None)
    if first is not None and first.startswith(b"# service="):
        if next(packets, b"") is not None:
            raise PktLineError("no flush after the service announcement")
        first = next(packets, None)
    result: list[bytes] = []
    while first is not None:
        result.append(first)
        first = next(packets, None)
    return result


def parse_advertisement(packets: list[bytes]) -> Advertisement:
    """Refs, default branch and capabilities from v0 (or v1) advertisement packets."""
    refs: dict[str, str] = {}
    capabilities: tuple[str, ...] = ()
    lines = [p.rstrip(b"\n") for p in packets]
    if lines and lines[0].startswith(b"ERR "):
        raise RemoteRefusal(lines[0][4:].decode("utf-8", "replace").strip())
    if lines and lines[0] == b"version 1":
        lines = lines[1:]
    if lines and lines[0] == b"version 2":
        raise PktLineError("the server answered with protocol v2; expected a v0 ref advertisement")
    for index, packet in enumerate(lines):
        line = packet
        if b"\0" in packet:
            if index:
                raise PktLineError("capabilities after the first ref")
            line, _, caps = packet.partition(b"\0")
            capabilities = tuple(caps.decode("utf-8", "replace").split())
        match = _REF.fullmatch(line)
        if match is None:
            if line.startswith(b"shallow "):
                continue
            raise PktLineError(f"not a ref line: {line[:80]!r}")
        sha, name = match.group(1).decode("ascii"), match.group(2).decode("utf-8", "replace")
        if name == "capabilities^{}" and not sha.strip("0"):
            continue  # an empty repository: no refs, only capabilities
        refs[name] = sha
    head = ""
    for cap in capabilities:
        if cap.startswith("symref=HEAD:"):
            head = cap[len("symref=HEAD:") :].removeprefix("refs/heads/")
    if head and "HEAD" not in refs:
        head = ""  # an unborn HEAD: ls-remote shows no symref either
    return Advertisement(refs, head, capabilities)


def _length(header: bytes) -> int:
    if _HEX4.fullmatch(header) is None:
        raise PktLineError(f"bad pkt-line length {header!r}")
    size = int(header, 16)
    if size in (1, 2, 3) or size > MAX_PKT:
        # 0001 (delim) and 0002 (response end) are v2-only; 0003 is never valid
        raise PktLineError(f"bad pkt-line length {header!r}")
    return size


def _exactly(read: Callable[[int], bytes], size: int, what: str) -> bytes:
    chunks: list[bytes] = []
    missing = size
    while missing:
        chunk = read(missing)
        if not chunk:
            raise PktLineError(f"connection closed inside a {what} ({size - missing} of {size} bytes)")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)
