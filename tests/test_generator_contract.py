"""Contract: a real gunicorn on loopback, called like the ApplicationSet controller, and the example
ApplicationSets templated with its answers into the Applications Argo CD would create."""

from __future__ import annotations

import http.client
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from freightyard.generator.app import create_app
from freightyard.shared.core.freight import Freight
from tests.helpers.generator_world import (
    DIGEST2,
    REPO_URL,
    SHA1,
    SHA2,
    TOKEN,
    freight,
    load_example,
    make_repo,
    plugin_env,
    render_application_set,
    state_with,
    write_state,
)
from tests.servers._proc import LOOPBACK, ManagedProcess, free_port

ROOT = Path(__file__).resolve().parent.parent


def post(port: int, body: bytes, headers: dict[str, str], *, chunked: bool = False) -> tuple[int, Any]:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    try:
        if chunked:
            connection.request(
                "POST", "/api/v1/getparams.execute", body=iter([body]), headers=headers, encode_chunked=True
            )
        else:
            connection.request("POST", "/api/v1/getparams.execute", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def argocd_request(pipeline: str = "guestbook", token: str = TOKEN) -> tuple[bytes, dict[str, str]]:
    """What applicationset/services/plugin sends: JSON body, bearer token, JSON content type."""
    body = json.dumps({"applicationSetName": "guestbook", "input": {"parameters": {"pipeline": pipeline}}}).encode()
    return body, {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"}


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    pipelines = make_repo(tmp_path / "repo")
    state = tmp_path / "state"
    state.mkdir()
    token = tmp_path / "token"
    token.write_text(TOKEN)
    write_state(state, "guestbook", state_with({"dev": freight(), "prod": freight()}))
    return {"pipelines": pipelines, "state": state, "token": token, "tmp": tmp_path}


@pytest.fixture
def gunicorn(world: dict[str, Path]) -> Iterator[int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FREIGHTYARD_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "FREIGHTYARD_BIND": f"{LOOPBACK}:{port}",
            "FREIGHTYARD_WORKERS": "2",
            "FREIGHTYARD_PIPELINES": str(world["pipelines"]),
            "FREIGHTYARD_STATE": f"file:{world['state']}",
            "FREIGHTYARD_TOKEN_FILE": str(world["token"]),
            "FREIGHTYARD_PIPELINES_RECHECK_S": "0",
            "FREIGHTYARD_WORKER_TMP_DIR": str(world["tmp"]),
        }
    )
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:freightyard.generator.gunicorn_conf",
        "freightyard.generator.app:create_app()",
    ]
    with ManagedProcess(argv, name="generator", env=env, cwd=ROOT, log_dir=world["tmp"]) as process:
        process.wait_ready(lambda: _healthy(port), timeout=30)
        yield port


def _healthy(port: int) -> bool:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=1)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


