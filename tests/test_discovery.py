"""Freight from real sources: a git remote, commit-matched images in a registry, a chart repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from freightyard.shared.core.errors import SourceError
from freightyard.shared.core.model import ChartSubscription, GitSubscription, ImageSubscription, Warehouse
from freightyard.shared.credentials import EnvFileCredentials
from freightyard.shared.engine.discovery import discover
from freightyard.shared.sources.factory import DefaultSources
from tests.servers.git_http import GitHttpServer, commit_files
from tests.servers.helm_repo import HelmRepoServer
from tests.servers.oci import push_image
from tests.servers.registry import Registry


def sources_for(tmp_path: Path, *hosts: str) -> DefaultSources:
    return DefaultSources(
        cache_dir=tmp_path, credentials=EnvFileCredentials(env={}, secrets_dir=None), insecure_hosts=frozenset(hosts)
    )


@pytest.mark.integration
def test_commit_matched_images_look_back_and_no_duplicate_freight(
    git_http_server: GitHttpServer, registry: Registry, helm_repo: HelmRepoServer, tmp_path: Path
) -> None:
    bare = git_http_server.create_repo("mono.git", {"apps/web/main.go": "v0", "README": "x"})
    built = commit_files(bare, {"apps/web/main.go": "v1"}, message="web v1")
    commit_files(bare, {"README": "y"}, message="docs only")
    unbuilt = commit_files(bare, {"apps/web/main.go": "v2"}, message="web v2 (image still building)")
    web = f"{registry.host}/mono/web"
    digest = push_image(registry.url, "mono/web", built[:7])
    push_image(registry.url, "base", "1.4.0")
    base_digest = push_image(registry.url, "base", "1.5.1")
    helm_repo.add_charts({"platform": ["3.0.0", "3.2.0"]})
    warehouse = Warehouse(
        "main",
        (
            GitSubscription(git_http_server.repo_url("mono.git"), include_paths=("apps/web",)),
            ImageSubscription(web, tag_from="${{ commit.short }}", look_back=5),
            ImageSubscription(f"{registry.host}/base", constraint="^1.4"),
            ChartSubscription(helm_repo.url, "platform", semver_constraint="^3"),
        ),
    )
    sources = sources_for(tmp_path, registry.host)
    found = discover(warehouse, sources)
    assert found.freight is not None, found.reason
    freight = found.freight
    assert [c.id for c in freight.commits] == [built]  # looked back past the commit with no image yet
    assert found.waiting == f"commit {unbuilt[:7]} waits for {web}:{unbuilt[:7]}; freight stays on commit {built[:7]}"
    assert {i.repo_url: (i.tag, i.digest) for i in freight.images} == {
        web: (built[:7], digest),
        f"{registry.host}/base": ("1.5.1", base_digest),
    }
    assert [(c.name, c.version) for c in freight.charts] == [("platform", "3.2.0")]
    assert found.new

    again = discover(warehouse, sources, known={freight.id})
    assert again.freight is not None and again.freight.id == freight.id and not again.new

    push_image(registry.url, "mono/web", unbuilt[:7])
    newer = discover(warehouse, sources, known={freight.id})
    assert newer.freight is not None and newer.new and [c.id for c in newer.freight.commits] == [unbuilt]
    assert newer.waiting == ""


@pytest.mark.integration
def test_no_image_for_any_recent_commit_and_constraint_matching_nothing(
    git_http_server: GitHttpServer, registry: Registry, tmp_path: Path
) -> None:
    bare = git_http_server.create_repo("lonely.git", {"a": "1"})
    commit_files(bare, {"a": "2"})
    git_sub = GitSubscription(git_http_server.repo_url("lonely.git"))
    sources = sources_for(tmp_path, registry.host)
    waiting = discover(
        Warehouse(
            "w", (git_sub, ImageSubscription(f"{registry.host}/lonely", tag_from="${{ commit.id }}", look_back=2))
        ),
        sources,
    )
    assert waiting.freight is None and "none of the last 2 commits" in waiting.reason
    push_image(registry.url, "tagged", "1.0.0")
    nothing = discover(Warehouse("w", (ImageSubscription(f"{registry.host}/tagged", constraint="^2"),)), sources)
    assert nothing.freight is None
    assert nothing.reason == (
        f"no tag of {registry.host}/tagged matching SemVer constraint '^2'; check constraint, allowTags and ignoreTags"
    )


def test_tag_from_without_git_and_bad_regex_are_clear(tmp_path: Path) -> None:
    sources = sources_for(tmp_path)
    lone = discover(Warehouse("w", (ImageSubscription("r.example/a", tag_from="${{ commit.id }}"),)), sources)
    assert lone.freight is None and lone.reason.startswith("tagFrom needs a git subscription")
    layout = tmp_path / "layout"
    layout.mkdir()
    (layout / "index.json").write_text('{"manifests": []}')
    bad = Warehouse("w", (ImageSubscription(f"oci-layout://{layout}", allow_tags="("),))
    with pytest.raises(SourceError, match=r"warehouse w: allowTags '\(' is not a valid regular expression"):
        discover(bad, sources)
