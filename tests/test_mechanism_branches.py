"""render-branch and copy-branch against real git over smart HTTP: branch contents, metadata, no-op pushes."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from freightyard.shared.core.errors import MechanismError
from tests.helpers.mechanism_fixtures import (
    DIGEST1,
    DIGEST2,
    IMAGE,
    app_files,
    commit_files,
    engine_for,
    freight,
    head,
    make_repo,
    show,
)
from tests.servers.git_http import GitHttpServer, git_env
from tests.servers.tools import git_path, kubectl_path

pytestmark = pytest.mark.integration

PIPELINE = """\
    apiVersion: freightyard.io/v1alpha1
    kind: Pipeline
    metadata: {{name: gb}}
    spec:
      warehouses:
      - name: main
        subscriptions:
        - git: {{repoURL: "{url}", branch: main}}
        - image: {{repoURL: {image}}}
      stages:
      - name: dev
        requestedFreight: [{{origin: main, sources: {{direct: true}}}}]
        promotion: {{mechanism: {mechanism}}}
        apps:
        - {{name: guestbook, path: apps/guestbook/overlays/dev, destination: {{namespace: gb-dev}}}}
    """


def test_render_branch_writes_manifests_and_metadata(git_http_server: GitHttpServer, tmp_path: Path) -> None:
    bare, url = make_repo(git_http_server, f"r-{uuid.uuid4().hex[:8]}.git", app_files("guestbook"))
    sha = head(bare, "main")
    engine = engine_for(PIPELINE.format(url=url, image=IMAGE, mechanism="render-branch"), tmp_path)
    first = freight(url, sha)
    engine.add_freight(first)
    record = engine.promote(first.id, "dev", "test")
    assert record.phase == "Succeeded"
    assert record.revision == head(bare, "env/dev")
    manifests = show(bare, "env/dev", "apps/guestbook/overlays/dev/manifests.yaml")
    assert manifests is not None
    assert f"image: {IMAGE}:1.0.0@{DIGEST1}" in manifests
    assert "namespace: guestbook-dev" in manifests
    meta = yaml.safe_load(show(bare, "env/dev", "apps/guestbook/overlays/dev/.freightyard/freight.yaml") or "")
    assert meta["freight"]["id"] == first.id and meta["sourceCommit"] == sha
    assert meta["renderHash"] == record.render_hash or record.render_hash.startswith("sha256:")
    assert show(bare, "env/dev", "apps/guestbook/base/deployment.yaml") is None  # only rendered output
    message = engine.state()  # the record keeps the branch head
    assert message.stages["dev"].current is not None

    # new freight, new image: a second commit on the stage branch
    second = freight(url, sha, digest=DIGEST2, tag="1.0.1")
    engine.add_freight(second)
    assert engine.promote(second.id, "dev", "test").phase == "Succeeded"
    assert f"{IMAGE}:1.0.1@{DIGEST2}" in (show(bare, "env/dev", "apps/guestbook/overlays/dev/manifests.yaml") or "")


def test_render_branch_commits_nothing_when_the_render_is_unchanged(
    git_http_server: GitHttpServer, tmp_path: Path
) -> None:
    files = app_files("guestbook")
    bare, url = make_repo(git_http_server, f"r-{uuid.uuid4().hex[:8]}.git", files)
    first_sha = head(bare, "main")
    engine = engine_for(
        PIPELINE.format(url=url, image=IMAGE, mechanism="render-branch"), tmp_path, noop_detection=False
    )  # exercise the mechanism's own check
    one = freight(url, first_sha)
    engine.add_freight(one)
    engine.promote(one.id, "dev", "t")
    branch_head = head(bare, "env/dev")
    second_sha = commit_files(bare, {"README.md": "docs only\n"}, message="docs")
    two = freight(url, second_sha)
    engine.add_freight(two)
    record = engine.promote(two.id, "dev", "t")
    assert record.phase == "Noop"
    assert head(bare, "env/dev") == branch_head
    assert record.revision == branch_head


def test_copy_branch_copies_the_app_tree(git_http_server: GitHttpServer, tmp_path: Path) -> None:
    bare, url = make_repo(git_http_server, f"r-{uuid.uuid4().hex[:8]}.git", app_files("guestbook"))
    sha = head(bare, "main")
    engine = engine_for(PIPELINE.format(url=url, image=IMAGE, mechanism="copy-branch"), tmp_path)
    one = freight(url, sha)
    engine.add_freight(one)
    record = engine.promote(one.id, "dev", "t")
    assert record.phase == "Succeeded" and record.revision == head(bare, "env/dev")
    copied = show(bare, "env/dev", "apps/guestbook/overlays/dev/kustomization.yaml")
    assert copied == show(bare, "main", "apps/guestbook/overlays/dev/kustomization.yaml")
    assert show(bare, "env/dev", "apps/guestbook/overlays/prod/kustomization.yaml") is None
    # what the overlay references comes along, so the branch builds with a bare `kustomize build`
    assert show(bare, "env/dev", "apps/guestbook/base/deployment.yaml") == show(
        bare, "main", "apps/guestbook/base/deployment.yaml"
    )
    checkout = tmp_path / "env-dev"
    subprocess.run([git_path(), "clone", "-q", "-b", "env/dev", str(bare), str(checkout)], check=True, env=git_env())
    built = subprocess.run(
        [kubectl_path(), "kustomize", str(checkout / "apps/guestbook/overlays/dev")], capture_output=True, check=False
    )
    assert built.returncode == 0, built.stderr
    assert b"kind: Deployment" in built.stdout

    # a stage branch that would not build fails the promotion, and nothing is pushed
    branch_head = head(bare, "env/dev")
    broken = freight(
        url, commit_files(bare, {"apps/guestbook/base/kustomization.yaml": "resources: [gone.yaml]\n"}, message="x")
    )
    engine.add_freight(broken)
    with pytest.raises(MechanismError, match="would not build app 'guestbook'"):
        engine.promote(broken.id, "dev", "t")
    assert engine.state().stages["dev"].history[0].phase == "Failed"
    assert head(bare, "env/dev") == branch_head


def test_render_branch_leaves_an_unchanged_apps_files_and_answer_untouched(
    git_http_server: GitHttpServer, tmp_path: Path
) -> None:
    import json

    from freightyard.shared.core.params import parameter_sets
    from tests.helpers.mechanism_fixtures import DEPLOYMENT

    bare, url = make_repo(
        git_http_server, f"mono-{uuid.uuid4().hex[:8]}.git", {**app_files("guestbook"), **app_files("cart")}
    )
    text = PIPELINE.format(url=url, image=IMAGE, mechanism="render-branch").rstrip(" ") + (
        "        - {name: cart, path: apps/cart/overlays/dev, destination: {namespace: cart-dev}}\n"
    )
    engine = engine_for(text, tmp_path)
    first = freight(url, head(bare, "main"))
    engine.add_freight(first)
    assert engine.promote(first.id, "dev", "t").phase == "Succeeded"
    gb = "apps/guestbook/overlays/dev"
    before = (show(bare, "env/dev", f"{gb}/manifests.yaml"), show(bare, "env/dev", f"{gb}/.freightyard/freight.yaml"))
    answer = {s["app"]: json.dumps(s, sort_keys=True) for s in parameter_sets(engine.pipeline, engine.state())}

    patched = DEPLOYMENT.replace("APP", "cart") + "  replicas: 4\n"
    cart = freight(url, commit_files(bare, {"apps/cart/base/deployment.yaml": patched}, message="cart"))
    engine.add_freight(cart)
    record = engine.promote(cart.id, "dev", "t")
    assert record.phase == "Succeeded" and record.changed_apps == ["cart"]
    after = (show(bare, "env/dev", f"{gb}/manifests.yaml"), show(bare, "env/dev", f"{gb}/.freightyard/freight.yaml"))
    assert after == before  # guestbook's files, metadata included, byte for byte
    assert "replicas: 4" in (show(bare, "env/dev", "apps/cart/overlays/dev/manifests.yaml") or "")
    now = {s["app"]: json.dumps(s, sort_keys=True) for s in parameter_sets(engine.pipeline, engine.state())}
    assert now["guestbook"] == answer["guestbook"] and now["cart"] != answer["cart"]


def test_render_branch_on_a_private_repo_uses_the_subscriptions_named_credentials(
    git_http_server_auth: GitHttpServer, tmp_path: Path
) -> None:
    """The tree export, the no-op renders and the push all authenticate as discovery does
    (``credentials: NAME`` on the git subscription); the secret reaches no state, commit or branch."""
    from freightyard.shared.credentials import EnvFileCredentials

    name = f"private-{uuid.uuid4().hex[:8]}.git"
    bare, url = make_repo(git_http_server_auth, name, app_files("guestbook"))
    password = git_http_server_auth.password or ""
    text = (
        PIPELINE.format(url=url, image=IMAGE, mechanism="render-branch")
        .replace("branch: main}}", "branch: main, credentials: private-git}")
        .replace("branch: main}", "branch: main, credentials: private-git}")
    )
    assert "credentials: private-git" in text
    lookup = EnvFileCredentials(
        env={"PRIVATE_GIT_USERNAME": git_http_server_auth.username or "", "PRIVATE_GIT_PASSWORD": password},
        secrets_dir=None,
    )
    engine = engine_for(text, tmp_path, credentials=lookup)
    first = freight(url, head(bare, "main"))
    engine.add_freight(first)
    record = engine.promote(first.id, "dev", "test")
    assert record.phase == "Succeeded", record.message
    assert f"{IMAGE}:1.0.0@{DIGEST1}" in (show(bare, "env/dev", "apps/guestbook/overlays/dev/manifests.yaml") or "")
    log = subprocess.run(
        [git_path(), "--git-dir", str(bare), "log", "-p", "env/dev"], capture_output=True, text=True, check=True
    ).stdout
    assert password not in log and password not in (tmp_path / "state.yaml").read_text()
