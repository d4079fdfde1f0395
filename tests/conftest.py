"""Test-wide guards and the real-server fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from freightyard.shared.kube.client import KubeApi, KubeSettings, make_api
from tests.servers.kube_emulator import KubeEmulator

pytest_plugins = ["tests.servers.fixtures", "tests.helpers.cmp_repo"]

# Fixtures that start a loopback server or resolve an external binary: a test using one is integration.
SERVER_FIXTURES = frozenset(
    {
        "kube",
        "api",
        "git_http_server",
        "git_http_server_auth",
        "git_daemon",
        "registry",
        "registry_paginated",
        "registry_basic",
        "registry_token",
        "helm_repo",
        "helm_bin",
        "kubectl_bin",
        "git_bin",
        "skopeo_bin",
        "git_repo",
    }
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "unit: no servers, no external tools (given to every test not marked otherwise)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``make unit`` selects ``-m unit``: every test that is neither integration nor k3s, where a test that
    uses a server or tool fixture counts as integration even when its module forgot the mark."""
    for item in items:
        if item.get_closest_marker("k3s") is None and SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
        if item.get_closest_marker("integration") is None and item.get_closest_marker("k3s") is None:
            item.add_marker(pytest.mark.unit)


@pytest.fixture(autouse=True)
def _environment_is_not_leaked() -> Iterator[None]:
    """Fail a test that changes os.environ and does not put it back (tox's habit)."""
    before = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    yield
    after = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    if after != before:
        changed = sorted(set(before.items()) ^ set(after.items()))
        pytest.fail(f"test leaked environment changes: {[k for k, _ in changed]}")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FREIGHTYARD_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def kube() -> Iterator[KubeEmulator]:
    """An HTTP-level Kubernetes API emulator (kmock) on loopback, with resourceVersion semantics."""
    with KubeEmulator() as emulator:
        yield emulator


@pytest.fixture
def api(kube: KubeEmulator) -> Iterator[KubeApi]:
    """The official client, through our thin layer, pointed at the emulator."""
    client = make_api(KubeSettings(host=kube.url, timeout_s=5))
    yield client
    client.close()
