"""Freight per origin and a pin per app, with real git and kustomize: two warehouses on one stage move
independently, a commit touching app A leaves app B's generator answer byte-identical, an app added at
HEAD has no Application in stages still on older freight, and ``promote --from`` moves a collection."""

from __future__ import annotations

import json
import os
import textwrap
import uuid
from pathlib import Path

import pytest

from freightyard.controller.runtime import autopromote
from freightyard.shared.core.freight import Commit, Freight, Image
from freightyard.shared.core.params import parameter_sets
from tests.helpers.mechanism_fixtures import (
    DEPLOYMENT,
    DIGEST1,
    DIGEST2,
    IMAGE,
    app_files,
    commit_files,
    engine_for,
    head,
    make_repo,
)
from tests.servers.git_http import GitHttpServer

pytestmark = pytest.mark.integration

PIPELINE = """\
    apiVersion: freightyard.io/v1alpha1
    kind: Pipeline
    metadata: {{name: shop}}
    spec:
      warehouses:
      - name: config
        subscriptions: [{{git: {{repoURL: "{url}", branch: main}}}}]
      - name: app-image
        subscriptions: [{{image: {{repoURL: {image}}}}}]
      stages:
      - name: dev
        autoPromotion: true
        requestedFreight:
        - {{origin: config, sources: {{direct: true}}}}
        - {{origin: app-image, sources: {{direct: true}}}}
        apps:
        - {{name: guestbook, path: apps/guestbook/overlays/dev}}
        - {{name: cart, path: apps/cart/overlays/dev}}
        - {{name: search, path: apps/search/overlays/dev}}
      - name: prod
        requestedFreight:
        - {{origin: config, sources: {{stages: [dev]}}}}
        - {{origin: app-image, sources: {{stages: [dev]}}}}
        apps:
        - {{name: guestbook, path: apps/guestbook/overlays/prod}}
        - {{name: cart, path: apps/cart/overlays/prod}}
        - {{name: search, path: apps/search/overlays/prod}}
    """


def config(url: str, sha: str) -> Freight:
    return Freight("config", commits=(Commit(url, sha, branch="main"),))


def image(tag: str, digest: str) -> Freight:
    return Freight("app-image", images=(Image(IMAGE, tag, digest),))


def answers(engine, stage: str) -> dict[str, str]:
    """Each app's generator parameter set, serialised as Argo CD receives it."""
    sets = parameter_sets(engine.pipeline, engine.state(), stages={stage})
    return {s["app"]: json.dumps(s, sort_keys=True) for s in sets}


def test_two_origins_one_stage_per_app_pins_and_no_skew(git_http_server: GitHttpServer, tmp_path: Path) -> None:
    bare, url = make_repo(
        git_http_server, f"shop-{uuid.uuid4().hex[:8]}.git", {**app_files("guestbook"), **app_files("cart")}
    )
    engine = engine_for(PIPELINE.format(url=url, image=IMAGE), tmp_path)
    first_config, first_image = config(url, head(bare, "main")), image("1.0.0", DIGEST1)
    engine.add_freight(first_config)
    engine.add_freight(first_image)

    # per-origin auto-promotion: each origin's newest eligible freight, one after the other
    dev = engine.pipeline.stage("dev")
    for _ in range(2):
        decision = autopromote.decide(engine.pipeline, engine.state(), dev, engine.clock())
        assert decision.promote is not None
        engine.promote(decision.promote.id, "dev", "controller")
    assert autopromote.decide(engine.pipeline, engine.state(), dev, engine.clock()).promote is None
    state = engine.state()
    assert state.stages["dev"].collection_ids() == {"app-image": first_image.id, "config": first_config.id}
    before = answers(engine, "dev")
    assert set(before) == {"guestbook", "cart"}  # search does not exist at this commit: no Application
    guestbook = json.loads(before["guestbook"])
    assert guestbook["targetRevision"] == first_config.commits[0].id
    shipped = Freight.from_json(guestbook["freight"]["json"])
    assert shipped.id == guestbook["freight"]["id"]  # the CMP verifies the collection like one freight
    assert shipped.images[0].digest == DIGEST1 and shipped.commits[0].id == first_config.commits[0].id

    # a commit touching only cart: guestbook's answer stays byte-identical, cart moves
    cart_only = config(
        url,
        commit_files(
            bare,
            {"apps/cart/base/deployment.yaml": DEPLOYMENT.replace("APP", "cart") + "  replicas: 2\n"},
            message="cart",
        ),
    )
    engine.add_freight(cart_only)
    record = engine.promote(cart_only.id, "dev", "t")
    assert record.phase == "Succeeded" and record.changed_apps == ["cart"]
    after = answers(engine, "dev")
    assert after["guestbook"] == before["guestbook"]
    assert json.loads(after["cart"])["targetRevision"] == cart_only.commits[0].id
    state = engine.state()
    assert state.stages["dev"].collection_ids()["app-image"] == first_image.id  # the image entry stayed
    assert state.stages["dev"].apps["guestbook"].freight == {"app-image": first_image.id, "config": first_config.id}

    # new image freight replaces only the image entry; both apps render it
    second_image = image("2.0.0", DIGEST2)
    engine.add_freight(second_image)
    assert engine.promote(second_image.id, "dev", "t").changed_apps == ["guestbook", "cart"]
    assert engine.state().stages["dev"].collection_ids() == {"app-image": second_image.id, "config": cart_only.id}

    # prod takes dev's verified collection as one unit
    record = engine.promote_from("dev", "prod", "t")
    assert record.brought == {"app-image": second_image.id, "config": cart_only.id}
    assert engine.state().stages["prod"].collection_ids() == engine.state().stages["dev"].collection_ids()
    prod_before = answers(engine, "prod")
    assert set(prod_before) == {"guestbook", "cart"}

    # an app added at HEAD appears in dev once freight containing it arrives, not in prod before
    dev_before = answers(engine, "dev")
    with_search = config(url, commit_files(bare, app_files("search"), message="search"))
    engine.add_freight(with_search)
    assert engine.promote(with_search.id, "dev", "t").changed_apps == ["search"]
    dev_after = answers(engine, "dev")
    assert set(dev_after) == {"guestbook", "cart", "search"}
    assert dev_after["guestbook"] == dev_before["guestbook"] and dev_after["cart"] == dev_before["cart"]
    assert answers(engine, "prod") == prod_before  # prod still on older freight: no search, nothing changed
    engine.promote(with_search.id, "prod", "t")
    assert set(answers(engine, "prod")) == {"guestbook", "cart", "search"}


