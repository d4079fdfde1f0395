"""Hostile bodies and documents beside pipelines: JSON bombs, hostile state files, and what Argo CD shows.

``argo_condition`` is a port of Argo CD's ``CheckResponse`` (applicationset/services/internal/http/
client.go): the ApplicationSet condition shows only a top-level string ``message`` (else ``error``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from freightyard.controller import webhooks
from freightyard.shared.core import safe_yaml
from freightyard.shared.core.errors import ConfigError, StoreError
from freightyard.shared.stores.file import FileStore
from tests.helpers.generator_world import TOKEN, freight, make_repo, state_with, write_state
from tests.test_generator import call, make_app


def argo_condition(status: int, body: bytes) -> str:
    """The text Argo CD's plugin client turns a non-2xx answer into."""
    try:
        raw = json.loads(body)
    except ValueError:
        return f"API error with status code {status}: {body.decode()}"
    message = ""
    if isinstance(raw, dict) and isinstance(raw.get("message"), str):
        message = raw["message"]
    elif isinstance(raw, dict) and isinstance(raw.get("error"), str):
        message = raw["error"]
    return f"API error with status code {status}: {message}"


@pytest.fixture
def client(tmp_path: Path) -> Any:
    pipelines = make_repo(tmp_path / "repo")
    state = tmp_path / "state"
    state.mkdir()
    (tmp_path / "token").write_text(TOKEN)
    write_state(state, "guestbook", state_with({"dev": freight()}))
    paths = {"pipelines": pipelines, "state": state, "token": tmp_path / "token", "tmp": tmp_path}
    return make_app(paths).test_client(), paths


BOMBS = [
    b"[" * 30_000 + b"]" * 30_000,  # under the 64 KiB body limit: nesting, not size, is the attack
    b'{"input": {"parameters": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_000 + b"}}",
    b'{"applicationSetName": "x", "input": ' + b"[" * 5_000,
    b"\xff\xfe not utf-8",
    b'{"input": {"parameters": {"pipeline": "' + b"\\u0000" * 10 + b'"}}}',
]


@pytest.mark.parametrize("raw", BOMBS, ids=["deep-list", "deep-object", "unclosed", "not-utf8", "nul-name"])
def test_generator_json_bombs_are_400_with_a_message_argo_cd_shows(client: Any, raw: bytes) -> None:
    flask_client, _ = client
    started = time.monotonic()
    response = call(flask_client, raw=raw)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert time.monotonic() - started < 2
    shown = argo_condition(400, response.get_data())
    assert shown != "API error with status code 400: " and len(shown) < 4200


def test_every_generator_error_names_its_problem_in_argo_cds_condition(client: Any) -> None:
    flask_client, paths = client
    cases = {
        "unknown pipeline": (call(flask_client, {"pipeline": "nope"}), "unknown pipeline 'nope'"),
        "no token": (call(flask_client, token=None), "Unauthorized"),
        "bad token": (call(flask_client, token="wrong-token-value"), "Forbidden"),
        "not json": (call(flask_client, raw=b"{"), "not JSON"),
    }
    (paths["pipelines"] / "guestbook.yaml").write_text(
        (paths["pipelines"] / "guestbook.yaml").read_text().replace("stages:", "stages: !vault x\n  old:", 1)
    )
    cases["invalid pipeline"] = (call(flask_client), "guestbook.yaml:")
    for what, (response, needle) in cases.items():
        body = response.get_json()
        assert isinstance(body["message"], str) and isinstance(body["error"], dict), what  # both shapes
        shown = argo_condition(response.status_code, response.get_data())
        assert needle in shown, (what, shown)


def test_webhook_json_bombs_are_400() -> None:
    secrets = webhooks.Secrets(default="s3cret-webhook")
    for body in (b"[" * 100_000, b'{"a":' * 20_000 + b"1" + b"}" * 20_000):
        headers = {"x-hub-signature-256": webhooks.signature(body, "s3cret-webhook"), "x-github-event": "push"}
        with pytest.raises(webhooks.WebhookError) as raised:
            webhooks.parse("github", headers, {}, body, secrets)
        assert raised.value.status == 400 and "nested more than" in raised.value.message


HOSTILE_STATE = {
    "tag": "apiVersion: v1\nkind: ConfigMap\ndata: !!python/object/apply:os.system ['true']\n",
    "alias-bomb": "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"b{i}: &b{i} [{', '.join(['*a' if i == 0 else f'*b{i - 1}'] * 10)}]\n" for i in range(8)),
    "deep": "data: " + "[" * 50_000 + "]" * 50_000 + "\n",
    "huge": "data: {x: '" + "x" * (9 * 1024 * 1024) + "'}\n",
    "nul": "data: {x: \x00}\n",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_STATE))
def test_a_hostile_state_file_is_a_clear_store_error(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "freightyard-guestbook.yaml"
    path.write_text(HOSTILE_STATE[kind])
    started = time.monotonic()
    with pytest.raises(StoreError) as raised:
        FileStore(path).read()
    assert time.monotonic() - started < 2
    assert str(path) in raised.value.message and "\n" not in raised.value.message


def test_the_loader_keeps_plain_yaml_and_its_lines() -> None:
    assert safe_yaml.load("a: [1, 2.5, true, null, '2024-01-01']\nb: &x {c: d}\ne: *x\n", "f") == {
        "a": [1, 2.5, True, None, "2024-01-01"],
        "b": {"c": "d"},
        "e": {"c": "d"},
    }
    with pytest.raises(ConfigError) as raised:
        safe_yaml.load("a: 1\nb:\n  c: !secret x\n", "f.yaml")
    assert raised.value.problems == ["f.yaml:3: the tag '!secret' is not supported (write plain YAML values)"]
    with pytest.raises(ValueError, match="nested more than 64"):
        safe_yaml.loads_json('{"s": "[[[[", "a": ' + "[" * 65 + "]" * 65 + "}", "body")
    assert safe_yaml.loads_json('{"s": "' + "[" * 500 + '"}', "body") == {"s": "[" * 500}  # brackets in strings
