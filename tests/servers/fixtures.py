"""Pytest plugin: fixtures for real local git/registry/helm servers (load via pytest_plugins)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.tools import require
from tests.servers.git_daemon import GitDaemon
from tests.servers.git_http import GitHttpServer
from tests.servers.helm_repo import HelmRepoServer
from tests.servers.registry import Registry
from tests.servers.tools import (
    git_path,
    helm_path,
    htpasswd_path,
    kubectl_path,
    openssl_path,
    registry_path,
    skopeo_path,
)


def pytest_configure(config: pytest.Config) -> None:
    """Register the `integration` marker so --strict-markers accepts it."""
    config.addinivalue_line("markers", "integration: needs real external tools/servers (git, registry, helm)")


# ----------------------------------------------------------------------------- tool paths


@pytest.fixture(scope="session")
def helm_bin() -> str:
    """Absolute path of the pinned helm (v4) binary."""
    return require(helm_path)[0]


@pytest.fixture(scope="session")
def kubectl_bin() -> str:
    """Absolute path of the pinned kubectl (1.35) binary."""
    return require(kubectl_path)[0]


@pytest.fixture(scope="session")
def git_bin() -> str:
    """Absolute path of git."""
    return require(git_path)[0]


@pytest.fixture(scope="session")
def skopeo_bin() -> str:
    """Absolute path of skopeo."""
    return require(skopeo_path)[0]


# ----------------------------------------------------------------------------- git servers


@pytest.fixture(scope="session")
def git_http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHttpServer]:
    """Anonymous smart-HTTP git server (fetch + push) over a fresh dir of bare repos."""
    require(git_path)
    with GitHttpServer(tmp_path_factory.mktemp("git-http")) as server:
        yield server


@pytest.fixture(scope="session")
def git_http_server_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHttpServer]:
    """Smart-HTTP git server requiring basic auth (`.username` / `.password`) for everything."""
    require(git_path)
    with GitHttpServer(
        tmp_path_factory.mktemp("git-http-auth"),
        username="fy-git",
        password="pw-" + secrets.token_hex(6),
    ) as server:
        yield server


@pytest.fixture(scope="session")
def git_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitDaemon]:
    """`git daemon` (git://, push enabled) over a fresh base path."""
    require(git_path)
    with GitDaemon(tmp_path_factory.mktemp("git-daemon")) as daemon:
        yield daemon


# ----------------------------------------------------------------------------- registries


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """Anonymous distribution registry; `.host` is 127.0.0.1:PORT, plain HTTP."""
    require(registry_path)
    with Registry("anonymous", workdir=tmp_path_factory.mktemp("registry")) as reg:
        yield reg


@pytest.fixture(scope="session")
def registry_paginated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """Anonymous registry behind TagPaginationProxy (spec `n`/`last` + Link on tags/list)."""
    require(registry_path)
    with Registry("anonymous", paginate_tags=True, workdir=tmp_path_factory.mktemp("registry-paged")) as reg:
        yield reg


@pytest.fixture(scope="session")
def registry_basic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """htpasswd (bcrypt) basic-auth registry; credentials in `.username` / `.password`."""
    require(registry_path, htpasswd_path)
    with Registry(
        "basic", users={"fy-user": "pw-" + secrets.token_hex(6)}, workdir=tmp_path_factory.mktemp("registry-basic")
    ) as reg:
        yield reg


@pytest.fixture(scope="session")
def registry_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """Token-auth registry + token server; users fy-user (all) and fy-reader (pull only)."""
    require(registry_path, openssl_path)
    with Registry(
        "token",
        users={"fy-user": "pw-" + secrets.token_hex(6), "fy-reader": "pw-" + secrets.token_hex(6)},
        pull_only={"fy-reader"},
        workdir=tmp_path_factory.mktemp("registry-token"),
    ) as reg:
        yield reg


# ----------------------------------------------------------------------------- helm


@pytest.fixture(scope="session")
def helm_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HelmRepoServer]:
    """Plain-HTTP chart repo server; call `.add_charts({"name": ["1.0.0", ...]})` to populate."""
    require(helm_path)
    with HelmRepoServer(tmp_path_factory.mktemp("helm-repo")) as server:
        yield server


@pytest.fixture()
def helm_home(tmp_path: Path) -> Path:
    """Fresh directory for HELM_CONFIG/CACHE/DATA_HOME (pass as `home=` to helm helpers)."""
    home = tmp_path / "helm-home"
    home.mkdir()
    return home
