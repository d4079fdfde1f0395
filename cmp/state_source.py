"""Read a pipeline's state where the repo-server can see it: a state file, a mounted ConfigMap
directory (keys ``freight.yaml``, ``stage.<name>.yaml``), or the ConfigMap through the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from freightyard.shared.core.errors import StoreError
from freightyard.shared.core.model import Pipeline
from freightyard.shared.core.state import State, state_from_document


def load_state(spec: str, pipeline: Pipeline) -> State:
    """``spec`` as in ``FREIGHTYARD_STATE``: ``file:PATH`` (``{pipeline}`` is substituted; PATH a
    state file or a mounted ConfigMap directory), ``configmap:NS/NAME`` or ``configmap``."""
    kind, _, rest = spec.strip().partition(":")
    if kind == "file" and rest:
        path = Path(rest.replace("{pipeline}", pipeline.name))
        if path.is_dir() and _is_configmap_dir(path):
            return state_from_document(_document_from_dir(path), pipeline)
        if path.is_file():
            return state_from_document(_document_from_file(path), pipeline)
    from freightyard.shared.stores.factory import store_from_spec

    snapshot = store_from_spec(spec, pipeline).read()
    if snapshot.document is None:
        raise StoreError(f"no state for pipeline {pipeline.name!r} in {spec} (nothing promoted yet?)", temporary=False)
    return state_from_document(snapshot.document, pipeline)


def _is_configmap_dir(path: Path) -> bool:
    return (path / "freight.yaml").exists() or (path / "state.yaml").exists() or any(path.glob("stage.*.yaml"))


def _document_from_dir(path: Path) -> dict[str, Any]:
    """A mounted ConfigMap: one file per key (kubelet symlinks them through ``..data``)."""
    data: dict[str, str] = {}
    try:
        for item in sorted(path.iterdir()):
            if item.name.startswith(".."):
                continue
            is_stage = item.name.startswith("stage.") and item.name.endswith(".yaml")
            if item.name in {"freight.yaml", "state.yaml"} or is_stage:
                data[item.name] = item.read_text(encoding="utf-8")
    except OSError as error:
        raise StoreError(f"cannot read state directory {path}: {error.strerror}") from error
    return {"data": data}


def _document_from_file(path: Path) -> dict[str, Any]:
    from freightyard.shared.core import safe_yaml
    from freightyard.shared.core.errors import ConfigError

    try:
        document = safe_yaml.load(path.read_bytes(), str(path), limit=8 * safe_yaml.MAX_BYTES)
    except OSError as error:
        raise StoreError(f"cannot read state file {path}: {type(error).__name__}") from error
    except ConfigError as error:
        raise StoreError(f"cannot read state file: {error.problems[0]}") from error
    if not isinstance(document, dict):
        raise StoreError(f"state file {path} is not a ConfigMap document")
    return document
