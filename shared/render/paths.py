"""Path safety: everything a render reads stays inside the repo copy (no absolute paths, no ``..``
escape, no symlink pointing out, no remote kustomize bases unless allowed)."""

from __future__ import annotations

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
    remote ones are refused unless ``allow_remote``."""
    seen: set[Path] = set()
    pending = [directory]
    while pending:
        current = pending.pop()
        resolved = current.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        data = _read_kustomization(root, current)
        if data is None:
            continue
        for field, reference in _references(data):
            what = f"{_relative(root, current)}/kustomization {field}"
            if _REMOTE.search(reference) and not (current / reference).exists():
                if not allow_remote:
                    raise RenderError(
                        f"{what}: remote base {reference!r} is not allowed "
                        "(vendor it into the repo, or set FREIGHTYARD_ALLOW_REMOTE_BASES=true)"
                    )
                continue
            target = safe_join(root, current, reference, what)
            if target.is_dir():
                pending.append(target)


def _read_kustomization(root: Path, directory: Path) -> dict[str, Any] | None:
    for name in KUSTOMIZATION_NAMES:
        path = directory / name
        if path.is_file():
            if not inside(root, path):
                raise RenderError(f"{_relative(root, path)!r} is a symlink pointing outside the repository")
            try:
                data = safe_yaml.load(path.read_bytes(), _relative(root, path))
            except ConfigError as error:
                raise RenderError(error.problems[0]) from error
            return data if isinstance(data, dict) else {}
    return None


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


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
