"""pkt-line framing and v0 ref advertisements, byte for byte (no I/O)."""

from __future__ import annotations

import io

import pytest

from freightyard.shared.sources.pktline import (
    FLUSH,
    PktLineError,
    RemoteRefusal,
    encode,
    http_advertisement,
    parse_advertisement,
    read_advertisement,
    read_packet,
    split_packets,
)

A = "a" * 40
B = "b" * 40
C = "c" * 40
ZERO = "0" * 40
CAPS = b"multi_ack thin-pack side-band symref=HEAD:refs/heads/trunk object-format=sha1 agent=git/2.43.0"


def advertisement(*lines: bytes, service: bool = False) -> bytes:
    head = encode(b"# service=git-upload-pack\n") + FLUSH if service else b""
    return head + b"".join(encode(line + b"\n") for line in lines) + FLUSH


def test_encode_and_split_round_trip_with_flushes() -> None:
    assert encode(b"hi\n") == b"0007hi\n"
    assert encode(b"") == b"0004"
    assert list(split_packets(b"0007hi\n0000" + b"0004" + b"0000")) == [b"hi\n", None, b"", None]
    with pytest.raises(PktLineError, match="does not fit"):
        encode(b"x" * 65520)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"00", "truncated length header"),
        (b"zzzz", "bad pkt-line length"),
        (b"+00a", "bad pkt-line length"),  # int() would accept a sign, git does not
        (b"0_0a", "bad pkt-line length"),  # nor underscores
        (b"0001", "bad pkt-line length"),  # v2 delimiter: not in a v0 advertisement
        (b"0003", "bad pkt-line length"),
        (b"fff1" + b"x" * 10, "bad pkt-line length"),  # longer than LARGE_PACKET_MAX
        (b"000ahi", "claims 10 bytes, only 6 remain"),
    ],
)
def test_malformed_lengths_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(PktLineError, match=message):
        list(split_packets(data))


def test_stream_reading_stops_at_flush_and_detects_a_short_read() -> None:
    stream = io.BytesIO(encode(b"one\n") + encode(b"two\n") + FLUSH + encode(b"after\n"))
    assert read_advertisement(stream.read) == [b"one\n", b"two\n"]
    assert read_packet(stream.read) == b"after\n"
    with pytest.raises(PktLineError, match="connection closed inside a length header"):
        read_packet(io.BytesIO(b"").read)
    with pytest.raises(PktLineError, match=r"connection closed inside a packet body \(2 of 6 bytes\)"):
        read_packet(io.BytesIO(b"000aab").read)


def test_stream_reading_survives_one_byte_reads() -> None:
    data = io.BytesIO(encode(f"{A} HEAD\0".encode() + CAPS) + FLUSH)
    packets = read_advertisement(lambda n: data.read(1))
    assert parse_advertisement(packets).refs == {"HEAD": A}


def test_refs_head_symref_and_peeled_tags() -> None:
    body = advertisement(
        f"{A} HEAD\0".encode() + CAPS,
        f"{A} refs/heads/trunk".encode(),
        f"{B} refs/heads/feature/x".encode(),
        f"{C} refs/tags/v1.0.0".encode(),
        f"{A} refs/tags/v1.0.0^{{}}".encode(),
        service=True,
    )
    found = parse_advertisement(http_advertisement(body))
    assert found.head == "trunk"
    assert found.refs == {
        "HEAD": A,
        "refs/heads/trunk": A,
        "refs/heads/feature/x": B,
        "refs/tags/v1.0.0": C,
        "refs/tags/v1.0.0^{}": A,
    }
    assert "side-band" in found.capabilities


def test_http_answer_without_service_line_and_a_version_1_answer() -> None:
    plain = advertisement(f"{A} refs/heads/main\0agent=x".encode())
    assert parse_advertisement(http_advertisement(plain)).refs == {"refs/heads/main": A}
    v1 = advertisement(
        b"version 1", f"{A} HEAD\0symref=HEAD:refs/heads/main".encode(), f"{A} refs/heads/main".encode(), service=True
    )
    found = parse_advertisement(http_advertisement(v1))
    assert (found.head, found.refs) == ("main", {"HEAD": A, "refs/heads/main": A})


def test_empty_repository_advertises_only_capabilities() -> None:
    body = advertisement(f"{ZERO} capabilities^{{}}\0".encode() + CAPS, service=True)
    found = parse_advertisement(http_advertisement(body))
    assert found.refs == {} and found.head == ""  # an unborn HEAD is not reported, as in ls-remote
    assert parse_advertisement(http_advertisement(encode(b"# service=git-upload-pack\n") + FLUSH + FLUSH)).refs == {}


def test_sha256_repositories_and_shallow_lines() -> None:
    long = "d" * 64
    found = parse_advertisement([f"{long} refs/heads/main\0object-format=sha256".encode(), f"shallow {long}".encode()])
    assert found.refs == {"refs/heads/main": long}


@pytest.mark.parametrize(
    "packets, message",
    [
        ([b"not a ref line"], "not a ref line"),
        ([f"{A[:39]} refs/heads/x".encode()], "not a ref line"),
        ([f"{A} refs/heads/a".encode(), f"{B} refs/heads/b\0caps".encode()], "capabilities after the first ref"),
        ([b"version 2", b"agent=git/2.43.0", b"ls-refs=unborn"], "protocol v2"),
    ],
)
def test_bad_advertisements_are_refused(packets: list[bytes], message: str) -> None:
    with pytest.raises(PktLineError, match=message):
        parse_advertisement(packets)


def test_service_line_must_be_followed_by_flush() -> None:
    with pytest.raises(PktLineError, match="no flush after the service announcement"):
        http_advertisement(encode(b"# service=git-upload-pack\n") + encode(f"{A} HEAD".encode()) + FLUSH)


def test_server_error_packet_is_reported_and_ends_the_stream() -> None:
    stream = io.BytesIO(encode(b"ERR no such repository: /missing.git"))  # the daemon hangs up, no flush
    packets = read_advertisement(stream.read)
    with pytest.raises(RemoteRefusal, match=r"^no such repository: /missing.git$"):
        parse_advertisement(packets)
