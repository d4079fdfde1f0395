"""FileStore: the state ConfigMap as a local YAML file, locked and atomically replaced; and the store factory."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest
import yaml

from freightyard.shared.core.errors import ConfigError, StoreConflict, StoreError
from freightyard.shared.core.model import Pipeline, StateRef
from freightyard.shared.stores.base import Document, update_document
from freightyard.shared.stores.configmap import ConfigMapStore
from freightyard.shared.stores.factory import store_from_spec
from freightyard.shared.stores.file import FileStore


def cm(**data: str) -> Document:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "freightyard-demo"}, "data": dict(data)}


def test_missing_file_is_an_empty_snapshot(tmp_path: Path) -> None:
    snapshot = FileStore(tmp_path / "state.yaml").read()
    assert (snapshot.document, snapshot.version) == (None, None)


def test_write_read_and_version_bumps(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "sub" / "state.yaml")
    assert store.description == f"file:{tmp_path / 'sub' / 'state.yaml'}"
    assert store.write(cm(**{"freight.yaml": "- id: abc\n"}), None) == "1"
    snapshot = store.read()
    assert snapshot.version == "1" and snapshot.document is not None
    assert snapshot.document["data"] == {"freight.yaml": "- id: abc\n"}
    assert store.write(snapshot.document, "1") == "2"
    text = (tmp_path / "sub" / "state.yaml").read_text()
    assert "freight.yaml: |" in text  # multi-line data stays readable
    assert yaml.safe_load(text)["metadata"] == {"name": "freightyard-demo", "resourceVersion": "2"}
    assert not [p for p in (tmp_path / "sub").iterdir() if p.name.endswith(".tmp")]


def test_stale_or_blind_writes_conflict(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "state.yaml")
    store.write(cm(a="1"), None)
    with pytest.raises(StoreConflict, match="created by another writer"):
        store.write(cm(a="2"), None)
    store.write(cm(a="2"), "1")
    with pytest.raises(StoreConflict, match="version 2, expected 1"):
        store.write(cm(a="3"), "1")


def test_hand_written_file_without_version_counts_as_zero(tmp_path: Path) -> None:
    path = tmp_path / "state.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: '1'}\n")
    store = FileStore(path)
    assert store.read().version == "0"
    assert store.write(cm(a="2"), "0") == "1"


@pytest.mark.parametrize("content", ["data: [unclosed\n", "- just\n- a list\n"])
def test_corrupt_file_names_the_file_and_the_fix(tmp_path: Path, content: str) -> None:
    path = tmp_path / "state.yaml"
    path.write_text(content)
    with pytest.raises(StoreError, match="restore it from a backup or delete it") as caught:
        FileStore(path).read()
    assert str(path) in str(caught.value) and not caught.value.temporary


def _append_items(path: str, worker: int, count: int) -> None:
    store = FileStore(path)
    for item in range(count):
        key = f"w{worker}-{item}"

        def mutate(current: Document | None, key: str = key) -> tuple[Document, None]:
            document = current or cm()
            items = yaml.safe_load((document.get("data") or {}).get("items.yaml", "[]")) or []
            return {**document, "data": {"items.yaml": yaml.safe_dump([*items, key])}}, None

        update_document(store, mutate, attempts=200)  # heavy contention: allow many rounds


def test_eight_processes_lose_no_write(tmp_path: Path) -> None:
    path = str(tmp_path / "state.yaml")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_items, args=(path, w, 10)) for w in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0] * 8
    snapshot = FileStore(path).read()
    assert snapshot.document is not None
    items = yaml.safe_load(snapshot.document["data"]["items.yaml"])
    assert sorted(items) == sorted(f"w{w}-{i}" for w in range(8) for i in range(10))
    assert snapshot.version == "80"


PIPELINE = Pipeline(name="guestbook", warehouses=(), stages=(), state=StateRef(name="fy-guestbook", namespace="ops"))


def test_factory_file_specs(tmp_path: Path) -> None:
    store = store_from_spec(f"file:{tmp_path}/{{pipeline}}.yaml", PIPELINE)
    assert isinstance(store, FileStore) and store.path == tmp_path / "guestbook.yaml"
    store = store_from_spec(f"file:{tmp_path}", PIPELINE)
    assert isinstance(store, FileStore) and store.path == tmp_path / "freightyard-guestbook.yaml"


def test_factory_configmap_specs() -> None:
    store = store_from_spec("configmap", PIPELINE, api_factory=lambda: pytest.fail("no API call expected"))
    assert isinstance(store, ConfigMapStore) and store.description == "configmap:ops/fy-guestbook"
    store = store_from_spec("configmap:argocd/freightyard-{pipeline}", PIPELINE)
    assert store.description == "configmap:argocd/freightyard-guestbook"


@pytest.mark.parametrize("spec", ["", "file:", "configmap:argocd", "configmap:/x", "configmap:a/b/c", "s3://bucket"])
def test_factory_rejects_anything_else_in_one_line(spec: str) -> None:
    with pytest.raises(ConfigError) as caught:
        store_from_spec(spec, PIPELINE)
    assert len(caught.value.problems) == 1 and "file:PATH" in str(caught.value)


def test_an_unchanged_file_is_not_parsed_again_but_any_change_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from freightyard.shared.core import safe_yaml

    store = FileStore(tmp_path / "state.yaml")
    store.write({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}, "data": {"a": "1"}}, None)
    parses: list[str] = []
    real = safe_yaml.load

    def counted(text: str, *args: Any, **kwargs: Any) -> Any:
        parses.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(safe_yaml, "load", counted)
    first = store.read().document
    assert first is not None
    first["data"]["a"] = "changed by a caller"  # callers get their own copy
    again = store.read().document
    assert again is not None and again["data"] == {"a": "1"} and len(parses) == 1  # one parse for both reads
    text = (tmp_path / "state.yaml").read_text().replace("a: '1'", "a: '2'").replace('a: "1"', 'a: "2"')
    (tmp_path / "state.yaml").write_text(text)  # an edit by hand, in place
    edited = store.read().document
    assert edited is not None and edited["data"] == {"a": "2"} and len(parses) == 2