@pytest.mark.integration
def test_gunicorn_serves_the_contract_and_examples_render(gunicorn: int, world: dict[str, Path]) -> None:
    status, answer = post(gunicorn, *argocd_request())
    assert status == 200
    parameters = answer["output"]["parameters"]
    for example in ("applicationset-gotemplate.yaml", "applicationset-fasttemplate.yaml"):
        apps = {a["metadata"]["name"]: a for a in render_application_set(load_example(example), parameters)}
        assert set(apps) == {"guestbook-guestbook-dev", "guestbook-guestbook-prod", "guestbook-worker-prod"}, example
        dev = apps["guestbook-guestbook-dev"]
        assert dev["spec"]["source"]["repoURL"] == REPO_URL
        assert dev["spec"]["source"]["targetRevision"] == SHA1
        assert dev["spec"]["source"]["path"] == "apps/guestbook/overlays/dev"
        assert dev["spec"]["source"]["plugin"]["name"] == "freightyard-v1"
        env = plugin_env(dev)
        assert env["PIPELINE"] == "guestbook" and env["STAGE"] == "dev"
        assert env["FREIGHT_ID"] == freight().id
        assert Freight.from_json(env["FREIGHT"]).id == env["FREIGHT_ID"]  # what the CMP checks
        assert env["PIPELINE_FILE"] == "pipelines/guestbook.yaml"
        assert dev["spec"]["destination"] == {
            "server": "https://kubernetes.default.svc",
            "name": "",  # exactly one of server and name is non-empty; Argo CD treats "" as unset
            "namespace": "guestbook-dev",
        }
        assert env["RENDER_SPEC"] and env["APP"] == "guestbook"
        assert apps["guestbook-guestbook-prod"]["spec"]["project"] == "production"
        assert "{{" not in json.dumps(list(apps.values()))

    # A promotion changes the App spec (so Argo CD's manifest cache key) on the very next call.
    newer = freight(SHA2, DIGEST2, "1.5.0")
    write_state(world["state"], "guestbook", state_with({"dev": newer, "prod": freight()}))
    status, answer = post(gunicorn, *argocd_request())
    apps = {
        a["metadata"]["name"]: a
        for a in render_application_set(load_example("applicationset-gotemplate.yaml"), answer["output"]["parameters"])
    }
    assert apps["guestbook-guestbook-dev"]["spec"]["source"]["targetRevision"] == SHA2
    assert plugin_env(apps["guestbook-guestbook-dev"])["FREIGHT_ID"] == newer.id
    assert plugin_env(apps["guestbook-guestbook-prod"])["FREIGHT_ID"] == freight().id


@pytest.mark.integration
def test_gunicorn_error_statuses(gunicorn: int, world: dict[str, Path]) -> None:
    body, headers = argocd_request()
    assert post(gunicorn, body, {**headers, "Authorization": "Bearer wrong"})[0] == 403
    assert post(gunicorn, body, {"Content-Type": "application/json"})[0] == 401
    assert post(gunicorn, b"nope", headers)[0] == 400
    assert post(gunicorn, *argocd_request("unknown"))[0] == 404
    big = json.dumps({"input": {"parameters": {"pipeline": "guestbook", "pad": "x" * 100_000}}}).encode()
    assert post(gunicorn, big, headers)[0] == 413
    assert post(gunicorn, big, headers, chunked=True)[0] == 413  # no Content-Length: the stream is bounded
    (world["state"] / "freightyard-guestbook.yaml").write_text("data: [broken\n")
    status, answer = post(gunicorn, body, headers)
    assert status == 503 and answer["error"]["reason"] == "StateUnavailable"


def test_examples_render_with_the_test_client_too(world: dict[str, Path]) -> None:
    """The same templating against the Flask test client: fast, no subprocess."""
    app = create_app(
        {"PIPELINES": str(world["pipelines"]), "STATE": f"file:{world['state']}", "TOKEN_FILE": str(world["token"])}
    )
    body, headers = argocd_request()
    response = app.test_client().post("/api/v1/getparams.execute", data=body, headers=headers)
    apps = render_application_set(
        load_example("applicationset-fasttemplate.yaml"), response.get_json()["output"]["parameters"]
    )
    assert [a["metadata"]["name"] for a in apps] == [
        "guestbook-guestbook-dev",
        "guestbook-guestbook-prod",
        "guestbook-worker-prod",
    ]
    assert apps[1]["spec"]["destination"]["server"] == "https://prod.example.com:6443"
    assert apps[1]["metadata"]["annotations"]["freightyard.io/freight"] == freight().id


@pytest.mark.integration
def test_twenty_trickling_clients_do_not_starve_gunicorn(gunicorn: int) -> None:
    """20 clients that send a header line now and then (never the end of their headers, no token)
    beside the ApplicationSet controller's requests: those are still answered at once."""
    import time

    from tests.helpers.slow_clients import trickling

    with trickling(gunicorn, b"POST /api/v1/getparams.execute HTTP/1.1\r\n"):
        time.sleep(1.0)
        started = time.monotonic()
        answers = [post(gunicorn, *argocd_request())[0] for _ in range(3)]
        elapsed = time.monotonic() - started
    assert answers == [200, 200, 200] and elapsed < 2.0, (answers, elapsed)
