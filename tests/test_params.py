"""freightyard.shared.core.params: (pipeline, state) → ApplicationSet parameter sets, pure."""

from __future__ import annotations

import dataclasses
import json

import pytest

from freightyard.shared.core.errors import ConfigError, NotFoundError, StoreError
from freightyard.shared.core.freight import Chart, Commit, Freight, Image
from freightyard.shared.core.model import App, Promotion
from freightyard.shared.core.params import flatten, image_keys, parameter_sets
from freightyard.shared.core.pipeline import parse_pipelines
from freightyard.shared.core.state import AppPin, Holding, StageState, State
from tests.helpers.generator_world import (
    DIGEST1,
    DIGEST2,
    IMAGE_REPO,
    REPO_URL,
    SHA1,
    SHA2,
    freight,
    pipeline,
    state_with,
)


def all_strings(value: object) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and all_strings(v) for k, v in value.items())
    return isinstance(value, str)


def test_one_set_per_stage_and_app_with_freight_in_pipeline_order() -> None:
    f1, f2 = freight(), freight(SHA2, DIGEST2, "1.5.0")
    sets = parameter_sets(pipeline(), state_with({"prod": f1, "dev": f2}), pipeline_file="pipelines/guestbook.yaml")
    assert [(s["stage"], s["app"]) for s in sets] == [("dev", "guestbook"), ("prod", "guestbook"), ("prod", "worker")]
    dev = sets[0]
    assert dev["pipeline"] == "guestbook"
    assert dev["repoURL"] == REPO_URL  # from the warehouse's single git subscription
    assert dev["path"] == "apps/guestbook/overlays/dev"
    assert dev["targetRevision"] == SHA2  # pin: the freight's commit
    assert dev["project"] == "default"
    assert dev["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "guestbook-dev", "name": ""}
    assert dev["freight"]["id"] == f2.id and dev["freight"]["alias"] == f2.alias
    shipped = Freight.from_json(dev["freight"]["json"])
    assert shipped.id == f2.id  # the CMP can verify it against FREIGHT_ID
    assert "change" not in dev["freight"]["json"]  # compact: no commit messages
    assert dev["freight"]["json"] == f2.to_json()
    assert dev["commit"] == {"id": SHA2, "short": SHA2[:7], "repoURL": REPO_URL, "branch": "main", "tag": ""}
    assert dev["images"]["guestbook"] == {
        "repoURL": IMAGE_REPO,
        "tag": "1.5.0",
        "digest": DIGEST2,
        "ref": f"{IMAGE_REPO}:1.5.0@{DIGEST2}",
    }
    assert dev["pipelineFile"] == "pipelines/guestbook.yaml"
    assert sets[1]["project"] == "production"
    assert sets[1]["destination"]["server"] == "https://prod.example.com:6443"


def test_nested_and_flat_keys_agree_and_everything_is_a_string() -> None:
    (dev,) = parameter_sets(pipeline(), state_with({"dev": freight()}))
    assert all_strings(dev)
    assert dev["freight.id"] == dev["freight"]["id"]
    assert dev["destination.namespace"] == "guestbook-dev"
    assert dev["images.guestbook.digest"] == DIGEST1
    assert dev["commit.short"] == SHA1[:7]
    assert set(flatten(dev)) <= set(dev)
    json.dumps(dev)  # serialisable as is


def test_exact_parameter_names() -> None:
    (dev,) = parameter_sets(pipeline(), state_with({"dev": freight()}))
    flat_names = {k for k in dev if "." in k}
    assert flat_names == {
        "destination.server",
        "destination.namespace",
        "destination.name",
        "freight.id",
        "freight.short",
        "freight.alias",
        "freight.origin",
        "freight.json",
        "commit.id",
        "commit.short",
        "commit.repoURL",
        "commit.branch",
        "commit.tag",
        "chart.repoURL",
        "chart.name",
        "chart.version",
        "images.guestbook.repoURL",
        "images.guestbook.tag",
        "images.guestbook.digest",
        "images.org-guestbook.repoURL",  # the path key, which never changes when another image joins
        "images.org-guestbook.tag",
        "images.org-guestbook.digest",
        "images.org-guestbook.ref",
        "images.guestbook.ref",
    }
    top = {k for k in dev if "." not in k}
    assert top == {
        "pipeline",
        "stage",
        "app",
        "project",
        "repoURL",
        "path",
        "targetRevision",
        "pipelineFile",
        "renderSpec",
        "mechanism",
        "destination",
        "freight",
        "commit",
        "chart",
        "images",
    }


def test_stage_without_freight_or_apps_is_left_out() -> None:
    state = state_with({"hotfix": freight()})  # hotfix has no apps
    assert parameter_sets(pipeline(), state) == []
    assert parameter_sets(pipeline(), State()) == []


def test_recorded_revision_wins() -> None:
    (dev,) = parameter_sets(pipeline(), state_with({"dev": freight()}, revision={"dev": "env/dev"}))
    assert dev["targetRevision"] == "env/dev"


def test_branch_mechanism_without_recorded_revision_points_at_the_stage_branch() -> None:
    p = pipeline()
    app = dataclasses.replace(p.stage("dev").apps[0], repo_url="https://git.example.com/org/other.git")
    stage = dataclasses.replace(p.stage("dev"), promotion=Promotion("render-branch"), apps=(app,))
    p = dataclasses.replace(p, stages=(stage,))
    (dev,) = parameter_sets(p, state_with({"dev": freight()}))
    assert dev["targetRevision"] == "env/dev"
    assert dev["mechanism"] == "render-branch"


def test_app_in_another_repo_uses_its_target_revision_and_keeps_the_freight_commit() -> None:
    p = pipeline()
    app = dataclasses.replace(
        p.stage("dev").apps[0], repo_url="https://git.example.com/org/config.git", target_revision="main"
    )
    p = dataclasses.replace(p, stages=(dataclasses.replace(p.stage("dev"), apps=(app,)),))
    (dev,) = parameter_sets(p, state_with({"dev": freight()}))
    assert dev["repoURL"] == "https://git.example.com/org/config.git"
    assert dev["targetRevision"] == "main"
    assert dev["commit"]["id"] == SHA1  # the freight's only commit, for templates that want it


def test_chart_app_on_pin_is_a_git_source_at_a_real_revision() -> None:
    text = """\
apiVersion: freightyard.io/v1alpha1
kind: Pipeline
metadata: {name: charts}
spec:
  warehouses:
  - name: main
    subscriptions:
    - chart: {repoURL: oci://registry.example.com/charts/guestbook}
  stages:
  - name: dev
    requestedFreight: [{origin: main, sources: {direct: true}}]
    apps: [{name: guestbook, path: ., destination: {namespace: dev}}]
"""
    with pytest.raises(ConfigError, match=r"apps\[0\]\.repoURL: is required: the stage takes chart freight only"):
        parse_pipelines(text, "charts.yaml")
    git = "https://git.example.com/org/values.git"
    p = parse_pipelines(text.replace("path: .,", f"path: ., repoURL: {git},"), "charts.yaml")[0]
    f = Freight(origin="main", charts=(Chart("oci://registry.example.com/charts/guestbook", "guestbook", "2.1.0"),))
    (dev,) = parameter_sets(p, state_with({"dev": f}))
    assert dev["repoURL"] == git and dev["targetRevision"] == "HEAD"  # a git source at a real revision
    assert dev["chart"]["version"] == "2.1.0"  # templates still see the chart the CMP renders
    pinned = parse_pipelines(text.replace("path: .,", f"path: ., repoURL: {git}, targetRevision: v3,"))[0]
    (dev,) = parameter_sets(pinned, state_with({"dev": f}))
    assert dev["targetRevision"] == "v3"  # an explicit targetRevision is never overridden by a chart version


def test_image_keys_path_always_and_last_segment_while_unique() -> None:
    a = Image("registry.example.com/team-a/api", "1", DIGEST1)
    b = Image("registry.example.com/team-b/api", "1", DIGEST2)
    c = Image("docker.io/library/Redis", "7", DIGEST1)
    assert set(image_keys((a, b, c))) == {"team-a-api", "team-b-api", "redis", "library-redis"}
    # keys follow the stage's subscriptions, not the freight: a's keys are the same whether b is in it
    subscribed = (a.repo_url, b.repo_url)
    assert set(image_keys((a,), subscribed)) == {"team-a-api"}
    assert set(image_keys((a, b), subscribed)) == {"team-a-api", "team-b-api"}
    assert set(image_keys((c,), ())) == {"redis", "library-redis"}


def test_filters_and_unknown_stage() -> None:
    state = state_with({"dev": freight(), "prod": freight()})
    sets = parameter_sets(pipeline(), state, stages={"prod"}, apps={"worker"})
    assert [(s["stage"], s["app"]) for s in sets] == [("prod", "worker")]
    with pytest.raises(NotFoundError, match="no stage 'qa'"):
        parameter_sets(pipeline(), state, stages={"qa"})


def test_pin_to_freight_missing_from_catalog_is_an_error_not_an_omission() -> None:
    state = State(
        stages={
            "dev": StageState(
                freight={"main": Holding("f" * 40)}, apps={"guestbook": AppPin({"main": "f" * 40}, "f" * 40)}
            )
        }
    )
    with pytest.raises(StoreError, match="not in the freight catalog"):
        parameter_sets(pipeline(), state)


def test_repo_url_cannot_be_inferred_from_two_git_subscriptions() -> None:
    p = pipeline()
    main = p.warehouses[0]
    two = dataclasses.replace(
        main,
        subscriptions=(
            *main.subscriptions,
            dataclasses.replace(main.git()[0], repo_url="https://git.example.com/org/second.git"),
        ),
    )
    p = dataclasses.replace(p, warehouses=(two,))
    f = Freight(origin="main", commits=(Commit(REPO_URL, SHA1), Commit("https://git.example.com/org/second.git", SHA2)))
    with pytest.raises(ConfigError, match=r"set apps\[\]\.repoURL"):
        parameter_sets(p, state_with({"dev": f}))


def test_pure_function_does_not_mutate_state() -> None:
    state = state_with({"dev": freight()})
    before = (dict(state.freight), dict(state.stages))
    parameter_sets(pipeline(), state, stages={"dev", "staging"})
    assert (state.freight, state.stages) == before
    assert isinstance(App(name="x", path="."), App)
