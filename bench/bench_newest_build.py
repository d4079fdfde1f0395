"""NewestBuild's steady-state cost at a real registry: requests per cycle over 500 tags after 5 new tags.

Debian's ``docker-registry`` holds 500 tags; a counting reverse proxy in front of it counts every
request that reaches it. Two sources run the same two cycles in one process: the baseline re-reads
every tag each cycle (``tag_ttl=0``: where tags point is never trusted, as before the metadata
cache), Freightyard's default trusts a tag seen within ``tag_ttl`` and keeps manifests, configs and
build times by digest. After the first cycle 5 new tags (new images) are pushed; the second cycle
is the steady state. Target: tag list + 5 x at most 3 requests.

Run: ``python bench/bench_newest_build.py`` (starts and stops its own servers; well under a minute).
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from freightyard.shared.core.model import ImageSubscription
from freightyard.shared.credentials import EnvFileCredentials
from freightyard.shared.sources.factory import DefaultSources
from freightyard.shared.sources.metacache import MetadataCache
from tests.servers.oci import push_image, push_many_tags
from tests.servers.registry import Registry
from tests.servers.tag_pagination_proxy import TagPaginationProxy, _ProxyHandler

TAGS = 500
NEW = 5
TARGET = 1 + NEW * 3


class _Counting(_ProxyHandler):
    seen = 0
    lock = threading.Lock()

    def _counted(self) -> None:
        with _Counting.lock:
            _Counting.seen += 1
        self._forward()

    do_GET = _counted
    do_HEAD = _counted


class CountingProxy(TagPaginationProxy):
    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self._server.httpd.RequestHandlerClass = type(
            "BoundCounting", (_Counting,), {"upstream_host": host, "upstream_port": port}
        )


def cycle(sources: DefaultSources, sub: ImageSubscription) -> tuple[int, str]:
    before = _Counting.seen
    best = sources.image(sub).images(sub, 1)[0].tag
    return _Counting.seen - before, best


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp, Registry() as registry:
        host, port = registry.host.split(":")
        with CountingProxy(host, int(port)) as proxy:
            proxied = f"127.0.0.1:{proxy.port}"
            repo = "bench/newest"
            push_many_tags(registry.url, repo, [f"build-{i:04d}" for i in range(TAGS)], distinct_manifests=50)
            sub = ImageSubscription(f"{proxied}/{repo}", strategy="NewestBuild")

            def sources(ttl: float) -> DefaultSources:
                return DefaultSources(
                    cache_dir=Path(tmp),
                    credentials=EnvFileCredentials(env={}, secrets_dir=None),
                    insecure_hosts=frozenset({proxied}),
                    metadata=MetadataCache(tag_ttl=ttl),
                )

            baseline, cached = sources(0), sources(600)
            cold_base, _ = cycle(baseline, sub)
            cold, _ = cycle(cached, sub)
            for i in range(NEW):
                push_image(registry.url, repo, f"new-{i}", created=f"2030-01-0{i + 1}T00:00:00Z")
            steady_base, best_base = cycle(baseline, sub)
            steady, best = cycle(cached, sub)
    print(f"NewestBuild over {TAGS} tags, then {NEW} new tags (requests counted at a proxy before the registry)")
    print(f"  cold cycle:   baseline {cold_base:4d}   freightyard {cold:4d}")
    print(f"  steady cycle: baseline {steady_base:4d}   freightyard {steady:4d}   (target <= {TARGET})")
    print(f"  ratio baseline/freightyard (steady): {steady_base / steady:.1f}x; both chose {best!r}")
    ok = steady <= TARGET and best == best_base == f"new-{NEW - 1}"
    print("  OK" if ok else "  FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
