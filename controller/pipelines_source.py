"""Where the controller finds pipelines: files under a GitOps checkout and/or labelled ConfigMaps.

Both are re-read on change — files when their (inode, size, mtime) change, ConfigMaps when their
resourceVersion does — and a broken definition never hides the good ones: it is reported (and the
last good version of that pipeline kept) while everything else carries on.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from shared.errors import ConfigError, FreightyardError
from shared.model import Pipeline
from shared.pipeline import parse_pipelines
from shared.pipeline_files import YAML_SUFFIXES, find_repo_root

log = logging.getLogger("freightyard.controller")
MARKER = "kind: Pipeline"
PIPELINE_LABEL = "freightyard.io/pipeline"
STATE_MANAGED_BY = "freightyard"  # our state ConfigMaps carry the pipeline label too; they hold no pipeline

Lister = Callable[[str, str], list[dict[str, Any]]]  # (namespace, label selector) -> ConfigMaps


@dataclass(frozen=True)
class Loaded:
    """Pipelines by name plus the problems met; ``pipelines`` keeps the first definition of a name."""

    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


class PipelineSource(Protocol):
    description: str

    def load(self) -> Loaded:
        """Everything this source defines now (re-parsing only what changed)."""
        ...


class DirectoryPipelines:
    """Pipeline files in a file or under a directory (hidden directories such as ``.git`` skipped)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.description = f"files under {self.path}"
        self._cache: dict[Path, tuple[tuple[int, int, int], list[Pipeline], list[str]]] = {}

    def load(self) -> Loaded:
        if self.path.is_file():
            files = [self.path]
        elif self.path.is_dir():
            files = []
            for directory, subdirs, names in os.walk(self.path):
                subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
                files += [Path(directory, n) for n in sorted(names) if n.endswith(YAML_SUFFIXES)]
        else:
            return Loaded(problems=(f"{self.path}: no such file or directory (is the GitOps checkout mounted?)",))
        cache = {}
        for file in files:
            try:
                stat = file.stat()
            except OSError:
                continue
            identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            cached = self._cache.get(file)
            cache[file] = cached if cached and cached[0] == identity else (identity, *self._parse(file))
        self._cache = cache
        return merge([(p, probs) for _, p, probs in cache.values()])

    def _parse(self, file: Path) -> tuple[list[Pipeline], list[str]]:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            return [], [f"{file}: cannot read: {error}"]
        if MARKER not in text:
            return [], []
        try:
            found = parse_pipelines(text, str(file))
        except ConfigError as error:
            return [], list(error.problems)
        root = str(find_repo_root(file.parent))
        return [dataclasses.replace(p, repo_root=root) for p in found], []


class ConfigMapPipelines:
    """Pipelines in ConfigMaps labelled ``selector`` (any data value holding a Pipeline document)."""

    def __init__(self, namespaces: tuple[str, ...], lister: Lister, selector: str = PIPELINE_LABEL) -> None:
        self.namespaces = namespaces
        self.selector = selector
        self.description = f"ConfigMaps labelled {selector} in {', '.join(namespaces)}"
        self._lister = lister
        self._cache: dict[tuple[str, str], tuple[str, list[Pipeline], list[str]]] = {}

    def load(self) -> Loaded:
        cache = {}
        problems: list[str] = []
        for namespace in self.namespaces:
            try:
                items = self._lister(namespace, self.selector)
            except FreightyardError as error:
                problems.append(f"cannot list pipeline ConfigMaps in {namespace}: {error.message}")
                cache.update({k: v for k, v in self._cache.items() if k[0] == namespace})  # keep the last good
                continue
            for item in items:
                metadata = item.get("metadata") or {}
                if (metadata.get("labels") or {}).get("app.kubernetes.io/managed-by") == STATE_MANAGED_BY:
                    continue
                key = (str(metadata.get("namespace") or namespace), str(metadata.get("name") or ""))
                version = str(metadata.get("resourceVersion") or "")
                cached = self._cache.get(key)
                cache[key] = cached if cached and version and cached[0] == version else \
                    (version, *_parse_data(key, item.get("data") or {}))
        self._cache = cache
        loaded = merge([(p, probs) for _, p, probs in cache.values()])
        return Loaded(loaded.pipelines, (*problems, *loaded.problems))


def _parse_data(key: tuple[str, str], data: dict[str, Any]) -> tuple[list[Pipeline], list[str]]:
    pipelines: list[Pipeline] = []
    problems: list[str] = []
    for data_key in sorted(data):
        text = data[data_key]
        if not isinstance(text, str) or MARKER not in text:
            continue
        try:
            pipelines += parse_pipelines(text, f"configmap {key[0]}/{key[1]} data.{data_key}")
        except ConfigError as error:
            problems += error.problems
    return pipelines, problems


def merge(parts: list[tuple[list[Pipeline], list[str]]]) -> Loaded:
    """Combine sources; a name defined twice keeps its first definition and is reported."""
    pipelines: dict[str, Pipeline] = {}
    problems: list[str] = []
    for found, found_problems in parts:
        problems += found_problems
        for pipeline in found:
            if pipeline.name in pipelines:
                problems.append(f"{pipeline.source_file}: pipeline {pipeline.name!r} is also defined in "
                                f"{pipelines[pipeline.name].source_file}; ignoring this one (remove one)")
                continue
            pipelines[pipeline.name] = pipeline
    return Loaded(pipelines, tuple(problems))


@dataclass
class PipelineSet:
    """All sources together, remembering the last good definition of each pipeline across broken edits."""

    sources: list[PipelineSource]
    _last: dict[str, Pipeline] = field(default_factory=dict)
    _reported: tuple[str, ...] = ()

    def load(self) -> dict[str, Pipeline]:
        parts = []
        for source in self.sources:
            loaded = source.load()
            parts.append((list(loaded.pipelines.values()), list(loaded.problems)))
        loaded = merge(parts)
        if loaded.problems != self._reported:
            for problem in loaded.problems:
                log.error("pipeline definition problem: %s", problem)
            self._reported = loaded.problems
        current = dict(loaded.pipelines)
        if loaded.problems:  # a pipeline may have vanished because its file broke: keep the last good one
            for name, pipeline in self._last.items():
                current.setdefault(name, pipeline)
        self._last = current
        return current
