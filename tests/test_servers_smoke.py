"""Smoke tests for the real local test servers in tests/servers (git, registry, helm)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.servers.git_daemon import GitDaemon
from tests.servers.git_http import GitHttpServer, commit_files, git
from tests.servers.helm_repo import HelmRepoServer, create_chart, helm, package_chart, push_chart_oci
from tests.servers.oci import (
    RegistryClient,
    RegistryError,
    build_image,
    build_index,
    push_image,
    push_many_tags,
    push_multiarch_image,
    write_oci_layout,
)
from tests.servers.registry import Registry

pytestmark = pytest.mark.integration


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _skopeo(skopeo_bin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([skopeo_bin, *args], capture_output=True, text=True, timeout=120, check=False)


def _skopeo_digest(skopeo_bin: str, reg: Registry, repo: str, tag: str, creds: list[str] | None = None) -> str:
    """Digest as skopeo computes it from the raw manifest it fetched."""
    creds = reg.skopeo_creds_args() if creds is None else creds
    out = _skopeo(skopeo_bin, "inspect", "--tls-verify=false", "--raw", *creds, f"docker://{reg.ref(repo, tag)}")
    assert out.returncode == 0, out.stderr
    return "sha256:" + hashlib.sha256(out.stdout.encode()).hexdigest()


# ----------------------------------------------------------------------------- git


def test_git_http_clone_and_push_anonymous(git_http_server: GitHttpServer, tmp_path: Path) -> None:
    name = _name("app") + ".git"
    bare = git_http_server.create_repo(name, {"README.md": "hello\n"})
    work = tmp_path / "clone"
    git("clone", "--quiet", git_http_server.repo_url(name), str(work))
    assert (work / "README.md").read_text() == "hello\n"
    # > http.postBuffer (1 MiB) of incompressible data -> chunked request through the bridge.
    (work / "blob.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    git("add", ".", cwd=work)
    git("commit", "--quiet", "-m", "big", cwd=work)
    git("push", "--quiet", "origin", "HEAD:main", cwd=work)
    head = git("rev-parse", "HEAD", cwd=work)
    assert git("--git-dir", str(bare), "rev-parse", "refs/heads/main") == head
    remote = git("ls-remote", git_http_server.repo_url(name), "refs/heads/main")
    assert remote.split()[0] == head


def test_git_http_requires_auth(git_http_server_auth: GitHttpServer, tmp_path: Path) -> None:
    name = _name("secret") + ".git"
    git_http_server_auth.create_repo(name, {"a.txt": "a\n"})
    with pytest.raises(RuntimeError, match=r"Authentication failed|could not read Username"):
        git("ls-remote", git_http_server_auth.repo_url(name))
    work = tmp_path / "clone"
    git("clone", "--quiet", git_http_server_auth.repo_url_with_auth(name), str(work))
    (work / "b.txt").write_text("b\n")
    git("add", ".", cwd=work)
    git("commit", "--quiet", "-m", "b", cwd=work)
    git("push", "--quiet", "origin", "HEAD:main", cwd=work)
    # Wrong password is rejected.
    bad = git_http_server_auth.repo_url_with_auth(name).replace(git_http_server_auth.password or "", "wrong")
    with pytest.raises(RuntimeError, match="Authentication failed"):
        git("ls-remote", bad)


def test_commit_files_updates_served_repo(git_http_server: GitHttpServer) -> None:
    name = _name("cfg") + ".git"
    bare = git_http_server.create_repo(name, {"values.yaml": "tag: 1\n"})
    sha = commit_files(bare, {"values.yaml": "tag: 2\n", "extra.txt": "x"}, message="bump")
    remote = git("ls-remote", git_http_server.repo_url(name), "refs/heads/main")
    assert remote.split()[0] == sha


def test_git_daemon_clone_and_push(git_daemon: GitDaemon, tmp_path: Path) -> None:
    name = _name("d") + ".git"
    from tests.servers.git_http import init_bare_repo

    bare = init_bare_repo(git_daemon.base_path, name, {"x": "1"})
    work = tmp_path / "clone"
    git("clone", "--quiet", git_daemon.repo_url(name), str(work))
    (work / "y").write_text("2")
    git("add", ".", cwd=work)
    git("commit", "--quiet", "-m", "y", cwd=work)
    git("push", "--quiet", "origin", "HEAD:main", cwd=work)
    assert git("--git-dir", str(bare), "rev-parse", "main") == git("rev-parse", "HEAD", cwd=work)


# ----------------------------------------------------------------------------- registries


@pytest.mark.parametrize("fixture_name", ["registry", "registry_basic", "registry_token"])
def test_push_and_skopeo_inspect(fixture_name: str, request: pytest.FixtureRequest, skopeo_bin: str) -> None:
    reg: Registry = request.getfixturevalue(fixture_name)
    repo = f"team/{_name('img')}"
    digest = push_image(
        reg.url, repo, "v1.0.0", created="2024-01-02T03:04:05Z", username=reg.username, password=reg.password
    )
    assert _skopeo_digest(skopeo_bin, reg, repo, "v1.0.0") == digest
    out = _skopeo(
        skopeo_bin, "inspect", "--tls-verify=false", *reg.skopeo_creds_args(), f"docker://{reg.ref(repo, 'v1.0.0')}"
    )
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["Digest"] == digest
    assert info["Created"].startswith("2024-01-02T03:04:05")
    assert info["Architecture"] == "amd64"

    index_digest = push_multiarch_image(reg.url, repo, "multi", username=reg.username, password=reg.password)
    assert _skopeo_digest(skopeo_bin, reg, repo, "multi") == index_digest
    out = _skopeo(
        skopeo_bin,
        "inspect",
        "--tls-verify=false",
        "--override-arch",
        "arm64",
        *reg.skopeo_creds_args(),
        f"docker://{reg.ref(repo, 'multi')}",
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Architecture"] == "arm64"


def test_auth_registries_reject_anonymous(registry_basic: Registry, registry_token: Registry, skopeo_bin: str) -> None:
    for reg in (registry_basic, registry_token):
        with pytest.raises(RegistryError) as info:
            push_image(reg.url, _name("anon"), "v1")
        assert info.value.status == 401
        out = _skopeo(
            skopeo_bin,
            "inspect",
            "--tls-verify=false",
            "--creds",
            "nobody:wrong",
            f"docker://{reg.ref('whatever', 'v1')}",
        )
        assert out.returncode != 0


def test_token_registry_pull_only_user(registry_token: Registry, skopeo_bin: str) -> None:
    repo = _name("ro")
    digest = push_image(
        registry_token.url, repo, "v1", username=registry_token.username, password=registry_token.password
    )
    reader_pw = registry_token.users["fy-reader"]
    reader = registry_token.client("fy-reader", reader_pw)
    assert reader.get_manifest(repo, "v1")[2] == digest
    with pytest.raises(RegistryError) as info:
        reader.push_image(repo, build_image(created="2024-01-01T00:00:00Z"), ["v2"])
    assert info.value.status == 401
    assert _skopeo_digest(skopeo_bin, registry_token, repo, "v1", ["--creds", f"fy-reader:{reader_pw}"]) == digest
    assert registry_token.token_server is not None
    issued = registry_token.token_server.issued
    assert any(entry.user == "fy-reader" for entry in issued)


def test_many_tags_and_catalog(registry: Registry) -> None:
    repo = _name("many")
    tags = [f"1.0.{i}" for i in range(300)]
    mapping = push_many_tags(registry.url, repo, tags, distinct_manifests=3)
    assert len(set(mapping.values())) == 3
    client = registry.client()
    assert sorted(client.list_tags(repo)) == sorted(tags)
    assert repo in client.catalog(page_size=1)  # catalog pagination is native in 2.8


def test_tag_pagination_via_proxy(registry_paginated: Registry, skopeo_bin: str) -> None:
    repo = _name("paged")
    tags = [f"v{i:04d}" for i in range(250)]
    push_many_tags(registry_paginated.url, repo, tags, distinct_manifests=2)
    client = registry_paginated.client()
    assert client.list_tags(repo, page_size=100) == sorted(tags)
    first = client.request("GET", f"/v2/{repo}/tags/list?n=100", scope_key=repo)
    assert 'rel="next"' in first.headers.get("Link", "")
    assert len(json.loads(first.body)["tags"]) == 100
    # Uploads (Location rewriting) and skopeo still work through the proxy.
    digest = push_image(registry_paginated.url, repo, "latest")
    assert _skopeo_digest(skopeo_bin, registry_paginated, repo, "latest") == digest


def test_delete_manifest(registry: Registry) -> None:
    repo = _name("del")
    digest = push_image(registry.url, repo, "gone")
    client = registry.client()
    client.delete_manifest(repo, digest)
    with pytest.raises(RegistryError) as info:
        client.get_manifest(repo, "gone")
    assert info.value.status == 404


def test_oci_layout_readable_by_skopeo(tmp_path: Path, skopeo_bin: str) -> None:
    image = build_image(created="2023-05-06T07:08:09Z")
    index = build_index(created="2023-05-06T07:08:09Z")
    layout = write_oci_layout(tmp_path / "layout", {"1.0.0": image, "multi": index})
    out = _skopeo(skopeo_bin, "inspect", f"oci:{layout}:1.0.0")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Digest"] == image.digest
    out = _skopeo(skopeo_bin, "inspect", "--raw", f"oci:{layout}:multi")
    assert out.returncode == 0, out.stderr
    assert "sha256:" + hashlib.sha256(out.stdout.encode()).hexdigest() == index.digest


def test_skopeo_copy_layout_to_registry(tmp_path: Path, registry_basic: Registry, skopeo_bin: str) -> None:
    image = build_image(created="2023-05-06T07:08:09Z")
    layout = write_oci_layout(tmp_path / "layout", {"v9": image})
    repo = _name("copied")
    out = _skopeo(
        skopeo_bin,
        "copy",
        "--dest-tls-verify=false",
        "--preserve-digests",
        "--dest-creds",
        f"{registry_basic.username}:{registry_basic.password}",
        f"oci:{layout}:v9",
        f"docker://{registry_basic.ref(repo, 'v9')}",
    )
    assert out.returncode == 0, out.stderr
    client = RegistryClient(registry_basic.url, username=registry_basic.username, password=registry_basic.password)
    assert client.get_manifest(repo, "v9")[2] == image.digest


# ----------------------------------------------------------------------------- helm


@pytest.mark.usefixtures("helm_bin")
def test_helm_repo_index_pull_show(helm_repo: HelmRepoServer, helm_home: Path, tmp_path: Path) -> None:
    chart = _name("chart")
    packages = helm_repo.add_charts({chart: ["1.0.0", "1.2.0", "2.0.0"]})
    assert len(packages) == 3
    index = (helm_repo.directory / "index.yaml").read_text()
    assert f"{helm_repo.url}/{chart}-1.2.0.tgz" in index
    shown = helm("show", "chart", chart, "--repo", helm_repo.url, "--version", "1.2.0", home=helm_home)
    assert "version: 1.2.0" in shown
    latest = helm("show", "chart", chart, "--repo", helm_repo.url, home=helm_home)
    assert "version: 2.0.0" in latest
    helm("pull", chart, "--repo", helm_repo.url, "--version", "1.0.0", "-d", str(tmp_path), home=helm_home)
    assert (tmp_path / f"{chart}-1.0.0.tgz").is_file()


@pytest.mark.usefixtures("helm_bin")
@pytest.mark.parametrize("fixture_name", ["registry", "registry_basic", "registry_token"])
def test_helm_push_oci(
    fixture_name: str,
    request: pytest.FixtureRequest,
    helm_home: Path,
    tmp_path: Path,
    skopeo_bin: str,
) -> None:
    reg: Registry = request.getfixturevalue(fixture_name)
    name = _name("ocichart")
    pkg = package_chart(create_chart(tmp_path / "src", name, "0.3.1"), tmp_path / "pkg")
    digest = push_chart_oci(
        pkg, reg.host, namespace="charts", username=reg.username, password=reg.password, home=helm_home
    )
    client = reg.client()
    assert client.list_tags(f"charts/{name}") == ["0.3.1"]
    assert client.get_manifest(f"charts/{name}", "0.3.1")[2] == digest
    auth = ["--username", reg.username, "--password", reg.password or ""] if reg.username else []
    shown = helm(
        "show", "chart", f"oci://{reg.host}/charts/{name}", "--version", "0.3.1", "--plain-http", *auth, home=helm_home
    )
    assert f"name: {name}" in shown
    assert _skopeo_digest(skopeo_bin, reg, f"charts/{name}", "0.3.1") == digest


def test_kubectl_kustomize(kubectl_bin: str, tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: [cm.yaml]\nimages:\n- name: app\n  newTag: v2\n")
    (tmp_path / "cm.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: app:v1}]}\n"
    )
    out = subprocess.run(
        [kubectl_bin, "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "image: app:v2" in out.stdout
