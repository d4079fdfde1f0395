"""``validate`` checks app paths where they live: this checkout when it is the apps' repository, else
the cached mirror of their repository (as the last discovery fetched it), else it says what it skipped."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from freightyard.controller.cli import main
from tests.helpers.mechanism_fixtures import app_files, make_repo
from tests.servers.git_http import GitHttpServer

pytestmark = pytest.mark.integration

PIPELINE = """\
apiVersion: freightyard.io/v1alpha1
kind: Pipeline
metadata: {{name: remote}}
spec:
  warehouses:
  - name: main
    subscriptions: [{{git: {{repoURL: "{url}", branch: main}}}}]
  stages:
  - name: dev
    requestedFreight: [{{origin: main, sources: {{direct: true}}}}]
    apps: [{{name: guestbook, path: {path}}}]
"""


@pytest.mark.parametrize(("path", "ok"), [("apps/guestbook/overlays/dev", True), ("apps/typo/overlays/dev", False)])
def test_paths_are_checked_in_the_mirror_of_the_apps_repository(  # noqa: PLR0917 - pytest fixtures
    git_http_server: GitHttpServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    path: str,
    ok: bool,
) -> None:
    _, url = make_repo(git_http_server, f"apps-{uuid.uuid4().hex[:8]}.git", app_files("guestbook"))
    config = tmp_path / "config"  # a config repo of its own: the apps live elsewhere
    config.mkdir()
    (config / "pipeline.yaml").write_text(PIPELINE.format(url=url, path=path))
    monkeypatch.setenv("FREIGHTYARD_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(config)
    common = ["--pipelines", str(config / "pipeline.yaml"), "--state", f"file:{tmp_path}/state.yaml"]

    assert main(["validate", *common]) == 0  # no mirror yet: nothing to check against, and it says so
    assert "no mirror of it is cached here yet (run `freightyard discover` first)" in capsys.readouterr().out

    assert main(["discover", *common]) == 0
    capsys.readouterr()
    code = main(["validate", *common])
    out, err = capsys.readouterr()
    if ok:
        assert code == 0 and f"checked app paths of dev/guestbook in the local mirror of {url} at " in out
    else:
        assert code == 2  # a configuration error, as for any other validation problem
        assert f'directory "{path}" does not exist in {url} at ' in err and "(main as last fetched)" in err
