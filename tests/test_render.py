"""``freightyard.shared.render`` as a library (the API no-op detection and render-branch use) and
``freightyard render``, which prints what the CMP would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from freightyard.cmp.env import from_environ
from freightyard.shared.core.errors import ConfigError, NotFoundError, RenderError
from freightyard.shared.core.freight import Commit, Freight, Image
from freightyard.shared.core.model import App, RequestedFreight, Sources, Stage
from freightyard.shared.core.pipeline import parse_pipelines
from freightyard.shared.core.state import StageState, State, find_freight, state_to_document
from freightyard.shared.render import RenderEnv, render_app, render_hash
from freightyard.shared.render.env import find_tools
from freightyard.shared.render.hashing import without_freight_id
from freightyard.shared.render.helm import kube_version, set_key
from freightyard.shared.render.locate import normalize_path, pick_app, repo_root
from freightyard.shared.render.objects import image_name
from tests.helpers.tools import missing_tool

REPO = Path(__file__).resolve().parents[1]
IMAGE = "registry.example.com/org/web"
DIGEST_A, DIGEST_B = "sha256:" + "a" * 64, "sha256:" + "b" * 64
PIPELINE = f"""\
apiVersion: freightyard.io/v1alpha1
kind: Pipeline
metadata: {{name: shop}}
spec:
  warehouses:
  - name: main
    subscriptions:
    - git: {{repoURL: https://git.example.com/shop.git}}
    - image: {{repoURL: {IMAGE}}}
  stages:
  - name: dev
    requestedFreight: [{{origin: main, sources: {{direct: true}}}}]
    apps: [{{name: web, path: app}}, {{name: plain, path: plain}}]
"""
DEPLOYMENT = f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  template:
    spec:
      containers: [{{name: web, image: "{IMAGE}:old"}}]
"""


def make_freight(commit: str, digest: str = DIGEST_A) -> Freight:
    return Freight(
        origin="main",
        commits=(Commit("https://git.example.com/shop.git", commit),),
        images=(Image(IMAGE, "1.0.0", digest),),
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "app").mkdir(parents=True)
    (root / "plain").mkdir()
    (root / "pipeline.yaml").write_text(PIPELINE)
    (root / "app/kustomization.yaml").write_text("resources: [deployment.yaml]\n")
    (root / "app/deployment.yaml").write_text(DEPLOYMENT)
    (root / "plain/deployment.yaml").write_text(DEPLOYMENT)
    return root


@pytest.fixture
def env() -> RenderEnv:
    kustomize, helm = find_tools({**os.environ, "FREIGHTYARD_TOOLS_DIR": str(REPO / ".tools")})
    if not kustomize:
        missing_tool("no kustomize or kubectl (run scripts/install-tools.sh)")
    return RenderEnv(kustomize=kustomize, helm=helm)


@pytest.mark.integration
@pytest.mark.parametrize("app_name", ["web", "plain"])
def test_render_hash_ignores_the_freight_id_only(repo: Path, env: RenderEnv, app_name: str) -> None:
    (pipeline,) = parse_pipelines(PIPELINE)
    app = next(a for a in pipeline.stages[0].apps if a.name == app_name)
    one = render_app(pipeline, "dev", app, make_freight("1" * 40), repo, env)
    two = render_app(pipeline, "dev", app, make_freight("2" * 40), repo, env)
    moved = render_app(pipeline, "dev", app, make_freight("2" * 40, DIGEST_B), repo, env)
    assert one.manifests != two.manifests  # the freight annotation differs…
    assert one.render_hash == two.render_hash  # …but nothing else: a no-op promotion
    assert moved.render_hash != one.render_hash
    assert f"{IMAGE}:1.0.0@{DIGEST_B}".encode() in moved.manifests
    assert one.render_hash.startswith("sha256:") and one.tool == ("kustomize" if app_name == "web" else "plain")


@pytest.mark.integration
def test_empty_render_is_refused_unless_allowed(repo: Path, env: RenderEnv) -> None:
    (pipeline,) = parse_pipelines(PIPELINE)
    (repo / "plain/deployment.yaml").write_text("# nothing\n")
    app = pipeline.stages[0].apps[1]
    with pytest.raises(RenderError, match="no objects"):
        render_app(pipeline, "dev", app, make_freight("1" * 40), repo, env)
    allowed = RenderEnv(kustomize=env.kustomize, allow_empty=True)
    assert render_app(pipeline, "dev", app, make_freight("1" * 40), repo, allowed).manifests == b""


def test_render_hash_strips_only_freight_annotation_lines() -> None:
    body = b"metadata:\n  annotations:\n    freightyard.io/stage: dev\n"
    with_id = body + b"    freightyard.io/freight: " + b"c" * 40 + b"\n"
    assert render_hash(with_id) == render_hash(body) != render_hash(body.replace(b"dev", b"qa"))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("1.29", "v1.29.0"),
        ("v1.29.3+k3s1", "v1.29.3"),
        ("1.30.0-eks-abc", "v1.30.0"),
        ("1.29+", "v1.29.0"),
        ("", ""),
        ("garbage", ""),
    ],
)
def test_kube_version_is_lenient(given: str, expected: str) -> None:
    assert kube_version(given) == expected


