"""Webhook deliveries from git hosts and registries: verify, find the repositories, map to warehouses.

Providers (``POST /webhooks/<provider>``) and how each delivery is authenticated:

    github   push, ping; ``package`` / ``registry_package`` (GHCR)   X-Hub-Signature-256 (HMAC-SHA256)
    ghcr     GitHub ``package`` events sent to their own hook        X-Hub-Signature-256 (HMAC-SHA256)
    gitlab   Push Hook, Tag Push Hook                                X-Gitlab-Token (shared secret)
    dockerhub  Docker Hub push                                       ?token= / X-Freightyard-Token
    harbor   PUSH_ARTIFACT (pushImage)                               Authorization (Harbor's "auth header")
    quay     repository push                                         ?token= / X-Freightyard-Token
    bitbucket  Bitbucket Cloud repo:push                             X-Hub-Signature (HMAC-SHA256)
    bitbucket-server  Bitbucket Data Center repo:refs_changed         X-Hub-Signature (HMAC-SHA256)
    gitea    Gitea / Forgejo push                                    X-Gitea-Signature / X-Forgejo-Signature (HMAC hex)
    azure    Azure DevOps git.push service hook                      Basic auth (the hook's password)
    acr      Azure Container Registry push                           Authorization header (a custom header of the hook)
    artifactory  JFrog Artifactory docker "pushed"                   X-JFrog-Event-Auth (HMAC-SHA256 hex, or the token)
    generic  {"repository": "..."} or {"repositories": [...]}       X-Freightyard-Signature-256 (HMAC) or token

GitHub may deliver ``application/x-www-form-urlencoded`` (``payload=<json>``); the signature covers
the raw body either way. A delivery names the pushed tags or branches when the payload says so;
``targets`` then wakes only warehouses with a subscription that would select one of them.

Docker Hub and Quay cannot sign or add headers, so their secret travels in the URL's ``token``
query parameter (use HTTPS). A provider without a configured secret refuses every delivery.
Pure apart from the secret lookup: no I/O, so each payload shape is unit-tested as data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from freightyard.shared.core import safe_yaml
from freightyard.shared.core.freight import normalize_repo
from freightyard.shared.core.model import GitSubscription, ImageSubscription, Pipeline, Subscription
from freightyard.shared.core.selection import filter_tags, order_tags, semver_order
from freightyard.shared.sources.images import tag_options

WEBHOOK_BODY_LIMIT = 1024 * 1024  # the HTTP server refuses larger bodies first (MAX_BODY_BYTES)

PROVIDERS = (
    "github",
    "ghcr",
    "gitlab",
    "dockerhub",
    "harbor",
    "quay",
    "bitbucket",
    "bitbucket-server",
    "gitea",
    "azure",
    "acr",
    "artifactory",
    "generic",
)
DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")
TOKEN_HEADER = "x-freightyard-token"  # noqa: S105 - a header name, not a secret


class WebhookError(Exception):
    """A delivery we refuse; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Delivery:
    """What a verified delivery is about: repository keys (see ``repo_key``) or why it is ignored."""

    provider: str
    event: str
    repos: tuple[str, ...] = ()
    ignored: str = ""
    refs: tuple[str, ...] = ()  # pushed refs: "refs/tags/v1", "refs/heads/main", or an image tag "tag:1.2.3"


