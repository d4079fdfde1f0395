"""A private git repo and a private registry, reached with named credentials: the passwords appear in
no output, log line, state file, cache file or commit pushed to the remote."""

from __future__ import annotations

import logging
import subprocess
import uuid
from pathlib import Path

import pytest

from freightyard.controller.cli import main
from tests.helpers.mechanism_fixtures import app_files, make_repo
from tests.servers.git_http import GitHttpServer
from tests.servers.oci import push_image
from tests.servers.registry import Registry
from tests.servers.tools import git_path

pytestmark = pytest.mark.integration

PIPELINE = """\
apiVersion: freightyard.io/v1alpha1
kind: Pipeline
metadata: {{name: private}}
spec:
  warehouses:
  - name: main
    subscriptions:
    - git: {{repoURL: "{git}", branch: main, credentials: private-git}}
    - image: {{repoURL: "{image}", insecure: true, credentials: private-registry}}
  stages:
  - name: dev
    requestedFreight: [{{origin: main, sources: {{direct: true}}}}]
    autoPromotion: true
    promotion: {{mechanism: render-branch}}
    apps: [{{name: guestbook, path: apps/guestbook/overlays/dev}}]
  - name: prod
    requestedFreight: [{{origin: main, sources: {{stages: [dev]}}}}]
    apps: [{{name: guestbook, path: apps/guestbook/overlays/prod}}]
"""


def test_no_password_anywhere(  # noqa: PLR0917 - pytest fixtures
    git_http_server_auth: GitHttpServer,
    registry_basic: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    git_password, registry_password = git_http_server_auth.password or "", registry_basic.password or ""
    assert git_password and registry_password
    bare, git_url = make_repo(git_http_server_auth, f"private-{uuid.uuid4().hex[:8]}.git", app_files("guestbook"))
    push_image(registry_basic.url, "private/app", "1.0.0", username=registry_basic.username, password=registry_password)
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    image = f"{registry_basic.host}/private/app"
    (pipelines / "private.yaml").write_text(PIPELINE.format(git=git_url, image=image))
    for prefix, user, password in (
        ("PRIVATE_GIT", git_http_server_auth.username, git_password),
        ("PRIVATE_REGISTRY", registry_basic.username, registry_password),
    ):
        monkeypatch.setenv(f"{prefix}_USERNAME", user or "")
        monkeypatch.setenv(f"{prefix}_PASSWORD", password)
    monkeypatch.setenv("FREIGHTYARD_CACHE", str(tmp_path / "cache"))
    caplog.set_level(logging.DEBUG)
    common = ["--pipelines", str(pipelines), "--state", f"file:{tmp_path}/state/{{pipeline}}.yaml"]
    said: list[str] = []

    def cli(*args: str, code: int = 0) -> None:
        at = 2 if args[0] == "freight" else 1  # after the (sub)command
        assert main([*args[:at], *common, *args[at:]]) == code, capsys.readouterr()
        out, err = capsys.readouterr()
        said.extend((out, err))

    cli("validate")
    cli("discover", "--artifacts", "-o", "json")
    cli("discover", "-o", "json")
    cli("freight", "list", "-o", "json")
    assert main(["--log-level", "DEBUG", "controller", *common, "--once", "--listen", "off"]) == 0
    said.extend(capsys.readouterr())
    cli("status", "-o", "json")
    cli("status", "dev")
    cli("apps", "-o", "json")  # the generator's answer, byte for byte
    cli("render", "private", "dev")
    cli("verify", "dev")
    said.append(caplog.text)

    branch = subprocess.run(
        [git_path(), "--git-dir", str(bare), "log", "-p", "--all"], capture_output=True, text=True, check=True
    ).stdout
    assert "manifests.yaml" in branch and "@sha256:" in branch  # dev was rendered to its branch and pushed
    files = [p for root in (tmp_path / "state", tmp_path / "cache") for p in root.rglob("*") if p.is_file()]
    assert files
    everything = [*said, branch, *(p.read_bytes().decode("latin-1") for p in files)]
    for password in (git_password, registry_password):
        leaks = [text[max(0, text.find(password) - 80) :][:160] for text in everything if password in text]
        assert not leaks, leaks
