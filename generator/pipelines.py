"""Where the generator finds pipelines: a directory of files and/or labelled ConfigMaps, cached safely.

Files are re-parsed only when their identity (inode, size, mtime) changes; the directory is walked
at most every ``recheck_s`` seconds. ConfigMap listings are reused for ``ttl_s`` seconds and each
ConfigMap is re-parsed only when its resourceVersion changes. A broken file never hides the good
ones: a request for a pipeline defined in a good file is served; a request for a name we cannot
find while some file is broken gets 503 (the pipeline may be in the broken file), never 404.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from generator.errors import ApiError
from shared.errors import ConfigError, FreightyardError
from shared.model import Pipeline
from shared.pipeline import parse_pipelines
from shared.pipeline_files import YAML_SUFFIXES, find_repo_root

log = logging.getLogger("freightyard.generator")
MARKER = "kind: Pipeline"
STATE_MANAGED_BY = "freightyard"  # our state ConfigMaps carry the pipeline label too; they hold no pipeline


@dataclass(frozen=True)
class Loaded:
    """A pipeline and where it came from; ``pipeline_file`` is relative to the repo root ("" if none)."""

    pipeline: Pipeline
    origin: str
    pipeline_file: str = ""


@dataclass(frozen=True)
class Index:
    """What one source holds now: pipelines by name (duplicates kept) and the problems met."""

    by_name: dict[str, list[Loaded]] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


class PipelineSource(Protocol):
    description: str

    def index(self) -> Index:
        """The current pipelines; raises ``ApiError(503)`` when the source cannot be read at all."""
        ...


def build_index(entries: Iterable[Loaded], problems: Iterable[str]) -> Index:
    by_name: dict[str, list[Loaded]] = {}
    for entry in entries:
        by_name.setdefault(entry.pipeline.name, []).append(entry)
    return Index(by_name, tuple(problems))


class DirectorySource:
    """Pipelines in a file or under a directory (hidden directories such as ``.git`` are skipped)."""

    def __init__(self, path: str, *, repo_root: str = "", recheck_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self.description = f"directory {self.path}"
        self._repo_root = Path(repo_root).resolve() if repo_root else None
        self._recheck_s = recheck_s
        self._clock = clock
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._files: dict[Path, tuple[tuple[int, int, int], list[Loaded], list[str]]] = {}
        self._identities: dict[Path, tuple[int, int, int]] | None = None
        self._index = Index()

    def index(self) -> Index:
        now = self._clock()
        if self._checked_at is not None and now - self._checked_at < self._recheck_s:
            return self._index
        with self._lock:
            if self._checked_at is not None and self._clock() - self._checked_at < self._recheck_s:
                return self._index
            identities = self._scan()
            if identities != self._identities:
                self._index = self._reload(identities)
                self._identities = identities
            self._checked_at = self._clock()
            return self._index

    def _scan(self) -> dict[Path, tuple[int, int, int]]:
        if self.path.is_file():
            candidates: list[Path] = [self.path]
        elif self.path.is_dir():
            candidates = []
            for directory, subdirs, files in os.walk(self.path):
                subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
                candidates.extend(Path(directory, f) for f in sorted(files) if f.endswith(YAML_SUFFIXES))
        else:
            raise ApiError(503, f"the pipelines path {self.path} does not exist (is the GitOps checkout mounted?)",
                           reason="PipelinesUnavailable")
        found = {}
        for candidate in candidates:
            try:
                stat = candidate.stat()
            except OSError:
                continue  # removed while walking
            found[candidate] = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        return found

    def _reload(self, identities: dict[Path, tuple[int, int, int]]) -> Index:
        files = {}
        for path, identity in identities.items():
            cached = self._files.get(path)
            files[path] = cached if cached is not None and cached[0] == identity else (identity, *self._parse(path))
        self._files = files
        entries = [entry for _, loaded, _ in files.values() for entry in loaded]
        problems = [problem for _, _, found in files.values() for problem in found]
        log.info("pipelines reloaded from %s: %d pipelines, %d problems", self.path, len(entries), len(problems))
        return build_index(entries, problems)

    def _parse(self, path: Path) -> tuple[list[Loaded], list[str]]:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            return [], [f"{path}: cannot read: {e}"]
        if MARKER not in text:
            return [], []
        try:
            pipelines = parse_pipelines(text, str(path))
        except ConfigError as e:
            return [], list(e.problems)
        root = self._repo_root or find_repo_root(path.parent)
        loaded = []
        for pipeline in pipelines:
            try:
                relative = path.resolve().relative_to(root).as_posix()
            except ValueError:
                relative = ""
            loaded.append(Loaded(dataclasses.replace(pipeline, repo_root=str(root)), str(path), relative))
        return loaded, []


Lister = Callable[[str, str], list[dict[str, Any]]]  # (namespace, label selector) -> ConfigMaps


class ConfigMapSource:
    """Pipelines in ConfigMaps labelled ``selector`` (any data key whose value holds a Pipeline)."""

    def __init__(self, namespaces: tuple[str, ...], selector: str, lister: Lister, *, ttl_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.namespaces = namespaces
        self.selector = selector
        self.description = f"ConfigMaps labelled {selector} in {', '.join(namespaces)}"
        self._lister = lister
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._fetched_at: float | None = None
        self._parsed: dict[tuple[str, str], tuple[str, list[Loaded], list[str]]] = {}
        self._index = Index()

    def index(self) -> Index:
        if self._fetched_at is not None and self._clock() - self._fetched_at < self._ttl_s:
            return self._index
        with self._lock:
            if self._fetched_at is not None and self._clock() - self._fetched_at < self._ttl_s:
                return self._index
            parsed: dict[tuple[str, str], tuple[str, list[Loaded], list[str]]] = {}
            for namespace in self.namespaces:
                try:
                    items = self._lister(namespace, self.selector)
                except FreightyardError as e:
                    raise ApiError(503, f"cannot list pipeline ConfigMaps in namespace {namespace}: {e.message}",
                                   reason="PipelinesUnavailable") from e
                for item in items:
                    metadata = item.get("metadata") or {}
                    labels = metadata.get("labels") or {}
                    if labels.get("app.kubernetes.io/managed-by") == STATE_MANAGED_BY:
                        continue
                    key = (str(metadata.get("namespace") or namespace), str(metadata.get("name") or ""))
                    version = str(metadata.get("resourceVersion") or "")
                    cached = self._parsed.get(key)
                    if cached is not None and version and cached[0] == version:
                        parsed[key] = cached
                    else:
                        parsed[key] = (version, *_parse_configmap(key, item.get("data") or {}))
            self._parsed = parsed
            entries = [entry for _, loaded, _ in parsed.values() for entry in loaded]
            problems = [problem for _, _, found in parsed.values() for problem in found]
            self._index = build_index(entries, problems)
            self._fetched_at = self._clock()
            return self._index


def _parse_configmap(key: tuple[str, str], data: dict[str, Any]) -> tuple[list[Loaded], list[str]]:
    loaded: list[Loaded] = []
    problems: list[str] = []
    for data_key in sorted(data):
        text = data[data_key]
        if not isinstance(text, str) or MARKER not in text:
            continue
        origin = f"configmap {key[0]}/{key[1]} data.{data_key}"
        try:
            loaded.extend(Loaded(p, origin) for p in parse_pipelines(text, origin))
        except ConfigError as e:
            problems.extend(e.problems)
    return loaded, problems


class PipelineCatalog:
    """All sources together: find one pipeline by name, refusing to guess when something is broken."""

    def __init__(self, sources: list[PipelineSource]) -> None:
        self.sources = sources

    def find(self, name: str) -> Loaded:
        found: list[Loaded] = []
        problems: list[str] = []
        known: set[str] = set()
        for source in self.sources:
            index = source.index()
            found.extend(index.by_name.get(name, ()))
            problems.extend(index.problems)
            known.update(index.by_name)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise ApiError(503, f"pipeline {name!r} is defined more than once ({', '.join(f.origin for f in found)}); "
                                "remove all but one", reason="PipelineInvalid")
        if problems:
            raise ApiError(503, f"pipeline {name!r} not found, and some pipeline definitions are invalid "
                                "(it may be one of them); fix them", reason="PipelineInvalid", problems=problems)
        shown = sorted(known)
        listed = ", ".join(shown[:20]) + (f", … ({len(shown)} in all)" if len(shown) > 20 else "")
        raise ApiError(404, f"unknown pipeline {name!r} (known: {listed or 'none'})")

    def names(self) -> list[str]:
        """Every pipeline name the sources hold now (``ApiError(503)`` when a source cannot be read)."""
        return sorted({name for source in self.sources for name in source.index().by_name})

    def check(self) -> dict[str, Any]:
        """Readiness: every source readable; returns counts, raises ``ApiError(503)`` otherwise."""
        pipelines = 0
        problems: list[str] = []
        for source in self.sources:
            index = source.index()
            pipelines += sum(len(v) for v in index.by_name.values())
            problems.extend(index.problems)
        return {"pipelines": pipelines, "problems": problems}
