"""Freight: an immutable set of artifact versions, identified by a hash of its contents.

Canonical form (the id is ``sha1`` hex of its UTF-8 bytes)::

    Warehouse/<origin>:<part>|<part>|...      parts sorted, one per artifact

    commit  <repoURL>:<id>            or  <repoURL>:<tag>:<id> when the commit was chosen by tag
    image   <repoURL>:<tag>@<digest>
    chart   <repoURL>/<name>:<version>

So the same artifacts always give the same id, a moved tag or a re-tagged digest gives new freight,
and anyone holding the artifacts can recompute and check the id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from freightyard.shared.core.aliases import alias_for


@dataclass(frozen=True)
class Commit:
    repo_url: str
    id: str
    branch: str = ""
    tag: str = ""
    message: str = ""
    author: str = ""
    committed_at: str = ""

    def canonical(self) -> str:
        return f"{self.repo_url}:{self.tag}:{self.id}" if self.tag else f"{self.repo_url}:{self.id}"

    def to_dict(self) -> dict[str, str]:
        out = {"repoURL": self.repo_url, "id": self.id}
        for key, value in (
            ("branch", self.branch),
            ("tag", self.tag),
            ("message", self.message),
            ("author", self.author),
            ("committedAt", self.committed_at),
        ):
            if value:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Commit:
        return cls(
            repo_url=str(data["repoURL"]),
            id=str(data["id"]),
            branch=str(data.get("branch", "")),
            tag=str(data.get("tag", "")),
            message=str(data.get("message", "")),
            author=str(data.get("author", "")),
            committed_at=str(data.get("committedAt", "")),
        )


@dataclass(frozen=True)
class Image:
    repo_url: str
    tag: str
    digest: str
    created_at: str = ""

    def canonical(self) -> str:
        return f"{self.repo_url}:{self.tag}@{self.digest}"

    @property
    def reference(self) -> str:
        """The digest-true reference a workload should run: ``repo:tag@sha256:…``."""
        return f"{self.repo_url}:{self.tag}@{self.digest}"

    def to_dict(self) -> dict[str, str]:
        out = {"repoURL": self.repo_url, "tag": self.tag, "digest": self.digest}
        if self.created_at:
            out["createdAt"] = self.created_at
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Image:
        return cls(
            repo_url=str(data["repoURL"]),
            tag=str(data.get("tag", "")),
            digest=str(data["digest"]),
            created_at=str(data.get("createdAt", "")),
        )


@dataclass(frozen=True)
class Chart:
    repo_url: str
    name: str
    version: str

    def canonical(self) -> str:
        return f"{self.repo_url}/{self.name}:{self.version}"

    def to_dict(self) -> dict[str, str]:
        return {"repoURL": self.repo_url, "name": self.name, "version": self.version}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chart:
        return cls(repo_url=str(data["repoURL"]), name=str(data["name"]), version=str(data["version"]))


def freight_id(origin: str, commits: tuple[Commit, ...], images: tuple[Image, ...], charts: tuple[Chart, ...]) -> str:
    parts = sorted([c.canonical() for c in commits] + [i.canonical() for i in images] + [c.canonical() for c in charts])
    return hashlib.sha1(f"Warehouse/{origin}:{'|'.join(parts)}".encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Freight:
    origin: str
    commits: tuple[Commit, ...] = ()
    images: tuple[Image, ...] = ()
    charts: tuple[Chart, ...] = ()
    created_at: str = ""
    id: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        computed = freight_id(self.origin, self.commits, self.images, self.charts)
        if self.id and self.id != computed:
            from freightyard.shared.core.errors import FreightyardError

            raise FreightyardError(
                f"freight id {self.id} does not match its artifacts (recomputed {computed}); "
                "the freight was altered or built by an incompatible version"
            )
        object.__setattr__(self, "id", computed)

    @property
    def alias(self) -> str:
        return alias_for(self.id)

    @property
    def short_id(self) -> str:
        return self.id[:7]

    def commit_from(self, repo_url: str) -> Commit | None:
        return next((c for c in self.commits if same_repo(c.repo_url, repo_url)), None)

    def image_from(self, repo_url: str) -> Image | None:
        return next((i for i in self.images if same_repo(i.repo_url, repo_url)), None)

    def chart_from(self, repo_url: str, name: str = "") -> Chart | None:
        return next((c for c in self.charts if same_repo(c.repo_url, repo_url) and (not name or c.name == name)), None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "alias": self.alias, "origin": self.origin}
        if self.commits:
            out["commits"] = [c.to_dict() for c in self.commits]
        if self.images:
            out["images"] = [i.to_dict() for i in self.images]
        if self.charts:
            out["charts"] = [c.to_dict() for c in self.charts]
        if self.created_at:
            out["createdAt"] = self.created_at
        return out

    @property
    def origins(self) -> tuple[str, ...]:
        """The warehouses this freight came from: one, or several for a combined collection."""
        return tuple(self.origin.split(COLLECTION_SEPARATOR))

    def to_json(self) -> str:
        """Compact, key-sorted JSON: what the generator hands the CMP in ``ARGOCD_ENV_FREIGHT``.

        Commit messages and authors are left out: they do not enter the id, the render never reads
        them, and a long message would eat into Linux's 128 KiB limit on one environment string."""
        data = self.to_dict()
        for commit in data.get("commits", ()):
            commit.pop("message", None)
            commit.pop("author", None)
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Freight:
        """Rebuild freight; raises FreightyardError if a given ``id`` does not match the artifacts."""
        return cls(
            origin=str(data["origin"]),
            commits=tuple(Commit.from_dict(c) for c in data.get("commits") or ()),
            images=tuple(Image.from_dict(i) for i in data.get("images") or ()),
            charts=tuple(Chart.from_dict(c) for c in data.get("charts") or ()),
            created_at=str(data.get("createdAt", "")),
            id=str(data.get("id", "")),
        )

    @classmethod
    def from_json(cls, text: str) -> Freight:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("freight JSON must be an object")
        return cls.from_dict(data)


