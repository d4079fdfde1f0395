"""Reading Pipeline documents from files and labelled ConfigMaps, re-parsing only what changed.

The one reader behind the CLI (``freightyard.shared.pipeline_files``), the controller and the generator; each
keeps its own policy (errors, caching intervals, last-good) in a thin adapter. Parsing is pure
(``freightyard.shared.core.pipeline``); here we read files and, through a lister that is passed in, ConfigMaps, so
no Kubernetes client is imported. Problems are collected, never raised: a broken definition must
not hide the good ones.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freightyard.shared.core import safe_yaml
from freightyard.shared.core.errors import ConfigError, FreightyardError
from freightyard.shared.core.model import Pipeline
from freightyard.shared.core.pipeline import declared_names, parse_pipelines

YAML_SUFFIXES = (".yaml", ".yml")
MARKER = "kind: Pipeline"  # text without it holds no Pipeline: skipped unparsed
PIPELINE_LABEL = "freightyard.io/pipeline"
STATE_MANAGED_BY = "freightyard"  # our state ConfigMaps carry the pipeline label too; they hold no pipeline

Identity = tuple[int, int, int]  # a file's (inode, size, mtime in ns): unchanged identity, unchanged content
ConfigMapKey = tuple[str, str]  # (namespace, name)
Lister = Callable[[str, str], list[dict[str, Any]]]  # (namespace, label selector) -> ConfigMaps
OnListError = Callable[[str, FreightyardError], None]  # (namespace, error); may raise to abandon the load


@dataclass(frozen=True)
class Parsed:
    """What one file or ConfigMap defines: its pipelines and the problems met reading it.

    ``pipeline_file`` is, for a file, its path relative to the repo root ("" when outside it or
    when the file defines no pipeline); always "" for a ConfigMap.
    """

    pipelines: tuple[Pipeline, ...] = ()
    problems: tuple[str, ...] = ()
    pipeline_file: str = ""
    failed: tuple[str, ...] = ()  # names of pipelines this source declares but that did not validate


def find_repo_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` holding ``.git``; else ``start`` itself."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return start


def parse_pipeline_file(path: Path, *, repo_root: Path | None = None, require_marker: bool = True) -> Parsed:
    """The pipelines in one file, ``repo_root`` set (given, or the checkout holding the file)."""
    try:
        size = path.stat().st_size
        if size > safe_yaml.MAX_BYTES:  # refused before reading: a huge file costs nothing
            limit = safe_yaml.MAX_BYTES // 1024
            with path.open("rb") as handle:  # its head still says which pipeline it meant to define
                head = handle.read(64 * 1024).decode("utf-8", "replace")
            problem = f"{path}: {size} bytes is larger than the {limit} KiB allowed (split it)"
            return Parsed(problems=(problem,), failed=declared_names(head) if MARKER in head else ())
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return Parsed(problems=(f"{path}: cannot read: {error}",))
    if require_marker and MARKER not in text:
        return Parsed()
    try:
        found = parse_pipelines(text, str(path))
    except ConfigError as error:
        return Parsed(problems=tuple(error.problems), failed=declared_names(text))
    if not found:
        return Parsed()
    root = repo_root or find_repo_root(path.parent)
    try:
        relative = path.resolve().relative_to(root).as_posix()
    except ValueError:
        relative = ""
    return Parsed(tuple(dataclasses.replace(p, repo_root=str(root)) for p in found), pipeline_file=relative)


def parse_configmap(key: ConfigMapKey, data: dict[str, Any]) -> Parsed:
    """The pipelines in a ConfigMap's data: any value holding a Pipeline document, in key order."""
    pipelines: list[Pipeline] = []
    problems: list[str] = []
    failed: list[str] = []
    for data_key in sorted(data):
        text = data[data_key]
        if not isinstance(text, str) or MARKER not in text:
            continue
        try:
            pipelines += parse_pipelines(text, f"configmap {key[0]}/{key[1]} data.{data_key}")
        except ConfigError as error:
            problems += error.problems
            failed += declared_names(text)
    return Parsed(tuple(pipelines), tuple(problems), failed=tuple(failed))


class PipelineFiles:
    """Pipeline files in a file or under a directory (hidden directories such as ``.git`` skipped).

    Not thread-safe: an adapter serving threads holds its own lock around ``scan``/``parse``.
    """

    def __init__(self, path: str | Path, *, repo_root: Path | None = None) -> None:
        self.path = Path(path)
        self._repo_root = repo_root
        self._cache: dict[Path, tuple[Identity, Parsed]] = {}

    def scan(self) -> dict[Path, Identity] | None:
        """Every YAML file now there, in walk order, with its identity; ``None`` if the path is missing."""
        if self.path.is_file():
            candidates = [self.path]
        elif self.path.is_dir():
            candidates = []
            for directory, subdirs, names in os.walk(self.path):
                subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
                candidates += [Path(directory, n) for n in sorted(names) if n.endswith(YAML_SUFFIXES)]
        else:
            return None
        found = {}
        for candidate in candidates:
            try:
                stat = candidate.stat()
            except OSError:
                continue  # removed while walking
            found[candidate] = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        return found

    def parse(self, identities: dict[Path, Identity]) -> dict[Path, Parsed]:
        """Each scanned file parsed, reusing the last result of a file whose identity is unchanged."""
        cache = {}
        for path, identity in identities.items():
            cached = self._cache.get(path)
            cache[path] = (
                cached
                if cached is not None and cached[0] == identity
                else (identity, parse_pipeline_file(path, repo_root=self._repo_root))
            )
        self._cache = cache
        return {path: parsed for path, (_, parsed) in cache.items()}


class PipelineConfigMaps:
    """Pipelines in ConfigMaps labelled ``selector``, each re-parsed only when its resourceVersion changes."""

    def __init__(self, lister: Lister, selector: str = PIPELINE_LABEL) -> None:
        self.selector = selector
        self._lister = lister
        self._cache: dict[ConfigMapKey, tuple[str, Parsed]] = {}

    def load(self, namespaces: tuple[str, ...], on_error: OnListError) -> dict[ConfigMapKey, Parsed]:
        """Every pipeline ConfigMap in ``namespaces`` parsed (our state ConfigMaps skipped).

        When a namespace cannot be listed, ``on_error`` is told; if it returns, the last good
        ConfigMaps of that namespace are kept; if it raises, nothing is remembered of this load.
        """
        cache: dict[ConfigMapKey, tuple[str, Parsed]] = {}
        for namespace in namespaces:
            try:
                items = self._lister(namespace, self.selector)
            except FreightyardError as error:
                on_error(namespace, error)
                cache.update({k: v for k, v in self._cache.items() if k[0] == namespace})  # keep the last good
                continue
            for item in items:
                metadata = item.get("metadata") or {}
                if (metadata.get("labels") or {}).get("app.kubernetes.io/managed-by") == STATE_MANAGED_BY:
                    continue
                key = (str(metadata.get("namespace") or namespace), str(metadata.get("name") or ""))
                version = str(metadata.get("resourceVersion") or "")
                cached = self._cache.get(key)
                cache[key] = (
                    cached
                    if cached is not None and version and cached[0] == version
                    else (version, parse_configmap(key, item.get("data") or {}))
                )
        self._cache = cache
        return {key: parsed for key, (_, parsed) in cache.items()}
