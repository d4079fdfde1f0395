"""The pipeline model: what a validated pipeline file means, as frozen dataclasses.

Parsing and validation live in ``freightyard.shared.core.pipeline``; everything else works on these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COMMIT_STRATEGIES: tuple[str, ...] = ("NewestFromBranch", "SemVer", "Lexical", "NewestTag")
IMAGE_STRATEGIES: tuple[str, ...] = ("SemVer", "Lexical", "NewestBuild", "Digest", "Numerical")


@dataclass(frozen=True)
class GitSubscription:
    repo_url: str
    branch: str = ""  # empty: the remote's default branch
    strategy: str = "NewestFromBranch"
    semver_constraint: str = ""
    allow_tags: str = ""  # regex
    ignore_tags: tuple[str, ...] = ()
    allow_tags_regexes: tuple[str, ...] = ()  # Kargo v1.11: a tag some of them find (RE2, searched)
    ignore_tags_regexes: tuple[str, ...] = ()  # Kargo v1.11: a tag none of them finds
    strict_semvers: bool = True  # Kargo's default: "1.2" and "v1" are not versions unless this is false
    include_paths: tuple[str, ...] = ()  # prefix, "glob:…" or "regex:…"
    exclude_paths: tuple[str, ...] = ()
    discovery_limit: int = 20
    insecure_skip_tls_verify: bool = False
    credentials_secret: str = ""  # env-var prefix or Secret name holding username/password

    @property
    def kind(self) -> str:
        return "git"


@dataclass(frozen=True)
class ImageSubscription:
    repo_url: str
    strategy: str = "SemVer"
    constraint: str = ""
    allow_tags: str = ""
    ignore_tags: tuple[str, ...] = ()
    allow_tags_regexes: tuple[str, ...] = ()  # Kargo v1.11: a tag some of them find (RE2, searched)
    ignore_tags_regexes: tuple[str, ...] = ()  # Kargo v1.11: a tag none of them finds
    platform: str = ""  # "linux/amd64"
    strict_semvers: bool = True  # Kargo's default: "1.2" and "v1" are not versions unless this is false
    filter_pattern: str = ""  # Flux filterTags.pattern: tags it finds (RE2), ...
    filter_extract: str = ""  # ... ordered by this template over the match (filterTags.extract, e.g. "$ts")
    order: str = "asc"  # Flux's order: asc = the highest value is the newest; desc = the lowest
    tag_from: str = ""  # expression over the warehouse's commit, e.g. "${{ commit.id }}"
    look_back: int = 20  # commits searched for a built image when tag_from is set
    discovery_limit: int = 20
    insecure: bool = False  # plain HTTP / unverified TLS, for test registries
    credentials_secret: str = ""

    @property
    def kind(self) -> str:
        return "image"


@dataclass(frozen=True)
class ChartSubscription:
    repo_url: str
    name: str
    semver_constraint: str = ""
    discovery_limit: int = 20
    insecure: bool = False
    credentials_secret: str = ""

    @property
    def kind(self) -> str:
        return "chart"


Subscription = GitSubscription | ImageSubscription | ChartSubscription


@dataclass(frozen=True)
class Warehouse:
    name: str
    subscriptions: tuple[Subscription, ...]
    interval_seconds: int = 300

    def git(self) -> tuple[GitSubscription, ...]:
        return tuple(s for s in self.subscriptions if isinstance(s, GitSubscription))

    def images(self) -> tuple[ImageSubscription, ...]:
        return tuple(s for s in self.subscriptions if isinstance(s, ImageSubscription))

    def charts(self) -> tuple[ChartSubscription, ...]:
        return tuple(s for s in self.subscriptions if isinstance(s, ChartSubscription))


@dataclass(frozen=True)
class Sources:
    direct: bool = False
    stages: tuple[str, ...] = ()
    availability: str = "OneOf"
    required_soak_seconds: int = 0


@dataclass(frozen=True)
class RequestedFreight:
    origin: str
    sources: Sources


@dataclass(frozen=True)
class Destination:
    server: str = "https://kubernetes.default.svc"
    name: str = ""
    namespace: str = ""


@dataclass(frozen=True)
class HelmImageValue:
    """Where one image goes in Helm values: ``key`` receives ``value`` (an expression)."""

    key: str
    value: str


@dataclass(frozen=True)
class App:
    name: str
    path: str
    repo_url: str = ""  # empty: the origin warehouse's git subscription
    target_revision: str = ""  # used when freight carries no commit (image-only warehouses)
    project: str = "default"
    destination: Destination = field(default_factory=Destination)
    helm_values: tuple[HelmImageValue, ...] = ()
    helm_values_files: tuple[str, ...] = ()
    release_name: str = ""


@dataclass(frozen=True)
class Promotion:
    """How freight gets into a stage; ``options`` holds the mechanism's own settings."""

    mechanism: str = "pin"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verification:
    argocd_healthy: bool = False
    commands: tuple[dict[str, Any], ...] = ()
    http: tuple[dict[str, Any], ...] = ()
    skip_when_unchanged: bool = True
    timeout_seconds: int = 300
    on_failure: str = ""  # "rollback" | "hold" | "" (record the failure only)

    @property
    def empty(self) -> bool:
        return not (self.argocd_healthy or self.commands or self.http)


