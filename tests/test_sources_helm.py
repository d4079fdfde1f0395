"""Chart discovery against a real HTTP chart repository and charts pushed to a registry with real ``helm``."""

from __future__ import annotations

from pathlib import Path

import pytest

from freightyard.shared.core.errors import SourceError
from freightyard.shared.core.model import ChartSubscription
from freightyard.shared.credentials import EnvFileCredentials
from freightyard.shared.sources.factory import DefaultSources
from tests.servers.helm_repo import HelmRepoServer, build_chart_repo, push_chart_oci
from tests.servers.registry import Registry

pytestmark = pytest.mark.integration


def sources_for(tmp_path: Path, *hosts: str, env: dict[str, str] | None = None) -> DefaultSources:
    return DefaultSources(
        cache_dir=tmp_path,
        credentials=EnvFileCredentials(env=env or {}, secrets_dir=None),
        insecure_hosts=frozenset(hosts),
    )


def test_http_repository_semver_and_304_when_unchanged(helm_repo: HelmRepoServer, tmp_path: Path) -> None:
    helm_repo.add_charts({"guestbook": ["1.0.0", "1.4.2", "2.0.0", "2.1.0-beta.1"], "other": ["0.1.0"]})
    sources = sources_for(tmp_path)
    sub = ChartSubscription(helm_repo.url, "guestbook", semver_constraint="^1")
    assert [c.version for c in sources.chart(sub).charts(sub, 5)] == ["1.4.2", "1.0.0"]
    latest = ChartSubscription(helm_repo.url, "guestbook")
    assert [c.version for c in sources.chart(latest).charts(latest, 1)] == ["2.0.0"]
    nothing = ChartSubscription(helm_repo.url, "guestbook", semver_constraint="^7")
    assert sources.chart(nothing).charts(nothing, 1) == []
    before = sources.http.requests_sent
    assert [c.version for c in sources.chart(sub).charts(sub, 1)] == ["1.4.2"]
    assert sources.http.requests_sent - before == 1
    with pytest.raises(SourceError, match=r"has no chart 'nope' \(known: .*guestbook.*\); check the chart name"):
        missing = ChartSubscription(helm_repo.url, "nope")
        sources.chart(missing).charts(missing, 1)


def test_http_repository_with_basic_auth(tmp_path: Path) -> None:
    build_chart_repo(tmp_path / "repo", {"secure": ["0.3.0"]})
    with HelmRepoServer(tmp_path / "repo", username="chartuser", password="chart-pass-123") as server:
        env = {"CHARTS_USERNAME": "chartuser", "CHARTS_PASSWORD": "chart-pass-123"}
        sub = ChartSubscription(server.url, "secure", credentials_secret="charts")
        assert [c.version for c in sources_for(tmp_path, env=env).chart(sub).charts(sub, 1)] == ["0.3.0"]
        anon = ChartSubscription(server.url, "secure")
        with pytest.raises(SourceError, match=r"access refused \(401\); set credentials"):
            sources_for(tmp_path).chart(anon).charts(anon, 1)


def test_malformed_index_and_missing_repo(helm_repo: HelmRepoServer, tmp_path: Path) -> None:
    broken = helm_repo.directory / "broken"
    broken.mkdir()
    (broken / "index.yaml").write_text("apiVersion: v1\nentries:\n  x: [\n")
    sub = ChartSubscription(f"{helm_repo.url}/broken", "x")
    with pytest.raises(SourceError, match=r"broken/index.yaml: index.yaml is not valid YAML at line"):
        sources_for(tmp_path).chart(sub).charts(sub, 1)
    gone = ChartSubscription(f"{helm_repo.url}/gone", "x")
    with pytest.raises(SourceError, match=r"gone/index.yaml: not found \(404\); check repoURL"):
        sources_for(tmp_path).chart(gone).charts(gone, 1)


def test_oci_chart_repository(registry: Registry, helm_home: Path, tmp_path: Path) -> None:
    packages = build_chart_repo(tmp_path / "pkgs", {"ocichart": ["1.0.0", "1.2.0", "1.3.0+build.5"]})
    for package in packages:
        push_chart_oci(package, registry.host, namespace="charts", home=helm_home)
    sub = ChartSubscription(f"oci://{registry.host}/charts", "ocichart", semver_constraint="~1.2")
    charts = sources_for(tmp_path, registry.host).chart(sub).charts(sub, 5)
    assert [(c.repo_url, c.name, c.version) for c in charts] == [(sub.repo_url, "ocichart", "1.2.0")]
    every = ChartSubscription(f"oci://{registry.host}/charts", "ocichart")
    assert [c.version for c in sources_for(tmp_path, registry.host).chart(every).charts(every, 5)] == [
        "1.3.0+build.5",
        "1.2.0",
        "1.0.0",
    ]


def test_chart_prerelease_opt_in_follows_masterminds(helm_repo: HelmRepoServer, tmp_path: Path) -> None:
    helm_repo.add_charts({"rc": ["1.0.0", "1.1.0-rc.1", "1.2.0-rc.2", "2.0.0-rc.1", "1.0.5"]})
    sources = sources_for(tmp_path)

    def versions(constraint: str) -> list[str]:
        sub = ChartSubscription(helm_repo.url, "rc", semver_constraint=constraint)
        return [c.version for c in sources.chart(sub).charts(sub, 10)]

    assert versions("^1.0.0") == ["1.0.5", "1.0.0"]
    assert versions("^1.0.0-0") == ["1.2.0-rc.2", "1.1.0-rc.1", "1.0.5", "1.0.0"]  # every pre-release in range
    assert versions("1.1.x-0") == ["1.1.0-rc.1"]
    assert versions(">=1.0.0 || >=2.0.0-0") == ["2.0.0-rc.1", "1.0.5", "1.0.0"]