@dataclass(frozen=True)
class Secrets:
    """Shared secrets per provider, with a default for all of them."""

    by_provider: Mapping[str, str] = field(default_factory=dict)
    default: str = field(default="", repr=False)

    def __repr__(self) -> str:
        return f"Secrets(providers={sorted(self.by_provider)}, default={'set' if self.default else 'unset'})"

    def for_provider(self, provider: str) -> str:
        return self.by_provider.get(provider) or self.default

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, directory: str = "") -> Secrets:
        """Env ``FREIGHTYARD_WEBHOOK_SECRET[_<PROVIDER>]``, then files ``<provider>`` / ``secret`` in ``directory``."""
        env = os.environ if environ is None else environ
        by_provider = {p: env[_env_name(p)] for p in PROVIDERS if env.get(_env_name(p))}
        default = env.get("FREIGHTYARD_WEBHOOK_SECRET", "")
        if directory:
            base = Path(directory)
            for provider in PROVIDERS:
                file = base / provider
                if provider not in by_provider and file.is_file():
                    by_provider[provider] = file.read_text(encoding="utf-8").strip()
            if not default and (base / "secret").is_file():
                default = (base / "secret").read_text(encoding="utf-8").strip()
        return cls(by_provider, default)


def parse(
    provider: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes, secrets: Secrets
) -> Delivery:
    """Authenticate and parse one delivery; ``headers`` keys must be lower-case."""
    if provider not in PROVIDERS:
        raise WebhookError(404, f"unknown webhook provider {provider[:40]!r} (known: {', '.join(PROVIDERS)})")
    secret = secrets.for_provider(provider)
    if not secret:
        raise WebhookError(
            403,
            f"no webhook secret configured for {provider}: set FREIGHTYARD_WEBHOOK_SECRET or {_env_name(provider)}",
        )
    _authenticate(provider, headers, query, body, secret)
    text = body
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        text = "".join(parse_qs(body.decode("utf-8", "replace")).get("payload", [""])[:1]).encode()
    try:
        payload = safe_yaml.loads_json(text or b"null", f"{provider} webhook body", limit=WEBHOOK_BODY_LIMIT)
    except ValueError as error:  # includes too deep: json.loads would recurse
        raise WebhookError(400, f"{provider} webhook: the body is not acceptable JSON ({error})") from error
    if not isinstance(payload, dict):
        raise WebhookError(400, f"{provider} webhook: the body must be a JSON object")
    if provider in ("github", "ghcr"):
        return _github(provider, headers.get("x-github-event", ""), payload)
    if provider in PARSERS:
        return PARSERS[provider](headers, payload)
    if provider == "gitlab":
        event = headers.get("x-gitlab-event", "")
        repos = _strings(
            _get(payload, "project", "git_http_url"),
            _get(payload, "project", "git_ssh_url"),
            _get(payload, "project", "web_url"),
            _get(payload, "repository", "git_http_url"),
            _get(payload, "repository", "homepage"),
        )
        return _delivery(provider, event or "push", repos)
    if provider == "dockerhub":
        name = _get(payload, "repository", "repo_name")
        return _delivery(provider, "push", _strings(f"docker.io/{name}" if isinstance(name, str) else None))
    if provider == "harbor":
        return _harbor(payload)
    if provider == "quay":
        name = payload.get("repository")
        return _delivery(
            provider, "push", _strings(payload.get("docker_url"), f"quay.io/{name}" if isinstance(name, str) else None)
        )
    listed = payload.get("repositories")
    return _delivery(
        provider,
        "push",
        _strings(payload.get("repository"), payload.get("repoURL"), *(listed if isinstance(listed, list) else [])),
    )