@dataclass(frozen=True)
class ApprovalRule:
    """``approval:``: freight needs ``required`` distinct approvers (of ``groups``, if given) to enter."""

    required: int = 1
    groups: tuple[str, ...] = ()
    separate_from_promoter: bool = False


@dataclass(frozen=True)
class Window:
    """One promotion window, as an Argo CD sync window: ``schedule`` (cron in ``time_zone``) opens it for
    ``duration_seconds`` of elapsed time."""

    kind: str  # "allow" | "deny"
    schedule: str
    duration_seconds: int
    time_zone: str = "UTC"

    def describe(self) -> str:
        return f'{self.kind} window "{self.schedule}" ({self.time_zone})'


@dataclass(frozen=True)
class Stage:
    name: str
    requested_freight: tuple[RequestedFreight, ...]
    auto_promotion: bool = False
    promotion: Promotion = field(default_factory=Promotion)
    verification: Verification | None = None
    apps: tuple[App, ...] = ()
    approval: ApprovalRule | None = None
    windows: tuple[Window, ...] = ()

    def request_for(self, origin: str) -> RequestedFreight | None:
        return next((r for r in self.requested_freight if r.origin == origin), None)


@dataclass(frozen=True)
class StateRef:
    name: str
    namespace: str = "argocd"


@dataclass(frozen=True)
class Pipeline:
    name: str
    warehouses: tuple[Warehouse, ...]
    stages: tuple[Stage, ...]
    state: StateRef
    source_file: str = ""
    repo_root: str = ""  # the directory app paths are relative to
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def warehouse(self, name: str) -> Warehouse:
        from freightyard.shared.core.errors import NotFoundError

        for warehouse in self.warehouses:
            if warehouse.name == name:
                return warehouse
        raise NotFoundError(
            f"pipeline {self.name!r} has no warehouse {name!r} (known: {', '.join(w.name for w in self.warehouses)})"
        )

    def stage(self, name: str) -> Stage:
        from freightyard.shared.core.errors import NotFoundError

        for stage in self.stages:
            if stage.name == name:
                return stage
        raise NotFoundError(
            f"pipeline {self.name!r} has no stage {name!r} (known: {', '.join(s.name for s in self.stages)})"
        )

    def git_credentials_name(self, repo_url: str) -> str:
        """The ``credentials`` a git subscription of this pipeline names for ``repo_url`` ("" if none):
        writes and tree exports of that repo authenticate as its discovery does."""
        from freightyard.shared.core.freight import same_repo

        for warehouse in self.warehouses:
            for sub in warehouse.git():
                if sub.credentials_secret and same_repo(sub.repo_url, repo_url):
                    return sub.credentials_secret
        return ""

    def downstream_of(self, stage_name: str) -> tuple[Stage, ...]:
        return tuple(s for s in self.stages if any(stage_name in r.sources.stages for r in s.requested_freight))