def test_helm_value_keys_nest() -> None:
    values: dict[str, object] = {}
    set_key(values, "image.repository", "r")
    set_key(values, "image.tag", "t")
    set_key(values, r"annotations.a\.b", "c")
    assert values == {"image": {"repository": "r", "tag": "t"}, "annotations": {"a.b": "c"}}


@pytest.mark.parametrize(
    ("ref", "name"),
    [
        ("r.io:5000/a/b:1@sha256:x", "r.io:5000/a/b"),
        ("nginx", "nginx"),
        ("r.io:5000/a", "r.io:5000/a"),
    ],
)
def test_image_name(ref: str, name: str) -> None:
    assert image_name(ref) == name


def test_argocd_env_v2_and_v3_read_the_same() -> None:
    v2 = from_environ({"ARGOCD_ENV_STAGE": "dev", "ARGOCD_APP_PARAMETERS": "null"})
    v3 = from_environ({"ARGOCD_ENV_STAGE": "dev", "ARGOCD_ENV_APP": "", "ARGOCD_APP_PARAMETERS": "null"})
    assert v2.setting("APP") == v3.setting("APP") == ""
    assert v2.setting("STAGE") == "dev" and v3.flag("ANNOTATE", True)
    params = from_environ({"ARGOCD_APP_PARAMETERS": '[{"name": "stage", "string": "qa"}]'})
    assert params.setting("STAGE") == "qa"
    assert from_environ({"ARGOCD_APP_PARAMETERS": "{broken"}).parameters == {}


def test_repo_root_and_app_selection(tmp_path: Path) -> None:
    (tmp_path / "a/b").mkdir(parents=True)
    assert repo_root(tmp_path / "a/b", "a/b/") == tmp_path
    assert repo_root(tmp_path, ".") == tmp_path
    with pytest.raises(RenderError):
        repo_root(tmp_path, "/etc")
    stage = Stage(
        name="dev",
        requested_freight=(RequestedFreight("main", Sources(direct=True)),),
        apps=(App(name="a", path="x/a"), App(name="b", path="x/b")),
    )
    assert pick_app(stage, "", "./x/b").name == "b"
    assert pick_app(stage, "a", "x/a/").name == "a"
    with pytest.raises(ConfigError):
        pick_app(stage, "", "")
    with pytest.raises(NotFoundError):
        pick_app(stage, "c", "")
    assert normalize_path("/x//y/") == "x/y"


def test_find_freight_by_alias_and_prefix() -> None:
    f = make_freight("1" * 40)
    state = State(freight={f.id: f})
    assert find_freight(state, f.alias) is f
    assert find_freight(state, f.id[:8]) is f
    with pytest.raises(NotFoundError):
        find_freight(state, "zzzzzzzz")


