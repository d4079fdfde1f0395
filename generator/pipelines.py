"""Where the generator finds pipelines: a directory of files and/or labelled ConfigMaps, cached safely.

Files are re-parsed only when their identity (inode, size, mtime) changes; the directory is walked
at most every ``recheck_s`` seconds. ConfigMap listings are reused for ``ttl_s`` seconds and each
ConfigMap is re-parsed only when its resourceVersion changes. A broken file never hides the good
ones: a request for a pipeline defined in a good file is served; a request for a name we cannot
find while some file is broken gets 503 (the pipeline may be in the broken file), never 404.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from freightyard.generator.errors import ApiError
from freightyard.shared.core.errors import FreightyardError
from freightyard.shared.core.model import Pipeline
from freightyard.shared.pipeline_sources import (
    MARKER,
    STATE_MANAGED_BY,
    Identity,
    Lister,
    Parsed,
    PipelineConfigMaps,
    PipelineFiles,
)

log = logging.getLogger("freightyard.generator")
__all__ = [
    "MARKER",
    "STATE_MANAGED_BY",
    "ConfigMapSource",
    "DirectorySource",
    "Index",
    "Lister",
    "Loaded",
    "PipelineCatalog",
    "PipelineSource",
    "build_index",
]


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
    invalid: dict[str, tuple[str, ...]] = field(default_factory=dict)  # declared but not valid: their problems


class PipelineSource(Protocol):
    description: str

    def index(self) -> Index:
        """The current pipelines; raises ``ApiError(503)`` when the source cannot be read at all."""
        ...


def build_index(entries: Iterable[Loaded], problems: Iterable[str], failed: Iterable[Parsed] = ()) -> Index:
    by_name: dict[str, list[Loaded]] = {}
    for entry in entries:
        by_name.setdefault(entry.pipeline.name, []).append(entry)
    invalid: dict[str, tuple[str, ...]] = {}
    for parsed in failed:
        for name in parsed.failed:
            invalid[name] = invalid.get(name, ()) + parsed.problems
    return Index(by_name, tuple(problems), invalid)


class DirectorySource:
    """Pipelines in a file or under a directory (hidden directories such as ``.git`` are skipped)."""

    def __init__(
        self, path: str, *, repo_root: str = "", recheck_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._files = PipelineFiles(path, repo_root=Path(repo_root).resolve() if repo_root else None)
        self.path = self._files.path
        self.description = f"directory {self.path}"
        self._recheck_s = recheck_s
        self._clock = clock
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._identities: dict[Path, Identity] | None = None
        self._index = Index()

    def index(self) -> Index:
        now = self._clock()
        if self._checked_at is not None and now - self._checked_at < self._recheck_s:
            return self._index
        with self._lock:
            if self._checked_at is not None and self._clock() - self._checked_at < self._recheck_s:
                return self._index
            identities = self._files.scan()
            if identities is None:
                raise ApiError(
                    503,
                    f"the pipelines path {self.path} does not exist (is the GitOps checkout mounted?)",
                    reason="PipelinesUnavailable",
                )
            if identities != self._identities:
                self._index = self._reload(identities)
                self._identities = identities
            self._checked_at = self._clock()
            return self._index

    def _reload(self, identities: dict[Path, Identity]) -> Index:
        files = self._files.parse(identities)
        entries = [
            Loaded(pipeline, str(path), parsed.pipeline_file)
            for path, parsed in files.items()
            for pipeline in parsed.pipelines
        ]
        problems = [problem for parsed in files.values() for problem in parsed.problems]
        log.info("pipelines reloaded from %s: %d pipelines, %d problems", self.path, len(entries), len(problems))
        for problem in problems:
            log.warning("pipeline definition problem: %s", problem)
        return build_index(entries, problems, files.values())


class ConfigMapSource:
    """Pipelines in ConfigMaps labelled ``selector`` (any data key whose value holds a Pipeline)."""

    def __init__(
        self,
        namespaces: tuple[str, ...],
        selector: str,
        lister: Lister,
        *,
        ttl_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.namespaces = namespaces
        self.selector = selector
        self.description = f"ConfigMaps labelled {selector} in {', '.join(namespaces)}"
        self._configmaps = PipelineConfigMaps(lister, selector)
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._fetched_at: float | None = None
        self._index = Index()

    def index(self) -> Index:
        if self._fetched_at is not None and self._clock() - self._fetched_at < self._ttl_s:
            return self._index
        with self._lock:
            if self._fetched_at is not None and self._clock() - self._fetched_at < self._ttl_s:
                return self._index
            parsed = self._configmaps.load(self.namespaces, _unavailable).values()
            entries = [Loaded(pipeline, pipeline.source_file) for found in parsed for pipeline in found.pipelines]
            self._index = build_index(entries, [problem for found in parsed for problem in found.problems], parsed)
            self._fetched_at = self._clock()
            return self._index


def _unavailable(namespace: str, error: FreightyardError) -> None:
    """A namespace that cannot be listed fails the whole index: 503, and nothing of this listing is kept."""
    raise ApiError(
        503, f"cannot list pipeline ConfigMaps in namespace {namespace}: {error.message}", reason="PipelinesUnavailable"
    ) from error


class PipelineCatalog:
    """All sources together: find one pipeline by name, refusing to guess when something is broken."""

    def __init__(self, sources: list[PipelineSource]) -> None:
        self.sources = sources

    def find(self, name: str) -> Loaded:
        found: list[Loaded] = []
        problems: list[str] = []
        invalid: list[str] = []
        known: set[str] = set()
        for source in self.sources:
            index = source.index()
            found.extend(index.by_name.get(name, ()))
            problems.extend(index.problems)
            invalid.extend(index.invalid.get(name, ()))
            known.update(index.by_name)
        if invalid and not found:  # the pipeline asked for is the broken one: say what is wrong with it
            raise ApiError(
                503,
                f"pipeline {name!r} is invalid: {invalid[0]}"
                + (f" (and {len(invalid) - 1} more)" if len(invalid) > 1 else ""),
                reason="PipelineInvalid",
                problems=invalid,
            )
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise ApiError(
                503,
                f"pipeline {name!r} is defined more than once ({', '.join(f.origin for f in found)}); "
                "remove all but one",
                reason="PipelineInvalid",
            )
        if problems:
            raise ApiError(
                503,
                f"pipeline {name!r} not found, and some pipeline definitions are invalid "
                "(it may be one of them); fix them",
                reason="PipelineInvalid",
                problems=problems,
            )
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
