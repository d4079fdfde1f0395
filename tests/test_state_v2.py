"""State v2 (docs/state-model.md): a version-1 document migrates, damage is a ``StateError`` naming the key,
a store refuses another pipeline's document, and a stage's requested origins may not overlap."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from freightyard.controller.cli import main
from freightyard.shared.core.errors import ConfigError
from freightyard.shared.core.freight import Commit, Freight, Image, collection_id, combine
from freightyard.shared.core.gates import Approval, StageGates
from freightyard.shared.core.params import parameter_sets
from freightyard.shared.core.pipeline import parse_pipelines
from freightyard.shared.core.state import StateError, state_from_document, state_to_document
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.stores.file import FileStore

REPO = "https://git.example.com/org/gitops.git"
SHA = "a" * 40
DIGEST = "sha256:" + "1" * 64

PIPELINE = textwrap.dedent(f"""\
    apiVersion: freightyard.io/v1alpha1
    kind: Pipeline
    metadata: {{name: guestbook}}
    spec:
      warehouses:
      - name: main
        subscriptions:
        - git: {{repoURL: "{REPO}", branch: main}}
        - image: {{repoURL: registry.example.com/guestbook}}
      stages:
      - name: dev
        requestedFreight: [{{origin: main, sources: {{direct: true}}}}]
        apps:
        - {{name: guestbook, path: apps/guestbook/overlays/dev}}
        - {{name: worker, path: apps/worker/overlays/dev}}
      - name: prod
        requestedFreight: [{{origin: main, sources: {{stages: [dev]}}}}]
    """)

FREIGHT = Freight(
    "main",
    commits=(Commit(REPO, SHA, branch="main", message="change"),),
    images=(Image("registry.example.com/guestbook", "1.0.0", DIGEST),),
    created_at="2024-05-01T10:00:00Z",
)

# A document exactly as freightyard 0.1.0 wrote it: one ``current`` record per stage, no index.
V1_DOCUMENT = f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: freightyard-guestbook
  namespace: argocd
  labels: {{app.kubernetes.io/managed-by: freightyard, freightyard.io/pipeline: guestbook}}
  resourceVersion: "7"
data:
  freight.yaml: |
    - id: {FREIGHT.id}
      alias: {FREIGHT.alias}
      origin: main
      commits:
      - {{repoURL: "{REPO}", id: {SHA}, branch: main, message: change}}
      images:
      - {{repoURL: registry.example.com/guestbook, tag: 1.0.0, digest: "{DIGEST}"}}
      createdAt: "2024-05-01T10:00:00Z"
  stage.dev.yaml: |
    current:
      freight: {FREIGHT.id}
      stage: dev
      by: user:alice
      at: "2024-05-01T10:05:00Z"
      phase: Succeeded
      mechanism: pin
      revision: {SHA}
    verifications:
      {FREIGHT.id}: {{at: "2024-05-01T10:05:00Z", phase: Succeeded, message: stage has no verification}}
    history:
    - freight: {FREIGHT.id}
      stage: dev
      by: user:alice
      at: "2024-05-01T10:05:00Z"
      phase: Succeeded
      mechanism: pin
      revision: {SHA}
"""


def pipeline():
    return parse_pipelines(PIPELINE)[0]


