"""Discovery by distinct source: many pipelines, one remote check; per-host limits and Retry-After."""

from __future__ import annotations

import concurrent.futures
import itertools
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from freightyard.controller.runtime.sources import SerializedSources
from freightyard.shared.core.errors import SourceError
from freightyard.shared.core.model import GitSubscription, ImageSubscription, Warehouse
from freightyard.shared.credentials import EnvFileCredentials
from freightyard.shared.engine.discovery import discover
from freightyard.shared.engine.sharing import SharedSources
from freightyard.shared.sources.factory import DefaultSources
from freightyard.shared.sources.http import HttpClient, Response
from freightyard.shared.sources.limits import HostLimits, Limits
from tests.servers.git_http import GitHttpServer, commit_files
from tests.servers.oci import push_image
from tests.servers.registry import Registry

_names = (f"shared{i}.git" for i in itertools.count())


def sources(tmp_path: Path) -> SharedSources:
    factory = DefaultSources(cache_dir=tmp_path / "cache", credentials=EnvFileCredentials(env={}, secrets_dir=None))
    return SharedSources(SerializedSources(factory))


@pytest.mark.integration
def test_fifty_pipelines_on_one_repo_and_image_cost_one_check_each(
    git_http_server: GitHttpServer, registry_paginated: Registry, tmp_path: Path
) -> None:
    name = next(_names)
    bare = git_http_server.create_repo(name, {"README": "x\n"})
    push_image(registry_paginated.url, "shared/app", "1.0.0")
    warehouse = Warehouse(
        "main",
        subscriptions=(
            GitSubscription(git_http_server.repo_url(name), branch="main"),
            ImageSubscription(f"{registry_paginated.host}/shared/app", strategy="SemVer", insecure=True),
        ),
    )
    shared = sources(tmp_path)
    discover(warehouse, shared.within(60))  # warm: the mirror is cloned once
    git_before, registry_before = git_http_server.requests_served, registry_paginated.requests_served

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda _: discover(warehouse, shared.within(60)), range(50)))
    assert len({f.freight.id for f in found if f.freight}) == 1
    assert git_http_server.requests_served == git_before  # all 50 answered from the shared answer
    assert registry_paginated.requests_served == registry_before

    commit_files(bare, {"README": "y\n"}, message="moved")
    shared.invalidate([warehouse.git()[0].repo_url])  # what a webhook does
    git_before = git_http_server.requests_served
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        after = list(pool.map(lambda _: discover(warehouse, shared.within(60)), range(50)))
    assert len({f.freight.id for f in after if f.freight}) == 1
    assert after[0].freight is not None and found[0].freight is not None
    assert after[0].freight.commits[0].id != found[0].freight.commits[0].id
    # for 50 pipelines: one ref check (1 request) and one fetch (advertisement, ls-refs, upload-pack)
    assert git_http_server.requests_served - git_before == 4
    assert shared.answered_remotely < shared.asked / 10


def test_concurrent_askers_share_one_flight_and_errors_are_not_cached() -> None:
    shared = SharedSources(DefaultSources())
    calls: list[int] = []
    release = threading.Event()

    def slow() -> str:
        calls.append(1)
        release.wait(5)
        return "answer"

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(shared.ask, "key", "repo", 0.0, slow) for _ in range(6)]
        time.sleep(0.2)
        release.set()
        assert {f.result() for f in futures} == {"answer"}
    assert len(calls) == 1

    def failing() -> str:
        calls.append(1)
        raise SourceError("remote down", temporary=True)

    for _ in range(2):
        with pytest.raises(SourceError, match="remote down"):
            shared.ask("broken", "repo", 60.0, failing)
    assert len(calls) == 3  # an error is never served from memory


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_token_bucket_paces_requests_per_host() -> None:
    clock = _Clock()
    limits = HostLimits(Limits(concurrency=2, rate=10.0, burst=5), clock=clock, sleep=clock.sleep)
    for _ in range(25):
        with limits.slot("registry.example:5000"):
            pass
    # 5 from the burst, then 20 more at 10/s
    assert clock.now == pytest.approx(2.0, abs=0.01)
    with limits.slot("other.example"):  # another host has its own bucket
        pass
    assert clock.now == pytest.approx(2.0, abs=0.01)


class _Throttling:
    """A transport answering 429 with Retry-After once, then 200; records when each request went out."""

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock
        self.sent: list[float] = []

    def send(self, method: str, url: str, headers: Mapping[str, str], timeout: float, verify: bool) -> Response:
        self.sent.append(self.clock.now)
        if len(self.sent) == 1:
            return Response(429, {"retry-after": "7"}, b"", url)
        return Response(200, {}, b"ok", url)


def test_retry_after_pauses_every_request_to_that_host() -> None:
    clock = _Clock()
    limits = HostLimits(Limits(concurrency=4, rate=0.0, burst=1), clock=clock, sleep=clock.sleep)
    transport = _Throttling(clock)
    first = HttpClient(transport=transport, limits=limits, sleep=lambda s: None)  # the request's own wait skipped
    assert first.send("GET", "http://reg.example/v2/").status == 200
    # the retry itself waited for the host's pause, not just its own sleep
    assert transport.sent == [0.0, 7.0]
    other = HttpClient(transport=transport, limits=limits)
    assert other.send("GET", "http://reg.example/v2/x").status == 200
    assert transport.sent[-1] == 7.0


def test_limits_refuse_a_wait_longer_than_allowed() -> None:
    clock = _Clock()
    limits = HostLimits(Limits(concurrency=1, rate=0.0, burst=1, max_wait_s=10), clock=clock, sleep=clock.sleep)
    limits.pause("slow.example", 60)
    with pytest.raises(SourceError, match=r"slow.example: .*past 10s"), limits.slot("slow.example"):
        pass


@pytest.mark.integration
def test_a_steady_semver_check_costs_the_tag_list_and_a_webhook_sees_a_repushed_tag(
    registry_paginated: Registry, tmp_path: Path
) -> None:
    """With the tag -> digest memo an image check is one request per interval (the tag list), so
    requests per interval are about one per distinct source; a webhook drops the memo at once."""
    push_image(registry_paginated.url, "memo/app", "1.0.0")
    sub = ImageSubscription(f"{registry_paginated.host}/memo/app", strategy="SemVer", insecure=True)
    warehouse = Warehouse("main", subscriptions=(sub,))
    shared = sources(tmp_path)
    first = discover(warehouse, shared.within(0)).freight
    before = registry_paginated.requests_served
    again = discover(warehouse, shared.within(0)).freight  # the next interval: nothing is shared in time
    assert again is not None and first is not None and again.id == first.id
    assert registry_paginated.requests_served - before == 1  # the tag list; the chosen tag's digest is known

    repushed = push_image(registry_paginated.url, "memo/app", "1.0.0", created="2030-01-01T00:00:00Z")
    stale = discover(warehouse, shared.within(0)).freight
    assert stale is not None and stale.id == first.id  # the memo trusts a tag for its TTL (10 min) ...
    shared.invalidate([sub.repo_url])  # ... unless a webhook says it moved, as a registry webhook does
    moved = discover(warehouse, shared.within(0)).freight
    assert moved is not None and moved.images[0].digest == repushed != first.images[0].digest
