"""The generator over HTTP (Flask's test client), called exactly as the ApplicationSet controller calls it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

from freightyard.generator.app import create_app
from freightyard.shared.core.errors import ConfigError, StoreError
from freightyard.shared.core.model import Pipeline
from freightyard.shared.stores.base import Document, Snapshot
from tests.helpers.generator_world import (
    DIGEST2,
    PIPELINE,
    SHA1,
    SHA2,
    TOKEN,
    freight,
    make_repo,
    state_with,
    write_state,
)

URL = "/api/v1/getparams.execute"


def call(
    client: FlaskClient,
    parameters: Any = None,
    *,
    token: str | None = TOKEN,
    body: Any = None,
    raw: bytes | None = None,
    app_set: str = "guestbook",
) -> Any:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if raw is None:
        payload = (
            body
            if body is not None
            else {"applicationSetName": app_set, "input": {"parameters": parameters or {"pipeline": "guestbook"}}}
        )
        raw = json.dumps(payload).encode()
    return client.post(URL, data=raw, headers=headers)


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    pipelines = make_repo(tmp_path / "repo")
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    write_state(state_dir, "guestbook", state_with({"dev": freight(), "prod": freight()}))
    return {"pipelines": pipelines, "state": state_dir, "token": token_file, "tmp": tmp_path}


def make_app(setup: dict[str, Path], **overrides: Any) -> Flask:
    config: dict[str, Any] = {
        "PIPELINES": str(setup["pipelines"]),
        "STATE": f"file:{setup['state']}",
        "TOKEN_FILE": str(setup["token"]),
        "PIPELINES_RECHECK_S": "0",
    }
    factories = {k: overrides.pop(k) for k in ("store_factory", "configmap_lister") if k in overrides}
    config.update(overrides)
    app = create_app(config, **factories)
    app.testing = True
    return app


@pytest.fixture
def client(setup: dict[str, Path]) -> FlaskClient:
    return make_app(setup).test_client()


def test_answers_the_plugin_contract(client: FlaskClient) -> None:
    response = call(client)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {"output"} and set(body["output"]) == {"parameters"}
    sets = body["output"]["parameters"]
    assert [(s["stage"], s["app"]) for s in sets] == [("dev", "guestbook"), ("prod", "guestbook"), ("prod", "worker")]
    assert sets[0]["targetRevision"] == SHA1
    assert sets[0]["pipelineFile"] == "pipelines/guestbook.yaml"
    assert sets[0]["freight.id"] == sets[0]["freight"]["id"] == freight().id


def test_a_promotion_shows_on_the_next_request(client: FlaskClient, setup: dict[str, Path]) -> None:
    assert call(client).get_json()["output"]["parameters"][0]["targetRevision"] == SHA1
    newer = freight(SHA2, DIGEST2, "1.5.0")
    write_state(setup["state"], "guestbook", state_with({"dev": newer, "prod": freight()}))
    dev = call(client).get_json()["output"]["parameters"][0]
    assert dev["targetRevision"] == SHA2
    assert dev["freight"]["id"] == newer.id
    assert dev["images"]["guestbook"]["digest"] == DIGEST2


def test_a_changed_pipeline_file_is_read_again(client: FlaskClient, setup: dict[str, Path]) -> None:
    assert len(call(client).get_json()["output"]["parameters"]) == 3
    text = PIPELINE.replace(
        "    - name: worker\n      path: apps/worker/overlays/prod\n      destination: {namespace: worker}\n", ""
    )
    (setup["pipelines"] / "guestbook.yaml").write_text(text + "\n# edited\n")
    assert len(call(client).get_json()["output"]["parameters"]) == 2


def test_filters(client: FlaskClient) -> None:
    sets = call(client, {"pipeline": "guestbook", "stages": "prod", "apps": ["worker"]}).get_json()
    assert [(s["stage"], s["app"]) for s in sets["output"]["parameters"]] == [("prod", "worker")]


def test_legacy_input_parameters_field(client: FlaskClient) -> None:
    response = call(client, body={"applicationSetName": "x", "inputParameters": {"pipeline": "guestbook"}})
    assert response.status_code == 200 and len(response.get_json()["output"]["parameters"]) == 3


# --- auth -----------------------------------------------------------------------------------------


def test_missing_token_is_401_with_a_challenge(client: FlaskClient) -> None:
    response = call(client, token=None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"]["reason"] == "Unauthorized"


def test_wrong_scheme_is_401_and_wrong_token_is_403(client: FlaskClient) -> None:
    response = client.post(
        URL, json={"input": {"parameters": {"pipeline": "guestbook"}}}, headers={"Authorization": f"Basic {TOKEN}"}
    )
    assert response.status_code == 401
    response = call(client, token="not-the-token")
    assert response.status_code == 403
    assert "invalid bearer token" in response.get_json()["error"]["message"]
    assert TOKEN not in response.get_data(as_text=True)


def test_token_rotation_without_restart(client: FlaskClient, setup: dict[str, Path]) -> None:
    assert call(client).status_code == 200
    setup["token"].write_text("old-token-0123456789\nnew-token-0123456789\n")  # overlap during rotation
    assert call(client, token="old-token-0123456789").status_code == 200
    assert call(client, token="new-token-0123456789").status_code == 200
    assert call(client).status_code == 403
    setup["token"].write_text("new-token-0123456789\n")
    assert call(client, token="old-token-0123456789").status_code == 403
    assert call(client, token="new-token-0123456789").status_code == 200


def test_unreadable_token_file_is_503(client: FlaskClient, setup: dict[str, Path]) -> None:
    setup["token"].unlink()
    response = call(client)
    assert response.status_code == 503
    assert response.get_json()["error"]["reason"] == "TokenUnavailable"


def test_a_token_is_required_to_start(setup: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="TOKEN_FILE"):
        create_app({"PIPELINES": str(setup["pipelines"])})


# --- bad inputs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status", "fragment"),
    [
        (b"{not json", 400, "not JSON"),
        (b"\xff\xfe", 400, "not JSON"),
        (b"[]", 400, "must be a JSON object"),
        (b'{"input": "guestbook"}', 400, "input must be an object"),
        (b'{"input": {}}', 400, "input.parameters is required"),
        (b'{"input": {"parameters": []}}', 400, "input.parameters must be an object"),
        (b'{"input": {"parameters": {}}}', 400, "pipeline is required"),
        (b'{"input": {"parameters": {"pipeline": 7}}}', 400, "must be a string, not a number"),
        (b'{"input": {"parameters": {"pipeline": "Guest Book"}}}', 400, "not a valid pipeline name"),
        (b'{"input": {"parameters": {"pipeline": "guestbook", "stages": {"a": 1}}}}', 400, "list of names"),
        (b'{"input": {"parameters": {"pipeline": "guestbook", "apps": [1]}}}', 400, "list of names"),
        (b'{"applicationSetName": 3, "input": {"parameters": {"pipeline": "guestbook"}}}', 400, "applicationSetName"),
        (b'{"input": {"parameters": {"pipeline": "nope"}}}', 404, "unknown pipeline 'nope' (known: guestbook)"),
        (b'{"input": {"parameters": {"pipeline": "guestbook", "stages": ["qa"]}}}', 404, "no stage 'qa'"),
    ],
)
def test_bad_inputs(client: FlaskClient, raw: bytes, status: int, fragment: str) -> None:
    response = call(client, raw=raw)
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["status"] == status
    assert fragment in error["message"]


def test_oversize_body_is_413(client: FlaskClient) -> None:
    padding = "x" * (70 * 1024)
    response = call(client, body={"input": {"parameters": {"pipeline": "guestbook", "pad": padding}}})
    assert response.status_code == 413
    assert response.get_json()["error"]["reason"] == "PayloadTooLarge"


def test_wrong_method_and_unknown_route_are_json(client: FlaskClient) -> None:
    response = client.get(URL)
    assert response.status_code == 405 and response.get_json()["error"]["status"] == 405
    response = client.get("/nope")
    assert response.status_code == 404 and "error" in response.get_json()


# --- failures never become an empty list ----------------------------------------------------------


def test_unreadable_state_is_503(client: FlaskClient, setup: dict[str, Path]) -> None:
    (setup["state"] / "freightyard-guestbook.yaml").write_text("data: [unclosed\n")
    response = call(client)
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["reason"] == "StateUnavailable"
    assert "state of pipeline 'guestbook'" in error["message"]


def test_malformed_state_document_is_503(client: FlaskClient, setup: dict[str, Path]) -> None:
    (setup["state"] / "freightyard-guestbook.yaml").write_text(
        "metadata: {resourceVersion: '9'}\ndata:\n  freight.yaml: |\n    - {origin: main, id: abc}\n"
    )
    response = call(client)
    assert response.status_code == 503
    assert "state of pipeline 'guestbook'" in response.get_json()["error"]["message"]


class BrokenStore:
    description = "configmap:argocd/freightyard-guestbook"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def read(self) -> Snapshot:
        raise self.error

    def write(self, document: Document, expected_version: str | None) -> str:
        raise AssertionError("the generator never writes")


def broken(error: Exception) -> Callable[[str, Pipeline], BrokenStore]:
    return lambda spec, pipeline: BrokenStore(error)


def test_store_error_is_503(setup: dict[str, Path]) -> None:
    client = make_app(
        setup, store_factory=broken(StoreError("cannot get configmaps argocd/x: API unreachable"))
    ).test_client()
    response = call(client)
    assert response.status_code == 503
    assert "API unreachable" in response.get_json()["error"]["message"]


def test_a_bug_is_500_without_a_traceback(setup: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    client = make_app(setup, store_factory=broken(RuntimeError("boom"))).test_client()
    response = call(client)
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "boom" not in text
    assert any("unexpected error" in r.message for r in caplog.records)


def test_missing_state_is_an_error_never_an_empty_list(setup: dict[str, Path]) -> None:
    # New pipeline: no Applications exist, so an error costs nothing. Deleted state: an empty list
    # would prune every Application of the pipeline; an error keeps them.
    (setup["state"] / "freightyard-guestbook.yaml").unlink()
    response = call(make_app(setup).test_client())
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["reason"] == "StateMissing" and "restore it" in error["message"]


def test_state_without_promotions_is_an_empty_answer(setup: dict[str, Path]) -> None:
    state_file = setup["state"] / "freightyard-guestbook.yaml"
    document = yaml.safe_load(state_file.read_text())
    document["data"] = {key: value for key, value in document["data"].items() if not key.startswith("stage.")}
    document["data"]["state.yaml"] = "version: 2\npipeline: guestbook\nstages: []\n"
    state_file.write_text(yaml.safe_dump(document))
    response = call(make_app(setup).test_client())
    assert response.status_code == 200
    assert response.get_json() == {"output": {"parameters": []}}


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        ("drop-stage-key", "stage.dev.yaml is missing"),
        ("drop-index", "state.yaml is missing"),
        ("drop-catalog-entry", "not in freight.yaml"),
        ("wrong-type", "stage.dev.yaml is not a dict"),
        ("other-pipeline", "belongs to pipeline 'shop'"),
        ("wiped", "StateMissing"),  # data: {} -- 503, existing Applications kept
    ],
)
def test_damaged_state_is_a_503_naming_the_key_never_fewer_applications(
    setup: dict[str, Path], damage: str, named: str
) -> None:
    state_file = setup["state"] / "freightyard-guestbook.yaml"
    document = yaml.safe_load(state_file.read_text())
    data = document["data"]
    if damage == "drop-stage-key":
        del data["stage.dev.yaml"]
    elif damage == "drop-index":
        del data["state.yaml"]
    elif damage == "drop-catalog-entry":
        data["freight.yaml"] = "[]\n"
    elif damage == "wrong-type":
        data["stage.dev.yaml"] = "- just\n- a list\n"
    elif damage == "wiped":
        data.clear()
    else:
        data["state.yaml"] = data["state.yaml"].replace("pipeline: guestbook", "pipeline: shop")
    state_file.write_text(yaml.safe_dump(document))
    response = call(make_app(setup).test_client())
    assert response.status_code == 503
    body = response.get_json()
    assert named in json.dumps(body)
    assert "parameters" not in json.dumps(body)


def test_a_broken_pipeline_file_does_not_hide_good_ones_but_blocks_unknown_names(
    client: FlaskClient, setup: dict[str, Path]
) -> None:
    (setup["pipelines"] / "broken.yaml").write_text(
        "apiVersion: freightyard.io/v1alpha1\nkind: Pipeline\n"
        "metadata: {name: other}\nspec: {warehouses: [], stagez: []}\n"
    )
    assert call(client).status_code == 200
    response = call(client, {"pipeline": "other"})
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["reason"] == "PipelineInvalid"
    assert any("broken.yaml" in p and "stagez" in p for p in error["problems"])


def test_a_pipeline_defined_twice_is_503(client: FlaskClient, setup: dict[str, Path]) -> None:
    (setup["pipelines"] / "copy.yaml").write_text(PIPELINE)
    response = call(client)
    assert response.status_code == 503
    assert "defined more than once" in response.get_json()["error"]["message"]


def test_missing_pipelines_directory_is_503_and_not_ready(setup: dict[str, Path]) -> None:
    client = make_app(setup, PIPELINES=str(setup["tmp"] / "missing")).test_client()
    assert call(client).status_code == 503
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


# --- pipelines from ConfigMaps --------------------------------------------------------------------


def configmap(
    name: str, data: dict[str, str], version: str = "1", labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "argocd",
            "resourceVersion": version,
            "labels": labels or {"freightyard.io/pipeline": "x"},
        },
        "data": data,
    }


def test_pipelines_from_labelled_configmaps(setup: dict[str, Path]) -> None:
    calls: list[tuple[str, str]] = []
    other = PIPELINE.replace("name: guestbook}", "name: other}")

    def lister(namespace: str, selector: str) -> list[dict[str, Any]]:
        calls.append((namespace, selector))
        return [
            configmap("pipeline-other", {"pipeline.yaml": other, "README": "not a pipeline"}),
            configmap(
                "freightyard-guestbook", {"freight.yaml": "[]"}, labels={"app.kubernetes.io/managed-by": "freightyard"}
            ),
        ]

    write_state(setup["state"], "other", state_with({"dev": freight()}))
    client = make_app(setup, PIPELINE_NAMESPACES="argocd", configmap_lister=lister).test_client()
    response = call(client, {"pipeline": "other"})
    assert response.status_code == 200, response.get_json()
    (dev,) = response.get_json()["output"]["parameters"]
    assert dev["pipeline"] == "other" and dev["pipelineFile"] == ""
    assert call(client).status_code == 200  # the directory still serves guestbook
    assert calls == [("argocd", "freightyard.io/pipeline")]  # the listing is reused within its TTL


def test_configmap_listing_failure_is_503(setup: dict[str, Path]) -> None:
    def lister(namespace: str, selector: str) -> list[dict[str, Any]]:
        raise StoreError("cannot list configmaps in namespace argocd: forbidden (403)")

    client = make_app(setup, PIPELINE_NAMESPACES="argocd", configmap_lister=lister).test_client()
    response = call(client)
    assert response.status_code == 503
    assert "forbidden" in response.get_json()["error"]["message"]


# --- health, readiness, metrics -------------------------------------------------------------------


def test_health_readiness_and_metrics(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["pipelines"] == 1
    call(client)
    call(client, token="wrong")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'freightyard_generator_requests_total{endpoint="/api/v1/getparams.execute",status="200"} 1.0' in text
    assert 'freightyard_generator_errors_total{endpoint="/api/v1/getparams.execute",reason="Forbidden"} 1.0' in text
    assert 'freightyard_generator_parameter_sets_total{pipeline="guestbook"} 3.0' in text
    assert "freightyard_generator_request_duration_seconds_bucket" in text


def test_settings_from_the_environment(setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FREIGHTYARD_PIPELINES", str(setup["pipelines"]))
    monkeypatch.setenv("FREIGHTYARD_STATE", f"file:{setup['state']}")
    monkeypatch.setenv("FREIGHTYARD_TOKEN", TOKEN)
    client = create_app().test_client()
    assert call(client).status_code == 200
    monkeypatch.setenv("FREIGHTYARD_MAX_BODY_BYTES", "lots")
    with pytest.raises(ConfigError, match="MAX_BODY_BYTES"):
        create_app()


def test_freightyard_apps_equals_the_generator_answer(
    setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from freightyard.controller.cli import main

    answer = call(make_app(setup).test_client()).get_json()["output"]["parameters"]
    capsys.readouterr()
    state = f"file:{setup['state']}/freightyard-{{pipeline}}.yaml"
    assert main(["apps", "-f", str(setup["pipelines"]), "--state", state, "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == answer
