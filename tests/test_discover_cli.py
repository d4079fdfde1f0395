"""``freightyard discover``: freight from a local repo and OCI layout, and ``--artifacts`` bounded by
each subscription's ``discoveryLimit``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from freightyard.controller.cli import main
from freightyard.controller.demo.oci import add_image
from freightyard.controller.demo.scenario import git

pytestmark = pytest.mark.integration  # real git (and, for the CMP server, kustomize)

PIPELINE = """\
apiVersion: freightyard.io/v1alpha1
kind: Pipeline
metadata: {{name: shop}}
spec:
  warehouses:
  - name: main
    subscriptions:
    - git: {{repoURL: "{repo}", branch: main, includePaths: [app/], discoveryLimit: 2}}
    - image: {{repoURL: local.test/shop, constraint: ^1.0.0, discoveryLimit: 3}}
  stages:
  - name: dev
    requestedFreight: [{{origin: main, sources: {{direct: true}}}}]
"""


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "pipeline.yaml").write_text(PIPELINE.format(repo=repo))
    git(repo, "init", "--quiet", "--initial-branch=main")
    for n in range(4):
        (repo / "app" / "version.txt").write_text(f"{n}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "--quiet", "-m", f"change {n}")
    (repo / "README.md").write_text("outside app/\n")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "docs only")
    for tag in ("1.0.0", "1.2.0", "1.10.0", "1.9.0", "2.0.0", "0.9.0"):
        add_image(tmp_path / "oci" / "shop", tag, f"shop {tag}", "2026-01-01T00:00:00Z")
    return {"repo": repo, "oci": tmp_path / "oci", "state": tmp_path / "state"}


def cli(world: dict[str, Path], *args: str) -> list[str]:
    common = [
        "--pipelines",
        str(world["repo"] / "pipeline.yaml"),
        "--state",
        f"file:{world['state']}/s.yaml",
        "--oci-layout",
        f"local.test={world['oci']}",
        "-o",
        "json",
    ]
    return [args[0], *common, *args[1:]]


def test_artifacts_are_listed_best_first_up_to_the_limit(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(cli(world, "discover", "--artifacts")) == 0
    git_found, images_found = json.loads(capsys.readouterr().out)
    assert [c["message"] for c in git_found["artifacts"]] == ["change 3", "change 2"]  # docs-only commit skipped
    assert [i["tag"] for i in images_found["artifacts"]] == ["1.10.0", "1.9.0", "1.2.0"]  # SemVer, not lexical
    assert all(i["digest"].startswith("sha256:") for i in images_found["artifacts"])
    assert images_found["artifacts"][0]["createdAt"] == "2026-01-01T00:00:00Z"
    assert not (world["state"] / "s.yaml").exists()  # listing makes no freight


def test_discover_makes_freight_once(world: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(cli(world, "discover")) == 0
    (first,) = json.loads(capsys.readouterr().out)
    assert first["new"] is True
    freight = first["freight"]
    assert freight["images"][0]["tag"] == "1.10.0" and freight["commits"][0]["message"] == "change 3"
    assert main(cli(world, "discover")) == 0
    (again,) = json.loads(capsys.readouterr().out)
    assert again["new"] is False and again["freight"]["id"] == freight["id"]


def test_discover_says_which_commit_waits_for_which_image(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = world["repo"]
    text = (repo / "pipeline.yaml").read_text()
    tied = '    - image: {repoURL: local.test/web, tagFrom: "${{ commit.short }}"}\n'
    (repo / "pipeline.yaml").write_text(text.replace("  stages:", tied + "  stages:"))
    newest, older = git(repo, "log", "--format=%H", "-2", "--", "app/").split()
    add_image(world["oci"] / "web", older[:7], "web", "2026-01-01T00:00:00Z")
    assert main(cli(world, "discover")) == 0
    (found,) = json.loads(capsys.readouterr().out)
    assert found["freight"]["commits"][0]["id"] == older
    assert (
        found["waiting"]
        == f"commit {newest[:7]} waits for local.test/web:{newest[:7]}; freight stays on commit {older[:7]}"
    )
    assert main([*cli(world, "discover")[:-2], "-o", "table"]) == 0
    assert f"no change (commit {newest[:7]} waits for local.test/web:{newest[:7]}" in capsys.readouterr().out
