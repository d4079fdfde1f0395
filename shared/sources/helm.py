"""Helm chart discovery: HTTP chart repositories (``index.yaml``) and OCI chart repositories (tag list).

An HTTP repository's index is fetched with ``If-None-Match``/``If-Modified-Since`` so an unchanged
index costs one small ``304``; OCI chart repositories are listed like images (``+`` in a chart
version is ``_`` in its tag).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import yaml

from freightyard.shared.core.errors import SourceError
from freightyard.shared.core.freight import Chart
from freightyard.shared.core.model import ChartSubscription
from freightyard.shared.core.redact import redact
from freightyard.shared.core.selection import semver_order
from freightyard.shared.core.semverc import ConstraintError
from freightyard.shared.credentials import Credentials
from freightyard.shared.sources.challenge import parse_image_ref
from freightyard.shared.sources.http import HttpClient
from freightyard.shared.sources.registry import RegistryClient

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class _CachedIndex:
    validators: dict[str, str]
    versions: dict[str, list[str]]


@dataclass
class HelmHttpSource:
    """``ChartSource`` for a classic chart repository served over HTTP(S)."""

    http: HttpClient
    credentials: Credentials | None = None
    verify: bool = True
    _cache: dict[str, _CachedIndex] = field(default_factory=dict, repr=False)

    def charts(self, sub: ChartSubscription, limit: int) -> list[Chart]:
        versions = self._index(sub.repo_url.rstrip("/") + "/index.yaml")
        if sub.name not in versions:
            known = ", ".join(sorted(versions)[:10]) or "none"
            raise SourceError(
                f"chart repository {redact(sub.repo_url)} has no chart {sub.name!r} (known: {known}); "
                "check the chart name and repoURL"
            )
        return [Chart(sub.repo_url, sub.name, v) for v in _ordered(sub, versions[sub.name])[:limit]]

    def _index(self, url: str) -> dict[str, list[str]]:
        cached = self._cache.get(url)
        headers = dict(cached.validators) if cached else {}
        if self.credentials is not None:
            raw = f"{self.credentials.username}:{self.credentials.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        reply = self.http.send("GET", url, headers, verify=self.verify)
        if reply.status == 304 and cached is not None:
            return cached.versions
        shown = redact(url)
        if reply.status in (401, 403):
            fix = (
                "check the username and password of its credentials"
                if self.credentials
                else "set credentials on the subscription (env vars or a mounted Secret)"
            )
            raise SourceError(f"chart repository {shown}: access refused ({reply.status}); {fix}")
        if reply.status == 404:
            raise SourceError(
                f"chart repository {shown}: not found (404); check repoURL (it should be the "
                "directory holding index.yaml)"
            )
        if reply.status != 200:
            raise SourceError(
                f"chart repository {shown}: HTTP {reply.status}", temporary=reply.status >= 500 or reply.status == 429
            )
        versions = parse_index(reply.body, shown)
        validators = {
            k: v
            for k, v in (("If-None-Match", reply.header("etag")), ("If-Modified-Since", reply.header("last-modified")))
            if v
        }
        self._cache[url] = _CachedIndex(validators, versions)
        return versions


def parse_index(body: bytes, shown_url: str) -> dict[str, list[str]]:
    """``index.yaml`` -> chart name -> versions; a malformed index is one clear error."""
    try:
        doc = yaml.load(body, Loader=_Loader)  # noqa: S506 - a safe loader (C or Python)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise SourceError(
            f"chart repository {shown_url}: index.yaml is not valid YAML{line}; "
            "check that repoURL points at a Helm repository"
        ) from error
    entries = doc.get("entries") if isinstance(doc, dict) else None
    if not isinstance(entries, dict):
        raise SourceError(
            f"chart repository {shown_url}: index.yaml has no 'entries' map; "
            "check that repoURL points at a Helm repository"
        )
    versions: dict[str, list[str]] = {}
    for name, items in entries.items():
        if isinstance(items, list):
            versions[str(name)] = [str(i["version"]) for i in items if isinstance(i, dict) and i.get("version")]
    return versions


@dataclass
class HelmOciSource:
    """``ChartSource`` for ``oci://host/path`` chart repositories: the chart is ``path/name``."""

    client: RegistryClient
    insecure: bool = False
    insecure_hosts: frozenset[str] = frozenset()

    def charts(self, sub: ChartSubscription, limit: int) -> list[Chart]:
        base = sub.repo_url.removeprefix("oci://").rstrip("/")
        ref = parse_image_ref(f"{base}/{sub.name}", self.insecure or sub.insecure, self.insecure_hosts)
        versions = [t.replace("_", "+") for t in self.client.tags(ref)]
        return [Chart(sub.repo_url, sub.name, v) for v in _ordered(sub, versions)[:limit]]


def _ordered(sub: ChartSubscription, versions: list[Any]) -> list[str]:
    """Highest first; like ``helm``, no constraint means stable releases only (no pre-releases)."""
    try:
        return semver_order([str(v) for v in versions], sub.semver_constraint or ">=0.0.0")
    except ConstraintError as error:
        raise SourceError(f"chart {sub.name}: semverConstraint {sub.semver_constraint!r}: {error}") from error
