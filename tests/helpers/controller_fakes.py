"""Test doubles shared by the controller tests: scripted sources, a fixed clock, pipelines from text."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from freightyard.shared.core.errors import SourceError
from freightyard.shared.core.freight import Chart, Commit, Image
from freightyard.shared.core.model import ChartSubscription, GitSubscription, ImageSubscription, Pipeline
from freightyard.shared.core.pipeline import parse_pipelines

GIT = "https://git.example.com/org/shop.git"
IMAGE = "registry.example.com/org/shop"

PIPELINE = """\
apiVersion: freightyard.io/v1alpha1
kind: Pipeline
metadata: {name: shop}
spec:
  warehouses:
  - name: main
    interval: 5m
    subscriptions:
    - git: {repoURL: "https://git.example.com/org/shop.git", branch: main}
    - image: {repoURL: registry.example.com/org/shop}
  stages:
  - name: dev
    requestedFreight: [{origin: main, sources: {direct: true}}]
    autoPromotion: true
  - name: staging
    requestedFreight: [{origin: main, sources: {stages: [dev], requiredSoakTime: 10m}}]
    autoPromotion: true
    VERIFICATION
  - name: prod
    requestedFreight: [{origin: main, sources: {stages: [staging]}}]
"""


def pipeline(verification: str = "", name: str = "shop") -> Pipeline:
    text = PIPELINE.replace("VERIFICATION", verification).replace("name: shop}", f"name: {name}}}")
    return parse_pipelines(text, "test.yaml")[0]


@dataclass
class Clock:
    """A settable wall clock (aware UTC) and monotonic clock that move together."""

    now: dt.datetime = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
    mono: float = 1000.0

    def wall(self) -> dt.datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)
        self.mono += seconds


@dataclass
class FakeSources:
    """Sources answering with the newest commit/image set by the test; ``fail`` makes them raise."""

    commit: str = "a" * 40
    tag: str = "1.0.0"
    fail: bool = False
    calls: int = 0
    charts_: list[Chart] = field(default_factory=list)

    def git(self, sub: GitSubscription) -> FakeSources:
        return self

    def image(self, sub: ImageSubscription) -> FakeSources:
        return self

    def chart(self, sub: ChartSubscription) -> FakeSources:
        return self

    def commits(self, sub: GitSubscription, limit: int) -> list[Commit]:
        self.calls += 1
        if self.fail:
            raise SourceError("git.example.com: connection refused", temporary=True)
        return [Commit(sub.repo_url, self.commit, branch="main")]

    def images(self, sub: ImageSubscription, limit: int) -> list[Image]:
        return [Image(sub.repo_url, self.tag, "sha256:" + self.tag.replace(".", "").ljust(64, "0"))]

    def image_for_tag(self, sub: ImageSubscription, tag: str) -> Image | None:
        return None

    def charts(self, sub: ChartSubscription, limit: int) -> list[Chart]:
        return list(self.charts_)


def seeded(seed: int) -> random.Random:
    """A reproducible generator for the scheduler's jitter."""
    return random.Random(seed)  # noqa: S311 - jitter in tests, not cryptography
