"""Where the controller finds pipelines: files under a GitOps checkout and/or labelled ConfigMaps.

Both are re-read on change — files when their (inode, size, mtime) change, ConfigMaps when their
resourceVersion does — and a broken definition never hides the good ones: it is reported (and the
last good version of that pipeline kept) while everything else carries on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from freightyard.shared.core.errors import FreightyardError
from freightyard.shared.core.model import Pipeline
from freightyard.shared.pipeline_sources import (
    MARKER,
    PIPELINE_LABEL,
    STATE_MANAGED_BY,
    Identity,
    Lister,
    Parsed,
    PipelineConfigMaps,
    PipelineFiles,
)

log = logging.getLogger("freightyard.controller")
__all__ = [
    "MARKER",
    "PIPELINE_LABEL",
    "STATE_MANAGED_BY",
    "ConfigMapPipelines",
    "DirectoryPipelines",
    "Lister",
    "Loaded",
    "PipelineSet",
    "PipelineSource",
    "merge",
]


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
        self._files = PipelineFiles(path)
        self.path = self._files.path
        self.description = f"files under {self.path}"
        self._last: tuple[dict[Path, Identity], Loaded] | None = None

    def load(self) -> Loaded:
        """The files' pipelines; the very same ``Loaded`` while no file changed (the controller re-reads
        every few seconds, and 2,000 unchanged files should cost their ``stat`` calls only)."""
        identities = self._files.scan()
        if identities is None:
            return Loaded(problems=(f"{self.path}: no such file or directory (is the GitOps checkout mounted?)",))
        if self._last is not None and self._last[0] == identities:
            return self._last[1]
        loaded = _merge_parsed(self._files.parse(identities).values())
        self._last = (identities, loaded)
        return loaded


class ConfigMapPipelines:
    """Pipelines in ConfigMaps labelled ``selector`` (any data value holding a Pipeline document)."""

    def __init__(self, namespaces: tuple[str, ...], lister: Lister, selector: str = PIPELINE_LABEL) -> None:
        self.namespaces = namespaces
        self.selector = selector
        self.description = f"ConfigMaps labelled {selector} in {', '.join(namespaces)}"
        self._configmaps = PipelineConfigMaps(lister, selector)

    def load(self) -> Loaded:
        problems: list[str] = []

        def report(namespace: str, error: FreightyardError) -> None:  # and keep that namespace's last good
            problems.append(f"cannot list pipeline ConfigMaps in {namespace}: {error.message}")

        loaded = _merge_parsed(self._configmaps.load(self.namespaces, report).values())
        return Loaded(loaded.pipelines, (*problems, *loaded.problems))


def _merge_parsed(parsed: Iterable[Parsed]) -> Loaded:
    return merge([(list(p.pipelines), list(p.problems)) for p in parsed])


def merge(parts: list[tuple[list[Pipeline], list[str]]]) -> Loaded:
    """Combine sources; a name defined twice keeps its first definition and is reported."""
    pipelines: dict[str, Pipeline] = {}
    problems: list[str] = []
    for found, found_problems in parts:
        problems += found_problems
        for pipeline in found:
            if pipeline.name in pipelines:
                problems.append(
                    f"{pipeline.source_file}: pipeline {pipeline.name!r} is also defined in "
                    f"{pipelines[pipeline.name].source_file}; ignoring this one (remove one)"
                )
                continue
            pipelines[pipeline.name] = pipeline
    return Loaded(pipelines, tuple(problems))


@dataclass
class PipelineSet:
    """All sources together, remembering the last good definition of each pipeline across broken edits."""

    sources: list[PipelineSource]
    problems: tuple[str, ...] = ()  # of the latest load: definitions that could not be read or validated
    stale: tuple[str, ...] = ()  # pipelines running their last good definition because the current one broke
    _last: dict[str, Pipeline] = field(default_factory=dict)
    _reported: tuple[str, ...] = ()
    _answers: list[Loaded] | None = None  # what each source answered last time

    def load(self) -> dict[str, Pipeline]:
        answers = [source.load() for source in self.sources]
        if self._answers is not None and all(a is b for a, b in zip(answers, self._answers, strict=True)):
            return self._last  # nothing changed in any source since the last load
        self._answers = answers
        loaded = merge([(list(a.pipelines.values()), list(a.problems)) for a in answers])
        if loaded.problems != self._reported:
            for problem in loaded.problems:
                log.error("pipeline definition problem: %s", problem)
            self._reported = loaded.problems
        current = dict(loaded.pipelines)
        stale = []
        if loaded.problems:  # a pipeline may have vanished because its file broke: keep the last good one
            for name, pipeline in self._last.items():
                if name not in current:
                    current[name] = pipeline
                    stale.append(name)
        if tuple(stale) != self.stale:
            for name in stale:
                log.warning("pipeline %s: its definition no longer loads; keeping the last good version running", name)
        self.problems, self.stale = loaded.problems, tuple(stale)
        self._last = current
        return current