def _authenticate(
    provider: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes, secret: str
) -> None:
    if provider in ("github", "ghcr"):
        ok = _hmac_ok(headers.get("x-hub-signature-256", ""), body, secret)
        what = "X-Hub-Signature-256"
    elif provider in ("bitbucket", "bitbucket-server"):
        ok = _hmac_ok(headers.get("x-hub-signature", ""), body, secret)
        what = "X-Hub-Signature"
    elif provider == "gitea":
        given = headers.get("x-gitea-signature") or headers.get("x-forgejo-signature") or ""
        ok = bool(given) and _hmac_ok("sha256=" + given, body, secret)
        what = "X-Gitea-Signature / X-Forgejo-Signature"
    elif provider == "azure":
        ok = _basic_password_ok(headers.get("authorization", ""), secret)
        what = "Basic authorization"
    elif provider == "acr":
        auth = headers.get("authorization", "")
        ok = _equal(auth, secret) or _equal(auth.removeprefix("Bearer "), secret) or _token_ok(headers, query, secret)
        what = "Authorization"
    elif provider == "artifactory":
        given = headers.get("x-jfrog-event-auth", "")
        ok = _equal(given, secret) or (bool(given) and _hmac_ok("sha256=" + given, body, secret))
        what = "X-JFrog-Event-Auth"
    elif provider == "gitlab":
        ok = _equal(headers.get("x-gitlab-token", ""), secret)
        what = "X-Gitlab-Token"
    elif provider == "harbor":
        auth = headers.get("authorization", "")
        ok = _equal(auth, secret) or _equal(auth.removeprefix("Bearer "), secret) or _token_ok(headers, query, secret)
        what = "Authorization"
    elif provider == "generic":
        signature = headers.get("x-freightyard-signature-256", "")
        ok = _hmac_ok(signature, body, secret) if signature else _token_ok(headers, query, secret)
        what = "X-Freightyard-Signature-256 or token"
    else:
        ok = _token_ok(headers, query, secret)
        what = "token"
    if not ok:
        raise WebhookError(401, f"{provider} webhook: missing or wrong {what}")


def _hmac_ok(header: str, body: bytes, secret: str) -> bool:
    algorithm, _, given = header.partition("=")
    if algorithm != "sha256" or not given:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())


def _basic_password_ok(header: str, secret: str) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return False
    return _equal(decoded.partition(":")[2], secret)


def _env_name(provider: str) -> str:
    return "FREIGHTYARD_WEBHOOK_SECRET_" + provider.upper().replace("-", "_")


def _token_ok(headers: Mapping[str, str], query: Mapping[str, str], secret: str) -> bool:
    return _equal(headers.get(TOKEN_HEADER, ""), secret) or _equal(query.get("token", ""), secret)


def _equal(given: str, secret: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), secret.encode())


