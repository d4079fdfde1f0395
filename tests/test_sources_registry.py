"""Image discovery against Debian's real ``docker-registry``: anonymous, paginated, htpasswd and token auth."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from freightyard.shared.core.errors import SourceError
from freightyard.shared.core.model import ImageSubscription
from freightyard.shared.credentials import EnvFileCredentials
from freightyard.shared.sources.factory import DefaultSources
from tests.servers._proc import InProcessHTTPServer, free_port
from tests.servers.oci import push_image, push_many_tags, push_multiarch_image
from tests.servers.registry import Registry

pytestmark = pytest.mark.integration
_names = (f"app{i}" for i in itertools.count())


def sources_for(tmp_path: Path, *hosts: str, env: dict[str, str] | None = None) -> DefaultSources:
    return DefaultSources(
        cache_dir=tmp_path,
        credentials=EnvFileCredentials(env=env or {}, secrets_dir=None),
        insecure_hosts=frozenset(hosts),
    )


def test_semver_lexical_and_digest_choose_right_and_resolve_digests(registry: Registry, tmp_path: Path) -> None:
    repo = next(_names)
    digests = {tag: push_image(registry.url, repo, tag) for tag in ("1.2.0", "1.10.0", "1.9.3", "2.0.0-rc.1", "latest")}
    sources = sources_for(tmp_path, registry.host)
    url = f"{registry.host}/{repo}"

    def pick(**kw: str) -> list[tuple[str, str]]:
        sub = ImageSubscription(url, **kw)  # type: ignore[arg-type]
        return [(i.tag, i.digest) for i in sources.image(sub).images(sub, 3)]

    assert pick(constraint="^1.0") == [(t, digests[t]) for t in ("1.10.0", "1.9.3", "1.2.0")]
    assert pick(constraint=">=2.0.0-rc.0") == [("2.0.0-rc.1", digests["2.0.0-rc.1"])]
    assert pick(strategy="Lexical", allow_tags=r"^1\.") == [(t, digests[t]) for t in ("1.9.3", "1.2.0", "1.10.0")]
    assert pick(strategy="Digest", constraint="latest") == [("latest", digests["latest"])]
    assert pick(constraint="^9") == []


def test_newest_build_reads_created_times_and_caches_them(registry: Registry, tmp_path: Path) -> None:
    repo = next(_names)
    push_image(registry.url, repo, "b-old", created="2024-01-01T00:00:00Z")
    newest = push_image(registry.url, repo, "a-new", created="2024-06-01T00:00:00.123456789Z")
    push_image(registry.url, repo, "c-mid", created="2024-03-01T00:00:00+02:00")
    sources = sources_for(tmp_path, registry.host)
    sub = ImageSubscription(f"{registry.host}/{repo}", strategy="NewestBuild")
    images = sources.image(sub).images(sub, 3)
    assert [i.tag for i in images] == ["a-new", "c-mid", "b-old"]
    assert images[0].digest == newest and images[0].created_at.startswith("2024-06-01")
    before = sources.http.requests_sent
    sources.image(sub).images(sub, 3)
    assert sources.http.requests_sent - before == 1  # warm: the tag list; tags seen within tag_ttl, times cached
    sources.metadata.tag_ttl = 0  # once the tag memo is stale, each tag is re-read (a moved tag is noticed)
    before = sources.http.requests_sent
    sources.image(sub).images(sub, 3)
    assert sources.http.requests_sent - before == 4  # tag list + one manifest GET per tag, build times cached


def test_platform_is_chosen_from_an_index(registry: Registry, tmp_path: Path) -> None:
    repo = next(_names)
    index_digest = push_multiarch_image(registry.url, repo, "1.0.0", platforms=(("linux", "amd64"), ("linux", "arm64")))
    push_image(registry.url, repo, "1.1.0", architecture="amd64")
    sources = sources_for(tmp_path, registry.host)
    arm = ImageSubscription(f"{registry.host}/{repo}", platform="linux/arm64")
    assert [(i.tag, i.digest) for i in sources.image(arm).images(arm, 5)] == [("1.0.0", index_digest)]
    amd = ImageSubscription(f"{registry.host}/{repo}", platform="linux/amd64")
    assert [i.tag for i in sources.image(amd).images(amd, 5)] == ["1.1.0", "1.0.0"]
    with pytest.raises(SourceError, match=r"expected os/arch"):
        bad = ImageSubscription(f"{registry.host}/{repo}", platform="arm64")
        sources.image(bad).images(bad, 1)


def test_pagination_with_n_last_and_link(registry_paginated: Registry, tmp_path: Path) -> None:
    repo = next(_names)
    tags = [f"0.{i}.0" for i in range(12)]
    digests = push_many_tags(registry_paginated.url, repo, tags, distinct_manifests=2)
    sources = sources_for(tmp_path, registry_paginated.host)
    ref_tags = sources.image(ImageSubscription(f"{registry_paginated.host}/{repo}"))
    client = sources._clients[(registry_paginated.host, "")]
    assert sorted(client.tags(ref_tags.ref, page_size=5)) == sorted(tags)  # type: ignore[attr-defined]
    sub = ImageSubscription(f"{registry_paginated.host}/{repo}")
    [image] = ref_tags.images(sub, 1)
    assert (image.tag, image.digest) == ("0.11.0", digests["0.11.0"])


def test_basic_auth_with_credentials_and_clear_401_without(registry_basic: Registry, tmp_path: Path) -> None:
    repo = next(_names)
    digest = push_image(
        registry_basic.url, repo, "1.0.0", username=registry_basic.username, password=registry_basic.password
    )
    env = {"REG_USERNAME": registry_basic.username or "", "REG_PASSWORD": registry_basic.password or ""}
    sources = sources_for(tmp_path, registry_basic.host, env=env)
    sub = ImageSubscription(f"{registry_basic.host}/{repo}", credentials_secret="reg")
    assert [i.digest for i in sources.image(sub).images(sub, 1)] == [digest]

    anonymous = ImageSubscription(f"{registry_basic.host}/{repo}")
    with pytest.raises(SourceError, match=r"authentication failed \(401.*it needs credentials") as caught:
        sources.image(anonymous).images(anonymous, 1)
    assert f"http://{registry_basic.host}/v2/{repo}/tags/list" in caught.value.message

    wrong = sources_for(tmp_path, registry_basic.host, env={"REG_USERNAME": "fy-user", "REG_PASSWORD": "nope-wrong"})
    with pytest.raises(SourceError, match=r"authentication failed \(401.*check the username") as caught:
        wrong.image(sub).images(sub, 1)
    assert "nope-wrong" not in caught.value.message


def test_token_auth_flow_with_pull_only_user(registry_token: Registry, tmp_path: Path) -> None:
    repo = next(_names)
    digest = push_image(registry_token.url, repo, "3.1.4", username="fy-user", password=registry_token.users["fy-user"])
    env = {"READER_USERNAME": "fy-reader", "READER_PASSWORD": registry_token.users["fy-reader"]}
    sources = sources_for(tmp_path, registry_token.host, env=env)
    sub = ImageSubscription(f"{registry_token.host}/{repo}", credentials_secret="reader")
    assert [(i.tag, i.digest) for i in sources.image(sub).images(sub, 1)] == [("3.1.4", digest)]
    assert registry_token.token_server is not None
    issued = registry_token.token_server.issued
    assert issued[-1].user == "fy-reader" and issued[-1].requested == [f"repository:{repo}:pull"]
    count = len(issued)
    sources.image(sub).images(sub, 1)
    assert len(registry_token.token_server.issued) == count  # cached token reused

    with pytest.raises(SourceError, match=r"authentication failed \(401 UNAUTHORIZED\); it needs credentials"):
        anon = ImageSubscription(f"{registry_token.host}/{repo}")
        sources_for(tmp_path, registry_token.host).image(anon).images(anon, 1)


def test_unknown_repo_and_unreachable_registry(registry: Registry, tmp_path: Path) -> None:
    sources = sources_for(tmp_path, registry.host)
    missing = ImageSubscription(f"{registry.host}/no/such-repo")
    with pytest.raises(SourceError, match=r"repository 'no/such-repo' not found .*check repoURL"):
        sources.image(missing).images(missing, 1)
    port = free_port()
    gone = ImageSubscription(f"127.0.0.1:{port}/app", insecure=True)
    with pytest.raises(SourceError, match=f"127.0.0.1:{port}/v2/app/tags/list: cannot connect") as caught:
        sources.image(gone).images(gone, 1)
    assert caught.value.temporary


class _HtmlHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>Sign in</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture()
def html_server() -> Iterator[InProcessHTTPServer]:
    server = InProcessHTTPServer(_HtmlHandler, name="html")
    server.start()
    yield server
    server.stop()


def test_tag_list_that_is_not_json_names_the_url(html_server: InProcessHTTPServer, tmp_path: Path) -> None:
    sub = ImageSubscription(f"127.0.0.1:{html_server.port}/app", insecure=True)
    with pytest.raises(SourceError, match=r"tag list is not JSON \(text/html.*points at an OCI registry"):
        sources_for(tmp_path).image(sub).images(sub, 1)


def test_semver_in_many_tags_costs_two_requests(registry: Registry, tmp_path: Path) -> None:
    repo = next(_names)
    tags = [f"{a}.{b}.{c}" for a in range(2) for b in range(10) for c in range(15)]
    digests = push_many_tags(registry.url, repo, tags, distinct_manifests=3, workers=16)
    sources = sources_for(tmp_path, registry.host)
    sub = ImageSubscription(f"{registry.host}/{repo}", constraint="<1.5")
    before = sources.http.requests_sent
    [image] = sources.image(sub).images(sub, 1)
    assert (image.tag, image.digest) == ("1.4.14", digests["1.4.14"])
    assert sources.http.requests_sent - before == 2
