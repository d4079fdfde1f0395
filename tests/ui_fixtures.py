"""A demo run (real git repo, OCI layout, state file) shared by the UI tests, and an HTTP helper."""

from __future__ import annotations

import http.client
import json
import shutil
from pathlib import Path
from typing import Any

from freightyard.controller.api import Api, Trust
from freightyard.controller.demo.scenario import run_demo
from freightyard.shared.core.model import Pipeline
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.pipeline_files import load_pipelines
from freightyard.shared.stores.file import FileStore


def demo_copy(cache: Path, target: Path) -> Path:
    """A fresh copy of one demo run (made once per session under ``cache``), so each test may change it."""
    if not (cache / "state").exists():
        from freightyard.controller.cli import main

        run_demo(str(cache), main, lambda _line: None)
    shutil.copytree(cache, target, symlinks=True, ignore=shutil.ignore_patterns("cache"))
    return target


def pipelines(workdir: Path) -> list[Pipeline]:
    return load_pipelines(workdir / "gitops" / "pipelines")


def engine(workdir: Path, pipeline: Pipeline) -> Engine:
    store = FileStore(workdir / "state" / f"freightyard-{pipeline.name}.yaml")
    return Engine(pipeline, store, cache_dir=workdir / "engine-cache")


def api(workdir: Path, trust: Trust) -> Api:
    found = pipelines(workdir)
    return Api(lambda: found, lambda p: engine(workdir, p), trust)


def call(
    port: int, method: str, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    data = json.dumps(body).encode() if body is not None else None
    sent = dict(headers or {})
    if data is not None:
        sent["Content-Type"] = "application/json"
    connection.request(method, path, body=data, headers=sent)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, json.loads(payload) if payload else {}
