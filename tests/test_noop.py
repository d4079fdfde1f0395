"""Render-level no-op detection per app, on a real monorepo with kustomize."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from freightyard.shared.engine.noop import detect
from freightyard.shared.render.stage import stage_hash
from freightyard.shared.sources.git import GitMirrors
from tests.helpers.mechanism_fixtures import (
    DEPLOYMENT,
    DIGEST2,
    IMAGE,
    app_files,
    commit_files,
    engine_for,
    freight,
    head,
    make_repo,
    render_env,
)
from tests.servers.git_http import GitHttpServer

pytestmark = pytest.mark.integration

PIPELINE = """\
    apiVersion: freightyard.io/v1alpha1
    kind: Pipeline
    metadata: {{name: mono}}
    spec:
      warehouses:
      - name: main
        subscriptions:
        - git: {{repoURL: "{url}", branch: main}}
        - image: {{repoURL: {image}}}
      stages:
      - name: dev
        requestedFreight: [{{origin: main, sources: {{direct: true}}}}]
        verification: {{commands: [{{command: ["false"]}}]}}
        apps:
        - {{name: guestbook, path: apps/guestbook/overlays/dev}}
        - {{name: cart, path: apps/cart/overlays/dev}}
      - name: prod
        requestedFreight: [{{origin: main, sources: {{stages: [dev]}}}}]
        apps:
        - {{name: guestbook, path: apps/guestbook/overlays/prod}}
    """


def test_stage_hash_is_order_independent() -> None:
    assert stage_hash({"a": "1", "b": "2"}) == stage_hash({"b": "2", "a": "1"}) != stage_hash({"a": "2", "b": "1"})


def test_monorepo_commit_only_reverifies_the_app_it_touches(git_http_server: GitHttpServer, tmp_path: Path) -> None:
    bare, url = make_repo(
        git_http_server, f"mono-{uuid.uuid4().hex[:8]}.git", {**app_files("guestbook"), **app_files("cart")}
    )
    engine = engine_for(PIPELINE.format(url=url, image=IMAGE), tmp_path)
    first = freight(url, head(bare, "main"))
    engine.add_freight(first)
    assert engine.promote(first.id, "dev", "t").phase == "Succeeded"

    docs = freight(url, commit_files(bare, {"README.md": "docs\n"}, message="docs"))
    engine.add_freight(docs)
    record = engine.promote(docs.id, "dev", "t")
    assert record.phase == "Noop" and "unchanged for every app (cart, guestbook)" in record.message
    assert record.revision == docs.commits[0].id  # pin: the Apps still move to the new commit
    mark = engine.state().stages["dev"].verifications[docs.id]
    assert mark.phase == "Pending"  # what dev ran before was never verified: nothing to inherit, so it is checked

    engine.record_verification("dev", docs.id, "Succeeded", "checked by hand")
    again = freight(url, commit_files(bare, {"README.md": "more docs\n"}, message="more docs"))
    engine.add_freight(again)
    assert engine.promote(again.id, "dev", "t").phase == "Noop"
    mark = engine.state().stages["dev"].verifications[again.id]
    assert mark.phase == "Skipped"  # the same render was verified: prod may take it although dev's check fails
    assert engine.promote(again.id, "prod", "t").phase == "Succeeded"

    cart = freight(
        url,
        commit_files(
            bare,
            {"apps/cart/base/deployment.yaml": DEPLOYMENT.replace("APP", "cart") + "  replicas: 3\n"},
            message="cart",
        ),
    )
    engine.add_freight(cart)
    record = engine.promote(cart.id, "dev", "t")
    assert record.phase == "Succeeded" and record.changed_apps == ["cart"]
    assert record.render_hash.startswith("sha256:")
    assert engine.state().stages["dev"].current.changed_apps == ["cart"]  # type: ignore[union-attr]

    image = freight(url, cart.commits[0].id, digest=DIGEST2, tag="2.0.0")
    engine.add_freight(image)
    assert engine.promote(image.id, "dev", "t").changed_apps == ["guestbook", "cart"]


def test_detection_steps_aside_when_a_side_cannot_render(git_http_server: GitHttpServer, tmp_path: Path) -> None:
    bare, url = make_repo(
        git_http_server, f"mono-{uuid.uuid4().hex[:8]}.git", {**app_files("guestbook"), **app_files("cart")}
    )
    engine = engine_for(PIPELINE.format(url=url, image=IMAGE), tmp_path)
    good = freight(url, head(bare, "main"))
    broken = freight(url, commit_files(bare, {"apps/cart/base/kustomization.yaml": "resources: [missing.yaml]\n"}))
    stage = engine.pipeline.stage("dev")
    mirrors = GitMirrors(tmp_path / "cache")
    assert detect(engine.pipeline, stage, broken, good, mirrors=mirrors, env=render_env()) is None
    verdict = detect(engine.pipeline, stage, good, good, mirrors=mirrors, env=render_env())
    assert verdict is not None and verdict.unchanged
