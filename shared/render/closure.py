"""What an app needs to build, inside its repository: its own directory plus every local path its
kustomizations reference (``resources``, ``bases``, ``components``, patches, generator files), followed
transitively, and a Helm app's values files. ``copy-branch`` copies exactly this, so the stage branch
builds (``../../base`` comes along with ``overlays/prod``).

Remote references (URLs, ``github.com/…``) and anything that would leave the repository are skipped:
they are not the repository's to copy (and rendering refuses remote bases unless allowed).
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

import yaml

from freightyard.shared.render.paths import KUSTOMIZATION_NAMES

MAX_DIRECTORIES = 500  # a reference cycle or a huge tree must not run away


def app_closure(root: Path, app_path: str, values_files: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Repository-relative paths (directories and files) ``app_path`` needs, sorted, minimal (no path
    inside another)."""
    wanted: set[str] = set()
    queue = [_norm(app_path)]
    seen: set[str] = set()
    while queue and len(seen) < MAX_DIRECTORIES:
        directory = queue.pop()
        if directory in seen or directory is None:
            continue
        seen.add(directory)
        wanted.add(directory)
        for name in values_files if directory == _norm(app_path) else ():
            joined = _join(directory, name)
            if joined is not None and (root / joined).is_file():
                wanted.add(joined)
        for reference in _references(root / directory):
            joined = _join(directory, reference)
            if joined is None:
                continue
            target = root / joined
            if target.is_dir():
                queue.append(joined)
            elif target.is_file():
                wanted.add(joined)
    return _minimal(wanted)


def _references(directory: Path) -> list[str]:
    for name in KUSTOMIZATION_NAMES:
        file = directory / name
        if file.is_file():
            try:
                data = yaml.safe_load(file.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                return []  # the render reports a broken kustomization; here we copy what we can
            return _paths_in(data) if isinstance(data, dict) else []
    return []


def _paths_in(data: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key in ("resources", "bases", "components", "crds", "patchesStrategicMerge", "transformers", "generators"):
        out += [v for v in data.get(key) or [] if isinstance(v, str)]
    for key in ("patches", "patchesJson6902"):
        out += [p["path"] for p in data.get(key) or [] if isinstance(p, dict) and isinstance(p.get("path"), str)]
    for key in ("configMapGenerator", "secretGenerator"):
        for generator in data.get(key) or []:
            if not isinstance(generator, dict):
                continue
            for field in ("files", "envs"):
                for item in generator.get(field) or []:
                    if isinstance(item, str):
                        out.append(item.split("=", 1)[-1])  # "key=path" or "path"
            if isinstance(generator.get("env"), str):
                out.append(generator["env"])
    return out


def _join(directory: str, reference: str) -> str | None:
    if "://" in reference or reference.startswith(("github.com/", "git@")) or reference.startswith("/"):
        return None
    joined = posixpath.normpath(posixpath.join(directory, reference))
    if joined == ".." or joined.startswith("../"):
        return None  # outside the repository
    return _norm(joined)


def _norm(path: str) -> str:
    path = posixpath.normpath(path.strip("/") or ".")
    return path


def _minimal(paths: set[str]) -> tuple[str, ...]:
    ordered = sorted(paths, key=lambda p: (p.count("/"), p))
    kept: list[str] = []
    for path in ordered:
        if path == "." or not any(path == k or path.startswith(k + "/") or k == "." for k in kept):
            kept.append(path)
    return tuple(sorted(kept))