def signature(body: bytes, secret: str) -> str:
    """The ``sha256=<hex>`` value GitHub (and our generic hook) sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _github(provider: str, event: str, payload: dict[str, Any]) -> Delivery:
    if event == "ping":
        return Delivery(provider, event, ignored="ping")
    if event in ("package", "registry_package"):
        package = payload.get("package") or payload.get("registry_package") or {}
        if not isinstance(package, dict) or str(package.get("package_type", "")).lower() != "container":
            return Delivery(provider, event, ignored="not a container package")
        owner = package.get("namespace") or _get(package, "owner", "login") or ""
        registry = str(_get(package, "registry", "url") or "https://ghcr.io")
        host = registry.split("://", 1)[-1].strip("/") or "ghcr.io"
        name = package.get("name")
        repos = _strings(f"{host}/{owner}/{name}".lower() if owner and isinstance(name, str) else None)
        return _delivery(provider, event, repos)
    if event and event != "push":
        return Delivery(provider, event, ignored=f"event {event[:40]} is not a push")
    repos = _strings(*(_get(payload, "repository", key) for key in ("clone_url", "html_url", "ssh_url", "git_url")))
    return _delivery(provider, "push", repos, _strings(payload.get("ref")))


def _harbor(payload: dict[str, Any]) -> Delivery:
    kind = str(payload.get("type", ""))
    if kind not in ("PUSH_ARTIFACT", "pushImage"):
        return Delivery("harbor", kind, ignored=f"event {kind[:40]} is not a push")
    resources = _get(payload, "event_data", "resources")
    urls = [r.get("resource_url") for r in resources if isinstance(r, dict)] if isinstance(resources, list) else []
    return _delivery("harbor", kind, _strings(*urls))


def _delivery(provider: str, event: str, repos: tuple[str, ...], refs: tuple[str, ...] = ()) -> Delivery:
    if not repos:
        raise WebhookError(400, f"{provider} webhook: the payload names no repository")
    return Delivery(provider, event, tuple(dict.fromkeys(repo_key(r) for r in repos)), refs=tuple(refs))


def _bitbucket(headers: Mapping[str, str], payload: dict[str, Any]) -> Delivery:
    event = headers.get("x-event-key", "")
    if event != "repo:push":
        return Delivery("bitbucket", event, ignored=f"event {event[:40]} is not repo:push")
    name = _get(payload, "repository", "full_name")
    repos = _strings(_get(payload, "repository", "links", "html", "href"), f"bitbucket.org/{name}" if name else None)
    refs = []
    for change in _get(payload, "push", "changes") or []:
        new = change.get("new") if isinstance(change, dict) else None
        if isinstance(new, dict) and isinstance(new.get("name"), str):
            refs.append(("refs/tags/" if new.get("type") == "tag" else "refs/heads/") + new["name"])
    return _delivery("bitbucket", event, repos, tuple(refs))


def _bitbucket_server(headers: Mapping[str, str], payload: dict[str, Any]) -> Delivery:
    event = headers.get("x-event-key", "")
    if event != "repo:refs_changed":
        return Delivery("bitbucket-server", event, ignored=f"event {event[:40]} is not repo:refs_changed")
    clones = _get(payload, "repository", "links", "clone") or []
    repos = _strings(*(c.get("href") for c in clones if isinstance(c, dict)))
    refs = _strings(*(_get(c, "ref", "id") for c in payload.get("changes") or [] if isinstance(c, dict)))
    return _delivery("bitbucket-server", event, repos, refs)


def _gitea(headers: Mapping[str, str], payload: dict[str, Any]) -> Delivery:
    event = headers.get("x-gitea-event") or headers.get("x-forgejo-event") or "push"
    if event != "push":
        return Delivery("gitea", event, ignored=f"event {event[:40]} is not a push")
    repos = _strings(*(_get(payload, "repository", key) for key in ("clone_url", "html_url", "ssh_url")))
    return _delivery("gitea", event, repos, _strings(payload.get("ref")))


def _azure(headers: Mapping[str, str], payload: dict[str, Any]) -> Delivery:
    event = str(payload.get("eventType", ""))
    if event != "git.push":
        return Delivery("azure", event, ignored=f"event {event[:40]} is not git.push")
    repos = _strings(_get(payload, "resource", "repository", "remoteUrl"))
    updates = _get(payload, "resource", "refUpdates") or []
    return _delivery("azure", event, repos, _strings(*(u.get("name") for u in updates if isinstance(u, dict))))


def _acr(headers: Mapping[str, str], payload: dict[str, Any]) -> Delivery:
    action = str(payload.get("action", ""))
    if action not in ("push", "chart_push"):
        return Delivery("acr", action, ignored=f"action {action[:40]} is not a push")
    host, name = _get(payload, "request", "host"), _get(payload, "target", "repository")
    tag = _get(payload, "target", "tag")
    repos = _strings(f"{host}/{name}" if isinstance(host, str) and isinstance(name, str) else None)
    return _delivery("acr", action, repos, _strings(f"tag:{tag}" if isinstance(tag, str) and tag else None))


def _artifactory(headers: Mapping[str, str], payload: dict[str, Any]) -> Delivery:
    event = str(payload.get("event_type", ""))
    if payload.get("domain") != "docker" or event != "pushed":
        return Delivery(
            "artifactory", event, ignored=f"{payload.get('domain')!s:.20} {event[:20]} is not a docker push"
        )
    origin = str(payload.get("jpd_origin") or "").split("://", 1)[-1].strip("/")
    repo_key_, image, tag = (_get(payload, "data", k) for k in ("repo_key", "image_name", "tag"))
    repos = _strings(f"{origin}/{repo_key_}/{image}" if origin and repo_key_ and image else None)
    return _delivery("artifactory", event, repos, _strings(f"tag:{tag}" if isinstance(tag, str) and tag else None))


PARSERS = {
    "bitbucket": _bitbucket,
    "bitbucket-server": _bitbucket_server,
    "gitea": _gitea,
    "azure": _azure,
    "acr": _acr,
    "artifactory": _artifactory,
}


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _strings(*values: Any) -> tuple[str, ...]:
    return tuple(v for v in values if isinstance(v, str) and v.strip())


def repo_key(url: str) -> str:
    """One comparable form of a git or image repository: ``host/path``, lower-case, no scheme, user,
    ``.git``, tag or digest; ``git@host:org/x`` → ``host/org/x``; Docker Hub names in full."""
    text = url.strip()
    if "://" not in text and "@" in text.split("/", 1)[0] and ":" in text:  # scp-like git@host:org/repo
        user_host, _, path = text.partition(":")
        text = f"{user_host.split('@', 1)[1]}/{path}"
    text = normalize_repo(text)
    first, slash, rest = text.partition("/")
    first = first.rsplit("@", 1)[-1]  # ssh://git@host/… keeps only the host
    text = f"{first}{slash}{rest}"
    head, _, last = text.rpartition("/")
    if "@" in last:
        last = last.split("@", 1)[0]
    if head and ":" in last:
        last = last.split(":", 1)[0]
    text = f"{head}/{last}" if head else last
    host, slash, path = text.partition("/")
    if host in DOCKER_HUB_HOSTS:
        text, host = f"docker.io/{path}", "docker.io"
    elif not slash or ("." not in host and ":" not in host and host != "localhost"):
        text, host, path = f"docker.io/{text}", "docker.io", text
    if host == "docker.io" and "/" not in path:
        text = f"docker.io/library/{path}"
    return text.removesuffix(".git")


@dataclass(frozen=True)
class Target:
    pipeline: str
    warehouse: str


def targets(pipelines: Iterable[Pipeline], repos: Iterable[str], refs: Iterable[str] = ()) -> list[Target]:
    """The warehouses subscribing to any of ``repos`` (repository keys) that ``refs`` could move.

    With no ``refs`` (the payload did not say) every subscriber wakes; otherwise only one with a
    subscription that would select a pushed tag, or that follows a pushed branch.
    """
    wanted = set(repos)
    pushed = tuple(refs)
    found = []
    for pipeline in pipelines:
        for warehouse in pipeline.warehouses:
            for sub in warehouse.subscriptions:
                keys = {repo_key(sub.repo_url)}
                name = getattr(sub, "name", "")
                if name and sub.repo_url.startswith("oci://"):
                    keys.add(repo_key(f"{sub.repo_url.rstrip('/')}/{name}"))
                if keys & wanted and (not pushed or any(_would_move(sub, ref) for ref in pushed)):
                    found.append(Target(pipeline.name, warehouse.name))
                    break
    return found


def _would_move(sub: Subscription, ref: str) -> bool:
    """Could a push of ``ref`` change what ``sub`` selects?"""
    tag = ref.removeprefix("tag:").removeprefix("refs/tags/") if ref.startswith(("tag:", "refs/tags/")) else ""
    if isinstance(sub, GitSubscription):
        if ref.startswith("refs/heads/"):
            branch = ref.removeprefix("refs/heads/")
            return sub.strategy == "NewestFromBranch" and (not sub.branch or sub.branch == branch)
        if not tag or sub.strategy == "NewestFromBranch":
            return False
        regexes = (sub.allow_tags_regexes, sub.ignore_tags_regexes)
        chosen = filter_tags([tag], sub.allow_tags, sub.ignore_tags, regexes)
        if sub.strategy == "SemVer":
            chosen = semver_order(chosen, sub.semver_constraint, sub.strict_semvers)
        return bool(chosen)
    if isinstance(sub, ImageSubscription):
        if not tag:
            return True  # a registry payload without a tag: cannot tell
        if sub.strategy == "Digest":
            return tag == (sub.constraint or "latest")
        options = tag_options(sub)
        return bool(order_tags([tag], sub.strategy, sub.constraint, **options))
    return True