@pytest.mark.integration
def test_freightyard_render_prints_what_the_cmp_would(repo: Path, tmp_path: Path, env: RenderEnv) -> None:
    f = make_freight("1" * 40)
    state = State(
        freight={f.id: f},
        stages={
            "dev": StageState.holding(f, [a.name for s in parse_pipelines(PIPELINE)[0].stages for a in s.apps], by="t")
        },
    )
    state_file = tmp_path / "state.yaml"
    state_file.write_text(
        yaml.safe_dump(state_to_document(state, pipeline="shop", name="freightyard-shop", namespace="argocd"))
    )
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    base = {**os.environ, "PYTHONPATH": str(REPO), "FREIGHTYARD_TOOLS_DIR": str(REPO / ".tools")}
    local = subprocess.run(
        [
            sys.executable,
            "-m",
            "freightyard.controller.cli",
            "render",
            "shop",
            "dev",
            "--app",
            "web",
            "-f",
            str(repo / "pipeline.yaml"),
            "--state",
            f"file:{state_file}",
            "--hash",
            "--local",  # this repo is a plain directory; tests/test_collections.py renders from the commit
        ],
        capture_output=True,
        check=False,
        env=base,
    )
    assert local.returncode == 0, local.stderr
    assert b"web: sha256:" in local.stderr
    plugin = subprocess.run(
        [sys.executable, "-m", "freightyard.cmp.main", "generate"],
        cwd=repo / "app",
        capture_output=True,
        check=False,
        env={
            **base,
            "ARGOCD_APP_SOURCE_PATH": "app",
            "ARGOCD_ENV_PIPELINE": "shop",
            "ARGOCD_ENV_STAGE": "dev",
            "ARGOCD_ENV_FREIGHT": f.to_json(),
            "ARGOCD_ENV_FREIGHT_ID": f.id,
        },
    )
    assert plugin.returncode == 0, plugin.stderr
    assert local.stdout == plugin.stdout


def test_render_hash_strips_exactly_the_lines_a_line_anchored_pattern_names() -> None:
    """The hash's definition is the line-anchored pattern below; the faster key-led scan must agree
    with it on every stream (seeded random mixes of freight lines, near misses and other text)."""
    import random
    import re

    definition = re.compile(rb"^[ \t]*freightyard\.io/freight:[ \t]*['\"]?[0-9a-f]{40}['\"]?[ \t]*\r?\n", re.M)
    pieces = [
        b"    freightyard.io/freight: " + b"c" * 40 + b"\n",
        b"\tfreightyard.io/freight: '" + b"0" * 40 + b"'\r\n",
        b"freightyard.io/freight:" + b"a" * 40 + b"\n",
        b"  x: freightyard.io/freight: " + b"c" * 40 + b"\n",  # not a key of its own
        b"    freightyard.io/freight: " + b"c" * 39 + b"\n",  # too short
        b"    freightyard.io/freight: " + b"c" * 40,  # no line end
        b"  \rfreightyard.io/freight: " + b"c" * 40 + b"\n",
        b"    freightyard.io/stage: dev\n",
        b"metadata:\n",
        b"\n",
        b" ",
    ]
    annotated = [pieces[0]] * 6 + [pieces[7], pieces[8], pieces[8], b"kind: Service\n"]  # the CMP's own output
    generator = random.Random(11)  # noqa: S311 - a reproducible mix, not a secret
    for mix in (pieces, annotated, annotated + pieces):
        for _ in range(2000):
            stream = b"".join(generator.choice(mix) for _ in range(generator.randint(0, 12)))
            assert without_freight_id(stream) == definition.sub(b"", stream), stream


def test_kustomization_checks_hold_for_every_copy_although_parses_are_remembered(tmp_path: Path) -> None:
    """The safety walk remembers what a kustomization text references, never a verdict: a copy whose
    nested base points out through a symlink, or a remote base seen once with remote bases allowed,
    is refused every time."""
    from freightyard.shared.render.paths import check_kustomization

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "kustomization.yaml").write_text("resources: [cm.yaml]\n")

    def copy(name: str, *, remote: bool) -> Path:
        root = tmp_path / name
        (root / "app").mkdir(parents=True)
        (root / "base").mkdir()
        (root / "app" / "kustomization.yaml").write_text("resources: [../base]\n")
        base = "resources: [https://github.com/org/repo//base?ref=v1]\n" if remote else "resources: [../linked]\n"
        (root / "base" / "kustomization.yaml").write_text(base)
        if not remote:
            (root / "linked").symlink_to(outside)
        return root.resolve()

    for name in ("one", "two"):
        root = copy(name, remote=False)
        with pytest.raises(RenderError, match=r"base/kustomization resources: '\.\./linked' resolves outside"):
            check_kustomization(root, root / "app", allow_remote=False)
    root = copy("three", remote=True)
    check_kustomization(root, root / "app", allow_remote=True)
    with pytest.raises(RenderError, match="remote base"):
        check_kustomization(root, root / "app", allow_remote=False)
    linked_file = copy("four", remote=False)
    (linked_file / "app" / "kustomization.yaml").unlink()
    (linked_file / "app" / "kustomization.yaml").symlink_to(outside / "kustomization.yaml")
    with pytest.raises(RenderError, match=r"'app/kustomization.yaml' is a symlink pointing outside"):
        check_kustomization(linked_file, linked_file / "app", allow_remote=False)
