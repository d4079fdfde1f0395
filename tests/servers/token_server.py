"""Docker registry token server (RS256 JWTs signed via the openssl CLI, libtrust `kid`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
import urllib.parse
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.servers._proc import InProcessHTTPServer, ServesInThread, run_checked
from tests.servers.tools import openssl_path

TOKEN_PATH = "/token"
DEFAULT_SERVICE = "freightyard-test-registry"
DEFAULT_ISSUER = "freightyard-test-token-issuer"
TOKEN_TTL_SECONDS = 300


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def libtrust_key_id(spki_der: bytes) -> str:
    """libtrust key ID: base32(sha256(DER SubjectPublicKeyInfo)[:30]) in 4-char groups joined by ':'."""
    encoded = base64.b32encode(hashlib.sha256(spki_der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


@dataclass
class SigningKey:
    """RSA key + self-signed cert on disk; signs JWTs with `openssl dgst -sha256 -sign`."""

    key_path: Path
    cert_path: Path
    kid: str

    @classmethod
    def generate(cls, directory: Path, common_name: str = DEFAULT_ISSUER) -> SigningKey:
        """Create key.pem + cert.pem (self-signed, 10 years) in `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        key_path, cert_path = directory / "token-key.pem", directory / "token-cert.pem"
        openssl = openssl_path()
        run_checked(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-sha256",
                "-keyout",
                str(key_path),
                "-out",
                str(cert_path),
                "-days",
                "3650",
                "-subj",
                f"/CN={common_name}",
            ],
            timeout=60,
        )
        spki = run_checked([openssl, "pkey", "-in", str(key_path), "-pubout", "-outform", "DER"], timeout=30).stdout
        return cls(key_path, cert_path, libtrust_key_id(spki))

    def sign_jwt(self, claims: Mapping[str, object]) -> str:
        """Return a compact RS256 JWS over `claims` with the libtrust `kid` header."""
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = run_checked(
            [openssl_path(), "dgst", "-sha256", "-sign", str(self.key_path)],
            input_bytes=signing_input.encode(),
            timeout=30,
        ).stdout
        return signing_input + "." + _b64url(signature)


def parse_scope(scope: str) -> dict[str, object] | None:
    """`repository:foo/bar:pull,push` -> access entry (name may itself contain ':')."""
    kind, _, rest = scope.partition(":")
    name, sep, actions = rest.rpartition(":")
    if not kind or not sep or not name:
        return None
    return {"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]}


@dataclass
class TokenRequestLog:
    """One issued token: who asked, for what, and what was granted."""

    user: str
    service: str
    requested: list[str]
    granted: list[dict[str, object]]
    method: str


@dataclass
class _TokenConfig:
    key: SigningKey
    issuer: str
    service: str
    users: Mapping[str, str]
    pull_only: Collection[str]
    anonymous_pull: bool
    log: list[TokenRequestLog] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _TokenHandler(BaseHTTPRequestHandler):
    """Implements GET (docker) and POST (oauth2 password/refresh grant) token endpoints."""

    protocol_version = "HTTP/1.1"
    cfg: _TokenConfig  # set on the bound subclass

    def log_message(self, format: str, *args: object) -> None:
        return

    def _send_json(self, code: int, obj: object, headers: Mapping[str, str] | None = None) -> None:
        body = json.dumps(obj).encode()
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _check(self, user: str, password: str) -> bool:
        expected = self.cfg.users.get(user)
        return expected is not None and hmac.compare_digest(expected, password)

    def _basic_user(self) -> str | None:
        """'' for anonymous, the user name on valid basic auth, None on invalid credentials."""
        header = self.headers.get("Authorization", "")
        if not header:
            return ""
        if not header.startswith("Basic "):
            return None
        try:
            user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user if self._check(user, pw) else None

    def _grant(self, user: str, scopes: list[str]) -> list[dict[str, object]]:
        granted: list[dict[str, object]] = []
        for scope in scopes:
            entry = parse_scope(scope)
            if entry is None:
                continue
            actions = list(entry["actions"])  # type: ignore[call-overload]
            if not user:
                actions = [a for a in actions if a == "pull"] if self.cfg.anonymous_pull else []
            elif user in self.cfg.pull_only:
                actions = [a for a in actions if a == "pull"]
            elif "*" in actions:
                actions = ["*", "pull", "push", "delete"]
            if actions:
                entry["actions"] = actions
                granted.append(entry)
        return granted

    def _issue(self, user: str, service: str, scopes: list[str], method: str) -> dict[str, object]:
        now = int(time.time())
        granted = self._grant(user, scopes)
        claims = {
            "iss": self.cfg.issuer,
            "sub": user,
            "aud": service,
            "exp": now + TOKEN_TTL_SECONDS,
            "nbf": now - 1,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": granted,
        }
        token = self.cfg.key.sign_jwt(claims)
        with self.cfg.lock:
            self.cfg.log.append(TokenRequestLog(user, service, scopes, granted, method))
        return {
            "token": token,
            "access_token": token,
            "expires_in": TOKEN_TTL_SECONDS,
            "issued_at": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        if parts.path != TOKEN_PATH:
            self._send_json(404, {"error": "not found"})
            return
        query = urllib.parse.parse_qs(parts.query)
        service = (query.get("service") or [self.cfg.service])[0]
        scopes = [s for raw in query.get("scope", []) for s in raw.split(" ") if s]
        user = self._basic_user()
        if user is None:
            self._send_json(
                401,
                {"errors": [{"code": "UNAUTHORIZED", "message": "invalid credentials"}]},
                {"WWW-Authenticate": 'Basic realm="freightyard-token"'},
            )
            return
        self._send_json(200, self._issue(user, service, scopes, "GET"))

    def do_POST(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(min(length, 1 << 20)).decode())
        if parts.path != TOKEN_PATH:
            self._send_json(404, {"error": "not found"})
            return
        grant = (form.get("grant_type") or [""])[0]
        service = (form.get("service") or [self.cfg.service])[0]
        scopes = [s for raw in form.get("scope", []) for s in raw.split(" ") if s]
        user: str | None
        if grant == "password":
            name = (form.get("username") or [""])[0]
            user = name if self._check(name, (form.get("password") or [""])[0]) else None
        elif grant == "refresh_token":
            raw = (form.get("refresh_token") or [""])[0]
            name = base64.urlsafe_b64decode(raw.encode() + b"==").decode(errors="replace")
            user = name if name in self.cfg.users else None
        else:
            self._send_json(400, {"error": "unsupported_grant_type"})
            return
        if user is None:
            self._send_json(401, {"error": "invalid_grant"})
            return
        doc = self._issue(user, service, scopes, "POST")
        doc["refresh_token"] = base64.urlsafe_b64encode(user.encode()).decode()
        self._send_json(200, doc)


class TokenServer(ServesInThread):
    """Context manager running the token endpoint at http://127.0.0.1:PORT/token."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        users: Mapping[str, str],
        pull_only: Collection[str] = (),
        anonymous_pull: bool = False,
        service: str = DEFAULT_SERVICE,
        issuer: str = DEFAULT_ISSUER,
    ) -> None:
        self.key = SigningKey.generate(Path(directory), issuer)
        self.service = service
        self.issuer = issuer
        self._cfg = _TokenConfig(self.key, issuer, service, dict(users), set(pull_only), anonymous_pull)
        handler = type("BoundTokenHandler", (_TokenHandler,), {"cfg": self._cfg})
        self._server = InProcessHTTPServer(handler, name="token-server")

    @property
    def realm(self) -> str:
        """Token endpoint URL (the registry's auth.token.realm)."""
        return self._server.url + TOKEN_PATH

    @property
    def issued(self) -> list[TokenRequestLog]:
        """Snapshot of the tokens issued so far."""
        with self._cfg.lock:
            return list(self._cfg.log)


__all__ = ["SigningKey", "TokenRequestLog", "TokenServer", "libtrust_key_id", "parse_scope"]
