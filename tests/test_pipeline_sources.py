"""The shared pipeline reader: files and ConfigMaps parsed once, problems collected, state skipped."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from freightyard.shared.core.errors import FreightyardError
from freightyard.shared.core.model import Pipeline
from freightyard.shared.core.pipeline import parse_pipelines
from freightyard.shared.pipeline_sources import (
    Parsed,
    PipelineConfigMaps,
    PipelineFiles,
    find_repo_root,
    parse_configmap,
    parse_pipeline_file,
)
from tests.helpers.controller_fakes import PIPELINE


def pipeline_text(name: str) -> str:
    return PIPELINE.replace("VERIFICATION", "").replace("name: shop}", f"name: {name}}}")


BROKEN = pipeline_text("broken").replace("branch: main}", "branch: [main}")  # line 9: not YAML


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the reader hands to the parser, by source name."""
    calls: list[str] = []

    def counting(text: str, filename: str = "<pipeline>") -> list[Pipeline]:
        calls.append(filename)
        return parse_pipelines(text, filename)

    monkeypatch.setattr("freightyard.shared.pipeline_sources.parse_pipelines", counting)
    return calls


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A GitOps checkout with a good file, a broken one, irrelevant YAML and a hidden directory."""
    (tmp_path / ".git").mkdir()
    pipelines = tmp_path / "pipelines"
    (pipelines / "nested").mkdir(parents=True)
    (pipelines / "good.yaml").write_text(pipeline_text("shop"))
    (pipelines / "nested" / "cart.yml").write_text(pipeline_text("cart"))
    (pipelines / "broken.yaml").write_text(BROKEN)
    (pipelines / "values.yaml").write_text("replicas: 2\n")  # no Pipeline marker: never parsed
    (pipelines / "notes.txt").write_text(pipeline_text("ignored"))  # not YAML
    (pipelines / ".hidden").mkdir()
    (pipelines / ".hidden" / "secret.yaml").write_text(pipeline_text("hidden"))
    return pipelines


def names(parsed: dict[Path, Parsed]) -> dict[str, list[str]]:
    return {path.name: [p.name for p in found.pipelines] for path, found in parsed.items()}


def test_a_directory_yields_good_pipelines_and_collects_problems(checkout: Path, parses: list[str]) -> None:
    files = PipelineFiles(checkout)
    identities = files.scan()
    assert identities is not None
    parsed = files.parse(identities)
    assert names(parsed) == {"broken.yaml": [], "good.yaml": ["shop"], "values.yaml": [], "cart.yml": ["cart"]}
    good = parsed[checkout / "good.yaml"]
    assert good.problems == () and good.pipeline_file == "pipelines/good.yaml"
    assert good.pipelines[0].repo_root == str(checkout.parent.resolve())
    assert good.pipelines[0].source_file == str(checkout / "good.yaml")
    assert parsed[checkout / "nested" / "cart.yml"].pipeline_file == "pipelines/nested/cart.yml"
    assert parsed[checkout / "broken.yaml"].problems == (
        f"{checkout / 'broken.yaml'}:9: not valid YAML: expected ',' or ']', but got '}}'",
    )
    assert parsed[checkout / "values.yaml"] == Parsed()
    assert sorted(Path(p).name for p in parses) == ["broken.yaml", "cart.yml", "good.yaml"]


def test_unchanged_files_are_not_parsed_again(checkout: Path, parses: list[str]) -> None:
    files = PipelineFiles(checkout)
    first = files.parse(files.scan() or {})
    assert len(parses) == 3
    again = files.parse(files.scan() or {})
    assert len(parses) == 3 and all(again[path] is first[path] for path in first)

    good = checkout / "good.yaml"
    good.write_text(pipeline_text("shop2"))
    os.utime(good, ns=(1, 1))  # a different mtime, whatever the file system's resolution
    changed = files.parse(files.scan() or {})
    assert parses[3:] == [str(good)] and [p.name for p in changed[good].pipelines] == ["shop2"]

    (checkout / "broken.yaml").unlink()
    assert checkout / "broken.yaml" not in files.parse(files.scan() or {})
    assert len(parses) == 4


def test_a_single_file_a_missing_path_and_a_given_repo_root(tmp_path: Path) -> None:
    file = tmp_path / "shop.yaml"
    file.write_text(pipeline_text("shop"))
    files = PipelineFiles(file)
    assert list(files.scan() or {}) == [file]
    assert PipelineFiles(tmp_path / "missing").scan() is None

    elsewhere = tmp_path / "root"
    elsewhere.mkdir()
    outside = parse_pipeline_file(file, repo_root=elsewhere)
    assert outside.pipelines[0].repo_root == str(elsewhere) and outside.pipeline_file == ""
    assert parse_pipeline_file(file, repo_root=tmp_path).pipeline_file == "shop.yaml"


def test_the_marker_can_be_required_or_not(tmp_path: Path) -> None:
    file = tmp_path / "odd.yaml"
    file.write_text("kind: Something\n")
    assert parse_pipeline_file(file) == Parsed()
    assert parse_pipeline_file(file, require_marker=False) == Parsed()  # parsed: holds no Pipeline
    file.write_bytes(b"\xff\xfe kind: Pipeline")
    (problem,) = parse_pipeline_file(file).problems
    assert problem.startswith(f"{file}: cannot read: ")


def test_find_repo_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert find_repo_root(tmp_path / "a" / "b") == tmp_path.resolve()
    assert find_repo_root(tmp_path) == tmp_path.resolve()


def configmap(name: str, version: str, data: dict[str, Any], **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "argocd", "resourceVersion": version, "labels": labels},
        "data": data,
    }


def test_configmap_data_is_parsed_per_key(parses: list[str]) -> None:
    parsed = parse_configmap(
        ("argocd", "pipelines"), {"b.yaml": pipeline_text("b"), "a.yaml": BROKEN, "readme": "no marker", "binary": 42}
    )
    assert [p.name for p in parsed.pipelines] == ["b"]
    assert parsed.pipelines[0].source_file == "configmap argocd/pipelines data.b.yaml"
    assert parsed.problems == (
        "configmap argocd/pipelines data.a.yaml:9: not valid YAML: expected ',' or ']', but got '}'",
    )
    assert parses == ["configmap argocd/pipelines data.a.yaml", "configmap argocd/pipelines data.b.yaml"]


def test_configmaps_are_parsed_again_only_on_a_new_resource_version(parses: list[str]) -> None:
    items = [
        configmap("pipelines", "1", {"shop.yaml": pipeline_text("shop")}),
        configmap(
            "freightyard-shop",
            "2",
            {"freight.yaml": pipeline_text("state")},
            **{"app.kubernetes.io/managed-by": "freightyard"},
        ),
    ]
    calls: list[tuple[str, str]] = []

    def lister(namespace: str, selector: str) -> list[dict[str, Any]]:
        calls.append((namespace, selector))
        copied: list[dict[str, Any]] = json.loads(json.dumps(items))
        return copied

    def fail(namespace: str, error: FreightyardError) -> None:
        raise AssertionError(namespace)

    source = PipelineConfigMaps(lister)
    first = source.load(("argocd",), fail)
    assert calls == [("argocd", "freightyard.io/pipeline")]
    assert list(first) == [("argocd", "pipelines")]  # the state ConfigMap is skipped
    assert [p.name for p in first["argocd", "pipelines"].pipelines] == ["shop"]
    assert len(parses) == 1

    again = source.load(("argocd",), fail)
    assert len(parses) == 1 and again["argocd", "pipelines"] is first["argocd", "pipelines"]

    items[0]["data"] = {"shop.yaml": pipeline_text("cart")}
    items[0]["metadata"]["resourceVersion"] = "3"
    third = source.load(("argocd",), fail)
    assert len(parses) == 2 and [p.name for p in third["argocd", "pipelines"].pipelines] == ["cart"]

    items[0]["metadata"]["resourceVersion"] = ""  # no version: nothing to compare, so always parsed
    source.load(("argocd",), fail)
    source.load(("argocd",), fail)
    assert len(parses) == 4


def test_a_namespace_that_cannot_be_listed_keeps_or_abandons_as_the_caller_says() -> None:
    listable = {"argocd": True}

    def lister(namespace: str, selector: str) -> list[dict[str, Any]]:
        if not listable[namespace]:
            raise FreightyardError("forbidden")
        return [configmap("pipelines", "1", {"shop.yaml": pipeline_text("shop")})]

    source = PipelineConfigMaps(lister, "team=a")
    assert list(source.load(("argocd",), lambda ns, e: None)) == [("argocd", "pipelines")]
    listable["argocd"] = False
    told: list[tuple[str, str]] = []
    kept = source.load(("argocd",), lambda ns, e: told.append((ns, e.message)))
    assert told == [("argocd", "forbidden")] and list(kept) == [("argocd", "pipelines")]

    def abandon(namespace: str, error: FreightyardError) -> None:
        raise RuntimeError(namespace)

    with pytest.raises(RuntimeError, match="argocd"):
        source.load(("argocd",), abandon)
    assert list(source.load(("argocd",), lambda ns, e: None)) == [("argocd", "pipelines")]  # still remembered
