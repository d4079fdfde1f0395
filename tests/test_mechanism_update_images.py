"""update-images: kustomization images and Helm values keys, comments kept, bad files leave git untouched."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from freightyard.shared.core.errors import MechanismError
from freightyard.shared.core.freight import Freight, Image
from tests.helpers.mechanism_fixtures import DIGEST1, DIGEST2, IMAGE, app_files, engine_for, head, make_repo, show
from tests.servers.git_http import GitHttpServer

pytestmark = pytest.mark.integration

VALUES = """\
# guestbook values: comments stay
replicaCount: 2
image:
  repository: registry.example.com/guestbook
  tag: "0.0.0"   # written by freightyard
  pullPolicy: IfNotPresent
"""

PIPELINE = """\
    apiVersion: freightyard.io/v1alpha1
    kind: Pipeline
    metadata: {{name: images}}
    spec:
      warehouses:
      - {{name: main, subscriptions: [{{image: {{repoURL: {image}}}}}]}}
      stages:
      - name: dev
        requestedFreight: [{{origin: main, sources: {{direct: true}}}}]
        promotion:
          mechanism: update-images
          repoURL: "{url}"
          {extra}
        apps:
        - {{name: guestbook, path: apps/guestbook/overlays/dev, repoURL: "{url}", targetRevision: main}}
    """


def image_freight(tag: str = "1.2.3", digest: str = DIGEST1) -> Freight:
    return Freight("main", images=(Image(IMAGE, tag, digest),))


def setup(server: GitHttpServer, tmp_path: Path, extra: str = "", files: dict[str, str] | None = None):
    bare, url = make_repo(
        server,
        f"img-{uuid.uuid4().hex[:8]}.git",
        {**app_files("guestbook"), "charts/guestbook/values-dev.yaml": VALUES, **(files or {})},
    )
    engine = engine_for(PIPELINE.format(image=IMAGE, url=url, extra=extra), tmp_path)
    return bare, url, engine


def test_kustomization_images_are_written_to_trunk_keeping_comments(
    git_http_server: GitHttpServer, tmp_path: Path
) -> None:
    bare, _, engine = setup(git_http_server, tmp_path)
    f = image_freight()
    engine.add_freight(f)
    record = engine.promote(f.id, "dev", "t")
    assert record.phase == "Succeeded" and record.revision == head(bare, "main")
    text = show(bare, "main", "apps/guestbook/overlays/dev/kustomization.yaml")
    assert text == (
        "# dev overlay of guestbook: keep this comment\n"
        "resources:\n"
        "  - ../../base\n"
        "namespace: guestbook-dev\n"
        "images:\n"
        "  - name: other.example.com/sidecar  # untouched\n"
        '    newTag: "1.0"\n'
        f"  - name: {IMAGE}\n"
        "    newTag: 1.2.3\n"
        f"    digest: {DIGEST1}\n"
    )
    # the same images again: nothing to commit
    again = image_freight()
    assert again.id == f.id
    second = image_freight("1.2.4", DIGEST2)
    engine.add_freight(second)
    engine.promote(second.id, "dev", "t")
    updated = show(bare, "main", "apps/guestbook/overlays/dev/kustomization.yaml") or ""
    assert f"newTag: 1.2.4\n    digest: {DIGEST2}\n" in updated and updated.count(IMAGE) == 1


def test_helm_values_key_on_a_stage_branch(git_http_server: GitHttpServer, tmp_path: Path) -> None:
    extra = (
        "branch: env/dev\n          updates:\n"
        "          - {valuesFile: charts/guestbook/values-dev.yaml, key: image.tag}"
    )
    bare, _, engine = setup(git_http_server, tmp_path, extra)
    trunk = head(bare, "main")
    f = image_freight()
    engine.add_freight(f)
    record = engine.promote(f.id, "dev", "t")
    assert record.revision == head(bare, "env/dev") and head(bare, "main") == trunk
    assert show(bare, "env/dev", "charts/guestbook/values-dev.yaml") == VALUES.replace(
        '"0.0.0"  ', f'"1.2.3@{DIGEST1}"'
    )
    assert show(bare, "env/dev", "apps/guestbook/base/deployment.yaml") is not None  # branched from trunk


@pytest.mark.parametrize(
    ("path", "broken"),
    [
        ("charts/guestbook/values-dev.yaml", "image:\n  tag: [unclosed\n"),
        ("apps/guestbook/overlays/dev/kustomization.yaml", "resources: {a: b\n"),
    ],
)
def test_malformed_file_gives_one_clear_error_and_leaves_the_branch(
    git_http_server: GitHttpServer, tmp_path: Path, path: str, broken: str
) -> None:
    extra = (
        "updates:\n          - {kustomization: apps/guestbook/overlays/dev}\n"
        "          - {valuesFile: charts/guestbook/values-dev.yaml, key: image.tag}"
    )
    bare, _, engine = setup(git_http_server, tmp_path, extra, {path: broken})
    before = head(bare, "main")
    f = image_freight()
    engine.add_freight(f)
    with pytest.raises(MechanismError) as caught:
        engine.promote(f.id, "dev", "t")
    message = str(caught.value)
    assert f"{path}: not valid YAML (line" in message and "nothing was committed" in message
    assert "\n" not in message
    assert head(bare, "main") == before
    assert engine.state().stages["dev"].history[0].phase == "Failed"
    assert engine.state().stages["dev"].current is None
