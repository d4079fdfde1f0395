"""The one HTTP seam for registries and chart repos: a transport, retries with backoff, a request count.

``Transport`` is the narrow interface (one method); ``RequestsTransport`` is the real one, a fake
in the tests. ``HttpClient`` adds what every caller needs: 429/5xx retried with exponential
backoff honouring ``Retry-After`` (bounded), network failures mapped to a temporary
``SourceError`` that names the (redacted) URL, and a count of requests sent.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import requests

from freightyard.shared.core.errors import SourceError
from freightyard.shared.core.redact import redact
from freightyard.shared.sources import limits as host_limits

RETRYABLE = frozenset({429, 500, 502, 503, 504})
MAX_BODY = 64 * 1024 * 1024  # a tag list, index.yaml or config blob larger than this is refused


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # keys lower-cased
    body: bytes
    url: str

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


class Transport(Protocol):
    def send(self, method: str, url: str, headers: Mapping[str, str], timeout: float, verify: bool) -> Response:
        """Send one request; raise ``SourceError(temporary=True)`` when no response arrives."""
        ...


@dataclass
class RequestsTransport:
    """``requests`` with a pooled session (keep-alive: one TCP/TLS handshake per host)."""

    session: requests.Session = field(default_factory=requests.Session, repr=False)

    def send(self, method: str, url: str, headers: Mapping[str, str], timeout: float, verify: bool) -> Response:
        try:
            reply = self.session.request(
                method, url, headers=dict(headers), timeout=timeout, verify=verify, allow_redirects=True, stream=True
            )
            body = _read_bounded(reply)
        except requests.exceptions.SSLError as error:
            raise SourceError(
                f"{redact(url)}: TLS verification failed ({_short(error)}); install the CA "
                "certificate, or set insecure: true for a test registry",
                temporary=False,
            ) from error
        except requests.exceptions.Timeout as error:
            raise SourceError(
                f"{redact(url)}: no answer within {timeout:g}s; check the host and network", temporary=True
            ) from error
        except requests.exceptions.ConnectionError as error:
            raise SourceError(
                f"{redact(url)}: cannot connect ({_short(error)}); check the host, port and network access",
                temporary=True,
            ) from error
        except requests.exceptions.RequestException as error:
            raise SourceError(f"{redact(url)}: request failed ({_short(error)})", temporary=True) from error
        return Response(reply.status_code, {k.lower(): v for k, v in reply.headers.items()}, body, reply.url)


def _read_bounded(reply: requests.Response) -> bytes:
    chunks, size = [], 0
    for chunk in reply.iter_content(65536):
        size += len(chunk)
        if size > MAX_BODY:
            reply.close()
            raise SourceError(f"{redact(reply.url)}: response larger than {MAX_BODY // (1024 * 1024)} MiB")
        chunks.append(chunk)
    return b"".join(chunks)


def _short(error: Exception) -> str:
    text = redact(str(error))
    for marker in (
        "Connection refused",
        "Name or service not known",
        "No route to host",
        "Temporary failure in name resolution",
        "certificate verify failed",
        "Read timed out",
    ):
        if marker in text:
            return marker
    return text[:160]


def retry_delay(
    attempt: int, retry_after: str, now: float | None = None, base: float = 0.5, cap: float = 30.0
) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): ``Retry-After`` if given, else exponential; capped."""
    if retry_after.strip():
        value = retry_after.strip()
        if value.isdigit():
            return min(float(value), cap)
        try:
            when = email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return float(min(max(when - (time.time() if now is None else now), 0.0), cap))
    return min(base * 2.0 ** (attempt - 1), cap)


@dataclass
class HttpClient:
    """Retries 429/5xx up to ``retries`` times, waiting at most ``max_wait`` seconds in all.

    Every request passes the per-host limits (``limits``, default the process-wide ones); a
    ``Retry-After`` pauses the whole host, not just this request.
    """

    transport: Transport = field(default_factory=RequestsTransport)
    timeout: float = 30.0
    retries: int = 4
    max_wait: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    requests_sent: int = 0
    limits: host_limits.HostLimits | None = field(default=None, repr=False)

    def send(self, method: str, url: str, headers: Mapping[str, str] | None = None, *, verify: bool = True) -> Response:
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            self.requests_sent += 1
            host = host_limits.host_of(url)
            limits = self.limits or host_limits.shared()
            with limits.slot(host):
                reply = self.transport.send(method, url, headers or {}, self.timeout, verify)
            if reply.status in RETRYABLE and reply.header("retry-after"):
                limits.pause(host, retry_delay(attempt, reply.header("retry-after")))
            if reply.status not in RETRYABLE or attempt > self.retries:
                return reply
            delay = retry_delay(attempt, reply.header("retry-after"))
            if waited + delay > self.max_wait:
                return reply
            self.sleep(delay)
            waited += delay
