"""Turning what a warehouse's sources offer into freight: one artifact per subscription.

Commit-matched images (``tagFrom``) are tied to the warehouse's first git subscription: its recent
commits are tried newest first, looking back for the newest one whose images all exist, so one slow
build never blocks the lane. Freight ids are content hashes, so passing the ids already known
marks a rediscovery of the same artifacts as not new instead of making duplicate freight.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from freightyard.shared.core import expressions
from freightyard.shared.core.errors import SourceError
from freightyard.shared.core.freight import Chart, Commit, Freight, Image
from freightyard.shared.core.model import ChartSubscription, GitSubscription, ImageSubscription, Warehouse
from freightyard.shared.core.redact import redact
from freightyard.shared.core.selection import SelectionError
from freightyard.shared.core.state import format_time, now_utc
from freightyard.shared.sources.base import SourceFactory


@dataclass(frozen=True)
class Discovery:
    warehouse: str
    freight: Freight | None
    reason: str = ""  # why no freight was made
    new: bool = True  # False when the freight's id was already known (same artifacts as before)
    waiting: str = ""  # tagFrom look-back: which newer commits wait for which images


def discover(warehouse: Warehouse, sources: SourceFactory, known: Collection[str] = ()) -> Discovery:
    try:
        return _discover(warehouse, sources, known)
    except SelectionError as error:
        raise SourceError(f"warehouse {warehouse.name}: {error}") from error


def _discover(warehouse: Warehouse, sources: SourceFactory, known: Collection[str]) -> Discovery:
    matched = [s for s in warehouse.images() if s.tag_from]
    gits = warehouse.git()
    if matched and not gits:
        return Discovery(
            warehouse.name,
            None,
            f"tagFrom needs a git subscription in the same warehouse ({', '.join(s.repo_url for s in matched)})",
        )
    commits: list[Commit] = []
    images: list[Image] = []
    waiting = ""
    for index, sub in enumerate(gits):
        tied = bool(matched) and index == 0
        found = sources.git(sub).commits(sub, max(*(s.look_back for s in matched), 1) if tied else 1)
        if not found:
            return Discovery(warehouse.name, None, _no_commit(sub))
        if not tied:
            commits.append(found[0])
            continue
        pair, skipped = _commit_with_images(found, matched, sources)
        if pair is None:
            return Discovery(
                warehouse.name,
                None,
                f"none of the last {len(found)} commits of {redact(sub.repo_url)} has all of its "
                f"images yet ({', '.join(s.repo_url for s in matched)}); waiting for the build",
            )
        commits.append(pair[0])
        images.extend(pair[1])
        if skipped:
            waits = "; ".join(f"commit {c.id[:7]} waits for {', '.join(missing)}" for c, missing in skipped[:3])
            more = f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else ""
            waiting = f"{waits}{more}; freight stays on commit {pair[0].id[:7]}"
    for image_sub in warehouse.images():
        if image_sub.tag_from:
            continue
        found_images = sources.image(image_sub).images(image_sub, 1)
        if not found_images:
            return Discovery(warehouse.name, None, _no_image(image_sub))
        images.append(found_images[0])
    charts: list[Chart] = []
    for chart_sub in warehouse.charts():
        found_charts = sources.chart(chart_sub).charts(chart_sub, 1)
        if not found_charts:
            return Discovery(warehouse.name, None, _no_chart(chart_sub))
        charts.append(found_charts[0])
    freight = Freight(
        origin=warehouse.name,
        commits=tuple(commits),
        images=tuple(images),
        charts=tuple(charts),
        created_at=format_time(now_utc()),
    )
    return Discovery(warehouse.name, freight, new=freight.id not in known, waiting=waiting)


def _no_commit(sub: GitSubscription) -> str:
    url = redact(sub.repo_url)
    if sub.strategy == "NewestFromBranch":
        paths = f" touching {', '.join(sub.include_paths)}" if sub.include_paths else ""
        return f"no commit on {sub.branch or 'the default branch'} of {url}{paths}; check branch and includePaths"
    what = f" matching {sub.semver_constraint!r}" if sub.semver_constraint else ""
    return f"no tag of {url}{what} ({sub.strategy}); check semverConstraint, allowTags and ignoreTags"


def _no_image(sub: ImageSubscription) -> str:
    url = redact(sub.repo_url)
    if sub.strategy == "Digest":
        return f"image {url} has no tag {sub.constraint or 'latest'!r}; check constraint (the tag to follow)"
    what = f" matching {sub.strategy} constraint {sub.constraint!r}" if sub.constraint else f" usable by {sub.strategy}"
    platform = f" for platform {sub.platform}" if sub.platform else ""
    return f"no tag of {url}{what}{platform}; check constraint, allowTags and ignoreTags"


def _no_chart(sub: ChartSubscription) -> str:
    what = f" matching {sub.semver_constraint!r}" if sub.semver_constraint else ""
    return f"no version of chart {sub.name} in {redact(sub.repo_url)}{what}; check semverConstraint"


def _commit_with_images(
    commits: list[Commit], subs: list[ImageSubscription], sources: SourceFactory
) -> tuple[tuple[Commit, tuple[Image, ...]] | None, list[tuple[Commit, list[str]]]]:
    """The newest commit whose images all exist, and the newer ones skipped with the images they lack."""
    skipped: list[tuple[Commit, list[str]]] = []
    for commit in commits:
        variables = {"commit": {"id": commit.id, "short": commit.id[:7], "tag": commit.tag, "branch": commit.branch}}
        found, missing = [], []
        for sub in subs:
            try:
                tag = str(expressions.render(sub.tag_from, variables))
            except expressions.ExpressionError as error:
                raise SourceError(f"tagFrom of {sub.repo_url}: {error}") from error
            image = sources.image(sub).image_for_tag(sub, tag)
            if image is None:
                missing.append(f"{redact(sub.repo_url)}:{tag}")
                break
            found.append(image)
        if not missing:
            return (commit, tuple(found)), skipped
        skipped.append((commit, missing))
    return None, skipped


@dataclass(frozen=True)
class Discovered:
    """The newest artifacts one subscription offers, best first, at most its ``discoveryLimit``."""

    kind: str  # git | image | chart
    repo_url: str
    artifacts: tuple[Commit | Image | Chart, ...]


def discovered_artifacts(warehouse: Warehouse, sources: SourceFactory) -> list[Discovered]:
    """What each subscription offers now (``freightyard discover --artifacts``), to see what a warehouse
    sees and why it chose what it chose; freight is made from the first of each (see ``discover``)."""
    found: list[Discovered] = []
    try:
        for git in warehouse.git():
            found.append(Discovered("git", git.repo_url, tuple(sources.git(git).commits(git, git.discovery_limit))))
        for image in warehouse.images():
            found.append(
                Discovered("image", image.repo_url, tuple(sources.image(image).images(image, image.discovery_limit)))
            )
        for chart in warehouse.charts():
            found.append(
                Discovered(
                    "chart",
                    f"{chart.repo_url} {chart.name}",
                    tuple(sources.chart(chart).charts(chart, chart.discovery_limit)),
                )
            )
    except SelectionError as error:
        raise SourceError(f"warehouse {warehouse.name}: {error}") from error
    return found
