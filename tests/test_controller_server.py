"""The controller's HTTP surface and pipeline loading: bounded bodies, routes, re-reading on change."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from freightyard.controller.pipelines_source import ConfigMapPipelines, DirectoryPipelines, PipelineSet
from freightyard.controller.server import MAX_BODY_BYTES, Answer, HttpServer, Routes, parse_listen
from tests.helpers.controller_fakes import PIPELINE

seen: list[tuple[str, dict[str, str], dict[str, str], bytes]] = []


def webhook(provider: str, headers: dict[str, str], query: dict[str, str], body: bytes) -> Answer:
    seen.append((provider, headers, query, body))
    return Answer.json(202, {"ok": True})


@pytest.fixture
def server() -> Iterator[HttpServer]:
    routes = Routes(
        health=lambda: Answer.json(200, {"ok": True}),
        ready=lambda: Answer.json(503, {}),
        metrics=lambda: Answer(200, b"m 1\n", "text/plain"),
        webhook=webhook,
    )
    with HttpServer(routes, "127.0.0.1", 0) as running:
        yield running


def request(
    server: HttpServer, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_routes(server: HttpServer) -> None:
    assert request(server, "GET", "/healthz") == (200, b'{"ok": true}\n')
    assert request(server, "GET", "/readyz")[0] == 503
    assert request(server, "GET", "/metrics") == (200, b"m 1\n")
    assert request(server, "GET", "/nope")[0] == 404
    seen.clear()
    status, _ = request(server, "POST", "/webhooks/github?token=t", b'{"a": 1}', {"X-GitHub-Event": "push"})
    assert status == 202
    assert seen == [("github", seen[0][1], {"token": "t"}, b'{"a": 1}')] and seen[0][1]["x-github-event"] == "push"


def test_bodies_are_bounded(server: HttpServer) -> None:
    status, body = request(server, "POST", "/webhooks/github", b"x" * (MAX_BODY_BYTES + 1))
    assert status == 413 and b"body over" in body
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.putrequest("POST", "/webhooks/github")
        connection.endheaders()
        assert connection.getresponse().status == 411
    finally:
        connection.close()


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_listen(":8080") == ("0.0.0.0", 8080)  # noqa: S104 - the value under test
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen("8080x")


def test_directory_pipelines_are_re_read_on_change_and_keep_the_last_good(tmp_path: Path) -> None:
    file = tmp_path / "shop.yaml"
    file.write_text(PIPELINE.replace("VERIFICATION", ""))
    pipelines = PipelineSet([DirectoryPipelines(tmp_path)])
    first = pipelines.load()
    assert list(first) == ["shop"] and first["shop"].warehouses[0].interval_seconds == 300
    file.write_text(PIPELINE.replace("VERIFICATION", "").replace("interval: 5m", "interval: 1m"))
    os.utime(file, ns=(1, 1))  # a different mtime, whatever the file system's resolution
    assert pipelines.load()["shop"].warehouses[0].interval_seconds == 60
    file.write_text(PIPELINE.replace("VERIFICATION", "").replace("interval: 5m", "interval: never"))
    os.utime(file, ns=(2, 2))
    assert pipelines.load()["shop"].warehouses[0].interval_seconds == 60  # broken edit: the last good stays


def test_configmap_pipelines_skip_state_and_reparse_on_new_version() -> None:
    items: list[dict[str, Any]] = [
        {
            "metadata": {"name": "pipelines", "namespace": "argocd", "resourceVersion": "1"},
            "data": {"shop.yaml": PIPELINE.replace("VERIFICATION", "")},
        },
        {
            "metadata": {
                "name": "freightyard-shop",
                "namespace": "argocd",
                "resourceVersion": "2",
                "labels": {"app.kubernetes.io/managed-by": "freightyard"},
            },
            "data": {"freight.yaml": "[]"},
        },
    ]
    calls: list[tuple[str, str]] = []

    def lister(namespace: str, selector: str) -> list[dict[str, object]]:
        calls.append((namespace, selector))
        copied: list[dict[str, object]] = json.loads(json.dumps(items))
        return copied

    source = ConfigMapPipelines(("argocd",), lister)
    assert list(source.load().pipelines) == ["shop"]
    assert calls == [("argocd", "freightyard.io/pipeline")]
    items[0]["data"] = {"shop.yaml": PIPELINE.replace("VERIFICATION", "").replace("name: shop}", "name: cart}")}
    items[0]["metadata"]["resourceVersion"] = "3"
    assert list(source.load().pipelines) == ["cart"]
