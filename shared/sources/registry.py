"""A Distribution v2 (OCI registry) client: auth, tag lists, manifests and blobs, nothing more.

Auth follows the registry's lead: a request goes out anonymously (or with the token/basic header
that worked before); on ``401`` the ``WWW-Authenticate`` challenge says what to do — fetch a
bearer token from its realm (with basic credentials if we have some), or send basic auth — and the
request is repeated once. Tokens are cached per scope until they expire, so a warm client spends no
requests on auth. Every failure becomes one ``SourceError`` naming the redacted URL and the fix.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from freightyard.shared.core.errors import SourceError
from freightyard.shared.core.redact import redact
from freightyard.shared.credentials import Credentials
from freightyard.shared.sources.challenge import ImageRef, next_link, parse_challenge
from freightyard.shared.sources.http import RETRYABLE, HttpClient, Response

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join(MANIFEST_TYPES)
INDEX_TYPES = frozenset(MANIFEST_TYPES[:2])
MAX_PAGES = 1000
MAX_CONFIG = 4 * 1024 * 1024


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    body: dict[str, Any]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES or "manifests" in self.body


@dataclass
class _Token:
    header: str
    expires: float


@dataclass
class RegistryClient:
    """Talks to one registry host as one identity; shared by every subscription on that host."""

    http: HttpClient
    credentials: Credentials | None = None
    _tokens: dict[str, _Token] = field(default_factory=dict, repr=False)
    _basic: bool = False

    # ---------------------------------------------------------------- requests and auth
    def get(self, ref: ImageRef, url: str, accept: str = "", method: str = "GET") -> Response:
        """Send one authenticated request for ``ref``'s repository; 401 challenges are answered once."""
        scope = f"repository:{ref.repository}:pull"
        headers = {"Accept": accept} if accept else {}
        auth = self._auth_header(scope)
        reply = self.http.send(method, url, {**headers, **auth}, verify=ref.verify)
        if reply.status != 401:
            return reply
        challenge = parse_challenge(reply.header("www-authenticate"))
        if challenge is not None and challenge.scheme == "bearer":
            auth = {"Authorization": self._fetch_token(ref, challenge.params, scope)}
        elif challenge is not None and challenge.scheme == "basic" and self.credentials is not None and not auth:
            self._basic = True
            auth = self._auth_header(scope)
        else:
            raise self.error(ref, reply, url)
        reply = self.http.send(method, url, {**headers, **auth}, verify=ref.verify)
        return reply

    def _auth_header(self, scope: str) -> dict[str, str]:
        token = self._tokens.get(scope)
        if token is not None and token.expires > time.monotonic():
            return {"Authorization": token.header}
        if self._basic and self.credentials is not None:
            raw = f"{self.credentials.username}:{self.credentials.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        return {}

    def _fetch_token(self, ref: ImageRef, params: dict[str, str], scope: str) -> str:
        realm = params.get("realm", "")
        if not realm.startswith(("http://", "https://")):
            raise SourceError(f"registry {ref.base}: bearer challenge without a usable realm ({realm!r})")
        query = {k: v for k, v in (("service", params.get("service", "")), ("scope", scope)) if v}
        url = f"{realm}{'&' if '?' in realm else '?'}{urlencode(query)}"
        headers: dict[str, str] = {}
        if self.credentials is not None:
            raw = f"{self.credentials.username}:{self.credentials.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        reply = self.http.send("GET", url, headers, verify=ref.verify and realm.startswith("https://"))
        if reply.status != 200:
            raise self.error(ref, reply, realm, what="token endpoint")
        try:
            doc = json.loads(reply.body)
            token = str(doc.get("token") or doc.get("access_token") or "")
            ttl = float(doc.get("expires_in") or 60)
        except (ValueError, AttributeError) as error:
            raise SourceError(f"token endpoint {redact(realm)}: answer is not a JSON token document") from error
        if not token:
            raise SourceError(f"token endpoint {redact(realm)}: answer carries no token")
        header = f"Bearer {token}"
        self._tokens[scope] = _Token(header, time.monotonic() + max(ttl - 10, 5))
        return header

    def error(self, ref: ImageRef, reply: Response, url: str, what: str = "registry") -> SourceError:
        """One clear error for an unexpected status: what happened, where, and what to do."""
        shown = redact(url)
        code = _error_code(reply.body)
        if reply.status == 401:
            fix = (
                "check the username and password/token of its credentials"
                if self.credentials
                else "it needs credentials: set credentials on the subscription (env vars or a mounted Secret)"
            )
            return SourceError(f"{what} {shown}: authentication failed (401{code}); {fix}")
        if reply.status == 403:
            return SourceError(
                f"{what} {shown}: access denied (403{code}) to {ref.repository}; grant these credentials pull access"
            )
        if reply.status == 404:
            return SourceError(
                f"{what} {shown}: repository {ref.repository!r} not found on {ref.host} (404{code}); check repoURL"
            )
        if reply.status in RETRYABLE:
            return SourceError(
                f"{what} {shown}: {reply.status}{code} after retries; the registry is "
                "overloaded or down, will retry next interval",
                temporary=True,
            )
        return SourceError(f"{what} {shown}: unexpected HTTP {reply.status}{code}")

    # ---------------------------------------------------------------- the v2 API
    def tags(self, ref: ImageRef, page_size: int = 0) -> list[str]:
        """Every tag of the repository, following ``Link`` pagination (or ``n``/``last`` when asked)."""
        url: str | None = ref.url("tags/list") + (f"?n={page_size}" if page_size else "")
        found: list[str] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return found
            reply = self.get(ref, url)
            if reply.status != 200:
                raise self.error(ref, reply, url)
            page = _tag_page(reply, url)
            found.extend(page)
            url = next_link(reply.header("link"), url)
            if url is None and page_size and len(page) >= page_size:
                url = ref.url("tags/list") + "?" + urlencode({"n": page_size, "last": page[-1]})
        raise SourceError(f"registry {redact(ref.url('tags/list'))}: more than {MAX_PAGES} pages of tags")

    def digest(self, ref: ImageRef, reference: str) -> str | None:
        """The manifest digest under a tag (HEAD, ``Docker-Content-Digest``); None when the tag is unknown."""
        url = ref.url(f"manifests/{reference}")
        reply = self.get(ref, url, ACCEPT, method="HEAD")
        if reply.status == 404:
            return None
        if reply.status != 200:
            raise self.error(ref, reply, url)
        digest = reply.header("docker-content-digest")
        if digest:
            return digest
        manifest = self.manifest(ref, reference)  # registries that omit the header on HEAD
        return manifest.digest if manifest else None

    def manifest(self, ref: ImageRef, reference: str) -> Manifest | None:
        url = ref.url(f"manifests/{reference}")
        reply = self.get(ref, url, ACCEPT)
        if reply.status == 404:
            return None
        if reply.status != 200:
            raise self.error(ref, reply, url)
        try:
            body = json.loads(reply.body)
        except ValueError as error:
            raise SourceError(f"registry {redact(url)}: manifest is not JSON") from error
        digest = reply.header("docker-content-digest") or "sha256:" + hashlib.sha256(reply.body).hexdigest()
        media_type = reply.header("content-type").split(";")[0].strip() or str(body.get("mediaType", ""))
        return Manifest(digest, media_type, body if isinstance(body, dict) else {})

    def blob_json(self, ref: ImageRef, digest: str) -> dict[str, Any]:
        url = ref.url(f"blobs/{digest}")
        reply = self.get(ref, url)
        if reply.status != 200:
            raise self.error(ref, reply, url)
        if len(reply.body) > MAX_CONFIG:
            raise SourceError(f"registry {redact(url)}: config blob larger than {MAX_CONFIG} bytes")
        try:
            doc = json.loads(reply.body)
        except ValueError as error:
            raise SourceError(f"registry {redact(url)}: config blob is not JSON") from error
        return doc if isinstance(doc, dict) else {}


def _tag_page(reply: Response, url: str) -> list[str]:
    try:
        doc = json.loads(reply.body)
    except ValueError as error:
        kind = reply.header("content-type") or "no content type"
        raise SourceError(
            f"registry {redact(url)}: tag list is not JSON ({kind}: "
            f"{reply.body[:60]!r}); check that repoURL points at an OCI registry"
        ) from error
    if not isinstance(doc, dict) or not isinstance(doc.get("tags") or [], list):
        raise SourceError(f"registry {redact(url)}: tag list has no 'tags' array; is this an OCI registry?")
    return [str(t) for t in doc.get("tags") or []]


def _error_code(body: bytes) -> str:
    try:
        errors = json.loads(body).get("errors") or []
        return f" {errors[0]['code']}" if errors else ""
    except (ValueError, AttributeError, KeyError, IndexError, TypeError):
        return ""