def test_render_of_a_stage_behind_head_equals_the_cmp_bytes(
    git_http_server: GitHttpServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    import subprocess

    from freightyard.cmp.main import generate
    from freightyard.controller.cli import main
    from tests.servers.tools import git_path

    bare, url = make_repo(git_http_server, f"behind-{uuid.uuid4().hex[:8]}.git", app_files("guestbook"))
    text = PIPELINE.format(url=url, image=IMAGE)
    engine = engine_for(text, tmp_path)
    old = config(url, head(bare, "main"))
    engine.add_freight(old)
    engine.add_freight(image("1.0.0", DIGEST1))
    engine.promote(old.id, "dev", "t")
    engine.promote(image("1.0.0", DIGEST1).id, "dev", "t")
    patched = DEPLOYMENT.replace("APP", "guestbook") + "  replicas: 5\n"
    commit_files(bare, {"apps/guestbook/base/deployment.yaml": patched}, message="HEAD moves on")  # dev is behind
    (tmp_path / "pipeline.yaml").write_text(textwrap.dedent(text))
    monkeypatch.setenv("FREIGHTYARD_CACHE", str(tmp_path / "cli-cache"))
    monkeypatch.setenv("FREIGHTYARD_TOOLS_DIR", str(Path(__file__).resolve().parents[1] / ".tools"))
    monkeypatch.chdir(tmp_path)
    args = ["render", "shop", "dev", "--app", "guestbook", "-f", str(tmp_path / "pipeline.yaml")]
    assert main([*args, "--state", f"file:{tmp_path / 'state.yaml'}"]) == 0
    rendered = capsysbinary.readouterr().out
    assert b"replicas: 5" not in rendered

    (answer,) = [a for a in parameter_sets(engine.pipeline, engine.state(), stages={"dev"}) if a["app"] == "guestbook"]
    checkout = tmp_path / "argocd-copy"  # what the repo-server hands the CMP: the repo at targetRevision
    subprocess.run([git_path(), "clone", "-q", str(bare), str(checkout)], check=True)
    subprocess.run([git_path(), "-C", str(checkout), "checkout", "-q", answer["targetRevision"]], check=True)
    environ = {
        **os.environ,
        "ARGOCD_APP_NAME": "shop-guestbook-dev",
        "ARGOCD_APP_NAMESPACE": answer["destination"]["namespace"],
        "ARGOCD_APP_SOURCE_PATH": answer["path"],
        "ARGOCD_APP_SOURCE_REPO_URL": answer["repoURL"],
        "ARGOCD_APP_SOURCE_TARGET_REVISION": answer["targetRevision"],
        "ARGOCD_ENV_PIPELINE": "shop",
        "ARGOCD_ENV_STAGE": "dev",
        "ARGOCD_ENV_APP": "guestbook",
        "ARGOCD_ENV_FREIGHT": answer["freight"]["json"],
        "ARGOCD_ENV_FREIGHT_ID": answer["freight"]["id"],
        "ARGOCD_ENV_RENDER_SPEC": answer["renderSpec"],
    }
    assert generate(environ, checkout / answer["path"]) == rendered