def test_a_version_1_document_migrates_and_is_written_back_as_version_2(tmp_path: Path) -> None:
    document = yaml.safe_load(V1_DOCUMENT)
    state = state_from_document(document, pipeline())
    assert state.version == 1
    dev = state.stages["dev"]
    assert dev.collection_ids() == {"main": FREIGHT.id}
    assert {name: (pin.freight, pin.revision) for name, pin in dev.apps.items()} == {
        "guestbook": ({"main": FREIGHT.id}, SHA),
        "worker": ({"main": FREIGHT.id}, SHA),
    }
    assert dev.current is not None and dev.current.by == "user:alice" and len(dev.history) == 1
    assert dev.is_verified(FREIGHT.id)
    sets = parameter_sets(pipeline(), state)
    assert [(s["stage"], s["app"], s["targetRevision"], s["freight"]["id"]) for s in sets] == [
        ("dev", "guestbook", SHA, FREIGHT.id),  # a one-warehouse pipeline keeps its ids: Applications unchanged
        ("dev", "worker", SHA, FREIGHT.id),
    ]

    store = FileStore(tmp_path / "state.yaml")
    (tmp_path / "state.yaml").write_text(V1_DOCUMENT)
    Engine(pipeline(), store).record_verification("dev", FREIGHT.id, "Succeeded", "checked again")
    written = yaml.safe_load((tmp_path / "state.yaml").read_text())
    index = yaml.safe_load(written["data"]["state.yaml"])
    assert index == {"version": 2, "pipeline": "guestbook", "stages": ["dev"]}
    stage_doc = yaml.safe_load(written["data"]["stage.dev.yaml"])
    assert "current" not in stage_doc and "history" not in stage_doc
    assert stage_doc["freight"]["main"]["id"] == FREIGHT.id
    assert stage_doc["apps"]["guestbook"] == {
        "freight": {"main": FREIGHT.id},
        "revision": SHA,
        "promotion": stage_doc["promotions"][0]["id"],
    }
    again = state_from_document(written, pipeline())
    assert again.version == 2 and parameter_sets(pipeline(), again) == sets


def _v2_document() -> dict:
    state = state_from_document(yaml.safe_load(V1_DOCUMENT), pipeline())
    return state_to_document(state, pipeline="guestbook", name="freightyard-guestbook", namespace="argocd")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d.pop("state.yaml"), "state key state.yaml is missing while stage.dev.yaml"),
        (lambda d: d.pop("stage.dev.yaml"), "state key stage.dev.yaml is missing"),
        (lambda d: d.update({"freight.yaml": "[]\n"}), "not in freight.yaml"),
        (lambda d: d.update({"stage.dev.yaml": "apps: {guestbook: {freight: 3}}\n"}), "stage.dev.yaml has the wrong"),
        (lambda d: d.update({"state.yaml": "version: 3\npipeline: guestbook\nstages: []\n"}), "upgrade freightyard"),
        (lambda d: d.update({"freight.yaml": "{not: a list}\n"}), "freight.yaml is not a list"),
        (lambda d: d.update({"stage.dev.yaml": "freight: [\n"}), "stage.dev.yaml is not valid YAML"),
    ],
)
def test_damage_is_a_state_error_naming_the_key(damage, message: str) -> None:
    document = _v2_document()
    damage(document["data"])
    with pytest.raises(StateError, match=message):
        state_from_document(document, pipeline())


def test_an_empty_document_is_no_state_yet_unless_freightyard_wrote_it() -> None:
    assert state_from_document({"data": {}}, pipeline()).stages == {}  # a placeholder someone created
    wiped = _v2_document()
    wiped["data"] = {}  # `kubectl edit`, a bad restore: what was there is gone
    with pytest.raises(StateError, match="no data although freightyard wrote it"):
        state_from_document(wiped, pipeline())


def test_a_store_refuses_a_document_of_another_pipeline(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "shared.yaml")
    Engine(pipeline(), store).add_freight(FREIGHT)
    other = parse_pipelines(PIPELINE.replace("name: guestbook}", "name: shop}"))[0]
    with pytest.raises(StateError, match="belongs to pipeline 'guestbook', not 'shop'"):
        Engine(other, store).add_freight(FREIGHT)
    assert "shop" not in (tmp_path / "shared.yaml").read_text()  # nothing was overwritten


