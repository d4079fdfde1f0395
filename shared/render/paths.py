"""Path safety: everything a render reads stays inside the repo copy (no absolute paths, no ``..``
escape, no symlink pointing out, no remote kustomize bases unless allowed)."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from freightyard.shared.core import safe_yaml
from freightyard.shared.core.errors import ConfigError, RenderError

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|github\.com/|gitlab\.com/|bitbucket\.org/)|[?&]ref=", re.I)
_SKIP_DIRS = {".git"}


def inside(root: Path, path: Path) -> bool:
    """True when ``path`` (symlinks resolved) is ``root`` or below it; ``root`` must be resolved."""
    try:
        path.resolve().relative_to(root)
    except (ValueError, OSError, RuntimeError):  # RuntimeError: symlink loop
        return False
    return True


def safe_join(root: Path, base: Path, reference: str, what: str) -> Path:
    """``base / reference``, refused when absolute or escaping ``root`` (also through symlinks)."""
    if os.path.isabs(reference) or reference.startswith("~"):
        raise RenderError(f"{what}: absolute path {reference!r} is not allowed (use a path relative to the repo)")
    target = base / reference
    if not inside(root, target):
        raise RenderError(f"{what}: {reference!r} resolves outside the repository (no '..' escape or symlink out)")
    return target


def app_dir(root: Path, app_path: str) -> Path:
    """The app directory ``root/app_path``, checked to exist and stay inside ``root``."""
    path = safe_join(root, root, app_path or ".", f"app path {app_path!r}")
    if not path.is_dir():
        raise RenderError(f"app path {app_path!r} is not a directory in the repository")
    return path


def check_tree(root: Path, directory: Path) -> None:
    """Refuse any symlink under ``directory`` that points outside ``root`` (charts, plain dirs)."""
    for current, dirs, files in os.walk(directory, followlinks=False):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS]
        for name in (*dirs, *files):
            path = Path(current) / name
            if path.is_symlink() and not inside(root, path):
                raise RenderError(f"{_relative(root, path)!r} is a symlink pointing outside the repository")


def check_kustomization(root: Path, directory: Path, *, allow_remote: bool) -> None:
    """Walk the kustomization graph from ``directory``: every local reference stays in ``root``,
    remote ones are refused unless ``allow_remote``.

    Runs before every kustomize render, so it works on strings and ``os.path`` (pathlib costs as
    much again) and parses each distinct kustomization text once per process."""
    root_text = str(root)
    seen: set[str] = set()
    pending = [str(directory)]
    while pending:
        current = pending.pop()
        resolved = os.path.realpath(current)
        if resolved in seen:
            continue
        seen.add(resolved)
        references = _kustomization_references(root_text, current)
        for field, reference in references:
            if _REMOTE.search(reference) and not os.path.exists(os.path.join(current, reference)):
                if not allow_remote:
                    raise RenderError(
                        f"{_what(root, current, field)}: remote base {reference!r} is not allowed "
                        "(vendor it into the repo, or set FREIGHTYARD_ALLOW_REMOTE_BASES=true)"
                    )
                continue
            if os.path.isabs(reference) or reference.startswith("~"):
                raise RenderError(
                    f"{_what(root, current, field)}: absolute path {reference!r} is not allowed "
                    "(use a path relative to the repo)"
                )
            target = os.path.join(current, reference)
            if not _inside_text(root_text, target):
                raise RenderError(
                    f"{_what(root, current, field)}: {reference!r} resolves outside the repository "
                    "(no '..' escape or symlink out)"
                )
            if os.path.isdir(target):
                pending.append(target)


def _what(root: Path, directory: str, field: str) -> str:
    return f"{_relative(root, Path(directory))}/kustomization {field}"  # only for an error: pathlib is fine


def _inside_text(root: str, path: str) -> bool:
    """``inside`` for strings: ``path`` with symlinks resolved is ``root`` (resolved) or below it."""
    resolved = os.path.realpath(path)
    return resolved == root or resolved.startswith(root.rstrip(os.sep) + os.sep)


def _kustomization_references(root_text: str, directory: str) -> tuple[tuple[str, str], ...]:
    for name in KUSTOMIZATION_NAMES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            shown = _shown(root_text, path)
            if not _inside_text(root_text, path):
                raise RenderError(f"{shown!r} is a symlink pointing outside the repository")
            with open(path, "rb") as handle:
                text = handle.read(_CACHED_TEXT + 1)
                if len(text) > _CACHED_TEXT:
                    return _parse_references(text + handle.read(), shown)
            return _parse_cached(text, shown)
    return ()


def _shown(root: str, path: str) -> str:
    """``path`` relative to ``root`` as a user sees it in their repo (``_relative`` for strings)."""
    normalized = os.path.normpath(path)
    if normalized.startswith(root.rstrip(os.sep) + os.sep):
        return normalized[len(root.rstrip(os.sep)) + 1 :]
    return normalized


_CACHED_TEXT = 64 * 1024  # kustomization files are a few hundred bytes; bigger ones are parsed each time


def _parse_references(text: bytes, shown: str) -> tuple[tuple[str, str], ...]:
    try:
        data = safe_yaml.load(text, shown)
    except ConfigError as error:
        raise RenderError(error.problems[0]) from error
    return tuple(_references(data)) if isinstance(data, dict) else ()


# Each render gets a fresh copy of the same files: the parse is what repeats (failures are not kept).
_parse_cached = functools.lru_cache(maxsize=256)(_parse_references)


def _references(data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every path-like string a kustomization may load (inline YAML documents are skipped)."""
    for field in (
        "resources",
        "bases",
        "components",
        "crds",
        "generators",
        "transformers",
        "validators",
        "patchesStrategicMerge",
        "configurations",
    ):
        for item in _as_list(data.get(field)):
            if isinstance(item, str) and "\n" not in item:
                yield field, item
    for field in ("patches", "patchesJson6902", "replacements"):
        for item in _as_list(data.get(field)):
            if isinstance(item, dict) and isinstance(item.get("path"), str):
                yield field, item["path"]
    for field in ("configMapGenerator", "secretGenerator"):
        for item in _as_list(data.get(field)):
            if not isinstance(item, dict):
                continue
            for source in (*_as_list(item.get("files")), *_as_list(item.get("envs")), item.get("env")):
                if isinstance(source, str) and source:
                    yield field, source.split("=", 1)[1] if "=" in source else source
    openapi = data.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        yield "openapi", openapi["path"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _relative(root: Path, path: Path) -> str:
    try:
        return str(Path(os.path.normpath(path)).relative_to(root)) or "."
    except ValueError:
        return os.path.normpath(path)