COLLECTION_SEPARATOR = "+"  # warehouse names are DNS labels, so "+" never occurs in one


def combine(members: Iterable[Freight]) -> Freight:
    """The combined view of a stage's collection (at most one freight per origin).

    One member: that freight itself, so a one-warehouse pipeline keeps its ids. Several: a freight
    whose origin is the members' origins joined by ``+`` (sorted) and whose artifacts are their
    union; its id (the *collection id*) is recomputed from those artifacts like any freight's, so
    the CMP checks a collection's JSON exactly as it checks a single freight's.
    """
    ordered = sorted(members, key=lambda f: f.origin)
    if not ordered:
        raise ValueError("a collection needs at least one freight")
    if len(ordered) == 1:
        return ordered[0]
    return Freight(
        origin=COLLECTION_SEPARATOR.join(f.origin for f in ordered),
        commits=tuple(c for f in ordered for c in f.commits),
        images=tuple(i for f in ordered for i in f.images),
        charts=tuple(c for f in ordered for c in f.charts),
        created_at=max(f.created_at for f in ordered),
    )


def collection_id(members: Iterable[Freight]) -> str:
    """The id of a set of freight: see ``combine``."""
    return combine(members).id


def normalize_repo(url: str) -> str:
    """Compare repo URLs the way users think of them: no scheme, no trailing slash or ``.git``."""
    url = url.strip().rstrip("/")
    for prefix in ("https://", "http://", "oci://", "ssh://", "git://"):
        if url.startswith(prefix):
            url = url[len(prefix) :]
            break
    return url.removesuffix(".git").lower()


def same_repo(a: str, b: str) -> bool:
    return normalize_repo(a) == normalize_repo(b)
