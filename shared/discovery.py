"""Turning what a warehouse's sources offer into freight: one artifact per subscription.

Commit-matched images (``tagFrom``) are resolved per commit, newest first, looking back through
recent commits for the newest one whose images all exist, so one slow build never blocks the lane.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared import expressions
from shared.errors import SourceError
from shared.freight import Chart, Commit, Freight, Image
from shared.model import ImageSubscription, Warehouse
from shared.sources.base import SourceFactory
from shared.state import format_time, now_utc


@dataclass(frozen=True)
class Discovery:
    warehouse: str
    freight: Freight | None
    reason: str = ""  # why no freight was made


def discover(warehouse: Warehouse, sources: SourceFactory) -> Discovery:
    matched = [s for s in warehouse.images() if s.tag_from]
    look_back = max((s.look_back for s in matched), default=1)
    commits: list[Commit] = []
    for sub in warehouse.git():
        found = sources.git(sub).commits(sub, max(look_back if matched else 1, 1))
        if not found:
            return Discovery(warehouse.name, None, f"no commit in {sub.repo_url} matches the subscription")
        commits.append(found[0]) if not matched else commits.extend(found)
    images: list[Image] = []
    picked_commits: list[Commit] = commits[:1] if matched else commits
    if matched:
        pair = _commit_with_images(commits, matched, sources)
        if pair is None:
            return Discovery(warehouse.name, None,
                             f"none of the last {len(commits)} commits has all of its images yet "
                             f"({', '.join(s.repo_url for s in matched)})")
        picked_commits, images = [pair[0]], list(pair[1])
    for sub in warehouse.images():
        if sub.tag_from:
            continue
        found_images = sources.image(sub).images(sub, 1)
        if not found_images:
            return Discovery(warehouse.name, None, f"no tag in {sub.repo_url} matches the subscription")
        images.append(found_images[0])
    charts: list[Chart] = []
    for chart_sub in warehouse.charts():
        found_charts = sources.chart(chart_sub).charts(chart_sub, 1)
        if not found_charts:
            return Discovery(warehouse.name, None,
                             f"no version of chart {chart_sub.name} in {chart_sub.repo_url} matches the subscription")
        charts.append(found_charts[0])
    freight = Freight(origin=warehouse.name, commits=tuple(picked_commits), images=tuple(images),
                      charts=tuple(charts), created_at=format_time(now_utc()))
    return Discovery(warehouse.name, freight)


def _commit_with_images(commits: list[Commit], subs: list[ImageSubscription],
                        sources: SourceFactory) -> tuple[Commit, tuple[Image, ...]] | None:
    for commit in commits:
        variables = {"commit": {"id": commit.id, "short": commit.id[:7], "tag": commit.tag, "branch": commit.branch}}
        found = []
        for sub in subs:
            try:
                tag = str(expressions.render(sub.tag_from, variables))
            except expressions.ExpressionError as error:
                raise SourceError(f"tagFrom of {sub.repo_url}: {error}") from error
            image = sources.image(sub).image_for_tag(sub, tag)
            if image is None:
                break
            found.append(image)
        else:
            return commit, tuple(found)
    return None