def test_status_on_damaged_state_prints_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    without_apps = "".join(line for line in PIPELINE.splitlines(keepends=True) if "apps" not in line)
    (tmp_path / "pipeline.yaml").write_text(without_apps)
    document = _v2_document()
    document["data"].pop("stage.dev.yaml")
    state_file = tmp_path / "state.yaml"
    state_file.write_text(yaml.safe_dump(document))
    code = main(["status", "-f", str(tmp_path / "pipeline.yaml"), "--state", f"file:{state_file}"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: ") and "stage.dev.yaml is missing" in err
    assert "Traceback" not in err


def test_requested_origins_may_not_overlap_on_a_repository() -> None:
    text = textwrap.dedent(f"""\
        apiVersion: freightyard.io/v1alpha1
        kind: Pipeline
        metadata: {{name: overlap}}
        spec:
          warehouses:
          - name: app
            subscriptions: [{{image: {{repoURL: registry.example.com/guestbook}}}}]
          - name: config
            subscriptions:
            - git: {{repoURL: "{REPO}"}}
            - image: {{repoURL: "registry.example.com/guestbook"}}
          stages:
          - name: dev
            requestedFreight:
            - {{origin: app, sources: {{direct: true}}}}
            - {{origin: config, sources: {{direct: true}}}}
        """)
    with pytest.raises(ConfigError, match='warehouses "app" and "config" both subscribe to image'):
        parse_pipelines(text)


def test_collection_id_is_the_members_id_alone_and_order_free() -> None:
    image = Freight("app-image", images=(Image("registry.example.com/guestbook", "2.0.0", DIGEST),))
    config = Freight("config", commits=(Commit(REPO, SHA),))
    assert collection_id([config]) == config.id
    combined = combine([image, config])
    assert combined.id == combine([config, image]).id == collection_id([image, config])
    assert combined.origins == ("app-image", "config")
    assert Freight.from_json(combined.to_json()).id == combined.id  # the CMP checks it like any freight


def test_cli_promote_from_and_status_show_freight_per_origin_and_pins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = textwrap.dedent("""\
        apiVersion: freightyard.io/v1alpha1
        kind: Pipeline
        metadata: {name: two}
        spec:
          warehouses:
          - {name: api, subscriptions: [{image: {repoURL: registry.example.com/api}}]}
          - {name: web, subscriptions: [{image: {repoURL: registry.example.com/web}}]}
          stages:
          - name: dev
            requestedFreight: [{origin: api, sources: {direct: true}}, {origin: web, sources: {direct: true}}]
          - name: prod
            requestedFreight: [{origin: api, sources: {stages: [dev]}}, {origin: web, sources: {stages: [dev]}}]
        """)
    (tmp_path / "pipeline.yaml").write_text(text)
    common = ["-f", str(tmp_path / "pipeline.yaml"), "--state", f"file:{tmp_path / 'state.yaml'}"]
    engine = Engine(parse_pipelines(text)[0], FileStore(tmp_path / "state.yaml"), cache_dir=tmp_path / "cache")
    api = Freight("api", images=(Image("registry.example.com/api", "1.0.0", DIGEST),))
    web = Freight("web", images=(Image("registry.example.com/web", "3.0.0", DIGEST),))
    for freight in (api, web):
        engine.add_freight(freight)
        assert main(["promote", *common, freight.id, "dev", "--by", "alice"]) == 0
    assert main(["promote", *common, "--from", "dev", "prod", "--by", "alice"]) == 0
    capsys.readouterr()
    assert engine.state().stages["prod"].collection_ids() == {"api": api.id, "web": web.id}
    assert main(["status", *common, "-o", "wide"]) == 0
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines()]
    assert any(row[:4] == ["prod", "api<-dev", api.alias, api.short_id] for row in lines)
    assert any(row[:4] == ["prod", "web<-dev", web.alias, web.short_id] for row in lines)
    assert out.rstrip().endswith("(none)")  # -o wide adds the pin table; these stages have no apps
    assert main(["status", *common, "prod", "-o", "json"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert [o["freight"]["id"] for o in shown["stages"][0]["origins"]] == [api.id, web.id]


def test_gates_and_keys_of_newer_writers_round_trip_untouched(tmp_path: Path) -> None:
    document = _v2_document()
    stage = yaml.safe_load(document["data"]["stage.dev.yaml"])
    gates = StageGates(
        approvals={FREIGHT.id: [Approval(by="alice", at="2024-05-01T10:00:00Z", groups=("sre",), reason="ok")]}
    )
    stage["gates"] = gates.to_dict()
    stage["pending"] = {"promotion": "20240501T100500Z-abcdef", "freight": {"main": FREIGHT.id}}
    document["data"]["stage.dev.yaml"] = yaml.safe_dump(stage)
    (tmp_path / "state.yaml").write_text(yaml.safe_dump(document))
    Engine(pipeline(), FileStore(tmp_path / "state.yaml")).record_verification("dev", FREIGHT.id, "Succeeded")
    written = yaml.safe_load(yaml.safe_load((tmp_path / "state.yaml").read_text())["data"]["stage.dev.yaml"])
    assert written["gates"] == stage["gates"] and written["pending"] == stage["pending"]
